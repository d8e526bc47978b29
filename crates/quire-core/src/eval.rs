//! Retrieval quality on BEIR-format sets: Hit@k, Recall@k, MRR@k and nDCG@k; answer quality against
//! reference answers: ROUGE-L.
//!
//! A set is a folder with `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`) and
//! `qrels/test.tsv` (query id, corpus id, relevance; with a header line). Answer cases are a JSONL file of
//! [`AnswerCase`]s.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BeirDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BeirQuery {
    #[serde(rename = "_id")]
    pub id: String,
    pub text: String,
}

/// A loaded BEIR set; only queries that have judgements are kept.
#[derive(Debug, Clone)]
pub struct BeirSet {
    pub corpus: Vec<BeirDoc>,
    pub queries: Vec<BeirQuery>,
    /// query id → (corpus id → relevance)
    pub qrels: HashMap<String, HashMap<String, u32>>,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::InvalidInput(format!("{} line {}: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// Reads a BEIR set from `dir`.
pub fn load_beir(dir: &Path) -> Result<BeirSet> {
    let corpus: Vec<BeirDoc> = read_jsonl(&dir.join("corpus.jsonl"))?;
    let mut queries: Vec<BeirQuery> = read_jsonl(&dir.join("queries.jsonl"))?;
    let qrels_path = dir.join("qrels").join("test.tsv");
    let text = std::fs::read_to_string(&qrels_path).map_err(|e| Error::io(&qrels_path, e))?;
    let mut qrels: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        if cols.len() < 3 {
            continue;
        }
        let Ok(rel) = cols[2].parse::<u32>() else {
            if i == 0 {
                continue; // header
            }
            return Err(Error::InvalidInput(format!("{} line {}: bad relevance", qrels_path.display(), i + 1)));
        };
        qrels.entry(cols[0].to_string()).or_default().insert(cols[1].to_string(), rel);
    }
    queries.retain(|q| qrels.get(&q.id).is_some_and(|r| r.values().any(|&v| v > 0)));
    if corpus.is_empty() || queries.is_empty() {
        return Err(Error::InvalidInput(format!("{}: no documents or no judged queries", dir.display())));
    }
    Ok(BeirSet { corpus, queries, qrels })
}

/// Mean metrics over the queries of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub k: usize,
    pub queries: usize,
    pub hit_at_1: f64,
    pub hit_at_k: f64,
    pub recall_at_k: f64,
    pub mrr_at_k: f64,
    pub ndcg_at_k: f64,
}

/// The metrics of one query's ranking (`ranked`: corpus ids, best first, no duplicates).
pub fn query_metrics(ranked: &[String], relevant: &HashMap<String, u32>, k: usize) -> (f64, f64, f64, f64, f64) {
    let top = &ranked[..ranked.len().min(k)];
    let rel = |id: &String| relevant.get(id).copied().unwrap_or(0);
    let n_relevant = relevant.values().filter(|&&r| r > 0).count();
    let first = top.iter().position(|id| rel(id) > 0);
    let hit1 = f64::from(u8::from(ranked.first().is_some_and(|id| rel(id) > 0)));
    let hit = f64::from(u8::from(first.is_some()));
    let found = top.iter().filter(|id| rel(id) > 0).count();
    let recall = if n_relevant == 0 { 0.0 } else { found as f64 / n_relevant as f64 };
    let mrr = first.map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
    let dcg: f64 = top.iter().enumerate().map(|(i, id)| f64::from(rel(id)) / ((i as f64) + 2.0).log2()).sum();
    let mut ideal: Vec<u32> = relevant.values().copied().filter(|&r| r > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal.iter().take(k).enumerate().map(|(i, &r)| f64::from(r) / ((i as f64) + 2.0).log2()).sum();
    let ndcg = if idcg > 0.0 { dcg / idcg } else { 0.0 };
    (hit1, hit, recall, mrr, ndcg)
}

/// Mean metrics over `runs` (query id, ranked corpus ids).
pub fn evaluate(runs: &[(String, Vec<String>)], qrels: &HashMap<String, HashMap<String, u32>>, k: usize) -> Metrics {
    let mut sums = [0.0f64; 5];
    let empty = HashMap::new();
    for (qid, ranked) in runs {
        let m = query_metrics(ranked, qrels.get(qid).unwrap_or(&empty), k);
        for (s, v) in sums.iter_mut().zip([m.0, m.1, m.2, m.3, m.4]) {
            *s += v;
        }
    }
    let n = runs.len().max(1) as f64;
    Metrics {
        k,
        queries: runs.len(),
        hit_at_1: sums[0] / n,
        hit_at_k: sums[1] / n,
        recall_at_k: sums[2] / n,
        mrr_at_k: sums[3] / n,
        ndcg_at_k: sums[4] / n,
    }
}

/// One question with the answer a person wrote for it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AnswerCase {
    pub question: String,
    pub reference: String,
    /// Limits the search to a part of the library (a folder or file path), when set.
    #[serde(default)]
    pub scope: Option<String>,
}

/// Reads answer cases from a JSONL file (one case per line; blank lines are skipped).
pub fn load_answer_cases(path: &Path) -> Result<Vec<AnswerCase>> {
    read_jsonl(path)
}

/// ROUGE-L of a candidate against a reference, each in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RougeL {
    /// The longest common subsequence over the candidate's words.
    pub precision: f64,
    /// The longest common subsequence over the reference's words.
    pub recall: f64,
    /// The harmonic mean of the two (F1, β = 1).
    pub f1: f64,
}

/// ROUGE-L from the longest common subsequence of the two texts' [`words`]; all zeros when either has none.
pub fn rouge_l(candidate: &str, reference: &str) -> RougeL {
    let cand = words(candidate);
    let refr = words(reference);
    if cand.is_empty() || refr.is_empty() {
        return RougeL::default();
    }
    let lcs = lcs_len(&cand, &refr) as f64;
    let precision = lcs / cand.len() as f64;
    let recall = lcs / refr.len() as f64;
    let f1 = if lcs == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    RougeL { precision, recall, f1 }
}

/// Length of the longest common subsequence of `a` and `b`, in O(|a|·|b|) time and O(|b|) memory.
fn lcs_len<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y { prev[j] + 1 } else { prev[j + 1].max(cur[j]) };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The lowercased words of `text`: runs of letters and digits, each CJK character (Han, kana, Hangul) on
/// its own. Punctuation and whitespace separate words.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn rouge_l_of_identical_and_disjoint_texts() {
        let r = rouge_l("The cat sat.", "the CAT sat");
        assert_eq!((r.precision, r.recall, r.f1), (1.0, 1.0, 1.0));
        let r = rouge_l("dogs bark", "the cat sat");
        assert_eq!((r.precision, r.recall, r.f1), (0.0, 0.0, 0.0));
    }

    #[test]
    fn rouge_l_counts_the_longest_common_subsequence() {
        // LCS of "police killed the gunman" and "police kill the gunman" is "police the gunman" (3).
        let r = rouge_l("police kill the gunman", "police killed the gunman");
        assert!(close(r.precision, 0.75) && close(r.recall, 0.75) && close(r.f1, 0.75));
        // Order matters: "the gunman kill police" shares only a 2-word subsequence.
        let r = rouge_l("the gunman kill police", "police killed the gunman");
        assert!(close(r.f1, 0.5), "{r:?}");
        // Candidate 2 words, reference 4, LCS 2: P = 1, R = 0.5, F = 2/3.
        let r = rouge_l("cat mat", "the cat on mat");
        assert!(close(r.precision, 1.0) && close(r.recall, 0.5) && close(r.f1, 2.0 / 3.0), "{r:?}");
    }

    #[test]
    fn rouge_l_of_empty_texts_is_zero() {
        assert_eq!(rouge_l("", "something"), RougeL::default());
        assert_eq!(rouge_l("something", "  ... "), RougeL::default());
        assert_eq!(rouge_l("", ""), RougeL::default());
    }

    #[test]
    fn words_split_on_punctuation_and_cjk() {
        assert_eq!(words("Hello, World! It's 3.5 GHz"), ["hello", "world", "it", "s", "3", "5", "ghz"]);
        assert_eq!(words("Größe ÜBER"), ["größe", "über"]);
        assert_eq!(words("東京は大きい city"), ["東", "京", "は", "大", "き", "い", "city"]);
        let r = rouge_l("東京は大きい", "東京は小さい");
        assert!(close(r.f1, 4.0 / 6.0), "{r:?}");
    }

    #[test]
    fn lcs_of_edge_cases() {
        assert_eq!(lcs_len::<u8>(&[], &[1, 2]), 0);
        assert_eq!(lcs_len(&[1, 2, 3], &[1, 2, 3]), 3);
        assert_eq!(lcs_len(&[1, 3, 5, 7], &[0, 1, 2, 3, 4, 5]), 3);
        assert_eq!(lcs_len(&[2, 1], &[1, 2]), 1);
    }

    #[test]
    fn loads_answer_cases() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cases.jsonl");
        let text = "{\"question\": \"Q1?\", \"reference\": \"A1\"}\n\n  \n\
                    {\"question\": \"Q2?\", \"reference\": \"A2\", \"scope\": \"notes/\"}\n";
        std::fs::write(&path, text).expect("write");
        let cases = load_answer_cases(&path).expect("cases load");
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0], AnswerCase { question: "Q1?".into(), reference: "A1".into(), scope: None });
        assert_eq!(cases[1].scope.as_deref(), Some("notes/"));

        std::fs::write(&path, "{\"question\": \"Q\", \"reference\": \"A\"}\n\n{\"question\": \"no reference\"}\n")
            .expect("write");
        let err = load_answer_cases(&path).expect_err("a bad line fails");
        assert!(matches!(err, Error::InvalidInput(_)));
        assert!(err.to_string().contains("line 3"), "{err}");

        let missing = load_answer_cases(&dir.path().join("missing.jsonl")).expect_err("a missing file fails");
        assert_eq!(missing.kind(), "io");
    }

    fn rels(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn ranked(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn single_relevant_document() {
        let r = rels(&[("d3", 1)]);
        let (h1, h, rec, mrr, ndcg) = query_metrics(&ranked(&["d1", "d2", "d3"]), &r, 10);
        assert_eq!((h1, h, rec), (0.0, 1.0, 1.0));
        assert!((mrr - 1.0 / 3.0).abs() < 1e-12);
        assert!((ndcg - 1.0 / 4f64.log2()).abs() < 1e-12);
        let (_, h, _, mrr, ndcg) = query_metrics(&ranked(&["d1", "d2", "d3"]), &r, 2);
        assert_eq!((h, mrr, ndcg), (0.0, 0.0, 0.0));
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let r = rels(&[("a", 2), ("b", 1)]);
        let (h1, h, rec, mrr, ndcg) = query_metrics(&ranked(&["a", "b", "c"]), &r, 10);
        assert_eq!((h1, h, rec, mrr), (1.0, 1.0, 1.0, 1.0));
        assert!((ndcg - 1.0).abs() < 1e-12);
        // Swapping the graded pair lowers nDCG but not recall.
        let (_, _, rec, _, ndcg) = query_metrics(&ranked(&["b", "a"]), &r, 10);
        assert_eq!(rec, 1.0);
        assert!(ndcg < 1.0);
    }

    #[test]
    fn means_over_queries() {
        let mut qrels = HashMap::new();
        qrels.insert("q1".to_string(), rels(&[("a", 1)]));
        qrels.insert("q2".to_string(), rels(&[("b", 1)]));
        let runs = vec![("q1".to_string(), ranked(&["a"])), ("q2".to_string(), ranked(&["x", "b"]))];
        let m = evaluate(&runs, &qrels, 10);
        assert_eq!(m.queries, 2);
        assert!((m.hit_at_1 - 0.5).abs() < 1e-12);
        assert!((m.mrr_at_k - 0.75).abs() < 1e-12);
    }

    #[test]
    fn loads_the_shared_faq_set() {
        // ../shared sits beside the project root on every machine that builds Quire.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/faq-eval-en");
        let set = load_beir(&dir).expect("faq-eval-en loads");
        assert_eq!(set.corpus.len(), 146);
        assert_eq!(set.queries.len(), 119);
    }
}
