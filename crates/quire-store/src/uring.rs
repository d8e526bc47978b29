//! Reads of the library through Linux's io_uring, where the kernel allows it.
//!
//! Lance reads a local file with one blocking-pool task per read (`pread`). Its io_uring reader hands the reads
//! to threads that each own a ring instead, which makes a hybrid search at 100k chunks about a fifth faster
//! (BENCHMARKS.md). Lance picks that reader by the store's scheme, `file+uring`, but a connection URI with that
//! scheme does not work in LanceDB: it takes the `+uring` for a commit engine, and creates a folder named after
//! the URI in the working directory. So the library is opened by its plain path, in a session whose provider for
//! `file` URLs builds Lance's `file+uring` store ([`session`]).
//!
//! Where io_uring is refused (a kernel older than 5.6, `kernel.io_uring_disabled`, a container's seccomp
//! profile), every read through that store would fail, with no fallback in Lance; [`available`] first reads a
//! file through a ring of its own, and the library is read the plain way when that fails.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use lance_core::Result as LanceResult;
use lance_io::object_store::providers::local::FileStoreProvider;
use lance_io::object_store::{ObjectStore, ObjectStoreParams, ObjectStoreProvider, ObjectStoreRegistry};
use lancedb::Session;
use tracing::{debug, info};
use url::Url;

/// Settings of Lance's io_uring reader threads, read from the environment when the first read starts them.
/// Lance's defaults suit a server: two threads that wake every 10 ms while idle, with rings of 16K entries.
/// A desktop app keeps one thread, asleep while nothing is read (it wakes for each read; the timeout only bounds
/// an idle wait), and rings sized for Lance's 128 reads in flight. A process applies them at start, before it has
/// other threads ([`configure_readers`]).
pub const READER_ENVIRONMENT: &[(&str, &str)] =
    &[("LANCE_URING_THREAD_COUNT", "1"), ("LANCE_URING_POLL_TIMEOUT_MS", "60000"), ("LANCE_URING_QUEUE_DEPTH", "256")];

/// Sets [`READER_ENVIRONMENT`], keeping any variable the user has set.
///
/// # Safety
/// The process must have one thread: nothing may read or write the environment at the same time.
#[allow(unsafe_code)]
pub unsafe fn configure_readers() {
    for (var, value) in READER_ENVIRONMENT {
        if std::env::var_os(var).is_none() {
            // SAFETY: the caller guarantees that no other thread runs.
            unsafe { std::env::set_var(var, value) };
        }
    }
}

/// Whether reads through io_uring work in this process: probed once, by reading `file` through a ring of the size
/// Lance's reader threads will make (on kernels before 5.12 a ring counts against the locked-memory limit, so a
/// small ring may work where a large one is refused).
pub(crate) fn available(file: &Path) -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| match probe(file) {
        Ok(()) => {
            debug!("reading the library through io_uring");
            true
        }
        // Not a fault: containers commonly refuse io_uring (Docker's default seccomp profile does), and plain reads
        // give the same results.
        Err(e) => {
            info!("io_uring is not available ({e}); the library is read with plain reads");
            false
        }
    })
}

/// A number Lance reads from the environment (Lance ignores a value that does not parse).
fn lance_setting(var: &str) -> Option<usize> {
    std::env::var(var).ok().and_then(|v| v.parse().ok())
}

#[cfg(target_os = "linux")]
fn probe(file: &Path) -> std::io::Result<()> {
    if lance_setting("LANCE_URING_THREAD_COUNT") == Some(0) {
        return Err(std::io::Error::other("LANCE_URING_THREAD_COUNT is 0"));
    }
    let entries = lance_setting("LANCE_URING_QUEUE_DEPTH").unwrap_or(lance_io::uring::DEFAULT_URING_QUEUE_DEPTH);
    read_through_a_ring(file, u32::try_from(entries).unwrap_or(u32::MAX))
}

#[cfg(not(target_os = "linux"))]
fn probe(_file: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "io_uring is Linux's"))
}

/// Reads the start of `file` through a new ring of `entries` entries.
#[cfg(target_os = "linux")]
fn read_through_a_ring(file: &Path, entries: u32) -> std::io::Result<()> {
    use io_uring::{IoUring, opcode, types};
    use std::io::{Error, ErrorKind};
    use std::os::fd::AsRawFd;

    let file = std::fs::File::open(file)?;
    let mut ring = IoUring::new(entries)?;
    let mut buf = vec![0u8; 64].into_boxed_slice();
    let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    let read = opcode::Read::new(types::Fd(file.as_raw_fd()), buf.as_mut_ptr(), len).offset(0).build().user_data(1);
    // SAFETY: the file and the buffer stay alive until the read completes (below), or are leaked when it cannot
    // be known whether the kernel still holds them.
    #[allow(unsafe_code)]
    unsafe { ring.submission().push(&read) }.map_err(|_| Error::other("the submission queue is full"))?;
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                std::mem::forget(file);
                std::mem::forget(buf);
                return Err(e);
            }
        }
    }
    let Some(done) = ring.completion().next() else {
        std::mem::forget(file);
        std::mem::forget(buf);
        return Err(Error::other("the read never completed"));
    };
    if done.result() < 0 { Err(Error::from_raw_os_error(-done.result())) } else { Ok(()) }
}

/// A LanceDB session whose local files are read through io_uring.
pub(crate) fn session() -> Arc<Session> {
    let registry = ObjectStoreRegistry::default();
    registry.insert("file", Arc::new(UringFiles));
    Arc::new(Session::new(
        lance::dataset::DEFAULT_INDEX_CACHE_SIZE,
        lance::dataset::DEFAULT_METADATA_CACHE_SIZE,
        Arc::new(registry),
    ))
}

/// Lance's local file store, with the scheme that selects its io_uring reader.
#[derive(Debug)]
struct UringFiles;

#[async_trait::async_trait]
impl ObjectStoreProvider for UringFiles {
    async fn new_store(&self, base_path: Url, params: &ObjectStoreParams) -> LanceResult<ObjectStore> {
        let uring = base_path
            .as_str()
            .strip_prefix("file:")
            .and_then(|rest| Url::parse(&format!("file+uring:{rest}")).ok())
            .ok_or_else(|| lance_core::Error::invalid_input(format!("not a local file URL: {base_path}")))?;
        FileStoreProvider.new_store(uring, params).await
    }

    fn extract_path(&self, url: &Url) -> LanceResult<object_store::path::Path> {
        FileStoreProvider.extract_path(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_file_url_gets_lances_io_uring_store_over_the_same_paths() {
        let url = Url::parse("file:///tmp/library%20one/chunks.lance").expect("url");
        let store = UringFiles.new_store(url.clone(), &ObjectStoreParams::default()).await.expect("store");
        assert_eq!(store.scheme(), "file+uring");
        assert!(store.has_direct_local_paths(), "reads and writes go to the file system directly");
        let path = UringFiles.extract_path(&url).expect("path");
        assert_eq!(path, FileStoreProvider.extract_path(&url).expect("path"));
        assert_eq!(path.as_ref(), "tmp/library one/chunks.lance");

        let other = Url::parse("memory:///x").expect("url");
        assert!(UringFiles.new_store(other, &ObjectStoreParams::default()).await.is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_probe_reads_through_a_ring_wherever_a_ring_can_be_made() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"some bytes to read").expect("write");
        let missing = read_through_a_ring(&dir.path().join("missing"), 8).expect_err("no such file");
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        for entries in [8, 256, 16 * 1024] {
            match io_uring::IoUring::new(entries) {
                // Rings of this size work here: the probe's read must succeed.
                Ok(_) => read_through_a_ring(&file, entries).expect("a read through a ring"),
                // They are refused (seccomp, io_uring_disabled, the locked-memory limit): the probe must say so.
                Err(_) => assert!(read_through_a_ring(&file, entries).is_err()),
            }
        }
        // Larger than the kernel allows.
        assert!(read_through_a_ring(&file, 1 << 20).is_err());
    }
}
