//! Persistence: the append-only file (`aof`), snapshots (`snapshot`), and what both
//! need: a point-in-time image of the dataset that a background thread can write.

pub mod aof;
pub mod snapshot;

use crate::db::{SmallBytes, Value};
use crate::server::Server;

/// One key of an image: key, value, absolute expiry in Unix ms.
pub type ImageEntry = (SmallBytes, Value, Option<u64>);

/// A copy of every database, taken between two commands, owned so that another
/// thread can serialize it while the server goes on. Taking it costs a pause
/// proportional to the dataset (a deep copy) instead of Redis's fork; see
/// docs/PERSISTENCE.md for the trade-off.
pub struct DatasetImage {
    /// Per database index, its live keys.
    pub dbs: Vec<Vec<ImageEntry>>,
    /// Unix ms when the image was taken.
    pub taken_ms: u64,
}

impl DatasetImage {
    pub fn key_count(&self) -> usize {
        self.dbs.iter().map(Vec::len).sum()
    }
}

/// Copies the whole dataset (expired keys left out).
pub fn capture(srv: &Server) -> DatasetImage {
    let now = crate::clock::now_ms();
    let dbs = srv
        .dbs
        .iter()
        .map(|db| {
            let mut db = db.borrow_mut();
            db.now_ms = now;
            db.iter_with_expiry()
                .map(|(k, v, at)| (k.clone(), v.deep_clone(), at))
                .collect()
        })
        .collect();
    DatasetImage { dbs, taken_ms: now }
}

/// Loads persisted data at start-up, as Redis does: the AOF when `appendonly yes`,
/// otherwise the snapshot file.
pub fn load_at_start(srv: &Server) -> anyhow::Result<()> {
    let aof_enabled = srv.config.borrow().get("appendonly") == Some("yes");
    if aof_enabled {
        aof::load_at_start(srv)
    } else {
        snapshot::load_at_start(srv)
    }
}

/// Redis's `shared.bgsaveerr`.
pub const BGSAVE_ERR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Why write commands (and PING) are refused after a persistence error, as Redis's
/// `writeCommandsDeniedByDiskError`: a failed background save while save points are
/// configured and `stop-writes-on-bgsave-error yes`, or a failed AOF write or fsync.
/// Cleared by the next successful save, write or fsync.
pub fn write_denied(srv: &Server) -> Option<String> {
    if !srv.snapshot.borrow().last_bgsave_ok
        && srv.config.borrow().get("stop-writes-on-bgsave-error") != Some("no")
        && snapshot::has_save_points(srv)
    {
        return Some(BGSAVE_ERR.to_string());
    }
    aof::write_error(&srv.aof)
}

/// How SHUTDOWN asked to treat snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownSave {
    /// Save if save points are configured (SIGTERM, plain SHUTDOWN).
    Default,
    Save,
    NoSave,
}

/// Makes everything promised durable before the process exits. Only a failed final
/// snapshot is an error (it stops the shutdown); an AOF that cannot be fsynced is
/// logged, as Redis does.
pub fn on_shutdown(srv: &Server, save: ShutdownSave) -> anyhow::Result<()> {
    if let Err(e) = aof::on_shutdown(srv) {
        tracing::warn!("Fail to fsync the AOF file: {e:#}.");
    }
    snapshot::on_shutdown(srv, save)
}
