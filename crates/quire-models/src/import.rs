//! Importing a GGUF file the user already has: its header is checked first (a file that is not a usable model is
//! refused with the reason), then it is either copied into the models folder (through the partial folder and a
//! rename, so a half-copied file never appears) or registered where it is, in `<models dir>/external.json`,
//! which [`installed_in`](crate::installed_in) lists with the folder's own files.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::download::{DEFAULT_HEADROOM, PARTIAL_DIR};
use crate::{GgufInfo, InstalledModel, ModelsError, describe};

/// The list of models registered in place, in the models folder.
pub const EXTERNAL_FILE: &str = "external.json";

/// How a file is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Copied into the models folder.
    Copy,
    /// Left where it is and registered in `external.json`.
    InPlace,
}

/// An imported model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imported {
    pub model: InstalledModel,
    pub mode: ImportMode,
    /// Hashed while copying; none for a file registered in place (hashed when first listed).
    pub sha256: Option<String>,
    /// It was already in the models folder or registered: nothing changed.
    pub already: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ExternalList {
    models: Vec<ExternalModel>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExternalModel {
    path: PathBuf,
    added_ms: u64,
}

fn load_list(models_dir: &Path) -> ExternalList {
    fs::read(models_dir.join(EXTERNAL_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn save_list(models_dir: &Path, list: &ExternalList) -> Result<(), ModelsError> {
    let path = models_dir.join(EXTERNAL_FILE);
    let tmp = models_dir.join(format!("{EXTERNAL_FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(models_dir)?;
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(list).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| ModelsError::io(&path, e))
}

/// The model files registered in place for `models_dir`, as registered (they may have gone since).
pub fn external_models(models_dir: &Path) -> Vec<PathBuf> {
    load_list(models_dir).models.into_iter().map(|m| m.path).collect()
}

/// Forgets a model registered in place (the file itself is left alone). False when it was not registered.
pub fn unregister_external(models_dir: &Path, path: &Path) -> Result<bool, ModelsError> {
    let mut list = load_list(models_dir);
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let before = list.models.len();
    list.models.retain(|m| m.path != path);
    if list.models.len() == before {
        return Ok(false);
    }
    save_list(models_dir, &list)?;
    Ok(true)
}

/// Imports the GGUF file `source` into `models_dir`: copied, or registered in place.
pub fn import_gguf(models_dir: &Path, source: &Path, mode: ImportMode) -> Result<Imported, ModelsError> {
    let refuse = |reason: String| ModelsError::Import { path: source.to_path_buf(), reason };
    let src = fs::canonicalize(source).map_err(|e| refuse(e.to_string()))?;
    if !src.is_file() {
        return Err(refuse("it is not a file".into()));
    }
    if let Err(e) = GgufInfo::read(&src) {
        let reason = match e {
            ModelsError::InvalidGguf { reason, .. } => reason,
            other => other.to_string(),
        };
        return Err(refuse(format!("it is not a usable GGUF model ({reason})")));
    }
    fs::create_dir_all(models_dir).map_err(|e| ModelsError::io(models_dir, e))?;
    let dir = fs::canonicalize(models_dir).map_err(|e| ModelsError::io(models_dir, e))?;
    let in_folder = src.parent() == Some(dir.as_path());
    match mode {
        ImportMode::InPlace => {
            let mut list = load_list(models_dir);
            let already = in_folder || list.models.iter().any(|m| m.path == src);
            if !already {
                let added_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
                list.models.push(ExternalModel { path: src.clone(), added_ms });
                save_list(models_dir, &list)?;
            }
            let model = describe(&src)?;
            Ok(Imported { model: InstalledModel { external: !in_folder, ..model }, mode, sha256: None, already })
        }
        ImportMode::Copy => copy_in(&dir, &src, source),
    }
}

fn copy_in(dir: &Path, src: &Path, source: &Path) -> Result<Imported, ModelsError> {
    let refuse = |reason: String| ModelsError::Import { path: source.to_path_buf(), reason };
    let mut name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.to_ascii_lowercase().ends_with(".gguf") {
        name.push_str(".gguf");
    }
    if name.starts_with('.') {
        return Err(refuse("a hidden file name cannot be a model's name; rename the file first".into()));
    }
    let dest = dir.join(&name);
    let size = fs::metadata(src).map_err(|e| ModelsError::io(src, e))?.len();
    if dest == src {
        let model = describe(&dest)?;
        let sha256 = crate::sha256_stamped(&dest).ok();
        return Ok(Imported { model, mode: ImportMode::Copy, sha256, already: true });
    }
    if dest.exists() {
        let same = fs::metadata(&dest).is_ok_and(|m| m.len() == size)
            && matches!((crate::sha256_stamped(&dest), crate::sha256_file(src)), (Ok(a), Ok(b)) if a == b);
        if !same {
            return Err(refuse(format!(
                "a different file named {name} is already in the models folder {}; rename one of them",
                dir.display()
            )));
        }
        let model = describe(&dest)?;
        return Ok(Imported { model, mode: ImportMode::Copy, sha256: crate::stamped_sha256(&dest), already: true });
    }
    if let Ok(available) = fs4::available_space(dir)
        && size.saturating_add(DEFAULT_HEADROOM) > available
    {
        return Err(ModelsError::NotEnoughSpace {
            dir: dir.to_path_buf(),
            needed: size,
            available,
            headroom: DEFAULT_HEADROOM,
        });
    }
    let partial_dir = dir.join(PARTIAL_DIR);
    fs::create_dir_all(&partial_dir).map_err(|e| ModelsError::io(&partial_dir, e))?;
    let tmp = partial_dir.join(format!("{name}.import"));
    let copied = copy_hashing(src, &tmp);
    let sha256 = match copied {
        Ok((n, sha)) if n == size => sha,
        Ok((n, _)) => {
            let _ = fs::remove_file(&tmp);
            return Err(refuse(format!("the file changed while it was copied ({n} of {size} bytes)")));
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = GgufInfo::read(&tmp) {
        let _ = fs::remove_file(&tmp);
        return Err(refuse(format!("the copy is not a usable GGUF model ({e})")));
    }
    fs::rename(&tmp, &dest).map_err(|e| ModelsError::io(&dest, e))?;
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    crate::save_stamp(&dest, &sha256);
    let model = describe(&dest)?;
    Ok(Imported { model, mode: ImportMode::Copy, sha256: Some(sha256), already: false })
}

/// Copies `src` to `dst` (synced), returning the bytes copied and their sha256.
fn copy_hashing(src: &Path, dst: &Path) -> Result<(u64, String), ModelsError> {
    let mut input = File::open(src).map_err(|e| ModelsError::io(src, e))?;
    let mut output = File::create(dst).map_err(|e| ModelsError::io(dst, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(ModelsError::io(src, e)),
        };
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(|e| ModelsError::io(dst, e))?;
        total += n as u64;
    }
    output.sync_all().map_err(|e| ModelsError::io(dst, e))?;
    Ok((total, hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelRole, installed_in};

    /// A minimal GGUF v3 file with an architecture and no tensors.
    fn gguf(arch: &str) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        let key = "general.architecture";
        b.extend_from_slice(&(key.len() as u64).to_le_bytes());
        b.extend_from_slice(key.as_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&(arch.len() as u64).to_le_bytes());
        b.extend_from_slice(arch.as_bytes());
        b
    }

    #[test]
    fn a_copy_lands_in_the_folder_and_a_registration_is_listed() {
        let models = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let a = elsewhere.path().join("mine.gguf");
        let b = elsewhere.path().join("other.gguf");
        fs::write(&a, gguf("llama")).expect("write");
        fs::write(&b, gguf("llama")).expect("write");

        let copied = import_gguf(models.path(), &a, ImportMode::Copy).expect("copy");
        assert!(!copied.already);
        assert_eq!(copied.model.file_name, "mine.gguf");
        assert!(!copied.model.external);
        assert_eq!(copied.sha256.as_deref(), Some(crate::sha256_file(&a).expect("hash").as_str()));
        assert_eq!(crate::stamped_sha256(&models.path().join("mine.gguf")), copied.sha256);
        assert!(fs::read_dir(models.path().join(PARTIAL_DIR)).expect("dir").next().is_none());
        // the same file again: nothing to do
        assert!(import_gguf(models.path(), &a, ImportMode::Copy).expect("again").already);

        let registered = import_gguf(models.path(), &b, ImportMode::InPlace).expect("in place");
        assert!(registered.model.external && !registered.already);
        assert!(import_gguf(models.path(), &b, ImportMode::InPlace).expect("again").already);
        let (listed, broken) = installed_in(models.path()).expect("list");
        let names: Vec<(&str, bool, ModelRole)> =
            listed.iter().map(|m| (m.file_name.as_str(), m.external, m.role)).collect();
        assert_eq!(names, [("mine.gguf", false, ModelRole::Chat), ("other.gguf", true, ModelRole::Chat)]);
        assert!(broken.is_empty());

        // a registered file that went away is listed as broken, with the reason
        fs::remove_file(&b).expect("remove");
        let (listed, broken) = installed_in(models.path()).expect("list");
        assert_eq!(listed.len(), 1);
        assert!(broken[0].reason.contains("gone"), "{}", broken[0].reason);
        assert!(unregister_external(models.path(), &elsewhere.path().join("other.gguf")).expect("unregister"));
        assert!(installed_in(models.path()).expect("list").1.is_empty());
    }

    #[test]
    fn files_that_are_not_models_are_refused_before_anything_changes() {
        let models = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let text = elsewhere.path().join("notes.gguf");
        fs::write(&text, b"just some notes, not a model").expect("write");
        let mut truncated = gguf("llama");
        truncated.truncate(20);
        let cut = elsewhere.path().join("cut.gguf");
        fs::write(&cut, truncated).expect("write");
        for (path, mode) in [(&text, ImportMode::Copy), (&cut, ImportMode::InPlace)] {
            let err = import_gguf(models.path(), path, mode).expect_err("refused");
            assert!(matches!(err, ModelsError::Import { .. }), "{err}");
            assert!(err.to_string().contains("not a usable GGUF model"), "{err}");
        }
        let err =
            import_gguf(models.path(), &elsewhere.path().join("missing.gguf"), ImportMode::Copy).expect_err("missing");
        assert!(matches!(err, ModelsError::Import { .. }), "{err}");
        assert_eq!(installed_in(models.path()).expect("list"), (Vec::new(), Vec::new()));
        assert!(!models.path().join(EXTERNAL_FILE).exists());

        // a different file under the same name is not overwritten
        let a = elsewhere.path().join("same.gguf");
        fs::write(&a, gguf("llama")).expect("write");
        fs::write(models.path().join("same.gguf"), gguf("bert")).expect("write");
        let err = import_gguf(models.path(), &a, ImportMode::Copy).expect_err("clash");
        assert!(err.to_string().contains("already in the models folder"), "{err}");
    }
}
