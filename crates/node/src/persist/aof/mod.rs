//! The append-only file: Redis 7's multi-part AOF (base + incremental files and a
//! manifest), fsync policies, rewriting, loading and checking. See docs/PERSISTENCE.md.
//!
//! The write path (once per event-loop turn, group commit for `always`) is in
//! `write`.

mod base;
pub mod check;
mod load;
pub mod manifest;
pub mod reader;
mod rewrite;
pub mod scan;
mod write;

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::server::Server;
use manifest::Manifest;

pub use load::load_at_start;
pub use rewrite::{bgrewriteaof, COMMANDS};
use write::{sync_now, write_pending};
pub use write::{wait_durable, write_error, writer_task};

/// `appendfsync`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fsync {
    /// A write is fsynced before its reply is sent.
    Always,
    /// fsync at most about once a second, in the background.
    #[default]
    EverySec,
    /// write() only; the kernel decides.
    No,
}

impl Fsync {
    fn parse(value: Option<&str>) -> Fsync {
        match value {
            Some("always") => Fsync::Always,
            Some("no") => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// Where the files are and which one takes appends.
#[derive(Default)]
struct Files {
    dir: PathBuf,
    /// `appendfilename`: the prefix of every file name.
    prefix: String,
    manifest: Manifest,
    /// The incremental file appends go to.
    current: Option<Arc<File>>,
    current_size: u64,
    /// Sizes of the base and of the incremental files before the current one.
    earlier_size: u64,
    /// Bytes a failed write could not store; written first next time.
    unwritten: Vec<u8>,
    /// AOF switched on at runtime: appends go to a temporary incremental file that
    /// joins the manifest only when the first rewrite has produced a base.
    first_rewrite: bool,
}

impl Files {
    fn manifest_name(&self) -> String {
        format!("{}.manifest", self.prefix)
    }

    fn temp_incr_path(&self) -> PathBuf {
        self.dir.join(format!("temp-{}.incr", self.prefix))
    }
}

/// Counters for INFO persistence.
pub struct AofStats {
    pub rewrites: Cell<u64>,
    pub consecutive_failures: Cell<u64>,
    pub last_rewrite_ok: Cell<bool>,
    /// Seconds the last rewrite took, -1 before the first.
    pub last_rewrite_secs: Cell<i64>,
    pub last_write_ok: Cell<bool>,
    /// The last `everysec` background fsync succeeded.
    pub last_fsync_ok: Cell<bool>,
    /// strerror of the last failed write or fsync (for MISCONF).
    pub last_write_error: RefCell<String>,
    /// `aof_base_size`: total size after the last load or rewrite (auto-rewrite
    /// growth is measured against it).
    pub base_size: Cell<u64>,
}

impl Default for AofStats {
    fn default() -> Self {
        AofStats {
            rewrites: Cell::new(0),
            consecutive_failures: Cell::new(0),
            last_rewrite_ok: Cell::new(true),
            last_rewrite_secs: Cell::new(-1),
            last_write_ok: Cell::new(true),
            last_fsync_ok: Cell::new(true),
            last_write_error: RefCell::new(String::new()),
            base_size: Cell::new(0),
        }
    }
}

/// The AOF's state, `srv.aof`.
#[derive(Default)]
pub struct Aof {
    /// Appends are being written: the only thing the hot path looks at.
    on: Cell<bool>,
    policy: Cell<Fsync>,
    files: RefCell<Files>,
    /// Propagation offset written to the file, and fsynced.
    written: Cell<u64>,
    fsynced: Cell<u64>,
    /// The running `everysec` fsync and the offset it covers.
    background_fsync: RefCell<Option<(tokio::task::JoinHandle<std::io::Result<()>>, u64)>>,
    last_fsync_ms: Cell<u64>,
    /// Wakes [`writer_task`].
    kick: Notify,
    /// Write passes of [`writer_task`]; `written_progress` wakes clients after each.
    write_passes: Cell<u64>,
    written_progress: Notify,
    /// fsyncs started by [`writer_task`].
    fsyncs_started: Cell<u64>,
    /// Clients waiting for fsync number n wait on `fsync_progress[n % 2]`: a finished
    /// fsync wakes only the clients it covers, not those waiting for the next one.
    fsync_progress: [Notify; 2],
    rewrite: RefCell<Option<rewrite::Job>>,
    /// A rewrite to start at the next cron tick (after a failed first rewrite).
    rewrite_scheduled: Cell<bool>,
    pub stats: AofStats,
}

impl Aof {
    pub fn is_on(&self) -> bool {
        self.on.get()
    }

    /// Re-reads `appendfsync` (kept in a Cell: the write path runs per reply).
    fn refresh_policy(&self, srv: &Server) {
        self.policy
            .set(Fsync::parse(srv.config.borrow().get("appendfsync")));
    }

    fn total_size(&self) -> u64 {
        let f = self.files.borrow();
        f.earlier_size + f.current_size
    }
}

/// Periodic work (serverCron): write what expiry propagated, the `everysec` fsync,
/// rewrite completion and automatic rewrites.
pub fn cron(srv: &Server) {
    let aof = &srv.aof;
    aof.refresh_policy(srv);
    rewrite::poll(srv);
    if !aof.on.get() {
        return;
    }
    write_pending(srv);
    let now = crate::clock::now_ms();
    write::reap_background_fsync(aof);
    if aof.policy.get() == Fsync::EverySec
        && aof.fsynced.get() < aof.written.get()
        && aof.background_fsync.borrow().is_none()
        && now.saturating_sub(aof.last_fsync_ms.get()) >= 1000
    {
        write::background_fsync(srv);
    }
    rewrite::maybe_auto_rewrite(srv);
}

/// Flushes and fsyncs what is pending before exit.
pub fn on_shutdown(srv: &Server) -> anyhow::Result<()> {
    if !srv.aof.on.get() {
        return Ok(());
    }
    tracing::info!("Calling fsync() on the AOF file.");
    rewrite::finish_first_rewrite_before_exit(srv);
    sync_now(srv)?;
    Ok(())
}

/// Opens `name` in the AOF directory for appending.
fn open_append(dir: &std::path::Path, name: &str) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(name))
}

/// Starts appending to `file` (already in place): propagation on, offsets aligned.
fn start_appending(srv: &Server, file: File, size: u64) {
    let aof = &srv.aof;
    {
        let mut files = aof.files.borrow_mut();
        files.current = Some(Arc::new(file));
        files.current_size = size;
    }
    let mut p = srv.propagator.borrow_mut();
    // Whatever was propagated before the AOF existed is in the base already.
    p.take();
    p.reset_selected_db();
    aof.written.set(p.offset);
    aof.fsynced.set(p.offset);
    drop(p);
    crate::propagate::set_enabled(srv, true);
    aof.refresh_policy(srv);
    aof.stats.last_write_ok.set(true);
    aof.stats.last_fsync_ok.set(true);
    aof.on.set(true);
}

/// Reacts to CONFIG SET: `appendonly yes` starts the AOF with a rewrite that writes
/// the first base (as Redis does), `no` stops it; `appendfsync` applies at once.
pub fn config_changed(srv: &Server) {
    srv.aof.refresh_policy(srv);
    let wanted = srv.config.borrow().get("appendonly") == Some("yes");
    if wanted && !srv.aof.on.get() {
        if let Err(e) = rewrite::start_at_runtime(srv) {
            tracing::warn!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation: {e:#}");
        }
    } else if !wanted && srv.aof.on.get() {
        stop(srv);
    }
}

/// After a replica's full sync replaced the dataset: the AOF starts over with a first
/// rewrite, as Redis's `restartAOFAfterSYNC` (stop, then start).
pub fn restart_after_full_sync(srv: &Server) {
    stop(srv);
    if let Err(e) = rewrite::start_at_runtime(srv) {
        tracing::warn!("Failed enabling the AOF after successful master synchronization! Trying it again in one second: {e:#}");
    }
}

/// `appendonly no`: flush, close, stop propagating for the AOF.
fn stop(srv: &Server) {
    if let Err(e) = sync_now(srv) {
        tracing::warn!("Error fsyncing the AOF on stop: {e}");
    }
    rewrite::abandon(srv);
    srv.aof.on.set(false);
    srv.aof.files.borrow_mut().current = None;
    crate::propagate::set_enabled(srv, false);
    write::wake_all(&srv.aof);
    tracing::info!("Background append only file rewriting ... Killing AOF: appendonly turned off");
}

/// The AOF fields of INFO persistence, before the module fields.
pub fn info_fields(srv: &Server) -> Vec<(&'static str, String)> {
    let aof = &srv.aof;
    let s = &aof.stats;
    let job = aof.rewrite.borrow();
    let current = job.as_ref().map_or(-1, |j| j.elapsed_secs() as i64);
    vec![
        ("aof_enabled", u8::from(aof.on.get()).to_string()),
        (
            "aof_rewrite_in_progress",
            u8::from(job.is_some()).to_string(),
        ),
        (
            "aof_rewrite_scheduled",
            u8::from(aof.rewrite_scheduled.get()).to_string(),
        ),
        (
            "aof_last_rewrite_time_sec",
            s.last_rewrite_secs.get().to_string(),
        ),
        ("aof_current_rewrite_time_sec", current.to_string()),
        ("aof_last_bgrewrite_status", status(s.last_rewrite_ok.get())),
        ("aof_rewrites", s.rewrites.get().to_string()),
        (
            "aof_rewrites_consecutive_failures",
            s.consecutive_failures.get().to_string(),
        ),
        (
            "aof_last_write_status",
            status(s.last_write_ok.get() && s.last_fsync_ok.get()),
        ),
        ("aof_last_cow_size", "0".into()),
    ]
}

/// The fields INFO persistence adds at its end while the AOF is on.
pub fn info_fields_when_on(srv: &Server) -> Vec<(&'static str, String)> {
    let aof = &srv.aof;
    if !aof.on.get() {
        return Vec::new();
    }
    let pending = aof.files.borrow().unwritten.len();
    vec![
        ("aof_current_size", aof.total_size().to_string()),
        ("aof_base_size", aof.stats.base_size.get().to_string()),
        ("aof_pending_rewrite", "0".into()),
        ("aof_buffer_length", pending.to_string()),
        (
            "aof_pending_bio_fsync",
            u8::from(aof.background_fsync.borrow().is_some()).to_string(),
        ),
        ("aof_delayed_fsync", "0".into()),
    ]
}

fn status(ok: bool) -> String {
    if ok { "ok" } else { "err" }.to_string()
}
