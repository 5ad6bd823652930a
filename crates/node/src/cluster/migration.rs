//! Replica migration (Redis's orphaned-master check in clusterCron and
//! clusterHandleSlaveMigration): a spare replica moves to a master left without one.

use super::state::{ClusterState, NodeFlags, NodeIndex};
use crate::server::Server;

/// A master must stay orphaned this long before a replica migrates to it, so the
/// replicas of a failed-over master have time to announce their new master
/// (CLUSTER_SLAVE_MIGRATION_DELAY).
const MIGRATION_DELAY_MS: u64 = 5000;

/// The census of one cron tick, taken by a replica.
struct Census {
    /// Working masters serving slots, that had replicas, with none left working.
    orphaned: usize,
    /// The most working replicas any working master has, and how many mine has.
    max_replicas: usize,
    my_master_replicas: usize,
}

/// Every bus cron tick: remember which masters had replicas, and on a replica,
/// migrate to an orphaned master when I am the chosen spare.
pub fn cron(srv: &Server, st: &mut ClusterState, now: u64) {
    mark_masters_with_replicas(st);
    if st.me().is_master() {
        return;
    }
    let census = take_census(st);
    let allowed = srv.config.borrow().get("cluster-allow-replica-migration") != Some("no");
    // Migrating only makes sense from a master with at least two working replicas.
    if census.orphaned > 0
        && census.max_replicas >= 2
        && census.my_master_replicas == census.max_replicas
        && allowed
    {
        let barrier = srv
            .config
            .borrow()
            .get("cluster-migration-barrier")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        if let Some(target) = migration_target(st, census.max_replicas, barrier, now) {
            tracing::info!("Migrating to orphaned master {}", st.node(target).id);
            st.set_master(target);
            crate::repl::follow_cluster_role(srv, st);
        }
    }
}

/// A master with a replica in the table gets MIGRATE_TO (Redis sets it whenever a
/// replica is attached); the flag stays when the replica fails or is forgotten.
fn mark_masters_with_replicas(st: &mut ClusterState) {
    let masters: Vec<NodeIndex> = st
        .iter()
        .filter(|(_, n)| !n.is_master())
        .filter_map(|(_, n)| n.master_id.as_deref())
        .filter_map(|id| st.lookup(id.as_bytes()))
        .collect();
    for m in masters {
        if st.node(m).is_master() {
            st.node_mut(m).flags.set(NodeFlags::MIGRATE_TO, true);
        }
    }
}

fn take_census(st: &ClusterState) -> Census {
    let mut census = Census {
        orphaned: 0,
        max_replicas: 0,
        my_master_replicas: 0,
    };
    let my_master = st.master_of(st.myself);
    let skip = NodeFlags::MYSELF | NodeFlags::NOADDR | NodeFlags::HANDSHAKE;
    for (i, n) in st.iter() {
        if n.flags.has(skip) || !n.is_master() || n.is_failing() {
            continue;
        }
        let ok = st.non_failing_replicas(i);
        if ok == 0 && !n.slots.is_empty() && n.flags.has(NodeFlags::MIGRATE_TO) {
            census.orphaned += 1;
        }
        census.max_replicas = census.max_replicas.max(ok);
        if my_master == Some(i) {
            census.my_master_replicas = ok;
        }
    }
    census
}

/// Redis's clusterHandleSlaveMigration: when the cluster is OK, my master keeps more
/// than `barrier` working replicas without me, and I have the smallest id among the
/// replicas of the masters with the most working replicas, I become a replica of the
/// first orphaned master, once it has been orphaned for [`MIGRATION_DELAY_MS`]: that
/// master is returned. Keeps every master's orphaned_time.
fn migration_target(
    st: &mut ClusterState,
    max: usize,
    barrier: usize,
    now: u64,
) -> Option<NodeIndex> {
    if !st.ok {
        return None;
    }
    let my_master = st.master_of(st.myself).filter(|&m| m != st.myself)?;
    let working = st
        .replicas_of(my_master)
        .into_iter()
        .filter(|&r| !st.node(r).is_failing() && !st.node(r).is_pfailing())
        .count();
    if working <= barrier {
        return None;
    }
    let mut target = None;
    let mut candidate = st.me().id.clone();
    let all: Vec<NodeIndex> = st.iter().map(|(i, _)| i).collect();
    for i in all {
        let n = st.node(i);
        let ok = if n.is_master() {
            st.non_failing_replicas(i)
        } else {
            0
        };
        let orphaned =
            n.is_master() && !n.is_failing() && n.flags.has(NodeFlags::MIGRATE_TO) && ok == 0;
        if orphaned {
            if target.is_none() && !n.slots.is_empty() {
                target = Some(i);
            }
            if n.orphaned_time == 0 {
                st.node_mut(i).orphaned_time = now;
            }
        } else {
            st.node_mut(i).orphaned_time = 0;
        }
        if st.node(i).is_master() && ok == max {
            for r in st.replicas_of(i) {
                if st.node(r).id < candidate {
                    candidate = st.node(r).id.clone();
                }
            }
        }
    }
    let target = target?;
    let waited = now.saturating_sub(st.node(target).orphaned_time);
    (candidate == st.me().id && waited > MIGRATION_DELAY_MS).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::ClusterNode;

    /// Myself ("r1") and "r2" replicas of master "a" (slots 0..100); "b" serves
    /// slots 100..200 and had replica "rb", which failed.
    fn orphan_setup() -> ClusterState {
        let mut st = ClusterState::new("unused.conf".into());
        st.me_mut().id = "r1".repeat(20);
        let a = st.add_node(ClusterNode::new("a".repeat(40), NodeFlags::MASTER));
        let b = st.add_node(ClusterNode::new("b".repeat(40), NodeFlags::MASTER));
        for (id, master) in [("r2", "a"), ("rb", "b")] {
            let mut r = ClusterNode::new(id.repeat(20), NodeFlags::REPLICA);
            r.master_id = Some(master.repeat(40));
            st.add_node(r);
        }
        let me = st.me_mut();
        me.flags = NodeFlags::MYSELF | NodeFlags::REPLICA;
        me.master_id = Some("a".repeat(40));
        for slot in 0..200 {
            st.add_slot(slot, if slot < 100 { a } else { b });
        }
        st.update_state(false);
        mark_masters_with_replicas(&mut st);
        st
    }

    #[test]
    fn census_sees_the_orphan_only_once_its_replica_fails() {
        let mut st = orphan_setup();
        let census = take_census(&st);
        assert_eq!((census.orphaned, census.max_replicas), (0, 2));
        let rb = st.lookup("rb".repeat(20).as_bytes()).unwrap();
        st.node_mut(rb).flags.set(NodeFlags::FAIL, true);
        let census = take_census(&st);
        assert_eq!(census.orphaned, 1);
        assert_eq!((census.max_replicas, census.my_master_replicas), (2, 2));
    }

    #[test]
    fn the_smallest_id_migrates_after_the_delay() {
        let mut st = orphan_setup();
        let b = st.lookup("b".repeat(40).as_bytes()).unwrap();
        let rb = st.lookup("rb".repeat(20).as_bytes()).unwrap();
        st.node_mut(rb).flags.set(NodeFlags::FAIL, true);
        // First seen orphaned at 1000: nobody moves before the delay.
        assert_eq!(migration_target(&mut st, 2, 1, 1000), None);
        assert_eq!(st.node(b).orphaned_time, 1000);
        assert_eq!(migration_target(&mut st, 2, 1, 6000), None);
        assert_eq!(migration_target(&mut st, 2, 1, 6001), Some(b));
        // The barrier: my master must keep more than 2 working replicas.
        assert_eq!(migration_target(&mut st, 2, 2, 7000), None);
        // r2 has the smaller id when it sorts before me.
        st.me_mut().id = "s1".repeat(20);
        assert_eq!(migration_target(&mut st, 2, 1, 7000), None);
        // Back to a working replica: no longer orphaned.
        st.node_mut(rb).flags.set(NodeFlags::FAIL, false);
        st.me_mut().id = "r1".repeat(20);
        assert_eq!(migration_target(&mut st, 2, 1, 8000), None);
        assert_eq!(st.node(b).orphaned_time, 0);
    }
}
