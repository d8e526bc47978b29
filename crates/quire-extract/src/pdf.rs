//! PDF: lopdf parses the file, pdf-extract interprets each page's content stream, and [`PageText`] lays the
//! characters out (spaces from gaps, lines from baselines, paragraphs from line pitch). Each page is extracted
//! under `catch_unwind` (pdf-extract panics on many malformed files), so a bad page costs that page only.
//! The outline (bookmarks) becomes headings, placed where their title appears on the target page.
//!
//! Pages are physical pages, numbered from 1 as a PDF viewer numbers them.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_extract::{Dictionary, Document, MediaBox, Object, ObjectId, OutputDev, OutputError, Transform};
use quire_core::{ExtractError, ExtractedDoc, Format};

use crate::{Blocks, Limits, one_line};

/// Outline entries read at most (a cyclic or absurd outline stops here).
const MAX_OUTLINE_ITEMS: usize = 20_000;

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Damaged("the file is empty".into()));
    }
    if !bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-") {
        return Err(ExtractError::Damaged("this is not a PDF file (it has no %PDF header)".into()));
    }
    let mut doc = Document::load_mem(bytes).map_err(|e| load_error(&e))?;
    if doc.trailer.get(b"Encrypt").is_ok() && !doc.was_encrypted() {
        // lopdf decrypts with the empty user password when that opens the file; otherwise it leaves it locked.
        return Err(ExtractError::Encrypted("it needs a password".into()));
    }
    // Broken ToUnicode CMaps would make pdf-extract give up whole pages: repair them first.
    let _ = catch_unwind(AssertUnwindSafe(|| crate::cmap::repair_to_unicode(&mut doc)));
    let doc = doc;
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(ExtractError::Damaged("it has no pages (its page tree is missing or broken)".into()));
    }
    let page_count = u32::try_from(pages.len()).unwrap_or(u32::MAX);

    let mut texts: Vec<Vec<String>> = Vec::with_capacity(pages.len());
    let mut failed = 0usize;
    let mut first_failure: Option<String> = None;
    let mut total = 0usize;
    for &num in pages.keys() {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut out = PageText::default();
            pdf_extract::output_doc_page(&doc, &mut out, num).map(|()| out.lines())
        }));
        let lines = match result {
            Ok(Ok(lines)) => lines,
            Ok(Err(e)) => {
                failed += 1;
                first_failure.get_or_insert_with(|| output_error_words(&e));
                Vec::new()
            }
            Err(panic) => {
                failed += 1;
                first_failure.get_or_insert_with(|| crate::worker::panic_words(panic.as_ref()));
                Vec::new()
            }
        };
        total += lines.iter().map(String::len).sum::<usize>();
        if total > limits.max_text_bytes {
            return Err(ExtractError::TooLarge(format!(
                "its text is larger than the {} limit",
                crate::mb_words(limits.max_text_bytes as u64)
            )));
        }
        texts.push(lines);
    }
    if failed == pages.len() {
        let why = first_failure.unwrap_or_default();
        return Err(ExtractError::Damaged(format!("no page could be read: {why}")));
    }
    if failed > 0 {
        tracing::warn!(failed, pages = pages.len(), "pdf: some pages could not be read: {first_failure:?}");
    }
    remove_running_lines(&mut texts);
    let texts: Vec<String> = texts.into_iter().map(|lines| join_paragraphs(&lines)).collect();
    if texts.iter().all(|t| t.trim().is_empty()) {
        // Pages that use fonts yet gave no text: a damaged file (or one pdf-extract cannot read), not a scan.
        let fonts = pages.values().any(|id| doc.get_page_fonts(*id).is_ok_and(|f| !f.is_empty()));
        return Err(if fonts || failed > 0 {
            ExtractError::Damaged(format!(
                "no text could be read from it, although its pages use fonts{}",
                first_failure.map(|f| format!(" ({f})")).unwrap_or_default()
            ))
        } else {
            ExtractError::NoText("the PDF has no text layer; it may be scanned images".into())
        });
    }

    let page_of: HashMap<ObjectId, u32> = pages.iter().map(|(n, id)| (*id, *n)).collect();
    let outline = catch_unwind(AssertUnwindSafe(|| read_outline(&doc, &page_of))).unwrap_or_default();
    let mut blocks = Blocks::new(limits);
    let mut by_page: HashMap<u32, Vec<&OutlineItem>> = HashMap::new();
    for item in &outline {
        by_page.entry(item.page).or_default().push(item);
    }
    for (i, text) in texts.iter().enumerate() {
        let page = i as u32 + 1;
        let mut cursor = 0;
        for item in by_page.get(&page).map(Vec::as_slice).unwrap_or_default() {
            let mut title = item.title.clone();
            if let Some((start, end)) = find_heading(&text[cursor..], &item.title) {
                let before = &text[cursor..cursor + start];
                // A section number printed on its own line before the title ("2.7.8") joins the heading.
                let (before, number) = split_section_number(before);
                if let Some(n) = number.filter(|n| !title.starts_with(n)) {
                    title = format!("{n} {title}");
                }
                blocks.text(before, Some(page))?;
                cursor += end;
            } else {
                blocks.text(&text[cursor..], Some(page))?;
                cursor = text.len();
            }
            blocks.heading(item.level, &title, Some(page))?;
        }
        blocks.text(&text[cursor..], Some(page))?;
    }

    let title = info_title(&doc);
    Ok(ExtractedDoc { format: Format::Pdf, title, pages: Some(page_count), blocks: blocks.into_vec() })
}

/// A lopdf loading error in plain words.
fn load_error(e: &pdf_extract::Error) -> ExtractError {
    use pdf_extract::Error as E;
    match e {
        E::Decryption(d) => {
            ExtractError::Encrypted(format!("it needs a password or uses unsupported encryption ({d})"))
        }
        E::InvalidPassword => ExtractError::Encrypted("it needs a password".into()),
        E::UnsupportedSecurityHandler(h) => ExtractError::Encrypted(format!(
            "it is protected by a security handler Quire cannot open ({})",
            String::from_utf8_lossy(h)
        )),
        E::Xref(_) | E::MissingXrefEntry => ExtractError::Damaged(format!(
            "its cross-reference table is broken; the file may be truncated or damaged ({e})"
        )),
        E::Parse(p) => {
            let p = p.to_string();
            ExtractError::Damaged(if p.contains("header") {
                "this is not a PDF file (its header is invalid)".into()
            } else if p.contains("trailer") || p.contains("cross reference") || p.contains("end of input") {
                format!("its structure is broken; the file may be truncated or damaged ({p})")
            } else {
                format!("the PDF parser could not read it ({p})")
            })
        }
        E::IO(io) => ExtractError::Io(io.to_string()),
        _ => ExtractError::Damaged(format!("the PDF parser could not read it ({e})")),
    }
}

fn output_error_words(e: &OutputError) -> String {
    match e {
        OutputError::PdfError(e) => format!("the PDF parser could not read a page ({e})"),
        e => format!("a page could not be laid out ({e})"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Page layout

/// Collects the characters of one page into lines of text.
#[derive(Default)]
struct PageText {
    lines: Vec<Line>,
    line: String,
    /// Baseline (y grows downwards) and font size of the current line.
    line_y: f64,
    line_size: f64,
    /// Where the last character ended, on the current line.
    last_end: f64,
    started: bool,
    /// A space character was shown since the last visible one.
    pending_space: bool,
}

struct Line {
    y: f64,
    size: f64,
    text: String,
}

impl PageText {
    fn end_line(&mut self) {
        let text = self.line.trim_end().to_string();
        if !text.trim().is_empty() {
            self.lines.push(Line { y: self.line_y, size: self.line_size, text });
        }
        self.line.clear();
    }

    /// The page's lines, with a blank line where the gap between lines is clearly wider than the usual pitch.
    fn lines(mut self) -> Vec<String> {
        self.end_line();
        let mut pitches: Vec<f64> =
            self.lines.windows(2).map(|w| w[1].y - w[0].y).filter(|d| *d > 0.0 && d.is_finite()).collect();
        pitches.sort_by(f64::total_cmp);
        let pitch = pitches.get(pitches.len() / 2).copied().unwrap_or(0.0);
        let mut out: Vec<String> = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                let prev = &self.lines[i - 1];
                let dy = line.y - prev.y;
                let size = line.size.max(prev.size);
                // Going up the page (a new column or a floating box) or a gap well over the usual pitch.
                if dy < -size || (pitch > 0.0 && dy > pitch * 1.4 && dy > size * 1.2) {
                    out.push(String::new());
                }
            }
            out.push(line.text.clone());
        }
        out
    }
}

impl OutputDev for PageText {
    fn begin_page(
        &mut self,
        _page: u32,
        _media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        ch: &str,
    ) -> Result<(), OutputError> {
        // trm maps text space (without the font size) to user space; y is flipped to grow downwards.
        let (x, y) = (trm.m31, -trm.m32);
        let scale_x = (trm.m11 * trm.m11 + trm.m12 * trm.m12).sqrt();
        let det = (trm.m11 * trm.m22 - trm.m12 * trm.m21).abs().sqrt();
        let mut size = (font_size * det).abs();
        if !size.is_finite() || size < 0.1 {
            size = 1.0;
        }
        if !x.is_finite() || !y.is_finite() {
            return Ok(());
        }
        let advance = (width * font_size + spacing) * scale_x;
        let end = x + if advance.is_finite() { advance } else { 0.0 };

        if ch.chars().all(char::is_whitespace) {
            // An explicit space (or an empty glyph): a word break, written before the next visible character.
            if self.started && !ch.is_empty() {
                self.pending_space = true;
                self.last_end = end;
            }
            return Ok(());
        }
        if self.started {
            let dy = (y - self.line_y).abs();
            let ref_size = size.max(self.line_size);
            if dy > ref_size * 0.5 {
                self.end_line();
                self.line_y = y;
                self.line_size = size;
            } else {
                let gap = x - self.last_end;
                // A gap of a tenth of the font size is a word break (as in poppler); so is jumping backwards.
                if (self.pending_space || gap > ref_size * 0.1 || gap < -ref_size) && !self.line.ends_with(' ') {
                    self.line.push(' ');
                }
                self.line_size = self.line_size.max(size);
            }
        } else {
            self.started = true;
            self.line_y = y;
            self.line_size = size;
        }
        self.pending_space = false;
        self.line.push_str(ch);
        self.last_end = end;
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// Joins a page's lines: a blank line stays a paragraph break.
fn join_paragraphs(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        if line.is_empty() {
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// Removes running headers and footers: a first or last line that recurs (digits aside) on most pages.
fn remove_running_lines(pages: &mut [Vec<String>]) {
    if pages.len() < 4 {
        return;
    }
    // Whitespace ignored, every run of digits (page numbers) the same.
    let key = |s: &str| -> String {
        let mut k = String::new();
        for c in s.chars().filter(|c| !c.is_whitespace()) {
            if c.is_ascii_digit() {
                if !k.ends_with('#') {
                    k.push('#');
                }
            } else {
                k.push(c);
            }
        }
        k
    };
    let edges = |lines: &Vec<String>| -> Vec<usize> {
        let idx: Vec<usize> = (0..lines.len()).filter(|i| !lines[*i].is_empty()).collect();
        let mut e: Vec<usize> = idx.iter().take(2).chain(idx.iter().rev().take(2)).copied().collect();
        e.sort_unstable();
        e.dedup();
        e
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for lines in pages.iter() {
        let keys: HashSet<String> = edges(lines).into_iter().map(|i| key(&lines[i])).collect();
        for k in keys {
            *counts.entry(k).or_default() += 1;
        }
    }
    let threshold = (pages.len() / 2).max(3);
    let running: HashSet<&String> = counts
        .iter()
        .filter(|(k, n)| **n >= threshold && !k.is_empty() && k.chars().count() < 120)
        .map(|(k, _)| k)
        .collect();
    if running.is_empty() {
        return;
    }
    for lines in pages.iter_mut() {
        let remove: Vec<usize> = edges(lines).into_iter().filter(|i| running.contains(&key(&lines[*i]))).collect();
        for i in remove.into_iter().rev() {
            lines.remove(i);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Outline

#[derive(Debug, Clone, PartialEq)]
struct OutlineItem {
    level: u8,
    title: String,
    page: u32,
}

fn deref<'a>(doc: &'a Document, mut obj: &'a Object) -> Option<&'a Object> {
    for _ in 0..16 {
        match obj {
            Object::Reference(id) => obj = doc.get_object(*id).ok()?,
            o => return Some(o),
        }
    }
    None
}

fn deref_dict<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Dictionary> {
    match deref(doc, obj)? {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

/// The outline, in reading order, walked without recursion; entries whose destination is not a page of this
/// document are left out.
fn read_outline(doc: &Document, page_of: &HashMap<ObjectId, u32>) -> Vec<OutlineItem> {
    let mut out = Vec::new();
    let Some(root) = doc.catalog().ok().and_then(|c| c.get(b"Outlines").ok()).and_then(|o| deref_dict(doc, o)) else {
        return out;
    };
    let mut names: Option<HashMap<Vec<u8>, Object>> = None;
    let mut visited: HashSet<ObjectId> = HashSet::new();
    // (item, level); the stack pops an item, then its children, then its next sibling.
    let mut stack: Vec<(ObjectId, u8)> = Vec::new();
    if let Ok(Object::Reference(first)) = root.get(b"First") {
        stack.push((*first, 1));
    }
    while let Some((id, level)) = stack.pop() {
        if !visited.insert(id) || visited.len() > MAX_OUTLINE_ITEMS {
            continue;
        }
        let Ok(item) = doc.get_dictionary(id) else { continue };
        if let Ok(Object::Reference(next)) = item.get(b"Next") {
            stack.push((*next, level));
        }
        if let Ok(Object::Reference(first)) = item.get(b"First") {
            stack.push((*first, level.saturating_add(1)));
        }
        let title = item.get(b"Title").ok().and_then(|t| deref(doc, t)).and_then(|t| match t {
            Object::String(bytes, _) => one_line(&decode_text_string(bytes)),
            _ => None,
        });
        let Some(title) = title else { continue };
        let dest = item.get(b"Dest").ok().or_else(|| {
            let action = deref_dict(doc, item.get(b"A").ok()?)?;
            action.get(b"D").ok()
        });
        if let Some(page) = dest.and_then(|d| dest_page(doc, d, page_of, &mut names)) {
            out.push(OutlineItem { level: level.min(9), title, page });
        }
    }
    out
}

/// The page a destination points to: an explicit array, a name in /Dests, or a string in the /Names tree.
fn dest_page(
    doc: &Document,
    dest: &Object,
    page_of: &HashMap<ObjectId, u32>,
    names: &mut Option<HashMap<Vec<u8>, Object>>,
) -> Option<u32> {
    let mut dest = deref(doc, dest)?.clone();
    for _ in 0..4 {
        match dest {
            Object::Array(a) => {
                return match a.first()? {
                    Object::Reference(id) => page_of.get(id).copied(),
                    Object::Integer(i) => u32::try_from(*i).ok().map(|i| i + 1),
                    _ => None,
                };
            }
            Object::Dictionary(d) => dest = deref(doc, d.get(b"D").ok()?)?.clone(),
            Object::Name(n) | Object::String(n, _) => {
                let map = names.get_or_insert_with(|| named_destinations(doc));
                dest = deref(doc, map.get(&n)?)?.clone();
            }
            _ => return None,
        }
    }
    None
}

/// Named destinations from the catalog's /Dests dictionary and its /Names /Dests name tree.
fn named_destinations(doc: &Document) -> HashMap<Vec<u8>, Object> {
    let mut map = HashMap::new();
    let Ok(catalog) = doc.catalog() else { return map };
    if let Some(dests) = catalog.get(b"Dests").ok().and_then(|d| deref_dict(doc, d)) {
        for (k, v) in dests.iter() {
            map.insert(k.clone(), v.clone());
        }
    }
    let tree = catalog
        .get(b"Names")
        .ok()
        .and_then(|n| deref_dict(doc, n))
        .and_then(|n| n.get(b"Dests").ok())
        .and_then(|d| deref_dict(doc, d));
    let Some(tree) = tree else { return map };
    let mut stack: Vec<&Dictionary> = vec![tree];
    let mut visited = 0usize;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > 100_000 || map.len() > 1_000_000 {
            break;
        }
        if let Some(Object::Array(pairs)) = node.get(b"Names").ok().and_then(|n| deref(doc, n)) {
            for pair in pairs.chunks(2) {
                if let [key, value] = pair
                    && let Some(Object::String(k, _)) = deref(doc, key)
                {
                    map.insert(k.clone(), value.clone());
                }
            }
        }
        if let Some(Object::Array(kids)) = node.get(b"Kids").ok().and_then(|k| deref(doc, k)) {
            stack.extend(kids.iter().filter_map(|k| deref_dict(doc, k)));
        }
    }
    map
}

/// The document information dictionary's /Title.
fn info_title(doc: &Document) -> Option<String> {
    let info = deref_dict(doc, doc.trailer.get(b"Info").ok()?)?;
    match deref(doc, info.get(b"Title").ok()?)? {
        Object::String(bytes, _) => one_line(&decode_text_string(bytes)),
        _ => None,
    }
}

/// A PDF text string: UTF-16BE or UTF-8 with a byte-order mark, else PDFDocEncoding.
fn decode_text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return encoding_rs::UTF_16BE.decode_without_bom_handling(rest).0.into_owned();
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return encoding_rs::UTF_16LE.decode_without_bom_handling(rest).0.into_owned();
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    bytes.iter().map(|b| pdf_doc_char(*b)).collect()
}

/// PDFDocEncoding (PDF 32000 Annex D): Latin-1 except 0x18–0x1F and 0x80–0x9F.
fn pdf_doc_char(b: u8) -> char {
    const HIGH: [char; 32] = [
        '•', '†', '‡', '…', '—', '–', 'ƒ', '⁄', '‹', '›', '−', '‰', '„', '“', '”', '‘', '’', '‚', '™', 'ﬁ', 'ﬂ', 'Ł',
        'Œ', 'Š', 'Ÿ', 'Ž', 'ı', 'ł', 'œ', 'š', 'ž', '\u{FFFD}',
    ];
    const LOW: [char; 8] = ['˘', 'ˇ', 'ˆ', '˙', '˝', '˛', '˚', '˜'];
    match b {
        0x18..=0x1F => LOW[(b - 0x18) as usize],
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        0xA0 => '€',
        b => b as char,
    }
}

/// Splits a trailing section number ("2.7.8", "A.1", "12") off the text before a heading.
fn split_section_number(before: &str) -> (&str, Option<&str>) {
    let trimmed = before.trim_end();
    let (head, last) = match trimmed.rfind('\n') {
        Some(i) => (&trimmed[..i], trimmed[i + 1..].trim()),
        None => ("", trimmed.trim()),
    };
    let is_number = !last.is_empty()
        && last.len() <= 16
        && last.trim_end_matches('.').split('.').all(|part| {
            !part.is_empty()
                && (part.chars().all(|c| c.is_ascii_digit())
                    || (part.len() == 1 && part.chars().all(|c| c.is_ascii_uppercase())))
        })
        && last.chars().any(|c| c.is_ascii_digit());
    if is_number { (head, Some(last.trim_end_matches('.'))) } else { (before, None) }
}

/// Where a heading's title appears in `text`: letters and digits compared without case, everything else
/// ignored; tried again without a leading section number. Returns the byte range of the match.
fn find_heading(text: &str, title: &str) -> Option<(usize, usize)> {
    let norm = |s: &str| -> Vec<(char, usize, usize)> {
        s.char_indices()
            .filter(|(_, c)| c.is_alphanumeric())
            .flat_map(|(i, c)| c.to_lowercase().map(move |l| (l, i, i + c.len_utf8())))
            .collect()
    };
    let hay = norm(text);
    let find = |needle: &[char]| -> Option<(usize, usize)> {
        if needle.len() < 2 || needle.len() > hay.len() {
            return None;
        }
        hay.windows(needle.len())
            .position(|w| w.iter().map(|(c, _, _)| c).eq(needle.iter()))
            .map(|p| (hay[p].1, hay[p + needle.len() - 1].2))
    };
    let full: Vec<char> = norm(title).into_iter().map(|(c, _, _)| c).collect();
    if let Some(r) = find(&full) {
        return Some(r);
    }
    let unnumbered = title.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace());
    if unnumbered.len() < title.len() {
        let n: Vec<char> = norm(unnumbered).into_iter().map(|(c, _, _)| c).collect();
        return find(&n);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_headings_loosely() {
        let text = "end of previous section\n1.2. Getting  Started\nBody text";
        let (s, e) = find_heading(text, "1.2 Getting started").expect("found");
        assert_eq!(&text[s..e], "1.2. Getting  Started");
        let (s, e) = find_heading("Chapter 3\nInstalling Quire\n...", "3. Installing Quire").expect("found");
        assert_eq!(&"Chapter 3\nInstalling Quire\n..."[s..e], "3\nInstalling Quire");
        assert_eq!(find_heading("nothing here", "Missing title"), None);
    }

    #[test]
    fn section_numbers_join_headings() {
        assert_eq!(split_section_number("body text\n2.7.8\n"), ("body text", Some("2.7.8")));
        assert_eq!(split_section_number("A.1."), ("", Some("A.1")));
        assert_eq!(split_section_number("body text\nversion 2"), ("body text\nversion 2", None));
        assert_eq!(split_section_number("Table 1.16: vim"), ("Table 1.16: vim", None));
    }

    #[test]
    fn decodes_text_strings() {
        assert_eq!(decode_text_string(b"\xFE\xFF\x04\x1F\x04\x40"), "Пр");
        assert_eq!(decode_text_string(b"Caf\xE9 \x8Dquoted\x8E \x93"), "Café “quoted” ﬁ");
    }

    #[test]
    fn removes_running_headers_and_footers() {
        let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
        let body =
            |w: &str| vec![format!("{w} begins here"), "shared middle line".to_string(), format!("{w} ends here")];
        let mut pages: Vec<Vec<String>> = words
            .iter()
            .enumerate()
            .map(|(n, w)| [vec!["Quire Manual".to_string()], body(w), vec![format!("{} / 6", n + 1)]].concat())
            .collect();
        remove_running_lines(&mut pages);
        for (p, w) in pages.iter().zip(words) {
            assert_eq!(p, &body(w));
        }
    }

    #[test]
    fn refuses_what_is_not_a_pdf() {
        let err = extract(b"hello world", &Limits::default()).expect_err("not a pdf");
        assert!(matches!(&err, ExtractError::Damaged(m) if m.contains("not a PDF")), "{err}");
        let err = extract(b"", &Limits::default()).expect_err("empty");
        assert!(matches!(&err, ExtractError::Damaged(m) if m.contains("empty")), "{err}");
    }
}
