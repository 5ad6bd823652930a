//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK …). As in Redis, a
//! write that makes a key ready serves the blocked clients in the order they blocked,
//! right after the write, by running their command again on their behalf.

use std::cell::Cell;
use std::rc::Rc;

use resp::ReplyBuf;

use crate::client::{Client, ClientShared};
use crate::cmd::{dispatch, OwnedArgs};
use crate::db::SmallBytes;
use crate::server::Server;

/// What a handler asks for when it cannot answer yet.
pub struct BlockRequest {
    pub keys: Vec<Vec<u8>>,
    /// Absolute deadline in Unix ms; `None` blocks forever.
    pub deadline_ms: Option<u64>,
    /// The command to run again when a key is ready, if it differs from the original
    /// (XREAD replaces `$` with the last ID at the time it blocked).
    pub rewritten: Option<OwnedArgs>,
}

/// A client waiting on keys.
pub struct BlockedClient {
    pub shared: Rc<ClientShared>,
    pub db: usize,
    pub args: OwnedArgs,
    pub keys: Vec<SmallBytes>,
    /// Set once the client has been served (its reply is in `pending_out`).
    pub served: Cell<bool>,
}

/// Registers `blocked` on each of its keys.
pub fn register(srv: &Server, blocked: &Rc<BlockedClient>) {
    let mut db = srv.dbs[blocked.db].borrow_mut();
    for key in &blocked.keys {
        db.blocked
            .entry(key.clone())
            .or_default()
            .push_back(blocked.clone());
    }
    blocked.shared.blocked.set(true);
    srv.stats
        .blocked_clients
        .set(srv.stats.blocked_clients.get() + 1);
}

/// Removes `blocked` from every key it waits on.
pub fn unregister(srv: &Server, blocked: &Rc<BlockedClient>) {
    let mut db = srv.dbs[blocked.db].borrow_mut();
    for key in &blocked.keys {
        if let Some(queue) = db.blocked.get_mut(key.as_slice()) {
            queue.retain(|b| !Rc::ptr_eq(b, blocked));
            if queue.is_empty() {
                db.blocked.remove(key.as_slice());
            }
        }
    }
    if blocked.shared.blocked.replace(false) {
        srv.stats
            .blocked_clients
            .set(srv.stats.blocked_clients.get() - 1);
    }
}

/// Serves clients blocked on keys that became ready, until none are left; a served
/// command may itself make other keys ready (BLMOVE pushes to its destination).
pub fn serve_ready_keys(srv: &Server, db_index: usize) {
    loop {
        let key = {
            let mut db = srv.dbs[db_index].borrow_mut();
            if db.ready_keys.is_empty() {
                return;
            }
            db.ready_keys.remove(0)
        };
        serve_key(srv, db_index, &key);
    }
}

fn serve_key(srv: &Server, db_index: usize, key: &[u8]) {
    let waiting: Vec<Rc<BlockedClient>> = match srv.dbs[db_index].borrow().blocked.get(key) {
        Some(queue) => queue.iter().cloned().collect(),
        None => return,
    };
    for blocked in waiting {
        if blocked.served.get() || !srv.dbs[db_index].borrow_mut().contains(key) {
            continue;
        }
        let mut out = ReplyBuf::new(blocked.shared.resp.get() == 3);
        let mut client = Client::new(blocked.shared.clone(), true);
        client.db = blocked.db;
        let still_blocked =
            dispatch::run_for_blocked(srv, &mut client, &mut out, &blocked.args.args());
        if still_blocked {
            continue;
        }
        blocked.served.set(true);
        unregister(srv, &blocked);
        blocked
            .shared
            .pending_out
            .borrow_mut()
            .extend_from_slice(&out.buf);
        blocked.shared.wake.notify_one();
    }
}
