//! Stream commands (Redis's `t_stream.c`): XADD, XTRIM, XDEL, XLEN, XRANGE and
//! XREVRANGE, plus the ID and range helpers XREAD (in `stream_read.rs`) shares.

use resp::ReplyBuf;

use super::args::parse_i64;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx, OwnedArgs};
use crate::db::stream::{NodeLimits, Packed, Stream, StreamId, Trim};
use crate::db::{Db, Value};
use crate::server::Server;

const W: Flags = Flags::WRITE;
const R: Flags = Flags::READONLY;

pub(super) const fn spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    handler: super::Handler,
    summary: &'static str,
) -> CommandSpec {
    let acl: &'static [&'static str] = match (flags.has(Flags::WRITE), flags.has(Flags::FAST)) {
        (true, true) => &["write", "stream", "fast"],
        (true, false) => &["write", "stream", "slow"],
        (false, true) => &["read", "stream", "fast"],
        (false, false) => &["read", "stream", "slow"],
    };
    CommandSpec::new(name, arity, flags, handler)
        .keys(1, 1, 1)
        .acl(acl)
        .doc("stream", "5.0.0", summary)
}

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "xadd",
        -5,
        W.with(Flags::DENYOOM).with(Flags::FAST),
        xadd,
        "Appends a new entry to a stream",
    ),
    spec(
        "xtrim",
        -4,
        W,
        xtrim,
        "Trims the stream to (approximately if '~' is passed) a certain size",
    ),
    spec(
        "xdel",
        -3,
        W.with(Flags::FAST),
        xdel,
        "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
    ),
    spec(
        "xlen",
        2,
        R.with(Flags::FAST),
        xlen,
        "Return the number of entries in a stream",
    ),
    spec(
        "xrange",
        -4,
        R,
        xrange,
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
    ),
    spec(
        "xrevrange",
        -4,
        R,
        xrevrange,
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
    ),
];

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const ID_TOO_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

/// C's `strtoull` acceptance as Redis's `string2ull` falls back to it: leading
/// spaces, a sign (a '-' wraps around), leading zeros; overflow fails.
fn parse_u64_c(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let (neg, digits) = match s[start] {
        b'-' => (true, &s[start + 1..]),
        b'+' => (false, &s[start + 1..]),
        _ => (false, &s[start..]),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().try_fold(0u64, |v, d| {
        v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The sequence part of a parsed ID: given, defaulted, or `*` (XADD's `ms-*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Seq {
    Given(u64),
    Missing,
    Star,
}

/// Redis's `streamGenericParseIDOrReply`: `-`, `+` (unless `strict`), `ms` or `ms-seq`;
/// `ms-*` only when `star` is allowed.
fn parse_id_parts(arg: &[u8], strict: bool, star: bool) -> Option<(u64, Seq)> {
    if arg.len() > 127 {
        return None;
    }
    // Redis parses a C string copy: bytes after a NUL are not seen.
    let s = arg.split(|&b| b == 0).next().unwrap_or_default();
    match s {
        b"-" | b"+" if strict => None,
        b"-" => Some((0, Seq::Given(0))),
        b"+" => Some((u64::MAX, Seq::Given(u64::MAX))),
        _ => match s.iter().position(|&b| b == b'-') {
            None => Some((parse_u64_c(s)?, Seq::Missing)),
            Some(dash) => {
                let ms = parse_u64_c(&s[..dash])?;
                match &s[dash + 1..] {
                    b"*" if star => Some((ms, Seq::Star)),
                    seq => Some((ms, Seq::Given(parse_u64_c(seq)?))),
                }
            }
        },
    }
}

/// Parses a stream ID; a missing sequence becomes `missing_seq`.
pub(super) fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, CmdError> {
    match parse_id_parts(arg, strict, false) {
        Some((ms, Seq::Given(seq))) => Ok(StreamId::new(ms, seq)),
        Some((ms, _)) => Ok(StreamId::new(ms, missing_seq)),
        None => Err(CmdError::msg(INVALID_ID)),
    }
}

/// An interval end of XRANGE: `(` makes it exclusive (and strict).
fn parse_interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id(&arg[1..], missing_seq, true)?, true))
    } else {
        Ok((parse_id(arg, missing_seq, false)?, false))
    }
}

/// The stream at `key` for reading (None if missing), or WRONGTYPE.
pub(super) fn read_stream<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d Stream>, CmdError> {
    match db.read(key) {
        None => Ok(None),
        Some(v) => v.as_stream().map(Some),
    }
}

fn write_stream<'d>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d mut Stream>, CmdError> {
    match db.get_mut(key) {
        None => Ok(None),
        Some(v) => v.as_stream_mut().map(Some),
    }
}

pub(super) fn reply_id(out: &mut ReplyBuf, id: StreamId) {
    let mut buf = [0u8; 41];
    out.bulk(id.format(&mut buf));
}

/// One entry as Redis sends it: `[id, [field, value, …]]`.
pub(super) fn reply_entry(out: &mut ReplyBuf, id: StreamId, fields: &Packed) {
    out.array(2);
    reply_id(out, id);
    out.array(fields.count());
    for f in fields.iter() {
        out.bulk(f);
    }
}

/// Entries of `start..=end` (at most `count`, 0 = all) as an array.
pub(super) fn reply_range(
    out: &mut ReplyBuf,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    rev: bool,
    count: usize,
) {
    let limit = if count == 0 { usize::MAX } else { count };
    out.array(s.range(start, end, rev).take(limit).count());
    for (id, fields) in s.range(start, end, rev).take(limit) {
        reply_entry(out, *id, fields);
    }
}

/// The node shape Redis uses, from `stream-node-max-bytes` / `-entries`.
fn node_limits(srv: &Server) -> NodeLimits {
    let cfg = srv.config.borrow();
    let num = |name: &str| cfg.get(name).and_then(|v| v.parse::<u64>().ok());
    NodeLimits {
        max_bytes: num("stream-node-max-bytes").unwrap_or(4096) as usize,
        max_entries: num("stream-node-max-entries").unwrap_or(100),
    }
}

/// How XADD names the new entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NewId {
    Auto,
    AutoSeq(u64),
    Exact(StreamId),
}

/// Trimming options of XADD and XTRIM.
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    /// Most entries one trim may remove (0 = no limit).
    limit: u64,
    /// Where the MAXLEN/MINID value and the LIMIT word are (for propagation).
    value_pos: usize,
    limit_pos: Option<usize>,
}

/// XADD/XTRIM options (Redis's `streamParseAddOrTrimArgsOrReply`). For XADD also
/// NOMKSTREAM and the ID, whose position is returned.
struct AddTrimArgs {
    trim: TrimArgs,
    nomkstream: bool,
    id: NewId,
    id_pos: usize,
}

const BOTH_STRATEGIES: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";

/// Skips an optional `=` or `~` after MAXLEN/MINID; returns the value position.
fn trim_value_pos(args: &Args, i: usize, approx: &mut bool) -> usize {
    *approx = false;
    if args.len() - 1 - i >= 2 {
        match args.get(i + 1) {
            b"~" => {
                *approx = true;
                return i + 2;
            }
            b"=" => return i + 2,
            _ => {}
        }
    }
    i + 1
}

fn parse_add_trim(args: &Args, xadd: bool, node_entries: u64) -> Result<AddTrimArgs, CmdError> {
    let mut a = AddTrimArgs {
        trim: TrimArgs {
            how: None,
            approx: false,
            limit: 0,
            value_pos: 0,
            limit_pos: None,
        },
        nomkstream: false,
        id: NewId::Auto,
        id_pos: args.len(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if xadd && opt == b"*" {
            a.id_pos = i;
            break;
        } else if more > 0 && (args.is(i, "maxlen") || args.is(i, "minid")) {
            if a.trim.how.is_some() {
                return Err(CmdError::msg(BOTH_STRATEGIES));
            }
            let maxlen = args.is(i, "maxlen");
            i = trim_value_pos(args, i, &mut a.trim.approx);
            a.trim.value_pos = i;
            a.trim.how = Some(if maxlen {
                parse_maxlen(args, i)?
            } else {
                Trim::MinId(parse_id(args.get(i), 0, true)?)
            });
        } else if more > 0 && args.is(i, "limit") {
            let v = args.i64(i + 1)?;
            if v < 0 {
                return Err(CmdError::msg("ERR The LIMIT argument must be >= 0."));
            }
            a.trim.limit = v as u64;
            a.trim.limit_pos = Some(i);
            limit_given = true;
            i += 1;
        } else if xadd && args.is(i, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = parse_new_id(opt)?;
            a.id_pos = i;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    check_trim_args(&mut a.trim, xadd, limit_given, node_entries)?;
    Ok(a)
}

fn parse_maxlen(args: &Args, i: usize) -> Result<Trim, CmdError> {
    let v = args.i64(i)?;
    if v < 0 {
        return Err(CmdError::msg("ERR The MAXLEN argument must be >= 0."));
    }
    Ok(Trim::MaxLen(v as u64))
}

fn check_trim_args(
    t: &mut TrimArgs,
    xadd: bool,
    limit_given: bool,
    node_entries: u64,
) -> Result<(), CmdError> {
    if t.limit != 0 && t.how.is_none() {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && t.how.is_none() {
        return Err(CmdError::msg(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !t.approx {
            return Err(CmdError::msg(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if t.approx {
        let default = 100 * node_entries;
        t.limit = if default == 0 || default > 10000 {
            10000
        } else {
            default
        };
    } else {
        t.limit = 0;
    }
    Ok(())
}

fn parse_new_id(arg: &[u8]) -> Result<NewId, CmdError> {
    match parse_id_parts(arg, true, true) {
        Some((ms, Seq::Star)) => Ok(NewId::AutoSeq(ms)),
        Some((ms, Seq::Given(seq))) => Ok(NewId::Exact(StreamId::new(ms, seq))),
        Some((ms, Seq::Missing)) => Ok(NewId::Exact(StreamId::new(ms, 0))),
        None => Err(CmdError::msg(INVALID_ID)),
    }
}

/// The ID XADD gives the new entry, or the error when it is not above the top.
fn resolve_new_id(s: &Stream, id: NewId, now_ms: u64) -> Result<StreamId, CmdError> {
    let too_small = || CmdError::msg(ID_TOO_SMALL);
    let id = match id {
        NewId::Auto => s.next_auto_id(now_ms).ok_or_else(too_small)?,
        NewId::AutoSeq(ms) if ms == s.last_id.ms => s.last_id.incr().ok_or_else(too_small)?,
        NewId::AutoSeq(ms) => StreamId::new(ms, 0),
        NewId::Exact(id) => id,
    };
    if id <= s.last_id {
        return Err(too_small());
    }
    Ok(id)
}

fn xadd(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let limits = node_limits(ctx.srv);
    let a = parse_add_trim(args, true, limits.max_entries)?;
    let fields_at = a.id_pos + 1;
    let items = args.len().saturating_sub(fields_at);
    if items < 2 || items % 2 == 1 {
        return Err(CmdError::Arity("xadd".into()));
    }
    if a.id == NewId::Exact(StreamId::MIN) {
        return Err(CmdError::msg(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = args.get(1);
    let mut db = ctx.db();
    let now_ms = db.now_ms;
    let value = if a.nomkstream {
        match db.get_mut(key) {
            Some(v) => v,
            None => {
                drop(db);
                ctx.out.null();
                return Ok(());
            }
        }
    } else {
        db.get_or_insert_with(key, || Value::Stream(Box::default()))
    };
    let s = value.as_stream_mut()?;
    if s.last_id == StreamId::MAX {
        return Err(CmdError::msg(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = resolve_new_id(s, a.id, now_ms)?;
    s.append(id, (fields_at..args.len()).map(|i| args.get(i)), limits);
    if let Some(how) = a.trim.how {
        s.trim(how, a.trim.approx, a.trim.limit);
    }
    let mut id_buf = [0u8; 41];
    if ctx.propagating() && (a.trim.approx || args.get(a.id_pos) != id.format(&mut id_buf)) {
        let rewritten = replay_form(args, &a.trim, Some((a.id_pos, id)), s);
        ctx.propagate_as(vec![rewritten]);
    }
    db.modified(key);
    if !db.blocked.is_empty() {
        db.signal_ready(key);
    }
    drop(db);
    reply_id(ctx.out, id);
    Ok(())
}

/// XADD/XTRIM as they must replay (Redis's `streamRewriteApproxSpecifier` and
/// `streamRewriteTrimArgument`): the generated ID written out, and an approximate trim
/// made exact at what it left (`MAXLEN = <length>`, `MINID = <first id>`). Unlike
/// Redis, LIMIT is dropped, since an exact trim rejects it from ordinary clients.
fn replay_form(
    args: &Args,
    trim: &TrimArgs,
    new_id: Option<(usize, StreamId)>,
    s: &Stream,
) -> OwnedArgs {
    let mut id_buf = [0u8; 41];
    let mut edge_buf = [0u8; 41];
    let edge: &[u8] = match trim.how {
        Some(Trim::MaxLen(_)) => {
            let len = s.len().to_string();
            edge_buf[..len.len()].copy_from_slice(len.as_bytes());
            &edge_buf[..len.len()]
        }
        // An emptied stream gives the largest ID, as Redis's `streamGetEdgeID`.
        _ => s
            .first()
            .map_or(StreamId::MAX, |(id, _)| *id)
            .format(&mut edge_buf),
    };
    let mut out = OwnedArgs::default();
    let mut i = 0;
    while i < args.len() {
        if Some(i) == trim.limit_pos {
            i += 2;
            continue;
        }
        match new_id {
            Some((at, id)) if at == i => out.push(id.format(&mut id_buf)),
            _ if trim.approx && i + 1 == trim.value_pos => out.push(b"="),
            _ if trim.approx && i == trim.value_pos => out.push(edge),
            _ => out.push(args.get(i)),
        }
        i += 1;
    }
    out
}

/// Records a change removing `n` entries: Redis counts each one as a change.
fn note_removed(db: &mut Db, key: &[u8], n: u64) {
    db.modified(key);
    db.add_dirty(n - 1);
}

fn xtrim(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let limits = node_limits(ctx.srv);
    let a = parse_add_trim(args, false, limits.max_entries)?;
    let how = a.trim.how.expect("checked by parse_add_trim");
    let key = args.get(1);
    let mut db = ctx.db();
    let removed = match write_stream(&mut db, key)? {
        Some(s) => {
            let removed = s.trim(how, a.trim.approx, a.trim.limit);
            if a.trim.approx && ctx.propagating() {
                let rewritten = replay_form(args, &a.trim, None, s);
                ctx.propagate_as(vec![rewritten]);
            }
            removed
        }
        None => 0,
    };
    if removed > 0 {
        note_removed(&mut db, key, removed);
    }
    drop(db);
    ctx.out.int(removed as i64);
    Ok(())
}

fn xdel(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let key = args.get(1);
    let mut db = ctx.db();
    let Some(s) = write_stream(&mut db, key)? else {
        drop(db);
        ctx.out.int(0);
        return Ok(());
    };
    // All IDs are checked first so a bad one leaves the stream untouched.
    let ids = args
        .iter_from(2)
        .map(|a| parse_id(a, 0, true))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    if deleted > 0 {
        note_removed(&mut db, key, deleted as u64);
    }
    drop(db);
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xlen(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let n = read_stream(&mut db, args.get(1))?.map_or(0, Stream::len);
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn xrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_command(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    range_command(ctx, args, true)
}

/// Redis's `xrangeGenericCommand`.
fn range_command(ctx: &mut Ctx, args: &Args, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (3, 2) } else { (2, 3) };
    let (mut start, start_ex) = parse_interval_id(args.get(start_arg), 0)?;
    if start_ex {
        start = start
            .incr()
            .ok_or(CmdError::msg("ERR invalid start ID for the interval"))?;
    }
    let (mut end, end_ex) = parse_interval_id(args.get(end_arg), u64::MAX)?;
    if end_ex {
        end = end
            .decr()
            .ok_or(CmdError::msg("ERR invalid end ID for the interval"))?;
    }
    let mut count: Option<i64> = None;
    let mut i = 4;
    while i < args.len() {
        if args.is(i, "count") && i + 1 < args.len() {
            count = Some(args.i64(i + 1)?.max(0));
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut db = ctx.db();
    match read_stream(&mut db, args.get(1))? {
        None => ctx.out.array(0),
        Some(_) if count == Some(0) => ctx.out.null_array(),
        Some(s) => reply_range(ctx.out, s, start, end, rev, count.unwrap_or(0) as usize),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(parse_id(b"5", 7, false), Ok(StreamId::new(5, 7)));
        assert_eq!(parse_id(b"5-3", 7, false), Ok(StreamId::new(5, 3)));
        assert_eq!(parse_id(b" 05-+3", 0, true), Ok(StreamId::new(5, 3)));
        assert_eq!(parse_id(b"-", 0, false), Ok(StreamId::MIN));
        assert_eq!(parse_id(b"+", 0, false), Ok(StreamId::MAX));
        assert!(parse_id(b"-", 0, true).is_err());
        assert!(parse_id(b"1--2", 0, false).is_err());
        assert!(parse_id(b"1-", 0, false).is_err());
        assert!(parse_id(b"1-*", 0, false).is_err());
        assert!(parse_id(b"18446744073709551616", 0, false).is_err());
        assert_eq!(parse_new_id(b"7-*"), Ok(NewId::AutoSeq(7)));
    }
}
