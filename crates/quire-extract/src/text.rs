//! Plain text and source code: decoding bytes of any common encoding, and splitting on blank lines.

use quire_core::{ExtractError, ExtractedDoc, Format};

use crate::{Blocks, Limits};

/// Decodes text whose encoding is not declared: a byte-order mark wins, then UTF-16 without a mark if every
/// other byte is zero, then UTF-8 if the bytes are valid UTF-8, then the legacy encoding chardetng guesses
/// (windows-1252, windows-1251, Shift_JIS, GBK, …). Never fails: undecodable bytes become U+FFFD.
pub(crate) fn decode(bytes: &[u8]) -> String {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return text.into_owned();
    }
    // (Before UTF-8: ASCII text in UTF-16 is valid UTF-8, full of NULs.)
    if let Some(encoding) = utf16_without_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return text.into_owned();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    decode_legacy(bytes, None)
}

/// Decodes with chardetng's guess, optionally seeded with a declared encoding label.
pub(crate) fn decode_legacy(bytes: &[u8], declared: Option<&'static encoding_rs::Encoding>) -> String {
    let encoding = declared.unwrap_or_else(|| {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        // 1 MiB is plenty to tell encodings apart.
        detector.feed(&bytes[..bytes.len().min(1 << 20)], true);
        detector.guess(None, chardetng::Utf8Detection::Allow)
    });
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

/// UTF-16 text without a byte-order mark: NUL in every other byte of the first kilobyte (ASCII-range text).
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(1024) & !1];
    if head.len() < 8 {
        return None;
    }
    let pairs = head.len() / 2;
    let even_zero = head.iter().step_by(2).filter(|b| **b == 0).count();
    let odd_zero = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    if odd_zero * 10 >= pairs * 9 && even_zero * 10 < pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even_zero * 10 >= pairs * 9 && odd_zero * 10 < pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Splits text into groups of lines separated by blank lines (lines of only whitespace).
pub(crate) fn blank_line_groups(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut lines = text.lines().peekable();
    std::iter::from_fn(move || {
        while lines.peek().is_some_and(|l| l.trim().is_empty()) {
            lines.next();
        }
        let mut group: Vec<&str> = Vec::new();
        while let Some(line) = lines.peek() {
            if line.trim().is_empty() {
                break;
            }
            group.push(line);
            lines.next();
        }
        (!group.is_empty()).then(|| group.join("\n"))
    })
}

/// Plain text: one text block per paragraph (paragraphs are separated by blank lines).
pub(crate) fn extract_text(text: &str, limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    let mut blocks = Blocks::new(limits);
    for paragraph in blank_line_groups(text) {
        blocks.text(&paragraph, None)?;
    }
    Ok(ExtractedDoc { format: Format::Text, title: None, pages: None, blocks: blocks.into_vec() })
}

/// Source code, whatever the language: one code block per group of lines between blank lines, indentation kept.
pub(crate) fn extract_code(text: &str, limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    let mut blocks = Blocks::new(limits);
    for group in blank_line_groups(text) {
        blocks.code(&group, None)?;
    }
    Ok(ExtractedDoc { format: Format::Code, title: None, pages: None, blocks: blocks.into_vec() })
}

#[cfg(test)]
mod tests {
    use quire_core::BlockKind;

    use super::*;

    #[test]
    fn splits_paragraphs_on_blank_lines() {
        let doc = extract_text("First line\nsecond line\n\n  \n\nSecond para\r\n\r\nThird", &Limits::default())
            .expect("text");
        let texts: Vec<&str> = doc.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, ["First line\nsecond line", "Second para", "Third"]);
        assert!(doc.blocks.iter().all(|b| b.kind == BlockKind::Text && b.page.is_none()));
    }

    #[test]
    fn code_keeps_indentation() {
        let src = "fn main() {\n    let x = 1;\n\n    println!(\"{x}\");\n}\n\n\n// end\n";
        let doc = extract_code(src, &Limits::default()).expect("code");
        let texts: Vec<&str> = doc.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, ["fn main() {\n    let x = 1;", "    println!(\"{x}\");\n}", "// end"]);
        assert!(doc.blocks.iter().all(|b| b.kind == BlockKind::Code));
    }

    #[test]
    fn decodes_utf8_boms_utf16_and_legacy_encodings() {
        assert_eq!(decode("héllo".as_bytes()), "héllo");
        assert_eq!(decode(b"\xEF\xBB\xBFbom"), "bom");
        let utf16le: Vec<u8> = "plain text in UTF-16".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(decode(&utf16le), "plain text in UTF-16");
        let mut with_bom = vec![0xFE, 0xFF];
        with_bom.extend("Привет".encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode(&with_bom), "Привет");
        // windows-1251 Russian and windows-1252 French, without any declaration.
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("Съешь же ещё этих мягких французских булок");
        assert_eq!(decode(&cp1251), "Съешь же ещё этих мягких французских булок");
        let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode("Le cœur déçu mais l'âme plutôt naïve");
        assert_eq!(decode(&cp1252), "Le cœur déçu mais l'âme plutôt naïve");
    }
}
