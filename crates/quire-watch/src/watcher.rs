//! A watch of one folder: notify's events, filtered, held until each path is stable, then handed over in
//! batches of [`FsChange`]s.
//!
//! Events are hints. A path that an event names is kept pending until its state (missing, or size + mtime)
//! has stayed the same for [`WatchOptions::stable_for`] with no new event; then it is reported as changed or
//! removed, once. So a file being written is reported when the writing is over, and an editor's save sequence
//! (write a temporary file, rename it over the document, or move the old one aside first) ends as one change
//! of the document. When events may have been lost (the kernel queue overflowed, the watcher failed), a
//! [`WatchEvent::Rescan`] asks the owner to compare the whole folder with the library.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::mounts;

/// How a folder is watched.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// How long a path's state must stay the same, with no event, before it is reported.
    pub stable_for: Duration,
    /// Use polling even where native notifications work.
    pub force_poll: bool,
    /// How often the polling watcher looks at the folder.
    pub poll_interval: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { stable_for: Duration::from_secs(1), force_poll: false, poll_interval: Duration::from_secs(2) }
    }
}

/// How the folder is actually being watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchMode {
    /// The operating system reports changes (inotify, FSEvents, ReadDirectoryChangesW).
    Native,
    /// The folder is scanned every few seconds, and why.
    Poll { reason: String },
}

/// One stable change under a watched folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FsChange {
    /// The file or folder exists and was created or changed (or touched).
    Changed(PathBuf),
    /// Nothing is at this path any more.
    Removed(PathBuf),
}

impl FsChange {
    pub fn path(&self) -> &Path {
        match self {
            FsChange::Changed(p) | FsChange::Removed(p) => p,
        }
    }
}

/// What a watch reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Changes that became stable together (a rename's old and new path usually arrive in one batch).
    Changes(Vec<FsChange>),
    /// Events may have been lost: compare the whole folder with the library.
    Rescan { reason: String },
    /// The watch switched to polling (e.g. the system's limit on watches was reached).
    Mode(WatchMode),
}

/// A running watch of one folder; dropping it stops the watch.
pub struct FolderWatch {
    root: PathBuf,
    mode: WatchMode,
    stop: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

enum Message {
    Notify(notify::Result<notify::Event>),
    Stop,
}

/// The last state seen of a path: None when nothing is there.
type State = Option<(u64, Option<SystemTime>, bool)>;

struct Pending {
    /// The state last seen and since when; None until it is looked at after the latest event.
    seen: Option<(State, Instant)>,
}

fn state_of(path: &Path) -> State {
    let meta = std::fs::symlink_metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok(), meta.is_dir()))
}

/// True when notify's error means the system's limit on watches (or open files) was reached.
fn is_limit_error(error: &notify::Error) -> bool {
    match &error.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        // ENOSPC (inotify watches) and EMFILE (inotify instances or open files) on Linux.
        notify::ErrorKind::Io(e) => matches!(e.raw_os_error(), Some(28 | 24)),
        _ => false,
    }
}

type Boxed = Box<dyn notify::Watcher + Send>;

fn poll_watcher(root: &Path, tx: &mpsc::Sender<Message>, options: &WatchOptions) -> Result<Boxed> {
    let tx = tx.clone();
    let config = notify::Config::default().with_poll_interval(options.poll_interval);
    let mut watcher = PollWatcher::new(
        move |event| {
            let _ = tx.send(Message::Notify(event));
        },
        config,
    )
    .map_err(|e| Error::Watch { path: root.display().to_string(), reason: e.to_string() })?;
    watcher
        .watch(root, RecursiveMode::Recursive)
        .map_err(|e| Error::Watch { path: root.display().to_string(), reason: e.to_string() })?;
    Ok(Box::new(watcher))
}

/// The native watcher, or Err(reason to poll instead) when the system cannot watch this many folders.
fn native_watcher(root: &Path, tx: &mpsc::Sender<Message>) -> Result<std::result::Result<Boxed, String>> {
    let sender = tx.clone();
    let created = RecommendedWatcher::new(
        move |event| {
            let _ = sender.send(Message::Notify(event));
        },
        notify::Config::default(),
    );
    let mut watcher = match created {
        Ok(w) => w,
        Err(e) if is_limit_error(&e) => return Ok(Err(format!("the system cannot watch more folders ({e})"))),
        Err(e) => return Err(Error::Watch { path: root.display().to_string(), reason: e.to_string() }),
    };
    match watcher.watch(root, RecursiveMode::Recursive) {
        Ok(()) => Ok(Ok(Box::new(watcher))),
        Err(e) if is_limit_error(&e) => Ok(Err(format!(
            "the system's limit on watched folders is reached ({e}); raise fs.inotify.max_user_watches to watch natively"
        ))),
        Err(e) => Err(Error::Watch { path: root.display().to_string(), reason: e.to_string() }),
    }
}

impl FolderWatch {
    /// Starts watching `filter.root()` (an existing folder, canonical), reporting to `sink` from the watch's
    /// own thread until the watch is dropped.
    pub fn start(
        filter: Filter,
        options: WatchOptions,
        sink: impl Fn(WatchEvent) + Send + 'static,
    ) -> Result<FolderWatch> {
        let root = filter.root().to_path_buf();
        if !root.is_dir() {
            return Err(Error::Watch { path: root.display().to_string(), reason: "it is not a folder".into() });
        }
        let (tx, rx) = mpsc::channel();
        let network = mounts::network_fs(&root);
        let (watcher, mode) = if options.force_poll {
            (poll_watcher(&root, &tx, &options)?, WatchMode::Poll { reason: "polling was asked for".into() })
        } else if let Some(fs_type) = network {
            let reason = format!("a network drive ({fs_type}) does not report changes made elsewhere");
            (poll_watcher(&root, &tx, &options)?, WatchMode::Poll { reason })
        } else {
            match native_watcher(&root, &tx)? {
                Ok(w) => (w, WatchMode::Native),
                Err(reason) => (poll_watcher(&root, &tx, &options)?, WatchMode::Poll { reason }),
            }
        };
        if let WatchMode::Poll { reason } = &mode {
            tracing::info!(root = %root.display(), reason, "watching by polling");
        }
        let worker = Worker { filter, options, tx: tx.clone(), watcher, native: mode == WatchMode::Native };
        let thread = std::thread::Builder::new()
            .name("quire-watch".into())
            .spawn(move || worker.run(rx, sink))
            .map_err(|e| Error::io(&root, e))?;
        Ok(FolderWatch { root, mode, stop: tx, thread: Some(thread) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How the folder is watched at start (a later switch is reported as [`WatchEvent::Mode`]).
    pub fn mode(&self) -> &WatchMode {
        &self.mode
    }
}

impl Drop for FolderWatch {
    fn drop(&mut self) {
        let _ = self.stop.send(Message::Stop);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(root = %self.root.display(), "the watch thread panicked");
        }
    }
}

struct Worker {
    filter: Filter,
    options: WatchOptions,
    tx: mpsc::Sender<Message>,
    watcher: Boxed,
    native: bool,
}

impl Worker {
    fn run(mut self, rx: mpsc::Receiver<Message>, sink: impl Fn(WatchEvent)) {
        let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
        let tick = (self.options.stable_for / 4).clamp(Duration::from_millis(20), Duration::from_millis(250));
        loop {
            match rx.recv_timeout(tick) {
                Ok(Message::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Ok(Message::Notify(Ok(event))) => {
                    if event.need_rescan() {
                        sink(WatchEvent::Rescan { reason: "the system dropped change notifications".into() });
                    }
                    if matches!(event.kind, EventKind::Access(_)) {
                        continue;
                    }
                    for path in event.paths {
                        if self.filter.accepts_path(&path) {
                            pending.insert(path, Pending { seen: None });
                        }
                    }
                }
                Ok(Message::Notify(Err(error))) => self.on_error(&error, &sink),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let ready = self.ready(&mut pending);
            if !ready.is_empty() {
                sink(WatchEvent::Changes(ready));
            }
        }
    }

    fn on_error(&mut self, error: &notify::Error, sink: &impl Fn(WatchEvent)) {
        tracing::warn!(root = %self.filter.root().display(), %error, "watch error");
        if self.native && is_limit_error(error) {
            let reason = format!("the system's limit on watched folders is reached ({error})");
            match poll_watcher(self.filter.root(), &self.tx, &self.options) {
                Ok(watcher) => {
                    self.watcher = watcher;
                    self.native = false;
                    sink(WatchEvent::Mode(WatchMode::Poll { reason }));
                }
                Err(e) => tracing::error!(%e, "cannot fall back to polling"),
            }
        }
        sink(WatchEvent::Rescan { reason: format!("the watcher reported an error: {error}") });
    }

    /// Takes the pending paths whose state stayed the same for `stable_for`, as changes in path order.
    fn ready(&self, pending: &mut HashMap<PathBuf, Pending>) -> Vec<FsChange> {
        let now = Instant::now();
        let mut ready = Vec::new();
        for (path, p) in pending.iter_mut() {
            let state = state_of(path);
            match &p.seen {
                Some((seen, since)) if *seen == state => {
                    if now.duration_since(*since) >= self.options.stable_for {
                        ready.push(match state {
                            Some(_) => FsChange::Changed(path.clone()),
                            None => FsChange::Removed(path.clone()),
                        });
                    }
                }
                _ => p.seen = Some((state, now)),
            }
        }
        for change in &ready {
            pending.remove(change.path());
        }
        ready.sort();
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_limit_is_recognised_so_the_watch_falls_back_to_polling() {
        assert!(is_limit_error(&notify::Error::new(notify::ErrorKind::MaxFilesWatch)));
        assert!(is_limit_error(&notify::Error::io(std::io::Error::from_raw_os_error(28))));
        assert!(is_limit_error(&notify::Error::io(std::io::Error::from_raw_os_error(24))));
        assert!(!is_limit_error(&notify::Error::path_not_found()));
        assert!(!is_limit_error(&notify::Error::io(std::io::Error::from_raw_os_error(13))));
    }
}
