//! The cluster bus between real processes: MEET and gossip, heartbeats, PFAIL/FAIL and
//! recovery, epochs, pub/sub across nodes, and the real `redis-cli --cluster` tools.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{cluster_info_field as info_field, free_port, text, Conn, Kind, Server};
use resp::Frame;

/// Where the nodes.conf files live: outside the servers' directories, which are
/// wiped when a node restarts on its port.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "rustidocs-bus-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A set of our nodes started in cluster mode, in one temporary directory.
struct Cluster {
    nodes: Vec<Option<Server>>,
    ports: Vec<u16>,
    dir: TempDir,
}

impl Cluster {
    /// Starts `n` empty cluster nodes.
    fn start(n: usize) -> Cluster {
        let mut cluster = Cluster {
            nodes: Vec::new(),
            ports: Vec::new(),
            dir: TempDir::new(),
        };
        for _ in 0..n {
            let port = free_port();
            cluster.ports.push(port);
            cluster.nodes.push(Some(cluster.spawn(port)));
        }
        cluster
    }

    fn spawn(&self, port: u16) -> Server {
        let conf = self.dir.0.join(format!("nodes-{port}.conf"));
        let conf = conf.display().to_string();
        Server::start_on(
            Kind::Ours,
            port,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-node-timeout",
                "1000",
                "--cluster-config-file",
                &conf,
            ],
        )
    }

    /// `n` masters sharing the slots evenly, all MEET to the first, until all is ok.
    fn masters(n: usize) -> Cluster {
        let cluster = Cluster::start(n);
        for i in 0..n {
            let (start, end) = (16384 * i / n, 16384 * (i + 1) / n - 1);
            let reply = cluster.conn(i).cmd(&[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &start.to_string(),
                &end.to_string(),
            ]);
            assert_eq!(reply, common::ok());
        }
        cluster.meet_all_to_first();
        cluster.wait_formed();
        cluster
    }

    fn meet_all_to_first(&self) {
        let first = self.ports[0].to_string();
        for i in 1..self.ports.len() {
            let reply = self.conn(i).cmd(&["CLUSTER", "MEET", "127.0.0.1", &first]);
            assert_eq!(reply, common::ok());
        }
    }

    fn conn(&self, i: usize) -> Conn {
        Conn::connect(self.ports[i])
    }

    fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].is_some())
    }

    /// Every node lists every node, connected, and says cluster_state:ok.
    fn wait_formed(&self) {
        let n = self.nodes.len();
        wait_until("the cluster forms", Duration::from_secs(20), || {
            self.live().all(|i| {
                let mut c = self.conn(i);
                let nodes = text(c.cmd(&["CLUSTER", "NODES"]));
                let lines: Vec<&str> = nodes.lines().collect();
                lines.len() == n
                    && lines.iter().all(|l| {
                        l.contains(" connected") && !l.contains("fail") && !l.contains("handshake")
                    })
                    && info_field(&mut c, "cluster_state") == "ok"
                    && info_field(&mut c, "cluster_slots_assigned") == "16384"
            })
        });
    }

    /// Every node sees every master with its own configEpoch (collisions resolved).
    fn wait_distinct_epochs(&self) {
        let n = self.nodes.len();
        wait_until(
            "config epochs are distinct",
            Duration::from_secs(20),
            || {
                self.live().all(|i| {
                    let nodes = text(self.conn(i).cmd(&["CLUSTER", "NODES"]));
                    let mut epochs: Vec<&str> = nodes
                        .lines()
                        .map(|l| l.split(' ').nth(6).unwrap())
                        .collect();
                    epochs.sort();
                    epochs.dedup();
                    epochs.len() == n
                })
            },
        );
    }

    fn kill(&mut self, i: usize) {
        // Dropping the server sends SIGKILL.
        self.nodes[i] = None;
    }

    fn restart(&mut self, i: usize) {
        self.nodes[i] = Some(self.spawn(self.ports[i]));
    }
}

fn stat(c: &mut Conn, name: &str) -> u64 {
    info_field(c, name).parse().unwrap_or(0)
}

/// Polls `cond` until it holds; panics after `limit`.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The line of CLUSTER NODES about node `id`.
fn node_line(c: &mut Conn, id: &str) -> String {
    text(c.cmd(&["CLUSTER", "NODES"]))
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or("")
        .to_string()
}

fn flags_of(line: &str) -> String {
    line.split(' ').nth(2).unwrap_or("").to_string()
}

#[test]
fn three_masters_meet_gossip_and_redirect() {
    let cluster = Cluster::masters(3);
    let ids: Vec<String> = (0..3)
        .map(|i| text(cluster.conn(i).cmd(&["CLUSTER", "MYID"])))
        .collect();
    // Every key is served by its slot's owner; the others redirect there.
    for key in ["foo", "bar", "user1000", "a", "zzz"] {
        let mut c = cluster.conn(0);
        let slot = match c.cmd(&["CLUSTER", "KEYSLOT", key]) {
            Frame::Integer(s) => s as usize,
            other => panic!("{other:?}"),
        };
        let owner = slot * 3 / 16384;
        for i in 0..3 {
            let reply = cluster.conn(i).cmd(&["SET", key, "v"]);
            if i == owner {
                assert_eq!(reply, common::ok());
            } else {
                let want = format!("MOVED {slot} 127.0.0.1:{}", cluster.ports[owner]);
                assert_eq!(text(reply), want);
            }
        }
    }
    let mut c = cluster.conn(1);
    // Heartbeats are counted and the links listed.
    assert!(stat(&mut c, "cluster_stats_messages_ping_sent") > 0);
    assert!(stat(&mut c, "cluster_stats_messages_pong_received") > 0);
    match c.cmd(&["CLUSTER", "LINKS"]) {
        Frame::Array(links) => assert!(links.len() >= 2, "{links:?}"),
        other => panic!("{other:?}"),
    }
    // Real ping/pong times, and the peers' own view of their ids.
    let line = node_line(&mut c, &ids[2]);
    let pong: u64 = line.split(' ').nth(5).unwrap().parse().unwrap();
    assert!(pong > 0, "{line}");
    // Config epochs end up distinct (the collision rule bumps the smaller ids).
    cluster.wait_distinct_epochs();
    // MEET to a node already known, or to myself, adds nobody.
    let own = cluster.ports[0].to_string();
    let other = cluster.ports[2].to_string();
    let mut c = cluster.conn(0);
    assert_eq!(c.cmd(&["CLUSTER", "MEET", "127.0.0.1", &own]), common::ok());
    assert_eq!(
        c.cmd(&["CLUSTER", "MEET", "127.0.0.1", &other]),
        common::ok()
    );
    cluster.wait_formed();
}

#[test]
fn redis_cli_cluster_check_passes() {
    let cluster = Cluster::masters(3);
    let out = std::process::Command::new("redis-cli")
        .args([
            "--cluster",
            "check",
            &format!("127.0.0.1:{}", cluster.ports[1]),
        ])
        .output()
        .expect("redis-cli runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("[OK] All nodes agree about slots configuration."),
        "{stdout}"
    );
    assert!(stdout.contains("[OK] All 16384 slots covered."), "{stdout}");
    assert!(!stdout.contains("[ERR]"), "{stdout}");
}

#[test]
fn redis_cli_cluster_create() {
    let cluster = Cluster::start(3);
    let addrs: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
    let out = std::process::Command::new("redis-cli")
        .args(&args)
        .output()
        .expect("redis-cli runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("[OK] All 16384 slots covered."), "{stdout}");
    cluster.wait_formed();
}

#[test]
fn six_masters_detect_failure_and_recover() {
    let mut cluster = Cluster::masters(6);
    let victim = 2;
    let victim_id = text(cluster.conn(victim).cmd(&["CLUSTER", "MYID"]));
    cluster.kill(victim);
    let others: Vec<usize> = cluster.live().collect();
    // Every other node sees it PFAIL, then FAIL (a majority of masters agreed), and
    // the cluster goes down since its slots are not covered any more.
    wait_until(
        "the killed master is FAIL everywhere",
        Duration::from_secs(10),
        || {
            others.iter().all(|&i| {
                let mut c = cluster.conn(i);
                let flags = flags_of(&node_line(&mut c, &victim_id));
                flags.split(',').any(|f| f == "fail")
                    && info_field(&mut c, "cluster_state") == "fail"
            })
        },
    );
    let mut c = cluster.conn(0);
    assert!(
        stat(&mut c, "cluster_stats_messages_fail_sent")
            + stat(&mut c, "cluster_stats_messages_fail_received")
            > 0
    );
    assert!(info_field(&mut c, "cluster_slots_fail") != "0");
    // Back with its nodes.conf: reachable again, FAIL cleared, the cluster is ok.
    cluster.restart(victim);
    cluster.wait_formed();
    let mut c = cluster.conn(victim);
    assert_eq!(text(c.cmd(&["CLUSTER", "MYID"])), victim_id);
}

/// Reads pushes until one carries `payload`; false after `limit`.
fn receives(c: &mut Conn, payload: &str, limit: Duration) -> bool {
    c.stream.set_read_timeout(Some(limit)).unwrap();
    loop {
        match c.try_read() {
            Ok(Frame::Array(items)) | Ok(Frame::Push(items)) => {
                if items.last() == Some(&Frame::Bulk(payload.as_bytes().to_vec())) {
                    return true;
                }
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

#[test]
fn publish_reaches_every_node_spublish_only_the_shard() {
    let cluster = Cluster::masters(3);
    let mut sub = cluster.conn(2);
    sub.send(&["SUBSCRIBE", "news"]);
    sub.read();
    cluster.conn(0).cmd(&["PUBLISH", "news", "hello"]);
    assert!(receives(&mut sub, "hello", Duration::from_secs(5)));

    // A shard channel lives in its slot's shard: subscribers there get SPUBLISH; a
    // plain subscriber of the same name elsewhere does not.
    let mut c = cluster.conn(0);
    let slot = match c.cmd(&["CLUSTER", "KEYSLOT", "orders"]) {
        Frame::Integer(s) => s as usize,
        other => panic!("{other:?}"),
    };
    let owner = slot * 3 / 16384;
    let other = (owner + 1) % 3;
    let mut shard_sub = cluster.conn(owner);
    shard_sub.send(&["SSUBSCRIBE", "orders"]);
    shard_sub.read();
    let mut plain = cluster.conn(other);
    plain.send(&["SUBSCRIBE", "orders"]);
    plain.read();
    cluster.conn(owner).cmd(&["SPUBLISH", "orders", "o1"]);
    assert!(receives(&mut shard_sub, "o1", Duration::from_secs(5)));
    assert!(!receives(&mut plain, "o1", Duration::from_millis(300)));
    let mut c = cluster.conn(other);
    assert_eq!(
        stat(&mut c, "cluster_stats_messages_publishshard_received"),
        0
    );
}

fn signal(server: &Server, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn master_in_minority_partition_goes_down_then_rejoins() {
    let cluster = Cluster::masters(3);
    for i in [1, 2] {
        signal(cluster.nodes[i].as_ref().unwrap(), "-STOP");
    }
    // Node 0 cannot reach a majority of the masters: it stops serving.
    wait_until(
        "node 0 sees the cluster down",
        Duration::from_secs(10),
        || info_field(&mut cluster.conn(0), "cluster_state") == "fail",
    );
    let mut c = cluster.conn(0);
    let nodes = text(c.cmd(&["CLUSTER", "NODES"]));
    assert_eq!(nodes.matches("fail?").count(), 2, "{nodes}");
    // Alone it has no quorum to mark them FAIL.
    assert!(!nodes.contains(" master,fail "), "{nodes}");
    for i in [1, 2] {
        signal(cluster.nodes[i].as_ref().unwrap(), "-CONT");
    }
    cluster.wait_formed();
}

#[test]
fn greater_config_epoch_wins_a_slot() {
    let cluster = Cluster::masters(3);
    let id0 = text(cluster.conn(0).cmd(&["CLUSTER", "MYID"]));
    let id2 = text(cluster.conn(2).cmd(&["CLUSTER", "MYID"]));
    // "foo" is in slot 12182, served by node 2, which has a key there.
    assert_eq!(cluster.conn(2).cmd(&["SET", "foo", "1"]), common::ok());
    // SETSLOT NODE only bumps an epoch that is not already the greatest and unique.
    cluster.wait_distinct_epochs();
    let mut c0 = cluster.conn(0);
    c0.cmd(&["CLUSTER", "SETSLOT", "12182", "IMPORTING", &id2]);
    assert_eq!(
        c0.cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &id0]),
        common::ok()
    );
    // Node 0 took a new configEpoch with the slot; its PINGs convince the others.
    let moved = format!("MOVED 12182 127.0.0.1:{}", cluster.ports[0]);
    wait_until(
        "every node sends foo to node 0",
        Duration::from_secs(10),
        || {
            [1, 2].iter().all(|&i| {
                let reply = cluster.conn(i).cmd(&["GET", "foo"]);
                matches!(&reply, Frame::Error(e) if *e == moved.as_bytes())
            })
        },
    );
    // The old owner dropped the keys of the slot it lost.
    let mut c2 = cluster.conn(2);
    assert_eq!(
        c2.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]),
        common::int(0)
    );
    cluster.wait_formed();
}
