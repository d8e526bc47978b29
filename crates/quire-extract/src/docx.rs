//! Word documents (.docx): `word/document.xml` read with quick-xml. Paragraphs become text blocks; paragraphs
//! whose style is a heading ("heading 1".."heading 9", "Title", or any style with an outline level, following
//! `basedOn`) become headings; tables become one block with a line per row and cells separated by " | ".
//! Deleted revisions, field codes and the fallback copies of drawings are not text. The title comes from
//! `docProps/core.xml`.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::Event;
use quire_core::{ExtractError, ExtractedDoc, Format};

use crate::xml::{attr, error_words, local, text};
use crate::zipread::ZipReader;
use crate::{Blocks, Limits, one_line};

const WHAT: &str = "the Word document";

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    let mut zip = ZipReader::open(bytes, limits, WHAT)?;
    let document = zip
        .read("word/document.xml")?
        .ok_or_else(|| ExtractError::Damaged(format!("{WHAT} has no word/document.xml part")))?;
    let styles = match zip.read("word/styles.xml")? {
        Some(s) => heading_styles(&crate::xml::decode(&s)),
        None => HashMap::new(),
    };
    let title = match zip.read("docProps/core.xml")? {
        Some(core) => core_title(&crate::xml::decode(&core)),
        None => None,
    };
    let mut blocks = Blocks::new(limits);
    body(&crate::xml::decode(&document), &styles, &mut blocks)?;
    let title = title.or_else(|| blocks.first_heading(1).map(str::to_string));
    Ok(ExtractedDoc { format: Format::Docx, title, pages: None, blocks: blocks.into_vec() })
}

/// The heading level of a style name ("heading 2" → 2, "Title" → 1), else None.
fn level_of_name(name: &str) -> Option<u8> {
    let n = name.trim().to_ascii_lowercase().replace(' ', "");
    if n == "title" {
        return Some(1);
    }
    let digits = n.strip_prefix("heading")?;
    match digits.parse::<u8>() {
        Ok(d @ 1..=9) => Some(d),
        _ => None,
    }
}

/// Paragraph styles that are headings, by style id, with their level.
fn heading_styles(xml: &str) -> HashMap<String, u8> {
    struct Style {
        name: Option<String>,
        based_on: Option<String>,
        outline: Option<u8>,
    }
    let mut styles: HashMap<String, Style> = HashMap::new();
    let mut current: Option<(String, Style)> = None;
    let mut reader = Reader::from_str(xml);
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(e) => e,
        };
        match &event {
            Event::Start(e) | Event::Empty(e) => match local(e.name().as_ref()) {
                "style" => {
                    let is_paragraph = attr(e, "type").is_none_or(|t| t == "paragraph");
                    current = match (attr(e, "styleId"), is_paragraph) {
                        (Some(id), true) => Some((id, Style { name: None, based_on: None, outline: None })),
                        _ => None,
                    };
                    if matches!(event, Event::Empty(_)) {
                        current = None;
                    }
                }
                "name" => {
                    if let Some((_, s)) = current.as_mut() {
                        s.name = attr(e, "val");
                    }
                }
                "basedOn" => {
                    if let Some((_, s)) = current.as_mut() {
                        s.based_on = attr(e, "val");
                    }
                }
                "outlineLvl" => {
                    if let Some((_, s)) = current.as_mut() {
                        s.outline = attr(e, "val").and_then(|v| v.parse::<u8>().ok()).filter(|l| *l < 9);
                    }
                }
                _ => {}
            },
            Event::End(e) if local(e.name().as_ref()) == "style" => {
                if let Some((id, s)) = current.take() {
                    styles.insert(id, s);
                }
            }
            _ => {}
        }
    }
    let own_level = |s: &Style| s.name.as_deref().and_then(level_of_name).or(s.outline.map(|l| l + 1));
    let mut out = HashMap::new();
    for (id, style) in &styles {
        // Follow basedOn a few steps: a custom "My Heading" based on "Heading 2" is a level-2 heading.
        let mut s = style;
        let mut level = own_level(s);
        for _ in 0..10 {
            if level.is_some() {
                break;
            }
            match s.based_on.as_ref().and_then(|b| styles.get(b)) {
                Some(parent) => {
                    s = parent;
                    level = own_level(s);
                }
                None => break,
            }
        }
        if let Some(level) = level {
            out.insert(id.clone(), level);
        }
    }
    out
}

/// `dc:title` of the core properties.
fn core_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut in_title = false;
    let mut title = String::new();
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(e) => e,
        };
        match &event {
            Event::Start(e) if local(e.name().as_ref()) == "title" => in_title = true,
            Event::End(e) if local(e.name().as_ref()) == "title" => break,
            ev if in_title => {
                if let Some(t) = text(ev) {
                    title.push_str(&t);
                }
            }
            _ => {}
        }
    }
    one_line(&title)
}

/// A paragraph being read.
#[derive(Default)]
struct Para {
    text: String,
    style: Option<String>,
    outline: Option<u8>,
}

/// Walks the document body (without recursion) and appends its blocks.
fn body(xml: &str, styles: &HashMap<String, u8>, blocks: &mut Blocks) -> Result<(), ExtractError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = false;
    // Open paragraphs (text boxes nest paragraphs inside runs of another paragraph).
    let mut paras: Vec<Para> = Vec::new();
    // Tables: rows collected so far, the current row's cells, the current cell's text.
    struct Table {
        rows: Vec<String>,
        cells: Vec<String>,
        cell: String,
    }
    let mut tables: Vec<Table> = Vec::new();
    // Inside <w:t> (text) or an element whose content is not text (depth).
    let mut in_text = false;
    let mut skip: usize = 0;

    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(e) => e,
            Err(e) => return Err(ExtractError::Damaged(error_words(WHAT, &e, reader.buffer_position()))),
        };
        match &event {
            Event::Start(e) => {
                let qname = e.name();
                let name = local(qname.as_ref());
                if skip > 0 {
                    skip += 1;
                    continue;
                }
                match name {
                    // Deleted text, field instructions, and the duplicate fallback of alternate content.
                    "del" | "delText" | "instrText" | "Fallback" | "moveFrom" => skip = 1,
                    "p" => paras.push(Para::default()),
                    "t" => in_text = true,
                    "tbl" => tables.push(Table { rows: Vec::new(), cells: Vec::new(), cell: String::new() }),
                    "tr" => {
                        if let Some(t) = tables.last_mut() {
                            t.cells.clear();
                        }
                    }
                    "tc" => {
                        if let Some(t) = tables.last_mut() {
                            t.cell.clear();
                        }
                    }
                    _ => {}
                }
            }
            Event::Empty(e) => {
                if skip > 0 {
                    continue;
                }
                let qname = e.name();
                let name = local(qname.as_ref());
                let Some(p) = paras.last_mut() else { continue };
                match name {
                    "pStyle" => p.style = attr(e, "val"),
                    "outlineLvl" => p.outline = attr(e, "val").and_then(|v| v.parse::<u8>().ok()).filter(|l| *l < 9),
                    "tab" | "ptab" => p.text.push('\t'),
                    "br" | "cr" => p.text.push('\n'),
                    "noBreakHyphen" => p.text.push('-'),
                    "sym" => {
                        if let Some(c) = attr(e, "char").and_then(|h| u32::from_str_radix(&h, 16).ok()) {
                            // Symbol fonts map to the private use area F0xx; the low byte is the character.
                            let c = if (0xF000..=0xF0FF).contains(&c) { c - 0xF000 } else { c };
                            p.text.extend(char::from_u32(c));
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) => {
                let qname = e.name();
                let name = local(qname.as_ref());
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                match name {
                    "t" => in_text = false,
                    "p" => {
                        let Some(p) = paras.pop() else { continue };
                        if let Some(outer) = paras.last_mut() {
                            // A paragraph in a text box: its text joins the enclosing paragraph.
                            outer.text.push(' ');
                            outer.text.push_str(&p.text);
                        } else if let Some(t) = tables.last_mut() {
                            if !t.cell.is_empty() {
                                t.cell.push(' ');
                            }
                            t.cell.push_str(p.text.trim());
                        } else {
                            let level = p.outline.map(|l| l + 1).or_else(|| {
                                let style = p.style.as_deref()?;
                                styles.get(style).copied().or_else(|| level_of_name(style))
                            });
                            match level {
                                Some(level) => blocks.heading(level, &p.text, None)?,
                                None => blocks.text(&p.text, None)?,
                            }
                        }
                    }
                    "tc" => {
                        if let Some(t) = tables.last_mut() {
                            let cell = one_line(&t.cell).unwrap_or_default();
                            t.cells.push(cell);
                            t.cell.clear();
                        }
                    }
                    "tr" => {
                        if let Some(t) = tables.last_mut() {
                            let row = t.cells.join(" | ");
                            if !row.replace('|', "").trim().is_empty() {
                                t.rows.push(row);
                            }
                            t.cells.clear();
                        }
                    }
                    "tbl" => {
                        let Some(t) = tables.pop() else { continue };
                        let text = t.rows.join("\n");
                        if let Some(outer) = tables.last_mut() {
                            // A table in a table cell: its rows join the outer cell.
                            if !outer.cell.is_empty() {
                                outer.cell.push(' ');
                            }
                            outer.cell.push_str(&text.replace('\n', " ; "));
                        } else {
                            blocks.text(&text, None)?;
                        }
                    }
                    _ => {}
                }
            }
            ev if in_text && skip == 0 => {
                if let (Some(t), Some(p)) = (text(ev), paras.last_mut()) {
                    p.text.push_str(&t);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use quire_core::{Block, BlockKind};

    use super::*;
    use crate::zipread::tests::zip_of;

    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

    fn b(kind: BlockKind, text: &str) -> Block {
        Block { kind, text: text.into(), page: None }
    }

    #[test]
    fn paragraphs_headings_and_tables() {
        let styles = format!(
            r#"<?xml version="1.0"?><w:styles {W}>
            <w:style w:type="paragraph" w:styleId="Titre1"><w:name w:val="heading 1"/></w:style>
            <w:style w:type="paragraph" w:styleId="Mine"><w:name w:val="My heading"/><w:basedOn w:val="Titre2"/></w:style>
            <w:style w:type="paragraph" w:styleId="Titre2"><w:name w:val="heading 2"/></w:style>
            <w:style w:type="paragraph" w:styleId="Body"><w:name w:val="Body Text"/></w:style>
            </w:styles>"#
        );
        let document = format!(
            r#"<?xml version="1.0"?><w:document {W}><w:body>
            <w:p><w:pPr><w:pStyle w:val="Titre1"/></w:pPr><w:r><w:t>Intro</w:t></w:r><w:r><w:t xml:space="preserve">duction</w:t></w:r></w:p>
            <w:p><w:pPr><w:pStyle w:val="Body"/></w:pPr><w:r><w:t xml:space="preserve">Fish &amp; chips </w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del><w:r><w:tab/><w:t>tab</w:t></w:r></w:p>
            <w:p><w:pPr><w:pStyle w:val="Mine"/></w:pPr><w:r><w:t>Custom</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p><w:p><w:r><w:t>b2</w:t></w:r></w:p></w:tc></w:tr>
                   <w:tr><w:tc><w:p><w:r><w:t>1</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>
            <w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGE</w:instrText></w:r><w:r><w:t>After</w:t></w:r></w:p>
            </w:body></w:document>"#
        );
        let core = r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Core  Title</dc:title></cp:coreProperties>"#;
        let bytes = zip_of(&[
            ("word/document.xml", document.as_bytes()),
            ("word/styles.xml", styles.as_bytes()),
            ("docProps/core.xml", core.as_bytes()),
        ]);
        let doc = extract(&bytes, &Limits::default()).expect("docx");
        assert_eq!(doc.title.as_deref(), Some("Core Title"));
        assert_eq!(
            doc.blocks,
            vec![
                b(BlockKind::Heading { level: 1 }, "Introduction"),
                b(BlockKind::Text, "Fish & chips \ttab"),
                b(BlockKind::Heading { level: 2 }, "Custom"),
                b(BlockKind::Text, "a | b b2\n1 |"),
                b(BlockKind::Text, "After"),
            ]
        );
    }

    #[test]
    fn a_docx_without_document_xml_is_damaged() {
        let bytes = zip_of(&[("hello.txt", b"hi")]);
        assert!(matches!(extract(&bytes, &Limits::default()), Err(ExtractError::Damaged(_))));
    }

    #[test]
    fn broken_xml_is_damaged() {
        let bytes = zip_of(&[("word/document.xml", b"<w:document><w:body><w:p><w:t>x</w:t></w:p")]);
        // Unclosed elements at the end are tolerated; garbage inside a tag is not.
        let _ = extract(&bytes, &Limits::default());
        let bytes = zip_of(&[("word/document.xml", b"<w:document><w:body><w:p <<<<")]);
        assert!(matches!(extract(&bytes, &Limits::default()), Err(ExtractError::Damaged(_))));
    }
}
