//! Hash commands (Redis's `t_hash.c`).
//! (Registered in the command table; commands are added here as they are implemented.)

use super::table::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
