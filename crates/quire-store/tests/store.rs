//! LanceStore on a real LanceDB directory (a temp dir), with vectors and terms built by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quire_core::{Chunk, ChunkRow, DocStatus, DocumentRecord, Error, Format, SearchFilter, Store};
use quire_store::{DOCUMENTS_TABLE, LanceStore, RECOVERED_DIR, StoreOptions};

type R = Result<(), Box<dyn std::error::Error>>;

const MODEL: &str = "test-embed.q8_0";
const DIM: usize = 16;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn doc(id: &str, path: &str, status: DocStatus, chunk_count: u32) -> DocumentRecord {
    DocumentRecord {
        id: id.into(),
        path: path.into(),
        format: Format::Text,
        title: None,
        content_hash: format!("hash-{id}"),
        size: 100,
        mtime_ms: 1_700_000_000_000,
        pages: None,
        chunk_count,
        status,
        error: None,
        embedding_model: MODEL.into(),
        updated_ms: 1_700_000_000_001,
    }
}

/// A deterministic pseudo-random unit vector.
fn unit(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 20_000) as f32 / 10_000.0 - 1.0
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

fn row(doc_id: &str, path: &str, index: u32, vector: Vec<f32>, terms: &str) -> ChunkRow {
    ChunkRow {
        chunk: Chunk {
            doc_id: doc_id.into(),
            index,
            path: path.into(),
            text: format!("text of {doc_id} #{index}: {terms}"),
            page_start: Some(index + 1),
            page_end: if index.is_multiple_of(2) { Some(index + 2) } else { None },
            heading_path: (0..index % 3).map(|h| format!("Heading {h} 'quoted'")).collect(),
            char_start: u64::from(index) * 100,
            char_end: u64::from(index) * 100 + 99,
            tokens: 20 + index,
            embedding_model: MODEL.into(),
        },
        vector,
        terms: terms.into(),
    }
}

fn rows(doc_id: &str, path: &str, n: u32, seed: u64) -> Vec<ChunkRow> {
    (0..n)
        .map(|i| row(doc_id, path, i, unit(seed * 1000 + u64::from(i)), &format!("common word{i} {doc_id}")))
        .collect()
}

/// Writes a document the way the core does: Indexing, chunks, Indexed.
async fn index_doc(store: &LanceStore, id: &str, path: &str, rows: Vec<ChunkRow>) -> quire_core::Result<()> {
    let mut d = doc(id, path, DocStatus::Indexing, rows.len() as u32);
    store.upsert_document(&d).await?;
    store.replace_chunks(id, rows).await?;
    d.status = DocStatus::Indexed;
    store.upsert_document(&d).await
}

fn scored(hits: &[quire_core::Hit]) -> Vec<(String, f32)> {
    hits.iter().map(|h| (h.chunk.id(), h.score)).collect()
}

fn ids(hits: &[quire_core::Hit]) -> Vec<String> {
    hits.iter().map(|h| h.chunk.id()).collect()
}

async fn open(dir: &Path) -> quire_core::Result<LanceStore> {
    LanceStore::open(dir, MODEL, DIM).await
}

#[tokio::test]
async fn documents_round_trip() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    assert!(store.documents().await?.is_empty());
    let full = DocumentRecord {
        id: "d1".into(),
        path: "/docs/it's here/a.pdf".into(),
        format: Format::Pdf,
        title: Some("A title, with 'quotes' and ünïcode".into()),
        content_hash: "abc123".into(),
        size: u64::MAX - 1,
        mtime_ms: -5,
        pages: Some(261),
        chunk_count: 42,
        status: DocStatus::Failed,
        error: Some("the file is damaged: bad xref".into()),
        embedding_model: MODEL.into(),
        updated_ms: 1_700_000_000_000,
    };
    let bare = doc("d2", "/docs/b.txt", DocStatus::Indexing, 0);
    store.upsert_document(&full).await?;
    store.upsert_document(&bare).await?;
    assert_eq!(store.documents().await?, vec![bare.clone(), full.clone()]);
    assert_eq!(store.document_by_path("/docs/it's here/a.pdf").await?, Some(full.clone()));
    assert_eq!(store.document_by_path("/docs/missing").await?, None);

    // Upsert replaces by id.
    let mut changed = bare.clone();
    changed.status = DocStatus::Indexed;
    changed.title = Some("now titled".into());
    changed.pages = Some(3);
    store.upsert_document(&changed).await?;
    assert_eq!(store.documents().await?, vec![changed.clone(), full.clone()]);

    let stats = store.stats().await?;
    assert_eq!((stats.documents, stats.indexed, stats.failed, stats.chunks), (2, 1, 1, 0));
    assert_eq!(stats.embedding_model.as_deref(), Some(MODEL));
    assert!(stats.disk_bytes > 0);

    // Survives a reopen.
    drop(store);
    let store = open(dir.path()).await?;
    assert_eq!(store.documents().await?, vec![changed, full]);
    Ok(())
}

#[tokio::test]
async fn replace_chunks_replaces_in_one_go() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    index_doc(&store, "other", "/o.txt", rows("other", "/o.txt", 4, 9)).await?;
    let five = rows("d", "/d.txt", 5, 1);
    index_doc(&store, "d", "/d.txt", five.clone()).await?;
    assert_eq!(store.chunk_rows("d").await?, five);
    // The same rows again: no duplicates.
    store.replace_chunks("d", five.clone()).await?;
    assert_eq!(store.chunk_rows("d").await?, five);
    // Fewer rows replace more rows.
    let three = rows("d", "/d.txt", 3, 2);
    store.replace_chunks("d", three.clone()).await?;
    assert_eq!(store.chunk_rows("d").await?, three);
    assert_eq!(store.stats().await?.chunks, 7);
    // The other document is untouched.
    assert_eq!(store.chunk_rows("other").await?, rows("other", "/o.txt", 4, 9));
    // No rows: the document has no chunks.
    store.replace_chunks("d", Vec::new()).await?;
    assert!(store.chunk_rows("d").await?.is_empty());
    assert_eq!(store.stats().await?.chunks, 4);
    Ok(())
}

#[tokio::test]
async fn replace_chunks_rejects_bad_rows() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    let mut wrong_dim = rows("d", "/d.txt", 1, 1);
    wrong_dim[0].vector.pop();
    let mut wrong_model = rows("d", "/d.txt", 1, 1);
    wrong_model[0].chunk.embedding_model = "other-model".into();
    let mut duplicate = rows("d", "/d.txt", 2, 1);
    duplicate[1].chunk.index = 0;
    for bad in [wrong_dim, wrong_model, duplicate, rows("e", "/e.txt", 1, 1)] {
        let err = store.replace_chunks("d", bad).await.expect_err("bad rows are refused");
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    }
    assert_eq!(store.stats().await?.chunks, 0);
    let err = store.vector_search(&[1.0; 3], 5, &SearchFilter::default()).await.expect_err("wrong dimension");
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    Ok(())
}

#[tokio::test]
async fn vector_search_ranks_the_exact_vector_first() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        index_doc(&store, id, &format!("/{id}.txt"), rows(id, &format!("/{id}.txt"), 10, i as u64 + 1)).await?;
    }
    let target = rows("b", "/b.txt", 10, 2).remove(7);
    let hits = store.vector_search(&target.vector, 5, &SearchFilter::default()).await?;
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].chunk, target.chunk);
    assert!((hits[0].score - 1.0).abs() < 1e-4, "score {}", hits[0].score);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // Cosine: scale does not matter.
    let scaled: Vec<f32> = target.vector.iter().map(|x| x * 7.5).collect();
    let hits = store.vector_search(&scaled, 1, &SearchFilter::default()).await?;
    assert_eq!(ids(&hits), vec!["b:7"]);
    assert!((hits[0].score - 1.0).abs() < 1e-4);
    // Opposite vector: similarity -1.
    let opposite: Vec<f32> = target.vector.iter().map(|x| -x).collect();
    let all = store.vector_search(&opposite, 30, &SearchFilter::default()).await?;
    assert_eq!(all.len(), 30);
    assert_eq!(all.last().map(|h| h.chunk.id()), Some("b:7".to_string()));
    assert!(all.last().is_some_and(|h| (h.score + 1.0).abs() < 1e-4));
    Ok(())
}

fn fts_row(doc_id: &str, index: u32, terms: &str) -> ChunkRow {
    row(doc_id, &format!("/{doc_id}.txt"), index, unit(u64::from(index) + 77), terms)
}

#[tokio::test]
async fn fulltext_is_bm25_over_the_terms_as_given() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    let first = vec![
        fts_row("a", 0, "appl appl pie recip"),
        fts_row("a", 1, "appl pie crust recip"),
        fts_row("a", 2, "banana bread recip oven"),
        fts_row("a", 3, "the running c++ 東京 京都"),
    ];
    index_doc(&store, "a", "/a.txt", first).await?;
    assert_eq!(store.has_indexes(), (true, false));
    let all = SearchFilter::default();

    // Term frequency counts: two "appl" before one.
    let hits = store.fulltext_search("appl", 10, &all).await?;
    assert_eq!(ids(&hits), vec!["a:0", "a:1"]);
    assert!(hits[0].score > hits[1].score && hits[1].score > 0.0);
    // A rare term outweighs a common one (IDF), and any term may match (OR).
    let hits = store.fulltext_search("recip banana", 10, &all).await?;
    assert_eq!(hits.first().map(|h| h.chunk.id()), Some("a:2".to_string()));
    assert_eq!(hits.len(), 3);
    // Terms are taken as given: no stemming, stop-word removal, lowercasing or punctuation splitting.
    assert_eq!(ids(&store.fulltext_search("the", 10, &all).await?), vec!["a:3"]);
    assert_eq!(ids(&store.fulltext_search("c++", 10, &all).await?), vec!["a:3"]);
    assert_eq!(ids(&store.fulltext_search("東京", 10, &all).await?), vec!["a:3"]);
    assert!(store.fulltext_search("run", 10, &all).await?.is_empty());
    assert!(store.fulltext_search("Appl", 10, &all).await?.is_empty());
    assert!(store.fulltext_search("zebra", 10, &all).await?.is_empty());
    assert!(store.fulltext_search("  ", 10, &all).await?.is_empty());

    // Rows written after the index was built are found.
    index_doc(&store, "b", "/b.txt", vec![fts_row("b", 0, "zebra stripe"), fts_row("b", 1, "appl zebra")]).await?;
    assert_eq!(ids(&store.fulltext_search("zebra", 10, &all).await?).len(), 2);
    assert_eq!(ids(&store.fulltext_search("stripe", 10, &all).await?), vec!["b:0"]);
    let hits = store.fulltext_search("appl", 10, &all).await?;
    assert_eq!(hits.len(), 3);
    // Replaced rows are no longer found; their new terms are.
    store.replace_chunks("a", vec![fts_row("a", 0, "kiwi")]).await?;
    assert_eq!(ids(&store.fulltext_search("appl", 10, &all).await?), vec!["b:1"]);
    assert_eq!(ids(&store.fulltext_search("kiwi", 10, &all).await?), vec!["a:0"]);
    // k limits.
    assert_eq!(store.fulltext_search("zebra", 1, &all).await?.len(), 1);
    // And after maintain (index refreshed, fragments compacted) the same answers.
    store.maintain().await?;
    assert_eq!(ids(&store.fulltext_search("kiwi", 10, &all).await?), vec!["a:0"]);
    assert_eq!(ids(&store.fulltext_search("stripe", 10, &all).await?), vec!["b:0"]);
    assert_eq!(ids(&store.fulltext_search("appl", 10, &all).await?), vec!["b:1"]);
    Ok(())
}

#[tokio::test]
async fn filters_by_path_prefix_and_doc_ids() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    let quoted = "/docs/it's/";
    for (id, path) in [("q", "/docs/it's/a.txt"), ("p", "/docs/its/b.txt"), ("r", "/docs/it's/sub/c.txt")] {
        index_doc(&store, id, path, rows(id, path, 3, id.len() as u64 + id.as_bytes()[0] as u64)).await?;
    }
    let query = unit(4242);
    let in_quoted = SearchFilter { path_prefix: Some(quoted.into()), doc_ids: None };
    let hits = store.vector_search(&query, 20, &in_quoted).await?;
    assert_eq!(hits.len(), 6);
    assert!(hits.iter().all(|h| h.chunk.path.starts_with(quoted)));
    let hits = store.fulltext_search("common", 20, &in_quoted).await?;
    assert_eq!(hits.len(), 6);
    assert!(hits.iter().all(|h| h.chunk.path.starts_with(quoted)));
    // Characters that mean something in LIKE patterns are plain characters in a prefix.
    let pattern = SearchFilter { path_prefix: Some("/docs/it_s/%".into()), doc_ids: None };
    assert!(store.vector_search(&query, 20, &pattern).await?.is_empty());

    let only_p = SearchFilter { path_prefix: None, doc_ids: Some(vec!["p".into(), "missing'); --".into()]) };
    let hits = store.vector_search(&query, 20, &only_p).await?;
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h.chunk.doc_id == "p"));
    assert_eq!(store.fulltext_search("common", 20, &only_p).await?.len(), 3);
    let both = SearchFilter { path_prefix: Some(quoted.into()), doc_ids: Some(vec!["p".into(), "r".into()]) };
    let hits = store.vector_search(&query, 20, &both).await?;
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h.chunk.doc_id == "r"));
    let none = SearchFilter { path_prefix: None, doc_ids: Some(Vec::new()) };
    assert!(store.vector_search(&query, 20, &none).await?.is_empty());
    assert!(store.fulltext_search("common", 20, &none).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn documents_not_indexed_are_not_searched() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    let a_rows = rows("a", "/a.txt", 3, 1);
    index_doc(&store, "a", "/a.txt", a_rows.clone()).await?;
    index_doc(&store, "b", "/b.txt", rows("b", "/b.txt", 3, 2)).await?;
    let all = SearchFilter::default();
    let q = a_rows[1].vector.clone();
    assert_eq!(store.vector_search(&q, 1, &all).await?[0].chunk.doc_id, "a");

    // Re-indexing "a": its record says Indexing, so none of its chunks (old or new) may be returned.
    store.upsert_document(&doc("a", "/a.txt", DocStatus::Indexing, 3)).await?;
    let check_hidden = |hits: Vec<quire_core::Hit>| hits.iter().all(|h| h.chunk.doc_id != "a");
    assert!(check_hidden(store.vector_search(&q, 10, &all).await?));
    assert!(check_hidden(store.fulltext_search("common a", 10, &all).await?));
    assert_eq!(store.vector_search(&q, 10, &all).await?.len(), 3);
    store.replace_chunks("a", rows("a", "/a.txt", 2, 5)).await?;
    assert!(check_hidden(store.vector_search(&q, 10, &all).await?));

    // A crash here leaves "a" Indexing: still hidden after reopening.
    drop(store);
    let store = open(dir.path()).await?;
    assert!(check_hidden(store.vector_search(&q, 10, &all).await?));
    assert!(check_hidden(store.fulltext_search("a", 10, &all).await?));
    assert_eq!(store.chunk_rows("a").await?.len(), 2, "the chunks are stored, only not searched");

    // Failed documents are not searched either.
    store.upsert_document(&doc("b", "/b.txt", DocStatus::Failed, 3)).await?;
    assert!(store.vector_search(&q, 10, &all).await?.is_empty());
    store.upsert_document(&doc("a", "/a.txt", DocStatus::Indexed, 2)).await?;
    let hits = store.vector_search(&q, 10, &all).await?;
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.chunk.doc_id == "a"));
    Ok(())
}

#[tokio::test]
async fn remove_document_removes_record_and_chunks() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    index_doc(&store, "a", "/a.txt", rows("a", "/a.txt", 3, 1)).await?;
    index_doc(&store, "b", "/b.txt", rows("b", "/b.txt", 2, 2)).await?;
    store.remove_document("a").await?;
    assert_eq!(store.documents().await?.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), vec!["b"]);
    assert!(store.chunk_rows("a").await?.is_empty());
    assert_eq!(store.stats().await?.chunks, 2);
    let hits = store.vector_search(&unit(1000), 10, &SearchFilter::default()).await?;
    assert!(hits.iter().all(|h| h.chunk.doc_id == "b"));
    assert!(store.fulltext_search("a", 10, &SearchFilter::default()).await?.is_empty());
    // Removing what is not there is fine.
    store.remove_document("a").await?;
    Ok(())
}

#[tokio::test]
async fn a_second_writer_is_refused() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    let options = StoreOptions { same_process_wait: Duration::ZERO, ..StoreOptions::default() };
    let err = LanceStore::open_with(dir.path(), MODEL, DIM, options.clone()).await.expect_err("second writer");
    let msg = err.to_string();
    assert!(msg.contains("still in use by a task of this process"), "{msg}");
    drop(store);

    // Another process holds the lock (`flock`, as a second Quire would).
    let mut holder = std::process::Command::new("flock")
        .args(["--exclusive", "--close"]) // --close: the lock is flock's own, gone when it is killed
        .arg(dir.path().join("writer.lock"))
        .args(["sleep", "30"])
        .spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let err = loop {
        match LanceStore::open_with(dir.path(), MODEL, DIM, options.clone()).await {
            Err(e) => break e,
            Ok(store) => {
                drop(store);
                assert!(std::time::Instant::now() < deadline, "the other process never took the lock");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    holder.kill()?;
    holder.wait()?;
    assert!(err.to_string().contains("already open in another Quire process"), "{err}");

    let store = open(dir.path()).await?;
    assert!(store.documents().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn opening_again_in_the_same_process_waits_for_the_previous_store() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    index_doc(&store, "a", "/a.txt", rows("a", "/a.txt", 2, 1)).await?;
    let holder = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(store);
    });
    let again = open(dir.path()).await?;
    holder.await?;
    assert_eq!(again.documents().await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn models_have_their_own_chunks() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    index_doc(&store, "a", "/a.txt", rows("a", "/a.txt", 3, 1)).await?;
    let first_table = store.chunks_table().to_string();
    drop(store);
    let other = LanceStore::open(dir.path(), "another-model", 4).await?;
    assert_ne!(other.chunks_table(), first_table);
    assert_eq!(other.documents().await?.len(), 1, "documents are shared");
    assert_eq!(other.stats().await?.chunks, 0);
    assert!(other.vector_search(&[0.5; 4], 5, &SearchFilter::default()).await?.is_empty());
    drop(other);
    // The same model with another dimension is refused.
    let err = LanceStore::open(dir.path(), MODEL, DIM + 1).await.expect_err("dimension mismatch");
    assert!(err.to_string().contains("dimension"), "{err}");
    Ok(())
}

fn newest_manifest(table_dir: &Path) -> PathBuf {
    let mut manifests: Vec<(u64, PathBuf)> = std::fs::read_dir(table_dir.join("_versions"))
        .expect("versions dir")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".manifest")?;
            let n: u64 = stem.parse().ok()?;
            let version = if stem.len() == 20 { u64::MAX - n } else { n };
            Some((version, e.path()))
        })
        .collect();
    manifests.sort();
    manifests.pop().expect("a manifest").1
}

#[tokio::test]
async fn recovers_from_an_unreadable_newest_manifest() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    let a = doc("a", "/a.txt", DocStatus::Indexed, 0);
    store.upsert_document(&a).await?;
    store.upsert_document(&doc("b", "/b.txt", DocStatus::Indexed, 0)).await?;
    drop(store);

    // A crash mid-commit: the newest manifest is cut short.
    let manifest = newest_manifest(&dir.path().join(format!("{DOCUMENTS_TABLE}.lance")));
    let len = std::fs::metadata(&manifest)?.len();
    let f = std::fs::OpenOptions::new().write(true).open(&manifest)?;
    f.set_len(len / 2)?;
    drop(f);

    let store = open(dir.path()).await?;
    assert_eq!(store.documents().await?, vec![a.clone()]);
    assert!(dir.path().join(RECOVERED_DIR).join(DOCUMENTS_TABLE).read_dir()?.count() == 1);
    // The user is told, in words.
    let told = store.recovered();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("list of documents") && told[0].contains("brought back to version"), "{told:?}");
    // And the store goes on working.
    let c = doc("c", "/c.txt", DocStatus::Indexed, 0);
    store.upsert_document(&c).await?;
    drop(store);
    let store = open(dir.path()).await?;
    assert_eq!(store.documents().await?, vec![a, c]);
    assert_eq!(store.recovered(), Vec::<String>::new(), "a clean open reports nothing");
    Ok(())
}

#[tokio::test]
async fn recovers_from_an_unreadable_newest_data_file() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    index_doc(&store, "a", "/a.txt", rows("a", "/a.txt", 3, 1)).await?;
    let data_dir = dir.path().join(format!("{}.lance", store.chunks_table())).join("data");
    let before: Vec<PathBuf> = std::fs::read_dir(&data_dir)?.flatten().map(|e| e.path()).collect();
    index_doc(&store, "b", "/b.txt", rows("b", "/b.txt", 4, 2)).await?;
    drop(store);
    let new_files: Vec<PathBuf> =
        std::fs::read_dir(&data_dir)?.flatten().map(|e| e.path()).filter(|p| !before.contains(p)).collect();
    assert_eq!(new_files.len(), 1, "{new_files:?}");
    let len = std::fs::metadata(&new_files[0])?.len();
    std::fs::OpenOptions::new().write(true).open(&new_files[0])?.set_len(len / 3)?;

    let store = open(dir.path()).await?;
    let told = store.recovered();
    assert!(told.len() == 1 && told[0].contains("index of passages"), "{told:?}");
    // Back to the version before "b" was written; "b"'s record no longer matches its chunks, so it is redone.
    assert_eq!(store.chunk_rows("a").await?, rows("a", "/a.txt", 3, 1));
    assert!(store.chunk_rows("b").await?.is_empty());
    let b = store.document_by_path("/b.txt").await?.expect("b's record");
    assert_eq!(b.status, DocStatus::Indexing);
    let hits = store.vector_search(&unit(1000), 10, &SearchFilter::default()).await?;
    assert_eq!(hits.len(), 3);
    // Writing "b" again works.
    index_doc(&store, "b", "/b.txt", rows("b", "/b.txt", 4, 2)).await?;
    assert_eq!(store.vector_search(&unit(1000), 10, &SearchFilter::default()).await?.len(), 7);
    Ok(())
}

#[tokio::test]
async fn maintain_prunes_versions_and_keeps_data() -> R {
    let dir = tmp();
    let options = StoreOptions { keep_versions_for: Duration::ZERO, ..StoreOptions::default() };
    let store = LanceStore::open_with(dir.path(), MODEL, DIM, options).await?;
    for i in 0..6u64 {
        let id = format!("d{i}");
        let path = format!("/d/{i}.txt");
        index_doc(&store, &id, &path, rows(&id, &path, 4, i + 1)).await?;
    }
    store.replace_chunks("d0", rows("d0", "/d/0.txt", 2, 1)).await?;
    let (docs_before, chunks_before) = store.version_counts().await?;
    assert!(docs_before >= 12 && chunks_before >= 7, "{docs_before} {chunks_before}");
    let docs = store.documents().await?;
    let rows3 = store.chunk_rows("d3").await?;
    let bytes_before = store.stats().await?.disk_bytes;

    store.maintain().await?;
    let (docs_after, chunks_after) = store.version_counts().await?;
    assert!(docs_after <= 2 && chunks_after <= 2, "{docs_after} {chunks_after}");
    assert!(store.stats().await?.disk_bytes < bytes_before);
    assert_eq!(store.documents().await?, docs);
    assert_eq!(store.chunk_rows("d3").await?, rows3);
    assert_eq!(store.stats().await?.chunks, 22);
    let target = &rows3[2];
    let hits = store.vector_search(&target.vector, 1, &SearchFilter::default()).await?;
    assert_eq!(hits[0].chunk, target.chunk);
    assert_eq!(store.fulltext_search("d3", 10, &SearchFilter::default()).await?.len(), 4);
    // Maintain again (nothing to do) and write after it.
    store.maintain().await?;
    index_doc(&store, "n", "/n.txt", rows("n", "/n.txt", 2, 99)).await?;
    assert_eq!(store.fulltext_search("n", 10, &SearchFilter::default()).await?.len(), 2);
    drop(store);
    let store = open(dir.path()).await?;
    assert_eq!(store.stats().await?.chunks, 24);
    Ok(())
}

#[tokio::test]
async fn many_small_writes_do_not_pile_up_fragments() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    // Each document is two commits to the documents table and one to the chunks table.
    for i in 0..150u64 {
        let id = format!("d{i}");
        let path = format!("/d/{i}.txt");
        index_doc(&store, &id, &path, rows(&id, &path, 1, i + 1)).await?;
    }
    let (docs, chunks) = store.fragment_counts().await?;
    // Compacted in line every 64 commits: far fewer fragments than commits, without `maintain`.
    assert!(docs <= 65 && chunks <= 65, "{docs} document fragments, {chunks} chunk fragments after 150 documents");
    assert_eq!(store.documents().await?.len(), 150);
    assert_eq!(store.stats().await?.chunks, 150);
    assert_eq!(store.fulltext_search("d149", 10, &SearchFilter::default()).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn recovers_from_a_newest_manifest_with_garbage_inside() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    let a = doc("a", "/a.txt", DocStatus::Indexed, 0);
    store.upsert_document(&a).await?;
    store.upsert_document(&doc("b", "/b.txt", DocStatus::Indexed, 0)).await?;
    drop(store);

    // Same length, intact footer, but the manifest message itself is garbage: LanceDB fails to decode it.
    let manifest = newest_manifest(&dir.path().join(format!("{DOCUMENTS_TABLE}.lance")));
    let mut bytes = std::fs::read(&manifest)?;
    let n = bytes.len();
    let offset = u64::from_le_bytes(bytes[n - 16..n - 8].try_into()?) as usize;
    for b in &mut bytes[offset + 4..n - 16] {
        *b = 0xff;
    }
    std::fs::write(&manifest, &bytes)?;

    let store = open(dir.path()).await?;
    assert_eq!(store.documents().await?, vec![a]);
    assert_eq!(store.recovered().len(), 1);
    Ok(())
}

#[tokio::test]
async fn each_chunk_replacement_is_one_commit() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    index_doc(&store, "a", "/a.txt", rows("a", "/a.txt", 5, 1)).await?;
    let (_, before) = store.version_counts().await?;
    store.replace_chunks("a", rows("a", "/a.txt", 3, 2)).await?;
    store.replace_chunks("a", rows("a", "/a.txt", 6, 3)).await?;
    let (_, after) = store.version_counts().await?;
    assert_eq!(after, before + 2);
    assert_eq!(store.chunk_rows("a").await?, rows("a", "/a.txt", 6, 3));
    Ok(())
}

/// `rows` as another embedding model (`OTHER`, vectors of `OTHER_DIM`) would have embedded them.
fn other_rows(doc_id: &str, path: &str, n: u32, seed: u64) -> Vec<ChunkRow> {
    rows(doc_id, path, n, seed)
        .into_iter()
        .map(|mut r| {
            r.chunk.embedding_model = OTHER.into();
            r.vector = r.vector[..OTHER_DIM].to_vec();
            let norm = r.vector.iter().map(|a| a * a).sum::<f32>().sqrt();
            r.vector.iter_mut().for_each(|a| *a /= norm);
            r
        })
        .collect()
}

const OTHER: &str = "other-embed.f16";
const OTHER_DIM: usize = 8;

#[tokio::test]
async fn another_models_table_is_filled_beside_the_current_one_and_opened_when_switched() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    index_doc(&store, "a", "/a.txt", rows("a", "/a.txt", 3, 1)).await?;
    index_doc(&store, "b", "/b.txt", rows("b", "/b.txt", 2, 2)).await?;
    let wrong = store.stage_chunks(OTHER, OTHER_DIM, "a", rows("a", "/a.txt", 3, 1)).await;
    assert!(wrong.expect_err("rows of the current model").to_string().contains("was embedded by"));
    let current = store.stage_chunks(MODEL, DIM, "a", rows("a", "/a.txt", 3, 1)).await;
    assert!(current.expect_err("the current table").to_string().contains("current embedding model"));
    store.stage_chunks(OTHER, OTHER_DIM, "a", other_rows("a", "/a.txt", 3, 1)).await?;
    store.stage_chunks(OTHER, OTHER_DIM, "b", other_rows("b", "/b.txt", 2, 2)).await?;
    // Staging again replaces the document's rows.
    store.stage_chunks(OTHER, OTHER_DIM, "b", other_rows("b", "/b.txt", 1, 3)).await?;
    store.seal_staged(OTHER, OTHER_DIM).await?;
    // The current table is untouched.
    assert_eq!(store.stats().await?.chunks, 5);
    assert_eq!(
        store.chunk_rows("a").await?.iter().map(|r| r.chunk.embedding_model.as_str()).collect::<Vec<_>>(),
        [MODEL; 3]
    );
    let refused = store.drop_model(MODEL).await.expect_err("the current model");
    assert!(refused.to_string().contains("cannot be removed"), "{refused}");
    drop(store);

    let switched = LanceStore::open(dir.path(), OTHER, OTHER_DIM).await?;
    assert!(switched.has_indexes().0, "the sealed table has its full-text index");
    assert_eq!(switched.chunk_rows("a").await?.len(), 3);
    assert_eq!(switched.chunk_rows("b").await?.len(), 1);
    assert_eq!(switched.stats().await?.chunks, 4);
    let hits = switched.fulltext_search("word0", 10, &SearchFilter::default()).await?;
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|h| h.chunk.embedding_model == OTHER));
    switched.drop_model(MODEL).await?;
    switched.drop_model(MODEL).await?; // nothing left to remove: fine
    drop(switched);

    let back = open(dir.path()).await?;
    assert_eq!(back.stats().await?.chunks, 0, "the old model's table was removed");
    Ok(())
}

#[tokio::test]
async fn candidates_read_back_as_the_hits_a_search_returns() -> R {
    let dir = tmp();
    let store = open(dir.path()).await?;
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        index_doc(&store, id, &format!("/{id}.txt"), rows(id, &format!("/{id}.txt"), 12, i as u64 + 1)).await?;
    }
    let all = SearchFilter::default();
    let q = rows("b", "/b.txt", 12, 2).remove(4).vector;

    // The same chunks, order and scores as the searches that read whole chunks.
    let found = store.vector_candidates(&q, 8, &all).await?;
    assert!(found.iter().all(|c| c.row.is_some()), "Lance hands back each row's id");
    let hits = store.vector_search(&q, 8, &all).await?;
    assert_eq!(found.iter().map(|c| c.id()).collect::<Vec<_>>(), ids(&hits));
    assert_eq!(store.read_hits(&found).await?, hits);
    // (BM25 ties here, which either search may order and cut either way: compared by id, against every match.)
    let found_text = store.fulltext_candidates("common word3", 5, &all).await?;
    let hits_text = store.read_hits(&found_text).await?;
    assert_eq!(found_text.iter().map(|c| (c.id(), c.score)).collect::<Vec<_>>(), scored(&hits_text));
    let searched: std::collections::HashMap<String, quire_core::Hit> =
        store.fulltext_search("common word3", 100, &all).await?.into_iter().map(|h| (h.chunk.id(), h)).collect();
    assert_eq!(searched.len(), 36);
    assert!(hits_text.iter().all(|h| searched.get(&h.chunk.id()) == Some(h)));

    // Rows written, removed and compacted between the search and the read: the row ids found before no longer
    // point at those chunks, and the chunks are still read right; a removed document's chunks are left out.
    let from_a = found.iter().filter(|c| c.doc_id == "a").count();
    store.remove_document("a").await?;
    index_doc(&store, "d", "/d.txt", rows("d", "/d.txt", 12, 9)).await?;
    store.maintain().await?;
    let read = store.read_hits(&found).await?;
    let kept: Vec<_> = hits.iter().filter(|h| h.chunk.doc_id != "a").cloned().collect();
    assert_eq!(read, kept);
    assert_eq!(read.len(), hits.len() - from_a);

    // A stale or missing row id: read by the chunk's id instead.
    let mut wrong = found_text.clone();
    wrong.iter_mut().for_each(|c| c.row = Some(c.row.unwrap_or(0) + 1));
    wrong.push(quire_core::Candidate { doc_id: "c".into(), index: 11, score: 0.5, row: None });
    let read = store.read_hits(&wrong).await?;
    let want: Vec<(String, f32)> = wrong.iter().filter(|c| c.doc_id != "a").map(|c| (c.id(), c.score)).collect();
    assert_eq!(scored(&read), want);
    assert_eq!(read.last().map(|h| h.chunk.text.as_str()), Some("text of c #11: common word11 c"));

    // A document indexed again since the search: its new chunks are read, not the deleted rows the ids found.
    let mut b_again = rows("b", "/b.txt", 12, 2);
    b_again.iter_mut().for_each(|r| r.chunk.text = format!("{} (edited)", r.chunk.text));
    index_doc(&store, "b", "/b.txt", b_again).await?;
    let read = store.read_hits(&found).await?;
    assert!(read.iter().any(|h| h.chunk.doc_id == "b"));
    assert!(read.iter().filter(|h| h.chunk.doc_id == "b").all(|h| h.chunk.text.ends_with("(edited)")));

    // Rows deleted inside a fragment that is still there (compaction put documents c and d in one fragment;
    // indexing c again deletes its rows there, and d's keep the fragment): the deleted rows are not read back,
    // c's new chunks are, in the order found.
    let near_c = rows("c", "/c.txt", 12, 3).remove(4).vector;
    let fresh = store.vector_candidates(&near_c, 8, &all).await?;
    assert!(fresh.iter().filter(|c| c.doc_id == "c").count() >= 4, "{fresh:?}");
    let mut c_again = rows("c", "/c.txt", 12, 3);
    c_again.iter_mut().for_each(|r| r.chunk.text = format!("{} (edited)", r.chunk.text));
    index_doc(&store, "c", "/c.txt", c_again).await?;
    assert!(store.fulltext_search("word3", 100, &all).await?.iter().any(|h| h.chunk.doc_id == "d"));
    let read = store.read_hits(&fresh).await?;
    assert_eq!(ids(&read), fresh.iter().map(|c| c.id()).collect::<Vec<_>>());
    assert!(read.iter().filter(|h| h.chunk.doc_id == "c").all(|h| h.chunk.text.ends_with("(edited)")));

    // A document being re-indexed is hidden from the read as from the search.
    store.upsert_document(&doc("c", "/c.txt", DocStatus::Indexing, 12)).await?;
    assert!(store.read_hits(&wrong).await?.iter().all(|h| h.chunk.doc_id != "c"));
    Ok(())
}

#[tokio::test]
async fn a_library_written_through_io_uring_reads_the_same_with_plain_reads_and_back() -> R {
    let dir = tmp();
    let uring = StoreOptions::default();
    let plain = StoreOptions { io_uring: false, ..StoreOptions::default() };
    let all = SearchFilter::default();
    let q = rows("b", "/b.txt", 12, 2).remove(4).vector;

    let store = LanceStore::open_with(dir.path(), MODEL, DIM, uring.clone()).await?;
    eprintln!("reads through io_uring: {}", store.reads_through_io_uring());
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        index_doc(&store, id, &format!("/{id}.txt"), rows(id, &format!("/{id}.txt"), 12, i as u64 + 1)).await?;
    }
    store.remove_document("c").await?;
    store.maintain().await?;
    let seen = (
        store.documents().await?,
        store.chunk_rows("b").await?,
        scored(&store.vector_search(&q, 8, &all).await?),
        scored(&store.fulltext_search("common word3 b", 5, &all).await?),
    );
    assert_eq!(seen.0.len(), 2);
    assert_eq!(seen.1, rows("b", "/b.txt", 12, 2));
    assert_eq!(seen.2.len(), 8);
    drop(store);

    let store = LanceStore::open_with(dir.path(), MODEL, DIM, plain).await?;
    assert!(!store.reads_through_io_uring());
    let again = (
        store.documents().await?,
        store.chunk_rows("b").await?,
        scored(&store.vector_search(&q, 8, &all).await?),
        scored(&store.fulltext_search("common word3 b", 5, &all).await?),
    );
    assert_eq!(again, seen);
    // Written with plain writes, read through io_uring.
    index_doc(&store, "d", "/d.txt", rows("d", "/d.txt", 12, 4)).await?;
    let d = store.chunk_rows("d").await?;
    drop(store);
    let store = LanceStore::open_with(dir.path(), MODEL, DIM, uring).await?;
    assert_eq!(store.chunk_rows("d").await?, d);
    assert_eq!(store.documents().await?.len(), 3);
    assert_eq!(store.stats().await?.chunks, 36);
    Ok(())
}
