//! Citation markers in a generated answer: `[1]`, `[1, 2]`, `[1,2]`.
//!
//! The model cites its sources by number. It sometimes cites a number that was never given to it; such a
//! citation would point nowhere, so [`CitationFilter`] removes it while the answer streams: a marker whose
//! numbers are all out of range disappears (with one space before it), a marker with some valid numbers
//! keeps only those. Text in brackets that is not a citation (`[see above]`, `[]`, `a[i]`) and anything
//! between backticks (inline code and code fences) passes through unchanged.
//!
//! The filter holds text back only while a marker may be open: a `[` followed by digits, commas and spaces,
//! at most [`MAX_MARKER_INNER`] characters of it (longer, it is not a citation and passes through), and one
//! space just before it, so that the space can go with a dropped marker.

/// The most characters between `[` and `]` the filter waits for before it decides the text is not a marker.
pub const MAX_MARKER_INNER: usize = 20;

/// A streaming filter over the text of an answer; see the module docs.
#[derive(Debug, Clone)]
pub struct CitationFilter {
    /// Sources are numbered 1..=valid.
    valid: u32,
    /// Text not yet given out: empty, a single space, or an open marker (`[` and what followed it), possibly
    /// after a single space.
    held: String,
    /// Whether the text so far has an odd number of backticks: inside inline code or a code fence.
    in_code: bool,
    /// Distinct numbers of the markers given out so far, in order of first appearance.
    cited: Vec<u32>,
}

impl CitationFilter {
    /// A filter for an answer whose sources are numbered 1..=`valid`.
    pub fn new(valid: u32) -> CitationFilter {
        CitationFilter { valid, held: String::new(), in_code: false, cited: Vec::new() }
    }

    /// Takes the next piece of the answer; returns the text that can be shown now.
    pub fn push(&mut self, piece: &str) -> String {
        let mut out = String::with_capacity(piece.len() + self.held.len());
        for c in piece.chars() {
            self.step(c, &mut out);
        }
        out
    }

    /// Ends the answer: returns what was held back (an unfinished marker is plain text). The filter can then
    /// take a new answer.
    pub fn finish(&mut self) -> String {
        self.in_code = false;
        std::mem::take(&mut self.held)
    }

    /// The distinct source numbers cited in the text given out so far, in order of first appearance (only
    /// numbers in range: dropped ones are not listed).
    pub fn cited(&self) -> &[u32] {
        &self.cited
    }

    fn step(&mut self, c: char, out: &mut String) {
        if self.in_code {
            if c == '`' {
                self.in_code = false;
            }
            out.push(c);
            return;
        }
        match self.open_at() {
            // Nothing held, or a lone space.
            None => match c {
                '[' => self.held.push('['),
                ' ' => {
                    out.push_str(&self.held);
                    self.held.clear();
                    self.held.push(' ');
                }
                _ => {
                    out.push_str(&self.held);
                    self.held.clear();
                    if c == '`' {
                        self.in_code = true;
                    }
                    out.push(c);
                }
            },
            // An open marker starting at byte `open`.
            Some(open) => match c {
                ']' => {
                    let inner = &self.held[open + 1..];
                    match parse_marker(inner) {
                        Some(numbers) => {
                            let kept: Vec<u32> =
                                numbers.iter().copied().filter(|&n| n >= 1 && n <= self.valid).collect();
                            if kept.is_empty() {
                                // Dropped, with the space before it (held, if there was one).
                            } else {
                                out.push_str(&self.held[..open]);
                                if kept.len() == numbers.len() {
                                    out.push_str(&self.held[open..]);
                                    out.push(']');
                                } else {
                                    let list: Vec<String> = kept.iter().map(u32::to_string).collect();
                                    out.push('[');
                                    out.push_str(&list.join(", "));
                                    out.push(']');
                                }
                                for n in kept {
                                    if !self.cited.contains(&n) {
                                        self.cited.push(n);
                                    }
                                }
                            }
                        }
                        None => {
                            out.push_str(&self.held);
                            out.push(']');
                        }
                    }
                    self.held.clear();
                }
                '[' => {
                    // The open bracket was not a marker; this one may be.
                    out.push_str(&self.held);
                    self.held.clear();
                    self.held.push('[');
                }
                '0'..='9' | ',' | ' ' if self.held.len() - open - 1 < MAX_MARKER_INNER => self.held.push(c),
                _ => {
                    // Not a marker (another character, or too long to be one): what is held is plain text.
                    out.push_str(&self.held);
                    self.held.clear();
                    self.step(c, out);
                }
            },
        }
    }

    /// The byte position of the `[` of the open marker, if one is held.
    fn open_at(&self) -> Option<usize> {
        self.held.find('[')
    }
}

/// The numbers of a marker's inside (between the brackets): numbers separated by commas, spaces allowed
/// around them. None when it is not a citation (empty, an empty item, a space inside a number). A number
/// too large for u32 is kept as 0, which is never in range.
fn parse_marker(inner: &str) -> Option<Vec<u32>> {
    let mut numbers = Vec::new();
    for item in inner.split(',') {
        let item = item.trim_matches(' ');
        if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        numbers.push(item.parse::<u32>().unwrap_or(0));
    }
    Some(numbers)
}

/// The distinct numbers cited in `text` by well-formed markers, in order of first appearance (0 is never a
/// source number and is not listed; markers between backticks do not count).
pub fn cited_numbers(text: &str) -> Vec<u32> {
    let mut filter = CitationFilter::new(u32::MAX);
    filter.push(text);
    filter.finish();
    filter.cited
}

/// Filters a whole answer at once: [`CitationFilter::push`] then [`CitationFilter::finish`].
pub fn filter_all(text: &str, valid: u32) -> String {
    let mut filter = CitationFilter::new(valid);
    let mut out = filter.push(text);
    out.push_str(&filter.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Filters `text` fed in the given pieces.
    fn streamed(pieces: &[&str], valid: u32) -> String {
        let mut f = CitationFilter::new(valid);
        let mut out = String::new();
        for p in pieces {
            out.push_str(&f.push(p));
        }
        out.push_str(&f.finish());
        out
    }

    /// Filters `text` fed one character at a time, and in every split into two pieces; all must agree with
    /// the whole-text result, which is returned.
    fn every_split(text: &str, valid: u32) -> String {
        let whole = filter_all(text, valid);
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(streamed(&refs, valid), whole, "char by char: {text:?}");
        for (i, _) in text.char_indices() {
            assert_eq!(streamed(&[&text[..i], &text[i..]], valid), whole, "split at {i}: {text:?}");
        }
        whole
    }

    #[test]
    fn valid_markers_pass_unchanged() {
        assert_eq!(
            every_split("Paris is the capital [1]. It is big [2, 3].", 3),
            "Paris is the capital [1]. It is big [2, 3]."
        );
        assert_eq!(every_split("see [1,2] and [ 3 ]", 3), "see [1,2] and [ 3 ]");
    }

    #[test]
    fn out_of_range_markers_are_removed_with_one_space() {
        assert_eq!(every_split("foo [9].", 3), "foo.");
        assert_eq!(every_split("foo [0] bar", 3), "foo bar");
        assert_eq!(every_split("foo  [9].", 3), "foo .");
        assert_eq!(every_split("foo[9].", 3), "foo.");
        assert_eq!(every_split("[4, 5] start", 3), " start");
        assert_eq!(every_split("no sources [1]", 0), "no sources");
        assert_eq!(every_split("huge [99999999999].", 3), "huge.");
    }

    #[test]
    fn mixed_markers_keep_the_valid_numbers() {
        assert_eq!(every_split("foo [1, 9].", 3), "foo [1].");
        assert_eq!(every_split("foo [7,2,3,8]", 3), "foo [2, 3]");
        assert_eq!(every_split("a [1][9] b", 3), "a [1] b");
        assert_eq!(every_split("a [9][1] b", 3), "a[1] b");
    }

    #[test]
    fn bracketed_text_that_is_not_a_citation_passes() {
        for text in [
            "[see above]",
            "a[i] = b[j]",
            "[x]",
            "[]",
            "[ ]",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[1a]",
            "list[9 items]",
            "[[9]]x",
            "unclosed [9",
            "unclosed [",
            "ends with a space ",
        ] {
            let expected = if text == "[[9]]x" { "[]x".to_string() } else { text.to_string() };
            assert_eq!(every_split(text, 3), expected, "{text:?}");
        }
    }

    #[test]
    fn long_bracketed_numbers_are_not_held_forever() {
        let list: Vec<String> = (1..=12).map(|n| n.to_string()).collect();
        let text = format!("[{}]", list.join(", "));
        let mut f = CitationFilter::new(3);
        let shown = f.push(&text[..MAX_MARKER_INNER + 5]);
        assert!(!shown.is_empty(), "the filter gave up holding a long run");
        assert_eq!(every_split(&text, 3), text);
    }

    #[test]
    fn holds_back_only_while_a_marker_may_be_open() {
        let mut f = CitationFilter::new(3);
        assert_eq!(f.push("Hello world"), "Hello world");
        assert_eq!(f.push(" "), "");
        assert_eq!(f.push("[1"), "");
        assert_eq!(f.push("0"), "");
        assert_eq!(f.push("]"), "");
        assert_eq!(f.push(" and"), " and");
        assert_eq!(f.push(" [2"), "");
        assert_eq!(f.push("]"), " [2]");
        assert_eq!(f.push(" x["), " x");
        assert_eq!(f.push("i]"), "[i]");
        assert_eq!(f.push(" [1"), "");
        assert_eq!(f.finish(), " [1");
        assert_eq!(f.finish(), "");
    }

    #[test]
    fn code_between_backticks_is_left_alone() {
        assert_eq!(every_split("use `a[10]` here [9]", 3), "use `a[10]` here");
        let fence = "```\nx = a[7]\n```\nafter [7].";
        assert_eq!(every_split(fence, 3), "```\nx = a[7]\n```\nafter.");
        // finish() ends an unclosed code span, so a reused filter starts outside code.
        let mut f = CitationFilter::new(1);
        f.push("`open");
        f.finish();
        assert_eq!(f.push("x [5]."), "x.");
    }

    #[test]
    fn unicode_text_passes() {
        assert_eq!(every_split("Größe [1] 東京 [4]。", 2), "Größe [1] 東京。");
    }

    #[test]
    fn cited_numbers_in_order_of_first_appearance() {
        assert_eq!(cited_numbers("a [3] b [1, 3] c [2][1] [x] [0] `[7]` [8"), vec![3, 1, 2]);
        assert_eq!(cited_numbers("nothing here"), Vec::<u32>::new());
        let mut f = CitationFilter::new(2);
        f.push("x [2] y [5] z [1, 2");
        assert_eq!(f.cited(), &[2]);
        f.push("]");
        assert_eq!(f.cited(), &[2, 1]);
    }
}
