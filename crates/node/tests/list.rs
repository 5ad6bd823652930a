//! List commands against the reference redis-server: every command, option and error,
//! RESP3 forms, and the blocking pops served, timed out and abandoned across clients.

mod common;
use std::time::Duration;

use common::*;

#[test]
fn pushes_pops_and_lengths() {
    let mut d = Differential::new();
    d.check_script(
        "LPUSH l a b c
         RPUSH l d e
         LRANGE l 0 -1
         LLEN l
         LLEN nosuch
         LPUSHX nosuch a
         RPUSHX nosuch a
         EXISTS nosuch
         LPUSHX l x y
         RPUSHX l z
         LRANGE l 0 -1
         LPOP l
         RPOP l
         LPOP l 2
         RPOP l 2
         LPOP l 0
         RPOP l 0
         LRANGE l 0 -1
         LPOP l 10
         EXISTS l
         LPOP l
         RPOP l
         LPOP l 1
         RPOP l 0
         LPOP l -1
         LPOP l x
         LPOP l 1 2
         RPOP l 1 2
         RPUSH n 1 2 3 100 -5 12345678901234567890
         LRANGE n 0 -1
         RPOP n 100
         EXISTS n
         LPUSH
         LPUSH l
         LLEN",
    );
}

#[test]
fn ranges_indexes_and_sets() {
    let mut d = Differential::new();
    d.check_script(
        "RPUSH l a b c d e f
         LRANGE l 0 2
         LRANGE l -3 -1
         LRANGE l -100 100
         LRANGE l 4 2
         LRANGE l 6 10
         LRANGE l -1 -3
         LRANGE l 0 -7
         LRANGE l x 1
         LRANGE l 1 y
         LRANGE nosuch 0 -1
         LRANGE nosuch x 1
         LINDEX l 0
         LINDEX l -1
         LINDEX l -6
         LINDEX l -7
         LINDEX l 6
         LINDEX l x
         LINDEX nosuch x
         LINDEX nosuch 0
         LSET l 0 A
         LSET l -1 F
         LSET l 6 x
         LSET l -7 x
         LSET l x y
         LSET nosuch 0 x
         LSET nosuch x y
         LRANGE l 0 -1
         LTRIM l 1 -2
         LRANGE l 0 -1
         LTRIM l -100 100
         LRANGE l 0 -1
         LTRIM l 1 1
         LRANGE l 0 -1
         LTRIM l 5 10
         EXISTS l
         LTRIM nosuch 0 1
         RPUSH t 1 2 3
         LTRIM t 2 1
         EXISTS t
         RPUSH t 1 2 3
         LTRIM t x 1
         LTRIM t 0 -100
         EXISTS t",
    );
}

#[test]
fn removes_and_inserts() {
    let mut d = Differential::new();
    d.check_script(
        "RPUSH l a b a c a d a
         LREM l 2 a
         LRANGE l 0 -1
         LREM l -1 a
         LRANGE l 0 -1
         RPUSH l a a
         LREM l -2 a
         LRANGE l 0 -1
         LREM l 0 a
         LRANGE l 0 -1
         LREM l 0 zz
         LREM l x a
         LREM nosuch 1 a
         LREM l 0 b
         LREM l 0 c
         LREM l 0 d
         EXISTS l
         RPUSH l a b c
         LINSERT l BEFORE b X
         LINSERT l after c Y
         LINSERT l After a Z
         LINSERT l before nosuch Q
         LRANGE l 0 -1
         LINSERT l middle a Q
         LINSERT nosuch before a Q
         LINSERT nosuch middle a Q
         EXISTS nosuch",
    );
}

#[test]
fn lpos_options() {
    let mut d = Differential::new();
    d.check_script(
        "RPUSH l a b c 1 2 3 c c
         LPOS l c
         LPOS l c RANK 2
         LPOS l c RANK -1
         LPOS l c RANK -3
         LPOS l c RANK 4
         LPOS l c COUNT 0
         LPOS l c COUNT 2
         LPOS l c RANK 2 COUNT 0
         LPOS l c RANK -1 COUNT 2
         LPOS l c MAXLEN 2
         LPOS l c MAXLEN 3
         LPOS l c COUNT 0 MAXLEN 7
         LPOS l c RANK -1 MAXLEN 1
         LPOS l c RANK -2 MAXLEN 1
         LPOS l c RANK -9223372036854775807
         LPOS l c RANK 9223372036854775807
         LPOS l c RANK -9223372036854775808
         LPOS l c RANK -9223372036854775808 COUNT 2
         LPOS l zz
         LPOS l zz COUNT 0
         LPOS nosuch a
         LPOS nosuch a COUNT 1
         LPOS nosuch a RANK 0
         LPOS l c RANK 0
         LPOS l c COUNT -1
         LPOS l c MAXLEN -1
         LPOS l c RANK x
         LPOS l c RANK
         LPOS l c FOO 1
         LPOS l c FOO x
         LPOS l c COUNT 1 FOO
         LPOS l",
    );
}

#[test]
fn moves_and_multi_pops() {
    let mut d = Differential::new();
    d.check_script(
        "RPUSH src a b c
         LMOVE src dst LEFT RIGHT
         LMOVE src dst right left
         LRANGE src 0 -1
         LRANGE dst 0 -1
         LMOVE src src LEFT RIGHT
         LMOVE src dst LEFT LEFT
         EXISTS src
         LMOVE src dst LEFT LEFT
         LMOVE dst dst RIGHT LEFT
         LRANGE dst 0 -1
         LMOVE dst x UP LEFT
         LMOVE dst x LEFT DOWN
         RPOPLPUSH dst out
         RPOPLPUSH dst dst
         LRANGE dst 0 -1
         RPOPLPUSH nosuch out
         LRANGE out 0 -1
         RPUSH a 1 2 3 4 5
         RPUSH b x
         LMPOP 2 nosuch a LEFT
         LMPOP 2 nosuch a RIGHT COUNT 2
         LMPOP 2 a b LEFT COUNT 10
         LMPOP 2 a b left count 10
         LMPOP 1 nosuch LEFT
         EXISTS a b
         RPUSH a 1 2
         LMPOP 0 a LEFT
         LMPOP -1 a LEFT
         LMPOP x a LEFT
         LMPOP 2 a LEFT
         LMPOP 9223372036854775807 a LEFT
         LMPOP 1 a MIDDLE
         LMPOP 1 a LEFT COUNT 0
         LMPOP 1 a LEFT COUNT -1
         LMPOP 1 a LEFT COUNT x
         LMPOP 1 a LEFT COUNT
         LMPOP 1 a LEFT COUNT 1 COUNT 1
         LMPOP 1 a LEFT FOO
         LMPOP 1 a
         LRANGE a 0 -1",
    );
}

#[test]
fn wrong_types() {
    let mut d = Differential::new();
    d.check_script(
        "SET s x
         RPUSH l a
         LPUSH s a
         RPUSH s a
         LPUSHX s a
         RPUSHX s a
         LPOP s
         RPOP s 1
         LLEN s
         LRANGE s 0 -1
         LINDEX s 0
         LSET s 0 x
         LREM s 0 x
         LTRIM s 0 1
         LINSERT s before a b
         LPOS s a
         LPOS s a COUNT 0
         LMOVE s l LEFT LEFT
         LMOVE l s LEFT LEFT
         LMOVE nosuch s LEFT LEFT
         RPOPLPUSH l s
         RPOPLPUSH s l
         LRANGE l 0 -1
         LMPOP 2 nosuch s LEFT
         LMPOP 2 l s LEFT
         RPUSH l a b c
         BLPOP s 0
         BLPOP nosuch s 0
         BLPOP l s 0
         BRPOP s 1
         BLMOVE s l LEFT LEFT 0
         BLMOVE l s LEFT LEFT 0
         BRPOPLPUSH s l 0
         BLMPOP 0 2 nosuch s LEFT
         GET l",
    );
}

#[test]
fn blocking_commands_with_data_and_argument_errors() {
    let mut d = Differential::new();
    d.check_script(
        "RPUSH a 1 2 3
         RPUSH b x y
         BLPOP nosuch a b 0
         BRPOP nosuch b a 0.5
         BLMOVE a b LEFT RIGHT 0
         BRPOPLPUSH a b 1
         LRANGE b 0 -1
         EXISTS a
         BLMPOP 0 2 a b RIGHT COUNT 2
         BLMPOP 1 1 b LEFT
         BLPOP a x
         BLPOP a -1
         BLPOP a inf
         BLPOP a 1e400
         BLPOP a nan
         BLPOP a 9223372036854775807
         BLMOVE a b LEFT UP 0
         BLMOVE a b UP LEFT x
         BLMOVE a b LEFT LEFT x
         BRPOPLPUSH a b x
         BLMPOP x 1 a LEFT
         BLMPOP 0 0 a LEFT
         BLMPOP 0 1 a MIDDLE
         BLMPOP -1 1 a LEFT
         BLMPOP 0 1 a LEFT COUNT 0
         BLPOP a
         BLMPOP 0 1 a",
    );
}

#[test]
fn resp3_replies() {
    let mut d = Differential::new();
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
    d.check_script(
        "RPUSH l a b c
         LPOP nosuch
         LPOP nosuch 2
         LPOP l 0
         LPOP l 2
         LRANGE nosuch 0 -1
         LINDEX l 5
         LPOS l zz
         LPOS l c COUNT 0
         LMOVE nosuch l LEFT LEFT
         LMPOP 1 nosuch LEFT
         LMPOP 1 l LEFT
         BLPOP nosuch 0.01
         BLMOVE nosuch l LEFT LEFT 0.01
         BLMPOP 0.01 1 nosuch LEFT
         RPUSH l x
         BLPOP l 0",
    );
}

/// Runs `scenario` on a fresh instance of our server and of redis and asserts that the
/// raw replies it collects are identical.
fn compare(scenario: fn(&Server) -> Vec<Vec<u8>>) {
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let shown = |replies: Vec<Vec<u8>>| replies.iter().map(|r| show(r)).collect::<Vec<_>>();
    assert_eq!(
        shown(scenario(&ours)),
        shown(scenario(&redis)),
        "left: ours, right: redis"
    );
}

/// Sends a command that blocks, then gives the server time to park the client.
fn send_blocking(c: &mut Conn, args: &[&str]) {
    c.send(args);
    std::thread::sleep(Duration::from_millis(100));
}

fn raw(c: &mut Conn, args: &[&str]) -> Vec<u8> {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.cmd_raw(&bytes)
}

#[test]
fn blpop_is_served_by_a_later_push_in_fifo_order() {
    compare(|s| {
        let (mut first, mut second, mut pusher) = (s.conn(), s.conn(), s.conn());
        send_blocking(&mut first, &["BLPOP", "nosuch", "q", "0"]);
        send_blocking(&mut second, &["BRPOP", "q", "5"]);
        let pushed = raw(&mut pusher, &["RPUSH", "q", "a", "b", "c"]);
        vec![
            pushed,
            first.read_raw(),
            second.read_raw(),
            raw(&mut pusher, &["LRANGE", "q", "0", "-1"]),
            // A served client gets no late timeout reply.
            {
                std::thread::sleep(Duration::from_millis(100));
                raw(&mut second, &["PING"])
            },
        ]
    });
}

#[test]
fn blocked_pop_skips_a_key_that_becomes_another_type() {
    compare(|s| {
        let (mut waiter, mut writer) = (s.conn(), s.conn());
        send_blocking(&mut waiter, &["BLPOP", "k", "0"]);
        let mut replies = vec![
            raw(&mut writer, &["SET", "k", "str"]),
            raw(&mut writer, &["DEL", "k"]),
            raw(&mut writer, &["LPUSH", "k", "v"]),
        ];
        replies.push(waiter.read_raw());
        replies
    });
}

#[test]
fn blocking_timeouts_reply_null() {
    compare(|s| {
        let mut c = s.conn();
        let mut replies = vec![
            raw(&mut c, &["BLPOP", "nosuch", "0.05"]),
            raw(&mut c, &["BRPOP", "a", "b", "0.05"]),
            raw(&mut c, &["BLMOVE", "nosuch", "d", "LEFT", "LEFT", "0.05"]),
            raw(&mut c, &["BRPOPLPUSH", "nosuch", "d", "0.05"]),
            raw(&mut c, &["BLMPOP", "0.05", "1", "nosuch", "LEFT"]),
            raw(&mut c, &["EXISTS", "d"]),
        ];
        raw(&mut c, &["HELLO", "3"]);
        replies.push(raw(&mut c, &["BLPOP", "nosuch", "0.05"]));
        replies.push(raw(
            &mut c,
            &["BLMOVE", "nosuch", "d", "LEFT", "LEFT", "0.05"],
        ));
        replies
    });
}

#[test]
fn blmove_chains_serve_each_other() {
    compare(|s| {
        let (mut one, mut two, mut three, mut pusher) = (s.conn(), s.conn(), s.conn(), s.conn());
        send_blocking(&mut one, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
        send_blocking(&mut two, &["BRPOPLPUSH", "b", "c", "0"]);
        send_blocking(
            &mut three,
            &["BLMPOP", "0", "2", "x", "c", "LEFT", "COUNT", "5"],
        );
        vec![
            raw(&mut pusher, &["RPUSH", "a", "v1", "v2"]),
            one.read_raw(),
            two.read_raw(),
            three.read_raw(),
            raw(&mut pusher, &["LRANGE", "a", "0", "-1"]),
            raw(&mut pusher, &["EXISTS", "b", "c"]),
        ]
    });
}

#[test]
fn disconnected_blocked_client_is_forgotten() {
    compare(|s| {
        let mut gone = s.conn();
        send_blocking(&mut gone, &["BLPOP", "q", "0"]);
        drop(gone);
        std::thread::sleep(Duration::from_millis(100));
        let (mut waiter, mut pusher) = (s.conn(), s.conn());
        send_blocking(&mut waiter, &["BRPOP", "q", "0"]);
        vec![
            raw(&mut pusher, &["LPUSH", "q", "a", "b"]),
            waiter.read_raw(),
            raw(&mut pusher, &["LRANGE", "q", "0", "-1"]),
        ]
    });
}

#[test]
fn resp3_client_is_served_with_resp3_reply() {
    compare(|s| {
        let (mut waiter, mut pusher) = (s.conn(), s.conn());
        raw(&mut waiter, &["HELLO", "3"]);
        send_blocking(
            &mut waiter,
            &["BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "2"],
        );
        vec![
            raw(&mut pusher, &["RPUSH", "q", "a", "b", "c"]),
            waiter.read_raw(),
        ]
    });
}

#[test]
fn blocked_client_is_served_from_the_key_that_got_data() {
    compare(|s| {
        let (mut waiter, mut rotator, mut pusher) = (s.conn(), s.conn(), s.conn());
        send_blocking(&mut waiter, &["BRPOP", "k1", "k2", "k1", "0"]);
        send_blocking(&mut rotator, &["BLMOVE", "r", "r", "LEFT", "RIGHT", "0"]);
        vec![
            raw(&mut pusher, &["RPUSH", "k2", "x", "y"]),
            waiter.read_raw(),
            raw(&mut pusher, &["RPUSH", "r", "1", "2", "3"]),
            rotator.read_raw(),
            raw(&mut pusher, &["LRANGE", "r", "0", "-1"]),
            raw(&mut pusher, &["LRANGE", "k2", "0", "-1"]),
        ]
    });
}

#[test]
fn long_values_round_trip() {
    let mut d = Differential::new();
    let long = "v".repeat(100);
    d.check(&["RPUSH", "l", &long, "short", &long]);
    d.check(&["LRANGE", "l", "0", "-1"]);
    d.check(&["LPOS", "l", &long, "COUNT", "0"]);
    d.check(&["LREM", "l", "1", &long]);
    d.check(&["LINSERT", "l", "AFTER", "short", &long]);
    d.check(&["LSET", "l", "0", &long]);
    d.check(&["LMOVE", "l", "m", "RIGHT", "LEFT"]);
    d.check(&["LRANGE", "l", "0", "-1"]);
    d.check(&["LPOP", "l", "5"]);
}
