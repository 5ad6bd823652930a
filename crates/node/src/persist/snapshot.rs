//! Snapshots: the dataset written to `dbfilename` in our own format (see
//! docs/PERSISTENCE.md), SAVE/BGSAVE, save points, loading and checking.

use super::ShutdownSave;
use crate::server::Server;

/// Loads the snapshot file at start-up (not written yet: starts empty).
pub fn load_at_start(_srv: &Server) -> anyhow::Result<()> {
    Ok(())
}

/// Saves on shutdown when asked to, or when save points are configured.
pub fn on_shutdown(_srv: &Server, _save: ShutdownSave) -> anyhow::Result<()> {
    Ok(())
}
