//! Searching Hugging Face for GGUF models beyond the catalog: the model search (`GET /api/models?search=…&filter=gguf`)
//! and each repository's file tree (`GET /api/models/{repo}/tree/main?recursive=true`), whose LFS entries give every
//! file's size and sha256, so a file found here downloads as verified as a catalog entry. The endpoint is
//! configurable (`HF_ENDPOINT`, as for Hugging Face's own tools, or a mirror); tests point it at a loopback server.
//! Blocking, like [`crate::download`]: call it off async tasks.

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::LINK;
use serde::{Deserialize, Serialize};

use crate::catalog::{encode_segment, resolve_url};
use crate::download::{error_chain, http_reason};
use crate::{DEFAULT_ENDPOINT, DownloadRequest, ModelsError};

/// Pages of a repository tree read at most (the API pages by 1,000 entries).
const MAX_TREE_PAGES: usize = 20;
/// Largest answer accepted from the API.
const MAX_RESPONSE_BYTES: u64 = 32 << 20;

/// A client for the Hugging Face Hub API.
#[derive(Debug, Clone)]
pub struct HfClient {
    endpoint: String,
    client: Client,
}

/// A model repository found by a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HfModel {
    /// `owner/name`.
    pub id: String,
    #[serde(default)]
    pub downloads: u64,
    #[serde(default)]
    pub likes: u64,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub pipeline_tag: Option<String>,
    #[serde(default)]
    pub library_name: Option<String>,
    #[serde(default, rename = "createdAt")]
    pub created_at: Option<String>,
    #[serde(default, rename = "lastModified")]
    pub last_modified: Option<String>,
    /// `false`, or how access is granted (`"auto"`, `"manual"`): a gated repository needs an account.
    #[serde(default, deserialize_with = "gated")]
    pub gated: bool,
    #[serde(default)]
    pub private: bool,
}

impl HfModel {
    /// The licence tag (`license:apache-2.0` → `apache-2.0`).
    pub fn license(&self) -> Option<&str> {
        self.tags.iter().find_map(|t| t.strip_prefix("license:"))
    }
}

fn gated<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::Null => false,
        serde_json::Value::String(s) => !s.is_empty() && s != "false",
        _ => true,
    })
}

/// One GGUF file of a repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HfFile {
    pub repo: String,
    /// Its path in the repository.
    pub path: String,
    pub size: u64,
    /// From the LFS pointer (Git LFS's object id is the sha256 of the content).
    pub sha256: Option<String>,
    /// Read from the file name (`Q4_K_M`, `Q8_0`, `F16`, …).
    pub quantization: Option<String>,
    /// `(part, parts)` for a model split in several files (`-00001-of-00003.gguf`): Quire loads single files only.
    pub split: Option<(u32, u32)>,
    /// A vision projector (`mmproj`), not a model on its own.
    pub projector: bool,
}

impl HfFile {
    /// The file's name in the models folder.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The download of this file from `endpoint`, with its size and sha256.
    pub fn request(&self, endpoint: &str) -> DownloadRequest {
        DownloadRequest {
            url: resolve_url(endpoint, &self.repo, &self.path),
            file_name: self.file_name().to_string(),
            size: Some(self.size),
            sha256: self.sha256.clone(),
        }
    }
}

/// An entry of `GET /api/models/{repo}/tree/{revision}`.
#[derive(Debug, Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Debug, Deserialize)]
struct Lfs {
    /// The sha256 of the content. (Some clients document the field as `sha256`.)
    #[serde(alias = "sha256")]
    oid: Option<String>,
    size: Option<u64>,
}

impl HfClient {
    /// A client for `endpoint` (`https://huggingface.co`, a mirror, or a test server).
    pub fn new(endpoint: &str) -> Result<HfClient, ModelsError> {
        let client = Client::builder()
            .user_agent(concat!("quire/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ModelsError::Network { url: endpoint.to_string(), reason: error_chain(&e) })?;
        Ok(HfClient { endpoint: endpoint.trim_end_matches('/').to_string(), client })
    }

    /// The endpoint in `HF_ENDPOINT`, else Hugging Face.
    pub fn endpoint_from_env() -> String {
        std::env::var("HF_ENDPOINT").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Model repositories with GGUF files matching `query`, most downloaded first.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<HfModel>, ModelsError> {
        let url = format!("{}/api/models", self.endpoint);
        let limit = limit.clamp(1, 100).to_string();
        let request = self.client.get(&url).query(&[
            ("search", query),
            ("filter", "gguf"),
            ("sort", "downloads"),
            ("direction", "-1"),
            ("limit", limit.as_str()),
        ]);
        let (body, _) = self.fetch(request, &url)?;
        serde_json::from_slice(&body).map_err(|e| ModelsError::BadApiResponse { url, reason: e.to_string() })
    }

    /// The GGUF files of a repository (its main branch, every folder), with sizes and hashes.
    pub fn gguf_files(&self, repo: &str) -> Result<Vec<HfFile>, ModelsError> {
        let repo_path: Vec<String> = repo.split('/').map(encode_segment).collect();
        let mut url = format!("{}/api/models/{}/tree/main?recursive=true", self.endpoint, repo_path.join("/"));
        let mut files = Vec::new();
        for _ in 0..MAX_TREE_PAGES {
            let (body, next) = self.fetch(self.client.get(&url), &url)?;
            let entries: Vec<TreeEntry> = serde_json::from_slice(&body)
                .map_err(|e| ModelsError::BadApiResponse { url: url.clone(), reason: e.to_string() })?;
            files.extend(entries.into_iter().filter_map(|e| gguf_file(repo, e)));
            match next {
                Some(next) => url = next,
                None => break,
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// One file of a repository, found in its tree.
    pub fn gguf_file(&self, repo: &str, path: &str) -> Result<Option<HfFile>, ModelsError> {
        Ok(self.gguf_files(repo)?.into_iter().find(|f| f.path == path))
    }

    /// The body of a successful answer, and the next page's URL from its `Link` header.
    fn fetch(
        &self,
        request: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<(Vec<u8>, Option<String>), ModelsError> {
        let response =
            request.send().map_err(|e| ModelsError::Network { url: url.to_string(), reason: http_reason(e) })?;
        let status = response.status();
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 | 403 => " (the repository is private or gated)",
                404 => " (no such repository)",
                429 => " (too many requests: try again in a minute)",
                _ => "",
            };
            return Err(ModelsError::HttpStatus { url: url.to_string(), status: status.as_u16(), hint: hint.into() });
        }
        let next = response.headers().get(LINK).and_then(|v| v.to_str().ok()).and_then(next_link);
        let mut body = Vec::new();
        use std::io::Read;
        response
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| ModelsError::Network { url: url.to_string(), reason: error_chain(&e) })?;
        Ok((body, next))
    }
}

fn gguf_file(repo: &str, e: TreeEntry) -> Option<HfFile> {
    if e.kind != "file" || !e.path.to_ascii_lowercase().ends_with(".gguf") {
        return None;
    }
    // an LFS row's own `size` may be the pointer's: the LFS object's size is the file's
    let size = e.lfs.as_ref().and_then(|l| l.size).unwrap_or(e.size);
    let sha256 = e
        .lfs
        .and_then(|l| l.oid)
        .map(|o| o.to_ascii_lowercase())
        .filter(|o| o.len() == 64 && o.bytes().all(|b| b.is_ascii_hexdigit()));
    let name = e.path.rsplit('/').next().unwrap_or(&e.path).to_string();
    Some(HfFile {
        repo: repo.to_string(),
        quantization: quantization_of(&name),
        split: split_of(&name),
        projector: name.to_ascii_lowercase().contains("mmproj"),
        path: e.path,
        size,
        sha256,
    })
}

/// The quantization named in a GGUF file name: the last token like `Q4_K_M`, `IQ3_XXS`, `Q8_0`, `F16`, `BF16`.
pub fn quantization_of(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".gguf").or_else(|| file_name.strip_suffix(".GGUF")).unwrap_or(file_name);
    stem.split(['-', '.']).map(str::to_ascii_uppercase).rfind(|t| {
        let rest = t.strip_prefix("IQ").or_else(|| t.strip_prefix('Q')).unwrap_or_default().as_bytes();
        matches!(t.as_str(), "F16" | "BF16" | "F32")
            || (rest.first().is_some_and(u8::is_ascii_digit) && (rest.len() == 1 || rest[1] == b'_'))
    })
}

/// `(part, parts)` of `name-00001-of-00003.gguf`.
fn split_of(file_name: &str) -> Option<(u32, u32)> {
    let stem = file_name.strip_suffix(".gguf")?;
    let (head, parts) = stem.rsplit_once("-of-")?;
    let part = head.rsplit('-').next()?;
    if part.len() != 5 || parts.len() != 5 {
        return None;
    }
    Some((part.parse().ok()?, parts.parse().ok()?))
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizations_come_from_file_names() {
        for (name, q) in [
            ("Qwen3-0.6B-Q4_K_M.gguf", Some("Q4_K_M")),
            ("SmolLM2-135M-Instruct.Q4_1.gguf", Some("Q4_1")),
            ("bge-m3-q8_0.gguf", Some("Q8_0")),
            ("nomic-embed-text-v1.5.f16.gguf", Some("F16")),
            ("Llama-3.2-1B-Instruct-IQ3_XXS.gguf", Some("IQ3_XXS")),
            ("model-bf16-00001-of-00002.gguf", Some("BF16")),
            ("Qwen2.5-7B-Instruct.gguf", None),
        ] {
            assert_eq!(quantization_of(name).as_deref(), q, "{name}");
        }
    }

    #[test]
    fn split_files_and_next_pages_are_recognised() {
        assert_eq!(split_of("qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf"), Some((1, 2)));
        assert_eq!(split_of("qwen2.5-7b-instruct-q4_k_m.gguf"), None);
        assert_eq!(
            next_link("<https://huggingface.co/api/models/a/b/tree/main?recursive=true&cursor=xyz>; rel=\"next\"")
                .as_deref(),
            Some("https://huggingface.co/api/models/a/b/tree/main?recursive=true&cursor=xyz")
        );
        assert_eq!(next_link("<https://x>; rel=\"prev\""), None);
    }

    #[test]
    fn tree_entries_take_the_lfs_size_and_hash() {
        let entries: Vec<TreeEntry> = serde_json::from_str(
            r#"[
              {"type":"directory","oid":"1","size":0,"path":"BF16"},
              {"type":"file","oid":"2","size":1519,"path":"README.md"},
              {"type":"file","oid":"3","size":135,"path":"BF16/m-BF16-00001-of-00002.gguf",
               "lfs":{"oid":"AA473D51F451A22F0FCF39BA3330C14BED38A385712B1113440F69DF4047A173","size":24000000000,"pointerSize":135}},
              {"type":"file","oid":"4","size":4096,"path":"small.gguf"}
            ]"#,
        )
        .expect("tree JSON");
        let files: Vec<HfFile> = entries.into_iter().filter_map(|e| gguf_file("o/r", e)).collect();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].size, 24_000_000_000);
        assert_eq!(
            files[0].sha256.as_deref(),
            Some("aa473d51f451a22f0fcf39ba3330c14bed38a385712b1113440f69df4047a173")
        );
        assert_eq!(files[0].split, Some((1, 2)));
        assert_eq!(files[0].file_name(), "m-BF16-00001-of-00002.gguf");
        assert_eq!(files[1].sha256, None);
        let req = files[0].request("http://127.0.0.1:1/");
        assert_eq!(req.url, "http://127.0.0.1:1/o/r/resolve/main/BF16/m-BF16-00001-of-00002.gguf");
        assert_eq!(req.size, Some(24_000_000_000));
    }

    #[test]
    fn gated_is_a_bool_or_a_mode() {
        let models: Vec<HfModel> = serde_json::from_str(
            r#"[{"id":"a/b","gated":false},{"id":"c/d","gated":"manual","tags":["gguf","license:gemma"]},{"id":"e/f"}]"#,
        )
        .expect("models");
        assert_eq!(models.iter().map(|m| m.gated).collect::<Vec<_>>(), [false, true, false]);
        assert_eq!(models[1].license(), Some("gemma"));
    }
}
