#!/usr/bin/env python3
"""Convert sentence-transformers/all-MiniLM-L6-v2 (a BertModel) to GGUF without torch, and check the result.

Only numpy and PyPI `gguf` (0.19.0) are needed. The output carries the same keys and tensors that llama.cpp's
official converter (convert_hf_to_gguf.py, class BertModel, `--outtype q8_0|f16|f32`) writes for this model:

  * tensors: the safetensors tensors sorted by name (as gguf.utility.SafetensorsLocal orders them), minus
    embeddings.position_ids and the pooler; names mapped with gguf's TensorNameMap for MODEL_ARCH.BERT.
    q8_0/f16: 2-D weights are Q8_0/F16 (token_embd too); 1-D tensors, *_norm.weight, position_embd and
    token_types stay F32.
  * keys: general.architecture/type/name/... (gguf.Metadata heuristics on the model directory), bert.block_count,
    context_length, embedding_length, feed_forward_length, attention.head_count, attention.layer_norm_epsilon,
    general.file_type, bert.attention.causal=false, bert.pooling_type (from 1_Pooling/config.json: MEAN),
    general.quantization_version, tokenizer.ggml.token_type_count, tokenizer.ggml.model="bert",
    tokenizer.ggml.pre (identified by the same token-hash the official converter uses), tokenizer.ggml.tokens
    (WordPiece "phantom space" form: "##x" -> "x", other non-control tokens -> "\u2581" + token),
    tokenizer.ggml.token_type, gguf.SpecialVocab's ids and add_* flags, and
    tokenizer.ggml.normalizer.lowercase=true (newer gguf-py writes it from tokenizer.json's BertNormalizer;
    gguf 0.19.0 has no add_normalizer_lowercase(), so it is written directly).

Check: for the all-MiniLM-L6-v2 safetensors from PyPI (upstream sha256 53aa5117...), in a folder named
all-MiniLM-L6-v2, this script's output is byte-identical to what the official converter (run with torch, from the
llama-cpp-python 0.3.36 sdist) writes: q8_0 sha256 ff33740b2eebbd62607d00b92b5b2d72bcff62cdc742bcd506ca0e574bb8e1c3
(25,282,528 bytes), f16 sha256 45013d2d36e25fb4f81be9fd7216f41e4c5afb936397c07a0e593b8b5fcac181 (46,223,712 bytes);
see ../shared/bench-peer/llama_embed/convert.sh, which records those hashes for the official converter.

Subcommands
  convert   MODEL_DIR --outfile OUT.gguf [--outtype q8_0|f16|f32]
  reference MODEL_DIR --out REF.json        numpy BERT forward pass (mean pooling + L2 normalisation, as
                                            sentence-transformers does) over fixed sentences
  validate  MODEL_DIR GGUF REF.json         read the GGUF back, check its keys, tokenise with its vocabulary and
                                            run the same forward pass on its (dequantised) tensors; the cosine
                                            to the reference must be >= --min-cosine (default 0.99)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import struct
import sys
import unicodedata
from pathlib import Path

import numpy as np

import gguf

# ---------------------------------------------------------------------------------------------------------------
# safetensors (parsed directly: 8-byte little-endian header length, JSON header, raw little-endian tensor bytes)

_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
              "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BF16": None}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (hlen,) = struct.unpack("<Q", raw)
        if hlen > min(size - 8, 100 * 1024 * 1024):
            raise ValueError(f"{path}: bad safetensors header length {hlen}")
        header = json.loads(f.read(hlen).decode("utf-8"))
    base = 8 + hlen
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = meta["dtype"]
        if dtype not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dtype}")
        shape = tuple(int(d) for d in meta["shape"])
        start, end = (int(x) for x in meta["data_offsets"])
        if not (0 <= start <= end and base + end <= size):
            raise ValueError(f"{path}: tensor {name}: data outside the file")
        buf = mm[base + start: base + end]
        if dtype == "BF16":
            arr = (buf.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = buf.view(np.dtype(_ST_DTYPES[dtype]).newbyteorder("<"))
        if arr.size != math.prod(shape):
            raise ValueError(f"{path}: tensor {name}: {arr.size} elements for shape {shape}")
        out[name] = arr.reshape(shape)
    return out


# ---------------------------------------------------------------------------------------------------------------
# BERT WordPiece tokenizer (what tokenizers' BertNormalizer + BertPreTokenizer + WordPiece do for this model)

def _is_whitespace(ch: str) -> bool:
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class WordPieceTokenizer:
    def __init__(self, vocab: list[str], lowercase: bool = True, strip_accents: bool | None = None,
                 unk: str = "[UNK]", cls: str = "[CLS]", sep: str = "[SEP]", max_chars_per_word: int = 100):
        self.vocab = vocab
        self.ids = {tok: i for i, tok in enumerate(vocab)}
        if len(self.ids) != len(vocab):
            raise ValueError("duplicate tokens in the vocabulary")
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.unk_id, self.cls_id, self.sep_id = self.ids[unk], self.ids[cls], self.ids[sep]
        self.max_chars = max_chars_per_word

    @classmethod
    def from_model_dir(cls, model_dir: Path) -> "WordPieceTokenizer":
        vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
        if vocab and vocab[-1] == "":
            vocab.pop()
        lowercase, strip = True, None
        tj = model_dir / "tokenizer.json"
        if tj.is_file():
            norm = json.loads(tj.read_text(encoding="utf-8")).get("normalizer") or {}
            if norm.get("type") == "BertNormalizer":
                lowercase = bool(norm.get("lowercase", True))
                strip = norm.get("strip_accents")
        return cls(vocab, lowercase=lowercase, strip_accents=strip)

    def normalize(self, text: str) -> str:
        out = []
        for ch in text:  # clean_text + handle_chinese_chars
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                out.append(" ")
            elif _is_cjk(cp):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        text = "".join(out)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if self.lowercase:
            text = text.lower()
        return text

    def pre_tokenize(self, text: str) -> list[str]:
        words: list[str] = []
        for chunk in text.split():
            cur = ""
            for ch in chunk:
                if _is_punctuation(ch):
                    if cur:
                        words.append(cur)
                        cur = ""
                    words.append(ch)
                else:
                    cur += ch
            if cur:
                words.append(cur)
        return words

    def wordpiece(self, word: str) -> list[int]:
        if len(word) > self.max_chars:
            return [self.unk_id]
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.ids:
                    found = self.ids[sub]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            pieces.append(found)
            start = end
        return pieces

    def encode(self, text: str, max_len: int = 256) -> list[int]:
        ids = [self.cls_id]
        for w in self.pre_tokenize(self.normalize(text)):
            ids.extend(self.wordpiece(w))
        ids = ids[: max_len - 1]
        ids.append(self.sep_id)
        return ids


# ---------------------------------------------------------------------------------------------------------------
# numpy BERT forward pass (float64; one sentence at a time, so no padding mask is needed)

_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def bert_embed(weights: dict[str, np.ndarray], hp: dict, ids: list[int]) -> np.ndarray:
    """weights use the GGUF tensor names (token_embd.weight, blk.N.attn_q.weight, ...), numpy (out, in) layout."""
    W = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    eps = float(hp["layer_norm_eps"])
    n_head = int(hp["num_attention_heads"])
    n = len(ids)
    x = W["token_embd.weight"][ids] + W["position_embd.weight"][:n] + W["token_types.weight"][0]
    x = _layer_norm(x, W["token_embd_norm.weight"], W["token_embd_norm.bias"], eps)
    d = x.shape[1]
    hd = d // n_head
    for i in range(int(hp["num_hidden_layers"])):
        p = f"blk.{i}."
        q = x @ W[p + "attn_q.weight"].T + W[p + "attn_q.bias"]
        k = x @ W[p + "attn_k.weight"].T + W[p + "attn_k.bias"]
        v = x @ W[p + "attn_v.weight"].T + W[p + "attn_v.bias"]
        q = q.reshape(n, n_head, hd).transpose(1, 0, 2)
        k = k.reshape(n, n_head, hd).transpose(1, 0, 2)
        v = v.reshape(n, n_head, hd).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, d)
        a = ctx @ W[p + "attn_output.weight"].T + W[p + "attn_output.bias"]
        x = _layer_norm(x + a, W[p + "attn_output_norm.weight"], W[p + "attn_output_norm.bias"], eps)
        h = _gelu(x @ W[p + "ffn_up.weight"].T + W[p + "ffn_up.bias"])
        o = h @ W[p + "ffn_down.weight"].T + W[p + "ffn_down.bias"]
        x = _layer_norm(x + o, W[p + "layer_output_norm.weight"], W[p + "layer_output_norm.bias"], eps)
    pooled = x.mean(axis=0)
    return pooled / max(np.linalg.norm(pooled), 1e-12)


# ---------------------------------------------------------------------------------------------------------------
# conversion

# get_vocab_base_pre() in convert_hf_to_gguf.py: sha256 of str(tokenizer.encode(CHKTXT)) identifies the
# pre-tokenizer. Only the WordPiece entries matter here; where the official table lists one hash twice, the later
# entry wins (it is a chain of `if`s), which is why bge-small-style BERT vocabularies come out as "jina-v2-en".
CHKTXT = ('\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ '
          '🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ '
          '------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s there, '
          '\'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL')
PRE_BY_HASH = {
    "0876d13b50744004aa9aeae05e7b0647eac9d801b5ba4668afc01e709c15e19f": "jina-v2-en",  # bert-bge, then jina-v2-en
    "8e62295832751ca1e8f92f2226f403dea30dc5165e448b5bfa05af5340c64ec7": "bert-bge-large",
    "c7699093ba4255a91e702aa38a596aa81669f3525dae06c2953267dde580f448": "jina-v1-en",
}

SKIP_TENSORS = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")
OUTTYPES = {
    "f32": (gguf.LlamaFileType.ALL_F32, gguf.GGMLQuantizationType.F32),
    "f16": (gguf.LlamaFileType.MOSTLY_F16, gguf.GGMLQuantizationType.F16),
    "q8_0": (gguf.LlamaFileType.MOSTLY_Q8_0, gguf.GGMLQuantizationType.Q8_0),
}
KEY_LOWERCASE = "tokenizer.ggml.normalizer.lowercase"  # LLM_KV_TOKENIZER_NORMALIZER_LOWERCASE in llama-arch.cpp


def _load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _tensor_name(key: gguf.MODEL_TENSOR, bid: int | None = None, suffix: str = ".weight") -> str:
    name = gguf.TENSOR_NAMES[key]
    return (name.format(bid=bid) if "{bid}" in name else name) + suffix


def _pooling_type(model_dir: Path) -> gguf.PoolingType | None:
    modules = model_dir / "modules.json"
    if not modules.is_file():
        return None
    pooling_path = next((m["path"] for m in _load_json(modules) if m["type"].endswith("Pooling")), None)
    if pooling_path is None:
        return None
    cfg = _load_json(model_dir / pooling_path / "config.json")
    if cfg.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if cfg.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    if cfg.get("pooling_mode_lasttoken"):
        return gguf.PoolingType.LAST
    mode = {"mean": gguf.PoolingType.MEAN, "cls": gguf.PoolingType.CLS, "lasttoken": gguf.PoolingType.LAST}
    if cfg.get("pooling_mode") in mode:
        return mode[cfg["pooling_mode"]]
    raise ValueError("only MEAN, CLS and LAST pooling are supported")


def _vocab(model_dir: Path, hp: dict) -> tuple[list[str], list[int]]:
    """get_vocab_base(): token list by id, CONTROL for special added tokens, NORMAL otherwise."""
    tj = _load_json(model_dir / "tokenizer.json")
    if tj["model"]["type"] != "WordPiece":
        raise ValueError("tokenizer.json: not a WordPiece model")
    vocab: dict[str, int] = dict(tj["model"]["vocab"])
    added = {t["content"]: t for t in tj.get("added_tokens", [])}
    for content, t in added.items():
        vocab.setdefault(content, t["id"])
    vocab_size = int(hp.get("vocab_size", len(vocab)))
    reverse = {i: tok for tok, i in vocab.items()}
    if max(reverse) >= vocab_size:
        raise ValueError("tokenizer ids exceed config vocab_size")
    tokens: list[str] = []
    types: list[int] = []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tok = reverse[i]
        if tok in added:
            t = added[tok]
            looks_special = tok in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (
                tok.startswith("<|") and tok.endswith("|>")) or (tok.startswith("<unused") and tok.endswith(">"))
            if t.get("special") or looks_special:
                types.append(gguf.TokenType.CONTROL)
            else:
                tok = tok.replace("\u2581", " ")
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(tok)
    # the vocab.txt the reference tokenizer uses must agree with tokenizer.json
    vt = WordPieceTokenizer.from_model_dir(model_dir).vocab
    if vt != tokens[: len(vt)] or len(vt) != vocab_size:
        raise ValueError("vocab.txt and tokenizer.json disagree")
    return tokens, types


def _tokenizer_pre(model_dir: Path) -> str:
    chktok = WordPieceTokenizer.from_model_dir(model_dir).encode(CHKTXT, max_len=1 << 30)
    chkhsh = hashlib.sha256(str(chktok).encode()).hexdigest()
    if chkhsh not in PRE_BY_HASH:
        raise ValueError(f"WordPiece pre-tokenizer not recognised (chkhsh {chkhsh})")
    return PRE_BY_HASH[chkhsh]


def convert(model_dir: Path, outfile: Path, outtype: str) -> None:
    hp = _load_json(model_dir / "config.json")
    if hp.get("architectures") != ["BertModel"]:
        raise ValueError(f"expected a BertModel, config.json says {hp.get('architectures')}")
    ftype, default_qtype = OUTTYPES[outtype]
    block_count = int(hp["num_hidden_layers"])
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, block_count)
    arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT]
    writer = gguf.GGUFWriter(path=None, arch=arch)

    # --- tensors (ModelBase.prepare_tensors)
    f32_always = {_tensor_name(gguf.MODEL_TENSOR.POS_EMBD), _tensor_name(gguf.MODEL_TENSOR.TOKEN_TYPES)}
    parts = sorted(p.name for p in model_dir.iterdir() if p.name.startswith("model") and p.name.endswith(".safetensors"))
    if parts != ["model.safetensors"]:
        raise ValueError(f"expected one model.safetensors, found {parts}")
    tensors = read_safetensors(model_dir / "model.safetensors")
    for name in sorted(tensors):
        hf_name = name[5:] if name.startswith("bert.") else name
        if hf_name.endswith(".gamma"):
            hf_name = hf_name[:-6] + ".weight"
        if hf_name.endswith(".beta"):
            hf_name = hf_name[:-5] + ".bias"
        if hf_name in SKIP_TENSORS or hf_name.startswith(("cls.predictions", "cls.seq_relationship")):
            continue
        data = tensors[name]
        if data.dtype not in (np.float16, np.float32):
            data = data.astype(np.float32)
        new_name = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise ValueError(f"cannot map tensor {hf_name!r}")
        if data.ndim <= 1 or new_name.endswith("_norm.weight") or new_name in f32_always \
                or new_name[-7:] not in (".weight", ".lora_a", ".lora_b"):
            qtype = gguf.GGMLQuantizationType.F32
        else:
            qtype = default_qtype
        try:
            qdata = gguf.quants.quantize(np.ascontiguousarray(data), qtype)
        except gguf.QuantError:
            qtype = gguf.GGMLQuantizationType.F16
            qdata = gguf.quants.quantize(np.ascontiguousarray(data), qtype)
        writer.add_tensor(new_name, qdata, raw_dtype=qtype)

    # --- metadata (ModelBase.prepare_metadata)
    total, shared, expert, expert_count = writer.get_total_parameter_count()
    meta = gguf.Metadata.load(None, model_dir, None, total)
    if meta.name is None:
        meta.name = model_dir.name
    if meta.size_label is None and total > 0:
        meta.size_label = gguf.size_label(total, shared, expert, expert_count)
    writer.add_type(gguf.GGUFType.MODEL)
    meta.set_gguf_meta_model(writer)

    # --- TextModel.set_gguf_parameters + BertModel.set_gguf_parameters
    writer.add_block_count(block_count)
    writer.add_context_length(int(hp["max_position_embeddings"]))
    writer.add_embedding_length(int(hp["hidden_size"]))
    writer.add_feed_forward_length(int(hp["intermediate_size"]))
    writer.add_head_count(int(hp["num_attention_heads"]))
    writer.add_layer_norm_eps(float(hp["layer_norm_eps"]))
    writer.add_file_type(ftype)
    writer.add_causal_attention(False)
    pooling = _pooling_type(model_dir)
    if pooling is not None:
        writer.add_pooling_type(pooling)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    # --- BertModel.set_vocab
    tokens, types = _vocab(model_dir, hp)
    writer.add_token_type_count(int(hp.get("type_vocab_size", 1)))

    def phantom(tok: str, toktype: int) -> str:
        if toktype == gguf.TokenType.CONTROL:
            return tok
        if tok.startswith("##"):
            return tok[2:]
        return "\u2581" + tok

    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre(_tokenizer_pre(model_dir))
    writer.add_token_list([phantom(t, k) for t, k in zip(tokens, types)])
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, n_vocab=len(tokens))
    special.add_to_gguf(writer, quiet=True)
    norm = _load_json(model_dir / "tokenizer.json").get("normalizer") or {}
    if _lowercase_normalizer(norm):
        writer.add_bool(KEY_LOWERCASE, True)

    writer.write_header_to_file(path=outfile)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()


def _lowercase_normalizer(norm: dict) -> bool:
    kind = norm.get("type")
    if kind == "Lowercase":
        return True
    if kind == "BertNormalizer":
        return bool(norm.get("lowercase", True))
    if kind == "Sequence":
        return any(_lowercase_normalizer(n) for n in norm.get("normalizers", []))
    return False


# ---------------------------------------------------------------------------------------------------------------
# reference embeddings + validation

SENTENCES = [
    "The cat sits on the mat.",
    "A kitten is resting on a rug.",
    "How do I reset my password?",
    "I forgot my login credentials and need to change them.",
    "The stock market fell sharply today.",
    "Shares dropped steeply on Wall Street this afternoon.",
    "Quire lets you chat with your own documents, offline.",
    "Café naïve RÉSUMÉ: Über-Straße in 東京 (tokenization test) #42!",
]
SIMILAR_PAIRS = [(0, 1), (2, 3), (4, 5)]


def _hf_weights_by_gguf_name(model_dir: Path, hp: dict) -> dict[str, np.ndarray]:
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, int(hp["num_hidden_layers"]))
    out = {}
    for name, arr in read_safetensors(model_dir / "model.safetensors").items():
        hf_name = name[5:] if name.startswith("bert.") else name
        if hf_name in SKIP_TENSORS:
            continue
        new = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new is not None:
            out[new] = arr
    return out


def _cos(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def reference(model_dir: Path, out: Path) -> None:
    hp = _load_json(model_dir / "config.json")
    tok = WordPieceTokenizer.from_model_dir(model_dir)
    weights = _hf_weights_by_gguf_name(model_dir, hp)
    ids = [tok.encode(s) for s in SENTENCES]
    embs = [bert_embed(weights, hp, i) for i in ids]
    # sanity: each paraphrase pair is closer than either sentence is to any sentence outside the pair
    for a, b in SIMILAR_PAIRS:
        pair = _cos(embs[a], embs[b])
        for c in range(len(SENTENCES)):
            if c in (a, b):
                continue
            worst = max(_cos(embs[a], embs[c]), _cos(embs[b], embs[c]))
            if not pair > worst:
                raise SystemExit(f"reference sanity check failed: cos({a},{b})={pair:.4f} <= {worst:.4f} vs {c}")
        print(f"reference: cos(paraphrase {a},{b}) = {pair:.4f}")
    unrelated = [_cos(embs[a], embs[b]) for a in range(6) for b in range(6) if a // 2 != b // 2]
    print(f"reference: unrelated pairs cos max = {max(unrelated):.4f}, mean = {np.mean(unrelated):.4f}")
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "pooling": "mean",
        "normalized": True,
        "sentences": SENTENCES,
        "token_ids": ids,
        "embeddings": [[round(float(x), 8) for x in e] for e in embs],
    }
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _field(reader: gguf.GGUFReader, key: str):
    f = reader.get_field(key)
    if f is None:
        raise SystemExit(f"validate: key {key} missing")
    return f.contents()


def validate(model_dir: Path, gguf_path: Path, ref_path: Path, min_cos: float) -> None:
    hp = _load_json(model_dir / "config.json")
    ref = _load_json(ref_path)
    r = gguf.GGUFReader(gguf_path)
    expect = {
        "general.architecture": "bert",
        "bert.block_count": hp["num_hidden_layers"],
        "bert.context_length": hp["max_position_embeddings"],
        "bert.embedding_length": hp["hidden_size"],
        "bert.feed_forward_length": hp["intermediate_size"],
        "bert.attention.head_count": hp["num_attention_heads"],
        "bert.attention.causal": False,
        "bert.pooling_type": int(gguf.PoolingType.MEAN),
        "tokenizer.ggml.model": "bert",
        "tokenizer.ggml.token_type_count": hp["type_vocab_size"],
        "tokenizer.ggml.bos_token_id": 101,
        "tokenizer.ggml.eos_token_id": 102,
        "tokenizer.ggml.seperator_token_id": 102,
        "tokenizer.ggml.unknown_token_id": 100,
        "tokenizer.ggml.padding_token_id": 0,
        "tokenizer.ggml.mask_token_id": 103,
        KEY_LOWERCASE: True,
    }
    for key, want in expect.items():
        got = _field(r, key)
        if got != want:
            raise SystemExit(f"validate: {key} = {got!r}, expected {want!r}")
    eps = _field(r, "bert.attention.layer_norm_epsilon")
    if not math.isclose(eps, hp["layer_norm_eps"], rel_tol=1e-6):
        raise SystemExit(f"validate: layer_norm_epsilon {eps}")
    # tokens back from phantom-space form
    gtokens = _field(r, "tokenizer.ggml.tokens")
    gtypes = _field(r, "tokenizer.ggml.token_type")
    vocab = [t if ty == gguf.TokenType.CONTROL else (t[1:] if t.startswith("\u2581") else "##" + t)
             for t, ty in zip(gtokens, gtypes)]
    tok = WordPieceTokenizer(vocab, lowercase=True)
    weights = {}
    for t in r.tensors:
        arr = gguf.quants.dequantize(t.data, t.tensor_type)
        weights[t.name] = np.asarray(arr, dtype=np.float32).reshape(tuple(int(x) for x in reversed(t.shape)))
    types = sorted({t.tensor_type.name for t in r.tensors})
    print(f"validate: {len(r.tensors)} tensors ({', '.join(types)}), {len(vocab)} tokens")
    worst = 1.0
    for sentence, ids, emb in zip(ref["sentences"], ref["token_ids"], ref["embeddings"]):
        gids = tok.encode(sentence)
        if gids != ids:
            raise SystemExit(f"validate: GGUF vocabulary tokenises {sentence!r} as {gids}, reference {ids}")
        c = _cos(bert_embed(weights, hp, gids), emb)
        worst = min(worst, c)
        print(f"validate: cos = {c:.6f}  {sentence}")
    if worst < min_cos:
        raise SystemExit(f"validate: worst cosine {worst:.6f} < {min_cos}")
    print(f"validate: ok (worst cosine {worst:.6f})")


def main() -> None:
    # gguf.SpecialVocab warns that it has no writer method for the (deprecated, unread) cls_token_id; the official
    # converter skips it the same way. Keep that one notice out of the output.
    logging.getLogger("gguf.vocab").addFilter(lambda rec: "special token type cls" not in rec.getMessage())
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert")
    c.add_argument("model_dir", type=Path)
    c.add_argument("--outfile", type=Path, required=True)
    c.add_argument("--outtype", choices=sorted(OUTTYPES), default="q8_0")
    rf = sub.add_parser("reference")
    rf.add_argument("model_dir", type=Path)
    rf.add_argument("--out", type=Path, required=True)
    v = sub.add_parser("validate")
    v.add_argument("model_dir", type=Path)
    v.add_argument("gguf", type=Path)
    v.add_argument("reference", type=Path)
    v.add_argument("--min-cosine", type=float, default=0.99)
    a = ap.parse_args()
    if a.cmd == "convert":
        convert(a.model_dir, a.outfile, a.outtype)
    elif a.cmd == "reference":
        reference(a.model_dir, a.out)
    else:
        validate(a.model_dir, a.gguf, a.reference, a.min_cosine)


if __name__ == "__main__":
    sys.exit(main())
