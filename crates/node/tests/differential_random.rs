//! Randomized differential test: the same random command sequences go to our node and
//! to Debian's redis-server, and every reply must be byte-identical. Commands whose
//! replies depend on hash order or the clock are left out (tested elsewhere).

mod common;
use common::*;

/// A small seeded generator (xorshift64*), so a failure names a reproducible seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &["a", "b", "c", "d"];
const VALUES: &[&str] = &[
    "1",
    "0",
    "-3",
    "10",
    "x",
    "",
    "hello",
    "2.5",
    "9223372036854775807",
    "-inf",
    "+inf",
];
const FIELDS: &[&str] = &["f1", "f2", "f3", "m1", "m2", "m3"];
const INDEXES: &[&str] = &["0", "1", "-1", "2", "-2", "5", "-100", "100", "x"];
const SCORES: &[&str] = &["0", "1", "1.5", "-2", "inf", "-inf", "(1", "(2", "x", "3"];
const LEX: &[&str] = &["-", "+", "[a", "(b", "[m2", "(m1", "x"];

/// One random command, as words.
fn random_command(r: &mut Rng) -> Vec<String> {
    let k = r.pick(KEYS);
    let k2 = r.pick(KEYS);
    let v = r.pick(VALUES);
    let f = r.pick(FIELDS);
    let f2 = r.pick(FIELDS);
    let i = r.pick(INDEXES);
    let j = r.pick(INDEXES);
    let s = r.pick(SCORES);
    let s2 = r.pick(SCORES);
    let lex = r.pick(LEX);
    let lex2 = r.pick(LEX);
    let line = match r.below(62) {
        0 => format!("SET {k} {v}"),
        1 => format!("GET {k}"),
        2 => format!("INCR {k}"),
        3 => format!("INCRBY {k} {i}"),
        4 => format!("APPEND {k} {v}"),
        5 => format!("STRLEN {k}"),
        6 => format!("GETRANGE {k} {i} {j}"),
        7 => format!("SETRANGE {k} {} {v}", r.below(5)),
        8 => format!("MSET {k} {v} {k2} {v}"),
        9 => format!("MGET {k} {k2}"),
        10 => format!("SETNX {k} {v}"),
        11 => format!("GETDEL {k}"),
        12 => format!("DEL {k} {k2}"),
        13 => format!("EXISTS {k} {k2}"),
        14 => format!("TYPE {k}"),
        15 => format!("RENAME {k} {k2}"),
        16 => format!("LPUSH {k} {f} {f2}"),
        17 => format!("RPUSH {k} {f}"),
        18 => format!("LPOP {k}"),
        19 => format!("RPOP {k} {}", r.below(3)),
        20 => format!("LRANGE {k} {i} {j}"),
        21 => format!("LINDEX {k} {i}"),
        22 => format!("LSET {k} {i} {f}"),
        23 => format!("LREM {k} {i} {f}"),
        24 => format!("LTRIM {k} {i} {j}"),
        25 => format!("LINSERT {k} {} {f} {f2}", r.pick(&["BEFORE", "AFTER", "x"])),
        26 => format!("LLEN {k}"),
        27 => format!("LPOS {k} {f}"),
        28 => format!(
            "LMOVE {k} {k2} {} {}",
            r.pick(&["LEFT", "RIGHT"]),
            r.pick(&["LEFT", "RIGHT"])
        ),
        29 => format!("HSET {k} {f} {v}"),
        30 => format!("HGET {k} {f}"),
        31 => format!("HDEL {k} {f} {f2}"),
        32 => format!("HLEN {k}"),
        33 => format!("HEXISTS {k} {f}"),
        34 => format!("HINCRBY {k} {f} {i}"),
        35 => format!("HMGET {k} {f} {f2}"),
        36 => format!("HSTRLEN {k} {f}"),
        37 => format!("HSETNX {k} {f} {v}"),
        38 => format!("SADD {k} {f} {f2}"),
        39 => format!("SREM {k} {f}"),
        40 => format!("SCARD {k}"),
        41 => format!("SISMEMBER {k} {f}"),
        42 => format!("SMISMEMBER {k} {f} {f2}"),
        43 => format!("SMOVE {k} {k2} {f}"),
        44 => format!("SINTERCARD 2 {k} {k2}"),
        45 => format!(
            "ZADD {k} {} {f}",
            r.pick(&["1", "2", "2.5", "-1", "inf", "x"])
        ),
        46 => format!(
            "ZADD {k} {} {} {f2}",
            r.pick(&["NX", "XX", "GT", "LT", "CH", "INCR"]),
            r.pick(&["1", "3", "-5"])
        ),
        47 => format!("ZSCORE {k} {f}"),
        48 => format!("ZINCRBY {k} {} {f}", r.pick(&["1", "-0.5", "x"])),
        49 => format!("ZRANGE {k} {i} {j} WITHSCORES"),
        50 => format!("ZRANGE {k} {s} {s2} BYSCORE"),
        51 => format!("ZRANGE {k} {lex} {lex2} BYLEX"),
        52 => format!("ZRANK {k} {f}"),
        53 => format!("ZCOUNT {k} {s} {s2}"),
        54 => format!("ZPOPMIN {k} {}", r.below(3)),
        55 => format!("ZREM {k} {f}"),
        56 => format!("ZREMRANGEBYRANK {k} {i} {j}"),
        57 => format!("ZCARD {k}"),
        58 => format!("XADD {k} {}-{} {f} {v}", r.below(3), r.below(3)),
        59 => format!("XRANGE {k} - + COUNT {}", r.below(4)),
        60 => format!("XLEN {k}"),
        _ => format!("EXPIRE {k} {}", r.pick(&["100", "0", "-1", "x"])),
    };
    line.split(' ').map(str::to_string).collect()
}

#[test]
fn random_sequences_match_redis() {
    let base_seed = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_u64);
    let mut d = Differential::new();
    for round in 0..40u64 {
        let seed = base_seed
            .wrapping_add(round)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            | 1;
        let mut rng = Rng(seed);
        d.check(&["FLUSHALL"]);
        let mut history = Vec::new();
        for _ in 0..150 {
            let cmd = random_command(&mut rng);
            history.push(cmd.join(" "));
            let words: Vec<&str> = cmd.iter().map(String::as_str).collect();
            let ours =
                d.a.cmd_raw(&words.iter().map(|w| w.as_bytes()).collect::<Vec<_>>());
            let theirs =
                d.b.cmd_raw(&words.iter().map(|w| w.as_bytes()).collect::<Vec<_>>());
            assert_eq!(
                show(&ours),
                show(&theirs),
                "seed {seed:#x}: reply to `{}` differs (left ours, right redis); history:\n{}",
                cmd.join(" "),
                history.join("\n")
            );
        }
    }
}
