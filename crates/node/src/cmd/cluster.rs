//! The CLUSTER command (Redis's `clusterCommand`): what this node knows (INFO, NODES,
//! SLOTS, SHARDS, keys per slot), READONLY/READWRITE/ASKING; changes: `cluster_admin.rs`.

use std::cell::{Ref, RefMut};

use super::cluster_admin as admin;
use super::command::reply_help;
use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx};
use crate::cluster::nodes_conf;
use crate::cluster::{key_slot, ClusterState, NodeFlags, NodeIndex, SLOTS};

const STALE: Flags = Flags::STALE;
const ADMIN: Flags = Flags::ADMIN.with(Flags::STALE);
const CONN: Flags = Flags::FAST.with(Flags::LOADING).with(Flags::STALE);

super::table::family_spec!(, "cluster");

const SUBCOMMANDS: &[CommandSpec] = &[
    spec(
        "addslots",
        -3,
        ADMIN,
        admin::addslots,
        "3.0.0",
        "Assigns new hash slots to a node",
    ),
    spec(
        "addslotsrange",
        -4,
        ADMIN,
        admin::addslotsrange,
        "7.0.0",
        "Assigns new hash slot ranges to a node",
    ),
    spec(
        "bumpepoch",
        2,
        ADMIN,
        admin::bumpepoch,
        "3.0.0",
        "Advances the cluster config epoch",
    ),
    spec(
        "count-failure-reports",
        3,
        ADMIN,
        count_failure_reports,
        "3.0.0",
        "Returns the number of active failure reports active for a node",
    ),
    spec(
        "countkeysinslot",
        3,
        STALE,
        countkeysinslot,
        "3.0.0",
        "Returns the number of keys in a hash slot",
    ),
    spec(
        "delslots",
        -3,
        ADMIN,
        admin::delslots,
        "3.0.0",
        "Sets hash slots as unbound for a node",
    ),
    spec(
        "delslotsrange",
        -4,
        ADMIN,
        admin::delslotsrange,
        "7.0.0",
        "Sets hash slot ranges as unbound for a node",
    ),
    spec(
        "failover",
        -2,
        ADMIN,
        crate::cluster::manual_failover::command,
        "3.0.0",
        "Forces a replica to perform a manual failover of its master.",
    ),
    spec(
        "flushslots",
        2,
        ADMIN,
        admin::flushslots,
        "3.0.0",
        "Deletes all slots information from a node",
    ),
    spec(
        "forget",
        3,
        ADMIN,
        admin::forget,
        "3.0.0",
        "Removes a node from the nodes table",
    ),
    spec(
        "getkeysinslot",
        4,
        STALE,
        getkeysinslot,
        "3.0.0",
        "Returns the key names in a hash slot",
    ),
    spec(
        "help",
        2,
        Flags::LOADING.with(STALE),
        help,
        "5.0.0",
        "Returns helpful text about the different subcommands",
    ),
    spec(
        "info",
        2,
        STALE,
        info,
        "3.0.0",
        "Returns information about the state of a node",
    ),
    spec(
        "keyslot",
        3,
        STALE,
        keyslot,
        "3.0.0",
        "Returns the hash slot for a key",
    ),
    spec(
        "links",
        2,
        STALE,
        links,
        "7.0.0",
        "Returns a list of all TCP links to and from peer nodes",
    ),
    spec(
        "meet",
        -4,
        ADMIN,
        admin::meet,
        "3.0.0",
        "Forces a node to handshake with another node",
    ),
    spec("myid", 2, STALE, myid, "3.0.0", "Returns the ID of a node"),
    spec(
        "myshardid",
        2,
        STALE,
        myshardid,
        "7.2.0",
        "Returns the shard ID of a node",
    ),
    spec(
        "nodes",
        2,
        STALE,
        nodes,
        "3.0.0",
        "Returns the cluster configuration for a node",
    ),
    spec(
        "replicas",
        3,
        ADMIN,
        replicas,
        "5.0.0",
        "Lists the replica nodes of a master node",
    ),
    spec(
        "replicate",
        3,
        ADMIN,
        admin::replicate,
        "3.0.0",
        "Configure a node as replica of a master node",
    ),
    spec("reset", -2, ADMIN, admin::reset, "3.0.0", "Resets a node"),
    spec(
        "saveconfig",
        2,
        ADMIN,
        admin::saveconfig,
        "3.0.0",
        "Forces a node to save the cluster configuration to disk",
    ),
    spec(
        "set-config-epoch",
        3,
        ADMIN,
        admin::set_config_epoch,
        "3.0.0",
        "Sets the configuration epoch for a new node",
    ),
    spec(
        "setslot",
        -4,
        ADMIN,
        admin::setslot,
        "3.0.0",
        "Binds a hash slot to a node",
    ),
    spec(
        "shards",
        2,
        STALE,
        shards,
        "7.0.0",
        "Returns the mapping of cluster slots to shards",
    ),
    spec(
        "slaves",
        3,
        ADMIN,
        replicas,
        "3.0.0",
        "Lists the replica nodes of a master node",
    ),
    spec(
        "slots",
        2,
        STALE,
        slots,
        "3.0.0",
        "Returns the mapping of cluster slots to nodes",
    ),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cluster", -2, Flags::NONE, help)
        .doc("cluster", "3.0.0", "A container for Redis Cluster commands")
        .subcommands(SUBCOMMANDS),
    CommandSpec::new("readonly", 1, CONN, readonly)
        .acl(&["connection"])
        .doc(
            "cluster",
            "3.0.0",
            "Enables read-only queries for a connection to a Redis Cluster replica node",
        ),
    CommandSpec::new("readwrite", 1, CONN, readwrite)
        .acl(&["connection"])
        .doc(
            "cluster",
            "3.0.0",
            "Enables read-write queries for a connection to a Reids Cluster replica node",
        ),
    CommandSpec::new("asking", 1, Flags::FAST, asking)
        .acl(&["connection"])
        .doc(
            "cluster",
            "3.0.0",
            "Signals that a cluster client is following an -ASK redirect",
        ),
];

fn not_enabled() -> CmdError {
    CmdError::msg("ERR This instance has cluster support disabled")
}

/// The cluster state, or the error commands get when cluster mode is off.
pub(super) fn state<'a>(ctx: &Ctx<'a>) -> Result<Ref<'a, ClusterState>, CmdError> {
    ctx.srv
        .cluster
        .as_ref()
        .map(|c| c.borrow())
        .ok_or_else(not_enabled)
}

pub(super) fn state_mut<'a>(ctx: &Ctx<'a>) -> Result<RefMut<'a, ClusterState>, CmdError> {
    ctx.srv
        .cluster
        .as_ref()
        .map(|c| c.borrow_mut())
        .ok_or_else(not_enabled)
}

/// A node named by its id, or `ERR Unknown node <id>`.
pub(super) fn known_node(state: &ClusterState, id: &[u8]) -> Result<NodeIndex, CmdError> {
    state
        .lookup(id)
        .ok_or_else(|| CmdError::msg(format!("ERR Unknown node {}", String::from_utf8_lossy(id))))
}

const HELP: &[&str] = &[
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
];

fn help(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    state(ctx)?;
    reply_help(ctx.out, "CLUSTER", HELP);
    Ok(())
}

fn info(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let st = state(ctx)?;
    let (mut assigned, mut pfail, mut fail) = (0, 0, 0);
    for owner in st.slot_owner.iter().flatten() {
        assigned += 1;
        let n = st.node(*owner);
        if n.is_failing() {
            fail += 1;
        } else if n.is_pfailing() {
            pfail += 1;
        }
    }
    let me = st.me();
    let my_epoch = match st.master_of(st.myself) {
        Some(m) if m != st.myself => st.node(m).config_epoch,
        _ => me.config_epoch,
    };
    let mut text = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\n\
         cluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\n\
         cluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n",
        if st.ok { "ok" } else { "fail" },
        assigned - pfail - fail,
        st.iter().count(),
        st.size,
        st.current_epoch,
    );
    for (dir, counts) in [("sent", &st.stats.sent), ("received", &st.stats.received)] {
        // In message type order, as Redis lists them.
        for kind in crate::cluster::bus::frame::STAT_NAMES {
            if let Some(n) = counts.get(kind).filter(|n| **n > 0) {
                text.push_str(&format!("cluster_stats_messages_{kind}_{dir}:{n}\r\n"));
            }
        }
        let total: u64 = counts.values().sum();
        text.push_str(&format!("cluster_stats_messages_{dir}:{total}\r\n"));
    }
    text.push_str(&format!(
        "total_cluster_links_buffer_limit_exceeded:{}\r\n",
        st.stats.links_buffer_limit_exceeded
    ));
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

fn nodes(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let text = nodes_conf::describe(&*state(ctx)?);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

fn myid(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let id = state(ctx)?.me().id.clone();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

/// CLUSTER MYSHARDID (Redis 7.2): the id of my shard, shared with my master/replicas.
fn myshardid(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let id = state(ctx)?.me().shard_id.clone();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

fn keyslot(ctx: &mut Ctx, args: &Args) -> CmdResult {
    state(ctx)?;
    ctx.out.int(key_slot(args.get(2)) as i64);
    Ok(())
}

fn countkeysinslot(ctx: &mut Ctx, args: &Args) -> CmdResult {
    state(ctx)?;
    let slot = args.i64(2)?;
    if !(0..SLOTS as i64).contains(&slot) {
        return Err(CmdError::msg("ERR Invalid slot"));
    }
    let db = ctx.srv.dbs[0].borrow();
    let n = db.slot_keys().map_or(0, |k| k.count(slot as usize));
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn getkeysinslot(ctx: &mut Ctx, args: &Args) -> CmdResult {
    state(ctx)?;
    let slot = args.i64(2)?;
    let max = args.i64(3)?;
    if !(0..SLOTS as i64).contains(&slot) || max < 0 {
        return Err(CmdError::msg("ERR Invalid slot or number of keys"));
    }
    let db = ctx.srv.dbs[0].borrow();
    let Some(index) = db.slot_keys() else {
        ctx.out.array(0);
        return Ok(());
    };
    let n = index.count(slot as usize).min(max as usize);
    ctx.out.array(n);
    for key in index.keys(slot as usize, n) {
        ctx.out.bulk(key);
    }
    Ok(())
}

fn count_failure_reports(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let st = state(ctx)?;
    let n = st.node(known_node(&st, args.get(2))?).fail_reports.len();
    drop(st);
    ctx.out.int(n as i64);
    Ok(())
}

fn replicas(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let st = state(ctx)?;
    let i = known_node(&st, args.get(2))?;
    if !st.node(i).is_master() {
        return Err(CmdError::msg("ERR The specified node is not a master"));
    }
    let lines: Vec<String> = st
        .replicas_of(i)
        .into_iter()
        .map(|r| nodes_conf::node_line(&st, r))
        .collect();
    drop(st);
    ctx.out.array(lines.len());
    for line in lines {
        ctx.out.bulk(line.as_bytes());
    }
    Ok(())
}

fn links(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let st = state(ctx)?;
    crate::cluster::bus::reply_links(&st, ctx.out);
    Ok(())
}

/// A node as CLUSTER SLOTS lists it: ip, port, id and (empty) extra endpoints.
fn slot_node(ctx: &mut Ctx, st: &ClusterState, i: NodeIndex) {
    let n = st.node(i);
    ctx.out.array(4);
    ctx.out.bulk(n.ip.as_bytes());
    ctx.out.int(n.port as i64);
    ctx.out.bulk(n.id.as_bytes());
    ctx.out.map(0);
}

/// Masters with slots, each with its slot ranges and serving replicas.
fn slot_ranges(st: &ClusterState) -> Vec<(NodeIndex, Vec<(usize, usize)>)> {
    st.iter()
        .filter(|(_, n)| n.is_master() && !n.slots.is_empty())
        .map(|(i, n)| (i, n.slots.ranges()))
        .collect()
}

fn slots(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let st = state(ctx)?;
    let masters = slot_ranges(&st);
    let total: usize = masters.iter().map(|(_, r)| r.len()).sum();
    ctx.out.array(total);
    for (master, ranges) in masters {
        let replicas: Vec<NodeIndex> = st
            .replicas_of(master)
            .into_iter()
            .filter(|&r| !st.node(r).is_failing())
            .collect();
        for (start, end) in ranges {
            ctx.out.array(3 + replicas.len());
            ctx.out.int(start as i64);
            ctx.out.int(end as i64);
            slot_node(ctx, &st, master);
            for &r in &replicas {
                slot_node(ctx, &st, r);
            }
        }
    }
    Ok(())
}

/// One node of a CLUSTER SHARDS entry.
fn shard_node(ctx: &mut Ctx, st: &ClusterState, i: NodeIndex) {
    let n = st.node(i);
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"id");
    out.bulk(n.id.as_bytes());
    out.bulk(b"port");
    out.int(n.port as i64);
    out.bulk(b"ip");
    out.bulk(n.ip.as_bytes());
    out.bulk(b"endpoint");
    out.bulk(n.ip.as_bytes());
    out.bulk(b"role");
    out.bulk(if n.is_master() {
        &b"master"[..]
    } else {
        b"replica"
    });
    out.bulk(b"replication-offset");
    out.int(0);
    out.bulk(b"health");
    let health: &[u8] = if n.is_failing() {
        b"fail"
    } else if !n.is_master() {
        // No replication offset yet: Redis calls such a replica loading.
        b"loading"
    } else {
        b"online"
    };
    out.bulk(health);
}

fn shards(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    let st = state(ctx)?;
    let masters: Vec<NodeIndex> = st
        .iter()
        .filter(|(_, n)| n.is_master())
        .map(|(i, _)| i)
        .collect();
    ctx.out.array(masters.len());
    for m in masters {
        let ranges = st.node(m).slots.ranges();
        ctx.out.map(2);
        ctx.out.bulk(b"slots");
        ctx.out.array(ranges.len() * 2);
        for (start, end) in ranges {
            ctx.out.int(start as i64);
            ctx.out.int(end as i64);
        }
        ctx.out.bulk(b"nodes");
        let replicas = st.replicas_of(m);
        ctx.out.array(1 + replicas.len());
        shard_node(ctx, &st, m);
        for r in replicas {
            shard_node(ctx, &st, r);
        }
    }
    Ok(())
}

fn readonly(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.srv.cluster.is_none() {
        return Err(not_enabled());
    }
    ctx.client.readonly = true;
    ctx.out.ok();
    Ok(())
}

fn readwrite(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.srv.cluster.is_none() {
        return Err(not_enabled());
    }
    ctx.client.readonly = false;
    ctx.out.ok();
    Ok(())
}

fn asking(ctx: &mut Ctx, _args: &Args) -> CmdResult {
    if ctx.srv.cluster.is_none() {
        return Err(not_enabled());
    }
    ctx.client.asking = true;
    ctx.out.ok();
    Ok(())
}

/// True when `flags` mark a node that serves no slots of its own.
pub(super) fn is_replica(flags: NodeFlags) -> bool {
    flags.has(NodeFlags::REPLICA)
}
