//! Server commands: INFO, TIME, LASTSAVE, SHUTDOWN, DEBUG SLEEP and the FUNCTION
//! subcommands that have nothing to do without a function engine (FLUSH, LIST).

use super::command::reply_help;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};

mod info;

const ADMIN: Flags = Flags::ADMIN
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);

super::table::family_spec!(, "server");

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "flush",
        -2,
        Flags::WRITE.with(Flags::NOSCRIPT),
        function_flush,
        "7.0.0",
        "Deleting all functions",
    )
    .acl(&["scripting"]),
    spec(
        "list",
        -2,
        Flags::NOSCRIPT,
        function_list,
        "7.0.0",
        "List information about all the functions",
    )
    .acl(&["scripting"]),
    spec(
        "help",
        2,
        Flags::LOADING.with(Flags::STALE),
        function_help,
        "7.0.0",
        "Show helpful text about the different subcommands",
    )
    .acl(&["scripting"]),
];

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "info",
        -1,
        Flags::LOADING.with(Flags::STALE),
        info::info,
        "1.0.0",
        "Get information and statistics about the server",
    )
    .acl(&["dangerous"]),
    spec(
        "time",
        1,
        Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        time,
        "2.6.0",
        "Return the current server time",
    ),
    spec(
        "lastsave",
        1,
        Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        lastsave,
        "1.0.0",
        "Get the UNIX time stamp of the last successful save to disk",
    )
    .acl(&["admin", "dangerous"]),
    spec(
        "shutdown",
        -1,
        ADMIN.with(Flags::NO_MULTI).with(Flags::ALLOW_BUSY),
        shutdown,
        "1.0.0",
        "Synchronously save the dataset to disk and then shut down the server",
    ),
    spec(
        "debug",
        -2,
        ADMIN,
        debug,
        "1.0.0",
        "A container for debugging commands",
    ),
    spec(
        "function",
        -2,
        Flags::NONE,
        function_help,
        "7.0.0",
        "A container for function commands",
    )
    .doc("scripting", "7.0.0", "A container for function commands")
    .subcommands(FUNCTION_SUBCOMMANDS),
];

fn time(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let us = crate::clock::now_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.int((ctx.srv.last_save_ms.get() / 1000) as i64);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. There is no replica to wait for, so
/// the final save runs at once; when it succeeds the server stops and, like Redis, the
/// client gets no reply, only the closed connection. When it fails the server keeps
/// running and says so (FORCE exits anyway).
fn shutdown(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (mut save, mut nosave, mut abort, mut other) = (false, false, false, false);
    let mut force = false;
    for i in 1..args.len() {
        if args.is(i, "save") {
            save = true;
        } else if args.is(i, "nosave") {
            nosave = true;
        } else if args.is(i, "abort") {
            abort = true;
        } else if args.is(i, "now") || args.is(i, "force") {
            force |= args.is(i, "force");
            other = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (save && nosave) || (abort && (save || nosave || other)) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Err(CmdError::msg("ERR No shutdown in progress."));
    }
    use crate::persist::ShutdownSave;
    let mode = match (save, nosave) {
        (true, _) => ShutdownSave::Save,
        (_, true) => ShutdownSave::NoSave,
        _ => ShutdownSave::Default,
    };
    tracing::warn!("User requested shutdown...");
    if !crate::finish_shutdown(ctx.srv, mode, force) {
        return Err(CmdError::msg("ERR Errors trying to SHUTDOWN. Check logs."));
    }
    ctx.srv.request_shutdown();
    ctx.client.close_after_reply = true;
    Ok(())
}

const DEBUG_DENIED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

fn debug_allowed(ctx: &Ctx) -> bool {
    let setting = ctx
        .srv
        .config
        .borrow()
        .get("enable-debug-command")
        .unwrap_or("no")
        .to_string();
    match setting.as_str() {
        "yes" => true,
        "local" => is_local(&ctx.client.shared.addr),
        _ => false,
    }
}

fn is_local(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// DEBUG SLEEP blocks the whole server, as it does in single-threaded Redis.
fn debug(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if !debug_allowed(ctx) {
        return Err(CmdError::msg(DEBUG_DENIED));
    }
    if args.len() == 3 && args.is(1, "sleep") {
        let secs = super::args::parse_f64(args.get(2)).unwrap_or(0.0).max(0.0);
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(1e6)));
        ctx.out.ok();
        return Ok(());
    }
    if args.len() == 2 && args.is(1, "help") {
        reply_help(
            ctx.out,
            "DEBUG",
            &[
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        );
        return Ok(());
    }
    Err(CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        String::from_utf8_lossy(args.get(1))
    )))
}

/// Without a function engine there is nothing to flush.
fn function_flush(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(args.get(1))
        )));
    }
    if args.len() == 3 && !args.is(2, "async") && !args.is(2, "sync") {
        return Err(CmdError::msg(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    ctx.out.ok();
    Ok(())
}

/// Validates the options like Redis; there are never any libraries to list.
fn function_list(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut i = 2;
    while i < args.len() {
        if args.is(i, "withcode") {
            i += 1;
        } else if args.is(i, "libraryname") {
            if i + 1 >= args.len() {
                return Err(CmdError::msg("ERR library name argument was not given"));
            }
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(args.get(i))
            )));
        }
    }
    ctx.out.array(0);
    Ok(())
}

const FUNCTION_HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

fn function_help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(ctx.out, "FUNCTION", FUNCTION_HELP);
    Ok(())
}
