//! XREAD (Redis's `xreadCommand` without consumer groups): reading several streams
//! at once, blocking until an entry newer than the given IDs arrives; and XINFO STREAM.

use super::stream::{parse_id, read_stream, reply_entry, reply_id, reply_range, spec};
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx, OwnedArgs};
use crate::db::stream::{Stream, StreamId};

pub const COMMANDS: &[CommandSpec] = &[spec(
    "xread",
    -4,
    Flags::READONLY.with(Flags::BLOCKING),
    xread,
    "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
)
.keys_fn(xread_keys)
.acl(&["read", "stream", "slow", "blocking"]),
spec(
    "xinfo",
    -2,
    Flags::NONE,
    xinfo_stream,
    "A container for stream introspection commands",
)
.keys(0, 0, 0)
.acl(&["slow"])
.subcommands(XINFO_SUBCOMMANDS)];

const XINFO_SUBCOMMANDS: &[CommandSpec] = &[spec(
    "stream",
    -3,
    Flags::READONLY,
    xinfo_stream,
    "Get information about a stream",
)
.keys(2, 2, 1)
.acl(&["read", "stream", "slow"])];

/// Keys of XREAD: the first half of the arguments after STREAMS.
fn xread_keys(args: &Args) -> Vec<usize> {
    let Some(at) = (1..args.len()).find(|&i| args.is(i, "streams")) else {
        return Vec::new();
    };
    let n = (args.len() - at - 1) / 2;
    (at + 1..at + 1 + n).collect()
}

/// XREAD's options.
struct ReadArgs {
    /// `Some` with BLOCK: the deadline in Unix ms, `None` inside for BLOCK 0.
    block: Option<Option<u64>>,
    count: usize,
    /// Position of the first key after STREAMS, and the number of streams.
    keys_at: usize,
    streams: usize,
}

/// Redis's `getTimeoutFromObjectOrReply` in milliseconds.
fn parse_block(arg: &[u8], now_ms: u64) -> Result<Option<u64>, CmdError> {
    let t = super::args::parse_i64(arg).ok_or(CmdError::msg(
        "ERR timeout is not an integer or out of range",
    ))?;
    if t < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    if t == 0 {
        return Ok(None);
    }
    // Redis 7.0 has no range check here; a huge timeout just waits for very long.
    Ok(Some(now_ms.saturating_add(t as u64)))
}

fn parse_read_args(args: &Args, now_ms: u64) -> Result<ReadArgs, CmdError> {
    let mut r = ReadArgs {
        block: None,
        count: 0,
        keys_at: 0,
        streams: 0,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if more > 0 && args.is(i, "block") {
            r.block = Some(parse_block(args.get(i + 1), now_ms)?);
            i += 1;
        } else if more > 0 && args.is(i, "count") {
            r.count = args.i64(i + 1)?.max(0) as usize;
            i += 1;
        } else if more > 0 && args.is(i, "streams") {
            r.keys_at = i + 1;
            if !more.is_multiple_of(2) {
                return Err(CmdError::msg(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.streams = more / 2;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if r.keys_at == 0 {
        return Err(CmdError::Syntax);
    }
    Ok(r)
}

fn xread(ctx: &mut Ctx, args: &Args) -> CmdResult {
    match read_or_block(ctx, args) {
        // A key that became another type while this client waited: keep waiting, as
        // Redis only serves blocked XREADs from streams.
        Err(CmdError::WrongType) if ctx.client.shared.blocked.get() => {
            ctx.block_on(Vec::new(), None);
            Ok(())
        }
        other => other,
    }
}

fn read_or_block(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let r = parse_read_args(args, db.now_ms)?;
    let ids_at = r.keys_at + r.streams;
    let mut ids = Vec::with_capacity(r.streams);
    for k in 0..r.streams {
        let s = read_stream(&mut db, args.get(r.keys_at + k))?;
        let id = match args.get(ids_at + k) {
            b"$" => s.map_or(StreamId::MIN, |s| s.last_id),
            b">" => {
                return Err(CmdError::msg(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            arg => parse_id(arg, 0, true)?,
        };
        ids.push(id);
    }
    let mut ready = Vec::new();
    for (k, after) in ids.iter().enumerate() {
        if let Some(s) = read_stream(&mut db, args.get(r.keys_at + k))? {
            if s.last_valid_id() > *after {
                ready.push(k);
            }
        }
    }
    if !ready.is_empty() {
        let resp3 = ctx.out.resp3;
        if resp3 {
            ctx.out.map(ready.len());
        } else {
            ctx.out.array(ready.len());
        }
        for k in ready {
            let key = args.get(r.keys_at + k);
            let s = db.get(key).expect("ready").as_stream()?;
            if !resp3 {
                ctx.out.array(2);
            }
            ctx.out.bulk(key);
            let start = ids[k].incr().expect("below a valid ID");
            reply_range(ctx.out, s, start, StreamId::MAX, false, r.count);
        }
        return Ok(());
    }
    drop(db);
    match r.block {
        Some(deadline) => {
            let keys = (0..r.streams)
                .map(|k| args.get(r.keys_at + k).to_vec())
                .collect();
            ctx.block_on(keys, deadline);
            if let Some(block) = ctx.block.as_mut() {
                block.rewritten = rewrite_dollar_ids(args, ids_at, &ids);
            }
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// The command to re-run after a wake-up, with each `$` replaced by the ID it stood
/// for when the client blocked, so only entries added later are returned.
fn rewrite_dollar_ids(args: &Args, ids_at: usize, ids: &[StreamId]) -> Option<OwnedArgs> {
    if !args.iter_from(ids_at).any(|a| a == b"$") {
        return None;
    }
    let mut out = OwnedArgs::default();
    let mut buf = [0u8; 41];
    for i in 0..args.len() {
        match args.get(i) {
            b"$" if i >= ids_at => out.push(ids[i - ids_at].format(&mut buf)),
            arg => out.push(arg),
        }
    }
    Some(out)
}

/// XINFO STREAM key [FULL [COUNT n]] (consumer groups are not kept, so none show).
fn xinfo_stream(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let s = read_stream(&mut db, args.get(2))?.ok_or(CmdError::NoSuchKey)?;
    let full_syntax = || {
        CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(args.get(1))
        ))
    };
    let full = args.len() > 3;
    let mut count = 10;
    if full {
        if !args.is(3, "full") {
            return Err(full_syntax());
        }
        if args.len() > 4 {
            if args.len() != 6 || !args.is(4, "count") {
                return Err(full_syntax());
            }
            count = args.i64(5)?.max(0) as usize;
        }
    }
    ctx.out.map(if full { 9 } else { 10 });
    info_common(ctx, s);
    if full {
        ctx.out.bulk(b"entries");
        reply_range(ctx.out, s, StreamId::MIN, StreamId::MAX, false, count);
        ctx.out.bulk(b"groups");
        ctx.out.array(0);
        return Ok(());
    }
    ctx.out.bulk(b"groups");
    ctx.out.int(0);
    for (name, edge) in [(&b"first-entry"[..], s.first()), (b"last-entry", s.last())] {
        ctx.out.bulk(name);
        match edge {
            Some((id, fields)) => reply_entry(ctx.out, *id, fields),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// The fields XINFO STREAM shows in both forms.
fn info_common(ctx: &mut Ctx, s: &Stream) {
    let out = &mut *ctx.out;
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.radix_tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first().map_or(StreamId::MIN, |(id, _)| *id));
}
