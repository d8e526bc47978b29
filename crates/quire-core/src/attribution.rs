//! Citations for answers whose model cited nothing. Small local models often answer from the sources
//! without writing `[n]`; the answer is then matched back to them: each sentence of the answer whose content
//! words come mostly from one source gets that source's marker. A sentence that matches no source closely
//! enough stays uncited, so a marker always points at text the sentence really repeats.

use std::collections::HashSet;

use crate::types::Source;

/// Share of a sentence's content words a source must hold for the sentence to cite it.
pub const MIN_SHARE: f64 = 0.6;
/// Content words a sentence must have, and share with the source, to be cited at all.
pub const MIN_WORDS: usize = 4;

/// Words too common to show where a sentence came from.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "all", "any", "can", "has", "have", "had", "was", "were",
    "will", "with", "this", "that", "these", "those", "from", "into", "onto", "about", "which", "what", "when",
    "where", "who", "whom", "why", "how", "its", "it's", "their", "there", "then", "than", "them", "they", "also",
    "may", "might", "must", "should", "would", "could", "does", "did", "doing", "done", "such", "each", "other",
    "more", "most", "some", "only", "own", "same", "very", "just", "over", "under", "again", "once", "here", "being",
    "been", "both", "few", "nor", "off", "out", "our", "ours", "she", "her", "his", "him", "use", "used", "using",
];

/// The content words of a text: lower-cased runs of letters and digits of three or more characters that
/// are not stop words.
fn content_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// Byte ranges of the sentences of `text`: a sentence ends after `.`, `!` or `?` followed by whitespace
/// (or the end), or at a line break. Ranges cover only the sentence, not the whitespace after it.
fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        let end = if c == '\n' {
            Some(i)
        } else if matches!(c, '.' | '!' | '?' | '。' | '！' | '？') && next_is_space {
            Some(i + c.len_utf8())
        } else {
            None
        };
        if let Some(end) = end {
            if text[start..end].trim().chars().any(char::is_alphanumeric) {
                out.push((start, end));
            }
            start = i + c.len_utf8();
        }
    }
    if text[start..].trim().chars().any(char::is_alphanumeric) {
        out.push((start, text.len()));
    }
    out
}

/// `text` with a `[n]` marker after each sentence that repeats a source closely enough (see the module docs),
/// or None when no sentence does. The marker goes before the sentence's closing punctuation.
pub fn attribute(text: &str, sources: &[Source]) -> Option<String> {
    let vocabularies: Vec<(u32, HashSet<String>)> =
        sources.iter().map(|s| (s.n, content_words(&s.text).into_iter().collect())).collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    let mut any = false;
    for (start, end) in sentences(text) {
        let sentence = &text[start..end];
        let words: Vec<String> = content_words(sentence);
        if words.len() < MIN_WORDS {
            continue;
        }
        let best = vocabularies
            .iter()
            .map(|(n, vocabulary)| (*n, words.iter().filter(|w| vocabulary.contains(*w)).count()))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((n, shared)) = best else { continue };
        if shared < MIN_WORDS || (shared as f64) < MIN_SHARE * words.len() as f64 {
            continue;
        }
        let trimmed = sentence.trim_end();
        let body = trimmed.trim_end_matches(['.', '!', '?', '。', '！', '？']);
        let at = start + body.len();
        out.push_str(&text[copied..at]);
        out.push_str(&format!(" [{n}]"));
        copied = at;
        any = true;
    }
    out.push_str(&text[copied..]);
    any.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(n: u32, text: &str) -> Source {
        Source {
            n,
            doc_id: format!("d{n}"),
            path: format!("/docs/{n}.pdf"),
            title: None,
            page_start: Some(n),
            page_end: Some(n),
            heading_path: Vec::new(),
            chunk_indexes: vec![0],
            text: text.to_string(),
            score: 0.5,
        }
    }

    #[test]
    fn sentences_that_repeat_a_source_cite_it() {
        let sources = [
            source(1, "3.1 Setting up quilt. The program quilt offers a basic method for recording modifications."),
            source(
                2,
                "quilt - this package helps you to manage large numbers of patches by keeping track of the changes each patch makes.",
            ),
        ];
        let text = "Quilt is a package that helps you manage large numbers of patches by keeping track of the changes \
                    each patch makes. It is great fun to use!";
        let cited = attribute(text, &sources).expect("one sentence matches");
        assert_eq!(
            cited,
            "Quilt is a package that helps you manage large numbers of patches by keeping track of the changes each \
             patch makes [2]. It is great fun to use!"
        );
    }

    #[test]
    fn answers_unlike_every_source_get_no_markers() {
        let sources = [source(1, "The rules file is a makefile that builds the package.")];
        assert_eq!(attribute("Bananas grow in tropical climates around the equator.", &sources), None);
        assert_eq!(attribute("", &sources), None);
        assert_eq!(attribute("Yes.", &sources), None, "too short to attribute");
        assert_eq!(attribute("The rules file builds the package.", &[]), None);
    }

    #[test]
    fn every_matching_sentence_and_line_is_cited_with_multibyte_text_intact() {
        let sources = [
            source(1, "Le fichier rules est un makefile qui construit le paquet à partir des sources."),
            source(2, "dpkg-buildpackage builds binary and source packages from Debian source trees."),
        ];
        let text = "- dpkg-buildpackage builds binary packages from Debian source trees\n\
                    - Le fichier rules est un makefile qui construit le paquet à partir des sources.";
        assert_eq!(
            attribute(text, &sources).as_deref(),
            Some(
                "- dpkg-buildpackage builds binary packages from Debian source trees [2]\n\
                 - Le fichier rules est un makefile qui construit le paquet à partir des sources [1]."
            )
        );
    }

    #[test]
    fn sentences_split_at_end_punctuation_and_lines_only() {
        let text = "Version 1.2 is out. Is it? Yes!\nNext line";
        let parts: Vec<&str> = sentences(text).into_iter().map(|(s, e)| text[s..e].trim()).collect();
        assert_eq!(parts, ["Version 1.2 is out.", "Is it?", "Yes!", "Next line"]);
    }
}
