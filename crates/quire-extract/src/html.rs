//! HTML and XHTML (also the chapters of an EPUB), parsed by html5ever through `scraper` into a tree that is
//! walked without recursion: headings h1–h6, paragraphs, lists, tables (one line per row, cells separated by
//! " | "), and `pre` as code. Scripts, styles, navigation, forms' hidden parts and the document head are not text.

use ego_tree::iter::Edge;
use quire_core::{ExtractError, ExtractedDoc, Format};
use scraper::{Html, Node};

use crate::{Blocks, Limits, one_line};

/// Decodes an HTML file: a byte-order mark, then a `charset` declared in the first 4 KiB, then UTF-8 if valid,
/// then chardetng's guess.
pub(crate) fn decode(bytes: &[u8]) -> String {
    if encoding_rs::Encoding::for_bom(bytes).is_none()
        && let Some(encoding) = declared_charset(&bytes[..bytes.len().min(4096)])
        && encoding != encoding_rs::UTF_8
    {
        // UTF-16 declared in a meta tag can't be right (the tag itself is ASCII): ignore it.
        if encoding != encoding_rs::UTF_16LE && encoding != encoding_rs::UTF_16BE {
            return crate::text::decode_legacy(bytes, Some(encoding));
        }
    }
    crate::text::decode(bytes)
}

/// `<meta charset="…">` or `content="…; charset=…"` (and the XML declaration's `encoding="…"`).
fn declared_charset(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    for key in [&b"charset="[..], &b"encoding="[..]] {
        let mut from = 0;
        while let Some(pos) = find(&lower[from..], key) {
            let start = from + pos + key.len();
            let rest = &lower[start..];
            let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
            let end =
                rest.iter().position(|c| !(c.is_ascii_alphanumeric() || b"-_:.".contains(c))).unwrap_or(rest.len());
            if let Some(e) = encoding_rs::Encoding::for_label(&rest[..end]) {
                return Some(e);
            }
            from = start;
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn extract(html: &str, limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    let mut blocks = Blocks::new(limits);
    let title = extract_into(html, &mut blocks)?;
    let title = title.or_else(|| blocks.first_heading(1).map(str::to_string));
    Ok(ExtractedDoc { format: Format::Html, title, pages: None, blocks: blocks.into_vec() })
}

/// Elements whose content is not document text.
fn skipped(name: &str) -> bool {
    matches!(
        name,
        "head"
            | "script"
            | "style"
            | "nav"
            | "noscript"
            | "template"
            | "svg"
            | "math"
            | "iframe"
            | "object"
            | "canvas"
            | "select"
            | "datalist"
            | "button"
            | "title"
    )
}

/// Elements that end the text before them and start a new paragraph.
fn paragraph_like(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "aside"
            | "header"
            | "footer"
            | "blockquote"
            | "figure"
            | "figcaption"
            | "address"
            | "details"
            | "summary"
            | "fieldset"
            | "form"
            | "hr"
            | "ul"
            | "ol"
            | "dl"
            | "menu"
            | "table"
            | "caption"
            | "body"
            | "center"
            | "hgroup"
    )
}

/// Elements nested deeper than this lose their tags (their text is kept), as browsers do: html5ever's tree
/// builder scans the stack of open elements for most start tags, so very deep nesting costs quadratic time.
const MAX_DEPTH: usize = 512;

/// Parses `html` and appends its blocks; returns the `<title>`.
pub(crate) fn extract_into(html: &str, blocks: &mut Blocks) -> Result<Option<String>, ExtractError> {
    let html = flatten_deep_nesting(html, MAX_DEPTH);
    let doc = Html::parse_document(&html);
    let title = doc.tree.root().descendants().find_map(|n| match n.value() {
        Node::Element(e) if e.name() == "title" => {
            let t: String = n.descendants().filter_map(|d| d.value().as_text().map(|t| t.to_string())).collect();
            one_line(&t)
        }
        _ => None,
    });

    let mut w = Walker::default();
    for edge in doc.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(e) => {
                    let name = e.name();
                    if w.skip > 0
                        || skipped(name)
                        || e.attr("hidden").is_some()
                        || e.attr("aria-hidden") == Some("true")
                    {
                        w.skip += 1;
                        continue;
                    }
                    w.open(name, blocks)?;
                }
                Node::Text(t) if w.skip == 0 => w.text(t),
                _ => {}
            },
            Edge::Close(node) => {
                if let Node::Element(e) = node.value() {
                    if w.skip > 0 {
                        w.skip -= 1;
                        continue;
                    }
                    w.close(e.name(), blocks)?;
                }
            }
        }
    }
    w.end_block(blocks)?;
    Ok(title)
}

/// Void elements and elements the parser closes by itself: they do not deepen the tree.
fn nests(name: &str) -> bool {
    !matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
            | "p"
            | "li"
            | "dt"
            | "dd"
            | "option"
            | "tr"
            | "td"
            | "th"
    )
}

/// Elements whose content is text, not markup, up to their end tag.
fn raw_text(name: &str) -> bool {
    matches!(name, "script" | "style" | "textarea" | "title" | "xmp" | "iframe" | "noembed" | "noframes" | "plaintext")
}

/// Drops the tags of elements nested deeper than `max` (a light scan of the tags; the text stays). Returns the
/// input untouched when nothing is that deep, which is every ordinary page.
fn flatten_deep_nesting(html: &str, max: usize) -> std::borrow::Cow<'_, str> {
    // Tags as (start, end, kind) byte ranges: kind +1 opens a level, -1 closes one, 0 neither.
    let bytes = html.as_bytes();
    let mut tags: Vec<(usize, usize, i8)> = Vec::new();
    let mut depth: usize = 0;
    let mut deepest: usize = 0;
    let mut i = 0;
    let lower_name = |from: usize| -> (String, usize) {
        let mut j = from;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-' || bytes[j] == b':') {
            j += 1;
        }
        (html[from..j].to_ascii_lowercase(), j)
    };
    while let Some(off) = memchr(b'<', &bytes[i..]) {
        let start = i + off;
        let rest = &bytes[start..];
        if rest.starts_with(b"<!--") {
            i = find_from(bytes, start + 4, b"-->").map_or(bytes.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            i = memchr(b'>', &bytes[start..]).map_or(bytes.len(), |e| start + e + 1);
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_at = start + if closing { 2 } else { 1 };
        if !bytes.get(name_at).is_some_and(u8::is_ascii_alphabetic) {
            i = start + 1;
            continue;
        }
        let (name, mut j) = lower_name(name_at);
        // The end of the tag, skipping quoted attribute values.
        let mut quote: Option<u8> = None;
        while j < bytes.len() {
            match (quote, bytes[j]) {
                (Some(q), c) if c == q => quote = None,
                (None, b'"') | (None, b'\'') => quote = Some(bytes[j]),
                (None, b'>') => break,
                _ => {}
            }
            j += 1;
        }
        let end = (j + 1).min(bytes.len());
        let self_closing = !closing && end >= 2 && bytes[end - 2] == b'/';
        if closing {
            if nests(&name) {
                tags.push((start, end, -1));
                depth = depth.saturating_sub(1);
            }
        } else if nests(&name) && !self_closing {
            tags.push((start, end, 1));
            depth += 1;
            deepest = deepest.max(depth);
        }
        i = end;
        if !closing && raw_text(&name) {
            // Skip the content up to the matching end tag.
            let close = format!("</{name}");
            i = bytes[i..]
                .windows(close.len())
                .position(|w| w.eq_ignore_ascii_case(close.as_bytes()))
                .map_or(bytes.len(), |p| i + p);
        }
    }
    if deepest <= max {
        return std::borrow::Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut last = 0;
    let mut depth: usize = 0;
    for (start, end, kind) in tags {
        let drop = match kind {
            1 => {
                depth += 1;
                depth > max
            }
            _ => {
                let d = depth;
                depth = depth.saturating_sub(1);
                d > max
            }
        };
        if drop {
            out.push_str(&html[last..start]);
            out.push(' ');
            last = end;
        }
    }
    out.push_str(&html[last..]);
    std::borrow::Cow::Owned(out)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

fn find_from(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| from + p)
}

#[derive(Default)]
struct Walker {
    /// Depth inside skipped elements.
    skip: usize,
    /// Inside `pre` (depth) and its raw text.
    pre: usize,
    pre_text: String,
    /// Inside a heading: its level and text.
    heading: Option<(u8, String)>,
    /// Lines of the current text block and the line being built.
    lines: Vec<String>,
    line: String,
    /// Cells written in the current table row, and the depth inside cells.
    cells: usize,
    in_cell: usize,
    /// A list item's marker, written before its first text.
    prefix: String,
    list_depth: usize,
}

impl Walker {
    fn open(&mut self, name: &str, blocks: &mut Blocks) -> Result<(), ExtractError> {
        if self.pre > 0 {
            if name == "pre" {
                self.pre += 1;
            } else if name == "br" {
                self.pre_text.push('\n');
            }
            return Ok(());
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.end_block(blocks)?;
                let level = name.as_bytes()[1] - b'0';
                self.heading = Some((level, String::new()));
            }
            "pre" | "listing" | "xmp" | "plaintext" => {
                self.end_block(blocks)?;
                self.pre = 1;
            }
            "li" | "dt" | "dd" => {
                self.end_line();
                let indent = "  ".repeat(self.list_depth.saturating_sub(1).min(8));
                self.prefix = if name == "li" { format!("{indent}- ") } else { indent };
            }
            "ul" | "ol" | "dl" | "menu" => {
                if self.list_depth == 0 {
                    self.end_block(blocks)?;
                } else {
                    self.end_line();
                }
                self.list_depth += 1;
            }
            "tr" if self.in_cell > 0 => self.space(),
            "tr" => {
                self.end_line();
                self.cells = 0;
            }
            "td" | "th" => {
                if self.cells > 0 {
                    self.line.push_str(" | ");
                }
                self.cells += 1;
                self.in_cell += 1;
            }
            "br" if self.in_cell > 0 => self.space(),
            "br" => self.end_line(),
            n if paragraph_like(n) => self.paragraph_edge(blocks)?,
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, name: &str, blocks: &mut Blocks) -> Result<(), ExtractError> {
        if self.pre > 0 {
            if matches!(name, "pre" | "listing" | "xmp" | "plaintext") {
                self.pre -= 1;
                if self.pre == 0 {
                    blocks.code(&std::mem::take(&mut self.pre_text), None)?;
                }
            }
            return Ok(());
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if let Some((level, text)) = self.heading.take() {
                    blocks.heading(level, &text, None)?;
                }
            }
            "li" | "dt" | "dd" => {
                self.end_line();
                self.prefix.clear();
            }
            "ul" | "ol" | "dl" | "menu" => {
                self.list_depth = self.list_depth.saturating_sub(1);
                if self.list_depth == 0 {
                    self.end_block(blocks)?;
                } else {
                    self.end_line();
                }
            }
            "tr" if self.in_cell > 0 => self.space(),
            "tr" => {
                self.end_line();
                self.cells = 0;
            }
            "table" if self.in_cell > 0 => self.space(),
            "table" => {
                self.cells = 0;
                self.end_block(blocks)?;
            }
            "td" | "th" => self.in_cell = self.in_cell.saturating_sub(1),
            n if paragraph_like(n) => self.paragraph_edge(blocks)?,
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, t: &str) {
        if self.pre > 0 {
            self.pre_text.push_str(t);
            return;
        }
        if let Some((_, h)) = self.heading.as_mut() {
            h.push_str(t);
            h.push(' ');
            return;
        }
        // HTML collapses whitespace: keep one space between words, none at the start of a line.
        let starts_with_space = t.starts_with(|c: char| c.is_whitespace());
        let ends_with_space = t.ends_with(|c: char| c.is_whitespace());
        let mut words = t.split_whitespace().peekable();
        if words.peek().is_none() {
            if !self.line.is_empty() && !self.line.ends_with(' ') {
                self.line.push(' ');
            }
            return;
        }
        if self.line.is_empty() {
            self.line.push_str(&self.prefix);
            self.prefix.clear();
        } else if starts_with_space && !self.line.ends_with(' ') {
            self.line.push(' ');
        }
        let mut first = true;
        for word in words {
            if !first {
                self.line.push(' ');
            }
            self.line.push_str(word);
            first = false;
        }
        if ends_with_space {
            self.line.push(' ');
        }
    }

    /// The start or end of a paragraph-like element: a new block, a new line inside a list, a space in a cell.
    fn paragraph_edge(&mut self, blocks: &mut Blocks) -> Result<(), ExtractError> {
        if self.in_cell > 0 {
            self.space();
        } else if self.list_depth > 0 {
            self.end_line();
        } else {
            self.end_block(blocks)?;
        }
        Ok(())
    }

    fn space(&mut self) {
        if !self.line.is_empty() && !self.line.ends_with(' ') {
            self.line.push(' ');
        }
    }

    fn end_line(&mut self) {
        let mut l = self.line.trim_end();
        if self.cells > 0 {
            // A table row: no separators of empty cells at its ends.
            l = l.trim_matches(|c: char| c == '|' || c.is_whitespace());
        }
        if !l.trim().is_empty() {
            self.lines.push(l.to_string());
        }
        self.line.clear();
    }

    fn end_block(&mut self, blocks: &mut Blocks) -> Result<(), ExtractError> {
        self.end_line();
        if !self.lines.is_empty() {
            blocks.text(&self.lines.join("\n"), None)?;
            self.lines.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use quire_core::{Block, BlockKind};

    use super::*;

    fn b(kind: BlockKind, text: &str) -> Block {
        Block { kind, text: text.into(), page: None }
    }

    #[test]
    fn structure_of_a_page() {
        let html = r#"<!DOCTYPE html><html><head><title> The
            Title </title><style>p{}</style><script>var x = "no";</script></head>
            <body><nav><a href="/">Home</a></nav>
            <h1>Main <em>heading</em></h1>
            <p>First   paragraph
               with <b>bold</b>text and <a href="x">a link</a>.</p>
            <div>Loose div text<p>nested para</p></div>
            <h2>Lists</h2>
            <ul><li>one</li><li>two<ul><li>inner</li></ul></li></ul>
            <table><tr><th>Name</th><th>Value</th></tr><tr><td>a</td><td><p>1</p></td></tr></table>
            <pre>  indented
    code</pre>
            <p hidden>secret</p><footer>Footer text</footer>
            </body></html>"#;
        let doc = extract(html, &Limits::default()).expect("html");
        assert_eq!(doc.title.as_deref(), Some("The Title"));
        assert_eq!(
            doc.blocks,
            vec![
                b(BlockKind::Heading { level: 1 }, "Main heading"),
                b(BlockKind::Text, "First paragraph with boldtext and a link."),
                b(BlockKind::Text, "Loose div text"),
                b(BlockKind::Text, "nested para"),
                b(BlockKind::Heading { level: 2 }, "Lists"),
                b(BlockKind::Text, "- one\n- two\n  - inner"),
                b(BlockKind::Text, "Name | Value\na | 1"),
                b(BlockKind::Code, "  indented\n    code"),
                b(BlockKind::Text, "Footer text"),
            ]
        );
    }

    #[test]
    fn declared_charsets_are_honoured() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"></head>\
             <body><p>Привет, мир</p></body></html>",
        );
        let doc = extract(&decode(&bytes), &Limits::default()).expect("html");
        assert_eq!(doc.blocks[0].text, "Привет, мир");
        assert_eq!(declared_charset(b"<?xml version='1.0' encoding='ISO-8859-1'?>"), Some(encoding_rs::WINDOWS_1252));
    }

    #[test]
    fn deep_nesting_is_walked_without_recursion() {
        let n = 200_000;
        let html = format!("<body>{}deep <b>text</b>{}<p>after</p></body>", "<div>".repeat(n), "</div>".repeat(n));
        let started = std::time::Instant::now();
        let doc = extract(&html, &Limits::default()).expect("html");
        assert_eq!(doc.blocks, vec![b(BlockKind::Text, "deep text"), b(BlockKind::Text, "after")]);
        assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
    }

    #[test]
    fn shallow_pages_are_not_rewritten() {
        let html = "<div><p>a<p>b<script>if (a < b) { x = '<div>'; }</script><!-- <div> --></div>";
        assert!(matches!(flatten_deep_nesting(html, 2), std::borrow::Cow::Borrowed(_)));
        let deep = "<div><section><div>x</div></section></div>";
        assert_eq!(flatten_deep_nesting(deep, 2), "<div><section> x </section></div>");
    }
}
