//! Small helpers over quick-xml's pull parser (used for DOCX and the EPUB package files).

use quick_xml::events::{BytesStart, Event};

/// Decodes an XML part: a byte-order mark, then the declared `encoding`, then UTF-8 (lossy).
pub(crate) fn decode(bytes: &[u8]) -> String {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding.decode_without_bom_handling(&bytes[bom_len..]).0.into_owned();
    }
    let head = &bytes[..bytes.len().min(200)];
    if head.starts_with(b"<?xml")
        && let Some(end) = head.iter().position(|b| *b == b'>')
        && let Some(pos) = head[..end].windows(9).position(|w| w == b"encoding=")
    {
        let rest = &head[pos + 9..end];
        let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
        let label_end = rest.iter().position(|c| *c == b'"' || *c == b'\'').unwrap_or(rest.len());
        if let Some(encoding) = encoding_rs::Encoding::for_label(&rest[..label_end])
            && encoding != encoding_rs::UTF_8
        {
            return encoding.decode(bytes).0.into_owned();
        }
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// The local part of a qualified name (`w:p` → `p`).
pub(crate) fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// The unescaped value of the attribute whose local name is `key`.
pub(crate) fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        if local(a.key.as_ref()) == key {
            Some(
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| a.value.into_owned()),
            )
        } else {
            None
        }
    })
}

/// The text an event stands for: character data, CDATA, or a resolved entity or character reference.
pub(crate) fn text<'a>(event: &'a Event<'_>) -> Option<std::borrow::Cow<'a, str>> {
    match event {
        Event::Text(t) => Some(t.xml10_content()),
        Event::CData(t) => Some(t.xml10_content()),
        Event::GeneralRef(r) => {
            if r.is_char_ref() {
                r.resolve_char_ref().ok().flatten().map(|c| c.to_string().into())
            } else {
                let name = r.xml10_content();
                quick_xml::escape::resolve_xml_entity(&name).map(Into::into)
            }
        }
        _ => None,
    }
}

/// A parse error in plain words.
pub(crate) fn error_words(what: &str, e: &quick_xml::Error, position: u64) -> String {
    format!("{what} is not well-formed XML (at byte {position}: {e})")
}

#[cfg(test)]
mod tests {
    use quick_xml::Reader;

    use super::*;

    #[test]
    fn resolves_entities_and_char_refs() {
        let mut r = Reader::from_str("<a>x &amp; y &#233;&#x263A; &lt;b&gt;<![CDATA[ <raw> ]]></a>");
        let mut out = String::new();
        loop {
            match r.read_event() {
                Ok(Event::Eof) | Err(_) => break,
                Ok(ev) => {
                    if let Some(t) = text(&ev) {
                        out.push_str(&t);
                    }
                }
            }
        }
        assert_eq!(out, "x & y é☺ <b> <raw> ");
    }

    #[test]
    fn decodes_declared_encodings() {
        let (bytes, _, _) =
            encoding_rs::WINDOWS_1252.encode("<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>café</a>");
        assert!(decode(&bytes).contains("café"));
        assert_eq!(local("w:p"), "p");
        assert_eq!(local("p"), "p");
    }
}
