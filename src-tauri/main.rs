// No console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Started again as a parser or model worker (see quire-app): serve, then exit.
    if let Some(code) = quire_app::run_worker_if_requested() {
        return code;
    }
    quire_desktop::run();
    std::process::ExitCode::SUCCESS
}
