//! Stream commands against the reference redis-server: IDs, ranges, deletion,
//! exact and approximate trimming, XREAD with and without BLOCK, RESP3 forms.

mod common;
use common::*;

use std::time::Duration;

/// Adds entries `from..=to` (ID `n-1`) with `fields` pairs of a value `size` bytes long.
fn fill(d: &mut Differential, key: &str, from: u64, to: u64, size: usize) {
    let value = "x".repeat(size);
    for n in from..=to {
        let id = format!("{n}-1");
        d.check(&["XADD", key, &id, "f", &value, "g", &n.to_string()]);
    }
}

#[test]
fn xadd_ids_and_errors() {
    let mut d = Differential::new();
    d.check_script(
        "XADD s 1-1 f v
         XADD s 1-1 f v
         XADD s 1-0 f v
         XADD s 1-2 f v g w
         XADD s 1 f v
         XADD s 2 f v
         XADD s 2-* f v
         XADD s 2-* f v
         XADD s 5-* f v
         XADD s 3-* f v
         XADD s 0-0 f v
         XADD s2 0 f v
         XADD s2 0-* f v
         XADD s2 00-00 f v
         XADD s - f v
         XADD s + f v
         XADD s 1-x f v
         XADD s x f v
         XADD s 1- f v
         XADD s -1 f v
         XADD s 1--1 f v
         XADD s 10-0 f
         XADD s 10-0 f v g
         XADD s 10-0
         XADD s MAXLEN
         XADD s NOMKSTREAM
         XADD s 18446744073709551615-18446744073709551615 f v
         XADD s 18446744073709551615-* f v
         XADD s * f v
         XADD s 18446744073709551616 f v
         XLEN s
         XADD nokey NOMKSTREAM 1-1 f v
         EXISTS nokey
         XADD s NOMKSTREAM 18446744073709551615-18446744073709551615 f v
         SET str x
         XADD str 1-1 f v
         XADD str NOMKSTREAM 1-1 f v
         XLEN str
         XLEN nokey
         TYPE s",
    );
    d.check(&["XADD", "sp", " 3-+4", "f", "v"]);
    d.check(&["XADD", "sp", "007-1", "f", "v"]);
    d.check(&["XADD", "sp", "8", "", ""]);
    d.check(&["XRANGE", "sp", "-", "+"]);
}

#[test]
fn xadd_trim_options_and_errors() {
    let mut d = Differential::new();
    fill(&mut d, "s", 1, 20, 3);
    d.check_script(
        "XADD s MAXLEN 15 21-1 f v
         XLEN s
         XADD s MAXLEN = 10 22-1 f v
         XLEN s
         XADD s MAXLEN ~ 5 23-1 f v
         XLEN s
         XADD s MINID 18 24-1 f v
         XRANGE s - +
         XADD s MINID = 20 25-1 f v
         XADD s MINID ~ 25 26-1 f v
         XLEN s
         XADD s MAXLEN ~ 2 LIMIT 5 27-1 f v
         XLEN s
         XADD s MAXLEN 2 LIMIT 5 28-1 f v
         XADD s LIMIT 5 28-1 f v
         XADD s LIMIT 0 28-1 f v
         XADD s LIMIT -1 28-1 f v
         XADD s MAXLEN -1 28-1 f v
         XADD s MAXLEN x 28-1 f v
         XADD s MAXLEN 1 MINID 1 28-1 f v
         XADD s MINID 1 MAXLEN 1 28-1 f v
         XADD s MINID + 28-1 f v
         XADD s MINID x 28-1 f v
         XADD s NOMKSTREAM MAXLEN 1 28-1 f v
         XRANGE s - +
         XADD s maxlen 0 29-1 f v
         XLEN s
         XADD s2 MAXLEN 0 1-1 f v
         XLEN s2
         EXISTS s2
         XADD s3 MAXLEN = 1",
    );
}

#[test]
fn xrange_and_xrevrange() {
    let mut d = Differential::new();
    fill(&mut d, "s", 1, 6, 2);
    d.check_script(
        "XADD s 6-5 a b
         XADD s 7-0 a b c d
         XRANGE s - +
         XREVRANGE s + -
         XRANGE s 2 4
         XRANGE s 2-1 4-0
         XRANGE s (2-1 (5-1
         XREVRANGE s (5-1 (2-1
         XRANGE s 6 6
         XREVRANGE s 6 6
         XRANGE s - + COUNT 2
         XREVRANGE s + - COUNT 2
         XRANGE s - + COUNT 0
         XRANGE s - + COUNT -3
         XRANGE s - + count 2 COUNT 3
         XRANGE s - + COUNT
         XRANGE s - + COUNT x
         XRANGE s - + FOO 1
         XRANGE s 5 2
         XRANGE s (- +
         XRANGE s ( +
         XRANGE s - (+
         XRANGE s x +
         XRANGE s 18446744073709551615 (18446744073709551615-18446744073709551615
         XRANGE s (18446744073709551615-18446744073709551615 +
         XRANGE s - (0
         XRANGE s - (0-0
         XRANGE s (0 +
         XRANGE nokey - +
         XRANGE nokey - + COUNT 0
         SET str x
         XRANGE str - +
         XREVRANGE str + -
         XRANGE nokey x +",
    );
}

#[test]
fn xdel_xlen_and_id_bookkeeping() {
    let mut d = Differential::new();
    fill(&mut d, "s", 1, 5, 1);
    d.check_script(
        "XDEL s 2-1 3-1 9-9
         XDEL s 2-1
         XLEN s
         XDEL s 5-1
         XADD s 5-1 f v
         XADD s 5-2 f v
         XRANGE s - +
         XDEL s 1 4-1
         XDEL s 1-1 x
         XDEL s -
         XDEL s (1-1
         XLEN s
         XDEL nokey x
         XDEL s 1-1 4-1 5-2
         XLEN s
         EXISTS s
         XADD s 5-2 f v
         XADD s 6-* f v
         XRANGE s - +
         SET str x
         XDEL str 1-1
         XLEN str",
    );
}

#[test]
fn xtrim_exact_and_approximate() {
    let mut d = Differential::new();
    fill(&mut d, "s", 1, 250, 4);
    d.check_script(
        "XTRIM s MAXLEN ~ 200
         XLEN s
         XTRIM s MAXLEN ~ 150
         XLEN s
         XTRIM s MAXLEN 140
         XLEN s
         XRANGE s - + COUNT 1
         XTRIM s MAXLEN ~ 100
         XLEN s
         XTRIM s MINID ~ 230
         XLEN s
         XTRIM s MINID 230
         XRANGE s - + COUNT 1
         XTRIM s MAXLEN ~ 0 LIMIT 5
         XTRIM s MAXLEN ~ 0 LIMIT 100
         XLEN s
         XTRIM s MAXLEN = 3
         XRANGE s - +
         XTRIM s MAXLEN 0
         XLEN s
         EXISTS s
         XTRIM nokey MAXLEN 0
         XTRIM s LIMIT 5
         XTRIM s MAXLEN 1 LIMIT 5
         XTRIM s MAXLEN x
         XTRIM s MAXLEN -1
         XTRIM s FOO 1
         XTRIM s MAXLEN 1 MINID 1
         XTRIM s MINID -
         XTRIM s MAXLEN 1 FOO
         SET str x
         XTRIM str MAXLEN 1
         XTRIM str FOO",
    );
}

#[test]
fn approximate_trimming_follows_node_sizes() {
    // Big values fill Redis's 4096-byte nodes long before 100 entries.
    let mut d = Differential::new();
    fill(&mut d, "big", 1, 120, 150);
    fill(&mut d, "mixed", 1, 40, 30);
    for n in 41..=140u64 {
        let id = format!("{n}-0");
        let field = format!("field{}", n % 3);
        d.check(&["XADD", "mixed", &id, &field, &n.to_string()]);
    }
    d.check_script(
        "XTRIM big MAXLEN ~ 100
         XLEN big
         XTRIM big MAXLEN ~ 50
         XLEN big
         XTRIM big MINID ~ 100
         XLEN big
         XDEL big 120-1 119-1
         XTRIM big MAXLEN ~ 1
         XLEN big
         XTRIM mixed MAXLEN ~ 100
         XLEN mixed
         XTRIM mixed MAXLEN ~ 10
         XLEN mixed
         XADD mixed MAXLEN ~ 1 200-0 a b
         XLEN mixed",
    );
}

#[test]
fn xtrim_with_node_config() {
    let mut d = Differential::with_config(&["--stream-node-max-entries", "10"]);
    fill(&mut d, "s", 1, 35, 1);
    d.check_script(
        "XTRIM s MAXLEN ~ 30
         XLEN s
         XTRIM s MAXLEN ~ 24
         XLEN s
         XDEL s 21-1 22-1 23-1 24-1 25-1 26-1 27-1 28-1 29-1 30-1
         XTRIM s MAXLEN ~ 4
         XLEN s
         XRANGE s - + COUNT 2",
    );
}

#[test]
fn xread_without_block() {
    let mut d = Differential::new();
    fill(&mut d, "a", 1, 3, 1);
    fill(&mut d, "b", 5, 6, 1);
    d.check_script(
        "XREAD STREAMS a 0
         XREAD STREAMS a 2-1
         XREAD STREAMS a 3-1
         XREAD STREAMS a $
         XREAD COUNT 1 STREAMS a b 0 0
         XREAD COUNT 0 STREAMS a b 2 5-1
         XREAD COUNT -5 STREAMS a b 0 0
         XREAD STREAMS a nokey b 0 0 0
         XREAD STREAMS nokey 0
         XREAD STREAMS nokey $
         XREAD streams a 1
         XREAD STREAMS a
         XREAD STREAMS a b 0
         XREAD COUNT 1
         XREAD FOO STREAMS a 0
         XREAD COUNT x STREAMS a 0
         XREAD BLOCK x STREAMS a 0
         XREAD BLOCK -1 STREAMS a 0
         XREAD BLOCK 9223372036854775807 STREAMS a 0
         XREAD STREAMS a -
         XREAD STREAMS a +
         XREAD STREAMS a >
         XREAD STREAMS a x
         XREAD BLOCK 10 STREAMS a 0
         XDEL a 3-1
         XREAD STREAMS a 2-1
         SET str x
         XREAD STREAMS str 0
         XREAD STREAMS a str 0 x
         XREAD STREAMS a str x 0",
    );
}

#[test]
fn resp3_forms() {
    let mut d = Differential::new();
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
    fill(&mut d, "a", 1, 2, 1);
    fill(&mut d, "b", 1, 2, 1);
    d.check_script(
        "XRANGE a - +
         XRANGE a - + COUNT 0
         XREAD STREAMS a b 0 1-1
         XREAD STREAMS a 9
         XREAD BLOCK 20 STREAMS a 9
         XADD nokey NOMKSTREAM * f v
         XLEN a",
    );
}

#[test]
fn auto_ids_are_time_based() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let Frame::Bulk(id) = c.cmd(&["XADD", "s", "*", "f", "v"]) else {
        panic!("bulk id")
    };
    let id = String::from_utf8(id).unwrap();
    let (ms, seq) = id.split_once('-').unwrap();
    assert!(ms.parse::<u64>().unwrap() >= before);
    assert_eq!(seq, "0");
    let far = format!("{}-5", before + 1_000_000);
    assert_eq!(c.cmd(&["XADD", "s", &far, "f", "v"]), bulk(&far));
    let next = format!("{}-6", before + 1_000_000);
    assert_eq!(c.cmd(&["XADD", "s", "*", "f", "v"]), bulk(&next));
    assert_eq!(
        c.cmd(&["XADD", "s", "MAXLEN", "1", "*", "f", "v"]).clone(),
        { bulk(&format!("{}-7", before + 1_000_000)) }
    );
    assert_eq!(c.cmd(&["XLEN", "s"]), int(1));
}

/// Runs `setup` on both, blocks a client with `block`, runs `wake` from another
/// client, and compares what the blocked client receives.
fn blocked_reply(
    kind: Kind,
    resp3: bool,
    setup: &[&[&str]],
    block: &[&str],
    wake: &[&[&str]],
) -> Vec<u8> {
    let srv = Server::start_kind(kind, &[]);
    let mut writer = srv.conn();
    for cmd in setup {
        writer.cmd(cmd);
    }
    let mut reader = srv.conn();
    if resp3 {
        reader.cmd(&["HELLO", "3"]);
    }
    reader.send(block);
    std::thread::sleep(Duration::from_millis(100));
    for cmd in wake {
        writer.cmd(cmd);
    }
    reader.read_raw()
}

fn check_blocked(resp3: bool, setup: &[&[&str]], block: &[&str], wake: &[&[&str]]) {
    let ours = blocked_reply(Kind::Ours, resp3, setup, block, wake);
    let redis = blocked_reply(Kind::Redis, resp3, setup, block, wake);
    assert_eq!(show(&ours), show(&redis), "{block:?}");
}

#[test]
fn xread_block_is_served_by_xadd() {
    let setup: &[&[&str]] = &[&["XADD", "a", "1-1", "f", "old"]];
    let wake: &[&[&str]] = &[&["XADD", "a", "2-1", "f", "new"]];
    for resp3 in [false, true] {
        check_blocked(
            resp3,
            setup,
            &["XREAD", "BLOCK", "0", "STREAMS", "a", "$"],
            wake,
        );
        check_blocked(
            resp3,
            setup,
            &["XREAD", "BLOCK", "5000", "STREAMS", "a", "1-1"],
            wake,
        );
        check_blocked(
            resp3,
            setup,
            &[
                "XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "x", "a", "$", "$",
            ],
            &[
                &["XADD", "a", "2-1", "f", "new"],
                &["XADD", "x", "1-1", "f", "y"],
            ],
        );
    }
    // A stream created while waiting, and one waited on with `$` before it existed.
    check_blocked(
        false,
        &[],
        &["XREAD", "BLOCK", "0", "STREAMS", "n", "$"],
        &[&["XADD", "n", "3-3", "f", "v"]],
    );
    // A key of another type does not serve the reader (nor make it fail).
    check_blocked(
        false,
        &[],
        &["XREAD", "BLOCK", "0", "STREAMS", "k", "$"],
        &[
            &["SET", "k", "x"],
            &["DEL", "k"],
            &["XADD", "k", "1-1", "f", "v"],
        ],
    );
    // Other keys do not wake the reader; the stream entry does.
    check_blocked(
        false,
        setup,
        &["XREAD", "BLOCK", "0", "STREAMS", "a", "$"],
        &[
            &["XADD", "b", "9-9", "f", "v"],
            &["XDEL", "a", "1-1"],
            &["XADD", "a", "5-5", "f", "v"],
        ],
    );
}

#[test]
fn xread_block_with_dollar_skips_entries_older_than_the_block() {
    let srv = Server::start(&[]);
    let mut writer = srv.conn();
    let mut reader = srv.conn();
    writer.cmd(&["XADD", "a", "1-1", "f", "old"]);
    reader.send(&["XREAD", "BLOCK", "0", "STREAMS", "a", "$"]);
    std::thread::sleep(Duration::from_millis(100));
    writer.cmd(&["XADD", "a", "2-1", "f", "new"]);
    let reply = reader.read_raw();
    let text = show(&reply);
    assert!(text.contains("2-1") && !text.contains("1-1"), "{text}");
    assert_eq!(writer.cmd(&["XLEN", "a"]), int(2));
}

#[test]
fn xread_block_times_out_with_null() {
    for resp3 in [false, true] {
        let mut replies = Vec::new();
        for kind in [Kind::Ours, Kind::Redis] {
            let srv = Server::start_kind(kind, &[]);
            let mut c = srv.conn();
            if resp3 {
                c.cmd(&["HELLO", "3"]);
            }
            c.cmd(&["XADD", "a", "1-1", "f", "v"]);
            let start = std::time::Instant::now();
            let reply = c.cmd_raw(&[b"XREAD", b"BLOCK", b"150", b"STREAMS", b"a", b"$"]);
            assert!(start.elapsed() >= Duration::from_millis(140));
            replies.push(show(&reply));
        }
        assert_eq!(replies[0], replies[1]);
    }
}

#[test]
fn xinfo_stream_basic_and_full() {
    let mut d = Differential::new();
    d.check_script(
        "XADD e 1-1 f v
         XDEL e 1-1
         XINFO STREAM e
         XINFO STREAM e FULL
         XINFO STREAM nokey
         XINFO FOO
         XINFO STREAM
         XINFO STREAM e FOO
         XINFO STREAM e FULL COUNT
         XINFO STREAM e FULL COUNT x
         SET str x
         XINFO STREAM str",
    );
    for n in 1..=250u64 {
        let id = format!("{}-{}", n * 7919, n % 3);
        d.check(&["XADD", "s", &id, "f", "v", "n", &n.to_string()]);
    }
    d.check_script(
        "XINFO STREAM s
         XDEL s 7919-1 23757-0
         XTRIM s MAXLEN ~ 140
         XINFO STREAM s
         XINFO STREAM s FULL COUNT 2
         XINFO STREAM s full count 0
         XINFO STREAM s FULL
         XTRIM s MAXLEN 3
         XINFO STREAM s",
    );
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
    d.check_script(
        "XINFO STREAM s
         XINFO STREAM e
         XINFO STREAM s FULL",
    );
}

#[test]
fn node_shapes_match_for_large_and_numeric_values() {
    let mut d = Differential::new();
    fill(&mut d, "huge", 1, 6, 5000);
    fill(&mut d, "edge", 1, 40, 90);
    for n in 1..=150u64 {
        let id = format!("{n}-0");
        let value = (n as i64 * -977).to_string();
        d.check(&["XADD", "num", &id, "a", &value, "12345", "-4097"]);
    }
    d.check_script(
        "XINFO STREAM huge
         XINFO STREAM edge
         XINFO STREAM num
         XTRIM huge MAXLEN ~ 2
         XTRIM edge MAXLEN ~ 5
         XTRIM num MINID ~ 120
         XINFO STREAM huge
         XINFO STREAM edge
         XINFO STREAM num",
    );
}
