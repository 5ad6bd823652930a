//! The append-only file: Redis 7's multi-part AOF (base + incremental files and a
//! manifest), fsync policies, rewriting, loading and checking. See docs/PERSISTENCE.md.
//!
//! The write path: commands reach `srv.propagator` as RESP; before a connection sends
//! replies it calls [`wait_durable`], which writes everything pending to the current
//! incremental file (one `write()` for all clients served so far) and, with
//! `appendfsync always`, waits until [`fsync_task`] has fsynced past it. That task runs
//! one fsync at a time on a blocking thread while the event loop goes on, so every
//! client served meanwhile shares the next fsync (group commit).

mod base;
pub mod check;
mod load;
pub mod manifest;
pub mod reader;
mod rewrite;
pub mod scan;

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::server::Server;
use manifest::Manifest;

pub use load::load_at_start;
pub use rewrite::{bgrewriteaof, COMMANDS};

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
    /// Wakes [`fsync_task`]; `progress` wakes clients waiting on it.
    kick: Notify,
    progress: Notify,
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

/// Writes every pending propagated byte to the current incremental file. A failed
/// write is retried later; with `appendfsync always` it stops the server, as Redis
/// does, because replies would otherwise promise what is not on disk.
pub fn write_pending(srv: &Server) {
    let aof = &srv.aof;
    let mut files = aof.files.borrow_mut();
    let mut bytes = srv.propagator.borrow_mut().take();
    let end = srv.propagator.borrow().offset;
    if bytes.is_empty() && files.unwritten.is_empty() {
        return;
    }
    if !files.unwritten.is_empty() {
        let mut all = std::mem::take(&mut files.unwritten);
        all.extend_from_slice(&bytes);
        bytes = all;
    }
    let Some(file) = files.current.clone() else {
        return;
    };
    match (&*file).write_all(&bytes) {
        Ok(()) => {
            files.current_size += bytes.len() as u64;
            aof.written.set(end);
            if !aof.stats.last_write_ok.replace(true) {
                tracing::warn!("AOF write error looks solved, Redis can write again.");
            }
        }
        Err(e) => {
            // Drop what a partial write left, so the file never holds half a record.
            let _ = file.set_len(files.current_size);
            aof.stats.last_write_ok.set(false);
            tracing::warn!("Error writing to the AOF file: {e}");
            if aof.policy.get() == Fsync::Always {
                tracing::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            files.unwritten = bytes;
        }
    }
}

/// Called before a connection sends replies (only when the AOF is on): makes what
/// was propagated so far as durable as `appendfsync` promises.
pub async fn wait_durable(srv: &Server) {
    let aof = &srv.aof;
    write_pending(srv);
    if aof.policy.get() != Fsync::Always {
        return;
    }
    let target = aof.written.get();
    while aof.on.get() && aof.fsynced.get() < target {
        let progressed = aof.progress.notified();
        aof.kick.notify_one();
        progressed.await;
    }
}

/// Serves `appendfsync always`: one fsync at a time, covering everything written
/// when it starts; clients served while it runs share the next one.
pub async fn fsync_task(srv: Rc<Server>) {
    let aof = &srv.aof;
    loop {
        tokio::select! {
            _ = aof.kick.notified() => {}
            _ = srv.shutdown.notified() => return,
        }
        loop {
            write_pending(&srv);
            let target = aof.written.get();
            let file = aof.files.borrow().current.clone();
            let Some(file) = file.filter(|_| aof.on.get() && aof.fsynced.get() < target) else {
                break;
            };
            match tokio::task::spawn_blocking(move || file.sync_data()).await {
                Ok(Ok(())) => aof.fsynced.set(aof.fsynced.get().max(target)),
                Ok(Err(e)) => fsync_failed(&e),
                Err(e) => fsync_failed(&e),
            }
            aof.progress.notify_waiters();
        }
        aof.progress.notify_waiters();
    }
}

fn fsync_failed(e: &dyn std::fmt::Display) {
    tracing::warn!(
        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
    );
    std::process::exit(1);
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
    reap_background_fsync(aof);
    if aof.policy.get() == Fsync::EverySec
        && aof.fsynced.get() < aof.written.get()
        && aof.background_fsync.borrow().is_none()
        && now.saturating_sub(aof.last_fsync_ms.get()) >= 1000
    {
        background_fsync(srv);
    }
    rewrite::maybe_auto_rewrite(srv);
}

/// The `everysec` fsync: on a blocking thread, never waited for by clients.
fn background_fsync(srv: &Server) {
    let aof = &srv.aof;
    let Some(file) = aof.files.borrow().current.clone() else {
        return;
    };
    aof.last_fsync_ms.set(crate::clock::now_ms());
    let handle = tokio::task::spawn_blocking(move || file.sync_data());
    *aof.background_fsync.borrow_mut() = Some((handle, aof.written.get()));
}

/// Records a finished `everysec` fsync.
fn reap_background_fsync(aof: &Aof) {
    let mut running = aof.background_fsync.borrow_mut();
    if !running.as_ref().is_some_and(|(h, _)| h.is_finished()) {
        return;
    }
    let (handle, target) = running.take().expect("checked");
    match futures_ready(handle) {
        Some(Ok(())) => aof.fsynced.set(aof.fsynced.get().max(target)),
        Some(Err(e)) => tracing::warn!("AOF background fsync failed: {e}"),
        None => {}
    }
}

/// The result of a finished blocking task, without awaiting it.
fn futures_ready<T>(
    handle: tokio::task::JoinHandle<std::io::Result<T>>,
) -> Option<std::io::Result<T>> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut handle = handle;
    match std::pin::Pin::new(&mut handle).poll(&mut cx) {
        std::task::Poll::Ready(Ok(r)) => Some(r),
        _ => None,
    }
}

/// Writes everything pending and fsyncs it (on shutdown, or when switching files).
fn sync_now(srv: &Server) -> std::io::Result<()> {
    write_pending(srv);
    let file = srv.aof.files.borrow().current.clone();
    if let Some(file) = file {
        file.sync_data()?;
        srv.aof.fsynced.set(srv.aof.written.get());
    }
    Ok(())
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
    srv.aof.progress.notify_waiters();
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
        ("aof_last_write_status", status(s.last_write_ok.get())),
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
