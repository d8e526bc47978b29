//! Every format through the public API, on small inline inputs.

use quire_core::{BlockKind, ExtractError, Format};
use quire_extract::{Limits, extract_bytes};

#[test]
fn markdown_text_and_code() {
    let md = extract_bytes(
        b"---\ntitle: x\n---\n# Title\n\nBody.\n\n```\ncode\n```\n",
        Format::Markdown,
        &Limits::default(),
    )
    .expect("md");
    let kinds: Vec<BlockKind> = md.blocks.iter().map(|b| b.kind).collect();
    assert_eq!(kinds, [BlockKind::Heading { level: 1 }, BlockKind::Text, BlockKind::Code]);
    assert_eq!(md.title.as_deref(), Some("Title"));

    let text = extract_bytes("Para one.\n\nPara two.".as_bytes(), Format::Text, &Limits::default()).expect("text");
    assert_eq!(text.blocks.len(), 2);

    let code = extract_bytes(b"fn a() {}\n\nfn b() {}\n", Format::Code, &Limits::default()).expect("code");
    assert!(code.blocks.iter().all(|b| b.kind == BlockKind::Code));
    assert_eq!(code.blocks.len(), 2);
}

#[test]
fn wrong_bytes_for_the_format_fail_readably() {
    let err = extract_bytes(b"plain words", Format::Docx, &Limits::default()).expect_err("not a zip");
    assert!(matches!(&err, ExtractError::Damaged(m) if m.contains("ZIP")), "{err}");
    let err = extract_bytes(b"plain words", Format::Epub, &Limits::default()).expect_err("not a zip");
    assert!(matches!(err, ExtractError::Damaged(_)));
    let err = extract_bytes(b"plain words", Format::Pdf, &Limits::default()).expect_err("not a pdf");
    assert!(matches!(&err, ExtractError::Damaged(m) if m.contains("not a PDF")), "{err}");
    let err = extract_bytes(b"<html><script>x()</script></html>", Format::Html, &Limits::default()).expect_err("empty");
    assert!(matches!(err, ExtractError::NoText(_)));
}
