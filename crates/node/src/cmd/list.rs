//! List commands (Redis's `t_list.c`): pushes, pops, ranges and the blocking pops.
//! (Registered in the command table; commands are added here as they are implemented.)

use super::table::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
