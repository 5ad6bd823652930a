//! The replication stream's fan-out: the circular backlog partial resyncs are served
//! from, and the output buffer of every attached replica.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use tokio::sync::Notify;

use crate::client::ClientShared;

/// The last `size` bytes of the replication stream (Redis's `repl_backlog`).
pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
}

impl Backlog {
    pub fn new(size: usize) -> Backlog {
        Backlog {
            buf: VecDeque::new(),
            size: size.max(1),
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let keep = bytes.len().min(self.size);
        let over = (self.buf.len() + keep).saturating_sub(self.size);
        self.buf.drain(..over);
        self.buf.extend(&bytes[bytes.len() - keep..]);
    }

    pub fn histlen(&self) -> usize {
        self.buf.len()
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Applies a new `repl-backlog-size`, dropping the oldest bytes if it shrank.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        let over = self.buf.len().saturating_sub(self.size);
        self.buf.drain(..over);
    }
}

/// A replica attached to this node: what the stream sends it, and what it acked.
pub struct ReplicaLink {
    pub client: Rc<ClientShared>,
    /// Bytes of the stream not yet written to the replica.
    pub out: RefCell<Vec<u8>>,
    pub wake: Notify,
    /// False while the full-sync payload is still being sent (the stream buffers).
    pub online: Cell<bool>,
    pub ip: String,
    pub listening_port: Cell<u16>,
    pub ack_offset: Cell<u64>,
    pub ack_ms: Cell<u64>,
}

/// Where every byte of the replication stream goes (kept in the propagator).
#[derive(Default)]
pub struct ReplFeed {
    pub backlog: Option<Backlog>,
    /// `master_repl_offset`: bytes of the stream ever produced (or, on a replica,
    /// received from the master and applied).
    pub offset: u64,
    pub replicas: Vec<Rc<ReplicaLink>>,
    /// On a replica the master's bytes are proxied verbatim (so offsets agree along a
    /// chain); what applying them propagates locally goes only to the AOF.
    pub proxying: bool,
}

impl ReplFeed {
    /// Whether the stream has any consumer (a backlog always exists with replicas).
    pub fn active(&self) -> bool {
        self.backlog.is_some()
    }

    /// Appends stream bytes: backlog, offset, every replica's output.
    pub fn feed(&mut self, bytes: &[u8]) {
        let Some(backlog) = self.backlog.as_mut() else {
            return;
        };
        backlog.push(bytes);
        self.offset += bytes.len() as u64;
        for r in &self.replicas {
            r.out.borrow_mut().extend_from_slice(bytes);
            if r.online.get() {
                r.wake.notify_one();
            }
        }
    }

    /// Offset of the first byte the backlog holds (Redis reports offset + 1 when empty).
    pub fn first_byte_offset(&self) -> u64 {
        let histlen = self.backlog.as_ref().map_or(0, |b| b.histlen()) as u64;
        self.offset + 1 - histlen
    }

    /// The stream from `from` (1-based offset of the first byte wanted) to the end,
    /// if the backlog still holds it.
    pub fn since(&self, from: u64) -> Option<Vec<u8>> {
        let backlog = self.backlog.as_ref()?;
        if from < self.first_byte_offset() || from > self.offset + 1 {
            return None;
        }
        let skip = (from - self.first_byte_offset()) as usize;
        Some(backlog.buf.iter().skip(skip).copied().collect())
    }

    /// Starts (or restarts) the backlog at `offset`, empty.
    pub fn reset(&mut self, offset: u64, size: usize) {
        self.backlog = Some(Backlog::new(size));
        self.offset = offset;
    }

    pub fn remove(&mut self, link: &Rc<ReplicaLink>) {
        self.replicas.retain(|r| !Rc::ptr_eq(r, link));
    }

    /// Number of online replicas whose ack reached `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.online.get() && r.ack_offset.get() >= offset)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_keeps_the_tail() {
        let mut f = ReplFeed::default();
        f.reset(100, 4);
        assert_eq!(f.first_byte_offset(), 101);
        f.feed(b"abcdef");
        assert_eq!(f.offset, 106);
        assert_eq!(f.first_byte_offset(), 103);
        assert_eq!(f.since(103).unwrap(), b"cdef");
        assert_eq!(f.since(105).unwrap(), b"ef");
        assert_eq!(f.since(107).unwrap(), b"");
        assert!(f.since(102).is_none());
        assert!(f.since(108).is_none());
        f.feed(b"g");
        assert_eq!(f.since(104).unwrap(), b"defg");
    }
}
