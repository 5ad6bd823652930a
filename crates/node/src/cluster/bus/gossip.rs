//! PING/PONG/MEET: what a node says about itself and a few others, and how a receiver
//! updates its table (handshakes, roles, slots by configEpoch, epochs, UPDATE).

use super::frame::{Body, Gossip, Header, Type};
use super::link::LinkCtx;
use super::{count, encode, failure, send_to, LinkState};
use crate::cluster::slots::{SlotBitmap, SLOTS};
use crate::cluster::state::{random_node_id, ClusterNode, ClusterState, NodeFlags, NodeIndex};
use crate::server::Server;

/// Flags that travel on the bus (MYSELF and MEET are local).
const WIRE_FLAGS: u16 = !(NodeFlags::MYSELF.0 | NodeFlags::MEET.0 | NodeFlags::MIGRATE_TO.0);

/// Myself as every message describes it; a replica announces its master's slots.
pub fn my_header(st: &ClusterState) -> Header {
    let me = st.me();
    let master = st.master_of(st.myself).filter(|&m| m != st.myself);
    let (slots, config_epoch) = match master {
        Some(m) => (st.node(m).slots.clone(), st.node(m).config_epoch),
        None => (me.slots.clone(), me.config_epoch),
    };
    Header {
        sender: me.id.clone(),
        current_epoch: st.current_epoch,
        config_epoch,
        repl_offset: me.repl_offset,
        flags: me.flags.0 & WIRE_FLAGS,
        master: me.master_id.clone(),
        shard_id: me.shard_id.clone(),
        ip: me.ip.clone(),
        port: me.port,
        bus_port: me.bus_port,
        state_ok: st.ok,
        slots,
    }
}

fn gossip_entry(n: &ClusterNode) -> Gossip {
    Gossip {
        id: n.id.clone(),
        ip: n.ip.clone(),
        port: n.port,
        bus_port: n.bus_port,
        flags: n.flags.0 & WIRE_FLAGS,
        ping_sent: n.ping_sent,
        pong_received: n.pong_received,
    }
}

/// A PING/PONG/MEET for `target`: a tenth of the nodes (at least 3) chosen at random,
/// plus every node we think is failing, so failure reports spread fast.
pub fn ping_frame(
    srv: &Server,
    st: &mut ClusterState,
    kind: Type,
    target: Option<NodeIndex>,
) -> Vec<u8> {
    let (mut candidates, unlinked): (Vec<NodeIndex>, Vec<NodeIndex>) = st
        .iter()
        .filter(|(i, n)| {
            *i != st.myself
                && Some(*i) != target
                && !n.flags.has(NodeFlags::HANDSHAKE)
                && !n.flags.has(NodeFlags::NOADDR)
        })
        .map(|(i, _)| i)
        .partition(|&i| {
            let n = st.node(i);
            n.link == LinkState::Connected || !n.slots.is_empty()
        });
    let wanted = (st.iter().count() / 10).max(3);
    let mut chosen = Vec::new();
    while chosen.len() < wanted && !candidates.is_empty() {
        let pick = (srv.random() % candidates.len() as u64) as usize;
        chosen.push(candidates.swap_remove(pick));
    }
    // Every PFAIL node, even a disconnected one without slots (a dead replica), so
    // failure reports about it reach a majority and it becomes FAIL.
    let pfailing = candidates.into_iter().chain(unlinked);
    chosen.extend(pfailing.filter(|&i| st.node(i).is_pfailing()));
    let entries = chosen.iter().map(|&i| gossip_entry(st.node(i))).collect();
    encode(st, kind, Body::Gossip(entries)).to_vec()
}

/// Sends a PING to node `i` (recording when, if no ping is pending).
pub fn send_ping(srv: &Server, st: &mut ClusterState, i: NodeIndex) {
    let bytes = ping_frame(srv, st, Type::Ping, Some(i)).into();
    let node = st.node_mut(i);
    if node.ping_sent == 0 {
        node.ping_sent = crate::clock::now_ms();
    }
    send_to(st, i, Type::Ping, &bytes);
}

/// PING, PONG and MEET (Redis's clusterProcessPacket for those types).
pub fn process(
    srv: &Server,
    st: &mut ClusterState,
    link: &LinkCtx,
    kind: Type,
    h: &Header,
    gossip: &[Gossip],
) -> Vec<Vec<u8>> {
    let now = crate::clock::now_ms();
    let mut sender = st
        .lookup(h.sender.as_bytes())
        .filter(|&i| !st.node(i).flags.has(NodeFlags::HANDSHAKE));
    let sender_ip = if h.ip.is_empty() {
        link.peer_ip.clone()
    } else {
        h.ip.clone()
    };
    if sender == Some(st.myself) {
        // MEET to my own address: the handshake entry was myself all along.
        if let Some(i) = super::node_of_link(st, link.id) {
            if st.node(i).flags.has(NodeFlags::HANDSHAKE) {
                st.remove_node(i);
            }
        }
        return Vec::new();
    }
    if let Some(s) = sender {
        note_sender(st, s, link, h, now);
    }
    let mut replies = Vec::new();
    if kind != Type::Pong {
        learn_my_ip(srv, st, link, kind);
        if sender.is_none() && kind == Type::Meet {
            // Redis adds the MEETing node in handshake; our PING will learn its id.
            let mut node = ClusterNode::new(random_node_id(), NodeFlags::HANDSHAKE);
            node.ip = sender_ip.clone();
            node.port = h.port;
            node.bus_port = h.bus_port;
            st.add_node(node);
            process_gossip(st, None, gossip, now);
        }
        replies.push(ping_frame(srv, st, Type::Pong, sender));
        count(st, Type::Pong, true);
    }
    if !link.inbound {
        let timeout = super::node_timeout(srv);
        if outbound_reply(st, link, h, (&sender_ip, now, timeout), &mut sender).is_none() {
            return replies;
        }
    }
    let Some(s) = sender else {
        return replies;
    };
    update_role(st, s, h);
    st.update_shard_id(s, &h.shard_id);
    let sender_master = st.node(s).is_master();
    if sender_master && *st.node(s).slots != *h.slots {
        update_slots_with(srv, st, s, h.config_epoch, &h.slots);
    }
    if let Some(stale) = stale_owner(st, s, h) {
        send_update(st, s, stale);
    }
    if sender_master && st.me().is_master() && h.config_epoch == st.me().config_epoch {
        handle_epoch_collision(st, s);
    }
    process_gossip(st, Some(s), gossip, now);
    replies
}

/// Bookkeeping for a message from a known node: data time, inbound link, epochs.
fn note_sender(st: &mut ClusterState, s: NodeIndex, link: &LinkCtx, h: &Header, now: u64) {
    if h.current_epoch > st.current_epoch {
        st.current_epoch = h.current_epoch;
        st.todo_save = true;
    }
    let node = st.node_mut(s);
    node.data_received = now;
    node.repl_offset = h.repl_offset;
    if link.inbound && node.in_link.as_ref().is_none_or(|l| l.id != link.id) {
        node.in_link = Some(super::link::LinkHandle {
            id: link.id,
            ctime: now,
            tx: None,
            connected: true,
        });
    }
    // Whatever role we think it has (Redis does the same): a replica that just won
    // or took over announces its new epoch with its first message as a master, and
    // keeping the old one would let the old master's epoch win its slots back here.
    if h.config_epoch > node.config_epoch {
        node.config_epoch = h.config_epoch;
        st.todo_save = true;
    }
}

/// MEET (or any PING while I have no address): my address is the one peers reach.
fn learn_my_ip(srv: &Server, st: &mut ClusterState, link: &LinkCtx, kind: Type) {
    let announced = srv
        .config
        .borrow()
        .get("cluster-announce-ip")
        .is_some_and(|ip| !ip.is_empty());
    if announced || link.local_ip.is_empty() {
        return;
    }
    let me = st.me_mut();
    if (kind == Type::Meet || me.ip.is_empty()) && me.ip != link.local_ip {
        me.ip = link.local_ip.clone();
        tracing::info!("IP address for this node updated to {}", me.ip);
        st.todo_save = true;
    }
}

/// A PING/PONG/MEET on a link we opened: completes a handshake (renaming the node to
/// its real id), records the PONG. None: the link's node is gone, stop processing.
fn outbound_reply(
    st: &mut ClusterState,
    link: &LinkCtx,
    h: &Header,
    (sender_ip, now, timeout): (&str, u64, u64),
    sender: &mut Option<NodeIndex>,
) -> Option<()> {
    let i = super::node_of_link(st, link.id)?;
    if st.node(i).flags.has(NodeFlags::HANDSHAKE) {
        if let Some(known) = *sender {
            // Met again a node we already know: keep the known entry.
            update_address(st, known, sender_ip, h);
            st.remove_node(i);
            st.todo_save = true;
            return None;
        }
        tracing::info!("Handshake with node {} completed.", h.sender);
        let node = st.node_mut(i);
        node.id = h.sender.clone();
        node.flags.set(NodeFlags::HANDSHAKE, false);
        let role = NodeFlags(h.flags & (NodeFlags::MASTER.0 | NodeFlags::REPLICA.0));
        node.flags.set(role, true);
        *sender = Some(i);
        st.todo_save = true;
    } else if st.node(i).id != h.sender {
        tracing::info!(
            "PONG contains mismatching sender ID. About node {} added {} ms ago, having flags {}",
            st.node(i).id,
            now.saturating_sub(st.node(i).ctime),
            st.node(i).flags.0
        );
        let node = st.node_mut(i);
        node.flags.set(NodeFlags::NOADDR, true);
        node.ip.clear();
        node.port = 0;
        node.bus_port = 0;
        super::free_link(st, i);
        st.todo_save = true;
        return None;
    }
    let node = st.node_mut(i);
    node.pong_received = now;
    node.ping_sent = 0;
    if node.is_pfailing() {
        node.flags.set(NodeFlags::PFAIL, false);
        st.todo_update = true;
    } else if node.is_failing() {
        failure::clear_failure_if_needed(st, i, now, timeout);
    }
    if update_address(st, i, sender_ip, h) {
        super::free_link(st, i);
    }
    Some(())
}

/// Redis's nodeUpdateAddressIfNeeded: true when the address changed.
fn update_address(st: &mut ClusterState, i: NodeIndex, ip: &str, h: &Header) -> bool {
    let node = st.node_mut(i);
    if node.ip == ip && node.port == h.port && node.bus_port == h.bus_port {
        return false;
    }
    node.ip = ip.to_string();
    node.port = h.port;
    node.bus_port = h.bus_port;
    node.flags.set(NodeFlags::NOADDR, false);
    tracing::info!("Address updated for node {}, now {ip}:{}", node.id, h.port);
    st.todo_save = true;
    true
}

/// The sender turned master ↔ replica, or follows another master.
fn update_role(st: &mut ClusterState, s: NodeIndex, h: &Header) {
    let is_replica = h.flags & NodeFlags::REPLICA.0 != 0;
    let node = st.node(s);
    if is_replica {
        if node.is_master() {
            for slot in 0..SLOTS {
                if st.slot_owner[slot] == Some(s) {
                    st.del_slot(slot);
                }
            }
        }
        let node = st.node_mut(s);
        let changed = node.is_master() || node.master_id != h.master;
        node.flags.set(NodeFlags::MASTER, false);
        node.flags.set(NodeFlags::MIGRATE_TO, false);
        node.flags.set(NodeFlags::REPLICA, true);
        node.master_id = h.master.clone();
        st.todo_save |= changed;
    } else if !node.is_master() {
        let node = st.node_mut(s);
        node.flags.set(NodeFlags::REPLICA, false);
        node.flags.set(NodeFlags::MASTER, true);
        // A replica that took over a master with replicas should get replicas too.
        node.flags
            .set(NodeFlags::MIGRATE_TO, node.master_id.is_some());
        node.master_id = None;
        st.todo_save = true;
    }
}

/// A slot the sender claims while its owner here has a greater configEpoch: the sender
/// has a stale view, and gets an UPDATE about that owner. A replica claims its master's
/// slots with the epoch it knows for its master: one that missed its master's last
/// epoch bump (a collision just before the master died) could never win a vote
/// otherwise (Redis only checks when the claimed slots differ).
fn stale_owner(st: &ClusterState, s: NodeIndex, h: &Header) -> Option<NodeIndex> {
    (0..SLOTS)
        .filter(|&slot| h.slots.get(slot))
        .find_map(|slot| {
            st.slot_owner[slot].filter(|&o| o != s && st.node(o).config_epoch > h.config_epoch)
        })
}

fn send_update(st: &mut ClusterState, to: NodeIndex, about: NodeIndex) {
    let n = st.node(about);
    let body = Body::Update {
        id: n.id.clone(),
        config_epoch: n.config_epoch,
        slots: n.slots.clone(),
    };
    let bytes = encode(st, Type::Update, body);
    send_to(st, to, Type::Update, &bytes);
}

/// UPDATE: a node's configuration newer than ours wins.
pub fn receive_update(
    srv: &Server,
    st: &mut ClusterState,
    id: &str,
    config_epoch: u64,
    slots: &SlotBitmap,
) {
    let Some(n) = st.lookup(id.as_bytes()) else {
        return;
    };
    if st.node(n).config_epoch >= config_epoch {
        return;
    }
    if !st.node(n).is_master() {
        // It won a failover we have not heard of yet (Redis's clusterSetNodeAsMaster).
        let node = st.node_mut(n);
        node.flags.set(NodeFlags::REPLICA, false);
        node.flags.set(NodeFlags::MASTER, true);
        node.flags
            .set(NodeFlags::MIGRATE_TO, node.master_id.is_some());
        node.master_id = None;
    }
    st.node_mut(n).config_epoch = config_epoch;
    st.todo_save = true;
    update_slots_with(srv, st, n, config_epoch, slots);
}

/// Redis's clusterUpdateSlotsConfigWith: slots claimed with a greater configEpoch than
/// their owner's move to the sender. When my master (or myself) lost all its slots to
/// it, I follow the sender as a replica if replica migration is allowed or the sender
/// took exactly our slots (a failover).
pub fn update_slots_with(
    srv: &Server,
    st: &mut ClusterState,
    sender: NodeIndex,
    epoch: u64,
    slots: &SlotBitmap,
) {
    if sender == st.myself {
        return;
    }
    let me = st.myself;
    let cur_primary = st.master_of(me).unwrap_or(me);
    let (mut sender_slots, mut migrated_our_slots) = (0, 0);
    let mut dirty = Vec::new();
    for slot in (0..SLOTS).filter(|&s| slots.get(s)) {
        sender_slots += 1;
        let owner = st.slot_owner[slot];
        if owner == Some(sender) || st.importing_from.contains_key(&(slot as u16)) {
            continue;
        }
        if owner.is_some_and(|o| st.node(o).config_epoch >= epoch) {
            continue;
        }
        if owner == Some(me) && keys_in_slot(srv, slot) > 0 {
            dirty.push(slot);
        }
        if owner == Some(cur_primary) {
            migrated_our_slots += 1;
        }
        st.del_slot(slot);
        st.add_slot(slot, sender);
        st.todo_save = true;
    }
    let migrate = srv.config.borrow().get("cluster-allow-replica-migration") != Some("no");
    let grand_master = st
        .master_of(cur_primary)
        .filter(|&m| m != cur_primary && cur_primary != me);
    if migrated_our_slots > 0
        && st.node(cur_primary).slots.is_empty()
        && (migrate || sender_slots == migrated_our_slots)
    {
        tracing::warn!(
            "Configuration change detected. Reconfiguring myself as a replica of {}",
            st.node(sender).id
        );
        st.set_master(sender);
    } else if let Some(m) = grand_master {
        // My master turned replica: never be a replica of a replica.
        tracing::warn!(
            "I'm a sub-replica! Reconfiguring myself as a replica of {}",
            st.node(m).id
        );
        st.set_master(m);
    } else {
        // Keys of slots I lost are not mine to serve any more.
        for slot in dirty {
            del_keys_in_slot(srv, slot);
        }
    }
}

fn keys_in_slot(srv: &Server, slot: usize) -> usize {
    srv.dbs[0].borrow().slot_keys().map_or(0, |k| k.count(slot))
}

/// Redis's delKeysInSlot: deletes (and propagates the deletion of) a slot's keys.
fn del_keys_in_slot(srv: &Server, slot: usize) {
    let mut db = srv.dbs[0].borrow_mut();
    let keys: Vec<Vec<u8>> = db
        .slot_keys()
        .map(|k| k.keys(slot, usize::MAX).map(|k| k.to_vec()).collect())
        .unwrap_or_default();
    let mut propagator = srv.propagator.borrow_mut();
    for key in keys {
        db.remove(&key);
        db.modified(&key);
        if propagator.enabled() {
            let del = crate::cmd::OwnedArgs::from_slices([&b"DEL"[..], &key]);
            propagator.emit(0, &del.args());
        }
    }
}

/// Redis's clusterHandleConfigEpochCollision: of two masters with the same
/// configEpoch, the one with the smaller id takes a new epoch.
fn handle_epoch_collision(st: &mut ClusterState, s: NodeIndex) {
    if st.node(s).id <= st.me().id {
        return;
    }
    st.current_epoch += 1;
    let epoch = st.current_epoch;
    st.me_mut().config_epoch = epoch;
    st.todo_save = true;
    tracing::warn!(
        "WARNING: configEpoch collision with node {}. configEpoch set to {epoch}",
        st.node(s).id
    );
}

/// The gossip section: failure reports from masters, and handshakes with nodes we
/// did not know (only when the sender is known, as Redis does).
fn process_gossip(st: &mut ClusterState, sender: Option<NodeIndex>, gossip: &[Gossip], now: u64) {
    let reporter = sender.filter(|&s| st.node(s).is_master());
    for g in gossip {
        match st.lookup(g.id.as_bytes()) {
            Some(n) => {
                if let Some(r) = reporter.filter(|_| n != st.myself) {
                    let failing = g.flags & (NodeFlags::PFAIL.0 | NodeFlags::FAIL.0) != 0;
                    failure::note_report(st, n, r, failing, now);
                }
            }
            None => {
                let forgotten = st
                    .forgotten
                    .iter()
                    .any(|(id, until)| *id == g.id && *until > now);
                if sender.is_some() && g.flags & NodeFlags::NOADDR.0 == 0 && !forgotten {
                    start_handshake(st, &g.ip, g.port, g.bus_port);
                }
            }
        }
    }
}

/// Redis's clusterStartHandshake: a node in handshake that the cron will MEET.
pub fn start_handshake(st: &mut ClusterState, ip: &str, port: u16, bus_port: u16) {
    let busy = st.iter().any(|(_, n)| {
        n.flags.has(NodeFlags::HANDSHAKE) && n.ip == ip && n.port == port && n.bus_port == bus_port
    });
    if busy || ip.is_empty() || port == 0 {
        return;
    }
    let mut node = ClusterNode::new(
        random_node_id(),
        NodeFlags(NodeFlags::HANDSHAKE.0 | NodeFlags::MEET.0),
    );
    node.ip = ip.to_string();
    node.port = port;
    node.bus_port = bus_port;
    st.add_node(node);
}
