//! [`ProcessExtractor`]: the app's [`Extractor`], which runs every document in an extract worker process.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use quire_core::worker::{Worker, WorkerSpec};
use quire_core::{Error, ExtractError, ExtractedDoc, Extractor, Format};

use crate::worker::{ExtractRequest, ExtractResponse, WORKER_NAME};
use crate::{MB, mb_words, too_large};

/// How documents are extracted in worker processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractorOptions {
    /// Worker processes, each extracting one document at a time (documents beyond that wait their turn).
    pub workers: usize,
    /// Wall-clock time one document may take, plus `timeout_per_mb` for every MiB of the file, up to
    /// `max_timeout`. On expiry the worker is killed and the document fails with [`ExtractError::Timeout`].
    pub timeout: Duration,
    pub timeout_per_mb: Duration,
    pub max_timeout: Duration,
    /// The address space a worker may use (RLIMIT_AS), in MiB; beyond it the document fails with
    /// [`ExtractError::OutOfMemory`].
    pub memory_limit_mb: u64,
    /// Files larger than this (MiB) are refused without starting a worker.
    pub max_file_mb: u64,
}

impl Default for ExtractorOptions {
    fn default() -> ExtractorOptions {
        ExtractorOptions {
            workers: 1,
            timeout: Duration::from_secs(120),
            timeout_per_mb: Duration::from_secs(2),
            max_timeout: Duration::from_secs(30 * 60),
            memory_limit_mb: 2048,
            max_file_mb: 512,
        }
    }
}

/// Extracts documents in supervised worker processes (see the crate docs). A worker that crashes, hangs or
/// runs out of memory fails only the document it was working on; the next document starts a fresh worker.
pub struct ProcessExtractor {
    workers: Vec<Worker>,
    /// Indices of the workers not serving a document.
    idle: Mutex<Vec<usize>>,
    permits: tokio::sync::Semaphore,
    options: ExtractorOptions,
}

impl ProcessExtractor {
    /// A pool of `options.workers` workers started with `spec` (see [`WorkerSpec::current_exe`] and
    /// [`WorkerSpec::with_program`]; its name should be [`WORKER_NAME`]), to which the memory and file-size
    /// limits are added as arguments. Workers start on first use.
    pub fn new(spec: WorkerSpec, options: ExtractorOptions) -> ProcessExtractor {
        let mut spec = spec;
        spec.args.extend([
            "--memory-limit-mb".to_string(),
            options.memory_limit_mb.to_string(),
            "--max-file-mb".to_string(),
            options.max_file_mb.to_string(),
        ]);
        // No backtraces from a dying worker: the parent keeps only the last lines of its stderr, and the
        // telling one ("memory allocation of … failed", "has overflowed its stack") must stay among them.
        spec.envs.retain(|(k, _)| k != "RUST_BACKTRACE" && k != "RUST_LIB_BACKTRACE");
        spec.envs.push(("RUST_BACKTRACE".into(), "0".into()));
        spec.envs.push(("RUST_LIB_BACKTRACE".into(), "0".into()));
        let n = options.workers.max(1);
        let workers: Vec<Worker> = (0..n).map(|_| Worker::new(spec.clone())).collect();
        ProcessExtractor {
            workers,
            idle: Mutex::new((0..n).rev().collect()),
            permits: tokio::sync::Semaphore::new(n),
            options,
        }
    }

    /// Workers that re-run the current executable as `<exe> __worker extract` (the app's and the CLI's way).
    pub fn for_current_exe(options: ExtractorOptions) -> Result<ProcessExtractor, Error> {
        Ok(ProcessExtractor::new(WorkerSpec::current_exe(WORKER_NAME, Vec::new())?, options))
    }

    pub fn options(&self) -> &ExtractorOptions {
        &self.options
    }

    /// Worker processes started so far, over the whole pool (a restart after a crash counts).
    pub fn worker_starts(&self) -> u64 {
        self.workers.iter().map(Worker::starts).sum()
    }

    /// The time a file of `bytes` bytes may take.
    pub fn timeout_for(&self, bytes: u64) -> Duration {
        let o = &self.options;
        let per_mb = o.timeout_per_mb.saturating_mul(u32::try_from(bytes / MB).unwrap_or(u32::MAX));
        o.timeout.saturating_add(per_mb).min(o.max_timeout.max(o.timeout))
    }

    /// Stops every worker process (they also stop when the extractor is dropped).
    pub async fn shutdown(&self) {
        for w in &self.workers {
            w.stop().await;
        }
    }

    fn describe(&self, e: Error) -> ExtractError {
        match e {
            Error::WorkerTimeout { secs, .. } => {
                ExtractError::Timeout(format!("no result after {secs} s, so the extraction was stopped"))
            }
            Error::WorkerCrashed { detail, .. } => {
                let lower = detail.to_lowercase();
                if lower.contains("memory allocation of") || lower.contains("out of memory") {
                    ExtractError::OutOfMemory(format!(
                        "it needed more than the {} the parser may use ({detail})",
                        mb_words(self.options.memory_limit_mb.saturating_mul(MB))
                    ))
                } else if lower.contains("overflowed its stack") {
                    ExtractError::Crashed(format!(
                        "the parser overflowed its stack; the file is probably damaged or nested too deeply ({detail})"
                    ))
                } else {
                    ExtractError::Crashed(format!("the parser process stopped: {detail}"))
                }
            }
            e => ExtractError::Crashed(e.to_string()),
        }
    }
}

/// Gives a worker back to the pool when the call ends, even if the calling future is dropped.
struct Lease<'a> {
    idle: &'a Mutex<Vec<usize>>,
    index: usize,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(self.index);
        }
    }
}

#[async_trait]
impl Extractor for ProcessExtractor {
    async fn extract(&self, path: &Path, format: Format) -> Result<ExtractedDoc, ExtractError> {
        let io = |e: std::io::Error| ExtractError::Io(format!("{}: {}", path.display(), crate::io_words(&e)));
        let path = std::path::absolute(path).map_err(io)?;
        let meta = tokio::fs::metadata(&path).await.map_err(io)?;
        if meta.is_dir() {
            return Err(ExtractError::Io(format!("{} is a folder, not a file", path.display())));
        }
        let max = self.options.max_file_mb.saturating_mul(MB);
        if meta.len() > max {
            return Err(too_large(meta.len(), max));
        }
        let timeout = self.timeout_for(meta.len());

        let _permit =
            self.permits.acquire().await.map_err(|_| ExtractError::Crashed("the extractor is shutting down".into()))?;
        let index = self
            .idle
            .lock()
            .ok()
            .and_then(|mut idle| idle.pop())
            .ok_or_else(|| ExtractError::Crashed("no extract worker is free".into()))?;
        let _lease = Lease { idle: &self.idle, index };
        let req = ExtractRequest { path: path.clone(), format };
        let started = std::time::Instant::now();
        let answer: Result<ExtractResponse, Error> = self.workers[index].call(&req, timeout).await;
        let result = answer.unwrap_or_else(|e| Err(self.describe(e)));
        match &result {
            Ok(doc) => tracing::debug!(
                path = %path.display(),
                ms = started.elapsed().as_millis() as u64,
                blocks = doc.blocks.len(),
                "extracted"
            ),
            Err(e) => tracing::info!(path = %path.display(), "extraction failed: {e}"),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_grow_with_the_file() {
        let x = ProcessExtractor::new(
            WorkerSpec::with_program("/nonexistent".into(), WORKER_NAME, vec![]),
            ExtractorOptions::default(),
        );
        assert_eq!(x.timeout_for(0), Duration::from_secs(120));
        assert_eq!(x.timeout_for(100 * MB), Duration::from_secs(320));
        assert_eq!(x.timeout_for(u64::MAX), Duration::from_secs(1800));
    }

    #[tokio::test]
    async fn a_missing_worker_program_is_a_readable_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "text").expect("write");
        let x = ProcessExtractor::new(
            WorkerSpec::with_program("/nonexistent/quire".into(), WORKER_NAME, vec![]),
            ExtractorOptions::default(),
        );
        let err = x.extract(&path, Format::Text).await.expect_err("no worker");
        assert!(matches!(&err, ExtractError::Crashed(m) if m.contains("could not start")), "{err}");
        // The worker is back in the pool.
        let err = x.extract(&path, Format::Text).await.expect_err("no worker");
        assert!(matches!(err, ExtractError::Crashed(_)));
    }
}
