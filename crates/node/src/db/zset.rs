//! Sorted set storage: a member → score map plus an order-statistic treap (arena
//! nodes with subtree sizes) so ranks, rank ranges and score/lex ranges are O(log n).

mod tree;

use std::cmp::Ordering;

use super::bytes::SmallBytes;
use super::HashMap;
pub use tree::Iter;
use tree::{cmp_elem, Tree};

/// A score interval as ZRANGEBYSCORE takes it (`(` makes a bound exclusive).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

/// One end of a ZRANGEBYLEX interval.
#[derive(Clone, Debug)]
pub enum LexBound {
    /// `-`: before every member.
    Min,
    /// `+`: after every member.
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    /// True if `m` sorts before this bound used as a range start.
    fn below_start(&self, m: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(b) => m < b.as_slice(),
            LexBound::Excl(b) => m <= b.as_slice(),
        }
    }

    /// True if `m` is within this bound used as a range end.
    fn within_end(&self, m: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(b) => m <= b.as_slice(),
            LexBound::Excl(b) => m < b.as_slice(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

/// A sorted set. `compact` mirrors whether Redis would still hold it as a listpack,
/// which shows in OBJECT ENCODING, ZSCAN's single-call reply and -0 scores.
#[derive(Clone)]
pub struct ZSet {
    scores: HashMap<SmallBytes, f64>,
    tree: Tree,
    compact: bool,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            scores: HashMap::default(),
            tree: Tree::default(),
            compact: true,
        }
    }
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// An empty set already in the "skiplist" form (keeps -0 scores), as Redis
    /// builds the replies of ZUNION/ZINTER/ZDIFF.
    pub fn skiplist() -> ZSet {
        ZSet {
            compact: false,
            ..ZSet::default()
        }
    }

    /// OBJECT ENCODING's name for this set.
    pub fn encoding(&self) -> &'static str {
        if self.compact {
            "listpack"
        } else {
            "skiplist"
        }
    }

    pub fn is_compact(&self) -> bool {
        self.compact
    }

    /// Converts to the "skiplist" form once the set outgrows Redis's listpack
    /// limits (`zset-max-listpack-entries` / `-value`) with `size` elements and a
    /// member of `longest` bytes; like Redis, never back.
    pub fn update_encoding(
        &mut self,
        max_entries: usize,
        max_value: usize,
        size: usize,
        longest: usize,
    ) {
        if self.compact && (size > max_entries || longest > max_value) {
            self.compact = false;
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score; returns true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        // A listpack stores scores as text, where -0 comes back as 0.
        let score = if self.compact && score == 0.0 {
            0.0
        } else {
            score
        };
        if let Some(old) = self.scores.get_mut(member) {
            let old_score = *old;
            if old_score != score {
                *old = score;
                let key = self.tree.remove(old_score, member);
                self.tree.insert(key, score);
            }
            false
        } else {
            let key = SmallBytes::new(member);
            self.tree.insert(key.clone(), score);
            self.scores.insert(key, score);
            true
        }
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.swap_remove(member)?;
        self.tree.remove(score, member);
        self.shrink_if_sparse();
        Some(score)
    }

    /// Gives memory back after many removals (Redis shrinks its dict similarly).
    fn shrink_if_sparse(&mut self) {
        self.tree.maybe_shrink();
        let cap = self.scores.capacity();
        if cap > 1024 && cap / 8 > self.scores.len() {
            self.scores.shrink_to_fit();
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(
            self.tree
                .count_prefix(|s, m| cmp_elem(s, m, score, member) == Ordering::Less),
        )
    }

    /// Elements from ascending rank `rank` on (or, if `rev`, from descending rank
    /// `rank` on, toward lower scores).
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        self.tree.iter_from(rank, rev)
    }

    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Ascending ranks `start..end` of the elements within `range`.
    pub fn score_ranks(&self, range: &ScoreRange) -> (usize, usize) {
        let start = self.tree.count_prefix(|s, _| {
            if range.minex {
                s <= range.min
            } else {
                s < range.min
            }
        });
        let end = self.tree.count_prefix(|s, _| {
            if range.maxex {
                s < range.max
            } else {
                s <= range.max
            }
        });
        (start, end.max(start))
    }

    /// Ascending ranks `start..end` of the members within `range` (meaningful when
    /// all scores are equal, as in Redis).
    pub fn lex_ranks(&self, range: &LexRange) -> (usize, usize) {
        let start = self.tree.count_prefix(|_, m| range.min.below_start(m));
        let end = self.tree.count_prefix(|_, m| range.max.within_end(m));
        (start, end.max(start))
    }

    /// Removes ascending ranks `start..end`; `visit` gets each (member, score) in
    /// ascending order (descending if `rev`).
    pub fn remove_ranks(
        &mut self,
        start: usize,
        end: usize,
        rev: bool,
        mut visit: impl FnMut(SmallBytes, f64),
    ) {
        if start >= end {
            return;
        }
        let scores = &mut self.scores;
        self.tree.take_range(start, end, rev, |member, score| {
            scores.swap_remove(member.as_slice());
            visit(member, score);
        });
        self.shrink_if_sparse();
    }

    /// The element at position `i` of the member map (for ZSCAN and ZRANDMEMBER).
    pub fn get_index(&self, i: usize) -> Option<(&SmallBytes, f64)> {
        self.scores.get_index(i).map(|(m, s)| (m, *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn model_sort(v: &mut [(f64, Vec<u8>)]) {
        v.sort_by(|a, b| cmp_elem(a.0, &a.1, b.0, &b.1));
    }

    fn contents(z: &ZSet) -> Vec<(f64, Vec<u8>)> {
        z.iter().map(|(m, s)| (s, m.to_vec())).collect()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, i8),
        Remove(u8),
        PopRange(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (any::<u8>(), -5i8..5).prop_map(|(m, s)| Op::Add(m % 64, s)),
            1 => any::<u8>().prop_map(|m| Op::Remove(m % 64)),
            1 => (0u8..8, 0u8..4).prop_map(|(a, b)| Op::PopRange(a, b)),
        ]
    }

    proptest! {
        #[test]
        fn matches_sorted_vec_model(ops in prop::collection::vec(op(), 1..200)) {
            let mut z = ZSet::default();
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            for op in ops {
                match op {
                    Op::Add(m, s) => {
                        let member = vec![b'a' + m % 26, m];
                        let new = !model.iter().any(|e| e.1 == member);
                        model.retain(|e| e.1 != member);
                        model.push((s as f64, member.clone()));
                        prop_assert_eq!(z.insert(&member, s as f64), new);
                    }
                    Op::Remove(m) => {
                        let member = vec![b'a' + m % 26, m];
                        let had = model.iter().position(|e| e.1 == member);
                        let removed = had.map(|i| model.remove(i).0);
                        prop_assert_eq!(z.remove(&member), removed);
                    }
                    Op::PopRange(a, b) => {
                        model_sort(&mut model);
                        let start = (a as usize).min(model.len());
                        let end = (start + b as usize).min(model.len());
                        let expect: Vec<_> = model.drain(start..end).collect();
                        let mut got = Vec::new();
                        z.remove_ranks(start, end, false, |m, s| got.push((s, m.to_vec())));
                        prop_assert_eq!(got, expect);
                    }
                }
                model_sort(&mut model);
                prop_assert_eq!(z.len(), model.len());
            }
            prop_assert_eq!(contents(&z), model.clone());
            for (i, (s, m)) in model.iter().enumerate() {
                prop_assert_eq!(z.rank(m), Some(i));
                prop_assert_eq!(z.score(m), Some(*s));
                let fwd: Vec<_> = z.iter_from(i, false).map(|(m, s)| (s, m.to_vec())).collect();
                prop_assert_eq!(&fwd[..], &model[i..]);
                let rev: Vec<_> = z.iter_from(i, true).map(|(m, s)| (s, m.to_vec())).collect();
                let mut expect: Vec<_> = model[..model.len() - i].to_vec();
                expect.reverse();
                prop_assert_eq!(rev, expect);
            }
            for (min, max, minex, maxex) in [(-2.0, 2.0, false, false), (-1.0, 3.0, true, true), (0.0, 0.0, false, true)] {
                let r = ScoreRange { min, max, minex, maxex };
                let (a, b) = z.score_ranks(&r);
                let inside = |s: f64| (if minex { s > min } else { s >= min }) && (if maxex { s < max } else { s <= max });
                let expect: Vec<_> = model.iter().filter(|e| inside(e.0)).cloned().collect();
                let got: Vec<_> = z.iter_from(a, false).take(b - a).map(|(m, s)| (s, m.to_vec())).collect();
                prop_assert_eq!(got, expect);
            }
        }
    }

    #[test]
    fn shrinks_after_mass_removal() {
        let mut z = ZSet::default();
        for i in 0..5000u32 {
            z.insert(format!("m{i}").as_bytes(), (i % 97) as f64);
        }
        z.remove_ranks(0, 4900, false, |_, _| {});
        for i in 0..50u32 {
            let (m, _) = z.get_index(0).map(|(m, s)| (m.to_vec(), s)).unwrap();
            assert!(z.remove(&m).is_some(), "{i}");
        }
        assert_eq!(z.len(), 50);
        assert!(z.tree.nodes.len() < 1024);
        let all: Vec<_> = z.iter().map(|(m, s)| (s, m.to_vec())).collect();
        let mut sorted = all.clone();
        model_sort(&mut sorted);
        assert_eq!(all, sorted);
        assert_eq!(z.rank(&all[10].1), Some(10));
    }

    #[test]
    fn lex_ranges_and_negative_zero() {
        let mut z = ZSet::default();
        for m in ["a", "b", "c", "d"] {
            z.insert(m.as_bytes(), 0.0);
        }
        let r = LexRange {
            min: LexBound::Excl(b"a".to_vec()),
            max: LexBound::Incl(b"c".to_vec()),
        };
        assert_eq!(z.lex_ranks(&r), (1, 3));
        let r = LexRange {
            min: LexBound::Max,
            max: LexBound::Min,
        };
        assert_eq!(z.lex_ranks(&r), (4, 4));
        z.insert(b"e", -0.0);
        assert!(z.score(b"e").unwrap().is_sign_positive());
        z.update_encoding(1, 64, z.len(), 1);
        z.insert(b"f", -0.0);
        assert!(z.score(b"f").unwrap().is_sign_negative());
        assert_eq!(z.encoding(), "skiplist");
    }
}
