//! The command table: each family module lists its commands as `CommandSpec`s (name,
//! arity, flags, key positions, handler); lookup is by length and first letter.

use std::sync::OnceLock;

use super::{Args, Handler};

/// Command flags, as COMMAND INFO reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    pub const WRITE: Flags = Flags(1);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const DENYOOM: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const PUBSUB: Flags = Flags(1 << 4);
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    pub const BLOCKING: Flags = Flags(1 << 6);
    pub const LOADING: Flags = Flags(1 << 7);
    pub const STALE: Flags = Flags(1 << 8);
    pub const FAST: Flags = Flags(1 << 9);
    pub const NO_AUTH: Flags = Flags(1 << 10);
    pub const NO_MULTI: Flags = Flags(1 << 11);
    pub const MAY_REPLICATE: Flags = Flags(1 << 12);
    pub const SENTINEL: Flags = Flags(1 << 13);
    pub const ALLOW_BUSY: Flags = Flags(1 << 14);
    /// Allowed while the client is in RESP2 subscribe mode.
    pub const SUBSCRIBE_OK: Flags = Flags(1 << 15);
    pub const NONE: Flags = Flags(0);

    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn has(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }
}

/// Which arguments are keys, when first/last/step cannot say it (e.g. XREAD, ZUNION).
pub type KeysFn = fn(&Args) -> Vec<usize>;

/// Everything the server knows about one command.
pub struct CommandSpec {
    /// Lower-case name; for a subcommand, the subcommand alone (`"list"` of CLIENT).
    pub name: &'static str,
    /// Redis arity: positive = exact argument count, negative = at least that many.
    pub arity: i32,
    pub flags: Flags,
    /// Key positions like COMMAND INFO's first key, last key (negative = from the
    /// end), step; `(0, 0, 0)` for commands without keys.
    pub keys: (i32, i32, i32),
    pub keys_fn: Option<KeysFn>,
    /// ACL categories without the `@` (the type family, read/write, fast/slow, …).
    pub acl: &'static [&'static str],
    /// COMMAND DOCS group (`string`, `list`, `server`, …), summary and version.
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A command with no keys, no ACL categories and no docs; chain the setters below.
    pub const fn new(name: &'static str, arity: i32, flags: Flags, handler: Handler) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            keys: (0, 0, 0),
            keys_fn: None,
            acl: &[],
            group: "generic",
            summary: "",
            since: "1.0.0",
            handler,
            subcommands: &[],
        }
    }

    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.keys = (first, last, step);
        self
    }

    pub const fn keys_fn(mut self, f: KeysFn) -> Self {
        self.keys_fn = Some(f);
        self
    }

    pub const fn acl(mut self, categories: &'static [&'static str]) -> Self {
        self.acl = categories;
        self
    }

    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
    ) -> Self {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self
    }

    pub const fn subcommands(mut self, subs: &'static [CommandSpec]) -> Self {
        self.subcommands = subs;
        self
    }

    /// Whether `argc` arguments (including the name) fit the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
    }

    /// Argument indexes holding keys.
    pub fn key_positions(&self, args: &Args) -> Vec<usize> {
        if let Some(f) = self.keys_fn {
            return f(args);
        }
        let (first, last, step) = self.keys;
        if first <= 0 {
            return Vec::new();
        }
        let argc = args.len() as i32;
        let last = if last < 0 { argc + last } else { last };
        let mut out = Vec::new();
        let mut i = first;
        while i <= last && i < argc {
            out.push(i as usize);
            i += step.max(1);
        }
        out
    }

    pub fn find_subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands
            .iter()
            .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

/// Every command family's table, in the order COMMAND lists them.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    let families: &[&'static [CommandSpec]] = &[
        super::string::COMMANDS,
        super::list::COMMANDS,
        super::list_block::COMMANDS,
        super::set::COMMANDS,
        super::hash::COMMANDS,
        super::zset::COMMANDS,
        super::stream::COMMANDS,
        super::stream_read::COMMANDS,
        super::keys::COMMANDS,
        super::expire::COMMANDS,
        super::object::COMMANDS,
        super::pubsub::COMMANDS,
        super::multi::COMMANDS,
        super::connection::COMMANDS,
        super::client::COMMANDS,
        super::config::COMMANDS,
        super::command::COMMANDS,
        super::server::COMMANDS,
        super::persistence::COMMANDS,
        super::replication::COMMANDS,
        crate::persist::aof::COMMANDS,
        super::cluster::COMMANDS,
        super::migrate::COMMANDS,
    ];
    families.iter().flat_map(|f| f.iter())
}

const BUCKETS: usize = 32 * 32;

fn bucket(name: &[u8]) -> usize {
    (name.len() % 32) * 32 + (name[0] as usize & 31)
}

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static TABLE: OnceLock<Vec<Vec<&'static CommandSpec>>> = OnceLock::new();
    if name.is_empty() {
        return None;
    }
    let table = TABLE.get_or_init(|| {
        let mut t = vec![Vec::new(); BUCKETS];
        for c in all_commands() {
            t[bucket(c.name.as_bytes())].push(c);
        }
        t
    });
    table[bucket(name)]
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
        .copied()
}

/// Defines a family's `spec(name, arity, flags, handler, since, summary)`: COMMAND
/// DOCS `group` and the family's own ACL categories (read/write/fast/slow/blocking
/// follow from the flags, see COMMAND INFO). `keyed` families take one key at arg 1.
macro_rules! family_spec {
    (keyed $vis:vis, $group:literal $(, $category:literal)*) => {
        $crate::cmd::table::family_spec!(@define $vis, (1, 1, 1), $group $(, $category)*);
    };
    ($vis:vis, $group:literal $(, $category:literal)*) => {
        $crate::cmd::table::family_spec!(@define $vis, (0, 0, 0), $group $(, $category)*);
    };
    (@define $vis:vis, ($first:literal, $last:literal, $step:literal), $group:literal $(, $category:literal)*) => {
        /// A command of this family (keyed families: one key at argument 1; others
        /// none unless set with `.keys()`).
        $vis const fn spec(
            name: &'static str,
            arity: i32,
            flags: $crate::cmd::table::Flags,
            handler: $crate::cmd::Handler,
            since: &'static str,
            summary: &'static str,
        ) -> $crate::cmd::table::CommandSpec {
            $crate::cmd::table::CommandSpec::new(name, arity, flags, handler)
                .keys($first, $last, $step)
                .acl(&[$($category),*])
                .doc($group, since, summary)
        }
    };
}
pub(crate) use family_spec;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_and_names_are_lowercase() {
        for c in all_commands() {
            assert_eq!(c.name, c.name.to_lowercase());
            assert!(std::ptr::eq(
                lookup(c.name.to_uppercase().as_bytes()).unwrap(),
                c
            ));
        }
        assert!(lookup(b"nosuchcommand").is_none());
    }
}
