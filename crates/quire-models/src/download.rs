//! Downloads of model files: resumable, checked before they are installed, installed atomically.
//!
//! A download is written to `<models dir>/.partial/<file>.part`, next to a small sidecar (`<file>.part.json`: the
//! URL, the file's size, the sha256 expected, the server's ETag and Last-Modified). When it stops — a dropped
//! connection, a pause, the program closed or killed — the next [`Downloader::download`] of the same file asks the
//! server for the rest with an HTTP `Range` (and `If-Range`, so a file changed on the server is not spliced onto
//! the old one); a server that refuses ranges or whose file changed answers 200, and the download starts over.
//! The disk space is checked before any byte is written. Once complete, the file's size, its sha256 (against the
//! catalog's when there is one; otherwise recorded and reported) and its GGUF header are checked, and only then is
//! it renamed into the models folder: a damaged or truncated download is deleted with the reason and never
//! appears as a model.
//!
//! [`Downloader::download`] blocks: run it on a thread of its own (`std::thread`, or tokio's `spawn_blocking`),
//! never on an async task. [`DownloadQueue`](crate::DownloadQueue) runs several one after another.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_RANGE, ETAG, HeaderMap, IF_RANGE, LAST_MODIFIED, RANGE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{CatalogEntry, GgufInfo, INSTALL_COMMAND, ModelsError};

/// The folder of unfinished downloads, inside the models folder (same file system, so installing is a rename).
pub const PARTIAL_DIR: &str = ".partial";
/// Bytes left free on the disk after a download, by default.
pub const DEFAULT_HEADROOM: u64 = 64 << 20;

/// Free bytes for an unprivileged user on the file system of a path.
pub type FreeSpace = Arc<dyn Fn(&Path) -> io::Result<u64> + Send + Sync>;

/// One file to download into the models folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadRequest {
    pub url: String,
    /// The file's name in the models folder.
    pub file_name: String,
    /// Bytes, when known in advance (the catalog, the Hugging Face tree).
    pub size: Option<u64>,
    /// Lowercase hex, when known; otherwise the download's own sha256 is recorded.
    pub sha256: Option<String>,
}

impl DownloadRequest {
    /// The catalog entry from `endpoint` (Hugging Face or a mirror of it).
    pub fn from_catalog(entry: &CatalogEntry, endpoint: &str) -> Result<Self, ModelsError> {
        let url = entry.url(endpoint).ok_or_else(|| {
            ModelsError::Unsupported(format!(
                "{} is made on this machine by `{INSTALL_COMMAND}` and has no download; give a mirror's URL \
                 of the file to download it from there",
                entry.id
            ))
        })?;
        Ok(Self::from_catalog_at(entry, url))
    }

    /// The catalog entry's file from another URL (a mirror): its size and sha256 still apply.
    pub fn from_catalog_at(entry: &CatalogEntry, url: String) -> Self {
        DownloadRequest {
            url,
            file_name: entry.file_name().to_string(),
            size: entry.size,
            sha256: entry.sha256.clone(),
        }
    }
}

/// What a download is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Connecting,
    Downloading,
    /// Hashing the complete file (`done` counts the bytes hashed).
    Verifying,
    Installing,
}

/// Progress of one download, reported a few times a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub stage: Stage,
    /// Bytes of the file on disk (while verifying: bytes hashed).
    pub done: u64,
    /// The file's size, once known.
    pub total: Option<u64>,
    /// Recent speed, bytes per second (averaged over the last few seconds).
    pub bytes_per_second: f64,
    /// Seconds left at that speed.
    pub eta_seconds: Option<f64>,
    /// Bytes that were already there from an earlier, interrupted download.
    pub resumed_from: u64,
    /// Times the download started over from the beginning (ranges refused, or the file changed on the server).
    pub restarts: u32,
    /// Times the connection was made again after it dropped.
    pub retries: u32,
}

/// A file installed in the models folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    pub path: PathBuf,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    /// The sha256 was compared with a known one (the catalog's); otherwise it is the recorded hash of this
    /// download, to show the user.
    pub sha256_verified: bool,
    /// The file was there already (nothing was downloaded).
    pub already_installed: bool,
    pub resumed_from: u64,
    pub restarts: u32,
    pub retries: u32,
}

/// A download stopped by its cancel flag: the partial file stays for a later [`Downloader::download`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    pub file_name: String,
    pub partial: PathBuf,
    pub done: u64,
    pub total: Option<u64>,
}

/// How a download ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Installed(Installed),
    Paused(Paused),
}

/// An unfinished download found in the partial folder, for resuming after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialDownload {
    pub file_name: String,
    pub url: String,
    pub done: u64,
    pub total: Option<u64>,
    pub sha256: Option<String>,
}

/// The sidecar of a partial file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Sidecar {
    url: String,
    size: Option<u64>,
    sha256: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Sidecar {
    fn load(path: &Path) -> Option<Sidecar> {
        let bytes = fs::read(path).ok()?;
        if bytes.len() > 64 << 10 {
            return None;
        }
        serde_json::from_slice(&bytes).ok()
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).map_err(io::Error::other)?)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    }

    /// The partial file was made for this request (same URL and hash; sizes that agree).
    fn fits(&self, req: &DownloadRequest) -> bool {
        self.url == req.url
            && self.sha256 == req.sha256
            && match (self.size, req.size) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// The validator for `If-Range`: a strong ETag, else the Last-Modified date.
    fn validator(&self) -> Option<&str> {
        self.etag.as_deref().filter(|e| !e.starts_with("W/")).or(self.last_modified.as_deref())
    }
}

struct Paths {
    part: PathBuf,
    sidecar: PathBuf,
    lock: PathBuf,
}

impl Paths {
    fn new(partial_dir: &Path, file_name: &str) -> Paths {
        Paths {
            part: partial_dir.join(format!("{file_name}.part")),
            sidecar: partial_dir.join(format!("{file_name}.part.json")),
            lock: partial_dir.join(format!("{file_name}.lock")),
        }
    }

    fn remove(&self) {
        let _ = fs::remove_file(&self.part);
        let _ = fs::remove_file(&self.sidecar);
    }
}

/// Downloads files into one models folder.
#[derive(Clone)]
pub struct Downloader {
    dir: PathBuf,
    client: Client,
    free_space: FreeSpace,
    headroom: u64,
    max_retries: u32,
    retry_delay: Duration,
    progress_every: Duration,
}

impl std::fmt::Debug for Downloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader").field("dir", &self.dir).field("headroom", &self.headroom).finish_non_exhaustive()
    }
}

/// Consecutive failed attempts before a download gives up (the partial file stays).
const MAX_RETRIES: u32 = 5;
/// Times one download may start over before it gives up.
const MAX_RESTARTS: u32 = 3;

/// A failed attempt: worth another try, or final.
enum Failure {
    Retry(String),
    Fatal(ModelsError),
}

/// A finished attempt.
enum Step {
    Complete,
    Paused,
    /// Throw the partial file away and ask again from the start.
    Restart,
}

/// The state of one [`Downloader::download`] call.
struct Run<'a> {
    resumed_from: u64,
    restarts: u32,
    retries: u32,
    consecutive_failures: u32,
    received_any: bool,
    meter: Meter,
    on_progress: &'a mut dyn FnMut(&Progress),
}

impl Run<'_> {
    fn report(&mut self, stage: Stage, done: u64, total: Option<u64>, force: bool) {
        let now = Instant::now();
        if !self.meter.due(now, force) {
            return;
        }
        let rate =
            if stage == Stage::Downloading || stage == Stage::Verifying { self.meter.rate(now, done) } else { 0.0 };
        let eta = match total {
            Some(t) if rate > 0.0 => Some(t.saturating_sub(done) as f64 / rate),
            _ => None,
        };
        (self.on_progress)(&Progress {
            stage,
            done,
            total,
            bytes_per_second: rate,
            eta_seconds: eta,
            resumed_from: self.resumed_from,
            restarts: self.restarts,
            retries: self.retries,
        });
    }
}

/// Speed over a sliding window, and the pace of progress reports.
struct Meter {
    samples: VecDeque<(Instant, u64)>,
    last_report: Option<Instant>,
    every: Duration,
}

const SPEED_WINDOW: Duration = Duration::from_secs(5);

impl Meter {
    fn new(every: Duration) -> Meter {
        Meter { samples: VecDeque::new(), last_report: None, every }
    }

    fn due(&mut self, now: Instant, force: bool) -> bool {
        if force || self.last_report.is_none_or(|t| now.duration_since(t) >= self.every) {
            self.last_report = Some(now);
            return true;
        }
        false
    }

    /// Restart the speed measurement (a new stage, or bytes that jumped back).
    fn reset(&mut self) {
        self.samples.clear();
    }

    fn rate(&mut self, now: Instant, done: u64) -> f64 {
        if self.samples.back().is_some_and(|&(_, d)| d > done) {
            self.samples.clear();
        }
        self.samples.push_back((now, done));
        while self.samples.len() > 2 && self.samples.front().is_some_and(|&(t, _)| now.duration_since(t) > SPEED_WINDOW)
        {
            self.samples.pop_front();
        }
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, d0)), Some(&(t1, d1))) if t1 > t0 => (d1 - d0) as f64 / t1.duration_since(t0).as_secs_f64(),
            _ => 0.0,
        }
    }
}

impl Downloader {
    /// A downloader into `models_dir`, checking the free space with the operating system's numbers.
    pub fn new(models_dir: impl Into<PathBuf>) -> Result<Downloader, ModelsError> {
        let client = Client::builder()
            .user_agent(concat!("quire/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            // in the blocking client this bounds each wait (the headers, every read), not the whole download
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ModelsError::Network { url: String::new(), reason: error_chain(&e) })?;
        Ok(Downloader {
            dir: models_dir.into(),
            client,
            free_space: Arc::new(|p: &Path| fs4::available_space(p)),
            headroom: DEFAULT_HEADROOM,
            max_retries: MAX_RETRIES,
            retry_delay: Duration::from_secs(1),
            progress_every: Duration::from_millis(200),
        })
    }

    /// Measures free space with `f` instead (tests simulate a full disk with it).
    pub fn with_free_space(mut self, f: FreeSpace) -> Self {
        self.free_space = f;
        self
    }

    /// Bytes to leave free on the disk.
    pub fn with_headroom(mut self, bytes: u64) -> Self {
        self.headroom = bytes;
        self
    }

    /// Consecutive failed attempts before giving up, and the first wait between them (doubled each time).
    pub fn with_retries(mut self, max_retries: u32, first_delay: Duration) -> Self {
        self.max_retries = max_retries;
        self.retry_delay = first_delay;
        self
    }

    /// How often progress is reported at most.
    pub fn with_progress_every(mut self, every: Duration) -> Self {
        self.progress_every = every;
        self
    }

    pub fn models_dir(&self) -> &Path {
        &self.dir
    }

    fn partial_dir(&self) -> PathBuf {
        self.dir.join(PARTIAL_DIR)
    }

    /// Downloads `req` into the models folder, or resumes it. Returns when the file is installed, or when
    /// `cancel` is set (the partial file stays: call again to resume). `on_progress` is called a few times a
    /// second. On an error the partial file stays when the download can resume (a network failure, a full
    /// disk) and is deleted when its content is wrong.
    pub fn download(
        &self,
        req: &DownloadRequest,
        cancel: &AtomicBool,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<Outcome, ModelsError> {
        check_file_name(&req.file_name)?;
        fs::create_dir_all(&self.dir).map_err(|e| ModelsError::io(&self.dir, e))?;
        let dest = self.dir.join(&req.file_name);
        if let Some(installed) = self.already_installed(&dest, req)? {
            return Ok(Outcome::Installed(installed));
        }
        let partial_dir = self.partial_dir();
        fs::create_dir_all(&partial_dir).map_err(|e| ModelsError::io(&partial_dir, e))?;
        let paths = Paths::new(&partial_dir, &req.file_name);
        let _lock = lock(&paths.lock, &req.file_name)?;

        let mut side = match Sidecar::load(&paths.sidecar) {
            Some(side) if side.fits(req) && paths.part.is_file() => side,
            _ => {
                paths.remove();
                let side =
                    Sidecar { url: req.url.clone(), size: req.size, sha256: req.sha256.clone(), ..Sidecar::default() };
                side.save(&paths.sidecar).map_err(|e| ModelsError::io(&paths.sidecar, e))?;
                side
            }
        };
        let resumed_from = file_len(&paths.part);
        let mut run = Run {
            resumed_from,
            restarts: 0,
            retries: 0,
            consecutive_failures: 0,
            received_any: false,
            meter: Meter::new(self.progress_every),
            on_progress,
        };
        if let Some(size) = side.size.or(req.size) {
            self.check_space(size.saturating_sub(resumed_from))?;
        }
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Ok(self.paused(req, &paths, &side));
            }
            match self.attempt(req, &paths, &mut side, cancel, &mut run) {
                Ok(Step::Complete) => break,
                Ok(Step::Paused) => return Ok(self.paused(req, &paths, &side)),
                Ok(Step::Restart) => {
                    run.restarts += 1;
                    if run.restarts > MAX_RESTARTS {
                        paths.remove();
                        return Err(ModelsError::Network {
                            url: req.url.clone(),
                            reason: "the server keeps answering with other parts of the file than asked for".into(),
                        });
                    }
                }
                Err(Failure::Retry(reason)) => {
                    run.retries += 1;
                    run.consecutive_failures += 1;
                    if run.consecutive_failures > self.max_retries {
                        return Err(ModelsError::Network {
                            url: req.url.clone(),
                            reason: format!(
                                "{reason} (gave up after {} tries; the {} bytes received are kept and the next \
                                 download resumes from there)",
                                run.consecutive_failures,
                                file_len(&paths.part)
                            ),
                        });
                    }
                    let delay = self.retry_delay.saturating_mul(1 << (run.consecutive_failures - 1).min(6));
                    sleep_unless(cancel, delay);
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
        self.install(req, &paths, &dest, &mut run)
    }

    fn paused(&self, req: &DownloadRequest, paths: &Paths, side: &Sidecar) -> Outcome {
        Outcome::Paused(Paused {
            file_name: req.file_name.clone(),
            partial: paths.part.clone(),
            done: file_len(&paths.part),
            total: side.size.or(req.size),
        })
    }

    /// The request's file as installed in the models folder (the expected sha256 checked, hashed once), if it is.
    pub fn installed(&self, req: &DownloadRequest) -> Result<Option<Installed>, ModelsError> {
        check_file_name(&req.file_name)?;
        self.already_installed(&self.dir.join(&req.file_name), req)
    }

    /// The file is already in the models folder: with the expected sha256 (hashed once, then stamped), or of the
    /// expected size when no hash is known.
    fn already_installed(&self, dest: &Path, req: &DownloadRequest) -> Result<Option<Installed>, ModelsError> {
        let Ok(meta) = fs::metadata(dest) else { return Ok(None) };
        if !meta.is_file() || req.size.is_some_and(|s| s != meta.len()) {
            return Ok(None);
        }
        let sha = crate::sha256_stamped(dest)?;
        if req.sha256.as_deref().is_some_and(|expected| !expected.eq_ignore_ascii_case(&sha)) {
            return Ok(None);
        }
        Ok(Some(Installed {
            path: dest.to_path_buf(),
            file_name: req.file_name.clone(),
            size: meta.len(),
            sha256_verified: req.sha256.is_some(),
            sha256: sha,
            already_installed: true,
            resumed_from: 0,
            restarts: 0,
            retries: 0,
        }))
    }

    fn check_space(&self, needed: u64) -> Result<(), ModelsError> {
        // a file system that cannot say how much is free is not checked; the write fails if it is full
        let Ok(available) = (self.free_space)(&self.dir) else { return Ok(()) };
        if needed.saturating_add(self.headroom) > available {
            return Err(ModelsError::NotEnoughSpace {
                dir: self.dir.clone(),
                needed,
                available,
                headroom: self.headroom,
            });
        }
        Ok(())
    }

    /// One request: asks for what is missing and appends it to the partial file.
    fn attempt(
        &self,
        req: &DownloadRequest,
        paths: &Paths,
        side: &mut Sidecar,
        cancel: &AtomicBool,
        run: &mut Run<'_>,
    ) -> Result<Step, Failure> {
        let have = file_len(&paths.part);
        let known = side.size.or(req.size);
        match known {
            Some(total) if have == total && have > 0 => return Ok(Step::Complete),
            Some(total) if have > total => {
                let _ = fs::remove_file(&paths.part);
                return Ok(Step::Restart);
            }
            _ => {}
        }
        run.report(Stage::Connecting, have, known, true);
        let mut request = self.client.get(&req.url);
        if have > 0 {
            request = request.header(RANGE, format!("bytes={have}-"));
            if let Some(validator) = side.validator() {
                request = request.header(IF_RANGE, validator);
            }
        }
        let mut response = match request.send() {
            Ok(r) => r,
            // a connection that dropped mid-way is tried again; a server never reached is an error now
            Err(e) if run.received_any || e.is_timeout() => return Err(Failure::Retry(http_reason(e))),
            Err(e) => {
                return Err(Failure::Fatal(ModelsError::Network { url: req.url.clone(), reason: http_reason(e) }));
            }
        };
        let status = response.status();
        let (start, total) = match status {
            StatusCode::PARTIAL_CONTENT => match content_range(response.headers()) {
                Some((start, total)) if start == have => (start, total.or(known)),
                _ => {
                    let _ = fs::remove_file(&paths.part);
                    return Ok(Step::Restart);
                }
            },
            StatusCode::OK => {
                if have > 0 {
                    // the server ignored the range, or the file changed (If-Range): start over on this answer
                    run.restarts += 1;
                    run.meter.reset();
                    run.resumed_from = 0;
                }
                (0, response.content_length())
            }
            StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
                if unsatisfied_total(response.headers()) == Some(have) {
                    side.size = Some(have);
                    return Ok(Step::Complete);
                }
                let _ = fs::remove_file(&paths.part);
                return Ok(Step::Restart);
            }
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                return Err(Failure::Retry(format!("the server answered {s}")));
            }
            s => {
                return Err(Failure::Fatal(ModelsError::HttpStatus {
                    url: req.url.clone(),
                    status: s.as_u16(),
                    hint: status_hint(s).into(),
                }));
            }
        };
        if let (Some(expected), Some(server)) = (req.size, total)
            && expected != server
        {
            paths.remove();
            return Err(Failure::Fatal(ModelsError::BadDownload {
                file: req.file_name.clone(),
                reason: format!("the server's file is {server} bytes but it should be {expected}"),
            }));
        }
        let total = total.or(req.size);
        if let Some(total) = total {
            self.check_space(total.saturating_sub(start)).map_err(Failure::Fatal)?;
        }
        side.size = total;
        side.etag = header(response.headers(), ETAG);
        side.last_modified = header(response.headers(), LAST_MODIFIED);
        side.save(&paths.sidecar).map_err(|e| Failure::Fatal(ModelsError::io(&paths.sidecar, e)))?;

        let file =
            if start == 0 { File::create(&paths.part) } else { OpenOptions::new().append(true).open(&paths.part) }
                .map_err(|e| Failure::Fatal(ModelsError::io(&paths.part, e)))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut done = start;
        let mut buf = vec![0u8; 256 << 10];
        run.report(Stage::Downloading, done, total, true);
        let write_error = |e: io::Error| Failure::Fatal(ModelsError::io(&paths.part, e));
        loop {
            if cancel.load(Ordering::Relaxed) {
                finish_writes(out).map_err(write_error)?;
                return Ok(Step::Paused);
            }
            let n = match response.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    finish_writes(out).map_err(write_error)?;
                    return Err(Failure::Retry(format!("the connection dropped ({})", io_error_chain(&e))));
                }
            };
            out.write_all(&buf[..n]).map_err(write_error)?;
            done += n as u64;
            run.received_any = true;
            run.consecutive_failures = 0;
            if total.is_some_and(|t| done > t) {
                drop(out);
                paths.remove();
                return Err(Failure::Fatal(ModelsError::BadDownload {
                    file: req.file_name.clone(),
                    reason: "the server sent more bytes than the file has".into(),
                }));
            }
            run.report(Stage::Downloading, done, total, false);
        }
        finish_writes(out).map_err(write_error)?;
        match total {
            Some(t) if done < t => Err(Failure::Retry(format!("the connection closed after {done} of {t} bytes"))),
            Some(_) => Ok(Step::Complete),
            None => {
                // no length announced: the end of the body is the end of the file
                side.size = Some(done);
                side.save(&paths.sidecar).map_err(|e| Failure::Fatal(ModelsError::io(&paths.sidecar, e)))?;
                Ok(Step::Complete)
            }
        }
    }

    /// Size, sha256 and GGUF header checked, then the rename into the models folder.
    fn install(
        &self,
        req: &DownloadRequest,
        paths: &Paths,
        dest: &Path,
        run: &mut Run<'_>,
    ) -> Result<Outcome, ModelsError> {
        let refuse = |reason: String| {
            paths.remove();
            ModelsError::BadDownload { file: req.file_name.clone(), reason }
        };
        let size = file_len(&paths.part);
        if let Some(expected) = req.size
            && size != expected
        {
            return Err(refuse(format!("it is {size} bytes but should be {expected}")));
        }
        run.meter.reset();
        run.report(Stage::Verifying, 0, Some(size), true);
        let sha256 = hash_file(&paths.part, &mut |n| run.report(Stage::Verifying, n, Some(size), false))?;
        if let Some(expected) = &req.sha256
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            paths.remove();
            return Err(ModelsError::ChecksumMismatch {
                file: req.file_name.clone(),
                expected: expected.clone(),
                actual: sha256,
            });
        }
        if let Err(e) = GgufInfo::read(&paths.part) {
            let reason = match e {
                ModelsError::InvalidGguf { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(refuse(format!("it is not a usable GGUF model ({reason})")));
        }
        run.report(Stage::Installing, size, Some(size), true);
        fs::rename(&paths.part, dest).map_err(|e| ModelsError::io(dest, e))?;
        sync_dir(&self.dir);
        let _ = fs::remove_file(&paths.sidecar);
        crate::save_stamp(dest, &sha256);
        Ok(Outcome::Installed(Installed {
            path: dest.to_path_buf(),
            file_name: req.file_name.clone(),
            size,
            sha256_verified: req.sha256.is_some(),
            sha256,
            already_installed: false,
            resumed_from: run.resumed_from,
            restarts: run.restarts,
            retries: run.retries,
        }))
    }

    /// The unfinished downloads in the partial folder.
    pub fn partial_downloads(&self) -> Vec<PartialDownload> {
        let Ok(entries) = fs::read_dir(self.partial_dir()) else { return Vec::new() };
        let mut found: Vec<PartialDownload> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let file_name = name.strip_suffix(".part.json")?.to_string();
                let side = Sidecar::load(&e.path())?;
                let paths = Paths::new(&self.partial_dir(), &file_name);
                Some(PartialDownload {
                    done: file_len(&paths.part),
                    file_name,
                    url: side.url,
                    total: side.size,
                    sha256: side.sha256,
                })
            })
            .collect();
        found.sort_by(|a, b| a.file_name.cmp(&b.file_name));
        found
    }

    /// Deletes the unfinished download of `file_name`, if any.
    pub fn discard(&self, file_name: &str) -> Result<(), ModelsError> {
        check_file_name(file_name)?;
        let paths = Paths::new(&self.partial_dir(), file_name);
        let _lock = lock(&paths.lock, file_name)?;
        paths.remove();
        Ok(())
    }
}

/// A file name for the models folder: one plain component.
fn check_file_name(name: &str) -> Result<(), ModelsError> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':', '\0'])
        && Path::new(name).file_name().is_some_and(|n| n == name);
    if plain {
        Ok(())
    } else {
        Err(ModelsError::Unsupported(format!("{name:?} cannot be a file name in the models folder")))
    }
}

/// Holds an exclusive lock on `<file>.lock` while the download runs, so two Quire processes never write the same
/// partial file. The lock file itself stays (removing it would race with a process about to lock it).
fn lock(path: &Path, file_name: &str) -> Result<File, ModelsError> {
    let f =
        OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(|e| ModelsError::io(path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(fs::TryLockError::WouldBlock) => Err(ModelsError::Busy { file: file_name.to_string() }),
        Err(fs::TryLockError::Error(e)) => Err(ModelsError::io(path, e)),
    }
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn finish_writes(out: BufWriter<File>) -> io::Result<()> {
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_data()
}

/// Makes a rename durable (Unix; elsewhere the rename is enough).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn sleep_unless(cancel: &AtomicBool, total: Duration) {
    let until = Instant::now() + total;
    while !cancel.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// The sha256 of a file, reporting the bytes hashed.
fn hash_file(path: &Path, progress: &mut dyn FnMut(u64)) -> Result<String, ModelsError> {
    let mut file = File::open(path).map_err(|e| ModelsError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(ModelsError::io(path, e)),
        };
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(done);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `Content-Range: bytes <start>-<end>/<total or *>` → (start, total).
fn content_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

/// The total of a 416 answer: `Content-Range: bytes */<total>`.
fn unsatisfied_total(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    value.strip_prefix("bytes */")?.trim().parse().ok()
}

fn status_hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => {
            " (the repository is private or gated: its licence must be accepted on Hugging Face with an account, \
             which Quire does not do; download the file yourself and import it)"
        }
        404 => " (no such file: it may have been renamed or removed from the repository)",
        _ => "",
    }
}

/// An error with its causes, for people ("error sending request: connection refused").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

/// A request's failure without the URL (the message names it already), with a hint when no connection was made.
pub(crate) fn http_reason(e: reqwest::Error) -> String {
    let connect = e.is_connect();
    let mut reason = error_chain(&e.without_url());
    if connect {
        reason.push_str(" (is this machine online? A mirror can be set with HF_ENDPOINT)");
    }
    reason
}

fn io_error_chain(e: &io::Error) -> String {
    error_chain(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn content_ranges_are_read() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 100-199/1000"));
        assert_eq!(content_range(&h), Some((100, Some(1000))));
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 100-199/*"));
        assert_eq!(content_range(&h), Some((100, None)));
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes */1000"));
        assert_eq!(content_range(&h), None);
        assert_eq!(unsatisfied_total(&h), Some(1000));
    }

    #[test]
    fn file_names_stay_in_the_models_folder() {
        for bad in ["", ".partial", "../x.gguf", "a/b.gguf", "a\\b.gguf", "C:x.gguf", ".hidden.gguf"] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_file_name("Qwen3-0.6B-Q4_K_M.gguf").is_ok());
    }

    #[test]
    fn speed_is_measured_over_a_window() {
        let mut m = Meter::new(Duration::from_millis(200));
        let t0 = Instant::now();
        assert_eq!(m.rate(t0, 0), 0.0);
        assert_eq!(m.rate(t0 + Duration::from_secs(1), 1000), 1000.0);
        assert_eq!(m.rate(t0 + Duration::from_secs(2), 3000), 1500.0);
        // older samples leave the window
        let r = m.rate(t0 + Duration::from_secs(10), 4000);
        assert!((r - 125.0).abs() < 1e-9, "{r}");
        // bytes going back (a restart) reset it
        assert_eq!(m.rate(t0 + Duration::from_secs(11), 10), 0.0);
        assert!(m.due(t0, false));
        assert!(!m.due(t0 + Duration::from_millis(100), false));
        assert!(m.due(t0 + Duration::from_millis(100), true));
    }

    #[test]
    fn a_sidecar_belongs_to_one_request() {
        let req =
            DownloadRequest { url: "http://x/a.gguf".into(), file_name: "a.gguf".into(), size: Some(10), sha256: None };
        let side = Sidecar { url: req.url.clone(), size: Some(10), ..Sidecar::default() };
        assert!(side.fits(&req));
        assert!(!Sidecar { url: "http://y/a.gguf".into(), ..side.clone() }.fits(&req));
        assert!(!Sidecar { size: Some(11), ..side.clone() }.fits(&req));
        assert!(!Sidecar { sha256: Some("ab".into()), ..side.clone() }.fits(&req));
        assert_eq!(
            Sidecar { etag: Some("W/\"x\"".into()), last_modified: Some("d".into()), ..side.clone() }.validator(),
            Some("d")
        );
        assert_eq!(Sidecar { etag: Some("\"x\"".into()), ..side }.validator(), Some("\"x\""));
    }
}
