//! Real documents, extracted in this process.

use std::collections::BTreeSet;

use quire_core::{BlockKind, ExtractError, Format};
use quire_extract::{Limits, extract_file};

use crate::{all_text, fixture, fixture_dir, headings, page_text};

#[test]
fn the_261_page_pdf_has_every_page_and_text_on_the_right_page() {
    let doc = extract_file(&fixture("docs/debian-reference.en.pdf"), Format::Pdf, &Limits::default()).expect("pdf");
    assert_eq!(doc.pages, Some(261));
    assert_eq!(doc.title.as_deref(), Some("Debian Reference"));
    let pages: BTreeSet<u32> = doc.blocks.iter().map(|b| b.page.expect("every PDF block has a page")).collect();
    assert!(pages.iter().all(|p| (1..=261).contains(p)), "pages out of range: {pages:?}");
    // Physical pages, as a viewer numbers them: page 1 is a blank cover (pdftotext finds nothing there either),
    // page 2 the title page, and the last page is 261 (printed "233 / 233").
    assert!(pages.len() >= 255, "text on only {} pages", pages.len());
    assert!(!pages.contains(&1) && pages.contains(&2) && pages.contains(&261), "{pages:?}");
    // `pdftotext -f 100 -l 100` shows this sentence on physical page 100 (printed page 72), and nowhere else.
    let sentence = "The unattended-upgrades package is mainly intended for the security upgrade for the stable system.";
    assert!(page_text(&doc, 100).contains(sentence), "page 100: {}", page_text(&doc, 100));
    for p in (1..=261).filter(|p| *p != 100) {
        assert!(!page_text(&doc, p).contains(sentence), "the sentence is also on page {p}");
    }
    // The outline gives headings, at their pages, with their section numbers.
    let h = headings(&doc);
    assert!(h.len() > 300, "{} headings", h.len());
    assert!(
        h.iter().any(|b| b.text == "2.7.8 Automatic download and upgrade of packages"
            && b.page == Some(100)
            && b.kind == BlockKind::Heading { level: 3 }),
        "no heading for 2.7.8 on page 100"
    );
    // The running header ("Debian Reference  72 / 233") is not body text.
    assert!(!page_text(&doc, 100).contains("72 / 233"), "{}", page_text(&doc, 100));
}

fn count(text: &str, pred: impl Fn(char) -> bool) -> usize {
    text.chars().filter(|c| pred(*c)).count()
}

#[test]
fn russian_and_chinese_pdfs_give_their_scripts() {
    let ru = extract_file(&fixture("docs/debian-faq.ru.pdf"), Format::Pdf, &Limits::default()).expect("ru");
    assert_eq!(ru.pages, Some(75));
    let text = all_text(&ru);
    let cyrillic = count(&text, |c| ('\u{400}'..='\u{4FF}').contains(&c));
    assert!(cyrillic > 50_000, "{cyrillic} Cyrillic letters");
    assert!(text.contains("добровольцев"), "a word of page 10 is missing");

    let zh = extract_file(&fixture("docs/debian-reference.zh-cn.pdf"), Format::Pdf, &Limits::default()).expect("zh");
    assert_eq!(zh.pages, Some(251));
    let han = count(&all_text(&zh), |c| ('\u{4E00}'..='\u{9FFF}').contains(&c));
    assert!(han > 50_000, "{han} Han characters");
    assert_eq!(zh.title.as_deref(), Some("Debian 参考手册"));
}

#[test]
fn the_other_pdfs_read_whole() {
    let doc = extract_file(&fixture("docs/maint-guide.en.pdf"), Format::Pdf, &Limits::default()).expect("pdf");
    assert_eq!(doc.pages, Some(63));
    assert!(headings(&doc).len() > 50);
    let doc = extract_file(&fixture("docs/pdflatex-outline.pdf"), Format::Pdf, &Limits::default()).expect("pdf");
    assert!(!headings(&doc).is_empty(), "the outline becomes headings");
    for path in fixture_dir("docs/encrypted-open") {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        match extract_file(&path, Format::Pdf, &Limits::default()) {
            Ok(doc) => assert!(all_text(&doc).contains("pdf encryption test"), "{name}: {:?}", doc.blocks),
            // Known lopdf gap: AESV2 without /Length in the encryption dictionary (poppler and pypdf open it).
            Err(ExtractError::Encrypted(_)) if name == "r4-aes-v2-no-key-length.pdf" => {}
            Err(e) => panic!("{name} opens with the empty password: {e}"),
        }
    }
}

#[test]
fn the_epub_gives_headings_and_text_in_spine_order() {
    let doc = extract_file(&fixture("docs/developers-reference.epub"), Format::Epub, &Limits::default()).expect("epub");
    assert!(doc.title.is_some());
    assert_eq!(doc.pages, None);
    let h: Vec<&str> = headings(&doc).iter().map(|b| b.text.as_str()).collect();
    assert!(h.len() > 200, "{} headings", h.len());
    let at = |t: &str| h.iter().position(|x| *x == t).unwrap_or_else(|| panic!("no heading {t:?}"));
    assert!(at("1. Scope of This Document") < at("2. Applying to Become a Member"));
    assert!(at("2. Applying to Become a Member") < at("3. Debian Developer's Duties"));
    assert!(at("2.1. Getting started") < at("2.2. Debian mentors and sponsors"));
    assert!(doc.blocks.iter().filter(|b| b.kind == BlockKind::Text).count() > 500);
}

#[test]
fn html_pages_give_titles_and_headings() {
    let doc = extract_file(&fixture("docs/html/index.en.html"), Format::Html, &Limits::default()).expect("html");
    assert_eq!(doc.title.as_deref(), Some("The Debian GNU/Linux FAQ"));
    for path in fixture_dir("docs/html") {
        let doc = extract_file(&path, Format::Html, &Limits::default()).expect("html");
        assert!(!headings(&doc).is_empty(), "{}: no headings", path.display());
        let text = all_text(&doc);
        assert!(
            !text.contains("</") && !text.contains("<p") && !text.contains("<a "),
            "{}: markup left",
            path.display()
        );
    }
    let doc = extract_file(&fixture("docs/html/basic-defs.en.html"), Format::Html, &Limits::default()).expect("html");
    assert_eq!(doc.title.as_deref(), Some("Chapter 1. Definitions and overview"));
}

#[test]
fn real_docx_files() {
    let doc = extract_file(&fixture("docx/par-known-paragraphs.docx"), Format::Docx, &Limits::default()).expect("docx");
    assert_eq!(doc.blocks[0].kind, BlockKind::Heading { level: 1 });
    assert_eq!(doc.blocks[0].text, "Heading Paragraph");
    let doc = extract_file(&fixture("docx/blk-paras-and-tables.docx"), Format::Docx, &Limits::default()).expect("docx");
    assert!(all_text(&doc).contains("Lorem ipsum dolor sit amet"));
    // Every real .docx reads, or has no text at all (an empty table, a blank document).
    for path in fixture_dir("docx") {
        match extract_file(&path, Format::Docx, &Limits::default()) {
            Ok(_) | Err(ExtractError::NoText(_)) => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
}

#[test]
fn deeply_nested_html_is_fast() {
    let started = std::time::Instant::now();
    let doc = extract_file(&fixture("docs/deep.html"), Format::Html, &Limits::default()).expect("html");
    assert_eq!(all_text(&doc), "deep text");
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}
