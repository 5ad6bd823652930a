//! Popping and sampling sorted sets: ZPOPMIN/ZPOPMAX, their blocking forms, ZMPOP,
//! BZMPOP, ZRANDMEMBER and ZSCAN.

use super::{numkeys_keys, read_zset, reply_element, reply_elements_len, write_zset};
use crate::cmd::args::parse_i64;
use crate::cmd::{Args, CmdError, CmdResult, Ctx};
use crate::db::zset::ZSet;
use crate::db::SmallBytes;
use resp::ReplyBuf;

/// How a pop reply is shaped (Redis's `genericZpopCommand` flags).
#[derive(Clone, Copy)]
struct PopReply {
    /// Name the key first (BZPOP*, ZMPOP).
    emit_key: bool,
    /// Elements as [member, score] pairs (ZMPOP, and ZPOP* with a count in RESP3).
    nested: bool,
}

/// Writes the header of a pop reply of `n` elements.
fn pop_header(out: &mut ReplyBuf, key: &[u8], n: usize, shape: PopReply) {
    match (shape.emit_key, shape.nested) {
        (false, false) => out.array(n * 2),
        (false, true) => out.array(n),
        (true, false) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
}

/// Pops from the first non-empty zset among `keys` and writes the reply; false if
/// every key is missing (nothing written). WRONGTYPE stops at the first bad key.
fn pop_first_of(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    count: usize,
    max: bool,
    shape: PopReply,
) -> Result<bool, CmdError> {
    let mut db = ctx.db();
    for key in keys {
        let Some(z) = write_zset(&mut db, key)? else {
            continue;
        };
        let len = z.len();
        let n = count.min(len);
        let out = &mut *ctx.out;
        pop_header(out, key, n, shape);
        let (a, b) = if max { (len - n, len) } else { (0, n) };
        z.remove_ranks(a, b, max, |m, s| {
            if shape.nested {
                out.array(2);
            }
            out.bulk(&m);
            out.double(s);
        });
        if n > 0 {
            db.remove_if_empty(key);
            db.modified(key);
            drop(db);
            propagate_pop(ctx, key, n, max, shape);
        }
        return Ok(true);
    }
    Ok(false)
}

/// What BZPOPMIN / ZMPOP / BZMPOP propagate, as Redis: `ZPOPMIN key` for BZPOP*, and
/// `ZPOPMIN key <popped>` for the multi-key forms (ZPOP* itself replays as is).
fn propagate_pop(ctx: &mut Ctx, key: &[u8], n: usize, max: bool, shape: PopReply) {
    if !shape.emit_key {
        return;
    }
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    if shape.nested {
        ctx.propagate_one(&[name, key, n.to_string().as_bytes()]);
    } else {
        ctx.propagate_one(&[name, key]);
    }
}

fn zpop_generic(ctx: &mut Ctx, args: &Args, max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = if args.len() == 3 {
        match parse_i64(args.get(2)) {
            Some(c) if c >= 0 => Some(c as usize),
            _ => return Err(CmdError::msg("ERR value is out of range, must be positive")),
        }
    } else {
        None
    };
    let shape = PopReply {
        emit_key: false,
        nested: ctx.resp3() && count.is_some(),
    };
    // A count of 0 still checks the type, then pops nothing.
    if !pop_first_of(ctx, &[args.get(1)], count.unwrap_or(1), max, shape)? {
        ctx.out.array(0);
    }
    Ok(())
}

pub(super) fn zpopmin(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zpop_generic(ctx, args, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zpop_generic(ctx, args, true)
}

/// Redis's `getTimeoutFromObjectOrReply` in seconds: an absolute deadline in ms,
/// or None for 0 (wait forever).
fn parse_timeout(ctx: &Ctx, arg: &[u8]) -> Result<Option<u64>, CmdError> {
    let secs = super::parse_score(arg)
        .ok_or_else(|| CmdError::msg("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).trunc();
    if ms < 0.0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    let now = ctx.db().now_ms;
    if ms >= (i64::MAX as u64 - now) as f64 {
        return Err(CmdError::msg("ERR timeout is out of range"));
    }
    Ok(Some(now + ms as u64))
}

/// Shared body of BZPOPMIN/BZPOPMAX/BZMPOP: pop now, or block on every key.
fn bzpop_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    timeout: &[u8],
    count: usize,
    max: bool,
    shape: PopReply,
) -> CmdResult {
    let deadline = parse_timeout(ctx, timeout)?;
    if !pop_first_of(ctx, keys, count, max, shape)? {
        let keys = keys.iter().map(|k| k.to_vec()).collect();
        ctx.block_on(keys, deadline);
    }
    Ok(())
}

fn bzpop(ctx: &mut Ctx, args: &Args, max: bool) -> CmdResult {
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    let shape = PopReply {
        emit_key: true,
        nested: false,
    };
    bzpop_generic(ctx, &keys, args.get(args.len() - 1), 1, max, shape)
}

pub(super) fn bzpopmin(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bzpop(ctx, args, false)
}

pub(super) fn bzpopmax(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bzpop(ctx, args, true)
}

/// ZMPOP's `numkeys key... MIN|MAX [COUNT n]` starting at `at`.
struct MpopArgs {
    numkeys: usize,
    max: bool,
    count: usize,
}

fn parse_positive(args: &Args, i: usize, what: &'static str) -> Result<usize, CmdError> {
    match parse_i64(args.get(i)) {
        Some(v) if v > 0 => Ok(v as usize),
        _ => Err(CmdError::msg(what)),
    }
}

fn parse_mpop(args: &Args, at: usize) -> Result<MpopArgs, CmdError> {
    let numkeys = parse_positive(args, at, "ERR numkeys should be greater than 0")?;
    let where_idx = at + 1 + numkeys;
    if where_idx >= args.len() {
        return Err(CmdError::Syntax);
    }
    let max = if args.is(where_idx, "min") {
        false
    } else if args.is(where_idx, "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && args.is(j, "count") && j + 1 < args.len() {
            count = Some(parse_positive(
                args,
                j + 1,
                "ERR count should be greater than 0",
            )?);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(MpopArgs {
        numkeys,
        max,
        count: count.unwrap_or(1),
    })
}

const MPOP_SHAPE: PopReply = PopReply {
    emit_key: true,
    nested: true,
};

pub(super) fn zmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let m = parse_mpop(args, 1)?;
    let keys: Vec<&[u8]> = (2..2 + m.numkeys).map(|i| args.get(i)).collect();
    if !pop_first_of(ctx, &keys, m.count, m.max, MPOP_SHAPE)? {
        ctx.out.null_array();
    }
    Ok(())
}

pub(super) fn bzmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let m = parse_mpop(args, 2)?;
    let keys: Vec<&[u8]> = (3..3 + m.numkeys).map(|i| args.get(i)).collect();
    bzpop_generic(ctx, &keys, args.get(1), m.count, m.max, MPOP_SHAPE)
}

pub(super) fn zmpop_keys(args: &Args) -> Vec<usize> {
    numkeys_keys(args, 1)
}

pub(super) fn bzmpop_keys(args: &Args) -> Vec<usize> {
    numkeys_keys(args, 2)
}

pub(super) fn zrandmember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        let mut db = ctx.db();
        let Some(z) = read_zset(&mut db, args.get(1))? else {
            drop(db);
            ctx.out.null();
            return Ok(());
        };
        let i = (ctx.srv.random() % z.len() as u64) as usize;
        let (m, _) = z.get_index(i).expect("in range");
        ctx.out.bulk(m);
        return Ok(());
    }
    let l = args.i64(2)?;
    if l == i64::MIN {
        return Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match args.len() {
        3 => false,
        4 if args.is(3, "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let mut db = ctx.db();
    let Some(z) = read_zset(&mut db, args.get(1))? else {
        drop(db);
        ctx.out.array(0);
        return Ok(());
    };
    random_members(ctx, z, l, withscores);
    Ok(())
}

/// ZRANDMEMBER with a count: negative allows repeats, positive picks distinct
/// members (the whole set, in order, when the count covers it).
fn random_members(ctx: &mut Ctx, z: &ZSet, l: i64, withscores: bool) {
    let count = l.unsigned_abs() as usize;
    let out = &mut *ctx.out;
    if count == 0 {
        out.array(0);
        return;
    }
    let len = z.len();
    if l < 0 || count == 1 {
        reply_elements_len(out, count, withscores);
        for _ in 0..count {
            let (m, s) = z
                .get_index((ctx.srv.random() % len as u64) as usize)
                .expect("in range");
            reply_element(out, m, s, withscores);
        }
        return;
    }
    if count >= len {
        // Redis's set iterator walks from the tail: highest score first.
        reply_elements_len(out, len, withscores);
        for (m, s) in z.iter_from(0, true) {
            reply_element(out, m, s, withscores);
        }
        return;
    }
    // Distinct picks: a partial Fisher-Yates shuffle of the member indexes.
    let mut idx: Vec<usize> = (0..len).collect();
    reply_elements_len(out, count, withscores);
    for i in 0..count {
        let j = i + (ctx.srv.random() % (len - i) as u64) as usize;
        idx.swap(i, j);
        let (m, s) = z.get_index(idx[i]).expect("in range");
        reply_element(out, m, s, withscores);
    }
}

/// Redis's `parseScanCursorOrReply` (strtoul: a leading '-' wraps around).
fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::msg("ERR invalid cursor");
    let text = std::str::from_utf8(arg).map_err(|_| invalid())?;
    match text.strip_prefix('-') {
        Some(rest) if !rest.starts_with(['-', '+']) => rest
            .parse::<u64>()
            .map(u64::wrapping_neg)
            .map_err(|_| invalid()),
        _ => text.parse::<u64>().map_err(|_| invalid()),
    }
}

pub(super) fn zscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = parse_cursor(args.get(2))?;
    let mut db = ctx.db();
    let Some(z) = read_zset(&mut db, args.get(1))? else {
        drop(db);
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - i >= 2;
        if more && args.is(i, "count") {
            let c = args.i64(i + 1)?;
            if c < 1 {
                return Err(CmdError::Syntax);
            }
            count = c as usize;
        } else if more && args.is(i, "match") {
            pattern = Some(args.get(i + 1)).filter(|p| *p != b"*");
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut found: Vec<(&SmallBytes, f64)> = Vec::new();
    let next = if z.is_compact() {
        // Redis returns a listpack-encoded set whole, in order, in one call.
        found.extend(z.iter());
        0
    } else {
        scan_members(z, cursor, count, &mut found)
    };
    if let Some(p) = pattern {
        found.retain(|(m, _)| crate::glob::glob_match(p, m, false));
    }
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len() * 2);
    for (m, s) in found {
        out.bulk(m);
        out.bulk(resp::format_double(s).as_bytes());
    }
    Ok(())
}

/// Visits about `count` members by map index from `cursor` downward (a removal
/// moves the last member into the hole, which the walk has already passed or will
/// still reach); returns the next cursor, 0 when done.
fn scan_members<'z>(
    z: &'z ZSet,
    cursor: u64,
    count: usize,
    found: &mut Vec<(&'z SmallBytes, f64)>,
) -> u64 {
    let len = z.len() as u64;
    let mut pos = if cursor == 0 || cursor > len {
        len
    } else {
        cursor
    };
    let mut budget = count;
    while pos > 0 && budget > 0 {
        pos -= 1;
        budget -= 1;
        found.push(z.get_index(pos as usize).expect("in range"));
    }
    pos
}
