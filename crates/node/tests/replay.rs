//! Property test of the propagation stream: random command sequences (random picks,
//! relative TTLs, blocking pops, streams with generated IDs and approximate trims, all
//! also inside MULTI) run with propagation on; replaying the stream on a fresh server
//! must rebuild exactly the same dataset, expiry times included.

mod common;

use common::inproc::{dataset_dump_at, now_ms, InProc};
use proptest::prelude::*;

const KEYS: &[&str] = &["a", "b", "c"];
const MEMBERS: &[&str] = &["m1", "m2", "m3", "m4", "m5", "m6"];
const FLOATS: &[&str] = &["1.5", "-0.25", "3", "1e3", "0.1"];
/// Relative times far enough that nothing expires between the run and the replay,
/// and times that are already past (they delete at once).
const SECONDS: &[&str] = &["1000", "5000", "-1", "0"];
const MILLIS: &[&str] = &["1000000", "7000000", "-5"];
const ABS_SECONDS: &[&str] = &["1", "4102444800", "4102444900"];
const ABS_MILLIS: &[&str] = &["1", "4102444800000", "4102444800123"];

/// Picks one of `items`, by a random index.
fn pick(items: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(items)
}

/// A command template filled in by index from the picks; `{k}` / `{k2}` keys,
/// `{m}` / `{m2}` members, `{f}` floats, `{s}` / `{ms}` relative times, `{as}` /
/// `{ams}` absolute times, `{n}` a small count.
const TEMPLATES: &[&str] = &[
    "SET {k} {m}",
    "SET {k} {m} EX {s}",
    "SET {k} {m} PX {ms} GET",
    "SET {k} {m} EXAT {as} NX",
    "SET {k} {m} PXAT {ams} XX",
    "SET {k} {m} KEEPTTL",
    "SETEX {k} {s} {m}",
    "PSETEX {k} {ms} {m}",
    "GETEX {k} EX {s}",
    "GETEX {k} PX {ms}",
    "GETEX {k} EXAT {as}",
    "GETEX {k} PXAT {ams}",
    "GETEX {k} PERSIST",
    "GETDEL {k}",
    "EXPIRE {k} {s}",
    "EXPIRE {k} {s} NX",
    "PEXPIRE {k} {ms} GT",
    "EXPIREAT {k} {as} LT",
    "PEXPIREAT {k} {ams} XX",
    "PERSIST {k}",
    "INCRBYFLOAT {k} {f}",
    "APPEND {k} {m}",
    "HSET {k} {m} {f}",
    "HINCRBYFLOAT {k} {m} {f}",
    "HDEL {k} {m}",
    "SADD {k} {m} {m2}",
    "SADD {k} m1 m2 m3 m4 m5 m6",
    "SPOP {k}",
    "SPOP {k} {n}",
    "SRANDMEMBER {k} {n}",
    "SMOVE {k} {k2} {m}",
    "SINTERSTORE {k} {k2} {k}",
    "RPUSH {k} {m} {m2} {m}",
    "LPOP {k}",
    "BLPOP {k} {k2} 1",
    "BRPOP {k2} {k} 1",
    "BLMOVE {k} {k2} LEFT RIGHT 1",
    "BRPOPLPUSH {k} {k2} 1",
    "LMPOP 2 {k} {k2} RIGHT COUNT {n}",
    "BLMPOP 1 2 {k} {k2} LEFT COUNT {n}",
    "LMOVE {k} {k2} RIGHT LEFT",
    "ZADD {k} {f} {m} 2 {m2}",
    "ZINCRBY {k} {f} {m}",
    "ZPOPMIN {k} {n}",
    "BZPOPMIN {k} {k2} 1",
    "BZPOPMAX {k} 1",
    "ZMPOP 2 {k} {k2} MAX COUNT {n}",
    "BZMPOP 1 1 {k} MIN",
    "ZUNIONSTORE {k} 2 {k} {k2}",
    "XADD {k} * {m} {f}",
    "XADD {k} 5-* {m} 1",
    "XADD {k} MAXLEN ~ {n} * {m} 1",
    "XADD {k} MINID ~ 1 * {m} 1",
    "XADD {k} MAXLEN ~ 2 LIMIT 3 * {m} 1",
    "XADD {k} NOMKSTREAM MAXLEN {n} * {m} 1",
    "XTRIM {k} MAXLEN ~ {n}",
    "XTRIM {k} MINID ~ 0-1",
    "XDEL {k} 5-0 5-1",
    "DEL {k} {k2}",
    "RENAME {k} {k2}",
    "COPY {k} {k2} REPLACE",
    "MOVE {k} 1",
    "SELECT {db}",
    "SWAPDB 0 1",
];

/// One command: a template and the random words to fill it with.
fn command() -> impl Strategy<Value = String> {
    (
        0..TEMPLATES.len(),
        (pick(KEYS), pick(KEYS), pick(MEMBERS), pick(MEMBERS)),
        (pick(FLOATS), pick(SECONDS), pick(MILLIS)),
        (pick(ABS_SECONDS), pick(ABS_MILLIS), 0..5u8, 0..2u8),
    )
        .prop_map(|(t, (k, k2, m, m2), (f, s, ms), (abs_s, abs_ms, n, db))| {
            TEMPLATES[t]
                .replace("{k2}", k2)
                .replace("{k}", k)
                .replace("{m2}", m2)
                .replace("{m}", m)
                .replace("{f}", f)
                .replace("{ms}", ms)
                .replace("{s}", s)
                .replace("{ams}", abs_ms)
                .replace("{as}", abs_s)
                .replace("{n}", &n.to_string())
                .replace("{db}", &db.to_string())
        })
}

/// Commands alone or as a MULTI … EXEC block (where blocking pops cannot wait).
fn step() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        3 => command().prop_map(|c| vec![c]),
        1 => proptest::collection::vec(command(), 1..5).prop_map(|mut cmds| {
            cmds.insert(0, "MULTI".into());
            cmds.push("EXEC".into());
            cmds
        }),
    ]
}

/// Runs every request of a RESP stream on `p`.
fn replay(p: &mut InProc, stream: &[u8]) {
    let mut parser = resp::RequestParser::new(usize::MAX);
    let mut at = 0;
    while at < stream.len() {
        let req = parser
            .parse(&stream[at..])
            .expect("well-formed stream")
            .expect("complete request");
        let base = &stream[at..];
        let words: Vec<&[u8]> = parser.args().iter().map(|&(s, e)| &base[s..e]).collect();
        p.run_bytes(words);
        at += req.consumed;
    }
}

fn check_sequence(steps: &[Vec<String>]) {
    // Small stream nodes make approximate trims stop short of the exact length.
    let mut original = InProc::new("stream-node-max-entries 3");
    node::propagate::set_enabled(&original.srv, true);
    for line in steps.iter().flatten() {
        original.run(line);
    }
    let stream = original.srv.propagator.borrow_mut().take();
    let mut copy = InProc::new("");
    replay(&mut copy, &stream);
    let now = now_ms();
    let want = dataset_dump_at(&original.srv, now);
    let got = dataset_dump_at(&copy.srv, now);
    assert_eq!(
        got,
        want,
        "replayed dataset differs; commands:\n{}\nstream:\n{}",
        steps
            .iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        common::show(&stream)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn replaying_the_stream_rebuilds_the_dataset(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        check_sequence(&steps);
    }
}

#[test]
fn a_long_mixed_session_replays_exactly() {
    let steps: Vec<Vec<String>> = [
        "SADD s m1 m2 m3 m4 m5 m6",
        "SPOP s 2",
        "SPOP s",
        "SET t v EX 100",
        "INCRBYFLOAT f 0.1",
        "INCRBYFLOAT f 0.2",
        "XADD x * a 1",
        "XADD x MAXLEN ~ 1 * a 2",
        "RPUSH l a b c",
        "MULTI",
        "BLPOP l 0",
        "BLMPOP 0 1 l RIGHT COUNT 5",
        "BLPOP l 0",
        "EXEC",
        "EXPIRE t -1",
    ]
    .iter()
    .map(|l| vec![l.to_string()])
    .collect();
    check_sequence(&steps);
}
