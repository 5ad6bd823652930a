//! Pub/sub commands (Redis's `pubsub.c`): (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH,
//! SPUBLISH and PUBSUB introspection; the registry and delivery live in `crate::pubsub`.

use std::collections::BTreeSet;

use resp::ReplyBuf;

use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::client::{Client, ReplyMode};
use crate::pubsub::{self, Kind};

const SUB: Flags = Flags::PUBSUB
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::SUBSCRIBE_OK);
const PUBLISH: Flags = Flags::PUBSUB
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST)
    .with(Flags::MAY_REPLICATE);
const INTROSPECT: Flags = Flags::PUBSUB.with(Flags::LOADING).with(Flags::STALE);

super::table::family_spec!(, "pubsub", "pubsub");

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "subscribe",
        -2,
        SUB,
        subscribe,
        "2.0.0",
        "Listen for messages published to the given channels",
    ),
    spec(
        "unsubscribe",
        -1,
        SUB,
        unsubscribe,
        "2.0.0",
        "Stop listening for messages posted to the given channels",
    ),
    spec(
        "psubscribe",
        -2,
        SUB,
        psubscribe,
        "2.0.0",
        "Listen for messages published to channels matching the given patterns",
    ),
    spec(
        "punsubscribe",
        -1,
        SUB,
        punsubscribe,
        "2.0.0",
        "Stop listening for messages posted to channels matching the given patterns",
    ),
    spec(
        "publish",
        3,
        PUBLISH,
        publish,
        "2.0.0",
        "Post a message to a channel",
    ),
    spec(
        "ssubscribe",
        -2,
        SUB,
        ssubscribe,
        "7.0.0",
        "Listen for messages published to the given shard channels",
    )
    .keys(1, -1, 1),
    spec(
        "sunsubscribe",
        -1,
        SUB,
        sunsubscribe,
        "7.0.0",
        "Stop listening for messages posted to the given shard channels",
    )
    .keys(1, -1, 1),
    spec(
        "spublish",
        3,
        PUBLISH,
        spublish,
        "7.0.0",
        "Post a message to a shard channel",
    )
    .keys(1, 1, 1),
    spec(
        "pubsub",
        -2,
        Flags::NONE,
        container,
        "2.8.0",
        "A container for Pub/Sub commands",
    )
    .subcommands(PUBSUB_SUBCOMMANDS),
];

const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "channels",
        -2,
        INTROSPECT,
        pubsub_channels,
        "2.8.0",
        "List active channels",
    ),
    spec(
        "numpat",
        2,
        INTROSPECT,
        pubsub_numpat,
        "2.8.0",
        "Get the count of unique patterns pattern subscriptions",
    ),
    spec(
        "numsub",
        -2,
        INTROSPECT,
        pubsub_numsub,
        "2.8.0",
        "Get the count of subscribers for channels",
    ),
    spec(
        "shardchannels",
        -2,
        INTROSPECT,
        pubsub_shardchannels,
        "7.0.0",
        "List active shard channels",
    ),
    spec(
        "shardnumsub",
        -2,
        INTROSPECT,
        pubsub_shardnumsub,
        "7.0.0",
        "Get the count of subscribers for shard channels",
    ),
    spec(
        "help",
        2,
        Flags::LOADING.with(Flags::STALE),
        pubsub_help,
        "6.2.0",
        "Show helpful text about the different subcommands",
    ),
];

/// Never called: dispatch runs the subcommand's handler.
fn container(_: &mut Ctx, args: &Args) -> CmdResult {
    Err(CmdError::unknown_subcommand("pubsub", args.get(1)))
}

// ---- subscription bookkeeping ------------------------------------------------------

fn names_mut(client: &mut Client, kind: Kind) -> &mut BTreeSet<Vec<u8>> {
    match kind {
        Kind::Channel => &mut client.channels,
        Kind::Pattern => &mut client.patterns,
        Kind::Shard => &mut client.shard_channels,
    }
}

/// Copies the subscription set sizes into the counters other code reads
/// (`Client::in_subscribe_mode`, CLIENT LIST).
fn sync_counts(client: &Client) {
    let shared = &client.shared;
    shared.subscriptions.set(client.channels.len());
    shared.pattern_subscriptions.set(client.patterns.len());
    shared.shard_subscriptions.set(client.shard_channels.len());
}

/// The count a confirmation carries: channels + patterns, or shard channels alone.
fn reported_count(client: &Client, kind: Kind) -> i64 {
    match kind {
        Kind::Shard => client.shard_channels.len() as i64,
        _ => (client.channels.len() + client.patterns.len()) as i64,
    }
}

fn verbs(kind: Kind) -> (&'static [u8], &'static [u8]) {
    match kind {
        Kind::Channel => (b"subscribe", b"unsubscribe"),
        Kind::Pattern => (b"psubscribe", b"punsubscribe"),
        Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
    }
}

/// Writes a push for the client itself. Redis 7.0 sends pub/sub pushes even under
/// CLIENT REPLY OFF/SKIP, whose replies dispatch discards: then the output so far
/// (earlier replies, then this push) moves to `pending_out`, which is written first.
fn push_to_self(ctx: &mut Ctx, write: impl FnOnce(&mut ReplyBuf)) {
    write(ctx.out);
    let discarded = matches!(ctx.client.reply_mode, ReplyMode::Off | ReplyMode::Skip);
    if discarded && !ctx.client.in_exec {
        let mut pending = ctx.client.shared.pending_out.borrow_mut();
        pending.extend_from_slice(&ctx.out.buf);
        ctx.out.buf.clear();
    }
}

/// A (un)subscribe confirmation: `[verb, name or null, count]`.
fn confirm(ctx: &mut Ctx, verb: &[u8], name: Option<&[u8]>, count: i64) {
    push_to_self(ctx, |out| {
        out.push(3);
        out.bulk(verb);
        match name {
            Some(n) => out.bulk(n),
            None => out.null(),
        }
        out.int(count);
    });
}

fn subscribe_all(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    let verb = verbs(kind).0;
    for name in args.iter_from(1) {
        let names = names_mut(ctx.client, kind);
        if !names.contains(name) {
            names.insert(name.to_vec());
            ctx.srv
                .pubsub
                .borrow_mut()
                .add(kind, name, &ctx.client.shared);
            sync_counts(ctx.client);
        }
        let count = reported_count(ctx.client, kind);
        confirm(ctx, verb, Some(name), count);
    }
    Ok(())
}

/// Unsubscribes from the named channels, or from all of them when none is named
/// (confirming with a null name if there was nothing to leave).
fn unsubscribe_all(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    let verb = verbs(kind).1;
    let id = ctx.client.id();
    if args.len() > 1 {
        for name in args.iter_from(1) {
            if names_mut(ctx.client, kind).remove(name) {
                ctx.srv.pubsub.borrow_mut().remove(kind, name, id);
                sync_counts(ctx.client);
            }
            let count = reported_count(ctx.client, kind);
            confirm(ctx, verb, Some(name), count);
        }
        return Ok(());
    }
    if names_mut(ctx.client, kind).is_empty() {
        let count = reported_count(ctx.client, kind);
        confirm(ctx, verb, None, count);
    }
    while let Some(name) = names_mut(ctx.client, kind).pop_first() {
        ctx.srv.pubsub.borrow_mut().remove(kind, &name, id);
        sync_counts(ctx.client);
        let count = reported_count(ctx.client, kind);
        confirm(ctx, verb, Some(&name), count);
    }
    Ok(())
}

// ---- handlers ------------------------------------------------------------------------

fn subscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    subscribe_all(ctx, args, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    subscribe_all(ctx, args, Kind::Pattern)
}

/// Unlike SUBSCRIBE, Redis refuses SSUBSCRIBE where a client may not block (EXEC).
fn ssubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.client.in_exec {
        return Err(CmdError::msg(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    subscribe_all(ctx, args, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_all(ctx, args, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_all(ctx, args, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx, args: &Args) -> CmdResult {
    unsubscribe_all(ctx, args, Kind::Shard)
}

fn publish_message(ctx: &mut Ctx, args: &Args, shard: bool) -> CmdResult {
    let published = pubsub::publish(ctx.srv, args.get(1), args.get(2), shard, ctx.client.id());
    crate::cluster::bus::propagate_publish(ctx.srv, args.get(1), args.get(2), shard);
    if !published.own.is_empty() {
        push_to_self(ctx, |out| out.raw(&published.own));
    }
    ctx.out.int(published.receivers as i64);
    Ok(())
}

fn publish(ctx: &mut Ctx, args: &Args) -> CmdResult {
    publish_message(ctx, args, false)
}

fn spublish(ctx: &mut Ctx, args: &Args) -> CmdResult {
    publish_message(ctx, args, true)
}

// ---- PUBSUB introspection ------------------------------------------------------------

/// The error Redis gives when a subcommand has an argument count it does not accept.
fn subcommand_syntax_error(args: &Args) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
        String::from_utf8_lossy(args.get(1))
    ))
}

/// Active names of `kind`, filtered by an optional glob pattern.
fn list_names(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax_error(args));
    }
    let pattern = (args.len() == 3).then(|| args.get(2));
    let pubsub = ctx.srv.pubsub.borrow();
    let matching: Vec<&Vec<u8>> = pubsub
        .registry(kind)
        .keys()
        .filter(|name| pattern.is_none_or(|p| crate::glob::glob_match(p, name, false)))
        .collect();
    ctx.out.array(matching.len());
    for name in matching {
        ctx.out.bulk(name);
    }
    Ok(())
}

/// `[name, subscribers, ...]` for each name given.
fn count_subscribers(ctx: &mut Ctx, args: &Args, kind: Kind) -> CmdResult {
    let pubsub = ctx.srv.pubsub.borrow();
    ctx.out.array(2 * (args.len() - 2));
    for name in args.iter_from(2) {
        ctx.out.bulk(name);
        ctx.out.int(pubsub.subscriber_count(kind, name) as i64);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx, args: &Args) -> CmdResult {
    list_names(ctx, args, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx, args: &Args) -> CmdResult {
    list_names(ctx, args, Kind::Shard)
}

fn pubsub_numsub(ctx: &mut Ctx, args: &Args) -> CmdResult {
    count_subscribers(ctx, args, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx, args: &Args) -> CmdResult {
    count_subscribers(ctx, args, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx, _: &Args) -> CmdResult {
    let patterns = ctx.srv.pubsub.borrow().patterns.len();
    ctx.out.int(patterns as i64);
    Ok(())
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn pubsub_help(ctx: &mut Ctx, _: &Args) -> CmdResult {
    ctx.out.array(HELP.len());
    for line in HELP {
        ctx.out.simple(line.as_bytes());
    }
    Ok(())
}
