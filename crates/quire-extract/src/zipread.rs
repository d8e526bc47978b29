//! Reading entries of a ZIP container (DOCX, EPUB) within limits: a cap on the number of entries and on the
//! total bytes inflated, so a zip bomb fails with a reason instead of filling memory.

use std::io::{Cursor, Read};

use quire_core::ExtractError;
use zip::ZipArchive;
use zip::result::ZipError;

use crate::{Limits, mb_words};

pub(crate) struct ZipReader<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
    /// Bytes that may still be inflated.
    budget: u64,
    limit: u64,
    /// What the container is, for messages ("the DOCX file").
    what: &'static str,
}

/// Magic of an OLE2 compound file: what Office writes for a password-protected document.
const OLE2_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

impl<'a> ZipReader<'a> {
    pub(crate) fn open(bytes: &'a [u8], limits: &Limits, what: &'static str) -> Result<ZipReader<'a>, ExtractError> {
        if bytes.is_empty() {
            return Err(ExtractError::Damaged("the file is empty".into()));
        }
        if bytes.starts_with(OLE2_MAGIC) {
            return Err(ExtractError::Encrypted(format!(
                "{what} is password-protected (or in the old binary format); open it in its editor and save it \
                 without a password"
            )));
        }
        let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_damaged(what, &e))?;
        if archive.len() > limits.max_zip_entries {
            return Err(ExtractError::TooLarge(format!(
                "{what} holds {} files; the limit is {}",
                archive.len(),
                limits.max_zip_entries
            )));
        }
        Ok(ZipReader { archive, budget: limits.max_unpacked_bytes, limit: limits.max_unpacked_bytes, what })
    }

    /// The names of the entries.
    pub(crate) fn names(&self) -> Vec<String> {
        self.archive.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect()
    }

    /// Inflates one entry; None if the archive has no entry of that name (compared without case as a fallback).
    pub(crate) fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ExtractError> {
        let name = if self.archive.index_for_name(name).is_some() {
            name.to_string()
        } else {
            match self.names().into_iter().find(|n| n.eq_ignore_ascii_case(name)) {
                Some(n) => n,
                None => return Ok(None),
            }
        };
        let what = self.what;
        let mut entry = self.archive.by_name(&name).map_err(|e| match e {
            ZipError::UnsupportedArchive(m) if m.contains("assword") || m.contains("ncrypt") => {
                ExtractError::Encrypted(format!("{what} is password-protected"))
            }
            e => zip_damaged(what, &e),
        })?;
        if entry.encrypted() {
            return Err(ExtractError::Encrypted(format!("{what} is password-protected")));
        }
        let bomb = || {
            ExtractError::TooLarge(format!(
                "{what} unpacks to more than the {} limit (it may be a zip bomb)",
                mb_words(self.limit)
            ))
        };
        // The declared size may lie; it only decides how much to reserve, and fails early when it is too big.
        if entry.size() > self.budget {
            return Err(bomb());
        }
        let mut out = Vec::with_capacity(usize::try_from(entry.size().min(64 << 20)).unwrap_or(0));
        (&mut entry)
            .take(self.budget + 1)
            .read_to_end(&mut out)
            .map_err(|e| ExtractError::Damaged(format!("{what} has a damaged part ({name}): {e}")))?;
        if out.len() as u64 > self.budget {
            return Err(bomb());
        }
        self.budget -= out.len() as u64;
        Ok(Some(out))
    }
}

fn zip_damaged(what: &str, e: &ZipError) -> ExtractError {
    ExtractError::Damaged(format!("{what} is not a readable ZIP container: {e}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// A ZIP archive with the given entries (deflated).
    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, opts).expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn caps_what_an_archive_inflates() {
        let big = vec![b' '; 3 << 20];
        let bytes = zip_of(&[("a.xml", &big), ("b.xml", &big)]);
        assert!(bytes.len() < 100_000, "compresses well");
        let limits = Limits { max_unpacked_bytes: 4 << 20, ..Limits::default() };
        let mut z = ZipReader::open(&bytes, &limits, "the test file").expect("open");
        assert_eq!(z.read("a.xml").expect("a").map(|v| v.len()), Some(3 << 20));
        let err = z.read("b.xml").expect_err("over budget");
        assert!(matches!(&err, ExtractError::TooLarge(m) if m.contains("zip bomb")), "{err}");
        assert_eq!(z.read("missing.xml").expect("lookup"), None);
    }

    #[test]
    fn caps_entries_and_recognises_non_zips() {
        let bytes = zip_of(&[("a", b"1"), ("b", b"2"), ("c", b"3")]);
        let limits = Limits { max_zip_entries: 2, ..Limits::default() };
        assert!(matches!(ZipReader::open(&bytes, &limits, "x"), Err(ExtractError::TooLarge(_))));
        assert!(matches!(ZipReader::open(b"not a zip at all", &Limits::default(), "x"), Err(ExtractError::Damaged(_))));
        let mut ole = OLE2_MAGIC.to_vec();
        ole.extend([0u8; 512]);
        assert!(matches!(ZipReader::open(&ole, &Limits::default(), "x"), Err(ExtractError::Encrypted(_))));
    }

    #[test]
    fn finds_names_without_case() {
        let bytes = zip_of(&[("OEBPS/Chapter1.xhtml", b"<p>x</p>")]);
        let mut z = ZipReader::open(&bytes, &Limits::default(), "x").expect("open");
        assert!(z.read("oebps/chapter1.xhtml").expect("read").is_some());
    }
}
