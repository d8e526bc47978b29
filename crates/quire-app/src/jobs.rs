//! Runs the durable indexing queue (`quire_core::jobs`) against a library, for the desktop app and
//! `quire watch run` alike: [`Queue`] is the queue shared by whoever adds jobs, pauses or cancels, and
//! [`Queue::next`] + [`run_one`] run its jobs one at a time. Once the queue has been idle for a while after
//! writes, the store's upkeep (compaction, old versions pruned) runs, so the store does not grow without bound.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use quire_core::collections::Collections;
use quire_core::gate::Gate;
use quire_core::jobs::{Job, JobKind, JobQueue, Priority};
use quire_core::library::{DocOutcome, IngestEvent, IngestOptions, IngestReport, Library};
use quire_core::watched::WatchedFolders;
use quire_core::{Error, Result, now_ms};
use serde::Serialize;

use crate::watch::{Filters, folder_filter, sync_folder_cancellable};

/// How often a queue owned by another process is looked at again.
const OWNER_POLL: Duration = Duration::from_secs(5);

/// The queue, shared (see the module docs).
pub struct Queue {
    jobs: Mutex<JobQueue>,
    /// Wakes [`Queue::next`] when a job is added or the queue resumes.
    wake: tokio::sync::Notify,
    /// The cancel flag of the running job.
    cancel: Mutex<Option<Arc<AtomicBool>>>,
    /// The gate of the library the running job writes to (a pause reaches a job already running).
    gate: Mutex<Option<Arc<Gate>>>,
    /// Something was written since the last upkeep.
    dirty: AtomicBool,
    /// Counts changes of the queue, for whoever shows it ([`Queue::changes`]).
    version: tokio::sync::watch::Sender<u64>,
    /// [`Queue::close`] was called: this process owns the queue no more and does not take it again.
    closed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the queue holds, for showing it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueView {
    pub paused: bool,
    pub running: Option<u64>,
    /// Waiting and running jobs, in the order they run.
    pub jobs: Vec<Job>,
    /// Jobs that failed too often, with their last error.
    pub given_up: Vec<Job>,
    /// Another Quire process owns this data folder's queue (`quire watch run`, or the app started twice): this
    /// one runs nothing until it ends.
    pub held_elsewhere: bool,
}

/// What [`Queue::next`] found.
#[derive(Debug)]
pub enum Next {
    Job(Job),
    /// Nothing was due for the idle time after writes: time for the store's upkeep.
    Idle,
}

/// What running the queue did.
#[derive(Debug)]
pub enum QueueEvent<'a> {
    Started {
        job: &'a Job,
    },
    Progress {
        job: &'a Job,
        event: IngestEvent,
    },
    Finished {
        job: &'a Job,
        report: &'a IngestReport,
        cancelled: bool,
        seconds: f64,
    },
    /// The job failed as a whole; it runs again at `retry_at_ms`, or was set aside (`None`).
    Failed {
        job: &'a Job,
        error: &'a Error,
        retry_at_ms: Option<i64>,
    },
    /// The store's upkeep ran (`Err`: it failed; it is tried again after the next writes).
    Maintained(std::result::Result<(), String>),
}

impl Queue {
    /// The queue of a data folder; a warning if it had to start empty (see [`JobQueue::open`]).
    pub fn open(data_dir: &Path) -> (Queue, Option<String>) {
        let (jobs, warning) = JobQueue::open(data_dir);
        let queue = Queue {
            jobs: Mutex::new(jobs),
            wake: tokio::sync::Notify::new(),
            cancel: Mutex::new(None),
            gate: Mutex::new(None),
            dirty: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            version: tokio::sync::watch::Sender::new(0),
        };
        (queue, warning)
    }

    /// Changes the queue, saves it and wakes the runner.
    fn change<T>(&self, f: impl FnOnce(&mut JobQueue) -> T) -> Result<T> {
        let mut jobs = lock(&self.jobs);
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::InvalidInput("Quire is closing: nothing more can be queued.".into()));
        }
        jobs.take_ownership()?;
        let out = f(&mut jobs);
        jobs.save()?;
        drop(jobs);
        self.changed();
        self.wake.notify_one();
        Ok(out)
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Notified whenever the queue changes (a job queued, started or ended, a pause), whoever changed it.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// The process is ending: lets go of the queue (saved at every change, so nothing is lost), so that the next
    /// start, which may begin before this process is gone, owns it at once. The running job, if any, stays in
    /// the file and runs again there.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        lock(&self.jobs).release();
        self.wake.notify_one();
    }

    /// Queues a job (saved before this returns); its id.
    pub fn push(&self, kind: JobKind, priority: Priority) -> Result<u64> {
        self.change(|q| q.push(kind, priority, now_ms()))
    }

    pub fn view(&self) -> QueueView {
        let jobs = lock(&self.jobs);
        QueueView {
            paused: jobs.paused(),
            running: jobs.running(),
            jobs: jobs.jobs().into_iter().cloned().collect(),
            given_up: jobs.given_up().to_vec(),
            held_elsewhere: !jobs.owned(),
        }
    }

    pub fn paused(&self) -> bool {
        lock(&self.jobs).paused()
    }

    /// Pauses indexing (the running job stops before its next document) or resumes it. Kept across restarts.
    pub fn set_paused(&self, paused: bool) -> Result<()> {
        self.change(|q| q.set_paused(paused))?;
        if let Some(gate) = lock(&self.gate).as_ref() {
            gate.set_paused(paused);
        }
        Ok(())
    }

    /// Drops the waiting jobs and stops the running one after its current document; the ids dropped.
    pub fn cancel_all(&self) -> Result<Vec<u64>> {
        let dropped = self.change(JobQueue::clear_waiting)?;
        if let Some(flag) = lock(&self.cancel).as_ref() {
            flag.store(true, Ordering::Relaxed);
        }
        Ok(dropped)
    }

    /// Tries failed documents again now, before background work.
    pub fn retry_now(&self, paths: Vec<String>) -> Result<u64> {
        self.change(|q| q.retry_now(paths, now_ms()))
    }

    /// Runs the jobs that were set aside again.
    pub fn retry_given_up(&self) -> Result<Vec<u64>> {
        self.change(|q| q.retry_given_up(now_ms()))
    }

    pub fn dismiss_given_up(&self) -> Result<()> {
        self.change(JobQueue::dismiss_given_up)
    }

    /// Waits for the next due job and marks it running; [`Next::Idle`] once nothing came for `idle` after
    /// something was written.
    pub async fn next(&self, idle: Duration) -> Next {
        loop {
            // Registered before looking, so a push between the look and the wait still wakes us.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = now_ms();
            let due_in = {
                let mut jobs = lock(&self.jobs);
                if !jobs.owned() && !self.closed.load(Ordering::Relaxed) && jobs.take_ownership().is_ok() {
                    tracing::info!("the indexing queue is this process's now");
                    self.version.send_modify(|v| *v += 1);
                }
                if let Some(job) = jobs.start_next(now) {
                    drop(jobs);
                    self.changed();
                    return Next::Job(job);
                }
                if !jobs.owned() {
                    // Another process owns the queue: look again now and then.
                    Some(OWNER_POLL.as_millis() as u64)
                } else if jobs.paused() {
                    None
                } else {
                    jobs.next_due_ms(now).map(|t| (t - now).max(0) as u64)
                }
            };
            let wait = match (due_in.map(Duration::from_millis), self.dirty.load(Ordering::Relaxed)) {
                (Some(due), true) => due.min(idle),
                (Some(due), false) => due,
                (None, true) => idle,
                (None, false) => Duration::MAX,
            };
            let timed_out = if wait == Duration::MAX {
                woken.await;
                false
            } else {
                tokio::time::timeout(wait, woken).await.is_err()
            };
            // No upkeep while paused: it waits for the resume and the idle time after it.
            if timed_out
                && self.dirty.load(Ordering::Relaxed)
                && !self.paused()
                && due_in.is_none_or(|d| d >= idle.as_millis() as u64)
            {
                return Next::Idle;
            }
        }
    }

    /// Runs the store's upkeep after writes (what [`Next::Idle`] asks for).
    pub async fn maintain(&self, library: &Library, events: &(dyn Fn(QueueEvent) + Send + Sync)) {
        self.dirty.store(false, Ordering::Relaxed);
        let result = library.store().maintain().await.map_err(|e| e.to_string());
        if let Err(error) = &result {
            tracing::warn!(%error, "library upkeep failed");
        }
        events(QueueEvent::Maintained(result));
    }

    /// The running job could not even start (the library could not be opened): it waits and runs again.
    /// Returns when (`None`: set aside).
    pub fn fail_to_start(&self, job: &Job, error: &str) -> Option<i64> {
        let retry_at_ms = lock(&self.jobs).fail(job.id, error, now_ms());
        self.save_logged();
        retry_at_ms
    }

    fn save_logged(&self) {
        if let Err(error) = lock(&self.jobs).save() {
            tracing::warn!(%error, "could not save the indexing queue");
        }
        self.changed();
    }
}

/// Runs one job (from [`Queue::next`]) on `library`, and records its end in the queue: done, cancelled, or
/// failed (to run again later); documents that failed in it are retried later on their own.
pub async fn run_one(
    queue: &Queue,
    library: &Library,
    data_dir: &Path,
    job: Job,
    events: &(dyn Fn(QueueEvent) + Send + Sync),
) {
    let cancel = Arc::new(AtomicBool::new(false));
    *lock(&queue.cancel) = Some(Arc::clone(&cancel));
    library.gate().set_paused(queue.paused());
    *lock(&queue.gate) = Some(Arc::clone(library.gate()));
    events(QueueEvent::Started { job: &job });
    let started = Instant::now();
    let progress = |event: IngestEvent| events(QueueEvent::Progress { job: &job, event });
    let result = run_job(library, data_dir, &job.kind, &progress, Some(&cancel)).await;
    *lock(&queue.cancel) = None;
    *lock(&queue.gate) = None;
    let cancelled = cancel.load(Ordering::Relaxed);
    let now = now_ms();
    match result {
        Ok(report) => {
            {
                let mut jobs = lock(&queue.jobs);
                if cancelled {
                    jobs.cancel_running();
                } else {
                    jobs.finish(job.id);
                }
                for (path, outcome) in &report.documents {
                    match outcome {
                        DocOutcome::Failed { .. } => {
                            jobs.document_failed(path, now);
                        }
                        _ => jobs.document_done(path),
                    }
                }
            }
            queue.save_logged();
            if report.indexed + report.moved + report.removed > 0 {
                queue.dirty.store(true, Ordering::Relaxed);
            }
            let seconds = started.elapsed().as_secs_f64();
            events(QueueEvent::Finished { job: &job, report: &report, cancelled, seconds });
        }
        Err(error) if cancelled => {
            tracing::debug!(job = job.id, %error, "a cancelled job ended with an error");
            lock(&queue.jobs).cancel_running();
            queue.save_logged();
            let report = IngestReport::default();
            let seconds = started.elapsed().as_secs_f64();
            events(QueueEvent::Finished { job: &job, report: &report, cancelled: true, seconds });
        }
        Err(error) => {
            tracing::warn!(job = job.id, %error, "an indexing job failed");
            let retry_at_ms = lock(&queue.jobs).fail(job.id, &error.to_string(), now);
            queue.save_logged();
            events(QueueEvent::Failed { job: &job, error: &error, retry_at_ms });
        }
    }
}

/// Runs the queue on one library until `stop` completes (what `quire watch run` does; the desktop app opens
/// its library per job instead).
pub async fn drive(
    queue: &Queue,
    library: &Library,
    data_dir: &Path,
    idle: Duration,
    events: &(dyn Fn(QueueEvent) + Send + Sync),
) {
    loop {
        match queue.next(idle).await {
            Next::Job(job) => run_one(queue, library, data_dir, job, events).await,
            Next::Idle => queue.maintain(library, events).await,
        }
    }
}

/// Does what a job asks on `library`.
pub async fn run_job(
    library: &Library,
    data_dir: &Path,
    kind: &JobKind,
    progress: &(dyn Fn(IngestEvent) + Send + Sync),
    cancel: Option<&AtomicBool>,
) -> Result<IngestReport> {
    match kind {
        JobKind::Import { paths, force, collection } => {
            let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
            let options = IngestOptions { prune_missing: false, force: *force };
            let report = library.ingest(&paths, &options, progress, cancel).await?;
            if let Some(name) = collection {
                let mut collections = Collections::load(data_dir)?;
                collections.add(name, &paths)?;
                collections.save()?;
            }
            Ok(report)
        }
        JobKind::Retry { paths } => {
            // A file gone since it failed has nothing left to retry.
            let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).filter(|p| p.exists()).collect();
            if paths.is_empty() {
                return Ok(IngestReport::default());
            }
            library.ingest(&paths, &IngestOptions::default(), progress, cancel).await
        }
        JobKind::SyncFolder { folder, .. } => {
            let watched = WatchedFolders::load(data_dir)?;
            match watched.folders.iter().find(|f| f.path == *folder) {
                // Not there now (a drive not mounted): its documents are kept, the follow reports the folder as
                // unavailable and compares it again once it is back.
                Some(folder) if !Path::new(&folder.path).is_dir() => {
                    tracing::info!(folder = %folder.path, "watched folder not there; its sync waits for it");
                    Ok(IngestReport::default())
                }
                Some(folder) => sync_folder_cancellable(library, data_dir, folder, progress, cancel).await,
                // No longer watched: nothing to do.
                None => Ok(IngestReport::default()),
            }
        }
        JobKind::SyncPaths { paths } => {
            let watched = WatchedFolders::load(data_dir)?;
            let filters = Filters(watched.folders.iter().map(folder_filter).collect::<Result<Vec<_>>>()?);
            // Only paths under a folder still watched: a folder no longer watched keeps its documents.
            let paths: Vec<PathBuf> =
                paths.iter().map(PathBuf::from).filter(|p| filters.0.iter().any(|f| p.starts_with(f.root()))).collect();
            if paths.is_empty() {
                return Ok(IngestReport::default());
            }
            library.sync(&paths, &filters, progress, cancel).await
        }
    }
}
