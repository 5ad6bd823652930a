//! The table of configuration parameters Redis 7.0 knows: name, alias, default (in
//! CONFIG GET form), value kind and mutability. Parameters the server does not act on
//! yet are still stored, so a Redis config file loads and CONFIG GET answers.

/// How a parameter's value is written and validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A byte size: accepts `1gb`, `100mb`, `64k`; shown as bytes.
    Memory,
    Enum(&'static [&'static str]),
    Str,
    /// Several words kept as one space-separated string (`bind`, `save`).
    Words,
    /// `client-output-buffer-limit`: class hard soft seconds, repeated.
    OutputLimits,
}

#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub default: &'static str,
    pub kind: Kind,
    pub immutable: bool,
}

const fn p(name: &'static str, default: &'static str, kind: Kind) -> Param {
    Param {
        name,
        alias: None,
        default,
        kind,
        immutable: false,
    }
}

const fn fixed(name: &'static str, default: &'static str, kind: Kind) -> Param {
    Param {
        name,
        alias: None,
        default,
        kind,
        immutable: true,
    }
}

const fn aka(mut param: Param, alias: &'static str) -> Param {
    param.alias = Some(alias);
    param
}

const INT: Kind = Kind::Int {
    min: i32::MIN as i64,
    max: i32::MAX as i64,
};
const UINT: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
/// Redis's int configs: 0..INT_MAX.
const INT_POS: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};
/// 1..INT_MAX.
const INT_ONE: Kind = Kind::Int {
    min: 1,
    max: i32::MAX as i64,
};
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const FSYNC: &[&str] = &["everysec", "always", "no"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

pub const PARAMS: &[Param] = &[
    // Network and clients.
    p("port", "6379", Kind::Int { min: 0, max: 65535 }),
    p("bind", "* -::*", Kind::Words),
    p("protected-mode", "yes", Kind::Bool),
    fixed("tcp-backlog", "511", UINT),
    p("tcp-keepalive", "300", INT_POS),
    p("timeout", "0", INT_POS),
    p(
        "maxclients",
        "10000",
        Kind::Int {
            min: 1,
            max: u32::MAX as i64,
        },
    ),
    fixed("unixsocket", "", Kind::Str),
    fixed("unixsocketperm", "0", UINT),
    p("requirepass", "", Kind::Str),
    p("masterauth", "", Kind::Str),
    p("masteruser", "", Kind::Str),
    p("proto-max-bulk-len", "536870912", Kind::Memory),
    p("client-query-buffer-limit", "1073741824", Kind::Memory),
    p(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::OutputLimits,
    ),
    // General.
    fixed("daemonize", "no", Kind::Bool),
    fixed(
        "supervised",
        "no",
        Kind::Enum(&["upstart", "systemd", "auto", "no"]),
    ),
    fixed("pidfile", "", Kind::Str),
    p("loglevel", "notice", Kind::Enum(LOGLEVELS)),
    fixed("logfile", "", Kind::Str),
    fixed("syslog-enabled", "no", Kind::Bool),
    fixed("syslog-ident", "redis", Kind::Str),
    fixed(
        "databases",
        "16",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
    ),
    fixed("always-show-logo", "no", Kind::Bool),
    fixed("set-proc-title", "yes", Kind::Bool),
    p("hz", "10", INT_POS),
    p("dynamic-hz", "yes", Kind::Bool),
    p("dir", "", Kind::Str),
    p("latency-tracking", "yes", Kind::Bool),
    p("lazyfree-lazy-eviction", "no", Kind::Bool),
    p("lazyfree-lazy-expire", "no", Kind::Bool),
    p("lazyfree-lazy-server-del", "no", Kind::Bool),
    p("lazyfree-lazy-user-del", "no", Kind::Bool),
    p("lazyfree-lazy-user-flush", "no", Kind::Bool),
    fixed("io-threads", "1", INT),
    fixed("io-threads-do-reads", "no", Kind::Bool),
    p("activerehashing", "yes", Kind::Bool),
    p(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
    ),
    p("slowlog-max-len", "128", UINT),
    p("latency-monitor-threshold", "0", UINT),
    p("notify-keyspace-events", "", Kind::Str),
    // Snapshots and the append-only file.
    p("save", "3600 1 300 100 60 10000", Kind::Words),
    p("stop-writes-on-bgsave-error", "yes", Kind::Bool),
    p("rdbcompression", "yes", Kind::Bool),
    fixed("rdbchecksum", "yes", Kind::Bool),
    p("dbfilename", "dump.rdb", Kind::Str),
    p("rdb-del-sync-files", "no", Kind::Bool),
    p("appendonly", "no", Kind::Bool),
    fixed("appendfilename", "appendonly.aof", Kind::Str),
    fixed("appenddirname", "appendonlydir", Kind::Str),
    p("appendfsync", "everysec", Kind::Enum(FSYNC)),
    p("no-appendfsync-on-rewrite", "no", Kind::Bool),
    p("auto-aof-rewrite-percentage", "100", INT_POS),
    p("auto-aof-rewrite-min-size", "67108864", Kind::Memory),
    p("aof-load-truncated", "yes", Kind::Bool),
    p("aof-use-rdb-preamble", "yes", Kind::Bool),
    p("aof-timestamp-enabled", "no", Kind::Bool),
    // Replication.
    aka(fixed("replicaof", "", Kind::Words), "slaveof"),
    aka(
        p("replica-serve-stale-data", "yes", Kind::Bool),
        "slave-serve-stale-data",
    ),
    aka(p("replica-read-only", "yes", Kind::Bool), "slave-read-only"),
    p("repl-diskless-sync", "yes", Kind::Bool),
    p("repl-diskless-sync-delay", "5", INT_POS),
    p("repl-timeout", "60", INT_ONE),
    p("repl-backlog-size", "1048576", Kind::Memory),
    p("repl-backlog-ttl", "3600", UINT),
    aka(p("replica-priority", "100", INT_POS), "slave-priority"),
    p("min-replicas-to-write", "0", INT_POS),
    p("min-replicas-max-lag", "10", INT_POS),
    // Memory.
    p("maxmemory", "0", Kind::Memory),
    p("maxmemory-policy", "noeviction", Kind::Enum(POLICIES)),
    p("maxmemory-samples", "5", INT_ONE),
    // Cluster.
    fixed("cluster-enabled", "no", Kind::Bool),
    fixed("cluster-config-file", "nodes.conf", Kind::Str),
    p("cluster-node-timeout", "15000", UINT),
    fixed("cluster-port", "0", Kind::Int { min: 0, max: 65535 }),
    p("cluster-announce-ip", "", Kind::Str),
    p(
        "cluster-announce-port",
        "0",
        Kind::Int { min: 0, max: 65535 },
    ),
    p(
        "cluster-announce-bus-port",
        "0",
        Kind::Int { min: 0, max: 65535 },
    ),
    p("cluster-require-full-coverage", "yes", Kind::Bool),
    p("cluster-allow-reads-when-down", "no", Kind::Bool),
    aka(
        p("cluster-replica-validity-factor", "10", INT_POS),
        "cluster-slave-validity-factor",
    ),
    p("cluster-migration-barrier", "1", INT_POS),
    aka(
        p("cluster-replica-no-failover", "no", Kind::Bool),
        "cluster-slave-no-failover",
    ),
    p("cluster-allow-replica-migration", "yes", Kind::Bool),
    p("cluster-allow-pubsubshard-when-down", "yes", Kind::Bool),
    p("cluster-announce-hostname", "", Kind::Str),
    p(
        "cluster-preferred-endpoint-type",
        "ip",
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
    ),
    p("cluster-link-sendbuf-limit", "0", Kind::Memory),
    p(
        "cluster-announce-tls-port",
        "0",
        Kind::Int { min: 0, max: 65535 },
    ),
    // Encodings (accepted for compatibility).
    aka(
        p("hash-max-listpack-entries", "512", UINT),
        "hash-max-ziplist-entries",
    ),
    aka(
        p("hash-max-listpack-value", "64", Kind::Memory),
        "hash-max-ziplist-value",
    ),
    p("list-max-listpack-size", "-2", INT),
    p("list-compress-depth", "0", INT_POS),
    p("set-max-intset-entries", "512", UINT),
    aka(
        p("zset-max-listpack-entries", "128", UINT),
        "zset-max-ziplist-entries",
    ),
    aka(
        p("zset-max-listpack-value", "64", Kind::Memory),
        "zset-max-ziplist-value",
    ),
    p("stream-node-max-bytes", "4096", Kind::Memory),
    p("stream-node-max-entries", "100", UINT),
    // Scripting and misc.
    p("lua-time-limit", "5000", UINT),
    p("busy-reply-threshold", "5000", UINT),
    p("tls-port", "0", Kind::Int { min: 0, max: 65535 }),
    fixed(
        "enable-debug-command",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
    ),
    fixed(
        "enable-protected-configs",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
    ),
    fixed(
        "enable-module-command",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
    ),
];

/// Finds a parameter by name or alias, case-insensitively.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Parameters CONFIG SET refuses unless `enable-protected-configs` allows it.
pub fn is_protected(name: &str) -> bool {
    matches!(name, "dir" | "dbfilename")
}
