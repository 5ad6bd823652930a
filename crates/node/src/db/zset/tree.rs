//! The order-statistic treap behind sorted sets: nodes in an index arena (no
//! pointers, no unsafe), each with its subtree size, so rank queries are O(log n).

use std::cmp::Ordering;

use crate::db::bytes::SmallBytes;

const NIL: u32 = u32::MAX;

/// One element in the ordering tree; `size` counts the subtree rooted here.
#[derive(Clone)]
pub(super) struct Node {
    member: SmallBytes,
    score: f64,
    left: u32,
    right: u32,
    size: u32,
    prio: u32,
}

/// Orders elements as Redis does: by score, then by member bytes. Scores are never
/// NaN, and -0 equals 0 (as C's `<` and `==` see them).
pub(super) fn cmp_elem(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

/// A treap over an index arena; freed slots are chained through `left`.
#[derive(Clone)]
pub(super) struct Tree {
    pub(super) nodes: Vec<Node>,
    root: u32,
    free: u32,
    /// Slots on the free list.
    free_count: usize,
    seed: u32,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            nodes: Vec::new(),
            root: NIL,
            free: NIL,
            free_count: 0,
            seed: 0x9E37_79B9,
        }
    }
}

impl Tree {
    fn size(&self, n: u32) -> usize {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size as usize
        }
    }

    fn fix(&mut self, n: u32) {
        let (l, r) = {
            let node = &self.nodes[n as usize];
            (node.left, node.right)
        };
        self.nodes[n as usize].size = (self.size(l) + self.size(r) + 1) as u32;
    }

    fn next_prio(&mut self) -> u32 {
        // xorshift32: cheap, and priorities only need to look random.
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }

    fn alloc(&mut self, member: SmallBytes, score: f64) -> u32 {
        let node = Node {
            member,
            score,
            left: NIL,
            right: NIL,
            size: 1,
            prio: self.next_prio(),
        };
        if self.free != NIL {
            let i = self.free;
            self.free = self.nodes[i as usize].left;
            self.free_count -= 1;
            self.nodes[i as usize] = node;
            i
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    /// Returns a slot to the free list, handing back its member.
    fn release(&mut self, n: u32) -> (SmallBytes, f64) {
        let node = &mut self.nodes[n as usize];
        let member = std::mem::replace(&mut node.member, SmallBytes::new(b""));
        node.left = self.free;
        node.right = NIL;
        self.free = n;
        self.free_count += 1;
        (member, node.score)
    }

    fn cmp_node(&self, n: u32, score: f64, member: &[u8]) -> Ordering {
        let node = &self.nodes[n as usize];
        cmp_elem(node.score, &node.member, score, member)
    }

    /// Orders node `a` against node `b`.
    fn cmp_nodes(&self, a: u32, b: u32) -> Ordering {
        let b = &self.nodes[b as usize];
        self.cmp_node(a, b.score, &b.member)
    }

    /// Splits `t` into the elements ordered before node `n` and the rest.
    fn split(&mut self, t: u32, n: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.cmp_nodes(t, n) == Ordering::Less {
            let (l, r) = self.split(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = l;
            self.fix(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = r;
            self.fix(t);
            (l, t)
        }
    }

    /// Splits `t` into its first `k` elements and the rest.
    fn split_rank(&mut self, t: u32, k: usize) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let ls = self.size(self.nodes[t as usize].left);
        if k <= ls {
            let (l, r) = self.split_rank(self.nodes[t as usize].left, k);
            self.nodes[t as usize].left = r;
            self.fix(t);
            (l, t)
        } else {
            let (l, r) = self.split_rank(self.nodes[t as usize].right, k - ls - 1);
            self.nodes[t as usize].right = l;
            self.fix(t);
            (t, r)
        }
    }

    /// Joins two treaps where every element of `a` orders before every one of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio >= self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.fix(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.fix(b);
            b
        }
    }

    fn insert_at(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.nodes[n as usize].prio > self.nodes[t as usize].prio {
            let (l, r) = self.split(t, n);
            let node = &mut self.nodes[n as usize];
            node.left = l;
            node.right = r;
            self.fix(n);
            return n;
        }
        let goes_left = self.cmp_nodes(n, t) == Ordering::Less;
        if goes_left {
            let l = self.insert_at(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = l;
        } else {
            let r = self.insert_at(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = r;
        }
        self.nodes[t as usize].size += 1;
        t
    }

    pub(super) fn insert(&mut self, member: SmallBytes, score: f64) {
        let n = self.alloc(member, score);
        self.root = self.insert_at(self.root, n);
    }

    /// Removes the element (which must be present) from subtree `t`, leaving its
    /// member in `taken`.
    fn remove_at(
        &mut self,
        t: u32,
        score: f64,
        member: &[u8],
        taken: &mut Option<SmallBytes>,
    ) -> u32 {
        debug_assert!(t != NIL, "removing a missing element");
        match self.cmp_node(t, score, member) {
            Ordering::Equal => {
                let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
                *taken = Some(self.release(t).0);
                self.merge(l, r)
            }
            Ordering::Greater => {
                let l = self.remove_at(self.nodes[t as usize].left, score, member, taken);
                self.nodes[t as usize].left = l;
                self.nodes[t as usize].size -= 1;
                t
            }
            Ordering::Less => {
                let r = self.remove_at(self.nodes[t as usize].right, score, member, taken);
                self.nodes[t as usize].right = r;
                self.nodes[t as usize].size -= 1;
                t
            }
        }
    }

    /// Removes an element that is present; returns its member.
    pub(super) fn remove(&mut self, score: f64, member: &[u8]) -> SmallBytes {
        let mut taken = None;
        self.root = self.remove_at(self.root, score, member, &mut taken);
        taken.expect("element present")
    }

    /// Rebuilds the arena once most of it is free slots, so a set that shrank a
    /// lot gives its memory back (O(n), amortized over the removals).
    pub(super) fn maybe_shrink(&mut self) {
        if self.nodes.len() < 1024 || self.free_count * 2 < self.nodes.len() {
            return;
        }
        let len = self.size(self.root);
        let mut fresh = Tree {
            nodes: Vec::with_capacity(len),
            seed: self.seed,
            ..Tree::default()
        };
        self.take_range(0, len, false, |m, s| fresh.insert(m, s));
        *self = fresh;
    }

    /// How many leading elements satisfy `pred`, which must hold for a prefix.
    pub(super) fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut n = self.root;
        let mut count = 0;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if pred(node.score, &node.member) {
                count += self.size(node.left) + 1;
                n = node.right;
            } else {
                n = node.left;
            }
        }
        count
    }

    /// The child of `n` toward the start of the order (toward the end if `rev`).
    fn first_child(&self, n: u32, rev: bool) -> u32 {
        let node = &self.nodes[n as usize];
        if rev {
            node.right
        } else {
            node.left
        }
    }

    /// Detaches ranks `start..end`, freeing their nodes; `visit` gets them in
    /// ascending order (descending if `rev`).
    pub(super) fn take_range(
        &mut self,
        start: usize,
        end: usize,
        rev: bool,
        mut visit: impl FnMut(SmallBytes, f64),
    ) {
        let (left, rest) = self.split_rank(self.root, start);
        let (mid, right) = self.split_rank(rest, end - start);
        self.root = self.merge(left, right);
        if self.size(mid) == 1 {
            let (member, score) = self.release(mid);
            visit(member, score);
            return;
        }
        let mut stack = Vec::new();
        let mut n = mid;
        while n != NIL || !stack.is_empty() {
            while n != NIL {
                stack.push(n);
                n = self.first_child(n, rev);
            }
            let top = stack.pop().expect("non-empty");
            n = self.first_child(top, !rev);
            let (member, score) = self.release(top);
            visit(member, score);
        }
    }

    /// Elements from rank `rank` in iteration order (descending if `rev`).
    pub(super) fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        let mut it = Iter {
            tree: self,
            stack: Vec::with_capacity(32),
            rev,
        };
        let mut n = self.root;
        let mut r = rank;
        while n != NIL {
            let before = self.size(it.child(n, false));
            match r.cmp(&before) {
                Ordering::Less => {
                    it.stack.push(n);
                    n = it.child(n, false);
                }
                Ordering::Equal => {
                    it.stack.push(n);
                    break;
                }
                Ordering::Greater => {
                    r -= before + 1;
                    n = it.child(n, true);
                }
            }
        }
        it
    }
}

/// Iterates elements from a rank, forward or in reverse, in O(log n) memory.
pub struct Iter<'a> {
    tree: &'a Tree,
    stack: Vec<u32>,
    rev: bool,
}

impl<'a> Iter<'a> {
    fn child(&self, n: u32, toward_end: bool) -> u32 {
        let node = &self.tree.nodes[n as usize];
        if toward_end != self.rev {
            node.right
        } else {
            node.left
        }
    }

    fn push_edge(&mut self, mut n: u32) {
        while n != NIL {
            self.stack.push(n);
            n = self.child(n, false);
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a SmallBytes, f64);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.stack.pop()?;
        let next = self.child(n, true);
        self.push_edge(next);
        let node = &self.tree.nodes[n as usize];
        Some((&node.member, node.score))
    }
}
