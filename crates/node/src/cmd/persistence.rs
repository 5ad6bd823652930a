//! Persistence commands: SAVE and BGSAVE (the snapshot machinery itself lives in
//! `persist::snapshot`).

use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::persist::snapshot::{self, BgsaveError};

const ADMIN: Flags = Flags::ADMIN.with(Flags::NOSCRIPT);

super::table::family_spec!(, "server");

pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "save",
        1,
        ADMIN.with(Flags::NO_MULTI),
        save,
        "1.0.0",
        "Synchronously save the dataset to disk",
    )
    .acl(&["admin", "dangerous"]),
    spec(
        "bgsave",
        -1,
        ADMIN,
        bgsave,
        "1.0.0",
        "Asynchronously save the dataset to disk",
    )
    .acl(&["admin", "dangerous"]),
];

const IN_PROGRESS: &str = "ERR Background save already in progress";

fn save(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.srv.snapshot.borrow().in_progress() {
        return Err(CmdError::msg(IN_PROGRESS));
    }
    snapshot::save(ctx.srv).map_err(|_| CmdError::msg("ERR"))?;
    ctx.out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]. SCHEDULE only matters when another child process (an AOF
/// rewrite) runs in Redis; here a save starts at once. Inside MULTI the save is
/// scheduled for the cron, as Redis does.
fn bgsave(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !args.is(1, "schedule")) {
        return Err(CmdError::Syntax);
    }
    if ctx.srv.snapshot.borrow().in_progress() {
        return Err(CmdError::msg(IN_PROGRESS));
    }
    if ctx.client.in_exec {
        ctx.srv.snapshot.borrow_mut().scheduled = true;
        ctx.out.simple(b"Background saving scheduled");
        return Ok(());
    }
    match snapshot::start_background(ctx.srv) {
        Ok(()) => {
            ctx.out.simple(b"Background saving started");
            Ok(())
        }
        Err(BgsaveError::InProgress) => Err(CmdError::msg(IN_PROGRESS)),
        Err(BgsaveError::Spawn(e)) => {
            tracing::warn!("Can't save in background: {e}");
            Err(CmdError::msg("ERR"))
        }
    }
}
