//! Sorted set commands against the reference redis-server: every command, option and
//! error, RESP3 forms, large (skiplist-encoded) sets and blocking pops.

mod common;
use common::*;

use std::time::{Duration, Instant};

/// Switches both connections of `d` to RESP3 (HELLO replies differ by server, so
/// they are not compared).
fn resp3(d: &mut Differential) {
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
}

#[test]
fn zadd_options_and_errors() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z 1 a 2 b 3 c
         ZADD z 1 a
         ZADD z CH 5 a 2 b 9 d
         ZRANGE z 0 -1 WITHSCORES
         ZADD z NX 100 a 4 e
         ZADD z XX 100 a 4 f
         ZADD z XX CH 100 a
         ZADD z GT CH 50 a 200 b
         ZADD z LT CH 50 a 300 b
         ZADD z XX GT 1000 a
         ZADD z XX LT 1 c
         ZRANGE z 0 -1 WITHSCORES
         ZADD z NX XX 1 a
         ZADD z GT LT 1 a
         ZADD z GT NX 1 a
         ZADD z LT NX 1 a
         ZADD z INCR 1 a 2 b
         ZADD z 1
         ZADD z 1 a 2
         ZADD z nope a
         ZADD z 1 a nope b
         ZADD z NX
         ZADD z nan a
         ZADD z 1.5e3 x -2.25 y 0x10 w 0x1.8p1 v 1e-310 u .5 t 1. s
         ZADD z 1e400 a
         ZADD z 1e-400 a
         ZADD z 0x a
         ZADD z 1e a
         ZADD z infx a
         ZADD z -INFINITY a
         ZADD z inf i -inf j +inf k
         ZRANGE z 0 -1 WITHSCORES
         ZADD z CH XX NX 1 a
         ZADD nokey XX 1 a
         EXISTS nokey
         ZADD nokey2 XX INCR 1 a
         EXISTS nokey2
         ZADD z INCR 5 a
         ZADD z NX INCR 5 a
         ZADD z XX INCR 5 nosuch
         ZADD z GT INCR -5 a
         ZADD z LT INCR -5 a
         ZADD z INCR 0 a
         ZADD z INCR -0 newm
         ZSCORE z newm
         ZINCRBY z 2.5 a
         ZINCRBY z 1 brandnew
         ZINCRBY z abc a
         ZINCRBY z inf a
         ZINCRBY z -inf a
         ZADD z INCR -inf a
         ZSCORE z a
         ZINCRBY z 1
         ZCARD z
         zadd z ch 1 lower",
    );
}

#[test]
fn equal_scores_order_by_member_and_float_formats() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z 1 b 1 a 1 c 1 aa 1 B 0 zz
         ZRANGE z 0 -1 WITHSCORES
         ZADD f 1.1 a 0.1 b 3.14159265358979 c 1e20 d 1e-5 e -0 f 123456789012345678 g
         ZRANGE f 0 -1 WITHSCORES
         ZSCORE f a
         ZINCRBY f 0.2 b
         ZMSCORE f a b nosuch c
         ZMSCORE nokey a b",
    );
    resp3(&mut d);
    d.check_script(
        "ZRANGE f 0 -1 WITHSCORES
         ZSCORE f a
         ZSCORE f nosuch
         ZMSCORE f a nosuch
         ZINCRBY f 1 a
         ZADD f INCR 1 a
         ZADD f XX INCR 1 nosuch",
    );
}

#[test]
fn small_commands() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z 1 a 2 b 3 c 4 d
         ZCARD z
         ZCARD nokey
         ZSCORE z a
         ZSCORE z nope
         ZSCORE nokey a
         ZRANK z a
         ZRANK z d
         ZREVRANK z a
         ZREVRANK z d
         ZRANK z nope
         ZRANK nokey a
         ZREM z a nope
         ZREM z nope
         ZREM nokey a
         ZREM z b c d
         EXISTS z
         ZCARD z
         ZRANK z a extra
         ZCARD",
    );
}

#[test]
fn wrongtype_for_every_command() {
    let mut d = Differential::new();
    d.check_script(
        "SET s x
         ZADD s 1 a
         ZINCRBY s 1 a
         ZREM s a
         ZCARD s
         ZSCORE s a
         ZMSCORE s a
         ZRANK s a
         ZREVRANK s a
         ZCOUNT s 0 1
         ZLEXCOUNT s - +
         ZRANGE s 0 -1
         ZRANGESTORE d s 0 -1
         ZREVRANGE s 0 -1
         ZRANGEBYSCORE s 0 1
         ZREVRANGEBYSCORE s 1 0
         ZRANGEBYLEX s - +
         ZREVRANGEBYLEX s + -
         ZREMRANGEBYSCORE s 0 1
         ZREMRANGEBYRANK s 0 1
         ZREMRANGEBYLEX s - +
         ZPOPMIN s
         ZPOPMAX s 0
         BZPOPMIN s 1
         BZPOPMAX s 1
         ZMPOP 1 s MIN
         BZMPOP 1 1 s MAX
         ZRANDMEMBER s
         ZRANDMEMBER s 2
         ZSCAN s 0
         ZUNIONSTORE d 1 s
         ZINTERSTORE d 1 s
         ZDIFFSTORE d 1 s
         ZUNION 1 s
         ZINTER 1 s
         ZDIFF 1 s
         ZINTERCARD 1 s
         ZADD s XX 1 a
         ZADD s 1 a 2",
    );
}

#[test]
fn zrange_by_rank() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z 1 a 2 b 3 c 4 d 5 e
         ZRANGE z 0 -1
         ZRANGE z 0 -1 WITHSCORES
         ZRANGE z 1 3
         ZRANGE z -2 -1
         ZRANGE z -100 100
         ZRANGE z 3 1
         ZRANGE z 5 10
         ZRANGE z 0 -1 REV
         ZRANGE z 0 1 REV WITHSCORES
         ZREVRANGE z 0 -1
         ZREVRANGE z 1 2 WITHSCORES
         ZREVRANGE z -1 -1
         ZRANGE z 0 -1 LIMIT 0 -1
         ZRANGE z 0 -1 LIMIT 0 1
         ZRANGE z a 1
         ZRANGE z 0 1 foo
         ZRANGE z 0 1 LIMIT 0
         ZRANGE z 0 1 WITHSCORES WITHSCORES
         ZRANGE nokey 0 -1
         ZREVRANGE z 0 1 REV
         ZREVRANGE z 0 1 BYSCORE
         ZRANGE z 0",
    );
}

#[test]
fn zrange_by_score() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z -inf ninf 1 a 2 b 2 bb 3 c 4 d 5 e inf pinf
         ZRANGEBYSCORE z -inf +inf WITHSCORES
         ZRANGEBYSCORE z 2 4
         ZRANGEBYSCORE z (2 4
         ZRANGEBYSCORE z 2 (4
         ZRANGEBYSCORE z (2 (4
         ZRANGEBYSCORE z (2 (2
         ZRANGEBYSCORE z 2 2
         ZRANGEBYSCORE z 4 2
         ZRANGEBYSCORE z -inf 2
         ZRANGEBYSCORE z (-inf (inf
         ZRANGEBYSCORE z 2 inf LIMIT 1 2
         ZRANGEBYSCORE z 2 inf LIMIT 1 -1
         ZRANGEBYSCORE z 2 inf LIMIT -1 2
         ZRANGEBYSCORE z 2 inf LIMIT 0 0
         ZRANGEBYSCORE z 2 inf LIMIT 100 1
         ZRANGEBYSCORE z 2 inf WITHSCORES LIMIT 1 2
         ZREVRANGEBYSCORE z +inf -inf
         ZREVRANGEBYSCORE z 4 2 WITHSCORES
         ZREVRANGEBYSCORE z (4 (2
         ZREVRANGEBYSCORE z 2 4
         ZREVRANGEBYSCORE z inf 2 LIMIT 1 3
         ZRANGE z 2 4 BYSCORE
         ZRANGE z 4 2 BYSCORE REV WITHSCORES
         ZRANGE z (1 +inf BYSCORE LIMIT 2 2
         ZRANGE z +inf (1 BYSCORE REV LIMIT 2 2
         ZRANGEBYSCORE z a 2
         ZRANGEBYSCORE z 1 b
         ZRANGEBYSCORE z ( 2
         ZRANGEBYSCORE z 1e400 1
         ZRANGEBYSCORE z -1e400 0x1
         ZRANGEBYSCORE z 1 ((1
         ZRANGEBYSCORE z nan 2
         ZRANGEBYSCORE z (nan 2
         ZRANGEBYSCORE z 1 2 LIMIT a 1
         ZRANGEBYSCORE z 1 2 LIMIT 1
         ZRANGEBYSCORE z 1 2 REV
         ZRANGEBYSCORE z 1 2 BYLEX
         ZRANGEBYSCORE nokey 1 2
         ZCOUNT z -inf +inf
         ZCOUNT z (2 4
         ZCOUNT z 4 2
         ZCOUNT z x 2
         ZCOUNT nokey 0 1",
    );
}

#[test]
fn zrange_by_lex() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z 0 a 0 b 0 c 0 d 0 e 0 foo 0 zap
         ZRANGEBYLEX z - +
         ZRANGEBYLEX z [b [d
         ZRANGEBYLEX z (b (d
         ZRANGEBYLEX z (b +
         ZRANGEBYLEX z - (c
         ZRANGEBYLEX z [f (z
         ZRANGEBYLEX z [d [b
         ZRANGEBYLEX z (c (c
         ZRANGEBYLEX z + -
         ZRANGEBYLEX z - + LIMIT 2 3
         ZRANGEBYLEX z - + LIMIT -1 3
         ZRANGEBYLEX z - + LIMIT 5 -1
         ZREVRANGEBYLEX z + -
         ZREVRANGEBYLEX z [d [b
         ZREVRANGEBYLEX z (d - LIMIT 1 2
         ZRANGE z [b [d BYLEX
         ZRANGE z [d [b BYLEX REV
         ZRANGE z - + BYLEX LIMIT 1 1
         ZRANGEBYLEX z b [d
         ZRANGEBYLEX z [b d
         ZRANGEBYLEX z -- +
         ZRANGEBYLEX z - ++
         ZRANGEBYLEX z - + WITHSCORES
         ZRANGE z - + BYLEX WITHSCORES
         ZRANGE z - + BYLEX BYSCORE
         ZLEXCOUNT z - +
         ZLEXCOUNT z [b (e
         ZLEXCOUNT z x +
         ZLEXCOUNT nokey - +",
    );
}

#[test]
fn zrangestore_and_zremrange() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z 1 a 2 b 3 c 4 d 5 e
         ZRANGESTORE dst z 1 3
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst z 4 2 BYSCORE REV LIMIT 0 2
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst z [b [c BYLEX
         ZRANGE dst 0 -1 WITHSCORES
         ZRANGESTORE dst z 10 20
         EXISTS dst
         SET dst x
         ZRANGESTORE dst nokey 0 -1
         EXISTS dst
         SET dst x
         ZRANGESTORE dst z 0 0
         TYPE dst
         ZRANGESTORE dst z 0 -1 WITHSCORES
         ZRANGESTORE dst z 0 -1 LIMIT 0 1
         ZRANGESTORE dst z 0
         ZREMRANGEBYRANK z 0 0
         ZREMRANGEBYRANK z -1 -1
         ZREMRANGEBYRANK z 5 10
         ZREMRANGEBYRANK z 2 1
         ZRANGE z 0 -1
         ZREMRANGEBYRANK z a 1
         ZREMRANGEBYRANK nokey 0 1
         ZADD z 1 a 5 e 6 f
         ZREMRANGEBYSCORE z (1 3
         ZREMRANGEBYSCORE z 10 20
         ZREMRANGEBYSCORE z x 1
         ZRANGE z 0 -1 WITHSCORES
         ZREMRANGEBYSCORE z -inf +inf
         EXISTS z
         ZADD l 0 a 0 b 0 c 0 d
         ZREMRANGEBYLEX l (a [c
         ZREMRANGEBYLEX l x +
         ZRANGE l 0 -1
         ZREMRANGEBYLEX l - +
         EXISTS l
         ZREMRANGEBYLEX nokey - +",
    );
}

#[test]
fn pops() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f
         ZPOPMIN z
         ZPOPMAX z
         ZPOPMIN z 2
         ZPOPMAX z 0
         ZPOPMIN z -1
         ZPOPMIN z x
         ZPOPMIN z 1 2
         ZPOPMAX z 10
         EXISTS z
         ZPOPMIN z
         ZPOPMIN nokey 3
         ZADD z 1 a 2 b 3 c 4 d
         ZMPOP 1 z MIN
         ZMPOP 2 nokey z MAX COUNT 2
         ZMPOP 1 nokey MIN
         ZMPOP 0 z MIN
         ZMPOP x z MIN
         ZMPOP 1 z
         ZMPOP 1 z LEFT
         ZMPOP 1 z MIN COUNT 0
         ZMPOP 1 z MIN COUNT
         ZMPOP 1 z MIN COUNT 1 COUNT 1
         ZMPOP 5 z MIN
         ZMPOP 1 z MAX COUNT 10
         EXISTS z
         BZPOPMIN nokey z 0.01
         ZADD z 1 a 2 b
         BZPOPMIN nokey z 0
         BZPOPMAX z 0
         BZPOPMIN z -1
         BZPOPMIN z abc
         ZADD z 1 a 2 b 3 c
         BZMPOP 1 1 z MIN COUNT 2
         BZMPOP 1 1 z MAX
         BZMPOP -1 1 z MAX
         BZMPOP 1 0 z MAX",
    );
    resp3(&mut d);
    d.check_script(
        "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f
         ZPOPMIN z
         ZPOPMIN z 2
         ZPOPMAX z 1
         ZPOPMIN nokey
         ZPOPMIN nokey 2
         ZMPOP 1 z MIN COUNT 2
         ZMPOP 1 nokey MIN
         ZADD z 1 a 2 b 3 c
         BZPOPMAX z 0
         BZMPOP 0 1 z MIN",
    );
}

/// Inside MULTI a blocking pop with nothing to pop answers null at once (runs once
/// the transaction family has MULTI).
#[test]
fn blocking_pops_inside_multi() {
    let mut d = Differential::new();
    if matches!(d.a.cmd(&["MULTI"]), Frame::Error(_)) {
        return;
    }
    d.b.cmd(&["MULTI"]);
    d.check_script(
        "BZPOPMIN nokey 0
         BZMPOP 0 1 nokey MIN
         ZADD z 1 a
         BZPOPMAX z 0
         EXEC",
    );
    resp3(&mut d);
    d.check_script(
        "MULTI
         BZPOPMIN nokey 0
         BZMPOP 0 1 nokey MIN
         EXEC",
    );
}

#[test]
fn resp3_withscores_forms() {
    let mut d = Differential::new();
    d.check_script("ZADD z 1 a 2.5 b inf c");
    resp3(&mut d);
    d.check_script(
        "ZRANGE z 0 -1 WITHSCORES
         ZRANGE z 0 -1
         ZREVRANGE z 0 -1 WITHSCORES
         ZRANGEBYSCORE z -inf +inf WITHSCORES
         ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 0 2
         ZRANGE nokey 0 -1 WITHSCORES
         ZRANDMEMBER z 5 WITHSCORES
         ZRANDMEMBER z 0 WITHSCORES
         ZRANDMEMBER nokey
         ZRANDMEMBER nokey 3
         ZSCAN z 0
         ZUNION 1 z WITHSCORES
         ZINTER 2 z z WITHSCORES
         ZDIFF 1 z WITHSCORES
         ZRANGESTORE d z 0 -1
         ZINCRBY z 1 a
         ZINCRBY z -inf c",
    );
}

#[test]
fn zrandmember_and_zscan() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD z 1 a 2 b 3 c
         ZRANDMEMBER z 3
         ZRANDMEMBER z 10 WITHSCORES
         ZRANDMEMBER z 0
         ZRANDMEMBER nokey
         ZRANDMEMBER nokey 5
         ZRANDMEMBER z 1 2
         ZRANDMEMBER z 1 foo
         ZRANDMEMBER z x
         ZRANDMEMBER z -9223372036854775808
         ZRANDMEMBER z 9223372036854775807 WITHSCORES
         ZRANDMEMBER z -9223372036854775807 WITHSCORES
         ZSCAN z 0
         ZSCAN z 0 MATCH a*
         ZSCAN z 0 MATCH * COUNT 1
         ZSCAN z 0 COUNT 0
         ZSCAN z 0 COUNT x
         ZSCAN z 0 MATCH
         ZSCAN z 0 FOO bar
         ZSCAN z x
         ZSCAN nokey 0
         ZSCAN nokey 0 COUNT 0",
    );
    for args in [
        &["ZRANDMEMBER", "z", "2"][..],
        &["ZRANDMEMBER", "z", "-5"],
        &["ZRANDMEMBER", "z", "-5", "WITHSCORES"],
        &["ZRANDMEMBER", "z", "1"],
        &["ZRANDMEMBER", "z"],
    ] {
        let a = d.a.cmd(args);
        let b = d.b.cmd(args);
        assert_eq!(shape(&a), shape(&b), "{args:?}");
    }
}

/// The frame with every bulk string blanked: for random replies, compares the form.
fn shape(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) if b.len() == 1 => "bulk".into(),
        Frame::Array(v) => format!("[{}]", v.iter().map(shape).collect::<Vec<_>>().join(",")),
        other => format!("{other:?}"),
    }
}

#[test]
fn set_operations() {
    let mut d = Differential::new();
    d.check_script(
        "ZADD a 1 x 2 y 3 z
         ZADD b 10 y 20 z 30 w
         ZUNIONSTORE u 2 a b
         ZRANGE u 0 -1 WITHSCORES
         ZUNIONSTORE u 2 a b WEIGHTS 2 0.5
         ZRANGE u 0 -1 WITHSCORES
         ZUNIONSTORE u 2 a b AGGREGATE MIN
         ZRANGE u 0 -1 WITHSCORES
         ZUNIONSTORE u 2 a b AGGREGATE MAX WEIGHTS 1 -1
         ZRANGE u 0 -1 WITHSCORES
         ZINTERSTORE i 2 a b
         ZRANGE i 0 -1 WITHSCORES
         ZINTERSTORE i 2 a nokey
         EXISTS i
         ZDIFFSTORE df 2 a b
         ZRANGE df 0 -1 WITHSCORES
         ZDIFFSTORE df 1 nokey
         ZUNION 2 a b WITHSCORES
         ZUNION 2 a b
         ZINTER 2 a b WITHSCORES
         ZDIFF 2 b a WITHSCORES
         ZINTERCARD 2 a b
         ZINTERCARD 2 a b LIMIT 1
         ZINTERCARD 2 a b LIMIT 0
         ZINTERCARD 2 a b LIMIT -1
         ZINTERCARD 2 a b LIMIT x
         ZINTERCARD 2 a b WITHSCORES
         ZINTERCARD 0 a
         ZUNION 0 a
         ZUNIONSTORE u 0 a
         ZUNION 3 a b
         ZUNION x a
         ZUNION 2 a b WEIGHTS 1
         ZUNION 2 a b WEIGHTS 1 x
         ZUNION 2 a b AGGREGATE avg
         ZUNION 2 a b AGGREGATE
         ZUNIONSTORE u 2 a b WITHSCORES
         ZDIFF 2 a b WEIGHTS 1 2
         ZDIFF 2 a b AGGREGATE SUM
         ZADD inf1 inf x
         ZADD inf2 -inf x
         ZUNION 2 inf1 inf2 WITHSCORES
         ZINTER 2 inf1 inf2 WITHSCORES
         ZUNION 1 inf1 WEIGHTS 0 WITHSCORES
         ZADD zero 0 q
         ZUNION 1 zero WEIGHTS -1 WITHSCORES
         ZUNIONSTORE a 2 a a
         ZRANGE a 0 -1 WITHSCORES",
    );
}

/// Plain sets count as sorted sets scored 1 (runs once the set family has SADD).
#[test]
fn set_operations_accept_plain_sets() {
    let mut d = Differential::new();
    if matches!(d.a.cmd(&["SADD", "s", "y", "w", "q"]), Frame::Error(_)) {
        return;
    }
    d.b.cmd(&["SADD", "s", "y", "w", "q"]);
    d.check_script(
        "ZADD a 1 x 2 y 3 z
         ZADD b 10 y 20 z 30 w
         ZUNIONSTORE u 3 a b s
         ZRANGE u 0 -1 WITHSCORES
         ZINTERSTORE i 3 a b s AGGREGATE MAX
         ZRANGE i 0 -1 WITHSCORES
         ZINTER 2 a s WITHSCORES
         ZDIFF 2 b s
         ZINTERCARD 2 s b
         ZRANGE s 0 -1",
    );
}

#[test]
fn large_sets_use_skiplist_behaviour() {
    let mut d = Differential::new();
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..300 {
        args.push(format!("{}", (i * 37) % 101));
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    d.check(&refs);
    d.check_script(
        "ZCARD big
         ZRANGE big 0 9 WITHSCORES
         ZRANGE big 100 120
         ZREVRANGE big 5 15 WITHSCORES
         ZRANK big m150
         ZREVRANK big m150
         ZRANGEBYSCORE big 50 (52 WITHSCORES
         ZREVRANGEBYSCORE big 60 50 LIMIT 3 5
         ZCOUNT big 10 20
         ZREMRANGEBYRANK big 10 40
         ZREMRANGEBYSCORE big 90 95
         ZRANGE big 0 -1 WITHSCORES
         ZPOPMIN big 5
         ZPOPMAX big 5
         ZADD big -0 negzero
         ZSCORE big negzero
         ZINCRBY big -0 zeroinc
         ZCARD big
         ZRANK big m299",
    );
    // A new key sized past the listpack limit by the request itself.
    let mut args: Vec<String> = vec!["ZADD".into(), "dup".into()];
    for i in 0..200 {
        args.push("-0".into());
        args.push(format!("m{}", i % 3));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    d.check(&refs);
    d.check(&["ZRANGE", "dup", "0", "-1", "WITHSCORES"]);
    let mut long = vec!["ZADD".to_string(), "lv".into(), "1".into()];
    long.push("x".repeat(100));
    let refs: Vec<&str> = long.iter().map(String::as_str).collect();
    d.check(&refs);
    d.check_script(
        "ZADD lv -0 z
         ZSCORE lv z
         ZRANGE lv 0 -1 WITHSCORES",
    );
}

#[test]
fn bzpopmin_is_served_by_zadd_from_another_client() {
    let mut d = Differential::new();
    let mut wa = d.ours.conn();
    let mut wb = d.redis.conn();
    wa.send(&["BZPOPMIN", "k1", "k2", "0"]);
    wb.send(&["BZPOPMIN", "k1", "k2", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    d.check(&["ZADD", "k2", "5", "m", "3", "n"]);
    assert_eq!(show(&wa.read_raw()), show(&wb.read_raw()));
    d.check(&["ZRANGE", "k2", "0", "-1", "WITHSCORES"]);

    // BZMPOP waiting on an existing-but-wrong key, then a ZADD to a fresh key.
    wa.send(&["BZMPOP", "0", "2", "k3", "k4", "MAX", "COUNT", "5"]);
    wb.send(&["BZMPOP", "0", "2", "k3", "k4", "MAX", "COUNT", "5"]);
    std::thread::sleep(Duration::from_millis(100));
    d.check(&["ZADD", "k4", "1", "a", "2", "b"]);
    assert_eq!(show(&wa.read_raw()), show(&wb.read_raw()));
    d.check(&["EXISTS", "k4"]);

    // RESP3 waiter.
    wa.cmd(&["HELLO", "3"]);
    wb.cmd(&["HELLO", "3"]);
    wa.send(&["BZPOPMAX", "k5", "0"]);
    wb.send(&["BZPOPMAX", "k5", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    d.check(&["ZADD", "k5", "1.5", "a", "2.5", "b"]);
    assert_eq!(show(&wa.read_raw()), show(&wb.read_raw()));
}

#[test]
fn bzpopmin_times_out() {
    let mut d = Differential::new();
    let start = Instant::now();
    d.check(&["BZPOPMIN", "k", "0.2"]);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "both waited: {waited:?}"
    );
    resp3(&mut d);
    d.check(&["BZPOPMAX", "k", "0.1"]);
    d.check(&["BZMPOP", "0.1", "1", "k", "MIN"]);
}

/// Scans `key` to the end with COUNT 7 and returns the sorted (member, score) pairs.
fn scan_all(c: &mut Conn, key: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut cursor = "0".to_string();
    let mut seen = std::collections::BTreeMap::new();
    loop {
        let Frame::Array(parts) = c.cmd(&["ZSCAN", key, &cursor, "COUNT", "7"]) else {
            panic!("ZSCAN reply is an array");
        };
        let (Frame::Bulk(next), Frame::Array(items)) = (&parts[0], &parts[1]) else {
            panic!("ZSCAN reply shape");
        };
        for pair in items.chunks(2) {
            if let (Frame::Bulk(m), Frame::Bulk(s)) = (&pair[0], &pair[1]) {
                seen.insert(m.clone(), s.clone());
            }
        }
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            return seen.into_iter().collect();
        }
    }
}

#[test]
fn zscan_of_a_large_set_returns_every_member() {
    let mut d = Differential::new();
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..500 {
        args.push(format!("{}.5", i % 50));
        args.push(format!("member:{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    d.check(&refs);
    let ours = scan_all(&mut d.a, "big");
    assert_eq!(ours.len(), 500);
    assert_eq!(ours, scan_all(&mut d.b, "big"));
    let mut ours_m =
        d.a.cmd(&["ZSCAN", "big", "0", "MATCH", "member:1?", "COUNT", "1000"]);
    let mut redis_m =
        d.b.cmd(&["ZSCAN", "big", "0", "MATCH", "member:1?", "COUNT", "1000"]);
    if let (Frame::Array(a), Frame::Array(b)) = (&mut ours_m, &mut redis_m) {
        a[1] = sorted_pairs(a[1].clone());
        b[1] = sorted_pairs(b[1].clone());
    }
    assert_eq!(ours_m, redis_m);
}

/// A flat member/score array with its pairs sorted by member.
fn sorted_pairs(f: Frame) -> Frame {
    let Frame::Array(v) = f else { return f };
    let mut pairs: Vec<Vec<Frame>> = v.chunks(2).map(<[Frame]>::to_vec).collect();
    pairs.sort_by_key(|p| format!("{:?}", p[0]));
    Frame::Array(pairs.into_iter().flatten().collect())
}

#[test]
fn blocked_pops_are_served_first_come_first_served() {
    let mut d = Differential::new();
    let mut first = (d.ours.conn(), d.redis.conn());
    let mut second = (d.ours.conn(), d.redis.conn());
    for c in [&mut first.0, &mut first.1] {
        c.send(&["BZPOPMIN", "q", "0"]);
    }
    std::thread::sleep(Duration::from_millis(100));
    for c in [&mut second.0, &mut second.1] {
        c.send(&["BZPOPMAX", "q", "0"]);
    }
    std::thread::sleep(Duration::from_millis(100));
    d.check(&["ZADD", "q", "1", "a"]);
    assert_eq!(show(&first.0.read_raw()), show(&first.1.read_raw()));
    d.check(&["EXISTS", "q"]);
    d.check(&["ZADD", "q", "1", "a", "2", "b"]);
    assert_eq!(show(&second.0.read_raw()), show(&second.1.read_raw()));
    d.check(&["ZRANGE", "q", "0", "-1", "WITHSCORES"]);
}

#[test]
fn listpack_limits_from_the_config_decide_negative_zero_and_zscan() {
    // (A skiplist-encoded set scans in dict order, which is not comparable.)
    let mut d = Differential::with_config(&["--zset-max-listpack-entries", "2"]);
    d.check_script(
        "ZADD z -0 a
         ZADD z 1 b 2 c
         ZADD z -0 d
         ZRANGE z 0 -1 WITHSCORES
         ZADD y 1 a 2 b
         ZSCAN y 0 COUNT 1",
    );
}
