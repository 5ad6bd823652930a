//! Replication with real processes: our master with replicas of ours (full and
//! partial sync, chains, restarts, promotion, WAIT), compared with redis-server.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{bulk, int, text, Conn, Frame, Server};

/// Polls `cond` until it holds, or fails after 10 s with `what`.
fn poll(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for: {what}");
}

/// INFO `section` as (field, value) pairs in order.
fn info(c: &mut Conn, section: &str) -> Vec<(String, String)> {
    text(c.cmd(&["INFO", section]))
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field(c: &mut Conn, section: &str, name: &str) -> String {
    info(c, section)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no INFO field {name}"))
}

fn replicaof(master: &Server) -> String {
    format!("127.0.0.1 {}", master.port)
}

/// Starts a replica of ours following `master`, and waits until its link is up.
fn replica(master: &Server, extra: &[&str]) -> Server {
    let target = replicaof(master);
    let mut args = vec!["--replicaof", target.as_str()];
    args.extend_from_slice(extra);
    let r = Server::start(&args);
    wait_link_up(&r);
    r
}

fn wait_link_up(r: &Server) {
    let mut c = r.conn();
    poll("master_link_status:up", || {
        field(&mut c, "replication", "master_link_status") == "up"
    });
}

/// Waits until `replica` applied everything `master` produced so far.
fn wait_caught_up(master: &Server, replica: &Server) {
    let (mut m, mut r) = (master.conn(), replica.conn());
    poll("replica offset reaches the master's", || {
        let target = field(&mut m, "replication", "master_repl_offset");
        field(&mut r, "replication", "master_repl_offset") == target
    });
}

/// What a dataset looks like through commands: every key of dbs 0..4 with its type,
/// contents and whether it has a TTL.
fn readout(c: &mut Conn) -> Vec<String> {
    let mut all = Vec::new();
    for db in 0..4 {
        c.cmd(&["SELECT", &db.to_string()]);
        let Frame::Array(keys) = c.cmd(&["KEYS", "*"]) else {
            panic!("KEYS")
        };
        let mut keys: Vec<String> = keys.into_iter().map(text).collect();
        keys.sort();
        for k in keys {
            let kind = text(c.cmd(&["TYPE", &k]));
            let body = match kind.as_str() {
                "string" => c.cmd(&["GET", &k]),
                "list" => c.cmd(&["LRANGE", &k, "0", "-1"]),
                "hash" => common::sorted(c.cmd(&["HGETALL", &k])),
                "set" => common::sorted(c.cmd(&["SMEMBERS", &k])),
                "zset" => c.cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"]),
                "stream" => c.cmd(&["XRANGE", &k, "-", "+"]),
                _ => Frame::Null,
            };
            let ttl = matches!(c.cmd(&["PTTL", &k]), Frame::Integer(t) if t > 0);
            all.push(format!("{db} {k} {kind} ttl={ttl} {body:?}"));
        }
    }
    c.cmd(&["SELECT", "0"]);
    all
}

const WRITES: &str = "SET s hello
INCR n
INCRBY n 41
RPUSH l a b c
LPOP l
HSET h f1 v1 f2 v2
SADD set x y z
SREM set y
ZADD z 1 one 2 two 3 three
XADD st 1-1 f v
XADD st * g w
SET ttl v EX 1000
SET px v
PEXPIRE px 500000
SETEX gone 100 v
DEL gone
SELECT 2
SET in2 v2
SELECT 0
MULTI
SET m1 1
INCR m1
LPUSH ml q
EXEC
SPOP set";

fn run_script(c: &mut Conn, script: &str) {
    for line in script.lines() {
        let args: Vec<&str> = line.split_whitespace().collect();
        let reply = c.cmd(&args);
        assert!(!matches!(reply, Frame::Error(_)), "{line}: {reply:?}");
    }
}

#[test]
fn writes_reach_two_replicas_and_wait_counts_them() {
    let master = Server::start(&[]);
    let r1 = replica(&master, &[]);
    let r2 = replica(&master, &[]);
    let mut m = master.conn();
    run_script(&mut m, WRITES);
    for r in [&r1, &r2] {
        wait_caught_up(&master, r);
        assert_eq!(readout(&mut r.conn()), readout(&mut m));
    }
    m.cmd(&["SET", "after", "1"]);
    assert_eq!(m.cmd(&["WAIT", "2", "5000"]), int(2));
    assert_eq!(r1.conn().cmd(&["GET", "after"]), bulk("1"));
    // ROLE lists both replicas with their acked offsets.
    let offset = field(&mut m, "replication", "master_repl_offset");
    poll("both replicas acked", || {
        let Frame::Array(role) = m.cmd(&["ROLE"]) else {
            return false;
        };
        let Frame::Array(replicas) = &role[2] else {
            return false;
        };
        replicas.len() == 2
            && replicas
                .iter()
                .all(|r| matches!(r, Frame::Array(e) if e[2] == bulk(&offset)))
    });
    assert_eq!(field(&mut m, "replication", "connected_slaves"), "2");
    let slave0 = field(&mut m, "replication", "slave0");
    assert!(slave0.starts_with("ip=127.0.0.1,port="), "{slave0}");
    assert!(slave0.contains(",state=online,offset="), "{slave0}");
    let Frame::Array(role) = r1.conn().cmd(&["ROLE"]) else {
        panic!("ROLE")
    };
    assert_eq!(role[0], bulk("slave"));
    assert_eq!(role[2], int(master.port as i64));
    assert_eq!(role[3], bulk("connected"));
}

#[test]
fn wait_without_enough_replicas_times_out_with_the_count() {
    let master = Server::start(&[]);
    let mut m = master.conn();
    m.cmd(&["SET", "a", "1"]);
    assert_eq!(m.cmd(&["WAIT", "0", "0"]), int(0));
    let started = Instant::now();
    assert_eq!(m.cmd(&["WAIT", "1", "200"]), int(0));
    assert!(started.elapsed() >= Duration::from_millis(180));
    let _r = replica(&master, &[]);
    assert_eq!(m.cmd(&["WAIT", "1", "5000"]), int(1));
    assert_eq!(
        m.cmd(&["WAIT", "1", "-1"]),
        common::err("ERR timeout is negative")
    );
}

#[test]
fn full_sync_of_a_populated_master() {
    let master = Server::start(&[]);
    let mut m = master.conn();
    for i in 0..500 {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        m.cmd(&["SET", &k, &v]);
        m.cmd(&["RPUSH", &format!("l{}", i % 7), &v]);
        m.cmd(&["ZADD", "z", &i.to_string(), &k]);
        m.cmd(&["HSET", &format!("h{}", i % 5), &k, &v]);
    }
    m.cmd(&["PEXPIRE", "k1", "1000000"]);
    m.cmd(&["SELECT", "3"]);
    m.cmd(&["SADD", "three", "a", "b"]);
    m.cmd(&["SELECT", "0"]);
    let r = replica(&master, &[]);
    wait_caught_up(&master, &r);
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["DBSIZE"]), m.cmd(&["DBSIZE"]));
    assert_eq!(readout(&mut rc), readout(&mut m));
    assert_eq!(field(&mut m, "stats", "sync_full"), "1");
    // The stream after the payload lands in the right database.
    m.cmd(&["SELECT", "3"]);
    m.cmd(&["SADD", "three", "c"]);
    wait_caught_up(&master, &r);
    rc.cmd(&["SELECT", "3"]);
    assert_eq!(rc.cmd(&["SCARD", "three"]), int(3));
}

#[test]
fn partial_resync_after_the_link_is_cut() {
    let master = Server::start(&[]);
    let r = replica(&master, &[]);
    let mut m = master.conn();
    m.cmd(&["SET", "before", "1"]);
    wait_caught_up(&master, &r);
    assert_eq!(m.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), int(1));
    m.cmd(&["SET", "during", "2"]);
    m.cmd(&["RPUSH", "list", "a", "b"]);
    wait_link_up(&r);
    wait_caught_up(&master, &r);
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["GET", "during"]), bulk("2"));
    assert_eq!(rc.cmd(&["LLEN", "list"]), int(2));
    assert_eq!(field(&mut m, "stats", "sync_full"), "1");
    assert_eq!(field(&mut m, "stats", "sync_partial_ok"), "1");
    // The master link shows up as a master client on the replica.
    assert_eq!(
        rc.cmd(&["CLIENT", "KILL", "TYPE", "master"]),
        int(1),
        "the replica kills its master link"
    );
    m.cmd(&["SET", "again", "3"]);
    wait_link_up(&r);
    wait_caught_up(&master, &r);
    assert_eq!(rc.cmd(&["GET", "again"]), bulk("3"));
    assert_eq!(field(&mut m, "stats", "sync_partial_ok"), "2");
}

#[test]
fn replica_is_read_only_and_hides_expired_keys() {
    let master = Server::start(&[]);
    let r = replica(&master, &[]);
    let mut rc = r.conn();
    assert_eq!(
        rc.cmd(&["SET", "a", "1"]),
        common::err("READONLY You can't write against a read only replica.")
    );
    assert_eq!(
        rc.cmd(&["WAIT", "1", "0"]),
        common::err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
    );
    let mut m = master.conn();
    m.cmd(&["SET", "short", "v", "PX", "300"]);
    wait_caught_up(&master, &r);
    assert_eq!(rc.cmd(&["GET", "short"]), bulk("v"));
    std::thread::sleep(Duration::from_millis(400));
    // Logically expired: reads miss, whether or not the master's DEL arrived yet.
    assert_eq!(rc.cmd(&["GET", "short"]), Frame::Null);
    assert_eq!(rc.cmd(&["EXISTS", "short"]), int(0));
    rc.cmd(&["CONFIG", "SET", "replica-read-only", "no"]);
    assert_eq!(rc.cmd(&["SET", "local", "1"]), common::ok());
}

/// A replica of an unreachable master with `replica-serve-stale-data no`.
fn stale_replica(kind: common::Kind) -> Server {
    let dead = common::free_port().to_string();
    let s = Server::start_kind(kind, &["--replicaof", "127.0.0.1", &dead]);
    s.conn()
        .cmd(&["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    s
}

#[test]
fn stale_data_refusal_matches_redis() {
    let ours = stale_replica(common::Kind::Ours);
    let theirs = stale_replica(common::Kind::Redis);
    for cmd in [
        &["GET", "a"][..],
        &["SET", "a", "1"],
        &["INFO", "server"],
        &["REPLCONF", "foo", "bar"],
        &["REPLCONF", "foo"],
        &["REPLICAOF", "127.0.0.1", "x"],
    ] {
        let (a, b) = (ours.conn().cmd(cmd), theirs.conn().cmd(cmd));
        match (&a, &b) {
            (Frame::Error(_), _) | (_, Frame::Error(_)) => assert_eq!(a, b, "{cmd:?}"),
            _ => {}
        }
    }
    let mut c = ours.conn();
    let fields = info(&mut c, "replication");
    let link = fields.iter().find(|(k, _)| k == "master_link_status");
    assert_eq!(link.map(|(_, v)| v.as_str()), Some("down"));
    let Frame::Array(role) = c.cmd(&["ROLE"]) else {
        panic!("ROLE")
    };
    assert_eq!(role[4], int(-1));
}

/// Field names of INFO replication in order, with `slaveN` kept as its prefix.
fn field_names(c: &mut Conn) -> Vec<String> {
    info(c, "replication").into_iter().map(|(k, _)| k).collect()
}

#[test]
fn info_replication_fields_match_redis() {
    let pair = |kind: common::Kind| {
        let m = Server::start_kind(kind, &["--repl-diskless-sync-delay", "0"]);
        let target = replicaof(&m);
        let r = Server::start_kind(kind, &["--replicaof", &target]);
        wait_link_up(&r);
        let mut mc = m.conn();
        poll("replica online", || {
            field(&mut mc, "replication", "slave0").contains("state=online")
        });
        (m, r)
    };
    let (om, or) = pair(common::Kind::Ours);
    let (rm, rr) = pair(common::Kind::Redis);
    assert_eq!(field_names(&mut om.conn()), field_names(&mut rm.conn()));
    assert_eq!(field_names(&mut or.conn()), field_names(&mut rr.conn()));
    // ROLE has the same shape on both.
    let shape = |f: Frame| match f {
        Frame::Array(items) => items
            .iter()
            .map(|i| match i {
                Frame::Array(_) => "array",
                Frame::Integer(_) => "int",
                Frame::Bulk(_) => "bulk",
                _ => "other",
            })
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    assert_eq!(
        shape(om.conn().cmd(&["ROLE"])),
        shape(rm.conn().cmd(&["ROLE"]))
    );
    assert_eq!(
        shape(or.conn().cmd(&["ROLE"])),
        shape(rr.conn().cmd(&["ROLE"]))
    );
    // A fresh master has no backlog and the same fields as Redis's.
    let (a, b) = (Server::start(&[]), Server::start_redis(&[]));
    assert_eq!(field_names(&mut a.conn()), field_names(&mut b.conn()));
}

#[test]
fn replicaof_no_one_promotes_with_a_new_history() {
    let master = Server::start(&[]);
    let r = replica(&master, &[]);
    let mut m = master.conn();
    m.cmd(&["SET", "kept", "1"]);
    wait_caught_up(&master, &r);
    let mut rc = r.conn();
    let old_id = field(&mut rc, "replication", "master_replid");
    let offset: u64 = field(&mut rc, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    assert_eq!(rc.cmd(&["REPLICAOF", "NO", "ONE"]), common::ok());
    assert_eq!(field(&mut rc, "replication", "role"), "master");
    assert_ne!(field(&mut rc, "replication", "master_replid"), old_id);
    assert_eq!(field(&mut rc, "replication", "master_replid2"), old_id);
    assert_eq!(
        field(&mut rc, "replication", "second_repl_offset"),
        (offset + 1).to_string()
    );
    assert_eq!(rc.cmd(&["GET", "kept"]), bulk("1"));
    assert_eq!(rc.cmd(&["SET", "new", "2"]), common::ok());
    // The old master can now follow the promoted node and continue partially.
    assert_eq!(
        m.cmd(&["REPLICAOF", "127.0.0.1", &r.port.to_string()]),
        common::ok()
    );
    wait_link_up(&master);
    wait_caught_up(&r, &master);
    assert_eq!(m.cmd(&["GET", "new"]), bulk("2"));
    assert_eq!(field(&mut rc, "stats", "sync_partial_ok"), "1");
}

#[test]
fn chained_replica_and_promotion_of_the_middle() {
    let master = Server::start(&[]);
    let r1 = replica(&master, &[]);
    let r2 = replica(&r1, &[]);
    let mut m = master.conn();
    run_script(&mut m, WRITES);
    wait_caught_up(&master, &r2);
    assert_eq!(readout(&mut r2.conn()), readout(&mut m));
    // Offsets and ids are the same along the chain.
    let id = field(&mut m, "replication", "master_replid");
    assert_eq!(field(&mut r2.conn(), "replication", "master_replid"), id);
    // Promoting the middle keeps the bottom replica going with a partial resync.
    let mut c1 = r1.conn();
    c1.cmd(&["REPLICAOF", "NO", "ONE"]);
    c1.cmd(&["SET", "from-r1", "x"]);
    wait_link_up(&r2);
    wait_caught_up(&r1, &r2);
    assert_eq!(r2.conn().cmd(&["GET", "from-r1"]), bulk("x"));
    assert_eq!(field(&mut c1, "stats", "sync_full"), "1");
    assert_eq!(field(&mut c1, "stats", "sync_partial_ok"), "1");
}

/// A directory kept across restarts of one node.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn restarted_replica_continues_from_its_saved_offset() {
    let master = Server::start(&[]);
    let mut m = master.conn();
    m.cmd(&["SET", "a", "1"]);
    let dir = Dir(std::env::temp_dir().join(format!(
        "rustidocs-repl-{}-{}",
        std::process::id(),
        common::free_port()
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.display().to_string();
    let port = common::free_port();
    let target = replicaof(&master);
    let args = ["--dir", &path, "--save", "3600 1", "--replicaof", &target];
    let mut r = Server::start_on(common::Kind::Ours, port, &args);
    wait_link_up(&r);
    wait_caught_up(&master, &r);
    assert!(r.terminate().success());
    m.cmd(&["SET", "b", "2"]);
    let r = Server::start_on(common::Kind::Ours, port, &args);
    wait_link_up(&r);
    wait_caught_up(&master, &r);
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["GET", "a"]), bulk("1"));
    assert_eq!(rc.cmd(&["GET", "b"]), bulk("2"));
    assert_eq!(field(&mut m, "stats", "sync_full"), "1");
    assert_eq!(field(&mut m, "stats", "sync_partial_ok"), "1");
}

#[test]
fn cluster_replicate_follows_the_named_master() {
    let dir = Dir(std::env::temp_dir().join(format!(
        "rustidocs-repl-cluster-{}-{}",
        std::process::id(),
        common::free_port()
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (pa, pb) = (common::free_port(), common::free_port());
    let (a_id, b_id) = ("a".repeat(40), "b".repeat(40));
    let line = |id: &str, port: u16, me: bool, slots: &str| {
        let flags = if me { "myself,master" } else { "master" };
        format!(
            "{id} 127.0.0.1:{port}@{} {flags} - 0 0 1 connected {slots}\n",
            port + 10000
        )
    };
    let vars = "vars currentEpoch 1 lastVoteEpoch 0\n";
    let conf_a = line(&a_id, pa, true, "0-16383") + &line(&b_id, pb, false, "") + vars;
    let conf_b = line(&a_id, pa, false, "0-16383") + &line(&b_id, pb, true, "") + vars;
    let (fa, fb) = (dir.0.join("a.conf"), dir.0.join("b.conf"));
    std::fs::write(&fa, conf_a).unwrap();
    std::fs::write(&fb, conf_b).unwrap();
    let start = |port, file: &PathBuf| {
        let file = file.display().to_string();
        let args = ["--cluster-enabled", "yes", "--cluster-config-file", &file];
        Server::start_on(common::Kind::Ours, port, &args)
    };
    let (a, b) = (start(pa, &fa), start(pb, &fb));
    let (mut ac, mut bc) = (a.conn(), b.conn());
    ac.cmd(&["SET", "k", "v"]);
    assert_eq!(
        bc.cmd(&["CLUSTER", "REPLICATE", &b_id]),
        common::err("ERR Can't replicate myself")
    );
    assert_eq!(
        bc.cmd(&["CLUSTER", "REPLICATE", "nosuch"]),
        common::err("ERR Unknown node nosuch")
    );
    assert_eq!(
        bc.cmd(&["REPLICAOF", "127.0.0.1", &pa.to_string()]),
        common::err("ERR REPLICAOF not allowed in cluster mode.")
    );
    assert_eq!(bc.cmd(&["CLUSTER", "REPLICATE", &a_id]), common::ok());
    wait_link_up(&b);
    wait_caught_up(&a, &b);
    assert_eq!(bc.cmd(&["READONLY"]), common::ok());
    assert_eq!(bc.cmd(&["GET", "k"]), bulk("v"));
    // The stream applies on the replica although it serves no slot itself.
    ac.cmd(&["SET", "streamed", "1"]);
    wait_caught_up(&a, &b);
    assert_eq!(bc.cmd(&["GET", "streamed"]), bulk("1"));
    let Frame::Array(replicas) = bc.cmd(&["CLUSTER", "REPLICAS", &a_id]) else {
        panic!("CLUSTER REPLICAS")
    };
    assert_eq!(replicas.len(), 1);
    assert!(text(replicas[0].clone()).contains(&format!("slave {a_id}")));
    let Frame::Array(role) = bc.cmd(&["ROLE"]) else {
        panic!("ROLE")
    };
    assert_eq!(role[0], bulk("slave"));
    // The role survives a restart through nodes.conf.
    drop(bc);
    drop(b);
    let b = start(pb, &fb);
    wait_link_up(&b);
}

#[test]
fn replica_with_aof_keeps_what_it_applied() {
    let master = Server::start(&[]);
    let mut m = master.conn();
    m.cmd(&["SET", "before", "1"]);
    let dir = Dir(std::env::temp_dir().join(format!(
        "rustidocs-repl-aof-{}-{}",
        std::process::id(),
        common::free_port()
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.display().to_string();
    let port = common::free_port();
    let target = replicaof(&master);
    let aof = ["--dir", &path, "--appendonly", "yes"];
    let mut with_master = aof.to_vec();
    with_master.extend(["--replicaof", &target]);
    let mut r = Server::start_on(common::Kind::Ours, port, &with_master);
    wait_link_up(&r);
    m.cmd(&["RPUSH", "after", "a", "b"]);
    m.cmd(&["SELECT", "5"]);
    m.cmd(&["SET", "five", "5"]);
    wait_caught_up(&master, &r);
    let flags = text(m.cmd(&["CLIENT", "LIST", "TYPE", "replica"]));
    assert!(flags.contains("flags=S "), "{flags}");
    assert!(r.terminate().success());
    // Restarted alone (a master now), it loads the same data from its AOF.
    let r = Server::start_on(common::Kind::Ours, port, &aof);
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["GET", "before"]), bulk("1"));
    assert_eq!(rc.cmd(&["LLEN", "after"]), int(2));
    rc.cmd(&["SELECT", "5"]);
    assert_eq!(rc.cmd(&["GET", "five"]), bulk("5"));
}
