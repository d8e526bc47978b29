//! Text cleaning applied to everything an extractor returns, before chunking.
//!
//! - Unicode NFKC, which also expands ligatures ("ﬁ" → "fi") and full-width forms.
//! - Words hyphenated across a line end are joined ("exam-\nple" → "example").
//! - Control characters (except newline and tab) and invisible formatting characters (zero-width space, soft
//!   hyphen, byte-order mark, bidirectional overrides) are removed.
//! - Whitespace is tidied: runs of spaces collapse, lines lose trailing spaces, blank-line runs shrink to one.
//!
//! Code is kept as written apart from control and invisible characters: its indentation matters.

use unicode_normalization::UnicodeNormalization;

/// Cleans prose (see the module docs).
pub fn clean_text(raw: &str) -> String {
    let normalized: String = raw.nfkc().filter(|c| !is_removable(*c)).collect();
    let dehyphenated = dehyphenate(&normalized);
    tidy_whitespace(&dehyphenated)
}

/// Cleans code or preformatted text: removes control and invisible characters, normalises line ends, keeps
/// indentation.
pub fn clean_code(raw: &str) -> String {
    let text: String = raw.replace("\r\n", "\n").chars().map(|c| if c == '\r' { '\n' } else { c }).collect();
    let kept: String = text.chars().filter(|c| !is_removable(*c)).collect();
    let lines: Vec<&str> = kept.lines().map(str::trim_end).collect();
    lines.join("\n").trim_matches('\n').to_string()
}

/// Characters that carry no visible text: controls other than line breaks and tabs, and invisible format
/// characters that would split or glue words in the index.
fn is_removable(c: char) -> bool {
    match c {
        '\n' | '\t' | '\r' => false,
        c if c.is_control() => true,
        '\u{00AD}' // soft hyphen
        | '\u{200B}' // zero-width space
        | '\u{2060}' // word joiner
        | '\u{FEFF}' // byte-order mark / zero-width no-break space
        | '\u{180E}' // Mongolian vowel separator
        | '\u{200E}' | '\u{200F}' // directional marks
        | '\u{202A}'..='\u{202E}' // bidirectional embeddings and overrides
        | '\u{2066}'..='\u{2069}' // bidirectional isolates
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        | '\u{FFFC}' | '\u{FFFD}' // object replacement, replacement character
        => true,
        _ => false,
    }
}

/// Joins a word split by a hyphen at a line end: a letter, a hyphen, optional spaces, a line break, optional
/// indentation, then a lowercase letter. "Jean-\nPaul" (uppercase after the break) keeps its hyphen.
fn dehyphenate(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if (c == '-' || c == '\u{2010}') && i > 0 && chars[i - 1].is_alphabetic() {
            let mut j = i + 1;
            while j < chars.len() && (chars[j] == ' ' || chars[j] == '\t') {
                j += 1;
            }
            if j < chars.len() && chars[j] == '\n' {
                let mut k = j + 1;
                while k < chars.len() && (chars[k] == ' ' || chars[k] == '\t') {
                    k += 1;
                }
                if k < chars.len() && chars[k].is_lowercase() {
                    i = k;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn tidy_whitespace(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0usize;
    for line in text.split('\n') {
        let mut tidy = String::with_capacity(line.len());
        let mut prev_space = false;
        for c in line.chars() {
            let space = c == ' ' || c == '\t' || (c.is_whitespace() && c != '\n');
            if space {
                if !prev_space {
                    tidy.push(' ');
                }
            } else {
                tidy.push(c);
            }
            prev_space = space;
        }
        let tidy = tidy.trim();
        if tidy.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(tidy);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfkc_expands_ligatures_and_full_width_forms() {
        assert_eq!(clean_text("ﬁnd the ﬂow"), "find the flow");
        assert_eq!(clean_text("ＡＢＣ１２３"), "ABC123");
    }

    #[test]
    fn joins_words_hyphenated_across_lines() {
        assert_eq!(clean_text("the pack-\nage manager"), "the package manager");
        assert_eq!(clean_text("the pack-  \n   age manager"), "the package manager");
        assert_eq!(clean_text("установ-\nка пакетов"), "установка пакетов");
    }

    #[test]
    fn keeps_real_hyphens() {
        assert_eq!(clean_text("apt-get install"), "apt-get install");
        assert_eq!(clean_text("Jean-\nPaul"), "Jean-\nPaul");
        assert_eq!(clean_text("list:\n- item"), "list:\n- item");
        assert_eq!(clean_text("2019-\n2020"), "2019-\n2020");
    }

    #[test]
    fn removes_control_and_invisible_characters() {
        assert_eq!(clean_text("zero\u{200B}width soft\u{00AD}hyphen\u{0007}"), "zerowidth softhyphen");
        assert_eq!(clean_text("\u{FEFF}bom \u{202E}rlo"), "bom rlo");
        assert_eq!(clean_text("a\u{0000}b"), "ab");
    }

    #[test]
    fn tidies_whitespace() {
        assert_eq!(clean_text("  a   b \t c  \n\n\n\n d  "), "a b c\n\nd");
        assert_eq!(clean_text("line one\r\nline two"), "line one\nline two");
        assert_eq!(clean_text("non\u{00A0}breaking"), "non breaking");
    }

    #[test]
    fn code_keeps_indentation() {
        assert_eq!(clean_code("fn main() {\r\n    x();\u{200B}  \n}\n\n"), "fn main() {\n    x();\n}");
    }
}
