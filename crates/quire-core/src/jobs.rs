//! The durable queue of indexing work, kept in `<data_dir>/jobs.json` and rewritten atomically at every change.
//!
//! A job stays in the file until it is done, so a run killed at any moment runs it again at the next start; the
//! library's ingest is incremental by content hash, so what was already written is found unchanged and nothing
//! is indexed twice. Jobs run one at a time: the user's (a drop, the Add buttons, a retry) before background
//! ones (watched-folder syncs), then in the order they were queued. A job that fails as a whole (the model
//! cannot start, the store cannot be written) is tried again with a growing delay and, after
//! [`MAX_ATTEMPTS`], set aside with its reason. A document that fails within a job is tried again on its own,
//! up to [`DOCUMENT_RETRIES`] times with the same growing delay, then left in the library as failed with its
//! reason, for the user to retry. Pausing is kept too: a paused queue stays paused after a restart.
//!
//! One process at a time owns a data folder's queue (an exclusive lock on `jobs.lock`, dropped by the OS however
//! the process ends): the app and `quire watch run` on the same data folder never overwrite each other's jobs.
//! A queue opened while another process owns it changes nothing and runs nothing until that process lets go;
//! it then reads the file again before its first change.

use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const FILE_NAME: &str = "jobs.json";
const LOCK_NAME: &str = "jobs.lock";

/// Tries of a job that fails as a whole before it is set aside.
pub const MAX_ATTEMPTS: u32 = 5;
/// Automatic retries of a document that failed to index.
pub const DOCUMENT_RETRIES: u32 = 3;
/// The first retry waits this long; each next one four times longer (30 s, 2 min, 8 min, 32 min).
const FIRST_BACKOFF_MS: i64 = 30_000;

/// The delay before try number `attempts + 1`, after `attempts` failed ones.
pub fn backoff_ms(attempts: u32) -> i64 {
    FIRST_BACKOFF_MS.saturating_mul(4i64.saturating_pow(attempts.saturating_sub(1).min(10)))
}

/// Which jobs go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Syncs of watched folders, automatic retries.
    Background,
    /// What the user asked for.
    User,
}

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Files and folders the user added; `force` indexes unchanged files again; the paths join `collection`.
    Import {
        paths: Vec<String>,
        #[serde(default)]
        force: bool,
        #[serde(default)]
        collection: Option<String>,
    },
    /// A watched folder compared in full with the library (at start, after lost events, now and then).
    SyncFolder { folder: String, reason: String },
    /// Paths under watched folders that changed.
    SyncPaths { paths: Vec<String> },
    /// Documents that failed, tried again.
    Retry { paths: Vec<String> },
}

impl JobKind {
    /// The paths the job is about, for showing it.
    pub fn paths(&self) -> Vec<String> {
        match self {
            JobKind::Import { paths, .. } | JobKind::SyncPaths { paths } | JobKind::Retry { paths } => paths.clone(),
            JobKind::SyncFolder { folder, .. } => vec![folder.clone()],
        }
    }
}

/// A job in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    #[serde(flatten)]
    pub kind: JobKind,
    pub priority: Priority,
    pub queued_ms: i64,
    /// Not run before this time (a retry waiting out its delay).
    #[serde(default)]
    pub not_before_ms: i64,
    /// Tries that failed as a whole.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The queue (see the module docs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobQueue {
    #[serde(default)]
    next_id: u64,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    jobs: Vec<Job>,
    /// Documents being retried automatically: path → failed tries so far.
    #[serde(default)]
    retries: BTreeMap<String, u32>,
    /// Jobs that failed [`MAX_ATTEMPTS`] times, with their last error.
    #[serde(default)]
    given_up: Vec<Job>,
    /// The job being run now (a restart runs it again: it is still in `jobs`).
    #[serde(skip)]
    running: Option<u64>,
    #[serde(skip)]
    file: PathBuf,
    /// The lock that makes this process the queue's owner; None while another process owns it.
    #[serde(skip)]
    owner: Option<Arc<File>>,
}

/// Takes the exclusive lock on the queue of `data_dir`. Err: why it is not ours (another process has it, with
/// its process id when known, or the lock file cannot be made).
fn take_lock(data_dir: &Path) -> std::result::Result<File, String> {
    let path = data_dir.join(LOCK_NAME);
    if let Err(e) = std::fs::create_dir_all(data_dir) {
        return Err(format!("could not create {}: {e}", data_dir.display()));
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("could not open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (process {pid})"),
            };
            return Err(format!(
                "another Quire process{holder} is indexing this library (the app or `quire watch run` on the same \
                 data folder); close it, or wait for it to end, and try again"
            ));
        }
        Err(TryLockError::Error(e)) => return Err(format!("could not lock {}: {e}", path.display())),
    }
    // Who holds the lock, for the message above; the lock itself is what counts.
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(file)
}

impl JobQueue {
    /// The queue of a data folder (empty when there is none). A damaged file is set aside as `jobs.json.damaged`
    /// and the queue starts empty (watched folders are compared in full at every start, so only the user's
    /// pending imports are lost); the returned warning says so.
    ///
    /// When another process owns the queue, it is read but not owned, and the warning says so (see the module
    /// docs and [`JobQueue::take_ownership`]).
    pub fn open(data_dir: &Path) -> (JobQueue, Option<String>) {
        match take_lock(data_dir) {
            Ok(lock) => {
                let (mut queue, warning) = JobQueue::read(data_dir, true);
                queue.owner = Some(Arc::new(lock));
                (queue, warning)
            }
            Err(why) => {
                let (queue, _) = JobQueue::read(data_dir, false);
                (queue, Some(why))
            }
        }
    }

    /// Lets go of the queue (this process is ending): another process may own it from now on.
    pub fn release(&mut self) {
        self.owner = None;
    }

    /// Whether this process owns the queue (see the module docs).
    pub fn owned(&self) -> bool {
        self.owner.is_some()
    }

    /// Makes this process the queue's owner if it is not yet, reading the file again (the previous owner may
    /// have changed it). Err: another process still owns it, in words.
    pub fn take_ownership(&mut self) -> Result<()> {
        if self.owner.is_some() {
            return Ok(());
        }
        let data_dir = self.file.parent().map(Path::to_path_buf).unwrap_or_default();
        let lock =
            take_lock(&data_dir).map_err(|why| Error::InvalidInput(format!("The indexing queue is busy: {why}.")))?;
        let (mut fresh, warning) = JobQueue::read(&data_dir, true);
        if let Some(warning) = warning {
            tracing::warn!(%warning, "indexing queue");
        }
        fresh.owner = Some(Arc::new(lock));
        *self = fresh;
        Ok(())
    }

    /// The queue in the file; a damaged file is set aside only by the owner.
    fn read(data_dir: &Path, owner: bool) -> (JobQueue, Option<String>) {
        let file = data_dir.join(FILE_NAME);
        let (mut queue, warning) = match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice::<JobQueue>(&bytes) {
                Ok(queue) => (queue, None),
                Err(e) => {
                    let aside = data_dir.join(format!("{FILE_NAME}.damaged"));
                    let kept = owner && std::fs::rename(&file, &aside).is_ok();
                    let warning = format!(
                        "the indexing queue {} was damaged ({e}); it starts empty{}",
                        file.display(),
                        if kept { format!(", the old one is kept as {}", aside.display()) } else { String::new() }
                    );
                    (JobQueue::default(), Some(warning))
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (JobQueue::default(), None),
            Err(e) => {
                (JobQueue::default(), Some(format!("the indexing queue {} cannot be read ({e})", file.display())))
            }
        };
        queue.file = file;
        (queue, warning)
    }

    /// Writes the queue atomically (see [`crate::paths::write_atomic`]).
    /// Err without writing when another process owns the queue.
    pub fn save(&self) -> Result<()> {
        if self.owner.is_none() {
            return Err(Error::InvalidInput(
                "The indexing queue is busy: another Quire process is indexing this library; close it and try again."
                    .into(),
            ));
        }
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::InvalidInput(e.to_string()))?;
        crate::paths::write_atomic(&self.file, &text)
    }

    /// The jobs waiting or running, in the order they will run.
    pub fn jobs(&self) -> Vec<&Job> {
        let mut jobs: Vec<&Job> = self.jobs.iter().collect();
        jobs.sort_by_key(|j| (std::cmp::Reverse(j.priority), j.not_before_ms, j.id));
        jobs
    }

    pub fn running(&self) -> Option<u64> {
        self.running
    }

    pub fn given_up(&self) -> &[Job] {
        &self.given_up
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Queues a job; returns its id. Changes of watched paths join a waiting sync of changes (so a move seen in
    /// two batches is synced as one), a folder already waiting to be compared is not queued twice, and failed
    /// documents join a waiting retry.
    pub fn push(&mut self, kind: JobKind, priority: Priority, now_ms: i64) -> u64 {
        self.push_at(kind, priority, now_ms, now_ms)
    }

    fn push_at(&mut self, kind: JobKind, priority: Priority, now_ms: i64, not_before_ms: i64) -> u64 {
        let running = self.running;
        let waiting = |job: &&mut Job| Some(job.id) != running && job.attempts == 0 && job.priority == priority;
        let merged = match &kind {
            JobKind::SyncPaths { paths } | JobKind::Retry { paths } => self
                .jobs
                .iter_mut()
                .filter(waiting)
                .find(|job| std::mem::discriminant(&job.kind) == std::mem::discriminant(&kind))
                .map(|job| {
                    if let JobKind::SyncPaths { paths: known } | JobKind::Retry { paths: known } = &mut job.kind {
                        for path in paths {
                            if !known.contains(path) {
                                known.push(path.clone());
                            }
                        }
                    }
                    job.not_before_ms = job.not_before_ms.max(not_before_ms);
                    job.id
                }),
            JobKind::SyncFolder { folder, .. } => self
                .jobs
                .iter_mut()
                .filter(waiting)
                .find(|job| matches!(&job.kind, JobKind::SyncFolder { folder: f, .. } if f == folder))
                .map(|job| job.id),
            JobKind::Import { .. } => None,
        };
        if let Some(id) = merged {
            return id;
        }
        self.next_id += 1;
        let id = self.next_id;
        self.jobs.push(Job { id, kind, priority, queued_ms: now_ms, not_before_ms, attempts: 0, last_error: None });
        id
    }

    /// Takes the next job to run (none while paused, running another, nothing is due or the queue is owned
    /// elsewhere), and marks it running.
    pub fn start_next(&mut self, now_ms: i64) -> Option<Job> {
        // A queue owned by another process runs nothing here.
        self.owner.as_ref()?;
        if self.paused || self.running.is_some() {
            return None;
        }
        let job = self
            .jobs
            .iter()
            .filter(|j| j.not_before_ms <= now_ms)
            .max_by_key(|j| (j.priority, std::cmp::Reverse(j.id)))?
            .clone();
        self.running = Some(job.id);
        Some(job)
    }

    /// When the next waiting job is due, if it is later than now.
    pub fn next_due_ms(&self, now_ms: i64) -> Option<i64> {
        self.jobs.iter().map(|j| j.not_before_ms).filter(|&t| t > now_ms).min()
    }

    /// The running job is done.
    pub fn finish(&mut self, id: u64) {
        self.jobs.retain(|j| j.id != id);
        if self.running == Some(id) {
            self.running = None;
        }
    }

    /// The running job failed as a whole: it waits out its delay and runs again, or after [`MAX_ATTEMPTS`] is
    /// set aside. Returns when it runs again (`None`: set aside).
    pub fn fail(&mut self, id: u64, error: &str, now_ms: i64) -> Option<i64> {
        if self.running == Some(id) {
            self.running = None;
        }
        let at = self.jobs.iter().position(|j| j.id == id)?;
        let job = &mut self.jobs[at];
        job.attempts += 1;
        job.last_error = Some(error.to_string());
        if job.attempts >= MAX_ATTEMPTS {
            let job = self.jobs.remove(at);
            self.given_up.push(job);
            return None;
        }
        job.not_before_ms = now_ms + backoff_ms(job.attempts);
        Some(job.not_before_ms)
    }

    /// The running job was stopped by the user: it is dropped.
    pub fn cancel_running(&mut self) {
        if let Some(id) = self.running.take() {
            self.jobs.retain(|j| j.id != id);
        }
    }

    /// Drops every waiting job (the running one is left to [`JobQueue::cancel_running`]); returns their ids.
    pub fn clear_waiting(&mut self) -> Vec<u64> {
        let running = self.running;
        let dropped = self.jobs.iter().filter(|j| Some(j.id) != running).map(|j| j.id).collect();
        self.jobs.retain(|j| Some(j.id) == running);
        dropped
    }

    /// A document failed to index: it is tried again later, unless it already was [`DOCUMENT_RETRIES`] times.
    /// Returns when (`None`: no more automatic retries).
    pub fn document_failed(&mut self, path: &str, now_ms: i64) -> Option<i64> {
        let tries = self.retries.entry(path.to_string()).or_insert(0);
        if *tries >= DOCUMENT_RETRIES {
            return None;
        }
        *tries += 1;
        let at = now_ms + backoff_ms(*tries);
        self.push_at(JobKind::Retry { paths: vec![path.to_string()] }, Priority::Background, now_ms, at);
        Some(at)
    }

    /// A document indexed (or was found unchanged, moved or removed): its retry count is forgotten.
    pub fn document_done(&mut self, path: &str) {
        self.retries.remove(path);
    }

    /// The user retries documents now: their automatic retries start over.
    pub fn retry_now(&mut self, paths: Vec<String>, now_ms: i64) -> u64 {
        for path in &paths {
            self.retries.remove(path);
        }
        self.push(JobKind::Retry { paths }, Priority::User, now_ms)
    }

    /// Runs the jobs that were set aside again, from their first try.
    pub fn retry_given_up(&mut self, now_ms: i64) -> Vec<u64> {
        let jobs = std::mem::take(&mut self.given_up);
        jobs.into_iter().map(|job| self.push(job.kind, job.priority, now_ms)).collect()
    }

    /// Forgets the jobs that were set aside.
    pub fn dismiss_given_up(&mut self) {
        self.given_up.clear();
    }
}

/// The path of the queue file of a data folder.
pub fn queue_file(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(path: &str) -> JobKind {
        JobKind::Import { paths: vec![path.into()], force: false, collection: None }
    }

    fn queue() -> (tempfile::TempDir, JobQueue) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (queue, warning) = JobQueue::open(dir.path());
        assert_eq!(warning, None);
        (dir, queue)
    }

    #[test]
    fn user_jobs_run_before_background_ones_then_in_queued_order() {
        let (_dir, mut q) = queue();
        let sync = q.push(JobKind::SyncFolder { folder: "/w".into(), reason: "start".into() }, Priority::Background, 0);
        let first = q.push(import("/a"), Priority::User, 1);
        let second = q.push(import("/b"), Priority::User, 2);
        let mut order = Vec::new();
        while let Some(job) = q.start_next(10) {
            order.push(job.id);
            q.finish(job.id);
        }
        assert_eq!(order, vec![first, second, sync]);
    }

    #[test]
    fn one_job_runs_at_a_time_and_none_while_paused() {
        let (_dir, mut q) = queue();
        q.push(import("/a"), Priority::User, 0);
        q.push(import("/b"), Priority::User, 0);
        q.set_paused(true);
        assert_eq!(q.start_next(0), None);
        q.set_paused(false);
        let job = q.start_next(0).expect("a job");
        assert_eq!(q.start_next(0), None, "a second job started while one runs");
        q.finish(job.id);
        assert!(q.start_next(0).is_some());
    }

    #[test]
    fn the_queue_survives_a_restart_with_the_running_job_still_in_it() {
        let (dir, mut q) = queue();
        let a = q.push(import("/a"), Priority::User, 0);
        let b = q.push(JobKind::SyncPaths { paths: vec!["/w/x".into()] }, Priority::Background, 0);
        q.set_paused(true);
        q.save().expect("saved");
        q.set_paused(false);
        let running = q.start_next(0).expect("a job");
        assert_eq!(running.id, a);
        q.save().expect("saved");
        // Killed here (the OS drops the process's lock): the next start finds both jobs, the interrupted one
        // first, and the pause as saved.
        drop(q);
        let (mut again, warning) = JobQueue::open(dir.path());
        assert_eq!(warning, None);
        assert!(!again.paused(), "the last save was not paused");
        assert_eq!(again.jobs().iter().map(|j| j.id).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(again.start_next(0).map(|j| j.id), Some(a));
        // New ids never reuse old ones.
        assert!(again.push(import("/c"), Priority::User, 0) > b);
    }

    #[test]
    fn changes_join_a_waiting_sync_but_not_a_running_one() {
        let (_dir, mut q) = queue();
        let first = q.push(JobKind::SyncPaths { paths: vec!["/w/a".into()] }, Priority::Background, 0);
        let joined = q.push(JobKind::SyncPaths { paths: vec!["/w/b".into(), "/w/a".into()] }, Priority::Background, 1);
        assert_eq!(first, joined);
        assert_eq!(q.jobs()[0].kind, JobKind::SyncPaths { paths: vec!["/w/a".into(), "/w/b".into()] });
        let running = q.start_next(5).expect("present");
        let later = q.push(JobKind::SyncPaths { paths: vec!["/w/c".into()] }, Priority::Background, 6);
        assert_ne!(running.id, later, "a change joined the sync already running: it would be missed");
        // A folder waiting to be compared is not queued twice.
        let f1 = q.push(JobKind::SyncFolder { folder: "/w".into(), reason: "start".into() }, Priority::Background, 7);
        let f2 = q.push(JobKind::SyncFolder { folder: "/w".into(), reason: "rescan".into() }, Priority::Background, 8);
        assert_eq!(f1, f2);
        // Imports are never merged: each has its own progress.
        assert_ne!(q.push(import("/a"), Priority::User, 9), q.push(import("/a"), Priority::User, 9));
    }

    #[test]
    fn a_failing_job_backs_off_then_is_set_aside_with_its_reason() {
        let (_dir, mut q) = queue();
        let id = q.push(import("/a"), Priority::User, 0);
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 1..MAX_ATTEMPTS {
            let job = q.start_next(now).expect("due");
            let at = q.fail(job.id, "the model worker could not start", now).expect("retried");
            assert_eq!(q.start_next(at - 1), None, "run before its delay");
            waits.push(at - now);
            now = at;
        }
        assert_eq!(waits, vec![30_000, 120_000, 480_000, 1_920_000]);
        let job = q.start_next(now).expect("present");
        assert_eq!(q.fail(job.id, "still failing", now), None);
        assert!(q.jobs().is_empty());
        assert_eq!(q.given_up().len(), 1);
        assert_eq!(q.given_up()[0].last_error.as_deref(), Some("still failing"));
        let again = q.retry_given_up(now);
        assert_eq!(again.len(), 1);
        assert_ne!(again[0], id);
        assert_eq!(q.jobs()[0].attempts, 0);
        assert!(q.given_up().is_empty());
    }

    #[test]
    fn a_failed_document_is_retried_a_few_times_with_growing_delays() {
        let (_dir, mut q) = queue();
        assert_eq!(q.document_failed("/a.pdf", 0), Some(30_000));
        assert_eq!(q.start_next(29_999), None);
        let job = q.start_next(30_000).expect("the retry is due");
        assert_eq!(job.kind, JobKind::Retry { paths: vec!["/a.pdf".into()] });
        assert_eq!(job.priority, Priority::Background);
        q.finish(job.id);
        assert_eq!(q.document_failed("/a.pdf", 30_000), Some(30_000 + 120_000));
        assert_eq!(q.document_failed("/a.pdf", 40_000), Some(40_000 + 480_000));
        assert_eq!(q.document_failed("/a.pdf", 50_000), None, "retried for ever");
        // A retry by the user starts over; success forgets the count.
        q.retry_now(vec!["/a.pdf".into()], 60_000);
        assert_eq!(q.document_failed("/a.pdf", 70_000), Some(100_000));
        q.document_done("/a.pdf");
        assert_eq!(q.document_failed("/a.pdf", 80_000), Some(110_000));
    }

    #[test]
    fn clearing_keeps_the_running_job_for_its_own_cancel() {
        let (_dir, mut q) = queue();
        let a = q.push(import("/a"), Priority::User, 0);
        let b = q.push(import("/b"), Priority::User, 0);
        q.start_next(0);
        assert_eq!(q.clear_waiting(), vec![b]);
        assert_eq!(q.jobs().iter().map(|j| j.id).collect::<Vec<_>>(), vec![a]);
        q.cancel_running();
        assert!(q.jobs().is_empty());
        assert_eq!(q.running(), None);
    }

    #[test]
    fn one_process_owns_the_queue_and_the_next_takes_over_when_it_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut first, warning) = JobQueue::open(dir.path());
        assert_eq!(warning, None);
        assert!(first.owned());
        let queued = first.push(import("/a"), Priority::User, 1);
        first.save().expect("save");

        // Opened again (the app beside `quire watch run`): read, not owned; it changes and runs nothing.
        let (mut second, warning) = JobQueue::open(dir.path());
        let warning = warning.expect("a warning");
        assert!(warning.contains("another Quire process") && warning.contains(&std::process::id().to_string()));
        assert!(!second.owned());
        assert_eq!(second.jobs().len(), 1);
        assert!(second.start_next(2).is_none(), "a queue owned elsewhere runs nothing");
        second.push(import("/b"), Priority::User, 2);
        let refused = second.save().expect_err("a queue owned elsewhere is not written");
        assert!(refused.to_string().contains("busy"), "{refused}");
        let refused = second.take_ownership().expect_err("still owned by the first");
        assert!(refused.to_string().contains("another Quire process"), "{refused}");

        // The owner goes on and lets go; the other takes over with what the owner wrote.
        first.finish(queued);
        first.push(import("/c"), Priority::User, 3);
        first.save().expect("save");
        drop(first);
        second.take_ownership().expect("the queue is free");
        assert!(second.owned());
        let paths: Vec<Vec<String>> = second.jobs().iter().map(|j| j.kind.paths()).collect();
        assert_eq!(paths, vec![vec!["/c".to_string()]]);
        assert!(second.start_next(4).is_some());
        second.save().expect("the owner writes");
    }

    #[test]
    fn a_damaged_queue_is_set_aside_and_the_queue_starts_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(queue_file(dir.path()), b"{ not json").expect("present");
        let (q, warning) = JobQueue::open(dir.path());
        assert!(q.jobs().is_empty());
        assert!(warning.expect("a warning").contains("damaged"));
        assert!(dir.path().join("jobs.json.damaged").exists());
        q.save().expect("saved");
        assert!(queue_file(dir.path()).exists());
    }
}
