//! Set commands against the reference redis-server: every command, option and error,
//! RESP3 forms, random picks by their invariants and SSCAN full iterations.

mod common;
use common::*;

/// Members of an array/set reply, sorted, as strings.
fn members(f: Frame) -> Vec<String> {
    let items = match f {
        Frame::Array(v) | Frame::Set(v) => v,
        other => panic!("not an aggregate: {other:?}"),
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|x| match x {
            Frame::Bulk(b) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn sadd_srem_membership_and_cardinality() {
    let mut d = Differential::new();
    d.check_script(
        "SADD s a b c a
         SADD s c d
         SCARD s
         SISMEMBER s a
         SISMEMBER s zz
         SISMEMBER nokey a
         SMISMEMBER s a zz b
         SMISMEMBER nokey a b
         SCARD nokey
         SREM s a zz
         SREM s zz
         SREM nokey a
         SCARD s
         SREM s b c d
         EXISTS s
         SADD n 1 2 3 -5 100000000000
         SCARD n
         SISMEMBER n 2
         SREM n 2 3
         SCARD n
         SET str x
         SADD str a
         SREM str a
         SISMEMBER str a
         SMISMEMBER str a
         SCARD str
         SMEMBERS str
         SADD s
         SREM s
         SCARD
         SCARD a b
         SISMEMBER s
         SMISMEMBER s
         SMEMBERS
         TYPE n",
    );
    d.check_unordered(&["SMEMBERS", "n"]);
    d.check_unordered(&["SMEMBERS", "nokey"]);
}

#[test]
fn big_members_and_binary_safety() {
    let mut d = Differential::new();
    let long = "x".repeat(100);
    d.check(&["SADD", "s", &long, "", "short"]);
    d.check(&["SISMEMBER", "s", &long]);
    d.check(&["SISMEMBER", "s", ""]);
    d.check(&["SREM", "s", &long]);
    d.check_unordered(&["SMEMBERS", "s"]);
    d.check(&["SCARD", "s"]);
}

#[test]
fn spop_and_srandmember_errors_and_edges() {
    let mut d = Differential::new();
    d.check_script(
        "SPOP nokey
         SPOP nokey 3
         SPOP nokey 0
         SPOP nokey -1
         SPOP nokey abc
         SPOP s 1 2
         SRANDMEMBER nokey
         SRANDMEMBER nokey 5
         SRANDMEMBER nokey -5
         SRANDMEMBER nokey abc
         SRANDMEMBER nokey 1 2
         SRANDMEMBER nokey -9223372036854775808
         SRANDMEMBER nokey 9223372036854775808
         SADD s only
         SRANDMEMBER s
         SRANDMEMBER s 1
         SRANDMEMBER s -3
         SRANDMEMBER s 0
         SPOP s 0
         SPOP s
         EXISTS s
         SADD s a b c
         SPOP s -1",
    );
    d.check_unordered(&["SPOP", "s", "3"]);
    d.check(&["EXISTS", "s"]);
    d.check(&["SADD", "s", "a", "b", "c"]);
    d.check_unordered(&["SPOP", "s", "10"]);
    d.check_script(
        "EXISTS s
         SET str x
         SPOP str
         SPOP str 2
         SPOP str -2
         SRANDMEMBER str
         SRANDMEMBER str 2
         SRANDMEMBER str x
         SPOP",
    );
}

#[test]
fn random_picks_follow_redis_rules() {
    let mut d = Differential::new();
    d.check_script("SADD s a b c d e f g h i j");
    // Whole set when count >= size (order is the hash table's).
    d.check_unordered(&["SRANDMEMBER", "s", "10"]);
    d.check_unordered(&["SRANDMEMBER", "s", "100"]);
    let all: Vec<String> = "abcdefghij".chars().map(|c| c.to_string()).collect();
    for count in ["1", "3", "7", "9"] {
        let got = members(d.a.cmd(&["SRANDMEMBER", "s", count]));
        let mut dedup = got.clone();
        dedup.dedup();
        assert_eq!(got.len(), count.parse::<usize>().unwrap());
        assert_eq!(dedup, got, "distinct picks");
        assert!(got.iter().all(|m| all.contains(m)));
    }
    let rep = members(d.a.cmd(&["SRANDMEMBER", "s", "-50"]));
    assert_eq!(rep.len(), 50);
    assert!(rep.iter().all(|m| all.contains(m)));
    // Popping part of the set: distinct members, removed from the set.
    let popped = members(d.a.cmd(&["SPOP", "s", "4"]));
    assert_eq!(popped.len(), 4);
    assert_eq!(d.a.cmd(&["SCARD", "s"]), int(6));
    for m in &popped {
        assert_eq!(d.a.cmd(&["SISMEMBER", "s", m]), int(0));
    }
    let one = d.a.cmd(&["SPOP", "s"]);
    assert!(matches!(one, Frame::Bulk(_)));
    assert_eq!(d.a.cmd(&["SCARD", "s"]), int(5));
    let rest = members(d.a.cmd(&["SPOP", "s", "5"]));
    assert_eq!(rest.len(), 5);
    assert_eq!(d.a.cmd(&["EXISTS", "s"]), int(0));
}

#[test]
fn smove_cases() {
    let mut d = Differential::new();
    d.check_script(
        "SADD src a b
         SADD dst c
         SMOVE src dst a
         SISMEMBER src a
         SISMEMBER dst a
         SMOVE src dst zz
         SMOVE nokey dst a
         SMOVE src src b
         SMOVE src src zz
         SADD dst b
         SMOVE src dst b
         EXISTS src
         SCARD dst
         SMOVE dst newset c
         SCARD newset
         SET str x
         SMOVE nokey str a
         SMOVE str dst a
         SMOVE dst str a
         SMOVE dst str zz
         SMOVE dst str
         SCARD dst",
    );
}

#[test]
fn set_algebra() {
    let mut d = Differential::new();
    d.check_script(
        "SADD a 1 2 3 4 x
         SADD b 2 3 5 x y
         SADD c 3 x z
         SET str v",
    );
    for cmd in [
        "SINTER a b c",
        "SINTER a b",
        "SINTER a",
        "SINTER a a",
        "SINTER a nokey",
        "SUNION a b c",
        "SUNION a nokey",
        "SUNION nokey",
        "SDIFF a b c",
        "SDIFF a b",
        "SDIFF a nokey",
        "SDIFF nokey a",
        "SDIFF a a",
        "SMEMBERS a",
    ] {
        let words: Vec<&str> = cmd.split(' ').collect();
        d.check_unordered(&words);
    }
    d.check_script(
        "SINTER a str
         SINTER nokey str
         SUNION a str
         SUNION nokey str
         SDIFF a str
         SDIFF nokey str
         SINTER
         SUNION
         SDIFF
         SINTERSTORE d a b c
         SCARD d
         SINTERSTORE d a b
         SCARD d
         SUNIONSTORE d a b c
         SCARD d
         SDIFFSTORE d a b
         SCARD d
         SDIFFSTORE d a a
         EXISTS d
         SADD d q
         SINTERSTORE d a nokey
         EXISTS d
         SADD d q
         SUNIONSTORE d nokey
         EXISTS d
         SADD d q
         SDIFFSTORE d nokey a
         EXISTS d
         SINTERSTORE str a b
         TYPE str
         SET str v
         SINTERSTORE d a str
         SUNIONSTORE d str
         SDIFFSTORE d a str
         SINTERSTORE d
         SUNIONSTORE d
         SDIFFSTORE d
         SUNIONSTORE a a b
         SCARD a
         SDIFFSTORE b b c
         SCARD b",
    );
    d.check_unordered(&["SMEMBERS", "a"]);
    d.check_unordered(&["SMEMBERS", "b"]);
    d.check_unordered(&["SMEMBERS", "str"]);
}

#[test]
fn store_drops_ttl_of_destination() {
    let mut d = Differential::new();
    d.check_script(
        "SADD a 1 2
         SET d v PX 150
         SET e v PX 150
         SUNIONSTORE d a
         SINTERSTORE e a a
         TYPE e",
    );
    std::thread::sleep(std::time::Duration::from_millis(250));
    d.check_script(
        "EXISTS d
         EXISTS e",
    );
}

#[test]
fn sintercard_and_its_errors() {
    let mut d = Differential::new();
    d.check_script(
        "SADD a 1 2 3 4 5
         SADD b 2 3 4 5 6
         SADD c 3 4 5 7
         SET str v
         SINTERCARD 1 a
         SINTERCARD 2 a b
         SINTERCARD 3 a b c
         SINTERCARD 3 a b c LIMIT 0
         SINTERCARD 3 a b c LIMIT 2
         SINTERCARD 3 a b c limit 100
         SINTERCARD 3 a b c LIMIT 1 LIMIT 2
         SINTERCARD 2 a nokey
         SINTERCARD 2 nokey str
         SINTERCARD 2 a str
         SINTERCARD 0 a
         SINTERCARD -1 a
         SINTERCARD abc a
         SINTERCARD 3 a b
         SINTERCARD 1 a LIMIT
         SINTERCARD 1 a LIMIT -1
         SINTERCARD 1 a LIMIT abc
         SINTERCARD 1 a FOO 1
         SINTERCARD 1 a b
         SINTERCARD 1",
    );
}

#[test]
fn sscan_options_and_errors() {
    let mut d = Differential::new();
    d.check_script(
        "SSCAN nokey 0
         SSCAN nokey abc
         SSCAN nokey 0 COUNT 0
         SSCAN nokey 0 BADOPT
         SADD s only
         SSCAN s 0
         SSCAN s 0 COUNT 5
         SSCAN s 0 MATCH o*
         SSCAN s 0 MATCH x*
         SSCAN s 0 MATCH * COUNT 100
         SSCAN s abc
         SSCAN s -1x
         SSCAN s 18446744073709551616
         SSCAN s 0 COUNT 0
         SSCAN s 0 COUNT -1
         SSCAN s 0 COUNT abc
         SSCAN s 0 MATCH
         SSCAN s 0 COUNT
         SSCAN s 0 FOO bar
         SET str v
         SSCAN str 0
         SSCAN str x
         SSCAN s",
    );
    d.check(&["SSCAN", "s", " 1"]);
}

/// Scans the whole set with `extra` options; returns members seen (sorted, deduped).
fn full_sscan(c: &mut Conn, key: &str, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let mut args = vec!["SSCAN", key, &cursor];
        args.extend_from_slice(extra);
        let Frame::Array(parts) = c.cmd(&args) else {
            panic!("bad reply")
        };
        let [Frame::Bulk(next), page] = &parts[..] else {
            panic!("bad reply shape")
        };
        seen.extend(members(page.clone()));
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            seen.sort();
            seen.dedup();
            return seen;
        }
    }
    panic!("scan did not finish");
}

#[test]
fn sscan_full_iteration_returns_every_member() {
    let d = Differential::new();
    let mut a = d.ours.conn();
    let mut b = d.redis.conn();
    let names: Vec<String> = (0..1000).map(|i| format!("m:{i}")).collect();
    for conn in [&mut a, &mut b] {
        for chunk in names.chunks(100) {
            let mut args = vec!["SADD", "big"];
            args.extend(chunk.iter().map(String::as_str));
            conn.cmd(&args);
        }
    }
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(full_sscan(&mut a, "big", &[]), expected);
    assert_eq!(full_sscan(&mut a, "big", &["COUNT", "3"]), expected);
    assert_eq!(
        full_sscan(&mut a, "big", &["MATCH", "m:1*", "COUNT", "50"]),
        full_sscan(&mut b, "big", &["MATCH", "m:1*", "COUNT", "50"])
    );
}

#[test]
fn sscan_keeps_members_present_throughout_despite_deletes() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    let mut args = vec!["SADD".to_string(), "s".to_string()];
    args.extend((0..500).map(|i| format!("e{i}")));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.cmd(&refs);
    // Delete members e0..e99 while scanning; e100.. must all be seen.
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    let mut next_delete = 0;
    loop {
        let Frame::Array(parts) = c.cmd(&["SSCAN", "s", &cursor, "COUNT", "20"]) else {
            panic!()
        };
        let [Frame::Bulk(next), page] = &parts[..] else {
            panic!()
        };
        seen.extend(members(page.clone()));
        for _ in 0..10 {
            if next_delete < 100 {
                c.cmd(&["SREM", "s", &format!("e{next_delete}")]);
                next_delete += 1;
            }
        }
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    for i in 100..500 {
        assert!(seen.contains(&format!("e{i}")), "e{i} missed");
    }
}

/// Switches both connections to RESP3 (HELLO's own reply names the server, so it
/// is not compared).
fn hello3(d: &mut Differential) {
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
}

#[test]
fn resp3_reply_forms() {
    let mut d = Differential::new();
    hello3(&mut d);
    d.check_script(
        "SADD s a
         SMEMBERS s
         SMEMBERS nokey
         SINTER s s
         SINTER s nokey
         SUNION s nokey
         SDIFF s nokey
         SISMEMBER s a
         SMISMEMBER s a b
         SRANDMEMBER s
         SRANDMEMBER s 5
         SRANDMEMBER s -2
         SRANDMEMBER nokey
         SRANDMEMBER nokey 3
         SPOP nokey
         SPOP nokey 2
         SSCAN s 0
         SSCAN nokey 0
         SPOP s 1
         SADD s a
         SPOP s 5
         SADD s b
         SPOP s",
    );
    d.check(&["SADD", "t", "x", "y", "z"]);
    d.check_unordered(&["SMEMBERS", "t"]);
    d.check_unordered(&["SUNION", "t", "s"]);
    d.check_unordered(&["SPOP", "t", "10"]);
}
