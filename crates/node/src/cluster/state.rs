//! The cluster's view of itself (Redis's `clusterState`): known nodes with their flags,
//! epochs and slots, the slot owner table, open migrations, and the OK/FAIL state.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::bus::link::LinkHandle;
use super::slots::{SlotBitmap, SLOTS};

/// Position of a node in [`ClusterState::nodes`]; stable while the node is known.
pub type NodeIndex = usize;

/// Node flags, as CLUSTER NODES shows them (Redis's `CLUSTER_NODE_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeFlags(pub u16);

impl NodeFlags {
    pub const MYSELF: NodeFlags = NodeFlags(1);
    pub const MASTER: NodeFlags = NodeFlags(1 << 1);
    pub const REPLICA: NodeFlags = NodeFlags(1 << 2);
    pub const PFAIL: NodeFlags = NodeFlags(1 << 3);
    pub const FAIL: NodeFlags = NodeFlags(1 << 4);
    pub const HANDSHAKE: NodeFlags = NodeFlags(1 << 5);
    pub const NOADDR: NodeFlags = NodeFlags(1 << 6);
    /// Send a MEET (not a PING) when the bus connects to this node.
    pub const MEET: NodeFlags = NodeFlags(1 << 7);
    /// Local only: the master had replicas (or replaced one that had), so replicas
    /// may migrate to it when it is orphaned (Redis's CLUSTER_NODE_MIGRATE_TO).
    pub const MIGRATE_TO: NodeFlags = NodeFlags(1 << 8);
    pub const NOFAILOVER: NodeFlags = NodeFlags(1 << 9);

    /// Names in Redis's order (`redisNodeFlagsTable`); MEET is never shown.
    const NAMES: [(NodeFlags, &'static str); 8] = [
        (Self::MYSELF, "myself"),
        (Self::MASTER, "master"),
        (Self::REPLICA, "slave"),
        (Self::PFAIL, "fail?"),
        (Self::FAIL, "fail"),
        (Self::HANDSHAKE, "handshake"),
        (Self::NOADDR, "noaddr"),
        (Self::NOFAILOVER, "nofailover"),
    ];

    pub fn has(self, f: NodeFlags) -> bool {
        self.0 & f.0 != 0
    }

    pub fn set(&mut self, f: NodeFlags, on: bool) {
        if on {
            self.0 |= f.0;
        } else {
            self.0 &= !f.0;
        }
    }

    /// The comma-separated form (`myself,master`), `noflags` when none is set.
    pub fn render(self) -> String {
        let names: Vec<&str> = Self::NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            "noflags".to_string()
        } else {
            names.join(",")
        }
    }

    /// Parses the comma-separated form; unknown names are ignored, like Redis.
    pub fn parse(text: &str) -> NodeFlags {
        let mut flags = NodeFlags::default();
        for word in text.split(',') {
            let found = Self::NAMES.iter().find(|(_, n)| *n == word);
            if let Some((f, _)) = found {
                flags.set(*f, true);
            }
        }
        flags
    }
}

/// Whether the cluster bus has a connection to the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connected,
    Disconnected,
}

/// One node of the cluster (Redis's `clusterNode`).
#[derive(Clone, Debug)]
pub struct ClusterNode {
    /// 40 hex characters, unique in the cluster.
    pub id: String,
    /// The shard's id (Redis 7.2): random for a new node, a replica takes its master's,
    /// and a promoted replica keeps it, so a shard keeps its id across failovers.
    pub shard_id: String,
    pub ip: String,
    pub port: u16,
    pub bus_port: u16,
    pub hostname: String,
    pub flags: NodeFlags,
    /// The master's id, for a replica.
    pub master_id: Option<String>,
    /// When the last PING was sent / PONG received, Unix ms (0: none pending / never).
    pub ping_sent: u64,
    pub pong_received: u64,
    pub config_epoch: u64,
    pub link: LinkState,
    pub slots: Box<SlotBitmap>,
    /// Other masters reporting this node as failing: (reporter id, time in ms).
    pub fail_reports: Vec<(String, u64)>,
    /// When the node was created here / last sent us anything / was marked FAIL (ms).
    pub ctime: u64,
    pub data_received: u64,
    pub fail_time: u64,
    /// Replication offset the node announces (filled by replication).
    pub repl_offset: u64,
    /// Since when this master has been orphaned (no working replica; ms, 0: it is not).
    pub orphaned_time: u64,
    /// The bus link we opened to the node, and the one it opened to us.
    pub out_link: Option<LinkHandle>,
    pub in_link: Option<LinkHandle>,
}

impl ClusterNode {
    pub fn new(id: String, flags: NodeFlags) -> ClusterNode {
        ClusterNode {
            id,
            shard_id: random_node_id(),
            ip: String::new(),
            port: 0,
            bus_port: 0,
            hostname: String::new(),
            flags,
            master_id: None,
            ping_sent: 0,
            pong_received: 0,
            config_epoch: 0,
            link: LinkState::Disconnected,
            slots: Box::default(),
            fail_reports: Vec::new(),
            ctime: crate::clock::now_ms(),
            data_received: 0,
            fail_time: 0,
            repl_offset: 0,
            orphaned_time: 0,
            out_link: None,
            in_link: None,
        }
    }

    pub fn is_master(&self) -> bool {
        self.flags.has(NodeFlags::MASTER)
    }

    pub fn is_failing(&self) -> bool {
        self.flags.has(NodeFlags::FAIL)
    }

    pub fn is_pfailing(&self) -> bool {
        self.flags.has(NodeFlags::PFAIL)
    }
}

/// Message counters of the bus, per type name (CLUSTER INFO's stats lines).
#[derive(Clone, Debug, Default)]
pub struct BusStats {
    pub sent: BTreeMap<&'static str, u64>,
    pub received: BTreeMap<&'static str, u64>,
    pub links_buffer_limit_exceeded: u64,
}

/// Everything this node knows about the cluster.
pub struct ClusterState {
    /// Known nodes; a forgotten node leaves a `None` hole so indexes stay valid.
    pub nodes: Vec<Option<ClusterNode>>,
    pub myself: NodeIndex,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// Owner of each slot.
    pub slot_owner: Box<[Option<NodeIndex>]>,
    /// Slots this node is moving out (to the node) / in (from the node).
    pub migrating_to: BTreeMap<u16, NodeIndex>,
    pub importing_from: BTreeMap<u16, NodeIndex>,
    /// CLUSTER INFO's cluster_state (`ok` when true).
    pub ok: bool,
    /// Masters serving at least one slot.
    pub size: usize,
    pub stats: BusStats,
    /// Where nodes.conf lives (relative to the working directory, which is `dir`).
    pub config_path: PathBuf,
    /// The bus changed the configuration: save nodes.conf (Redis's TODO_SAVE_CONFIG).
    pub todo_save: bool,
    /// A node's PFAIL changed: recompute cluster_state (Redis's TODO_UPDATE_STATE).
    pub todo_update: bool,
    /// A master that was in a minority partition stays `fail` this long after it
    /// healed (ms; set by the bus from node_timeout), and when it last was.
    pub rejoin_delay: u64,
    pub among_minority_time: u64,
    /// Recently forgotten node ids and until when gossip may not re-add them (ms).
    pub forgotten: Vec<(String, u64)>,
    /// Elections, votes and manual failover (cluster/failover.rs).
    pub failover: super::failover::Election,
}

impl ClusterState {
    /// A cluster of one: a new master with no slots.
    pub fn new(config_path: PathBuf) -> ClusterState {
        let me = ClusterNode::new(
            random_node_id(),
            NodeFlags(NodeFlags::MYSELF.0 | NodeFlags::MASTER.0),
        );
        ClusterState {
            nodes: vec![Some(me)],
            myself: 0,
            current_epoch: 0,
            last_vote_epoch: 0,
            slot_owner: vec![None; SLOTS].into_boxed_slice(),
            migrating_to: BTreeMap::new(),
            importing_from: BTreeMap::new(),
            ok: false,
            size: 0,
            stats: BusStats::default(),
            config_path,
            todo_save: false,
            todo_update: false,
            rejoin_delay: 0,
            among_minority_time: 0,
            forgotten: Vec::new(),
            failover: Default::default(),
        }
    }

    pub fn me(&self) -> &ClusterNode {
        self.node(self.myself)
    }

    pub fn me_mut(&mut self) -> &mut ClusterNode {
        self.node_mut(self.myself)
    }

    pub fn node(&self, i: NodeIndex) -> &ClusterNode {
        self.nodes[i].as_ref().expect("live node index")
    }

    pub fn node_mut(&mut self, i: NodeIndex) -> &mut ClusterNode {
        self.nodes[i].as_mut().expect("live node index")
    }

    /// Known nodes with their indexes.
    pub fn iter(&self) -> impl Iterator<Item = (NodeIndex, &ClusterNode)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_ref().map(|n| (i, n)))
    }

    pub fn lookup(&self, id: &[u8]) -> Option<NodeIndex> {
        self.iter()
            .find(|(_, n)| n.id.as_bytes() == id)
            .map(|(i, _)| i)
    }

    pub fn add_node(&mut self, node: ClusterNode) -> NodeIndex {
        match self.nodes.iter().position(Option::is_none) {
            Some(i) => {
                self.nodes[i] = Some(node);
                i
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        }
    }

    /// Drops a node with its slots and open migrations (Redis's `clusterDelNode`).
    pub fn remove_node(&mut self, i: NodeIndex) {
        for slot in 0..SLOTS {
            if self.slot_owner[slot] == Some(i) {
                self.slot_owner[slot] = None;
            }
        }
        self.migrating_to.retain(|_, n| *n != i);
        self.importing_from.retain(|_, n| *n != i);
        let id = self.node(i).id.clone();
        for (_, n) in self.nodes.iter_mut().enumerate().filter(|(j, _)| *j != i) {
            if let Some(n) = n {
                n.fail_reports.retain(|(reporter, _)| *reporter != id);
            }
        }
        self.nodes[i] = None;
    }

    /// Gives `slot` to node `i` (Redis's `clusterAddSlot`); false if it has an owner.
    pub fn add_slot(&mut self, slot: usize, i: NodeIndex) -> bool {
        if self.slot_owner[slot].is_some() {
            return false;
        }
        self.node_mut(i).slots.set(slot, true);
        self.slot_owner[slot] = Some(i);
        true
    }

    /// Unassigns `slot` (Redis's `clusterDelSlot`); false if it had no owner.
    pub fn del_slot(&mut self, slot: usize) -> bool {
        let Some(owner) = self.slot_owner[slot].take() else {
            return false;
        };
        self.node_mut(owner).slots.set(slot, false);
        true
    }

    /// The master a node serves for: itself, or its master if that is known.
    pub fn master_of(&self, i: NodeIndex) -> Option<NodeIndex> {
        let node = self.node(i);
        if node.is_master() {
            return Some(i);
        }
        node.master_id
            .as_deref()
            .and_then(|m| self.lookup(m.as_bytes()))
    }

    /// Replicas of the master `i`.
    pub fn replicas_of(&self, i: NodeIndex) -> Vec<NodeIndex> {
        let id = &self.node(i).id;
        self.iter()
            .filter(|(_, n)| !n.is_master() && n.master_id.as_ref() == Some(id))
            .map(|(j, _)| j)
            .collect()
    }

    /// Replicas of the master `i` not flagged FAIL (Redis's clusterCountNonFailingSlaves).
    pub fn non_failing_replicas(&self, i: NodeIndex) -> usize {
        let replicas = self.replicas_of(i);
        replicas
            .into_iter()
            .filter(|&r| !self.node(r).is_failing())
            .count()
    }

    /// Makes myself a replica of master `n` (Redis's clusterSetMaster): a master stops
    /// its slot migrations, a running manual failover ends. The caller makes
    /// replication follow and saves the configuration.
    pub fn set_master(&mut self, n: NodeIndex) {
        let master_id = self.node(n).id.clone();
        let mine = self.me_mut();
        if mine.is_master() {
            mine.flags.set(NodeFlags::MASTER, false);
            mine.flags.set(NodeFlags::MIGRATE_TO, false);
            mine.flags.set(NodeFlags::REPLICA, true);
            self.migrating_to.clear();
            self.importing_from.clear();
        }
        self.me_mut().master_id = Some(master_id);
        let shard_id = self.node(n).shard_id.clone();
        self.update_shard_id(self.myself, &shard_id);
        self.node_mut(n).flags.set(NodeFlags::MIGRATE_TO, true);
        self.failover.manual = Default::default();
        self.todo_save = true;
    }

    /// Node `i` announced (or, for myself, joined) shard `shard_id` (Redis 7.2's
    /// updateShardId): record it, and when `i` is my master, follow it — ids diverge
    /// when the master's first PING arrives after the replica guessed it (or after an
    /// upgrade from a nodes.conf without shard ids).
    pub fn update_shard_id(&mut self, i: NodeIndex, shard_id: &str) {
        if self.node(i).shard_id != shard_id {
            self.node_mut(i).shard_id = shard_id.to_string();
            self.todo_save = true;
        }
        let my_master = self.me().master_id.as_deref() == Some(self.node(i).id.as_str());
        if i != self.myself && my_master && self.me().shard_id != shard_id {
            self.me_mut().shard_id = shard_id.to_string();
            self.todo_save = true;
        }
    }

    /// Recomputes cluster_state and cluster_size (Redis's `clusterUpdateState`).
    pub fn update_state(&mut self, require_full_coverage: bool) {
        let mut ok = true;
        if require_full_coverage {
            ok = self
                .slot_owner
                .iter()
                .all(|o| o.is_some_and(|i| !self.node(i).is_failing()));
        }
        let serving: Vec<&ClusterNode> = self
            .iter()
            .map(|(_, n)| n)
            .filter(|n| n.is_master() && !n.slots.is_empty())
            .collect();
        let size = serving.len();
        let reachable = serving
            .iter()
            .filter(|n| !n.is_failing() && !n.is_pfailing())
            .count();
        self.size = size;
        let now = crate::clock::now_ms();
        if reachable < size / 2 + 1 {
            ok = false;
            // (Redis also counts a node with no slots anywhere as "in a minority",
            // which only delays a new cluster's first OK; we do not.)
            if size > 0 {
                self.among_minority_time = now;
            }
        }
        let rejoining = now.saturating_sub(self.among_minority_time) < self.rejoin_delay;
        if ok && !self.ok && self.me().is_master() && rejoining {
            // Give the healed partition time to send us configuration updates.
            return;
        }
        self.ok = ok;
    }

    /// Greatest config epoch of all nodes (Redis's `clusterGetMaxEpoch`).
    pub fn max_epoch(&self) -> u64 {
        self.iter()
            .map(|(_, n)| n.config_epoch)
            .fold(self.current_epoch, u64::max)
    }
}

/// A fresh node id: 40 hex characters from the system's random source.
pub fn random_node_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 20];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // Fallback: mix the clock and pid; ids only need to be unique, not secret.
        let mut x = crate::clock::now_ms() ^ ((std::process::id() as u64) << 40);
        for b in bytes.iter_mut() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (x >> 56) as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Myself (a master) and master `a`, with their shard ids.
    fn two_masters() -> (ClusterState, NodeIndex) {
        let mut st = ClusterState::new(PathBuf::from("nodes.conf"));
        let a = st.add_node(ClusterNode::new("a".repeat(40), NodeFlags::MASTER));
        (st, a)
    }

    #[test]
    fn a_replica_joins_its_masters_shard() {
        let (mut st, a) = two_masters();
        let mine = st.me().shard_id.clone();
        assert_ne!(mine, st.node(a).shard_id);
        st.set_master(a);
        assert_eq!(st.me().shard_id, st.node(a).shard_id);
        // The master announces another id (it was unknown, or changed): I follow it.
        st.todo_save = false;
        st.update_shard_id(a, &"f".repeat(40));
        assert_eq!(st.me().shard_id, "f".repeat(40));
        assert!(st.todo_save);
    }

    #[test]
    fn another_nodes_shard_id_leaves_mine() {
        let (mut st, a) = two_masters();
        let mine = st.me().shard_id.clone();
        st.update_shard_id(a, &"f".repeat(40));
        assert_eq!(st.node(a).shard_id, "f".repeat(40));
        assert_eq!(st.me().shard_id, mine);
    }
}
