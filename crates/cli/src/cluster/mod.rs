//! `rustidocs cluster ...`: the subcommands, and what they share: talking to a node
//! (redis-rs, sync), parsing CLUSTER NODES / CLUSTER INFO, and finding the endpoints.

pub mod down;
pub mod status;
pub mod up;

use crate::layout::Layout;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub const SLOTS: u32 = 16384;

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Create (or restart) a local cluster and wait until it serves all slots.
    Up(up::UpArgs),
    /// Show the cluster's nodes and health; exit code 1 when degraded or down.
    Status(status::StatusArgs),
    /// Stop the local cluster's nodes (SIGTERM, so the AOF is flushed).
    Down(down::DownArgs),
}

pub fn run(cmd: ClusterCmd) -> Result<ExitCode> {
    match cmd {
        ClusterCmd::Up(a) => up::run(a),
        ClusterCmd::Status(a) => status::run(a),
        ClusterCmd::Down(a) => down::run(a),
    }
}

/// Where the cluster's endpoints come from, for commands that talk to a cluster:
/// `--cluster HOST:PORT[,...]`, else `$RUSTIDOCS_CLUSTER`, else the local cluster's
/// recorded nodes (in `dir`, or the default layout).
pub fn resolve_endpoints(cluster: Option<&str>, dir: Option<PathBuf>) -> Result<Vec<String>> {
    let from_env = std::env::var("RUSTIDOCS_CLUSTER")
        .ok()
        .filter(|s| !s.is_empty());
    if let Some(list) = cluster
        .map(str::to_string)
        .or(if dir.is_none() { from_env } else { None })
    {
        let eps: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if eps.is_empty() {
            bail!("empty cluster endpoint list");
        }
        return Ok(eps);
    }
    let layout = Layout::resolve(dir)?;
    let record = layout.read_record()?;
    Ok(record
        .ports
        .iter()
        .map(|p| format!("{}:{p}", record.host))
        .collect())
}

/// A sync connection with short timeouts: every caller polls or reports, none should hang.
pub fn connect(addr: &str) -> Result<redis::Connection> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let conn = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .with_context(|| format!("connecting to {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(conn)
}

pub fn ping(addr: &str) -> bool {
    connect(addr)
        .and_then(|mut c| Ok(redis::cmd("PING").query::<String>(&mut c)?))
        .is_ok()
}

/// CLUSTER INFO as a field map.
pub fn cluster_info(conn: &mut redis::Connection) -> Result<HashMap<String, String>> {
    let text: String = redis::cmd("CLUSTER").arg("INFO").query(conn)?;
    Ok(text
        .lines()
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// One line of CLUSTER NODES.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLine {
    pub id: String,
    /// `host:port`, without the bus port.
    pub addr: String,
    pub flags: Vec<String>,
    /// The master's id for a replica, `None` for a master.
    pub master: Option<String>,
    pub link: String,
    /// Owned slot ranges, inclusive; importing/migrating markers are left out.
    pub slots: Vec<(u32, u32)>,
}

impl NodeLine {
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    /// Flags that mean the node is not (yet) a working member.
    pub fn trouble_flags(&self) -> Vec<&str> {
        ["fail", "fail?", "handshake", "noaddr"]
            .into_iter()
            .filter(|f| self.has_flag(f))
            .collect()
    }

    pub fn is_master(&self) -> bool {
        self.has_flag("master")
    }

    pub fn role(&self) -> &'static str {
        if self.is_master() {
            "master"
        } else if self.has_flag("slave") {
            "replica"
        } else {
            "unknown"
        }
    }

    pub fn slot_count(&self) -> u32 {
        self.slots.iter().map(|(a, b)| b - a + 1).sum()
    }

    pub fn slots_text(&self) -> String {
        let parts: Vec<String> = self
            .slots
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(",")
        }
    }
}

/// CLUSTER NODES of the node at `addr`. A node that has not met another yet does not
/// know its own IP (`:7000`); it is filled in from `addr`.
pub fn cluster_nodes(conn: &mut redis::Connection, addr: &str) -> Result<Vec<NodeLine>> {
    let text: String = redis::cmd("CLUSTER").arg("NODES").query(conn)?;
    let host = addr.rsplit_once(':').map_or("", |(h, _)| h);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut n = parse_node_line(l)?;
            if n.addr.starts_with(':') {
                n.addr.insert_str(0, host);
            }
            Ok(n)
        })
        .collect()
}

pub fn parse_node_line(line: &str) -> Result<NodeLine> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 {
        bail!("bad CLUSTER NODES line: {line}");
    }
    // `ip:port@cport[,hostname]`
    let addr = f[1]
        .split(['@', ','])
        .next()
        .unwrap_or_default()
        .to_string();
    let slots = f[8..]
        .iter()
        .filter(|s| !s.starts_with('['))
        .map(|s| parse_range(s).with_context(|| format!("bad slot range {s}")))
        .collect::<Result<Vec<_>>>()?;
    Ok(NodeLine {
        id: f[0].to_string(),
        addr,
        flags: f[2].split(',').map(str::to_string).collect(),
        master: (f[3] != "-").then(|| f[3].to_string()),
        link: f[7].to_string(),
        slots,
    })
}

fn parse_range(s: &str) -> Option<(u32, u32)> {
    match s.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let a = s.parse().ok()?;
            Some((a, a))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_node_lines() {
        let m = parse_node_line(
            "07c3 127.0.0.1:30004@31004,host master - 0 1426238317239 4 connected 0-5460 7 [5461->-e7d1]",
        )
        .unwrap();
        assert_eq!(m.addr, "127.0.0.1:30004");
        assert_eq!(m.role(), "master");
        assert_eq!(m.slots, vec![(0, 5460), (7, 7)]);
        assert_eq!(m.slot_count(), 5462);
        assert_eq!(m.slots_text(), "0-5460,7");
        let r = parse_node_line("e7d1 127.0.0.1:30005@31005 myself,slave 07c3 0 0 4 connected")
            .unwrap();
        assert_eq!(r.master.as_deref(), Some("07c3"));
        assert_eq!(r.role(), "replica");
        assert!(r.has_flag("myself"));
        assert_eq!(r.slots_text(), "-");
    }

    #[test]
    fn explicit_endpoints_win() {
        let eps = resolve_endpoints(Some("a:1, b:2"), None).unwrap();
        assert_eq!(eps, vec!["a:1", "b:2"]);
    }
}
