//! Snapshots: the dataset written to `dbfilename` in our own format (see
//! docs/PERSISTENCE.md), SAVE/BGSAVE, save points, loading and checking.

pub mod check;
mod crc;
pub mod decode;
pub mod encode;
pub mod file;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

pub use decode::{decode, Decoder, ErrorKind, Item, Options, SnapError};
pub use encode::{encode, Encoder};
pub use file::{load_snapshot, write_snapshot};

use super::ShutdownSave;
use crate::server::Server;

/// File magic: the first 8 bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"RSTDSNAP";
pub const VERSION: u16 = 1;
/// Magic, version, flags, header CRC.
pub const HEADER_LEN: usize = 16;

/// Record kinds (first byte of a record).
pub mod kind {
    pub const DB: u8 = 0x01;
    pub const KEY: u8 = 0x02;
    pub const END: u8 = 0x7f;
}

/// Value types (first byte of a key record's payload).
pub mod vtype {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const HASH: u8 = 2;
    pub const SET: u8 = 3;
    pub const ZSET: u8 = 4;
    pub const STREAM: u8 = 5;
    /// Set on the type byte when an 8-byte expiry time follows it.
    pub const HAS_EXPIRY: u8 = 0x80;
}

/// After a failed background save, save points wait this long before trying again
/// (Redis's CONFIG_BGSAVE_RETRY_DELAY); a BGSAVE command does not wait.
const RETRY_DELAY_MS: u64 = 5000;

/// Snapshot bookkeeping kept in the server (INFO persistence reports it).
pub struct State {
    bg: Option<Background>,
    /// BGSAVE SCHEDULE (or BGSAVE inside MULTI) asked for a save the cron starts.
    pub scheduled: bool,
    pub last_bgsave_ok: bool,
    /// Duration of the last background save, -1 before the first.
    pub last_bgsave_secs: i64,
    last_try_ms: u64,
    /// Successful saves (SAVE and BGSAVE).
    pub saves: u64,
    pub loaded_keys: u64,
    pub expired_on_load: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            bg: None,
            scheduled: false,
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            last_try_ms: 0,
            saves: 0,
            loaded_keys: 0,
            expired_on_load: 0,
        }
    }
}

impl State {
    pub fn in_progress(&self) -> bool {
        self.bg.is_some()
    }

    /// Seconds the running background save has taken so far, -1 if none runs.
    pub fn current_secs(&self) -> i64 {
        self.bg
            .as_ref()
            .map_or(-1, |bg| bg.started.elapsed().as_secs() as i64)
    }
}

/// A background save: the writer thread and how it reports back.
struct Background {
    started: Instant,
    /// `srv.dirty` when the image was taken: what a success makes durable.
    dirty_before: u64,
    cancel: Arc<AtomicBool>,
    done: mpsc::Receiver<std::io::Result<()>>,
    thread: std::thread::JoinHandle<()>,
}

/// Where snapshots go: `dbfilename` in `dir`. The process already changed into `dir`
/// at start, so only an absolute `dir` (e.g. set later) needs joining.
pub fn path(srv: &Server) -> PathBuf {
    let cfg = srv.config.borrow();
    let name = cfg.get("dbfilename").unwrap_or("dump.rdb");
    let dir = Path::new(&cfg.dir);
    if dir.is_absolute() {
        dir.join(name)
    } else {
        PathBuf::from(name)
    }
}

/// Decoder options from the server's encoding limits.
pub fn options(srv: &Server) -> Options {
    let cfg = srv.config.borrow();
    let num = |name: &str, default: u64| {
        cfg.get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    Options {
        zset_max_listpack_entries: cfg.zset_max_listpack_entries,
        zset_max_listpack_value: cfg.zset_max_listpack_value,
        stream_node: crate::db::stream::NodeLimits {
            max_bytes: num("stream-node-max-bytes", 4096) as usize,
            max_entries: num("stream-node-max-entries", 100),
        },
    }
}

/// The `save` rules as (seconds, changes) pairs.
fn save_points(srv: &Server) -> Vec<(u64, u64)> {
    let cfg = srv.config.borrow();
    let words: Vec<u64> = cfg
        .get("save")
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    words.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// Whether any `save` point is configured.
pub fn has_save_points(srv: &Server) -> bool {
    !save_points(srv).is_empty()
}

/// Records a successful save of everything up to `dirty_before` changes.
fn saved(srv: &Server, dirty_before: u64) {
    srv.dirty.set(srv.dirty.get().saturating_sub(dirty_before));
    srv.last_save_ms.set(crate::clock::now_ms());
    srv.snapshot.borrow_mut().saves += 1;
}

/// SAVE: writes the live dataset in the foreground (no copy needed: nothing else
/// runs meanwhile).
pub fn save(srv: &Server) -> std::io::Result<()> {
    let path = path(srv);
    let dirty_before = srv.dirty.get();
    let now = crate::clock::now_ms();
    let result = file::write_atomically(&path, |w| {
        let mut enc = Encoder::new(w)?;
        for (index, db) in srv.dbs.iter().enumerate() {
            let mut db = db.borrow_mut();
            db.now_ms = now;
            if db.is_empty() {
                continue;
            }
            enc.begin_db(index, db.len())?;
            for (key, value, at) in db.iter_with_expiry() {
                enc.key(key, value, at)?;
            }
        }
        enc.finish().map(drop)
    });
    match &result {
        Ok(()) => {
            tracing::info!("DB saved on disk");
            saved(srv, dirty_before);
            srv.snapshot.borrow_mut().last_bgsave_ok = true;
        }
        // A failed foreground save leaves `rdb_last_bgsave_status` alone (so it denies
        // no writes), as Redis's rdbSave does.
        Err(e) => tracing::warn!("Failed saving the DB: {e}"),
    }
    result
}

/// Why BGSAVE could not start.
#[derive(Debug)]
pub enum BgsaveError {
    InProgress,
    Spawn(std::io::Error),
}

/// BGSAVE: takes a point-in-time image (a pause proportional to the dataset) and
/// writes it on a thread; [`cron`] collects the result.
pub fn start_background(srv: &Server) -> Result<(), BgsaveError> {
    if srv.snapshot.borrow().in_progress() {
        return Err(BgsaveError::InProgress);
    }
    let dirty_before = srv.dirty.get();
    let image = super::capture(srv);
    let path = path(srv);
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, done) = mpsc::channel();
    let stop = cancel.clone();
    let thread = std::thread::Builder::new()
        .name("bgsave".into())
        .spawn(move || {
            let cancelled = || stop.load(Ordering::Relaxed);
            let result = file::write_atomically(&path, |w| {
                encode::encode_until(&image, w, &cancelled).map(drop)
            });
            // Freeing the image here keeps that cost off the server thread too.
            drop(image);
            let _ = tx.send(result);
        })
        .map_err(BgsaveError::Spawn)?;
    tracing::info!("Background saving started");
    let mut st = srv.snapshot.borrow_mut();
    st.last_try_ms = crate::clock::now_ms();
    st.scheduled = false;
    st.bg = Some(Background {
        started: Instant::now(),
        dirty_before,
        cancel,
        done,
        thread,
    });
    Ok(())
}

/// From the server cron: collects a finished background save, then starts a
/// scheduled one or one a save point asks for.
pub fn cron(srv: &Server) {
    collect_background(srv);
    let st = srv.snapshot.borrow();
    if st.in_progress() {
        return;
    }
    let now = crate::clock::now_ms();
    let may_try = st.last_bgsave_ok || now.saturating_sub(st.last_try_ms) > RETRY_DELAY_MS;
    let scheduled = st.scheduled;
    drop(st);
    if !may_try {
        return;
    }
    if scheduled {
        let _ = start_background(srv);
        return;
    }
    let since_save = now.saturating_sub(srv.last_save_ms.get());
    let dirty = srv.dirty.get();
    let due = save_points(srv)
        .into_iter()
        .find(|&(secs, changes)| dirty >= changes && since_save > secs * 1000);
    if let Some((secs, changes)) = due {
        tracing::info!("{changes} changes in {secs} seconds. Saving...");
        let _ = start_background(srv);
    }
}

/// Applies the result of a background save that has finished.
fn collect_background(srv: &Server) {
    let mut st = srv.snapshot.borrow_mut();
    let result = match st.bg.as_ref().map(|bg| bg.done.try_recv()) {
        None | Some(Err(mpsc::TryRecvError::Empty)) => return,
        Some(Ok(result)) => result,
        Some(Err(mpsc::TryRecvError::Disconnected)) => {
            Err(std::io::Error::other("the background save thread died"))
        }
    };
    let bg = st.bg.take().expect("checked above");
    let _ = bg.thread.join();
    st.last_bgsave_secs = bg.started.elapsed().as_secs() as i64;
    st.last_bgsave_ok = result.is_ok();
    drop(st);
    match result {
        Ok(()) => {
            tracing::info!("Background saving terminated with success");
            saved(srv, bg.dirty_before);
        }
        Err(e) => tracing::warn!("Background saving error: {e}"),
    }
}

/// Stops a running background save and waits for its thread (which removes its
/// temporary file), as Redis kills its saving child.
fn cancel_background(srv: &Server) {
    let Some(bg) = srv.snapshot.borrow_mut().bg.take() else {
        return;
    };
    tracing::warn!("There is a background save in progress. Stopping it!");
    bg.cancel.store(true, Ordering::Relaxed);
    let _ = bg.thread.join();
}

/// Loads the snapshot file at start-up, if there is one. Keys already expired are
/// skipped. A damaged file stops the start with its name and the bad offset.
pub fn load_at_start(srv: &Server) -> anyhow::Result<()> {
    let path = path(srv);
    if !path.exists() {
        return Ok(());
    }
    let started = Instant::now();
    let (loaded, expired) = load_into(srv, &path, true)?;
    let mut st = srv.snapshot.borrow_mut();
    st.loaded_keys = loaded;
    st.expired_on_load = expired;
    tracing::info!("Done loading snapshot, keys loaded: {loaded}, keys expired: {expired}.");
    tracing::info!(
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Loads the snapshot file at `path` into the (empty) databases; returns (loaded,
/// expired) key counts. `skip_expired` leaves out keys whose TTL has passed (a
/// snapshot on its own); an AOF base keeps them, since later AOF records replay onto
/// them as they happened (Redis's RDB preamble is loaded the same way).
pub fn load_into(
    srv: &Server,
    path: &std::path::Path,
    skip_expired: bool,
) -> anyhow::Result<(u64, u64)> {
    let path = path.to_path_buf();
    let now = crate::clock::now_ms();
    let (mut loaded, mut expired) = (0u64, 0u64);
    let databases = srv.dbs.len();
    let mut db: Option<std::cell::RefMut<crate::db::Db>> = None;
    let result = file::read_file(&path, options(srv), |item| {
        let (key, value, at) = match item {
            Item::Db { index, keys } => {
                let next = srv.dbs.get(index).ok_or_else(|| {
                    format!("database {index} out of range (the server has {databases})")
                })?;
                db = None; // release the previous section's database first
                let db = db.insert(next.borrow_mut());
                // The count is CRC-checked, but stay sane if a file was crafted.
                db.reserve(keys.min(1 << 26) as usize);
                return Ok(());
            }
            Item::Key(entry) => entry,
        };
        if skip_expired && at.is_some_and(|t| t <= now) {
            expired += 1;
            return Ok(());
        }
        let db = db.as_mut().ok_or("key outside a database section")?;
        if !db.load_key(key, value, at) {
            return Err("duplicate key".into());
        }
        loaded += 1;
        Ok(())
    });
    drop(db);
    if let Err(e) = result {
        let shown = std::path::absolute(&path).unwrap_or(path);
        anyhow::bail!(
            "Bad snapshot file '{}': {e}. Refusing to start (`rustidocs-node --check-snapshot <file> --fix` keeps the good part).",
            shown.display()
        );
    }
    Ok((loaded, expired))
}

/// Saves on shutdown when asked to (SHUTDOWN SAVE), or by default when save points
/// are configured; SHUTDOWN NOSAVE never saves. A running background save is stopped.
pub fn on_shutdown(srv: &Server, save_mode: ShutdownSave) -> anyhow::Result<()> {
    cancel_background(srv);
    let wanted = match save_mode {
        ShutdownSave::Save => true,
        ShutdownSave::NoSave => false,
        ShutdownSave::Default => !save_points(srv).is_empty(),
    };
    if wanted {
        tracing::warn!("Saving the final snapshot before exiting.");
        save(srv)?;
    }
    Ok(())
}
