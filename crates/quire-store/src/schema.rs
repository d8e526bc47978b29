//! The two table schemas and the conversions between Quire's types and Arrow record batches.

use std::sync::Arc;

use lancedb::arrow::arrow_array::builder::{ListBuilder, StringBuilder};
use lancedb::arrow::arrow_array::cast::AsArray;
use lancedb::arrow::arrow_array::types::{Float32Type, Int64Type, UInt32Type, UInt64Type};
use lancedb::arrow::arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use lancedb::arrow::arrow_schema::{DataType, Field, Schema, SchemaRef};
use quire_core::{Chunk, ChunkRow, DocStatus, DocumentRecord, Error, Format, Result};

use crate::error::store_error;

/// Name of the documents table.
pub const DOCUMENTS_TABLE: &str = "documents";

/// Columns of the chunks table. `terms` is what the full-text index indexes; `vector` what the vector search reads.
pub(crate) mod col {
    pub const CHUNK_ID: &str = "chunk_id";
    pub const DOC_ID: &str = "doc_id";
    pub const IDX: &str = "idx";
    pub const PATH: &str = "path";
    pub const TEXT: &str = "text";
    pub const PAGE_START: &str = "page_start";
    pub const PAGE_END: &str = "page_end";
    pub const HEADING_PATH: &str = "heading_path";
    pub const CHAR_START: &str = "char_start";
    pub const CHAR_END: &str = "char_end";
    pub const TOKENS: &str = "tokens";
    pub const EMBEDDING_MODEL: &str = "embedding_model";
    pub const TERMS: &str = "terms";
    pub const VECTOR: &str = "vector";
    /// Added by LanceDB to vector-search results.
    pub const DISTANCE: &str = "_distance";
    /// Lance's row id, which a query returns when asked for it (`with_row_id`).
    pub const ROW_ID: &str = "_rowid";
    /// Added by LanceDB to full-text results.
    pub const SCORE: &str = "_score";
}

/// Columns a search reads back (everything but the vector and the terms).
pub(crate) const HIT_COLUMNS: &[&str] = &[
    col::CHUNK_ID,
    col::DOC_ID,
    col::IDX,
    col::PATH,
    col::TEXT,
    col::PAGE_START,
    col::PAGE_END,
    col::HEADING_PATH,
    col::CHAR_START,
    col::CHAR_END,
    col::TOKENS,
    col::EMBEDDING_MODEL,
];

/// The table that holds the chunks of one embedding model: `chunks_<slug>_<hash>`.
///
/// The slug keeps the name readable; the hash of the exact model id keeps two ids that slug alike apart.
pub fn chunks_table_name(embedding_model: &str) -> String {
    let mut slug = String::new();
    for c in embedding_model.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug: String = slug.trim_matches('_').chars().take(48).collect();
    // FNV-1a: stable across builds and platforms (std's hashers are not).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in embedding_model.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let slug = if slug.is_empty() { "model".to_string() } else { slug };
    format!("chunks_{slug}_{:08x}", hash as u32)
}

fn list_of_utf8() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

fn vector_type(dim: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dim as i32)
}

pub(crate) fn documents_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("format", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, true),
        Field::new("content_hash", DataType::Utf8, false),
        Field::new("size", DataType::UInt64, false),
        Field::new("mtime_ms", DataType::Int64, false),
        Field::new("pages", DataType::UInt32, true),
        Field::new("chunk_count", DataType::UInt32, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("embedding_model", DataType::Utf8, false),
        Field::new("updated_ms", DataType::Int64, false),
    ]))
}

pub(crate) fn chunks_schema(dim: usize) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(col::CHUNK_ID, DataType::Utf8, false),
        Field::new(col::DOC_ID, DataType::Utf8, false),
        Field::new(col::IDX, DataType::UInt32, false),
        Field::new(col::PATH, DataType::Utf8, false),
        Field::new(col::TEXT, DataType::Utf8, false),
        Field::new(col::PAGE_START, DataType::UInt32, true),
        Field::new(col::PAGE_END, DataType::UInt32, true),
        Field::new(col::HEADING_PATH, list_of_utf8(), false),
        Field::new(col::CHAR_START, DataType::UInt64, false),
        Field::new(col::CHAR_END, DataType::UInt64, false),
        Field::new(col::TOKENS, DataType::UInt32, false),
        Field::new(col::EMBEDDING_MODEL, DataType::Utf8, false),
        Field::new(col::TERMS, DataType::Utf8, false),
        Field::new(col::VECTOR, vector_type(dim), false),
    ]))
}

/// The dimension of the vector column of a chunks table, if it has one of the expected type.
pub(crate) fn vector_dim(schema: &Schema) -> Option<usize> {
    match schema.field_with_name(col::VECTOR).ok()?.data_type() {
        DataType::FixedSizeList(item, n) if item.data_type() == &DataType::Float32 => usize::try_from(*n).ok(),
        _ => None,
    }
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(schema, columns).map_err(|e| store_error("could not build a record batch", e))
}

pub(crate) fn documents_batch(docs: &[DocumentRecord]) -> Result<RecordBatch> {
    let text_col =
        |f: fn(&DocumentRecord) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(docs.iter().map(f))) };
    let opt_text_col =
        |f: fn(&DocumentRecord) -> Option<&str>| -> ArrayRef { Arc::new(docs.iter().map(f).collect::<StringArray>()) };
    batch(
        documents_schema(),
        vec![
            text_col(|d| &d.id),
            text_col(|d| &d.path),
            text_col(|d| d.format.as_str()),
            opt_text_col(|d| d.title.as_deref()),
            text_col(|d| &d.content_hash),
            Arc::new(UInt64Array::from_iter_values(docs.iter().map(|d| d.size))),
            Arc::new(Int64Array::from_iter_values(docs.iter().map(|d| d.mtime_ms))),
            Arc::new(docs.iter().map(|d| d.pages).collect::<UInt32Array>()),
            Arc::new(UInt32Array::from_iter_values(docs.iter().map(|d| d.chunk_count))),
            text_col(|d| d.status.as_str()),
            opt_text_col(|d| d.error.as_deref()),
            text_col(|d| &d.embedding_model),
            Arc::new(Int64Array::from_iter_values(docs.iter().map(|d| d.updated_ms))),
        ],
    )
}

pub(crate) fn chunks_batch(rows: &[ChunkRow], dim: usize) -> Result<RecordBatch> {
    let chunks = || rows.iter().map(|r| &r.chunk);
    let mut headings = ListBuilder::new(StringBuilder::new());
    for c in chunks() {
        for h in &c.heading_path {
            headings.values().append_value(h);
        }
        headings.append(true);
    }
    let mut flat = Vec::with_capacity(rows.len() * dim);
    for r in rows {
        flat.extend_from_slice(&r.vector);
    }
    let vectors = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        dim as i32,
        Arc::new(Float32Array::from(flat)),
        None,
    )
    .map_err(|e| store_error("could not build the vector column", e))?;
    batch(
        chunks_schema(dim),
        vec![
            Arc::new(StringArray::from_iter_values(chunks().map(Chunk::id))),
            Arc::new(StringArray::from_iter_values(chunks().map(|c| &c.doc_id))),
            Arc::new(UInt32Array::from_iter_values(chunks().map(|c| c.index))),
            Arc::new(StringArray::from_iter_values(chunks().map(|c| &c.path))),
            Arc::new(StringArray::from_iter_values(chunks().map(|c| &c.text))),
            Arc::new(chunks().map(|c| c.page_start).collect::<UInt32Array>()),
            Arc::new(chunks().map(|c| c.page_end).collect::<UInt32Array>()),
            Arc::new(headings.finish()),
            Arc::new(UInt64Array::from_iter_values(chunks().map(|c| c.char_start))),
            Arc::new(UInt64Array::from_iter_values(chunks().map(|c| c.char_end))),
            Arc::new(UInt32Array::from_iter_values(chunks().map(|c| c.tokens))),
            Arc::new(StringArray::from_iter_values(chunks().map(|c| &c.embedding_model))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.terms))),
            Arc::new(vectors),
        ],
    )
}

// ---- reading batches back -------------------------------------------------------------------------------

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::Store(format!("the column `{name}` is missing from the stored table")))
}

fn wrong_type(name: &str, array: &ArrayRef) -> Error {
    Error::Store(format!("the column `{name}` has the unexpected type {}", array.data_type()))
}

pub(crate) fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    let a = column(batch, name)?;
    a.as_string_opt::<i32>().ok_or_else(|| wrong_type(name, a))
}

pub(crate) fn u32s<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a UInt32Array> {
    let a = column(batch, name)?;
    a.as_primitive_opt::<UInt32Type>().ok_or_else(|| wrong_type(name, a))
}

pub(crate) fn u64s<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a UInt64Array> {
    let a = column(batch, name)?;
    a.as_primitive_opt::<UInt64Type>().ok_or_else(|| wrong_type(name, a))
}

fn i64s<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Int64Array> {
    let a = column(batch, name)?;
    a.as_primitive_opt::<Int64Type>().ok_or_else(|| wrong_type(name, a))
}

pub(crate) fn f32s<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Float32Array> {
    let a = column(batch, name)?;
    a.as_primitive_opt::<Float32Type>().ok_or_else(|| wrong_type(name, a))
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_string())
}

fn opt_u32(a: &UInt32Array, i: usize) -> Option<u32> {
    a.is_valid(i).then(|| a.value(i))
}

pub(crate) fn read_documents(batch: &RecordBatch, out: &mut Vec<DocumentRecord>) -> Result<()> {
    let id = strings(batch, "id")?;
    let path = strings(batch, "path")?;
    let format = strings(batch, "format")?;
    let title = strings(batch, "title")?;
    let content_hash = strings(batch, "content_hash")?;
    let size = u64s(batch, "size")?;
    let mtime_ms = i64s(batch, "mtime_ms")?;
    let pages = u32s(batch, "pages")?;
    let chunk_count = u32s(batch, "chunk_count")?;
    let status = strings(batch, "status")?;
    let error = strings(batch, "error")?;
    let embedding_model = strings(batch, "embedding_model")?;
    let updated_ms = i64s(batch, "updated_ms")?;
    for i in 0..batch.num_rows() {
        let f = format.value(i);
        let s = status.value(i);
        out.push(DocumentRecord {
            id: id.value(i).to_string(),
            path: path.value(i).to_string(),
            format: Format::parse(f)
                .ok_or_else(|| Error::Store(format!("unknown document format `{f}` in the store")))?,
            title: opt_str(title, i),
            content_hash: content_hash.value(i).to_string(),
            size: size.value(i),
            mtime_ms: mtime_ms.value(i),
            pages: opt_u32(pages, i),
            chunk_count: chunk_count.value(i),
            status: DocStatus::parse(s)
                .ok_or_else(|| Error::Store(format!("unknown document status `{s}` in the store")))?,
            error: opt_str(error, i),
            embedding_model: embedding_model.value(i).to_string(),
            updated_ms: updated_ms.value(i),
        });
    }
    Ok(())
}

/// Reads the chunk columns of a batch (see [`HIT_COLUMNS`]).
pub(crate) fn read_chunks(batch: &RecordBatch) -> Result<Vec<Chunk>> {
    let doc_id = strings(batch, col::DOC_ID)?;
    let idx = u32s(batch, col::IDX)?;
    let path = strings(batch, col::PATH)?;
    let text = strings(batch, col::TEXT)?;
    let page_start = u32s(batch, col::PAGE_START)?;
    let page_end = u32s(batch, col::PAGE_END)?;
    let headings_col = column(batch, col::HEADING_PATH)?;
    let headings = headings_col.as_list_opt::<i32>().ok_or_else(|| wrong_type(col::HEADING_PATH, headings_col))?;
    let char_start = u64s(batch, col::CHAR_START)?;
    let char_end = u64s(batch, col::CHAR_END)?;
    let tokens = u32s(batch, col::TOKENS)?;
    let embedding_model = strings(batch, col::EMBEDDING_MODEL)?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let heading_path = if headings.is_valid(i) {
            let values = headings.value(i);
            let values = values.as_string_opt::<i32>().ok_or_else(|| wrong_type(col::HEADING_PATH, headings_col))?;
            values.iter().map(|h| h.unwrap_or_default().to_string()).collect()
        } else {
            Vec::new()
        };
        out.push(Chunk {
            doc_id: doc_id.value(i).to_string(),
            index: idx.value(i),
            path: path.value(i).to_string(),
            text: text.value(i).to_string(),
            page_start: opt_u32(page_start, i),
            page_end: opt_u32(page_end, i),
            heading_path,
            char_start: char_start.value(i),
            char_end: char_end.value(i),
            tokens: tokens.value(i),
            embedding_model: embedding_model.value(i).to_string(),
        });
    }
    Ok(out)
}

/// Reads whole rows back: the chunk, its vector and its terms.
pub(crate) fn read_chunk_rows(batch: &RecordBatch) -> Result<Vec<ChunkRow>> {
    let chunks = read_chunks(batch)?;
    let terms = strings(batch, col::TERMS)?;
    let vectors_col = column(batch, col::VECTOR)?;
    let vectors = vectors_col.as_fixed_size_list_opt().ok_or_else(|| wrong_type(col::VECTOR, vectors_col))?;
    let mut out = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.into_iter().enumerate() {
        let v = vectors.value(i);
        let v = v.as_primitive_opt::<Float32Type>().ok_or_else(|| wrong_type(col::VECTOR, vectors_col))?;
        out.push(ChunkRow { chunk, vector: v.values().to_vec(), terms: terms.value(i).to_string() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_safe_and_distinct() {
        let a = chunks_table_name("all-MiniLM-L6-v2.q8_0");
        let b = chunks_table_name("all_minilm_l6_v2_q8_0");
        assert!(a.starts_with("chunks_all_minilm_l6_v2_q8_0_"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, chunks_table_name("all-MiniLM-L6-v2.q8_0"));
        for name in [a, b, chunks_table_name("../../etc/passwd"), chunks_table_name("")] {
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
        }
    }
}
