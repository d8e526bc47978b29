//! What the tests on real parts share: the `quire` binary built for them and the starter embedding model.

use std::path::PathBuf;

/// The starter embedding model's file name.
pub const EMBED_MODEL: &str = "all-MiniLM-L6-v2.q8_0.gguf";

/// The `quire` binary of this build (also the worker program of the model and extract workers).
pub fn quire_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_quire"))
}

/// The starter embedding model, from `$QUIRE_MODELS_DIR` (scripts/env.sh) or the default model cache.
pub fn embed_model() -> PathBuf {
    let dir = std::env::var_os("QUIRE_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("QUIRE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/quire"));
        cache.join("models")
    });
    let path = dir.join(EMBED_MODEL);
    assert!(path.exists(), "{} is missing: run scripts/models.sh (scripts/test.sh does)", path.display());
    path
}
