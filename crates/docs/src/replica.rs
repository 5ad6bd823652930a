//! State exchange shared by text and sheet documents: apply updates, state vectors, diffs.
//! Both document kinds wrap one `yrs::Doc`; this trait gives them the same sync surface.

use yrs::block::ClientID;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use crate::error::{DocError, Result};
pub use crate::inbox::Inbox;
use crate::inbox::{apply, bad_update, Needs};

/// What became of one entry of a batch (a log read from the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logged {
    /// In the document.
    Applied,
    /// Still waiting for a dependency that none of the batch supplied.
    Waiting,
    /// Could not be decoded or applied: nobody can ever apply it.
    Malformed,
}

/// A document that can be synchronised with other replicas.
///
/// Updates are idempotent and commute: applying them twice or in any order converges.
pub trait Replica {
    /// The underlying yrs document.
    fn doc(&self) -> &Doc;

    /// Updates held back until their dependencies arrive (see [`Inbox`]).
    fn inbox(&self) -> &Inbox;

    /// Applies a remote update in yrs v1 encoding (the y-sync wire format).
    fn apply_update_v1(&self, update: &[u8]) -> Result<()> {
        let decoded = decode_untrusted(update, Update::decode_v1)?;
        self.inbox().receive(self.doc(), decoded, update.to_vec())
    }

    /// Applies a remote update in yrs v2 encoding (the snapshot format).
    fn apply_update_v2(&self, update: &[u8]) -> Result<()> {
        let decoded = decode_untrusted(update, Update::decode_v2)?;
        let v1 = decoded.encode_v1();
        self.inbox().receive(self.doc(), decoded, v1)
    }

    /// Applies many updates (v1), oldest first, each in its own transaction, and tells
    /// what became of each. Measured on 40,000 one-character edits: 47 ms this way, 650 ms
    /// in one big transaction (whose commit squashes everything at once, and which ran out
    /// of memory at 250,000), and 17 s when merged first with `yrs::merge_updates_v1`,
    /// which grows quadratically. A malformed entry is skipped (the caller reports it).
    fn apply_log_v1(&self, updates: &[&[u8]]) -> Vec<Logged> {
        let needs: Vec<Option<Needs>> = updates
            .iter()
            .map(|bytes| {
                let update = decode_untrusted(bytes, Update::decode_v1).ok()?;
                let needs = Needs::of(&update);
                self.inbox()
                    .receive(self.doc(), update, bytes.to_vec())
                    .ok()?;
                Some(needs)
            })
            .collect();
        // Past the inbox's bound some waiting updates were not held: one last round over
        // every entry still waiting, until a pass makes no progress.
        let sv = || self.doc().transact().state_vector();
        let mut prev = sv();
        loop {
            let start = sv();
            let todo: Vec<usize> = (0..updates.len())
                .filter(|&i| needs[i].as_ref().is_some_and(|n| !n.met_by(&prev)))
                .collect();
            if todo.is_empty() {
                break;
            }
            for i in todo {
                if let Ok(u) = Update::decode_v1(updates[i]) {
                    let _ = apply(self.doc(), u);
                }
            }
            if sv() == start {
                break;
            }
            prev = start;
        }
        let _ = self.inbox().retry(self.doc());
        let now = sv();
        needs
            .iter()
            .map(|n| match n {
                None => Logged::Malformed,
                Some(n) if n.met_by(&now) => Logged::Applied,
                Some(_) => Logged::Waiting,
            })
            .collect()
    }

    /// This replica's state vector, v1 encoded (y-sync step 1 payload).
    fn state_vector_v1(&self) -> Vec<u8> {
        self.doc().transact().state_vector().encode_v1()
    }

    /// Everything this replica has that a peer with state vector `remote_sv` (v1) lacks.
    /// Updates still waiting for a dependency are left out (yrs's `encode_state_as_update`
    /// would add them): one that can never integrate must not spread to peers and logs.
    fn diff_v1(&self, remote_sv: &[u8]) -> Result<Vec<u8>> {
        let sv = decode_untrusted(remote_sv, StateVector::decode_v1)?;
        Ok(self.doc().transact().encode_diff_v1(&sv))
    }

    /// The whole state, v2 encoded: the content of `doc:{ID}:snapshot` (without updates
    /// still waiting, as [`Replica::diff_v1`]).
    fn snapshot_v2(&self) -> Vec<u8> {
        self.doc()
            .transact()
            .encode_diff_v2(&StateVector::default())
    }

    /// True while some received update still waits for a missing dependency.
    fn is_waiting(&self) -> bool {
        has_pending(self.doc())
    }

    /// Drops every update waiting for a dependency (held, and in yrs's pending part). The
    /// owner re-applies the stored state right after: it has every legitimate update.
    fn forget_waiting(&self) {
        self.inbox().forget(self.doc());
    }
}

fn has_pending(doc: &Doc) -> bool {
    let txn = doc.transact();
    let store = txn.store();
    store.pending_update().is_some() || store.pending_ds().is_some()
}

/// Decodes bytes that anyone may have published. yrs 0.28 panics on some malformed input
/// (a delete-set range whose end overflows `u32`, `id_set.rs`; the workspace turns
/// overflow checks on for yrs in release builds too, so the panic is the same there): a
/// panic is caught here and becomes an error, instead of ending a session's or the control
/// service's loop. Decoding only reads `bytes`, so nothing is left half-changed.
pub fn decode_untrusted<T, E: std::fmt::Display>(
    bytes: &[u8],
    decode: impl FnOnce(&[u8]) -> std::result::Result<T, E>,
) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(bytes))) {
        Ok(decoded) => decoded.map_err(bad_update),
        Err(_) => Err(DocError::Update("malformed update".into())),
    }
}

/// A yrs client id from a number: yrs (like Yjs) keeps 53 bits, so higher bits are dropped.
pub fn client_id(id: u64) -> ClientID {
    ClientID::new(id & ((1u64 << 53) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TextDoc;

    /// Three updates, each depending on the one before, made by two clients.
    fn chain() -> (Vec<Vec<u8>>, String) {
        let a = TextDoc::with_client_id(1);
        let b = TextDoc::with_client_id(3);
        let u1 = a.insert(0, "x").unwrap();
        b.apply_update_v1(&u1).unwrap();
        let u2 = b.insert(0, "y").unwrap();
        a.apply_update_v1(&u2).unwrap();
        let u3 = a.insert(0, "z").unwrap();
        (vec![u1, u2, u3], a.content())
    }

    #[test]
    fn a_chain_of_waiting_updates_integrates_in_any_order() {
        let (updates, want) = chain();
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let doc = TextDoc::with_client_id(9);
            for i in order {
                doc.apply_update_v1(&updates[i]).unwrap();
            }
            assert_eq!(doc.content(), want, "{order:?}");
            assert!(!doc.is_waiting() && doc.inbox().is_empty(), "{order:?}");
        }
    }

    #[test]
    fn malformed_updates_are_errors_not_panics() {
        // No structs; a delete set of client 1 with one range: clock u32::MAX, length 1.
        let overflow = [0, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1];
        let doc = TextDoc::with_client_id(9);
        assert!(doc.apply_update_v1(&overflow).is_err());
        doc.insert(0, "still fine").unwrap();
        assert_eq!(doc.content(), "still fine");
    }

    /// Updates 6.. of a writer whose first five edits nobody else ever sees: each waits
    /// forever for a dependency (as an update forged on the channel would).
    fn orphans(n: usize) -> Vec<Vec<u8>> {
        let w = TextDoc::with_client_id(77);
        let all: Vec<Vec<u8>> = (0..5 + n).map(|_| w.insert(0, "o").unwrap()).collect();
        all[5..].to_vec()
    }

    #[test]
    fn an_orphan_costs_one_held_update_not_a_growing_list() {
        let doc = TextDoc::with_client_id(9);
        doc.apply_update_v1(&orphans(1)[0]).unwrap();
        let writer = TextDoc::with_client_id(1);
        for i in 0..1000 {
            doc.apply_update_v1(&writer.insert(i, "x").unwrap())
                .unwrap();
        }
        assert_eq!(doc.content(), "x".repeat(1000));
        assert_eq!(doc.inbox().len(), 1, "only the orphan waits");
        assert!(!doc.inbox().stalled(), "not for long yet");
        // A peer synced from this replica gets the text, not the orphan.
        let peer = TextDoc::with_client_id(2);
        let diff = doc.diff_v1(&peer.state_vector_v1()).unwrap();
        peer.apply_update_v1(&diff).unwrap();
        assert_eq!(peer.content(), doc.content());
        assert!(doc.is_waiting() && !peer.is_waiting());
        let copy = TextDoc::with_client_id(3);
        copy.apply_update_v2(&doc.snapshot_v2()).unwrap();
        assert!(!copy.is_waiting());
    }

    #[test]
    fn a_flood_of_orphans_is_bounded_and_asks_for_a_resync() {
        let doc = TextDoc::with_client_id(9);
        doc.insert(0, "mine").unwrap();
        for u in orphans(crate::inbox::MAX_HELD + 10) {
            doc.apply_update_v1(&u).unwrap();
        }
        assert_eq!(doc.inbox().len(), crate::inbox::MAX_HELD);
        assert!(doc.inbox().stalled());
        doc.forget_waiting();
        assert!(!doc.is_waiting() && doc.inbox().is_empty() && !doc.inbox().stalled());
        assert_eq!(doc.content(), "mine");
    }

    #[test]
    fn a_batch_reports_what_waits_and_what_is_malformed() {
        let (chain, want) = chain();
        let orphan = orphans(1).remove(0);
        let junk = vec![0, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1];
        let batch = [&chain[2], &orphan, &junk, &chain[1], &chain[0]].map(Vec::as_slice);
        let doc = TextDoc::with_client_id(9);
        let got = doc.apply_log_v1(&batch);
        use Logged::*;
        assert_eq!(got, [Applied, Waiting, Malformed, Applied, Applied]);
        assert_eq!(doc.content(), want);
    }

    #[test]
    fn updates_wait_while_a_dependency_is_missing() {
        let (updates, _) = chain();
        let doc = TextDoc::with_client_id(9);
        doc.apply_update_v1(&updates[2]).unwrap();
        doc.apply_update_v1(&updates[1]).unwrap();
        assert!(doc.is_waiting());
        assert_eq!(doc.inbox().len(), 2);
        assert_eq!(doc.content(), "");
    }
}
