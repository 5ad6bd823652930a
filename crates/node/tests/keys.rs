//! Generic key commands against the reference server: expiry and TTLs (including real
//! time and active expiry), renaming, copying, moving, iteration, flushing, OBJECT.

mod common;
use common::*;

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// A SCAN reply split into cursor and sorted keys.
fn scan_reply(f: Frame) -> (Vec<u8>, Vec<Frame>) {
    let Frame::Array(mut parts) = f else {
        panic!("not an array: {f:?}")
    };
    let Frame::Array(mut keys) = parts.pop().unwrap() else {
        panic!("keys not an array")
    };
    keys.sort_by_key(|k| format!("{k:?}"));
    let Frame::Bulk(cursor) = parts.pop().unwrap() else {
        panic!("cursor not a bulk")
    };
    (cursor, keys)
}

#[test]
fn expire_options_and_errors_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "SET k v
         EXPIRE k 100 NX XX
         EXPIRE k 100 nx gt
         EXPIRE k 100 NX LT
         EXPIRE k 100 GT LT
         EXPIRE k 100 foo
         EXPIRE k abc foo
         EXPIRE k abc
         EXPIRE k 1.5
         EXPIRE k 100 XX
         EXPIRE k 100 GT
         TTL k
         EXPIRE k 100 LT
         TTL k
         EXPIRE k 200 NX
         EXPIRE k 200 XX
         TTL k
         EXPIRE k 100 GT
         EXPIRE k 300 GT
         TTL k
         EXPIRE k 400 LT
         EXPIRE k 150 lt
         TTL k
         # Not greater (149 s < the 150 s just set; an equal time would race the clock).
         EXPIRE k 149 XX GT
         EXPIRE k 1000 xx gt
         TTL k
         EXPIRE nokey 100
         EXPIRE nokey 100 NX
         TTL nokey
         PTTL nokey
         EXPIRETIME nokey
         PEXPIRETIME nokey
         SET p v
         TTL p
         PTTL p
         EXPIRETIME p
         PEXPIRETIME p
         EXPIRE k 9223372036854775807
         EXPIRE k -9223372036854775808
         PEXPIRE k 9223372036854775807
         EXPIREAT k 9223372036854775807
         EXPIRE k 9223372036854775
         PEXPIREAT k 9223372036854775807
         PEXPIRETIME k
         EXPIRETIME k
         EXPIREAT k 4000000000
         EXPIRETIME k
         PEXPIRETIME k
         PEXPIREAT k 4000000000123
         EXPIRETIME k
         PEXPIRETIME k
         PEXPIREAT k 4000000000499
         EXPIRETIME k
         PEXPIREAT k 4000000000500
         EXPIRETIME k
         PERSIST k
         PERSIST k
         TTL k
         PERSIST nokey
         EXPIRE
         TTL
         TTL a b
         PERSIST
         SET gone v
         EXPIRE gone 0
         EXISTS gone
         SET gone v
         PEXPIRE gone -5
         EXISTS gone
         SET gone v
         EXPIREAT gone 1
         EXISTS gone
         SET gone v
         PEXPIREAT gone 100 LT
         EXISTS gone
         SET gone v EX 100
         EXPIRE gone -1 GT
         EXPIRE gone -1 LT
         EXISTS gone
         SET s v EX 100
         SET s w
         TTL s
         SET s v EX 100
         INCR s2
         EXPIRE s2 100
         INCR s2
         TTL s2",
    );
}

#[test]
fn ttl_counts_down_and_keys_expire_in_real_time() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "k", "v", "PX", "400"]), ok());
    let Frame::Integer(pttl) = c.cmd(&["PTTL", "k"]) else {
        panic!("PTTL not an integer")
    };
    assert!((300..=400).contains(&pttl), "PTTL {pttl}");
    assert_eq!(c.cmd(&["TTL", "k"]), int(0));
    // 1800 ms rounds to 2 s for up to 299 ms of delay.
    assert_eq!(c.cmd(&["PEXPIRE", "k", "1800"]), int(1));
    assert_eq!(c.cmd(&["TTL", "k"]), int(2));
    assert_eq!(c.cmd(&["PEXPIRE", "k", "300"]), int(1));
    let Frame::Integer(at) = c.cmd(&["PEXPIRETIME", "k"]) else {
        panic!("PEXPIRETIME not an integer")
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now..=now + 300).contains(&at), "{at} vs {now}");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.cmd(&["GET", "k"]), Frame::Null);
    assert_eq!(c.cmd(&["EXISTS", "k"]), int(0));
    assert_eq!(c.cmd(&["TTL", "k"]), int(-2));
    assert_eq!(c.cmd(&["PTTL", "k"]), int(-2));
}

#[test]
fn expired_keys_disappear_without_being_touched() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    for i in 0..200 {
        assert_eq!(c.cmd(&["SET", &format!("t{i}"), "v", "PX", "100"]), ok());
    }
    for i in 0..5 {
        assert_eq!(c.cmd(&["SET", &format!("p{i}"), "v"]), ok());
    }
    assert_eq!(c.cmd(&["DBSIZE"]), int(205));
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if c.cmd(&["DBSIZE"]) == int(5) {
            break;
        }
        assert!(Instant::now() < deadline, "active expiry did not run");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.cmd(&["EXISTS", "p0", "p4"]), int(2));
}

#[test]
fn rename_copy_move_swapdb_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "SET a 1
         SET b 2
         EXPIRE a 100
         RENAME a c
         TTL c
         EXISTS a
         GET c
         RENAME c b
         GET b
         TTL b
         SET withttl 1 EX 100
         SET nottl 1
         RENAME nottl withttl
         TTL withttl
         RENAME nokey x
         RENAMENX nokey x
         RENAME b b
         RENAMENX b b
         SET d 4
         RENAMENX b d
         RENAMENX b e
         GET e
         TTL e
         RENAME e
         COPY e f
         TTL f
         GET f
         COPY e f
         COPY e f REPLACE
         COPY e e
         COPY e e DB 0
         COPY e f DB x
         COPY e f DB
         COPY e f DB 99
         COPY e f DB 2147483648
         COPY e f foo
         COPY nokey f
         COPY nokey f REPLACE
         SET persistent 1
         COPY persistent f REPLACE
         TTL f
         COPY e g DB 1
         SELECT 1
         GET g
         TTL g
         COPY g e DB 0
         COPY g e DB 0 REPLACE
         SELECT 0
         MOVE e x
         MOVE e 99
         MOVE e 0
         MOVE e 2147483648
         MOVE nokey 1
         MOVE e 1
         MOVE f 1
         EXISTS f
         SELECT 1
         GET f
         TTL f
         SELECT 0
         SET s0 zero
         SELECT 2
         SET s2 two
         SWAPDB 0 x
         SWAPDB x 0
         SWAPDB 0 99
         SWAPDB -1 0
         SWAPDB 0 2147483648
         SWAPDB 2 2
         SWAPDB 0 2
         GET s0
         GET s2
         DBSIZE
         SELECT 0
         GET s2
         GET s0
         SET dup 1
         SELECT 1
         SET dup 2
         SELECT 0
         MOVE dup 1
         GET dup
         MOVE",
    );
}

#[test]
fn del_exists_touch_type_randomkey_dbsize_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "DBSIZE
         RANDOMKEY
         SET a 1
         RANDOMKEY
         SET b 2
         DEL a a b c
         EXISTS a b
         SET a 1
         EXISTS a a a
         TOUCH a b a
         TOUCH
         TYPE a
         TYPE nokey
         DBSIZE
         UNLINK a
         DBSIZE",
    );
}

#[test]
fn keys_and_scan_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "MSET one 1 two 2 three 3 four 4 hello 5 hallo 6 hxllo 7 h*llo 8
         SCAN 0 COUNT 0
         SCAN 0 COUNT -1
         SCAN 0 COUNT x
         SCAN 0 MATCH
         SCAN 0 TYPE
         SCAN 0 foo bar
         SCAN x
         SCAN 1x
         SCAN 18446744073709551616
         KEYS
         SCAN",
    );
    d.check(&["SCAN", " 1"]);
    for pattern in [
        "*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h\\*llo", "t*", "nomatch",
    ] {
        d.check_unordered(&["KEYS", pattern]);
    }
    let scans: &[&[&str]] = &[
        &["SCAN", "0"],
        &["SCAN", "0", "MATCH", "h*"],
        &["SCAN", "0", "MATCH", "*", "COUNT", "100"],
        &["SCAN", "0", "TYPE", "string"],
        &["SCAN", "0", "TYPE", "STRING", "MATCH", "t*"],
        &["SCAN", "0", "TYPE", "list"],
        &["SCAN", "0", "TYPE", "nosuchtype"],
        &["SCAN", "", "MATCH", "o*"],
    ];
    for args in scans {
        assert_eq!(
            scan_reply(d.a.cmd(args)),
            scan_reply(d.b.cmd(args)),
            "{args:?}"
        );
    }
}

#[test]
fn keys_skips_expired_keys() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.cmd(&["SET", "live", "1"]);
    c.cmd(&["SET", "dying", "1", "PX", "50"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(c.cmd(&["KEYS", "*"]), Frame::Array(vec![bulk("live")]));
    let (_, keys) = scan_reply(c.cmd(&["SCAN", "0", "COUNT", "100"]));
    assert_eq!(keys, vec![bulk("live")]);
}

/// Every key present for the whole scan is returned, while another client adds and
/// deletes keys between the SCAN calls.
#[test]
fn scan_returns_every_stable_key_under_concurrent_changes() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut writer = s.conn();
    for i in 0..1000 {
        c.cmd(&["SET", &format!("stable:{i}"), "v"]);
        c.cmd(&["SET", &format!("volatile:{i}"), "v"]);
    }
    let mut seen = HashSet::new();
    let mut cursor = b"0".to_vec();
    let mut round = 0;
    loop {
        let cur = String::from_utf8(cursor.clone()).unwrap();
        let (next, keys) = scan_reply(c.cmd(&["SCAN", &cur, "COUNT", "20"]));
        for k in keys {
            let Frame::Bulk(k) = k else { panic!() };
            seen.insert(String::from_utf8(k).unwrap());
        }
        writer.cmd(&["DEL", &format!("volatile:{round}")]);
        writer.cmd(&["SET", &format!("new:{round}"), "v"]);
        round += 1;
        if next == b"0" {
            break;
        }
        cursor = next;
        assert!(round < 10_000, "scan does not terminate");
    }
    for i in 0..1000 {
        assert!(seen.contains(&format!("stable:{i}")), "stable:{i} missing");
    }
}

#[test]
fn flushdb_and_flushall_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "SET a 1
         SELECT 1
         SET b 1
         FLUSHDB
         DBSIZE
         SET b 1
         FLUSHDB ASYNC
         SET b 1
         FLUSHDB sync
         FLUSHDB x
         FLUSHDB SYNC x
         SET b 1
         SELECT 0
         DBSIZE
         FLUSHALL foo
         FLUSHALL
         DBSIZE
         SELECT 1
         DBSIZE
         SET c 1
         FLUSHALL ASYNC
         DBSIZE
         FLUSHALL SYNC",
    );
}

#[test]
fn object_matches_redis() {
    let mut d = Differential::new();
    d.check_script(
        "SET int 12345
         SET neg -5
         SET small 7
         SET notint 0123
         SET big 123456789012345678901
         SET short hello
         OBJECT ENCODING int
         OBJECT ENCODING neg
         OBJECT ENCODING small
         OBJECT ENCODING notint
         OBJECT ENCODING big
         OBJECT ENCODING short
         OBJECT ENCODING nokey
         OBJECT REFCOUNT small
         OBJECT REFCOUNT int
         OBJECT REFCOUNT short
         OBJECT REFCOUNT nokey
         OBJECT IDLETIME short
         OBJECT IDLETIME nokey
         OBJECT FREQ short
         OBJECT FREQ nokey
         OBJECT HELP
         object help
         OBJECT HELP x
         OBJECT foo
         OBJECT ENCODING
         OBJECT ENCODING a b
         OBJECT",
    );
    d.check(&["SET", "s44", &"x".repeat(44)]);
    d.check(&["SET", "s45", &"x".repeat(45)]);
    d.check(&["OBJECT", "ENCODING", "s44"]);
    d.check(&["OBJECT", "ENCODING", "s45"]);
}

#[test]
fn object_freq_and_idletime_follow_the_lfu_policy() {
    let mut d = Differential::with_config(&["--maxmemory-policy", "allkeys-lfu"]);
    d.check_script(
        "SET k v
         OBJECT FREQ k
         OBJECT IDLETIME k
         OBJECT FREQ nokey",
    );
}

#[test]
fn resp3_forms_match_redis() {
    let mut d = Differential::new();
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
    d.check_script(
        "RANDOMKEY
         OBJECT ENCODING nokey
         TTL nokey
         SET k v
         EXPIRE k 100
         TTL k
         SCAN 0
         KEYS *
         OBJECT HELP
         COPY k k2
         RENAMENX k k2",
    );
}

#[test]
fn swapdb_and_expiry_seen_from_other_clients_match_redis() {
    let d = Differential::new();
    check_steps(
        &d,
        &[
            (0, "SET k v PX 200"),
            (1, "SELECT 1"),
            (1, "SET k other"),
            (1, "SET only1 x"),
            (0, "SWAPDB 0 1"),
            (0, "GET k"),
            (1, "GET k"),
            (1, "TTL k"),
            (0, "EXISTS only1"),
            (9, "400"),
            (1, "EXISTS k"),
            (0, "EXISTS k"),
            (0, "SET m v EX 100"),
            (0, "MOVE m 1"),
            (1, "TTL m"),
            (2, "SELECT 1"),
            (2, "RENAME m m2"),
            (1, "TTL m2"),
            (1, "DBSIZE"),
        ],
    );
}
