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
/// id keeps them; `SET … XX` never resurrects a deleted document. The snapshot is
/// `WATCH`ed from the read to the write: the lease keeps folders apart, but a holder that
/// stalls past the lease's expiry while a successor folds would otherwise overwrite the
/// successor's snapshot with an older one, losing the entries the successor trimmed. Then
/// the fold fails with [`client::ClientError::Changed`] and is retried next round.
pub async fn fold(store: &Store, id: &str, kind: DocKind) -> client::Result<Option<Folded>> {
    fold_with(store, id, kind, async {}).await
}

/// [`fold`], running `between` after the read and before the write (tests use it to
/// interleave a second folder).
async fn fold_with(
    store: &Store,
    id: &str,
    kind: DocKind,
    between: impl std::future::Future<Output = ()>,
) -> client::Result<Option<Folded>> {
    let mut read = redis::pipe();
    read.cmd("WATCH").arg(keys::snapshot(id)).ignore();
    read.cmd("GET").arg(keys::snapshot(id));
    read.cmd("XRANGE")
        .arg(keys::log(id))
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(MAX_FOLD);
    let (snapshot, log): (Option<Vec<u8>>, Value) = store.query_pipe(&read).await?;
    let log = match parse_log(id, log) {
        Ok(log) => log,
        Err(e) => {
            unwatch(store, id).await;
            return Err(e);
        }
    };
    let Some((last_id, _)) = log.last() else {
        unwatch(store, id).await;
        return Ok(None);
    };
    let doc = Document::new(kind, client::catalog::random_client_id());
    let state = client::document::StoredState {
        snapshot,
        log: log.clone(),
    };
    if let Err(e) = state.apply_to(id, doc.replica()) {
        unwatch(store, id).await;
        return Err(e);
    }
    if doc.replica().is_waiting() {
        // Some update's dependency is in neither snapshot nor log: folding now would bury
        // the waiting update in the snapshot's pending part. Keep the log as it is.
        tracing::warn!(id, "log has updates with missing dependencies; not folded");
        unwatch(store, id).await;
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
    between.await;
    let done: Option<(Option<String>, usize)> = store.query_pipe(&write).await?;
    let Some((set, trimmed)) = done else {
        return Err(client::ClientError::Changed(keys::snapshot(id)));
    };
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

/// Drops the fold's `WATCH` when it ends without writing (a left-over watch would abort
/// the next fold on the same connection). An empty-handed `MULTI`/`EXEC` on the document's
/// key does it: unlike a keyless `UNWATCH`, a cluster client routes it to the node that
/// holds the watch.
async fn unwatch(store: &Store, id: &str) {
    let mut pipe = redis::pipe();
    pipe.atomic().cmd("EXISTS").arg(keys::snapshot(id)).ignore();
    if let Err(e) = store.query_pipe::<()>(&pipe).await {
        tracing::debug!(id, "dropping the fold's WATCH failed: {e}");
    }
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

    /// A standalone `rustidocs-node` (built beside this test binary's directory, as
    /// `cargo build --bins` leaves it) on a free port; killed on drop.
    struct Node {
        child: std::process::Child,
        port: u16,
        dir: std::path::PathBuf,
    }

    impl Node {
        fn start() -> Node {
            let exe = std::env::current_exe().unwrap();
            let bin = exe
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("rustidocs-node");
            assert!(
                bin.is_file(),
                "{} missing: run `cargo build --bins`",
                bin.display()
            );
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = std::env::temp_dir().join(format!("rustidocs-fold-{port}"));
            std::fs::create_dir_all(&dir).unwrap();
            let child = std::process::Command::new(bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(&dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            Node { child, port, dir }
        }

        async fn store(&self) -> Store {
            let addr = vec![format!("127.0.0.1:{}", self.port)];
            for _ in 0..400 {
                if let Ok(s) = Store::connect(&addr).await {
                    return s;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            panic!("node on port {} never answered", self.port);
        }
    }

    impl Drop for Node {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A folder that read before a second folder folded (it lost the lease while stalled)
    /// must not write its older snapshot over the second one's: the entries the second
    /// trimmed would be in neither snapshot nor log.
    #[test]
    fn a_stale_folder_does_not_overwrite_a_newer_fold() {
        let node = Node::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (stale, other) = (node.store().await, node.store().await);
            let info = stale.create(DocKind::Text, "Race", "t").await.unwrap();
            let id = info.id.as_str();
            let writer = docs::TextDoc::with_client_id(7);
            for c in ["a", "b", "c"] {
                let u = writer.insert(writer.len_chars(), c).unwrap();
                stale.append_update(id, &u).await.unwrap();
            }
            let second_folder = async {
                let u = writer.insert(3, "d").unwrap();
                other.append_update(id, &u).await.unwrap();
                let f = fold(&other, id, DocKind::Text).await.unwrap().unwrap();
                assert_eq!(f.entries, 4);
            };
            let first = fold_with(&stale, id, DocKind::Text, second_folder).await;
            assert!(
                matches!(first, Err(client::ClientError::Changed(_))),
                "{:?}",
                first.map(|f| f.map(|f| f.entries))
            );
            let loaded = client::document::load(&stale, id, 1).await.unwrap();
            assert_eq!(loaded.doc.text(id).unwrap().content(), "abcd");
            // The watch is gone with the aborted transaction: the next fold goes through.
            let u = writer.insert(4, "e").unwrap();
            stale.append_update(id, &u).await.unwrap();
            let f = fold(&stale, id, DocKind::Text).await.unwrap().unwrap();
            assert_eq!(f.entries, 1);
        });
    }

    #[test]
    fn next_ids_follow_stream_order() {
        assert_eq!(next_id("5-0"), "5-1");
        assert_eq!(next_id("5-18446744073709551615"), "6-0");
        assert_eq!(id_ms("1700000000000-3"), 1_700_000_000_000);
    }
}
