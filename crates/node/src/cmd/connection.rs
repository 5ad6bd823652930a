//! Connection commands: PING, ECHO, AUTH, HELLO, SELECT, QUIT, RESET, and the clean-up
//! when a client goes away.

use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::client::{Client, ReplyMode};
use crate::server::Server;

const ANY: Flags = Flags::NOSCRIPT
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST);

super::table::family_spec!(, "connection", "connection");

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "ping",
        -1,
        Flags::FAST.with(Flags::SUBSCRIBE_OK),
        ping,
        "1.0.0",
        "Ping the server",
    ),
    spec(
        "echo",
        2,
        Flags::FAST,
        echo,
        "1.0.0",
        "Echo the given string",
    ),
    spec(
        "auth",
        -2,
        ANY.with(Flags::NO_AUTH),
        auth,
        "1.0.0",
        "Authenticate to the server",
    ),
    spec(
        "hello",
        -1,
        ANY.with(Flags::NO_AUTH),
        hello,
        "6.0.0",
        "Handshake with Redis",
    ),
    spec(
        "select",
        2,
        Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        select,
        "1.0.0",
        "Change the selected database for the current connection",
    ),
    spec(
        "quit",
        -1,
        ANY.with(Flags::NO_AUTH).with(Flags::SUBSCRIBE_OK),
        quit,
        "1.0.0",
        "Close the connection",
    ),
    spec(
        "reset",
        1,
        ANY.with(Flags::NO_AUTH).with(Flags::SUBSCRIBE_OK),
        reset,
        "6.2.0",
        "Reset the connection",
    ),
];

fn ping(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::Arity("ping".into()));
    }
    if ctx.client.in_subscribe_mode() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out
            .bulk(if args.len() == 2 { args.get(1) } else { b"" });
    } else if args.len() == 2 {
        ctx.out.bulk(args.get(1));
    } else {
        ctx.out.simple(b"PONG");
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &Args) -> CmdResult {
    ctx.out.bulk(args.get(1));
    Ok(())
}

/// Checks a username/password pair against `requirepass` (only the default user
/// exists until ACLs come).
fn check_credentials(srv: &Server, user: &[u8], pass: &[u8]) -> Result<(), CmdError> {
    let cfg = srv.config.borrow();
    let ok = user == b"default" && cfg.requirepass.as_deref().is_none_or(|p| p == pass);
    if ok {
        Ok(())
    } else {
        Err(CmdError::msg(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ))
    }
}

fn auth(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        (b"default", args.get(1))
    } else {
        (args.get(1), args.get(2))
    };
    if args.len() == 2 && ctx.srv.config.borrow().requirepass.is_none() {
        return Err(CmdError::msg(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    check_credentials(ctx.srv, user, pass)?;
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

/// CLIENT SETNAME / HELLO SETNAME rule for names.
pub fn validate_client_name(name: &[u8]) -> Result<(), CmdError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn hello(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut proto = ctx.client.shared.resp.get();
    if args.len() >= 2 {
        let v = args
            .i64(1)
            .map_err(|_| CmdError::msg("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::msg("NOPROTO unsupported protocol version"));
        }
        proto = v as u8;
    }
    let mut creds = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if args.is(i, "auth") && more >= 2 {
            creds = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if args.is(i, "setname") && more >= 1 {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(args.get(i))
            )));
        }
    }
    if let Some((user, pass)) = creds {
        check_credentials(ctx.srv, user, pass)?;
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        validate_client_name(n)?;
        *ctx.client.shared.name.borrow_mut() = n.to_vec();
    }
    ctx.client.shared.resp.set(proto);
    ctx.out.resp3 = proto == 3;
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto as i64);
    out.bulk(b"id");
    out.int(ctx.client.id() as i64);
    out.bulk(b"mode");
    out.bulk(if ctx.srv.cluster.is_some() {
        &b"cluster"[..]
    } else {
        b"standalone"
    });
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let index = args.i64(1)?;
    if ctx.srv.cluster.is_some() && index != 0 {
        return Err(CmdError::msg("ERR SELECT is not allowed in cluster mode"));
    }
    if index < 0 || index as usize >= ctx.srv.dbs.len() {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    ctx.client.db = index as usize;
    ctx.client.shared.db.set(index as usize);
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn reset(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    forget_client(ctx.srv, ctx.client);
    let client = &mut *ctx.client;
    client.multi = None;
    client.shared.in_multi.set(-1);
    client.asking = false;
    client.readonly = false;
    client.db = 0;
    client.shared.db.set(0);
    client.reply_mode = ReplyMode::On;
    client.shared.resp.set(2);
    client.shared.no_evict.set(false);
    client.authenticated = ctx.srv.config.borrow().requirepass.is_none();
    ctx.out.resp3 = false;
    ctx.out.simple(b"RESET");
    Ok(())
}

/// Drops a client's WATCHes and subscriptions (on RESET and on disconnect).
pub fn forget_client(srv: &Server, client: &mut Client) {
    for (db, key) in client.watched.drain(..) {
        srv.dbs[db].borrow_mut().unwatch(&key, client.shared.id);
    }
    client.watched_expired.clear();
    client.watch_dirty.set(false);
    srv.pubsub.borrow_mut().remove_client(client);
    client.channels.clear();
    client.patterns.clear();
    client.shard_channels.clear();
    client.shared.subscriptions.set(0);
    client.shared.pattern_subscriptions.set(0);
    client.shared.shard_subscriptions.set(0);
}
