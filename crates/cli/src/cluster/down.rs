//! `rustidocs cluster down`: SIGTERM every node of the local cluster (each flushes its
//! AOF and nodes.conf on the way out), wait for them, drop the pid files; `--purge` wipes.

use crate::layout::Layout;
use crate::process;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing::info;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Cluster directory [default: $RUSTIDOCS_HOME/cluster or ~/.local/share/rustidocs/cluster].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Delete the cluster directory (all data) after stopping.
    #[arg(long)]
    purge: bool,
    /// Seconds each node gets to exit.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

pub fn run(a: DownArgs) -> Result<ExitCode> {
    let layout = Layout::resolve(a.dir)?;
    if !layout.dir.exists() {
        info!("nothing at {}", layout.dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let stopped = process::stop_all(&layout, Duration::from_secs(a.timeout))?;
    info!("stopped {stopped} node(s)");
    if a.purge {
        // Only ever delete a directory `cluster up` made: a mistyped --dir must not wipe.
        if !layout.has_record() {
            bail!(
                "{} is not a rustidocs cluster directory (no cluster.json); not purging",
                layout.dir.display()
            );
        }
        std::fs::remove_dir_all(&layout.dir)?;
        info!("removed {}", layout.dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
