//! Sorted set commands (Redis's `t_zset.c`): the command table, shared lookup and
//! reply helpers, and the single-element commands (ZADD, ZSCORE, ZRANK, …).

mod pop;
mod range;
mod setops;

use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::zset::ZSet;
use crate::db::{Db, Value};
use crate::server::Server;
use resp::ReplyBuf;

const W: Flags = Flags::WRITE.with(Flags::DENYOOM);
const WF: Flags = W.with(Flags::FAST);
const RF: Flags = Flags::READONLY.with(Flags::FAST);
const R: Flags = Flags::READONLY;
const WB: Flags = Flags::WRITE
    .with(Flags::NOSCRIPT)
    .with(Flags::BLOCKING)
    .with(Flags::FAST);

super::table::family_spec!(keyed, "sorted_set", "sortedset");

pub const COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, WF, zadd, "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists"),
    spec("zincrby", 4, WF, zincrby, "1.2.0", "Increment the score of a member in a sorted set"),
    spec("zrem", -3, Flags::WRITE.with(Flags::FAST), zrem, "1.2.0", "Remove one or more members from a sorted set"),
    spec("zcard", 2, RF, zcard, "1.2.0", "Get the number of members in a sorted set"),
    spec("zscore", 3, RF, zscore, "1.2.0", "Get the score associated with the given member in a sorted set"),
    spec("zmscore", -3, RF, zmscore, "6.2.0", "Get the score associated with the given members in a sorted set"),
    spec("zrank", 3, RF, zrank, "2.0.0", "Determine the index of a member in a sorted set"),
    spec("zrevrank", 3, RF, zrevrank, "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low"),
    spec("zcount", 4, RF, range::zcount, "2.0.0", "Count the members in a sorted set with scores within the given values"),
    spec("zlexcount", 4, RF, range::zlexcount, "2.8.9", "Count the number of members in a sorted set between a given lexicographical range"),
    spec("zrange", -4, R, range::zrange, "1.2.0", "Return a range of members in a sorted set"),
    spec("zrangestore", -5, W, range::zrangestore, "6.2.0", "Store a range of members from sorted set into another key").keys(1, 2, 1),
    spec("zrevrange", -4, R, range::zrevrange, "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low"),
    spec("zrangebyscore", -4, R, range::zrangebyscore, "1.0.5", "Return a range of members in a sorted set, by score"),
    spec("zrevrangebyscore", -4, R, range::zrevrangebyscore, "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low"),
    spec("zrangebylex", -4, R, range::zrangebylex, "2.8.9", "Return a range of members in a sorted set, by lexicographical range"),
    spec("zrevrangebylex", -4, R, range::zrevrangebylex, "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings."),
    spec("zremrangebyscore", 4, Flags::WRITE, range::zremrangebyscore, "1.2.0", "Remove all members in a sorted set within the given scores"),
    spec("zremrangebyrank", 4, Flags::WRITE, range::zremrangebyrank, "2.0.0", "Remove all members in a sorted set within the given indexes"),
    spec("zremrangebylex", 4, Flags::WRITE, range::zremrangebylex, "2.8.9", "Remove all members in a sorted set between the given lexicographical range"),
    spec("zpopmin", -2, Flags::WRITE.with(Flags::FAST), pop::zpopmin, "5.0.0", "Remove and return members with the lowest scores in a sorted set"),
    spec("zpopmax", -2, Flags::WRITE.with(Flags::FAST), pop::zpopmax, "5.0.0", "Remove and return members with the highest scores in a sorted set"),
    spec("bzpopmin", -3, WB, pop::bzpopmin, "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available").keys(1, -2, 1),
    spec("bzpopmax", -3, WB, pop::bzpopmax, "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available").keys(1, -2, 1),
    spec("zmpop", -4, Flags::WRITE, pop::zmpop, "7.0.0", "Remove and return members with scores in a sorted set").keys_fn(pop::zmpop_keys),
    spec("bzmpop", -5, Flags::WRITE.with(Flags::BLOCKING), pop::bzmpop, "7.0.0", "Remove and return members with scores in a sorted set or block until one is available").keys_fn(pop::bzmpop_keys),
    spec("zrandmember", -2, R, pop::zrandmember, "6.2.0", "Get one or multiple random elements from a sorted set"),
    spec("zscan", -3, R, pop::zscan, "2.8.0", "Incrementally iterate sorted sets elements and associated scores"),
    spec("zunionstore", -4, W, setops::zunionstore, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key").keys_fn(setops::store_keys),
    spec("zinterstore", -4, W, setops::zinterstore, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key").keys_fn(setops::store_keys),
    spec("zdiffstore", -4, W, setops::zdiffstore, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key").keys_fn(setops::store_keys),
    spec("zunion", -3, R, setops::zunion, "6.2.0", "Add multiple sorted sets").keys_fn(setops::read_keys),
    spec("zinter", -3, R, setops::zinter, "6.2.0", "Intersect multiple sorted sets").keys_fn(setops::read_keys),
    spec("zdiff", -3, R, setops::zdiff, "6.2.0", "Subtract multiple sorted sets").keys_fn(setops::read_keys),
    spec("zintercard", -3, R, setops::zintercard, "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result").keys_fn(setops::read_keys),
];

/// The sorted set at `key` for reading (None if missing), or WRONGTYPE.
fn read_zset<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d ZSet>, CmdError> {
    match db.read(key) {
        None => Ok(None),
        Some(v) => v.as_zset().map(Some),
    }
}

/// The sorted set at `key` for changing (None if missing), or WRONGTYPE.
fn write_zset<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d mut ZSet>, CmdError> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(v) => v.as_zset_mut().map(Some),
    }
}

/// Redis's listpack limits (`zset-max-listpack-entries`, `zset-max-listpack-value`).
fn listpack_limits(srv: &Server) -> (usize, usize) {
    let cfg = srv.config.borrow();
    (cfg.zset_max_listpack_entries, cfg.zset_max_listpack_value)
}

/// Header of a reply of `n` elements, each a member optionally with its score.
fn reply_elements_len(out: &mut ReplyBuf, n: usize, withscores: bool) {
    out.array(if withscores && !out.resp3 { n * 2 } else { n });
}

/// One member, with its score if asked (a nested pair in RESP3).
fn reply_element(out: &mut ReplyBuf, member: &[u8], score: f64, withscores: bool) {
    if withscores && out.resp3 {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

/// Stores `set` at `dst` (deleting `dst` when empty) and replies with its size, as
/// ZRANGESTORE and the *STORE set operations do.
fn store_result(ctx: &mut Ctx, dst: &[u8], mut set: ZSet, longest: usize) {
    let n = set.len();
    let mut db = ctx.db();
    if n == 0 {
        if db.remove(dst).is_some() {
            db.modified(dst);
        }
    } else {
        let (entries, value) = listpack_limits(ctx.srv);
        set.update_encoding(entries, value, n, longest);
        db.set(dst, Value::ZSet(Box::new(set)));
        db.modified(dst);
    }
    drop(db);
    ctx.out.int(n as i64);
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// C's `strtod` applied to all of `s`: leading spaces, a sign, decimal or hex
/// (`0x1.8p3`) digits, `inf`/`infinity`/`nan`. None if anything is left over.
fn c_strtod(s: &[u8]) -> Option<f64> {
    let start = s.iter().position(|&c| !is_c_space(c)).unwrap_or(s.len());
    let text = std::str::from_utf8(&s[start..]).ok()?;
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let v = if let Some(v) = parse_decimal(body) {
        v
    } else if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        f64::INFINITY
    } else if body.eq_ignore_ascii_case("nan") {
        f64::NAN
    } else if body.starts_with("0x") || body.starts_with("0X") {
        parse_hex_float(&body[2..])?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Decimal digits with an optional point and exponent, as strtod reads them.
fn parse_decimal(body: &str) -> Option<f64> {
    let b = body.as_bytes();
    let digits = b
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'.')
        .count();
    let mantissa = &b[..digits];
    let valid_mantissa = mantissa.iter().filter(|c| **c == b'.').count() <= 1
        && mantissa.iter().any(u8::is_ascii_digit);
    let exp_ok = match &b[digits..] {
        [] => true,
        [b'e' | b'E', rest @ ..] => {
            let rest = rest
                .strip_prefix(b"-")
                .or(rest.strip_prefix(b"+"))
                .unwrap_or(rest);
            !rest.is_empty() && rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    if !valid_mantissa || !exp_ok {
        return None;
    }
    body.parse::<f64>().ok()
}

/// Hex digits with an optional point and binary exponent (after `0x`).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mantissa, exp) = match s.split_once(['p', 'P']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0.0f64;
    for c in int.chars().chain(frac.chars()) {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    Some(v * 2f64.powi(exp - 4 * frac.len() as i32))
}

/// Redis's `getDoubleFromObject`: no leading space, no NaN, and no overflow or
/// underflow (strtod's ERANGE) except for a literal infinity.
fn parse_score(s: &[u8]) -> Option<f64> {
    if s.first().is_none_or(|&c| is_c_space(c)) {
        return None;
    }
    let v = c_strtod(s)?;
    // Overflow gives inf without an "inf" in the text; underflow gives 0 from
    // non-zero digits.
    let overflow = v.is_infinite() && !s.iter().any(|c| c.eq_ignore_ascii_case(&b'i'));
    let underflow = v == 0.0 && has_nonzero_mantissa(s);
    (!v.is_nan() && !overflow && !underflow).then_some(v)
}

/// True if the digits before the exponent include a non-zero one.
fn has_nonzero_mantissa(s: &[u8]) -> bool {
    let t = String::from_utf8_lossy(s).to_ascii_lowercase();
    let t = t.trim_start_matches(['+', '-']);
    let (digits, marker) = match t.strip_prefix("0x") {
        Some(h) => (h, 'p'),
        None => (t, 'e'),
    };
    digits
        .split(marker)
        .next()
        .unwrap_or("")
        .chars()
        .any(|c| c.is_ascii_hexdigit() && c != '0')
}

/// A score argument, or "value is not a valid float".
fn score_arg(args: &Args, i: usize) -> Result<f64, CmdError> {
    parse_score(args.get(i)).ok_or(CmdError::NotFloat)
}

/// Key positions of `numkeys key...` with numkeys at `at` (ZUNION, ZMPOP, …).
fn numkeys_keys(args: &Args, at: usize) -> Vec<usize> {
    if args.len() <= at {
        return Vec::new();
    }
    match super::args::parse_i64(args.get(at)) {
        Some(n) if n > 0 => (at + 1..(at + 1 + n as usize).min(args.len())).collect(),
        _ => Vec::new(),
    }
}

/// ZADD's options; ZINCRBY is ZADD with INCR.
#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Parses ZADD's options; returns them and the index of the first score.
fn parse_add_flags(args: &Args) -> (AddFlags, usize) {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        let flag = match a.len() {
            2 if a.eq_ignore_ascii_case(b"nx") => &mut f.nx,
            2 if a.eq_ignore_ascii_case(b"xx") => &mut f.xx,
            2 if a.eq_ignore_ascii_case(b"gt") => &mut f.gt,
            2 if a.eq_ignore_ascii_case(b"lt") => &mut f.lt,
            2 if a.eq_ignore_ascii_case(b"ch") => &mut f.ch,
            4 if a.eq_ignore_ascii_case(b"incr") => &mut f.incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    (f, i)
}

fn check_add_flags(f: &AddFlags, pairs: usize) -> CmdResult {
    if f.nx && f.xx {
        return Err(CmdError::msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.gt || f.lt) && f.nx || (f.gt && f.lt) {
        return Err(CmdError::msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && pairs > 1 {
        return Err(CmdError::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    Ok(())
}

/// What ZADD did to the set.
#[derive(Default)]
struct AddOutcome {
    added: usize,
    updated: usize,
    processed: usize,
    last_score: f64,
    longest: usize,
    nan: bool,
}

/// Redis's `zsetAdd` applied to each pair: `scores[k]` with the member at
/// `first + 2k + 1`.
fn apply_adds(z: &mut ZSet, f: &AddFlags, args: &Args, first: usize, scores: &[f64]) -> AddOutcome {
    let mut o = AddOutcome::default();
    for (k, &score) in scores.iter().enumerate() {
        let member = args.get(first + 2 * k + 1);
        match z.score(member) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { score + cur } else { score };
                if new.is_nan() {
                    o.nan = true;
                    break;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                o.processed += 1;
                o.last_score = new;
                if new != cur {
                    z.insert(member, new);
                    o.updated += 1;
                }
            }
            None if f.xx => {}
            None => {
                z.insert(member, score);
                o.added += 1;
                o.processed += 1;
                o.last_score = score;
                o.longest = o.longest.max(member.len());
            }
        }
    }
    o
}

fn zadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (f, first) = parse_add_flags(args);
    zadd_generic(ctx, args, f, first)
}

fn zincrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    zadd_generic(ctx, args, f, 2)
}

fn zadd_generic(ctx: &mut Ctx, args: &Args, f: AddFlags, first: usize) -> CmdResult {
    let elements = args.len() - first;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let pairs = elements / 2;
    check_add_flags(&f, pairs)?;
    // Every score is parsed before anything changes: all or nothing. Small
    // commands keep the scores on the stack.
    let mut inline = [0f64; 8];
    let mut heap = Vec::new();
    let scores: &mut [f64] = if pairs <= inline.len() {
        &mut inline[..pairs]
    } else {
        heap.resize(pairs, 0.0);
        &mut heap
    };
    for (k, slot) in scores.iter_mut().enumerate() {
        *slot = score_arg(args, first + 2 * k)?;
    }
    let key = args.get(1);
    let mut db = ctx.db();
    let exists = match db.get(key) {
        Some(v) => v.as_zset().map(|_| true)?,
        None => false,
    };
    let mut o = AddOutcome::default();
    if exists || !f.xx {
        let z = db.get_or_insert_with(key, Value::new_zset).as_zset_mut()?;
        let limits = || listpack_limits(ctx.srv);
        if !exists {
            // Redis 7.0 picks a new key's encoding from its first member alone.
            let (entries, value) = limits();
            z.update_encoding(entries, value, 1, args.get(first + 1).len());
        }
        o = apply_adds(z, &f, args, first, scores);
        if z.is_compact() {
            let (entries, value) = limits();
            z.update_encoding(entries, value, z.len(), o.longest);
        }
        if o.added + o.updated > 0 {
            db.modified(key);
        }
        if o.added > 0 && !db.blocked.is_empty() {
            db.signal_ready(key);
        }
    }
    drop(db);
    if o.nan {
        return Err(CmdError::msg("ERR resulting score is not a number (NaN)"));
    }
    if f.incr {
        if o.processed > 0 {
            ctx.out.double(o.last_score);
        } else {
            ctx.out.null();
        }
    } else {
        let n = if f.ch { o.added + o.updated } else { o.added };
        ctx.out.int(n as i64);
    }
    Ok(())
}

fn zrem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let mut removed = 0;
    if let Some(z) = write_zset(&mut db, key)? {
        removed = args.iter_from(2).filter(|m| z.remove(m).is_some()).count();
        if removed > 0 {
            db.remove_if_empty(key);
            db.modified(key);
        }
    }
    drop(db);
    ctx.out.int(removed as i64);
    Ok(())
}

fn zcard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let n = read_zset(&mut db, args.get(1))?.map_or(0, ZSet::len);
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let score = read_zset(&mut db, args.get(1))?.and_then(|z| z.score(args.get(2)));
    drop(db);
    match score {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let z = read_zset(&mut db, args.get(1))?;
    ctx.out.array(args.len() - 2);
    for m in args.iter_from(2) {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: &Args, rev: bool) -> CmdResult {
    let mut db = ctx.db();
    let found =
        read_zset(&mut db, args.get(1))?.and_then(|z| z.rank(args.get(2)).map(|r| (r, z.len())));
    drop(db);
    match found {
        Some((r, len)) => ctx.out.int(if rev { len - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    rank_generic(ctx, args, true)
}
