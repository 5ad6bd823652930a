//! CLUSTER subcommands that change the configuration: slot assignment, SETSLOT,
//! epochs, MEET/FORGET/RESET, SAVECONFIG. Each change updates the state and nodes.conf.

use super::cluster::{is_replica, known_node, state_mut};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::cluster::{self, nodes_conf, ClusterNode, ClusterState, NodeFlags, SLOTS};
use crate::server::Server;

/// Redis's `addReplySubcommandSyntaxError`, naming the subcommand as typed.
fn subcommand_syntax(args: &Args) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
        String::from_utf8_lossy(args.get(1))
    ))
}

/// Redis's `getSlotOrReply`.
fn parse_slot(arg: &[u8]) -> Result<usize, CmdError> {
    resp::parse_i64(arg)
        .filter(|s| (0..SLOTS as i64).contains(s))
        .map(|s| s as usize)
        .ok_or_else(|| CmdError::msg("ERR Invalid or out of range slot"))
}

/// Redis's `checkSlotAssignmentsOrReply`: every slot of `start..=end` must be free
/// (or, to delete, assigned) and named once.
fn check_assignments(
    st: &ClusterState,
    seen: &mut [bool],
    del: bool,
    start: usize,
    end: usize,
) -> Result<(), CmdError> {
    for (slot, seen) in seen.iter_mut().enumerate().take(end + 1).skip(start) {
        let owned = st.slot_owner[slot].is_some();
        if del && !owned {
            return Err(CmdError::msg(format!(
                "ERR Slot {slot} is already unassigned"
            )));
        }
        if !del && owned {
            return Err(CmdError::msg(format!("ERR Slot {slot} is already busy")));
        }
        if std::mem::replace(seen, true) {
            return Err(CmdError::msg(format!(
                "ERR Slot {slot} specified multiple times"
            )));
        }
    }
    Ok(())
}

/// Redis's `clusterUpdateSlots`: assigns the marked slots to myself or unassigns them.
fn update_slots(srv: &Server, mut st: std::cell::RefMut<ClusterState>, seen: &[bool], del: bool) {
    let me = st.myself;
    for slot in (0..SLOTS).filter(|&s| seen[s]) {
        if del {
            st.del_slot(slot);
        } else {
            // We are the real owner now: an import of it is over.
            st.importing_from.remove(&(slot as u16));
            st.add_slot(slot, me);
        }
    }
    cluster::config_changed(srv, &mut st);
}

fn add_or_del_slots(ctx: &mut Ctx, args: &Args, del: bool) -> CmdResult {
    let st = state_mut(ctx)?;
    let slots: Vec<usize> = args
        .iter_from(2)
        .map(parse_slot)
        .collect::<Result<_, _>>()?;
    let mut seen = vec![false; SLOTS];
    for &slot in &slots {
        check_assignments(&st, &mut seen, del, slot, slot)?;
    }
    update_slots(ctx.srv, st, &seen, del);
    ctx.out.ok();
    Ok(())
}

fn add_or_del_ranges(ctx: &mut Ctx, args: &Args, del: bool) -> CmdResult {
    if args.len() % 2 == 1 {
        let sub = if del {
            "delslotsrange"
        } else {
            "addslotsrange"
        };
        return Err(CmdError::Arity(format!("cluster|{sub}")));
    }
    let st = state_mut(ctx)?;
    let mut seen = vec![false; SLOTS];
    for i in (2..args.len()).step_by(2) {
        let start = parse_slot(args.get(i))?;
        let end = parse_slot(args.get(i + 1))?;
        if start > end {
            return Err(CmdError::msg(format!(
                "ERR start slot number {start} is greater than end slot number {end}"
            )));
        }
        check_assignments(&st, &mut seen, del, start, end)?;
    }
    update_slots(ctx.srv, st, &seen, del);
    ctx.out.ok();
    Ok(())
}

pub fn addslots(ctx: &mut Ctx, args: &Args) -> CmdResult {
    add_or_del_slots(ctx, args, false)
}

pub fn delslots(ctx: &mut Ctx, args: &Args) -> CmdResult {
    add_or_del_slots(ctx, args, true)
}

pub fn addslotsrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    add_or_del_ranges(ctx, args, false)
}

pub fn delslotsrange(ctx: &mut Ctx, args: &Args) -> CmdResult {
    add_or_del_ranges(ctx, args, true)
}

fn db0_is_empty(srv: &Server) -> bool {
    srv.dbs[0].borrow().is_empty()
}

pub fn flushslots(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let mut st = state_mut(ctx)?;
    if !db0_is_empty(ctx.srv) {
        return Err(CmdError::msg(
            "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.",
        ));
    }
    let me = st.myself;
    for slot in 0..SLOTS {
        if st.slot_owner[slot] == Some(me) {
            st.del_slot(slot);
        }
    }
    cluster::config_changed(ctx.srv, &mut st);
    ctx.out.ok();
    Ok(())
}

fn keys_in_slot(srv: &Server, slot: usize) -> usize {
    srv.dbs[0].borrow().slot_keys().map_or(0, |k| k.count(slot))
}

/// A master named by SETSLOT: known (with the given wording) and not a replica.
fn target_master(st: &ClusterState, id: &[u8], unknown: &str) -> Result<usize, CmdError> {
    let i = st
        .lookup(id)
        .ok_or_else(|| CmdError::msg(format!("ERR {unknown} {}", String::from_utf8_lossy(id))))?;
    if is_replica(st.node(i).flags) {
        return Err(CmdError::msg("ERR Target node is not a master"));
    }
    Ok(i)
}

pub fn setslot(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut st = state_mut(ctx)?;
    if is_replica(st.me().flags) {
        return Err(CmdError::msg("ERR Please use SETSLOT only with masters."));
    }
    let slot = parse_slot(args.get(2))?;
    let me = st.myself;
    let owner = st.slot_owner[slot];
    let key = slot as u16;
    let epoch_before = st.current_epoch;
    match args.len() {
        5 if args.is(3, "migrating") => {
            if owner != Some(me) {
                return Err(CmdError::msg(format!(
                    "ERR I'm not the owner of hash slot {slot}"
                )));
            }
            let n = target_master(&st, args.get(4), "I don't know about node")?;
            st.migrating_to.insert(key, n);
        }
        5 if args.is(3, "importing") => {
            if owner == Some(me) {
                return Err(CmdError::msg(format!(
                    "ERR I'm already the owner of hash slot {slot}"
                )));
            }
            let n = target_master(&st, args.get(4), "I don't know about node")?;
            st.importing_from.insert(key, n);
        }
        4 if args.is(3, "stable") => {
            st.importing_from.remove(&key);
            st.migrating_to.remove(&key);
        }
        5 if args.is(3, "node") => {
            let n = target_master(&st, args.get(4), "Unknown node")?;
            setslot_node(ctx.srv, &mut st, slot, n)?;
        }
        _ => {
            return Err(CmdError::msg(
                "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
            ))
        }
    }
    // Only an epoch bump must be durable before the reply (as in Redis).
    if st.current_epoch != epoch_before {
        cluster::config_changed(ctx.srv, &mut st);
    } else {
        cluster::config_changed_unsynced(ctx.srv, &mut st);
    }
    ctx.out.ok();
    Ok(())
}

/// SETSLOT <slot> NODE <id>: the end of a migration (or a manual assignment).
fn setslot_node(srv: &Server, st: &mut ClusterState, slot: usize, n: usize) -> CmdResult {
    let me = st.myself;
    let key = slot as u16;
    let keys = keys_in_slot(srv, slot);
    if st.slot_owner[slot] == Some(me) && n != me && keys != 0 {
        return Err(CmdError::msg(format!(
            "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
        )));
    }
    if keys == 0 {
        st.migrating_to.remove(&key);
    }
    let was_mine = st.slot_owner[slot] == Some(me);
    st.del_slot(slot);
    st.add_slot(slot, n);
    let allow_migration = srv.config.borrow().get("cluster-allow-replica-migration") != Some("no");
    if was_mine && n != me && st.me().slots.is_empty() && allow_migration {
        // A master left without slots follows the new owner, as a replica.
        tracing::warn!(
            "Configuration change detected. Reconfiguring myself as a replica of {}",
            st.node(n).id
        );
        st.set_master(n);
        crate::repl::follow_cluster_role(srv, st);
    }
    if n == me && st.importing_from.remove(&key).is_some() && bump_epoch(st) {
        tracing::warn!("configEpoch updated after importing slot {slot}");
    }
    Ok(())
}

/// Redis's `clusterBumpConfigEpochWithoutConsensus`: true if the epoch changed.
fn bump_epoch(st: &mut ClusterState) -> bool {
    let max = st.max_epoch();
    let mine = st.me().config_epoch;
    if mine == 0 || mine != max {
        st.current_epoch += 1;
        let epoch = st.current_epoch;
        st.me_mut().config_epoch = epoch;
        true
    } else {
        false
    }
}

pub fn bumpepoch(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let mut st = state_mut(ctx)?;
    let bumped = bump_epoch(&mut st);
    let epoch = st.me().config_epoch;
    cluster::config_changed(ctx.srv, &mut st);
    let word = if bumped { "BUMPED" } else { "STILL" };
    ctx.out.simple(format!("{word} {epoch}").as_bytes());
    Ok(())
}

pub fn set_config_epoch(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut st = state_mut(ctx)?;
    let epoch = args.i64(2)?;
    if epoch < 0 {
        return Err(CmdError::msg(format!(
            "ERR Invalid config epoch specified: {epoch}"
        )));
    }
    if st.iter().count() > 1 {
        return Err(CmdError::msg(
            "ERR The user can assign a config epoch only when the node does not know any other node.",
        ));
    }
    if st.me().config_epoch != 0 {
        return Err(CmdError::msg("ERR Node config epoch is already non-zero"));
    }
    st.me_mut().config_epoch = epoch as u64;
    st.current_epoch = st.current_epoch.max(epoch as u64);
    cluster::config_changed(ctx.srv, &mut st);
    ctx.out.ok();
    Ok(())
}

pub fn forget(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut st = state_mut(ctx)?;
    let i = known_node(&st, args.get(2))?;
    if i == st.myself {
        return Err(CmdError::msg(
            "ERR I tried hard but I can't forget myself...",
        ));
    }
    if st.master_of(st.myself) == Some(i) {
        return Err(CmdError::msg("ERR Can't forget my master!"));
    }
    let id = st.node(i).id.clone();
    st.blacklist(&id);
    st.remove_node(i);
    cluster::config_changed(ctx.srv, &mut st);
    ctx.out.ok();
    Ok(())
}

/// Redis's address normalisation: an IPv4 or IPv6 literal.
fn valid_ip(ip: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(ip).ok()?;
    let addr: std::net::IpAddr = text.parse().ok()?;
    Some(addr.to_string())
}

/// MEET records the node in handshake; the cluster bus connects to it, sends MEET
/// and learns the node's real id from its PONG.
pub fn meet(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut st = state_mut(ctx)?;
    let show = |i: usize| String::from_utf8_lossy(args.get(i)).into_owned();
    if args.len() > 5 {
        return Err(subcommand_syntax(args));
    }
    let port = resp::parse_i64(args.get(3)).ok_or_else(|| {
        CmdError::msg(format!("ERR Invalid TCP base port specified: {}", show(3)))
    })?;
    let bus_port = match args.len() {
        5 => resp::parse_i64(args.get(4)).ok_or_else(|| {
            CmdError::msg(format!("ERR Invalid TCP bus port specified: {}", show(4)))
        })?,
        _ => port + 10000,
    };
    let ports_ok = (1..=65535).contains(&port) && (1..=65535).contains(&bus_port);
    let Some(ip) = valid_ip(args.get(2)).filter(|_| ports_ok) else {
        return Err(CmdError::msg(format!(
            "ERR Invalid node address specified: {}:{}",
            show(2),
            show(3)
        )));
    };
    let in_progress = st
        .iter()
        .any(|(_, n)| n.flags.has(NodeFlags::HANDSHAKE) && n.ip == ip && n.port as i64 == port);
    if !in_progress {
        let mut node = ClusterNode::new(
            cluster::state::random_node_id(),
            NodeFlags(NodeFlags::HANDSHAKE.0 | NodeFlags::MEET.0),
        );
        node.ip = ip;
        node.port = port as u16;
        node.bus_port = bus_port as u16;
        st.add_node(node);
    }
    ctx.out.ok();
    Ok(())
}

pub fn reset(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut st = state_mut(ctx)?;
    let hard = match args.len() {
        2 => false,
        3 if args.is(2, "hard") => true,
        3 if args.is(2, "soft") => false,
        3 => return Err(CmdError::Syntax),
        _ => return Err(subcommand_syntax(args)),
    };
    if st.me().is_master() && !db0_is_empty(ctx.srv) {
        return Err(CmdError::msg(
            "ERR CLUSTER RESET can't be called with master nodes containing keys",
        ));
    }
    if is_replica(st.me().flags) {
        let mine = st.me_mut();
        mine.flags.set(NodeFlags::REPLICA, false);
        mine.flags.set(NodeFlags::MASTER, true);
        mine.master_id = None;
        crate::repl::follow_cluster_role(ctx.srv, &st);
    }
    st.migrating_to.clear();
    st.importing_from.clear();
    for slot in 0..SLOTS {
        st.del_slot(slot);
    }
    let me = st.myself;
    let others: Vec<usize> = st.iter().map(|(i, _)| i).filter(|&i| i != me).collect();
    for i in others {
        st.remove_node(i);
    }
    if hard {
        st.current_epoch = 0;
        st.last_vote_epoch = 0;
        let mine = st.me_mut();
        mine.config_epoch = 0;
        mine.id = cluster::state::random_node_id();
        mine.shard_id = cluster::state::random_node_id();
        tracing::info!("Node hard reset, now I'm {}", mine.id);
    }
    cluster::config_changed(ctx.srv, &mut st);
    ctx.out.ok();
    Ok(())
}

pub fn saveconfig(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let st = state_mut(ctx)?;
    nodes_conf::save(&st).map_err(|e| {
        let cause = e.chain().last().map_or_else(String::new, |c| c.to_string());
        CmdError::msg(format!("ERR error saving the cluster node config: {cause}"))
    })?;
    ctx.out.ok();
    Ok(())
}

/// CLUSTER REPLICATE <node-id>: this node becomes a replica of that master (an empty
/// master without slots, or a replica changing masters), as Redis's `clusterSetMaster`.
pub fn replicate(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut st = state_mut(ctx)?;
    let n = known_node(&st, args.get(2))?;
    if n == st.myself {
        return Err(CmdError::msg("ERR Can't replicate myself"));
    }
    if is_replica(st.node(n).flags) {
        return Err(CmdError::msg(
            "ERR I can only replicate a master, not a replica.",
        ));
    }
    if st.me().is_master() && (!st.me().slots.is_empty() || !db0_is_empty(ctx.srv)) {
        return Err(CmdError::msg(
            "ERR To set a master the node must be empty and without assigned slots.",
        ));
    }
    st.set_master(n);
    crate::repl::follow_cluster_role(ctx.srv, &st);
    cluster::config_changed(ctx.srv, &mut st);
    ctx.out.ok();
    Ok(())
}
