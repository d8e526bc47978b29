//! Through the extract worker process: every bad input fails alone, with the right kind of error and a
//! readable message; crashes, hangs and memory blow-ups fail one document and the next gets a fresh worker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quire_core::worker::WorkerSpec;
use quire_core::{ExtractError, Extractor, Format};
use quire_extract::{ExtractorOptions, ProcessExtractor, WORKER_NAME};

use crate::{all_text, fixture, fixture_dir};

/// The test worker (`--test-hooks` lets files named `quire-test-*` misbehave on purpose).
fn extractor(options: ExtractorOptions) -> ProcessExtractor {
    let program = PathBuf::from(env!("CARGO_BIN_EXE_quire-extract-worker"));
    ProcessExtractor::new(WorkerSpec::with_program(program, WORKER_NAME, vec!["--test-hooks".into()]), options)
}

fn format_of(path: &Path) -> Format {
    Format::from_path(path).unwrap_or_else(|| panic!("{}: unknown format", path.display()))
}

/// A good document, extracted right after whatever came before.
async fn good_document_still_works(x: &ProcessExtractor) {
    let doc = x.extract(&fixture("docs/crazyones.pdf"), Format::Pdf).await.expect("the next document extracts");
    assert!(all_text(&doc).contains("to the crazy ones. The mis"), "{:?}", doc.blocks);
}

#[tokio::test]
async fn every_bad_input_fails_alone_with_a_readable_reason() {
    let x = extractor(ExtractorOptions::default());
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();
    cases.extend(fixture_dir("bad/encrypted").into_iter().map(|p| (p, "encrypted")));
    cases.extend(fixture_dir("bad/damaged").into_iter().map(|p| (p, "damaged")));
    for (name, kind) in [
        ("empty.pdf", "damaged"),
        ("random.pdf", "damaged"),
        ("truncated.pdf", "damaged"),
        ("huge.pdf", "too_large"),
        ("bomb.docx", "too_large"),
        ("many-entries.epub", "too_large"),
    ] {
        cases.push((fixture(&format!("bad/generated/{name}")), kind));
    }
    for (path, want) in cases {
        let err = x.extract(&path, format_of(&path)).await.expect_err(&format!("{} must fail", path.display()));
        let json = serde_json::to_value(&err).expect("json");
        assert_eq!(json["kind"], want, "{}: {err}", path.display());
        let message = err.to_string();
        assert!(message.len() < 400 && !message.contains("0x"), "{}: unreadable message {message:?}", path.display());
        match &err {
            ExtractError::Encrypted(m) => assert!(m.contains("password"), "{m}"),
            ExtractError::TooLarge(m) => assert!(m.contains("MB") || m.contains("files"), "{m}"),
            _ => {}
        }
        good_document_still_works(&x).await;
    }
    let err = x.extract(&fixture("bad/generated/huge.pdf"), Format::Pdf).await.expect_err("too large");
    assert_eq!(err, ExtractError::TooLarge("the file is 600 MB; the limit is 512 MB".into()));
    // None of these needed a new worker: they failed inside it, or before it.
    assert_eq!(x.worker_starts(), 1);
}

#[tokio::test]
async fn damaged_but_readable_pdfs_do_not_take_the_worker_down() {
    let x = extractor(ExtractorOptions::default());
    for path in fixture_dir("docs/damaged-readable") {
        match x.extract(&path, Format::Pdf).await {
            Ok(_) | Err(ExtractError::Damaged(_)) => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
        good_document_still_works(&x).await;
    }
}

/// A file whose name triggers a test hook in the worker.
fn hook_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "text").expect("write");
    path
}

#[tokio::test]
async fn a_hang_hits_the_timeout_and_the_worker_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let x = extractor(ExtractorOptions { timeout: Duration::from_secs(2), ..ExtractorOptions::default() });
    let started = std::time::Instant::now();
    let err = x.extract(&hook_file(dir.path(), "quire-test-hang"), Format::Text).await.expect_err("hang");
    assert!(matches!(&err, ExtractError::Timeout(m) if m.contains("2 s")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
    good_document_still_works(&x).await;
    assert_eq!(x.worker_starts(), 2, "a fresh worker after the hang");
}

/// RLIMIT_AS is what stops the blow-up: Linux honours it (macOS does not).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_memory_blow_up_hits_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let x = extractor(ExtractorOptions { memory_limit_mb: 512, ..ExtractorOptions::default() });
    let err = x.extract(&hook_file(dir.path(), "quire-test-oom"), Format::Text).await.expect_err("oom");
    assert!(
        matches!(&err, ExtractError::OutOfMemory(m) if m.contains("512 MB") && m.contains("memory allocation of")),
        "{err}"
    );
    good_document_still_works(&x).await;
    assert_eq!(x.worker_starts(), 2);
}

#[tokio::test]
async fn a_stack_overflow_an_abort_and_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let x = extractor(ExtractorOptions::default());

    let err = x.extract(&hook_file(dir.path(), "quire-test-stack"), Format::Text).await.expect_err("overflow");
    assert!(matches!(&err, ExtractError::Crashed(m) if m.contains("overflowed its stack")), "{err}");
    good_document_still_works(&x).await;
    assert_eq!(x.worker_starts(), 2);

    let err = x.extract(&hook_file(dir.path(), "quire-test-abort"), Format::Text).await.expect_err("abort");
    assert!(matches!(&err, ExtractError::Crashed(m) if m.contains("signal 6 (aborted)")), "{err}");
    good_document_still_works(&x).await;
    assert_eq!(x.worker_starts(), 3);

    // A panic is caught inside the worker: the document fails, the worker lives on.
    let err = x.extract(&hook_file(dir.path(), "quire-test-panic"), Format::Text).await.expect_err("panic");
    assert!(matches!(&err, ExtractError::Damaged(m) if m.contains("simulated parser panic")), "{err}");
    good_document_still_works(&x).await;
    assert_eq!(x.worker_starts(), 3);
}

#[tokio::test]
async fn a_pool_extracts_in_parallel_and_real_documents_come_back_whole() {
    let x = extractor(ExtractorOptions { workers: 2, ..ExtractorOptions::default() });
    let files = [
        fixture("docs/maint-guide.en.pdf"),
        fixture("docs/developers-reference.epub"),
        fixture("docs/html/index.en.html"),
        fixture("docx/par-known-paragraphs.docx"),
    ];
    let (a, b, c, d) = tokio::join!(
        x.extract(&files[0], Format::Pdf),
        x.extract(&files[1], Format::Epub),
        x.extract(&files[2], Format::Html),
        x.extract(&files[3], Format::Docx),
    );
    assert_eq!(a.expect("pdf").pages, Some(63));
    assert!(b.expect("epub").blocks.len() > 500);
    assert_eq!(c.expect("html").title.as_deref(), Some("The Debian GNU/Linux FAQ"));
    assert_eq!(d.expect("docx").blocks[0].text, "Heading Paragraph");
    assert_eq!(x.worker_starts(), 2);
}

#[tokio::test]
async fn missing_files_and_folders_are_io_errors() {
    let x = extractor(ExtractorOptions::default());
    let err = x.extract(Path::new("/nonexistent/quire.pdf"), Format::Pdf).await.expect_err("missing");
    assert!(matches!(&err, ExtractError::Io(m) if m.contains("does not exist")), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = x.extract(dir.path(), Format::Text).await.expect_err("folder");
    assert!(matches!(&err, ExtractError::Io(m) if m.contains("folder")), "{err}");
    assert_eq!(x.worker_starts(), 0, "no worker for files that cannot be read");
}
