//! List moves and multi-key pops (Redis's `t_list.c`): LMOVE, RPOPLPUSH, LMPOP and the
//! blocking forms BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP, which wait via `block_on`.

use std::ops::Range;

use super::args::{parse_f64, parse_i64};
use super::list::{after_pop, list_mut, pop_range, spec, End};
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::{Db, Value};

const W: Flags = Flags::WRITE.with(Flags::DENYOOM);
const BLOCKING: Flags = Flags::WRITE.with(Flags::NOSCRIPT).with(Flags::BLOCKING);

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "lmove",
        5,
        W,
        lmove,
        "6.2.0",
        "Pop an element from a list, push it to another list and return it",
    )
    .keys(1, 2, 1),
    spec(
        "rpoplpush",
        3,
        W,
        rpoplpush,
        "1.2.0",
        "Remove the last element in a list, prepend it to another list and return it",
    )
    .keys(1, 2, 1),
    spec(
        "lmpop",
        -4,
        Flags::WRITE,
        lmpop,
        "7.0.0",
        "Pop elements from a list",
    )
    .keys_fn(lmpop_keys),
    spec(
        "blpop",
        -3,
        BLOCKING,
        blpop,
        "2.0.0",
        "Remove and get the first element in a list, or block until one is available",
    )
    .keys(1, -2, 1),
    spec(
        "brpop",
        -3,
        BLOCKING,
        brpop,
        "2.0.0",
        "Remove and get the last element in a list, or block until one is available",
    )
    .keys(1, -2, 1),
    spec(
        "blmove",
        6,
        BLOCKING.with(Flags::DENYOOM),
        blmove,
        "6.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
    )
    .keys(1, 2, 1),
    spec(
        "brpoplpush",
        4,
        BLOCKING.with(Flags::DENYOOM),
        brpoplpush,
        "2.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
    )
    .keys(1, 2, 1),
    spec(
        "blmpop",
        -5,
        Flags::WRITE.with(Flags::BLOCKING),
        blmpop,
        "7.0.0",
        "Pop elements from a list or block until one is available",
    )
    .keys_fn(blmpop_keys),
];

/// Deadlines further away than this (about year 3085) never fire: Redis 7.0 lets such
/// timeouts overflow instead of rejecting them, and the client then waits forever.
const FAR_FUTURE_MS: u64 = 1 << 45;

/// Parses a blocking command's timeout in seconds into an absolute deadline in Unix
/// ms (None: wait forever), with Redis's errors.
fn parse_timeout(arg: &[u8]) -> Result<Option<u64>, CmdError> {
    let secs = parse_f64(arg)
        .ok_or_else(|| CmdError::msg("ERR timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // C's cast of an out-of-range value gives i64::MIN on x86, hence "negative".
    let ms = if ms.is_finite() && ms.abs() < 9.2e18 {
        ms as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    let at = crate::clock::now_ms().saturating_add(ms as u64);
    Ok(Some(at).filter(|&at| at < FAR_FUTURE_MS))
}

/// True while a blocked client's command runs again on its behalf. Keys of another
/// type are then skipped instead of failing: Redis only serves list waiters from keys
/// that hold lists, so such a client keeps waiting.
fn serving_blocked(ctx: &Ctx) -> bool {
    ctx.client.shared.blocked.get()
}

/// Whether `key` holds a non-empty list; WRONGTYPE unless `skip_wrong`.
fn has_items(db: &mut Db, key: &[u8], skip_wrong: bool) -> Result<bool, CmdError> {
    match db.get(key).map(Value::as_list) {
        None => Ok(false),
        Some(Ok(list)) => Ok(!list.is_empty()),
        Some(Err(_)) if skip_wrong => Ok(false),
        Some(Err(e)) => Err(e),
    }
}

/// Waits for any of the keys at `keys` (deduplicated) until `deadline`.
fn block(ctx: &mut Ctx, args: &Args, keys: Range<usize>, deadline: Option<u64>) {
    let mut wanted: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
    for key in keys.map(|i| args.get(i)) {
        if !wanted.iter().any(|k| k == key) {
            wanted.push(key.to_vec());
        }
    }
    ctx.block_on(wanted, deadline);
}

/// Pops from the first key in `keys` holding a non-empty list and replies
/// `[key, element]` (BLPOP) or, with a count, `[key, [elements…]]` (LMPOP).
/// Returns false, writing nothing, if every list is missing or empty.
fn pop_first(
    ctx: &mut Ctx,
    args: &Args,
    keys: Range<usize>,
    end: End,
    count: Option<usize>,
) -> Result<bool, CmdError> {
    let skip_wrong = serving_blocked(ctx);
    let mut db = ctx.db();
    for key in keys.map(|i| args.get(i)) {
        if !has_items(&mut db, key, skip_wrong)? {
            continue;
        }
        let list = list_mut(&mut db, key)?.expect("checked above");
        let popped = count.map(|n| n.min(list.len()));
        ctx.out.array(2);
        ctx.out.bulk(key);
        match popped {
            Some(n) => pop_range(ctx.out, list, end, n),
            None => ctx.out.bulk(&end.pop(list).expect("non-empty")),
        }
        let now_empty = list.is_empty();
        after_pop(&mut db, key, now_empty);
        drop(db);
        propagate_pop(ctx, key, end, popped);
        return Ok(true);
    }
    Ok(false)
}

/// What BLPOP / LMPOP propagate, as Redis: `LPOP key` (or RPOP), with the number of
/// elements actually popped for the counted forms. Replaying the blocking or
/// multi-key form could pick another key.
fn propagate_pop(ctx: &mut Ctx, key: &[u8], end: End, popped: Option<usize>) {
    let name: &[u8] = match end {
        End::Left => b"LPOP",
        End::Right => b"RPOP",
    };
    match popped {
        Some(n) => ctx.propagate_one(&[name, key, n.to_string().as_bytes()]),
        None => ctx.propagate_one(&[name, key]),
    }
}

/// Moves one element from the `from` end of the list at argument 1 to the `to` end of
/// the list at argument 2 and replies with it. Returns false, writing nothing, if the
/// source list is missing.
fn move_element(ctx: &mut Ctx, args: &Args, from: End, to: End) -> Result<bool, CmdError> {
    let (src, dst) = (args.get(1), args.get(2));
    let skip_wrong = serving_blocked(ctx);
    let mut db = ctx.db();
    if !has_items(&mut db, src, skip_wrong)? {
        return Ok(false);
    }
    // The destination's type is checked before anything changes.
    if src != dst {
        if let Some(v) = db.get(dst) {
            v.as_list()?;
        }
    }
    let list = list_mut(&mut db, src)?.expect("checked above");
    let value = from.pop(list).expect("non-empty");
    ctx.out.bulk(&value);
    if src == dst {
        to.push(list, value);
    } else {
        let now_empty = list.is_empty();
        after_pop(&mut db, src, now_empty);
        // A new destination key wakes clients blocked on it (BLMOVE chains).
        let target = db.get_or_insert_with(dst, Value::new_list).as_list_mut()?;
        to.push(target, value);
    }
    db.modified(dst);
    Ok(true)
}

fn lmove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (from, to) = (End::parse(args.get(3))?, End::parse(args.get(4))?);
    if !move_element(ctx, args, from, to)? {
        ctx.out.null();
    }
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if !move_element(ctx, args, End::Right, End::Left)? {
        ctx.out.null();
    }
    Ok(())
}

/// BLMOVE / BRPOPLPUSH once the directions and deadline are known.
fn blmove_generic(
    ctx: &mut Ctx,
    args: &Args,
    from: End,
    to: End,
    deadline: Option<u64>,
) -> CmdResult {
    if move_element(ctx, args, from, to)? {
        // Served from data: the non-blocking form, which cannot block on replay.
        if args.is(0, "brpoplpush") {
            ctx.propagate_one(&[b"RPOPLPUSH", args.get(1), args.get(2)]);
        } else {
            ctx.propagate_one(&[b"LMOVE", args.get(1), args.get(2), args.get(3), args.get(4)]);
        }
        return Ok(());
    }
    if ctx.client.in_exec {
        // Unlike the other blocking pops, Redis answers a null bulk here.
        ctx.out.null();
    } else {
        block(ctx, args, 1..2, deadline);
    }
    Ok(())
}

fn blmove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (from, to) = (End::parse(args.get(3))?, End::parse(args.get(4))?);
    let deadline = parse_timeout(args.get(5))?;
    blmove_generic(ctx, args, from, to, deadline)
}

fn brpoplpush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let deadline = parse_timeout(args.get(3))?;
    blmove_generic(ctx, args, End::Right, End::Left, deadline)
}

/// BLPOP / BRPOP: keys, then the timeout last.
fn bpop_generic(ctx: &mut Ctx, args: &Args, end: End) -> CmdResult {
    let last = args.len() - 1;
    let deadline = parse_timeout(args.get(last))?;
    if !pop_first(ctx, args, 1..last, end, None)? {
        block(ctx, args, 1..last, deadline);
    }
    Ok(())
}

fn blpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bpop_generic(ctx, args, End::Left)
}

fn brpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    bpop_generic(ctx, args, End::Right)
}

/// LMPOP's arguments from `numkeys` on: the key positions, the end and the count.
struct Mpop {
    keys: Range<usize>,
    end: End,
    count: usize,
}

fn parse_mpop(args: &Args, numkeys_at: usize) -> Result<Mpop, CmdError> {
    let numkeys = parse_i64(args.get(numkeys_at))
        .filter(|&n| n > 0)
        .ok_or_else(|| CmdError::msg("ERR numkeys should be greater than 0"))?;
    let first = numkeys_at + 1;
    let where_at = (first as i64).saturating_add(numkeys);
    if where_at >= args.len() as i64 {
        return Err(CmdError::Syntax);
    }
    let where_at = where_at as usize;
    let end = End::parse(args.get(where_at))?;
    let mut count = None;
    let mut i = where_at + 1;
    while i < args.len() {
        if count.is_some() || !args.is(i, "count") || i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let n = parse_i64(args.get(i + 1))
            .filter(|&n| n > 0)
            .ok_or_else(|| CmdError::msg("ERR count should be greater than 0"))?;
        count = Some(n as usize);
        i += 2;
    }
    Ok(Mpop {
        keys: first..where_at,
        end,
        count: count.unwrap_or(1),
    })
}

fn lmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let m = parse_mpop(args, 1)?;
    if !pop_first(ctx, args, m.keys, m.end, Some(m.count))? {
        ctx.out.null_array();
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let m = parse_mpop(args, 2)?;
    let deadline = parse_timeout(args.get(1))?;
    if !pop_first(ctx, args, m.keys.clone(), m.end, Some(m.count))? {
        block(ctx, args, m.keys, deadline);
    }
    Ok(())
}

/// Key positions of a command with `numkeys` at `at` followed by the keys.
fn numkeys_positions(args: &Args, at: usize) -> Vec<usize> {
    let n = parse_i64(args.get(at)).unwrap_or(0).max(0) as usize;
    (at + 1..args.len()).take(n).collect()
}

fn lmpop_keys(args: &Args) -> Vec<usize> {
    numkeys_positions(args, 1)
}

fn blmpop_keys(args: &Args) -> Vec<usize> {
    numkeys_positions(args, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis_rules() {
        assert_eq!(parse_timeout(b"0"), Ok(None));
        assert_eq!(parse_timeout(b"-0.0001"), Ok(None));
        assert!(parse_timeout(b"0.5").unwrap().is_some());
        assert_eq!(parse_timeout(b"9223372036854"), Ok(None));
        let negative = Err(CmdError::msg("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"-1"), negative);
        assert_eq!(parse_timeout(b"inf"), negative);
        assert_eq!(parse_timeout(b"1e400"), negative);
        assert_eq!(
            parse_timeout(b"x"),
            Err(CmdError::msg("ERR timeout is not a float or out of range"))
        );
    }
}
