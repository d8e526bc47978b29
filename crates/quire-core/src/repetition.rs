//! Spotting a generation that has fallen into a loop.
//!
//! Small models sometimes repeat the same phrase until they run out of tokens. [`RepetitionGuard`] watches
//! the generated token ids and trips when the end of the sequence is periodic: the last `period × repeats`
//! tokens are one block of `period` tokens said `repeats` times over, with `repeats` at least `min_repeats`
//! and `period × repeats` at least `min_span`, for some period up to `max_period`.
//!
//! The check costs O(`max_period`) per token: for every period it keeps how many of the latest tokens equal
//! the token one period before them. A run of `r` such tokens means the last `r + period` tokens have that
//! period.

use std::collections::VecDeque;

/// Watches generated tokens for a loop; see the module docs.
#[derive(Debug, Clone)]
pub struct RepetitionGuard {
    min_span: usize,
    min_repeats: usize,
    max_period: usize,
    /// The latest `max_period` tokens, oldest first.
    recent: VecDeque<i32>,
    /// `runs[p - 1]`: how many of the latest tokens in a row equal the token `p` positions before them.
    runs: Vec<usize>,
}

impl Default for RepetitionGuard {
    /// Trips on the same block said at least 3 times over at least 32 tokens, blocks of up to 128 tokens: one
    /// token said 32 times, a 4-token phrase 8 times, a 100-token paragraph 3 times.
    fn default() -> Self {
        RepetitionGuard::new(32, 3, 128)
    }
}

impl RepetitionGuard {
    /// A guard with the given thresholds (see the module docs). `min_repeats` is at least 2 and `max_period`
    /// at least 1: anything is one repeat of itself.
    pub fn new(min_span: usize, min_repeats: usize, max_period: usize) -> RepetitionGuard {
        let max_period = max_period.max(1);
        RepetitionGuard {
            min_span,
            min_repeats: min_repeats.max(2),
            max_period,
            recent: VecDeque::with_capacity(max_period + 1),
            runs: vec![0; max_period],
        }
    }

    /// Takes the next generated token; true when the sequence now ends in a loop (and for every further token
    /// that continues it).
    pub fn push(&mut self, token: i32) -> bool {
        let len = self.recent.len();
        let mut tripped = false;
        for p in 1..=self.max_period {
            let run = &mut self.runs[p - 1];
            if p <= len && self.recent[len - p] == token {
                *run += 1;
            } else {
                *run = 0;
            }
            // The last `run + p` tokens have period p; the shortest periodic tail that counts is p times the
            // larger of min_repeats and the repeats needed to cover min_span.
            let needed = p * self.min_repeats.max(self.min_span.div_ceil(p));
            if *run + p >= needed {
                tripped = true;
            }
        }
        self.recent.push_back(token);
        if self.recent.len() > self.max_period {
            self.recent.pop_front();
        }
        tripped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `tokens`; returns the 0-based position of the first token at which the guard tripped.
    fn first_trip(guard: &mut RepetitionGuard, tokens: &[i32]) -> Option<usize> {
        let mut first = None;
        for (i, &t) in tokens.iter().enumerate() {
            if guard.push(t) && first.is_none() {
                first = Some(i);
            }
        }
        first
    }

    /// Token ids of a text's words, the same id for the same word.
    fn word_ids(text: &str) -> Vec<i32> {
        let mut vocab: Vec<&str> = Vec::new();
        text.split_whitespace()
            .map(|w| match vocab.iter().position(|v| *v == w) {
                Some(i) => i as i32,
                None => {
                    vocab.push(w);
                    vocab.len() as i32 - 1
                }
            })
            .collect()
    }

    #[test]
    fn one_token_repeated_trips_at_min_span() {
        let mut g = RepetitionGuard::default();
        let mut tokens = vec![1, 2, 3];
        tokens.extend(std::iter::repeat_n(7, 40));
        // The 32nd 7 is at position 3 + 31.
        assert_eq!(first_trip(&mut g, &tokens), Some(34));
    }

    #[test]
    fn a_repeated_phrase_trips_after_enough_repeats() {
        let mut g = RepetitionGuard::default();
        let tokens: Vec<i32> = [10, 11, 12].iter().copied().cycle().take(60).collect();
        // Period 3 needs ceil(32 / 3) = 11 repeats: 33 tokens.
        assert_eq!(first_trip(&mut g, &tokens), Some(32));
        let mut g = RepetitionGuard::default();
        assert_eq!(first_trip(&mut g, &tokens[..32]), None);
    }

    #[test]
    fn a_long_block_needs_min_repeats() {
        let block: Vec<i32> = (100..150).collect(); // 50 tokens
        let mut tokens = vec![1, 2];
        for _ in 0..4 {
            tokens.extend(&block);
        }
        let mut g = RepetitionGuard::default();
        // Three blocks: 2 + 150 tokens, so the last token of the third block.
        assert_eq!(first_trip(&mut g, &tokens), Some(151));
    }

    #[test]
    fn blocks_longer_than_max_period_do_not_trip() {
        let block: Vec<i32> = (0..20).collect();
        let tokens: Vec<i32> = block.iter().copied().cycle().take(200).collect();
        let mut g = RepetitionGuard::new(32, 3, 16);
        assert_eq!(first_trip(&mut g, &tokens), None);
        let mut g = RepetitionGuard::new(32, 3, 20);
        assert_eq!(first_trip(&mut g, &tokens), Some(59));
    }

    #[test]
    fn a_natural_sentence_does_not_trip() {
        let text = "the cat sat on the mat and the dog sat on the rug and the bird sat on the branch of the \
                    tree while the sun shone on the garden and the wind blew over the hill very very softly";
        let mut g = RepetitionGuard::default();
        assert_eq!(first_trip(&mut g, &word_ids(text)), None);
    }

    #[test]
    fn a_long_varied_list_does_not_trip() {
        // "- item 1 : apple\n- item 2 : ..." as tokens: the structure repeats, the numbers and names change.
        let mut tokens = Vec::new();
        for i in 0..200 {
            tokens.extend([1, 2, 1000 + i, 3, 5000 + (i * 7) % 13, 4]);
        }
        let mut g = RepetitionGuard::default();
        assert_eq!(first_trip(&mut g, &tokens), None);
    }

    #[test]
    fn the_loop_must_reach_the_end() {
        let mut g = RepetitionGuard::default();
        let mut tokens: Vec<i32> = std::iter::repeat_n(5, 31).collect();
        tokens.push(6);
        tokens.extend(std::iter::repeat_n(5, 31));
        assert_eq!(first_trip(&mut g, &tokens), None);
        // One more 5 makes a run of 32.
        assert!(g.push(5));
        assert!(g.push(5), "keeps tripping while the loop goes on");
        assert!(!g.push(9));
    }

    #[test]
    fn degenerate_settings_are_clamped() {
        // min_repeats 1 would trip on anything; it counts as 2.
        let mut g = RepetitionGuard::new(4, 1, 0);
        assert_eq!(first_trip(&mut g, &[1, 2, 3, 4, 5, 6]), None);
        assert_eq!(first_trip(&mut g, &[6, 6, 6]), Some(2));
    }
}
