//! Hash commands against the reference redis-server: every command, option and error,
//! RESP3 forms, HRANDFIELD by its invariants and HSCAN full iterations.

mod common;
use common::*;

/// Switches both connections to RESP3 (HELLO's own reply names the server, so it
/// is not compared).
fn hello3(d: &mut Differential) {
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8(b.clone()).unwrap(),
        other => panic!("not a bulk: {other:?}"),
    }
}

fn items(f: Frame) -> Vec<Frame> {
    match f {
        Frame::Array(v) => v,
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn field_reads_and_writes() {
    let mut d = Differential::new();
    // Small hashes keep insertion order in both, so listings compare byte-exact.
    d.check_script(
        "HSET h a 1 b 2 c 3
         HSET h a 10 d 4
         HGET h a
         HGET h zz
         HGET nokey a
         HMGET h a zz d
         HMGET nokey a b
         HLEN h
         HLEN nokey
         HEXISTS h a
         HEXISTS h zz
         HEXISTS nokey a
         HSTRLEN h a
         HSTRLEN h zz
         HSTRLEN nokey a
         HGETALL h
         HKEYS h
         HVALS h
         HGETALL nokey
         HKEYS nokey
         HVALS nokey
         HSETNX h a 99
         HSETNX h e 5
         HSETNX newh f v
         HGETALL newh
         HMSET h a 1 f 6
         HGETALL h
         HDEL h b zz
         HDEL h zz
         HDEL nokey a
         HGETALL h
         HKEYS h
         HDEL h a c d e f
         EXISTS h
         HSET h x
         HSET h x 1 y
         HMSET h x
         HMSET h x 1 y
         HSET h
         HGET h
         HMGET h
         HDEL h
         HSETNX h a
         HLEN
         HGETALL
         HSTRLEN h",
    );
}

#[test]
fn wrong_type_errors() {
    let mut d = Differential::new();
    d.check_script(
        "SET str x
         HSET str a 1
         HMSET str a 1
         HSETNX str a 1
         HGET str a
         HMGET str a
         HDEL str a
         HGETALL str
         HKEYS str
         HVALS str
         HLEN str
         HEXISTS str a
         HSTRLEN str a
         HINCRBY str a 1
         HINCRBYFLOAT str a 1
         HRANDFIELD str
         HRANDFIELD str 2
         HRANDFIELD str 2 WITHVALUES
         HSCAN str 0
         GET str
         SADD s a
         HSET s a 1",
    );
}

#[test]
fn counters() {
    let mut d = Differential::new();
    d.check_script(
        "HINCRBY h n 5
         HINCRBY h n -7
         HINCRBY h n 0
         HGET h n
         HINCRBY h n abc
         HINCRBY h n 1.5
         HINCRBY h n 9223372036854775808
         HSET h big 9223372036854775807 neg -9223372036854775808 s hello f 1.5
         HINCRBY h big 1
         HINCRBY h big 0
         HINCRBY h neg -1
         HINCRBY h neg 1
         HINCRBY h s 1
         HINCRBY h f 1
         HINCRBY newh n 3
         HGETALL newh
         HINCRBYFLOAT h x 1.5
         HINCRBYFLOAT h x 0.1
         HINCRBYFLOAT h x -1.6
         HINCRBYFLOAT h x 1e3
         HINCRBYFLOAT h x 5.0e3
         HINCRBYFLOAT h n 2.5
         HINCRBYFLOAT h f 10
         HINCRBYFLOAT h s 1
         HINCRBYFLOAT h x abc
         HINCRBYFLOAT h x inf
         HINCRBYFLOAT h x -inf
         HINCRBYFLOAT h x nan
         HSET h sci 1e5
         HINCRBYFLOAT h sci 0.25
         HSET h zero 00
         HINCRBY h zero 1
         HINCRBYFLOAT h zero 1
         HINCRBYFLOAT newf x 3
         HGETALL newf
         HINCRBY h n
         HINCRBYFLOAT h n",
    );
    d.check(&["HSET", "h", "sp", " 1"]);
    d.check(&["HINCRBY", "h", "sp", "1"]);
    d.check(&["HINCRBYFLOAT", "h", "sp", "1"]);
    d.check(&["HINCRBY", "h", "n", " 1"]);
    d.check(&["HINCRBYFLOAT", "h", "n", " 1"]);
}

#[test]
fn hrandfield_errors_and_whole_hash_cases() {
    let mut d = Differential::new();
    d.check_script(
        "HRANDFIELD nokey
         HRANDFIELD nokey 3
         HRANDFIELD nokey -3 WITHVALUES
         HRANDFIELD nokey abc
         HRANDFIELD nokey 1 WITHVALUES extra
         HRANDFIELD nokey 1 NOPE
         HRANDFIELD nokey -9223372036854775808
         HRANDFIELD nokey 9223372036854775807 WITHVALUES
         HRANDFIELD nokey -4611686018427387904 WITHVALUES
         HRANDFIELD nokey 4611686018427387903 WITHVALUES
         HSET one f v
         HRANDFIELD one
         HRANDFIELD one 1
         HRANDFIELD one 1 WITHVALUES
         HRANDFIELD one -3
         HRANDFIELD one -3 withvalues
         HRANDFIELD one 0
         HRANDFIELD one 0 WITHVALUES
         HSET h a 1 b 2 c 3
         HRANDFIELD h 3
         HRANDFIELD h 10 WITHVALUES
         HRANDFIELD h 100",
    );
}

#[test]
fn hrandfield_picks_follow_redis_rules() {
    let d = Differential::new();
    let mut c = d.ours.conn();
    let fields: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let mut args = vec!["HSET".to_string(), "h".to_string()];
    for f in &fields {
        args.push(f.clone());
        args.push(format!("v{}", &f[1..]));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.cmd(&refs);
    for count in [1usize, 5, 7, 19] {
        let got: Vec<String> = items(c.cmd(&["HRANDFIELD", "h", &count.to_string()]))
            .iter()
            .map(text)
            .collect();
        let mut dedup = got.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(got.len(), count);
        assert_eq!(dedup.len(), count, "distinct fields");
        assert!(got.iter().all(|f| fields.contains(f)));
    }
    let pairs = items(c.cmd(&["HRANDFIELD", "h", "-30", "WITHVALUES"]));
    assert_eq!(pairs.len(), 60);
    for pair in pairs.chunks(2) {
        let (f, v) = (text(&pair[0]), text(&pair[1]));
        assert_eq!(&v[1..], &f[1..], "value belongs to its field");
    }
    let one = c.cmd(&["HRANDFIELD", "h"]);
    assert!(fields.contains(&text(&one)));
}

#[test]
fn hscan_options_and_errors() {
    let mut d = Differential::new();
    d.check_script(
        "HSCAN nokey 0
         HSCAN nokey abc
         HSCAN nokey 0 COUNT 0
         HSET h a 1 b 2 ab 3
         HSCAN h 0
         HSCAN h 0 COUNT 1
         HSCAN h 0 MATCH a*
         HSCAN h 0 MATCH 1
         HSCAN h 0 MATCH * COUNT 100
         HSCAN h abc
         HSCAN h 18446744073709551616
         HSCAN h 0 COUNT 0
         HSCAN h 0 COUNT abc
         HSCAN h 0 MATCH
         HSCAN h 0 NOPE x
         HSCAN h",
    );
}

/// Scans the whole hash with `extra` options; returns (field, value) pairs, sorted.
fn full_hscan(c: &mut Conn, key: &str, extra: &[&str]) -> Vec<(String, String)> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let mut args = vec!["HSCAN", key, &cursor];
        args.extend_from_slice(extra);
        let parts = items(c.cmd(&args));
        let page = items(parts[1].clone());
        seen.extend(page.chunks(2).map(|p| (text(&p[0]), text(&p[1]))));
        cursor = text(&parts[0]);
        if cursor == "0" {
            seen.sort();
            seen.dedup();
            return seen;
        }
    }
    panic!("scan did not finish");
}

#[test]
fn hscan_full_iteration_returns_every_field() {
    let d = Differential::new();
    let mut a = d.ours.conn();
    let mut b = d.redis.conn();
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..1000 {
        args.push(format!("field:{i}"));
        args.push(format!("value:{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    a.cmd(&refs);
    b.cmd(&refs);
    let all = full_hscan(&mut b, "big", &[]);
    assert_eq!(all.len(), 1000);
    assert_eq!(full_hscan(&mut a, "big", &[]), all);
    assert_eq!(full_hscan(&mut a, "big", &["COUNT", "7"]), all);
    assert_eq!(
        full_hscan(&mut a, "big", &["MATCH", "field:9*", "COUNT", "30"]),
        full_hscan(&mut b, "big", &["MATCH", "field:9*", "COUNT", "30"])
    );
}

#[test]
fn big_hash_listings_and_deletes() {
    let mut d = Differential::new();
    let mut args = vec!["HSET".to_string(), "h".to_string()];
    for i in 0..300 {
        args.push(format!("f{i}"));
        args.push("x".repeat(i % 90));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    d.check(&refs);
    d.check_script(
        "HDEL h f0 f10 f299 nope
         HLEN h
         HSTRLEN h f89
         HGET h f150",
    );
    d.check_unordered(&["HGETALL", "h"]);
    d.check_unordered(&["HKEYS", "h"]);
    d.check_unordered(&["HVALS", "h"]);
    d.check_unordered(&["HRANDFIELD", "h", "1000"]);
}

#[test]
fn resp3_reply_forms() {
    let mut d = Differential::new();
    hello3(&mut d);
    d.check_script(
        "HSET h a 1 b 2
         HGETALL h
         HGETALL nokey
         HKEYS h
         HVALS h
         HMGET h a zz
         HGET h zz
         HRANDFIELD nokey
         HRANDFIELD nokey 2 WITHVALUES
         HRANDFIELD h 5 WITHVALUES
         HRANDFIELD h 0 WITHVALUES
         HSCAN h 0
         HSCAN nokey 0
         HINCRBYFLOAT h f 1.5
         HSET one k v
         HRANDFIELD one -2 WITHVALUES
         HRANDFIELD one 1 WITHVALUES
         HRANDFIELD one -2",
    );
}
