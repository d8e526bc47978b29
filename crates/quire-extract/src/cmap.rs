//! Repairs ToUnicode CMaps that pdf-extract would choke on.
//!
//! pdf-extract parses every font's ToUnicode CMap with adobe-cmap-parser and panics when it is malformed
//! ("bad length of hexstring", "failed to parse", odd-length or invalid UTF-16), which loses the whole page.
//! Real files have such CMaps (4 of the 114 pages of Debian's developers-reference.pdf). Before the pages
//! are read, each ToUnicode stream is checked the way pdf-extract will read it; one that fails is re-parsed
//! here, tolerantly, and replaced by a clean CMap with the same mappings (or dropped if nothing can be saved,
//! and the font falls back to its encoding).

use std::collections::{BTreeMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_extract::{Document, Object, ObjectId, Stream};

/// Most codes one `bfrange` may expand to.
const MAX_RANGE: u32 = 0x1_0000;
/// Objects visited when looking for fonts (nested dictionaries and arrays included).
const MAX_VISITS: usize = 2_000_000;

/// Checks every ToUnicode CMap of the document and repairs the broken ones. Returns how many were repaired.
pub(crate) fn repair_to_unicode(doc: &mut Document) -> usize {
    // ToUnicode references, found in dictionaries at any depth (font dictionaries may be direct objects).
    let mut targets: HashSet<ObjectId> = HashSet::new();
    let mut bad_names: Vec<ObjectId> = Vec::new();
    let mut visits = 0usize;
    for (id, obj) in doc.objects.iter() {
        let mut stack: Vec<&Object> = vec![obj];
        while let Some(o) = stack.pop() {
            visits += 1;
            if visits > MAX_VISITS {
                break;
            }
            let dict = match o {
                Object::Dictionary(d) => d,
                Object::Stream(s) => &s.dict,
                Object::Array(a) => {
                    stack.extend(a.iter());
                    continue;
                }
                _ => continue,
            };
            match dict.get(b"ToUnicode") {
                Ok(Object::Reference(r)) => {
                    targets.insert(*r);
                }
                Ok(Object::Name(n)) if n.as_slice() != b"Identity-H" && std::ptr::eq(o, obj) => bad_names.push(*id),
                _ => {}
            }
            stack.extend(dict.iter().map(|(_, v)| v).filter(|v| matches!(v, Object::Dictionary(_) | Object::Array(_))));
        }
    }
    // A ToUnicode name other than Identity-H makes pdf-extract stop (`todo!`): drop it.
    for id in bad_names {
        if let Ok(Object::Dictionary(d)) = doc.get_object_mut(id) {
            d.remove(b"ToUnicode");
        }
    }
    let mut repaired = 0;
    for id in targets {
        let stream = match doc.get_object_mut(id) {
            Ok(Object::Stream(stream)) => stream,
            // Not a stream (a damaged file): pdf-extract would panic ("unsupported cmap"); an empty CMap instead.
            Ok(other) => {
                *other = Object::Stream(Stream::new(pdf_extract::Dictionary::new(), write_cmap(&BTreeMap::new())));
                continue;
            }
            Err(_) => continue,
        };
        let contents = contents(stream);
        if readable_by_pdf_extract(&contents) {
            continue;
        }
        let map = parse_tolerantly(&contents);
        let clean = write_cmap(&map);
        if !map.is_empty() && readable_by_pdf_extract(&clean) {
            *stream = Stream::new(pdf_extract::Dictionary::new(), clean);
            repaired += 1;
        } else {
            // Nothing to save: an empty CMap, so the font falls back to its encoding without a panic.
            *stream = Stream::new(pdf_extract::Dictionary::new(), write_cmap(&BTreeMap::new()));
        }
    }
    if repaired > 0 {
        tracing::debug!(repaired, "pdf: repaired ToUnicode CMaps");
    }
    repaired
}

/// The stream's bytes as pdf-extract reads them.
fn contents(stream: &Stream) -> Vec<u8> {
    if stream.filters().is_ok() {
        stream.decompressed_content().unwrap_or_else(|_| stream.content.clone())
    } else {
        stream.content.clone()
    }
}

/// Whether pdf-extract will read this CMap without panicking (its own checks, run under `catch_unwind`).
fn readable_by_pdf_extract(cmap: &[u8]) -> bool {
    let ok = catch_unwind(AssertUnwindSafe(|| match adobe_cmap_parser::get_unicode_map(cmap) {
        Ok(map) => map.values().all(|v| {
            if v.len() % 2 != 0 {
                return false;
            }
            let units: Vec<u16> = v.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            matches!(units.as_slice(), [0xD800..=0xDFFF]) || String::from_utf16(&units).is_ok()
        }),
        Err(_) => false,
    }));
    ok.unwrap_or(false)
}

#[derive(Debug, PartialEq)]
enum Token {
    Hex(Vec<u8>),
    Int(i64),
    Word(Vec<u8>),
    Open,
    Close,
}

fn tokens(input: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        match c {
            b'%' => {
                while i < input.len() && input[i] != b'\n' && input[i] != b'\r' {
                    i += 1;
                }
            }
            b'<' if input.get(i + 1) == Some(&b'<') => i += 2,
            b'>' if input.get(i + 1) == Some(&b'>') => i += 2,
            b'<' => {
                let mut hex = Vec::new();
                i += 1;
                while i < input.len() && input[i] != b'>' {
                    if let Some(d) = (input[i] as char).to_digit(16) {
                        hex.push(d as u8);
                    }
                    i += 1;
                }
                i += 1;
                if hex.len() % 2 == 1 {
                    hex.push(0);
                }
                out.push(Token::Hex(hex.chunks(2).map(|p| p[0] * 16 + p[1]).collect()));
            }
            b'[' => {
                out.push(Token::Open);
                i += 1;
            }
            b']' => {
                out.push(Token::Close);
                i += 1;
            }
            b'(' => {
                // A literal string: skipped (balanced parentheses, escapes).
                let mut depth = 0usize;
                while i < input.len() {
                    match input[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                let start = i;
                while i < input.len() && !b"<>[]()%/ \t\r\n\x0c\0".contains(&input[i]) {
                    i += 1;
                }
                if i == start {
                    i += 1; // a lone '/' or other delimiter
                    continue;
                }
                let word = &input[start..i];
                match std::str::from_utf8(word).ok().and_then(|w| w.parse::<i64>().ok()) {
                    Some(n) => out.push(Token::Int(n)),
                    None => out.push(Token::Word(word.to_vec())),
                }
            }
        }
    }
    out
}

fn code(bytes: &[u8]) -> u32 {
    bytes.iter().take(4).fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
}

/// A destination as UTF-16BE bytes that decode: odd lengths evened, NULs and unpaired surrogates dropped.
fn clean_dest(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut b = bytes.to_vec();
    if b.len() % 2 == 1 {
        if b.first() == Some(&0) {
            b.remove(0);
        } else {
            b.insert(0, 0);
        }
    }
    let units: Vec<u16> = b.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
    let text: String = char::decode_utf16(units).filter_map(Result::ok).filter(|c| *c != '\0').collect();
    (!text.is_empty()).then(|| text.encode_utf16().flat_map(u16::to_be_bytes).collect())
}

/// Adds `n` to the last UTF-16 unit of a destination (how a `bfrange` with one destination string counts up).
fn offset_dest(dest: &[u8], n: u32) -> Vec<u8> {
    let mut d = dest.to_vec();
    if d.len() < 2 {
        d.insert(0, 0);
    }
    let k = d.len();
    let last = u32::from(u16::from_be_bytes([d[k - 2], d[k - 1]])).wrapping_add(n) as u16;
    d[k - 2..].copy_from_slice(&last.to_be_bytes());
    d
}

/// The code → UTF-16BE mappings of `bfchar` and `bfrange` sections, reading past whatever is malformed.
fn parse_tolerantly(input: &[u8]) -> BTreeMap<u32, Vec<u8>> {
    let toks = tokens(input);
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Word(w) if w == b"beginbfchar" => {
                i += 1;
                while i + 1 < toks.len() {
                    match (&toks[i], &toks[i + 1]) {
                        (Token::Hex(src), Token::Hex(dst)) => {
                            if let Some(d) = clean_dest(dst) {
                                map.insert(code(src), d);
                            }
                            i += 2;
                        }
                        (Token::Word(w), _) if w == b"endbfchar" => break,
                        _ => i += 1,
                    }
                }
            }
            Token::Word(w) if w == b"beginbfrange" => {
                i += 1;
                while i + 2 < toks.len() {
                    match (&toks[i], &toks[i + 1], &toks[i + 2]) {
                        (Token::Hex(lo), Token::Hex(hi), Token::Hex(dst)) => {
                            let (lo, hi) = (code(lo), code(hi));
                            if hi >= lo && hi - lo < MAX_RANGE {
                                for c in lo..=hi {
                                    if let Some(d) = clean_dest(&offset_dest(dst, c - lo)) {
                                        map.insert(c, d);
                                    }
                                }
                            }
                            i += 3;
                        }
                        (Token::Hex(lo), Token::Hex(_), Token::Open) => {
                            let lo = code(lo);
                            i += 3;
                            let mut c = lo;
                            while i < toks.len() && toks[i] != Token::Close {
                                if let Token::Hex(dst) = &toks[i]
                                    && let Some(d) = clean_dest(dst)
                                {
                                    map.insert(c, d);
                                }
                                c = c.wrapping_add(1);
                                i += 1;
                            }
                            i += 1;
                        }
                        (Token::Word(w), _, _) if w == b"endbfrange" => break,
                        _ => i += 1,
                    }
                }
            }
            _ => i += 1,
        }
    }
    map
}

/// A minimal, well-formed ToUnicode CMap with the given mappings (as bfchar entries, 100 per section).
fn write_cmap(map: &BTreeMap<u32, Vec<u8>>) -> Vec<u8> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CMapName /Quire-Repaired def\n\
         /CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<(&u32, &Vec<u8>)> = map.iter().collect();
    for chunk in entries.chunks(100) {
        s.push_str(&format!("{} beginbfchar\n", chunk.len()));
        for (code, dest) in chunk {
            let width = if **code > 0xFFFF { 8 } else { 4 };
            s.push_str(&format!("<{:0width$X}> <{}>\n", code, hex(dest), width = width));
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_what_pdf_extract_rejects() {
        // A bfrange destination of 3 bytes (pdf-extract panics: "bad length of hexstring") and an odd bfchar.
        let broken = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
            1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
            2 beginbfchar <0003> <0020> <0010> <041> endbfchar\n\
            2 beginbfrange <0024> <0026> <000041> <0030> <0031> [<0061> <0062>] endbfrange\n\
            endcmap CMapName currentdict /CMap defineresource pop end end";
        assert!(!readable_by_pdf_extract(broken));
        let map = parse_tolerantly(broken);
        let text = |c: u32| {
            map.get(&c).map(|d| {
                String::from_utf16_lossy(&d.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect::<Vec<_>>())
            })
        };
        assert_eq!(text(0x03).as_deref(), Some(" "));
        // An odd number of hex digits ends with an implied 0 (PDF 32000 7.3.4.3): <041> is U+0410.
        assert_eq!(text(0x10).as_deref(), Some("\u{410}"));
        assert_eq!(text(0x24).as_deref(), Some("A"));
        assert_eq!(text(0x26).as_deref(), Some("C"));
        assert_eq!(text(0x31).as_deref(), Some("b"));
        let clean = write_cmap(&map);
        assert!(readable_by_pdf_extract(&clean), "{}", String::from_utf8_lossy(&clean));
        assert_eq!(adobe_cmap_parser::get_unicode_map(&clean).expect("parses").len(), map.len());
    }

    #[test]
    fn garbage_is_not_readable_and_yields_nothing() {
        assert!(!readable_by_pdf_extract(b"\x00\xff garbage ((( <<"));
        assert!(parse_tolerantly(b"\x00\xff garbage ((( <<").is_empty());
        assert!(readable_by_pdf_extract(&write_cmap(&BTreeMap::new())));
    }
}
