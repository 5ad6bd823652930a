//! Key expiry commands (Redis's `expire.c`): setting TTLs with EXPIRE and friends and
//! their NX/XX/GT/LT conditions, reading them back, and PERSIST.

use super::keys::spec;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};

const RF: Flags = Flags::READONLY.with(Flags::FAST);
const WF: Flags = Flags::WRITE.with(Flags::FAST);

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "expire",
        -3,
        WF,
        expire,
        "1.0.0",
        "Set a key's time to live in seconds",
    ),
    spec(
        "pexpire",
        -3,
        WF,
        pexpire,
        "2.6.0",
        "Set a key's time to live in milliseconds",
    ),
    spec(
        "expireat",
        -3,
        WF,
        expireat,
        "1.2.0",
        "Set the expiration for a key as a UNIX timestamp",
    ),
    spec(
        "pexpireat",
        -3,
        WF,
        pexpireat,
        "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
    ),
    spec(
        "ttl",
        2,
        RF,
        ttl,
        "1.0.0",
        "Get the time to live for a key in seconds",
    ),
    spec(
        "pttl",
        2,
        RF,
        pttl,
        "2.6.0",
        "Get the time to live for a key in milliseconds",
    ),
    spec(
        "expiretime",
        2,
        RF,
        expiretime,
        "7.0.0",
        "Get the expiration Unix timestamp for a key",
    ),
    spec(
        "pexpiretime",
        2,
        RF,
        pexpiretime,
        "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds",
    ),
    spec(
        "persist",
        2,
        WF,
        persist,
        "2.2.0",
        "Remove the expiration from a key",
    ),
];

/// The NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    fn parse(args: &Args) -> Result<Conditions, CmdError> {
        let mut c = Conditions::default();
        for opt in args.iter_from(3) {
            let flag = match opt.to_ascii_lowercase().as_slice() {
                b"nx" => &mut c.nx,
                b"xx" => &mut c.xx,
                b"gt" => &mut c.gt,
                b"lt" => &mut c.lt,
                _ => {
                    return Err(CmdError::msg(format!(
                        "ERR Unsupported option {}",
                        String::from_utf8_lossy(opt)
                    )))
                }
            };
            *flag = true;
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::msg(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(CmdError::msg(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(c)
    }

    /// Whether a key whose TTL is `current` (None: no TTL, i.e. infinite) may get
    /// the new expiry time `when`.
    fn allow(&self, current: Option<i64>, when: i64) -> bool {
        match current {
            None => !self.xx && !self.gt,
            Some(cur) => {
                let refused = self.nx || (self.gt && when <= cur) || (self.lt && when >= cur);
                !refused
            }
        }
    }
}

/// Redis's `expireGenericCommand`: `basetime_now` adds the current time (relative
/// forms); `seconds` scales the argument. A time already past deletes the key.
fn expire_generic(ctx: &mut Ctx, args: &Args, basetime_now: bool, seconds: bool) -> CmdResult {
    let cond = Conditions::parse(args)?;
    let mut when = args.i64(2)?;
    let invalid = || {
        CmdError::msg(format!(
            "ERR invalid expire time in '{}' command",
            args.name_lower()
        ))
    };
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    let mut db = ctx.db();
    if basetime_now {
        when = when.checked_add(db.now_ms as i64).ok_or_else(invalid)?;
    }
    let key = args.get(1);
    let current = db.expire_at(key).map(|t| t as i64);
    let changed = db.get(key).is_some() && cond.allow(current, when);
    // While the AOF loads, a time in the past is stored, not applied (Redis's
    // checkAlreadyExpired): later logged writes replay onto the key as they happened.
    let past = when <= db.now_ms as i64 && !db.loading;
    if changed {
        if past {
            db.remove(key);
        } else {
            db.set_expire(key, when.max(0) as u64);
        }
        db.modified(key);
    }
    drop(db);
    if changed {
        propagate_expire(ctx, args, when, past);
    }
    ctx.out.int(changed as i64);
    Ok(())
}

/// As Redis: a deleting expiry propagates as DEL; any other as PEXPIREAT with the
/// absolute time, keeping the NX/XX/GT/LT words (they decide the same on replay).
fn propagate_expire(ctx: &mut Ctx, args: &Args, when: i64, past: bool) {
    let key = args.get(1);
    if past {
        ctx.propagate_deletion(key, "lazyfree-lazy-expire");
        return;
    }
    let when = when.to_string();
    let mut parts: Vec<&[u8]> = vec![b"PEXPIREAT", key, when.as_bytes()];
    parts.extend(args.iter_from(3));
    ctx.propagate_one(&parts);
}

fn expire(ctx: &mut Ctx, args: &Args) -> CmdResult {
    expire_generic(ctx, args, true, true)
}

fn pexpire(ctx: &mut Ctx, args: &Args) -> CmdResult {
    expire_generic(ctx, args, true, false)
}

fn expireat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    expire_generic(ctx, args, false, true)
}

fn pexpireat(ctx: &mut Ctx, args: &Args) -> CmdResult {
    expire_generic(ctx, args, false, false)
}

/// Redis's `ttlGenericCommand`: -2 for a missing key, -1 without TTL, else the time
/// left (or the absolute time), in ms or rounded to seconds.
fn ttl_generic(ctx: &mut Ctx, args: &Args, ms: bool, absolute: bool) -> CmdResult {
    let mut db = ctx.db();
    let key = args.get(1);
    let reply = if db.read(key).is_none() {
        -2
    } else {
        match db.expire_at(key) {
            None => -1,
            Some(at) => {
                let t = if absolute {
                    at as i64
                } else {
                    (at as i64 - db.now_ms as i64).max(0)
                };
                if ms {
                    t
                } else {
                    ((t as i128 + 500) / 1000) as i64
                }
            }
        }
    };
    drop(db);
    ctx.out.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}

fn pttl(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}

fn expiretime(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}

fn pexpiretime(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

fn persist(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let removed = db.get(key).is_some() && db.persist(key);
    if removed {
        db.modified(key);
    }
    drop(db);
    ctx.out.int(removed as i64);
    Ok(())
}
