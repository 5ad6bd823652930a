//! Cluster mode: CLUSTER commands and redirections compared with a real
//! `redis-server --cluster-enabled yes`, nodes.conf across restarts, MOVED/ASK between
//! two of our nodes, and MIGRATE of every type to our node and to a real redis-server.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{
    bulk, cluster_info_field as info_field, err, free_port, int, ok, show, text, Conn,
    Differential, Kind, Server,
};
use resp::Frame;

/// A directory for nodes.conf files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "rustidocs-cluster-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cluster_args(conf: &str) -> Vec<&str> {
    vec!["--cluster-enabled", "yes", "--cluster-config-file", conf]
}

/// Redis turns `ok` up to two seconds after start (its rejoin delay); ours at once.
fn wait_cluster_ok(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(6);
    while info_field(c, "cluster_state") != "ok" {
        assert!(Instant::now() < deadline, "cluster never became ok");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn myid(c: &mut Conn) -> String {
    text(c.cmd(&["CLUSTER", "MYID"]))
}

/// A raw reply with node ids replaced, to compare replies of two different nodes.
fn masked(c: &mut Conn, args: &[&str]) -> String {
    let id = myid(c);
    let raw = c.cmd_raw(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
    show(&raw).replace(&id, "<id>")
}

fn single_node_pair() -> (Differential, TempDir) {
    let dir = TempDir::new("single");
    let conf = dir.file("nodes.conf");
    let ours = Server::start(&cluster_args(&conf));
    let redis = Server::start_redis(&["--cluster-enabled", "yes"]);
    let a = ours.conn();
    let b = redis.conn();
    (Differential { ours, redis, a, b }, dir)
}

#[test]
fn single_node_matches_redis() {
    let (mut d, _dir) = single_node_pair();
    // (Before any slot is assigned Redis shows cluster_size:1 for its first two
    // seconds, until its first state update; ours computes 0 at once.)
    d.check_script(
        "
        SET foo bar
        GET foo
        CLUSTER KEYSLOT foo
        CLUSTER KEYSLOT {user1000}.following
        CLUSTER KEYSLOT {user1000}.followers
        CLUSTER KEYSLOT foo{}{bar}
        CLUSTER KEYSLOT foo{{bar}}zap
        CLUSTER KEYSLOT foo{bar}{zap}
        CLUSTER COUNTKEYSINSLOT 12182
        CLUSTER COUNTKEYSINSLOT 16384
        CLUSTER COUNTKEYSINSLOT -1
        CLUSTER COUNTKEYSINSLOT x
        CLUSTER GETKEYSINSLOT 12182 10
        CLUSTER GETKEYSINSLOT 16384 1
        CLUSTER GETKEYSINSLOT 1 -1
        CLUSTER ADDSLOTS 16384
        CLUSTER ADDSLOTS x
        CLUSTER ADDSLOTS 5 5
        CLUSTER ADDSLOTSRANGE 5 4
        CLUSTER ADDSLOTSRANGE 1 2 3
        CLUSTER DELSLOTS 5
        CLUSTER DELSLOTSRANGE 1 2
        CLUSTER SETSLOT 5 NODE abc
        CLUSTER SETSLOT 5 MIGRATING abc
        CLUSTER SETSLOT 5 foo
        CLUSTER SETSLOT 5
        CLUSTER SETSLOT 5 STABLE
        CLUSTER COUNT-FAILURE-REPORTS abc
        CLUSTER FORGET abc
        CLUSTER REPLICAS abc
        CLUSTER LINKS
        CLUSTER MEET 127.0.0.1 x
        CLUSTER MEET 1.2.3 4 5 6
        CLUSTER MEET nothost 7000
        CLUSTER RESET foo
        CLUSTER BUMPEPOCH
        CLUSTER SET-CONFIG-EPOCH -1
        CLUSTER SET-CONFIG-EPOCH x
        CLUSTER SAVECONFIG
        CLUSTER FLUSHSLOTS
        CLUSTER HELP
        CLUSTER NOSUCH
        READONLY
        READWRITE
        ASKING
        SELECT 0
        SELECT 1
        SELECT x
        INFO cluster
        SWAPDB 0 1
        ",
    );
    d.check_script(
        "
        CLUSTER ADDSLOTSRANGE 0 16383
        CLUSTER ADDSLOTS 1
        ",
    );
    wait_cluster_ok(&mut d.b);
    d.check_script(
        "
        CLUSTER INFO
        SET foo bar
        GET foo
        SET {user1000}.following 1
        SET {user1000}.followers 2
        MSET a 1 b 2
        MSET {a}1 1 {a}2 2
        MGET {a}1 {a}2
        DEL foo bar
        EXISTS {a}1 {a}2 {a}1
        SUNIONSTORE {x}dst {x}a {x}b
        SUNIONSTORE dst a b
        SPUBLISH chan msg
        PUBLISH chan msg
        CLUSTER COUNTKEYSINSLOT 12182
        CLUSTER COUNTKEYSINSLOT 3443
        CLUSTER GETKEYSINSLOT 3443 1
        CLUSTER GETKEYSINSLOT 3443 0
        CLUSTER FLUSHSLOTS
        CLUSTER RESET
        MULTI
        SET {a}1 x
        SET a b
        EXEC
        MULTI
        SET {a}1 y
        GET {a}1
        EXEC
        PING
        DBSIZE
        MOVE {a}1 1
        COPY {a}1 {a}3 DB 1
        COPY {a}1 {a}3 DB 0
        ",
    );
    d.check_unordered(&["KEYS", "*"]);
    d.check_unordered(&["CLUSTER", "GETKEYSINSLOT", "3443", "10"]);
    // Replies that name this node: same shape once the ids are masked.
    for cmd in [
        &["CLUSTER", "SLOTS"][..],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "REPLICAS", "<me>"],
        &["CLUSTER", "COUNT-FAILURE-REPORTS", "<me>"],
        &["CLUSTER", "FORGET", "<me>"],
        &["CLUSTER", "SETSLOT", "7", "IMPORTING", "<me>"],
        &["CLUSTER", "SETSLOT", "7", "MIGRATING", "<me>"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "SETSLOT", "7", "STABLE"],
        &["HELLO", "3"],
        &["CLUSTER", "SLOTS"],
        &["CLUSTER", "SHARDS"],
        &["CLUSTER", "INFO"],
    ] {
        let a_id = myid(&mut d.a);
        let b_id = myid(&mut d.b);
        let on_a: Vec<&str> = cmd
            .iter()
            .map(|w| if *w == "<me>" { a_id.as_str() } else { *w })
            .collect();
        let on_b: Vec<&str> = cmd
            .iter()
            .map(|w| if *w == "<me>" { b_id.as_str() } else { *w })
            .collect();
        let ra = masked(&mut d.a, &on_a).replace(&d.ours.port.to_string(), "<port>");
        let rb = masked(&mut d.b, &on_b).replace(&d.redis.port.to_string(), "<port>");
        // Ports are masked, so are bus ports (port + 10000) and HELLO's client ids.
        let normalize = |s: String| {
            s.replace(&format!("{}", d.ours.port + 10000), "<bus>")
                .replace(&format!("{}", d.redis.port + 10000), "<bus>")
        };
        if cmd[0] == "HELLO" {
            assert!(ra.contains("cluster") && rb.contains("cluster"), "{ra}");
            continue;
        }
        assert_eq!(normalize(ra), normalize(rb), "reply differs for {cmd:?}");
    }
}

#[test]
fn epochs_and_meet_match_redis() {
    let (mut d, _dir) = single_node_pair();
    d.check_script(
        "
        CLUSTER BUMPEPOCH
        CLUSTER BUMPEPOCH
        CLUSTER SET-CONFIG-EPOCH 5
        ",
    );
    let (mut d, _dir) = single_node_pair();
    d.check_script(
        "
        CLUSTER SET-CONFIG-EPOCH 5
        CLUSTER SET-CONFIG-EPOCH 5
        CLUSTER BUMPEPOCH
        CLUSTER MEET 127.0.0.1 1
        CLUSTER MEET 127.0.0.1 70000
        CLUSTER MEET 127.0.0.1 3 0
        CLUSTER MEET 127.0.0.1 3
        CLUSTER MEET 127.0.0.1 3
        CLUSTER SET-CONFIG-EPOCH 6
        CLUSTER RESET HARD
        CLUSTER ADDSLOTSRANGE 0 16383
        ",
    );
    wait_cluster_ok(&mut d.b);
    d.check(&["CLUSTER", "INFO"]);
}

#[test]
fn keyed_commands_need_served_slots() {
    let (mut d, _dir) = single_node_pair();
    d.check_script(
        "
        GET foo
        SET foo bar
        MGET a b
        PING
        CLUSTER ADDSLOTSRANGE 0 100
        ",
    );
    // Not all slots are covered: the cluster stays down.
    d.check_script(
        "
        GET foo
        CONFIG SET cluster-require-full-coverage no
        ",
    );
    wait_cluster_ok(&mut d.b);
    d.check_script(
        "
        GET foo
        SET k126 1
        GET k126
        MGET k126 k567
        SET {k596}x 1
        MGET {k596}x k596
        CONFIG SET cluster-require-full-coverage yes
        ",
    );
    // Redis's cron recomputes the state only while it is down: still OK.
    std::thread::sleep(Duration::from_millis(300));
    d.check_script(
        "
        GET k126
        CONFIG SET cluster-allow-reads-when-down yes
        GET k126
        SET k126 2
        ",
    );
}

#[test]
fn nodes_conf_survives_restart() {
    let dir = TempDir::new("restart");
    let conf = dir.file("nodes.conf");
    let port = free_port();
    let mut node = Server::start_on(Kind::Ours, port, &cluster_args(&conf));
    let mut c = node.conn();
    let id = myid(&mut c);
    assert_eq!(id.len(), 40);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        c.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "100", "200", "300"]),
        ok()
    );
    assert_eq!(c.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", "7"]), ok());
    let shard = text(c.cmd(&["CLUSTER", "MYSHARDID"]));
    let saved = std::fs::read_to_string(&conf).unwrap();
    // Redis 7.2's format: an empty hostname, then the shard-id aux field.
    assert!(
        saved.contains(&format!(
            "{id} :{port}@{},,shard-id={shard} myself,master - 0 0 7 connected 0-100 200-300",
            port + 10000
        )),
        "{saved}"
    );
    assert!(
        saved.ends_with("vars currentEpoch 7 lastVoteEpoch 0\n"),
        "{saved}"
    );
    let nodes_before = text(c.cmd(&["CLUSTER", "NODES"]));
    node.terminate();
    drop(node);

    let node = Server::start_on(Kind::Ours, port, &cluster_args(&conf));
    let mut c = node.conn();
    assert_eq!(myid(&mut c), id);
    assert_eq!(text(c.cmd(&["CLUSTER", "MYSHARDID"])), shard);
    assert_eq!(text(c.cmd(&["CLUSTER", "NODES"])), nodes_before);
    assert_eq!(info_field(&mut c, "cluster_current_epoch"), "7");
    assert_eq!(info_field(&mut c, "cluster_slots_assigned"), "202");
    // A new port is announced after a restart elsewhere.
    drop(c);
    drop(node);
    let node = Server::start(&cluster_args(&conf));
    let mut c = node.conn();
    assert_eq!(myid(&mut c), id);
    assert!(text(c.cmd(&["CLUSTER", "NODES"])).contains(&format!(":{}@", node.port)));
    // CLUSTER RESET HARD forgets the slots and takes a new id.
    assert_eq!(c.cmd(&["CLUSTER", "RESET", "HARD"]), ok());
    assert_ne!(myid(&mut c), id);
    assert_ne!(text(c.cmd(&["CLUSTER", "MYSHARDID"])), shard);
    assert_eq!(info_field(&mut c, "cluster_slots_assigned"), "0");
}

/// Two of our nodes that know each other through their nodes.conf: A serves slots
/// 0-8191, B serves 8192-16383.
struct TwoNodes {
    _dir: TempDir,
    a: Server,
    b: Server,
    a_id: String,
    b_id: String,
}

fn two_nodes() -> TwoNodes {
    let dir = TempDir::new("two");
    let (pa, pb) = (free_port(), free_port());
    let (a_id, b_id) = ("a".repeat(40), "b".repeat(40));
    let line = |id: &str, port: u16, me: bool, slots: &str| {
        let flags = if me { "myself,master" } else { "master" };
        format!(
            "{id} 127.0.0.1:{port}@{} {flags} - 0 0 1 connected {slots}\n",
            port + 10000
        )
    };
    let vars = "vars currentEpoch 2 lastVoteEpoch 0\n";
    let conf_a = line(&a_id, pa, true, "0-8191") + &line(&b_id, pb, false, "8192-16383") + vars;
    let conf_b = line(&a_id, pa, false, "0-8191") + &line(&b_id, pb, true, "8192-16383") + vars;
    let (fa, fb) = (dir.file("a.conf"), dir.file("b.conf"));
    std::fs::write(&fa, conf_a).unwrap();
    std::fs::write(&fb, conf_b).unwrap();
    let a = Server::start_on(Kind::Ours, pa, &cluster_args(&fa));
    let b = Server::start_on(Kind::Ours, pb, &cluster_args(&fb));
    TwoNodes {
        _dir: dir,
        a,
        b,
        a_id,
        b_id,
    }
}

#[test]
fn moved_between_two_nodes() {
    let t = two_nodes();
    let (mut a, mut b) = (t.a.conn(), t.b.conn());
    for c in [&mut a, &mut b] {
        assert_eq!(info_field(c, "cluster_state"), "ok");
        assert_eq!(info_field(c, "cluster_known_nodes"), "2");
        assert_eq!(info_field(c, "cluster_size"), "2");
    }
    // A slot that moves while a transaction is queued: EXEC is redirected and the
    // transaction discarded.
    let mut a2 = t.a.conn();
    assert_eq!(a.cmd(&["MULTI"]), ok());
    assert_eq!(a.cmd(&["GET", "k126"]), Frame::Simple(b"QUEUED".to_vec()));
    assert_eq!(a2.cmd(&["CLUSTER", "SETSLOT", "58", "NODE", &t.b_id]), ok());
    let moved_58 = format!("MOVED 58 127.0.0.1:{}", t.b.port);
    assert_eq!(a.cmd(&["EXEC"]), err(&moved_58));
    assert_eq!(a.cmd(&["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(a2.cmd(&["CLUSTER", "SETSLOT", "58", "NODE", &t.a_id]), ok());
    assert_eq!(
        a.cmd(&["SSUBSCRIBE", "foo", "bar"]),
        err("CROSSSLOT Keys in request don't hash to the same slot")
    );
    let moved = format!("MOVED 12182 127.0.0.1:{}", t.b.port);
    assert_eq!(a.cmd(&["SET", "foo", "bar"]), err(&moved));
    assert_eq!(b.cmd(&["SET", "foo", "bar"]), ok());
    assert_eq!(a.cmd(&["GET", "foo"]), err(&moved));
    assert_eq!(b.cmd(&["GET", "foo"]), bulk("bar"));
    assert_eq!(a.cmd(&["SET", "bar", "1"]), ok()); // slot 5061
    assert_eq!(
        a.cmd(&["MGET", "bar", "foo"]),
        err("CROSSSLOT Keys in request don't hash to the same slot")
    );
    // Keyless commands run anywhere.
    assert_eq!(a.cmd(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    // In MULTI a redirection flags the transaction.
    assert_eq!(a.cmd(&["MULTI"]), ok());
    assert_eq!(a.cmd(&["SET", "foo", "x"]), err(&moved));
    assert_eq!(
        a.cmd(&["SET", "bar", "2"]),
        Frame::Simple(b"QUEUED".to_vec())
    );
    assert_eq!(
        a.cmd(&["EXEC"]),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    // SPUBLISH's channel is a key of its slot.
    assert_eq!(a.cmd(&["SPUBLISH", "foo", "m"]), err(&moved));
    assert_eq!(b.cmd(&["SPUBLISH", "foo", "m"]), int(0));
    // (Ping/pong times and the link state depend on the cluster bus's timing.)
    let nodes = text(a.cmd(&["CLUSTER", "NODES"]));
    let b_line = nodes.lines().find(|l| l.starts_with(&t.b_id)).unwrap();
    assert!(
        b_line.starts_with(&format!(
            "{} 127.0.0.1:{}@{} master - ",
            t.b_id,
            t.b.port,
            t.b.port + 10000
        )) && b_line.ends_with(" 1 connected 8192-16383")
            || b_line.ends_with(" 1 disconnected 8192-16383"),
        "{nodes}"
    );
    // SLOTS lists both masters.
    let Frame::Array(slots) = a.cmd(&["CLUSTER", "SLOTS"]) else {
        panic!()
    };
    assert_eq!(slots.len(), 2);
    // FORGET drops B and its slots: A's cluster is no longer fully covered.
    assert_eq!(a.cmd(&["CLUSTER", "FORGET", &t.b_id]), ok());
    assert_eq!(info_field(&mut a, "cluster_state"), "fail");
    assert_eq!(
        a.cmd(&["GET", "foo"]),
        err("CLUSTERDOWN Hash slot not served")
    );
    assert_eq!(
        a.cmd(&["GET", "bar"]),
        err("CLUSTERDOWN The cluster is down")
    );
    assert_eq!(
        a.cmd(&["CONFIG", "SET", "cluster-allow-reads-when-down", "yes"]),
        ok()
    );
    assert_eq!(a.cmd(&["GET", "bar"]), bulk("1"));
    assert_eq!(
        a.cmd(&["SET", "bar", "2"]),
        err("CLUSTERDOWN The cluster is down and only accepts read commands")
    );
}

#[test]
fn ask_flow_with_migrate_between_two_nodes() {
    let t = two_nodes();
    let (mut a, mut b) = (t.a.conn(), t.b.conn());
    // Move slot 12182 ("foo") from B to A.
    assert_eq!(b.cmd(&["SET", "foo", "bar"]), ok());
    assert_eq!(b.cmd(&["RPUSH", "{foo}list", "1", "2"]), int(2));
    assert_eq!(
        a.cmd(&["CLUSTER", "SETSLOT", "12182", "IMPORTING", &t.b_id]),
        ok()
    );
    assert_eq!(
        b.cmd(&["CLUSTER", "SETSLOT", "12182", "MIGRATING", &t.a_id]),
        ok()
    );
    let nodes = text(b.cmd(&["CLUSTER", "NODES"]));
    assert!(
        nodes.contains(&format!("8192-16383 [12182->-{}]", t.a_id)),
        "{nodes}"
    );
    let nodes = text(a.cmd(&["CLUSTER", "NODES"]));
    assert!(
        nodes.contains(&format!("0-8191 [12182-<-{}]", t.b_id)),
        "{nodes}"
    );
    let ask = format!("ASK 12182 127.0.0.1:{}", t.a.port);
    let moved_to_b = format!("MOVED 12182 127.0.0.1:{}", t.b.port);
    // Keys still at the source are served there; missing ones are asked elsewhere.
    assert_eq!(b.cmd(&["GET", "foo"]), bulk("bar"));
    assert_eq!(b.cmd(&["GET", "{foo}new"]), err(&ask));
    assert_eq!(
        b.cmd(&["MGET", "foo", "{foo}new"]),
        err("TRYAGAIN Multiple keys request during rehashing of slot")
    );
    // The target serves the slot only after ASKING, for one command.
    assert_eq!(a.cmd(&["GET", "{foo}new"]), err(&moved_to_b));
    assert_eq!(a.cmd(&["ASKING"]), ok());
    assert_eq!(a.cmd(&["GET", "{foo}new"]), Frame::Null);
    assert_eq!(a.cmd(&["GET", "{foo}new"]), err(&moved_to_b));
    assert_eq!(a.cmd(&["ASKING"]), ok());
    assert_eq!(
        a.cmd(&["MGET", "{foo}new", "{foo}other"]),
        err("TRYAGAIN Multiple keys request during rehashing of slot")
    );
    // MIGRATE moves the keys; the source now asks for them.
    let pa = t.a.port.to_string();
    assert_eq!(
        b.cmd(&[
            "MIGRATE",
            "127.0.0.1",
            &pa,
            "",
            "0",
            "5000",
            "KEYS",
            "foo",
            "{foo}list"
        ]),
        ok()
    );
    assert_eq!(b.cmd(&["GET", "foo"]), err(&ask));
    assert_eq!(b.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]), int(0));
    assert_eq!(a.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]), int(2));
    assert_eq!(a.cmd(&["ASKING"]), ok());
    assert_eq!(a.cmd(&["GET", "foo"]), bulk("bar"));
    // ASKING holds through a MULTI block.
    for (cmd, reply) in [
        (&["ASKING"][..], ok()),
        (&["MULTI"], ok()),
        (
            &["LRANGE", "{foo}list", "0", "-1"],
            Frame::Simple(b"QUEUED".to_vec()),
        ),
        (
            &["EXEC"],
            Frame::Array(vec![Frame::Array(vec![bulk("1"), bulk("2")])]),
        ),
    ] {
        assert_eq!(a.cmd(cmd), reply, "{cmd:?}");
    }
    // Close the migration on both sides.
    assert_eq!(
        a.cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &t.a_id]),
        ok()
    );
    assert_eq!(
        b.cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &t.a_id]),
        ok()
    );
    assert_eq!(a.cmd(&["GET", "foo"]), bulk("bar"));
    assert_eq!(
        b.cmd(&["GET", "foo"]),
        err(&format!("MOVED 12182 127.0.0.1:{}", t.a.port))
    );
    assert_eq!(info_field(&mut a, "cluster_current_epoch"), "3");
    assert_eq!(info_field(&mut a, "cluster_my_epoch"), "3");
    // The slot left B holding keys of another node? Refused.
    assert_eq!(b.cmd(&["SET", "x", "1"]), ok()); // slot 16287, B's
    assert_eq!(
        b.cmd(&["CLUSTER", "SETSLOT", "16287", "NODE", &t.a_id]),
        err("ERR Can't assign hashslot 16287 to a different node while I still hold keys for this hash slot.")
    );
}

/// One key of every type, with a TTL on one of them.
fn fill(c: &mut Conn) {
    let cmds: &[&[&str]] = &[
        &["SET", "s", "value"],
        &["PEXPIRE", "s", "100000"],
        &["RPUSH", "l", "a", "b", "c"],
        &["HSET", "h", "f1", "v1", "f2", "v2"],
        &["SADD", "set", "x", "y", "z"],
        &["ZADD", "z", "1.5", "m1", "-inf", "m2", "3", "m3"],
        &["XADD", "x", "1-1", "f", "v"],
        &["XADD", "x", "2-1", "f", "v", "g", "w"],
    ];
    for cmd in cmds {
        assert!(!matches!(c.cmd(cmd), Frame::Error(_)), "{cmd:?}");
    }
    let many: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let mut big = vec!["RPUSH", "big"];
    big.extend(many.iter().map(String::as_str));
    c.cmd(&big);
}

/// What the keys `fill` made look like on `c` (order-insensitive where it should be).
fn contents(c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    let cmds: &[&[&str]] = &[
        &["GET", "s"],
        &["LRANGE", "l", "0", "-1"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["XRANGE", "x", "-", "+"],
        &["XINFO", "STREAM", "x"],
        &["LLEN", "big"],
        &["LINDEX", "big", "999"],
    ];
    for cmd in cmds {
        out.push(format!("{:?}", c.cmd(cmd)));
    }
    for cmd in [&["HGETALL", "h"][..], &["SMEMBERS", "set"]] {
        out.push(format!("{:?}", common::sorted(c.cmd(cmd))));
    }
    let ttl = c.cmd(&["PTTL", "s"]);
    assert!(
        matches!(ttl, Frame::Integer(t) if t > 90000 && t <= 100000),
        "{ttl:?}"
    );
    out
}

const ALL_KEYS: [&str; 7] = ["s", "l", "h", "set", "z", "x", "big"];

fn migrate_all(from: &mut Conn, to: &Server, extra: &[&str]) -> Frame {
    let port = to.port.to_string();
    let mut cmd = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000"];
    cmd.extend(extra);
    cmd.push("KEYS");
    cmd.extend(ALL_KEYS);
    from.cmd(&cmd)
}

#[test]
fn migrate_every_type_to_ours_and_to_redis() {
    let source = Server::start(&[]);
    let mut src = source.conn();
    fill(&mut src);
    let want = contents(&mut src);
    let xinfo_src = format!("{:?}", src.cmd(&["XINFO", "STREAM", "x"]));
    for kind in [Kind::Ours, Kind::Redis] {
        let target = Server::start_kind(kind, &[]);
        let mut dst = target.conn();
        // COPY keeps the source; the target then has the same data.
        assert_eq!(migrate_all(&mut src, &target, &["COPY"]), ok());
        assert_eq!(contents(&mut dst), want, "{kind:?}");
        assert_eq!(
            format!("{:?}", dst.cmd(&["XINFO", "STREAM", "x"])),
            xinfo_src
        );
        // Without REPLACE an existing key is not overwritten.
        assert_eq!(
            migrate_all(&mut src, &target, &["COPY"]),
            err("ERR Target instance replied with error: BUSYKEY Target key name already exists.")
        );
        assert_eq!(migrate_all(&mut src, &target, &["REPLACE"]), ok());
        assert_eq!(contents(&mut dst), want, "{kind:?}");
        assert_eq!(src.cmd(&["DBSIZE"]), int(0));
        assert_eq!(
            migrate_all(&mut src, &target, &[]),
            Frame::Simple(b"NOKEY".to_vec())
        );
        // Move everything back for the next target.
        let back = source.port.to_string();
        let mut cmd = vec!["MIGRATE", "127.0.0.1", &back, "", "0", "5000", "KEYS"];
        cmd.extend(ALL_KEYS);
        if kind == Kind::Ours {
            assert_eq!(dst.cmd(&cmd), ok());
            assert_eq!(contents(&mut src), want);
        } else {
            // Redis sends RESTORE payloads we cannot read: refill instead.
            fill(&mut src);
        }
    }
    // A stream with deletions keeps its last id and counters (XSETID on the target).
    let target = Server::start_redis(&[]);
    let mut dst = target.conn();
    for cmd in [
        &["XADD", "xd", "1-1", "f", "v"][..],
        &["XADD", "xd", "2-1", "f", "v"],
        &["XADD", "xd", "3-1", "f", "v"],
        &["XDEL", "xd", "3-1", "1-1"],
        &["XADD", "empty", "5-5", "f", "v"],
        &["XDEL", "empty", "5-5"],
    ] {
        src.cmd(cmd);
    }
    for key in ["xd", "empty"] {
        let before = format!("{:?}", src.cmd(&["XINFO", "STREAM", key]));
        let port = target.port.to_string();
        assert_eq!(
            src.cmd(&["MIGRATE", "127.0.0.1", &port, key, "0", "1000"]),
            ok()
        );
        assert_eq!(format!("{:?}", dst.cmd(&["XINFO", "STREAM", key])), before);
    }
}

#[test]
fn migrate_options_and_errors_match_redis() {
    let target = Server::start_redis(&["--requirepass", "pw"]);
    let mut t = target.conn();
    assert_eq!(t.cmd(&["AUTH", "pw"]), ok());
    let port = target.port.to_string();
    let closed = free_port().to_string();
    let mut d = Differential::new();
    for script in [
        vec!["MIGRATE", "127.0.0.1", &port, "nokey", "0", "1000"],
        vec!["MIGRATE", "127.0.0.1", &port, "k", "0", "1000", "KEYS", "a"],
        vec!["MIGRATE", "127.0.0.1", &port, "k", "0", "1000", "BOGUS"],
        vec!["MIGRATE", "127.0.0.1", &port, "k", "0", "1000", "AUTH"],
        vec!["MIGRATE", "127.0.0.1", &port, "k", "0", "x"],
        vec!["MIGRATE", "127.0.0.1", &port, "k", "x", "1000"],
        vec!["SET", "k", "v"],
        vec!["SET", "k2", "v"],
        vec!["MIGRATE", "127.0.0.1", &closed, "k", "0", "1000"],
        vec!["MIGRATE", "127.0.0.1", &port, "k", "0", "1000"],
        vec![
            "MIGRATE",
            "127.0.0.1",
            &port,
            "k",
            "0",
            "1000",
            "AUTH",
            "bad",
        ],
        vec![
            "MIGRATE",
            "127.0.0.1",
            &port,
            "k",
            "0",
            "1000",
            "COPY",
            "AUTH",
            "pw",
        ],
        vec![
            "MIGRATE",
            "127.0.0.1",
            &port,
            "k",
            "0",
            "1000",
            "COPY",
            "AUTH2",
            "default",
            "pw",
        ],
        vec!["EXISTS", "k"],
        vec![
            "MIGRATE",
            "127.0.0.1",
            &port,
            "k",
            "0",
            "1000",
            "REPLACE",
            "AUTH",
            "pw",
        ],
        vec!["EXISTS", "k"],
        vec![
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "1",
            "0",
            "AUTH",
            "pw",
            "KEYS",
            "k2",
            "nokey",
        ],
        vec!["EXISTS", "k2"],
        vec![
            "MIGRATE",
            "127.0.0.1",
            &port,
            "k",
            "0",
            "1000",
            "COPY",
            "AUTH",
            "pw",
        ],
    ] {
        // Both sources move their keys into the same target: empty it after each.
        let ra = show(&d.a.cmd_raw(&bytes(&script)));
        let copied = t.cmd(&["DBSIZE"]);
        assert_eq!(t.cmd(&["FLUSHALL"]), ok());
        let rb = show(&d.b.cmd_raw(&bytes(&script)));
        assert_eq!(t.cmd(&["DBSIZE"]), copied, "{script:?}");
        assert_eq!(t.cmd(&["FLUSHALL"]), ok());
        assert_eq!(
            ra, rb,
            "reply differs for {script:?} (left: ours, right: redis)"
        );
    }
}

fn bytes<'a>(words: &[&'a str]) -> Vec<&'a [u8]> {
    words.iter().map(|w| w.as_bytes()).collect()
}

#[test]
fn cluster_disabled_errors_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "
        CLUSTER INFO
        CLUSTER KEYSLOT foo
        CLUSTER NODES
        READONLY
        ASKING
        INFO cluster
        ",
    );
}

#[test]
fn replica_serves_reads_after_readonly() {
    let dir = TempDir::new("replica");
    let (pa, pb) = (free_port(), free_port());
    let (a_id, b_id) = ("a".repeat(40), "b".repeat(40));
    let conf = format!(
        "{a_id} 127.0.0.1:{pa}@{} myself,slave {b_id} 0 0 0 connected\n\
         {b_id} 127.0.0.1:{pb}@{} master - 0 0 4 connected 0-16383\n\
         vars currentEpoch 4 lastVoteEpoch 0\n",
        pa + 10000,
        pb + 10000
    );
    let file = dir.file("nodes.conf");
    std::fs::write(&file, conf).unwrap();
    let node = Server::start_on(Kind::Ours, pa, &cluster_args(&file));
    let mut c = node.conn();
    let moved = format!("MOVED 12182 127.0.0.1:{pb}");
    assert_eq!(c.cmd(&["GET", "foo"]), err(&moved));
    assert_eq!(c.cmd(&["READONLY"]), ok());
    assert_eq!(c.cmd(&["GET", "foo"]), Frame::Null);
    assert_eq!(c.cmd(&["SET", "foo", "1"]), err(&moved));
    assert_eq!(c.cmd(&["READWRITE"]), ok());
    assert_eq!(c.cmd(&["GET", "foo"]), err(&moved));
    // Shard channels are served by replicas too.
    assert_eq!(c.cmd(&["SPUBLISH", "foo", "m"]), int(0));
    assert_eq!(info_field(&mut c, "cluster_my_epoch"), "4");
    assert_eq!(info_field(&mut c, "cluster_state"), "ok");
    let Frame::Array(replicas) = c.cmd(&["CLUSTER", "REPLICAS", &b_id]) else {
        panic!()
    };
    assert_eq!(replicas.len(), 1);
    assert!(text(replicas[0].clone()).starts_with(&format!("{a_id} 127.0.0.1:{pa}@")));
    assert_eq!(
        c.cmd(&["CLUSTER", "REPLICAS", &a_id]),
        err("ERR The specified node is not a master")
    );
    let Frame::Array(slots) = c.cmd(&["CLUSTER", "SLOTS"]) else {
        panic!()
    };
    let Frame::Array(range) = &slots[0] else {
        panic!()
    };
    assert_eq!(range.len(), 4, "master and replica: {range:?}");
    assert_eq!(
        c.cmd(&["CLUSTER", "SETSLOT", "1", "STABLE"]),
        err("ERR Please use SETSLOT only with masters.")
    );
    assert_eq!(
        c.cmd(&["CLUSTER", "FORGET", &b_id]),
        err("ERR Can't forget my master!")
    );
    // RESET SOFT turns the node back into a lone master with the same id.
    assert_eq!(c.cmd(&["CLUSTER", "RESET"]), ok());
    assert_eq!(myid(&mut c), a_id);
    let nodes = text(c.cmd(&["CLUSTER", "NODES"]));
    assert!(nodes.contains("myself,master - 0 0 0 connected"), "{nodes}");
    assert_eq!(info_field(&mut c, "cluster_known_nodes"), "1");
}
