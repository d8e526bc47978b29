//! A change of embedding model, run in the background (see `quire_app::switch`): the library keeps searching
//! with the current model while every document is embedded with the new one, then switches at once. Progress
//! goes to the UI as the `embedding-switch` event (`null` when a switch ends: done or cancelled).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use quire_app::switch::{EmbeddingSwitch, Filled, SwitchProgress};
use quire_core::settings::Settings;

use crate::error::{Error, Result};
use crate::state::{AppState, changes_embedding_model, lock};

pub const SWITCH_EVENT: &str = "embedding-switch";
/// How long a cancel waits for the switch to stop after its current document.
const STOP_WAIT: Duration = Duration::from_secs(60);
/// How long the switch waits for a running import to end before it opens the library with the new model.
const JOB_WAIT: Duration = Duration::from_secs(120);

/// Where a switch is, for the UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwitchView {
    /// The model id searches use now.
    pub from: String,
    /// The new model as a person names it.
    pub target: String,
    pub done: usize,
    pub total: usize,
    pub state: SwitchState,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SwitchState {
    /// Embedding documents with the new model.
    Running,
    /// Held: indexing is paused, or an answer is being written.
    Waiting,
    /// Every document is done; the library is opened again with the new model.
    Switching,
    /// Stopped with an error (retry or cancel).
    Failed,
}

/// The switch running in this app, if any, and what the UI was last told.
#[derive(Default)]
pub struct Switching {
    cancel: std::sync::Mutex<Option<Arc<AtomicBool>>>,
    view: std::sync::Mutex<Option<SwitchView>>,
}

impl Switching {
    fn running(&self) -> bool {
        lock(&self.cancel).is_some()
    }
}

fn publish<R: Runtime>(app: &AppHandle<R>, view: Option<SwitchView>) {
    *lock(&app.state::<AppState>().switching.view) = view.clone();
    if let Err(error) = app.emit(SWITCH_EVENT, &view) {
        tracing::warn!(%error, "could not send the embedding switch's progress");
    }
}

/// Saves `settings`. When they change the embedding model, a switch to it begins (the library keeps the
/// current model until every document is embedded with the new one) instead of a re-index in place; returns
/// whether one began. A switch under way to another model is given up first; going back to the current model
/// just gives it up.
pub(crate) async fn save_and_switch<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    settings: Settings,
) -> Result<(Settings, bool)> {
    let settings = settings.validated()?;
    let previous = state.settings();
    if !changes_embedding_model(&previous, &settings) {
        state.save_settings(settings).await?;
        return Ok((previous, false));
    }
    let wanted = settings.embedding_choice();
    stop(state).await?;
    let (source, from) = match EmbeddingSwitch::load(state.data_dir())? {
        Some(switch) if !switch.plan.committed => {
            let core = state.core().await?;
            let source = (switch.plan.source.clone(), switch.plan.from.clone());
            switch.abandon(core.library.store().as_ref()).await?;
            source
        }
        // None, or one whose library was not opened since it committed: opening finishes it.
        _ => {
            let core = state.core().await?;
            (previous.embedding_choice(), core.library.embedder().info().model_id.clone())
        }
    };
    let switching = wanted != source;
    if switching {
        EmbeddingSwitch::begin(state.data_dir(), source, &from, wanted, quire_core::now_ms())?;
    }
    state.save_settings(settings).await?;
    if switching {
        start(app);
    } else {
        publish(app, None);
    }
    Ok((previous, switching))
}

/// Runs the switch saved in the data folder, if any, in the background (not twice).
pub(crate) fn start<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let mut running = lock(&state.switching.cancel);
        if running.is_some() {
            return;
        }
        *running = Some(Arc::clone(&cancel));
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        if let Err(error) = run(&app, &state, &cancel).await {
            tracing::warn!(%error, "the switch of embedding model stopped");
            let view = lock(&state.switching.view).clone();
            let view = view.map(|v| SwitchView { state: SwitchState::Failed, error: Some(error.to_string()), ..v });
            publish(&app, view);
        }
        *lock(&state.switching.cancel) = None;
    });
}

async fn run<R: Runtime>(app: &AppHandle<R>, state: &AppState, cancel: &AtomicBool) -> Result<()> {
    let Some(mut switch) = EmbeddingSwitch::load(state.data_dir())? else {
        publish(app, None);
        return Ok(());
    };
    let mut view = SwitchView {
        from: switch.plan.from.clone(),
        target: switch.plan.target.label(),
        done: 0,
        total: 0,
        state: SwitchState::Running,
        error: None,
    };
    publish(app, Some(view.clone()));
    if !switch.plan.committed {
        let core = state.core().await?;
        let gate = Arc::clone(core.library.gate());
        // Paused indexing holds the switch too (`pause_indexing` reaches this gate from now on).
        gate.set_paused(state.queue.paused());
        let mut progress = |p: SwitchProgress| {
            view.done = p.done;
            view.total = p.total;
            view.state = if gate.state().is_open() { SwitchState::Running } else { SwitchState::Waiting };
            publish(app, Some(view.clone()));
        };
        let filled = quire_app::switch::run(&core, &mut switch, cancel, &mut progress).await?;
        if filled == Filled::Cancelled {
            return Ok(());
        }
    }
    let view = lock(&state.switching.view).clone().map(|v| SwitchView { state: SwitchState::Switching, ..v });
    publish(app, view);
    // Opening the library again, now with the new model, finishes the switch. A job running now holds the
    // library as it is: give it a moment to end.
    let started = std::time::Instant::now();
    while state.queue.view().running.is_some() && started.elapsed() < JOB_WAIT && !cancel.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let running = state.queue.view().running;
    state.close_core().await;
    state.core().await?;
    publish(app, None);
    reembed_left(app, state).await;
    // A job that was running at the switch goes on with the model it started with: once it ends, what it
    // indexed is embedded with the new one.
    if let Some(job) = running {
        while state.queue.view().running == Some(job) && !cancel.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        reembed_left(app, state).await;
    }
    Ok(())
}

/// Queues the documents still indexed with another model than the library's.
async fn reembed_left<R: Runtime>(app: &AppHandle<R>, state: &AppState) {
    if let Err(error) = crate::remote::reembed_other_models(app, state).await {
        tracing::warn!(%error, "could not queue the documents left to embed with the new model");
    }
}

/// Stops the running switch after its current document (its plan stays).
async fn stop(state: &AppState) -> Result<()> {
    let Some(cancel) = lock(&state.switching.cancel).clone() else { return Ok(()) };
    cancel.store(true, Ordering::Relaxed);
    let started = std::time::Instant::now();
    while state.switching.running() {
        if started.elapsed() > STOP_WAIT {
            return Err(Error::InvalidInput("The switch of embedding model did not stop; try again.".into()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// At start-up: resumes a switch left by the last run, finishes one that was committed, and gives up one
/// whose model the settings no longer choose.
pub(crate) fn resume<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    match EmbeddingSwitch::load(state.data_dir()) {
        Ok(Some(switch)) if switch.plan.committed || state.settings().embedding_choice() == switch.plan.target => {
            start(app)
        }
        Ok(Some(_)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(error) = give_up(&app, &app.state::<AppState>()).await {
                    tracing::warn!(%error, "could not give up the switch of embedding model");
                }
            });
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "could not read the switch of embedding model"),
    }
}

/// Gives up the switch under way: its new table goes, the current index stays, and the settings choose the
/// current model again.
async fn give_up<R: Runtime>(app: &AppHandle<R>, state: &AppState) -> Result<()> {
    stop(state).await?;
    let Some(switch) = EmbeddingSwitch::load(state.data_dir())? else {
        publish(app, None);
        return Ok(());
    };
    if switch.plan.committed {
        return Err(Error::InvalidInput("The library has already switched to the new model.".into()));
    }
    let source = switch.plan.source.clone();
    let core = state.core().await?;
    switch.abandon(core.library.store().as_ref()).await?;
    drop(core);
    let settings = state.settings();
    if settings.embedding_choice() != source {
        state.save_settings(settings.with_embedding(&source)).await?;
    }
    publish(app, None);
    Ok(())
}

/// The switch of embedding model under way, if any.
#[tauri::command]
pub fn embedding_switch(state: State<'_, AppState>) -> Option<SwitchView> {
    lock(&state.switching.view).clone()
}

/// Gives up the switch of embedding model under way: the library stays with its current model.
#[tauri::command]
pub async fn cancel_embedding_switch<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> Result<()> {
    give_up(&app, &state).await
}

/// Runs a switch of embedding model that stopped with an error again.
#[tauri::command]
pub fn retry_embedding_switch<R: Runtime>(app: AppHandle<R>) {
    start(&app);
}
