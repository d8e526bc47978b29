//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use quire_app::OpenOptions;
use quire_core::library::Library;

/// The desktop binary: it has the worker modes, so tests use it as the worker program.
pub fn worker_program() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_quire-desktop"))
}

/// The `quire` command line, built beside the desktop binary by `cargo test --workspace`.
pub fn quire_cli() -> PathBuf {
    let path = worker_program().with_file_name("quire");
    assert!(path.exists(), "{} is missing: run `cargo build -p quire-cli` (scripts/test.sh does)", path.display());
    path
}

/// `$QUIRE_CACHE` (default ~/.cache/quire), where setup puts models and test documents.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("QUIRE_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    base.join("quire")
}

/// A test document fetched by scripts/fixtures.sh.
pub fn fixture(relative: &str) -> PathBuf {
    let path = cache_dir().join("fixtures").join(relative);
    assert!(path.exists(), "{} is missing: run scripts/fixtures.sh (scripts/test.sh does)", path.display());
    path
}

/// A starter model file, checked to exist.
pub fn model(file: &str) -> PathBuf {
    let dir = std::env::var_os("QUIRE_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| cache_dir().join("models"));
    let path = dir.join(file);
    assert!(path.exists(), "{} is missing: run scripts/models.sh (scripts/test.sh does)", path.display());
    path
}

pub const EMBED_MODEL: &str = "all-MiniLM-L6-v2.q8_0.gguf";

/// Options for a library in `data_dir` with the starter embedding model, workers from the desktop binary.
pub fn open_options(data_dir: &Path) -> OpenOptions {
    let mut options = OpenOptions::new(Some(data_dir.to_path_buf())).expect("options");
    options.worker_program = worker_program();
    options.embed_model = Some(model(EMBED_MODEL));
    options
}

pub async fn open_library(data_dir: &Path) -> Library {
    quire_app::open_library(&open_options(data_dir)).await.expect("library opens")
}

/// Copies files into a fresh folder (so tests can change and delete them).
pub fn copy_into(dir: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("mkdir");
    files
        .iter()
        .map(|f| {
            let to = dir.join(f.file_name().expect("file name"));
            std::fs::copy(f, &to).expect("copy");
            to
        })
        .collect()
}
