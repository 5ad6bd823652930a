//! Finding the cluster a `doc` command talks to: `--cluster`, `--dir`, `$RUSTIDOCS_CLUSTER`,
//! the local cluster recorded by `rustidocs cluster up`, else the conventional 127.0.0.1:7000.

use crate::cluster::resolve_endpoints;
use crate::layout::Layout;
use anyhow::Result;
use std::path::PathBuf;

/// Where a default Redis-style cluster listens when nothing else is known.
pub const FALLBACK: &str = "127.0.0.1:7000";

/// The endpoints to connect to. An explicit `--dir` without a cluster record is an error
/// (the user named it); the default directory without one falls back to [`FALLBACK`].
pub fn endpoints(cluster: Option<&str>, dir: Option<PathBuf>) -> Result<Vec<String>> {
    let env_set = std::env::var("RUSTIDOCS_CLUSTER").is_ok_and(|s| !s.is_empty());
    if cluster.is_none() && dir.is_none() && !env_set && !default_record_exists() {
        return Ok(vec![FALLBACK.to_string()]);
    }
    resolve_endpoints(cluster, dir)
}

fn default_record_exists() -> bool {
    Layout::resolve(None).is_ok_and(|l| l.has_record())
}
