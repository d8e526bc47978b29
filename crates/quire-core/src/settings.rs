//! The user's settings: how answers are generated, how the library is chunked and searched, how the chat
//! model runs, which model files are used and how the app looks. Kept as `settings.json` in the data folder,
//! written atomically; every value is checked before it is saved, with a message that names the setting.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file name of the settings in the data folder.
pub const FILE_NAME: &str = "settings.json";

/// Everything a user can set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub generation: Generation,
    pub retrieval: Retrieval,
    pub runtime: Runtime,
    pub models: Models,
    pub appearance: Appearance,
    /// OpenAI-compatible servers used instead of the local models, per role.
    pub remote: Remotes,
}

/// How answers are sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Generation {
    /// 0 to 2; 0 always picks the likeliest token.
    pub temperature: f32,
    /// Above 0, at most 1.
    pub top_p: f32,
    /// Most tokens in one answer.
    pub max_tokens: u32,
    /// 1 (off) to 2.
    pub repeat_penalty: f32,
}

impl Default for Generation {
    fn default() -> Self {
        let sampling = crate::generate::SamplingParams::default();
        Generation {
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            max_tokens: sampling.max_tokens,
            repeat_penalty: sampling.repeat_penalty,
        }
    }
}

/// How the library is chunked and how many passages an answer gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Retrieval {
    /// Passages given to the model.
    pub top_k: u32,
    /// Tokens per chunk (capped by the embedding model's window). Changing it re-indexes the library.
    pub chunk_tokens: u32,
    /// Tokens shared by neighbouring chunks. Changing it re-indexes the library.
    pub chunk_overlap: u32,
}

impl Default for Retrieval {
    fn default() -> Self {
        let chunk = crate::chunk::ChunkParams::default();
        Retrieval {
            top_k: crate::answer::AnswerOptions::default().max_sources as u32,
            chunk_tokens: chunk.max_tokens as u32,
            chunk_overlap: chunk.overlap_tokens as u32,
        }
    }
}

/// Layers of the chat model on the GPU: "all", "none" or a count (as llama.cpp counts them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuLayers {
    All,
    #[default]
    None,
    #[serde(untagged)]
    Count(u32),
}

/// How the chat model runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Runtime {
    pub gpu_layers: GpuLayers,
    /// Tokens in the chat model's context window.
    pub context_size: u32,
    /// CPU threads; 0: all cores.
    pub threads: u32,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime { gpu_layers: GpuLayers::None, context_size: 4096, threads: 0 }
    }
}

/// The model file chosen for each role; None: the starter model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Models {
    pub chat: Option<PathBuf>,
    pub embedding: Option<PathBuf>,
    pub reranker: Option<PathBuf>,
}

/// An OpenAI-compatible server (llama.cpp server, vLLM, Ollama, …) serving one role. Its API key, if it needs
/// one, is kept in the OS keychain, never here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteEndpoint {
    /// `http://host:port` or `https://…`, with or without a trailing `/v1`.
    pub base_url: String,
    /// The model name the server knows (e.g. "nomic-embed-text", "llama3.1:8b").
    pub model: String,
}

impl RemoteEndpoint {
    /// The base URL without a trailing `/` or `/v1`: `{root}/v1/embeddings` is where embeddings are asked.
    pub fn root(&self) -> &str {
        let url = self.base_url.trim().trim_end_matches('/');
        url.strip_suffix("/v1").unwrap_or(url)
    }

    /// `{root}/v1/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.root(), path.trim_start_matches('/'))
    }

    /// Why this endpoint cannot be used, as a sentence naming the role; None when it is valid.
    pub fn problem(&self, role: &str) -> Option<String> {
        let url = self.base_url.trim();
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        let Some(rest) = rest else {
            return Some(format!(
                "The remote {role} server's address must start with http:// or https:// (it is \"{url}\")."
            ));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || authority.starts_with(':') {
            return Some(format!("The remote {role} server's address has no host name (it is \"{url}\")."));
        }
        if authority.contains('@') {
            return Some(format!(
                "The remote {role} server's address must not contain a user name or key; the API key is kept in the \
                 system keychain."
            ));
        }
        if url.chars().any(|c| c.is_whitespace() || c == '?' || c == '#') {
            return Some(format!(
                "The remote {role} server's address must be a plain URL without spaces, '?' or '#' (it is \"{url}\")."
            ));
        }
        if let Some((_, port)) = authority.rsplit_once(':')
            && !authority.ends_with(']')
            && port.parse::<u16>().is_err()
        {
            return Some(format!("The remote {role} server's port must be a number up to 65535 (it is \"{port}\")."));
        }
        if self.model.trim().is_empty() {
            return Some(format!("The remote {role} server needs a model name."));
        }
        None
    }
}

/// The remote endpoint of each role; None: the local model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Remotes {
    pub chat: Option<RemoteEndpoint>,
    pub embedding: Option<RemoteEndpoint>,
}

/// Light, dark, or as the system is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Appearance {
    pub theme: Theme,
}

fn check(ok: bool, problems: &mut Vec<String>, message: impl FnOnce() -> String) {
    if !ok {
        problems.push(message());
    }
}

/// Which model embeds the library: a local GGUF file (none: the starter model), or a remote server, which
/// wins when set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingChoice {
    pub local: Option<PathBuf>,
    pub remote: Option<RemoteEndpoint>,
}

impl EmbeddingChoice {
    /// The model as a person names it: the file name, "model at host" for a server, or "the starter model".
    pub fn label(&self) -> String {
        match (&self.remote, &self.local) {
            (Some(r), _) => format!("{} at {}", r.model.trim(), r.root()),
            (None, Some(path)) => {
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
            }
            (None, None) => "the starter embedding model".to_string(),
        }
    }
}

impl Settings {
    /// The embedding model these settings choose.
    pub fn embedding_choice(&self) -> EmbeddingChoice {
        EmbeddingChoice { local: self.models.embedding.clone(), remote: self.remote.embedding.clone() }
    }

    /// These settings with another embedding model.
    pub fn with_embedding(mut self, choice: &EmbeddingChoice) -> Settings {
        self.models.embedding = choice.local.clone();
        self.remote.embedding = choice.remote.clone();
        self
    }

    /// Every problem with these settings, each a sentence naming the setting; empty when all are valid.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let g = &self.generation;
        check((0.0..=2.0).contains(&g.temperature), &mut p, || {
            format!("Temperature must be between 0 and 2 (it is {}).", g.temperature)
        });
        check(g.top_p > 0.0 && g.top_p <= 1.0, &mut p, || {
            format!("Top-p must be above 0 and at most 1 (it is {}).", g.top_p)
        });
        check((16..=8192).contains(&g.max_tokens), &mut p, || {
            format!("Max tokens must be between 16 and 8192 (it is {}).", g.max_tokens)
        });
        check((1.0..=2.0).contains(&g.repeat_penalty), &mut p, || {
            format!("Repeat penalty must be between 1 and 2 (it is {}).", g.repeat_penalty)
        });
        let r = &self.retrieval;
        check((1..=32).contains(&r.top_k), &mut p, || {
            format!("Passages per answer must be between 1 and 32 (it is {}).", r.top_k)
        });
        check((64..=512).contains(&r.chunk_tokens), &mut p, || {
            format!("Chunk size must be between 64 and 512 tokens (it is {}).", r.chunk_tokens)
        });
        check(r.chunk_overlap <= r.chunk_tokens / 2, &mut p, || {
            format!(
                "Chunk overlap must be at most half the chunk size, {} tokens (it is {}).",
                r.chunk_tokens / 2,
                r.chunk_overlap
            )
        });
        let rt = &self.runtime;
        check((512..=131_072).contains(&rt.context_size), &mut p, || {
            format!("Context size must be between 512 and 131072 tokens (it is {}).", rt.context_size)
        });
        check(rt.threads <= 1024, &mut p, || format!("Threads must be between 0 and 1024 (it is {}).", rt.threads));
        check(!matches!(rt.gpu_layers, GpuLayers::Count(n) if n > 1000), &mut p, || {
            "GPU layers must be all, none or a number up to 1000.".to_string()
        });
        for (role, path) in
            [("chat", &self.models.chat), ("embedding", &self.models.embedding), ("reranker", &self.models.reranker)]
        {
            if let Some(path) = path {
                check(path.is_file(), &mut p, || format!("The {role} model file does not exist: {}.", path.display()));
            }
        }
        for (role, remote) in [("chat", &self.remote.chat), ("embedding", &self.remote.embedding)] {
            if let Some(problem) = remote.as_ref().and_then(|r| r.problem(role)) {
                p.push(problem);
            }
        }
        p
    }

    /// These settings when they are valid; otherwise an `InvalidInput` error listing every problem.
    pub fn validated(self) -> Result<Settings> {
        let problems = self.problems();
        if problems.is_empty() { Ok(self) } else { Err(Error::InvalidInput(problems.join(" "))) }
    }

    /// Whether going from `self` to `other` changes how documents are chunked (the library must be re-indexed).
    pub fn rechunks(&self, other: &Settings) -> bool {
        self.retrieval.chunk_tokens != other.retrieval.chunk_tokens
            || self.retrieval.chunk_overlap != other.retrieval.chunk_overlap
    }

    /// The settings saved in `data_dir`, or the defaults when there are none. A damaged file is an error
    /// (it is not silently replaced: the user's choices would be lost).
    pub fn load(data_dir: &Path) -> Result<Settings> {
        let file = data_dir.join(FILE_NAME);
        match std::fs::read_to_string(&file) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Error::InvalidInput(format!("the settings file {} is damaged ({e}); fix or delete it", file.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(Error::io(&file, e)),
        }
    }

    /// Validates and saves atomically (a temporary file renamed over the old one).
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        let settings = self.clone().validated()?;
        let text = serde_json::to_vec_pretty(&settings).map_err(|e| Error::InvalidInput(e.to_string()))?;
        crate::paths::write_atomic(&data_dir.join(FILE_NAME), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(Settings::load(dir.path()).expect("load"), Settings::default());
        assert!(Settings::default().problems().is_empty(), "{:?}", Settings::default().problems());

        let mut s = Settings::default();
        s.generation.temperature = 0.7;
        s.runtime.gpu_layers = GpuLayers::Count(12);
        s.appearance.theme = Theme::Dark;
        s.save(dir.path()).expect("save");
        assert_eq!(Settings::load(dir.path()).expect("load"), s);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(FILE_NAME)).expect("read")).expect("json");
        assert_eq!(json["runtime"]["gpu_layers"], 12);
        assert_eq!(json["appearance"]["theme"], "dark");
    }

    #[test]
    fn every_bad_value_is_named_and_nothing_is_saved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Settings::default();
        s.generation.temperature = 3.0;
        s.generation.top_p = 0.0;
        s.retrieval.chunk_tokens = 128;
        s.retrieval.chunk_overlap = 100;
        s.models.chat = Some(dir.path().join("missing.gguf"));

        let error = s.save(dir.path()).expect_err("invalid settings were saved");
        let message = error.to_string();
        for part in ["Temperature must be between 0 and 2", "Top-p", "at most half the chunk size, 64", "missing.gguf"]
        {
            assert!(message.contains(part), "{message}");
        }
        assert!(!dir.path().join(FILE_NAME).exists());
    }

    #[test]
    fn a_partial_file_takes_defaults_for_the_rest_and_a_damaged_one_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), r#"{"generation": {"temperature": 0.5}}"#).expect("write");
        let s = Settings::load(dir.path()).expect("load");
        assert_eq!(s.generation.temperature, 0.5);
        assert_eq!(s.retrieval, Retrieval::default());

        std::fs::write(dir.path().join(FILE_NAME), "{not json").expect("write");
        let error = Settings::load(dir.path()).expect_err("a damaged file loaded");
        assert!(error.to_string().contains("damaged"), "{error}");
    }

    #[test]
    fn remote_endpoints_are_checked_and_normalised() {
        let endpoint = |url: &str, model: &str| RemoteEndpoint { base_url: url.into(), model: model.into() };
        let mut s = Settings::default();
        s.remote.chat = Some(endpoint("http://127.0.0.1:8080/v1/", "llama"));
        s.remote.embedding = Some(endpoint("https://example.org", "nomic-embed-text"));
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        assert_eq!(
            s.remote.chat.as_ref().map(|e| e.url("chat/completions")).as_deref(),
            Some("http://127.0.0.1:8080/v1/chat/completions")
        );
        assert_eq!(
            s.remote.embedding.as_ref().map(|e| e.url("embeddings")).as_deref(),
            Some("https://example.org/v1/embeddings")
        );

        for (url, model, part) in [
            ("ftp://host", "m", "must start with http:// or https://"),
            ("localhost:8080", "m", "must start with http:// or https://"),
            ("http://", "m", "has no host name"),
            ("http://user:sk-123@host", "m", "must not contain a user name or key"),
            ("http://host/?key=1", "m", "without spaces"),
            ("http://host:99999", "m", "port must be a number"),
            ("http://host:8080", " ", "needs a model name"),
        ] {
            s.remote.chat = Some(endpoint(url, model));
            let message = s.clone().validated().expect_err(url).to_string();
            assert!(message.contains(part) && message.contains("remote chat server"), "{url}: {message}");
        }
    }

    #[test]
    fn only_chunking_changes_need_a_reindex() {
        let a = Settings::default();
        let mut b = a.clone();
        b.generation.temperature = 1.0;
        assert!(!a.rechunks(&b));
        b.retrieval.chunk_overlap = 16;
        assert!(a.rechunks(&b));
    }
}
