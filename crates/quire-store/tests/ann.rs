//! The ANN index: built by `maintain` past the threshold, searched with a refine step; recall against exact search.
//!
//! `ann_recall_small` runs with the other tests. `ann_recall_large` (100k rows) is ignored by default:
//! `QUIRE_ANN_ROWS=100000 QUIRE_ANN_DIM=384 cargo test --release -p quire-store --test ann -- --ignored --nocapture`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use quire_core::{Chunk, ChunkRow, DocStatus, DocumentRecord, Format, SearchFilter, Store};
use quire_store::{AnnKind, EF, LanceStore, NPROBES, REFINE_FACTOR, StoreOptions};

type R = Result<(), Box<dyn std::error::Error>>;

const MODEL: &str = "ann-test";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 1_000_000) as f32 / 500_000.0 - 1.0
    }
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-9);
    v.iter_mut().for_each(|a| *a /= n);
    v
}

/// Vectors around `clusters` random centres (text embeddings cluster by topic), with noise.
fn clustered(rng: &mut Rng, n: usize, dim: usize, clusters: usize) -> Vec<Vec<f32>> {
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| (0..dim).map(|_| rng.next()).collect()).collect();
    (0..n)
        .map(|i| {
            let c = &centres[i % clusters];
            normalise(c.iter().map(|x| x + 0.6 * rng.next()).collect())
        })
        .collect()
}

async fn fill(store: &LanceStore, vectors: &[Vec<f32>], per_doc: usize) -> quire_core::Result<()> {
    for (d, group) in vectors.chunks(per_doc).enumerate() {
        let id = format!("doc{d}");
        let path = format!("/lib/{d}.txt");
        let rows: Vec<ChunkRow> = group
            .iter()
            .enumerate()
            .map(|(i, v)| ChunkRow {
                chunk: Chunk {
                    doc_id: id.clone(),
                    index: i as u32,
                    path: path.clone(),
                    text: format!("chunk {i}"),
                    page_start: None,
                    page_end: None,
                    heading_path: Vec::new(),
                    char_start: 0,
                    char_end: 1,
                    tokens: 1,
                    embedding_model: MODEL.into(),
                },
                vector: v.clone(),
                terms: format!("chunk w{i}"),
            })
            .collect();
        let mut record = DocumentRecord {
            id: id.clone(),
            path,
            format: Format::Text,
            title: None,
            content_hash: String::new(),
            size: 1,
            mtime_ms: 0,
            pages: None,
            chunk_count: rows.len() as u32,
            status: DocStatus::Indexing,
            error: None,
            embedding_model: MODEL.into(),
            updated_ms: 0,
        };
        store.upsert_document(&record).await?;
        store.replace_chunks(&id, rows).await?;
        record.status = DocStatus::Indexed;
        store.upsert_document(&record).await?;
    }
    Ok(())
}

async fn recall(store: &LanceStore, queries: &[Vec<f32>], k: usize) -> quire_core::Result<(f64, Duration, Duration)> {
    let all = SearchFilter::default();
    let (mut found, mut total) = (0usize, 0usize);
    let (mut t_ann, mut t_exact) = (Duration::ZERO, Duration::ZERO);
    for q in queries {
        let t = Instant::now();
        let exact: HashSet<String> =
            store.exact_vector_search(q, k, &all).await?.iter().map(|h| h.chunk.id()).collect();
        t_exact += t.elapsed();
        let t = Instant::now();
        let ann = store.vector_search(q, k, &all).await?;
        t_ann += t.elapsed();
        assert_eq!(ann.len(), k);
        assert!(ann.windows(2).all(|w| w[0].score >= w[1].score));
        found += ann.iter().filter(|h| exact.contains(&h.chunk.id())).count();
        total += exact.len();
    }
    let n = queries.len() as u32;
    Ok((found as f64 / total as f64, t_ann / n, t_exact / n))
}

async fn run(rows: usize, dim: usize, threshold: usize) -> quire_core::Result<f64> {
    let dir = tempfile::tempdir().map_err(|e| quire_core::Error::io("tempdir", e))?;
    // The app's kind of index, or IVF-PQ with QUIRE_ANN_KIND=pq.
    let ann_kind = match std::env::var("QUIRE_ANN_KIND").as_deref() {
        Ok("pq") => AnnKind::IvfPq,
        _ => AnnKind::default(),
    };
    let options = StoreOptions { ann_index_threshold: threshold, ann_kind, ..StoreOptions::default() };
    let store = LanceStore::open_with(dir.path(), MODEL, dim, options).await?;
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let vectors = clustered(&mut rng, rows, dim, (rows / 500).max(8));
    let t = Instant::now();
    fill(&store, &vectors, 1000).await?;
    let t_fill = t.elapsed();
    assert!(!store.has_indexes().1);
    let t = Instant::now();
    store.maintain().await?;
    let t_index = t.elapsed();
    assert_eq!(store.has_indexes(), (true, true), "maintain builds the ANN index past the threshold");
    // Queries: perturbed stored vectors (a question lands near, not on, its passage).
    let queries: Vec<Vec<f32>> = (0..50)
        .map(|i| normalise(vectors[(i * 7919) % rows].iter().map(|x| x + 0.05 * rng.next()).collect()))
        .collect();
    // The depth of the recall: 10, or the library's candidates per search (50) with QUIRE_ANN_K.
    let k = std::env::var("QUIRE_ANN_K").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let (r, t_ann, t_exact) = recall(&store, &queries, k).await?;
    println!(
        "rows {rows} dim {dim}: write {t_fill:?}, maintain ({ann_kind:?}) {t_index:?}; recall@{k} {r:.3} with the \
         defaults (nprobes {NPROBES}, refine {REFINE_FACTOR}, ef {EF}); per query: ANN {t_ann:?}, exact {t_exact:?}"
    );
    if std::env::var_os("QUIRE_ANN_GRID").is_some() {
        for (nprobes, refine, ef) in
            [(32, 20, EF), (32, 10, EF), (32, 5, EF), (64, 50, EF), (16, 20, EF), (32, 10, 100), (32, 10, 400)]
        {
            store.tune_ann(nprobes, refine);
            store.tune_ef(ef);
            let (r, t_ann, _) = recall(&store, &queries, k).await?;
            println!("  nprobes {nprobes} refine {refine} ef {ef}: recall@{k} {r:.3}, {t_ann:?} per query");
        }
        store.tune_ann(NPROBES, REFINE_FACTOR);
        store.tune_ef(EF);
    }
    // Rows written after the index are still found (searched flat next to the index).
    let extra = clustered(&mut rng, 10, dim, 2);
    let before = store.stats().await?.chunks;
    fill_one(&store, &extra).await?;
    let hits = store.vector_search(&extra[3], 1, &SearchFilter::default()).await?;
    assert_eq!(hits[0].chunk.doc_id, "extra");
    assert!((hits[0].score - 1.0).abs() < 1e-3);
    assert_eq!(store.stats().await?.chunks, before + 10);
    Ok(r)
}

async fn fill_one(store: &LanceStore, vectors: &[Vec<f32>]) -> quire_core::Result<()> {
    let rows: Vec<ChunkRow> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| ChunkRow {
            chunk: Chunk {
                doc_id: "extra".into(),
                index: i as u32,
                path: "/extra.txt".into(),
                text: String::new(),
                page_start: None,
                page_end: None,
                heading_path: Vec::new(),
                char_start: 0,
                char_end: 0,
                tokens: 0,
                embedding_model: MODEL.into(),
            },
            vector: v.clone(),
            terms: String::new(),
        })
        .collect();
    let mut record = DocumentRecord {
        id: "extra".into(),
        path: "/extra.txt".into(),
        format: Format::Text,
        title: None,
        content_hash: String::new(),
        size: 0,
        mtime_ms: 0,
        pages: None,
        chunk_count: rows.len() as u32,
        status: DocStatus::Indexing,
        error: None,
        embedding_model: MODEL.into(),
        updated_ms: 0,
    };
    store.upsert_document(&record).await?;
    store.replace_chunks("extra", rows).await?;
    record.status = DocStatus::Indexed;
    store.upsert_document(&record).await
}

#[tokio::test]
async fn ann_recall_small() -> R {
    let r = run(4000, 32, 3000).await?;
    assert!(r >= 0.9, "recall@10 {r}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "slow: 100k rows; run with --release"]
async fn ann_recall_large() -> R {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let rows = env("QUIRE_ANN_ROWS", 100_000);
    let r = run(rows, env("QUIRE_ANN_DIM", 384), rows / 2).await?;
    assert!(r >= 0.9, "recall@10 {r}");
    Ok(())
}

#[tokio::test]
async fn an_index_of_another_kind_is_not_used_and_maintain_replaces_it() -> R {
    let dir = tempfile::tempdir().map_err(|e| quire_core::Error::io("tempdir", e))?;
    let options = |ann_kind| StoreOptions { ann_index_threshold: 3000, ann_kind, ..StoreOptions::default() };
    let mut rng = Rng(0x0dd_ba11);
    let vectors = clustered(&mut rng, 4000, 32, 8);
    let all = SearchFilter::default();
    {
        let store = LanceStore::open_with(dir.path(), MODEL, 32, options(AnnKind::IvfPq)).await?;
        fill(&store, &vectors, 1000).await?;
        store.maintain().await?;
        assert_eq!(store.has_indexes(), (true, true));
    }
    let store = LanceStore::open_with(dir.path(), MODEL, 32, options(AnnKind::IvfHnswSq)).await?;
    assert!(!store.has_indexes().1, "the IVF-PQ index was taken for the configured HNSW index");
    let exact = store.vector_search(&vectors[77], 1, &all).await?;
    assert!((exact[0].score - 1.0).abs() < 1e-3, "{exact:?}");
    store.maintain().await?;
    assert_eq!(store.has_indexes(), (true, true), "maintain did not build the configured index");
    let hits = store.vector_search(&vectors[77], 1, &all).await?;
    assert_eq!(hits[0].chunk.id(), exact[0].chunk.id());
    drop(store);
    let store = LanceStore::open_with(dir.path(), MODEL, 32, options(AnnKind::IvfHnswSq)).await?;
    assert!(store.has_indexes().1, "the HNSW index was not found again on opening");
    Ok(())
}
