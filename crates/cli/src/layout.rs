//! Where a local cluster lives on disk: one directory per node (its redis.conf, data,
//! nodes.conf and log), `pids/` with one pid file per running node, and `cluster.json`.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The record file that marks a directory as ours and remembers the cluster's shape.
const RECORD: &str = "cluster.json";

/// A local cluster's directory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
}

/// What `cluster up` decided when it created the cluster; later commands read it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub host: String,
    pub ports: Vec<u16>,
    pub masters: usize,
    pub replicas: usize,
    /// The node binary the cluster was created with, reused by a later `up`.
    pub node_binary: Option<PathBuf>,
}

/// Settings written into every node's redis.conf.
pub struct NodeConf<'a> {
    pub host: &'a str,
    pub port: u16,
    pub node_timeout_ms: u64,
}

impl Layout {
    /// `dir` if given, else `$RUSTIDOCS_HOME/cluster`, else `~/.local/share/rustidocs/cluster`.
    /// Relative paths are made absolute because nodes run with their own working dirs.
    pub fn resolve(dir: Option<PathBuf>) -> Result<Layout> {
        let dir = match dir {
            Some(d) => d,
            None => default_dir()?,
        };
        let dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()?.join(dir)
        };
        Ok(Layout { dir })
    }

    pub fn node_dir(&self, port: u16) -> PathBuf {
        self.dir.join(port.to_string())
    }

    pub fn conf_path(&self, port: u16) -> PathBuf {
        self.node_dir(port).join("redis.conf")
    }

    pub fn pids_dir(&self) -> PathBuf {
        self.dir.join("pids")
    }

    pub fn pid_path(&self, port: u16) -> PathBuf {
        self.pids_dir().join(format!("{port}.pid"))
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join(RECORD)
    }

    /// True when `cluster up` has created a cluster here before.
    pub fn has_record(&self) -> bool {
        self.record_path().is_file()
    }

    pub fn read_record(&self) -> Result<Record> {
        let path = self.record_path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no local cluster in {} (run `rustidocs cluster up`)",
                self.dir.display()
            )
        })?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        parse_record(&v).with_context(|| format!("bad record {}", path.display()))
    }

    pub fn write_record(&self, r: &Record) -> Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let v = json!({
            "host": r.host,
            "ports": r.ports,
            "masters": r.masters,
            "replicas": r.replicas,
            "node_binary": r.node_binary.as_ref().map(|p| p.display().to_string()),
        });
        std::fs::write(self.record_path(), serde_json::to_string_pretty(&v)? + "\n")?;
        Ok(())
    }

    /// Writes the node's redis.conf (and its directory). Paths are absolute so the
    /// node does not depend on its working directory.
    pub fn write_node_conf(&self, c: &NodeConf) -> Result<()> {
        let dir = self.node_dir(c.port);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let text = format!(
            "# Written by `rustidocs cluster up`.\n\
             bind {host}\n\
             port {port}\n\
             daemonize no\n\
             cluster-enabled yes\n\
             cluster-config-file nodes.conf\n\
             cluster-node-timeout {timeout}\n\
             dir {dir}\n\
             appendonly yes\n\
             logfile {log}\n",
            host = c.host,
            port = c.port,
            timeout = c.node_timeout_ms,
            dir = dir.display(),
            log = dir.join("node.log").display(),
        );
        std::fs::write(self.conf_path(c.port), text)?;
        Ok(())
    }
}

fn default_dir() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("RUSTIDOCS_HOME").filter(|h| !h.is_empty()) {
        return Ok(Path::new(&home).join("cluster"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(Path::new(&home).join(".local/share/rustidocs/cluster")),
        None => bail!("neither --dir, $RUSTIDOCS_HOME nor $HOME is set"),
    }
}

fn parse_record(v: &Value) -> Result<Record> {
    let usize_field = |name: &str| -> Result<usize> {
        v[name]
            .as_u64()
            .map(|n| n as usize)
            .with_context(|| format!("missing {name}"))
    };
    let ports = v["ports"]
        .as_array()
        .context("missing ports")?
        .iter()
        .map(|p| {
            p.as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .context("bad port")
        })
        .collect::<Result<Vec<u16>>>()?;
    Ok(Record {
        host: v["host"].as_str().unwrap_or("127.0.0.1").to_string(),
        ports,
        masters: usize_field("masters")?,
        replicas: usize_field("replicas")?,
        node_binary: v["node_binary"].as_str().map(PathBuf::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let dir = std::env::temp_dir().join(format!("rustidocs-layout-{}", std::process::id()));
        let layout = Layout::resolve(Some(dir.clone())).unwrap();
        let r = Record {
            host: "127.0.0.1".into(),
            ports: vec![7000, 7001],
            masters: 2,
            replicas: 0,
            node_binary: Some("redis-server".into()),
        };
        layout.write_record(&r).unwrap();
        assert_eq!(layout.read_record().unwrap(), r);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
