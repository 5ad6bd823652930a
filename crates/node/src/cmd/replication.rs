//! Replication commands: REPLICAOF/SLAVEOF, ROLE, WAIT, and the internal REPLCONF,
//! PSYNC and SYNC a replica sends (the machinery lives in `crate::repl`).

use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::repl::{self, info, LinkState};

const ADMIN: Flags = Flags::ADMIN.with(Flags::NOSCRIPT);
const INTERNAL: Flags = ADMIN.with(Flags::NO_MULTI);

super::table::family_spec!(, "server", "admin", "slow", "dangerous");

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "replicaof",
        3,
        ADMIN.with(Flags::STALE),
        replicaof,
        "5.0.0",
        "Configure a server as replica of another, or promote it to a master.",
    ),
    spec(
        "slaveof",
        3,
        ADMIN.with(Flags::STALE),
        replicaof,
        "1.0.0",
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
    ),
    spec(
        "replconf",
        -1,
        ADMIN.with(Flags::LOADING).with(Flags::STALE).with(Flags::ALLOW_BUSY),
        replconf,
        "3.0.0",
        "An internal command for configuring the replication stream",
    ),
    spec(
        "psync",
        -3,
        INTERNAL,
        psync,
        "2.8.0",
        "An internal command used in replication",
    ),
    spec(
        "sync",
        1,
        INTERNAL,
        sync,
        "1.0.0",
        "An internal command used in replication",
    ),
    spec(
        "role",
        1,
        Flags::NOSCRIPT
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::FAST),
        role,
        "2.8.12",
        "Returns the replication role.",
    )
    .acl(&["admin", "fast", "dangerous"]),
    spec(
        "wait",
        3,
        Flags::NOSCRIPT,
        wait,
        "3.0.0",
        "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
    )
    .doc("generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.")
    .acl(&["slow", "connection"]),
];

fn replicaof(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if ctx.srv.cluster.is_some() {
        return Err(CmdError::msg("ERR REPLICAOF not allowed in cluster mode."));
    }
    if args.is(1, "no") && args.is(2, "one") {
        repl::promote(ctx.srv);
        ctx.out.ok();
        return Ok(());
    }
    let port = args
        .i64(2)
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| CmdError::msg("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(args.get(1)).into_owned();
    let same = ctx.srv.repl.borrow().master.as_ref() == Some(&(host.clone(), port));
    if same {
        ctx.out.simple(b"OK Already connected to specified master");
        return Ok(());
    }
    tracing::info!("REPLICAOF {host}:{port} enabled (user request)");
    repl::set_master(ctx.srv, host, port);
    ctx.out.ok();
    Ok(())
}

fn replconf(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    for i in (1..args.len()).step_by(2) {
        let option = args.get(i).to_ascii_lowercase();
        match option.as_slice() {
            b"listening-port" => {
                let port = args.i64(i + 1)?;
                ctx.client.repl.listening_port = port.clamp(0, 65535) as u16;
            }
            // Acks and GETACK are handled on the replication link itself.
            b"ack" | b"getack" => return Ok(()),
            b"capa" | b"ip-address" | b"rdb-only" | b"rdb-filter-only" => {}
            _ => {
                return Err(CmdError::msg(format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(args.get(i))
                )))
            }
        }
    }
    ctx.out.ok();
    Ok(())
}

/// Refuses to serve a sub-replica while our own master link is down, as Redis.
fn check_can_serve(ctx: &Ctx) -> CmdResult {
    let st = ctx.srv.repl.borrow();
    if st.master.is_some() && st.link.get() != LinkState::Connected {
        return Err(CmdError::msg(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    Ok(())
}

/// PSYNC replid offset: the connection turns into a replica link once this returns.
fn psync(ctx: &mut Ctx, args: &Args) -> CmdResult {
    check_can_serve(ctx)?;
    let offset = args.i64(2)?;
    let replid = String::from_utf8_lossy(args.get(1)).into_owned();
    ctx.client.repl.psync = Some((replid, offset));
    Ok(())
}

/// SYNC is served as PSYNC ? -1 (a +FULLRESYNC line precedes the payload).
fn sync(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    check_can_serve(ctx)?;
    ctx.client.repl.psync = Some(("?".into(), -1));
    Ok(())
}

fn role(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let srv = ctx.srv;
    let offset = srv.propagator.borrow().repl.offset;
    let master = srv.repl.borrow().master.clone();
    let out = &mut *ctx.out;
    match master {
        None => {
            let mut replicas = info::replicas(srv);
            replicas.retain(|r| r.2 == "online");
            out.array(3);
            out.bulk(b"master");
            out.int(offset as i64);
            out.array(replicas.len());
            for (ip, port, _, ack, _) in replicas {
                out.array(3);
                out.bulk(ip.as_bytes());
                out.bulk(port.to_string().as_bytes());
                out.bulk(ack.to_string().as_bytes());
            }
        }
        Some((host, port)) => {
            let link = srv.repl.borrow().link.get();
            out.array(5);
            out.bulk(b"slave");
            out.bulk(host.as_bytes());
            out.int(i64::from(port));
            out.bulk(info::link_state_name(link).as_bytes());
            let applied = if link == LinkState::Connected {
                offset as i64
            } else {
                -1
            };
            out.int(applied);
        }
    }
    Ok(())
}

/// WAIT numreplicas timeout: the connection waits (see `repl::master::wait_acks`)
/// unless enough replicas already acked, or inside MULTI.
fn wait(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if repl::is_replica(ctx.srv) {
        return Err(CmdError::msg("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let wanted = args.i64(1).map_err(|_| CmdError::NotInteger)?;
    let timeout = args
        .i64(2)
        .map_err(|_| CmdError::msg("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    let offset = ctx.srv.propagator.borrow().repl.offset;
    let acked = ctx.srv.propagator.borrow().repl.acked(offset);
    if ctx.client.in_exec || acked as i64 >= wanted {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    let deadline = if timeout == 0 {
        0
    } else {
        crate::clock::now_ms() + timeout as u64
    };
    ctx.client.repl.wait = Some((wanted.max(0) as usize, offset, deadline));
    Ok(())
}
