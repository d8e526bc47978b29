//! Model downloads, the catalog, the Hugging Face search and imports for the models screen.
//!
//! The work is `quire_models`'s: a [`DownloadQueue`] of jobs run one after another by a [`Downloader`]
//! (resumable, size + sha256 + GGUF header checked before the file is renamed into the models folder). The shell
//! keeps one queue for the app's lifetime; whenever a job is queued (or resumed) a runner on a blocking thread
//! works through the queue (`DownloadQueue::run` returns at once when a runner is already at work, so there is
//! never more than one). Every change of a job is broadcast to all windows as the `model_download` event (a
//! [`JobView`], mirrored by `ModelDownload` in `ui/src/lib/ipc/types.ts`); when a model is installed, imported
//! or removed from the list, `models_changed` tells the screens to list the models again.
//!
//! The network clients block: every command that uses them runs on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use quire_models::{
    CatalogEntry, DownloadQueue, DownloadRequest, Downloader, HfClient, HfFile, HfModel, ImportMode, Imported,
    JobState, JobView, Machine, PartialDownload, Placement, Resources, catalog, catalog_entry, human, import_gguf,
    unregister_external,
};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{Error, Result};
use crate::state::{AppState, lock};

/// The event every change of a download goes out on (a [`JobView`]).
pub const DOWNLOAD_EVENT: &str = "model_download";
/// The event that says the installed models changed (a download finished, an import, a removal).
pub const MODELS_CHANGED_EVENT: &str = "models_changed";
/// How many repositories a search lists.
const SEARCH_LIMIT: usize = 12;

/// The downloads of this app: the queue, the models folder it fills and where Hugging Face is.
pub struct Downloads {
    pub(crate) queue: Arc<DownloadQueue>,
    models_dir: PathBuf,
    endpoint: String,
    /// Built on first use (it holds an HTTP client).
    downloader: Mutex<Option<Downloader>>,
}

impl Downloads {
    pub fn new(models_dir: PathBuf, endpoint: String) -> Downloads {
        Downloads { queue: Arc::new(DownloadQueue::new()), models_dir, endpoint, downloader: Mutex::new(None) }
    }

    /// The folder models are downloaded and imported into (the one `list_models` lists).
    pub fn models_dir(&self) -> &Path {
        &self.models_dir
    }

    /// The Hugging Face endpoint (`HF_ENDPOINT`, else huggingface.co).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    #[cfg(test)]
    pub(crate) fn set_downloader(&self, downloader: Downloader) {
        *lock(&self.downloader) = Some(downloader);
    }

    fn downloader(&self) -> Result<Downloader> {
        let mut slot = lock(&self.downloader);
        if let Some(downloader) = slot.as_ref() {
            return Ok(downloader.clone());
        }
        let downloader = Downloader::new(&self.models_dir)?;
        *slot = Some(downloader.clone());
        Ok(downloader)
    }

    fn job(&self, id: u64) -> Option<JobView> {
        self.queue.jobs().into_iter().find(|j| j.id == id)
    }
}

fn emit_job<R: Runtime>(app: &AppHandle<R>, job: &JobView) {
    if let Err(error) = app.emit(DOWNLOAD_EVENT, job) {
        tracing::warn!(%error, "could not report a model download to the windows");
    }
    if matches!(job.state, JobState::Done { .. }) {
        models_changed(app);
    }
}

fn models_changed<R: Runtime>(app: &AppHandle<R>) {
    if let Err(error) = app.emit(MODELS_CHANGED_EVENT, ()) {
        tracing::warn!(%error, "could not tell the windows that the models changed");
    }
}

/// Works through the queued downloads on a blocking thread, unless a runner is already at it (then that one
/// takes the new job: it looks for queued jobs until none is left).
fn kick<R: Runtime>(app: &AppHandle<R>) -> Result<()> {
    let state = app.state::<AppState>();
    let queue = Arc::clone(&state.downloads.queue);
    let downloader = state.downloads.downloader()?;
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        queue.run(&downloader, &mut |job| {
            if let JobState::Failed { error, .. } = &job.state {
                tracing::warn!(file = %job.file_name, %error, "model download failed");
            }
            emit_job(&app, job);
        })
    });
    Ok(())
}

/// Queues `request` and starts the runner; returns the job's id.
fn enqueue<R: Runtime>(app: &AppHandle<R>, label: &str, request: DownloadRequest) -> Result<u64> {
    let id = app.state::<AppState>().downloads.queue.push(label, request);
    if let Some(job) = app.state::<AppState>().downloads.job(id) {
        emit_job(app, &job);
    }
    kick(app)?;
    Ok(id)
}

/// Runs blocking work (the network clients, copying a model) off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("The model task stopped unexpectedly ({e}); please try again.")))?
}

// The catalog ------------------------------------------------------------------------------------------------

/// Whether a model fits this machine, as the catalog shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogFit {
    pub placement: Placement,
    /// Worked out from the file size alone (the model is not downloaded yet, so its layers and context are not
    /// known); otherwise from its GGUF header with the runtime settings, as the installed list says.
    pub estimated: bool,
    pub summary: String,
    pub advice: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogModel {
    #[serde(flatten)]
    pub entry: CatalogEntry,
    pub installed: bool,
    /// Where it is (or would be) in the models folder.
    pub path: String,
    /// Whether it can be downloaded (a model made on this machine by `scripts/models.sh` cannot).
    pub downloadable: bool,
    pub fit: Option<CatalogFit>,
    /// Why there is no fit, when there is none.
    pub fit_note: Option<String>,
    /// The size estimated from the parameters and quantization, while the real one is not known.
    pub approx_size: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogView {
    pub dir: String,
    pub models: Vec<CatalogModel>,
}

/// The weights of a model that is not downloaded yet, against this machine: file size plus a fifth for the
/// context and compute buffers (a rough allowance: the real KV cache depends on the layers and context, which
/// only the GGUF header says).
fn estimate_from_size(size: u64, machine: &Machine) -> CatalogFit {
    estimate(size, machine, "the file size")
}

/// Like [`estimate_from_size`], `basis` saying where the size comes from.
fn estimate(size: u64, machine: &Machine, basis: &str) -> CatalogFit {
    let need = size.saturating_add(size / 5);
    let r = Resources::of(machine, quire_app::fit::GPU_BACKEND);
    let ram_ok = r.ram.is_none_or(|ram| need <= ram);
    let (placement, summary) = match r.vram {
        Some(vram) if need <= vram && (!r.unified || ram_ok) => {
            (Placement::Gpu, format!("about {} should fit on the GPU", human(need)))
        }
        Some(vram) if vram > 0 && ram_ok => {
            (Placement::Partial, format!("about {}: part on the GPU, the rest in RAM", human(need)))
        }
        _ if ram_ok => (Placement::Cpu, format!("about {} should fit in RAM (CPU only)", human(need))),
        _ => (Placement::DoesNotFit, format!("about {} needed: more than this machine's free memory", human(need))),
    };
    let advice = if placement == Placement::DoesNotFit {
        vec!["choose a smaller model or a smaller quantization".to_string()]
    } else {
        Vec::new()
    };
    CatalogFit {
        placement,
        estimated: true,
        summary: format!("{summary} (estimated from {basis}; checked exactly once downloaded)"),
        advice,
    }
}

/// The curated catalog: each model with its role, size, quantization, licence, languages and context, whether it
/// is installed, and whether it fits this machine.
#[tauri::command]
pub async fn models_catalog(state: State<'_, AppState>) -> Result<CatalogView> {
    let dir = state.downloads.models_dir().to_path_buf();
    let options = state.options()?;
    blocking(move || {
        let machine = Machine::detect();
        let models = catalog()
            .models
            .iter()
            .map(|entry| {
                let path = dir.join(entry.file_name());
                let installed = path.is_file();
                let (fit, fit_note) = if installed {
                    match quire_app::fit::assess(&path, &options, &machine) {
                        Ok(v) => (
                            Some(CatalogFit {
                                placement: v.placement,
                                estimated: false,
                                summary: v.summary,
                                advice: v.advice,
                            }),
                            None,
                        ),
                        Err(e) => (None, Some(format!("its header cannot be read: {e}"))),
                    }
                } else {
                    match (entry.size, entry.approx_size()) {
                        (Some(size), _) => (Some(estimate_from_size(size, &machine)), None),
                        (None, Some(approx)) => {
                            let basis = format!("{} parameters at {}", entry.parameters, entry.quantization);
                            (Some(estimate(approx, &machine, &basis)), None)
                        }
                        (None, None) => (None, Some("its size is not known until it is downloaded".to_string())),
                    }
                };
                CatalogModel {
                    installed,
                    path: path.display().to_string(),
                    downloadable: entry.repo.is_some(),
                    fit,
                    fit_note,
                    approx_size: if entry.size.is_none() { entry.approx_size() } else { None },
                    entry: entry.clone(),
                }
            })
            .collect();
        Ok(CatalogView { dir: dir.display().to_string(), models })
    })
    .await
}

// Downloads --------------------------------------------------------------------------------------------------

/// Downloads the catalog model `id`; returns the download's id.
#[tauri::command]
pub fn model_download_start<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, id: String) -> Result<u64> {
    let entry = catalog_entry(&id)?;
    let request = DownloadRequest::from_catalog(entry, state.downloads.endpoint())?;
    enqueue(&app, &entry.name, request)
}

/// Downloads the file `file` of the Hugging Face repository `repo` (as a search listed it); returns the
/// download's id. Its size and sha256 come from the repository's tree, so the file is checked like a catalog one.
#[tauri::command]
pub async fn model_download_start_hf<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    repo: String,
    file: String,
) -> Result<u64> {
    if !file.to_ascii_lowercase().ends_with(".gguf") {
        return Err(Error::InvalidInput(format!("{file} is not a .gguf file.")));
    }
    let endpoint = state.downloads.endpoint().to_string();
    let request = blocking(move || {
        let client = HfClient::new(&endpoint)?;
        let found = client.gguf_file(&repo, &file)?.ok_or_else(|| {
            Error::InvalidInput(format!("{repo} has no file {file} on its main branch; search again to see its files."))
        })?;
        if let Some((_, parts)) = found.split {
            return Err(Error::InvalidInput(format!(
                "{file} is one of {parts} parts of a split model; Quire loads single-file models only."
            )));
        }
        if found.projector {
            return Err(Error::InvalidInput(format!("{file} is a vision projector (mmproj), not a model on its own.")));
        }
        Ok((format!("{repo}/{file}"), found.request(client.endpoint())))
    })
    .await?;
    enqueue(&app, &request.0, request.1)
}

/// Pauses a download (a running one stops within a moment; its partial file is kept). False: no such download,
/// or it is not queued or running.
#[tauri::command]
pub fn model_download_pause<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, id: u64) -> bool {
    let paused = state.downloads.queue.pause(id);
    // a queued job is paused at once; a running one reports its pause when it stops
    if let Some(job) = state.downloads.job(id).filter(|j| j.state == JobState::Paused) {
        emit_job(&app, &job);
    }
    paused
}

/// Queues a paused or failed download again; it resumes from its partial file.
#[tauri::command]
pub fn model_download_resume<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, id: u64) -> Result<bool> {
    if !state.downloads.queue.resume(id) {
        return Ok(false);
    }
    if let Some(job) = state.downloads.job(id) {
        emit_job(&app, &job);
    }
    kick(&app)?;
    Ok(true)
}

/// Cancels a download and deletes its partial file (a running one once it has stopped).
#[tauri::command]
pub fn model_download_cancel<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, id: u64) -> Result<bool> {
    let downloader = state.downloads.downloader()?;
    let cancelled = state.downloads.queue.cancel(id, &downloader);
    if let Some(job) = state.downloads.job(id).filter(|j| j.state == JobState::Cancelled) {
        emit_job(&app, &job);
    }
    Ok(cancelled)
}

/// The downloads of this session, and the unfinished ones left in the models folder by an earlier run.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadsView {
    pub jobs: Vec<JobView>,
    /// Partial files no job of this session is working on: resume them or discard them.
    pub partials: Vec<PartialDownload>,
}

#[tauri::command]
pub fn model_downloads(state: State<'_, AppState>) -> Result<DownloadsView> {
    let jobs = state.downloads.queue.jobs();
    let active = |name: &str| {
        jobs.iter().any(|j| {
            j.file_name == name
                && matches!(j.state, JobState::Queued | JobState::Running | JobState::Paused | JobState::Failed { .. })
        })
    };
    let partials =
        state.downloads.downloader()?.partial_downloads().into_iter().filter(|p| !active(&p.file_name)).collect();
    Ok(DownloadsView { jobs, partials })
}

/// Resumes an unfinished download left from an earlier run (by its file name); returns the new job's id.
#[tauri::command]
pub fn model_download_resume_partial<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    file_name: String,
) -> Result<u64> {
    let partial = state
        .downloads
        .downloader()?
        .partial_downloads()
        .into_iter()
        .find(|p| p.file_name == file_name)
        .ok_or_else(|| Error::InvalidInput(format!("There is no unfinished download of {file_name} any more.")))?;
    // the same URL, size and sha256 as its sidecar, so the download continues from the partial file
    let label = catalog()
        .models
        .iter()
        .find(|e| e.file_name() == partial.file_name)
        .map_or_else(|| partial.file_name.clone(), |e| e.name.clone());
    let request =
        DownloadRequest { url: partial.url, file_name: partial.file_name, size: partial.total, sha256: partial.sha256 };
    enqueue(&app, &label, request)
}

/// Deletes an unfinished download left from an earlier run.
#[tauri::command]
pub fn model_download_discard(state: State<'_, AppState>, file_name: String) -> Result<()> {
    Ok(state.downloads.downloader()?.discard(&file_name)?)
}

/// Forgets the downloads that are done or cancelled.
#[tauri::command]
pub fn model_downloads_clear(state: State<'_, AppState>) {
    state.downloads.queue.clear_finished();
}

// Hugging Face search ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct FoundFile {
    #[serde(flatten)]
    pub file: HfFile,
    /// Why Quire cannot download it (a split part, a vision projector, a gated repository); None: it can.
    pub unusable: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FoundModel {
    #[serde(flatten)]
    pub model: HfModel,
    pub license: Option<String>,
    pub files: Vec<FoundFile>,
    /// Why its files could not be listed.
    pub error: Option<String>,
}

fn unusable(model: &HfModel, file: &HfFile) -> Option<String> {
    if model.gated {
        Some("gated: its licence must be accepted with a Hugging Face account".into())
    } else if let Some((part, parts)) = file.split {
        Some(format!("part {part} of {parts} of a split model"))
    } else if file.projector {
        Some("a vision projector, not a model on its own".into())
    } else {
        None
    }
}

/// GGUF repositories on Hugging Face matching `query`, most downloaded first, each with its GGUF files.
#[tauri::command]
pub async fn models_search(state: State<'_, AppState>, query: String) -> Result<Vec<FoundModel>> {
    let query = query.trim().to_string();
    if query.is_empty() {
        return Err(Error::InvalidInput("Type what to search for, such as \"qwen 1.5b\".".into()));
    }
    let endpoint = state.downloads.endpoint().to_string();
    blocking(move || {
        let client = HfClient::new(&endpoint)?;
        let models = client.search(&query, SEARCH_LIMIT)?;
        Ok(models
            .into_iter()
            .map(|model| {
                let license = model.license().map(str::to_string);
                match client.gguf_files(&model.id) {
                    Ok(files) => FoundModel {
                        files: files
                            .into_iter()
                            .map(|file| FoundFile { unusable: unusable(&model, &file), file })
                            .collect(),
                        license,
                        model,
                        error: None,
                    },
                    Err(e) => FoundModel { model, license, files: Vec::new(), error: Some(e.to_string()) },
                }
            })
            .collect())
    })
    .await
}

// Import -----------------------------------------------------------------------------------------------------

/// The system's file picker for one GGUF model; None when cancelled.
#[tauri::command]
pub async fn choose_model_file<R: Runtime>(app: AppHandle<R>) -> Result<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_title("Import a GGUF model").add_filter("GGUF model", &["gguf", "GGUF"]).pick_file(
        move |picked| {
            let _ = tx.send(picked.and_then(|p| p.into_path().ok()).map(|p| p.display().to_string()));
        },
    );
    rx.await.map_err(|_| Error::Internal("The file dialog closed unexpectedly; please try again.".into()))
}

/// Imports the GGUF file at `path`: copied into the models folder, or (`in_place`) registered where it is.
#[tauri::command]
pub async fn model_import<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
    in_place: bool,
) -> Result<Imported> {
    let dir = state.downloads.models_dir().to_path_buf();
    let mode = if in_place { ImportMode::InPlace } else { ImportMode::Copy };
    let imported = blocking(move || Ok(import_gguf(&dir, Path::new(&path), mode)?)).await?;
    models_changed(&app);
    Ok(imported)
}

/// Removes a model registered in place from the list (the file itself stays where it is). False: it was not
/// registered.
#[tauri::command]
pub fn model_unregister<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, path: String) -> Result<bool> {
    let removed = unregister_external(state.downloads.models_dir(), Path::new(&path))?;
    if removed {
        models_changed(&app);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(ram: u64, vram: Option<u64>) -> Machine {
        Machine {
            ram_total: Some(ram),
            ram_available: Some(ram),
            gpus: vram
                .map(|v| quire_models::Gpu {
                    name: "test".into(),
                    vendor: "nvidia".into(),
                    vram_total: v,
                    vram_free: Some(v),
                    unified: false,
                })
                .into_iter()
                .collect(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_size_estimate_says_it_is_one_and_refuses_what_cannot_fit() {
        let gb = 1u64 << 30;
        let small = estimate_from_size(gb / 2, &machine(16 * gb, None));
        assert!(small.estimated);
        assert_eq!(small.placement, Placement::Cpu);
        assert!(small.summary.contains("estimated from the file size"), "{}", small.summary);
        let big = estimate_from_size(40 * gb, &machine(16 * gb, None));
        assert_eq!(big.placement, Placement::DoesNotFit);
        assert!(!big.advice.is_empty());
        // without a size, from the parameters and the quantization, and saying so
        let entry = quire_models::catalog_entry("smollm2-1.7b-instruct-q4_k_m").expect("in the catalog");
        let approx = entry.approx_size().expect("an estimate");
        assert!((gb / 2..2 * gb).contains(&approx), "{approx}");
        let guessed = estimate(approx, &machine(16 * gb, None), "1.7B parameters at Q4_K_M");
        assert_eq!(guessed.placement, Placement::Cpu);
        assert!(guessed.summary.contains("estimated from 1.7B parameters at Q4_K_M"), "{}", guessed.summary);
    }
}
