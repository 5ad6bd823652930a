//! A real network partition (one network namespace per node, a bridge between them): a
//! master cut off refuses writes, the majority fails over, after healing one master per slot.

#[path = "../common/mod.rs"]
mod common;
mod netns;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{text, Conn, Frame, Kind};
use netns::Net;

/// Every node listens on this port of its own address.
const PORT: u16 = 7000;
/// Long enough that a loaded 2-core machine does not fail nodes on its own.
const NODE_TIMEOUT: &str = "2000";
/// Masters 0..3; replicas 3, 4, 5 of masters 0, 1, 2, and 6 a second replica of 0 (the
/// master we isolate: two candidates, one winner).
const MASTERS: usize = 3;
const MASTER_OF: [usize; 4] = [0, 1, 2, 0];
/// A hash tag per master: {b} is slot 3300, {c} 7365, {a} 15495 (checked at start).
const TAGS: [(&str, u16); MASTERS] = [("{b}", 3300), ("{c}", 7365), ("{a}", 15495)];

/// One cluster at a time: two 7-node clusters would slow each other's failure detection.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A server started inside a host namespace, killed (its directory removed) on drop.
struct Node {
    child: Child,
    dir: PathBuf,
    kind: Kind,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Cluster {
    /// Declared before `net`: processes die before their namespaces go.
    nodes: Vec<Node>,
    ids: Vec<String>,
    net: Net,
}

impl Cluster {
    fn start(kind: Kind) -> Cluster {
        let total = MASTERS + MASTER_OF.len();
        let mut c = Cluster {
            nodes: Vec::new(),
            ids: Vec::new(),
            net: Net::new(total),
        };
        for i in 0..total {
            let node = c.spawn(kind, i);
            c.nodes.push(node);
            c.wait_ready(i);
            c.ids.push(text(c.conn(i).cmd(&["CLUSTER", "MYID"])));
        }
        for m in 0..MASTERS {
            let (start, end) = (16384 * m / MASTERS, 16384 * (m + 1) / MASTERS - 1);
            let mut conn = c.conn(m);
            let reply = conn.cmd(&[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &start.to_string(),
                &end.to_string(),
            ]);
            assert_eq!(reply, common::ok());
            let epoch = (m + 1).to_string();
            let reply = conn.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", &epoch]);
            assert_eq!(reply, common::ok());
        }
        let first = c.net.ip(0);
        for i in 1..total {
            let reply = c
                .conn(i)
                .cmd(&["CLUSTER", "MEET", &first, &PORT.to_string()]);
            assert_eq!(reply, common::ok());
        }
        wait_or(
            "every node knows every node",
            30,
            || {
                (0..total).all(|i| {
                    let nodes = text(c.conn(i).cmd(&["CLUSTER", "NODES"]));
                    nodes.lines().count() == total && !nodes.contains("handshake")
                })
            },
            || c.views(),
        );
        for (r, &m) in MASTER_OF.iter().enumerate() {
            let reply = c
                .conn(MASTERS + r)
                .cmd(&["CLUSTER", "REPLICATE", &c.ids[m]]);
            assert_eq!(reply, common::ok());
        }
        c.wait_settled(&(0..total).collect::<Vec<_>>());
        for (tag, slot) in TAGS {
            let reply = c.conn(0).cmd(&["CLUSTER", "KEYSLOT", tag]);
            assert_eq!(reply, common::int(slot.into()), "slot of {tag}");
        }
        c
    }

    fn spawn(&self, kind: Kind, i: usize) -> Node {
        let dir = std::env::temp_dir().join(format!("{}-{i}", self.net.ns(0)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let program = match kind {
            Kind::Ours => common::node_binary().display().to_string(),
            Kind::Redis => "redis-server".to_string(),
        };
        let (ip, d) = (self.net.ip(i), dir.display().to_string());
        let conf = dir.join("nodes.conf").display().to_string();
        let port = PORT.to_string();
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let child = self
            .net
            .command(i, &program)
            .args(["--port", &port, "--bind", &ip, "--dir", &d, "--save", ""])
            .args(["--appendonly", "no", "--protected-mode", "no"])
            .args(["--cluster-enabled", "yes", "--cluster-config-file", &conf])
            .args(["--cluster-node-timeout", NODE_TIMEOUT])
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program} in {}: {e}", self.net.ns(i)));
        Node { child, dir, kind }
    }

    /// Waits until node `i` answers as the process we started.
    fn wait_ready(&mut self, i: usize) {
        let pid = self.nodes[i].child.id().to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.nodes[i].child.try_wait() {
                let log = std::fs::read_to_string(self.nodes[i].dir.join("server.log"));
                panic!(
                    "node {i} exited: {status}; log:\n{}",
                    log.unwrap_or_default()
                );
            }
            if let Ok(mut c) = Conn::try_connect_to(self.addr(i)) {
                if let Ok(info) = c.try_cmd(&["INFO", "server"]) {
                    if text(info)
                        .lines()
                        .any(|l| l.trim() == format!("process_id:{pid}"))
                    {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "{:?} node {i} did not become ready",
                self.nodes[i].kind
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::new(self.net.ip(i).parse().expect("ip"), PORT)
    }

    /// A connection from our namespace (node `i` must be on the switch).
    fn conn(&self, i: usize) -> Conn {
        Conn::try_connect_to(self.addr(i)).unwrap_or_else(|e| panic!("connecting to node {i}: {e}"))
    }

    /// Runs redis-cli inside node `i`'s namespace (reachable even when isolated); its
    /// output, trimmed.
    fn cli(&self, i: usize, args: &[&str]) -> String {
        let out = self
            .net
            .command(i, "redis-cli")
            .args(["-h", &self.net.ip(i), "-p", &PORT.to_string()])
            .args(args)
            .output()
            .expect("running redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `nodes` agree on one configuration of themselves (see [`layout`]) in which every
    /// slot has one master, every node says cluster_state:ok, and every replica's link
    /// is up.
    fn wait_settled(&self, nodes: &[usize]) -> Layout {
        let members: Vec<&str> = nodes.iter().map(|&i| self.ids[i].as_str()).collect();
        let mut agreed = None;
        wait_or(
            "the nodes agree on one configuration with every slot served",
            30,
            || {
                let mut layouts = Vec::new();
                for &i in nodes {
                    let Ok(mut c) = Conn::try_connect_to(self.addr(i)) else {
                        return false;
                    };
                    if common::cluster_info_field(&mut c, "cluster_state") != "ok" {
                        return false;
                    }
                    let Some(l) = layout(&text(c.cmd(&["CLUSTER", "NODES"])), &members) else {
                        return false;
                    };
                    layouts.push(l);
                }
                layouts.dedup();
                if layouts.len() != 1 {
                    return false;
                }
                let l = layouts.pop().expect("one layout");
                let replicas_up = nodes
                    .iter()
                    .filter(|&&i| l.is_replica(&self.ids[i]))
                    .all(|&i| {
                        let info = text(self.conn(i).cmd(&["INFO", "replication"]));
                        info.contains("master_link_status:up")
                    });
                agreed = Some(l);
                replicas_up
            },
            || self.views(),
        );
        agreed.expect("agreed layout")
    }

    /// CLUSTER NODES of every node reachable from here, to explain a timeout.
    fn views(&self) -> String {
        (0..self.nodes.len())
            .map(|i| {
                let nodes = Conn::try_connect_to(self.addr(i))
                    .and_then(|mut c| c.try_cmd(&["CLUSTER", "NODES"]));
                format!(
                    "node {i} ({}):\n{}\n",
                    self.net.ip(i),
                    nodes.map(text).unwrap_or_default()
                )
            })
            .collect()
    }
}

/// One node's view, without what differs between viewers (myself, pings, link state):
/// (id, "master"/"slave", master id, slot ranges), sorted by id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Layout(Vec<(String, String, String, Vec<String>)>);

impl Layout {
    fn is_replica(&self, id: &str) -> bool {
        self.0
            .iter()
            .any(|(n, role, _, _)| n == id && role == "slave")
    }

    fn master_of(&self, id: &str) -> &str {
        let found = self.0.iter().find(|(n, _, _, _)| n == id);
        found.map_or("", |(_, _, m, _)| m.as_str())
    }

    /// The master owning `slot`.
    fn owner(&self, slot: u16) -> &str {
        let owns = |ranges: &Vec<String>| {
            ranges.iter().any(|r| {
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                let (a, b): (u16, u16) = (a.parse().unwrap_or(1), b.parse().unwrap_or(0));
                (a..=b).contains(&slot)
            })
        };
        let found = self
            .0
            .iter()
            .find(|(_, role, _, slots)| role == "master" && owns(slots));
        found.map_or("", |(id, _, _, _)| id.as_str())
    }
}

/// A view of the `members` parsed from CLUSTER NODES (other nodes, e.g. on the other side
/// of a partition, are left out); None unless it is settled: no member failing or in
/// handshake, and the members' slot ranges cover 0..16384 exactly once.
fn layout(nodes: &str, members: &[&str]) -> Option<Layout> {
    let mut entries = Vec::new();
    let mut covered = vec![0u8; 16384];
    for line in nodes.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if !members.contains(&f[0]) {
            continue;
        }
        let flags: BTreeSet<&str> = f[2].split(',').collect();
        if flags.contains("fail") || flags.contains("fail?") || flags.contains("handshake") {
            return None;
        }
        let role = if flags.contains("master") {
            "master"
        } else {
            "slave"
        };
        let slots: Vec<String> = f[8..].iter().map(|s| s.to_string()).collect();
        for r in &slots {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
            covered[a..=b].iter_mut().for_each(|c| *c += 1);
        }
        entries.push((f[0].to_string(), role.to_string(), f[3].to_string(), slots));
    }
    entries.sort();
    covered.iter().all(|&c| c == 1).then_some(Layout(entries))
}

/// Polls `cond`; on timeout panics with `what` and the `context` it then describes.
fn wait_or(what: &str, secs: u64, mut cond: impl FnMut() -> bool, context: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        if Instant::now() > deadline {
            panic!("timed out waiting until {what}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SETs `keys` on `c` (to value "v"), each acknowledged once WAIT saw `replicas`
/// replicas have it.
fn write_acked(c: &mut Conn, keys: &[String], replicas: usize) {
    for k in keys {
        assert_eq!(c.cmd(&["SET", k, "v"]), common::ok(), "SET {k}");
        let acks = c.cmd(&["WAIT", &replicas.to_string(), "5000"]);
        assert_eq!(acks, common::int(replicas as i64), "WAIT after SET {k}");
    }
}

fn keys(tag: &str, what: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}{what}{i}")).collect()
}

/// The replicas of master 0 (whose slots the scenarios take over).
const REPLICAS_OF_0: [usize; 2] = [3, 6];
const DOWN: &str = "CLUSTERDOWN The cluster is down";

/// Writes through every master, each on all of its replicas before it counts.
fn write_everywhere(c: &Cluster) -> Vec<String> {
    let mut acked = Vec::new();
    for (m, (tag, _)) in TAGS.iter().enumerate() {
        let batch = keys(tag, "before", 50);
        let replicas = MASTER_OF.iter().filter(|&&x| x == m).count();
        write_acked(&mut c.conn(m), &batch, replicas);
        acked.extend(batch);
    }
    acked
}

/// Master 0, cut off: after node_timeout it sees no majority, goes down, and refuses
/// writes (and reads). Returns the keys it refused.
fn minority_master_goes_down(c: &Cluster, readable: &str) -> Vec<String> {
    wait_or(
        "the isolated master says cluster_state:fail",
        30,
        || {
            c.cli(0, &["CLUSTER", "INFO"])
                .contains("cluster_state:fail")
        },
        || c.cli(0, &["CLUSTER", "NODES"]),
    );
    let refused = keys(TAGS[0].0, "refused", 5);
    for k in &refused {
        assert_eq!(
            c.cli(0, &["SET", k, "minority"]),
            DOWN,
            "SET {k} on the minority"
        );
    }
    assert_eq!(c.cli(0, &["GET", readable]), DOWN, "GET on the minority");
    refused
}

/// Every node of `nodes` (as replicas: READONLY) has `present` (keys of its shard)
/// and none of `absent`.
fn assert_keys(c: &Cluster, nodes: &[usize], present: &[String], absent: &[String]) {
    for &i in nodes {
        let mut conn = c.conn(i);
        conn.cmd(&["READONLY"]);
        for k in present {
            assert_eq!(
                conn.cmd(&["GET", k]),
                common::bulk("v"),
                "node {i} lost {k}"
            );
        }
        for k in absent {
            assert_eq!(conn.cmd(&["GET", k]), Frame::Null, "node {i} has {k}");
        }
    }
}

/// Issue 4's scenario, for either implementation: `minority` (master 0, maybe with one
/// of its replicas) is cut off from the rest.
fn partition_scenario(kind: Kind, minority: &[usize]) {
    let _serial = serial();
    let c = Cluster::start(kind);
    let everyone: Vec<usize> = (0..c.nodes.len()).collect();
    let majority: Vec<usize> = everyone
        .iter()
        .copied()
        .filter(|i| !minority.contains(i))
        .collect();
    let mut acked = write_everywhere(&c);

    c.net.partition(minority);
    // Until node_timeout passes, master 0 still takes writes (as in Redis): they are
    // lost when it rejoins as a replica. Whether these get OK or not depends on timing;
    // either way none may survive.
    let lost = keys(TAGS[0].0, "lost", 3);
    let taken = lost
        .iter()
        .filter(|k| c.cli(0, &["SET", k, "minority"]) == "OK");
    println!(
        "the minority took {} of {} early writes",
        taken.count(),
        lost.len()
    );
    let refused = minority_master_goes_down(&c, &acked[0]);

    // The majority side: a replica of master 0 there takes its slots; the other
    // replicas of master 0 there follow it.
    let layout = c.wait_settled(&majority);
    let new_master = layout.owner(TAGS[0].1).to_string();
    let winner = majority.iter().copied().find(|&r| c.ids[r] == new_master);
    let Some(winner) = winner.filter(|w| REPLICAS_OF_0.contains(w)) else {
        panic!(
            "slot {} is not served by a replica of the isolated master:\n{}",
            TAGS[0].1,
            c.views()
        );
    };
    let others = REPLICAS_OF_0
        .into_iter()
        .filter(|r| *r != winner && majority.contains(r));
    for r in others {
        let master = layout.master_of(&c.ids[r]);
        assert_eq!(
            master,
            new_master,
            "replica {r} follows the winner\n{}",
            c.views()
        );
    }
    let after = keys(TAGS[0].0, "after", 50);
    let replicas = REPLICAS_OF_0
        .iter()
        .filter(|r| majority.contains(r))
        .count()
        - 1;
    write_acked(&mut c.conn(winner), &after, replicas);
    acked.extend(after);

    c.net.heal(minority);
    // One configuration everywhere: master 0 and its old replicas follow the winner,
    // each slot has one master.
    let layout = c.wait_settled(&everyone);
    assert_eq!(layout.owner(TAGS[0].1), new_master);
    for i in REPLICAS_OF_0
        .into_iter()
        .chain([0])
        .filter(|&i| i != winner)
    {
        assert!(
            layout.is_replica(&c.ids[i]),
            "node {i} is a replica\n{}",
            c.views()
        );
        let master = layout.master_of(&c.ids[i]);
        assert_eq!(
            master,
            new_master,
            "node {i} follows the winner\n{}",
            c.views()
        );
    }
    let masters = layout
        .0
        .iter()
        .filter(|(_, role, _, _)| role == "master")
        .count();
    assert_eq!(masters, MASTERS, "masters after healing\n{}", c.views());

    // Acknowledged writes survived; the minority's writes are nowhere (old master and
    // its replicas included).
    let minority_writes: Vec<String> = refused.into_iter().chain(lost).collect();
    for (m, (tag, _)) in TAGS.iter().enumerate() {
        let shard: Vec<String> = acked
            .iter()
            .filter(|k| k.starts_with(tag))
            .cloned()
            .collect();
        let nodes: Vec<usize> = match m {
            0 => REPLICAS_OF_0.into_iter().chain([0]).collect(),
            _ => vec![m, MASTERS + m],
        };
        assert_keys(
            &c,
            &nodes,
            &shard,
            if m == 0 { &minority_writes } else { &[] },
        );
    }
}

/// A whole shard (master 0 and both its replicas) cut off: no side can serve every
/// slot, so both refuse writes; nobody is promoted, and healing restores the cluster.
fn shard_cut_off_scenario(kind: Kind) {
    let _serial = serial();
    let c = Cluster::start(kind);
    let everyone: Vec<usize> = (0..c.nodes.len()).collect();
    let acked = write_everywhere(&c);
    let shard = [0, 3, 6];
    c.net.partition(&shard);
    let refused = minority_master_goes_down(&c, &acked[0]);
    // The majority of masters marks master 0 failing; its slots have no one to serve
    // them (cluster-require-full-coverage yes), so that side is down too.
    let other = [1, 2, 4, 5];
    wait_or(
        "the other side is down",
        30,
        || {
            other.iter().all(|&i| {
                let mut conn = c.conn(i);
                let nodes = text(conn.cmd(&["CLUSTER", "NODES"]));
                let failed = nodes
                    .lines()
                    .any(|l| l.starts_with(&c.ids[0]) && l.contains("master,fail "));
                failed && common::cluster_info_field(&mut conn, "cluster_state") == "fail"
            })
        },
        || c.views(),
    );
    let k = format!("{}refused", TAGS[1].0);
    assert_eq!(
        text(c.conn(1).cmd(&["SET", &k, "v"])),
        DOWN,
        "SET on the majority"
    );

    c.net.heal(&shard);
    // Master 0 usually keeps its slots. But Redis may also promote one of its replicas
    // right after healing: FAIL messages the other side broadcast during the partition
    // sit in its links' buffers and arrive with the heal, while master 0 is still FAIL
    // for the voters (they clear that after 2 × node_timeout). Either way one node of
    // the shard serves its slots and the two others follow it.
    let layout = c.wait_settled(&everyone);
    let owner = layout.owner(TAGS[0].1).to_string();
    assert!(
        shard.iter().any(|&i| c.ids[i] == owner),
        "slot 3300\n{}",
        c.views()
    );
    for i in shard.into_iter().filter(|&i| c.ids[i] != owner) {
        let master = layout.master_of(&c.ids[i]);
        assert_eq!(
            master,
            owner,
            "node {i} follows the shard's master\n{}",
            c.views()
        );
    }
    for (m, &(_, slot)) in TAGS.iter().enumerate().take(MASTERS).skip(1) {
        let r = MASTERS + m;
        assert_eq!(layout.owner(slot), c.ids[m], "slot {slot}\n{}", c.views());
        let master = layout.master_of(&c.ids[r]);
        assert_eq!(master, c.ids[m], "replica {r}\n{}", c.views());
    }
    assert_keys(&c, &shard, &acked[..50], &refused);
    assert_keys(&c, &[1, 4], &acked[50..100], &[k]);
}

#[test]
fn isolated_master_refuses_writes_majority_fails_over_one_master_after_heal() {
    partition_scenario(Kind::Ours, &[0]);
}

/// The same expectations hold for Redis itself.
#[test]
fn redis_isolated_master_refuses_writes_majority_fails_over_one_master_after_heal() {
    partition_scenario(Kind::Redis, &[0]);
}

/// Master 0 keeps one replica on its side: that replica is not promoted (no votes
/// there), takes the minority's writes, and drops them when it follows the winner.
#[test]
fn master_and_replica_cut_off_both_follow_the_new_master_after_heal() {
    partition_scenario(Kind::Ours, &[0, 3]);
}

#[test]
fn redis_master_and_replica_cut_off_both_follow_the_new_master_after_heal() {
    partition_scenario(Kind::Redis, &[0, 3]);
}

#[test]
fn shard_cut_off_both_sides_refuse_writes_until_healed() {
    shard_cut_off_scenario(Kind::Ours);
}

#[test]
fn redis_shard_cut_off_both_sides_refuse_writes_until_healed() {
    shard_cut_off_scenario(Kind::Redis);
}
