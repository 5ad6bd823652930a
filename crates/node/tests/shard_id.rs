//! Shard ids (Redis 7.2's CLUSTER MYSHARDID) between real processes: shared by a master
//! and its replica, kept across failover and restart, generated for an old nodes.conf.

mod common;

use common::cluster::{wait_or, Cluster};
use common::{err, text, Conn, Server};

fn shard_id(c: &Cluster, i: usize) -> String {
    text(c.conn(i).cmd(&["CLUSTER", "MYSHARDID"]))
}

/// Masters 0, 1, 2 with replicas 3, 4, 5: each replica ends in its master's shard.
fn wait_shards_agree(c: &Cluster) {
    wait_or(
        "every replica reports its master's shard id",
        20,
        || (0..3).all(|m| shard_id(c, m) == shard_id(c, m + 3)),
        || c.views(),
    );
}

fn assert_is_id(id: &str) {
    assert!(
        id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id:?}"
    );
}

/// Rewrites a nodes.conf as Redis < 7.2 wrote it: no aux fields after the address.
fn strip_aux_fields(path: &std::path::Path) {
    let old = std::fs::read_to_string(path).unwrap();
    assert!(old.contains(",shard-id="), "{old}");
    let stripped: String = old
        .lines()
        .map(|line| {
            let mut words: Vec<&str> = line.split(' ').collect();
            if words[0] != "vars" {
                let addr = words[1].split(',').next().unwrap();
                words[1] = addr;
            }
            words.join(" ") + "\n"
        })
        .collect();
    std::fs::write(path, stripped).unwrap();
}

#[test]
fn shard_ids_follow_masters_across_failover_and_restarts() {
    let mut c = Cluster::start(3, true);
    wait_shards_agree(&c);
    let shards: Vec<String> = (0..3).map(|m| shard_id(&c, m)).collect();
    for s in &shards {
        assert_is_id(s);
    }
    assert!(shards[0] != shards[1] && shards[1] != shards[2] && shards[0] != shards[2]);
    // Not the node ids: a shard id is its own random value.
    assert!(!c.ids.contains(&shards[0]));
    // Persisted as Redis 7.2 does, and not shown by CLUSTER NODES.
    let conf = std::fs::read_to_string(c.conf_path(0)).unwrap();
    assert!(
        conf.contains(&format!(",shard-id={} myself,master", shards[0])),
        "{conf}"
    );
    let nodes = text(c.conn(0).cmd(&["CLUSTER", "NODES"]));
    assert!(!nodes.contains("shard-id"), "{nodes}");

    // A replica moving to another master moves to its shard.
    assert_eq!(
        c.conn(5).cmd(&["CLUSTER", "REPLICATE", &c.ids[1]]),
        common::ok()
    );
    assert_eq!(shard_id(&c, 5), shards[1]);
    assert_eq!(
        c.conn(5).cmd(&["CLUSTER", "REPLICATE", &c.ids[2]]),
        common::ok()
    );
    assert_eq!(shard_id(&c, 5), shards[2]);

    // A restarted master and replica keep their shard id (nodes.conf).
    c.kill(1);
    c.restart(1);
    assert_eq!(shard_id(&c, 1), shards[1]);
    c.kill(4);
    c.restart(4);
    assert_eq!(shard_id(&c, 4), shards[1]);
    c.wait_ok();

    // Failover: the promoted replica keeps the shard's id, the old master rejoins it.
    c.kill(0);
    let new_id = c.ids[3].clone();
    wait_or(
        "replica 3 owns the slots everywhere",
        30,
        || c.all_see_owner(&new_id, 0),
        || c.views(),
    );
    assert_eq!(shard_id(&c, 3), shards[0]);
    c.restart(0);
    wait_or(
        "the old master follows the promoted replica",
        30,
        || c.master_seen(0, 0) == new_id,
        || c.views(),
    );
    assert_eq!(shard_id(&c, 0), shards[0]);
}

/// A nodes.conf of Redis < 7.2 (no `shard-id=`) loads: a master gets a new shard id,
/// a replica its master's (from the file, then from its master on the bus).
#[test]
fn old_nodes_conf_without_shard_ids_loads() {
    let mut c = Cluster::start(3, true);
    wait_shards_agree(&c);
    let master_shard = shard_id(&c, 2);
    for i in [2, 5] {
        c.kill(i);
        strip_aux_fields(&c.conf_path(i));
        c.restart(i);
    }
    let new_master_shard = shard_id(&c, 2);
    assert_is_id(&new_master_shard);
    assert_ne!(new_master_shard, master_shard);
    assert_eq!(text(c.conn(2).cmd(&["CLUSTER", "MYID"])), c.ids[2]);
    wait_or(
        "the replica takes its master's new shard id",
        20,
        || shard_id(&c, 5) == new_master_shard,
        || c.views(),
    );
    c.wait_ok();
    // The next save writes the ids.
    c.conn(2).cmd(&["CLUSTER", "SAVECONFIG"]);
    let conf = std::fs::read_to_string(c.conf_path(2)).unwrap();
    assert!(
        conf.contains(&format!(",shard-id={new_master_shard} myself")),
        "{conf}"
    );
}

#[test]
fn myshardid_needs_cluster_mode() {
    let s = Server::start(&[]);
    let mut conn: Conn = s.conn();
    assert_eq!(
        conn.cmd(&["CLUSTER", "MYSHARDID"]),
        err("ERR This instance has cluster support disabled")
    );
    assert_eq!(
        conn.cmd(&["CLUSTER", "MYSHARDID", "x"]),
        err("ERR wrong number of arguments for 'cluster|myshardid' command")
    );
}
