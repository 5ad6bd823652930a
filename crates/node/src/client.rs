//! A connected client: `ClientShared` is what other tasks may see or touch (name, output
//! for pushes, kill flag), `Client` is the connection's own session state.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

use tokio::sync::Notify;

use crate::cmd::OwnedArgs;

/// Client state visible to the rest of the server (CLIENT LIST, pub/sub delivery,
/// unblocking, CLIENT KILL, idle timeout).
pub struct ClientShared {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created_ms: u64,
    pub name: RefCell<Vec<u8>>,
    pub lib_name: RefCell<Vec<u8>>,
    pub lib_ver: RefCell<Vec<u8>>,
    pub last_interaction_ms: Cell<u64>,
    pub last_cmd: Cell<&'static str>,
    /// Subcommand of the last command (`""` if none), for CLIENT LIST's `cmd=a|b`.
    pub last_sub: Cell<&'static str>,
    pub db: Cell<usize>,
    pub resp: Cell<u8>,
    /// Replies and pushes produced by other clients (pub/sub messages, the reply of a
    /// blocking command served by another client's write). Written before own replies.
    pub pending_out: RefCell<Vec<u8>>,
    /// Set when the client must be disconnected (CLIENT KILL, output limit, timeout).
    pub kill: Cell<bool>,
    /// Wakes the connection task: output is pending, it was unblocked or killed.
    pub wake: Notify,
    pub subscriptions: Cell<usize>,
    pub pattern_subscriptions: Cell<usize>,
    pub shard_subscriptions: Cell<usize>,
    pub blocked: Cell<bool>,
    pub in_multi: Cell<i64>,
    pub query_buf_len: Cell<usize>,
    pub no_evict: Cell<bool>,
    /// When the pub/sub output first went over the soft limit, in Unix ms (0: not over).
    pub soft_limit_since_ms: Cell<u64>,
    /// Normal client, a replica of ours, or our master's stream.
    pub link_kind: Cell<crate::repl::LinkKind>,
}

impl ClientShared {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32, now_ms: u64) -> Self {
        ClientShared {
            id,
            addr,
            laddr,
            fd,
            created_ms: now_ms,
            name: RefCell::default(),
            lib_name: RefCell::default(),
            lib_ver: RefCell::default(),
            last_interaction_ms: Cell::new(now_ms),
            last_cmd: Cell::new("NULL"),
            last_sub: Cell::new(""),
            db: Cell::new(0),
            resp: Cell::new(2),
            pending_out: RefCell::default(),
            kill: Cell::new(false),
            wake: Notify::new(),
            subscriptions: Cell::new(0),
            pattern_subscriptions: Cell::new(0),
            shard_subscriptions: Cell::new(0),
            blocked: Cell::new(false),
            in_multi: Cell::new(-1),
            query_buf_len: Cell::new(0),
            no_evict: Cell::new(false),
            soft_limit_since_ms: Cell::new(0),
            link_kind: Cell::default(),
        }
    }

    /// Total subscriptions of all kinds.
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.get() + self.pattern_subscriptions.get() + self.shard_subscriptions.get()
    }

    /// Asks the connection task to close the connection.
    pub fn request_kill(&self) {
        self.kill.set(true);
        self.wake.notify_one();
    }
}

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    SkipNext,
}

/// A MULTI block being queued.
#[derive(Default)]
pub struct MultiState {
    pub queued: Vec<OwnedArgs>,
    /// A command failed to queue (unknown, wrong arity): EXEC answers EXECABORT.
    pub aborted: bool,
}

/// The connection's own session state.
pub struct Client {
    pub shared: Rc<ClientShared>,
    pub db: usize,
    pub authenticated: bool,
    pub multi: Option<MultiState>,
    /// Keys (db, key) under WATCH, and the flag set when one of them changes.
    pub watched: Vec<(usize, Vec<u8>)>,
    pub watch_dirty: Rc<Cell<bool>>,
    /// Watched keys that were already expired when watched (not counted as changes).
    pub watched_expired: Vec<bool>,
    pub channels: BTreeSet<Vec<u8>>,
    pub patterns: BTreeSet<Vec<u8>>,
    pub shard_channels: BTreeSet<Vec<u8>>,
    pub reply_mode: ReplyMode,
    /// Close after the pending replies are written (QUIT, protocol error).
    pub close_after_reply: bool,
    /// True while EXEC runs the queued commands (blocking commands must not block).
    pub in_exec: bool,
    /// Cluster mode: ASKING was sent (serve the next command for an importing slot).
    pub asking: bool,
    /// Cluster mode: READONLY was sent (a replica serves reads of its master's slots).
    pub readonly: bool,
    /// PSYNC / WAIT requests for the connection task.
    pub repl: crate::repl::ClientRepl,
    /// Replays this node's own AOF at start-up: its commands ran here before, whatever
    /// the slots say now (nodes.conf is read after the data), so no redirection.
    pub replaying: bool,
}

impl Client {
    pub fn new(shared: Rc<ClientShared>, authenticated: bool) -> Self {
        Client {
            shared,
            db: 0,
            authenticated,
            multi: None,
            watched: Vec::new(),
            watch_dirty: Rc::new(Cell::new(false)),
            watched_expired: Vec::new(),
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            shard_channels: BTreeSet::new(),
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            in_exec: false,
            asking: false,
            readonly: false,
            repl: Default::default(),
            replaying: false,
        }
    }

    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// In RESP2, a client with subscriptions may only run (un)subscribe commands.
    pub fn in_subscribe_mode(&self) -> bool {
        self.shared.resp.get() == 2 && self.shared.subscription_count() > 0
    }
}
