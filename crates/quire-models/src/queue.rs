//! A queue of downloads run one after another, for an app to drive: push, pause, resume and cancel from any
//! thread; [`DownloadQueue::run`] on a thread of its own works through the queued jobs and reports every change.
//!
//! ```no_run
//! use std::sync::Arc;
//! use quire_models::{DownloadQueue, DownloadRequest, Downloader, catalog_entry, DEFAULT_ENDPOINT};
//! let queue = Arc::new(DownloadQueue::new());
//! let entry = catalog_entry("qwen3-0.6b-q4_k_m")?;
//! let id = queue.push(&entry.id, DownloadRequest::from_catalog(entry, DEFAULT_ENDPOINT)?);
//! let downloader = Downloader::new(quire_models::models_dir())?;
//! let runner = { let queue = queue.clone(); std::thread::spawn(move || queue.run(&downloader, &mut |job| println!("{job:?}"))) };
//! queue.pause(id);
//! # Ok::<(), quire_models::ModelsError>(())
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::{DownloadRequest, Downloader, Installed, Outcome, Progress};

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    /// Stopped by [`DownloadQueue::pause`]; the partial file is kept.
    Paused,
    Done {
        installed: Installed,
    },
    /// The reason, for people. [`DownloadQueue::resume`] queues it again (resuming when it can).
    Failed {
        error: String,
        /// [`crate::ModelsError::kind`] of the reason.
        kind: &'static str,
    },
    /// Stopped and its partial file deleted.
    Cancelled,
}

/// A job as the app shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    pub id: u64,
    /// What to call it (a catalog id, a repository file).
    pub label: String,
    pub file_name: String,
    #[serde(flatten)]
    pub state: JobState,
    pub progress: Option<Progress>,
}

struct Job {
    view: JobView,
    request: DownloadRequest,
    cancel: Arc<AtomicBool>,
    /// Cancelled while running: delete the partial file once it stops.
    discard: bool,
}

#[derive(Default)]
struct State {
    next_id: u64,
    jobs: Vec<Job>,
    running: bool,
}

/// Downloads, one at a time, in the order they were queued.
#[derive(Default)]
pub struct DownloadQueue {
    state: Mutex<State>,
}

impl DownloadQueue {
    pub fn new() -> DownloadQueue {
        DownloadQueue::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // a panic in a progress callback must not make the queue unusable
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a download; the same file already queued, running or paused is not queued twice (its id is
    /// returned).
    pub fn push(&self, label: &str, request: DownloadRequest) -> u64 {
        let mut state = self.lock();
        if let Some(job) = state.jobs.iter().find(|j| {
            j.request.file_name == request.file_name
                && matches!(j.view.state, JobState::Queued | JobState::Running | JobState::Paused)
        }) {
            return job.view.id;
        }
        state.next_id += 1;
        let id = state.next_id;
        state.jobs.push(Job {
            view: JobView {
                id,
                label: label.to_string(),
                file_name: request.file_name.clone(),
                state: JobState::Queued,
                progress: None,
            },
            request,
            cancel: Arc::new(AtomicBool::new(false)),
            discard: false,
        });
        id
    }

    /// Every job, in queue order.
    pub fn jobs(&self) -> Vec<JobView> {
        self.lock().jobs.iter().map(|j| j.view.clone()).collect()
    }

    /// Pauses a queued or running job (a running one stops within a moment, its partial file kept).
    pub fn pause(&self, id: u64) -> bool {
        let mut state = self.lock();
        let Some(job) = state.jobs.iter_mut().find(|j| j.view.id == id) else { return false };
        match job.view.state {
            JobState::Queued => {
                job.view.state = JobState::Paused;
                true
            }
            JobState::Running => {
                job.cancel.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Queues a paused or failed job again; it resumes from its partial file.
    pub fn resume(&self, id: u64) -> bool {
        let mut state = self.lock();
        let Some(job) = state.jobs.iter_mut().find(|j| j.view.id == id) else { return false };
        if !matches!(job.view.state, JobState::Paused | JobState::Failed { .. }) {
            return false;
        }
        job.view.state = JobState::Queued;
        job.cancel.store(false, Ordering::Relaxed);
        true
    }

    /// Cancels a job and deletes its partial file (a running one once it has stopped).
    pub fn cancel(&self, id: u64, downloader: &Downloader) -> bool {
        let mut state = self.lock();
        let Some(job) = state.jobs.iter_mut().find(|j| j.view.id == id) else { return false };
        match job.view.state {
            JobState::Running => {
                job.discard = true;
                job.cancel.store(true, Ordering::Relaxed);
                true
            }
            JobState::Queued | JobState::Paused | JobState::Failed { .. } => {
                job.view.state = JobState::Cancelled;
                job.view.progress = None;
                let _ = downloader.discard(&job.request.file_name);
                true
            }
            _ => false,
        }
    }

    /// Forgets the jobs that are done or cancelled.
    pub fn clear_finished(&self) {
        self.lock().jobs.retain(|j| !matches!(j.view.state, JobState::Done { .. } | JobState::Cancelled));
    }

    /// Runs the queued jobs one after another until none is left, calling `on_update` at every change and
    /// progress report. Returns at once when another `run` is already working through the queue.
    pub fn run(&self, downloader: &Downloader, on_update: &mut dyn FnMut(&JobView)) {
        {
            let mut state = self.lock();
            if state.running {
                return;
            }
            state.running = true;
        }
        loop {
            let (id, request, cancel, view) = {
                let mut state = self.lock();
                let Some(job) = state.jobs.iter_mut().find(|j| j.view.state == JobState::Queued) else {
                    state.running = false;
                    return;
                };
                job.view.state = JobState::Running;
                job.cancel.store(false, Ordering::Relaxed);
                (job.view.id, job.request.clone(), job.cancel.clone(), job.view.clone())
            };
            on_update(&view);
            let result = downloader.download(&request, &cancel, &mut |progress| {
                let view = self.update(id, |job| job.view.progress = Some(progress.clone()));
                if let Some(view) = view {
                    on_update(&view);
                }
            });
            let view = self.update(id, |job| {
                job.view.state = match result {
                    Ok(Outcome::Installed(installed)) => JobState::Done { installed },
                    Ok(Outcome::Paused(_)) if job.discard => {
                        let _ = downloader.discard(&job.request.file_name);
                        job.view.progress = None;
                        JobState::Cancelled
                    }
                    Ok(Outcome::Paused(_)) => JobState::Paused,
                    Err(e) => JobState::Failed { error: e.to_string(), kind: e.kind() },
                };
                job.discard = false;
            });
            if let Some(view) = view {
                on_update(&view);
            }
        }
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Job)) -> Option<JobView> {
        let mut state = self.lock();
        let job = state.jobs.iter_mut().find(|j| j.view.id == id)?;
        f(job);
        Some(job.view.clone())
    }
}
