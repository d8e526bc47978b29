//! From retrieved hits to the sources given to the model.
//!
//! [`drop_near_duplicates`] removes hits that say what a better one already says (the same text indexed
//! twice, a copy of a file in another folder). [`merge_adjacent`] joins neighbouring chunks of one document
//! into one source, so the model reads a passage once, without the overlap the chunks share, and numbers the
//! sources as the answer cites them.

use std::collections::{HashMap, HashSet};

use crate::eval::words;
use crate::types::{Hit, Source};

/// Words per shingle when comparing texts.
const SHINGLE: usize = 3;

/// Removes every hit whose text is a near-duplicate of a better-ranked hit that is kept: the Jaccard
/// similarity of their word 3-shingles (lowercased) is at least `threshold`. The documents do not matter:
/// the same text in two files is a duplicate. `hits` are best first; returns the kept hits, in the same
/// order, and how many were removed.
pub fn drop_near_duplicates(hits: Vec<Hit>, threshold: f64) -> (Vec<Hit>, usize) {
    let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
    let mut kept_shingles: Vec<HashSet<String>> = Vec::with_capacity(hits.len());
    let mut removed = 0;
    for hit in hits {
        let s = shingles(&hit.chunk.text);
        let duplicate = kept.iter().zip(&kept_shingles).any(|(k, ks)| {
            let similarity = if s.is_empty() && ks.is_empty() {
                // No words in either (punctuation, symbols): duplicates only when the texts are the same.
                if k.chunk.text.trim() == hit.chunk.text.trim() { 1.0 } else { 0.0 }
            } else {
                jaccard(&s, ks)
            };
            similarity >= threshold
        });
        if duplicate {
            removed += 1;
        } else {
            kept.push(hit);
            kept_shingles.push(s);
        }
    }
    (kept, removed)
}

/// The word 3-shingles of `text`; a text of fewer than 3 words is one shingle of all its words.
fn shingles(text: &str) -> HashSet<String> {
    let w = words(text);
    if w.is_empty() {
        return HashSet::new();
    }
    if w.len() < SHINGLE {
        return HashSet::from([w.join(" ")]);
    }
    w.windows(SHINGLE).map(|s| s.join(" ")).collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// Turns hits (best first) into numbered sources. Hits of one document whose chunk indexes follow each other
/// become one source; a source ranks where its best hit ranked, and takes that hit's score. Its pages span
/// those of its chunks, its heading path is its first chunk's, its title comes from `titles` (by document
/// id), and its text is the chunks' texts joined without the overlap neighbours share (by their character
/// offsets in the document), or with a blank line where the chunks do not touch. Sources are numbered from 1
/// in rank order. A chunk found twice counts once.
pub fn merge_adjacent(hits: &[Hit], titles: &HashMap<String, Option<String>>) -> Vec<Source> {
    // Each document's hits: (chunk index, rank), documents in order of their best hit.
    let mut docs: Vec<(&str, Vec<usize>)> = Vec::new();
    for (rank, hit) in hits.iter().enumerate() {
        let doc = hit.chunk.doc_id.as_str();
        match docs.iter_mut().find(|(d, _)| *d == doc) {
            Some((_, ranks)) => ranks.push(rank),
            None => docs.push((doc, vec![rank])),
        }
    }

    // Runs of consecutive chunks: (best rank, ranks of the run's hits in chunk order).
    let mut runs: Vec<(usize, Vec<usize>)> = Vec::new();
    for (_, mut ranks) in docs {
        // By chunk index; the same chunk found twice keeps its best-ranked hit.
        ranks.sort_by_key(|&r| (hits[r].chunk.index, r));
        ranks.dedup_by_key(|r| hits[*r].chunk.index);
        let mut run: Vec<usize> = Vec::new();
        for r in ranks {
            if let Some(&last) = run.last()
                && hits[last].chunk.index.checked_add(1) != Some(hits[r].chunk.index)
            {
                runs.push((run.iter().copied().min().unwrap_or(0), std::mem::take(&mut run)));
            }
            run.push(r);
        }
        if !run.is_empty() {
            runs.push((run.iter().copied().min().unwrap_or(0), run));
        }
    }
    runs.sort_by_key(|(best, _)| *best);

    runs.into_iter()
        .enumerate()
        .map(|(i, (best, run))| {
            let chunks: Vec<_> = run.iter().map(|&r| &hits[r].chunk).collect();
            let first = chunks[0];
            Source {
                n: i as u32 + 1,
                doc_id: first.doc_id.clone(),
                path: first.path.clone(),
                title: titles.get(&first.doc_id).cloned().flatten(),
                page_start: chunks.iter().filter_map(|c| c.page_start).min(),
                page_end: chunks.iter().filter_map(|c| c.page_end.or(c.page_start)).max(),
                heading_path: first.heading_path.clone(),
                chunk_indexes: chunks.iter().map(|c| c.index).collect(),
                text: join_chunks(&chunks),
                score: hits[best].score,
            }
        })
        .collect()
}

/// Joins the texts of consecutive chunks of one document (in index order), leaving out of each chunk the
/// characters the text so far already covers, and putting a blank line where there is a gap.
fn join_chunks(chunks: &[&crate::types::Chunk]) -> String {
    let mut text = String::new();
    let mut end: Option<u64> = None;
    for c in chunks {
        match end {
            None => text.push_str(&c.text),
            Some(e) if c.char_start < e => {
                let skip = usize::try_from(e - c.char_start).unwrap_or(usize::MAX);
                text.extend(c.text.chars().skip(skip));
            }
            Some(e) if c.char_start == e => text.push_str(&c.text),
            Some(_) => {
                text.push_str("\n\n");
                text.push_str(&c.text);
            }
        }
        end = Some(end.map_or(c.char_end, |e| e.max(c.char_end)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Chunk;

    fn hit(doc: &str, index: u32, text: &str, char_start: u64, score: f32) -> Hit {
        Hit {
            chunk: Chunk {
                doc_id: doc.to_string(),
                index,
                path: format!("/docs/{doc}.md"),
                text: text.to_string(),
                page_start: None,
                page_end: None,
                heading_path: vec![format!("H{index}")],
                char_start,
                char_end: char_start + text.chars().count() as u64,
                tokens: 10,
                embedding_model: "m".to_string(),
            },
            score,
        }
    }

    fn with_pages(mut h: Hit, start: Option<u32>, end: Option<u32>) -> Hit {
        h.chunk.page_start = start;
        h.chunk.page_end = end;
        h
    }

    fn texts(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.chunk.text.as_str()).collect()
    }

    #[test]
    fn exact_and_near_duplicates_are_dropped() {
        let a = "The quick brown fox jumps over the lazy dog near the river bank today";
        let near = "the quick brown fox jumps over the lazy dog near the river bank, today!";
        let other = "An entirely different passage about the tax rules for small companies";
        let hits = vec![
            hit("d1", 0, a, 0, 0.9),
            hit("d2", 4, other, 0, 0.8),
            hit("d3", 7, a, 100, 0.7),
            hit("d1", 9, near, 500, 0.6),
        ];
        let (kept, removed) = drop_near_duplicates(hits, 0.8);
        assert_eq!(removed, 2);
        assert_eq!(texts(&kept), [a, other]);
        assert_eq!(kept[0].chunk.doc_id, "d1");
    }

    #[test]
    fn the_threshold_decides() {
        // 12 words, 10 shingles; the second text changes the last word: 9 shared of 11 in the union.
        let a = "one two three four five six seven eight nine ten eleven twelve";
        let b = "one two three four five six seven eight nine ten eleven thirteen";
        let j = 9.0 / 11.0;
        let hits = || vec![hit("d1", 0, a, 0, 1.0), hit("d2", 0, b, 0, 0.5)];
        assert_eq!(drop_near_duplicates(hits(), j).1, 1);
        assert_eq!(drop_near_duplicates(hits(), j + 1e-9).1, 0);
        // Compared with kept hits only: b (9/11 like a) is dropped, so c, close to b (10/11) but not to a
        // (9/12), stays.
        let c = "one two three four five six seven eight nine ten eleven thirteen fourteen";
        let (kept, removed) =
            drop_near_duplicates(vec![hit("d1", 0, a, 0, 1.0), hit("d2", 0, b, 0, 0.5), hit("d3", 0, c, 0, 0.4)], 0.8);
        assert_eq!((texts(&kept), removed), (vec![a, c], 1));
    }

    #[test]
    fn short_and_wordless_texts() {
        let hits = vec![
            hit("d1", 0, "Yes.", 0, 1.0),
            hit("d2", 0, "yes", 0, 0.9),
            hit("d3", 0, "No", 0, 0.8),
            hit("d4", 0, "---", 0, 0.7),
            hit("d5", 0, "***", 0, 0.6),
            hit("d6", 0, " ---", 0, 0.5),
        ];
        let (kept, removed) = drop_near_duplicates(hits, 0.9);
        assert_eq!(texts(&kept), ["Yes.", "No", "---", "***"]);
        assert_eq!(removed, 2);
        assert_eq!(drop_near_duplicates(Vec::new(), 0.9), (Vec::new(), 0));
    }

    #[test]
    fn neighbouring_chunks_merge_without_their_overlap() {
        let doc = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota.";
        let slice = |s: usize, e: usize| -> String { doc.chars().skip(s).take(e - s).collect() };
        // Chunks [0, 24), [18, 43), [37, 53): neighbours share 6 characters.
        let c0 = hit("d", 0, &slice(0, 24), 0, 0.5);
        let c1 = hit("d", 1, &slice(18, 43), 18, 0.9);
        let c2 = hit("d", 2, &slice(37, 53), 37, 0.4);
        let titles = HashMap::from([("d".to_string(), Some("The Doc".to_string()))]);
        let sources = merge_adjacent(&[c1, c2, c0], &titles);
        assert_eq!(sources.len(), 1);
        let s = &sources[0];
        assert_eq!(s.text, doc);
        assert_eq!(s.chunk_indexes, [0, 1, 2]);
        assert_eq!((s.n, s.score), (1, 0.9));
        assert_eq!(s.heading_path, ["H0"]);
        assert_eq!(s.title.as_deref(), Some("The Doc"));
        assert_eq!(s.path, "/docs/d.md");
    }

    #[test]
    fn overlap_is_counted_in_characters() {
        let doc = "Größe über alles. 東京は大きい。 Ende gut.";
        let slice = |s: usize, e: usize| -> String { doc.chars().skip(s).take(e - s).collect() };
        let n = doc.chars().count();
        let sources =
            merge_adjacent(&[hit("d", 0, &slice(0, 24), 0, 1.0), hit("d", 1, &slice(20, n), 20, 0.5)], &HashMap::new());
        assert_eq!(sources[0].text, doc);
        assert_eq!(sources[0].title, None);
    }

    #[test]
    fn gaps_and_contained_chunks() {
        // Touching chunks join directly, a gap gets a blank line, a chunk inside the text so far adds nothing.
        let hits = [
            hit("d", 0, "abc", 0, 1.0),
            hit("d", 1, "def", 3, 0.9),
            hit("d", 2, "xyz", 10, 0.8),
            hit("d", 3, "yz", 11, 0.7),
        ];
        assert_eq!(merge_adjacent(&hits, &HashMap::new())[0].text, "abcdef\n\nxyz");
    }

    #[test]
    fn sources_are_ordered_and_numbered_by_best_hit() {
        let hits = [
            hit("a", 5, "a5", 500, 0.9),
            hit("b", 0, "b0", 0, 0.8),
            hit("a", 7, "a7", 700, 0.7),
            hit("a", 4, "a4", 400, 0.6),
            hit("b", 2, "b2", 200, 0.5),
            hit("a", 5, "a5", 500, 0.4),
        ];
        let sources = merge_adjacent(&hits, &HashMap::from([("a".to_string(), None)]));
        let summary: Vec<(u32, &str, Vec<u32>, f32)> =
            sources.iter().map(|s| (s.n, s.doc_id.as_str(), s.chunk_indexes.clone(), s.score)).collect();
        assert_eq!(
            summary,
            [(1, "a", vec![4, 5], 0.9), (2, "b", vec![0], 0.8), (3, "a", vec![7], 0.7), (4, "b", vec![2], 0.5)]
        );
        assert_eq!(sources[0].heading_path, ["H4"]);
        assert_eq!(sources[0].text, "a4\n\na5");
        assert_eq!(sources[0].title, None);
        assert!(merge_adjacent(&[], &HashMap::new()).is_empty());
    }

    #[test]
    fn pages_span_the_chunks() {
        let hits = [
            with_pages(hit("d", 1, "b", 10, 0.9), Some(3), Some(4)),
            with_pages(hit("d", 0, "a", 0, 0.8), Some(2), Some(2)),
            with_pages(hit("d", 2, "c", 20, 0.7), Some(5), None),
        ];
        let s = &merge_adjacent(&hits, &HashMap::new())[0];
        assert_eq!((s.page_start, s.page_end), (Some(2), Some(5)));
        let no_pages = [hit("e", 0, "a", 0, 0.9), hit("e", 1, "b", 5, 0.8)];
        let s = &merge_adjacent(&no_pages, &HashMap::new())[0];
        assert_eq!((s.page_start, s.page_end), (None, None));
    }
}
