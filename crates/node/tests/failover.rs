//! Cluster failover between real processes: replica promotion after SIGKILL, rejoin of
//! the old master, manual CLUSTER FAILOVER (default, TAKEOVER), minority write refusal.

mod common;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::cluster::{owner_of, wait_or, Cluster};
use common::{cluster_info_field as info_field, text, Conn};
use resp::Frame;

/// One cluster at a time: 12+ nodes with a 1 s node timeout on a loaded machine would
/// see spurious failures (and failovers) of their own.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
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
    wait_or(
        "the forced failover completes",
        20,
        || c.all_see_owner(&new_id, 16000),
        || c.views(),
    );
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
    wait_or(
        "the replica took over",
        20,
        || c.all_see_owner(&new_id, 0),
        || c.views(),
    );
    let acked = writer.join().unwrap();
    assert!(!acked.is_empty());
    assert_has_keys(c.ports[3], &acked);
    wait_or(
        "the old master follows the new one",
        20,
        || {
            let line = text(c.conn(0).cmd(&["CLUSTER", "NODES"]));
            line.lines()
                .any(|l| l.contains("myself,slave") && l.contains(&new_id))
        },
        || c.views(),
    );
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
    wait_or(
        "every running node sees the takeover",
        20,
        || {
            [0, 2, 3, 4, 5]
                .iter()
                .all(|&i| owner_of(&mut c.conn(i), 6000) == new_id)
        },
        || c.views(),
    );
    c.signal(1, "-CONT");
    wait_or(
        "the old master follows the new one",
        20,
        || {
            let line = text(c.conn(1).cmd(&["CLUSTER", "NODES"]));
            line.lines()
                .any(|l| l.contains("myself,slave") && l.contains(&new_id))
        },
        || c.views(),
    );
    c.wait_ok();
    // Masters 0 and 4 stopped: master 2 is alone, a minority, and refuses writes.
    c.signal(0, "-STOP");
    c.signal(4, "-STOP");
    let mut m = c.conn(2);
    wait_or(
        "the minority master goes down",
        20,
        || info_field(&mut m, "cluster_state") == "fail",
        || c.views(),
    );
    let err = text(m.cmd(&["SET", "{a}x", "1"]));
    assert!(err.starts_with("CLUSTERDOWN"), "{err}");
    c.signal(0, "-CONT");
    c.signal(4, "-CONT");
}
