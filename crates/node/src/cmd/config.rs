//! The CONFIG command family: GET with glob patterns, atomic multi-parameter SET with
//! Redis's error texts, RESETSTAT and REWRITE of the config file the server started with.

use super::command::reply_help;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::config::{self, Config};
use crate::server::Server;

const ADMIN: Flags = Flags::ADMIN
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);

super::table::family_spec!(, "server");

const SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "get",
        -3,
        ADMIN,
        get,
        "2.0.0",
        "Get the values of configuration parameters",
    ),
    spec(
        "set",
        -4,
        ADMIN,
        set,
        "2.0.0",
        "Set configuration parameters to the given values",
    ),
    spec(
        "resetstat",
        2,
        ADMIN,
        resetstat,
        "2.0.0",
        "Reset the stats returned by INFO",
    ),
    spec(
        "rewrite",
        2,
        ADMIN,
        rewrite,
        "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
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

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("config", -2, Flags::NONE, help)
    .doc(
        "server",
        "2.0.0",
        "A container for server configuration commands",
    )
    .subcommands(SUBCOMMANDS)];

fn is_pattern(arg: &[u8]) -> bool {
    arg.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Each parameter once, even when several patterns match it; an exact name is
/// echoed as typed, as Redis does.
fn get(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let cfg = ctx.srv.config.borrow();
    let mut found: Vec<(String, String)> = Vec::new();
    for arg in args.iter_from(2) {
        let matched = if is_pattern(arg) {
            cfg.matching(arg)
        } else {
            let name = String::from_utf8_lossy(arg).into_owned();
            cfg.get(&name)
                .map(|v| vec![(name.clone(), v.to_string())])
                .unwrap_or_default()
        };
        for (name, value) in matched {
            if !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                found.push((name, value));
            }
        }
    }
    drop(cfg);
    ctx.out.map(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

fn set_failed(arg: &str, reason: impl std::fmt::Display) -> CmdError {
    CmdError::msg(format!(
        "ERR CONFIG SET failed (possibly related to argument '{arg}') - {reason}"
    ))
}

/// Checks every name first (unknown, immutable, protected, duplicate), then applies all
/// values to a copy that replaces the live config only if every one is valid.
fn set(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(String, String)> = (2..args.len())
        .step_by(2)
        .map(|i| {
            (
                String::from_utf8_lossy(args.get(i)).into_owned(),
                String::from_utf8_lossy(args.get(i + 1)).into_owned(),
            )
        })
        .collect();
    let mut seen: Vec<&'static str> = Vec::new();
    for (name, _) in &pairs {
        let param = config::find_param(name).ok_or_else(|| {
            CmdError::msg(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ))
        })?;
        if param.immutable {
            return Err(set_failed(name, "can't set immutable config"));
        }
        if config::is_protected(param.name)
            && ctx.srv.config.borrow().get("enable-protected-configs") != Some("yes")
        {
            return Err(set_failed(name, "can't set protected config"));
        }
        if seen.contains(&param.name) {
            return Err(set_failed(name, "duplicate parameter"));
        }
        seen.push(param.name);
    }
    let mut updated: Config = ctx.srv.config.borrow().clone();
    for (name, value) in &pairs {
        updated
            .set(name, std::slice::from_ref(value), false)
            .map_err(|e| set_failed(name, e))?;
    }
    *ctx.srv.config.borrow_mut() = updated;
    crate::persist::aof::config_changed(ctx.srv);
    crate::cluster::config_updated(ctx.srv);
    ctx.out.ok();
    Ok(())
}

fn resetstat(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reset_stats(ctx.srv);
    ctx.out.ok();
    Ok(())
}

/// Zeroes the counters INFO reports, like Redis's `resetServerStats`.
pub fn reset_stats(srv: &Server) {
    let s = &srv.stats;
    for cell in [
        &s.total_connections_received,
        &s.total_commands_processed,
        &s.rejected_connections,
        &s.keyspace_hits,
        &s.keyspace_misses,
        &s.total_net_input_bytes,
        &s.total_net_output_bytes,
        &s.total_error_replies,
        &s.client_output_limit_disconnections,
        &s.client_query_limit_disconnections,
        &s.expired_keys_active,
    ] {
        cell.set(0);
    }
    for db in &srv.dbs {
        let mut db = db.borrow_mut();
        db.hits = 0;
        db.misses = 0;
        db.expired_count = 0;
    }
}

fn rewrite(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let cfg = ctx.srv.config.borrow();
    let Some(path) = cfg.config_file.clone() else {
        return Err(CmdError::msg(
            "ERR The server is running without a config file",
        ));
    };
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let text = cfg.rewrite_file(&old);
    drop(cfg);
    write_atomically(&path, &text).map_err(|e| {
        tracing::warn!("CONFIG REWRITE failed: {e}");
        CmdError::msg(format!("ERR Rewriting config file: {e}"))
    })?;
    tracing::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

/// Writes through a temporary file and a rename so a crash never leaves half a file.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

const HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(ctx.out, "CONFIG", HELP);
    Ok(())
}
