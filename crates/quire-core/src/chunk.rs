//! From an extracted document to chunks sized in the embedding model's tokens.
//!
//! [`prepare`] cleans every block and lays the document out as one text with sections (a heading and what
//! follows it, up to the next heading) and the page of every block. [`plan_chunks`] splits each section on its
//! own, so a chunk never straddles two headings: paragraphs first, then lines, sentences and words, with
//! overlap between neighbours (the splitting itself is `text-splitter`'s). Sizes come from token counts of
//! the text's "units" (whitespace-separated words; CJK characters one by one), which the caller obtains from
//! the embedding model's own tokenizer. Every chunk carries its context line (document title and heading
//! path), which is embedded and indexed with it, and counts against the model's window.

use std::collections::HashMap;
use std::ops::Range;

use text_splitter::{ChunkConfig, ChunkSizer, TextSplitter};

use crate::clean::{clean_code, clean_text};
use crate::types::{BlockKind, ExtractedDoc};

/// Block separator in the prepared text.
const SEPARATOR: &str = "\n\n";

/// A document laid out for chunking.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The cleaned text: every non-empty block, separated by a blank line.
    pub text: String,
    pub blocks: Vec<PreparedBlock>,
    pub sections: Vec<Section>,
}

/// Where a block lies in [`Prepared::text`] (byte range) and on which page.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedBlock {
    pub range: Range<usize>,
    pub page: Option<u32>,
}

/// A heading and its body, as a byte range of [`Prepared::text`].
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading_path: Vec<String>,
    pub range: Range<usize>,
}

/// Cleans the blocks of `doc` and lays them out (see the module docs).
pub fn prepare(doc: &ExtractedDoc) -> Prepared {
    let mut text = String::new();
    let mut blocks = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    // (level, heading) pairs enclosing the current position.
    let mut stack: Vec<(u8, String)> = Vec::new();
    // The open section: its start, its heading path, and whether it has body text yet.
    let mut open: Option<(usize, Vec<String>, bool)> = None;

    for block in &doc.blocks {
        let cleaned = match block.kind {
            BlockKind::Heading { .. } => clean_text(&block.text).replace('\n', " "),
            BlockKind::Text => clean_text(&block.text),
            BlockKind::Code => clean_code(&block.text),
        };
        if cleaned.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push_str(SEPARATOR);
        }
        let start = text.len();
        text.push_str(&cleaned);
        blocks.push(PreparedBlock { range: start..text.len(), page: block.page });

        match block.kind {
            BlockKind::Heading { level } => {
                let level = level.max(1);
                while stack.last().is_some_and(|(l, _)| *l >= level) {
                    stack.pop();
                }
                stack.push((level, cleaned));
                let path: Vec<String> = stack.iter().map(|(_, h)| h.clone()).collect();
                match open.as_mut() {
                    // A heading right after a heading: the section grows its path, keeps its start.
                    Some((_, open_path, false)) => *open_path = path,
                    _ => {
                        if let Some((s, p, _)) = open.take() {
                            sections.push(Section { heading_path: p, range: s..trimmed_end(&text, start) });
                        }
                        open = Some((start, path, false));
                    }
                }
            }
            _ => match open.as_mut() {
                Some((_, _, has_body)) => *has_body = true,
                None => open = Some((start, Vec::new(), true)),
            },
        }
    }
    if let Some((s, p, _)) = open.take() {
        sections.push(Section { heading_path: p, range: s..text.len() });
    }
    Prepared { text, blocks, sections }
}

/// The end of the text before the separator that precedes `next_start`.
fn trimmed_end(text: &str, next_start: usize) -> usize {
    next_start.saturating_sub(SEPARATOR.len()).min(text.len())
}

/// The units whose token counts size chunks: runs of non-whitespace, with each CJK character on its own
/// (tokenizers split those one by one, and CJK text has no spaces).
pub fn units(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push(s..i);
            }
        } else if is_cjk(c) {
            if let Some(s) = start.take() {
                out.push(s..i);
            }
            out.push(i..i + c.len_utf8());
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Token counts of units, as the embedding model's tokenizer gives them (without special tokens).
pub trait UnitCounts {
    fn count(&self, unit: &str) -> u32;
}

impl UnitCounts for HashMap<String, u32> {
    fn count(&self, unit: &str) -> u32 {
        // A unit that was not counted is estimated at one token per three bytes.
        self.get(unit).copied().unwrap_or_else(|| (unit.len() as u32).div_ceil(3))
    }
}

/// Tokens of a whole text from its unit counts.
pub fn estimate_tokens(text: &str, counts: &dyn UnitCounts) -> u32 {
    units(text).into_iter().map(|r| counts.count(&text[r])).sum()
}

/// How chunks are sized.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChunkParams {
    /// The most tokens one embedding input may have, special tokens and context line included.
    pub max_tokens: usize,
    /// Tokens shared by neighbouring chunks of a section.
    pub overlap_tokens: usize,
    /// Special tokens the model adds to every input.
    pub special_tokens: usize,
}

impl Default for ChunkParams {
    fn default() -> Self {
        ChunkParams { max_tokens: 256, overlap_tokens: 32, special_tokens: 2 }
    }
}

/// A chunk before it is embedded.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedChunk {
    /// Byte range in [`Prepared::text`].
    pub range: Range<usize>,
    pub text: String,
    pub heading_path: Vec<String>,
    /// The line embedded and indexed before the text: title and heading path.
    pub context: String,
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    pub char_start: u64,
    pub char_end: u64,
    /// Estimated tokens of the embedding input, special tokens included.
    pub tokens: u32,
}

impl PlannedChunk {
    /// The text given to the embedding model.
    pub fn embedding_input(&self) -> String {
        if self.context.is_empty() { self.text.clone() } else { format!("{}\n{}", self.context, self.text) }
    }
}

/// The context line of a chunk: the document title and the heading path, joined by " › ".
pub fn context_line(title: Option<&str>, heading_path: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        parts.push(t);
    }
    for h in heading_path {
        if parts.last() != Some(&h.as_str()) {
            parts.push(h);
        }
    }
    parts.join(" › ")
}

/// Splits every section of `prepared` into chunks that fit `params` (see the module docs).
pub fn plan_chunks(
    prepared: &Prepared,
    title: Option<&str>,
    counts: &dyn UnitCounts,
    params: &ChunkParams,
) -> Vec<PlannedChunk> {
    let mut out = Vec::new();
    let mut chars = CharCursor::default();
    for section in &prepared.sections {
        let body = &prepared.text[section.range.clone()];
        let context = fit_context(context_line(title, &section.heading_path), counts, params.max_tokens / 4);
        let context_tokens = if context.is_empty() { 0 } else { estimate_tokens(&context, counts) as usize };
        let budget = params.max_tokens.saturating_sub(params.special_tokens + context_tokens).max(8);
        for (offset, piece) in split(body, budget, params.overlap_tokens, counts) {
            let start = section.range.start + offset;
            let range = start..start + piece.len();
            let tokens = (params.special_tokens + context_tokens) as u32 + estimate_tokens(piece, counts);
            let (page_start, page_end) = pages(&prepared.blocks, &range);
            let char_start = chars.char_offset(&prepared.text, range.start) as u64;
            let char_end = char_start + piece.chars().count() as u64;
            out.push(PlannedChunk {
                range,
                text: piece.to_string(),
                heading_path: section.heading_path.clone(),
                context: context.clone(),
                page_start,
                page_end,
                char_start,
                char_end,
                tokens,
            });
        }
    }
    out
}

/// Splits `text` into pieces of at most `budget` tokens (by unit counts), `overlap` tokens shared by
/// neighbours. Returns (byte offset in `text`, piece).
pub fn split<'t>(text: &'t str, budget: usize, overlap: usize, counts: &dyn UnitCounts) -> Vec<(usize, &'t str)> {
    let sizer = UnitSizer::new(text, counts);
    let desired = (budget * 3 / 4).max(1);
    let overlap = overlap.min(desired.saturating_sub(1));
    let Ok(config) = ChunkConfig::new(desired..budget + 1).with_sizer(&sizer).with_overlap(overlap) else {
        return vec![(0, text)];
    };
    TextSplitter::new(config).chunk_indices(text).collect()
}

/// Drops title and outer headings (then cuts words) until the context line fits `max` tokens.
fn fit_context(context: String, counts: &dyn UnitCounts, max: usize) -> String {
    let mut parts: Vec<&str> = context.split(" › ").collect();
    loop {
        let line = parts.join(" › ");
        if line.is_empty() || estimate_tokens(&line, counts) as usize <= max {
            return line;
        }
        if parts.len() > 1 {
            parts.remove(0);
        } else {
            let mut words: Vec<&str> = line.split(' ').collect();
            while words.len() > 1 && estimate_tokens(&words.join(" "), counts) as usize > max {
                words.pop();
            }
            let cut = words.join(" ");
            return if estimate_tokens(&cut, counts) as usize <= max { cut } else { String::new() };
        }
    }
}

/// First and last page of the blocks a byte range touches.
fn pages(blocks: &[PreparedBlock], range: &Range<usize>) -> (Option<u32>, Option<u32>) {
    let first = blocks.partition_point(|b| b.range.end <= range.start);
    let mut lo: Option<u32> = None;
    let mut hi: Option<u32> = None;
    for b in blocks[first..].iter().take_while(|b| b.range.start < range.end) {
        if let Some(p) = b.page {
            lo = Some(lo.map_or(p, |l| l.min(p)));
            hi = Some(hi.map_or(p, |h| h.max(p)));
        }
    }
    (lo, hi)
}

/// Converts byte offsets to character offsets for offsets that mostly increase.
#[derive(Default)]
struct CharCursor {
    byte: usize,
    chars: usize,
}

impl CharCursor {
    fn char_offset(&mut self, text: &str, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

/// Sizes a slice of one text by the token counts of the units inside it. text-splitter hands the sizer
/// slices of the text it splits, so a slice's position is found from its address.
struct UnitSizer<'t> {
    base: &'t str,
    starts: Vec<usize>,
    ends: Vec<usize>,
    /// prefix[i] = tokens of units 0..i
    prefix: Vec<u64>,
    counts: Vec<u32>,
}

impl<'t> UnitSizer<'t> {
    fn new(base: &'t str, counts: &dyn UnitCounts) -> Self {
        let ranges = units(base);
        let mut prefix = Vec::with_capacity(ranges.len() + 1);
        prefix.push(0u64);
        let mut unit_counts = Vec::with_capacity(ranges.len());
        for r in &ranges {
            let c = counts.count(&base[r.clone()]);
            unit_counts.push(c);
            prefix.push(prefix.last().copied().unwrap_or(0) + u64::from(c));
        }
        UnitSizer {
            base,
            starts: ranges.iter().map(|r| r.start).collect(),
            ends: ranges.iter().map(|r| r.end).collect(),
            prefix,
            counts: unit_counts,
        }
    }

    fn size_of_range(&self, s: usize, e: usize) -> usize {
        // Units fully inside [s, e).
        let first = self.starts.partition_point(|&x| x < s);
        let last = self.ends.partition_point(|&x| x <= e);
        let mut total = if last > first { self.prefix[last] - self.prefix[first] } else { 0 };
        // Parts of units cut by the boundaries count in proportion to their bytes.
        let mut partial = |i: usize| {
            let (us, ue) = (self.starts[i], self.ends[i]);
            let overlap = ue.min(e).saturating_sub(us.max(s));
            if overlap > 0 && (us < s || ue > e) {
                let c = u64::from(self.counts[i]);
                total += (c * overlap as u64).div_ceil((ue - us) as u64);
            }
        };
        if first > 0 {
            partial(first - 1);
        }
        if last < self.starts.len() && (first == 0 || last != first - 1) {
            partial(last);
        }
        total as usize
    }
}

impl ChunkSizer for &UnitSizer<'_> {
    fn size(&self, chunk: &str) -> usize {
        let base = self.base.as_ptr() as usize;
        let at = chunk.as_ptr() as usize;
        if at >= base && at + chunk.len() <= base + self.base.len() {
            let s = at - base;
            self.size_of_range(s, s + chunk.len())
        } else {
            // Not a slice of the base text: count its units afresh at the estimated rate.
            units(chunk).iter().map(|r| r.len().div_ceil(3)).sum()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Block, Format};

    /// One token per unit, like a word-level tokenizer.
    struct PerUnit;
    impl UnitCounts for PerUnit {
        fn count(&self, _unit: &str) -> u32 {
            1
        }
    }

    fn block(kind: BlockKind, text: &str, page: Option<u32>) -> Block {
        Block { kind, text: text.to_string(), page }
    }

    fn doc(blocks: Vec<Block>) -> ExtractedDoc {
        ExtractedDoc { format: Format::Markdown, title: None, pages: None, blocks }
    }

    fn words(n: usize, prefix: &str) -> String {
        (0..n).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn sections_follow_headings() {
        let d = doc(vec![
            block(BlockKind::Text, "preface text", None),
            block(BlockKind::Heading { level: 1 }, "Chapter 1", None),
            block(BlockKind::Heading { level: 2 }, "Section 1.1", None),
            block(BlockKind::Text, "body one", None),
            block(BlockKind::Heading { level: 2 }, "Section 1.2", None),
            block(BlockKind::Text, "body two", None),
            block(BlockKind::Heading { level: 1 }, "Chapter 2", None),
            block(BlockKind::Text, "body three", None),
        ]);
        let p = prepare(&d);
        let paths: Vec<Vec<String>> = p.sections.iter().map(|s| s.heading_path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                vec![],
                vec!["Chapter 1".to_string(), "Section 1.1".to_string()],
                vec!["Chapter 1".to_string(), "Section 1.2".to_string()],
                vec!["Chapter 2".to_string()],
            ]
        );
        let texts: Vec<&str> = p.sections.iter().map(|s| &p.text[s.range.clone()]).collect();
        assert_eq!(
            texts,
            vec![
                "preface text",
                "Chapter 1\n\nSection 1.1\n\nbody one",
                "Section 1.2\n\nbody two",
                "Chapter 2\n\nbody three"
            ]
        );
    }

    #[test]
    fn chunks_respect_the_budget_and_overlap() {
        let d = doc(vec![block(BlockKind::Text, &words(1000, "w"), None)]);
        let p = prepare(&d);
        let params = ChunkParams { max_tokens: 66, overlap_tokens: 10, special_tokens: 2 };
        let chunks = plan_chunks(&p, None, &PerUnit, &params);
        assert!(chunks.len() >= 1000 / 64, "{} chunks", chunks.len());
        for c in &chunks {
            assert!(c.tokens as usize <= 66, "chunk of {} tokens", c.tokens);
            assert_eq!(&p.text[c.range.clone()], c.text);
        }
        // Neighbours share words (overlap), and together they cover every word.
        for pair in chunks.windows(2) {
            assert!(pair[1].range.start < pair[0].range.end, "no overlap between neighbours");
        }
        assert_eq!(chunks.first().map(|c| c.range.start), Some(0));
        assert_eq!(chunks.last().map(|c| c.range.end), Some(p.text.len()));
    }

    #[test]
    fn chunks_never_straddle_headings() {
        let d = doc(vec![
            block(BlockKind::Heading { level: 1 }, "Alpha", None),
            block(BlockKind::Text, &words(30, "a"), None),
            block(BlockKind::Heading { level: 1 }, "Beta", None),
            block(BlockKind::Text, &words(30, "b"), None),
        ]);
        let p = prepare(&d);
        let chunks = plan_chunks(&p, Some("Doc"), &PerUnit, &ChunkParams::default());
        assert_eq!(chunks.len(), 2);
        assert!(chunks[0].text.starts_with("Alpha") && !chunks[0].text.contains("b1"));
        assert_eq!(chunks[1].heading_path, vec!["Beta".to_string()]);
        assert_eq!(chunks[1].context, "Doc › Beta");
        assert_eq!(chunks[1].embedding_input(), format!("Doc › Beta\n{}", chunks[1].text));
    }

    #[test]
    fn pages_are_mapped_from_blocks() {
        let blocks: Vec<Block> =
            (1..=6).map(|p| block(BlockKind::Text, &words(40, &format!("p{p}w")), Some(p))).collect();
        let p = prepare(&doc(blocks));
        let params = ChunkParams { max_tokens: 52, overlap_tokens: 0, special_tokens: 2 };
        let chunks = plan_chunks(&p, None, &PerUnit, &params);
        for c in &chunks {
            let (lo, hi) = (c.page_start.unwrap_or(0), c.page_end.unwrap_or(0));
            assert!(lo >= 1 && hi <= 6 && lo <= hi);
            // Every page named in the text is inside the chunk's range, and the range's ends appear.
            for page in 1..=6u32 {
                if c.text.contains(&format!("p{page}w")) {
                    assert!(lo <= page && page <= hi, "page {page} outside {lo}..={hi}");
                }
            }
            assert!(c.text.contains(&format!("p{lo}w")) && c.text.contains(&format!("p{hi}w")));
        }
        assert_eq!(chunks.first().and_then(|c| c.page_start), Some(1));
        assert_eq!(chunks.last().and_then(|c| c.page_end), Some(6));
    }

    #[test]
    fn char_offsets_count_characters_not_bytes() {
        let d = doc(vec![block(BlockKind::Text, &"Ключ один два. Second sentence here. ".repeat(4), None)]);
        let p = prepare(&d);
        let params = ChunkParams { max_tokens: 12, overlap_tokens: 0, special_tokens: 2 };
        let chunks = plan_chunks(&p, None, &PerUnit, &params);
        assert!(chunks.len() >= 2);
        let chars: Vec<char> = p.text.chars().collect();
        for c in &chunks {
            let s: String = chars[c.char_start as usize..c.char_end as usize].iter().collect();
            assert_eq!(s, c.text);
        }
    }

    #[test]
    fn units_split_cjk_characters() {
        let t = "Debian 软件 ok";
        let u: Vec<&str> = units(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(u, vec!["Debian", "软", "件", "ok"]);
    }

    #[test]
    fn token_counts_drive_sizes() {
        // Each long word costs 10 tokens: a budget of 25 holds two of them, not three. (text-splitter assumes
        // a text never has more tokens than bytes, true of real tokenizers.)
        let word = "abcdefghijklmnopqrstuvwxyz";
        let mut counts: HashMap<String, u32> = HashMap::new();
        counts.insert(word.into(), 10);
        let text = [word; 9].join(" ");
        let pieces = split(&text, 25, 0, &counts);
        assert!(pieces.iter().all(|(_, p)| p.split(' ').count() <= 2), "{pieces:?}");
    }

    #[test]
    fn long_context_lines_are_cut_to_a_quarter_of_the_window() {
        let heading = words(200, "h");
        let d = doc(vec![block(BlockKind::Heading { level: 1 }, &heading, None), block(BlockKind::Text, "body", None)]);
        let chunks = plan_chunks(&prepare(&d), Some("Title"), &PerUnit, &ChunkParams::default());
        assert!(chunks.iter().all(|c| estimate_tokens(&c.context, &PerUnit) <= 64));
        assert!(chunks.iter().all(|c| c.tokens <= 256));
    }
}
