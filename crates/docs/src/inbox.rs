//! Updates held back until their dependencies arrive (a yrs 0.28 workaround), bounded, and
//! how an owner learns that something waits too long and must resync from the store.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use yrs::block::ClientID;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update, WriteTxn};

use crate::error::{DocError, Result};

/// At most this many updates are held back at once; more means something is wrong (or
/// someone floods the channel with updates that can never integrate).
pub const MAX_HELD: usize = 256;
/// At most this many bytes of updates are held back at once.
pub const MAX_HELD_BYTES: usize = 4 << 20;
/// An update still waiting after this long will not be completed by the channel: its
/// dependency was lost or never existed. Legitimate gaps (an update seen before the one it
/// builds on, around a resubscription or a join) close within a round trip or two.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// Updates (v1) that did not integrate fully when they arrived.
///
/// yrs 0.28 keeps an update whose dependencies are missing in its own pending slot, but
/// when a chain of them (from different clients) is waiting, the arrival of the root
/// dependency integrates only part of the chain; the rest stays pending forever (found by
/// `tests/convergence.rs`). So every update that did not integrate is held here and
/// re-applied after each arrival until it has; duplicates are harmless.
///
/// Only updates that really wait are held (one that integrates leaves at once), so an
/// update whose dependency never comes costs one re-application per arrival, not a growing
/// list. What is held is bounded ([`MAX_HELD`], [`MAX_HELD_BYTES`]); past the bound, or
/// when something has waited for [`MAX_WAIT`], [`Inbox::stalled`] tells the owner to drop
/// what waits ([`crate::Replica::forget_waiting`]) and re-read the stored state, which has
/// every legitimate update (writers append to the log before they publish).
#[derive(Default)]
pub struct Inbox {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    held: Vec<Held>,
    bytes: usize,
    /// Since when something has been held (`None`: nothing, or only what the store has).
    since: Option<Instant>,
    /// An update could not be held because of the bound.
    overflowed: bool,
}

struct Held {
    v1: Vec<u8>,
    needs: Needs,
}

/// The clocks an update must see integrated, per client: the end of its insertions and of
/// the ranges it deletes. yrs integrates each client's blocks in clock order, so the
/// update is in the document when the state vector reaches every end.
#[derive(Clone, Debug, Default)]
pub struct Needs(Vec<(ClientID, u32)>);

impl Needs {
    pub fn of(update: &Update) -> Self {
        let mut ends: Vec<(ClientID, u32)> = Vec::new();
        let inserted = update.insertions(true);
        for set in [&inserted, update.delete_set()] {
            for (client, ranges) in set.iter() {
                if let Some(end) = ranges.iter().map(|r| r.end).max() {
                    match ends.iter_mut().find(|(c, _)| c == client) {
                        Some((_, e)) => *e = (*e).max(end),
                        None => ends.push((*client, end)),
                    }
                }
            }
        }
        Self(ends)
    }

    /// True when a document with state vector `sv` has all of it.
    pub fn met_by(&self, sv: &StateVector) -> bool {
        self.0.iter().all(|(client, end)| sv.get(client) >= *end)
    }
}

impl Inbox {
    /// Applies `update` (whose v1 encoding is `v1`), holds it if it did not integrate, and
    /// re-applies what is held.
    pub(crate) fn receive(&self, doc: &Doc, update: Update, v1: Vec<u8>) -> Result<()> {
        let needs = Needs::of(&update);
        apply(doc, update)?;
        let mut s = lock(&self.state);
        if !needs.met_by(&doc.transact().state_vector()) {
            s.hold(v1, needs);
        }
        if !s.held.is_empty() {
            retry(doc, &mut s)?;
        }
        if s.held.is_empty() {
            s.since = None;
        }
        Ok(())
    }

    /// Re-applies what is held (after a bulk apply that may have left a chain pending).
    pub(crate) fn retry(&self, doc: &Doc) -> Result<()> {
        let mut s = lock(&self.state);
        retry(doc, &mut s)
    }

    /// Number of updates held back.
    pub fn len(&self) -> usize {
        lock(&self.state).held.len()
    }

    /// True when nothing is held back.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the owner should resync: the bound was hit, or an update has waited
    /// longer than [`MAX_WAIT`].
    pub fn stalled(&self) -> bool {
        let s = lock(&self.state);
        s.overflowed || s.since.is_some_and(|t| t.elapsed() >= MAX_WAIT)
    }

    /// Says that what is held now came from the store (snapshot + log): re-reading the
    /// store cannot complete it, so its waiting does not count towards [`Inbox::stalled`].
    /// Updates held later start the clock again.
    pub fn settle(&self) {
        lock(&self.state).since = None;
    }

    /// Drops everything held and what yrs keeps pending in `doc`.
    pub(crate) fn forget(&self, doc: &Doc) {
        let mut s = lock(&self.state);
        *s = State::default();
        doc.transact_mut().prune_pending();
    }
}

impl State {
    fn hold(&mut self, v1: Vec<u8>, needs: Needs) {
        if self.held.len() >= MAX_HELD || self.bytes + v1.len() > MAX_HELD_BYTES {
            self.overflowed = true;
            return;
        }
        self.bytes += v1.len();
        self.since.get_or_insert_with(Instant::now);
        self.held.push(Held { v1, needs });
    }
}

/// Re-applies held updates until none is left or a pass makes no progress. An update is
/// let go after a pass that applied it while its dependencies were all there (so its
/// deletions took effect too), which the state vector before the pass tells.
fn retry(doc: &Doc, s: &mut State) -> Result<()> {
    while !s.held.is_empty() {
        let before = doc.transact().state_vector();
        for h in &s.held {
            apply(doc, Update::decode_v1(&h.v1).map_err(bad_update)?)?;
        }
        let after = doc.transact().state_vector();
        s.held.retain(|h| !h.needs.met_by(&before));
        s.bytes = s.held.iter().map(|h| h.v1.len()).sum();
        if after == before {
            // No progress; what was met only now goes on the next arrival's pass.
            break;
        }
    }
    Ok(())
}

pub(crate) fn apply(doc: &Doc, update: Update) -> Result<()> {
    doc.transact_mut().apply_update(update).map_err(bad_update)
}

pub(crate) fn bad_update(e: impl std::fmt::Display) -> DocError {
    DocError::Update(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
