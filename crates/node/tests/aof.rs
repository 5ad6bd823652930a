//! The append-only file with real processes: restarts keep data, SIGKILL loses no
//! acknowledged write (`always`), torn tails load, corruption refuses to start,
//! `--check-aof --fix` repairs, rewrites shrink files and survive kills.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, Conn, Frame};

/// A node on a directory that outlives it (restarts reuse the directory).
struct Node {
    port: u16,
    child: Child,
}

/// A test directory, removed at the end.
type Dir = common::TestDir;

impl Dir {
    fn aof(&self) -> PathBuf {
        self.0.join("appendonlydir")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.0.join("log.txt")).unwrap_or_default()
    }
}

fn spawn(dir: &Dir, extra: &[&str]) -> Child {
    let port = free_port();
    spawn_on(dir, port, extra)
}

fn spawn_on(dir: &Dir, port: u16, extra: &[&str]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.0.join("log.txt"))
        .unwrap();
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--dir".into(),
        dir.0.display().to_string(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "yes".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(common::node_binary())
        .args(&args)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

impl Node {
    fn start(dir: &Dir, extra: &[&str]) -> Node {
        let port = free_port();
        let mut node = Node {
            port,
            child: spawn_on(dir, port, extra),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("node exited with {status}: {}", dir.log());
            }
            if let Ok(mut c) = Conn::try_connect(port) {
                if matches!(c.try_cmd(&["PING"]), Ok(Frame::Simple(_))) {
                    return node;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("node did not start: {}", dir.log());
    }

    fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn info(&self, field: &str) -> String {
        let (Frame::Bulk(text) | Frame::Verbatim(text)) = self.conn().cmd(&["INFO", "persistence"])
        else {
            panic!("INFO reply")
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        let prefix = format!("{field}:");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .unwrap_or_else(|| panic!("no {field} in {text}"))
    }

    fn wait_rewrite_done(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.info("aof_rewrite_in_progress") == "1" {
            assert!(Instant::now() < deadline, "rewrite never finished");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::Error(b) => String::from_utf8_lossy(b).into(),
        Frame::Integer(i) => i.to_string(),
        Frame::Null => "(nil)".into(),
        Frame::Array(items) | Frame::Set(items) => {
            let parts: Vec<String> = items.iter().map(text).collect();
            format!("[{}]", parts.join(","))
        }
        other => format!("{other:?}"),
    }
}

fn items(f: &Frame) -> Vec<String> {
    match f {
        Frame::Array(items) | Frame::Set(items) => items.iter().map(text).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// Every key of databases 0..3 with type, content and absolute expiry, sorted.
fn dump(c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..3 {
        c.cmd(&["SELECT", &db.to_string()]);
        let mut keys = items(&c.cmd(&["KEYS", "*"]));
        keys.sort();
        for k in keys {
            let ty = text(&c.cmd(&["TYPE", &k]));
            let value = match ty.as_str() {
                "string" => text(&c.cmd(&["GET", &k])),
                "list" => text(&c.cmd(&["LRANGE", &k, "0", "-1"])),
                "set" => {
                    let mut m = items(&c.cmd(&["SMEMBERS", &k]));
                    m.sort();
                    m.join(",")
                }
                "hash" => {
                    let flat = items(&c.cmd(&["HGETALL", &k]));
                    let mut pairs: Vec<String> = flat.chunks(2).map(|p| p.join("=")).collect();
                    pairs.sort();
                    pairs.join(",")
                }
                "zset" => text(&c.cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                "stream" => text(&c.cmd(&["XRANGE", &k, "-", "+"])),
                other => panic!("type {other}"),
            };
            let at = text(&c.cmd(&["PEXPIRETIME", &k]));
            out.push(format!("{db} {k} {ty} {value} {at}"));
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}

#[test]
fn restart_keeps_every_type_ttls_and_transactions() {
    let dir = Dir::new("types");
    let node = Node::start(&dir, &["--appendfsync", "always"]);
    let mut c = node.conn();
    let script: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["INCRBY", "n", "41"],
        &["INCR", "n"],
        &["APPEND", "s", " world"],
        &["RPUSH", "l", "a", "b", "c"],
        &["LPUSH", "l", "z"],
        &["LPOP", "l"],
        &["SADD", "set", "x", "y", "z"],
        &["SREM", "set", "y"],
        &["HSET", "h", "f1", "v1", "f2", "v2"],
        &["HDEL", "h", "f1"],
        &["ZADD", "z", "1.5", "a", "-2", "b", "inf", "c"],
        &["ZINCRBY", "z", "0.25", "a"],
        &["XADD", "st", "1-1", "f", "v"],
        &["XADD", "st", "2-5", "g", "w", "h", "x"],
        &["SET", "ttl", "v", "PXAT", "99999999999999"],
        &["SET", "gone", "v"],
        &["DEL", "gone"],
        &["PEXPIREAT", "l", "99999999999000"],
        &["MULTI"],
        &["SET", "m1", "1"],
        &["RPUSH", "m2", "a"],
        &["EXEC"],
        &["SELECT", "2"],
        &["SET", "other", "db2"],
        &["SELECT", "0"],
        &["SET", "bin", "a\r\nb\0c"],
    ];
    for cmd in script {
        let reply = c.cmd(cmd);
        assert!(!matches!(reply, Frame::Error(_)), "{cmd:?}: {reply:?}");
    }
    for i in 0..300 {
        c.cmd(&["RPUSH", "big", &i.to_string()]);
        c.cmd(&["HSET", "bighash", &format!("f{i}"), &i.to_string()]);
    }
    let before = dump(&mut c);
    node.kill9();
    let node = Node::start(&dir, &[]);
    assert_eq!(dump(&mut node.conn()), before);
    // And once more through a rewritten base.
    assert_eq!(
        node.conn().cmd(&["BGREWRITEAOF"]),
        Frame::Simple(b"Background append only file rewriting started".to_vec())
    );
    node.wait_rewrite_done();
    node.kill9();
    let node = Node::start(&dir, &[]);
    assert_eq!(dump(&mut node.conn()), before);
}

/// Writers doing `INCR c<id>` as fast as they can; returns the last value each got
/// acknowledged when `stop` was set or the connection died.
fn writers(
    port: u16,
    count: usize,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<(u64, Instant)>> {
    (0..count)
        .map(|id| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                let key = format!("c{id}");
                let (mut acked, mut at) = (0, Instant::now());
                while !stop.load(Ordering::Relaxed) {
                    c.send(&["INCR", &key]);
                    match c.try_read() {
                        Ok(Frame::Integer(n)) => {
                            acked = n as u64;
                            at = Instant::now();
                        }
                        _ => break,
                    }
                }
                (acked, at)
            })
        })
        .collect()
}

/// Runs several rounds of "write under load, SIGKILL at a random moment, restart";
/// returns (acknowledged but lost writes, rounds) and checks nothing wrong is loaded.
fn kill_rounds(fsync: &str, rounds: u32) -> (u64, Duration) {
    let dir = Dir::new(&format!("kill-{fsync}"));
    let mut lost = 0;
    let mut worst_window = Duration::ZERO;
    let mut expected = [0u64; 4];
    for round in 0..rounds {
        let node = Node::start(&dir, &["--appendfsync", fsync]);
        let mut c = node.conn();
        for (id, want) in expected.iter().enumerate() {
            let got = text(&c.cmd(&["GET", &format!("c{id}")]));
            let got: u64 = got.parse().unwrap_or(0);
            assert!(
                got >= *want,
                "round {round}: c{id} = {got}, acknowledged {want}"
            );
            lost += want.saturating_sub(got);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let threads = writers(node.port, expected.len(), stop.clone());
        std::thread::sleep(Duration::from_millis(100 + (round as u64 * 37) % 200));
        let killed_at = Instant::now();
        node.kill9();
        stop.store(true, Ordering::Relaxed);
        for (id, t) in threads.into_iter().enumerate() {
            let (acked, at) = t.join().unwrap();
            if acked > 0 {
                expected[id] = acked;
                worst_window = worst_window.max(killed_at.saturating_duration_since(at));
            }
        }
    }
    let node = Node::start(&dir, &[]);
    let mut c = node.conn();
    for (id, want) in expected.iter().enumerate() {
        let got: u64 = text(&c.cmd(&["GET", &format!("c{id}")]))
            .parse()
            .unwrap_or(0);
        // At most one write per client can be on disk without its reply.
        assert!(
            got <= want + 1,
            "c{id} = {got} but only {want} acknowledged"
        );
        lost += want.saturating_sub(got);
    }
    (lost, worst_window)
}

#[test]
fn sigkill_loses_no_acknowledged_write_with_always() {
    let (lost, _) = kill_rounds("always", 5);
    assert_eq!(lost, 0, "acknowledged writes lost with appendfsync always");
}

#[test]
fn everysec_loss_window_is_reported() {
    let (lost, window) = kill_rounds("everysec", 4);
    println!("appendfsync everysec, SIGKILL: {lost} acknowledged writes lost (last acknowledged write {window:?} before the kill)");
    // A process crash keeps what write() handed to the kernel: Redis promises the same.
    assert_eq!(lost, 0);
}

#[test]
fn kill_during_rewrite_loses_nothing() {
    let dir = Dir::new("rewrite-kill");
    let node = Node::start(&dir, &["--appendfsync", "always"]);
    let mut c = node.conn();
    let value = "x".repeat(200);
    for batch in 0..100 {
        let mut pipeline = Vec::new();
        for i in 0..1000 {
            let key = format!("k{}", batch * 1000 + i);
            pipeline.extend(common::encode(&[b"SET", key.as_bytes(), value.as_bytes()]));
        }
        c.send_raw(&pipeline);
        for _ in 0..1000 {
            c.read();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let threads = writers(node.port, 2, stop.clone());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        text(&c.cmd(&["BGREWRITEAOF"])),
        "Background append only file rewriting started"
    );
    assert!(text(&c.cmd(&["BGREWRITEAOF"])).contains("already in progress"));
    let in_progress = node.info("aof_rewrite_in_progress");
    std::thread::sleep(Duration::from_millis(30));
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap().0).collect();
    println!("killed with aof_rewrite_in_progress:{in_progress}");
    let node = Node::start(&dir, &[]);
    let mut c = node.conn();
    assert_eq!(c.cmd(&["DBSIZE"]), Frame::Integer(100_000 + 2));
    for (id, want) in acked.iter().enumerate() {
        let got: u64 = text(&c.cmd(&["GET", &format!("c{id}")])).parse().unwrap();
        assert!(got >= *want && got <= want + 1, "c{id}: {got} vs {want}");
    }
}

/// Writes `SET k<i> <i>` for `n` keys with `always`, then stops the node hard.
fn written_dir(name: &str, n: usize) -> (Dir, PathBuf) {
    let dir = Dir::new(name);
    let node = Node::start(&dir, &["--appendfsync", "always"]);
    let mut c = node.conn();
    for i in 0..n {
        c.cmd(&["SET", &format!("k{i}"), &i.to_string()]);
        if i % 10 == 9 {
            c.cmd(&["MULTI"]);
            c.cmd(&["INCR", "tx"]);
            c.cmd(&["INCR", "tx"]);
            c.cmd(&["EXEC"]);
        }
    }
    node.kill9();
    let incr = dir.aof().join("appendonly.aof.1.incr.aof");
    (dir, incr)
}

/// Keys k0..k(m-1) exist with the right values, nothing else but `tx`, which is even
/// (a transaction is all or nothing).
fn check_prefix(c: &mut Conn, n: usize) -> usize {
    let size = match c.cmd(&["DBSIZE"]) {
        Frame::Integer(i) => i as usize,
        other => panic!("{other:?}"),
    };
    let tx: u64 = text(&c.cmd(&["GET", "tx"])).parse().unwrap_or(0);
    assert_eq!(tx % 2, 0, "half a transaction was loaded");
    let m = size - usize::from(tx > 0);
    for i in 0..n {
        let got = text(&c.cmd(&["GET", &format!("k{i}")]));
        if i < m {
            assert_eq!(got, i.to_string());
        } else {
            assert_eq!(got, "(nil)", "k{i} loaded past the prefix of {m}");
        }
    }
    m
}

#[test]
fn torn_tail_loads_complete_records_and_truncates() {
    let (dir, incr) = written_dir("torn", 60);
    let full = std::fs::read(&incr).unwrap();
    let mut seed = 0x2545_F491_u64;
    let mut cuts = vec![full.len() - 1, full.len() - 3];
    for _ in 0..4 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        cuts.push((seed % full.len() as u64) as usize);
    }
    for cut in cuts {
        std::fs::write(&incr, &full[..cut]).unwrap();
        let node = Node::start(&dir, &[]);
        let loaded = check_prefix(&mut node.conn(), 60);
        assert!(dir.log().contains("short read while loading the AOF file") || cut == 0);
        assert!(dir
            .log()
            .contains("loaded anyway because aof-load-truncated is enabled"));
        let size = std::fs::metadata(&incr).unwrap().len() as usize;
        assert!(size <= cut, "the torn tail was cut off");
        println!("cut at {cut}: {loaded} keys loaded, file truncated to {size}");
        node.kill9();
        // The truncated file is valid now.
        let status = Command::new(common::node_binary())
            .args(["--check-aof", incr.to_str().unwrap()])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

#[test]
fn torn_tail_refused_without_aof_load_truncated() {
    let (dir, incr) = written_dir("torn-no", 10);
    let full = std::fs::read(&incr).unwrap();
    std::fs::write(&incr, &full[..full.len() - 2]).unwrap();
    let mut child = spawn(&dir, &["--aof-load-truncated", "no"]);
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(dir
        .log()
        .contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"));
}

#[test]
fn corruption_refuses_to_start_and_check_aof_fix_repairs() {
    let (dir, incr) = written_dir("corrupt", 40);
    let mut bytes = std::fs::read(&incr).unwrap();
    // Break the framing of a record in the middle: its '*' becomes '!'.
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i] == b'*' && (i == 0 || bytes[i - 1] == b'\n'))
        .collect();
    let bad = starts[starts.len() / 2];
    bytes[bad] = b'!';
    std::fs::write(&incr, &bytes).unwrap();
    let status = spawn(&dir, &[]).wait().unwrap();
    assert!(!status.success());
    let log = dir.log();
    assert!(
        log.contains(&format!(
            "Bad file format reading the append only file appendonly.aof.1.incr.aof at offset {bad}"
        )),
        "{log}"
    );
    let check = |fix: bool| {
        let manifest = dir.aof().join("appendonly.aof.manifest");
        let mut args = vec!["--check-aof".to_string(), manifest.display().to_string()];
        if fix {
            args.push("--fix".into());
        }
        Command::new(common::node_binary())
            .args(&args)
            .output()
            .unwrap()
    };
    let out = check(false);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    // The last complete unit ends at the bad record, or before its MULTI.
    let ok_up_to: usize = report
        .split("ok_up_to=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(ok_up_to <= bad && bad - ok_up_to < 200, "{report}");
    let out = check(true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(std::fs::metadata(&incr).unwrap().len() as usize, ok_up_to);
    assert_eq!(check(false).status.code(), Some(0));
    let node = Node::start(&dir, &[]);
    let loaded = check_prefix(&mut node.conn(), 40);
    assert!(loaded > 0 && loaded < 40);
}

fn total_aof_size(dir: &Dir) -> u64 {
    std::fs::read_dir(dir.aof())
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn bgrewriteaof_shrinks_files_and_data_survives() {
    let dir = Dir::new("shrink");
    let node = Node::start(&dir, &[]);
    let mut c = node.conn();
    for i in 0..2000 {
        c.cmd(&["SET", &format!("k{}", i % 10), &i.to_string()]);
    }
    let before = dump(&mut c);
    let size_before = total_aof_size(&dir);
    assert_eq!(
        text(&c.cmd(&["BGREWRITEAOF"])),
        "Background append only file rewriting started"
    );
    node.wait_rewrite_done();
    let size_after = total_aof_size(&dir);
    assert!(
        size_after * 10 < size_before,
        "{size_after} vs {size_before}"
    );
    assert_eq!(node.info("aof_rewrites"), "1");
    assert_eq!(node.info("aof_last_bgrewrite_status"), "ok");
    let manifest = std::fs::read_to_string(dir.aof().join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    node.kill9();
    let node = Node::start(&dir, &[]);
    assert_eq!(dump(&mut node.conn()), before);
}

#[test]
fn auto_rewrite_triggers_on_growth() {
    let dir = Dir::new("auto");
    let node = Node::start(
        &dir,
        &[
            "--auto-aof-rewrite-min-size",
            "20kb",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut c = node.conn();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0;
    while node.info("aof_rewrites") == "0" {
        assert!(Instant::now() < deadline, "no automatic rewrite");
        for _ in 0..200 {
            c.cmd(&["SET", "k", &i.to_string()]);
            i += 1;
        }
    }
    node.wait_rewrite_done();
    node.kill9();
    let node = Node::start(&dir, &[]);
    assert_eq!(text(&node.conn().cmd(&["GET", "k"])), (i - 1).to_string());
}

#[test]
fn config_set_appendonly_at_runtime() {
    let dir = Dir::new("runtime");
    let node = Node::start(&dir, &["--appendonly", "no"]);
    let mut c = node.conn();
    c.cmd(&["SET", "before", "1"]);
    assert_eq!(node.info("aof_enabled"), "0");
    assert_eq!(text(&c.cmd(&["CONFIG", "SET", "appendonly", "yes"])), "OK");
    c.cmd(&["SET", "during", "2"]);
    node.wait_rewrite_done();
    c.cmd(&["SET", "after", "3"]);
    assert_eq!(node.info("aof_enabled"), "1");
    let manifest = std::fs::read_to_string(dir.aof().join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let before = dump(&mut c);
    node.kill9();
    let node = Node::start(&dir, &[]);
    assert_eq!(dump(&mut node.conn()), before);
    let mut c = node.conn();
    assert_eq!(text(&c.cmd(&["CONFIG", "SET", "appendonly", "no"])), "OK");
    assert_eq!(node.info("aof_enabled"), "0");
}

/// INFO persistence has Redis's AOF field names, in Redis's order.
#[test]
fn info_fields_match_redis() {
    let names = |port: u16| -> Vec<String> {
        let (Frame::Bulk(t) | Frame::Verbatim(t)) =
            Conn::connect(port).cmd(&["INFO", "persistence"])
        else {
            panic!()
        };
        String::from_utf8_lossy(&t)
            .lines()
            .filter(|l| l.starts_with("aof_"))
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect()
    };
    let dir = Dir::new("info");
    let ours = Node::start(&dir, &[]);
    let redis = common::Server::start_redis(&["--appendonly", "yes"]);
    assert_eq!(names(ours.port), names(redis.port));
    let mut r = redis.conn();
    assert_eq!(
        text(&r.cmd(&["BGREWRITEAOF"])),
        text(&ours.conn().cmd(&["BGREWRITEAOF"]))
    );
}

#[test]
fn keys_that_expired_while_down_stay_expired_after_replay() {
    use common::{bulk, int, ok};
    // SET + PEXPIRE + INCR are logged; the TTL passes while the node is down. Replay
    // must not expire the key between PEXPIRE and INCR (which would let INCR recreate
    // it without a TTL): like Redis, nothing expires during loading.
    let dir = Dir::new("expired-while-down");
    let node = Node::start(&dir, &["--appendfsync", "always"]);
    let mut c = node.conn();
    assert_eq!(c.cmd(&["SET", "k", "10"]), ok());
    assert_eq!(c.cmd(&["PEXPIRE", "k", "300"]), int(1));
    assert_eq!(c.cmd(&["INCR", "k"]), int(11));
    assert_eq!(c.cmd(&["SET", "keep", "v"]), ok());
    node.kill9();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let node = Node::start(&dir, &[]);
    let mut c = node.conn();
    assert_eq!(c.cmd(&["GET", "k"]), Frame::Null);
    assert_eq!(c.cmd(&["GET", "keep"]), bulk("v"));
}

#[test]
fn base_is_a_snapshot_by_default_and_commands_without_preamble() {
    for (preamble, ext) in [("yes", "rdb"), ("no", "aof")] {
        let dir = Dir::new(&format!("preamble-{preamble}"));
        let node = Node::start(&dir, &["--aof-use-rdb-preamble", preamble]);
        let mut c = node.conn();
        for i in 0..200 {
            c.cmd(&["RPUSH", "l", &i.to_string()]);
            c.cmd(&["HSET", "h", &format!("f{i}"), "v"]);
        }
        c.cmd(&["SET", "ttl", "v", "PX", "100000"]);
        c.cmd(&["BGREWRITEAOF"]);
        node.wait_rewrite_done();
        c.cmd(&["ZADD", "z", "1", "after-rewrite"]);
        let before = dump(&mut c);
        let manifest = std::fs::read_to_string(dir.aof().join("appendonly.aof.manifest")).unwrap();
        assert!(
            manifest.starts_with(&format!("file appendonly.aof.2.base.{ext} seq 2 type b")),
            "{manifest}"
        );
        node.kill9();
        let node = Node::start(&dir, &["--aof-use-rdb-preamble", preamble]);
        let mut c = node.conn();
        assert_eq!(dump(&mut c), before, "preamble {preamble}");
    }
}

/// In cluster mode the AOF is read before nodes.conf, when the node owns no slot yet:
/// the replay must not be redirected away (it was, and every key was dropped).
#[test]
fn cluster_node_keeps_its_keys_across_restarts() {
    let dir = Dir::new("cluster");
    let cluster = ["--cluster-enabled", "yes", "--appendfsync", "always"];
    for preamble in ["no", "yes"] {
        let _ = std::fs::remove_dir_all(&dir.0);
        std::fs::create_dir_all(&dir.0).unwrap();
        let with = [&cluster[..], &["--aof-use-rdb-preamble", preamble]].concat();
        let node = Node::start(&dir, &with);
        let mut c = node.conn();
        assert_eq!(
            c.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
            Frame::Simple(b"OK".to_vec())
        );
        for i in 0..50 {
            assert_eq!(
                c.cmd(&["SET", &format!("k{i}"), "v"]),
                Frame::Simple(b"OK".to_vec())
            );
        }
        c.cmd(&["MULTI"]);
        c.cmd(&["SET", "{t}a", "1"]);
        c.cmd(&["SET", "{t}b", "2"]);
        c.cmd(&["EXEC"]);
        let before = dump(&mut c);
        node.kill9();
        let node = Node::start(&dir, &with);
        assert_eq!(
            dump(&mut node.conn()),
            before,
            "preamble {preamble}, incr file"
        );
        node.conn().cmd(&["BGREWRITEAOF"]);
        node.wait_rewrite_done();
        node.kill9();
        let node = Node::start(&dir, &with);
        assert_eq!(
            dump(&mut node.conn()),
            before,
            "preamble {preamble}, rewritten base"
        );
    }
}
