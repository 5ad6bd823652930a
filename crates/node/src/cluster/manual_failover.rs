//! Manual failover (Redis's CLUSTER FAILOVER [FORCE|TAKEOVER] and MFSTART): the replica
//! asks its master to pause writes, catches up to its offset, then wins a forced election.

use super::bus::frame::Type;
use super::bus::{self};
use super::failover::{my_offset, replace_my_master, PAYLOAD_MFSTART, PAYLOAD_MF_PAUSED};
use super::state::{ClusterState, NodeIndex};
use crate::cmd::{Args, CmdError, CmdResult, Ctx};
use crate::server::Server;

/// A manual failover must complete within 5 s (CLUSTER_MF_TIMEOUT); the master keeps
/// writes paused for twice that at most (CLUSTER_MF_PAUSE_MULT).
const MF_TIMEOUT_MS: u64 = 5000;
const MF_PAUSE_MULT: u64 = 2;

/// Manual failover state (Redis's mf_* fields).
#[derive(Clone, Debug, Default)]
pub struct Manual {
    /// When the manual failover times out (ms; 0: none in progress).
    pub end: u64,
    /// Master side: the replica taking over.
    pub replica: Option<String>,
    /// Master side: writes are refused until then (ms).
    pub paused_until: u64,
    /// Replica side: the paused master's final offset.
    pub master_offset: Option<u64>,
    /// Replica side: caught up (or FORCE): the election may start.
    pub start: bool,
}

impl Manual {
    pub fn can_start(&self) -> bool {
        self.end != 0 && self.start
    }
}

/// Whether writes are held back here for a manual failover (master side).
pub fn writes_paused(st: &ClusterState) -> bool {
    let m = &st.failover.manual;
    m.end != 0 && m.paused_until > crate::clock::now_ms()
}

fn reset(st: &mut ClusterState) {
    st.failover.manual = Manual::default();
}

/// Every cron tick: time out, keep the replica informed (master), or notice that the
/// replica caught up with the paused master (replica).
pub fn cron(srv: &Server, st: &mut ClusterState, now: u64) {
    let m = &st.failover.manual;
    if m.end == 0 {
        return;
    }
    if m.end < now {
        tracing::warn!("Manual failover timed out.");
        reset(st);
        return;
    }
    if let Some(id) = m.replica.clone() {
        match st.lookup(id.as_bytes()).filter(|_| st.me().is_master()) {
            // Like Redis's PINGs with the PAUSED flag, repeated every tick.
            Some(r) => send_paused(st, r),
            None => reset(st),
        }
        return;
    }
    if !m.start && m.master_offset.is_some_and(|o| my_offset(srv) >= o) {
        st.failover.manual.start = true;
        tracing::warn!("All master replication stream processed, manual failover can start.");
    }
}

fn send_paused(st: &mut ClusterState, r: NodeIndex) {
    bus::send_failover(st, Some(r), Type::FailoverAuthAck, vec![PAYLOAD_MF_PAUSED]);
}

/// MFSTART from one of my replicas: pause writes and tell it my final offset.
pub fn master_start(srv: &Server, st: &mut ClusterState, s: NodeIndex, now: u64) {
    let me = st.myself;
    if !st.me().is_master() || st.master_of(s) != Some(me) || s == me {
        return;
    }
    reset(st);
    let id = st.node(s).id.clone();
    tracing::warn!("Manual failover requested by replica {id}.");
    let m = &mut st.failover.manual;
    m.end = now + MF_TIMEOUT_MS;
    m.paused_until = now + MF_TIMEOUT_MS * MF_PAUSE_MULT;
    m.replica = Some(id);
    st.me_mut().repl_offset = my_offset(srv);
    send_paused(st, s);
}

/// My master paused: its header's offset is what I must reach.
pub fn master_paused(st: &mut ClusterState, s: NodeIndex, offset: u64) {
    let me = st.myself;
    let from_master = !st.me().is_master() && st.master_of(me) == Some(s);
    let m = &mut st.failover.manual;
    if from_master && m.end != 0 && m.master_offset.is_none() {
        m.master_offset = Some(offset);
        tracing::warn!("Received replication offset for paused master manual failover: {offset}");
    }
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER], sent to a replica.
pub fn command(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (force, takeover) = match args.len() {
        2 => (false, false),
        3 if args.is(2, "force") => (true, false),
        3 if args.is(2, "takeover") => (true, true),
        _ => return Err(CmdError::Syntax),
    };
    let srv = ctx.srv;
    let cell = srv
        .cluster
        .as_ref()
        .ok_or_else(|| CmdError::msg("ERR This instance has cluster support disabled"))?;
    let mut st = cell.borrow_mut();
    let me = st.myself;
    if st.me().is_master() {
        return Err(CmdError::msg(
            "ERR You should send CLUSTER FAILOVER to a replica",
        ));
    }
    let Some(master) = st.master_of(me).filter(|&m| m != me) else {
        return Err(CmdError::msg(
            "ERR I'm a replica but my master is unknown to me",
        ));
    };
    let n = st.node(master);
    let linked = n.out_link.as_ref().is_some_and(|l| l.connected);
    if !force && (n.is_failing() || !linked) {
        return Err(CmdError::msg(
            "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE",
        ));
    }
    reset(&mut st);
    st.failover.manual.end = crate::clock::now_ms() + MF_TIMEOUT_MS;
    if takeover {
        tracing::warn!("Taking over the master (user request).");
        bump_epoch_without_consensus(&mut st);
        replace_my_master(srv, &mut st);
    } else if force {
        tracing::warn!("Forced failover user request accepted.");
        st.failover.manual.start = true;
    } else {
        tracing::warn!("Manual failover user request accepted.");
        st.me_mut().repl_offset = my_offset(srv);
        bus::send_failover(
            &mut st,
            Some(master),
            Type::FailoverAuthRequest,
            vec![PAYLOAD_MFSTART],
        );
    }
    ctx.out.ok();
    Ok(())
}

/// Redis's clusterBumpConfigEpochWithoutConsensus, for TAKEOVER. Also bumps when
/// another node has my epoch: a replica's own epoch is left from its days as a master
/// and no collision rule kept it unique, so it may equal the greatest epoch — its
/// master's — and then the slots would not move anywhere (Redis keeps it as is).
fn bump_epoch_without_consensus(st: &mut ClusterState) {
    let max = st.max_epoch();
    let mine = st.me().config_epoch;
    let me = st.myself;
    let shared = st
        .iter()
        .any(|(i, n)| i != me && n.is_master() && n.config_epoch == mine);
    if mine == 0 || mine != max || shared {
        st.current_epoch += 1;
        let epoch = st.current_epoch;
        st.me_mut().config_epoch = epoch;
        tracing::warn!("New configEpoch set to {epoch}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::state::{ClusterNode, NodeFlags};

    #[test]
    fn takeover_epoch_is_unique_even_when_mine_is_the_greatest() {
        let mut st = ClusterState::new("unused.conf".into());
        let mut master = ClusterNode::new("m".repeat(40), NodeFlags::MASTER);
        master.config_epoch = 5;
        st.add_node(master);
        st.current_epoch = 5;
        let me = st.me_mut();
        me.flags = NodeFlags::MYSELF | NodeFlags::REPLICA;
        me.master_id = Some("m".repeat(40));
        // Left from when I was a master; equal to my master's, the greatest.
        me.config_epoch = 5;
        bump_epoch_without_consensus(&mut st);
        assert_eq!((st.me().config_epoch, st.current_epoch), (6, 6));
        // Already the only greatest: kept, as in Redis.
        bump_epoch_without_consensus(&mut st);
        assert_eq!((st.me().config_epoch, st.current_epoch), (6, 6));
    }
}
