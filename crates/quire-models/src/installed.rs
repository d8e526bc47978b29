//! The models installed in a folder: every `.gguf` file, and the files registered in place elsewhere
//! (`external.json`, see [`crate::import_gguf`]), described from their metadata, or the reason they cannot be
//! used.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{GgufInfo, ModelsError};

/// What an installed model is for, as its metadata says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelRole {
    Chat,
    Embedding,
    Reranker,
}

/// Architectures that only embed (encoders, with no text generation).
const ENCODER_ARCHITECTURES: &[&str] =
    &["bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "t5encoder"];

impl ModelRole {
    /// The role a GGUF's metadata implies: rank pooling makes a reranker; any other pooling, or an encoder
    /// architecture, an embedding model; the rest generate text (chat).
    pub fn of(info: &GgufInfo) -> ModelRole {
        match info.pooling_type_name() {
            Some("rank") => ModelRole::Reranker,
            Some("none") | None if !ENCODER_ARCHITECTURES.contains(&info.architecture.as_str()) => ModelRole::Chat,
            _ => ModelRole::Embedding,
        }
    }
}

/// A usable model file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstalledModel {
    pub path: PathBuf,
    pub file_name: String,
    pub size_bytes: u64,
    pub role: ModelRole,
    /// `general.name`.
    pub name: Option<String>,
    pub architecture: String,
    /// The weights' type ("Q4_1", "Q8_0", …).
    pub quantization: Option<String>,
    /// The context the model was trained for.
    pub context_length: Option<u64>,
    pub parameters: u64,
    /// Registered in place (outside the models folder) rather than in it.
    pub external: bool,
}

/// A `.gguf` file that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokenModel {
    pub path: PathBuf,
    pub file_name: String,
    pub reason: String,
}

/// Describes one model file from its metadata.
pub fn describe(path: &Path) -> Result<InstalledModel, ModelsError> {
    let info = GgufInfo::read(path)?;
    let size_bytes = std::fs::metadata(path).map_err(|e| ModelsError::io(path, e))?.len();
    Ok(InstalledModel {
        path: path.to_path_buf(),
        file_name: file_name(path),
        size_bytes,
        role: ModelRole::of(&info),
        name: info.name.clone(),
        architecture: info.architecture.clone(),
        quantization: info.file_type_name().map(str::to_owned),
        context_length: info.context_length,
        parameters: info.parameter_count,
        external: false,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Every `.gguf` file directly in `dir`, by file name, then the files registered in place in its
/// `external.json`: the usable ones described, the others with the reason. A folder that does not exist holds no
/// models.
pub fn installed_in(dir: &Path) -> Result<(Vec<InstalledModel>, Vec<BrokenModel>), ModelsError> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ModelsError::io(dir, e)),
    };
    paths.sort();
    let (mut models, mut broken) = (Vec::new(), Vec::new());
    for path in paths {
        match describe(&path) {
            Ok(model) => models.push(model),
            Err(e) => broken.push(BrokenModel { file_name: file_name(&path), reason: e.to_string(), path }),
        }
    }
    for path in crate::external_models(dir) {
        if models.iter().any(|m| m.path == path) {
            continue;
        }
        if !path.is_file() {
            let reason = "registered in place, but the file is gone (moved or deleted)".to_string();
            broken.push(BrokenModel { file_name: file_name(&path), reason, path });
            continue;
        }
        match describe(&path) {
            Ok(model) => models.push(InstalledModel { external: true, ..model }),
            Err(e) => broken.push(BrokenModel { file_name: file_name(&path), reason: e.to_string(), path }),
        }
    }
    Ok((models, broken))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal GGUF v3 file: the architecture, optional pooling type, no tensors.
    fn gguf(arch: &str, pooling: Option<u32>) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes()); // tensors
        b.extend_from_slice(&(1 + u64::from(pooling.is_some())).to_le_bytes());
        let string = |b: &mut Vec<u8>, s: &str| {
            b.extend_from_slice(&(s.len() as u64).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
        };
        string(&mut b, "general.architecture");
        b.extend_from_slice(&8u32.to_le_bytes()); // string
        string(&mut b, arch);
        if let Some(p) = pooling {
            string(&mut b, &format!("{arch}.pooling_type"));
            b.extend_from_slice(&4u32.to_le_bytes()); // u32
            b.extend_from_slice(&p.to_le_bytes());
        }
        b
    }

    #[test]
    fn roles_come_from_pooling_and_architecture() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a-chat.gguf"), gguf("llama", None)).expect("write");
        std::fs::write(dir.path().join("b-embed.gguf"), gguf("bert", Some(1))).expect("write");
        std::fs::write(dir.path().join("c-encoder.gguf"), gguf("bert", None)).expect("write");
        std::fs::write(dir.path().join("d-rerank.gguf"), gguf("bert", Some(4))).expect("write");
        std::fs::write(dir.path().join("e-broken.gguf"), b"GGUF\x03\x00").expect("write");
        std::fs::write(dir.path().join("notes.txt"), b"not a model").expect("write");

        let (models, broken) = installed_in(dir.path()).expect("list");
        let roles: Vec<(&str, ModelRole)> = models.iter().map(|m| (m.file_name.as_str(), m.role)).collect();
        assert_eq!(
            roles,
            [
                ("a-chat.gguf", ModelRole::Chat),
                ("b-embed.gguf", ModelRole::Embedding),
                ("c-encoder.gguf", ModelRole::Embedding),
                ("d-rerank.gguf", ModelRole::Reranker)
            ]
        );
        assert_eq!(broken.len(), 1);
        assert_eq!(broken[0].file_name, "e-broken.gguf");
        assert!(!broken[0].reason.is_empty());
        assert_eq!(installed_in(&dir.path().join("missing")).expect("list"), (Vec::new(), Vec::new()));
    }
}
