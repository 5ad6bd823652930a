//! A cluster of real processes for failover tests: masters with slot ranges, replicas
//! attached with CLUSTER REPLICATE, kill/restart/signal helpers and waits.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{cluster_info_field as info_field, free_port, text, Conn, Kind, Server};

/// nodes.conf files live outside the servers' directories (wiped on restart).
pub struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Masters 0..masters with equal slot ranges, then replicas; node timeout 1000 ms.
pub struct Cluster {
    pub nodes: Vec<Option<Server>>,
    pub ports: Vec<u16>,
    pub ids: Vec<String>,
    kind: Kind,
    extra: Vec<String>,
    dir: TempDir,
}

impl Cluster {
    /// Our nodes: `masters` masters, each with one replica (node i + masters) if asked.
    pub fn start(masters: usize, with_replicas: bool) -> Cluster {
        let replica_of: Vec<usize> = if with_replicas {
            (0..masters).collect()
        } else {
            Vec::new()
        };
        Cluster::start_layout(Kind::Ours, masters, &replica_of, &[])
    }

    /// `masters` masters, then one replica per entry of `replica_of` (the index of its
    /// master), each node started with the `extra` directives.
    pub fn start_layout(
        kind: Kind,
        masters: usize,
        replica_of: &[usize],
        extra: &[&str],
    ) -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "rustidocs-failover-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let total = masters + replica_of.len();
        let mut c = Cluster {
            nodes: Vec::new(),
            ports: Vec::new(),
            ids: Vec::new(),
            kind,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            dir: TempDir(dir),
        };
        for _ in 0..total {
            let port = free_port();
            c.ports.push(port);
            c.nodes.push(Some(c.spawn(port)));
            c.ids
                .push(text(Conn::connect(port).cmd(&["CLUSTER", "MYID"])));
        }
        for i in 0..masters {
            let (start, end) = (16384 * i / masters, 16384 * (i + 1) / masters - 1);
            let (s, e) = (start.to_string(), end.to_string());
            let reply = c.conn(i).cmd(&["CLUSTER", "ADDSLOTSRANGE", &s, &e]);
            assert_eq!(reply, super::ok());
        }
        let first = c.ports[0].to_string();
        for i in 1..total {
            let reply = c.conn(i).cmd(&["CLUSTER", "MEET", "127.0.0.1", &first]);
            assert_eq!(reply, super::ok());
        }
        c.wait_all_known();
        for (k, &m) in replica_of.iter().enumerate() {
            let master = c.ids[m].clone();
            let reply = c.conn(masters + k).cmd(&["CLUSTER", "REPLICATE", &master]);
            assert_eq!(reply, super::ok());
        }
        c.wait_ok();
        for r in masters..total {
            c.wait_link_up(r);
        }
        c.wait_epochs_settled();
        c
    }

    /// Epoch collisions resolved: one currentEpoch, and every node sees the same,
    /// distinct master configEpochs. (A vote request from an older epoch is refused, and
    /// so is one from a replica that missed its master's last bump, as in Redis.)
    pub fn wait_epochs_settled(&self) {
        wait_or(
            "epochs settle",
            20,
            || {
                let mut currents: Vec<String> = self
                    .live()
                    .iter()
                    .map(|&i| info_field(&mut self.conn(i), "cluster_current_epoch"))
                    .collect();
                currents.dedup();
                let mut views: Vec<Vec<(String, String)>> =
                    self.live().iter().map(|&i| self.master_epochs(i)).collect();
                views.dedup();
                let mut epochs: Vec<&String> = views[0].iter().map(|(_, e)| e).collect();
                epochs.sort();
                epochs.dedup();
                currents.len() == 1 && views.len() == 1 && epochs.len() == views[0].len()
            },
            || self.views(),
        );
    }

    /// (id, configEpoch) of the masters node `i` knows, sorted by id.
    fn master_epochs(&self, i: usize) -> Vec<(String, String)> {
        let nodes = text(self.conn(i).cmd(&["CLUSTER", "NODES"]));
        let mut epochs: Vec<(String, String)> = nodes
            .lines()
            .map(|l| l.split(' ').collect::<Vec<&str>>())
            .filter(|f| f[2].contains("master"))
            .map(|f| (f[0].to_string(), f[6].to_string()))
            .collect();
        epochs.sort();
        epochs
    }

    /// Node `i`'s nodes.conf.
    pub fn conf_path(&self, i: usize) -> PathBuf {
        self.dir.0.join(format!("nodes-{}.conf", self.ports[i]))
    }

    fn spawn(&self, port: u16) -> Server {
        let conf = self.dir.0.join(format!("nodes-{port}.conf"));
        let conf = conf.display().to_string();
        let mut args = vec![
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            "1000",
            "--cluster-config-file",
            &conf,
        ];
        args.extend(self.extra.iter().map(String::as_str));
        Server::start_on(self.kind, port, &args)
    }

    pub fn conn(&self, i: usize) -> Conn {
        Conn::connect(self.ports[i])
    }

    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    pub fn wait_all_known(&self) {
        let n = self.nodes.len();
        wait_until("every node knows every node", 20, || {
            self.live().iter().all(|&i| {
                let nodes = text(self.conn(i).cmd(&["CLUSTER", "NODES"]));
                nodes.lines().count() == n && !nodes.contains("handshake")
            })
        });
    }

    pub fn wait_ok(&self) {
        wait_until("cluster_state is ok everywhere", 20, || {
            self.live()
                .iter()
                .all(|&i| info_field(&mut self.conn(i), "cluster_state") == "ok")
        });
    }

    pub fn wait_link_up(&self, r: usize) {
        wait_until("the replica's link is up", 20, || {
            let info = text(self.conn(r).cmd(&["INFO", "replication"]));
            info.contains("master_link_status:up")
        });
    }

    /// Every live node says ok and shows `id` as a master owning `slot`.
    pub fn all_see_owner(&self, id: &str, slot: u16) -> bool {
        self.live().iter().all(|&i| {
            let mut c = self.conn(i);
            info_field(&mut c, "cluster_state") == "ok" && owner_of(&mut c, slot) == id
        })
    }

    /// The master node `i` replicates, as node `at` sees it in CLUSTER NODES ("-" for
    /// a master, "" if `at` does not know `i`).
    pub fn master_seen(&self, at: usize, i: usize) -> String {
        let nodes = text(self.conn(at).cmd(&["CLUSTER", "NODES"]));
        let line = nodes.lines().find(|l| l.starts_with(&self.ids[i]));
        line.and_then(|l| l.split(' ').nth(3))
            .unwrap_or("")
            .to_string()
    }

    /// Every live node's CLUSTER NODES, to explain a timeout.
    pub fn views(&self) -> String {
        let view = |i: usize| {
            let nodes =
                Conn::try_connect(self.ports[i]).and_then(|mut c| c.try_cmd(&["CLUSTER", "NODES"]));
            format!("node {i}:\n{}", nodes.map(text).unwrap_or_default())
        };
        self.live().into_iter().map(view).collect()
    }

    pub fn kill(&mut self, i: usize) {
        // Dropping the server sends SIGKILL.
        self.nodes[i] = None;
    }

    pub fn restart(&mut self, i: usize) {
        self.nodes[i] = Some(self.spawn(self.ports[i]));
    }

    pub fn signal(&self, i: usize, sig: &str) {
        let pid = self.nodes[i].as_ref().unwrap().pid().to_string();
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The id of the master CLUSTER NODES shows owning `slot` (slot ranges only).
pub fn owner_of(c: &mut Conn, slot: u16) -> String {
    let nodes = text(c.cmd(&["CLUSTER", "NODES"]));
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if !fields[2].contains("master") {
            continue;
        }
        for range in &fields[8..] {
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                if (a..=b).contains(&slot) {
                    return fields[0].to_string();
                }
            }
        }
    }
    String::new()
}

pub fn wait_until(what: &str, secs: u64, cond: impl FnMut() -> bool) {
    wait_or(what, secs, cond, String::new);
}

/// Polls `cond`; on timeout panics with `what` and the `context` it then describes.
pub fn wait_or(
    what: &str,
    secs: u64,
    mut cond: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        if Instant::now() > deadline {
            panic!("timed out waiting until {what}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
