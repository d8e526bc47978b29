//! Ingest and search on real documents, through the library the app and the CLI use.

use std::collections::HashSet;
use std::path::PathBuf;

use quire_core::library::{DocOutcome, IngestOptions, IngestReport, Library};
use quire_core::{DocStatus, Hit, SearchFilter, SearchMode};

use crate::support::{copy_into, fixture, open_library};

async fn ingest(library: &Library, paths: &[PathBuf]) -> IngestReport {
    library.ingest(paths, &IngestOptions { prune_missing: true, force: false }, &|_| {}, None).await.expect("ingest")
}

async fn search(library: &Library, query: &str, mode: SearchMode) -> Vec<Hit> {
    library.search(query, 5, mode, &SearchFilter::default()).await.expect("search")
}

/// True when one of the first `n` hits comes from `file` and covers `page`.
fn found(hits: &[Hit], n: usize, file: &str, page: u32) -> bool {
    hits.iter().take(n).any(|h| {
        h.chunk.path.ends_with(file)
            && h.chunk.page_start.is_some_and(|s| s <= page)
            && h.chunk.page_end.is_some_and(|e| e >= page)
    })
}

fn describe(hits: &[Hit]) -> String {
    hits.iter()
        .map(|h| format!("{} p{:?}-{:?} {:.3}", h.chunk.path, h.chunk.page_start, h.chunk.page_end, h.score))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn real_documents_answer_known_questions_and_stay_in_sync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = copy_into(
        &tmp.path().join("docs"),
        &[
            fixture("docs/debian-reference.en.pdf"),
            fixture("docs/debian-faq.ru.pdf"),
            fixture("docs/debian-reference.zh-cn.pdf"),
            fixture("docs/developers-reference.epub"),
            fixture("docs/html/pkgtools.en.html"),
            fixture("docs/html/uptodate.en.html"),
        ],
    );
    let library = open_library(&tmp.path().join("data")).await;
    let report = ingest(&library, &[tmp.path().join("docs")]).await;
    let failures: Vec<_> = report.documents.iter().filter(|(_, o)| !matches!(o, DocOutcome::Indexed { .. })).collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(report.indexed, 6);
    assert_eq!(report.truncated, 0, "every token of every chunk is embedded");

    // Every chunk knows its source, and fits the model's window.
    let max_tokens = library.config().chunk.max_tokens as u32;
    for doc in library.documents().await.expect("documents") {
        assert_eq!(doc.status, DocStatus::Indexed);
        let rows = library.store().chunk_rows(&doc.id).await.expect("rows");
        assert_eq!(rows.len() as u32, doc.chunk_count);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.chunk.index as usize, i);
            assert_eq!(r.chunk.path, doc.path);
            assert!(r.chunk.tokens <= max_tokens, "{} tokens", r.chunk.tokens);
            assert!(r.chunk.char_start < r.chunk.char_end);
            assert_eq!(r.chunk.embedding_model, "all-MiniLM-L6-v2.q8_0");
            if let Some(pages) = doc.pages {
                let (s, e) = (r.chunk.page_start.expect("page"), r.chunk.page_end.expect("page"));
                assert!(1 <= s && s <= e && e <= pages, "pages {s}-{e} of {pages}");
            }
        }
    }
    let reference = library.documents().await.expect("documents");
    let en = reference.iter().find(|d| d.path.ends_with("debian-reference.en.pdf")).expect("en pdf");
    assert_eq!(en.pages, Some(261));

    // Questions whose answers are known (physical pages, as a PDF viewer numbers them; found with pdftotext).
    let hits =
        search(&library, "how do I set up ssh-agent so I do not type my passphrase every time", SearchMode::Hybrid)
            .await;
    assert!(found(&hits, 3, "debian-reference.en.pdf", 142), "{}", describe(&hits));
    let hits =
        search(&library, "apt pinning: tweak the candidate version with /etc/apt/preferences", SearchMode::Hybrid)
            .await;
    assert!(found(&hits, 5, "debian-reference.en.pdf", 96), "{}", describe(&hits));
    let hits = search(&library, "list PCI and USB hardware with lspci and lsusb", SearchMode::Hybrid).await;
    assert!(found(&hits, 5, "debian-reference.en.pdf", 179), "{}", describe(&hits));
    // Russian and Chinese through the full-text index (MiniLM is English-only).
    let hits = search(&library, "Как установить Debian с компакт-дисков?", SearchMode::Fulltext).await;
    assert!(found(&hits, 3, "debian-faq.ru.pdf", 14), "{}", describe(&hits));
    let hits = search(&library, "建立 ssh 代理", SearchMode::Fulltext).await;
    assert!(found(&hits, 3, "debian-reference.zh-cn.pdf", 137), "{}", describe(&hits));
    // EPUB and HTML chunks carry their headings.
    let hits = search(&library, "Debian developer's duties when uploading a package", SearchMode::Hybrid).await;
    assert!(
        hits.iter().any(|h| h.chunk.path.ends_with(".epub") && !h.chunk.heading_path.is_empty()),
        "{}",
        describe(&hits)
    );
    let hits =
        search(&library, "What programs does Debian provide for managing its packages?", SearchMode::Hybrid).await;
    assert!(hits[0].chunk.path.ends_with("pkgtools.en.html"), "{}", describe(&hits));
    assert!(
        hits[0].chunk.heading_path.iter().any(|h| h.contains("package management tools")),
        "{:?}",
        hits[0].chunk.heading_path
    );

    // A second ingest embeds nothing.
    let again = ingest(&library, &[tmp.path().join("docs")]).await;
    assert_eq!((again.indexed, again.unchanged, again.tokens), (0, 6, 0));

    // A changed file is re-indexed (its new text is found), a deleted one removed.
    let html = docs.iter().find(|p| p.ends_with("uptodate.en.html")).expect("html");
    let text = std::fs::read_to_string(html).expect("read");
    let marker = "<p>Quirefoxtrot is the secret word of this test.</p>";
    std::fs::write(html, text.replace("</body>", &format!("{marker}</body>"))).expect("write");
    let epub = docs.iter().find(|p| p.extension().is_some_and(|e| e == "epub")).expect("epub");
    std::fs::remove_file(epub).expect("rm");
    let third = ingest(&library, &[tmp.path().join("docs")]).await;
    assert_eq!((third.indexed, third.unchanged, third.removed), (1, 4, 1));
    let hits = search(&library, "quirefoxtrot", SearchMode::Fulltext).await;
    assert!(hits[0].chunk.path.ends_with("uptodate.en.html"), "{}", describe(&hits));
    let paths: HashSet<String> = library.documents().await.expect("docs").into_iter().map(|d| d.path).collect();
    assert_eq!(paths.len(), 5);
    assert!(!paths.iter().any(|p| p.ends_with(".epub")));
}

#[tokio::test]
async fn every_bad_input_fails_alone_with_its_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = copy_into(&tmp.path().join("good"), &[fixture("docs/html/kernel.en.html")]);
    let library = open_library(&tmp.path().join("data")).await;
    let bad = fixture("bad");
    let report = ingest(&library, &[bad.clone(), good[0].clone()]).await;

    let reason = |name: &str| -> String {
        report
            .documents
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|(_, o)| match o {
                DocOutcome::Failed { reason } => reason.clone(),
                other => panic!("{name}: {other:?}"),
            })
            .unwrap_or_else(|| panic!("{name} not reported"))
    };
    for entry in std::fs::read_dir(bad.join("encrypted")).expect("dir") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        let r = reason(&name);
        assert!(r.contains("encrypted"), "{name}: {r}");
    }
    for entry in std::fs::read_dir(bad.join("damaged")).expect("dir") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        let r = reason(&name);
        assert!(r.contains("damaged") || r.contains("no text") || r.contains("crashed"), "{name}: {r}");
    }
    assert!(reason("random.pdf").contains("damaged"), "{}", reason("random.pdf"));
    assert!(
        reason("empty.pdf").contains("empty") || reason("empty.pdf").contains("damaged"),
        "{}",
        reason("empty.pdf")
    );
    assert!(reason("huge.pdf").contains("too large"), "{}", reason("huge.pdf"));
    assert!(reason("truncated.pdf").contains("damaged"), "{}", reason("truncated.pdf"));
    assert!(!reason("bomb.docx").is_empty());

    // The good document is indexed and searchable; nothing from the bad ones is.
    assert!(
        report.documents.iter().any(|(p, o)| p.ends_with("kernel.en.html") && matches!(o, DocOutcome::Indexed { .. }))
    );
    let stats = library.stats().await.expect("stats");
    assert_eq!(stats.indexed, 1);
    assert_eq!(stats.failed as usize, report.failed);
    let hits = search(&library, "Linux kernel", SearchMode::Hybrid).await;
    assert!(!hits.is_empty() && hits.iter().all(|h| h.chunk.path.ends_with("kernel.en.html")));
}
