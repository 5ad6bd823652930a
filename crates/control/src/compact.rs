//! Compaction: folds a document's log into its snapshot and trims exactly the folded
//! entries, in one MULTI/EXEC so a reader always sees every update in one of the two.

use client::document::{parse_log, Document};
use client::Store;
use docs::{keys, DocKind};
use redis::Value;

/// At most this many log entries are folded per document per round, so one huge log
/// cannot stall the service; the rest is folded in the following rounds.
pub const MAX_FOLD: usize = 50_000;

/// What one fold did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// Log entries folded and trimmed.
    pub entries: usize,
    /// Size of the new snapshot.
    pub snapshot_bytes: usize,
    /// Unix ms of the newest folded entry (its stream id's time part).
    pub last_ms: u64,
    /// True when the log had more entries than one round folds.
    pub more: bool,
}

/// Folds up to [`MAX_FOLD`] log entries of document `id` into its snapshot. `None` when
/// the log is empty or the document was deleted meanwhile.
///
/// Entries appended after our read have larger ids, so `XTRIM MINID` past the last folded
/// id keeps them; `SET … XX` never resurrects a deleted document. A single compacting
/// instance (the lease) means nobody else replaces the snapshot in between.
pub async fn fold(store: &Store, id: &str, kind: DocKind) -> client::Result<Option<Folded>> {
    let mut read = redis::pipe();
    read.cmd("GET").arg(keys::snapshot(id));
    read.cmd("XRANGE")
        .arg(keys::log(id))
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(MAX_FOLD);
    let (snapshot, log): (Option<Vec<u8>>, Value) = store.query_pipe(&read).await?;
    let log = parse_log(id, log)?;
    let Some((last_id, _)) = log.last() else {
        return Ok(None);
    };
    let doc = Document::new(kind, client::catalog::random_client_id());
    let state = client::document::StoredState {
        snapshot,
        log: log.clone(),
    };
    state.apply_to(id, doc.replica())?;
    if doc.replica().is_waiting() {
        // Some update's dependency is in neither snapshot nor log: folding now would bury
        // the waiting update in the snapshot's pending part. Keep the log as it is.
        tracing::warn!(id, "log has updates with missing dependencies; not folded");
        return Ok(None);
    }
    let new_snapshot = doc.replica().snapshot_v2();
    let mut write = redis::pipe();
    write.atomic();
    write
        .cmd("SET")
        .arg(keys::snapshot(id))
        .arg(&new_snapshot)
        .arg("XX");
    write
        .cmd("XTRIM")
        .arg(keys::log(id))
        .arg("MINID")
        .arg(next_id(last_id));
    let (set, trimmed): (Option<String>, usize) = store.query_pipe(&write).await?;
    if set.is_none() {
        return Ok(None);
    }
    if trimmed != log.len() {
        tracing::warn!(
            id,
            folded = log.len(),
            trimmed,
            "trim removed a different count"
        );
    }
    Ok(Some(Folded {
        entries: log.len(),
        snapshot_bytes: new_snapshot.len(),
        last_ms: id_ms(last_id),
        more: log.len() == MAX_FOLD,
    }))
}

/// The smallest stream id greater than `id` (`ms-seq` → `ms-(seq+1)`).
fn next_id(id: &str) -> String {
    let (ms, seq) = split_id(id);
    match seq.checked_add(1) {
        Some(seq) => format!("{ms}-{seq}"),
        None => format!("{}-0", ms + 1),
    }
}

/// The time part of a stream id.
pub fn id_ms(id: &str) -> u64 {
    split_id(id).0
}

fn split_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_ids_follow_stream_order() {
        assert_eq!(next_id("5-0"), "5-1");
        assert_eq!(next_id("5-18446744073709551615"), "6-0");
        assert_eq!(id_ms("1700000000000-3"), 1_700_000_000_000);
    }
}
