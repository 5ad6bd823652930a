//! The server's shared state: configuration, databases, connected clients, pub/sub
//! registry and statistics. One `Server` lives on the node's single executor thread.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use tokio::sync::Notify;

use crate::client::ClientShared;
use crate::config::Config;
use crate::db::Db;
use crate::propagate::Propagator;
use crate::pubsub::PubSub;

/// Counters INFO reports.
#[derive(Default)]
pub struct Stats {
    pub total_connections_received: Cell<u64>,
    pub total_commands_processed: Cell<u64>,
    pub rejected_connections: Cell<u64>,
    pub keyspace_hits: Cell<u64>,
    pub keyspace_misses: Cell<u64>,
    pub total_net_input_bytes: Cell<u64>,
    pub total_net_output_bytes: Cell<u64>,
    pub total_error_replies: Cell<u64>,
    pub blocked_clients: Cell<u64>,
    pub client_output_limit_disconnections: Cell<u64>,
    pub client_query_limit_disconnections: Cell<u64>,
    pub expired_keys_active: Cell<u64>,
}

impl Stats {
    pub fn incr(cell: &Cell<u64>, by: u64) {
        cell.set(cell.get() + by);
    }
}

pub struct Server {
    pub config: RefCell<Config>,
    pub dbs: Vec<RefCell<Db>>,
    pub clients: RefCell<BTreeMap<u64, Rc<ClientShared>>>,
    pub pubsub: RefCell<PubSub>,
    pub stats: Stats,
    next_client_id: Cell<u64>,
    pub start_ms: u64,
    pub run_id: String,
    /// Changes since the last save (Redis's `server.dirty`), shared with every `Db`.
    pub dirty: Rc<Cell<u64>>,
    /// Where changes go after they are made (AOF, replicas).
    pub propagator: RefCell<Propagator>,
    /// The append-only file (state, files, rewrite).
    pub aof: crate::persist::aof::Aof,
    pub last_save_ms: Cell<u64>,
    /// Set by SHUTDOWN or a signal; the listener and cron stop on it.
    pub shutting_down: Cell<bool>,
    pub shutdown: Notify,
    /// Snapshot bookkeeping: running BGSAVE, last status, counters.
    pub snapshot: RefCell<crate::persist::snapshot::State>,
    rng: Cell<u64>,
    /// Actual TCP port (differs from the config when it asked for port 0).
    pub listen_port: Cell<u16>,
    /// The cluster state, when `cluster-enabled yes`.
    pub cluster: Option<RefCell<crate::cluster::ClusterState>>,
    /// Replication: role, ids, master link, counters.
    pub repl: RefCell<crate::repl::ReplState>,
}

impl Server {
    pub fn new(config: Config) -> Rc<Server> {
        let now = crate::clock::now_ms();
        let seed = now ^ ((std::process::id() as u64) << 32) ^ 0x9E37_79B9_7F4A_7C15;
        let dirty = Rc::new(Cell::new(0));
        let cluster = crate::cluster::from_config(&config);
        let dbs = (0..config.databases)
            .map(|_| {
                let mut db = Db::with_dirty_counter(dirty.clone());
                if cluster.is_some() {
                    db.enable_slot_keys();
                }
                RefCell::new(db)
            })
            .collect();
        let srv = Server {
            dbs,
            clients: RefCell::default(),
            pubsub: RefCell::default(),
            stats: Stats::default(),
            next_client_id: Cell::new(1),
            start_ms: now,
            run_id: String::new(),
            dirty,
            propagator: RefCell::default(),
            aof: Default::default(),
            last_save_ms: Cell::new(now / 1000 * 1000),
            shutting_down: Cell::new(false),
            shutdown: Notify::new(),
            snapshot: RefCell::default(),
            rng: Cell::new(seed),
            listen_port: Cell::new(config.port),
            cluster,
            config: RefCell::new(config),
            repl: RefCell::new(crate::repl::ReplState::new(String::new())),
        };
        let run_id: String = (0..40)
            .map(|_| format!("{:x}", srv.random() % 16))
            .collect();
        *srv.repl.borrow_mut() = crate::repl::ReplState::new(crate::repl::random_id(&srv));
        Rc::new(Server { run_id, ..srv })
    }

    pub fn next_client_id(&self) -> u64 {
        let id = self.next_client_id.get();
        self.next_client_id.set(id + 1);
        id
    }

    /// A fast pseudo-random number (xorshift64*), not for cryptography.
    pub fn random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Counts a change for persistence (`rdb_changes_since_last_save`).
    pub fn add_dirty(&self, n: u64) {
        self.dirty.set(self.dirty.get() + n);
    }

    pub fn request_shutdown(&self) {
        self.shutting_down.set(true);
        self.shutdown.notify_waiters();
        for c in self.clients.borrow().values() {
            c.request_kill();
        }
    }
}
