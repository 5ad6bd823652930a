//! State exchange shared by text and sheet documents: apply updates, state vectors, diffs.
//! Both document kinds wrap one `yrs::Doc`; this trait gives them the same sync surface.

use yrs::block::ClientID;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use crate::error::{DocError, Result};

/// A document that can be synchronised with other replicas.
///
/// Updates are idempotent and commute: applying them twice or in any order converges.
pub trait Replica {
    /// The underlying yrs document.
    fn doc(&self) -> &Doc;

    /// Applies a remote update in yrs v1 encoding (the y-sync wire format).
    fn apply_update_v1(&self, update: &[u8]) -> Result<()> {
        let update = Update::decode_v1(update).map_err(|e| DocError::Update(e.to_string()))?;
        apply(self.doc(), update)
    }

    /// Applies a remote update in yrs v2 encoding (the snapshot format).
    fn apply_update_v2(&self, update: &[u8]) -> Result<()> {
        let update = Update::decode_v2(update).map_err(|e| DocError::Update(e.to_string()))?;
        apply(self.doc(), update)
    }

    /// This replica's state vector, v1 encoded (y-sync step 1 payload).
    fn state_vector_v1(&self) -> Vec<u8> {
        self.doc().transact().state_vector().encode_v1()
    }

    /// Everything this replica has that a peer with state vector `remote_sv` (v1) lacks.
    fn diff_v1(&self, remote_sv: &[u8]) -> Result<Vec<u8>> {
        let sv = StateVector::decode_v1(remote_sv).map_err(|e| DocError::Update(e.to_string()))?;
        Ok(self.doc().transact().encode_state_as_update_v1(&sv))
    }

    /// The whole state, v2 encoded: the content of `doc:{ID}:snapshot`.
    fn snapshot_v2(&self) -> Vec<u8> {
        self.doc()
            .transact()
            .encode_state_as_update_v2(&StateVector::default())
    }
}

fn apply(doc: &Doc, update: Update) -> Result<()> {
    doc.transact_mut()
        .apply_update(update)
        .map_err(|e| DocError::Update(e.to_string()))
}

/// A yrs client id from a number: yrs (like Yjs) keeps 53 bits, so higher bits are dropped.
pub fn client_id(id: u64) -> ClientID {
    ClientID::new(id & ((1u64 << 53) - 1))
}
