//! Where a command may run in cluster mode (Redis's `getNodeByQuery` and
//! `clusterRedirectClient`): all its keys in one slot, served here or redirected.

use super::key_slot;
use super::state::{ClusterState, NodeFlags, NodeIndex};
use crate::client::Client;
use crate::cmd::table::{CommandSpec, Flags};
use crate::cmd::{dispatch, Args, CmdError};
use crate::server::Server;

/// Why a command cannot run here (Redis's `CLUSTER_REDIR_*`).
enum Redirect {
    CrossSlot,
    Unstable,
    DownState,
    DownReadOnlyState,
    DownUnbound,
    Moved(u16, NodeIndex),
    Ask(u16, NodeIndex),
    /// Writes held back during a manual failover (Redis pauses the client instead).
    Paused,
}

impl Redirect {
    fn into_error(self, state: &ClusterState) -> CmdError {
        let addr = |i: NodeIndex| {
            let n = state.node(i);
            format!("{}:{}", n.ip, n.port)
        };
        CmdError::msg(match self {
            Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Redirect::Unstable => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
            Redirect::DownState => "CLUSTERDOWN The cluster is down".into(),
            Redirect::DownReadOnlyState => {
                "CLUSTERDOWN The cluster is down and only accepts read commands".into()
            }
            Redirect::DownUnbound => "CLUSTERDOWN Hash slot not served".into(),
            Redirect::Moved(slot, i) => format!("MOVED {slot} {}", addr(i)),
            Redirect::Ask(slot, i) => format!("ASK {slot} {}", addr(i)),
            Redirect::Paused => "TRYAGAIN Writes are paused for a manual failover".into(),
        })
    }
}

/// Whether the command names keys (or is EXEC, which runs queued keyed commands).
pub fn may_need_redirect(cmd: &CommandSpec, spec: &CommandSpec) -> bool {
    spec.keys.0 > 0 || spec.keys_fn.is_some() || cmd.name == "exec"
}

/// The error a command gets instead of running here, if any. An EXEC that cannot run
/// here discards its transaction (the caller flags other commands' transactions).
pub fn check(
    srv: &Server,
    client: &mut Client,
    cmd: &'static CommandSpec,
    spec: &'static CommandSpec,
    args: &Args,
) -> Option<CmdError> {
    let cell = srv.cluster.as_ref()?;
    let state = cell.borrow();
    let redirect = if cmd.name == "exec" {
        // EXEC without MULTI just fails later.
        let queued = &client.multi.as_ref()?.queued;
        let views: Vec<Args> = queued.iter().map(|q| q.args()).collect();
        let commands: Vec<(&'static CommandSpec, &Args)> = views
            .iter()
            .filter_map(|a| dispatch::resolve(a).ok().map(|(c, s)| (s.unwrap_or(c), a)))
            .collect();
        node_for_query(srv, &state, client, cmd, true, &commands)
    } else {
        node_for_query(srv, &state, client, cmd, false, &[(spec, args)])
    };
    let err = redirect.err()?.into_error(&state);
    if cmd.name == "exec" {
        crate::cmd::multi::end_transaction(srv, client);
    }
    Some(err)
}

/// Redis's `getNodeByQuery`: Ok when the command may run on this node.
fn node_for_query(
    srv: &Server,
    state: &ClusterState,
    client: &Client,
    cmd: &CommandSpec,
    is_exec: bool,
    commands: &[(&'static CommandSpec, &Args)],
) -> Result<(), Redirect> {
    let pubsub_shard = matches!(cmd.name, "ssubscribe" | "sunsubscribe" | "spublish");
    let mut first: Option<&[u8]> = None;
    let mut slot = 0u16;
    let mut owner = None;
    let (mut migrating, mut importing, mut multiple_keys) = (false, false, false);
    let mut missing_keys = 0;
    for (spec, args) in commands {
        for pos in spec.key_positions(args) {
            let key = args.get(pos);
            match first {
                None => {
                    first = Some(key);
                    slot = key_slot(key);
                    let Some(n) = state.slot_owner[slot as usize] else {
                        return Err(Redirect::DownUnbound);
                    };
                    owner = Some(n);
                    if n == state.myself && state.migrating_to.contains_key(&slot) {
                        migrating = true;
                    } else if state.importing_from.contains_key(&slot) {
                        importing = true;
                    }
                }
                Some(f) if f != key => {
                    if key_slot(key) != slot {
                        return Err(Redirect::CrossSlot);
                    }
                    multiple_keys = true;
                }
                Some(_) => {}
            }
            if (migrating || importing) && !pubsub_shard && !key_exists(srv, key) {
                missing_keys += 1;
            }
        }
    }
    // No key at all: the command runs anywhere.
    let Some(owner) = owner else {
        return Ok(());
    };
    let is_write = commands.iter().any(|(s, _)| s.flags.has(Flags::WRITE));
    if is_write && owner == state.myself && super::manual_failover::writes_paused(state) {
        return Err(Redirect::Paused);
    }
    if !state.ok {
        if pubsub_shard {
            if !super::allow_pubsubshard_when_down(srv) {
                return Err(Redirect::DownState);
            }
        } else if !super::allow_reads_when_down(srv) {
            return Err(Redirect::DownState);
        }
        // Like Redis, EXEC itself is not a write here, whatever it queued.
        if is_write && !is_exec {
            return Err(Redirect::DownReadOnlyState);
        }
    }
    if (migrating || importing) && cmd.name == "migrate" {
        return Ok(());
    }
    if migrating && missing_keys > 0 {
        if multiple_keys {
            return Err(Redirect::Unstable);
        }
        return Err(Redirect::Ask(slot, state.migrating_to[&slot]));
    }
    if importing && (client.asking || cmd.name == "restore-asking") {
        if multiple_keys && missing_keys > 0 {
            return Err(Redirect::Unstable);
        }
        return Ok(());
    }
    let me = state.me();
    let my_master = me
        .master_id
        .as_deref()
        .and_then(|m| state.lookup(m.as_bytes()));
    if (client.readonly || pubsub_shard)
        && !is_write
        && me.flags.has(NodeFlags::REPLICA)
        && my_master == Some(owner)
    {
        return Ok(());
    }
    if owner != state.myself {
        return Err(Redirect::Moved(slot, owner));
    }
    Ok(())
}

fn key_exists(srv: &Server, key: &[u8]) -> bool {
    // Without expiring it: this is only a look (Redis's LOOKUP_NOTOUCH|NOSTATS).
    let db = srv.dbs[0].borrow();
    let now = crate::clock::now_ms();
    db.peek(key).is_some() && db.expire_at(key).is_none_or(|t| t > now)
}
