//! The COMMAND command family (Redis 7.0's introspection): COUNT, INFO, DOCS, LIST,
//! GETKEYS and GETKEYSANDFLAGS, built from the command table plus key-spec metadata.

use resp::ReplyBuf;

use super::command_meta::META;
use super::table::{self, CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};

/// Where a key spec starts looking for keys.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    Index(i32),
    /// The keyword, and the index to search from (negative: backwards from the end).
    Keyword(&'static str, i32),
    Unknown,
}

/// How a key spec finds keys once it has begun.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// Last key (relative to the start; negative from the end), step, limit.
    Range(i32, i32, i32),
    /// Index of the key count (relative to the start), first key, step.
    Keynum(i32, i32, i32),
    Unknown,
}

/// One key spec as COMMAND INFO shows it.
#[derive(Debug)]
pub struct KeySpec {
    pub notes: &'static str,
    pub flags: &'static [&'static str],
    pub begin: Begin,
    pub find: Find,
}

pub const fn ks(
    notes: &'static str,
    flags: &'static [&'static str],
    begin: Begin,
    find: Find,
) -> KeySpec {
    KeySpec {
        notes,
        flags,
        begin,
        find,
    }
}

/// What Redis reports about a command beyond the table: complexity, tips, key specs.
#[derive(Debug)]
pub struct Meta {
    /// Full name: `get`, `client|list`.
    pub name: &'static str,
    pub complexity: &'static str,
    pub tips: &'static [&'static str],
    pub specs: &'static [KeySpec],
}

fn meta(full_name: &str) -> Option<&'static Meta> {
    META.binary_search_by(|m| m.name.cmp(full_name))
        .ok()
        .map(|i| &META[i])
}

const SUB: Flags = Flags::LOADING.with(Flags::STALE);

const fn sub(
    name: &'static str,
    arity: i32,
    handler: super::Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, SUB, handler)
        .acl(&["connection"])
        .doc("server", since, summary)
}

const SUBCOMMANDS: &[CommandSpec] = &[
    sub(
        "count",
        2,
        count,
        "2.8.13",
        "Get total number of Redis commands",
    ),
    sub(
        "info",
        -2,
        info,
        "2.8.13",
        "Get array of specific Redis command details, or all when no argument is given.",
    ),
    sub(
        "docs",
        -2,
        docs,
        "7.0.0",
        "Get array of specific Redis command documentation",
    ),
    sub(
        "list",
        -2,
        list,
        "7.0.0",
        "Get an array of Redis command names",
    ),
    sub(
        "getkeys",
        -4,
        getkeys,
        "2.8.13",
        "Extract keys given a full Redis command",
    ),
    sub(
        "getkeysandflags",
        -4,
        getkeysandflags,
        "7.0.0",
        "Extract keys and access flags given a full Redis command",
    ),
    sub(
        "help",
        2,
        help,
        "5.0.0",
        "Show helpful text about the different subcommands",
    ),
];

/// COMMAND alone lists everything; with a subcommand dispatch resolves it first.
pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("command", -1, SUB, all)
    .acl(&["connection"])
    .doc("server", "2.8.13", "Get array of Redis command details")
    .subcommands(SUBCOMMANDS)];

/// Writes Redis's `addReplyHelp` form: a title line, the given lines, then HELP.
pub fn reply_help(out: &mut ReplyBuf, command: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(
        format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").as_bytes(),
    );
    for line in lines {
        out.simple(line.as_bytes());
    }
    out.simple(b"HELP");
    out.simple(b"    Prints this help.");
}

fn full_name(parent: Option<&CommandSpec>, cmd: &CommandSpec) -> String {
    match parent {
        Some(p) => format!("{}|{}", p.name, cmd.name),
        None => cmd.name.to_string(),
    }
}

/// Flag names in Redis 7.0's order (`movablekeys` comes from the key specs).
fn flag_names(cmd: &CommandSpec, movable: bool) -> Vec<&'static str> {
    const ORDER: &[(Flags, &str)] = &[
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::BLOCKING, "blocking"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::MAY_REPLICATE, "may_replicate"),
        (Flags::SENTINEL, "sentinel"),
        (Flags::NO_MULTI, "no_multi"),
    ];
    let mut names: Vec<&str> = ORDER
        .iter()
        .filter(|(f, _)| cmd.flags.has(*f))
        .map(|(_, n)| *n)
        .collect();
    if movable {
        names.push("movablekeys");
    }
    if cmd.flags.has(Flags::ALLOW_BUSY) {
        names.push("allow_busy");
    }
    names
}

/// ACL categories in Redis's table order.
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The command's categories: its own plus the ones Redis implies from its flags.
fn acl_categories(cmd: &CommandSpec) -> Vec<&'static str> {
    let f = cmd.flags;
    let implied = [
        ("write", f.has(Flags::WRITE)),
        (
            "read",
            f.has(Flags::READONLY) && !cmd.acl.contains(&"scripting"),
        ),
        ("admin", f.has(Flags::ADMIN)),
        ("dangerous", f.has(Flags::ADMIN)),
        ("pubsub", f.has(Flags::PUBSUB)),
        ("fast", f.has(Flags::FAST)),
        ("blocking", f.has(Flags::BLOCKING)),
        ("slow", !f.has(Flags::FAST)),
    ];
    CATEGORIES
        .iter()
        .filter(|c| cmd.acl.contains(c) || implied.iter().any(|(n, on)| n == *c && *on))
        .copied()
        .collect()
}

fn is_movable(cmd: &CommandSpec, m: Option<&Meta>) -> bool {
    cmd.keys_fn.is_some()
        || m.is_some_and(|m| {
            m.specs
                .iter()
                .any(|s| !matches!((s.begin, s.find), (Begin::Index(_), Find::Range(..))))
        })
}

fn reply_key_spec(out: &mut ReplyBuf, spec: &KeySpec) {
    out.map(if spec.notes.is_empty() { 3 } else { 4 });
    if !spec.notes.is_empty() {
        out.bulk(b"notes");
        out.bulk(spec.notes.as_bytes());
    }
    out.bulk(b"flags");
    out.set(spec.flags.len());
    for f in spec.flags {
        out.simple(f.as_bytes());
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match spec.begin {
        Begin::Index(i) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(i as i64);
        }
        Begin::Keyword(k, from) => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(k.as_bytes());
            out.bulk(b"startfrom");
            out.int(from as i64);
        }
        Begin::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    let (kind, fields): (&[u8], [(&[u8], i32); 3]) = match spec.find {
        Find::Range(last, step, limit) => (
            b"range",
            [(b"lastkey", last), (b"keystep", step), (b"limit", limit)],
        ),
        Find::Keynum(idx, first, step) => (
            b"keynum",
            [
                (b"keynumidx", idx),
                (b"firstkey", first),
                (b"keystep", step),
            ],
        ),
        Find::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
            return;
        }
    };
    out.bulk(kind);
    out.bulk(b"spec");
    out.map(3);
    for (name, v) in fields {
        out.bulk(name);
        out.int(v as i64);
    }
}

/// One COMMAND INFO entry (10 fields), subcommands included.
fn reply_info(out: &mut ReplyBuf, cmd: &CommandSpec, parent: Option<&CommandSpec>) {
    let name = full_name(parent, cmd);
    let m = meta(&name);
    out.array(10);
    out.bulk(name.as_bytes());
    out.int(cmd.arity as i64);
    let flags = flag_names(cmd, is_movable(cmd, m));
    out.set(flags.len());
    for f in flags {
        out.simple(f.as_bytes());
    }
    out.int(cmd.keys.0 as i64);
    out.int(cmd.keys.1 as i64);
    out.int(cmd.keys.2 as i64);
    let cats = acl_categories(cmd);
    out.set(cats.len());
    for c in cats {
        out.simple(format!("@{c}").as_bytes());
    }
    let (tips, specs) = m.map_or((&[][..], &[][..]), |m| (m.tips, m.specs));
    out.set(tips.len());
    for t in tips {
        out.bulk(t.as_bytes());
    }
    out.set(specs.len());
    for s in specs {
        reply_key_spec(out, s);
    }
    if cmd.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(cmd.subcommands.len());
        for s in cmd.subcommands {
            reply_info(out, s, Some(cmd));
        }
    }
}

/// Finds `name` or `container|sub`, as COMMAND INFO/DOCS accept them.
fn find_by_full_name(name: &[u8]) -> Option<(&'static CommandSpec, Option<&'static CommandSpec>)> {
    match name.iter().position(|&b| b == b'|') {
        Some(bar) => {
            let parent = table::lookup(&name[..bar])?;
            let sub = parent.find_subcommand(&name[bar + 1..])?;
            Some((sub, Some(parent)))
        }
        None => table::lookup(name).map(|c| (c, None)),
    }
}

fn all(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let cmds: Vec<&CommandSpec> = table::all_commands().collect();
    ctx.out.array(cmds.len());
    for c in cmds {
        reply_info(ctx.out, c, None);
    }
    Ok(())
}

fn count(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.int(table::all_commands().count() as i64);
    Ok(())
}

fn info(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() == 2 {
        return all(ctx, args);
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter_from(2) {
        match find_by_full_name(name) {
            Some((cmd, parent)) => reply_info(ctx.out, cmd, parent),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// One COMMAND DOCS entry: summary, since, group, complexity and subcommands
/// (argument descriptions are not kept).
fn reply_docs(out: &mut ReplyBuf, cmd: &CommandSpec, parent: Option<&CommandSpec>) {
    let name = full_name(parent, cmd);
    let complexity = meta(&name).map_or("", |m| m.complexity);
    let has_subs = !cmd.subcommands.is_empty();
    out.bulk(name.as_bytes());
    out.map(3 + usize::from(!complexity.is_empty()) + usize::from(has_subs));
    out.bulk(b"summary");
    out.bulk(cmd.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(cmd.since.as_bytes());
    out.bulk(b"group");
    out.bulk(cmd.group.as_bytes());
    if !complexity.is_empty() {
        out.bulk(b"complexity");
        out.bulk(complexity.as_bytes());
    }
    if has_subs {
        out.bulk(b"subcommands");
        out.map(cmd.subcommands.len());
        for s in cmd.subcommands {
            reply_docs(out, s, Some(cmd));
        }
    }
}

fn docs(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let found: Vec<(&CommandSpec, Option<&CommandSpec>)> = if args.len() == 2 {
        table::all_commands().map(|c| (c, None)).collect()
    } else {
        args.iter_from(2).filter_map(find_by_full_name).collect()
    };
    ctx.out.map(found.len());
    for (cmd, parent) in found {
        reply_docs(ctx.out, cmd, parent);
    }
    Ok(())
}

/// A COMMAND LIST filter: the command and its full name.
type ListFilter = dyn Fn(&CommandSpec, &str) -> bool;

/// Every command's full name, subcommands included, with an optional filter.
fn list(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let filter: Box<ListFilter> = match args.len() {
        2 => Box::new(|_, _| true),
        5 if args.is(2, "filterby") => {
            let value = args.get(4).to_vec();
            if args.is(3, "module") {
                Box::new(|_, _| false)
            } else if args.is(3, "aclcat") {
                let cat = String::from_utf8_lossy(&value).to_lowercase();
                Box::new(move |c, _| acl_categories(c).contains(&cat.as_str()))
            } else if args.is(3, "pattern") {
                Box::new(move |_, name| crate::glob::glob_match(&value, name.as_bytes(), true))
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let mut names = Vec::new();
    for c in table::all_commands() {
        if filter(c, c.name) {
            names.push(c.name.to_string());
        }
        for s in c.subcommands {
            let full = full_name(Some(c), s);
            if filter(s, &full) {
                names.push(full);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// Commands that may legitimately name no keys (EVAL with numkeys 0, …).
fn no_mandatory_keys(name: &str) -> bool {
    matches!(
        name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Key positions found by one key spec in `argv` (Redis's key-spec walk).
fn spec_keys(spec: &KeySpec, argv: &[&[u8]]) -> Result<Vec<usize>, CmdError> {
    let argc = argv.len() as i32;
    let start = match spec.begin {
        Begin::Index(i) => i,
        Begin::Keyword(word, from) => {
            let found = if from >= 0 {
                (from..argc).find(|&i| argv[i as usize].eq_ignore_ascii_case(word.as_bytes()))
            } else {
                (1..=(argc + from).max(0))
                    .rev()
                    .find(|&i| argv[i as usize].eq_ignore_ascii_case(word.as_bytes()))
            };
            match found {
                Some(i) => i + 1,
                None => return Ok(Vec::new()),
            }
        }
        Begin::Unknown => return Ok(Vec::new()),
    };
    let (last, step) = match spec.find {
        Find::Range(last, step, limit) => {
            let last = if last >= 0 {
                start + last
            } else if limit <= 1 {
                argc + last
            } else {
                start + (argc - 1 - start) / limit
            };
            (last, step)
        }
        Find::Keynum(idx, first, step) => {
            let pos = (start + idx) as usize;
            let n = argv
                .get(pos)
                .and_then(|a| super::args::parse_i64(a))
                .filter(|&n| n >= 0)
                .ok_or_else(invalid_arguments)? as i32;
            let first = start + first;
            (first + (n - 1) * step, step)
        }
        Find::Unknown => return Ok(Vec::new()),
    };
    let step = step.max(1);
    if last >= argc {
        return Err(invalid_arguments());
    }
    Ok((start..=last)
        .step_by(step as usize)
        .map(|i| i as usize)
        .collect())
}

fn invalid_arguments() -> CmdError {
    CmdError::msg("ERR Invalid arguments specified for command")
}

/// The flags of one key spec (`RW`, `access`, …).
type KeyFlags = &'static [&'static str];

/// Keys of the command in `args[2..]` with each key's spec flags.
fn keys_with_flags(args: &Args) -> Result<Vec<(Vec<u8>, KeyFlags)>, CmdError> {
    let argv: Vec<&[u8]> = args.iter_from(2).collect();
    let mut cmd =
        table::lookup(argv[0]).ok_or_else(|| CmdError::msg("ERR Invalid command specified"))?;
    let mut parent = None;
    if !cmd.subcommands.is_empty() && argv.len() >= 2 {
        if let Some(s) = cmd.find_subcommand(argv[1]) {
            parent = Some(cmd);
            cmd = s;
        }
    }
    let name = full_name(parent, cmd);
    let specs = meta(&name).map_or(&[][..], |m| m.specs);
    if specs.is_empty() && cmd.keys_fn.is_none() && cmd.keys.0 <= 0 {
        return Err(CmdError::msg("ERR The command has no key arguments"));
    }
    if !cmd.arity_ok(argv.len()) {
        return Err(CmdError::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let mut found: Vec<(usize, &'static [&'static str])> = Vec::new();
    for spec in specs {
        for pos in spec_keys(spec, &argv)? {
            found.push((pos, variable_flags(&name, spec, &argv)));
        }
    }
    if cmd.keys_fn.is_some() || specs.is_empty() {
        // The command's own key finder is authoritative (like Redis's getkeys_proc);
        // the specs only lend their flags.
        let owned = super::OwnedArgs::from_slices(argv.iter().copied());
        let inner = owned.args();
        let default: &'static [&'static str] = specs.first().map_or(&[], |s| s.flags);
        found = cmd
            .key_positions(&inner)
            .into_iter()
            .map(|p| {
                let flags = found.iter().find(|(q, _)| *q == p).map_or(default, |f| f.1);
                (p, flags)
            })
            .collect();
    }
    if found.is_empty() && !no_mandatory_keys(&name) {
        return Err(invalid_arguments());
    }
    Ok(found
        .into_iter()
        .map(|(p, f)| (argv[p].to_vec(), f))
        .collect())
}

/// SET's key flags depend on its GET option (its spec says `variable_flags`).
fn variable_flags(name: &str, spec: &'static KeySpec, argv: &[&[u8]]) -> &'static [&'static str] {
    if name == "set" && !argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
        return &["OW", "update"];
    }
    if spec.flags.contains(&"variable_flags") {
        let n = spec.flags.len() - 1;
        return &spec.flags[..n];
    }
    spec.flags
}

fn getkeys(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let keys = keys_with_flags(args)?;
    ctx.out.array(keys.len());
    for (k, _) in keys {
        ctx.out.bulk(&k);
    }
    Ok(())
}

fn getkeysandflags(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let keys = keys_with_flags(args)?;
    ctx.out.array(keys.len());
    for (k, flags) in keys {
        ctx.out.array(2);
        ctx.out.bulk(&k);
        ctx.out.set(flags.len());
        for f in flags {
            ctx.out.simple(f.as_bytes());
        }
    }
    Ok(())
}

const HELP: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    reply_help(ctx.out, "COMMAND", HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_sorted_for_binary_search() {
        assert!(META.windows(2).all(|w| w[0].name < w[1].name));
        assert!(meta("get").is_some());
        assert!(meta("client|list").is_some());
    }
}
