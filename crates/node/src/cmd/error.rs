//! The errors a command can reply with, worded exactly as Redis 7.0 words them.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR index out of range")]
    OutOfRange,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand { cmd: String, sub: String },
    /// Any other error; the text includes its code (`ERR ...`, `NOAUTH ...`).
    #[error("{0}")]
    Other(Cow<'static, str>),
}

impl CmdError {
    /// An error with Redis's text, e.g. `CmdError::msg("ERR invalid expire time in 'set' command")`.
    pub fn msg(text: impl Into<Cow<'static, str>>) -> Self {
        CmdError::Other(text.into())
    }

    /// The error code (first word), for INFO errorstats.
    pub fn code(&self) -> String {
        let text = self.to_string();
        text.split(' ').next().unwrap_or("ERR").to_string()
    }

    pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> Self {
        CmdError::UnknownSubcommand {
            cmd: cmd.to_uppercase(),
            sub: String::from_utf8_lossy(sub).into_owned(),
        }
    }
}
