//! The shell's commands called over IPC on Tauri's mock runtime, with the app's real configuration and
//! capabilities: what passes here is what the window may call. (Needs tauri's `test` feature.)

use std::path::PathBuf;

use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::{InvokeRequest, WebviewWindowBuilder};
use tauri::{App, WebviewUrl, WebviewWindow};

use crate::AppState;

fn app(data_dir: &str) -> App<MockRuntime> {
    match crate::build(mock_builder(), AppState::new(data_dir)).build(crate::context()) {
        Ok(app) => app,
        Err(error) => panic!("the app does not build on the mock runtime: {error}"),
    }
}

/// The window tauri.conf.json declares, as the real app opens it (the mock runtime leaves that to the test).
fn main_window(app: &App<MockRuntime>) -> WebviewWindow<MockRuntime> {
    let config = app.config().app.windows.iter().find(|w| w.label == "main");
    let config = config.unwrap_or_else(|| panic!("tauri.conf.json declares no `main` window"));
    WebviewWindowBuilder::from_config(app, config).and_then(|b| b.build()).unwrap_or_else(|e| panic!("{e}"))
}

/// Calls `cmd` as the page loaded in `window` would.
fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap_or_else(|e| panic!("{e}")),
        body: InvokeBody::default(),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize::<Value>().unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn app_info_reports_name_version_and_the_data_folder_of_the_state() {
    let data_dir = std::env::temp_dir().join("quire-shell-test-data");
    let app = app(&data_dir.to_string_lossy());

    let info = invoke(&main_window(&app), "app_info").unwrap_or_else(|e| panic!("app_info failed: {e}"));

    assert_eq!(info["name"], "Quire");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(PathBuf::from(info["dataDir"].as_str().unwrap_or_default()), data_dir);
}

#[test]
fn unknown_commands_are_refused() {
    let app = app("/unused");

    let refusal = invoke(&main_window(&app), "delete_everything").expect_err("an unregistered command succeeded");

    assert!(refusal.to_string().contains("not found"), "unexpected refusal: {refusal}");
}

#[test]
fn windows_without_a_capability_cannot_call_commands() {
    let app = app("/unused");
    let other =
        WebviewWindowBuilder::new(&app, "untrusted", WebviewUrl::default()).build().unwrap_or_else(|e| panic!("{e}"));

    let refusal = invoke(&other, "app_info").expect_err("app_info is granted to the main window only");

    assert!(refusal.to_string().contains("not allowed"), "unexpected refusal: {refusal}");
}
