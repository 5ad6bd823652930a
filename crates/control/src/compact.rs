//! Compaction: folds a document's log into its snapshot and trims exactly the folded
//! entries, in one MULTI/EXEC so a reader always sees every update in one of the two.

use client::document::{parse_log, Document};
use client::Store;
use docs::replica::Logged;
use docs::{keys, DocKind};
use redis::Value;

/// At most this many log entries are folded per document per round, so one huge log
/// cannot stall the service; the rest is folded in the following rounds.
pub const MAX_FOLD: usize = 50_000;

/// A log entry that still waits for a dependency after every entry read was applied is
/// dropped from the fold once it is this much older than the newest entry read (see
/// docs/DOCUMENTS.md, "The control service", for why no legitimate edit is dropped).
/// Younger, the fold stops before it and looks again after the next write.
pub const WAIT_AGE_MS: u64 = 60_000;

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
/// the log is empty, starts with an entry that waits for a dependency (see [`Plan`]), or
/// the document was deleted meanwhile.
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
    if log.is_empty() {
        unwatch(store, id).await;
        return Ok(None);
    }
    let plan = match Plan::make(id, kind, snapshot.as_deref(), &log) {
        Ok(p) => p,
        Err(e) => {
            unwatch(store, id).await;
            return Err(e);
        }
    };
    if plan.cut == 0 {
        tracing::info!(id, entry = %log[0].0, "log starts with an update waiting for a dependency; not folded yet");
        unwatch(store, id).await;
        return Ok(None);
    }
    for (i, status) in plan.status.iter().enumerate() {
        match status {
            Logged::Applied => {}
            Logged::Waiting => tracing::warn!(
                id,
                entry = %log[i].0,
                "dropped a log entry whose dependency never came"
            ),
            Logged::Malformed => {
                tracing::warn!(id, entry = %log[i].0, "dropped a malformed log entry")
            }
        }
    }
    let last_id = &log[plan.cut - 1].0;
    let new_snapshot = plan.doc.replica().snapshot_v2();
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
    if trimmed != plan.cut {
        tracing::warn!(
            id,
            folded = plan.cut,
            trimmed,
            "trim removed a different count"
        );
    }
    Ok(Some(Folded {
        entries: plan.cut,
        snapshot_bytes: new_snapshot.len(),
        last_ms: id_ms(last_id),
        more: log.len() == MAX_FOLD,
    }))
}

/// What a fold writes: the snapshot with the first `cut` log entries applied (those of
/// them that cannot be applied left out), found as follows. Every entry is applied (in
/// log order, to the snapshot); one that still waits then has a dependency in neither
/// snapshot nor log. The fold stops before the first such entry younger than
/// [`WAIT_AGE_MS`] (its dependency may still be on its way), and before any entry that
/// integrates with the whole log but not with the part folded (so none is dropped for
/// lack of what comes after the cut). What is left out below the cut is old and waits
/// with the whole log applied, or is malformed.
struct Plan {
    doc: Document,
    cut: usize,
    /// What became of each of the first `cut` entries.
    status: Vec<Logged>,
}

impl Plan {
    fn make(
        id: &str,
        kind: DocKind,
        snapshot: Option<&[u8]>,
        log: &[(String, Vec<u8>)],
    ) -> client::Result<Plan> {
        let newest = log.last().map_or(0, |(e, _)| id_ms(e));
        let young = |i: usize| id_ms(&log[i].0).saturating_add(WAIT_AGE_MS) > newest;
        let (full_doc, full) = apply(id, kind, snapshot, log)?;
        let mut cut = (0..log.len())
            .find(|&i| full[i] == Logged::Waiting && young(i))
            .unwrap_or(log.len());
        let (mut doc, mut status) = if cut == log.len() {
            (full_doc, full.clone())
        } else {
            apply(id, kind, snapshot, &log[..cut])?
        };
        while let Some(i) =
            (0..cut).find(|&i| status[i] == Logged::Waiting && full[i] != Logged::Waiting)
        {
            cut = i;
            (doc, status) = apply(id, kind, snapshot, &log[..cut])?;
        }
        Ok(Plan { doc, cut, status })
    }
}

/// A fresh document with `snapshot` and `log` applied, and what became of each entry.
fn apply(
    id: &str,
    kind: DocKind,
    snapshot: Option<&[u8]>,
    log: &[(String, Vec<u8>)],
) -> client::Result<(Document, Vec<Logged>)> {
    let doc = Document::new(kind, client::catalog::random_client_id());
    if let Some(snap) = snapshot {
        doc.replica()
            .apply_update_v2(snap)
            .map_err(|e| client::ClientError::BadData {
                key: keys::snapshot(id),
                why: e.to_string(),
            })?;
    }
    let updates: Vec<&[u8]> = log.iter().map(|(_, u)| u.as_slice()).collect();
    let status = doc.replica().apply_log_v1(&updates);
    Ok((doc, status))
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

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A folder that read before a second folder folded (it lost the lease while stalled)
    /// must not write its older snapshot over the second one's: the entries the second
    /// trimmed would be in neither snapshot nor log.
    #[test]
    fn a_stale_folder_does_not_overwrite_a_newer_fold() {
        let node = Node::start();
        block_on(async {
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

    /// Appends `update` to the log under an explicit stream id.
    async fn xadd_at(store: &Store, id: &str, entry: &str, update: &[u8]) {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(keys::log(id))
            .arg(entry)
            .arg(keys::LOG_FIELD)
            .arg(update);
        store.query::<String>(&cmd).await.unwrap();
    }

    async fn log_len(store: &Store, id: &str) -> usize {
        store
            .query(redis::cmd("XLEN").arg(keys::log(id)))
            .await
            .unwrap()
    }

    /// An update of a writer whose earlier edits nobody has: it waits forever.
    fn orphan() -> Vec<u8> {
        let w = docs::TextDoc::with_client_id(77);
        w.insert(0, "lost").unwrap();
        w.insert(0, "o").unwrap()
    }

    /// Anyone may XADD to a log: an entry that can never be applied (a missing dependency,
    /// or bytes that do not decode) is dropped from the fold once it is old, instead of
    /// stopping folding for the document for good.
    #[test]
    fn entries_that_can_never_apply_do_not_stop_folding() {
        let node = Node::start();
        block_on(async {
            let store = node.store().await;
            let id = store.create(DocKind::Text, "Bogus", "t").await.unwrap().id;
            let id = id.as_str();
            xadd_at(&store, id, "1000-0", &orphan()).await;
            xadd_at(
                &store,
                id,
                "1001-0",
                &[0, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1],
            )
            .await;
            let writer = docs::TextDoc::with_client_id(7);
            for c in ["a", "b", "c"] {
                let u = writer.insert(writer.len_chars(), c).unwrap();
                store.append_update(id, &u).await.unwrap();
            }
            let f = fold(&store, id, DocKind::Text).await.unwrap().unwrap();
            assert_eq!(f.entries, 5);
            assert_eq!(log_len(&store, id).await, 0);
            let loaded = client::document::load(&store, id, 1).await.unwrap();
            assert_eq!(loaded.doc.text(id).unwrap().content(), "abc");
            assert!(!loaded.doc.replica().is_waiting());
        });
    }

    /// A young entry that waits may have its dependency on the way: the fold stops before
    /// it (folding what comes before) until later entries make it old.
    #[test]
    fn a_young_waiting_entry_is_kept_until_it_is_old() {
        let node = Node::start();
        block_on(async {
            let store = node.store().await;
            let id = store.create(DocKind::Text, "Young", "t").await.unwrap().id;
            let id = id.as_str();
            let writer = docs::TextDoc::with_client_id(7);
            let a = writer.insert(0, "a").unwrap();
            store.append_update(id, &a).await.unwrap();
            xadd_at(&store, id, "*", &orphan()).await;
            let b = writer.insert(1, "b").unwrap();
            store.append_update(id, &b).await.unwrap();
            let f = fold(&store, id, DocKind::Text).await.unwrap().unwrap();
            assert_eq!(f.entries, 1, "folded up to the waiting entry");
            assert_eq!(log_len(&store, id).await, 2);
            assert!(fold(&store, id, DocKind::Text).await.unwrap().is_none());

            // An entry written more than WAIT_AGE_MS later makes the waiting one old.
            let later = format!("{}-0", f.last_ms + WAIT_AGE_MS + 10_000);
            let c = writer.insert(2, "c").unwrap();
            xadd_at(&store, id, &later, &c).await;
            let f = fold(&store, id, DocKind::Text).await.unwrap().unwrap();
            assert_eq!(f.entries, 3);
            assert_eq!(log_len(&store, id).await, 0);
            let loaded = client::document::load(&store, id, 1).await.unwrap();
            assert_eq!(loaded.doc.text(id).unwrap().content(), "abc");
        });
    }

    /// An entry that integrates only with something after the cut is not dropped: the cut
    /// moves before it.
    #[test]
    fn the_cut_never_drops_an_entry_the_rest_of_the_log_completes() {
        let w = docs::TextDoc::with_client_id(7);
        let u1 = w.insert(0, "a").unwrap();
        let u2 = w.insert(1, "b").unwrap();
        let now = 10_000_000u64;
        // u2 (old) waits for u1, which comes after a young orphan.
        let log = vec![
            (format!("{}-0", now - 2 * WAIT_AGE_MS), u2),
            (format!("{}-0", now - 1000), orphan()),
            (format!("{now}-0"), u1),
        ];
        let plan = Plan::make("x", DocKind::Text, None, &log).unwrap();
        assert_eq!(plan.cut, 0);
    }

    #[test]
    fn next_ids_follow_stream_order() {
        assert_eq!(next_id("5-0"), "5-1");
        assert_eq!(next_id("5-18446744073709551615"), "6-0");
        assert_eq!(id_ms("1700000000000-3"), 1_700_000_000_000);
    }
}
