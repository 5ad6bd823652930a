//! Replica migration between real processes, ours and Debian's redis-server side by
//! side: a spare replica moves to an orphaned master unless the migration barrier or
//! `cluster-allow-replica-migration no` holds it back; a failed-over master follows.

mod common;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::cluster::{wait_or, Cluster};
use common::{ok, text, Kind};

/// One cluster at a time (7 nodes with a 1 s node timeout).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Masters 0, 1, 2; replicas 3 and 4 of master 0, 5 of master 1, 6 of master 2.
const LAYOUT: [usize; 4] = [0, 0, 1, 2];
const ORPHAN: usize = 1;
const SOLE_REPLICA: usize = 5;

/// Redis migrates only once a master has been orphaned for 5 s
/// (CLUSTER_SLAVE_MIGRATION_DELAY); a check that nothing moved waits past that.
const PAST_MIGRATION_DELAY: Duration = Duration::from_millis(7000);

/// Kills the sole replica of master 1 and waits until every live node flags it FAIL.
fn orphan_master_1(c: &mut Cluster) {
    c.kill(SOLE_REPLICA);
    let id = c.ids[SOLE_REPLICA].clone();
    wait_or(
        "every node flags the killed replica as failed",
        20,
        || {
            c.live().iter().all(|&i| {
                let nodes = text(c.conn(i).cmd(&["CLUSTER", "NODES"]));
                nodes.lines().any(|l| {
                    let flags = l.split(' ').nth(2).unwrap();
                    l.starts_with(&id) && flags.split(',').any(|f| f == "fail")
                })
            })
        },
        || c.views(),
    );
}

/// Which of replicas 3 and 4 every live node sees following master 1, if they agree.
fn migrated(c: &Cluster) -> Option<usize> {
    let orphan = &c.ids[ORPHAN];
    [3, 4]
        .into_iter()
        .find(|&r| c.live().iter().all(|&at| c.master_seen(at, r) == *orphan))
}

fn replicas_stay_with_master_0(c: &Cluster) {
    for r in [3, 4] {
        for at in c.live() {
            assert_eq!(c.master_seen(at, r), c.ids[0], "node {at}:\n{}", c.views());
        }
    }
}

fn migrates_to_the_orphan(kind: Kind) {
    let _serial = serial();
    let mut c = Cluster::start_layout(kind, 3, &LAYOUT, &[]);
    let mut conf = c.conn(3);
    let reply = conf.cmd(&["CONFIG", "GET", "cluster-migration-barrier"]);
    assert_eq!(text_list(reply), ["cluster-migration-barrier", "1"]);
    let reply = conf.cmd(&["CONFIG", "GET", "cluster-allow-replica-migration"]);
    assert_eq!(text_list(reply), ["cluster-allow-replica-migration", "yes"]);
    orphan_master_1(&mut c);
    let mut moved = None;
    wait_or(
        "a replica of master 0 migrates to master 1",
        30,
        || {
            moved = migrated(&c);
            moved.is_some()
        },
        || c.views(),
    );
    // The sibling with the smaller id moves; the other stays.
    let moved = moved.unwrap();
    let stayed = 7 - moved;
    assert!(c.ids[moved] < c.ids[stayed], "{}", c.views());
    assert_eq!(c.master_seen(0, stayed), c.ids[0]);
    // It really replicates its new master.
    let port = c.ports[ORPHAN].to_string();
    wait_or(
        "the migrated replica's link to master 1 is up",
        20,
        || {
            let info = text(c.conn(moved).cmd(&["INFO", "replication"]));
            info.contains(&format!("master_port:{port}")) && info.contains("master_link_status:up")
        },
        || c.views(),
    );
    c.wait_ok();
}

#[test]
fn replica_migrates_to_an_orphaned_master() {
    migrates_to_the_orphan(Kind::Ours);
}

#[test]
fn redis_replica_migrates_to_an_orphaned_master() {
    migrates_to_the_orphan(Kind::Redis);
}

fn held_back(kind: Kind) {
    let _serial = serial();
    let barrier = ["--cluster-migration-barrier", "2"];
    let mut c = Cluster::start_layout(kind, 3, &LAYOUT, &barrier);
    orphan_master_1(&mut c);
    // Master 0 would keep one replica, not more than the barrier of 2.
    std::thread::sleep(PAST_MIGRATION_DELAY);
    replicas_stay_with_master_0(&c);
    for i in c.live() {
        let mut n = c.conn(i);
        let off = ["CONFIG", "SET", "cluster-allow-replica-migration", "no"];
        assert_eq!(n.cmd(&off), ok());
        assert_eq!(
            n.cmd(&["CONFIG", "SET", "cluster-migration-barrier", "1"]),
            ok()
        );
    }
    std::thread::sleep(PAST_MIGRATION_DELAY);
    replicas_stay_with_master_0(&c);
    for i in c.live() {
        let on = ["CONFIG", "SET", "cluster-allow-replica-migration", "yes"];
        assert_eq!(c.conn(i).cmd(&on), ok());
    }
    wait_or(
        "a replica migrates once allowed",
        30,
        || migrated(&c).is_some(),
        || c.views(),
    );
}

#[test]
fn barrier_and_allow_replica_migration_hold_replicas_back() {
    held_back(Kind::Ours);
}

#[test]
fn redis_barrier_and_allow_replica_migration_hold_replicas_back() {
    held_back(Kind::Redis);
}

/// With replica migration off, a master whose slots all went to its replica in a
/// failover still follows it when it comes back (Redis 7's "sender took exactly our
/// slots" rule).
fn failed_over_master_follows(kind: Kind) {
    let _serial = serial();
    let off = ["--cluster-allow-replica-migration", "no"];
    let mut c = Cluster::start_layout(kind, 3, &[0, 1, 2], &off);
    c.kill(0);
    let new_id = c.ids[3].clone();
    wait_or(
        "the replica owns the slots everywhere",
        30,
        || c.all_see_owner(&new_id, 0),
        || c.views(),
    );
    c.restart(0);
    wait_or(
        "the old master follows the new one",
        30,
        || c.live().iter().all(|&at| c.master_seen(at, 0) == new_id),
        || c.views(),
    );
    c.wait_link_up(0);
    c.wait_ok();
}

#[test]
fn failed_over_master_follows_with_migration_off() {
    failed_over_master_follows(Kind::Ours);
}

#[test]
fn redis_failed_over_master_follows_with_migration_off() {
    failed_over_master_follows(Kind::Redis);
}

fn text_list(f: common::Frame) -> Vec<String> {
    match f {
        common::Frame::Array(items) => items.into_iter().map(text).collect(),
        other => panic!("not an array: {other:?}"),
    }
}
