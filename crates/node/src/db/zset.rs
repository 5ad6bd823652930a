//! Sorted set storage: member → score, plus the members in (score, member) order.
//! Operations beyond the basics live with the commands in `cmd/zset.rs`.

use std::collections::BTreeSet;

use super::bytes::SmallBytes;
use super::HashMap;

/// A score with a total order (scores are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Default, Clone)]
pub struct ZSet {
    pub scores: HashMap<SmallBytes, f64>,
    pub order: BTreeSet<(Score, SmallBytes)>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Sets `member`'s score; returns true if the member is new.
    pub fn insert(&mut self, member: SmallBytes, score: f64) -> bool {
        let score = if score == 0.0 { 0.0 } else { score };
        if let Some(old) = self.scores.get_mut(&member) {
            if *old != score {
                self.order.remove(&(Score(*old), member.clone()));
                *old = score;
                self.order.insert((Score(score), member));
            }
            false
        } else {
            self.scores.insert(member.clone(), score);
            self.order.insert((Score(score), member));
            true
        }
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (key, score) = self.scores.swap_remove_entry(member)?;
        self.order.remove(&(Score(score), key));
        Some(score)
    }
}
