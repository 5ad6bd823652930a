//! Failure detection (Redis's clusterCron and failure reports): links and heartbeats,
//! PFAIL after node_timeout without PONG, FAIL on a majority of masters, FAIL clearing.

use super::frame::{Body, Type};
use super::gossip::send_ping;
use super::{broadcast, encode, free_link, node_timeout};
use crate::cluster::state::{ClusterState, NodeFlags, NodeIndex};
use crate::server::Server;

/// Failure reports stay valid for node_timeout * 2 (CLUSTER_FAIL_REPORT_VALIDITY_MULT).
const REPORT_VALIDITY_MULT: u64 = 2;
/// A master with slots has FAIL cleared after node_timeout * 2 without a failover.
const FAIL_UNDO_TIME_MULT: u64 = 2;
/// Bounds of the rejoin delay of a master back from a minority partition.
const MIN_REJOIN_DELAY: u64 = 500;
const MAX_REJOIN_DELAY: u64 = 5000;
/// Forgotten nodes are not re-added by gossip for a minute (Redis's blacklist TTL).
const FORGET_TTL_MS: u64 = 60_000;

impl ClusterState {
    /// True when I am a replica and my master is marked FAIL (the failover hook).
    pub fn my_master_failed(&self) -> bool {
        let me = self.me();
        if me.is_master() {
            return false;
        }
        self.master_of(self.myself)
            .is_some_and(|m| m != self.myself && self.node(m).is_failing())
    }

    /// Remembers a forgotten node so gossip does not bring it back at once.
    pub fn blacklist(&mut self, id: &str) {
        let until = crate::clock::now_ms() + FORGET_TTL_MS;
        self.forgotten.retain(|(other, _)| other != id);
        self.forgotten.push((id.to_string(), until));
    }
}

/// One bus cron tick (every 100 ms).
pub fn cron_tick(srv: &std::rc::Rc<Server>, tick: u64) {
    let Some(cell) = &srv.cluster else {
        return;
    };
    let timeout = node_timeout(srv);
    let now = crate::clock::now_ms();
    let mut st = cell.borrow_mut();
    st.rejoin_delay = timeout.clamp(MIN_REJOIN_DELAY, MAX_REJOIN_DELAY);
    st.forgotten.retain(|(_, until)| *until > now);
    expire_handshakes(&mut st, timeout, now);
    connect_links(srv, &mut st, timeout, now);
    if tick.is_multiple_of(10) {
        ping_oldest_of_random(srv, &mut st);
    }
    check_nodes(srv, &mut st, timeout, now);
    crate::cluster::failover::cron(srv, &mut st, now);
    crate::cluster::migration::cron(srv, &mut st, now);
    super::finish(srv, &mut st);
}

/// Nodes stuck in handshake longer than the node timeout (at least 1 s) are dropped.
fn expire_handshakes(st: &mut ClusterState, timeout: u64, now: u64) {
    let limit = timeout.max(1000);
    let stale: Vec<NodeIndex> = st
        .iter()
        .filter(|(_, n)| n.flags.has(NodeFlags::HANDSHAKE) && now.saturating_sub(n.ctime) > limit)
        .map(|(i, _)| i)
        .collect();
    for i in stale {
        tracing::debug!(
            "Handshake with {}:{} timed out",
            st.node(i).ip,
            st.node(i).port
        );
        st.remove_node(i);
    }
}

/// Opens an outbound link to every node with an address that has none. A node we
/// cannot connect to counts as pinged, so failure detection works.
fn connect_links(srv: &std::rc::Rc<Server>, st: &mut ClusterState, timeout: u64, now: u64) {
    let me = st.myself;
    for (i, slot) in st.nodes.iter_mut().enumerate() {
        let Some(node) = slot else {
            continue;
        };
        if i == me || node.out_link.is_some() || node.flags.has(NodeFlags::NOADDR) {
            continue;
        }
        if node.ip.is_empty() || node.bus_port == 0 {
            continue;
        }
        if node.ping_sent == 0 {
            node.ping_sent = now;
        }
        node.out_link = Some(super::link::connect(srv, &node.ip, node.bus_port, timeout));
    }
}

/// Once a second: of 5 random linked nodes with no ping pending, ping the one whose
/// PONG is the oldest.
fn ping_oldest_of_random(srv: &Server, st: &mut ClusterState) {
    let candidates: Vec<NodeIndex> = st
        .iter()
        .filter(|(i, n)| {
            *i != st.myself
                && n.ping_sent == 0
                && n.out_link.as_ref().is_some_and(|l| l.connected)
                && !n.flags.has(NodeFlags::HANDSHAKE)
        })
        .map(|(i, _)| i)
        .collect();
    let best = (0..5)
        .filter(|_| !candidates.is_empty())
        .map(|_| candidates[(srv.random() % candidates.len() as u64) as usize])
        .min_by_key(|&i| st.node(i).pong_received);
    if let Some(i) = best {
        send_ping(srv, st, i);
    }
}

/// Per node: reconnect links without answers, ping nodes not pinged for half the
/// timeout, and flag PFAIL past the timeout.
fn check_nodes(srv: &Server, st: &mut ClusterState, timeout: u64, now: u64) {
    let half = timeout / 2;
    let others: Vec<NodeIndex> = st
        .iter()
        .filter(|(i, n)| *i != st.myself && !n.flags.has(NodeFlags::HANDSHAKE | NodeFlags::NOADDR))
        .map(|(i, _)| i)
        .collect();
    for i in others {
        let n = st.node(i);
        let connected = n.out_link.as_ref().is_some_and(|l| l.connected);
        let waited = now.saturating_sub(n.ping_sent);
        if connected
            && n.ping_sent != 0
            && waited > half
            && now.saturating_sub(n.data_received) > half
        {
            // Maybe the connection, not the node, has a problem: reconnect.
            free_link(st, i);
        } else if connected && n.ping_sent == 0 && now.saturating_sub(n.pong_received) > half {
            send_ping(srv, st, i);
            continue;
        }
        let n = st.node(i);
        // Any data from the node proves it alive, even if a PONG is late.
        let delay = waited.min(now.saturating_sub(n.data_received));
        if n.ping_sent != 0 && delay > timeout && !n.is_pfailing() && !n.is_failing() {
            tracing::debug!("*** NODE {} possibly failing", n.id);
            st.node_mut(i).flags.set(NodeFlags::PFAIL, true);
            st.todo_update = true;
        }
    }
    let pfailing: Vec<NodeIndex> = st
        .iter()
        .filter(|(_, n)| n.is_pfailing())
        .map(|(i, _)| i)
        .collect();
    for i in pfailing {
        mark_failing_if_needed(st, i, timeout, now);
    }
}

impl std::ops::BitOr for NodeFlags {
    type Output = NodeFlags;
    fn bitor(self, other: NodeFlags) -> NodeFlags {
        NodeFlags(self.0 | other.0)
    }
}

/// A master's gossip about node `n`: adds or removes its failure report.
pub fn note_report(
    st: &mut ClusterState,
    n: NodeIndex,
    reporter: NodeIndex,
    failing: bool,
    now: u64,
) {
    let reporter_id = st.node(reporter).id.clone();
    let node = st.node_mut(n);
    node.fail_reports.retain(|(id, _)| *id != reporter_id);
    if failing {
        node.fail_reports.push((reporter_id, now));
    }
}

/// Redis's markNodeAsFailingIfNeeded: PFAIL becomes FAIL when, counting myself if I
/// am a master, a majority of the masters serving slots reported it recently.
fn mark_failing_if_needed(st: &mut ClusterState, n: NodeIndex, timeout: u64, now: u64) {
    let validity = timeout * REPORT_VALIDITY_MULT;
    let quorum = st.size / 2 + 1;
    let node = st.node_mut(n);
    node.fail_reports
        .retain(|(_, at)| now.saturating_sub(*at) <= validity);
    let mut failures = node.fail_reports.len();
    if st.me().is_master() {
        failures += 1;
    }
    if failures < quorum {
        return;
    }
    tracing::info!(
        "Marking node {} as failing (quorum reached).",
        st.node(n).id
    );
    set_fail(st, n, now);
    let id = st.node(n).id.clone();
    let bytes = encode(st, Type::Fail, Body::Fail(id));
    broadcast(st, Type::Fail, &bytes);
}

fn set_fail(st: &mut ClusterState, n: NodeIndex, now: u64) {
    let node = st.node_mut(n);
    node.flags.set(NodeFlags::PFAIL, false);
    node.flags.set(NodeFlags::FAIL, true);
    node.fail_time = now;
    st.todo_save = true;
}

/// A FAIL message: the node fails for everyone.
pub fn receive_fail(st: &mut ClusterState, id: &str) {
    let Some(n) = st.lookup(id.as_bytes()) else {
        return;
    };
    if n == st.myself || st.node(n).is_failing() {
        return;
    }
    tracing::info!("FAIL message received about {id}");
    set_fail(st, n, crate::clock::now_ms());
}

/// Redis's clearNodeFailureIfNeeded, on a PONG from a FAIL node: replicas and
/// masters without slots are back at once; a master with slots only if nobody took
/// its slots over for node_timeout * 2.
pub fn clear_failure_if_needed(st: &mut ClusterState, n: NodeIndex, now: u64, timeout: u64) {
    let node = st.node(n);
    let undo = timeout * FAIL_UNDO_TIME_MULT;
    let clear =
        !node.is_master() || node.slots.is_empty() || now.saturating_sub(node.fail_time) > undo;
    if clear {
        tracing::info!("Clear FAIL state for node {}: is reachable again.", node.id);
        st.node_mut(n).flags.set(NodeFlags::FAIL, false);
        st.todo_save = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::ClusterNode;

    /// Myself plus two masters, each serving a third of the slots.
    fn three_masters() -> ClusterState {
        let mut st = ClusterState::new("unused.conf".into());
        for id in ["b", "c"] {
            st.add_node(ClusterNode::new(id.repeat(40), NodeFlags::MASTER));
        }
        for slot in 0..crate::cluster::SLOTS {
            st.add_slot(slot, slot % 3);
        }
        st.update_state(true);
        st
    }

    #[test]
    fn fail_needs_a_majority_of_recent_reports() {
        let mut st = three_masters();
        assert!(st.ok);
        st.node_mut(1).flags.set(NodeFlags::PFAIL, true);
        // Myself alone is 1 of the 2 needed.
        mark_failing_if_needed(&mut st, 1, 1000, 10_000);
        assert!(!st.node(1).is_failing());
        // A report too old does not count.
        note_report(&mut st, 1, 2, true, 7_000);
        mark_failing_if_needed(&mut st, 1, 1000, 10_000);
        assert!(!st.node(1).is_failing());
        assert!(st.node(1).fail_reports.is_empty());
        note_report(&mut st, 1, 2, true, 9_500);
        mark_failing_if_needed(&mut st, 1, 1000, 10_000);
        assert!(st.node(1).is_failing() && !st.node(1).is_pfailing());
        st.update_state(true);
        assert!(!st.ok);
        // A master with slots is cleared only after node_timeout * 2.
        let failed_at = st.node(1).fail_time;
        clear_failure_if_needed(&mut st, 1, failed_at + 1000, 1000);
        assert!(st.node(1).is_failing());
        clear_failure_if_needed(&mut st, 1, failed_at + 2001, 1000);
        assert!(!st.node(1).is_failing());
    }

    #[test]
    fn a_good_report_withdraws_the_bad_one() {
        let mut st = three_masters();
        note_report(&mut st, 1, 2, true, 100);
        assert_eq!(st.node(1).fail_reports.len(), 1);
        note_report(&mut st, 1, 2, false, 200);
        assert!(st.node(1).fail_reports.is_empty());
    }

    #[test]
    fn replica_sees_its_master_failing() {
        let mut st = three_masters();
        assert!(!st.my_master_failed());
        let master = st.node(1).id.clone();
        let me = st.me_mut();
        me.flags.set(NodeFlags::MASTER, false);
        me.flags.set(NodeFlags::REPLICA, true);
        me.master_id = Some(master);
        assert!(!st.my_master_failed());
        st.node_mut(1).flags.set(NodeFlags::FAIL, true);
        assert!(st.my_master_failed());
    }
}
