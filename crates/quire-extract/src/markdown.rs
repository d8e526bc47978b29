//! Markdown (CommonMark + GFM tables, via pulldown-cmark): headings, paragraphs, lists, tables as rows, and
//! code blocks. YAML (`---`) and TOML (`+++`) front matter is not text; its `title:` becomes the title when the
//! document has no level-1 heading.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use quire_core::{ExtractError, ExtractedDoc, Format};

use crate::{Blocks, Limits, one_line};

pub(crate) fn extract(text: &str, limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS
        | Options::ENABLE_MATH
        | Options::ENABLE_DEFINITION_LIST;
    let mut blocks = Blocks::new(limits);
    let mut front_title: Option<String> = None;

    // What the current inline text belongs to.
    enum Sink {
        Body,
        Heading(u8),
        Code,
        Metadata,
    }
    let mut sink = Sink::Body;
    // Lines of the current text block (a paragraph, a list, a table), and the line being built.
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut buf = String::new(); // heading, code or metadata text
    let mut list_depth: usize = 0;
    let mut cells_in_row = 0usize;
    // A list item's marker, written before the item's first text.
    let mut prefix = String::new();

    fn end_line(lines: &mut Vec<String>, line: &mut String) {
        let l = line.trim_end();
        if !l.trim().is_empty() {
            lines.push(l.to_string());
        }
        line.clear();
    }
    fn end_block(blocks: &mut Blocks, lines: &mut Vec<String>, line: &mut String) -> Result<(), ExtractError> {
        end_line(lines, line);
        if !lines.is_empty() {
            blocks.text(&lines.join("\n"), None)?;
            lines.clear();
        }
        Ok(())
    }

    for event in Parser::new_ext(text, options) {
        match event {
            Event::Start(Tag::MetadataBlock(_)) => sink = Sink::Metadata,
            Event::End(TagEnd::MetadataBlock(_)) => {
                front_title = front_matter_title(&buf);
                buf.clear();
                sink = Sink::Body;
            }
            Event::Start(Tag::Heading { level, .. }) => {
                end_block(&mut blocks, &mut lines, &mut line)?;
                sink = Sink::Heading(heading_level(level));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Sink::Heading(level) = sink {
                    blocks.heading(level, &buf, None)?;
                }
                buf.clear();
                sink = Sink::Body;
            }
            Event::Start(Tag::CodeBlock(_)) => {
                end_block(&mut blocks, &mut lines, &mut line)?;
                sink = Sink::Code;
            }
            Event::End(TagEnd::CodeBlock) => {
                blocks.code(&buf, None)?;
                buf.clear();
                sink = Sink::Body;
            }
            Event::Start(Tag::Paragraph) => {
                // A paragraph inside a list item continues the item's block.
                if list_depth == 0 {
                    end_block(&mut blocks, &mut lines, &mut line)?;
                } else {
                    end_line(&mut lines, &mut line);
                }
            }
            Event::End(TagEnd::Paragraph) => {
                if list_depth == 0 {
                    end_block(&mut blocks, &mut lines, &mut line)?;
                } else {
                    end_line(&mut lines, &mut line);
                }
            }
            Event::Start(Tag::List(_)) => {
                if list_depth == 0 {
                    end_block(&mut blocks, &mut lines, &mut line)?;
                }
                list_depth += 1;
            }
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                if list_depth == 0 {
                    end_block(&mut blocks, &mut lines, &mut line)?;
                }
            }
            Event::Start(Tag::Item) => {
                end_line(&mut lines, &mut line);
                prefix = format!("{}- ", "  ".repeat(list_depth.saturating_sub(1).min(8)));
            }
            Event::End(TagEnd::Item) => end_line(&mut lines, &mut line),
            Event::Start(Tag::Table(_)) | Event::End(TagEnd::Table) => end_block(&mut blocks, &mut lines, &mut line)?,
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => cells_in_row = 0,
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => end_line(&mut lines, &mut line),
            Event::Start(Tag::TableCell) => {
                if cells_in_row > 0 {
                    line.push_str(" | ");
                }
                cells_in_row += 1;
            }
            Event::Start(Tag::BlockQuote(_)) | Event::End(TagEnd::BlockQuote(_)) if list_depth == 0 => {
                end_block(&mut blocks, &mut lines, &mut line)?
            }
            Event::Start(Tag::DefinitionListTitle) | Event::Start(Tag::DefinitionListDefinition) => {
                end_line(&mut lines, &mut line)
            }
            Event::Start(Tag::FootnoteDefinition(label)) => {
                end_block(&mut blocks, &mut lines, &mut line)?;
                line.push_str(&format!("[{label}] "));
            }
            Event::End(TagEnd::FootnoteDefinition) => end_block(&mut blocks, &mut lines, &mut line)?,
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => match sink {
                Sink::Body => {
                    if line.is_empty() {
                        line.push_str(&prefix);
                        prefix.clear();
                    }
                    line.push_str(&t)
                }
                _ => buf.push_str(&t),
            },
            Event::SoftBreak => match sink {
                Sink::Body => line.push(' '),
                _ => buf.push(' '),
            },
            Event::HardBreak => match sink {
                Sink::Body => end_line(&mut lines, &mut line),
                _ => buf.push(' '),
            },
            Event::TaskListMarker(done) => {
                line.push_str(&prefix);
                prefix.clear();
                line.push_str(if done { "[x] " } else { "[ ] " })
            }
            // Raw HTML is markup, not text; block HTML may carry text between tags, which is kept.
            Event::Html(h) => {
                if matches!(sink, Sink::Body) {
                    let text = strip_tags(&h);
                    if !text.trim().is_empty() {
                        line.push_str(&text);
                        end_line(&mut lines, &mut line);
                    }
                }
            }
            _ => {}
        }
    }
    end_block(&mut blocks, &mut lines, &mut line)?;

    let title = blocks.first_heading(1).map(str::to_string).or(front_title);
    Ok(ExtractedDoc { format: Format::Markdown, title, pages: None, blocks: blocks.into_vec() })
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// `title: …` (YAML) or `title = "…"` (TOML) in front matter.
fn front_matter_title(meta: &str) -> Option<String> {
    meta.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix("title")?.trim_start();
        let value = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))?;
        one_line(value.trim().trim_matches(['"', '\'']))
    })
}

/// The text between tags of a piece of inline HTML.
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use quire_core::{Block, BlockKind};

    use super::*;

    fn blocks(md: &str) -> Vec<Block> {
        extract(md, &Limits::default()).expect("markdown").blocks
    }

    fn b(kind: BlockKind, text: &str) -> Block {
        Block { kind, text: text.into(), page: None }
    }

    #[test]
    fn headings_paragraphs_lists_tables_and_code() {
        let md = "---\ntitle: Front Title\ntags: [a]\n---\n\n# Guide\n\nSome *emphasis* and `code`\ncontinued.\n\n\
                  ## Install\n\n- one\n- two\n  - nested\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```sh\n  apt install quire\n```\n";
        assert_eq!(
            blocks(md),
            vec![
                b(BlockKind::Heading { level: 1 }, "Guide"),
                b(BlockKind::Text, "Some emphasis and code continued."),
                b(BlockKind::Heading { level: 2 }, "Install"),
                b(BlockKind::Text, "- one\n- two\n  - nested"),
                b(BlockKind::Text, "a | b\n1 | 2"),
                b(BlockKind::Code, "  apt install quire"),
            ]
        );
    }

    #[test]
    fn title_is_the_first_h1_or_the_front_matter_title() {
        let doc = extract("# Real Title\n\ntext", &Limits::default()).expect("md");
        assert_eq!(doc.title.as_deref(), Some("Real Title"));
        let doc = extract("---\ntitle: \"From front matter\"\n---\n\n## Sub\n\ntext", &Limits::default()).expect("md");
        assert_eq!(doc.title.as_deref(), Some("From front matter"));
        assert!(doc.blocks.iter().all(|b| !b.text.contains("front matter")), "front matter is not text");
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let md = format!("{}deep quote", "> ".repeat(50_000));
        let doc = extract(&md, &Limits::default()).expect("md");
        assert!(doc.blocks.iter().any(|b| b.text.contains("deep quote")));
    }
}
