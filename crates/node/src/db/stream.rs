//! Stream storage: entries ordered by ID, plus the bookkeeping XINFO and XADD need
//! (last ID, entries ever added, largest deleted ID).

use std::collections::BTreeMap;

use super::bytes::SmallBytes;

/// A stream entry ID: milliseconds and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[derive(Default, Clone)]
pub struct Stream {
    pub entries: BTreeMap<StreamId, Vec<(SmallBytes, SmallBytes)>>,
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
}
