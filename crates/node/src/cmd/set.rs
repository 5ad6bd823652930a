//! Set commands (Redis's `t_set.c`): membership, random pops and picks, SMOVE, the
//! intersection/union/difference algebra (plain, STORE and SINTERCARD) and SSCAN.

use super::collection::{self, ScanOpts};
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx, OwnedArgs};
use crate::db::{Db, HashSet, SmallBytes, Value};

type Members = HashSet<SmallBytes>;

const R: Flags = Flags::READONLY;
const RF: Flags = R.with(Flags::FAST);
const WF: Flags = Flags::WRITE.with(Flags::FAST);
const WD: Flags = Flags::WRITE.with(Flags::DENYOOM);

super::table::family_spec!(keyed, "set", "set");

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "sadd",
        -3,
        WD.with(Flags::FAST),
        sadd,
        "1.0.0",
        "Add one or more members to a set",
    ),
    spec(
        "srem",
        -3,
        WF,
        srem,
        "1.0.0",
        "Remove one or more members from a set",
    ),
    spec(
        "smembers",
        2,
        R,
        smembers,
        "1.0.0",
        "Get all the members in a set",
    ),
    spec(
        "sismember",
        3,
        RF,
        sismember,
        "1.0.0",
        "Determine if a given value is a member of a set",
    ),
    spec(
        "smismember",
        -3,
        RF,
        smismember,
        "6.2.0",
        "Returns the membership associated with the given elements for a set",
    ),
    spec(
        "scard",
        2,
        RF,
        scard,
        "1.0.0",
        "Get the number of members in a set",
    ),
    spec(
        "spop",
        -2,
        WF,
        spop,
        "1.0.0",
        "Remove and return one or multiple random members from a set",
    ),
    spec(
        "srandmember",
        -2,
        R,
        srandmember,
        "1.0.0",
        "Get one or multiple random members from a set",
    ),
    spec(
        "smove",
        4,
        WF,
        smove,
        "1.0.0",
        "Move a member from one set to another",
    )
    .keys(1, 2, 1),
    spec("sinter", -2, R, sinter, "1.0.0", "Intersect multiple sets").keys(1, -1, 1),
    spec("sunion", -2, R, sunion, "1.0.0", "Add multiple sets").keys(1, -1, 1),
    spec("sdiff", -2, R, sdiff, "1.0.0", "Subtract multiple sets").keys(1, -1, 1),
    spec(
        "sinterstore",
        -3,
        WD,
        sinterstore,
        "1.0.0",
        "Intersect multiple sets and store the resulting set in a key",
    )
    .keys(1, -1, 1),
    spec(
        "sunionstore",
        -3,
        WD,
        sunionstore,
        "1.0.0",
        "Add multiple sets and store the resulting set in a key",
    )
    .keys(1, -1, 1),
    spec(
        "sdiffstore",
        -3,
        WD,
        sdiffstore,
        "1.0.0",
        "Subtract multiple sets and store the resulting set in a key",
    )
    .keys(1, -1, 1),
    spec(
        "sintercard",
        -3,
        R,
        sintercard,
        "7.0.0",
        "Intersect multiple sets and return the cardinality of the result",
    )
    .keys(0, 0, 0)
    .keys_fn(sintercard_keys),
    spec(
        "sscan",
        -3,
        R,
        sscan,
        "2.8.0",
        "Incrementally iterate Set elements",
    ),
];

/// The set at `key` for a read (None if missing), or WRONGTYPE.
fn read_set<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d Members>, CmdError> {
    db.read(key).map(Value::as_set).transpose()
}

fn sadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let set = db.get_or_insert_with(key, Value::new_set).as_set_mut()?;
    let added = args
        .iter_from(2)
        .filter(|m| set.insert(SmallBytes::new(m)))
        .count();
    if added > 0 {
        db.modified(key);
    }
    drop(db);
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let removed = match db.get_mut(key) {
        None => 0,
        Some(v) => {
            let set = v.as_set_mut()?;
            args.iter_from(2).filter(|m| set.swap_remove(*m)).count()
        }
    };
    if removed > 0 {
        db.remove_if_empty(key);
        db.modified(key);
    }
    drop(db);
    ctx.out.int(removed as i64);
    Ok(())
}

fn smembers(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, SetOp::Inter, 1, None)
}

fn sismember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let found = read_set(&mut db, args.get(1))?.is_some_and(|s| s.contains(args.get(2)));
    drop(db);
    ctx.out.int(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let set = read_set(&mut db, args.get(1))?;
    ctx.out.array(args.len() - 2);
    for m in args.iter_from(2) {
        ctx.out.int(set.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let n = read_set(&mut db, args.get(1))?.map_or(0, |s| s.len());
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match args.len() {
        2 => spop_one(ctx, args.get(1)),
        3 => spop_count(ctx, args),
        _ => Err(CmdError::Syntax),
    }
}

fn spop_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let srv = ctx.srv;
    let mut db = ctx.db();
    let Some(v) = db.get_mut(key) else {
        drop(db);
        ctx.out.null();
        return Ok(());
    };
    let set = v.as_set_mut()?;
    let i = (srv.random() % set.len() as u64) as usize;
    let member = set.swap_remove_index(i).expect("index below len");
    db.remove_if_empty(key);
    db.modified(key);
    drop(db);
    // A random pick replays as the removal it made.
    ctx.propagate_one(&[b"SREM", key, &member]);
    ctx.out.bulk(&member);
    Ok(())
}

fn spop_count(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let count = match super::args::parse_i64(args.get(2)) {
        Some(n) if n >= 0 => n as u64,
        _ => return Err(CmdError::msg("ERR value is out of range, must be positive")),
    };
    let key = args.get(1);
    let srv = ctx.srv;
    let mut db = ctx.db();
    let Some(v) = db.get_mut(key) else {
        ctx.out.set(0);
        return Ok(());
    };
    let set = v.as_set_mut()?;
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    if count >= set.len() as u64 {
        let whole = std::mem::take(set);
        db.remove(key);
        db.modified(key);
        drop(db);
        ctx.propagate_one(&[b"DEL", key]);
        reply_members(ctx, whole.iter());
        return Ok(());
    }
    let mut removals = SremBatches::new(ctx, key);
    ctx.out.set(count as usize);
    for _ in 0..count {
        let i = (srv.random() % set.len() as u64) as usize;
        let member = set.swap_remove_index(i).expect("index below len");
        ctx.out.bulk(&member);
        removals.push(&member);
    }
    db.modified(key);
    drop(db);
    removals.finish(ctx);
    Ok(())
}

/// The SREMs a counted SPOP propagates, at most [`SremBatches::BATCH`] members each
/// (nothing is collected when no one consumes the stream).
struct SremBatches<'k> {
    key: &'k [u8],
    on: bool,
    done: Vec<OwnedArgs>,
}

impl<'k> SremBatches<'k> {
    const BATCH: usize = 1024;

    fn new(ctx: &Ctx, key: &'k [u8]) -> Self {
        SremBatches {
            key,
            on: ctx.propagating(),
            done: Vec::new(),
        }
    }

    fn push(&mut self, member: &[u8]) {
        if !self.on {
            return;
        }
        let full = self
            .done
            .last()
            .is_none_or(|c| c.args().len() == 2 + Self::BATCH);
        if full {
            self.done
                .push(OwnedArgs::from_slices([&b"SREM"[..], self.key]));
        }
        self.done.last_mut().expect("just ensured").push(member);
    }

    fn finish(self, ctx: &mut Ctx) {
        if !self.done.is_empty() {
            ctx.propagate_as(self.done);
        }
    }
}

fn srandmember(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.len() {
        3 => Some(collection::parse_rand_count(args.get(2))?),
        _ => None,
    };
    let srv = ctx.srv;
    let mut db = ctx.db();
    let set = read_set(&mut db, args.get(1))?;
    let Some(count) = count else {
        match set {
            None => ctx.out.null(),
            Some(s) => {
                let i = (srv.random() % s.len() as u64) as usize;
                ctx.out.bulk(&s[i]);
            }
        }
        return Ok(());
    };
    let Some(set) = set.filter(|_| count != 0) else {
        ctx.out.array(0);
        return Ok(());
    };
    let picks = collection::random_indexes(set.len(), count, || srv.random());
    ctx.out.array(picks.len());
    for i in picks {
        ctx.out.bulk(&set[i]);
    }
    Ok(())
}

fn smove(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let mut db = ctx.db();
    // Redis looks both keys up first: a missing source wins over a wrong-type target.
    let has = db.get(src).map(|v| v.as_set().map(|s| s.contains(member)));
    let dst_is_set = db.get(dst).map(|v| v.as_set().is_ok());
    let moved = match has {
        None => false,
        Some(has) => {
            let has = has?;
            if dst_is_set == Some(false) {
                return Err(CmdError::WrongType);
            }
            if src == dst {
                has
            } else if has {
                move_member(&mut db, src, dst, member)?;
                true
            } else {
                false
            }
        }
    };
    drop(db);
    ctx.out.int(moved as i64);
    Ok(())
}

/// Moves `member` (known to be in `src`) to `dst`, deleting `src` if left empty.
fn move_member(db: &mut Db, src: &[u8], dst: &[u8], member: &[u8]) -> CmdResult {
    let taken = db
        .get_mut(src)
        .map(|v| v.as_set_mut().map(|s| s.swap_remove_full(member)));
    let Some(Ok(Some((_, member)))) = taken else {
        return Ok(());
    };
    db.remove_if_empty(src);
    db.modified(src);
    if db
        .get_or_insert_with(dst, Value::new_set)
        .as_set_mut()?
        .insert(member)
    {
        db.modified(dst);
    }
    Ok(())
}

/// Which set algebra a command computes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

fn sinter(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, SetOp::Inter, args.len() - 1, None)
}

fn sunion(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, SetOp::Union, args.len() - 1, None)
}

fn sdiff(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, SetOp::Diff, args.len() - 1, None)
}

fn sinterstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, SetOp::Inter, args.len() - 2, Some(args.get(1)))
}

fn sunionstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, SetOp::Union, args.len() - 2, Some(args.get(1)))
}

fn sdiffstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    combine(ctx, args, SetOp::Diff, args.len() - 2, Some(args.get(1)))
}

/// Looks up the `n` source sets (the last arguments), type-checking all of them before
/// anything else as Redis does; missing keys are None. STORE forms look up without
/// counting keyspace hits, like Redis's write lookups.
fn load_sets<'d, 'k>(
    db: &'d mut Db,
    keys: impl Iterator<Item = &'k [u8]> + Clone,
    count_hits: bool,
) -> Result<Vec<Option<&'d Members>>, CmdError> {
    for key in keys.clone() {
        let found = if count_hits {
            db.read(key)
        } else {
            db.get(key)
        };
        if let Some(v) = found {
            v.as_set()?;
        }
    }
    let db: &'d Db = db;
    Ok(keys
        .map(|k| db.peek(k).and_then(|v| v.as_set().ok()))
        .collect())
}

/// The members of `op` over `sets`; an intersection stops after `limit` (0: no limit).
fn compute<'s>(op: SetOp, sets: &[Option<&'s Members>], limit: usize) -> Vec<&'s SmallBytes> {
    match op {
        SetOp::Inter => {
            let Some(mut present) = sets.iter().copied().collect::<Option<Vec<_>>>() else {
                return Vec::new();
            };
            // Walk the smallest set, probing the others from small to large.
            present.sort_by_key(|s| s.len());
            let (&first, rest) = present.split_first().expect("at least one key");
            let limit = if limit == 0 { usize::MAX } else { limit };
            first
                .iter()
                .filter(|m| rest.iter().all(|s| s.contains(m.as_slice())))
                .take(limit)
                .collect()
        }
        SetOp::Union => {
            let all: HashSet<&SmallBytes> = sets
                .iter()
                .copied()
                .flatten()
                .flat_map(|s| s.iter())
                .collect();
            all.into_iter().collect()
        }
        SetOp::Diff => {
            let Some(first) = sets[0] else {
                return Vec::new();
            };
            let rest = &sets[1..];
            first
                .iter()
                .filter(|m| !rest.iter().flatten().any(|s| s.contains(m.as_slice())))
                .collect()
        }
    }
}

/// SINTER/SUNION/SDIFF and their STORE forms: the last `n` arguments are the sources.
fn combine(ctx: &mut Ctx, args: &Args, op: SetOp, n: usize, dst: Option<&[u8]>) -> CmdResult {
    let keys = (args.len() - n..args.len()).map(|i| args.get(i));
    let mut db = ctx.db();
    let sets = load_sets(&mut db, keys, dst.is_none())?;
    let result = compute(op, &sets, 0);
    let Some(dst) = dst else {
        reply_members(ctx, result.into_iter());
        return Ok(());
    };
    let owned: Members = result.into_iter().cloned().collect();
    let len = owned.len();
    if len > 0 {
        db.set(dst, Value::Set(Box::new(owned)));
        db.modified(dst);
    } else if db.remove(dst).is_some() {
        db.modified(dst);
    }
    drop(db);
    ctx.out.int(len as i64);
    Ok(())
}

/// Replies a set of members (`~` in RESP3).
fn reply_members<'m>(ctx: &mut Ctx, members: impl ExactSizeIterator<Item = &'m SmallBytes>) {
    ctx.out.set(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

/// SINTERCARD's numkeys argument, checked against the arguments present.
fn sintercard_numkeys(args: &Args) -> Result<usize, CmdError> {
    let n = match super::args::parse_i64(args.get(1)) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(CmdError::msg("ERR numkeys should be greater than 0")),
    };
    if n > (args.len() - 2) as u64 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

fn sintercard_keys(args: &Args) -> Vec<usize> {
    sintercard_numkeys(args).map_or(Vec::new(), |n| (2..2 + n).collect())
}

fn sintercard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let n = sintercard_numkeys(args)?;
    let mut limit = 0;
    let mut i = 2 + n;
    while i < args.len() {
        if !(args.is(i, "limit") && i + 1 < args.len()) {
            return Err(CmdError::Syntax);
        }
        limit = match super::args::parse_i64(args.get(i + 1)) {
            Some(l) if l >= 0 => l as usize,
            _ => return Err(CmdError::msg("ERR LIMIT can't be negative")),
        };
        i += 2;
    }
    let mut db = ctx.db();
    let sets = load_sets(&mut db, (2..2 + n).map(|i| args.get(i)), true)?;
    let card = compute(SetOp::Inter, &sets, limit).len();
    drop(db);
    ctx.out.int(card as i64);
    Ok(())
}

fn sscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = collection::parse_cursor(args.get(2))?;
    let mut db = ctx.db();
    let Some(set) = read_set(&mut db, args.get(1))? else {
        collection::reply_scan(ctx.out, 0, &[]);
        return Ok(());
    };
    let opts = ScanOpts::parse(args, 3)?;
    let mut items: Vec<&[u8]> = Vec::new();
    let next = collection::scan_indexes(set.len(), cursor, opts.count, |i| {
        let m = &set[i];
        if opts.matches(m) {
            items.push(m);
        }
    });
    collection::reply_scan(ctx.out, next, &items);
    Ok(())
}
