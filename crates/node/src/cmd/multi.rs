//! Transactions (Redis's `multi.c`): MULTI, EXEC, DISCARD, and WATCH / UNWATCH, the
//! optimistic locks that make EXEC fail when a watched key changed.

use super::table::{CommandSpec, Flags};
use super::{dispatch, Args, CmdError, CmdResult, Ctx};
use crate::client::{Client, MultiState};
use crate::db::Watcher;
use crate::server::Server;

/// Flags every transaction command has in Redis 7.0.
const TX: Flags = Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE);
const TX_FAST: Flags = TX.with(Flags::FAST).with(Flags::ALLOW_BUSY);

super::table::family_spec!(, "transactions", "transaction");

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "multi",
        1,
        TX_FAST,
        multi,
        "1.2.0",
        "Mark the start of a transaction block",
    ),
    spec(
        "exec",
        1,
        TX,
        exec,
        "1.2.0",
        "Execute all commands issued after MULTI",
    ),
    spec(
        "discard",
        1,
        TX_FAST,
        discard,
        "2.0.0",
        "Discard all commands issued after MULTI",
    ),
    spec(
        "watch",
        -2,
        TX_FAST,
        watch,
        "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
    )
    .keys(1, -1, 1),
    spec(
        "unwatch",
        1,
        TX_FAST,
        unwatch,
        "2.2.0",
        "Forget about all watched keys",
    ),
];

fn multi(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(MultiState::default());
    ctx.client.shared.in_multi.set(0);
    ctx.out.ok();
    Ok(())
}

/// Leaves MULTI state and drops every WATCH (Redis's `discardTransaction`).
pub fn end_transaction(srv: &Server, client: &mut Client) -> Option<MultiState> {
    let state = client.multi.take();
    client.shared.in_multi.set(-1);
    unwatch_all(srv, client);
    state
}

fn discard(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(CmdError::msg("ERR DISCARD without MULTI"));
    }
    end_transaction(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// True if a watched key has expired since WATCH (Redis 7.0's `isWatchedKeyExpired`;
/// keys already expired when watched were deleted by WATCH, so they do not count).
fn watched_key_expired(srv: &Server, client: &Client) -> bool {
    let now = crate::clock::now_ms();
    client.watched.iter().any(|(db, key)| {
        srv.dbs[*db]
            .borrow()
            .expire_at(key)
            .is_some_and(|at| at <= now)
    })
}

fn exec(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let Some(aborted) = ctx.client.multi.as_ref().map(|m| m.aborted) else {
        return Err(CmdError::msg("ERR EXEC without MULTI"));
    };
    let dirty = ctx.client.watch_dirty.get() || watched_key_expired(ctx.srv, ctx.client);
    let state = end_transaction(ctx.srv, ctx.client).expect("checked above");
    if aborted {
        return Err(CmdError::msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(state.queued.len());
    ctx.client.in_exec = true;
    // The queued commands propagate themselves, wrapped in MULTI … EXEC; EXEC adds
    // nothing of its own.
    ctx.srv.propagator.borrow_mut().begin_transaction();
    ctx.propagate_as(Vec::new());
    for queued in &state.queued {
        let args = queued.args();
        match dispatch::resolve(&args) {
            Ok((cmd, sub)) => {
                dispatch::call(ctx.srv, ctx.client, ctx.out, sub.unwrap_or(cmd), &args);
            }
            Err(e) => ctx.out.error(&e.to_string()),
        }
    }
    ctx.client.in_exec = false;
    ctx.srv.propagator.borrow_mut().end_transaction();
    Ok(())
}

fn watch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR WATCH inside MULTI is not allowed"));
    }
    let index = ctx.client.db;
    let mut db = ctx.db();
    for key in args.iter_from(1) {
        let client = &mut *ctx.client;
        if client.watched.iter().any(|(d, k)| *d == index && k == key) {
            continue;
        }
        // A key already expired is deleted first: its removal is then no change
        // for this WATCH, as Redis 7.0 treats keys that were expired when watched.
        db.get(key);
        db.watch(
            key,
            Watcher {
                client_id: client.id(),
                dirty: client.watch_dirty.clone(),
            },
        );
        client.watched.push((index, key.to_vec()));
    }
    drop(db);
    ctx.out.ok();
    Ok(())
}

/// Drops all of the client's WATCHes and clears the changed flag.
fn unwatch_all(srv: &Server, client: &mut Client) {
    let id = client.id();
    for (db, key) in client.watched.drain(..) {
        srv.dbs[db].borrow_mut().unwatch(&key, id);
    }
    client.watched_expired.clear();
    client.watch_dirty.set(false);
}

fn unwatch(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}
