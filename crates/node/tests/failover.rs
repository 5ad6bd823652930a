//! Cluster failover between real processes: replica promotion after SIGKILL, rejoin of
//! the old master, manual CLUSTER FAILOVER (default, TAKEOVER), minority write refusal.

mod common;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{cluster_info_field as info_field, free_port, text, Conn, Kind, Server};
use resp::Frame;

/// One cluster at a time: 12+ nodes with a 1 s node timeout on a loaded machine would
/// see spurious failures (and failovers) of their own.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// nodes.conf files live outside the servers' directories (wiped on restart).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 3 masters (nodes 0..3), each with one replica (node i + 3).
struct Cluster {
    nodes: Vec<Option<Server>>,
    ports: Vec<u16>,
    ids: Vec<String>,
    dir: TempDir,
}

impl Cluster {
    fn start(masters: usize, with_replicas: bool) -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "rustidocs-failover-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let total = if with_replicas { masters * 2 } else { masters };
        let mut c = Cluster {
            nodes: Vec::new(),
            ports: Vec::new(),
            ids: Vec::new(),
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
            assert_eq!(reply, common::ok());
        }
        let first = c.ports[0].to_string();
        for i in 1..total {
            let reply = c.conn(i).cmd(&["CLUSTER", "MEET", "127.0.0.1", &first]);
            assert_eq!(reply, common::ok());
        }
        c.wait_all_known();
        for r in masters..total {
            let master = c.ids[r - masters].clone();
            let reply = c.conn(r).cmd(&["CLUSTER", "REPLICATE", &master]);
            assert_eq!(reply, common::ok());
        }
        c.wait_ok();
        for r in masters..total {
            c.wait_link_up(r);
        }
        c.wait_epochs_settled();
        c
    }

    /// Epoch collisions resolved: distinct master configEpochs, one currentEpoch.
    /// (A vote request from an older epoch is refused, as in Redis.)
    fn wait_epochs_settled(&self) {
        wait_until("epochs settle", 20, || {
            let mut currents: Vec<String> = self
                .live()
                .iter()
                .map(|&i| info_field(&mut self.conn(i), "cluster_current_epoch"))
                .collect();
            currents.dedup();
            let nodes = text(self.conn(0).cmd(&["CLUSTER", "NODES"]));
            let mut epochs: Vec<&str> = nodes
                .lines()
                .filter(|l| l.contains("master"))
                .map(|l| l.split(' ').nth(6).unwrap())
                .collect();
            let masters = epochs.len();
            epochs.sort();
            epochs.dedup();
            currents.len() == 1 && epochs.len() == masters
        });
    }

    fn spawn(&self, port: u16) -> Server {
        let conf = self.dir.0.join(format!("nodes-{port}.conf"));
        let conf = conf.display().to_string();
        let args = [
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            "1000",
            "--cluster-config-file",
            &conf,
        ];
        Server::start_on(Kind::Ours, port, &args)
    }

    fn conn(&self, i: usize) -> Conn {
        Conn::connect(self.ports[i])
    }

    fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    fn wait_all_known(&self) {
        let n = self.nodes.len();
        wait_until("every node knows every node", 20, || {
            self.live().iter().all(|&i| {
                let nodes = text(self.conn(i).cmd(&["CLUSTER", "NODES"]));
                nodes.lines().count() == n && !nodes.contains("handshake")
            })
        });
    }

    fn wait_ok(&self) {
        wait_until("cluster_state is ok everywhere", 20, || {
            self.live()
                .iter()
                .all(|&i| info_field(&mut self.conn(i), "cluster_state") == "ok")
        });
    }

    fn wait_link_up(&self, r: usize) {
        wait_until("the replica's link is up", 20, || {
            let info = text(self.conn(r).cmd(&["INFO", "replication"]));
            info.contains("master_link_status:up")
        });
    }

    /// Every live node says ok and shows `id` as a master owning `slot`.
    fn all_see_owner(&self, id: &str, slot: u16) -> bool {
        self.live().iter().all(|&i| {
            let mut c = self.conn(i);
            info_field(&mut c, "cluster_state") == "ok" && owner_of(&mut c, slot) == id
        })
    }

    /// Every live node's CLUSTER NODES, to explain a timeout.
    fn views(&self) -> String {
        let view = |i: usize| {
            let nodes =
                Conn::try_connect(self.ports[i]).and_then(|mut c| c.try_cmd(&["CLUSTER", "NODES"]));
            format!("node {i}:\n{}", nodes.map(text).unwrap_or_default())
        };
        self.live().into_iter().map(view).collect()
    }

    fn kill(&mut self, i: usize) {
        // Dropping the server sends SIGKILL.
        self.nodes[i] = None;
    }

    fn restart(&mut self, i: usize) {
        self.nodes[i] = Some(self.spawn(self.ports[i]));
    }

    fn signal(&self, i: usize, sig: &str) {
        let pid = self.nodes[i].as_ref().unwrap().pid().to_string();
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The id of the master CLUSTER NODES shows owning `slot` (slot ranges only).
fn owner_of(c: &mut Conn, slot: u16) -> String {
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

fn wait_until(what: &str, secs: u64, cond: impl FnMut() -> bool) {
    wait_or(what, secs, cond, String::new);
}

/// Polls `cond`; on timeout panics with `what` and the `context` it then describes.
fn wait_or(what: &str, secs: u64, mut cond: impl FnMut() -> bool, context: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        if Instant::now() > deadline {
            panic!("timed out waiting until {what}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Keys hashing to slot 0's master (node 0's range is 0..=5460).
fn key(n: usize) -> String {
    format!("{{b}}k{n}")
}

/// Writes keys `from..to` to `port`; a write is acknowledged when SET replied OK (and,
/// with `wait`, WAIT saw a replica have it). Returns the acknowledged keys.
fn write_keys(port: u16, from: usize, to: usize, wait: bool) -> Vec<String> {
    let mut acked = Vec::new();
    let Ok(mut c) = Conn::try_connect(port) else {
        return acked;
    };
    for n in from..to {
        let k = key(n);
        match c.try_cmd(&["SET", &k, "v"]) {
            Ok(Frame::Simple(s)) if s == b"OK" => {}
            Ok(_) => continue,
            Err(_) => break,
        }
        if wait {
            match c.try_cmd(&["WAIT", "1", "1000"]) {
                Ok(Frame::Integer(r)) if r >= 1 => {}
                _ => continue,
            }
        }
        acked.push(k);
    }
    acked
}

fn assert_has_keys(port: u16, keys: &[String]) {
    let mut c = Conn::connect(port);
    c.cmd(&["READONLY"]);
    for k in keys {
        assert_eq!(c.cmd(&["GET", k]), common::bulk("v"), "key {k} lost");
    }
}

/// SIGKILLs the current master of slot 0 and times until its replica owns the slot
/// for every survivor; then restarts it and checks it follows the new master.
fn kill_and_time(c: &mut Cluster, master: usize, replica: usize) -> Duration {
    let acked = write_keys(c.ports[master], 0, 200, true);
    assert!(!acked.is_empty(), "no write was acknowledged");
    let start = Instant::now();
    c.kill(master);
    let new_id = c.ids[replica].clone();
    wait_or(
        "the replica owns the slots everywhere",
        30,
        || c.all_see_owner(&new_id, 0),
        || c.views(),
    );
    let took = start.elapsed();
    assert_has_keys(c.ports[replica], &acked);
    let mut r = c.conn(replica);
    assert_eq!(r.cmd(&["SET", &key(1000), "v"]), common::ok());
    c.restart(master);
    let follows = |c: &Cluster| {
        let line = text(c.conn(master).cmd(&["CLUSTER", "NODES"]));
        line.lines()
            .any(|l| l.contains("myself,slave") && l.contains(&new_id))
    };
    wait_or(
        "the old master follows the new one",
        30,
        || follows(c),
        || c.views(),
    );
    c.wait_link_up(master);
    c.wait_ok();
    assert_has_keys(c.ports[master], &acked);
    took
}

#[test]
fn sigkill_master_promotes_replica_and_old_master_rejoins() {
    let _serial = serial();
    let mut c = Cluster::start(3, true);
    let (mut master, mut replica) = (0, 3);
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(kill_and_time(&mut c, master, replica));
        std::mem::swap(&mut master, &mut replica);
    }
    let mut r = c.conn(master);
    let info = text(r.cmd(&["CLUSTER", "INFO"]));
    assert!(
        info.contains("cluster_stats_messages_auth-req_sent"),
        "{info}"
    );
    times.sort();
    println!("failover times: {times:?}; median {:?}", times[2]);
}

#[test]
fn killing_a_replica_changes_nothing_for_clients() {
    let _serial = serial();
    let mut c = Cluster::start(3, true);
    c.kill(4);
    std::thread::sleep(Duration::from_millis(3000));
    for i in 0..3 {
        assert_eq!(info_field(&mut c.conn(i), "cluster_state"), "ok");
    }
    let acked = write_keys(c.ports[0], 0, 50, false);
    assert_eq!(acked.len(), 50);
    assert_eq!(owner_of(&mut c.conn(1), 6000), c.ids[1]);
    // FORCE: an election without the master's agreement, won with the master up.
    assert_eq!(
        c.conn(5).cmd(&["CLUSTER", "FAILOVER", "FORCE"]),
        common::ok()
    );
    let new_id = c.ids[5].clone();
    wait_until("the forced failover completes", 20, || {
        c.all_see_owner(&new_id, 16000)
    });
    let info = text(c.conn(0).cmd(&["CLUSTER", "INFO"]));
    assert!(
        info.contains("cluster_stats_messages_auth-ack_sent:"),
        "{info}"
    );
}

#[test]
fn manual_failover_loses_no_acknowledged_write() {
    let _serial = serial();
    let c = Cluster::start(3, true);
    let mut m = c.conn(0);
    let err = text(m.cmd(&["CLUSTER", "FAILOVER"]));
    assert_eq!(err, "ERR You should send CLUSTER FAILOVER to a replica");
    let port = c.ports[0];
    let writer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for round in 0..40 {
            acked.extend(write_keys(port, round * 50, round * 50 + 50, false));
            std::thread::sleep(Duration::from_millis(25));
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(c.conn(3).cmd(&["CLUSTER", "FAILOVER"]), common::ok());
    let new_id = c.ids[3].clone();
    wait_until("the replica took over", 20, || c.all_see_owner(&new_id, 0));
    let acked = writer.join().unwrap();
    assert!(!acked.is_empty());
    assert_has_keys(c.ports[3], &acked);
    wait_until("the old master follows the new one", 20, || {
        let line = text(c.conn(0).cmd(&["CLUSTER", "NODES"]));
        line.lines()
            .any(|l| l.contains("myself,slave") && l.contains(&new_id))
    });
}

#[test]
fn takeover_with_the_master_stopped_and_minority_refuses_writes() {
    let _serial = serial();
    let c = Cluster::start(3, true);
    c.signal(1, "-STOP");
    let mut r = c.conn(4);
    let err = text(r.cmd(&["CLUSTER", "FAILOVER", "BOGUS"]));
    assert!(err.starts_with("ERR syntax error"), "{err}");
    assert_eq!(r.cmd(&["CLUSTER", "FAILOVER", "TAKEOVER"]), common::ok());
    let new_id = c.ids[4].clone();
    wait_until("every running node sees the takeover", 20, || {
        [0, 2, 3, 4, 5]
            .iter()
            .all(|&i| owner_of(&mut c.conn(i), 6000) == new_id)
    });
    c.signal(1, "-CONT");
    wait_until("the old master follows the new one", 20, || {
        let line = text(c.conn(1).cmd(&["CLUSTER", "NODES"]));
        line.lines()
            .any(|l| l.contains("myself,slave") && l.contains(&new_id))
    });
    c.wait_ok();
    // Masters 0 and 4 stopped: master 2 is alone, a minority, and refuses writes.
    c.signal(0, "-STOP");
    c.signal(4, "-STOP");
    let mut m = c.conn(2);
    wait_until("the minority master goes down", 20, || {
        info_field(&mut m, "cluster_state") == "fail"
    });
    let err = text(m.cmd(&["SET", "{a}x", "1"]));
    assert!(err.starts_with("CLUSTERDOWN"), "{err}");
    c.signal(0, "-CONT");
    c.signal(4, "-CONT");
}
