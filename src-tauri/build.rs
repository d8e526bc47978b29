//! Compiles tauri.conf.json, the capabilities and the app's permissions into the binary.

/// Every command in `generate_handler!` (lib.rs). Tauri generates an `allow-<command>` permission for each;
/// a window may call only the commands its capability grants (capabilities/default.json).
const COMMANDS: &[&str] = &[
    "app_info",
    "choose_files",
    "choose_folder",
    "choose_save_path",
    "library_overview",
    "import_paths",
    "cancel_imports",
    "reindex_document",
    "remove_document",
    "open_document",
    "reveal_document",
    "document_view",
    "document_pdf",
    "search_library",
    "set_collection",
    "remove_collection",
    "list_conversations",
    "get_conversation",
    "create_conversation",
    "rename_conversation",
    "set_conversation_scope",
    "delete_conversation",
    "export_conversation",
    "ask",
    "cancel_answer",
    "list_models",
    "load_model",
    "unload_model",
    "set_default_model",
    "get_settings",
    "save_settings",
    "change_data_dir",
    "restart_app",
    "watch_folder",
    "unwatch_folder",
    "set_watch_rules",
    "sync_watched",
    "queue_state",
    "pause_indexing",
    "retry_documents",
    "settle_given_up",
    "set_api_key",
    "delete_api_key",
    "api_key_status",
    "test_remote",
    "models_catalog",
    "model_download_start",
    "model_download_start_hf",
    "model_download_pause",
    "model_download_resume",
    "model_download_cancel",
    "model_downloads",
    "model_download_resume_partial",
    "model_download_discard",
    "model_downloads_clear",
    "models_search",
    "choose_model_file",
    "model_import",
    "model_unregister",
    "embedding_switch",
    "cancel_embedding_switch",
    "retry_embedding_switch",
];

fn main() {
    // The app's sources live in src-tauri/ while its manifest and tauri.conf.json sit at the repository root.
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
