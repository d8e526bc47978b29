//! The real starter models, as `scripts/models.sh` installs them into `models_dir()`. Each test prints why and
//! passes when the model is not installed (the project's test script installs them first).

use quire_models::{GgufInfo, Role, find_starter, sha256_file, starter};

fn installed(role: Role) -> Option<std::path::PathBuf> {
    match find_starter(role) {
        Ok(path) => Some(path),
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            None
        }
    }
}

fn summary(path: &std::path::Path, info: &GgufInfo) {
    println!(
        "{}: {} {:?}, ctx {:?}, embd {:?}, {} tensors {:?}, {} parameters, file type {:?}, pooling {:?}",
        path.display(),
        info.architecture,
        info.name,
        info.context_length,
        info.embedding_length,
        info.tensor_count,
        info.tensor_types,
        info.parameter_count,
        info.file_type_name(),
        info.pooling_type_name(),
    );
}

#[test]
fn chat_starter_model_metadata() {
    let Some(path) = installed(Role::Chat) else { return };
    let info = GgufInfo::read(&path).expect("the starter chat model is a valid GGUF");
    summary(&path, &info);
    assert_eq!(info.version, 3);
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.context_length, Some(8192));
    assert_eq!(info.embedding_length, Some(576));
    assert_eq!(info.block_count, Some(30));
    assert_eq!(info.head_count, Some(9));
    assert_eq!(info.head_count_kv, Some(3));
    assert_eq!(info.file_type_name(), Some("Q4_1"));
    assert_eq!(info.pooling_type, None);
    assert_eq!(info.vocab_size(), Some(49152));
    let template = info.chat_template.as_deref().expect("SmolLM2-Instruct ships a chat template");
    assert!(template.contains("<|im_start|>"), "ChatML template expected: {template}");
    assert_eq!(info.tensor_count, 272);
    assert!(info.tensor_types.contains_key("q4_1"));
    // 135M parameters (tied embeddings)
    assert!((130_000_000..140_000_000).contains(&info.parameter_count), "{}", info.parameter_count);
}

#[test]
fn embedding_starter_model_metadata_and_hash() {
    let Some(path) = installed(Role::Embedding) else { return };
    let info = GgufInfo::read(&path).expect("the starter embedding model is a valid GGUF");
    summary(&path, &info);
    assert_eq!(info.architecture, "bert");
    assert_eq!(info.context_length, Some(512));
    assert_eq!(info.embedding_length, Some(384));
    assert_eq!(info.block_count, Some(6));
    assert_eq!(info.head_count, Some(12));
    assert_eq!(info.file_type_name(), Some("Q8_0"));
    assert_eq!(info.pooling_type_name(), Some("mean"));
    assert_eq!(info.chat_template, None);
    assert_eq!(info.vocab_size(), Some(30522));
    assert_eq!(info.tensor_count, 101);
    assert_eq!(info.tensor_types.get("q8_0"), Some(&37));
    assert_eq!(info.tensor_types.get("f32"), Some(&64));
    assert_eq!(info.parameter_count, 22_565_376);
    assert_eq!(info.kv.get("bert.attention.causal").and_then(|v| v.as_bool()), Some(false));
    assert_eq!(info.kv.get("tokenizer.ggml.model").and_then(|v| v.as_str()), Some("bert"));
    assert_eq!(info.kv.get("tokenizer.ggml.normalizer.lowercase").and_then(|v| v.as_bool()), Some(true));
    // 25 MB: cheap enough to hash in a test (the converter's output is deterministic)
    assert_eq!(sha256_file(&path).expect("hash"), starter(Role::Embedding).sha256);
}
