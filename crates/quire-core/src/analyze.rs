//! Full-text analysis: the terms the BM25 index sees, for documents and queries alike.
//!
//! The store's full-text index splits on whitespace and nothing else, so language handling happens here, the
//! same way for every document of a mixed-language library:
//! - text is lowercased and split into words of letters and digits;
//! - each word is stemmed by its script: Latin with the English Snowball stemmer, Cyrillic with the Russian
//!   one, Greek with the Greek one (others are kept as they are);
//! - English and Russian stop words are dropped;
//! - runs of Chinese, Japanese or Korean characters, which have no spaces, become overlapping bigrams.

use std::collections::HashSet;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Longer "words" (hashes, base64) are not useful search terms.
const MAX_TERM_CHARS: usize = 40;

struct Analyzer {
    english: Stemmer,
    russian: Stemmer,
    greek: Stemmer,
    stop: HashSet<&'static str>,
}

fn analyzer() -> &'static Analyzer {
    static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
    ANALYZER.get_or_init(|| {
        let mut stop: HashSet<&'static str> = HashSet::new();
        for language in ["en", "ru"] {
            stop.extend(stop_words::lookup(language).unwrap_or_default().iter().copied());
        }
        Analyzer {
            english: Stemmer::create(Algorithm::English),
            russian: Stemmer::create(Algorithm::Russian),
            greek: Stemmer::create(Algorithm::Greek),
            stop,
        }
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Cjk,
    Other,
}

fn script_of(c: char) -> Script {
    match c as u32 {
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Script::Greek,
        0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x3040..=0x30FF // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0x20000..=0x2FA1F => Script::Cjk,
        _ if c.is_ascii_alphanumeric() => Script::Latin,
        0x00C0..=0x024F | 0x1E00..=0x1EFF => Script::Latin,
        _ => Script::Other,
    }
}

/// The search terms of `text`, separated by single spaces.
pub fn terms(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for_each_term(text, |t| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    });
    out
}

/// Calls `emit` with every search term of `text`, in order.
pub fn for_each_term(text: &str, mut emit: impl FnMut(&str)) {
    let a = analyzer();
    let mut word = String::new();
    let mut word_script = Script::Other;
    let flush = |word: &mut String, script: Script, emit: &mut dyn FnMut(&str)| {
        if word.is_empty() {
            return;
        }
        if script == Script::Cjk {
            let chars: Vec<char> = word.chars().collect();
            if chars.len() == 1 {
                emit(word);
            } else {
                let mut pair = String::with_capacity(8);
                for w in chars.windows(2) {
                    pair.clear();
                    pair.push(w[0]);
                    pair.push(w[1]);
                    emit(&pair);
                }
            }
        } else if word.chars().count() <= MAX_TERM_CHARS && !a.stop.contains(word.as_str()) {
            let stemmed = match script {
                Script::Latin => a.english.stem(word),
                Script::Cyrillic => a.russian.stem(word),
                Script::Greek => a.greek.stem(word),
                _ => std::borrow::Cow::Borrowed(word.as_str()),
            };
            emit(&stemmed);
        }
        word.clear();
    };
    for c in text.chars() {
        if !c.is_alphanumeric() {
            flush(&mut word, word_script, &mut emit);
            continue;
        }
        let script = script_of(c);
        // A word is one script; digits join whatever word they are in.
        let joins = word.is_empty() || script == word_script || (c.is_ascii_digit() && word_script != Script::Cjk);
        if !joins {
            flush(&mut word, word_script, &mut emit);
        }
        if word.is_empty() {
            word_script = script;
        }
        word.extend(c.to_lowercase());
    }
    flush(&mut word, word_script, &mut emit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_lowercased_stemmed_and_stop_words_dropped() {
        assert_eq!(terms("The Packages are Installing"), "packag instal");
        assert_eq!(terms("apt-get install foo_bar"), "apt get instal foo bar");
    }

    #[test]
    fn russian_is_stemmed() {
        assert_eq!(terms("Установка пакетов"), terms("установку пакета"));
        assert!(!terms("и в на").contains('и'));
    }

    #[test]
    fn cjk_runs_become_bigrams() {
        assert_eq!(terms("软件包管理"), "软件 件包 包管 管理");
        assert_eq!(terms("包"), "包");
        assert_eq!(terms("Debian软件包"), "debian 软件 件包");
    }

    #[test]
    fn digits_and_long_terms() {
        assert_eq!(terms("ext4 and 2024"), "ext4 2024");
        assert_eq!(terms(&"x".repeat(60)), "");
    }

    #[test]
    fn query_and_document_agree() {
        let doc = terms("How do I install a package with dpkg?");
        for t in terms("installing packages").split(' ') {
            assert!(doc.split(' ').any(|d| d == t), "{t} not in {doc}");
        }
    }
}
