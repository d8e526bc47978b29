//! EPUB: `META-INF/container.xml` names the package (OPF) file; its spine gives the reading order of the
//! XHTML chapters, which go through the HTML loader. The title comes from the package's `dc:title`.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::Event;
use quire_core::{ExtractError, ExtractedDoc, Format};

use crate::xml::{attr, local, text};
use crate::zipread::ZipReader;
use crate::{Blocks, Limits, one_line};

const WHAT: &str = "the EPUB book";

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    let mut zip = ZipReader::open(bytes, limits, WHAT)?;
    let container = zip
        .read("META-INF/container.xml")?
        .ok_or_else(|| ExtractError::Damaged(format!("{WHAT} has no META-INF/container.xml")))?;
    let opf_path = rootfile(&crate::xml::decode(&container))
        .ok_or_else(|| ExtractError::Damaged(format!("{WHAT}'s container.xml names no package file")))?;
    let opf = zip
        .read(&opf_path)?
        .ok_or_else(|| ExtractError::Damaged(format!("{WHAT}'s package file {opf_path} is missing")))?;
    let package = package(&crate::xml::decode(&opf));
    let base = opf_path.rsplit_once('/').map_or("", |(dir, _)| dir);

    let mut blocks = Blocks::new(limits);
    let mut read_any = false;
    for idref in &package.spine {
        let Some((href, media_type)) = package.manifest.get(idref) else { continue };
        if !(media_type.contains("html") || media_type.is_empty()) {
            continue;
        }
        let path = resolve(base, href);
        let Some(chapter) = zip.read(&path)? else {
            tracing::debug!("epub: spine item {path} is missing");
            continue;
        };
        read_any = true;
        crate::html::extract_into(&crate::html::decode(&chapter), &mut blocks)?;
    }
    if !read_any {
        return Err(ExtractError::Damaged(format!("{WHAT} has no readable chapters in its spine")));
    }
    Ok(ExtractedDoc { format: Format::Epub, title: package.title, pages: None, blocks: blocks.into_vec() })
}

/// The `full-path` of the first `rootfile` in container.xml.
fn rootfile(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => return None,
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if local(e.name().as_ref()) == "rootfile" => {
                if let Some(p) = attr(&e, "full-path") {
                    return Some(p);
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug, Default, PartialEq)]
struct Package {
    title: Option<String>,
    /// id → (href, media type)
    manifest: HashMap<String, (String, String)>,
    /// idrefs in reading order
    spine: Vec<String>,
}

fn package(xml: &str) -> Package {
    let mut p = Package::default();
    let mut reader = Reader::from_str(xml);
    let mut in_title = false;
    let mut title = String::new();
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(e) => e,
        };
        match &event {
            Event::Start(e) | Event::Empty(e) => match local(e.name().as_ref()) {
                "title" if p.title.is_none() && matches!(event, Event::Start(_)) => in_title = true,
                "item" => {
                    if let (Some(id), Some(href)) = (attr(e, "id"), attr(e, "href")) {
                        p.manifest.insert(id, (href, attr(e, "media-type").unwrap_or_default()));
                    }
                }
                "itemref" => {
                    if let Some(idref) = attr(e, "idref") {
                        p.spine.push(idref);
                    }
                }
                _ => {}
            },
            Event::End(e) if in_title && local(e.name().as_ref()) == "title" => {
                in_title = false;
                p.title = one_line(&title);
            }
            ev if in_title => {
                if let Some(t) = text(ev) {
                    title.push_str(&t);
                }
            }
            _ => {}
        }
    }
    p
}

/// The archive path of `href` (relative to the package's folder, percent-encoded, maybe with a fragment).
fn resolve(base: &str, href: &str) -> String {
    let href = href.split('#').next().unwrap_or(href);
    let href = percent_decode(href);
    let mut parts: Vec<&str> = if href.starts_with('/') { Vec::new() } else { base.split('/').collect() };
    for seg in href.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.retain(|s| !s.is_empty());
    parts.join("/")
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use quire_core::BlockKind;

    use super::*;
    use crate::zipread::tests::zip_of;

    #[test]
    fn reads_chapters_in_spine_order() {
        let container = br#"<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
            <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#;
        let opf = br#"<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <metadata><dc:title>The  Book</dc:title></metadata>
            <manifest><item id="c2" href="text/ch%202.xhtml" media-type="application/xhtml+xml"/>
                      <item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
                      <item id="css" href="style.css" media-type="text/css"/></manifest>
            <spine><itemref idref="c1"/><itemref idref="css"/><itemref idref="c2"/></spine></package>"#;
        let ch1 = br#"<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>One</title></head>
            <body><h1>Chapter One</h1><p>First text.</p></body></html>"#;
        let ch2 = br#"<html><body><h1>Chapter Two</h1><p>Second text.</p></body></html>"#;
        let bytes = zip_of(&[
            ("mimetype", b"application/epub+zip"),
            ("META-INF/container.xml", container),
            ("OEBPS/content.opf", opf),
            ("OEBPS/text/ch 2.xhtml", ch2),
            ("OEBPS/text/ch1.xhtml", ch1),
        ]);
        let doc = extract(&bytes, &Limits::default()).expect("epub");
        assert_eq!(doc.title.as_deref(), Some("The Book"));
        let got: Vec<(BlockKind, &str)> = doc.blocks.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (BlockKind::Heading { level: 1 }, "Chapter One"),
                (BlockKind::Text, "First text."),
                (BlockKind::Heading { level: 1 }, "Chapter Two"),
                (BlockKind::Text, "Second text."),
            ]
        );
    }

    #[test]
    fn resolves_relative_hrefs() {
        assert_eq!(resolve("OEBPS", "../images/a.xhtml#x"), "images/a.xhtml");
        assert_eq!(resolve("", "ch%201.xhtml"), "ch 1.xhtml");
        assert_eq!(resolve("a/b", "./c.xhtml"), "a/b/c.xhtml");
    }

    #[test]
    fn an_epub_without_container_is_damaged() {
        let bytes = zip_of(&[("mimetype", b"application/epub+zip")]);
        assert!(matches!(extract(&bytes, &Limits::default()), Err(ExtractError::Damaged(_))));
    }
}
