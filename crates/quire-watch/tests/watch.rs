//! The watcher on the real file system of a temporary folder. Every wait is for a condition, with a generous
//! deadline; nothing asserts on how long anything took.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quire_watch::{Filter, FolderWatch, FsChange, Rules, WatchEvent, WatchMode, WatchOptions};

const DEADLINE: Duration = Duration::from_secs(30);

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    events: Arc<Mutex<Vec<WatchEvent>>>,
    watch: FolderWatch,
}

fn start(force_poll: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
    let filter = Filter::new(&root, &Rules::default()).expect("filter");
    let options =
        WatchOptions { stable_for: Duration::from_secs(1), force_poll, poll_interval: Duration::from_millis(200) };
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let watch = FolderWatch::start(filter, options, move |e| sink.lock().expect("lock").push(e)).expect("watch");
    Fixture { _dir: dir, root, events, watch }
}

impl Fixture {
    fn changes(&self) -> Vec<FsChange> {
        let events = self.events.lock().expect("lock");
        events
            .iter()
            .flat_map(|e| match e {
                WatchEvent::Changes(c) => c.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// Waits until `change` has been reported; returns every change reported until then.
    fn wait_for(&self, change: &FsChange) -> Vec<FsChange> {
        let started = Instant::now();
        loop {
            let changes = self.changes();
            if changes.contains(change) {
                return changes;
            }
            assert!(started.elapsed() < DEADLINE, "{change:?} was not reported; got {changes:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes a marker file and waits for it: everything done before has been reported by then.
    fn barrier(&self, name: &str) -> Vec<FsChange> {
        let marker = write(&self.root, name, "marker");
        self.wait_for(&FsChange::Changed(marker))
    }
}

fn write(root: &Path, name: &str, text: &str) -> PathBuf {
    let path = root.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn count(changes: &[FsChange], path: &Path) -> usize {
    changes.iter().filter(|c| c.path() == path).count()
}

#[test]
fn create_modify_delete_and_rename_in_nested_folders() {
    let f = start(false);
    assert_eq!(f.watch.mode(), &WatchMode::Native);
    let deep = write(&f.root, "a/b/notes.md", "first");
    f.wait_for(&FsChange::Changed(deep.clone()));

    std::fs::write(&deep, "second, longer").expect("modify");
    let changes = f.barrier("after-modify.txt");
    assert_eq!(count(&changes, &deep), 2, "{changes:?}");

    let moved = f.root.join("a/moved.md");
    std::fs::rename(&deep, &moved).expect("rename");
    f.wait_for(&FsChange::Changed(moved.clone()));
    let changes = f.wait_for(&FsChange::Removed(deep.clone()));
    // Old and new path come in one batch, so the owner can see a move.
    let batch = f
        .events
        .lock()
        .expect("lock")
        .iter()
        .find_map(|e| match e {
            WatchEvent::Changes(c) if c.contains(&FsChange::Removed(deep.clone())) => Some(c.clone()),
            _ => None,
        })
        .expect("the batch");
    assert!(batch.contains(&FsChange::Changed(moved.clone())), "{batch:?} / {changes:?}");

    std::fs::remove_file(&moved).expect("rm");
    f.wait_for(&FsChange::Removed(moved));
}

#[test]
fn an_editor_save_is_one_change() {
    let f = start(false);
    let doc = write(&f.root, "report.md", "version one");
    f.wait_for(&FsChange::Changed(doc.clone()));

    // gedit / LibreOffice style: write a temporary file, rename it over the document.
    write(&f.root, "report.md.tmp", "version two");
    std::fs::rename(f.root.join("report.md.tmp"), &doc).expect("rename over");
    // Vim style (backupcopy=no): move the document aside, write it anew, delete the backup.
    std::fs::rename(&doc, f.root.join("report.md~")).expect("backup");
    write(&f.root, "report.md", "version three");
    std::fs::remove_file(f.root.join("report.md~")).expect("rm backup");

    let changes = f.barrier("after-save.txt");
    assert_eq!(count(&changes, &doc), 2, "one change for the first write, one for both saves: {changes:?}");
    assert!(!changes.contains(&FsChange::Removed(doc)), "{changes:?}");
}

#[test]
fn hidden_temporary_and_lock_files_are_ignored() {
    let f = start(false);
    std::fs::create_dir_all(f.root.join(".git")).expect("mkdir");
    for name in [".hidden.md", "~$report.docx", ".#notes.org", "notes.md.swp", ".~lock.report.odt#", ".git/index"] {
        write(&f.root, name, "noise");
    }
    let changes = f.barrier("visible.md");
    assert_eq!(changes, vec![FsChange::Changed(f.root.join("visible.md"))]);
}

#[test]
fn polling_sees_the_same_changes() {
    let f = start(true);
    assert!(matches!(f.watch.mode(), WatchMode::Poll { .. }));
    let doc = write(&f.root, "a/b/polled.txt", "text");
    f.wait_for(&FsChange::Changed(doc.clone()));
    std::fs::remove_file(&doc).expect("rm");
    f.wait_for(&FsChange::Removed(doc));
}
