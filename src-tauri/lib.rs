//! Quire's desktop shell: a Tauri window over the Rust core. It owns what the UI may call (commands), the
//! shapes that cross the IPC boundary (serialisable DTOs and `{kind, message}` errors) and the app's
//! managed state; it holds no document, search or model logic of its own.
//!
//! [`run`] starts the real app. [`build`] assembles it on any [`tauri::Runtime`], so tests drive the very
//! same commands on Tauri's mock runtime:
//!
//! ```ignore
//! let app = quire_desktop::build(tauri::test::mock_builder(), quire_desktop::AppState::new(dir))
//!     .build(quire_desktop::context())?;
//! ```

pub mod commands;
pub mod downloads;
pub mod error;
pub mod imports;
pub mod remote;
pub mod state;
pub mod switching;
pub mod watching;

pub use error::{Error, Result};
pub use state::AppState;

use tauri::Runtime;

/// Starts the desktop app and returns when its last window closes.
pub fn run() {
    let started = std::time::Instant::now();
    init_tracing();
    let (data_dir, source) = quire_core::paths::data_dir();
    let state = AppState::located(data_dir, source);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %state.data_dir().display(), "starting Quire");

    // The UI mounts while its page loads, so a loaded page is an interactive window (scripts/bench_app.py
    // times the start-up by this line).
    let builder = tauri::Builder::default().on_page_load(move |_, payload| {
        if payload.event() == tauri::webview::PageLoadEvent::Finished {
            tracing::info!(ms = started.elapsed().as_millis() as u64, url = %payload.url(), "window interactive");
        }
    });
    match build(builder, state).build(context()) {
        Ok(app) => app.run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                on_exit(app);
            }
        }),
        Err(error) => {
            tracing::error!(%error, "Quire could not start");
            std::process::exit(1);
        }
    }
}

/// The app is ending: the indexing queue is let go at once, so that a new start (a restart, or the user
/// opening Quire again right away) owns it without waiting for this process to be gone.
pub(crate) fn on_exit<R: Runtime>(app: &tauri::AppHandle<R>) {
    use tauri::Manager;
    app.state::<AppState>().queue.close();
}

/// The app on any runtime: its state and every command the UI may call.
///
/// A new command goes in `generate_handler!` here, in `COMMANDS` in build.rs (which generates its
/// `allow-…` permission) and in `capabilities/default.json`.
pub fn build<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    use commands::*;
    use downloads::*;
    use remote::*;
    use switching::*;
    builder
        // Used from Rust only (the file dialogs and "open"/"show in folder" commands); the window is granted
        // none of these plugins' own commands.
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .manage(state)
        // Indexing starts with the app: the jobs left from the last run, then the watched folders' follow.
        .setup(|app| {
            imports::start_runner(app.handle());
            switching::resume(app.handle());
            watching::restart(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            app_info,
            choose_files,
            choose_folder,
            choose_save_path,
            library_overview,
            import_paths,
            cancel_imports,
            queue_state,
            pause_indexing,
            retry_documents,
            settle_given_up,
            reindex_document,
            remove_document,
            open_document,
            reveal_document,
            document_view,
            document_pdf,
            change_data_dir,
            restart_app,
            watch_folder,
            unwatch_folder,
            set_watch_rules,
            sync_watched,
            search_library,
            set_collection,
            remove_collection,
            list_conversations,
            get_conversation,
            create_conversation,
            rename_conversation,
            set_conversation_scope,
            delete_conversation,
            export_conversation,
            ask,
            cancel_answer,
            list_models,
            load_model,
            unload_model,
            set_default_model,
            get_settings,
            save_settings,
            set_api_key,
            delete_api_key,
            api_key_status,
            test_remote,
            models_catalog,
            model_download_start,
            model_download_start_hf,
            model_download_pause,
            model_download_resume,
            model_download_cancel,
            model_downloads,
            model_download_resume_partial,
            model_download_discard,
            model_downloads_clear,
            models_search,
            choose_model_file,
            model_import,
            model_unregister,
            embedding_switch,
            cancel_embedding_switch,
            retry_embedding_switch,
        ])
}

/// The app's compiled configuration: tauri.conf.json, the capabilities, the icons and (in a release build)
/// the UI from `ui/dist`.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Logs to stderr; `QUIRE_LOG` sets the filter (as `RUST_LOG` would), `info` by default.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUIRE_LOG")
        // LanceDB logs every dataset it loads at `info`, with `status="error"` for a table that does not exist
        // yet (every first start): only its warnings are worth a user's log. Lance's io_uring reader threads log
        // their counters at `info` every 100 ms while reading.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,lance::dataset_events=warn,lance_io=warn"));
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).try_init();
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_downloads;
#[cfg(test)]
mod tests_remote;
#[cfg(test)]
mod tests_switch;
