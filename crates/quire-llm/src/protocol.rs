//! Messages between the core and the model worker process.

use serde::{Deserialize, Serialize};

use quire_core::EmbedderInfo;

/// How the embedding model runs. Passed to the worker as command-line flags, so a restarted worker loads the
/// same model the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedOptions {
    /// CPU threads (0: all cores).
    pub threads: usize,
    /// Tokens per llama.cpp call; several inputs are packed into one call. Also the longest input.
    pub batch_tokens: usize,
    /// Most inputs packed into one call.
    pub max_sequences: usize,
    pub flash_attention: bool,
    /// Layers offloaded to the GPU (0: CPU only). Ignored by CPU-only builds.
    pub gpu_layers: u32,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions { threads: 0, batch_tokens: 512, max_sequences: 64, flash_attention: true, gpu_layers: 0 }
    }
}

impl EmbedOptions {
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--threads".to_string(),
            self.threads.to_string(),
            "--batch-tokens".to_string(),
            self.batch_tokens.to_string(),
            "--max-sequences".to_string(),
            self.max_sequences.to_string(),
            "--gpu-layers".to_string(),
            self.gpu_layers.to_string(),
        ];
        if !self.flash_attention {
            args.push("--no-flash-attention".to_string());
        }
        args
    }

    /// Reads the flags written by [`EmbedOptions::to_args`]; unknown flags are errors.
    pub fn from_args(args: &[String]) -> Result<(std::path::PathBuf, EmbedOptions), String> {
        let mut o = EmbedOptions::default();
        let mut model = None;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
            let number = |v: String| v.parse::<usize>().map_err(|_| format!("{flag}: not a number: {v}"));
            match flag.as_str() {
                "--model" => model = Some(std::path::PathBuf::from(value()?)),
                "--threads" => o.threads = number(value()?)?,
                "--batch-tokens" => o.batch_tokens = number(value()?)?,
                "--max-sequences" => o.max_sequences = number(value()?)?,
                "--gpu-layers" => o.gpu_layers = number(value()?)? as u32,
                "--no-flash-attention" => o.flash_attention = false,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        let model = model.ok_or("--model is required")?;
        Ok((model, o))
    }
}

/// A request to the model worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelRequest {
    /// What the loaded embedding model is.
    Info,
    /// Tokens per text, without special tokens.
    CountTokens { texts: Vec<String> },
    /// Embeds texts; inputs longer than the window are cut (and counted).
    Embed { texts: Vec<String> },
}

/// The worker's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelReply {
    Info(EmbedderInfo),
    Counts {
        counts: Vec<u32>,
    },
    /// `data`: base64 of the little-endian f32 values, `dim` per input, L2-normalised.
    Embeddings {
        dim: usize,
        data: String,
        tokens: Vec<u32>,
        truncated: u32,
    },
    Error {
        message: String,
    },
}
