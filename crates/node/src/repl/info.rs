//! INFO `replication` and ROLE: the node's role, its master link or its replicas,
//! and the replication ids, offsets and backlog, with Redis 7.0's field names.

use std::fmt::Write;

use super::LinkState;
use crate::server::Server;

/// A replica as ROLE and INFO show it: (ip, port, state, ack offset, lag seconds).
pub fn replicas(srv: &Server) -> Vec<(String, u16, &'static str, u64, u64)> {
    let now = crate::clock::now_ms();
    srv.propagator
        .borrow()
        .repl
        .replicas
        .iter()
        .map(|r| {
            let state = if r.online.get() {
                "online"
            } else {
                "send_bulk"
            };
            let lag = now.saturating_sub(r.ack_ms.get()) / 1000;
            (
                r.ip.clone(),
                r.listening_port.get(),
                state,
                r.ack_offset.get(),
                lag,
            )
        })
        .collect()
}

/// Redis's link state names (ROLE on a replica).
pub fn link_state_name(state: LinkState) -> &'static str {
    match state {
        LinkState::Connect => "connect",
        LinkState::Connecting => "connecting",
        LinkState::Sync => "sync",
        LinkState::Connected => "connected",
    }
}

/// Writes the `# Replication` fields.
pub fn write(srv: &Server, out: &mut String) {
    let st = srv.repl.borrow();
    let now = crate::clock::now_ms();
    let (offset, active, first, histlen, size) = {
        let p = srv.propagator.borrow();
        let (histlen, size) = p
            .repl
            .backlog
            .as_ref()
            .map_or((0, super::backlog_size(srv)), |b| (b.histlen(), b.size()));
        (
            p.repl.offset,
            p.repl.active(),
            p.repl.first_byte_offset(),
            histlen,
            size,
        )
    };
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(out, "{k}:{v}\r\n");
    };
    match &st.master {
        None => line("role", &"master"),
        Some((host, port)) => {
            let link = st.link.get();
            let up = link == LinkState::Connected;
            line("role", &"slave");
            line("master_host", host);
            line("master_port", port);
            line("master_link_status", &if up { "up" } else { "down" });
            let io = if up {
                (now.saturating_sub(st.master_last_io_ms.get()) / 1000) as i64
            } else {
                -1
            };
            line("master_last_io_seconds_ago", &io);
            line(
                "master_sync_in_progress",
                &u8::from(link == LinkState::Sync),
            );
            line("slave_read_repl_offset", &st.read_offset.get().max(offset));
            line("slave_repl_offset", &offset);
            if !up {
                let since = st.link_down_since_ms.get();
                let secs = if since == 0 {
                    -1
                } else {
                    (now.saturating_sub(since) / 1000) as i64
                };
                line("master_link_down_since_seconds", &secs);
            }
            let cfg = srv.config.borrow();
            line(
                "slave_priority",
                &cfg.get("replica-priority").unwrap_or("100"),
            );
            let read_only = u8::from(cfg.get("replica-read-only") != Some("no"));
            line("slave_read_only", &read_only);
            line("replica_announced", &1);
        }
    }
    let list = replicas(srv);
    line("connected_slaves", &list.len());
    for (i, (ip, port, state, ack, lag)) in list.iter().enumerate() {
        let v = format!("ip={ip},port={port},state={state},offset={ack},lag={lag}");
        line(&format!("slave{i}"), &v);
    }
    line("master_failover_state", &"no-failover");
    line("master_replid", &st.replid);
    line("master_replid2", &st.replid2);
    line("master_repl_offset", &offset);
    line("second_repl_offset", &st.second_offset);
    line("repl_backlog_active", &u8::from(active));
    line("repl_backlog_size", &size);
    line(
        "repl_backlog_first_byte_offset",
        &if active { first } else { 0 },
    );
    line("repl_backlog_histlen", &histlen);
}
