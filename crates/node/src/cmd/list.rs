//! List commands (Redis's `t_list.c`): pushes, pops, ranges, indexes and searches.
//! Moves between lists and the blocking pops live in `list_block.rs`.

use std::collections::VecDeque;

use super::args::parse_i64;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::{Db, SmallBytes, Value};

pub(super) type List = VecDeque<SmallBytes>;

const W: Flags = Flags::WRITE.with(Flags::DENYOOM);
const WF: Flags = W.with(Flags::FAST);
const RF: Flags = Flags::READONLY.with(Flags::FAST);

super::table::family_spec!(keyed pub(super), "list", "list");

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "lpush",
        -3,
        WF,
        lpush,
        "1.0.0",
        "Prepend one or multiple elements to a list",
    ),
    spec(
        "rpush",
        -3,
        WF,
        rpush,
        "1.0.0",
        "Append one or multiple elements to a list",
    ),
    spec(
        "lpushx",
        -3,
        WF,
        lpushx,
        "2.2.0",
        "Prepend an element to a list, only if the list exists",
    ),
    spec(
        "rpushx",
        -3,
        WF,
        rpushx,
        "2.2.0",
        "Append an element to a list, only if the list exists",
    ),
    spec(
        "lpop",
        -2,
        Flags::WRITE.with(Flags::FAST),
        lpop,
        "1.0.0",
        "Remove and get the first elements in a list",
    ),
    spec(
        "rpop",
        -2,
        Flags::WRITE.with(Flags::FAST),
        rpop,
        "1.0.0",
        "Remove and get the last elements in a list",
    ),
    spec("llen", 2, RF, llen, "1.0.0", "Get the length of a list"),
    spec(
        "lrange",
        4,
        Flags::READONLY,
        lrange,
        "1.0.0",
        "Get a range of elements from a list",
    ),
    spec(
        "lindex",
        3,
        Flags::READONLY,
        lindex,
        "1.0.0",
        "Get an element from a list by its index",
    ),
    spec(
        "lset",
        4,
        W,
        lset,
        "1.0.0",
        "Set the value of an element in a list by its index",
    ),
    spec(
        "lrem",
        4,
        Flags::WRITE,
        lrem,
        "1.0.0",
        "Remove elements from a list",
    ),
    spec(
        "ltrim",
        4,
        Flags::WRITE,
        ltrim,
        "1.0.0",
        "Trim a list to the specified range",
    ),
    spec(
        "linsert",
        5,
        W,
        linsert,
        "2.2.0",
        "Insert an element before or after another element in a list",
    ),
    spec(
        "lpos",
        -3,
        Flags::READONLY,
        lpos,
        "6.0.6",
        "Return the index of matching elements on a list",
    ),
];

/// Which end of a list an operation works on (Redis's LIST_HEAD / LIST_TAIL).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Left,
    Right,
}

impl End {
    /// `LEFT` / `RIGHT`, or a syntax error.
    pub(super) fn parse(word: &[u8]) -> Result<End, CmdError> {
        if word.eq_ignore_ascii_case(b"left") {
            Ok(End::Left)
        } else if word.eq_ignore_ascii_case(b"right") {
            Ok(End::Right)
        } else {
            Err(CmdError::Syntax)
        }
    }

    pub(super) fn push(self, list: &mut List, value: SmallBytes) {
        match self {
            End::Left => list.push_front(value),
            End::Right => list.push_back(value),
        }
    }

    pub(super) fn pop(self, list: &mut List) -> Option<SmallBytes> {
        match self {
            End::Left => list.pop_front(),
            End::Right => list.pop_back(),
        }
    }
}

/// The list at `key` for a write (None if missing), or WRONGTYPE.
pub(super) fn list_mut<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d mut List>, CmdError> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(v) => v.as_list_mut().map(Some),
    }
}

/// The list at `key` for a read, counted in keyspace hits/misses (None if missing).
fn list_read<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d List>, CmdError> {
    match db.read(key) {
        None => Ok(None),
        Some(v) => v.as_list().map(Some),
    }
}

/// Deletes `key` if popping left its list empty, and records the change.
pub(super) fn after_pop(db: &mut Db, key: &[u8], now_empty: bool) {
    if now_empty {
        db.remove(key);
    }
    db.modified(key);
}

/// Pops up to `count` elements from `end` of `list` and writes them as an array.
pub(super) fn pop_range(out: &mut resp::ReplyBuf, list: &mut List, end: End, count: usize) {
    let n = count.min(list.len());
    out.array(n);
    for _ in 0..n {
        let v = end.pop(list).expect("counted");
        out.bulk(&v);
    }
}

/// LPUSH / RPUSH / LPUSHX / RPUSHX: `create` says whether a missing key is created.
fn push_generic(ctx: &mut Ctx, args: &Args, end: End, create: bool) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let list = if create {
        // A new key signals clients blocked on it (see `Db::get_or_insert_with`).
        db.get_or_insert_with(key, Value::new_list).as_list_mut()?
    } else {
        match list_mut(&mut db, key)? {
            Some(list) => list,
            None => {
                ctx.out.int(0);
                return Ok(());
            }
        }
    };
    list.reserve(args.len() - 2);
    for value in args.iter_from(2) {
        end.push(list, SmallBytes::new(value));
    }
    let len = list.len();
    db.modified(key);
    ctx.out.int(len as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Left, true)
}

fn rpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Right, true)
}

fn lpushx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Left, false)
}

fn rpushx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Right, false)
}

/// Redis's `getPositiveLongFromObjectOrReply` (zero allowed, one error for all).
fn positive_count(arg: &[u8]) -> Result<usize, CmdError> {
    parse_i64(arg)
        .filter(|&n| n >= 0)
        .map(|n| n as usize)
        .ok_or_else(|| CmdError::msg("ERR value is out of range, must be positive"))
}

/// LPOP / RPOP with an optional count (which turns the reply into an array).
fn pop_generic(ctx: &mut Ctx, args: &Args, end: End, name: &str) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Arity(name.to_string()));
    }
    let count = if args.len() == 3 {
        Some(positive_count(args.get(2))?)
    } else {
        None
    };
    let key = args.get(1);
    let mut db = ctx.db();
    let Some(list) = list_mut(&mut db, key)? else {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    match count {
        Some(0) => {
            ctx.out.array(0);
            return Ok(());
        }
        Some(n) => pop_range(ctx.out, list, end, n),
        None => {
            let v = end.pop(list).expect("stored lists are never empty");
            ctx.out.bulk(&v);
        }
    }
    let now_empty = list.is_empty();
    after_pop(&mut db, key, now_empty);
    Ok(())
}

fn lpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    pop_generic(ctx, args, End::Left, "lpop")
}

fn rpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    pop_generic(ctx, args, End::Right, "rpop")
}

fn llen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let len = list_read(&mut db, args.get(1))?.map_or(0, |l| l.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// Turns a possibly negative index into a position, if it is inside a list of `len`.
fn position(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// Clamps LRANGE/LTRIM's start and end to an inclusive range; None when empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

fn lrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, end) = (args.i64(2)?, args.i64(3)?);
    let mut db = ctx.db();
    let Some(list) = list_read(&mut db, args.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    match clamp_range(start, end, list.len()) {
        None => ctx.out.array(0),
        Some((start, end)) => {
            ctx.out.array(end - start + 1);
            for v in list.range(start..=end) {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, end) = (args.i64(2)?, args.i64(3)?);
    let key = args.get(1);
    let mut db = ctx.db();
    let Some(list) = list_mut(&mut db, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    match clamp_range(start, end, list.len()) {
        None => list.clear(),
        Some((start, end)) => {
            list.truncate(end + 1);
            list.drain(..start);
        }
    }
    let now_empty = list.is_empty();
    after_pop(&mut db, key, now_empty);
    ctx.out.ok();
    Ok(())
}

fn lindex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let Some(list) = list_read(&mut db, args.get(1))? else {
        ctx.out.null();
        return Ok(());
    };
    let index = args.i64(2)?;
    match position(index, list.len()) {
        Some(i) => ctx.out.bulk(&list[i]),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let list = list_mut(&mut db, key)?.ok_or(CmdError::NoSuchKey)?;
    let index = args.i64(2)?;
    let i = position(index, list.len()).ok_or(CmdError::OutOfRange)?;
    list[i] = SmallBytes::new(args.get(3));
    db.modified(key);
    ctx.out.ok();
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let count = args.i64(2)?;
    let (key, value) = (args.get(1), args.get(3));
    let mut db = ctx.db();
    let Some(list) = list_mut(&mut db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let limit = count.unsigned_abs() as usize;
    // Removing the last `limit` matches from the tail = keeping the first ones.
    let mut keep_first = 0;
    if count < 0 {
        let matches = list.iter().filter(|e| e.as_slice() == value).count();
        keep_first = matches.saturating_sub(limit);
    }
    let mut removed = 0;
    list.retain(|e| {
        if e.as_slice() != value {
            return true;
        }
        if keep_first > 0 {
            keep_first -= 1;
            return true;
        }
        if limit != 0 && removed == limit {
            return true;
        }
        removed += 1;
        false
    });
    if removed > 0 {
        let now_empty = list.is_empty();
        after_pop(&mut db, key, now_empty);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn linsert(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let after = if args.is(2, "after") {
        true
    } else if args.is(2, "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = args.get(1);
    let mut db = ctx.db();
    let Some(list) = list_mut(&mut db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let pivot = args.get(3);
    let Some(at) = list.iter().position(|e| e.as_slice() == pivot) else {
        ctx.out.int(-1);
        return Ok(());
    };
    list.insert(at + after as usize, SmallBytes::new(args.get(4)));
    let len = list.len();
    db.modified(key);
    ctx.out.int(len as i64);
    Ok(())
}

/// LPOS options: RANK (negative searches from the tail), COUNT (None: reply one index),
/// MAXLEN (0: no limit).
struct LposOptions {
    rank: i64,
    count: Option<i64>,
    maxlen: i64,
}

fn parse_lpos_options(args: &Args) -> Result<LposOptions, CmdError> {
    let mut o = LposOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut i = 3;
    while i < args.len() {
        let known = ["rank", "count", "maxlen"].iter().any(|w| args.is(i, w));
        if !known || i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let v = args.i64(i + 1)?;
        if args.is(i, "rank") {
            if v == 0 {
                return Err(CmdError::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
            o.rank = v;
        } else if v < 0 {
            let what = if args.is(i, "count") {
                "COUNT"
            } else {
                "MAXLEN"
            };
            return Err(CmdError::msg(format!("ERR {what} can't be negative")));
        } else if args.is(i, "count") {
            o.count = Some(v);
        } else {
            o.maxlen = v;
        }
        i += 2;
    }
    Ok(o)
}

/// Indexes of the matches LPOS reports, scanning from the head or (negative rank) the
/// tail. Arithmetic wraps like Redis's C longs, so RANK -2^63 behaves as in Redis.
fn lpos_matches(list: &List, value: &[u8], o: &LposOptions) -> Vec<i64> {
    let from_tail = o.rank < 0;
    let rank = if from_tail {
        o.rank.wrapping_neg()
    } else {
        o.rank
    };
    let len = list.len();
    let scan = if o.maxlen == 0 {
        len
    } else {
        len.min(o.maxlen as usize)
    };
    let wanted = o.count.unwrap_or(1);
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    for step in 0..scan {
        let index = if from_tail { len - 1 - step } else { step };
        if list[index].as_slice() != value {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(index as i64);
            let reached = matches.wrapping_sub(rank).wrapping_add(1) >= wanted;
            if wanted != 0 && reached {
                break;
            }
        }
    }
    found
}

fn lpos(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let o = parse_lpos_options(args)?;
    let mut db = ctx.db();
    let Some(list) = list_read(&mut db, args.get(1))? else {
        match o.count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let found = lpos_matches(list, args.get(2), &o);
    match (o.count, found.first()) {
        (Some(_), _) => {
            ctx.out.array(found.len());
            found.iter().for_each(|&i| ctx.out.int(i));
        }
        (None, Some(&i)) => ctx.out.int(i),
        (None, None) => ctx.out.null(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(0, -4, 3), None);
        assert_eq!(position(-1, 3), Some(2));
        assert_eq!(position(-4, 3), None);
        assert_eq!(position(3, 3), None);
    }
}
