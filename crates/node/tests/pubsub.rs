//! Pub/sub against the reference: the exact frames subscribers and publishers get in
//! RESP2 and RESP3, introspection, clean-up on disconnect and slow-consumer limits.

mod common;
use common::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One connection to each server, driven in lockstep.
struct Twin {
    ours: Conn,
    redis: Conn,
}

impl Twin {
    fn open(d: &Differential) -> Twin {
        Twin {
            ours: d.ours.conn(),
            redis: d.redis.conn(),
        }
    }

    /// Switches both to a protocol version (the HELLO replies differ in client id).
    fn hello(&mut self, version: &str) {
        for c in [&mut self.ours, &mut self.redis] {
            assert!(matches!(
                c.cmd(&["HELLO", version]),
                Frame::Map(_) | Frame::Array(_)
            ));
        }
    }

    fn send(&mut self, args: &[&str]) {
        self.ours.send(args);
        self.redis.send(args);
    }

    /// Reads `n` frames from both and asserts they are byte-identical.
    fn expect(&mut self, n: usize, what: &str) {
        for i in 0..n {
            let (a, b) = (self.ours.read_raw(), self.redis.read_raw());
            assert_eq!(
                show(&a),
                show(&b),
                "frame {i} of {what:?} differs (left: ours, right: redis)"
            );
        }
    }

    /// Runs lines of `<frames> COMMAND args...`: sends the command and compares the
    /// given number of frames it produces on this connection.
    fn script(&mut self, script: &str) {
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (n, cmd) = line.split_once(' ').expect("frame count and command");
            let words: Vec<&str> = cmd.split_whitespace().collect();
            self.send(&words);
            self.expect(n.parse().expect("frame count"), line);
        }
    }
}

#[test]
fn resp2_subscribe_mode_matches_redis() {
    let d = Differential::new();
    let (mut sub, mut publ) = (Twin::open(&d), Twin::open(&d));
    sub.script(
        "3 SUBSCRIBE a b a
         2 PSUBSCRIBE p* p*
         3 SSUBSCRIBE s1 s2 s1
         1 GET x
         1 PUBLISH a x
         1 PUBSUB NUMSUB a
         1 PING
         1 PING hi
         1 subscribe pa",
    );
    publ.script(
        "1 PUBLISH a hello
         1 PUBLISH pa both
         1 PUBLISH pz pattern-only
         1 PUBLISH s1 not-shard
         1 SPUBLISH s1 shard
         1 SPUBLISH a not-a-shard-channel
         1 PUBSUB NUMSUB a b pa s1 none
         1 PUBSUB NUMPAT
         1 PUBSUB SHARDNUMSUB s1 s2 a",
    );
    // message a, message+pmessage pa, pmessage pz, smessage s1.
    sub.expect(5, "deliveries");
    sub.script(
        "2 UNSUBSCRIBE x a
         1 PUNSUBSCRIBE
         1 PUNSUBSCRIBE
         1 SUNSUBSCRIBE s2
         1 SUNSUBSCRIBE
         1 SUNSUBSCRIBE
         1 UNSUBSCRIBE pa
         1 UNSUBSCRIBE b
         1 UNSUBSCRIBE
         1 SUNSUBSCRIBE zz
         1 PING
         1 GET x",
    );
    publ.script("1 PUBLISH a gone");
}

#[test]
fn resp3_pushes_match_redis() {
    let d = Differential::new();
    let (mut sub, mut publ) = (Twin::open(&d), Twin::open(&d));
    sub.hello("3");
    sub.script(
        "1 SUBSCRIBE a
         1 PING
         1 PING x
         1 SET k v
         1 GET k
         1 UNSUBSCRIBE
         1 UNSUBSCRIBE
         1 PUNSUBSCRIBE z
         1 SUNSUBSCRIBE
         1 SSUBSCRIBE q
         1 SUBSCRIBE a
         1 PSUBSCRIBE *
         2 PUBLISH nobody x
         3 PUBLISH a hello
         2 SPUBLISH q m
         1 PUBSUB NUMSUB a b
         1 PUBSUB SHARDNUMSUB q
         1 PUBSUB CHANNELS
         1 PUBSUB SHARDCHANNELS
         1 PUBSUB NUMPAT",
    );
    publ.script("1 PUBLISH a from-other\n1 SPUBLISH q from-other");
    sub.expect(3, "message, pmessage, smessage");
    // Back to RESP2 while subscribed: the subscribe-mode restriction applies again.
    sub.hello("2");
    sub.script("1 GET k\n1 PING");
}

#[test]
fn reset_leaves_subscriptions() {
    let d = Differential::new();
    let (mut sub, mut publ) = (Twin::open(&d), Twin::open(&d));
    sub.script(
        "1 SUBSCRIBE a
         1 PSUBSCRIBE a*
         1 SSUBSCRIBE s
         1 RESET
         1 GET x",
    );
    publ.script(
        "1 PUBLISH a x
         1 SPUBLISH s x
         1 PUBSUB NUMSUB a
         1 PUBSUB NUMPAT
         1 PUBSUB SHARDNUMSUB s",
    );
}

#[test]
fn errors_and_introspection_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "PUBLISH a
         PUBLISH a b c
         SPUBLISH a
         SUBSCRIBE
         SSUBSCRIBE
         PSUBSCRIBE
         PUBSUB
         PUBSUB foo
         PUBSUB CHANNELS a b
         PUBSUB Channels a b
         PUBSUB SHARDCHANNELS x y
         PUBSUB NUMPAT x
         PUBSUB HELP
         PUBSUB help x
         PUBSUB numsub
         PUBSUB SHARDNUMSUB
         PUBSUB CHANNELS
         PUBSUB CHANNELS *
         PUBSUB NUMSUB a b
         PUBSUB NUMPAT
         PUBLISH nobody msg
         SPUBLISH nobody msg",
    );
    let (mut one, mut two) = (Twin::open(&d), Twin::open(&d));
    one.script(
        "3 SUBSCRIBE news.tech news.art sport\n2 PSUBSCRIBE news.* h?llo\n1 SSUBSCRIBE {s}1",
    );
    two.script("2 SUBSCRIBE news.tech other\n1 PSUBSCRIBE news.*\n2 SSUBSCRIBE {s}1 {s}2");
    d.check_unordered(&["PUBSUB", "CHANNELS"]);
    d.check_unordered(&["PUBSUB", "CHANNELS", "news.*"]);
    d.check_unordered(&["PUBSUB", "CHANNELS", "*t"]);
    d.check_unordered(&["PUBSUB", "SHARDCHANNELS"]);
    d.check_unordered(&["PUBSUB", "SHARDCHANNELS", "{s}[2]"]);
    d.check_script(
        "PUBSUB CHANNELS nomatch*
         PUBSUB NUMSUB news.tech news.art sport other news.* nobody
         PUBSUB NUMPAT
         PUBSUB SHARDNUMSUB {s}1 {s}2 news.tech
         PUBLISH news.tech hi
         PUBLISH hello hi
         SPUBLISH {s}1 hi",
    );
}

/// The channel or pattern named in each of `n` (un)subscribe frames, plus the
/// sequence of their kinds and counts (the names come in hash order in Redis).
fn unsubscribe_frames(c: &mut Conn, n: usize) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    let mut shape = Vec::new();
    for _ in 0..n {
        let items = match c.read() {
            Frame::Array(items) | Frame::Push(items) => items,
            other => panic!("not a pub/sub frame: {other:?}"),
        };
        assert_eq!(items.len(), 3);
        names.push(format!("{:?}", items[1]));
        shape.push(format!("{:?} {:?}", items[0], items[2]));
    }
    names.sort();
    (names, shape)
}

#[test]
fn unsubscribe_all_leaves_every_channel() {
    let d = Differential::new();
    for resp3 in [false, true] {
        let mut sub = Twin::open(&d);
        if resp3 {
            sub.hello("3");
        }
        sub.script("4 SUBSCRIBE c1 c2 c3 c4\n2 PSUBSCRIBE p1* p2*\n2 SSUBSCRIBE s1 s2");
        for (cmd, n) in [("UNSUBSCRIBE", 4), ("PUNSUBSCRIBE", 2), ("SUNSUBSCRIBE", 2)] {
            sub.send(&[cmd]);
            let ours = unsubscribe_frames(&mut sub.ours, n);
            let redis = unsubscribe_frames(&mut sub.redis, n);
            assert_eq!(ours, redis, "{cmd} (resp3: {resp3})");
        }
        sub.script("1 PING");
    }
}

#[test]
fn fan_out_reaches_every_subscriber_in_its_protocol() {
    let d = Differential::new();
    let mut subs: Vec<Twin> = (0..4).map(|_| Twin::open(&d)).collect();
    subs[1].hello("3");
    subs[3].hello("3");
    for s in &mut subs[..3] {
        s.script("1 SUBSCRIBE feed");
    }
    subs[3].script("1 PSUBSCRIBE fe?d");
    let mut publ = Twin::open(&d);
    for i in 0..20 {
        publ.script(&format!("1 PUBLISH feed message-{i}"));
    }
    publ.script("1 PUBLISH feed a-much-longer-message-to-see-sizes-are-right-everywhere");
    for s in &mut subs {
        s.expect(21, "fan-out");
    }
}

/// Polls `PUBSUB <sub> <name>` until the count reaches `want` (disconnects are
/// processed asynchronously).
fn wait_count(c: &mut Conn, sub: &str, name: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = match c.cmd(&["PUBSUB", sub, name]) {
            Frame::Array(v) => v[1].clone(),
            other => panic!("{other:?}"),
        };
        if got == int(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{sub} {name} stuck at {got:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn disconnect_drops_subscriptions() {
    for kind in [Kind::Ours, Kind::Redis] {
        let s = Server::start_kind(kind, &[]);
        let mut admin = s.conn();
        let mut keep = s.conn();
        keep.cmd(&["SUBSCRIBE", "ch"]);
        {
            let mut gone = s.conn();
            gone.cmd(&["SUBSCRIBE", "ch"]);
            gone.cmd(&["PSUBSCRIBE", "c*"]);
            gone.cmd(&["SSUBSCRIBE", "sh"]);
            wait_count(&mut admin, "NUMSUB", "ch", 2);
        }
        wait_count(&mut admin, "NUMSUB", "ch", 1);
        wait_count(&mut admin, "SHARDNUMSUB", "sh", 0);
        assert_eq!(admin.cmd(&["PUBSUB", "NUMPAT"]), int(0), "{kind:?}");
        assert_eq!(admin.cmd(&["PUBLISH", "ch", "x"]), int(1), "{kind:?}");
        assert_eq!(
            keep.read(),
            Frame::Array(vec![bulk("message"), bulk("ch"), bulk("x")])
        );
    }
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Publishes `count` messages of `size` bytes on `channel`, calling `pace(i)` first.
fn flood(c: &mut Conn, channel: &str, count: usize, size: usize, pace: impl Fn(usize)) {
    let payload = "x".repeat(size);
    for i in 0..count {
        pace(i);
        assert!(matches!(
            c.cmd(&["PUBLISH", channel, &payload]),
            Frame::Integer(_)
        ));
    }
}

/// A subscriber that reads everything in a thread, counting the messages it got.
struct Reader {
    got: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<Conn>,
}

impl Reader {
    fn start(s: &Server, channel: &str, want: usize) -> Reader {
        let mut c = s.conn();
        c.cmd(&["SUBSCRIBE", channel]);
        let got = Arc::new(AtomicUsize::new(0));
        let counter = got.clone();
        let thread = std::thread::spawn(move || {
            while counter.load(Ordering::Relaxed) < want {
                match c.try_read() {
                    Ok(Frame::Array(v)) if v[0] == bulk("message") => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(other) => panic!("unexpected {other:?}"),
                    Err(_) => break,
                }
            }
            c
        });
        Reader { got, thread }
    }

    /// Waits (a bounded time) until at most `lag` of `sent` messages are unread, so a
    /// busy test machine cannot make this subscriber the slow one.
    fn keep_up(&self, sent: usize, lag: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.got.load(Ordering::Relaxed) + lag < sent && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn slow_subscriber_is_disconnected_at_the_hard_limit() {
    for kind in [Kind::Ours, Kind::Redis] {
        let s = Server::start_kind(kind, &["--client-output-buffer-limit", "pubsub 1mb 0 0"]);
        let mut slow = s.conn();
        slow.cmd(&["SUBSCRIBE", "big"]);
        const COUNT: usize = 3000;
        let reader = Reader::start(&s, "big", COUNT);
        let mut publ = s.conn();
        let before = rss_kb(s.pid());
        // 3000 × 16 KB = 48 MB: far more than socket buffers plus the limit.
        flood(&mut publ, "big", COUNT, 16 * 1024, |i| {
            reader.keep_up(i, 16)
        });
        let _open = reader.thread.join().unwrap();
        assert_eq!(
            reader.got.load(Ordering::Relaxed),
            COUNT,
            "{kind:?}: reader got all"
        );
        wait_count(&mut publ, "NUMSUB", "big", 1);
        let grown = rss_kb(s.pid()).saturating_sub(before);
        assert!(grown < 48 * 1024, "{kind:?}: RSS grew by {grown} KB");
        assert!(slow.is_closed(), "{kind:?}: slow subscriber closed");
    }
}

#[test]
fn slow_subscriber_is_disconnected_after_the_soft_limit_period() {
    let s = Server::start(&["--client-output-buffer-limit", "pubsub 0 256kb 1"]);
    let mut slow = s.conn();
    slow.cmd(&["SUBSCRIBE", "big"]);
    let mut publ = s.conn();
    // Enough to fill the socket buffers and leave more than the soft limit pending.
    flood(&mut publ, "big", 120, 256 * 1024, |_| {});
    wait_count(&mut publ, "NUMSUB", "big", 0);
    assert!(slow.is_closed());
}
