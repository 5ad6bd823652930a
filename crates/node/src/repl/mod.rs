//! Master–replica replication as Redis 7.0 does it: replication ids and offsets,
//! PSYNC (full and partial), the backlog, replica links, and role changes.

pub mod backlog;
pub mod info;
pub mod master;
pub mod replica;
pub mod saved;

use std::cell::Cell;
use std::rc::Rc;

use tokio::sync::Notify;

use crate::client::Client;
use crate::cmd::{CmdError, CommandSpec, Flags};
use crate::server::Server;

/// What a connection is to replication (CLIENT LIST flags, CLIENT KILL TYPE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkKind {
    #[default]
    Normal,
    /// A replica attached to us (flag `S`).
    Replica,
    /// Our master's stream (flag `M`).
    Master,
}

/// A client's replication requests, acted on by its connection task.
#[derive(Default)]
pub struct ClientRepl {
    /// From REPLCONF listening-port.
    pub listening_port: u16,
    /// PSYNC/SYNC received: the connection becomes a replica link (replid, offset).
    pub psync: Option<(String, i64)>,
    /// WAIT: (replicas wanted, offset to reach, deadline in Unix ms or 0).
    pub wait: Option<(usize, u64, u64)>,
}

/// The state of our link to a master (Redis's `repl_state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkState {
    #[default]
    Connect,
    Connecting,
    Sync,
    Connected,
}

/// Replication state of this node.
pub struct ReplState {
    /// Our master, when we are a replica.
    pub master: Option<(String, u16)>,
    pub link: Cell<LinkState>,
    pub replid: String,
    pub replid2: String,
    /// First offset replid2 is not valid for (-1: none).
    pub second_offset: i64,
    /// Bumped on every role change; the replica task of an older generation stops.
    pub generation: u64,
    pub stop: Rc<Notify>,
    /// Signalled on every replica ACK (WAIT).
    pub acks: Rc<Notify>,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Unix ms of the last byte from our master, and when the link went down.
    pub master_last_io_ms: Cell<u64>,
    pub link_down_since_ms: Cell<u64>,
    /// Bytes read from the master (may run ahead of the applied offset).
    pub read_offset: Cell<u64>,
    /// The database the master's stream has selected (kept across reconnections).
    pub master_db: Cell<usize>,
    pub last_ping_ms: Cell<u64>,
}

impl ReplState {
    pub fn new(replid: String) -> ReplState {
        ReplState {
            master: None,
            link: Cell::new(LinkState::Connect),
            replid,
            replid2: "0".repeat(40),
            second_offset: -1,
            generation: 0,
            stop: Rc::new(Notify::new()),
            acks: Rc::new(Notify::new()),
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            master_last_io_ms: Cell::new(0),
            link_down_since_ms: Cell::new(0),
            read_offset: Cell::new(0),
            master_db: Cell::new(0),
            last_ping_ms: Cell::new(0),
        }
    }
}

/// A fresh 40-hex-digit replication id.
pub fn random_id(srv: &Server) -> String {
    (0..40)
        .map(|_| format!("{:x}", srv.random() % 16))
        .collect()
}

pub fn is_replica(srv: &Server) -> bool {
    srv.repl.borrow().master.is_some()
}

/// Redis's `changeReplicationId` + `shiftReplicationId`: the old history stays valid
/// for partial resyncs up to the current offset (psync2).
fn shift_replid(srv: &Server) {
    let offset = srv.propagator.borrow().repl.offset;
    let new_id = random_id(srv);
    let mut st = srv.repl.borrow_mut();
    st.replid2 = std::mem::replace(&mut st.replid, new_id);
    st.second_offset = offset as i64 + 1;
}

/// Rejections a replica applies before running a normal client's command:
/// `replica-read-only` and `replica-serve-stale-data`.
pub fn check_command(srv: &Server, client: &Client, spec: &CommandSpec) -> Option<CmdError> {
    if client.shared.link_kind.get() == LinkKind::Master {
        return None;
    }
    let st = srv.repl.borrow();
    st.master.as_ref()?;
    let cfg = srv.config.borrow();
    if spec.flags.has(Flags::WRITE) && cfg.get("replica-read-only") != Some("no") {
        return Some(CmdError::msg(
            "READONLY You can't write against a read only replica.",
        ));
    }
    if st.link.get() != LinkState::Connected
        && cfg.get("replica-serve-stale-data") == Some("no")
        && !spec.flags.has(Flags::STALE)
    {
        return Some(CmdError::msg(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        ));
    }
    None
}

/// Sets every database's treatment of expired keys for our role.
fn set_expire_mode(srv: &Server, mode: crate::db::ExpireMode) {
    for db in &srv.dbs {
        db.borrow_mut().expire_mode = mode;
    }
}

/// The backlog size from `repl-backlog-size`.
pub fn backlog_size(srv: &Server) -> usize {
    srv.config
        .borrow()
        .get("repl-backlog-size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 20)
}

/// Makes sure a backlog exists (a master creates it for its first replica, with a
/// new replication id as Redis does; a replica when it syncs).
pub fn ensure_backlog(srv: &Server, new_history: bool) {
    if srv.propagator.borrow().repl.active() {
        return;
    }
    if new_history {
        let id = random_id(srv);
        let mut st = srv.repl.borrow_mut();
        st.replid = id;
        st.replid2 = "0".repeat(40);
        st.second_offset = -1;
    }
    let size = backlog_size(srv);
    let mut p = srv.propagator.borrow_mut();
    let offset = p.repl.offset;
    p.repl.reset(offset, size);
    drop(p);
    crate::propagate::refresh_tracking(srv);
}

/// Drops every attached replica (they reconnect and resync).
pub fn disconnect_replicas(srv: &Server) {
    let links = std::mem::take(&mut srv.propagator.borrow_mut().repl.replicas);
    for link in links {
        link.client.request_kill();
    }
}

/// REPLICAOF host port: follow a new master (our own history is offered for a
/// partial resync, as Redis's cached master).
pub fn set_master(srv: &Server, host: String, port: u16) {
    disconnect_replicas(srv);
    {
        let mut st = srv.repl.borrow_mut();
        st.master = Some((host, port));
        st.generation += 1;
        st.link.set(LinkState::Connect);
        st.link_down_since_ms.set(crate::clock::now_ms());
        st.stop.notify_waiters();
    }
    srv.propagator.borrow_mut().repl.proxying = true;
    set_expire_mode(srv, crate::db::ExpireMode::Hide);
    kill_master_clients(srv);
}

/// REPLICAOF NO ONE: become a master, keeping the data and the old history as
/// replid2 so our former sub-replicas (and siblings) can resync partially.
pub fn promote(srv: &Server) {
    {
        let mut st = srv.repl.borrow_mut();
        if st.master.take().is_none() {
            return;
        }
        st.generation += 1;
        st.link.set(LinkState::Connect);
        st.stop.notify_waiters();
    }
    kill_master_clients(srv);
    srv.propagator.borrow_mut().repl.proxying = false;
    set_expire_mode(srv, crate::db::ExpireMode::Delete);
    shift_replid(srv);
    // The stream must select again: our replicas' selected db is the old master's.
    srv.propagator.borrow_mut().reset_selected_db();
    disconnect_replicas(srv);
    tracing::info!("MASTER MODE enabled");
}

fn kill_master_clients(srv: &Server) {
    for c in srv.clients.borrow().values() {
        if c.link_kind.get() == LinkKind::Master {
            c.request_kill();
        }
    }
}

/// At start (after loading data): the saved replication id/offset, the `replicaof`
/// directive, and the task that follows whichever master is set.
pub fn start(srv: &Rc<Server>) {
    tokio::task::spawn_local(supervise(srv.clone()));
    saved::restore(srv);
    if let Some(cluster) = &srv.cluster {
        follow_cluster_role(srv, &cluster.borrow());
    }
    let target = srv.config.borrow().get("replicaof").map(str::to_string);
    if let Some(words) = target {
        let mut it = words.split_whitespace();
        if let (Some(host), Some(Ok(port))) = (it.next(), it.next().map(str::parse::<u16>)) {
            set_master(srv, host.to_string(), port);
        }
    }
}

/// Makes replication follow this node's role in the cluster state: replicate the
/// master it names (at the address the state knows), or be a master.
pub fn follow_cluster_role(srv: &Server, st: &crate::cluster::ClusterState) {
    let master = st
        .me()
        .master_id
        .as_deref()
        .and_then(|id| st.lookup(id.as_bytes()))
        .map(|i| (st.node(i).ip.clone(), st.node(i).port))
        .filter(|(ip, port)| !ip.is_empty() && *port != 0);
    let current = srv.repl.borrow().master.clone();
    match master {
        Some(target) if current.as_ref() != Some(&target) => set_master(srv, target.0, target.1),
        Some(_) => {}
        None if !st.me().is_master() => {}
        None => promote(srv),
    }
}

/// Periodic work: applies `repl-backlog-size`, drops replicas over the output
/// buffer's hard limit, and PINGs replicas every `repl-ping-replica-period` seconds
/// (10) so their link timeouts see a live master.
pub fn cron(srv: &Server) {
    limit_backlog_and_outputs(srv);
    let now = crate::clock::now_ms();
    let st = srv.repl.borrow();
    if now.saturating_sub(st.last_ping_ms.get()) < 10_000 {
        return;
    }
    st.last_ping_ms.set(now);
    let mut p = srv.propagator.borrow_mut();
    if !p.repl.replicas.is_empty() {
        p.emit_to_replicas(&[b"PING"]);
    }
}

/// Runs the replica side for each master set in turn (REPLICAOF restarts it).
async fn supervise(srv: Rc<Server>) {
    loop {
        let stop = srv.repl.borrow().stop.clone();
        let changed = stop.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let (generation, following) = {
            let st = srv.repl.borrow();
            (st.generation, st.master.is_some())
        };
        if following {
            replica::run(srv.clone(), generation).await;
        } else {
            tokio::select! {
                _ = &mut changed => {}
                _ = srv.shutdown.notified() => return,
            }
        }
        if srv.shutting_down.get() {
            return;
        }
    }
}

fn limit_backlog_and_outputs(srv: &Server) {
    let size = backlog_size(srv);
    let hard = srv.config.borrow().output_replica.hard as usize;
    let mut p = srv.propagator.borrow_mut();
    if let Some(b) = p.repl.backlog.as_mut().filter(|b| b.size() != size) {
        b.resize(size);
    }
    for r in &p.repl.replicas {
        if hard > 0 && r.out.borrow().len() > hard && !r.client.kill.get() {
            tracing::warn!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                r.client.id,
                r.client.addr
            );
            crate::server::Stats::incr(&srv.stats.client_output_limit_disconnections, 1);
            r.client.request_kill();
        }
    }
}
