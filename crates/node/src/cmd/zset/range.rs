//! Range queries on sorted sets: ZRANGE in all its forms (rank, BYSCORE, BYLEX, REV,
//! LIMIT, WITHSCORES, ZRANGESTORE), ZCOUNT/ZLEXCOUNT and ZREMRANGEBY*.

use super::{read_zset, reply_element, reply_elements_len, store_result, write_zset};
use crate::cmd::{Args, CmdError, CmdResult, Ctx};
use crate::db::zset::{LexBound, LexRange, ScoreRange, ZSet};

/// How ZRANGE's min and max are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

fn not_float() -> CmdError {
    CmdError::msg("ERR min or max is not a float")
}

fn not_lex() -> CmdError {
    CmdError::msg("ERR min or max not valid string range item")
}

/// C's `strtod` as `zslParseRange` uses it: leading spaces allowed, "" is 0,
/// overflow is infinity, NaN is rejected.
fn parse_range_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    super::c_strtod(s).filter(|v| !v.is_nan())
}

/// One end of a score range: `(` makes it exclusive.
fn parse_score_bound(s: &[u8]) -> Result<(f64, bool), CmdError> {
    match s.first() {
        Some(b'(') => parse_range_f64(&s[1..])
            .map(|v| (v, true))
            .ok_or_else(not_float),
        _ => parse_range_f64(s).map(|v| (v, false)).ok_or_else(not_float),
    }
}

pub(super) fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let (min, minex) = parse_score_bound(min)?;
    let (max, maxex) = parse_score_bound(max)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

fn parse_lex_bound(s: &[u8]) -> Result<LexBound, CmdError> {
    match s {
        b"-" => Ok(LexBound::Min),
        b"+" => Ok(LexBound::Max),
        [b'(', rest @ ..] => Ok(LexBound::Excl(rest.to_vec())),
        [b'[', rest @ ..] => Ok(LexBound::Incl(rest.to_vec())),
        _ => Err(not_lex()),
    }
}

pub(super) fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    Ok(LexRange {
        min: parse_lex_bound(min)?,
        max: parse_lex_bound(max)?,
    })
}

/// Redis's index sanitizing for rank ranges: negative counts from the end. Returns
/// ascending ranks `start..end`, empty when out of range.
fn rank_range(start: i64, end: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return (0, 0);
    }
    (start as usize, (end.min(len - 1) + 1) as usize)
}

/// A parsed ZRANGE-family request.
struct Request {
    by: By,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

/// Parses the options after `<key> <min> <max>` (Redis's `zrangeGenericCommand`
/// step 1). `by`/`rev` are `None` where the command lets options choose them.
fn parse_options(
    args: &Args,
    first: usize,
    store: bool,
    by: Option<By>,
    rev: Option<bool>,
) -> Result<Request, CmdError> {
    let mut r = Request {
        by: by.unwrap_or(By::Rank),
        rev: rev.unwrap_or(false),
        withscores: false,
        offset: 0,
        limit: -1,
    };
    let mut by_set = by.is_some();
    let mut j = first;
    while j < args.len() {
        let left = args.len() - j - 1;
        if !store && args.is(j, "withscores") {
            r.withscores = true;
        } else if args.is(j, "limit") && left >= 2 {
            r.offset = args.i64(j + 1)?;
            r.limit = args.i64(j + 2)?;
            j += 2;
        } else if rev.is_none() && args.is(j, "rev") {
            r.rev = true;
        } else if !by_set && args.is(j, "bylex") {
            r.by = By::Lex;
            by_set = true;
        } else if !by_set && args.is(j, "byscore") {
            r.by = By::Score;
            by_set = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if r.limit != -1 && r.by == By::Rank {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if r.withscores && r.by == By::Lex {
        return Err(CmdError::msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    Ok(r)
}

/// The parsed min/max of a request.
enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn parse_bounds(r: &Request, min: &[u8], max: &[u8]) -> Result<Bounds, CmdError> {
    // BYSCORE/BYLEX with REV take the range as max, min.
    let (min, max) = if r.rev && r.by != By::Rank {
        (max, min)
    } else {
        (min, max)
    };
    Ok(match r.by {
        By::Rank => Bounds::Rank(
            crate::cmd::args::parse_i64(min).ok_or(CmdError::NotInteger)?,
            crate::cmd::args::parse_i64(max).ok_or(CmdError::NotInteger)?,
        ),
        By::Score => Bounds::Score(parse_score_range(min, max)?),
        By::Lex => Bounds::Lex(parse_lex_range(min, max)?),
    })
}

/// The selected elements as a starting rank in iteration order plus a count.
fn select(z: &ZSet, r: &Request, bounds: &Bounds) -> (usize, usize) {
    let len = z.len();
    let (start, end) = match bounds {
        Bounds::Rank(a, b) => {
            return match rank_range(*a, *b, len) {
                (s, e) if s < e => (s, e - s),
                _ => (0, 0),
            }
        }
        Bounds::Score(range) => z.score_ranks(range),
        Bounds::Lex(range) => z.lex_ranks(range),
    };
    // LIMIT: a negative offset selects nothing, a negative count everything.
    if r.offset < 0 {
        return (0, 0);
    }
    let skip = (r.offset as usize).min(end - start);
    let avail = end - start - skip;
    let count = if r.limit < 0 {
        avail
    } else {
        avail.min(r.limit as usize)
    };
    let first = if r.rev {
        len - end + skip
    } else {
        start + skip
    };
    (first, count)
}

/// Shared body of every ZRANGE form; `first` is the index of the source key.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &Args,
    first: usize,
    store: bool,
    by: Option<By>,
    rev: Option<bool>,
) -> CmdResult {
    let r = parse_options(args, first + 3, store, by, rev)?;
    let bounds = parse_bounds(&r, args.get(first + 1), args.get(first + 2))?;
    let mut db = ctx.db();
    let Some(z) = read_zset(&mut db, args.get(first))? else {
        drop(db);
        if store {
            store_result(ctx, args.get(1), ZSet::default(), 0);
        } else {
            ctx.out.array(0);
        }
        return Ok(());
    };
    let (from, count) = select(z, &r, &bounds);
    let iter = z.iter_from(from, r.rev).take(count);
    if store {
        let mut result = ZSet::default();
        let mut longest = 0;
        for (m, s) in iter {
            result.insert(m, s);
            longest = longest.max(m.len());
        }
        drop(db);
        store_result(ctx, args.get(1), result, longest);
        return Ok(());
    }
    reply_elements_len(ctx.out, count, r.withscores);
    for (m, s) in iter {
        reply_element(ctx.out, m, s, r.withscores);
    }
    Ok(())
}

pub(super) fn zrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zrange_generic(ctx, args, 1, false, None, None)
}

pub(super) fn zrangestore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zrange_generic(ctx, args, 2, true, None, None)
}

pub(super) fn zrevrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(By::Rank), Some(true))
}

pub(super) fn zrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(By::Score), Some(false))
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(By::Score), Some(true))
}

pub(super) fn zrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(By::Lex), Some(false))
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(By::Lex), Some(true))
}

/// Counts the elements between ranks computed by `ranks` (0 for a missing key).
fn count_generic(ctx: &mut Ctx, key: &[u8], ranks: impl Fn(&ZSet) -> (usize, usize)) -> CmdResult {
    let mut db = ctx.db();
    let n = read_zset(&mut db, key)?.map_or(0, |z| {
        let (a, b) = ranks(z);
        b - a
    });
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

pub(super) fn zcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let range = parse_score_range(args.get(2), args.get(3))?;
    count_generic(ctx, args.get(1), |z| z.score_ranks(&range))
}

pub(super) fn zlexcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let range = parse_lex_range(args.get(2), args.get(3))?;
    count_generic(ctx, args.get(1), |z| z.lex_ranks(&range))
}

/// Removes the elements between ranks computed by `ranks` and replies the count.
fn remove_generic(ctx: &mut Ctx, key: &[u8], ranks: impl Fn(&ZSet) -> (usize, usize)) -> CmdResult {
    let mut db = ctx.db();
    let mut removed = 0;
    if let Some(z) = write_zset(&mut db, key)? {
        let (a, b) = ranks(z);
        z.remove_ranks(a, b, false, |_, _| {});
        removed = b - a;
        if removed > 0 {
            db.remove_if_empty(key);
            db.modified(key);
        }
    }
    drop(db);
    ctx.out.int(removed as i64);
    Ok(())
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, end) = (args.i64(2)?, args.i64(3)?);
    remove_generic(ctx, args.get(1), |z| rank_range(start, end, z.len()))
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let range = parse_score_range(args.get(2), args.get(3))?;
    remove_generic(ctx, args.get(1), |z| z.score_ranks(&range))
}

pub(super) fn zremrangebylex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let range = parse_lex_range(args.get(2), args.get(3))?;
    remove_generic(ctx, args.get(1), |z| z.lex_ranks(&range))
}
