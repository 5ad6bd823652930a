//! Generic key commands (Redis's `db.c`): existence, deletion, types, renaming,
//! copying and moving between databases, iteration and flushing.

use std::cell::RefMut;

use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::{Db, SmallBytes};
use crate::glob::glob_match;

const RF: Flags = Flags::READONLY.with(Flags::FAST);
const WF: Flags = Flags::WRITE.with(Flags::FAST);

/// ACL categories of a key command: keyspace, read or write, fast or slow.
const fn acl_for(flags: Flags) -> &'static [&'static str] {
    match (flags.has(Flags::WRITE), flags.has(Flags::FAST)) {
        (true, true) => &["keyspace", "write", "fast"],
        (true, false) => &["keyspace", "write", "slow"],
        (false, true) => &["keyspace", "read", "fast"],
        (false, false) => &["keyspace", "read", "slow"],
    }
}

/// A generic command with one key at position 1 (override with `.keys(...)`).
pub(super) const fn spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    handler: super::Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, handler)
        .keys(1, 1, 1)
        .acl(acl_for(flags))
        .doc("generic", since, summary)
}

pub const COMMANDS: &[CommandSpec] = &[
    spec("del", -2, Flags::WRITE, del, "1.0.0", "Delete a key").keys(1, -1, 1),
    spec("unlink", -2, WF, del, "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.").keys(1, -1, 1),
    spec("exists", -2, RF, exists, "1.0.0", "Determine if a key exists").keys(1, -1, 1),
    spec("touch", -2, RF, touch, "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified.").keys(1, -1, 1),
    spec("type", 2, RF, key_type, "1.0.0", "Determine the type stored at key"),
    spec("rename", 3, Flags::WRITE, rename, "1.0.0", "Rename a key").keys(1, 2, 1),
    spec("renamenx", 3, WF, renamenx, "1.0.0", "Rename a key, only if the new key does not exist").keys(1, 2, 1),
    spec("copy", -3, Flags::WRITE.with(Flags::DENYOOM), copy, "6.2.0", "Copy a key").keys(1, 2, 1),
    spec("move", 3, WF, move_key, "1.0.0", "Move a key to another database"),
    spec("swapdb", 3, WF, swapdb, "4.0.0", "Swaps two Redis databases").keys(0, 0, 0).acl(&["keyspace", "write", "fast", "dangerous"]),
    spec("keys", 2, Flags::READONLY, keys, "1.0.0", "Find all keys matching the given pattern").keys(0, 0, 0).acl(&["keyspace", "read", "slow", "dangerous"]),
    spec("scan", -2, Flags::READONLY, scan, "2.8.0", "Incrementally iterate the keys space").keys(0, 0, 0),
    spec("randomkey", 1, Flags::READONLY, randomkey, "1.0.0", "Return a random key from the keyspace").keys(0, 0, 0),
    spec("dbsize", 1, RF, dbsize, "1.0.0", "Return the number of keys in the selected database").keys(0, 0, 0),
    spec("flushdb", -1, Flags::WRITE, flushdb, "1.0.0", "Remove all keys from the current database").keys(0, 0, 0).acl(&["keyspace", "write", "slow", "dangerous"]),
    spec("flushall", -1, Flags::WRITE, flushall, "1.0.0", "Remove all keys from all databases").keys(0, 0, 0).acl(&["keyspace", "write", "slow", "dangerous"]),
];

fn del(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let mut n = 0;
    for key in args.iter_from(1) {
        if db.get(key).is_some() {
            db.remove(key);
            db.modified(key);
            n += 1;
        }
    }
    drop(db);
    ctx.out.int(n);
    Ok(())
}

/// EXISTS and TOUCH: how many of the keys exist (each read counts in the stats).
fn count_existing(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let n = args.iter_from(1).filter(|k| db.read(k).is_some()).count();
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    count_existing(ctx, args)
}

fn touch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    count_existing(ctx, args)
}

fn key_type(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let name = db.get(args.get(1)).map_or("none", |v| v.type_name());
    drop(db);
    ctx.out.simple(name.as_bytes());
    Ok(())
}

/// What RENAME / RENAMENX did, for their different replies.
enum Renamed {
    Done,
    DestinationExists,
}

/// Redis's `renameGenericCommand`: the value and its TTL move to `dst`.
fn rename_generic(db: &mut Db, src: &[u8], dst: &[u8], nx: bool) -> Result<Renamed, CmdError> {
    if db.get(src).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        return Ok(if nx {
            Renamed::DestinationExists
        } else {
            Renamed::Done
        });
    }
    if nx && db.get(dst).is_some() {
        return Ok(Renamed::DestinationExists);
    }
    let ttl = db.expire_at(src);
    let value = db.remove(src).expect("checked above");
    db.set(dst, value);
    if let Some(at) = ttl {
        db.set_expire(dst, at);
    }
    db.modified(src);
    db.touch_watched(dst);
    Ok(Renamed::Done)
}

fn rename(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    rename_generic(&mut db, args.get(1), args.get(2), false)?;
    drop(db);
    ctx.out.ok();
    Ok(())
}

fn renamenx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let done = rename_generic(&mut db, args.get(1), args.get(2), true)?;
    drop(db);
    ctx.out.int(matches!(done, Renamed::Done) as i64);
    Ok(())
}

/// Parses a database index the way `getIntFromObjectOrReply` does, then checks range.
fn db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, CmdError> {
    let v = super::args::parse_i64(arg).ok_or(CmdError::NotInteger)?;
    if i32::try_from(v).is_err() {
        return Err(CmdError::msg(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    usize::try_from(v)
        .ok()
        .filter(|&i| i < ctx.srv.dbs.len())
        .ok_or_else(|| CmdError::msg("ERR DB index is out of range"))
}

fn same_object() -> CmdError {
    CmdError::msg("ERR source and destination objects are the same")
}

/// Another database than the client's, with its clock brought up to date.
fn other_db<'a>(ctx: &Ctx<'a>, index: usize) -> RefMut<'a, Db> {
    let mut db = ctx.srv.dbs[index].borrow_mut();
    db.now_ms = crate::clock::now_ms();
    db
}

/// Serves clients blocked on keys of another database that a command filled
/// (dispatch serves only the client's own database).
fn serve_other_db(ctx: &Ctx, index: usize) {
    if index != ctx.client.db && !ctx.srv.dbs[index].borrow().ready_keys.is_empty() {
        crate::blocking::serve_ready_keys(ctx.srv, index);
    }
}

fn move_key(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.srv.cluster.is_some() {
        return Err(CmdError::msg("ERR MOVE is not allowed in cluster mode"));
    }
    let target = db_index(ctx, args.get(2))?;
    if target == ctx.client.db {
        return Err(same_object());
    }
    let key = args.get(1);
    let mut src = ctx.db();
    if src.get(key).is_none() {
        drop(src);
        ctx.out.int(0);
        return Ok(());
    }
    let mut dst = other_db(ctx, target);
    if dst.get(key).is_some() {
        drop((src, dst));
        ctx.out.int(0);
        return Ok(());
    }
    let ttl = src.expire_at(key);
    let value = src.remove(key).expect("checked above");
    dst.set(key, value);
    if let Some(at) = ttl {
        dst.set_expire(key, at);
    }
    src.modified(key);
    dst.modified(key);
    drop((src, dst));
    serve_other_db(ctx, target);
    ctx.out.int(1);
    Ok(())
}

fn copy(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut replace = false;
    let mut target = ctx.client.db;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "replace") {
            replace = true;
        } else if args.is(i, "db") && i + 1 < args.len() {
            target = db_index(ctx, args.get(i + 1))?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if ctx.srv.cluster.is_some() && target != 0 {
        return Err(CmdError::msg(
            "ERR Copying to another database is not allowed in cluster mode",
        ));
    }
    let (key, new_key) = (args.get(1), args.get(2));
    if target == ctx.client.db && key == new_key {
        return Err(same_object());
    }
    let mut src = ctx.db();
    let Some(value) = src.read(key).map(|v| v.deep_clone()) else {
        drop(src);
        ctx.out.int(0);
        return Ok(());
    };
    let ttl = src.expire_at(key);
    let mut other = (target != ctx.client.db).then(|| other_db(ctx, target));
    let dst: &mut Db = match other.as_mut() {
        Some(d) => d,
        None => &mut src,
    };
    if dst.get(new_key).is_some() && !replace {
        drop((src, other));
        ctx.out.int(0);
        return Ok(());
    }
    dst.set(new_key, value);
    if let Some(at) = ttl {
        dst.set_expire(new_key, at);
    }
    dst.modified(new_key);
    drop((src, other));
    serve_other_db(ctx, target);
    ctx.out.int(1);
    Ok(())
}

/// SWAPDB's index argument, with its own error wording.
fn swap_index(arg: &[u8], which: &str) -> Result<i64, CmdError> {
    super::args::parse_i64(arg)
        .filter(|v| i32::try_from(*v).is_ok())
        .ok_or_else(|| CmdError::msg(format!("ERR invalid {which} DB index")))
}

fn swapdb(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.srv.cluster.is_some() {
        return Err(CmdError::msg("ERR SWAPDB is not allowed in cluster mode"));
    }
    let a = swap_index(args.get(1), "first")?;
    let b = swap_index(args.get(2), "second")?;
    let n = ctx.srv.dbs.len() as i64;
    if !(0..n).contains(&a) || !(0..n).contains(&b) {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        let mut da = other_db(ctx, a);
        let mut db = other_db(ctx, b);
        da.swap_keyspace(&mut db);
        da.add_dirty(1);
        drop((da, db));
        serve_other_db(ctx, a);
        serve_other_db(ctx, b);
    }
    // Redis propagates SWAPDB even when both indexes are the same.
    ctx.force_propagation();
    ctx.out.ok();
    Ok(())
}

fn keys(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let pattern = args.get(1);
    let all = pattern == b"*";
    let db = ctx.db();
    let found: Vec<&SmallBytes> = db
        .iter()
        .map(|(k, _)| k)
        .filter(|k| all || glob_match(pattern, k, false))
        .collect();
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// SCAN's MATCH / COUNT / TYPE options.
struct ScanOptions<'a> {
    pattern: Option<&'a [u8]>,
    count: usize,
    type_name: Option<&'a [u8]>,
}

fn parse_scan_options<'a>(args: &Args<'a>, from: usize) -> Result<ScanOptions<'a>, CmdError> {
    let mut o = ScanOptions {
        pattern: None,
        count: 10,
        type_name: None,
    };
    let mut i = from;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let value = args.get(i + 1);
        if args.is(i, "count") {
            let n = args.i64(i + 1)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = n as usize;
        } else if args.is(i, "match") {
            o.pattern = Some(value).filter(|p| *p != b"*");
        } else if args.is(i, "type") {
            o.type_name = Some(value);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = super::collection::parse_cursor(args.get(1))?;
    let opts = parse_scan_options(args, 2)?;
    let mut db = ctx.db();
    let mut found: Vec<SmallBytes> = Vec::new();
    let next = db.scan(cursor, opts.count, |k, v| {
        let type_ok = opts
            .type_name
            .is_none_or(|t| t.eq_ignore_ascii_case(v.type_name().as_bytes()));
        if type_ok && opts.pattern.is_none_or(|p| glob_match(p, k, false)) {
            found.push(k.clone());
        }
    });
    drop(db);
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let rand = ctx.srv.random();
    let key = ctx.db().random_key(rand);
    match key {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// FLUSHDB / FLUSHALL take an optional ASYNC or SYNC (both flush at once here).
fn check_flush_args(args: &Args) -> CmdResult {
    match args.len() {
        1 => Ok(()),
        2 if args.is(1, "async") || args.is(1, "sync") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

fn flush(db: &mut Db) {
    let n = db.clear();
    db.add_dirty(n as u64);
}

fn flushdb(ctx: &mut Ctx, args: &Args) -> CmdResult {
    check_flush_args(args)?;
    flush(&mut ctx.db());
    ctx.force_propagation();
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: &Args) -> CmdResult {
    check_flush_args(args)?;
    for db in &ctx.srv.dbs {
        flush(&mut db.borrow_mut());
    }
    ctx.force_propagation();
    ctx.out.ok();
    Ok(())
}
