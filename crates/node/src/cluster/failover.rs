//! Replica failover (Redis's clusterHandleSlaveFailover / clusterSendFailoverAuthIfNeeded):
//! elections over FAILOVER_AUTH_REQUEST/ACK, votes by masters, promotion of the winner.

use std::rc::Rc;

use super::bus::frame::{Header, Type};
use super::bus::{self, node_timeout};
use super::state::{ClusterState, NodeFlags, NodeIndex};
use crate::server::Server;

/// Payload kinds of FAILOVER_AUTH_REQUEST / _ACK (docs/CLUSTER_BUS.md).
pub const PAYLOAD_AUTH: u8 = 0;
/// Replica → master: start a manual failover (Redis's MFSTART).
pub const PAYLOAD_MFSTART: u8 = 1;
/// Master → replica: writes are paused; the header's offset is final (PAUSED flag).
pub const PAYLOAD_MF_PAUSED: u8 = 2;
/// AUTH request flag: vote even though the master is not FAIL (manual failover).
const FLAG_FORCE_ACK: u8 = 1;

/// Election delay. Redis waits 500 ms + random(0..500) + rank × 1000 so the FAIL
/// message reaches every master first; FAIL is broadcast the moment it is reached,
/// so we keep 50 ms + random(0..50) + rank × 250, which keeps failover well under
/// 1.5 s after FAIL at node_timeout 1000 while still ordering replicas by offset.
const DELAY_FIXED_MS: u64 = 50;
const DELAY_RANDOM_MS: u64 = 50;
const DELAY_PER_RANK_MS: u64 = 250;

/// The election and vote state (Redis's failover_auth_* and voted_time fields).
#[derive(Clone, Debug, Default)]
pub struct Election {
    /// When the election may start / started (ms; 0: none scheduled).
    pub auth_time: u64,
    pub auth_sent: bool,
    pub auth_rank: usize,
    pub auth_epoch: u64,
    pub auth_count: usize,
    /// The auth_time a wake-up timer is armed for.
    pub timer_for: u64,
    /// Per master id: when I last voted for one of its replicas (ms).
    pub voted: Vec<(String, u64)>,
    /// Last time the "can't failover" reason was logged, and which reason.
    pub cant_log_time: u64,
    pub cant_reason: u8,
    pub manual: super::manual_failover::Manual,
}

/// This node's replication offset (master: produced; replica: applied).
pub fn my_offset(srv: &Server) -> u64 {
    srv.propagator.borrow().repl.offset
}

fn config_u64(srv: &Server, name: &str, default: u64) -> u64 {
    let config = srv.config.borrow();
    config
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every bus cron tick: announce my offset, make replication follow my cluster role,
/// run the manual failover (the election runs in [`handle`] after the tick).
pub fn cron(srv: &Rc<Server>, st: &mut ClusterState, now: u64) {
    st.me_mut().repl_offset = my_offset(srv);
    super::manual_failover::cron(srv, st, now);
    crate::repl::follow_cluster_role(srv, st);
    handle(srv, st);
    arm_election_timer(srv, st, now);
}

/// An election due before the next tick starts on time, not up to 100 ms late.
fn arm_election_timer(srv: &Rc<Server>, st: &mut ClusterState, now: u64) {
    let e = &mut st.failover;
    if e.auth_sent || e.auth_time <= now || e.timer_for == e.auth_time {
        return;
    }
    e.timer_for = e.auth_time;
    let wait = e.auth_time - now;
    let srv = srv.clone();
    tokio::task::spawn_local(async move {
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        if let Some(Ok(mut st)) = srv.cluster.as_ref().map(|c| c.try_borrow_mut()) {
            handle(&srv, &mut st);
        }
    });
}

/// After every bus event and cron tick (Redis's CLUSTER_TODO_HANDLE_FAILOVER): moves
/// the election along as soon as FAIL, a vote or the end of the delay allows it.
pub fn handle(srv: &Server, st: &mut ClusterState) {
    let me = st.me();
    let active = !me.is_master() && (st.my_master_failed() || st.failover.manual.can_start());
    if active {
        handle_replica_failover(srv, st, crate::clock::now_ms());
    }
}

/// Why a replica does not fail over, logged at most every 10 s per reason.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CantFailover {
    DataAge = 1,
    WaitingDelay,
    Expired,
    WaitingVotes,
}

fn log_cant(st: &mut ClusterState, reason: CantFailover, now: u64) {
    let e = &mut st.failover;
    if e.cant_reason == reason as u8 && now.saturating_sub(e.cant_log_time) < 10_000 {
        return;
    }
    e.cant_reason = reason as u8;
    e.cant_log_time = now;
    let msg = match reason {
        CantFailover::DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
        CantFailover::WaitingDelay => "Waiting the delay before I can start a new failover.",
        CantFailover::Expired => "Failover attempt expired.",
        CantFailover::WaitingVotes => "Waiting for votes, but majority still not reached.",
    };
    tracing::info!("Currently unable to failover: {msg}");
}

/// My rank among the replicas of my master: how many have a better offset.
fn my_rank(st: &ClusterState, master: NodeIndex) -> usize {
    let mine = st.me().repl_offset;
    st.replicas_of(master)
        .into_iter()
        .filter(|&i| i != st.myself)
        .filter(|&i| !st.node(i).flags.has(NodeFlags::NOFAILOVER))
        .filter(|&i| st.node(i).repl_offset > mine)
        .count()
}

/// How long ago my data was last current, Redis's way (minus node_timeout).
fn data_age(srv: &Server, timeout: u64, now: u64) -> u64 {
    let repl = srv.repl.borrow();
    let since = if repl.link.get() == crate::repl::LinkState::Connected {
        repl.master_last_io_ms.get()
    } else {
        repl.link_down_since_ms.get()
    };
    let age = now.saturating_sub(since);
    if age > timeout {
        age - timeout
    } else {
        age
    }
}

/// Redis's clusterHandleSlaveFailover, run every cron tick.
fn handle_replica_failover(srv: &Server, st: &mut ClusterState, now: u64) {
    let timeout = node_timeout(srv);
    let auth_timeout = (timeout * 2).max(2000);
    let auth_retry = auth_timeout * 2;
    let manual = st.failover.manual.can_start();
    let Some(master) = st.master_of(st.myself).filter(|&m| m != st.myself) else {
        return;
    };
    let no_failover = srv.config.borrow().get("cluster-replica-no-failover") == Some("yes");
    let priority = config_u64(srv, "replica-priority", 100);
    let master_ok = !st.node(master).is_failing();
    // A manual failover runs even with the master up or failover disabled.
    let automatic_ok = !master_ok && !no_failover && priority != 0;
    if !(manual || automatic_ok) || st.node(master).slots.is_empty() {
        st.failover.cant_reason = 0;
        return;
    }
    let factor = config_u64(srv, "cluster-replica-validity-factor", 10);
    let ping_period = config_u64(srv, "repl-ping-replica-period", 10) * 1000;
    if !manual && factor > 0 && data_age(srv, timeout, now) > ping_period + timeout * factor {
        log_cant(st, CantFailover::DataAge, now);
        return;
    }
    let e = &mut st.failover;
    if now.saturating_sub(e.auth_time) > auth_retry {
        schedule_election(srv, st, master, manual, now);
        return;
    }
    if !st.failover.auth_sent && !manual {
        let rank = my_rank(st, master);
        let e = &mut st.failover;
        if rank > e.auth_rank {
            let added = (rank - e.auth_rank) as u64 * DELAY_PER_RANK_MS;
            e.auth_time += added;
            e.auth_rank = rank;
            tracing::info!("Replica rank updated to #{rank}, added {added} milliseconds of delay.");
        }
    }
    if now < st.failover.auth_time {
        log_cant(st, CantFailover::WaitingDelay, now);
        return;
    }
    if now - st.failover.auth_time > auth_timeout {
        log_cant(st, CantFailover::Expired, now);
        return;
    }
    if !st.failover.auth_sent {
        request_votes(srv, st, manual);
        return;
    }
    let quorum = st.size / 2 + 1;
    if st.failover.auth_count < quorum {
        log_cant(st, CantFailover::WaitingVotes, now);
        return;
    }
    tracing::info!("Failover election won - I'm the new master.");
    let epoch = st.failover.auth_epoch;
    if st.me().config_epoch < epoch {
        st.me_mut().config_epoch = epoch;
        tracing::info!("configEpoch set to {epoch} after successful failover");
    }
    replace_my_master(srv, st);
}

/// Schedules a new election after the delay (none for a manual failover).
fn schedule_election(
    srv: &Server,
    st: &mut ClusterState,
    master: NodeIndex,
    manual: bool,
    now: u64,
) {
    let rank = my_rank(st, master);
    let e = &mut st.failover;
    e.auth_sent = false;
    e.auth_count = 0;
    e.auth_rank = rank;
    e.auth_time = if manual {
        now
    } else {
        now + DELAY_FIXED_MS + srv.random() % DELAY_RANDOM_MS + rank as u64 * DELAY_PER_RANK_MS
    };
    tracing::info!(
        "Start of election delayed for {} milliseconds (rank #{rank}, offset {}).",
        e.auth_time - now,
        st.me().repl_offset
    );
    // Tell the other replicas our offset at once, so their ranks are right.
    let me = st.myself;
    let pong = bus::gossip::ping_frame(srv, st, Type::Pong, None).into();
    for r in st.replicas_of(master).into_iter().filter(|&r| r != me) {
        bus::send_to(st, r, Type::Pong, &pong);
    }
}

/// Starts the election: a new epoch, and a vote request to every node.
fn request_votes(srv: &Server, st: &mut ClusterState, manual: bool) {
    st.current_epoch += 1;
    st.me_mut().repl_offset = my_offset(srv);
    let e = &mut st.failover;
    e.auth_epoch = st.current_epoch;
    e.auth_sent = true;
    tracing::info!("Starting a failover election for epoch {}.", e.auth_epoch);
    let flags = if manual { FLAG_FORCE_ACK } else { 0 };
    bus::send_failover(
        st,
        None,
        Type::FailoverAuthRequest,
        vec![PAYLOAD_AUTH, flags],
    );
    st.todo_save = true;
}

/// Redis's clusterFailoverReplaceYourMaster: I become a master with my master's slots,
/// replication stops following it, and everyone hears about it at once.
pub fn replace_my_master(srv: &Server, st: &mut ClusterState) {
    let me = st.myself;
    let Some(old) = st.master_of(me).filter(|&m| m != me) else {
        return;
    };
    let mine = st.me_mut();
    mine.flags.set(NodeFlags::REPLICA, false);
    mine.flags.set(NodeFlags::MASTER, true);
    mine.master_id = None;
    for slot in 0..super::SLOTS {
        if st.slot_owner[slot] == Some(old) {
            st.del_slot(slot);
            st.add_slot(slot, me);
        }
    }
    crate::repl::follow_cluster_role(srv, st);
    st.failover = Election {
        voted: std::mem::take(&mut st.failover.voted),
        ..Election::default()
    };
    super::config_changed(srv, st);
    let pong = bus::gossip::ping_frame(srv, st, Type::Pong, None).into();
    bus::broadcast(st, Type::Pong, &pong);
}

/// A FAILOVER_AUTH_REQUEST or _ACK from a known node (called by the bus).
pub fn receive(
    srv: &Server,
    st: &mut ClusterState,
    s: NodeIndex,
    kind: Type,
    h: &Header,
    payload: &[u8],
) {
    if h.current_epoch > st.current_epoch {
        st.current_epoch = h.current_epoch;
        st.todo_save = true;
    }
    st.node_mut(s).repl_offset = h.repl_offset;
    let now = crate::clock::now_ms();
    match (kind, payload.first().copied()) {
        (Type::FailoverAuthRequest, Some(PAYLOAD_AUTH)) => {
            let force = payload.get(1).is_some_and(|f| f & FLAG_FORCE_ACK != 0);
            vote_if_needed(srv, st, s, h, force, now);
        }
        (Type::FailoverAuthAck, Some(PAYLOAD_AUTH)) => count_vote(st, s, h),
        (Type::FailoverAuthRequest, Some(PAYLOAD_MFSTART)) => {
            super::manual_failover::master_start(srv, st, s, now)
        }
        (Type::FailoverAuthAck, Some(PAYLOAD_MF_PAUSED)) => {
            super::manual_failover::master_paused(st, s, h.repl_offset)
        }
        _ => {}
    }
}

/// Redis's clusterSendFailoverAuthIfNeeded: one vote per epoch, for a replica whose
/// master failed (or that asks for a manual failover), claiming no stale slots.
fn vote_if_needed(
    srv: &Server,
    st: &mut ClusterState,
    s: NodeIndex,
    h: &Header,
    force: bool,
    now: u64,
) {
    let me = st.me();
    if !me.is_master() || me.slots.is_empty() {
        return;
    }
    let requester = st.node(s).id.clone();
    let epoch = h.current_epoch;
    if epoch < st.current_epoch || st.last_vote_epoch == st.current_epoch {
        tracing::warn!(
            "Failover auth denied to {requester}: reqEpoch ({epoch}) <> curEpoch ({}) or already voted",
            st.current_epoch
        );
        return;
    }
    let master = h.master.as_deref().and_then(|m| st.lookup(m.as_bytes()));
    let Some(master) = master.filter(|_| h.flags & NodeFlags::REPLICA.0 != 0) else {
        tracing::warn!(
            "Failover auth denied to {requester}: it is a master or its master is unknown"
        );
        return;
    };
    if !st.node(master).is_failing() && !force {
        tracing::warn!("Failover auth denied to {requester}: its master is up");
        return;
    }
    let master_id = st.node(master).id.clone();
    let timeout = node_timeout(srv);
    let voted = st.failover.voted.iter().find(|(id, _)| *id == master_id);
    if let Some((_, at)) = voted.filter(|(_, at)| now.saturating_sub(*at) < timeout * 2) {
        tracing::warn!(
            "Failover auth denied to {requester}: can't vote about this master before {} milliseconds",
            timeout * 2 - now.saturating_sub(*at)
        );
        return;
    }
    let stale = (0..super::SLOTS)
        .filter(|&slot| h.slots.get(slot))
        .find(|&slot| {
            st.slot_owner[slot].is_some_and(|o| st.node(o).config_epoch > h.config_epoch)
        });
    if let Some(slot) = stale {
        tracing::warn!(
            "Failover auth denied to {requester}: slot {slot} epoch is greater than the one of its master"
        );
        return;
    }
    st.last_vote_epoch = st.current_epoch;
    st.failover.voted.retain(|(id, _)| *id != master_id);
    st.failover.voted.push((master_id, now));
    st.todo_save = true;
    bus::send_failover(st, Some(s), Type::FailoverAuthAck, vec![PAYLOAD_AUTH]);
    tracing::info!(
        "Failover auth granted to {requester} for epoch {}",
        st.current_epoch
    );
}

/// A vote for my election, from a master serving slots, for this epoch.
fn count_vote(st: &mut ClusterState, s: NodeIndex, h: &Header) {
    let n = st.node(s);
    if n.is_master() && !n.slots.is_empty() && h.current_epoch >= st.failover.auth_epoch {
        st.failover.auth_count += 1;
    }
}
