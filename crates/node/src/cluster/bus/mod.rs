//! The cluster bus: Redis Cluster's node-to-node behaviour (MEET, PING/PONG gossip,
//! PFAIL/FAIL, epochs, pub/sub forwarding) over our own framing (docs/CLUSTER_BUS.md).

pub mod failure;
pub mod frame;
pub mod gossip;
pub mod link;

use std::rc::Rc;
use std::time::Duration;

use frame::{Body, Message, Type};
use link::LinkCtx;

use super::state::{ClusterState, LinkState, NodeFlags, NodeIndex};
use crate::server::Server;

/// Redis's clusterCron runs 10 times a second.
const CRON_MS: u64 = 100;

/// `cluster-node-timeout` in ms.
pub fn node_timeout(srv: &Server) -> u64 {
    let config = srv.config.borrow();
    let timeout = config.get("cluster-node-timeout");
    timeout.and_then(|t| t.parse().ok()).unwrap_or(15000)
}

/// The port the bus listens on: `cluster-port`, else the client port + 10000.
fn bus_listen_port(srv: &Server) -> u16 {
    let config = srv.config.borrow();
    match config.get("cluster-port").and_then(|p| p.parse().ok()) {
        Some(p) if p != 0 => p,
        _ => srv.listen_port.get().wrapping_add(10000),
    }
}

/// Binds the bus port and starts the accept loop and the bus cron (cluster mode only).
pub async fn start(srv: &Rc<Server>) -> anyhow::Result<()> {
    if srv.cluster.is_none() || srv.listen_port.get() == 0 {
        return Ok(());
    }
    let bind = srv.config.borrow().bind.clone();
    let port = bus_listen_port(srv);
    let listeners = crate::net::listener::bind_all(&bind, port)
        .await
        .map_err(|e| anyhow::anyhow!("Could not bind the cluster bus port {port}: {e}"))?;
    for listener in listeners {
        tokio::task::spawn_local(link::accept_loop(srv.clone(), listener));
    }
    tokio::task::spawn_local(cron(srv.clone()));
    Ok(())
}

async fn cron(srv: Rc<Server>) {
    let mut tick: u64 = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(CRON_MS)) => {}
            _ = srv.shutdown.notified() => return,
        }
        tick += 1;
        failure::cron_tick(&srv, tick);
    }
}

/// Counts a message in CLUSTER INFO's stats.
fn count(st: &mut ClusterState, kind: Type, sent: bool) {
    let map = if sent {
        &mut st.stats.sent
    } else {
        &mut st.stats.received
    };
    *map.entry(kind.stat_name()).or_insert(0) += 1;
}

/// Encodes a message from myself.
pub fn encode(st: &ClusterState, kind: Type, body: Body) -> Rc<[u8]> {
    let msg = Message {
        kind,
        header: gossip::my_header(st),
        body,
    };
    frame::encode(&msg).into()
}

/// Queues a frame on node `i`'s outbound link, if it has one.
pub fn send_to(st: &mut ClusterState, i: NodeIndex, kind: Type, bytes: &Rc<[u8]>) {
    let sent = match st.node(i).out_link.as_ref().and_then(|l| l.tx.as_ref()) {
        Some(tx) => tx.send(bytes.clone()).is_ok(),
        None => false,
    };
    if sent {
        count(st, kind, true);
    }
}

/// Sends to every node that has a link, except myself and nodes in handshake.
pub fn broadcast(st: &mut ClusterState, kind: Type, bytes: &Rc<[u8]>) {
    let targets = peers(st);
    for i in targets {
        send_to(st, i, kind, bytes);
    }
}

/// Other nodes out of handshake.
fn peers(st: &ClusterState) -> Vec<NodeIndex> {
    st.iter()
        .filter(|(i, n)| *i != st.myself && !n.flags.has(NodeFlags::HANDSHAKE))
        .map(|(i, _)| i)
        .collect()
}

/// Node `i`'s index if its outbound link is `link_id`.
fn node_of_link(st: &ClusterState, link_id: u64) -> Option<NodeIndex> {
    st.iter()
        .find(|(_, n)| n.out_link.as_ref().is_some_and(|l| l.id == link_id))
        .map(|(i, _)| i)
}

/// An outbound link connected: the first frame to send is a MEET (after CLUSTER
/// MEET) or a PING. A ping already pending keeps its time, so failure detection
/// keeps counting across reconnections.
fn link_connected(srv: &Server, link: &LinkCtx) -> Option<Vec<u8>> {
    let mut st = srv.cluster.as_ref()?.borrow_mut();
    let i = node_of_link(&st, link.id)?;
    let node = st.node_mut(i);
    node.link = LinkState::Connected;
    if let Some(l) = node.out_link.as_mut() {
        l.connected = true;
    }
    let kind = if node.flags.has(NodeFlags::MEET) {
        Type::Meet
    } else {
        Type::Ping
    };
    node.flags.set(NodeFlags::MEET, false);
    if node.ping_sent == 0 {
        node.ping_sent = crate::clock::now_ms();
    }
    let bytes = gossip::ping_frame(srv, &mut st, kind, Some(i));
    count(&mut st, kind, true);
    Some(bytes)
}

/// A link ended: the node table forgets it (the cron reconnects outbound links).
fn link_closed(srv: &Server, id: u64) {
    let Some(cell) = &srv.cluster else {
        return;
    };
    let mut st = cell.borrow_mut();
    for n in st.nodes.iter_mut().flatten() {
        if n.out_link.as_ref().is_some_and(|l| l.id == id) {
            n.out_link = None;
            n.link = LinkState::Disconnected;
        }
        if n.in_link.as_ref().is_some_and(|l| l.id == id) {
            n.in_link = None;
        }
    }
}

/// Drops node `i`'s outbound link (the cron opens a new one).
pub fn free_link(st: &mut ClusterState, i: NodeIndex) {
    let node = st.node_mut(i);
    node.out_link = None;
    node.link = LinkState::Disconnected;
}

/// Processes one received frame; returns the frames to answer with on the same link.
fn receive(srv: &Server, link: &LinkCtx, msg: Message) -> Vec<Vec<u8>> {
    let Some(cell) = &srv.cluster else {
        return Vec::new();
    };
    let mut st = cell.borrow_mut();
    count(&mut st, msg.kind, false);
    let sender = st
        .lookup(msg.header.sender.as_bytes())
        .filter(|&i| !st.node(i).flags.has(NodeFlags::HANDSHAKE));
    let out = match (msg.kind, msg.body) {
        (Type::Ping | Type::Pong | Type::Meet, Body::Gossip(entries)) => {
            gossip::process(srv, &mut st, link, msg.kind, &msg.header, &entries)
        }
        (Type::Fail, Body::Fail(id)) => {
            if sender.is_some() {
                failure::receive_fail(&mut st, &id);
            }
            Vec::new()
        }
        (
            Type::Update,
            Body::Update {
                id,
                config_epoch,
                slots,
            },
        ) => {
            if sender.is_some() {
                gossip::receive_update(srv, &mut st, &id, config_epoch, &slots);
            }
            Vec::new()
        }
        (kind @ (Type::Publish | Type::PublishShard), Body::Publish { channel, message }) => {
            if sender.is_some() {
                // Delivery may look at the cluster state: release it first.
                drop(st);
                crate::pubsub::publish(srv, &channel, &message, kind == Type::PublishShard, 0);
                return Vec::new();
            }
            Vec::new()
        }
        (kind @ (Type::FailoverAuthRequest | Type::FailoverAuthAck), Body::Raw(payload)) => {
            if let Some(s) = sender {
                crate::cluster::failover::receive(srv, &mut st, s, kind, &msg.header, &payload);
            }
            Vec::new()
        }
        _ => Vec::new(),
    };
    finish(srv, &mut st);
    out
}

/// Sends a failover message (FAILOVER_AUTH_REQUEST to every node when `to` is None,
/// FAILOVER_AUTH_ACK to the candidate) for the failover module.
pub fn send_failover(st: &mut ClusterState, to: Option<NodeIndex>, kind: Type, payload: Vec<u8>) {
    let bytes = encode(st, kind, Body::Raw(payload));
    match to {
        Some(i) => send_to(st, i, kind, &bytes),
        None => broadcast(st, kind, &bytes),
    }
}

/// Applies what processing asked for: save nodes.conf, recompute cluster_state (also
/// whenever it is `fail`, like Redis's cron; an OK state only changes on events).
fn finish(srv: &Server, st: &mut ClusterState) {
    // Elections react at once to FAIL and votes, not only on the next cron tick.
    crate::cluster::failover::handle(srv, st);
    let update = std::mem::take(&mut st.todo_update);
    if std::mem::take(&mut st.todo_save) {
        super::config_changed(srv, st);
    } else if update || !st.ok {
        st.update_state(super::require_full_coverage(srv));
    }
}

/// PUBLISH / SPUBLISH from a client: forward to every node, or to the nodes of my
/// shard (my master and its replicas), like Redis's clusterPropagatePublish.
pub fn propagate_publish(srv: &Server, channel: &[u8], message: &[u8], shard: bool) {
    let Some(cell) = &srv.cluster else {
        return;
    };
    let mut st = cell.borrow_mut();
    let kind = if shard {
        Type::PublishShard
    } else {
        Type::Publish
    };
    let body = Body::Publish {
        channel: channel.to_vec(),
        message: message.to_vec(),
    };
    let bytes = encode(&st, kind, body);
    if !shard {
        broadcast(&mut st, kind, &bytes);
        return;
    }
    let Some(master) = st.master_of(st.myself) else {
        return;
    };
    let mut targets = st.replicas_of(master);
    targets.push(master);
    let me = st.myself;
    for i in targets.into_iter().filter(|&i| i != me) {
        send_to(&mut st, i, kind, &bytes);
    }
}

/// CLUSTER LINKS: one map per link, outbound ("to") and inbound ("from").
pub fn reply_links(st: &ClusterState, out: &mut resp::ReplyBuf) {
    let mut rows = Vec::new();
    for (_, n) in st.iter() {
        if let Some(l) = &n.out_link {
            rows.push(("to", n.id.as_str(), l.ctime, "rw"));
        }
        if let Some(l) = &n.in_link {
            rows.push(("from", n.id.as_str(), l.ctime, "r"));
        }
    }
    out.array(rows.len());
    for (direction, id, ctime, events) in rows {
        out.map(6);
        out.bulk(b"direction");
        out.bulk(direction.as_bytes());
        out.bulk(b"node");
        out.bulk(id.as_bytes());
        out.bulk(b"create-time");
        out.int(ctime as i64);
        out.bulk(b"events");
        out.bulk(events.as_bytes());
        out.bulk(b"send-buffer-allocated");
        out.int(0);
        out.bulk(b"send-buffer-used");
        out.int(0);
    }
}
