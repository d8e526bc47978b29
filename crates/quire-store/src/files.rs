//! What the store does with files directly: the writer lock, the manifests of a table's versions (to step back
//! from an unreadable newest version), and the size of the store on disk.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use quire_core::{Error, Result};

/// The file whose exclusive lock marks the one process that writes a library.
pub const LOCK_FILE: &str = "writer.lock";

/// Where files moved out of a table (unreadable manifests, a table that never committed) are kept.
pub const RECOVERED_DIR: &str = "recovered";

/// An exclusive lock on `writer.lock`, held for the life of the store. The OS drops it when the process ends,
/// however it ends, so a crash never leaves a stale lock behind.
#[derive(Debug)]
pub(crate) struct WriterLock {
    _file: File,
    /// The lock file's path, in [`HELD_HERE`] while this lock lives.
    path: PathBuf,
}

/// The lock files this process holds (a second store of the same library in this process waits for the first).
static HELD_HERE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn held_here() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    HELD_HERE.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        held_here().retain(|p| *p != self.path);
    }
}

/// Who holds a library's lock.
enum Holder {
    /// A store of this process.
    ThisProcess,
    /// Another process (its id, when it wrote it).
    Other(Option<u32>),
}

impl WriterLock {
    /// Takes the lock; when this same process holds it (a library being opened again while the previous
    /// store is still in use, e.g. by an import finishing its document), waits for it up to `wait`.
    pub(crate) async fn acquire(dir: &Path, wait: std::time::Duration) -> Result<WriterLock> {
        let started = std::time::Instant::now();
        loop {
            match WriterLock::try_acquire(dir)? {
                Ok(lock) => return Ok(lock),
                Err(Holder::ThisProcess) if started.elapsed() < wait => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(Holder::ThisProcess) => {
                    return Err(Error::Store(format!(
                        "the library at {} is still in use by a task of this process (an import or an answer); \
                         it opens once that ends",
                        dir.display()
                    )));
                }
                Err(Holder::Other(pid)) => {
                    let holder = pid.map(|pid| format!(" (process {pid})")).unwrap_or_default();
                    return Err(Error::Store(format!(
                        "the library at {} is already open in another Quire process{holder}; \
                         close that one first (only one process may write a library)",
                        dir.display()
                    )));
                }
            }
        }
    }

    /// The lock, or who holds it.
    fn try_acquire(dir: &Path) -> Result<std::result::Result<WriterLock, Holder>> {
        let path = dir.join(LOCK_FILE);
        if held_here().contains(&path) {
            return Ok(Err(Holder::ThisProcess));
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Ok(Err(Holder::Other(holder.trim().parse().ok())));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::Store(format!("could not lock {}: {e}", path.display())));
            }
        }
        // Who holds the lock, for the message above. Best effort: the lock itself is what counts.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        held_here().push(path.clone());
        Ok(Ok(WriterLock { _file: file, path }))
    }
}

/// The directory LanceDB keeps a table in.
pub(crate) fn table_dir(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!("{table}.lance"))
}

/// The committed manifests of a table, oldest first: `(version, path)`.
///
/// Lance names them `_versions/{version}.manifest` (V1) or `_versions/{u64::MAX - version:020}.manifest` (V2,
/// the default, so that the newest sorts first). Staging files, detached versions and hints are skipped.
pub(crate) fn manifests(table_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let versions = table_dir.join("_versions");
    let entries = match std::fs::read_dir(&versions) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&versions, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&versions, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".manifest") else { continue };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(n) = stem.parse::<u64>() else { continue };
        let version = if stem.len() == 20 && n > u64::MAX / 2 { u64::MAX - n } else { n };
        out.push((version, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// Whether a manifest file is whole: Lance ends it with `<u64 offset of the manifest message><u16 major><u16 minor>
/// "LANC"`, and the length-prefixed message at that offset must lie inside the file. A file cut short or zeroed by
/// a crash fails this; Lance 14 itself can panic on such a file (an unchecked subtraction), so it is never shown one.
pub(crate) fn manifest_is_whole(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    let len = bytes.len();
    if len < 20 || !bytes.ends_with(b"LANC") {
        return false;
    }
    let word = |at: usize, n: usize| -> Option<u64> {
        let b = bytes.get(at..at + n)?;
        Some(b.iter().rev().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    };
    let Some(offset) = word(len - 16, 8).and_then(|o| usize::try_from(o).ok()) else { return false };
    if offset.checked_add(4).is_none_or(|end| end > len - 16) {
        return false;
    }
    let Some(message_len) = word(offset, 4).and_then(|n| usize::try_from(n).ok()) else { return false };
    offset + 4 + message_len <= len - 16
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

/// Moves `path` (a file or a directory) to `<dir>/recovered/<table>/<time>-<name>`; returns where it went.
pub(crate) fn set_aside(dir: &Path, table: &str, path: &Path) -> Result<PathBuf> {
    let target_dir = dir.join(RECOVERED_DIR).join(table);
    std::fs::create_dir_all(&target_dir).map_err(|e| Error::io(&target_dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "unnamed".into());
    let target = target_dir.join(format!("{}-{name}", now_ms()));
    std::fs::rename(path, &target).map_err(|e| Error::io(path, e))?;
    Ok(target)
}

/// Puts back what [`set_aside`] moved.
pub(crate) fn put_back(moved: &[(PathBuf, PathBuf)]) {
    for (original, aside) in moved.iter().rev() {
        if let Err(e) = std::fs::rename(aside, original) {
            tracing::error!("could not move {} back to {}: {e}", aside.display(), original.display());
        }
    }
}

/// Bytes of every file under `dir`.
pub(crate) fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => total += entry.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_manifest_namings() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let v = tmp.path().join("_versions");
        std::fs::create_dir_all(&v).map_err(|e| Error::io(&v, e))?;
        for name in [
            format!("{:020}.manifest", u64::MAX - 3),
            format!("{:020}.manifest", u64::MAX - 12),
            "7.manifest".to_string(),
            "d123.manifest".to_string(),
            "_latest_version_hint.json".to_string(),
            format!("{:020}.manifest-0b5c", u64::MAX - 13),
        ] {
            std::fs::write(v.join(&name), b"x").map_err(|e| Error::io(&name, e))?;
        }
        let found: Vec<u64> = manifests(tmp.path())?.into_iter().map(|(n, _)| n).collect();
        assert_eq!(found, vec![3, 7, 12]);
        Ok(())
    }

    #[test]
    fn tells_whole_manifests_from_cut_ones() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = tmp.path().join("m");
        // 8 bytes of padding, then the message (length 5) at offset 8, then the footer.
        let mut whole = vec![0u8; 8];
        whole.extend_from_slice(&5u32.to_le_bytes());
        whole.extend_from_slice(b"hello");
        whole.extend_from_slice(&8u64.to_le_bytes());
        whole.extend_from_slice(&[0, 0, 2, 0]);
        whole.extend_from_slice(b"LANC");
        let cases: [(&[u8], bool); 4] =
            [(&whole, true), (&whole[..whole.len() / 2], false), (&[], false), (&[0u8; 64], false)];
        for (bytes, expected) in cases {
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            assert_eq!(manifest_is_whole(&path), expected, "{bytes:?}");
        }
        // A footer pointing past the end.
        let mut bad = whole.clone();
        let n = bad.len();
        bad[n - 16..n - 8].copy_from_slice(&1000u64.to_le_bytes());
        std::fs::write(&path, &bad).map_err(|e| Error::io(&path, e))?;
        assert!(!manifest_is_whole(&path));
        Ok(())
    }
}
