//! Rewriting (BGREWRITEAOF, automatic, and the first base when the AOF is switched on
//! at runtime), as Redis 7 does it: new writes go to a new incremental file while a
//! background thread writes a base from a dataset image; then the manifest swaps.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Instant;

use super::manifest::{aof_dir, Manifest};
use super::{base, open_append, start_appending, sync_now, write_pending};
use crate::cmd::table::{CommandSpec, Flags};
use crate::cmd::{Args, CmdError, CmdResult, Ctx};
use crate::server::Server;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "bgrewriteaof",
    1,
    Flags::ADMIN.with(Flags::NOSCRIPT),
    bgrewriteaof,
)
.doc(
    "server",
    "1.0.0",
    "Asynchronously rewrite the append-only file",
)
.acl(&["admin", "slow", "dangerous"])];

/// A rewrite in progress.
pub struct Job {
    thread: Option<JoinHandle<anyhow::Result<u64>>>,
    started: Instant,
    temp_base: PathBuf,
    /// Incremental files (from the start of the manifest's list) the new base covers.
    covered_incrs: usize,
    /// Whether the new base is a snapshot (`.base.rdb`) or commands (`.base.aof`).
    snapshot_base: bool,
    /// Set when the AOF was switched off meanwhile: the result is thrown away.
    abandoned: bool,
}

impl Job {
    pub fn elapsed_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

pub fn bgrewriteaof(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.srv.aof.rewrite.borrow().is_some() {
        return Err(CmdError::msg(
            "ERR Background append only file rewriting already in progress",
        ));
    }
    start(ctx.srv).map_err(|e| {
        tracing::warn!("Can't rewrite append only file in background: {e:#}");
        CmdError::msg("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
    })?;
    ctx.out
        .simple(b"Background append only file rewriting started");
    Ok(())
}

/// Points the AOF state at `dir` / `appendfilename` and reads the manifest there
/// (when the AOF was off, nothing has read it yet).
fn ensure_files_known(srv: &Server) -> anyhow::Result<()> {
    let mut files = srv.aof.files.borrow_mut();
    if !files.prefix.is_empty() {
        return Ok(());
    }
    let cfg = srv.config.borrow();
    files.prefix = cfg
        .get("appendfilename")
        .unwrap_or("appendonly.aof")
        .to_string();
    files.dir = aof_dir("", cfg.get("appenddirname").unwrap_or("appendonlydir"));
    drop(cfg);
    std::fs::create_dir_all(&files.dir)?;
    let name = files.manifest_name();
    files.manifest = Manifest::load(&files.dir, &name)?.unwrap_or_default();
    Ok(())
}

/// Starts a rewrite: with the AOF on, appends move to a new incremental file first,
/// so the image taken right after covers exactly what the old files hold.
pub fn start(srv: &Server) -> anyhow::Result<()> {
    ensure_files_known(srv)?;
    let aof = &srv.aof;
    let covered_incrs = if aof.on.get() && !aof.files.borrow().first_rewrite {
        sync_now(srv)?;
        open_new_incr(srv)?;
        aof.files.borrow().manifest.incrs.len() - 1
    } else {
        aof.files.borrow().manifest.incrs.len()
    };
    let image = crate::persist::capture(srv);
    let temp_base = aof
        .files
        .borrow()
        .dir
        .join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let path = temp_base.clone();
    let preamble = base::preamble_enabled(srv);
    let thread = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || base::write_base_file(&path, &image, preamble))?;
    tracing::info!("Background append only file rewriting started");
    aof.rewrite_scheduled.set(false);
    *aof.rewrite.borrow_mut() = Some(Job {
        thread: Some(thread),
        started: Instant::now(),
        temp_base,
        covered_incrs,
        snapshot_base: preamble,
        abandoned: false,
    });
    Ok(())
}

/// Adds a new incremental file to the manifest (persisted) and appends there.
fn open_new_incr(srv: &Server) -> anyhow::Result<()> {
    let aof = &srv.aof;
    let mut files = aof.files.borrow_mut();
    let mut manifest = files.manifest.clone();
    let prefix = files.prefix.clone();
    let incr = manifest.add_incr(&prefix);
    let file = open_append(&files.dir, &incr.name)?;
    manifest.persist(&files.dir, &files.manifest_name())?;
    tracing::info!("Creating AOF incr file {} on background rewrite", incr.name);
    files.manifest = manifest;
    files.earlier_size += files.current_size;
    files.current_size = 0;
    files.current = Some(std::sync::Arc::new(file));
    drop(files);
    // The new file must select its database itself.
    srv.propagator.borrow_mut().reset_selected_db();
    Ok(())
}

/// `CONFIG SET appendonly yes`: appends go to a temporary file until a rewrite has
/// written the first base; then both join a fresh manifest.
pub fn start_at_runtime(srv: &Server) -> anyhow::Result<()> {
    if srv.aof.rewrite.borrow().is_some() {
        abandon(srv);
    }
    ensure_files_known(srv)?;
    let temp = srv.aof.files.borrow().temp_incr_path();
    let file = std::fs::File::create(&temp)?;
    srv.aof.files.borrow_mut().first_rewrite = true;
    start_appending(srv, file, 0);
    start(srv)
}

/// Checks whether the rewrite thread is done and installs its result.
pub fn poll(srv: &Server) {
    let aof = &srv.aof;
    let finished = aof
        .rewrite
        .borrow()
        .as_ref()
        .is_some_and(|j| j.thread.as_ref().is_some_and(|t| t.is_finished()));
    if finished {
        let job = aof.rewrite.borrow_mut().take().expect("checked");
        complete(srv, job);
    } else if aof.rewrite_scheduled.get() && aof.rewrite.borrow().is_none() {
        if let Err(e) = start(srv) {
            tracing::warn!("Can't rewrite append only file in background: {e:#}");
        }
    }
}

fn complete(srv: &Server, mut job: Job) {
    let aof = &srv.aof;
    let secs = job.started.elapsed().as_secs() as i64;
    let result = match job.thread.take().map(JoinHandle::join) {
        Some(Ok(r)) => r,
        _ => Err(anyhow::anyhow!("the rewrite thread panicked")),
    };
    if job.abandoned {
        let _ = std::fs::remove_file(&job.temp_base);
        return;
    }
    let outcome = result.and_then(|size| install(srv, &job, size));
    let s = &aof.stats;
    s.last_rewrite_secs.set(secs);
    match outcome {
        Ok(()) => {
            s.rewrites.set(s.rewrites.get() + 1);
            s.consecutive_failures.set(0);
            s.last_rewrite_ok.set(true);
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            let _ = std::fs::remove_file(&job.temp_base);
            s.consecutive_failures.set(s.consecutive_failures.get() + 1);
            s.last_rewrite_ok.set(false);
            tracing::warn!("Background AOF rewrite failed: {e:#}");
            // The first base is required: try again (Redis: aof_rewrite_scheduled).
            if aof.files.borrow().first_rewrite {
                aof.rewrite_scheduled.set(true);
            }
        }
    }
}

/// Renames the new base into place, persists the manifest that names it, deletes
/// the files it replaces. Until the manifest rename, the old set stays valid.
fn install(srv: &Server, job: &Job, base_size: u64) -> anyhow::Result<()> {
    let aof = &srv.aof;
    let mut files = aof.files.borrow_mut();
    let mut manifest = files.manifest.clone();
    let prefix = files.prefix.clone();
    let base = manifest.install_base(&prefix, job.covered_incrs, job.snapshot_base);
    std::fs::rename(&job.temp_base, files.dir.join(&base.name))?;
    tracing::info!(
        "Successfully renamed the temporary AOF base file {} into {}",
        job.temp_base.display(),
        base.name
    );
    if files.first_rewrite {
        let incr = manifest.add_incr(&prefix);
        std::fs::rename(files.temp_incr_path(), files.dir.join(&incr.name))?;
    }
    // Replaced files are left out of the manifest, then deleted (a crash in between
    // only leaves unreferenced files).
    let history = std::mem::take(&mut manifest.history);
    manifest.persist(&files.dir, &files.manifest_name())?;
    for old in history {
        tracing::info!("Removing the history file {} in the background", old.name);
        let _ = std::fs::remove_file(files.dir.join(&old.name));
    }
    let kept: u64 = manifest.incrs[..manifest.incrs.len().saturating_sub(1)]
        .iter()
        .map(|f| file_size(&files.dir.join(&f.name)))
        .sum();
    files.manifest = manifest;
    files.first_rewrite = false;
    files.earlier_size = base_size + kept;
    if !aof.on.get() {
        files.earlier_size = base_size;
        files.current_size = 0;
    }
    aof.stats
        .base_size
        .set(files.earlier_size + files.current_size);
    Ok(())
}

pub fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Starts a rewrite when the AOF grew by `auto-aof-rewrite-percentage` over its size
/// after the last rewrite, and is past `auto-aof-rewrite-min-size`.
pub fn maybe_auto_rewrite(srv: &Server) {
    let aof = &srv.aof;
    if aof.rewrite.borrow().is_some() {
        return;
    }
    let (percent, min_size) = {
        let cfg = srv.config.borrow();
        let num = |n: &str| cfg.get(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (
            num("auto-aof-rewrite-percentage"),
            num("auto-aof-rewrite-min-size"),
        )
    };
    let size = aof.total_size();
    if percent == 0 || size <= min_size {
        return;
    }
    let base = aof.stats.base_size.get().max(1);
    let growth = (size * 100 / base).saturating_sub(100);
    if growth >= percent {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        if let Err(e) = start(srv) {
            tracing::warn!("Can't rewrite append only file in background: {e:#}");
        }
    }
}

/// The AOF was switched off: a running rewrite's result is not installed.
pub fn abandon(srv: &Server) {
    if let Some(job) = srv.aof.rewrite.borrow_mut().as_mut() {
        job.abandoned = true;
    }
    let mut files = srv.aof.files.borrow_mut();
    if files.first_rewrite {
        let _ = std::fs::remove_file(files.temp_incr_path());
        files.first_rewrite = false;
    }
}

/// On shutdown while the first base is being written, waits for it: otherwise the
/// writes in the temporary file would belong to no manifest.
pub fn finish_first_rewrite_before_exit(srv: &Server) {
    if !srv.aof.files.borrow().first_rewrite {
        return;
    }
    let job = srv.aof.rewrite.borrow_mut().take();
    if let Some(job) = job {
        tracing::warn!("Writing initial AOF before exit.");
        write_pending(srv);
        complete(srv, job);
    }
}
