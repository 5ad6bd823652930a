//! Stream storage: entries ordered by ID, the bookkeeping XINFO and XADD need (last ID,
//! entries ever added, largest deleted ID) and a model of Redis's listpack nodes.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

/// A stream entry ID: milliseconds and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// The next ID (Redis's `streamIncrID`), None past the largest.
    pub fn incr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous ID (Redis's `streamDecrID`), None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// Writes `ms-seq` into `buf` without allocating; returns the text.
    pub fn format(self, buf: &mut [u8; 41]) -> &[u8] {
        let mut tmp = [0u8; 20];
        let ms = digits(self.ms, &mut tmp);
        let n = ms.len();
        buf[..n].copy_from_slice(ms);
        buf[n] = b'-';
        let seq = digits(self.seq, &mut tmp);
        buf[n + 1..n + 1 + seq.len()].copy_from_slice(seq);
        &buf[..n + 1 + seq.len()]
    }
}

fn digits(mut v: u64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &tmp[i..];
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Byte strings packed in one allocation (an entry's fields and values, or a node's
/// master field names): a u32 count, then a u32 length before each string.
#[derive(Clone)]
pub struct Packed(Box<[u8]>);

impl Packed {
    pub fn new<'a>(items: impl Iterator<Item = &'a [u8]> + Clone) -> Packed {
        let (count, bytes) = items
            .clone()
            .fold((0u32, 4usize), |(c, b), s| (c + 1, b + 4 + s.len()));
        let mut data = Vec::with_capacity(bytes);
        data.extend_from_slice(&count.to_le_bytes());
        for s in items {
            data.extend_from_slice(&(s.len() as u32).to_le_bytes());
            data.extend_from_slice(s);
        }
        Packed(data.into_boxed_slice())
    }

    /// Number of strings held.
    pub fn count(&self) -> usize {
        u32::from_le_bytes(self.0[..4].try_into().expect("count")) as usize
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut pos = 4;
        (0..self.count()).map(move |_| {
            let len = u32::from_le_bytes(self.0[pos..pos + 4].try_into().expect("len")) as usize;
            let s = &self.0[pos + 4..pos + 4 + len];
            pos += 4 + len;
            s
        })
    }
}

/// Limits of one listpack node (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: u64,
}

/// Largest listpack Redis builds (`STREAM_LISTPACK_MAX_SIZE`).
const LISTPACK_MAX_SIZE: usize = 1 << 30;

/// One of Redis's radix-tree nodes: a listpack of consecutive entries. Only its
/// shape is kept (the entries themselves live in the map) because approximate
/// trimming and XINFO depend on where node boundaries fall.
#[derive(Clone)]
struct Node {
    master_id: StreamId,
    /// ID of the last entry appended, deleted or not (what MINID trimming looks at).
    last_id: StreamId,
    live: u64,
    deleted: u64,
    master_fields: Packed,
    /// Listpack size without the live/deleted counters, which change width.
    fixed_bytes: usize,
}

impl Node {
    fn bytes(&self) -> usize {
        self.fixed_bytes + lp_int_size(self.live as i64) + lp_int_size(self.deleted as i64)
    }

    fn same_fields<'a>(&self, fields: impl Iterator<Item = &'a [u8]>, n: usize) -> bool {
        n == self.master_fields.count() && self.master_fields.iter().eq(fields)
    }
}

/// Size of a listpack element's back-length field.
fn lp_backlen(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn lp_int_size(v: i64) -> usize {
    let enc = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    };
    enc + lp_backlen(enc)
}

fn lp_str_size(s: &[u8]) -> usize {
    if let Some(v) = crate::cmd::args::parse_i64(s) {
        return lp_int_size(v);
    }
    let enc = match s.len() {
        0..=63 => 1 + s.len(),
        64..=4095 => 2 + s.len(),
        _ => 5 + s.len(),
    };
    enc + lp_backlen(enc)
}

fn rax_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// Rax nodes below (and including) the trie vertex at `depth` shared by the sorted
/// `keys`: a leaf, a compressed chain down to the next branching point, or a branch.
fn rax_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    if depth == 16 {
        return 1;
    }
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    if first[depth] == last[depth] {
        let common = (depth..16).take_while(|&i| first[i] == last[i]).count();
        return 1 + rax_nodes(keys, depth + common);
    }
    let children: usize = keys
        .chunk_by(|a, b| a[depth] == b[depth])
        .map(|group| rax_nodes(group, depth + 1))
        .sum();
    1 + children
}

/// How XTRIM / XADD trim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Default, Clone)]
pub struct Stream {
    entries: BTreeMap<StreamId, Packed>,
    nodes: VecDeque<Node>,
    pub last_id: StreamId,
    pub entries_added: u64,
    pub max_deleted_id: StreamId,
}

impl Stream {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of listpack nodes (XINFO's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Nodes of the radix tree indexing the listpacks by master ID (XINFO's
    /// radix-tree-nodes), as a fully compressed rax over 128-bit big-endian keys.
    pub fn radix_tree_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.iter().map(|n| rax_key(n.master_id)).collect();
        if keys.is_empty() {
            return 1;
        }
        rax_nodes(&keys, 0)
    }

    pub fn first(&self) -> Option<(&StreamId, &Packed)> {
        self.entries.first_key_value()
    }

    pub fn last(&self) -> Option<(&StreamId, &Packed)> {
        self.entries.last_key_value()
    }

    /// ID of the newest entry still present (Redis's `streamLastValidID`).
    pub fn last_valid_id(&self) -> StreamId {
        self.last().map_or(StreamId::MIN, |(id, _)| *id)
    }

    /// The ID `*` gives at time `now_ms` (Redis's `streamNextID`); None once the
    /// last possible ID was used.
    pub fn next_auto_id(&self, now_ms: u64) -> Option<StreamId> {
        if now_ms > self.last_id.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.incr()
        }
    }

    /// Appends an entry whose ID the caller checked is greater than `last_id`.
    /// `items` are field, value, field, value, …
    pub fn append<'a>(
        &mut self,
        id: StreamId,
        items: impl Iterator<Item = &'a [u8]> + Clone,
        limits: NodeLimits,
    ) {
        self.place_in_node(id, items.clone(), limits);
        self.entries.insert(id, Packed::new(items));
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Updates the node model as Redis's `streamAppendItem` fills listpacks.
    fn place_in_node<'a>(
        &mut self,
        id: StreamId,
        items: impl Iterator<Item = &'a [u8]> + Clone,
        limits: NodeLimits,
    ) {
        let pairs = items.clone().count() / 2;
        let fields = items.clone().step_by(2);
        let values = items.clone().skip(1).step_by(2);
        let total_len: usize = items.map(<[u8]>::len).sum();
        let max_bytes = match limits.max_bytes {
            0 => LISTPACK_MAX_SIZE,
            b => b.min(LISTPACK_MAX_SIZE),
        };
        let tail_fits = self.nodes.back().is_some_and(|n| {
            n.bytes() + total_len < max_bytes
                && (limits.max_entries == 0 || n.live + n.deleted < limits.max_entries)
        });
        if !tail_fits {
            let master_fields = Packed::new(fields.clone());
            let fixed_bytes = 7
                + lp_int_size(pairs as i64)
                + fields.clone().map(lp_str_size).sum::<usize>()
                + lp_int_size(0);
            self.nodes.push_back(Node {
                master_id: id,
                last_id: id,
                live: 0,
                deleted: 0,
                master_fields,
                fixed_bytes,
            });
        }
        let node = self.nodes.back_mut().expect("tail node");
        let same = node.same_fields(fields.clone(), pairs);
        let mut size = lp_int_size(if same { 2 } else { 0 })
            + lp_int_size(id.ms.wrapping_sub(node.master_id.ms) as i64)
            + lp_int_size(id.seq.wrapping_sub(node.master_id.seq) as i64)
            + values.map(lp_str_size).sum::<usize>();
        let mut lp_count = pairs + 3;
        if !same {
            size += lp_int_size(pairs as i64) + fields.map(lp_str_size).sum::<usize>();
            lp_count += pairs + 1;
        }
        node.fixed_bytes += size + lp_int_size(lp_count as i64);
        node.live += 1;
        node.last_id = id;
    }

    /// Index of the node holding `id`.
    fn node_of(&self, id: StreamId) -> usize {
        self.nodes.partition_point(|n| n.master_id <= id) - 1
    }

    /// Deletes one entry (XDEL); true if it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        let i = self.node_of(id);
        let node = &mut self.nodes[i];
        if node.live == 1 {
            self.nodes.remove(i);
        } else {
            node.live -= 1;
            node.deleted += 1;
        }
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Trims from the oldest end like Redis's `streamTrim`: whole nodes first; with
    /// `approx`, only whole nodes; `limit` (0 = none) caps the entries removed.
    /// Returns the number of entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut removed = 0;
        while let Some(node) = self.nodes.front() {
            if let Trim::MaxLen(max) = how {
                if self.len() as u64 <= max {
                    break;
                }
            }
            if limit != 0 && removed + node.live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.len() as u64 - node.live >= max,
                Trim::MinId(min) => node.last_id < min,
            };
            if whole {
                removed += node.live;
                let last = node.last_id;
                self.nodes.pop_front();
                self.pop_front_while(|id| id <= last);
                continue;
            }
            if !approx {
                removed += self.trim_inside_first_node(how);
            }
            break;
        }
        removed
    }

    /// Exact trimming within the first node, which stays (with tombstones).
    fn trim_inside_first_node(&mut self, how: Trim) -> u64 {
        let n = match how {
            Trim::MaxLen(max) => {
                let mut left = self.len() as u64 - max;
                self.pop_front_while(|_| {
                    let go = left > 0;
                    left = left.saturating_sub(1);
                    go
                })
            }
            Trim::MinId(min) => self.pop_front_while(|id| id < min),
        };
        let node = self.nodes.front_mut().expect("first node");
        node.live -= n;
        node.deleted += n;
        n
    }

    /// Removes entries from the front while `keep_going` says so; returns how many.
    fn pop_front_while(&mut self, mut keep_going: impl FnMut(StreamId) -> bool) -> u64 {
        let mut n = 0;
        while let Some(entry) = self.entries.first_entry() {
            if !keep_going(*entry.key()) {
                break;
            }
            entry.remove();
            n += 1;
        }
        n
    }

    /// Entries with IDs in `start..=end`, oldest first or newest first.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&StreamId, &Packed)> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let r = self
            .entries
            .range((Bound::Included(start), Bound::Included(end)));
        if rev {
            Box::new(r.rev())
        } else {
            Box::new(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };

    fn add(s: &mut Stream, ms: u64) {
        s.append(StreamId::new(ms, 0), [&b"f"[..], b"v"].into_iter(), LIMITS);
    }

    #[test]
    fn ids_step_and_format() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
        let mut buf = [0u8; 41];
        assert_eq!(StreamId::new(12, 3).format(&mut buf), b"12-3");
        assert_eq!(
            StreamId::MAX.format(&mut buf),
            b"18446744073709551615-18446744073709551615"
        );
    }

    #[test]
    fn packed_round_trip() {
        let p = Packed::new([&b"a"[..], b"", b"ccc"].into_iter());
        assert_eq!(p.count(), 3);
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"", b"ccc"]);
    }

    #[test]
    fn nodes_split_at_max_entries_and_trim_whole_nodes() {
        let mut s = Stream::default();
        (1..=250).for_each(|ms| add(&mut s, ms));
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.trim(Trim::MaxLen(200), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(150), true, 0), 100);
        assert_eq!(s.trim(Trim::MaxLen(10), false, 0), 140);
        assert_eq!(s.len(), 10);
        assert!(s.delete(StreamId::new(250, 0)));
        assert_eq!(s.last_valid_id(), StreamId::new(249, 0));
        assert_eq!(s.max_deleted_id, StreamId::new(250, 0));
    }
}
