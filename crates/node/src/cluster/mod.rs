//! Redis Cluster support: hash slots, the cluster state with its nodes and nodes.conf,
//! and the redirections (MOVED/ASK/CROSSSLOT/CLUSTERDOWN) commands get in cluster mode.

pub mod bus;
pub mod failover;
pub mod manual_failover;
pub mod migration;
pub mod nodes_conf;
pub mod redirect;
pub mod slot_keys;
pub mod slots;
pub mod state;

use std::cell::RefCell;
use std::path::PathBuf;

pub use slots::{key_slot, SLOTS};
pub use state::{ClusterNode, ClusterState, LinkState, NodeFlags, NodeIndex};

use crate::config::Config;
use crate::server::Server;

/// The cluster state for a new server, when `cluster-enabled yes`.
pub fn from_config(config: &Config) -> Option<RefCell<ClusterState>> {
    if config.get("cluster-enabled") != Some("yes") {
        return None;
    }
    let file = config.get("cluster-config-file").unwrap_or("nodes.conf");
    Some(RefCell::new(ClusterState::new(PathBuf::from(file))))
}

pub fn enabled(srv: &Server) -> bool {
    srv.cluster.is_some()
}

/// At start (once the listening port is known): loads nodes.conf or creates it with a
/// new node id, and announces this node's current address.
pub fn load_at_start(srv: &Server) -> anyhow::Result<()> {
    let Some(cell) = &srv.cluster else {
        return Ok(());
    };
    let mut state = cell.borrow_mut();
    let path = state.config_path.clone();
    if nodes_conf::load(&mut state, &path)? {
        tracing::info!("Node configuration loaded, I'm still {}", state.me().id);
    } else {
        tracing::info!("No cluster configuration found, I'm {}", state.me().id);
    }
    update_my_address(srv, &mut state);
    state.update_state(require_full_coverage(srv));
    nodes_conf::save(&state)
}

/// Sets myself's ip/port/bus port from the `cluster-announce-*` settings, the
/// `cluster-port` and the listening port (the bus port defaults to port + 10000).
fn update_my_address(srv: &Server, state: &mut ClusterState) {
    let config = srv.config.borrow();
    let num = |name: &str| -> u16 { config.get(name).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let listen = srv.listen_port.get();
    let port = match num("cluster-announce-port") {
        0 => listen,
        p => p,
    };
    let bus_port = match (num("cluster-announce-bus-port"), num("cluster-port")) {
        (0, 0) => listen.wrapping_add(10000),
        (0, p) | (p, _) => p,
    };
    let ip = config.get("cluster-announce-ip").unwrap_or("").to_string();
    let me = state.me_mut();
    me.port = port;
    me.bus_port = bus_port;
    if !ip.is_empty() {
        me.ip = ip;
    }
}

/// After CONFIG SET: the announced address and the coverage rule may have changed.
/// Like Redis's cron, the state is only recomputed while it is `fail`: a change of
/// the rules does not take an OK cluster down by itself.
pub fn config_updated(srv: &Server) {
    let Some(cell) = &srv.cluster else {
        return;
    };
    let mut state = cell.borrow_mut();
    let before = nodes_conf::node_line(&state, state.myself);
    update_my_address(srv, &mut state);
    let was_ok = state.ok;
    if !was_ok {
        state.update_state(require_full_coverage(srv));
    }
    if before != nodes_conf::node_line(&state, state.myself) || was_ok != state.ok {
        config_changed(srv, &mut state);
    }
}

pub fn require_full_coverage(srv: &Server) -> bool {
    srv.config.borrow().get("cluster-require-full-coverage") != Some("no")
}

pub fn allow_pubsubshard_when_down(srv: &Server) -> bool {
    srv.config
        .borrow()
        .get("cluster-allow-pubsubshard-when-down")
        != Some("no")
}

pub fn allow_reads_when_down(srv: &Server) -> bool {
    srv.config.borrow().get("cluster-allow-reads-when-down") == Some("yes")
}

/// After a change of the cluster configuration: recomputes the state and saves
/// nodes.conf (Redis's CLUSTER_TODO_UPDATE_STATE | CLUSTER_TODO_SAVE_CONFIG).
pub fn config_changed(srv: &Server, state: &mut ClusterState) {
    state.update_state(require_full_coverage(srv));
    if let Err(e) = nodes_conf::save(state) {
        tracing::warn!("Could not save the cluster configuration: {e:#}");
    }
}

/// [`config_changed`] without fsync (Redis's SAVE_CONFIG without FSYNC_CONFIG).
pub fn config_changed_unsynced(srv: &Server, state: &mut ClusterState) {
    state.update_state(require_full_coverage(srv));
    if let Err(e) = nodes_conf::save_unsynced(state) {
        tracing::warn!("Could not save the cluster configuration: {e:#}");
    }
}
