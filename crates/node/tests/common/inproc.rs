//! Running commands in-process, through the same dispatch a connection uses, for tests
//! that look inside the server (propagation, fuzzing) without a socket.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use node::blocking::{self, BlockedClient};
use node::client::{Client, ClientShared};
use node::cmd::{dispatch, OwnedArgs};
use node::config::Config;
use node::db::stream::StreamId;
use node::db::{SmallBytes, Value};
use node::server::Server;
use resp::ReplyBuf;

pub struct InProc {
    pub srv: Rc<Server>,
    pub client: Client,
    pub out: ReplyBuf,
}

impl InProc {
    /// A server built from config text (`redis.conf` syntax), with one client.
    pub fn new(config_text: &str) -> InProc {
        let mut config = Config::default();
        config.load(config_text).expect("valid config");
        let srv = Server::new(config);
        let shared = Rc::new(ClientShared::new(
            srv.next_client_id(),
            "127.0.0.1:1".into(),
            "127.0.0.1:2".into(),
            -1,
            0,
        ));
        srv.clients.borrow_mut().insert(shared.id, shared.clone());
        let client = Client::new(shared, true);
        InProc {
            srv,
            client,
            out: ReplyBuf::new(false),
        }
    }

    /// Runs one command given as byte strings; returns its raw reply.
    pub fn run_bytes<'a>(&mut self, args: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let owned = OwnedArgs::from_slices(args);
        self.out.buf.clear();
        let _ = dispatch::execute(&self.srv, &mut self.client, &mut self.out, &owned.args());
        std::mem::take(&mut self.out.buf)
    }

    /// Runs one command written as words separated by spaces.
    pub fn run(&mut self, line: &str) -> Vec<u8> {
        self.run_bytes(line.split(' ').map(str::as_bytes))
    }
}

/// A value as plain data, for comparing whole datasets: lists in order, hashes and
/// sets sorted, zset scores as exact text, streams with their IDs and counters.
#[derive(Clone, Debug, PartialEq)]
pub enum Dumped {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// Member → score (`{:?}` of the f64, which round-trips exactly).
    ZSet(BTreeMap<Vec<u8>, String>),
    Stream {
        entries: Vec<(String, Vec<Vec<u8>>)>,
        last_id: String,
        entries_added: u64,
        max_deleted_id: String,
    },
}

/// Every live key of every database: (db, key) → (value, absolute expiry in ms).
pub type Dataset = BTreeMap<(usize, Vec<u8>), (Dumped, Option<u64>)>;

fn id_text(id: StreamId) -> String {
    format!("{}-{}", id.ms, id.seq)
}

fn dump_value(v: &Value) -> Dumped {
    let bytes = |b: &SmallBytes| b.to_vec();
    match v {
        Value::Str(s) => Dumped::Str(bytes(s)),
        Value::List(l) => Dumped::List(l.iter().map(bytes).collect()),
        Value::Hash(h) => Dumped::Hash(h.iter().map(|(f, v)| (bytes(f), bytes(v))).collect()),
        Value::Set(s) => Dumped::Set(s.iter().map(bytes).collect()),
        Value::ZSet(z) => Dumped::ZSet(
            z.iter()
                .map(|(m, s)| (bytes(m), format!("{s:?}")))
                .collect(),
        ),
        Value::Stream(s) => Dumped::Stream {
            entries: s
                .range(StreamId::MIN, StreamId::MAX, false)
                .map(|(id, fields)| (id_text(*id), fields.iter().map(<[u8]>::to_vec).collect()))
                .collect(),
            last_id: id_text(s.last_id),
            entries_added: s.entries_added,
            max_deleted_id: id_text(s.max_deleted_id),
        },
    }
}

/// The whole dataset as of `now_ms` (keys expired by then are left out), so that two
/// servers can be compared at one instant.
pub fn dataset_dump_at(srv: &Server, now_ms: u64) -> Dataset {
    let mut all = Dataset::new();
    for (index, db) in srv.dbs.iter().enumerate() {
        let mut db = db.borrow_mut();
        db.now_ms = now_ms;
        for (key, value, at) in db.iter_with_expiry() {
            all.insert((index, key.to_vec()), (dump_value(value), at));
        }
    }
    all
}

/// The whole dataset now.
pub fn dataset_dump(srv: &Server) -> Dataset {
    dataset_dump_at(srv, now_ms())
}

pub fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.expect("clock after 1970").as_millis() as u64
}

impl InProc {
    /// Runs `line` as another client; if it must wait, parks that client on its keys
    /// the way a connection does, so a later write serves it. Returns the parked
    /// client (None if it answered at once).
    pub fn park_other_client(&self, line: &str) -> Option<Rc<BlockedClient>> {
        let shared = Rc::new(ClientShared::new(
            self.srv.next_client_id(),
            "127.0.0.1:3".into(),
            "127.0.0.1:2".into(),
            -1,
            0,
        ));
        let mut client = Client::new(shared.clone(), true);
        client.db = self.client.db;
        let args = OwnedArgs::from_slices(line.split(' ').map(str::as_bytes));
        let mut out = ReplyBuf::new(false);
        let req = dispatch::execute(&self.srv, &mut client, &mut out, &args.args())?;
        let blocked = Rc::new(BlockedClient {
            shared,
            db: client.db,
            args: req.rewritten.unwrap_or(args),
            keys: req.keys.iter().map(|k| SmallBytes::new(k)).collect(),
            served: Default::default(),
        });
        blocking::register(&self.srv, &blocked);
        Some(blocked)
    }
}
