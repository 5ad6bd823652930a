//! What the propagation stream (the source of the AOF and of replication) carries for
//! a command: SELECT when the database changes, the command when it changed data,
//! MULTI/EXEC around transactions, DEL for expired keys.

mod common;
use common::inproc::InProc;
use common::show;

fn stream(p: &mut InProc) -> String {
    show(&p.srv.propagator.borrow_mut().take())
}

fn enabled() -> InProc {
    let p = InProc::new("");
    node::propagate::set_enabled(&p.srv, true);
    p
}

fn cmd(words: &[&str]) -> String {
    let mut out = format!("*{}\r\n", words.len());
    for w in words {
        out.push_str(&format!("${}\r\n{w}\r\n", w.len()));
    }
    out.replace("\r\n", "\\r\\n")
}

#[test]
fn writes_propagate_reads_do_not() {
    let mut p = enabled();
    p.run("SET a 1");
    p.run("GET a");
    p.run("INCR a");
    p.run("SET b 1 NX");
    p.run("SET b 1 NX");
    p.run("DEL nosuch");
    let want = [
        cmd(&["SELECT", "0"]),
        cmd(&["SET", "a", "1"]),
        cmd(&["INCR", "a"]),
        cmd(&["SET", "b", "1", "NX"]),
    ]
    .concat();
    assert_eq!(stream(&mut p), want);
    p.run("SELECT 3");
    p.run("SET c 1");
    assert_eq!(
        stream(&mut p),
        [cmd(&["SELECT", "3"]), cmd(&["SET", "c", "1"])].concat()
    );
}

#[test]
fn transactions_are_wrapped_and_empty_ones_vanish() {
    let mut p = enabled();
    p.run("SET a 1");
    stream(&mut p);
    for line in ["MULTI", "INCR a", "GET a", "INCR a", "EXEC"] {
        p.run(line);
    }
    let want = [
        cmd(&["MULTI"]),
        cmd(&["INCR", "a"]),
        cmd(&["INCR", "a"]),
        cmd(&["EXEC"]),
    ]
    .concat();
    assert_eq!(stream(&mut p), want);
    for line in ["MULTI", "GET a", "EXEC"] {
        p.run(line);
    }
    assert_eq!(stream(&mut p), "");
}

#[test]
fn expired_keys_propagate_as_del() {
    let mut p = enabled();
    p.run("SET a 1");
    p.run("PEXPIRE a 20");
    stream(&mut p);
    std::thread::sleep(std::time::Duration::from_millis(30));
    p.run("GET a");
    assert_eq!(stream(&mut p), cmd(&["DEL", "a"]));
}

#[test]
fn nothing_is_kept_while_disabled() {
    let mut p = InProc::new("");
    p.run("SET a 1");
    assert_eq!(stream(&mut p), "");
}

/// The stream so far as commands of words.
fn commands(p: &mut InProc) -> Vec<Vec<String>> {
    let bytes = p.srv.propagator.borrow_mut().take();
    let mut parser = resp::RequestParser::new(usize::MAX);
    let mut at = 0;
    let mut all = Vec::new();
    while at < bytes.len() {
        let req = parser.parse(&bytes[at..]).unwrap().expect("complete");
        let base = &bytes[at..];
        all.push(
            parser
                .args()
                .iter()
                .map(|&(s, e)| String::from_utf8_lossy(&base[s..e]).into_owned())
                .collect(),
        );
        at += req.consumed;
    }
    all
}

fn words(line: &str) -> Vec<String> {
    line.split(' ').map(str::to_string).collect()
}

/// A stream after an initial SELECT 0, whose leading commands were drained.
fn primed() -> InProc {
    let mut p = enabled();
    p.run("SET primer 1");
    commands(&mut p);
    p
}

/// Runs `line` and returns the stream it produced, with the wall clock around it.
fn run_timed(p: &mut InProc, line: &str) -> (Vec<Vec<String>>, u64, u64) {
    let before = common::inproc::now_ms();
    p.run(line);
    let after = common::inproc::now_ms();
    (commands(p), before, after)
}

/// Asserts one command `prefix… <ms>` (then `suffix`) with ms within `lo..=hi`.
fn assert_timed(got: &[Vec<String>], prefix: &str, lo: u64, hi: u64, suffix: &[&str]) {
    assert_eq!(got.len(), 1, "{got:?}");
    let cmd = &got[0];
    let n = words(prefix).len();
    assert_eq!(cmd[..n], words(prefix)[..], "{got:?}");
    let ms: u64 = cmd[n].parse().expect("a time");
    assert!((lo..=hi).contains(&ms), "{ms} not in {lo}..={hi}");
    assert_eq!(
        cmd[n + 1..],
        suffix.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..]
    );
}

#[test]
fn relative_expiries_become_absolute() {
    let mut p = primed();
    let (got, t0, t1) = run_timed(&mut p, "SET k v EX 100 NX");
    assert_timed(&got, "SET k v PXAT", t0 + 100_000, t1 + 100_000, &[]);
    let (got, t0, t1) = run_timed(&mut p, "SET k v2 PX 5000 GET");
    assert_timed(&got, "SET k v2 PXAT", t0 + 5000, t1 + 5000, &[]);
    let (got, ..) = run_timed(&mut p, "SET k v3 EXAT 4102444800 XX");
    assert_eq!(got, [words("SET k v3 PXAT 4102444800000")]);
    let (got, t0, t1) = run_timed(&mut p, "SETEX k 10 v");
    assert_timed(&got, "SET k v PXAT", t0 + 10_000, t1 + 10_000, &[]);
    let (got, t0, t1) = run_timed(&mut p, "PSETEX k 1500 v");
    assert_timed(&got, "SET k v PXAT", t0 + 1500, t1 + 1500, &[]);
    let (got, t0, t1) = run_timed(&mut p, "EXPIRE k 100 XX");
    assert_timed(&got, "PEXPIREAT k", t0 + 100_000, t1 + 100_000, &["XX"]);
    let (got, t0, t1) = run_timed(&mut p, "PEXPIRE k 200000 GT");
    assert_timed(&got, "PEXPIREAT k", t0 + 200_000, t1 + 200_000, &["GT"]);
    let (got, ..) = run_timed(&mut p, "EXPIREAT k 4102444800");
    assert_eq!(got, [words("PEXPIREAT k 4102444800000")]);
    let (got, t0, t1) = run_timed(&mut p, "GETEX k EX 30");
    assert_timed(&got, "PEXPIREAT k", t0 + 30_000, t1 + 30_000, &[]);
    let (got, ..) = run_timed(&mut p, "GETEX k PXAT 4102444800001");
    assert_eq!(got, [words("PEXPIREAT k 4102444800001")]);
    assert_eq!(run_timed(&mut p, "GETEX k PERSIST").0, [words("PERSIST k")]);
}

#[test]
fn expiries_in_the_past_delete() {
    let mut p = primed();
    for line in ["EXPIRE k -1", "PEXPIREAT k 1", "GETEX k EXAT 1", "GETDEL k"] {
        p.run("SET k v");
        commands(&mut p);
        p.run(line);
        assert_eq!(commands(&mut p), [words("DEL k")], "{line}");
    }
}

#[test]
fn changes_that_do_not_happen_do_not_propagate() {
    let mut p = primed();
    p.run("SET k v");
    commands(&mut p);
    for line in [
        "SET k v NX",
        "SET nokey v XX EX 10",
        "DEL nokey",
        "EXPIRE nokey 10",
        "EXPIRE k 10 XX",
        "EXPIRE k 10 GT",
        "GETEX k PERSIST",
        "GETEX nokey EX 10",
        "GETDEL nokey",
        "PERSIST k",
        "SPOP nokey",
        "SPOP nokey 3",
        "BLPOP nokey 0",
        "LMPOP 1 nokey LEFT",
        "ZMPOP 1 nokey MIN",
        "XADD nokey NOMKSTREAM * f v",
        "XTRIM nokey MAXLEN ~ 0",
        "HSET k f v",
    ] {
        p.run(line);
    }
    assert_eq!(commands(&mut p), Vec::<Vec<String>>::new());
}

#[test]
fn float_increments_propagate_their_results() {
    let mut p = primed();
    p.run("SET f 1 EX 100");
    commands(&mut p);
    p.run("INCRBYFLOAT f 0.1");
    p.run("HINCRBYFLOAT h x 2.5e2");
    assert_eq!(
        commands(&mut p),
        [words("SET f 1.1 KEEPTTL"), words("HSET h x 250")]
    );
}

#[test]
fn spop_propagates_removals() {
    let mut p = primed();
    p.run("SADD s a b c d e");
    commands(&mut p);
    p.run("SPOP s");
    let got = commands(&mut p);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][..2], words("SREM s")[..]);
    p.run("SPOP s 2");
    let got = commands(&mut p);
    assert_eq!(got.len(), 1, "one batch: {got:?}");
    assert_eq!(got[0][..2], words("SREM s")[..]);
    assert_eq!(got[0].len(), 4);
    p.run("SPOP s 5");
    assert_eq!(commands(&mut p), [words("DEL s")]);
}

#[test]
fn large_spops_go_in_batches_inside_multi() {
    let mut p = primed();
    let members: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    p.run(&format!("SADD s {}", members.join(" ")));
    commands(&mut p);
    p.run("SPOP s 2500");
    let got = commands(&mut p);
    let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 2 + 1024, 2 + 1024, 2 + 452, 1]);
    assert_eq!((got[0][0].as_str(), got[4][0].as_str()), ("MULTI", "EXEC"));
}

#[test]
fn blocking_and_multi_key_pops_propagate_plain_pops() {
    let mut p = primed();
    p.run("RPUSH l a b c d e f");
    p.run("ZADD z 1 a 2 b 3 c 4 d");
    commands(&mut p);
    for (line, want) in [
        ("BLPOP nokey l 0", "LPOP l"),
        ("BRPOP l 0", "RPOP l"),
        ("BLMPOP 0 2 nokey l LEFT COUNT 2", "LPOP l 2"),
        ("LMPOP 1 l RIGHT COUNT 10", "RPOP l 2"),
        ("BZPOPMIN z 0", "ZPOPMIN z"),
        ("BZPOPMAX z 0", "ZPOPMAX z"),
        ("ZMPOP 1 z MIN", "ZPOPMIN z 1"),
        ("BZMPOP 0 1 z MAX COUNT 9", "ZPOPMAX z 1"),
        ("ZPOPMIN nokey", ""),
    ] {
        p.run(line);
        let want: Vec<Vec<String>> = Some(words(want))
            .filter(|_| !want.is_empty())
            .into_iter()
            .collect();
        assert_eq!(commands(&mut p), want, "{line}");
    }
    p.run("RPUSH l a b");
    commands(&mut p);
    p.run("BLMOVE l m LEFT RIGHT 0");
    p.run("BRPOPLPUSH l m 0");
    assert_eq!(
        commands(&mut p),
        [words("LMOVE l m LEFT RIGHT"), words("RPOPLPUSH l m")]
    );
}

#[test]
fn blocked_clients_served_later_propagate_plain_pops() {
    let mut p = primed();
    let parked = p.park_other_client("BLPOP l 0").expect("blocks");
    p.park_other_client("BLMOVE l2 m LEFT LEFT 0")
        .expect("blocks");
    p.park_other_client("BZMPOP 0 1 z MIN COUNT 3")
        .expect("blocks");
    assert_eq!(commands(&mut p), Vec::<Vec<String>>::new());
    p.run("RPUSH l a b");
    p.run("RPUSH l2 x");
    p.run("ZADD z 1 a 2 b");
    assert!(parked.served.get());
    assert_eq!(
        commands(&mut p),
        [
            words("RPUSH l a b"),
            words("LPOP l"),
            words("RPUSH l2 x"),
            words("LMOVE l2 m LEFT LEFT"),
            words("ZADD z 1 a 2 b"),
            words("ZPOPMIN z 2"),
        ]
    );
}

#[test]
fn blocking_pops_inside_multi_propagate_plain_pops() {
    let mut p = primed();
    p.run("RPUSH l a");
    commands(&mut p);
    for line in ["MULTI", "BLPOP l 0", "BLPOP l 0", "EXEC"] {
        p.run(line);
    }
    assert_eq!(
        commands(&mut p),
        [words("MULTI"), words("LPOP l"), words("EXEC")]
    );
}

#[test]
fn stream_ids_and_approximate_trims_are_written_out() {
    let mut p = InProc::new("stream-node-max-entries 2");
    node::propagate::set_enabled(&p.srv, true);
    p.run("SET primer 1");
    commands(&mut p);
    let (got, t0, t1) = run_timed(&mut p, "XADD x * f v");
    let id = &got[0][2];
    let (ms, seq) = id.split_once('-').expect("an ID");
    assert!(
        (t0..=t1).contains(&ms.parse().unwrap()) && seq == "0",
        "{id}"
    );
    assert_eq!(got[0][..2], words("XADD x")[..]);
    p.run("DEL x");
    p.run("XADD x 5-* f v");
    p.run("XADD x 5-* f v");
    p.run("XADD x 6 f v");
    p.run("XADD x 7-1 f v");
    p.run("XADD x MAXLEN ~ 1 LIMIT 10 8-* f v");
    p.run("XADD x MAXLEN = 3 9-* f v");
    p.run("XTRIM x MINID ~ 9");
    p.run("XADD x 10-* f v");
    p.run("XTRIM x MINID ~ 10");
    p.run("XTRIM x MAXLEN ~ 0");
    p.run("XTRIM x MINID ~ 99");
    assert_eq!(
        commands(&mut p),
        [
            words("DEL x"),
            words("XADD x 5-0 f v"),
            words("XADD x 5-1 f v"),
            words("XADD x 6-0 f v"),
            words("XADD x 7-1 f v"),
            // Two whole nodes of two went, leaving the new entry alone.
            words("XADD x MAXLEN = 1 8-0 f v"),
            words("XADD x MAXLEN = 3 9-0 f v"),
            // MINID ~ 9 removed nothing (9-0 shares a node with 8-0).
            words("XADD x 10-0 f v"),
            words("XTRIM x MINID = 10-0"),
            words("XTRIM x MAXLEN = 0"),
        ]
    );
}

#[test]
fn lazyfree_options_turn_deletions_into_unlinks() {
    let mut p = InProc::new("lazyfree-lazy-expire yes\nlazyfree-lazy-user-del yes");
    node::propagate::set_enabled(&p.srv, true);
    p.run("SET primer 1");
    commands(&mut p);
    for line in ["EXPIRE k -1", "GETEX k PXAT 1", "GETDEL k"] {
        p.run("SET k v");
        commands(&mut p);
        p.run(line);
        assert_eq!(commands(&mut p), [words("UNLINK k")], "{line}");
    }
    p.run("SET k v PX 1");
    commands(&mut p);
    std::thread::sleep(std::time::Duration::from_millis(5));
    p.run("GET k");
    assert_eq!(commands(&mut p), [words("UNLINK k")]);
}

#[test]
fn flushes_and_swapdb_propagate_even_without_changes() {
    let mut p = primed();
    p.run("FLUSHALL");
    p.run("FLUSHDB ASYNC");
    p.run("SWAPDB 1 1");
    assert_eq!(
        commands(&mut p),
        [
            words("FLUSHALL"),
            words("FLUSHDB ASYNC"),
            words("SWAPDB 1 1")
        ]
    );
}
