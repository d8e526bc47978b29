//! The curated catalog: recommended GGUF models by role, from `catalog.json` (embedded at build time, so updating
//! the catalog is editing that file).
//!
//! An entry names one file of a Hugging Face repository. `size` and `sha256` are optional: a value nobody has
//! checked is left out rather than guessed, and such a download is verified against the server's length and the
//! GGUF header only, its sha256 recorded from the first download (see [`crate::download`]).

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::{ModelRole, ModelsError, STARTER_MODELS};

/// Where the catalog's files are downloaded from, unless told otherwise (`HF_ENDPOINT` or a flag).
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

const CATALOG_JSON: &str = include_str!("../catalog.json");

/// The catalog as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// What the file is, for whoever edits it.
    pub about: String,
    pub version: u32,
    pub models: Vec<CatalogEntry>,
}

/// One recommended model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// Stable identifier (`quire models download ID`).
    pub id: String,
    pub name: String,
    pub role: ModelRole,
    /// The Hugging Face repository (`owner/name`); none for a model `scripts/models.sh` makes itself.
    pub repo: Option<String>,
    /// The file's path in the repository; its last component is the file name in the models folder.
    pub file: String,
    /// Bytes, when known.
    pub size: Option<u64>,
    /// Lowercase hex, when known.
    pub sha256: Option<String>,
    pub quantization: String,
    /// Parameter count as people say it ("1.7B").
    pub parameters: String,
    /// SPDX id or the model family's licence name.
    pub license: String,
    /// ISO 639-1 codes, or `multilingual`.
    pub languages: Vec<String>,
    /// The context the model was trained for, in tokens.
    pub context_length: u32,
    /// Installed by `scripts/models.sh`.
    #[serde(default)]
    pub starter: bool,
    /// Where a filled `size` or `sha256` comes from.
    #[serde(default)]
    pub provenance: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl CatalogEntry {
    /// The file's name in the models folder.
    pub fn file_name(&self) -> &str {
        self.file.rsplit('/').next().unwrap_or(&self.file)
    }

    /// Whether the model is meant for texts in `language` (an ISO 639-1 code).
    pub fn supports_language(&self, language: &str) -> bool {
        self.languages.iter().any(|l| l == "multilingual" || l.eq_ignore_ascii_case(language))
    }

    /// The file's size estimated from the parameter count and the quantization's bits per weight (GGUF block
    /// formats: Q8_0 stores 32 weights in 34 bytes, Q4_K_M mixes Q4_K and Q6_K blocks, …), for a fit before the
    /// size is known. None when either cannot be read.
    pub fn approx_size(&self) -> Option<u64> {
        let params = parse_parameters(&self.parameters)?;
        let bits = bits_per_weight(&self.quantization)?;
        Some((params * bits / 8.0).round() as u64)
    }

    /// The download URL at `endpoint` (`https://huggingface.co` or a mirror): `<endpoint>/<repo>/resolve/main/<file>`.
    /// None when the entry has no repository.
    pub fn url(&self, endpoint: &str) -> Option<String> {
        let repo = self.repo.as_deref()?;
        Some(resolve_url(endpoint, repo, &self.file))
    }
}

/// "1.7B", "360M", "33M" → the parameter count.
fn parse_parameters(text: &str) -> Option<f64> {
    let t = text.trim();
    let (number, scale) = match t.chars().last()? {
        'B' | 'b' => (&t[..t.len() - 1], 1e9),
        'M' | 'm' => (&t[..t.len() - 1], 1e6),
        'K' | 'k' => (&t[..t.len() - 1], 1e3),
        _ => (t, 1.0),
    };
    let n: f64 = number.trim().parse().ok()?;
    (n.is_finite() && n > 0.0).then_some(n * scale)
}

/// Average bits per weight of a llama.cpp quantization (its block layout; the K-quant mixes as llama.cpp's
/// `quantize` reports them).
fn bits_per_weight(quantization: &str) -> Option<f64> {
    Some(match quantization.to_ascii_uppercase().as_str() {
        "F32" => 32.0,
        "F16" | "BF16" => 16.0,
        "Q8_0" => 8.5,
        "Q6_K" => 6.5625,
        "Q5_K_M" => 5.69,
        "Q5_K_S" => 5.54,
        "Q5_0" => 5.5,
        "Q5_1" => 6.0,
        "Q4_K_M" => 4.89,
        "Q4_K_S" => 4.58,
        "Q4_1" => 5.0,
        "Q4_0" => 4.5,
        "IQ4_XS" => 4.25,
        "Q3_K_M" => 3.91,
        "Q2_K" => 2.96,
        _ => return None,
    })
}

/// `<endpoint>/<repo>/resolve/main/<path>`, each path segment percent-encoded.
pub fn resolve_url(endpoint: &str, repo: &str, path: &str) -> String {
    let mut url = endpoint.trim_end_matches('/').to_string();
    for segment in repo.split('/').chain(["resolve", "main"]).chain(path.split('/')) {
        url.push('/');
        url.push_str(&encode_segment(segment));
    }
    url
}

/// Percent-encoding of one URL path segment (unreserved characters kept).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| match parse(CATALOG_JSON) {
    Ok(catalog) => catalog,
    // the unit tests parse the embedded file, so a broken catalog never leaves CI
    Err(e) => panic!("the embedded catalog.json is invalid: {e}"),
});

/// The embedded catalog.
pub fn catalog() -> &'static Catalog {
    &CATALOG
}

/// The catalog entry `id`.
pub fn catalog_entry(id: &str) -> Result<&'static CatalogEntry, ModelsError> {
    catalog().models.iter().find(|m| m.id == id).ok_or_else(|| ModelsError::UnknownModel { id: id.to_string() })
}

/// Parses and checks a catalog: unique ids, a file name ending in `.gguf`, a sha256 of 64 lowercase hex digits
/// when given, and every starter model present with its pinned size and sha256.
pub fn parse(json: &str) -> Result<Catalog, String> {
    let catalog: Catalog = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut ids = std::collections::HashSet::new();
    for m in &catalog.models {
        let what = |problem: &str| format!("catalog entry {:?}: {problem}", m.id);
        if m.id.is_empty() || !ids.insert(m.id.as_str()) {
            return Err(what("the id is empty or used twice"));
        }
        if !m.file_name().to_ascii_lowercase().ends_with(".gguf") || m.file_name().starts_with('.') {
            return Err(what("the file is not a .gguf file name"));
        }
        if let Some(sha) = &m.sha256
            && !(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            return Err(what("sha256 must be 64 lowercase hex digits"));
        }
        if (m.size.is_some() || m.sha256.is_some()) && m.provenance.is_none() {
            return Err(what("a filled size or sha256 needs its provenance"));
        }
        if m.repo.as_deref().is_some_and(|r| r.split('/').count() != 2 || r.split('/').any(str::is_empty)) {
            return Err(what("repo must be owner/name"));
        }
        if m.languages.is_empty() || m.context_length == 0 {
            return Err(what("languages and context_length are required"));
        }
    }
    for s in &STARTER_MODELS {
        let Some(m) = catalog.models.iter().find(|m| m.id == s.id) else {
            return Err(format!("the starter model {} is missing from the catalog", s.id));
        };
        if !(m.starter
            && m.file_name() == s.file_name
            && m.size == Some(s.size)
            && m.sha256.as_deref() == Some(s.sha256))
        {
            return Err(format!("catalog entry {:?} does not match the starter model's file, size and sha256", s.id));
        }
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {

    #[test]
    fn sizes_are_estimated_from_parameters_and_quantization() {
        // the starters' real sizes are pinned: the estimate is within a fifth of them
        let starters: Vec<_> = catalog().models.iter().filter(|m| m.starter).collect();
        assert!(starters.len() >= 2);
        for m in starters {
            let (real, guess) = (m.size.expect("size") as f64, m.approx_size().expect("an estimate") as f64);
            assert!((guess / real - 1.0).abs() < 0.2, "{}: estimated {guess}, real {real}", m.id);
        }
        assert_eq!(parse_parameters("1.7B"), Some(1.7e9));
        assert_eq!(parse_parameters("360M"), Some(3.6e8));
        assert_eq!(parse_parameters("lots"), None);
        assert_eq!(bits_per_weight("q8_0"), Some(8.5));
        assert_eq!(bits_per_weight("Q9_Z"), None);
    }

    use super::*;

    #[test]
    fn the_embedded_catalog_parses_and_covers_every_role() {
        let catalog = parse(CATALOG_JSON).expect("catalog.json is valid");
        for role in [ModelRole::Chat, ModelRole::Embedding, ModelRole::Reranker] {
            assert!(catalog.models.iter().any(|m| m.role == role), "no {role:?} model");
        }
        // English and multilingual embedding models
        let embed: Vec<&CatalogEntry> = catalog.models.iter().filter(|m| m.role == ModelRole::Embedding).collect();
        assert!(embed.iter().any(|m| m.languages == ["en"]));
        assert!(embed.iter().any(|m| m.supports_language("ru")));
        for m in &catalog.models {
            if let Some(sha) = &m.sha256 {
                assert_eq!(sha.len(), 64, "{}", m.id);
                assert!(sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{}", m.id);
            }
            assert!(m.starter || m.repo.is_some(), "{} can be downloaded", m.id);
        }
        assert_eq!(catalog_entry("smollm2-135m-instruct-q4_1").map(|m| m.role).ok(), Some(ModelRole::Chat));
        assert!(matches!(catalog_entry("nope"), Err(ModelsError::UnknownModel { .. })));
    }

    #[test]
    fn a_bad_catalog_is_refused_with_the_reason() {
        let good = CATALOG_JSON;
        let twice = good.replacen("\"id\": \"qwen3-4b-q4_k_m\"", "\"id\": \"qwen3-8b-q4_k_m\"", 1);
        assert!(parse(&twice).expect_err("duplicate").contains("used twice"));
        let upper = good.replacen("ec38e8da142596ba", "EC38E8DA142596BA", 1);
        assert!(parse(&upper).expect_err("uppercase").contains("64 lowercase hex"));
        let starter = good.replacen("\"size\": 98362432", "\"size\": 98362433", 1);
        assert!(parse(&starter).expect_err("starter").contains("starter model"));
        let unknown = good.replacen("\"parameters\": \"360M\"", "\"parameters\": \"360M\", \"colour\": 1", 1);
        assert!(parse(&unknown).expect_err("unknown field").contains("colour"));
    }

    #[test]
    fn urls_point_at_the_resolve_endpoint() {
        let m = catalog_entry("bge-m3-q8_0").expect("entry");
        assert_eq!(
            m.url("https://huggingface.co/").as_deref(),
            Some("https://huggingface.co/ggml-org/bge-m3-Q8_0-GGUF/resolve/main/bge-m3-q8_0.gguf")
        );
        assert_eq!(catalog_entry("all-minilm-l6-v2-q8_0").expect("entry").url(DEFAULT_ENDPOINT), None);
        assert_eq!(
            resolve_url("http://127.0.0.1:9", "a/b", "dir/x y+.gguf"),
            "http://127.0.0.1:9/a/b/resolve/main/dir/x%20y%2B.gguf"
        );
        let nested = CatalogEntry { file: "MTP/m.gguf".into(), ..m.clone() };
        assert_eq!(nested.file_name(), "m.gguf");
    }
}
