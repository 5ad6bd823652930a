//! Server and introspection commands (CLIENT, CONFIG, COMMAND, INFO, SHUTDOWN, DEBUG,
//! FUNCTION) against the reference server, plus process-level behaviour and redis-cli.

mod common;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Every parameter our config table knows, for the CONFIG GET comparison.
const PARAMS: &[&str] = &[
    "protected-mode",
    "tcp-backlog",
    "tcp-keepalive",
    "timeout",
    "maxclients",
    "unixsocket",
    "unixsocketperm",
    "requirepass",
    "masterauth",
    "masteruser",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
    "daemonize",
    "supervised",
    "pidfile",
    "loglevel",
    "logfile",
    "syslog-enabled",
    "syslog-ident",
    "databases",
    "always-show-logo",
    "set-proc-title",
    "hz",
    "dynamic-hz",
    "latency-tracking",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "io-threads",
    "io-threads-do-reads",
    "activerehashing",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "notify-keyspace-events",
    "save",
    "stop-writes-on-bgsave-error",
    "rdbcompression",
    "rdbchecksum",
    "dbfilename",
    "rdb-del-sync-files",
    "appendonly",
    "appendfilename",
    "appenddirname",
    "appendfsync",
    "no-appendfsync-on-rewrite",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-load-truncated",
    "aof-use-rdb-preamble",
    "aof-timestamp-enabled",
    "replicaof",
    "slaveof",
    "replica-serve-stale-data",
    "replica-read-only",
    "repl-diskless-sync",
    "repl-diskless-sync-delay",
    "repl-timeout",
    "repl-backlog-size",
    "repl-backlog-ttl",
    "replica-priority",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "cluster-enabled",
    "cluster-config-file",
    "cluster-node-timeout",
    "cluster-port",
    "cluster-announce-ip",
    "cluster-announce-port",
    "cluster-announce-bus-port",
    "cluster-require-full-coverage",
    "cluster-allow-reads-when-down",
    "cluster-replica-validity-factor",
    "cluster-migration-barrier",
    "cluster-replica-no-failover",
    "cluster-allow-replica-migration",
    "hash-max-listpack-entries",
    "hash-max-ziplist-value",
    "hash-max-listpack-value",
    "list-max-listpack-size",
    "list-compress-depth",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "lua-time-limit",
    "busy-reply-threshold",
    "tls-port",
    "enable-debug-command",
    "enable-protected-configs",
    "enable-module-command",
];

#[test]
fn config_get_defaults_match_redis() {
    // The harness enables DEBUG on the reference; do the same on ours.
    let mut d = Differential::with_config(&["--enable-debug-command", "yes"]);
    for p in PARAMS {
        d.check(&["CONFIG", "GET", p]);
        d.check(&["CONFIG", "GET", &p.to_uppercase()]);
    }
    d.check_unordered(&["CONFIG", "GET", "maxmemory-[ps]*", "maxmemory", "hz"]);
    d.check_unordered(&["CONFIG", "GET", "*max-*-entries*"]);
    d.check_script(
        "CONFIG GET nosuch
         CONFIG GET
         CONFIG
         CONFIG FOO
         CONFIG HELP",
    );
    hello3(&mut d);
    d.check_script(
        "CONFIG GET maxmemory
         CONFIG GET nosuch",
    );
}

/// Switches both connections to RESP3 (the replies differ in the client id).
fn hello3(d: &mut Differential) {
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
}

#[test]
fn config_set_matches_redis() {
    let mut d = Differential::new();
    d.check_script(
        "CONFIG SET
         CONFIG SET port
         CONFIG SET maxmemory 1 hz
         CONFIG SET nosuch 1
         CONFIG SET daemonize yes
         CONFIG SET maxmemory abc
         CONFIG SET maxmemory 10mb maxmemory 5
         CONFIG SET maxmemory 10mb MAXMEMORY 5
         CONFIG SET maxmemory 5 nosuch 1
         CONFIG SET maxmemory abc daemonize yes
         CONFIG SET timeout -1
         CONFIG SET timeout abc
         CONFIG SET loglevel foo
         CONFIG SET appendonly maybe
         CONFIG SET hz 0
         CONFIG GET hz
         CONFIG SET hz 1000
         CONFIG GET hz
         CONFIG SET hz 10
         CONFIG SET maxclients 0
         CONFIG SET maxmemory-samples 100
         CONFIG SET save abc
         CONFIG SET save 100
         CONFIG SET save 100 abc
         CONFIG SET save -1 5
         CONFIG SET dir /nonexistent
         CONFIG SET dbfilename x.rdb
         CONFIG SET enable-debug-command yes
         CONFIG SET replicaof x
         CONFIG SET maxmemory 1gb timeout 5
         CONFIG GET maxmemory
         CONFIG GET timeout
         CONFIG SET maxmemory 0 timeout 0
         CONFIG SET proto-max-bulk-len 10
         CONFIG SET proto-max-bulk-len 2mb
         CONFIG GET proto-max-bulk-len
         CONFIG SET list-max-listpack-size abc
         CONFIG SET list-max-listpack-size -1
         CONFIG SET maxmemory-policy foo
         CONFIG SET maxmemory-policy ALLKEYS-LRU
         CONFIG GET maxmemory-policy
         CONFIG SET slowlog-log-slower-than -5
         CONFIG SET port abc
         CONFIG SET hash-max-ziplist-entries 64
         CONFIG GET hash-max-listpack-entries
         CONFIG SET notify-keyspace-events KEA
         CONFIG GET notify-keyspace-events
         CONFIG SET notify-keyspace-events gnKm
         CONFIG GET notify-keyspace-events
         CONFIG SET notify-keyspace-events foo
         CONFIG SET repl-backlog-size 1
         CONFIG GET repl-backlog-size
         CONFIG SET repl-backlog-size 0
         CONFIG SET appendfsync sometimes
         CONFIG RESETSTAT
         CONFIG RESETSTAT x
         CONFIG REWRITE
         CONFIG REWRITE x",
    );
    let cases: &[&[&str]] = &[
        &["CONFIG", "SET", "client-output-buffer-limit", "foo 1 2 3"],
        &["CONFIG", "SET", "client-output-buffer-limit", "normal 1 2"],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal a 2 3",
        ],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 2mb 3",
        ],
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &["CONFIG", "SET", "save", "1 2 3"],
        &["CONFIG", "SET", "save", "100 200 300 400"],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "SET", "save", ""],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "SET", "requirepass", ""],
    ];
    for args in cases {
        d.check(args);
    }
}

#[test]
fn config_set_applies_at_runtime() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxclients", "1"]), ok());
    let mut other = s.conn();
    assert_eq!(other.read(), err("ERR max number of clients reached"));
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxclients", "10"]), ok());
    let mut third = s.conn();
    assert_eq!(third.cmd(&["PING"]), Frame::Simple(b"PONG".to_vec()));
}

#[test]
fn config_rewrite_round_trip() {
    let dir = std::env::temp_dir().join(format!("rustidocs-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("node.conf");
    std::fs::write(
        &file,
        "# my config\nmaxmemory 1mb\nunknown-directive x\nhz 20\nhz 30\n",
    )
    .unwrap();
    let start = |file: &std::path::Path| {
        let port = free_port();
        let child = Command::new(node_binary())
            .args([
                file.to_str().unwrap(),
                "--port",
                &port.to_string(),
                "--save",
                "",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if Conn::try_connect(port).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (child, Conn::connect(port))
    };
    let (mut child, mut c) = start(&file);
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "2mb"]), ok());
    assert_eq!(c.cmd(&["CONFIG", "SET", "timeout", "77"]), ok());
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), ok());
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# my config\nmaxmemory 2097152\nunknown-directive x\nhz 30\n"),
        "{text}"
    );
    assert!(text.contains("\ntimeout 77\n"), "{text}");
    let (mut child, mut c) = start(&file);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "timeout"]),
        Frame::Array(vec![bulk("timeout"), bulk("77")])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        Frame::Array(vec![bulk("maxmemory"), bulk("2097152")])
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn command_introspection_matches_redis() {
    let mut d = Differential::new();
    d.check_script(
        "COMMAND INFO get set nosuch
         COMMAND INFO GET
         COMMAND GETKEYS set a b
         COMMAND GETKEYS get a
         COMMAND GETKEYS foo a
         COMMAND GETKEYS ping x
         COMMAND GETKEYS mset a b c d
         COMMAND GETKEYS set a
         COMMAND GETKEYS config get
         COMMAND GETKEYS client list
         COMMAND GETKEYS
         COMMAND GETKEYSANDFLAGS set a b
         COMMAND GETKEYSANDFLAGS set a b get
         COMMAND LIST filterby foo x
         COMMAND LIST foo
         COMMAND LIST filterby aclcat nosuchcat
         COMMAND LIST filterby module x
         COMMAND LIST filterby pattern nosuch*
         COMMAND HELP
         COMMAND FOO
         COMMAND DOCS nosuch",
    );
    hello3(&mut d);
    d.check_script(
        "COMMAND INFO get set
         COMMAND GETKEYSANDFLAGS set a b",
    );
    // LPUSH belongs to the list family; compare it whenever it is registered.
    let ours = d.a.cmd(&["COMMAND", "INFO", "lpush"]);
    if ours != Frame::Array(vec![Frame::Null]) {
        d.check(&["COMMAND", "INFO", "lpush"]);
    }
    d.check(&["COMMAND", "INFO", "client|setname", "config|get"]);
}

#[test]
fn command_lists_and_counts_ours() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let Frame::Integer(n) = c.cmd(&["COMMAND", "COUNT"]) else {
        panic!("COMMAND COUNT is an integer")
    };
    let Frame::Array(all) = c.cmd(&["COMMAND"]) else {
        panic!("COMMAND is an array")
    };
    assert_eq!(all.len() as i64, n);
    let Frame::Array(names) = c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "client*"]) else {
        panic!("COMMAND LIST is an array")
    };
    assert!(names.contains(&bulk("client|list")));
    let Frame::Array(docs) = c.cmd(&["COMMAND", "DOCS", "get"]) else {
        panic!("COMMAND DOCS is a map")
    };
    assert_eq!(docs[0], bulk("get"));
}

#[test]
fn client_commands_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "CLIENT SETNAME
         CLIENT SETNAME foo
         CLIENT GETNAME
         CLIENT SETNAME foo bar
         CLIENT GETNAME x
         CLIENT ID x
         CLIENT INFO x
         CLIENT LIST id 1 2 abc
         CLIENT LIST type foo
         CLIENT LIST type normal x
         CLIENT LIST foo
         CLIENT LIST id
         CLIENT LIST id -1
         CLIENT LIST id 0
         CLIENT KILL
         CLIENT KILL 1.2.3.4:5
         CLIENT KILL 1.2.3.4
         CLIENT KILL id 999
         CLIENT KILL id abc
         CLIENT KILL id 0
         CLIENT KILL id 5 x
         CLIENT KILL foo bar
         CLIENT KILL a b c
         CLIENT KILL type foo
         CLIENT KILL type master
         CLIENT KILL skipme maybe
         CLIENT KILL skipme yes
         CLIENT KILL user nouser
         CLIENT KILL user default skipme no id 99999
         CLIENT KILL addr 1.2.3.4:5 laddr x
         CLIENT REPLY foo
         CLIENT NO-EVICT x
         CLIENT NO-EVICT on
         CLIENT NO-EVICT off
         CLIENT PAUSE
         CLIENT PAUSE abc
         CLIENT PAUSE -1
         CLIENT PAUSE 10 foo
         CLIENT PAUSE 10 write
         CLIENT UNPAUSE
         CLIENT GETREDIR
         CLIENT FOO
         CLIENT
         CLIENT HELP",
    );
    d.check(&["CLIENT", "SETNAME", "a b"]);
    d.check(&["CLIENT", "SETNAME", ""]);
    d.check(&["CLIENT", "GETNAME"]);
    // REPLY OFF/SKIP: the skipped replies never arrive, the next one does.
    for c in [&mut d.a, &mut d.b] {
        c.send(&["CLIENT", "REPLY", "SKIP"]);
        c.send(&["PING", "skipped"]);
        c.send(&["CLIENT", "REPLY", "OFF"]);
        c.send(&["PING", "off"]);
    }
    d.check(&["CLIENT", "REPLY", "ON"]);
    d.check(&["PING", "back"]);
}

fn field_names(line: &str) -> Vec<String> {
    line.split(' ')
        .map(|f| f.split('=').next().unwrap().to_string())
        .collect()
}

#[test]
fn client_list_fields_match_redis() {
    let mut d = Differential::new();
    let list = |c: &mut Conn, args: &[&str]| match c.cmd(args) {
        Frame::Bulk(b) => String::from_utf8(b).unwrap(),
        other => panic!("CLIENT LIST reply {other:?}"),
    };
    let ours = list(&mut d.a, &["CLIENT", "LIST"]);
    let theirs = list(&mut d.b, &["CLIENT", "LIST"]);
    assert!(ours.ends_with('\n'));
    assert_eq!(field_names(ours.trim_end()), field_names(theirs.trim_end()));
    assert!(ours.contains(" cmd=client|list "), "{ours}");
    assert!(ours.contains(" flags=N "), "{ours}");
    let info = list(&mut d.a, &["CLIENT", "INFO"]);
    assert!(info.contains(" cmd=client|info "), "{info}");
    d.a.cmd(&["CLIENT", "SETNAME", "worker"]);
    let Frame::Integer(id) = d.a.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID is an integer")
    };
    let by_id = list(&mut d.a, &["CLIENT", "LIST", "ID", &id.to_string()]);
    assert!(by_id.starts_with(&format!("id={id} ")) && by_id.contains(" name=worker "));
    let normal = list(&mut d.a, &["CLIENT", "LIST", "TYPE", "normal"]);
    assert_eq!(normal.lines().count(), 1);
    assert_eq!(list(&mut d.a, &["CLIENT", "LIST", "TYPE", "pubsub"]), "");
}

#[test]
fn client_kill_disconnects_another_client() {
    let s = Server::start(&[]);
    let mut killer = s.conn();
    let mut victim = s.conn();
    let Frame::Integer(id) = victim.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID is an integer")
    };
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", "ID", &id.to_string()]),
        int(1)
    );
    assert!(victim.is_closed());
    // The old form by address, and SKIPME.
    let mut victim = s.conn();
    let addr = victim.stream.local_addr().unwrap().to_string();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", &addr]), ok());
    assert!(victim.is_closed());
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "TYPE", "normal"]), int(0));
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"]),
        int(1)
    );
    assert!(killer.is_closed());
}

#[test]
fn info_has_redis_fields() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.cmd(&["SET", "k", "v"]);
    let Frame::Bulk(text) = c.cmd(&["INFO"]) else {
        panic!("INFO is a bulk string")
    };
    let text = String::from_utf8(text).unwrap();
    for field in [
        "# Server\r\n",
        "\r\n\r\n# Clients\r\n",
        "redis_version:7.0.15\r\n",
        "redis_mode:standalone\r\n",
        "os:",
        "arch_bits:64\r\n",
        "process_id:",
        "run_id:",
        &format!("tcp_port:{}\r\n", s.port),
        "uptime_in_seconds:",
        "connected_clients:1\r\n",
        "blocked_clients:0\r\n",
        "maxclients:10000\r\n",
        "used_memory:",
        "used_memory_rss:",
        "loading:0\r\n",
        "rdb_changes_since_last_save:1\r\n",
        "rdb_bgsave_in_progress:0\r\n",
        "rdb_last_save_time:",
        "aof_enabled:0\r\n",
        "aof_rewrite_in_progress:0\r\n",
        "total_connections_received:",
        "total_commands_processed:",
        "instantaneous_ops_per_sec:",
        "total_net_input_bytes:",
        "rejected_connections:0\r\n",
        "expired_keys:0\r\n",
        "keyspace_hits:",
        "keyspace_misses:",
        "role:master\r\n",
        "connected_slaves:0\r\n",
        "master_replid:",
        "master_repl_offset:0\r\n",
        "used_cpu_sys:",
        "used_cpu_user:",
        "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
    ] {
        assert!(text.contains(field), "INFO lacks {field:?}:\n{text}");
    }
    let Frame::Bulk(only) = c.cmd(&["INFO", "keyspace"]) else {
        panic!("INFO is a bulk string")
    };
    assert_eq!(only, b"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n");
    let Frame::Bulk(two) = c.cmd(&["INFO", "cpu", "server"]) else {
        panic!("INFO is a bulk string")
    };
    let two = String::from_utf8(two).unwrap();
    assert!(two.starts_with("# Server\r\n") && two.contains("\r\n\r\n# CPU\r\n"));
    assert_eq!(c.cmd(&["INFO", "nosuch"]), bulk(""));
    let Frame::Bulk(all) = c.cmd(&["INFO", "everything"]) else {
        panic!("INFO is a bulk string")
    };
    assert!(String::from_utf8(all)
        .unwrap()
        .contains("# Commandstats\r\n"));
}

#[test]
fn time_lastsave_function_debug_match_redis() {
    let mut d = Differential::with_config(&["--enable-debug-command", "yes"]);
    d.check_script(
        "TIME x
         LASTSAVE x
         SHUTDOWN foo
         SHUTDOWN nosave save
         SHUTDOWN abort now
         FUNCTION LIST
         FUNCTION LIST withcode
         FUNCTION LIST libraryname x
         FUNCTION LIST libraryname
         FUNCTION LIST foo
         FUNCTION FLUSH
         FUNCTION FLUSH async
         FUNCTION FLUSH foo
         FUNCTION FLUSH sync x
         DEBUG SLEEP 0
         DEBUG SLEEP 0.01",
    );
    let Frame::Array(t) = d.a.cmd(&["TIME"]) else {
        panic!("TIME is an array")
    };
    assert_eq!(t.len(), 2);
    let Frame::Integer(_) = d.a.cmd(&["LASTSAVE"]) else {
        panic!("LASTSAVE is an integer")
    };
}

#[test]
fn debug_is_refused_by_default() {
    let s = Server::start(&[]);
    let redis = Server::start_kind(Kind::Redis, &["--enable-debug-command", "no"]);
    let a = s.conn().cmd_raw(&[b"DEBUG", b"SLEEP", b"0"]);
    let b = redis.conn().cmd_raw(&[b"DEBUG", b"SLEEP", b"0"]);
    assert_eq!(show(&a), show(&b));
}

#[test]
fn debug_sleep_blocks_the_server() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut sleeper = s.conn();
    let mut other = s.conn();
    let started = std::time::Instant::now();
    sleeper.send(&["DEBUG", "SLEEP", "0.3"]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(other.cmd(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(sleeper.read(), ok());
}

#[test]
fn shutdown_exits_cleanly() {
    let mut s = Server::start(&[]);
    let mut c = s.conn();
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.is_closed());
    let status = s.wait_exit(Duration::from_secs(10)).expect("server exits");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn maxclients_rejects_extra_connections() {
    let s = Server::start(&["--maxclients", "2"]);
    let mut a = s.conn();
    let mut b = s.conn();
    assert_eq!(a.cmd(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    assert_eq!(b.cmd(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    let mut third = s.conn();
    assert_eq!(third.read(), err("ERR max number of clients reached"));
}

#[test]
fn timeout_closes_idle_clients() {
    let s = Server::start(&["--timeout", "1"]);
    let mut idle = s.conn();
    assert_eq!(idle.cmd(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(idle.is_closed());
}

fn redis_cli(port: u16, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

#[test]
fn real_redis_cli_works() {
    let s = Server::start(&[]);
    assert_eq!(redis_cli(s.port, &["set", "a", "b"], None), "OK\n");
    assert_eq!(redis_cli(s.port, &["get", "a"], None), "b\n");
    assert_eq!(
        redis_cli(s.port, &["--no-raw", "get", "a"], None),
        "\"b\"\n"
    );
    assert_eq!(
        redis_cli(s.port, &["--no-raw", "get", "zz"], None),
        "(nil)\n"
    );
    assert_eq!(redis_cli(s.port, &[], Some("ping\n")), "PONG\n");
    let info = redis_cli(s.port, &["info", "server"], None);
    assert!(info.contains("redis_version:7.0.15"), "{info}");
}
