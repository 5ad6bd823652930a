//! Hash commands (Redis's `t_hash.c`): field reads and writes, counters, whole-hash
//! listings, HRANDFIELD and HSCAN.

use super::collection::{self, ScanOpts};
use super::string::format_float_value;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::{Db, HashMap, SmallBytes, Value};

type Fields = HashMap<SmallBytes, SmallBytes>;

/// Up to this many fields a deletion keeps the insertion order of the rest, as Redis's
/// listpack encoding does (512 is Redis 7.0's built-in `hash-max-listpack-entries`);
/// bigger hashes use the O(1) swap removal.
const ORDERED_DELETE_MAX: usize = 512;

const R: Flags = Flags::READONLY;
const RF: Flags = R.with(Flags::FAST);
const WF: Flags = Flags::WRITE.with(Flags::FAST);
const WDF: Flags = WF.with(Flags::DENYOOM);

super::table::family_spec!(keyed, "hash", "hash");

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "hset",
        -4,
        WDF,
        hset,
        "2.0.0",
        "Set the string value of a hash field",
    ),
    spec(
        "hsetnx",
        4,
        WDF,
        hsetnx,
        "2.0.0",
        "Set the value of a hash field, only if the field does not exist",
    ),
    spec(
        "hget",
        3,
        RF,
        hget,
        "2.0.0",
        "Get the value of a hash field",
    ),
    spec(
        "hmget",
        -3,
        RF,
        hmget,
        "2.0.0",
        "Get the values of all the given hash fields",
    ),
    spec(
        "hmset",
        -4,
        WDF,
        hmset,
        "2.0.0",
        "Set multiple hash fields to multiple values",
    ),
    spec(
        "hdel",
        -3,
        WF,
        hdel,
        "2.0.0",
        "Delete one or more hash fields",
    ),
    spec(
        "hgetall",
        2,
        R,
        hgetall,
        "2.0.0",
        "Get all the fields and values in a hash",
    ),
    spec(
        "hkeys",
        2,
        R,
        hkeys,
        "2.0.0",
        "Get all the fields in a hash",
    ),
    spec(
        "hvals",
        2,
        R,
        hvals,
        "2.0.0",
        "Get all the values in a hash",
    ),
    spec(
        "hlen",
        2,
        RF,
        hlen,
        "2.0.0",
        "Get the number of fields in a hash",
    ),
    spec(
        "hexists",
        3,
        RF,
        hexists,
        "2.0.0",
        "Determine if a hash field exists",
    ),
    spec(
        "hincrby",
        4,
        WDF,
        hincrby,
        "2.0.0",
        "Increment the integer value of a hash field by the given number",
    ),
    spec(
        "hincrbyfloat",
        4,
        WDF,
        hincrbyfloat,
        "2.6.0",
        "Increment the float value of a hash field by the given amount",
    ),
    spec(
        "hstrlen",
        3,
        RF,
        hstrlen,
        "3.2.0",
        "Get the length of the value of a hash field",
    ),
    spec(
        "hrandfield",
        -2,
        R,
        hrandfield,
        "6.2.0",
        "Get one or multiple random fields from a hash",
    ),
    spec(
        "hscan",
        -3,
        R,
        hscan,
        "2.8.0",
        "Incrementally iterate hash fields and associated values",
    ),
];

/// The hash at `key` for a read (None if missing), or WRONGTYPE.
fn read_hash<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d Fields>, CmdError> {
    db.read(key).map(Value::as_hash).transpose()
}

/// The hash at `key` for a write, created empty if missing, or WRONGTYPE.
fn hash_for_write<'d>(db: &'d mut Db, key: &[u8]) -> Result<&'d mut Fields, CmdError> {
    db.get_or_insert_with(key, Value::new_hash).as_hash_mut()
}

/// Sets `field` to `value`, keeping the field's position; true if it is new.
fn put(hash: &mut Fields, field: &[u8], value: &[u8]) -> bool {
    match hash.get_mut(field) {
        Some(slot) => {
            *slot = SmallBytes::new(value);
            false
        }
        None => {
            hash.insert(SmallBytes::new(field), SmallBytes::new(value));
            true
        }
    }
}

/// HSET/HMSET: writes the pairs and returns how many fields were new.
fn set_pairs(ctx: &mut Ctx, args: &Args) -> Result<i64, CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Arity(args.name_lower()));
    }
    let key = args.get(1);
    let mut db = ctx.db();
    let hash = hash_for_write(&mut db, key)?;
    let created = (2..args.len())
        .step_by(2)
        .filter(|&i| put(hash, args.get(i), args.get(i + 1)))
        .count();
    db.modified(key);
    Ok(created as i64)
}

fn hset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let created = set_pairs(ctx, args)?;
    ctx.out.int(created);
    Ok(())
}

fn hmset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    set_pairs(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let hash = hash_for_write(&mut db, key)?;
    let added = !hash.contains_key(args.get(2)) && put(hash, args.get(2), args.get(3));
    if added {
        db.modified(key);
    }
    drop(db);
    ctx.out.int(added as i64);
    Ok(())
}

fn hget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    match read_hash(&mut db, args.get(1))?.and_then(|h| h.get(args.get(2))) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let hash = read_hash(&mut db, args.get(1))?;
    ctx.out.array(args.len() - 2);
    for field in args.iter_from(2) {
        match hash.and_then(|h| h.get(field)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let deleted = match db.get_mut(key) {
        None => 0,
        Some(v) => {
            let hash = v.as_hash_mut()?;
            args.iter_from(2).filter(|f| remove_field(hash, f)).count()
        }
    };
    if deleted > 0 {
        db.remove_if_empty(key);
        db.modified(key);
    }
    drop(db);
    ctx.out.int(deleted as i64);
    Ok(())
}

fn remove_field(hash: &mut Fields, field: &[u8]) -> bool {
    if hash.len() <= ORDERED_DELETE_MAX {
        hash.shift_remove(field).is_some()
    } else {
        hash.swap_remove(field).is_some()
    }
}

/// What HGETALL/HKEYS/HVALS list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    Pairs,
    Fields,
    Values,
}

fn list_hash(ctx: &mut Ctx, args: &Args, what: Listing) -> CmdResult {
    let mut db = ctx.db();
    let hash = read_hash(&mut db, args.get(1))?;
    let len = hash.map_or(0, |h| h.len());
    if what == Listing::Pairs {
        ctx.out.map(len);
    } else {
        ctx.out.array(len);
    }
    for (f, v) in hash.into_iter().flatten() {
        if what != Listing::Values {
            ctx.out.bulk(f);
        }
        if what != Listing::Fields {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx, args: &Args) -> CmdResult {
    list_hash(ctx, args, Listing::Pairs)
}

fn hkeys(ctx: &mut Ctx, args: &Args) -> CmdResult {
    list_hash(ctx, args, Listing::Fields)
}

fn hvals(ctx: &mut Ctx, args: &Args) -> CmdResult {
    list_hash(ctx, args, Listing::Values)
}

fn hlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let n = read_hash(&mut db, args.get(1))?.map_or(0, |h| h.len());
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let found = read_hash(&mut db, args.get(1))?.is_some_and(|h| h.contains_key(args.get(2)));
    drop(db);
    ctx.out.int(found as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let n = read_hash(&mut db, args.get(1))?
        .and_then(|h| h.get(args.get(2)))
        .map_or(0, |v| v.len());
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn hincrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let by = args.i64(3)?;
    let (key, field) = (args.get(1), args.get(2));
    let mut db = ctx.db();
    let hash = hash_for_write(&mut db, key)?;
    let current = match hash.get(field) {
        Some(v) => super::args::parse_i64(v)
            .ok_or_else(|| CmdError::msg("ERR hash value is not an integer"))?,
        None => 0,
    };
    let next = current.checked_add(by).ok_or(CmdError::Overflow)?;
    let mut digits = [0u8; 20];
    let mut rest = &mut digits[..];
    std::io::Write::write_fmt(&mut rest, format_args!("{next}")).expect("20 bytes fit any i64");
    let written = 20 - rest.len();
    put(hash, field, &digits[..written]);
    db.modified(key);
    drop(db);
    ctx.out.int(next);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let by = args.f64(3)?;
    if !by.is_finite() {
        return Err(CmdError::msg("ERR value is NaN or Infinity"));
    }
    let (key, field) = (args.get(1), args.get(2));
    let mut db = ctx.db();
    let hash = hash_for_write(&mut db, key)?;
    let current = match hash.get(field) {
        Some(v) => super::args::parse_f64(v)
            .ok_or_else(|| CmdError::msg("ERR hash value is not a float"))?,
        None => 0.0,
    };
    let next = current + by;
    if !next.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = format_float_value(next);
    put(hash, field, text.as_bytes());
    db.modified(key);
    drop(db);
    // The result, not the increment: float formatting must not differ on replay.
    ctx.propagate_one(&[b"HSET", key, field, text.as_bytes()]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn hrandfield(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        return hrandfield_one(ctx, args.get(1));
    }
    let count = collection::parse_rand_count(args.get(2))?;
    let with_values = match args.len() {
        3 => false,
        4 if args.is(3, "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    // Redis refuses counts whose doubled reply length would overflow.
    if with_values && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let srv = ctx.srv;
    let mut db = ctx.db();
    let Some(hash) = read_hash(&mut db, args.get(1))?.filter(|_| count != 0) else {
        ctx.out.array(0);
        return Ok(());
    };
    let picks = collection::random_indexes(hash.len(), count, || srv.random());
    let resp3 = ctx.resp3();
    // RESP3 nests each field-value pair; RESP2 flattens them.
    let per_pick = if with_values && !resp3 { 2 } else { 1 };
    ctx.out.array(picks.len() * per_pick);
    for i in picks {
        let (f, v) = hash.get_index(i).expect("index below len");
        if with_values && resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(f);
        if with_values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

fn hrandfield_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let srv = ctx.srv;
    let mut db = ctx.db();
    match read_hash(&mut db, key)? {
        None => ctx.out.null(),
        Some(hash) => {
            let i = (srv.random() % hash.len() as u64) as usize;
            ctx.out.bulk(hash.get_index(i).expect("index below len").0);
        }
    }
    Ok(())
}

fn hscan(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cursor = collection::parse_cursor(args.get(2))?;
    let mut db = ctx.db();
    let Some(hash) = read_hash(&mut db, args.get(1))? else {
        collection::reply_scan(ctx.out, 0, &[]);
        return Ok(());
    };
    let opts = ScanOpts::parse(args, 3)?;
    let mut items: Vec<&[u8]> = Vec::new();
    let next = collection::scan_indexes(hash.len(), cursor, opts.count, |i| {
        let (f, v) = hash.get_index(i).expect("index below len");
        if opts.matches(f) {
            items.push(f);
            items.push(v);
        }
    });
    collection::reply_scan(ctx.out, next, &items);
    Ok(())
}
