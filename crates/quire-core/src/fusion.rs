//! Fusing the vector and full-text result lists into one ranking.
//!
//! Equal-weight reciprocal rank fusion throws the scores away and lets a weak retriever pull a strong one down
//! (on faq-eval-en, RRF of dense MiniLM and BM25 scored below dense alone). The default here is a convex
//! combination of the two score lists, each min-max normalised over its own results, weighted towards the
//! vector retriever: a chunk both retrievers like rises; a strong dense match is not buried by a keyword miss.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::types::{Candidate, Hit};

/// A search result that fusion can rank: an id shared by both retrievers' lists, and a score.
pub trait Ranked: Clone {
    fn id(&self) -> String;
    fn score(&self) -> f32;
    fn set_score(&mut self, score: f32);
}

impl Ranked for Hit {
    fn id(&self) -> String {
        self.chunk.id()
    }
    fn score(&self) -> f32 {
        self.score
    }
    fn set_score(&mut self, score: f32) {
        self.score = score;
    }
}

impl Ranked for Candidate {
    fn id(&self) -> String {
        Candidate::id(self)
    }
    fn score(&self) -> f32 {
        self.score
    }
    fn set_score(&mut self, score: f32) {
        self.score = score;
    }
}

/// How two ranked lists become one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fusion {
    /// score = alpha · norm(vector) + (1 − alpha) · norm(fulltext); a list a chunk is absent from adds 0.
    Convex { alpha: f32 },
    /// score = w_vector / (k + rank_vector) + w_fulltext / (k + rank_fulltext), ranks from 1.
    Rrf { k: f32, vector_weight: f32, fulltext_weight: f32 },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Convex { alpha: 0.7 }
    }
}

/// Fuses two result lists (each best first) into one, best first, scored by the fusion.
pub fn fuse<T: Ranked>(vector: &[T], fulltext: &[T], fusion: Fusion) -> Vec<T> {
    let mut merged: HashMap<String, (T, f32)> = HashMap::new();
    let mut add = |hits: &[T], score_of: &dyn Fn(usize, &T) -> f32| {
        for (i, h) in hits.iter().enumerate() {
            let s = score_of(i, h);
            merged.entry(h.id()).and_modify(|(_, acc)| *acc += s).or_insert_with(|| (h.clone(), s));
        }
    };
    match fusion {
        Fusion::Convex { alpha } => {
            let nv = normaliser(vector);
            let nf = normaliser(fulltext);
            add(vector, &|_, h| alpha * nv(h.score()));
            add(fulltext, &|_, h| (1.0 - alpha) * nf(h.score()));
        }
        Fusion::Rrf { k, vector_weight, fulltext_weight } => {
            add(vector, &|i, _| vector_weight / (k + i as f32 + 1.0));
            add(fulltext, &|i, _| fulltext_weight / (k + i as f32 + 1.0));
        }
    }
    let mut out: Vec<T> = merged
        .into_values()
        .map(|(mut h, s)| {
            h.set_score(s);
            h
        })
        .collect();
    out.sort_by(|a, b| b.score().total_cmp(&a.score()).then_with(|| a.id().cmp(&b.id())));
    out
}

/// Min-max normalisation over a result list; a list whose scores are all equal maps to 1.
fn normaliser<T: Ranked>(hits: &[T]) -> impl Fn(f32) -> f32 + use<T> {
    let (lo, hi) =
        hits.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), h| (lo.min(h.score()), hi.max(h.score())));
    move |s: f32| if hi > lo { (s - lo) / (hi - lo) } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Chunk;

    fn hit(doc: &str, score: f32) -> Hit {
        Hit {
            chunk: Chunk {
                doc_id: doc.into(),
                index: 0,
                path: format!("/{doc}"),
                text: String::new(),
                page_start: None,
                page_end: None,
                heading_path: vec![],
                char_start: 0,
                char_end: 0,
                tokens: 0,
                embedding_model: "m".into(),
            },
            score,
        }
    }

    fn ids(hits: &[Hit]) -> Vec<String> {
        hits.iter().map(|h| h.chunk.doc_id.clone()).collect()
    }

    #[test]
    fn agreement_wins() {
        let v = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.5)];
        let f = [hit("b", 12.0), hit("d", 3.0)];
        let fused = fuse(&v, &f, Fusion::Convex { alpha: 0.7 });
        assert_eq!(ids(&fused)[0], "b");
        assert_eq!(fused.len(), 4);
    }

    #[test]
    fn strong_dense_match_survives_a_keyword_miss() {
        // Equal-weight RRF puts "kw" (ranked 1st by BM25, 2nd by vectors) on top of the dense winner;
        // the convex default keeps the clear dense winner first.
        let v = [hit("dense", 0.92), hit("kw", 0.55), hit("x", 0.5)];
        let f = [hit("kw", 7.0), hit("y", 6.9), hit("z", 6.8), hit("dense", 6.7)];
        let rrf = fuse(&v, &f, Fusion::Rrf { k: 60.0, vector_weight: 1.0, fulltext_weight: 1.0 });
        assert_eq!(ids(&rrf)[0], "kw");
        let convex = fuse(&v, &f, Fusion::default());
        assert_eq!(ids(&convex)[0], "dense");
    }

    #[test]
    fn scores_are_sorted_and_bounded() {
        let v = [hit("a", 0.3), hit("b", 0.2)];
        let fused = fuse(&v, &[], Fusion::default());
        assert_eq!(ids(&fused), vec!["a", "b"]);
        assert!(fused.iter().all(|h| (0.0..=1.0).contains(&h.score)));
        assert!(fuse::<Hit>(&[], &[], Fusion::default()).is_empty());
    }

    #[test]
    fn candidates_fuse_as_the_hits_they_stand_for() {
        let v = [hit("a", 0.9), hit("b", 0.5), hit("c", 0.1)];
        let f = [hit("c", 7.0), hit("d", 3.0), hit("a", 1.0)];
        let cand = |hits: &[Hit]| hits.iter().map(Candidate::of).collect::<Vec<_>>();
        for fusion in [Fusion::default(), Fusion::Rrf { k: 60.0, vector_weight: 1.0, fulltext_weight: 0.5 }] {
            let by_hit: Vec<(String, f32)> = fuse(&v, &f, fusion).iter().map(|h| (h.chunk.id(), h.score)).collect();
            let by_candidate: Vec<(String, f32)> =
                fuse(&cand(&v), &cand(&f), fusion).iter().map(|c| (c.id(), c.score)).collect();
            assert_eq!(by_hit, by_candidate);
            assert_eq!(by_hit.len(), 4);
        }
    }

    #[test]
    fn rrf_matches_its_formula() {
        let v = [hit("a", 1.0)];
        let f = [hit("b", 1.0), hit("a", 0.5)];
        let fused = fuse(&v, &f, Fusion::Rrf { k: 60.0, vector_weight: 2.0, fulltext_weight: 1.0 });
        let a = fused.iter().find(|h| h.chunk.doc_id == "a").map(|h| h.score).unwrap_or_default();
        assert!((a - (2.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-6);
    }
}
