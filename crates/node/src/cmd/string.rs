//! String commands (Redis's `t_string.c`): GET/SET and their variants, counters,
//! ranges and multi-key forms.

use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::db::{Db, SmallBytes, Value};

const W: Flags = Flags::WRITE.with(Flags::DENYOOM);
const WF: Flags = W.with(Flags::FAST);
const RF: Flags = Flags::READONLY.with(Flags::FAST);

super::table::family_spec!(keyed, "string", "string");

pub const COMMANDS: &[CommandSpec] = &[
    spec("get", 2, RF, get, "1.0.0", "Get the value of a key"),
    spec("set", -3, W, set, "1.0.0", "Set the string value of a key"),
    spec(
        "setnx",
        3,
        WF,
        setnx,
        "1.0.0",
        "Set the value of a key, only if the key does not exist",
    ),
    spec(
        "setex",
        4,
        W,
        setex,
        "2.0.0",
        "Set the value and expiration of a key",
    ),
    spec(
        "psetex",
        4,
        W,
        psetex,
        "2.6.0",
        "Set the value and expiration in milliseconds of a key",
    ),
    spec(
        "getset",
        3,
        WF,
        getset,
        "1.0.0",
        "Set the string value of a key and return its old value",
    ),
    spec(
        "getdel",
        2,
        Flags::WRITE.with(Flags::FAST),
        getdel,
        "6.2.0",
        "Get the value of a key and delete the key",
    ),
    spec(
        "getex",
        -2,
        Flags::WRITE.with(Flags::FAST),
        getex,
        "6.2.0",
        "Get the value of a key and optionally set its expiration",
    ),
    spec(
        "mget",
        -2,
        RF,
        mget,
        "1.0.0",
        "Get the values of all the given keys",
    )
    .keys(1, -1, 1),
    spec(
        "mset",
        -3,
        W,
        mset,
        "1.0.1",
        "Set multiple keys to multiple values",
    )
    .keys(1, -1, 2),
    spec(
        "msetnx",
        -3,
        W,
        msetnx,
        "1.0.1",
        "Set multiple keys to multiple values, only if none of the keys exist",
    )
    .keys(1, -1, 2),
    spec("append", 3, WF, append, "2.0.0", "Append a value to a key"),
    spec(
        "strlen",
        2,
        RF,
        strlen,
        "2.2.0",
        "Get the length of the value stored in a key",
    ),
    spec(
        "getrange",
        4,
        Flags::READONLY,
        getrange,
        "2.4.0",
        "Get a substring of the string stored at a key",
    ),
    spec(
        "substr",
        4,
        Flags::READONLY,
        getrange,
        "1.0.0",
        "Get a substring of the string stored at a key",
    ),
    spec(
        "setrange",
        4,
        W,
        setrange,
        "2.2.0",
        "Overwrite part of a string at key starting at the specified offset",
    ),
    spec(
        "incr",
        2,
        WF,
        incr,
        "1.0.0",
        "Increment the integer value of a key by one",
    ),
    spec(
        "decr",
        2,
        WF,
        decr,
        "1.0.0",
        "Decrement the integer value of a key by one",
    ),
    spec(
        "incrby",
        3,
        WF,
        incrby,
        "1.0.0",
        "Increment the integer value of a key by the given amount",
    ),
    spec(
        "decrby",
        3,
        WF,
        decrby,
        "1.0.0",
        "Decrement the integer value of a key by the given number",
    ),
    spec(
        "incrbyfloat",
        3,
        WF,
        incrbyfloat,
        "2.6.0",
        "Increment the float value of a key by the given amount",
    ),
];

/// The string at `key` (None if missing), or WRONGTYPE.
fn read_string<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d SmallBytes>, CmdError> {
    match db.read(key) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some),
    }
}

fn get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    match read_string(&mut db, args.get(1))? {
        Some(s) => ctx.out.bulk(s),
        None => ctx.out.null(),
    }
    Ok(())
}

/// When a key set by SET/GETEX should expire.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ttl {
    /// No option given: SET drops the TTL, GETEX leaves it.
    Unchanged,
    Keep,
    Persist,
    At(u64),
}

/// Parses EX/PX/EXAT/PXAT's value into an absolute Unix ms time, with Redis's checks.
fn expire_at(
    db_now_ms: u64,
    unit_ms: bool,
    absolute: bool,
    arg: &[u8],
    cmd: &str,
) -> Result<u64, CmdError> {
    let v = super::args::parse_i64(arg).ok_or(CmdError::NotInteger)?;
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = if unit_ms {
        v
    } else {
        v.checked_mul(1000).ok_or_else(invalid)?
    };
    let at = if absolute {
        ms
    } else {
        ms.checked_add(db_now_ms as i64).ok_or_else(invalid)?
    };
    Ok(at as u64)
}

/// SET's options after the value.
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl,
}

fn parse_set_options(args: &Args, now_ms: u64) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions {
        nx: false,
        xx: false,
        get: false,
        ttl: Ttl::Unchanged,
    };
    let mut i = 3;
    let mut expire_given = false;
    while i < args.len() {
        let a = args.get(i);
        let has_next = i + 1 < args.len();
        if a.eq_ignore_ascii_case(b"nx") && !o.xx {
            o.nx = true;
        } else if a.eq_ignore_ascii_case(b"xx") && !o.nx {
            o.xx = true;
        } else if a.eq_ignore_ascii_case(b"get") {
            o.get = true;
        } else if a.eq_ignore_ascii_case(b"keepttl") && !expire_given {
            o.ttl = Ttl::Keep;
            expire_given = true;
        } else if let (Some((unit_ms, absolute)), true, false) =
            (expire_kind(a), has_next, expire_given)
        {
            i += 1;
            o.ttl = Ttl::At(expire_at(now_ms, unit_ms, absolute, args.get(i), "set")?);
            expire_given = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// EX / PX / EXAT / PXAT → (milliseconds?, absolute?).
fn expire_kind(word: &[u8]) -> Option<(bool, bool)> {
    match word.to_ascii_lowercase().as_slice() {
        b"ex" => Some((false, false)),
        b"px" => Some((true, false)),
        b"exat" => Some((false, true)),
        b"pxat" => Some((true, true)),
        _ => None,
    }
}

fn set(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let opts = parse_set_options(args, db.now_ms)?;
    let key = args.get(1);
    let old = if opts.get {
        read_string(&mut db, key)?.cloned()
    } else {
        None
    };
    let exists = if opts.get {
        old.is_some() || db.contains(key)
    } else {
        (opts.nx || opts.xx) && db.contains(key)
    };
    if (opts.nx && exists) || (opts.xx && !exists) {
        drop(db);
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    write_string(&mut db, key, args.get(2), opts.ttl);
    drop(db);
    propagate_set_at(ctx, key, args.get(2), opts.ttl);
    if opts.get {
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// A SET with any expiry propagates as `SET key value PXAT <ms>` (options dropped):
/// relative times must not restart on replay.
fn propagate_set_at(ctx: &mut Ctx, key: &[u8], value: &[u8], ttl: Ttl) {
    if let Ttl::At(at) = ttl {
        let at = at.to_string();
        ctx.propagate_one(&[b"SET", key, value, b"PXAT", at.as_bytes()]);
    }
}

/// Stores a string and applies the TTL rule; records the change.
fn write_string(db: &mut Db, key: &[u8], value: &[u8], ttl: Ttl) {
    let value = Value::Str(SmallBytes::new(value));
    match ttl {
        Ttl::Keep => db.set_keep_ttl(key, value),
        _ => db.set(key, value),
    }
    if let Ttl::At(at) = ttl {
        db.set_expire(key, at);
    }
    db.modified(key);
}

fn setnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    if db.contains(args.get(1)) {
        drop(db);
        ctx.out.int(0);
    } else {
        write_string(&mut db, args.get(1), args.get(2), Ttl::Unchanged);
        drop(db);
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, args: &Args, unit_ms: bool, name: &str) -> CmdResult {
    let mut db = ctx.db();
    let at = expire_at(db.now_ms, unit_ms, false, args.get(2), name)?;
    write_string(&mut db, args.get(1), args.get(3), Ttl::At(at));
    drop(db);
    propagate_set_at(ctx, args.get(1), args.get(3), Ttl::At(at));
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    setex_generic(ctx, args, false, "setex")
}

fn psetex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    setex_generic(ctx, args, true, "psetex")
}

fn getset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let old = read_string(&mut db, args.get(1))?.cloned();
    write_string(&mut db, args.get(1), args.get(2), Ttl::Unchanged);
    drop(db);
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let key = args.get(1);
    let Some(v) = read_string(&mut db, key)?.cloned() else {
        drop(db);
        ctx.out.null();
        return Ok(());
    };
    db.remove(key);
    db.modified(key);
    drop(db);
    ctx.propagate_deletion(key, "lazyfree-lazy-user-del");
    ctx.out.bulk(&v);
    Ok(())
}

fn getex(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let mut ttl = Ttl::Unchanged;
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        match expire_kind(a) {
            Some((unit_ms, absolute)) if i + 1 < args.len() && ttl == Ttl::Unchanged => {
                i += 1;
                ttl = Ttl::At(expire_at(
                    db.now_ms,
                    unit_ms,
                    absolute,
                    args.get(i),
                    "getex",
                )?);
            }
            None if a.eq_ignore_ascii_case(b"persist") && ttl == Ttl::Unchanged => {
                ttl = Ttl::Persist
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    let key = args.get(1);
    let Some(v) = read_string(&mut db, key)?.cloned() else {
        drop(db);
        ctx.out.null();
        return Ok(());
    };
    // GETEX never propagates as itself: it becomes DEL, PEXPIREAT or PERSIST.
    match ttl {
        Ttl::At(at) if at <= db.now_ms => {
            db.remove(key);
            db.modified(key);
            drop(db);
            ctx.propagate_deletion(key, "lazyfree-lazy-expire");
        }
        Ttl::At(at) => {
            db.set_expire(key, at);
            db.modified(key);
            drop(db);
            let at = at.to_string();
            ctx.propagate_one(&[b"PEXPIREAT", key, at.as_bytes()]);
        }
        Ttl::Persist => {
            if db.persist(key) {
                db.modified(key);
            }
            drop(db);
            ctx.propagate_one(&[b"PERSIST", key]);
        }
        Ttl::Unchanged | Ttl::Keep => drop(db),
    }
    ctx.out.bulk(&v);
    Ok(())
}

fn mget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    ctx.out.array(args.len() - 1);
    for key in args.iter_from(1) {
        match db.read(key) {
            Some(Value::Str(s)) => ctx.out.bulk(s),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn check_pairs(args: &Args) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Arity(args.name_lower()));
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    check_pairs(args)?;
    let mut db = ctx.db();
    for i in (1..args.len()).step_by(2) {
        write_string(&mut db, args.get(i), args.get(i + 1), Ttl::Unchanged);
    }
    drop(db);
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx, args: &Args) -> CmdResult {
    check_pairs(args)?;
    let mut db = ctx.db();
    let any_exists = (1..args.len()).step_by(2).any(|i| db.contains(args.get(i)));
    if !any_exists {
        for i in (1..args.len()).step_by(2) {
            write_string(&mut db, args.get(i), args.get(i + 1), Ttl::Unchanged);
        }
    }
    drop(db);
    ctx.out.int(!any_exists as i64);
    Ok(())
}

/// Largest string a command may build (`proto-max-bulk-len`).
fn check_size(ctx: &Ctx, len: usize) -> CmdResult {
    if len > ctx.srv.config.borrow().proto_max_bulk_len {
        return Err(CmdError::msg(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    Ok(())
}

fn append(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let new_len = match db.get_mut(key) {
        None => {
            drop(db);
            check_size(ctx, args.get(2).len())?;
            let mut db = ctx.db();
            write_string(&mut db, key, args.get(2), Ttl::Keep);
            args.get(2).len()
        }
        Some(v) => {
            let current_len = v.as_str()?.len();
            drop(db);
            check_size(ctx, current_len + args.get(2).len())?;
            let mut db = ctx.db();
            let s = db.get_mut(key).expect("checked").as_str_mut()?;
            let mut joined = Vec::with_capacity(s.len() + args.get(2).len());
            joined.extend_from_slice(s);
            joined.extend_from_slice(args.get(2));
            *s = SmallBytes::from_vec(joined);
            let n = s.len();
            db.modified(key);
            n
        }
    };
    ctx.out.int(new_len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let n = read_string(&mut db, args.get(1))?.map_or(0, |s| s.len());
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (start, end) = (args.i64(2)?, args.i64(3)?);
    let mut db = ctx.db();
    let s: &[u8] = match read_string(&mut db, args.get(1))? {
        Some(s) => s,
        None => b"",
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (norm(start), norm(end).min(len - 1));
    if len == 0 || start > end {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&s[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let offset = args.i64(2)?;
    if offset < 0 {
        return Err(CmdError::msg("ERR offset is out of range"));
    }
    let value = args.get(3);
    let offset = offset as usize;
    let mut db = ctx.db();
    let current: Vec<u8> = match db.get(key) {
        Some(v) => v.as_str()?.to_vec(),
        None => Vec::new(),
    };
    if value.is_empty() {
        drop(db);
        ctx.out.int(current.len() as i64);
        return Ok(());
    }
    drop(db);
    check_size(ctx, offset + value.len())?;
    let mut bytes = current;
    if bytes.len() < offset + value.len() {
        bytes.resize(offset + value.len(), 0);
    }
    bytes[offset..offset + value.len()].copy_from_slice(value);
    let n = bytes.len();
    let mut db = ctx.db();
    db.set_keep_ttl(key, Value::Str(SmallBytes::from_vec(bytes)));
    db.modified(key);
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

/// Adds `by` to the integer at `key` (Redis's `incrDecrCommand`).
fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let mut db = ctx.db();
    let current = match db.get(key) {
        Some(v) => super::args::parse_i64(v.as_str()?).ok_or(CmdError::NotInteger)?,
        None => 0,
    };
    let next = current.checked_add(by).ok_or(CmdError::Overflow)?;
    let mut digits = [0u8; 20];
    let text = format_i64(&mut digits, next);
    db.set_keep_ttl(key, Value::Str(SmallBytes::new(text)));
    db.modified(key);
    drop(db);
    ctx.out.int(next);
    Ok(())
}

fn format_i64(buf: &mut [u8; 20], v: i64) -> &[u8] {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{v}").expect("20 bytes fit any i64");
    let n = cursor.position() as usize;
    &buf[..n]
}

fn incr(ctx: &mut Ctx, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1), 1)
}

fn decr(ctx: &mut Ctx, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1), -1)
}

fn incrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let by = args.i64(2)?;
    incr_by(ctx, args.get(1), by)
}

fn decrby(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let by = args.i64(2)?;
    if by == i64::MIN {
        return Err(CmdError::msg("ERR decrement would overflow"));
    }
    incr_by(ctx, args.get(1), -by)
}

/// Redis prints INCRBYFLOAT results with `%.17Lf` and trims zeros; the shortest
/// round-trip form of the f64 gives the same text for ordinary values.
pub fn format_float_value(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('e') {
        format!("{v:.17}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        s
    }
}

fn incrbyfloat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let by = args.f64(2)?;
    let key = args.get(1);
    let mut db = ctx.db();
    let current = match db.get(key) {
        Some(v) => super::args::parse_f64(v.as_str()?).ok_or(CmdError::NotFloat)?,
        None => 0.0,
    };
    let next = current + by;
    if !next.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = format_float_value(next);
    db.set_keep_ttl(key, Value::Str(SmallBytes::new(text.as_bytes())));
    db.modified(key);
    drop(db);
    // The result, not the increment: float formatting must not differ on replay.
    ctx.propagate_one(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}
