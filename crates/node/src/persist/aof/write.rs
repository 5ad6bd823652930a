//! The AOF write path: propagated bytes to the current incremental file, the fsync
//! promises of `appendfsync`, and write/fsync errors (which deny writes, MISCONF).

use std::future::Future;
use std::io::Write;
use std::rc::Rc;

use super::{Aof, Fsync};
use crate::server::Server;

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
            *aof.stats.last_write_error.borrow_mut() = strerror(&e);
            tracing::warn!("Error writing to the AOF file: {e}");
            if aof.policy.get() == Fsync::Always {
                tracing::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            files.unwritten = bytes;
        }
    }
}

/// The C library's text for an I/O error, as Redis's `strerror(errno)` shows it.
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Called before a connection sends replies (only when the AOF is on): makes what
/// was propagated so far as durable as `appendfsync` promises. The connection does
/// not write itself: [`writer_task`] runs after the other ready connections and
/// writes what they all propagated with one `write()` (Redis writes once per
/// event-loop turn), then fsyncs it with `always`.
pub async fn wait_durable(srv: &Server) {
    let aof = &srv.aof;
    if aof.policy.get() == Fsync::Always {
        wait_fsynced(srv).await;
        return;
    }
    if !srv.propagator.borrow().has_pending() && aof.files.borrow().unwritten.is_empty() {
        return;
    }
    // Released after the next write pass, even a failed one: as in Redis, replies of
    // that turn go out and the error denies later writes (MISCONF).
    let pass = aof.write_passes.get();
    while aof.on.get() && aof.write_passes.get() == pass && aof.policy.get() != Fsync::Always {
        let written = aof.written_progress.notified();
        aof.kick.notify_one();
        written.await;
    }
}

/// `appendfsync always`: waits for the fsync that covers everything propagated so far.
async fn wait_fsynced(srv: &Server) {
    let aof = &srv.aof;
    let target = srv.propagator.borrow().offset;
    while aof.on.get() && aof.fsynced.get() < target {
        // fsyncs run inline, so none is under way now: the next one covers us.
        let covering = aof.fsyncs_started.get() + 1;
        let progressed = aof.fsync_progress[(covering % 2) as usize].notified();
        aof.kick.notify_one();
        progressed.await;
    }
}

/// Writes what connections propagated, once per event-loop turn; with `appendfsync
/// always` also fsyncs it inline, as Redis's `beforeSleep` (group commit: every client
/// of the turn shares the fsync). Inline rather than on a blocking thread: the two
/// thread hand-offs per fsync cost ~10% of throughput at `redis-benchmark -P 1`.
pub async fn writer_task(srv: Rc<Server>) {
    let aof = &srv.aof;
    loop {
        tokio::select! {
            _ = aof.kick.notified() => {}
            _ = srv.shutdown.notified() => return,
        }
        loop {
            write_pending(&srv);
            aof.write_passes.set(aof.write_passes.get() + 1);
            aof.written_progress.notify_waiters();
            let target = aof.written.get();
            let file = aof.files.borrow().current.clone();
            let Some(file) = file.filter(|_| {
                aof.on.get() && aof.policy.get() == Fsync::Always && aof.fsynced.get() < target
            }) else {
                break;
            };
            let number = aof.fsyncs_started.get() + 1;
            aof.fsyncs_started.set(number);
            match file.sync_data() {
                Ok(()) => aof.fsynced.set(aof.fsynced.get().max(target)),
                Err(e) => fsync_failed(&e),
            }
            aof.fsync_progress[(number % 2) as usize].notify_waiters();
            // Let the clients just released send their replies, and the event loop
            // read what is ready, before the next fsync starts: its batch gets the
            // clients that answered at once (measured: ~10% fewer fsyncs per request
            // with redis-benchmark -c 50 -P 1).
            tokio::task::yield_now().await;
        }
        // Nothing left to fsync (e.g. a reader's reply behind an fsync already done,
        // or the AOF switched off): nobody may stay parked.
        wake_all(aof);
    }
}

/// Releases every waiting client (they re-check why they waited).
pub(super) fn wake_all(aof: &Aof) {
    aof.written_progress.notify_waiters();
    for slot in &aof.fsync_progress {
        slot.notify_waiters();
    }
}

fn fsync_failed(e: &dyn std::fmt::Display) {
    tracing::warn!(
        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
    );
    std::process::exit(1);
}

/// The `everysec` fsync: on a blocking thread, never waited for by clients.
pub(super) fn background_fsync(srv: &Server) {
    let aof = &srv.aof;
    let Some(file) = aof.files.borrow().current.clone() else {
        return;
    };
    aof.last_fsync_ms.set(crate::clock::now_ms());
    let handle = tokio::task::spawn_blocking(move || file.sync_data());
    *aof.background_fsync.borrow_mut() = Some((handle, aof.written.get()));
}

/// Records a finished `everysec` fsync. A failure denies writes (MISCONF) until an
/// fsync succeeds, as Redis's `aof_bio_fsync_status`.
pub(super) fn reap_background_fsync(aof: &Aof) {
    let mut running = aof.background_fsync.borrow_mut();
    if !running.as_ref().is_some_and(|(h, _)| h.is_finished()) {
        return;
    }
    let (handle, target) = running.take().expect("checked");
    match futures_ready(handle) {
        Some(Ok(())) => {
            aof.fsynced.set(aof.fsynced.get().max(target));
            aof.stats.last_fsync_ok.set(true);
        }
        Some(Err(e)) => {
            tracing::warn!("AOF background fsync failed: {e}");
            aof.stats.last_fsync_ok.set(false);
            *aof.stats.last_write_error.borrow_mut() = strerror(&e);
        }
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
pub(super) fn sync_now(srv: &Server) -> std::io::Result<()> {
    write_pending(srv);
    let file = srv.aof.files.borrow().current.clone();
    if let Some(file) = file {
        file.sync_data()?;
        srv.aof.fsynced.set(srv.aof.written.get());
    }
    Ok(())
}

/// Why write commands are refused because of the AOF (Redis's
/// `writeCommandsDeniedByDiskError`, AOF part): the last write or background fsync
/// failed.
pub fn write_error(aof: &Aof) -> Option<String> {
    if !aof.on.get() || (aof.stats.last_write_ok.get() && aof.stats.last_fsync_ok.get()) {
        return None;
    }
    Some(format!(
        "MISCONF Errors writing to the AOF file: {}",
        aof.stats.last_write_error.borrow()
    ))
}
