//! Running one command the way Redis's `processCommand` does: lookup, arity, auth,
//! subscribe-mode and MULTI rules, then the handler, then serving blocked clients.

use std::cell::RefMut;

use resp::ReplyBuf;

use super::table::{self, CommandSpec, Flags};
use super::{Args, CmdError, OwnedArgs};
use crate::blocking::{self, BlockRequest};
use crate::client::{Client, ReplyMode};
use crate::db::Db;
use crate::server::{Server, Stats};

/// What a handler works with: the server, its own client, the reply buffer.
pub struct Ctx<'a> {
    pub srv: &'a Server,
    pub client: &'a mut Client,
    pub out: &'a mut ReplyBuf,
    /// Set by a blocking command that must wait (see [`Ctx::block_on`]).
    pub block: Option<BlockRequest>,
    /// What to propagate instead of the command itself (see [`Ctx::propagate_as`]).
    pub propagate_as: Option<Vec<OwnedArgs>>,
    /// Propagate even if nothing changed (see [`Ctx::force_propagation`]).
    pub force_propagation: bool,
}

impl<'a> Ctx<'a> {
    /// Replaces what this command propagates (AOF, replicas) when it changed data:
    /// commands whose replay would differ are rewritten, e.g. `SET k v EX 10` as
    /// `SET k v PXAT <ms>`, `SPOP` as `SREM`, `BLPOP` as `LPOP`. An empty list
    /// propagates nothing.
    pub fn propagate_as(&mut self, commands: Vec<OwnedArgs>) {
        self.propagate_as = Some(commands);
    }

    /// Adds a rewritten command to what this command propagates.
    pub fn also_propagate(&mut self, command: OwnedArgs) {
        self.propagate_as.get_or_insert_with(Vec::new).push(command);
    }

    /// Propagates the single command `parts` instead of this one.
    pub fn propagate_one(&mut self, parts: &[&[u8]]) {
        if self.propagating() {
            self.propagate_as(vec![OwnedArgs::from_slices(parts.iter().copied())]);
        }
    }

    /// Propagates this command even if it changed nothing, as Redis's
    /// `forceCommandPropagation` (FLUSHALL on an empty server still empties replicas).
    pub fn force_propagation(&mut self) {
        self.force_propagation = true;
    }

    /// Propagates `DEL key`, or UNLINK when `lazyfree_option` says deletions are lazy.
    pub fn propagate_deletion(&mut self, key: &[u8], lazyfree_option: &str) {
        if self.propagating() {
            let name = crate::propagate::deletion_command(self.srv, lazyfree_option);
            self.propagate_one(&[name, key]);
        }
    }

    /// Whether anything consumes the propagation stream: rewrites that cost an
    /// allocation are skipped when not.
    pub fn propagating(&self) -> bool {
        self.srv.propagator.borrow().enabled()
    }

    /// The client's selected database.
    pub fn db(&self) -> RefMut<'a, Db> {
        self.srv.dbs[self.client.db].borrow_mut()
    }

    /// Asks to wait for `keys`; inside EXEC (where nothing may block) the command
    /// instead answers the null it would give on timeout.
    pub fn block_on(&mut self, keys: Vec<Vec<u8>>, deadline_ms: Option<u64>) {
        if self.client.in_exec {
            self.out.null_array();
        } else {
            self.block = Some(BlockRequest {
                keys,
                deadline_ms,
                rewritten: None,
            });
        }
    }

    pub fn resp3(&self) -> bool {
        self.out.resp3
    }
}

fn unknown_command_error(args: &Args) -> CmdError {
    let mut shown = String::new();
    for arg in args.iter_from(1) {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        let text = String::from_utf8_lossy(arg);
        let cut: String = text.chars().take(room).collect();
        shown.push_str(&format!("'{cut}' "));
    }
    let name: String = String::from_utf8_lossy(args.get(0))
        .chars()
        .take(128)
        .collect();
    CmdError::msg(format!(
        "ERR unknown command '{name}', with args beginning with: {shown}"
    ))
}

/// Finds the command (or subcommand) `args` names, or the error Redis rejects it with.
pub fn resolve(
    args: &Args,
) -> Result<(&'static CommandSpec, Option<&'static CommandSpec>), CmdError> {
    let cmd = table::lookup(args.get(0)).ok_or_else(|| unknown_command_error(args))?;
    if cmd.subcommands.is_empty() {
        if !cmd.arity_ok(args.len()) {
            return Err(CmdError::Arity(cmd.name.to_string()));
        }
        return Ok((cmd, None));
    }
    if args.len() < 2 {
        // A container that also runs alone (COMMAND) says so with its arity.
        if cmd.arity_ok(args.len()) {
            return Ok((cmd, None));
        }
        return Err(CmdError::Arity(cmd.name.to_string()));
    }
    let sub = cmd
        .find_subcommand(args.get(1))
        .ok_or_else(|| CmdError::unknown_subcommand(cmd.name, args.get(1)))?;
    if !sub.arity_ok(args.len()) {
        return Err(CmdError::Arity(format!("{}|{}", cmd.name, sub.name)));
    }
    Ok((cmd, Some(sub)))
}

/// Commands that run immediately even inside MULTI.
/// MISCONF: after a persistence error, write commands, PING and an EXEC with queued
/// writes are refused (`persist::write_denied`); our master's stream and the AOF
/// replay are not (Redis exempts them too).
fn disk_error(
    srv: &Server,
    client: &Client,
    cmd: &CommandSpec,
    spec: &CommandSpec,
) -> Option<String> {
    let writes = spec.flags.has(Flags::WRITE)
        || cmd.name == "ping"
        || (cmd.name == "exec" && queues_write(client));
    if !writes || client.replaying || client.shared.link_kind.get() == crate::repl::LinkKind::Master
    {
        return None;
    }
    crate::persist::write_denied(srv)
}

/// Whether the client's open transaction holds a write command.
fn queues_write(client: &Client) -> bool {
    client.multi.as_ref().is_some_and(|m| {
        m.queued.iter().any(|q| {
            resolve(&q.args()).is_ok_and(|(cmd, sub)| sub.unwrap_or(cmd).flags.has(Flags::WRITE))
        })
    })
}

fn runs_inside_multi(cmd: &CommandSpec) -> bool {
    matches!(
        cmd.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

fn reject(srv: &Server, client: &mut Client, out: &mut ReplyBuf, err: CmdError) {
    if let Some(m) = client.multi.as_mut() {
        m.aborted = true;
    }
    Stats::incr(&srv.stats.total_error_replies, 1);
    out.error(&err.to_string());
}

/// Executes one request from a client. Returns a block request when the command
/// must wait for keys; the caller parks the client and retries on wake-up.
pub fn execute(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    args: &Args,
) -> Option<BlockRequest> {
    let mode = client.reply_mode;
    let reply_start = out.buf.len();
    let blocked = execute_checked(srv, client, out, args);
    // ASKING holds for the next command only, or until EXEC inside MULTI.
    if client.asking && client.multi.is_none() && !args.is(0, "asking") {
        client.asking = false;
    }
    let is_client_reply = args.len() >= 2 && args.is(0, "client") && args.is(1, "reply");
    if !is_client_reply && matches!(mode, ReplyMode::Off | ReplyMode::Skip) {
        out.buf.truncate(reply_start);
        if mode == ReplyMode::Skip {
            client.reply_mode = ReplyMode::On;
        }
    }
    let db = client.db;
    if !srv.dbs[db].borrow().ready_keys.is_empty() {
        blocking::serve_ready_keys(srv, db);
    }
    blocked
}

fn execute_checked(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    args: &Args,
) -> Option<BlockRequest> {
    let (cmd, sub) = match resolve(args) {
        Ok(found) => found,
        Err(e) => {
            reject(srv, client, out, e);
            return None;
        }
    };
    let spec = sub.unwrap_or(cmd);
    client.shared.last_cmd.set(cmd.name);
    client.shared.last_sub.set(sub.map_or("", |s| s.name));
    if !client.authenticated && !spec.flags.has(Flags::NO_AUTH) {
        reject(
            srv,
            client,
            out,
            CmdError::msg("NOAUTH Authentication required."),
        );
        return None;
    }
    // Our master's stream and our own AOF are applied whatever the slots (Redis exempts
    // both clients).
    if srv.cluster.is_some()
        && crate::cluster::redirect::may_need_redirect(cmd, spec)
        && client.shared.link_kind.get() != crate::repl::LinkKind::Master
        && !client.replaying
    {
        if let Some(e) = crate::cluster::redirect::check(srv, client, cmd, spec, args) {
            reject(srv, client, out, e);
            return None;
        }
    }
    if client.multi.is_some() && spec.flags.has(Flags::NO_MULTI) {
        reject(
            srv,
            client,
            out,
            CmdError::msg("ERR Command not allowed inside a transaction"),
        );
        return None;
    }
    if let Some(e) = disk_error(srv, client, cmd, spec) {
        if cmd.name == "exec" && client.multi.is_some() {
            // Redis's execCommandAbort: the transaction is gone, the reason given.
            crate::cmd::multi::end_transaction(srv, client);
            Stats::incr(&srv.stats.total_error_replies, 1);
            out.error(&format!("EXECABORT Transaction discarded because of: {e}"));
        } else {
            reject(srv, client, out, CmdError::msg(e));
        }
        return None;
    }
    if client.in_subscribe_mode() && !spec.flags.has(Flags::SUBSCRIBE_OK) {
        let full = match sub {
            Some(s) => format!("{}|{}", cmd.name, s.name),
            None => cmd.name.to_string(),
        };
        reject(
            srv,
            client,
            out,
            CmdError::msg(format!(
                "ERR Can't execute '{full}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            )),
        );
        return None;
    }
    if let Some(e) = crate::repl::check_command(srv, client, spec) {
        reject(srv, client, out, e);
        return None;
    }
    if let Some(multi) = client.multi.as_mut().filter(|_| !runs_inside_multi(cmd)) {
        multi.queued.push(args.to_owned());
        client.shared.in_multi.set(multi.queued.len() as i64);
        out.simple(b"QUEUED");
        return None;
    }
    call(srv, client, out, spec, args)
}

/// Runs a resolved command's handler and writes its error, if any.
pub fn call(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    spec: &'static CommandSpec,
    args: &Args,
) -> Option<BlockRequest> {
    srv.dbs[client.db].borrow_mut().now_ms = crate::clock::now_ms();
    Stats::incr(&srv.stats.total_commands_processed, 1);
    let dirty_before = srv.dirty.get();
    let mut ctx = Ctx {
        srv,
        client,
        out,
        block: None,
        propagate_as: None,
        force_propagation: false,
    };
    if let Err(e) = (spec.handler)(&mut ctx, args) {
        Stats::incr(&srv.stats.total_error_replies, 1);
        ctx.out.error(&e.to_string());
    }
    let block = ctx.block.take();
    let replacement = ctx.propagate_as.take();
    let db = ctx.client.db;
    if srv.propagator.borrow().enabled() {
        let changed = srv.dirty.get() != dirty_before || ctx.force_propagation;
        propagate(srv, db, args, changed, replacement);
    }
    block
}

/// Sends a command's effects down the propagation stream: first the deletions of keys
/// it found expired, then the command (or its replacement) if it changed anything.
fn propagate(
    srv: &Server,
    db: usize,
    args: &Args,
    changed: bool,
    replacement: Option<Vec<OwnedArgs>>,
) {
    crate::propagate::propagate_expired(srv);
    if !changed {
        return;
    }
    let mut p = srv.propagator.borrow_mut();
    match replacement {
        // Several commands standing for one are applied atomically, as Redis does.
        Some(commands) if commands.len() > 1 && !p.in_transaction() => {
            p.begin_transaction();
            commands.iter().for_each(|c| p.emit(db, &c.args()));
            p.end_transaction();
        }
        Some(commands) => commands.iter().for_each(|c| p.emit(db, &c.args())),
        None => p.emit(db, args),
    }
}

/// Runs a blocked client's command again on its behalf; true if it must keep waiting.
pub fn run_for_blocked(srv: &Server, client: &mut Client, out: &mut ReplyBuf, args: &Args) -> bool {
    match resolve(args) {
        Ok((cmd, sub)) => call(srv, client, out, sub.unwrap_or(cmd), args).is_some(),
        Err(e) => {
            out.error(&e.to_string());
            false
        }
    }
}
