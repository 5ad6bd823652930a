//! The CLIENT command family (Redis's `clientCommand` in networking.c): identity, the
//! CLIENT LIST/INFO line format of Redis 7.0, KILL filters, reply modes and pausing.

use std::rc::Rc;

use super::command::reply_help;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::client::{ClientShared, ReplyMode};
use crate::server::Server;

const BASE: Flags = Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE);
const ADMIN: Flags = BASE.with(Flags::ADMIN);

super::table::family_spec!(, "connection", "connection");

const SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "id",
        2,
        BASE,
        id,
        "5.0.0",
        "Returns the client ID for the current connection",
    ),
    spec(
        "setname",
        3,
        BASE,
        setname,
        "2.6.9",
        "Set the current connection name",
    ),
    spec(
        "getname",
        2,
        BASE,
        getname,
        "2.6.9",
        "Get the current connection name",
    ),
    spec(
        "list",
        -2,
        ADMIN,
        list,
        "2.4.0",
        "Get the list of client connections",
    ),
    spec(
        "info",
        2,
        BASE,
        info,
        "6.2.0",
        "Returns information about the current client connection.",
    ),
    spec(
        "kill",
        -3,
        ADMIN,
        kill,
        "2.4.0",
        "Kill the connection of a client",
    ),
    spec(
        "setinfo",
        4,
        BASE,
        setinfo,
        "7.2.0",
        "Set client or connection specific info",
    ),
    spec(
        "no-evict",
        3,
        ADMIN,
        no_evict,
        "7.0.0",
        "Set client eviction mode for the current connection",
    ),
    spec(
        "reply",
        3,
        BASE,
        reply,
        "3.2.0",
        "Instruct the server whether to reply to commands",
    ),
    spec(
        "pause",
        -3,
        ADMIN,
        pause,
        "2.9.50",
        "Stop processing commands from clients for some time",
    ),
    spec(
        "unpause",
        2,
        ADMIN,
        unpause,
        "6.2.0",
        "Resume processing of clients that were paused",
    ),
    spec(
        "getredir",
        2,
        BASE,
        getredir,
        "6.0.0",
        "Get tracking notifications redirection client ID if any",
    ),
    spec(
        "help",
        2,
        Flags::LOADING.with(Flags::STALE),
        help,
        "5.0.0",
        "Show helpful text about the different subcommands",
    ),
];

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("client", -2, Flags::NONE, help)
    .doc(
        "connection",
        "2.4.0",
        "A container for client connection commands",
    )
    .subcommands(SUBCOMMANDS)];

fn id(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.int(ctx.client.id() as i64);
    Ok(())
}

fn setname(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let name = args.get(2);
    super::connection::validate_client_name(name)?;
    *ctx.client.shared.name.borrow_mut() = name.to_vec();
    ctx.out.ok();
    Ok(())
}

fn getname(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let name = ctx.client.shared.name.borrow();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(&name);
    }
    Ok(())
}

/// Redis's client types, as the TYPE filters name them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

impl ClientType {
    fn parse(name: &[u8]) -> Result<ClientType, CmdError> {
        match name.to_ascii_lowercase().as_slice() {
            b"normal" => Ok(ClientType::Normal),
            b"slave" | b"replica" => Ok(ClientType::Replica),
            b"master" => Ok(ClientType::Master),
            b"pubsub" => Ok(ClientType::PubSub),
            _ => Err(CmdError::msg(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(name)
            ))),
        }
    }

    fn of(c: &ClientShared) -> ClientType {
        use crate::repl::LinkKind;
        match c.link_kind.get() {
            LinkKind::Replica => return ClientType::Replica,
            LinkKind::Master => return ClientType::Master,
            LinkKind::Normal => {}
        }
        if c.subscription_count() > 0 {
            ClientType::PubSub
        } else {
            ClientType::Normal
        }
    }
}

/// The full command name CLIENT LIST shows (`client|list` for subcommands).
fn last_command(c: &ClientShared) -> String {
    let sub = c.last_sub.get();
    if sub.is_empty() {
        c.last_cmd.get().to_string()
    } else {
        format!("{}|{}", c.last_cmd.get(), sub)
    }
}

/// Redis 7.0's flag letters for a client.
fn flags_of(c: &ClientShared) -> String {
    let mut f = String::new();
    match c.link_kind.get() {
        crate::repl::LinkKind::Replica => f.push('S'),
        crate::repl::LinkKind::Master => f.push('M'),
        crate::repl::LinkKind::Normal => {}
    }
    if c.subscription_count() > 0 {
        f.push('P');
    }
    if c.in_multi.get() >= 0 {
        f.push('x');
    }
    if c.blocked.get() {
        f.push('b');
    }
    if c.kill.get() {
        f.push('A');
    }
    if c.no_evict.get() {
        f.push('e');
    }
    if f.is_empty() {
        f.push('N');
    }
    f
}

/// One CLIENT LIST line (without the newline), fields exactly as Redis 7.0.15 has them.
/// Memory fields are estimates: the buffers are owned by the connection task.
fn client_line(c: &ClientShared, now_ms: u64) -> String {
    const READ_BUF: usize = 16 * 1024;
    let qbuf = c.query_buf_len.get();
    let omem = c.pending_out.borrow().len();
    let name = c.name.borrow();
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll={} omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        String::from_utf8_lossy(&name),
        now_ms.saturating_sub(c.created_ms) / 1000,
        now_ms.saturating_sub(c.last_interaction_ms.get()) / 1000,
        flags_of(c),
        c.db.get(),
        c.subscriptions.get(),
        c.pattern_subscriptions.get(),
        c.shard_subscriptions.get(),
        c.in_multi.get(),
        qbuf,
        READ_BUF.saturating_sub(qbuf),
        READ_BUF,
        usize::from(omem > 0),
        omem,
        READ_BUF + qbuf + omem,
        last_command(c),
        c.resp.get(),
    )
}

fn reply_text(ctx: &mut Ctx, text: &str) {
    ctx.out.verbatim("txt", text.as_bytes());
}

fn list(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let clients: Vec<Rc<ClientShared>> = if args.len() == 2 {
        ctx.srv.clients.borrow().values().cloned().collect()
    } else if args.len() == 4 && args.is(2, "type") {
        let wanted = ClientType::parse(args.get(3))?;
        let all = ctx.srv.clients.borrow();
        all.values()
            .filter(|c| ClientType::of(c) == wanted)
            .cloned()
            .collect()
    } else if args.len() > 3 && args.is(2, "id") {
        let mut found = Vec::new();
        for i in 3..args.len() {
            let id = args
                .i64(i)
                .map_err(|_| CmdError::msg("ERR Invalid client ID"))?;
            if let Some(c) = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.srv.clients.borrow().get(&id).cloned())
            {
                found.push(c);
            }
        }
        found
    } else {
        return Err(CmdError::Syntax);
    };
    let now = crate::clock::now_ms();
    let mut text = String::new();
    for c in &clients {
        text.push_str(&client_line(c, now));
        text.push('\n');
    }
    reply_text(ctx, &text);
    Ok(())
}

fn info(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let mut text = client_line(&ctx.client.shared, crate::clock::now_ms());
    text.push('\n');
    reply_text(ctx, &text);
    Ok(())
}

/// The filters of CLIENT KILL; `None` matches every client.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    kind: Option<ClientType>,
    skip_me: bool,
}

impl KillFilter {
    /// Parses `KILL <filter> <value> ...` (the form with an even number of words).
    fn parse(args: &Args) -> Result<KillFilter, CmdError> {
        let mut f = KillFilter {
            skip_me: true,
            ..KillFilter::default()
        };
        let mut i = 2;
        while i < args.len() {
            if i + 1 >= args.len() {
                return Err(CmdError::Syntax);
            }
            let value = args.get(i + 1);
            if args.is(i, "id") {
                let id = super::args::parse_i64(value)
                    .filter(|&v| v > 0)
                    .ok_or_else(|| CmdError::msg("ERR client-id should be greater than 0"))?;
                f.id = Some(id as u64);
            } else if args.is(i, "type") {
                f.kind = Some(ClientType::parse(value)?);
            } else if args.is(i, "addr") {
                f.addr = Some(value.to_vec());
            } else if args.is(i, "laddr") {
                f.laddr = Some(value.to_vec());
            } else if args.is(i, "user") {
                // Only the default user exists until ACLs are implemented.
                if value != b"default" {
                    return Err(CmdError::msg(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(value)
                    )));
                }
            } else if args.is(i, "skipme") {
                f.skip_me = match value.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(CmdError::Syntax),
                };
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(f)
    }

    fn matches(&self, c: &ClientShared, me: u64) -> bool {
        self.id.is_none_or(|id| id == c.id)
            && self.addr.as_deref().is_none_or(|a| a == c.addr.as_bytes())
            && self
                .laddr
                .as_deref()
                .is_none_or(|a| a == c.laddr.as_bytes())
            && self.kind.is_none_or(|k| k == ClientType::of(c))
            && !(self.skip_me && c.id == me)
    }
}

fn kill(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let old_form = args.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(args.get(2).to_vec()),
            ..KillFilter::default()
        }
    } else {
        KillFilter::parse(args)?
    };
    let me = ctx.client.id();
    let victims: Vec<Rc<ClientShared>> = ctx
        .srv
        .clients
        .borrow()
        .values()
        .filter(|c| filter.matches(c, me))
        .cloned()
        .collect();
    for c in &victims {
        if c.id == me {
            // Our own reply must still go out: close after writing it.
            ctx.client.close_after_reply = true;
        } else {
            c.request_kill();
        }
    }
    if !old_form {
        ctx.out.int(victims.len() as i64);
    } else if victims.is_empty() {
        return Err(CmdError::msg("ERR No such client"));
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// CLIENT SETINFO is Redis 7.2; clients (redis-py 5 and later) send it on connect.
fn setinfo(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let value = args.get(3);
    let target = if args.is(2, "lib-name") {
        &ctx.client.shared.lib_name
    } else if args.is(2, "lib-ver") {
        &ctx.client.shared.lib_ver
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(args.get(2))
        )));
    };
    if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(args.get(2)).to_lowercase()
        )));
    }
    *target.borrow_mut() = value.to_vec();
    ctx.out.ok();
    Ok(())
}

fn on_off(args: &Args, i: usize) -> Result<bool, CmdError> {
    if args.is(i, "on") {
        Ok(true)
    } else if args.is(i, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn no_evict(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ctx.client.shared.no_evict.set(on_off(args, 2)?);
    ctx.out.ok();
    Ok(())
}

/// OFF and SKIP write nothing; dispatch drops the replies of the commands that follow.
fn reply(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.is(2, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::Skip;
        }
        return Ok(());
    }
    if on_off(args, 2)? {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else {
        ctx.client.reply_mode = ReplyMode::Off;
    }
    Ok(())
}

/// Validates like Redis. The pause itself is not enforced (connections run on
/// their own tasks and are not held back yet); the reply is the same.
fn pause(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let timeout = args
        .i64(2)
        .map_err(|_| CmdError::msg("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    if args.len() == 4 && !args.is(3, "write") && !args.is(3, "all") {
        return Err(CmdError::msg("ERR CLIENT PAUSE mode must be WRITE or ALL"));
    }
    if args.len() > 4 {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

fn unpause(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.ok();
    Ok(())
}

/// Tracking is not implemented, so there is never a redirection.
fn getredir(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.int(-1);
    Ok(())
}

const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(ctx.out, "CLIENT", HELP);
    Ok(())
}

/// Number of connected clients blocked in a blocking command (INFO clients).
pub fn blocked_count(srv: &Server) -> usize {
    srv.clients
        .borrow()
        .values()
        .filter(|c| c.blocked.get())
        .count()
}
