//! Commands: the table every command is registered in, the arguments and context a
//! handler gets, the errors it can return, and one module per command family.

pub mod args;
pub mod client;
pub mod cluster;
pub mod cluster_admin;
pub mod collection;
pub mod command;
pub mod command_meta;
pub mod config;
pub mod connection;
pub mod dispatch;
pub mod error;
pub mod expire;
pub mod hash;
pub mod keys;
pub mod list;
pub mod list_block;
pub mod migrate;
pub mod multi;
pub mod object;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod server;
pub mod set;
pub mod stream;
pub mod stream_read;
pub mod string;
pub mod table;
pub mod zset;

pub use args::{Args, OwnedArgs};
pub use dispatch::Ctx;
pub use error::CmdError;
pub use table::{lookup, CommandSpec, Flags};

/// What every handler returns; its reply is written to `ctx.out`.
pub type CmdResult = Result<(), CmdError>;

/// A command handler.
pub type Handler = fn(&mut Ctx, &Args) -> CmdResult;
