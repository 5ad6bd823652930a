//! INFO: Redis 7.0's sections and field names, filled from the server's counters and
//! from /proc for the process figures (memory, CPU) Redis gets from its allocator.

use std::cell::Cell;
use std::fmt::Write;

use super::super::{Args, CmdResult, Ctx};
use crate::server::Server;

/// Sections in the order Redis prints them; `true` = part of the default set.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("cluster", true),
    ("keyspace", true),
];

thread_local! {
    /// Highest RSS seen by INFO (used_memory_peak).
    static PEAK_MEMORY: Cell<u64> = const { Cell::new(0) };
    /// (time in ms, commands processed) at the previous INFO, for ops per second.
    static LAST_SAMPLE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Which sections the arguments select (`all`, `default`, `everything` or names).
fn selected(args: &Args) -> Vec<&'static str> {
    let words: Vec<String> = args
        .iter_from(1)
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .collect();
    let has = |w: &str| words.iter().any(|x| x == w);
    SECTIONS
        .iter()
        .filter(|(name, default)| {
            has("everything")
                || (has("all") && *name != "modules")
                || ((words.is_empty() || has("default")) && *default)
                || has(name)
        })
        .map(|(name, _)| *name)
        .collect()
}

pub fn info(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut text = String::new();
    for section in selected(args) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(ctx.srv, section, &mut text);
    }
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

fn write_section(srv: &Server, name: &str, out: &mut String) {
    let title = match name {
        "cpu" => "CPU".to_string(),
        other => {
            let mut t = other.to_string();
            t[..1].make_ascii_uppercase();
            t
        }
    };
    out.push_str(&format!("# {title}\r\n"));
    let fields = match name {
        "server" => server(srv),
        "clients" => clients(srv),
        "memory" => memory(srv),
        "persistence" => persistence(srv),
        "stats" => stats(srv),
        "replication" => return crate::repl::info::write(srv, out),
        "cpu" => cpu(),
        "cluster" => vec![(
            "cluster_enabled",
            u8::from(srv.cluster.is_some()).to_string(),
        )],
        "keyspace" => return keyspace(srv, out),
        _ => Vec::new(),
    };
    for (k, v) in fields {
        let _ = write!(out, "{k}:{v}\r\n");
    }
}

type Fields = Vec<(&'static str, String)>;

fn read_proc(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn server(srv: &Server) -> Fields {
    let now_us = crate::clock::now_us();
    let uptime = (now_us / 1000).saturating_sub(srv.start_ms) / 1000;
    let cfg = srv.config.borrow();
    let os = format!(
        "{} {} {}",
        read_proc("/proc/sys/kernel/ostype").trim(),
        read_proc("/proc/sys/kernel/osrelease").trim(),
        std::env::consts::ARCH
    );
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_file = cfg
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    vec![
        ("redis_version", crate::REDIS_VERSION.to_string()),
        ("redis_git_sha1", "00000000".into()),
        ("redis_git_dirty", "0".into()),
        ("redis_build_id", "0".into()),
        ("redis_mode", "standalone".into()),
        ("os", os),
        ("arch_bits", "64".into()),
        ("monotonic_clock", "POSIX clock_gettime".into()),
        ("multiplexing_api", "epoll".into()),
        ("atomicvar_api", "c11-builtin".into()),
        ("gcc_version", "0.0.0".into()),
        ("process_id", std::process::id().to_string()),
        ("process_supervised", "no".into()),
        ("run_id", srv.run_id.clone()),
        ("tcp_port", srv.listen_port.get().to_string()),
        ("server_time_usec", now_us.to_string()),
        ("uptime_in_seconds", uptime.to_string()),
        ("uptime_in_days", (uptime / 86400).to_string()),
        ("hz", cfg.hz.to_string()),
        ("configured_hz", cfg.hz.to_string()),
        (
            "lru_clock",
            ((now_us / 1_000_000) & ((1 << 24) - 1)).to_string(),
        ),
        ("executable", exe),
        ("config_file", config_file),
        ("io_threads_active", "0".into()),
    ]
}

fn clients(srv: &Server) -> Fields {
    let clients = srv.clients.borrow();
    vec![
        ("connected_clients", clients.len().to_string()),
        ("cluster_connections", "0".into()),
        ("maxclients", srv.config.borrow().maxclients.to_string()),
        ("client_recent_max_input_buffer", "0".into()),
        ("client_recent_max_output_buffer", "0".into()),
        (
            "blocked_clients",
            super::super::client::blocked_count(srv).to_string(),
        ),
        ("tracking_clients", "0".into()),
        ("clients_in_timeout_table", "0".into()),
    ]
}

/// Redis's `bytesToHuman`.
fn human(n: u64) -> String {
    let n = n as f64;
    const UNITS: &[(f64, &str)] = &[
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0, "M"),
        (1024.0, "K"),
    ];
    for (size, unit) in UNITS {
        if n >= *size {
            return format!("{:.2}{unit}", n / size);
        }
    }
    format!("{n}B")
}

/// Resident set size from /proc/self/statm (pages of 4 KiB).
fn rss_bytes() -> u64 {
    read_proc("/proc/self/statm")
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

fn total_system_memory() -> u64 {
    read_proc("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn memory(srv: &Server) -> Fields {
    // There is no allocator accounting: used_memory is the resident set size, an
    // honest upper bound of what the data and the server use.
    let rss = rss_bytes();
    let used = rss;
    let peak = PEAK_MEMORY.with(|p| {
        p.set(p.get().max(used));
        p.get()
    });
    let cfg = srv.config.borrow();
    let maxmemory: u64 = cfg
        .get("maxmemory")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let policy = cfg
        .get("maxmemory-policy")
        .unwrap_or("noeviction")
        .to_string();
    let total = total_system_memory();
    vec![
        ("used_memory", used.to_string()),
        ("used_memory_human", human(used)),
        ("used_memory_rss", rss.to_string()),
        ("used_memory_rss_human", human(rss)),
        ("used_memory_peak", peak.to_string()),
        ("used_memory_peak_human", human(peak)),
        (
            "used_memory_peak_perc",
            format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64),
        ),
        ("total_system_memory", total.to_string()),
        ("total_system_memory_human", human(total)),
        ("maxmemory", maxmemory.to_string()),
        ("maxmemory_human", human(maxmemory)),
        ("maxmemory_policy", policy),
        ("mem_fragmentation_ratio", "1.00".into()),
        ("mem_allocator", "libc".into()),
        ("active_defrag_running", "0".into()),
        ("lazyfree_pending_objects", "0".into()),
        ("lazyfreed_objects", "0".into()),
    ]
}

fn persistence(srv: &Server) -> Fields {
    let dirty = srv.dirty.get();
    let snap = srv.snapshot.borrow();
    let mut fields = vec![
        ("loading", "0".into()),
        ("async_loading", "0".into()),
        ("current_cow_peak", "0".into()),
        ("current_cow_size", "0".into()),
        ("current_cow_size_age", "0".into()),
        ("current_fork_perc", "0.00".into()),
        ("current_save_keys_processed", "0".into()),
        ("current_save_keys_total", "0".into()),
        ("rdb_changes_since_last_save", dirty.to_string()),
        (
            "rdb_bgsave_in_progress",
            u8::from(snap.in_progress()).to_string(),
        ),
        (
            "rdb_last_save_time",
            (srv.last_save_ms.get() / 1000).to_string(),
        ),
        (
            "rdb_last_bgsave_status",
            if snap.last_bgsave_ok { "ok" } else { "err" }.into(),
        ),
        (
            "rdb_last_bgsave_time_sec",
            snap.last_bgsave_secs.to_string(),
        ),
        (
            "rdb_current_bgsave_time_sec",
            snap.current_secs().to_string(),
        ),
        ("rdb_saves", snap.saves.to_string()),
        ("rdb_last_cow_size", "0".into()),
        (
            "rdb_last_load_keys_expired",
            snap.expired_on_load.to_string(),
        ),
        ("rdb_last_load_keys_loaded", snap.loaded_keys.to_string()),
    ];
    fields.extend(crate::persist::aof::info_fields(srv));
    fields.push(("module_fork_in_progress", "0".into()));
    fields.push(("module_fork_last_cow_size", "0".into()));
    fields.extend(crate::persist::aof::info_fields_when_on(srv));
    fields
}

/// Commands per second since the previous INFO (Redis samples in its cron instead).
fn ops_per_sec(total: u64) -> u64 {
    let now = crate::clock::now_ms();
    LAST_SAMPLE.with(|s| {
        let (at, count) = s.get();
        s.set((now, total));
        let elapsed = now.saturating_sub(at);
        if at == 0 || elapsed == 0 {
            0
        } else {
            total.saturating_sub(count) * 1000 / elapsed
        }
    })
}

fn stats(srv: &Server) -> Fields {
    let s = &srv.stats;
    let repl = srv.repl.borrow();
    let (mut hits, mut misses, mut expired) = (s.keyspace_hits.get(), s.keyspace_misses.get(), 0);
    for db in &srv.dbs {
        let db = db.borrow();
        hits += db.hits;
        misses += db.misses;
        expired += db.expired_count;
    }
    let pubsub = srv.pubsub.borrow();
    let total_commands = s.total_commands_processed.get();
    let zero = |name| (name, "0".to_string());
    vec![
        (
            "total_connections_received",
            s.total_connections_received.get().to_string(),
        ),
        ("total_commands_processed", total_commands.to_string()),
        (
            "instantaneous_ops_per_sec",
            ops_per_sec(total_commands).to_string(),
        ),
        (
            "total_net_input_bytes",
            s.total_net_input_bytes.get().to_string(),
        ),
        (
            "total_net_output_bytes",
            s.total_net_output_bytes.get().to_string(),
        ),
        zero("total_net_repl_input_bytes"),
        zero("total_net_repl_output_bytes"),
        ("instantaneous_input_kbps", "0.00".into()),
        ("instantaneous_output_kbps", "0.00".into()),
        ("instantaneous_input_repl_kbps", "0.00".into()),
        ("instantaneous_output_repl_kbps", "0.00".into()),
        (
            "rejected_connections",
            s.rejected_connections.get().to_string(),
        ),
        ("sync_full", repl.sync_full.to_string()),
        ("sync_partial_ok", repl.sync_partial_ok.to_string()),
        ("sync_partial_err", repl.sync_partial_err.to_string()),
        ("expired_keys", expired.to_string()),
        ("expired_stale_perc", "0.00".into()),
        zero("expired_time_cap_reached_count"),
        zero("expire_cycle_cpu_milliseconds"),
        zero("evicted_keys"),
        zero("evicted_clients"),
        zero("total_eviction_exceeded_time"),
        zero("current_eviction_exceeded_time"),
        ("keyspace_hits", hits.to_string()),
        ("keyspace_misses", misses.to_string()),
        ("pubsub_channels", pubsub.channels.len().to_string()),
        ("pubsub_patterns", pubsub.patterns.len().to_string()),
        (
            "pubsubshard_channels",
            pubsub.shard_channels.len().to_string(),
        ),
        zero("latest_fork_usec"),
        zero("total_forks"),
        zero("migrate_cached_sockets"),
        zero("slave_expires_tracked_keys"),
        zero("active_defrag_hits"),
        zero("active_defrag_misses"),
        zero("active_defrag_key_hits"),
        zero("active_defrag_key_misses"),
        zero("total_active_defrag_time"),
        zero("current_active_defrag_time"),
        zero("tracking_total_keys"),
        zero("tracking_total_items"),
        zero("tracking_total_prefixes"),
        zero("unexpected_error_replies"),
        (
            "total_error_replies",
            s.total_error_replies.get().to_string(),
        ),
        zero("dump_payload_sanitizations"),
        (
            "client_query_buffer_limit_disconnections",
            s.client_query_limit_disconnections.get().to_string(),
        ),
        (
            "client_output_buffer_limit_disconnections",
            s.client_output_limit_disconnections.get().to_string(),
        ),
    ]
}

/// utime and stime (fields 14 and 15) of a /proc stat file, in seconds. Clock ticks
/// are taken as 100 per second, the value of USER_HZ on Linux.
fn cpu_times(path: &str) -> (f64, f64) {
    let stat = read_proc(path);
    // The command name (field 2) may contain spaces; fields are counted after it.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (ticks(11), ticks(12))
}

fn cpu() -> Fields {
    let (user, sys) = cpu_times("/proc/self/stat");
    let (main_user, main_sys) = cpu_times("/proc/thread-self/stat");
    vec![
        ("used_cpu_sys", format!("{sys:.6}")),
        ("used_cpu_user", format!("{user:.6}")),
        ("used_cpu_sys_children", "0.000000".into()),
        ("used_cpu_user_children", "0.000000".into()),
        ("used_cpu_sys_main_thread", format!("{main_sys:.6}")),
        ("used_cpu_user_main_thread", format!("{main_user:.6}")),
    ]
}

fn keyspace(srv: &Server, out: &mut String) {
    for (i, db) in srv.dbs.iter().enumerate() {
        let db = db.borrow();
        if !db.is_empty() {
            let _ = write!(
                out,
                "db{i}:keys={},expires={},avg_ttl=0\r\n",
                db.len(),
                db.expires_len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1335944), "1.27M");
        assert_eq!(human(32768), "32.00K");
    }
}
