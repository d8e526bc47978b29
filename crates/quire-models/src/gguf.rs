//! GGUF metadata reader: header, key/values and tensor infos, never the tensor data.
//!
//! The file is untrusted (a user may pick any file as a model): every count and length is checked against fixed
//! limits and against the bytes left in the file before anything is allocated, all arithmetic is checked, and the
//! structural rules llama.cpp's `gguf_init_from_file` enforces (versions 2–3, no nested arrays, unique keys and
//! tensor names, power-of-two alignment, known tensor types, rows a multiple of the block size, tensors laid out
//! back to back) are enforced here too, so a file this reader accepts is one llama.cpp can at least open.
//! A file cut short anywhere — in the metadata or in the tensor data — is an error.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::Path;

use serde::Serialize;

use crate::ModelsError;

/// Longest string accepted (a key, a value, one array element). Embedded tokenizer JSON can be several MB.
pub const MAX_STRING_LEN: u64 = 64 << 20;
/// Most key/value pairs accepted (real models have ~20–60).
pub const MAX_KV_COUNT: u64 = 1 << 16;
/// Most tensors accepted (large MoE models have a few thousand per file).
pub const MAX_TENSOR_COUNT: u64 = 1 << 18;
/// Most elements in one metadata array (token lists and merges have up to a few hundred thousand).
pub const MAX_ARRAY_LEN: u64 = 1 << 26;
/// Most bytes of metadata kept in memory in all (strings kept plus small arrays); longer arrays are skipped.
pub const MAX_METADATA_BYTES: u64 = 128 << 20;
/// Arrays up to this length are kept element by element in [`GgufValue::Array`]; longer ones by length only.
pub const KEEP_ARRAY_ELEMENTS: u64 = 64;

const GGUF_MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
const MAX_DIMS: u32 = 4;
const MAX_TENSOR_NAME: u64 = 63; // GGML_MAX_NAME - 1

/// The type of a metadata value (GGUF `gguf_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GgufValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl GgufValueType {
    fn from_u32(v: u32) -> Option<Self> {
        use GgufValueType::*;
        Some(match v {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// Bytes per value; strings take at least 8 (their length).
    fn min_size(self) -> u64 {
        use GgufValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 | String => 8,
            Array => 12,
        }
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    U64(u64),
    I64(i64),
    F64(f64),
    /// `values` holds every element when `len <= KEEP_ARRAY_ELEMENTS`, and nothing for longer arrays (token
    /// lists, merges, scores), which are summarised by their length.
    Array {
        elem_type: GgufValueType,
        len: u64,
        values: Vec<GgufValue>,
    },
}

impl GgufValue {
    /// Integer values that fit a u64 (negative ones do not).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(v.into()),
            GgufValue::U16(v) => Some(v.into()),
            GgufValue::U32(v) => Some(v.into()),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            GgufValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The length of an array value.
    pub fn array_len(&self) -> Option<u64> {
        match *self {
            GgufValue::Array { len, .. } => Some(len),
            _ => None,
        }
    }
}

/// What a GGUF file says about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GgufInfo {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// `general.architecture` (llama, bert, gemma3, ...).
    pub architecture: String,
    /// `general.name`.
    pub name: Option<String>,
    /// `<arch>.context_length`: the context the model was trained for.
    pub context_length: Option<u64>,
    /// `<arch>.embedding_length`: hidden size (the embedding width for embedding models).
    pub embedding_length: Option<u64>,
    /// `<arch>.block_count`: layers.
    pub block_count: Option<u64>,
    /// `<arch>.attention.head_count` (when one number for all layers).
    pub head_count: Option<u64>,
    /// `<arch>.attention.head_count_kv`; llama.cpp uses `head_count` when absent.
    pub head_count_kv: Option<u64>,
    /// `general.file_type` (llama_ftype; see [`file_type_name`]).
    pub file_type: Option<u32>,
    /// `<arch>.pooling_type` (see [`pooling_type_name`]); set by embedding models.
    pub pooling_type: Option<u32>,
    /// `tokenizer.chat_template` (Jinja).
    pub chat_template: Option<String>,
    pub tensor_count: u64,
    /// Sum of the tensors' element counts.
    pub parameter_count: u64,
    /// Number of tensors per ggml type name ("f32", "q8_0", ...).
    pub tensor_types: BTreeMap<String, u64>,
    /// Every other key/value pair.
    pub kv: BTreeMap<String, GgufValue>,
    /// Each tensor's name, type, shape and size in bytes, in file order (not serialised: hundreds of rows).
    #[serde(skip)]
    pub tensors: Vec<TensorInfo>,
}

/// One tensor as the file describes it (its data is not read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    /// ggml type id (see [`ggml_type_name`]).
    pub ggml_type: u32,
    /// Elements per dimension, innermost first (unused dimensions are 1).
    pub shape: [u64; 4],
    pub elements: u64,
    /// Exact bytes of the data: elements / block size × bytes per block of its type.
    pub bytes: u64,
}

impl GgufInfo {
    /// Read the metadata of a GGUF file (the tensor data is not read, only its extent checked against the file size).
    pub fn read(path: &Path) -> Result<GgufInfo, ModelsError> {
        let file = File::open(path).map_err(|e| ModelsError::io(path, e))?;
        let len = file.metadata().map_err(|e| ModelsError::io(path, e))?.len();
        let mut r = Reader { inner: BufReader::with_capacity(1 << 16, file), pos: 0, len, budget: MAX_METADATA_BYTES };
        parse(&mut r).map_err(|e| match e {
            Fail::Io(err) => ModelsError::io(path, err),
            Fail::Invalid(reason) => ModelsError::InvalidGguf { source_name: path.display().to_string(), reason },
        })
    }

    /// Parse GGUF bytes held in memory (a whole file, including its tensor data).
    pub fn from_bytes(bytes: &[u8]) -> Result<GgufInfo, ModelsError> {
        let mut r = Reader { inner: bytes, pos: 0, len: bytes.len() as u64, budget: MAX_METADATA_BYTES };
        parse(&mut r).map_err(|e| {
            let reason = match e {
                Fail::Io(err) => err.to_string(),
                Fail::Invalid(reason) => reason,
            };
            ModelsError::InvalidGguf { source_name: "GGUF data".to_owned(), reason }
        })
    }

    /// `general.file_type` as a name ("Q4_1", "Q8_0", ...).
    pub fn file_type_name(&self) -> Option<&'static str> {
        self.file_type.and_then(file_type_name)
    }

    /// `<arch>.pooling_type` as a name ("mean", "cls", ...).
    pub fn pooling_type_name(&self) -> Option<&'static str> {
        self.pooling_type.and_then(pooling_type_name)
    }

    /// Length of the `tokenizer.ggml.tokens` array.
    pub fn vocab_size(&self) -> Option<u64> {
        self.kv.get("tokenizer.ggml.tokens").and_then(GgufValue::array_len)
    }

    /// Bytes of all tensor data (what llama.cpp's model buffers hold).
    pub fn tensor_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.bytes).sum()
    }

    /// The tensor of that name.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// A metadata value of this architecture: `<arch>.<key>`.
    pub fn arch_value(&self, key: &str) -> Option<&GgufValue> {
        self.kv.get(&format!("{}.{key}", self.architecture))
    }
}

/// Name of a `general.file_type` value (llama.cpp's `llama_ftype`).
pub fn file_type_name(ft: u32) -> Option<&'static str> {
    Some(match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        39 => "NVFP4",
        40 => "Q1_0",
        41 => "Q2_0",
        _ => return None,
    })
}

/// Name of a `<arch>.pooling_type` value (llama.cpp's `llama_pooling_type`).
pub fn pooling_type_name(pt: u32) -> Option<&'static str> {
    Some(match pt {
        0 => "none",
        1 => "mean",
        2 => "cls",
        3 => "last",
        4 => "rank",
        _ => return None,
    })
}

/// ggml tensor types: (name, elements per block, bytes per block), as in ggml.c's type_traits.
fn ggml_type(t: u32) -> Option<(&'static str, u64, u64)> {
    Some(match t {
        0 => ("f32", 1, 4),
        1 => ("f16", 1, 2),
        2 => ("q4_0", 32, 18),
        3 => ("q4_1", 32, 20),
        6 => ("q5_0", 32, 22),
        7 => ("q5_1", 32, 24),
        8 => ("q8_0", 32, 34),
        9 => ("q8_1", 32, 36),
        10 => ("q2_K", 256, 84),
        11 => ("q3_K", 256, 110),
        12 => ("q4_K", 256, 144),
        13 => ("q5_K", 256, 176),
        14 => ("q6_K", 256, 210),
        15 => ("q8_K", 256, 292),
        16 => ("iq2_xxs", 256, 66),
        17 => ("iq2_xs", 256, 74),
        18 => ("iq3_xxs", 256, 98),
        19 => ("iq1_s", 256, 50),
        20 => ("iq4_nl", 32, 18),
        21 => ("iq3_s", 256, 110),
        22 => ("iq2_s", 256, 82),
        23 => ("iq4_xs", 256, 136),
        24 => ("i8", 1, 1),
        25 => ("i16", 1, 2),
        26 => ("i32", 1, 4),
        27 => ("i64", 1, 8),
        28 => ("f64", 1, 8),
        29 => ("iq1_m", 256, 56),
        30 => ("bf16", 1, 2),
        34 => ("tq1_0", 256, 54),
        35 => ("tq2_0", 256, 66),
        39 => ("mxfp4", 32, 17),
        40 => ("nvfp4", 64, 36),
        41 => ("q1_0", 128, 18),
        42 => ("q2_0", 64, 18),
        _ => return None,
    })
}

/// Name of a ggml tensor type id ("f32", "q8_0", ...).
pub fn ggml_type_name(t: u32) -> Option<&'static str> {
    ggml_type(t).map(|(name, _, _)| name)
}

/// Elements per block and bytes per block of a ggml tensor type id.
pub(crate) fn ggml_block(t: u32) -> Option<(u64, u64)> {
    ggml_type(t).map(|(_, block, bytes)| (block, bytes))
}

// ---------------------------------------------------------------------------------------------------------------

enum Fail {
    Io(std::io::Error),
    Invalid(String),
}

type Res<T> = Result<T, Fail>;

fn invalid<T>(reason: impl Into<String>) -> Res<T> {
    Err(Fail::Invalid(reason.into()))
}

struct Reader<R> {
    inner: R,
    pos: u64,
    /// Total length of the input.
    len: u64,
    /// Bytes of metadata that may still be kept in memory.
    budget: u64,
}

impl<R: Read> Reader<R> {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// Fails unless `n` more bytes exist.
    fn need(&self, n: u64, what: &str) -> Res<()> {
        if n > self.remaining() {
            return invalid(format!(
                "truncated: {what} needs {n} bytes at offset {} but the file has {} left",
                self.pos,
                self.remaining()
            ));
        }
        Ok(())
    }

    fn take_budget(&mut self, n: u64) -> Res<()> {
        match self.budget.checked_sub(n) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => invalid(format!("more than {MAX_METADATA_BYTES} bytes of metadata")),
        }
    }

    fn fill(&mut self, buf: &mut [u8], what: &str) -> Res<()> {
        self.need(buf.len() as u64, what)?;
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                invalid(format!("truncated: the file ends inside {what} (offset {})", self.pos))
            }
            Err(e) => Err(Fail::Io(e)),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Res<[u8; N]> {
        let mut b = [0u8; N];
        self.fill(&mut b, what)?;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Res<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Res<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn skip(&mut self, n: u64, what: &str) -> Res<()> {
        self.need(n, what)?;
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink()).map_err(Fail::Io)?;
        self.pos += copied;
        if copied != n {
            return invalid(format!("truncated: the file ends inside {what} (offset {})", self.pos));
        }
        Ok(())
    }

    fn string_len(&mut self, what: &str) -> Res<u64> {
        let n = self.u64(what)?;
        if n > MAX_STRING_LEN {
            return invalid(format!("{what} claims {n} bytes (limit {MAX_STRING_LEN})"));
        }
        self.need(n, what)?;
        Ok(n)
    }

    fn string(&mut self, what: &str) -> Res<String> {
        let n = self.string_len(what)?;
        self.take_budget(n)?;
        let mut buf = vec![0u8; usize::try_from(n).map_err(|_| Fail::Invalid(format!("{what} too long")))?];
        self.fill(&mut buf, what)?;
        // llama.cpp stores strings as bytes; keep what is there, readable
        Ok(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn scalar(&mut self, ty: GgufValueType, what: &str) -> Res<GgufValue> {
        use GgufValueType as T;
        Ok(match ty {
            T::U8 => GgufValue::U8(u8::from_le_bytes(self.array(what)?)),
            T::I8 => GgufValue::I8(i8::from_le_bytes(self.array(what)?)),
            T::U16 => GgufValue::U16(u16::from_le_bytes(self.array(what)?)),
            T::I16 => GgufValue::I16(i16::from_le_bytes(self.array(what)?)),
            T::U32 => GgufValue::U32(u32::from_le_bytes(self.array(what)?)),
            T::I32 => GgufValue::I32(i32::from_le_bytes(self.array(what)?)),
            T::F32 => GgufValue::F32(f32::from_le_bytes(self.array(what)?)),
            T::Bool => {
                let [b] = self.array::<1>(what)?;
                GgufValue::Bool(b != 0)
            }
            T::String => GgufValue::String(self.string(what)?),
            T::U64 => GgufValue::U64(u64::from_le_bytes(self.array(what)?)),
            T::I64 => GgufValue::I64(i64::from_le_bytes(self.array(what)?)),
            T::F64 => GgufValue::F64(f64::from_le_bytes(self.array(what)?)),
            T::Array => return invalid(format!("{what}: nested arrays are not supported")),
        })
    }

    fn value(&mut self, ty: GgufValueType, what: &str) -> Res<GgufValue> {
        if ty != GgufValueType::Array {
            return self.scalar(ty, what);
        }
        let raw = self.u32(what)?;
        let elem_type = match GgufValueType::from_u32(raw) {
            Some(GgufValueType::Array) => return invalid(format!("{what}: nested arrays are not supported")),
            Some(t) => t,
            None => return invalid(format!("{what}: invalid array element type {raw}")),
        };
        let len = self.u64(what)?;
        if len > MAX_ARRAY_LEN {
            return invalid(format!("{what}: array of {len} elements (limit {MAX_ARRAY_LEN})"));
        }
        let min_bytes = len
            .checked_mul(elem_type.min_size())
            .ok_or_else(|| Fail::Invalid(format!("{what}: array size overflows")))?;
        self.need(min_bytes, what)?;
        if len <= KEEP_ARRAY_ELEMENTS {
            // each kept element also costs a little bookkeeping
            self.take_budget(len * 32)?;
            let mut values = Vec::with_capacity(len as usize);
            for _ in 0..len {
                values.push(self.scalar(elem_type, what)?);
            }
            return Ok(GgufValue::Array { elem_type, len, values });
        }
        if elem_type == GgufValueType::String {
            for _ in 0..len {
                let n = self.string_len(what)?;
                self.skip(n, what)?;
            }
        } else {
            self.skip(min_bytes, what)?;
        }
        Ok(GgufValue::Array { elem_type, len, values: Vec::new() })
    }
}

fn pad(x: u64, align: u64) -> Option<u64> {
    x.checked_add(align - 1).map(|v| v / align * align)
}

fn parse<R: Read>(r: &mut Reader<R>) -> Res<GgufInfo> {
    let magic: [u8; 4] = r.array("the magic number")?;
    if &magic != GGUF_MAGIC {
        return invalid(format!("it does not start with \"GGUF\" (found {:02x?})", magic));
    }
    let version = r.u32("the version")?;
    if version == 0 {
        return invalid("version 0");
    }
    if version & 0xFFFF == 0 {
        return invalid(format!("version {version:#x} looks byte-swapped: big-endian GGUF files are not supported"));
    }
    if version == 1 {
        return invalid("GGUF version 1 is no longer supported");
    }
    if version > 3 {
        return invalid(format!("GGUF version {version} is newer than this reader (2–3)"));
    }
    let tensor_count = r.u64("the tensor count")?;
    let kv_count = r.u64("the key/value count")?;
    if tensor_count > MAX_TENSOR_COUNT {
        return invalid(format!("{tensor_count} tensors (limit {MAX_TENSOR_COUNT})"));
    }
    if kv_count > MAX_KV_COUNT {
        return invalid(format!("{kv_count} key/value pairs (limit {MAX_KV_COUNT})"));
    }
    // each kv takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info 8 + 4 + 4 + 8
    r.need(kv_count * 13 + tensor_count * 24, "the key/value pairs and tensor infos")?;

    let mut kv: BTreeMap<String, GgufValue> = BTreeMap::new();
    for i in 0..kv_count {
        let key = r.string(&format!("key #{i}"))?;
        if key.is_empty() {
            return invalid(format!("key #{i} is empty"));
        }
        let raw = r.u32(&format!("the type of {key}"))?;
        let Some(ty) = GgufValueType::from_u32(raw) else {
            return invalid(format!("key {key} has invalid type {raw}"));
        };
        let value = r.value(ty, &format!("the value of {key}"))?;
        if kv.insert(key.clone(), value).is_some() {
            return invalid(format!("duplicate key {key}"));
        }
    }

    let alignment = match kv.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(GgufValue::U32(a)) if a.is_power_of_two() => u64::from(*a),
        Some(other) => return invalid(format!("general.alignment must be a power-of-two u32, found {other:?}")),
    };

    let mut names: HashSet<String> = HashSet::new();
    let mut tensors: Vec<TensorInfo> = Vec::new();
    let mut tensor_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut parameter_count: u64 = 0;
    let mut data_size: u64 = 0; // padded size of the data section so far = the next tensor's offset
    let mut data_end: u64 = 0; // end of the last tensor's bytes, relative to the data section
    for i in 0..tensor_count {
        let name_len = r.string_len(&format!("tensor #{i}'s name"))?;
        if name_len > MAX_TENSOR_NAME {
            return invalid(format!("tensor #{i}'s name is {name_len} bytes (limit {MAX_TENSOR_NAME})"));
        }
        let mut raw_name = vec![0u8; name_len as usize];
        r.fill(&mut raw_name, &format!("tensor #{i}'s name"))?;
        let name = String::from_utf8_lossy(&raw_name).into_owned();
        let what = format!("tensor {name}");
        let n_dims = r.u32(&what)?;
        if n_dims > MAX_DIMS {
            return invalid(format!("{what} has {n_dims} dimensions (limit {MAX_DIMS})"));
        }
        let mut ne = [1u64; MAX_DIMS as usize];
        for d in ne.iter_mut().take(n_dims as usize) {
            *d = r.u64(&what)?;
            if *d > i64::MAX as u64 {
                return invalid(format!("{what} has a negative dimension"));
            }
        }
        let elements = ne
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d).filter(|&v| v <= i64::MAX as u64))
            .ok_or_else(|| Fail::Invalid(format!("{what}: shape {ne:?} overflows")))?;
        let raw_type = r.u32(&what)?;
        let Some((type_name, block, type_size)) = ggml_type(raw_type) else {
            return invalid(format!("{what} has unknown ggml type {raw_type}"));
        };
        if !ne[0].is_multiple_of(block) {
            return invalid(format!(
                "{what}: row of {} elements is not a multiple of {type_name}'s block {block}",
                ne[0]
            ));
        }
        let nbytes = (elements / block)
            .checked_mul(type_size)
            .ok_or_else(|| Fail::Invalid(format!("{what}: size in bytes overflows")))?;
        let offset = r.u64(&what)?;
        if offset != data_size {
            return invalid(format!("{what} starts at offset {offset}, expected {data_size}"));
        }
        data_end = offset.checked_add(nbytes).ok_or_else(|| Fail::Invalid(format!("{what}: offset overflows")))?;
        data_size = pad(data_end, alignment).ok_or_else(|| Fail::Invalid(format!("{what}: offset overflows")))?;
        if !names.insert(name.clone()) {
            return invalid(format!("duplicate tensor name {name}"));
        }
        *tensor_types.entry(type_name.to_owned()).or_default() += 1;
        parameter_count = parameter_count.saturating_add(elements);
        tensors.push(TensorInfo { name, ggml_type: raw_type, shape: ne, elements, bytes: nbytes });
    }

    if tensor_count > 0 {
        let data_start = pad(r.pos, alignment).ok_or_else(|| Fail::Invalid("data offset overflows".into()))?;
        let needed = data_start.checked_add(data_end).ok_or_else(|| Fail::Invalid("data size overflows".into()))?;
        if needed > r.len {
            return invalid(format!(
                "truncated: the tensor data needs {needed} bytes but the file has {} (incomplete download?)",
                r.len
            ));
        }
    }

    let architecture = match kv.remove("general.architecture") {
        Some(GgufValue::String(a)) => a,
        Some(other) => return invalid(format!("general.architecture is not a string: {other:?}")),
        None => return invalid("general.architecture is missing"),
    };
    let mut take_str = |key: &str| match kv.remove(key) {
        Some(GgufValue::String(s)) => Some(s),
        Some(other) => {
            kv.insert(key.to_owned(), other); // not a string: leave it in kv as it is
            None
        }
        None => None,
    };
    let name = take_str("general.name");
    let chat_template = take_str("tokenizer.chat_template");
    let mut take_u64 = |key: &str| {
        let v = kv.get(key).and_then(GgufValue::as_u64)?;
        kv.remove(key);
        Some(v)
    };
    let arch = architecture.clone();
    let context_length = take_u64(&format!("{arch}.context_length"));
    let embedding_length = take_u64(&format!("{arch}.embedding_length"));
    let block_count = take_u64(&format!("{arch}.block_count"));
    let head_count = take_u64(&format!("{arch}.attention.head_count"));
    let head_count_kv = take_u64(&format!("{arch}.attention.head_count_kv"));
    let file_type = take_u64("general.file_type").and_then(|v| u32::try_from(v).ok());
    let pooling_type = take_u64(&format!("{arch}.pooling_type")).and_then(|v| u32::try_from(v).ok());

    Ok(GgufInfo {
        version,
        architecture,
        name,
        context_length,
        embedding_length,
        block_count,
        head_count,
        head_count_kv,
        file_type,
        pooling_type,
        chat_template,
        tensor_count,
        parameter_count,
        tensor_types,
        kv,
        tensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small GGUF writer for the tests (little-endian, version 3).
    #[derive(Default)]
    struct Writer {
        kv: Vec<u8>,
        n_kv: u64,
        infos: Vec<u8>,
        data: Vec<u8>,
        n_tensors: u64,
    }

    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    impl Writer {
        fn key(&mut self, key: &str, ty: u32) -> &mut Vec<u8> {
            self.n_kv += 1;
            put_str(&mut self.kv, key);
            self.kv.extend_from_slice(&ty.to_le_bytes());
            &mut self.kv
        }
        fn string(&mut self, key: &str, v: &str) -> &mut Self {
            put_str(self.key(key, 8), v);
            self
        }
        fn u32(&mut self, key: &str, v: u32) -> &mut Self {
            self.key(key, 4).extend_from_slice(&v.to_le_bytes());
            self
        }
        fn bool(&mut self, key: &str, v: bool) -> &mut Self {
            self.key(key, 7).push(u8::from(v));
            self
        }
        fn f32(&mut self, key: &str, v: f32) -> &mut Self {
            self.key(key, 6).extend_from_slice(&v.to_le_bytes());
            self
        }
        fn strings(&mut self, key: &str, vs: &[String]) -> &mut Self {
            let out = self.key(key, 9);
            out.extend_from_slice(&8u32.to_le_bytes());
            out.extend_from_slice(&(vs.len() as u64).to_le_bytes());
            for v in vs {
                put_str(out, v);
            }
            self
        }
        fn i32s(&mut self, key: &str, vs: &[i32]) -> &mut Self {
            let out = self.key(key, 9);
            out.extend_from_slice(&5u32.to_le_bytes());
            out.extend_from_slice(&(vs.len() as u64).to_le_bytes());
            for v in vs {
                out.extend_from_slice(&v.to_le_bytes());
            }
            self
        }
        /// A tensor of ggml type `ty` with `bytes` of data (the caller computes the size).
        fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, bytes: usize) -> &mut Self {
            self.n_tensors += 1;
            put_str(&mut self.infos, name);
            self.infos.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                self.infos.extend_from_slice(&d.to_le_bytes());
            }
            self.infos.extend_from_slice(&ty.to_le_bytes());
            self.infos.extend_from_slice(&(self.data.len() as u64).to_le_bytes());
            self.data.extend((0..bytes).map(|i| (i % 251) as u8));
            while !self.data.len().is_multiple_of(32) {
                self.data.push(0);
            }
            self
        }
        fn finish(&self) -> Vec<u8> {
            let mut out = b"GGUF".to_vec();
            out.extend_from_slice(&3u32.to_le_bytes());
            out.extend_from_slice(&self.n_tensors.to_le_bytes());
            out.extend_from_slice(&self.n_kv.to_le_bytes());
            out.extend_from_slice(&self.kv);
            out.extend_from_slice(&self.infos);
            while !out.len().is_multiple_of(32) {
                out.push(0);
            }
            out.extend_from_slice(&self.data);
            out
        }
    }

    fn sample() -> Vec<u8> {
        let tokens: Vec<String> = (0..100).map(|i| format!("tok{i}")).collect();
        let mut w = Writer::default();
        w.string("general.architecture", "bert")
            .string("general.name", "Tiny Test")
            .u32("general.file_type", 7)
            .u32("bert.context_length", 512)
            .u32("bert.embedding_length", 64)
            .u32("bert.block_count", 2)
            .u32("bert.attention.head_count", 4)
            .f32("bert.attention.layer_norm_epsilon", 1e-12)
            .bool("bert.attention.causal", false)
            .u32("bert.pooling_type", 1)
            .string("tokenizer.ggml.model", "bert")
            .strings("tokenizer.ggml.tokens", &tokens)
            .i32s("tokenizer.ggml.token_type", &[3, 1, 1])
            .string("tokenizer.chat_template", "{{ messages }}")
            .tensor("token_embd.weight", &[64, 100], 8, 64 / 32 * 34 * 100)
            .tensor("token_embd_norm.weight", &[64], 0, 64 * 4)
            .tensor("blk.0.attn_q.weight", &[64, 64], 1, 64 * 64 * 2);
        w.finish()
    }

    #[test]
    fn reads_a_small_file_written_here() {
        let bytes = sample();
        let info = GgufInfo::from_bytes(&bytes).expect("valid");
        assert_eq!(info.version, 3);
        assert_eq!(info.architecture, "bert");
        assert_eq!(info.name.as_deref(), Some("Tiny Test"));
        assert_eq!(info.context_length, Some(512));
        assert_eq!(info.embedding_length, Some(64));
        assert_eq!(info.block_count, Some(2));
        assert_eq!(info.head_count, Some(4));
        assert_eq!(info.head_count_kv, None);
        assert_eq!(info.file_type, Some(7));
        assert_eq!(info.file_type_name(), Some("Q8_0"));
        assert_eq!(info.pooling_type_name(), Some("mean"));
        assert_eq!(info.chat_template.as_deref(), Some("{{ messages }}"));
        assert_eq!(info.tensor_count, 3);
        assert_eq!(info.parameter_count, 64 * 100 + 64 + 64 * 64);
        let types: Vec<(&str, u64)> = info.tensor_types.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(types, [("f16", 1), ("f32", 1), ("q8_0", 1)]);
        assert_eq!(info.vocab_size(), Some(100));
        let shapes: Vec<(&str, u32, [u64; 4], u64)> =
            info.tensors.iter().map(|t| (t.name.as_str(), t.ggml_type, t.shape, t.bytes)).collect();
        assert_eq!(
            shapes,
            [
                ("token_embd.weight", 8, [64, 100, 1, 1], 64 / 32 * 34 * 100),
                ("token_embd_norm.weight", 0, [64, 1, 1, 1], 64 * 4),
                ("blk.0.attn_q.weight", 1, [64, 64, 1, 1], 64 * 64 * 2)
            ]
        );
        assert_eq!(info.tensor_bytes(), 6800 + 256 + 8192);
        assert_eq!(info.tensor("token_embd_norm.weight").map(|t| t.elements), Some(64));
        assert_eq!(info.arch_value("attention.causal"), Some(&GgufValue::Bool(false)));
        assert_eq!(
            serde_json::to_value(&info).ok().and_then(|v| v.get("tensors").cloned()),
            None,
            "tensor rows are not serialised"
        );
        assert_eq!(
            info.kv.get("tokenizer.ggml.tokens"),
            Some(&GgufValue::Array { elem_type: GgufValueType::String, len: 100, values: vec![] })
        );
        assert_eq!(
            info.kv.get("tokenizer.ggml.token_type"),
            Some(&GgufValue::Array {
                elem_type: GgufValueType::I32,
                len: 3,
                values: vec![GgufValue::I32(3), GgufValue::I32(1), GgufValue::I32(1)]
            })
        );
        assert_eq!(info.kv.get("bert.attention.causal"), Some(&GgufValue::Bool(false)));
        assert_eq!(info.kv.get("bert.attention.layer_norm_epsilon"), Some(&GgufValue::F32(1e-12)));
        // the typed fields are not repeated in kv
        assert!(!info.kv.contains_key("general.architecture"));
        assert!(!info.kv.contains_key("bert.context_length"));
        assert!(serde_json::to_string(&info).is_ok());

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tiny.gguf");
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(GgufInfo::read(&path).expect("valid file"), info);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample();
        for n in 0..bytes.len() {
            let r = GgufInfo::from_bytes(&bytes[..n]);
            assert!(r.is_err(), "a file cut to {n} of {} bytes was accepted", bytes.len());
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cut.gguf");
        std::fs::write(&path, &bytes[..bytes.len() - 40]).expect("write");
        let err = GgufInfo::read(&path).expect_err("cut in the tensor data");
        let msg = err.to_string();
        assert!(msg.contains("cut.gguf") && msg.contains("truncated"), "{msg}");
    }

    fn header(version: u32, tensors: u64, kvs: u64) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&version.to_le_bytes());
        b.extend_from_slice(&tensors.to_le_bytes());
        b.extend_from_slice(&kvs.to_le_bytes());
        b
    }

    fn expect_invalid(bytes: &[u8], needle: &str) {
        match GgufInfo::from_bytes(bytes) {
            Err(ModelsError::InvalidGguf { reason, .. }) => {
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}")
            }
            other => panic!("expected an invalid-GGUF error containing {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn hostile_headers_are_rejected_without_allocating() {
        expect_invalid(b"", "truncated");
        expect_invalid(b"GGML\x03\0\0\0", "does not start with");
        expect_invalid(&header(1, 0, 0), "version 1");
        expect_invalid(&header(4, 0, 0), "newer");
        expect_invalid(&header(0x0300_0000, 0, 0), "byte-swapped");
        expect_invalid(&header(3, u64::MAX, 0), "tensors");
        expect_invalid(&header(3, 0, u64::MAX), "key/value pairs");
        expect_invalid(&header(3, 1000, 1000), "truncated");

        // a key whose length is absurd, or larger than the file
        let mut b = header(3, 0, 1);
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&[b'a'; 64]);
        expect_invalid(&b, "limit");
        let mut b = header(3, 0, 1);
        b.extend_from_slice(&(1u64 << 20).to_le_bytes());
        b.extend_from_slice(&[b'a'; 64]);
        expect_invalid(&b, "truncated");

        // arrays: absurd length, nested, unknown element type
        let arr = |elem: u32, len: u64| {
            let mut b = header(3, 0, 1);
            put_str(&mut b, "k");
            b.extend_from_slice(&9u32.to_le_bytes());
            b.extend_from_slice(&elem.to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(&[0u8; 64]);
            b
        };
        expect_invalid(&arr(8, u64::MAX), "limit");
        expect_invalid(&arr(0, MAX_ARRAY_LEN), "truncated");
        expect_invalid(&arr(8, 1 << 20), "truncated");
        expect_invalid(&arr(9, 1), "nested");
        expect_invalid(&arr(77, 1), "element type");

        // unknown value type, empty key, duplicate key, bad alignment, missing architecture
        let mut b = header(3, 0, 1);
        put_str(&mut b, "k");
        b.extend_from_slice(&13u32.to_le_bytes());
        expect_invalid(&b, "invalid type");
        let mut w = Writer::default();
        w.u32("", 1);
        expect_invalid(&w.finish(), "empty");
        let mut w = Writer::default();
        w.string("general.architecture", "x").string("general.architecture", "y");
        expect_invalid(&w.finish(), "duplicate key");
        let mut w = Writer::default();
        w.string("general.architecture", "x").u32("general.alignment", 24);
        expect_invalid(&w.finish(), "alignment");
        let mut w = Writer::default();
        w.u32("general.file_type", 1);
        expect_invalid(&w.finish(), "architecture is missing");
    }

    #[test]
    fn hostile_tensor_infos_are_rejected() {
        let base = || {
            let mut w = Writer::default();
            w.string("general.architecture", "llama");
            w
        };
        let mut w = base();
        w.tensor("t", &[1, 2, 3, 4, 5], 0, 480);
        expect_invalid(&w.finish(), "dimensions");
        let mut w = base();
        w.tensor("t", &[u64::MAX, 2], 0, 0);
        expect_invalid(&w.finish(), "negative");
        let mut w = base();
        w.tensor("t", &[1 << 40, 1 << 40], 0, 0);
        expect_invalid(&w.finish(), "overflows");
        let mut w = base();
        w.tensor("t", &[4], 99, 16);
        expect_invalid(&w.finish(), "unknown ggml type");
        let mut w = base();
        w.tensor("t", &[33], 8, 34);
        expect_invalid(&w.finish(), "block");
        let mut w = base();
        w.tensor("t", &[4], 0, 16).tensor("t", &[4], 0, 16);
        expect_invalid(&w.finish(), "duplicate tensor");
        let mut w = base();
        w.tensor(&"x".repeat(64), &[4], 0, 16);
        expect_invalid(&w.finish(), "name");
        // claims more data than the file holds
        let mut w = base();
        w.tensor("t", &[1 << 30], 0, 16);
        expect_invalid(&w.finish(), "truncated");
        // a gap between tensors
        let mut w = base();
        w.tensor("a", &[4], 0, 16);
        w.data.extend_from_slice(&[0u8; 32]);
        w.tensor("b", &[4], 0, 16);
        expect_invalid(&w.finish(), "expected 32");
    }

    /// xorshift64*: deterministic noise without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn garbage_and_bit_flips_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let len = (rng.next() % 512) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if rng.next().is_multiple_of(2) && b.len() >= 24 {
                b[..4].copy_from_slice(b"GGUF");
                b[4..8].copy_from_slice(&3u32.to_le_bytes());
                b[8..16].copy_from_slice(&(rng.next() % 4).to_le_bytes());
                b[16..24].copy_from_slice(&(rng.next() % 8).to_le_bytes());
            }
            let _ = GgufInfo::from_bytes(&b);
        }
        let good = sample();
        for _ in 0..3000 {
            let mut b = good.clone();
            for _ in 0..=(rng.next() % 4) {
                let i = (rng.next() % b.len() as u64) as usize;
                b[i] ^= 1 << (rng.next() % 8);
            }
            // either error or a sane result, never a panic or a huge allocation
            if let Ok(info) = GgufInfo::from_bytes(&b) {
                assert!(info.tensor_count <= 3);
            }
        }
    }
}
