//! Extracts files in this process and prints what came out (for looking at results and timing them).
//!
//!     cargo run -p quire-extract --release --example extract -- [--text | --blocks] FILE…
//!
//! `--text` prints each document's text, pages separated by form feeds (like pdftotext); `--blocks` prints the
//! blocks as JSON lines; by default one summary line per file: format, pages, blocks, characters, time.

use std::path::Path;
use std::time::Instant;

use quire_core::{BlockKind, Format};
use quire_extract::{Limits, extract_file};

fn main() {
    let mut mode = "summary";
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--text" => mode = "text",
            "--blocks" => mode = "blocks",
            path => {
                let path = Path::new(path);
                let Some(format) = Format::from_path(path) else {
                    eprintln!("{}: not a format Quire reads", path.display());
                    continue;
                };
                let started = Instant::now();
                let result = extract_file(path, format, &Limits::default());
                let secs = started.elapsed().as_secs_f64();
                match (mode, result) {
                    (_, Err(e)) => println!("{}\tERROR\t{e}", path.display()),
                    ("text", Ok(doc)) => {
                        let mut page = doc.blocks.first().and_then(|b| b.page);
                        for b in &doc.blocks {
                            if b.page != page {
                                print!("\u{c}");
                                page = b.page;
                            }
                            match b.kind {
                                BlockKind::Heading { level } => println!("{} {}\n", "#".repeat(level as usize), b.text),
                                _ => println!("{}\n", b.text),
                            }
                        }
                    }
                    ("blocks", Ok(doc)) => {
                        for b in &doc.blocks {
                            println!("{}", serde_json::to_string(b).unwrap_or_default());
                        }
                    }
                    (_, Ok(doc)) => {
                        let chars: usize = doc.blocks.iter().map(|b| b.text.chars().count()).sum();
                        let headings =
                            doc.blocks.iter().filter(|b| matches!(b.kind, BlockKind::Heading { .. })).count();
                        let pages = doc.pages.unwrap_or(0);
                        println!(
                            "{}\t{}\tpages={}\tblocks={}\theadings={}\tchars={}\t{:.2}s\t{:.1} pages/s\ttitle={:?}",
                            path.display(),
                            format.as_str(),
                            pages,
                            doc.blocks.len(),
                            headings,
                            chars,
                            secs,
                            if secs > 0.0 { pages as f64 / secs } else { 0.0 },
                            doc.title
                        );
                    }
                }
            }
        }
    }
}
