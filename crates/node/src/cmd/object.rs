//! OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP: the internal representation
//! Redis 7.0 would use for a value, derived from its current size and contents.

use super::args::parse_i64;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::config::Config;
use crate::db::{SmallBytes, Value};

const fn sub(name: &'static str, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, 3, Flags::READONLY, handler)
        .keys(2, 2, 1)
        .acl(&["keyspace", "read", "slow"])
        .doc(
            "generic",
            "2.2.3",
            "Inspect the internal encoding of a Redis object",
        )
}

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("object", -2, Flags::NONE, container)
    .acl(&["slow"])
    .doc(
        "generic",
        "2.2.3",
        "A container for object introspection commands",
    )
    .subcommands(&[
        sub("encoding", encoding),
        sub("refcount", refcount),
        sub("idletime", idletime),
        sub("freq", freq),
        CommandSpec::new("help", 2, Flags::LOADING.with(Flags::STALE), help)
            .acl(&["keyspace", "slow"])
            .doc(
                "generic",
                "6.2.0",
                "Show helpful text about the different subcommands",
            ),
    ])];

/// Dispatch resolves subcommands itself; the container is never run on its own.
fn container(_ctx: &mut Ctx, args: &Args) -> CmdResult {
    Err(CmdError::unknown_subcommand("object", args.get(1)))
}

/// Shared integers Redis keeps for string values 0..10000 (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10000;
/// Longest string stored as `embstr` (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
const EMBSTR_LIMIT: usize = 44;
/// `OBJ_SHARED_REFCOUNT`, the refcount OBJECT reports for shared values.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// A new object's logarithmic access counter under an LFU policy (`LFU_INIT_VAL`).
const LFU_INIT_VAL: i64 = 5;

/// Runs `reply` on the value at argument 2, or replies null if there is none.
fn with_value(
    ctx: &mut Ctx,
    args: &Args,
    reply: impl FnOnce(&Config, &Value) -> Reply,
) -> CmdResult {
    let mut db = ctx.db();
    let found = db
        .read(args.get(2))
        .map(|v| reply(&ctx.srv.config.borrow(), v));
    drop(db);
    match found {
        None => ctx.out.null(),
        Some(Reply::Bulk(s)) => ctx.out.bulk(s.as_bytes()),
        Some(Reply::Int(n)) => ctx.out.int(n),
        Some(Reply::Error(e)) => return Err(e),
    }
    Ok(())
}

enum Reply {
    Bulk(&'static str),
    Int(i64),
    Error(CmdError),
}

fn config_num(cfg: &Config, name: &str) -> usize {
    cfg.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Whether the eviction policy is LFU (`MAXMEMORY_FLAG_LFU`).
fn lfu_policy(cfg: &Config) -> bool {
    cfg.get("maxmemory-policy")
        .is_some_and(|p| p.ends_with("lfu"))
}

/// Listpack while an aggregate is small: at most `entries` elements, each at most
/// `value` bytes long.
fn small<'a>(
    cfg: &Config,
    family: &str,
    len: usize,
    mut items: impl Iterator<Item = &'a SmallBytes>,
) -> bool {
    let max_entries = config_num(cfg, &format!("{family}-max-listpack-entries"));
    let max_value = config_num(cfg, &format!("{family}-max-listpack-value"));
    len <= max_entries && items.all(|s| s.len() <= max_value)
}

/// The encoding name OBJECT ENCODING reports for `value`.
pub fn encoding_of(cfg: &Config, value: &Value) -> &'static str {
    match value {
        Value::Str(s) if s.len() <= 20 && parse_i64(s).is_some() => "int",
        Value::Str(s) if s.len() <= EMBSTR_LIMIT => "embstr",
        Value::Str(_) => "raw",
        Value::List(_) => "quicklist",
        Value::Set(s) => {
            let intset = s.len() <= config_num(cfg, "set-max-intset-entries")
                && s.iter().all(|m| parse_i64(m).is_some());
            if intset {
                "intset"
            } else {
                "hashtable"
            }
        }
        Value::Hash(h) => {
            if small(cfg, "hash", h.len(), h.iter().flat_map(|(f, v)| [f, v])) {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::ZSet(z) => z.encoding(),
        Value::Stream(_) => "stream",
    }
}

fn encoding(ctx: &mut Ctx, args: &Args) -> CmdResult {
    with_value(ctx, args, |cfg, v| Reply::Bulk(encoding_of(cfg, v)))
}

fn refcount(ctx: &mut Ctx, args: &Args) -> CmdResult {
    with_value(ctx, args, |cfg, v| {
        // Small integers are shared objects unless an LRU/LFU policy needs per-key
        // access data (Redis's MAXMEMORY_FLAG_NO_SHARED_INTEGERS).
        let evicting = cfg.get("maxmemory").is_some_and(|m| m != "0")
            && cfg
                .get("maxmemory-policy")
                .is_some_and(|p| p.ends_with("lru") || p.ends_with("lfu"));
        let shared = matches!(v, Value::Str(s) if s.len() <= 20
            && parse_i64(s).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)));
        Reply::Int(if shared && !evicting {
            SHARED_REFCOUNT
        } else {
            1
        })
    })
}

fn idletime(ctx: &mut Ctx, args: &Args) -> CmdResult {
    with_value(ctx, args, |cfg, _| {
        if lfu_policy(cfg) {
            Reply::Error(CmdError::msg("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."))
        } else {
            // Access times are not tracked per key: every key counts as just used.
            Reply::Int(0)
        }
    })
}

fn freq(ctx: &mut Ctx, args: &Args) -> CmdResult {
    with_value(ctx, args, |cfg, _| {
        if lfu_policy(cfg) {
            // Access counts are not tracked per key: report a new key's counter.
            Reply::Int(LFU_INIT_VAL)
        } else {
            Reply::Error(CmdError::msg("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."))
        }
    })
}

const HELP: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    ctx.out.array(HELP.len() + 1);
    ctx.out
        .simple(b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    for line in HELP {
        ctx.out.simple(line.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::zset::ZSet;

    fn bytes(items: &[&str]) -> Vec<SmallBytes> {
        items.iter().map(|s| SmallBytes::from(*s)).collect()
    }

    #[test]
    fn aggregate_encodings_follow_the_size_limits() {
        let mut cfg = Config::default();
        let set = |items: &[&str]| Value::Set(Box::new(bytes(items).into_iter().collect()));
        assert_eq!(encoding_of(&cfg, &set(&["1", "-2", "30"])), "intset");
        assert_eq!(encoding_of(&cfg, &set(&["1", "x"])), "hashtable");
        assert_eq!(encoding_of(&cfg, &set(&["01"])), "hashtable");
        cfg.set("set-max-intset-entries", &["2".into()], false)
            .unwrap();
        assert_eq!(encoding_of(&cfg, &set(&["1", "2", "3"])), "hashtable");

        let long = "x".repeat(65);
        let hash = |pairs: &[(&str, &str)]| {
            Value::Hash(Box::new(
                pairs
                    .iter()
                    .map(|(f, v)| (SmallBytes::from(*f), SmallBytes::from(*v)))
                    .collect(),
            ))
        };
        assert_eq!(encoding_of(&cfg, &hash(&[("f", "v")])), "listpack");
        assert_eq!(encoding_of(&cfg, &hash(&[("f", &long)])), "hashtable");
        let many: Vec<(String, String)> = (0..513).map(|i| (i.to_string(), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(f, v)| (f.as_str(), v.as_str())).collect();
        assert_eq!(encoding_of(&cfg, &hash(&many)), "hashtable");

        let mut z = ZSet::default();
        z.insert(b"m", 1.0);
        assert_eq!(
            encoding_of(&cfg, &Value::ZSet(Box::new(z.clone()))),
            "listpack"
        );
        z.insert(long.as_bytes(), 2.0);
        z.update_encoding(128, 64, z.len(), long.len());
        assert_eq!(encoding_of(&cfg, &Value::ZSet(Box::new(z))), "skiplist");

        assert_eq!(encoding_of(&cfg, &Value::new_list()), "quicklist");
        let stream = Value::Stream(Box::default());
        assert_eq!(encoding_of(&cfg, &stream), "stream");
    }

    #[test]
    fn string_encodings() {
        let cfg = Config::default();
        let s = |v: &str| Value::Str(v.into());
        assert_eq!(encoding_of(&cfg, &s("-9223372036854775808")), "int");
        assert_eq!(encoding_of(&cfg, &s("9223372036854775808")), "embstr");
        assert_eq!(encoding_of(&cfg, &s(" 1")), "embstr");
        assert_eq!(encoding_of(&cfg, &s(&"x".repeat(45))), "raw");
    }

    #[test]
    fn deep_clones_are_independent() {
        let mut original = Value::new_list();
        original.as_list_mut().unwrap().extend(bytes(&["a", "b"]));
        let mut copy = original.deep_clone();
        copy.as_list_mut().unwrap().push_back("c".into());
        assert_eq!(original.as_list().unwrap().len(), 2);
        assert_eq!(copy.as_list().unwrap().len(), 3);
        let mut z = ZSet::default();
        z.insert(b"m", 1.0);
        let zv = Value::ZSet(Box::new(z));
        assert_eq!(zv.deep_clone().as_zset().unwrap().len(), 1);
        let sv = Value::Stream(Box::default());
        assert_eq!(sv.deep_clone().type_name(), "stream");
    }
}
