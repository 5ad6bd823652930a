//! Replication id and offset across restarts: written next to the data at a clean
//! shutdown (when the dataset on disk is exactly at that offset), read once at start.

use std::path::PathBuf;

use crate::server::Server;

const FILE: &str = "repl-state.txt";

fn path(srv: &Server) -> PathBuf {
    let dir = srv.config.borrow().dir.clone();
    let dir = std::path::Path::new(&dir);
    if dir.is_absolute() {
        dir.join(FILE)
    } else {
        PathBuf::from(FILE)
    }
}

/// At shutdown, after persistence: records `replid offset` if what is on disk now
/// matches the current offset (AOF on, or a snapshot just saved).
pub fn on_shutdown(srv: &Server, saved_snapshot_since_ms: u64) {
    let p = srv.propagator.borrow();
    if !p.repl.active() {
        return;
    }
    let persisted = srv.aof.is_on() || srv.last_save_ms.get() >= saved_snapshot_since_ms;
    if !persisted {
        return;
    }
    let text = format!("{} {}\n", srv.repl.borrow().replid, p.repl.offset);
    if let Err(e) = std::fs::write(path(srv), text) {
        tracing::warn!("Can't save the replication id and offset: {e}");
    }
}

/// At start: adopts the saved history (so a replica can PSYNC from it) and deletes
/// the file, since later saves would no longer match it.
pub fn restore(srv: &Server) {
    let path = path(srv);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let _ = std::fs::remove_file(&path);
    let mut words = text.split_whitespace();
    let (Some(id), Some(Ok(offset))) = (words.next(), words.next().map(str::parse::<u64>)) else {
        return;
    };
    if id.len() != 40 {
        return;
    }
    srv.repl.borrow_mut().replid = id.to_string();
    let size = super::backlog_size(srv);
    srv.propagator.borrow_mut().repl.reset(offset, size);
    crate::propagate::refresh_tracking(srv);
    tracing::info!("Replication history restored: {id}:{offset}");
}
