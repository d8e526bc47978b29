// No console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Started again as a parser or model worker (see quire-app): serve, then exit.
    if let Some(code) = quire_app::run_worker_if_requested() {
        return code;
    }
    // SAFETY: `main` has started no thread yet.
    #[allow(unsafe_code)]
    unsafe {
        quire_store::configure_readers()
    };
    #[cfg(target_os = "linux")]
    lean_webview();
    quire_desktop::run();
    std::process::ExitCode::SUCCESS
}

/// WebKitGTK hands each composited frame from the web process to the window as a DMA-BUF, which keeps GL
/// buffers (and, without a GPU, a software GL) in the web process: about 90 MB for this UI, which has nothing
/// to accelerate (no WebGL, no video). Without that renderer the web process is about half its size; the same
/// setting avoids the blank windows the renderer gives with some GPU drivers. A user who sets
/// `WEBKIT_DISABLE_DMABUF_RENDERER` (`0` to keep the renderer) keeps their choice.
///
/// WebKit reads the variable when it creates the web view and offers no setting for it, hence the environment,
/// set while the process has one thread.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lean_webview() {
    const VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
    if std::env::var_os(VAR).is_none() {
        // SAFETY: called from `main` before anything starts a thread, so nothing reads or writes the
        // environment concurrently.
        unsafe { std::env::set_var(VAR, "1") };
    }
}
