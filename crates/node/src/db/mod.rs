//! The keyspace: keys with their values and expiry times, lazy and active expiry,
//! WATCH invalidation and the registry of clients blocked on keys.

pub mod bytes;
pub mod stream;
pub mod value;
pub mod zset;

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

pub use bytes::SmallBytes;
pub use value::Value;

use crate::blocking::BlockedClient;

/// Insertion-ordered hash map with a seeded fast hasher. Index order gives O(1)
/// random picks and a SCAN cursor that survives growth (see [`Db::scan`]).
pub type HashMap<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;
pub type HashSet<K> = indexmap::IndexSet<K, foldhash::fast::RandomState>;

/// A client's WATCH on a key: the flag EXEC checks.
pub struct Watcher {
    pub client_id: u64,
    pub dirty: Rc<Cell<bool>>,
}

/// What a read does with a key whose TTL has passed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpireMode {
    /// Delete it (a master).
    #[default]
    Delete,
    /// Report it missing but keep it: a replica waits for its master's DEL.
    Hide,
    /// Treat it as live: the master's stream being applied on a replica.
    Ignore,
}

#[derive(Default)]
pub struct Db {
    keys: HashMap<SmallBytes, Value>,
    expires: HashMap<SmallBytes, u64>,
    watched: std::collections::HashMap<SmallBytes, Vec<Watcher>>,
    /// Clients blocked on each key, first blocked first served.
    pub blocked: std::collections::HashMap<SmallBytes, VecDeque<Rc<BlockedClient>>>,
    /// Keys that received data while clients were blocked on them.
    pub ready_keys: Vec<SmallBytes>,
    /// Time of the command being executed, in Unix milliseconds.
    pub now_ms: u64,
    /// Keys deleted because they expired (lazily or actively), for INFO.
    pub expired_count: u64,
    /// Changes made (Redis's `server.dirty`): one counter shared by every database of
    /// the server, so a command's effect is seen whichever databases it touched.
    pub dirty: Rc<Cell<u64>>,
    /// When true, keys deleted by expiry are queued in `expired_keys` so they can be
    /// propagated as DELs (to the AOF and replicas).
    pub track_expired: bool,
    /// True while the AOF is replayed: like Redis, nothing expires during loading, so
    /// a logged write to a key whose TTL passed while the node was down replays onto
    /// the key it was made on; expiry resumes once loading is done.
    pub loading: bool,
    pub expired_keys: Vec<SmallBytes>,
    /// Reads that found / did not find their key (INFO keyspace_hits / misses).
    pub hits: u64,
    pub misses: u64,
    /// Keys by hash slot, kept only in cluster mode.
    slot_keys: Option<Box<crate::cluster::slot_keys::SlotKeys>>,
    /// How expired keys are treated (replicas do not expire keys themselves).
    pub expire_mode: ExpireMode,
}

impl Db {
    /// A database whose changes count on `dirty`, the server's shared counter.
    pub fn with_dirty_counter(dirty: Rc<Cell<u64>>) -> Db {
        Db {
            dirty,
            ..Db::default()
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Starts keeping the keys of each hash slot (cluster mode).
    pub fn enable_slot_keys(&mut self) {
        self.slot_keys = Some(Box::default());
    }

    /// Keys by hash slot, in cluster mode.
    pub fn slot_keys(&self) -> Option<&crate::cluster::slot_keys::SlotKeys> {
        self.slot_keys.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// Removes `key` if its TTL has passed; true if it is gone (removed, or hidden
    /// on a replica).
    fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        if self.expires.is_empty() || self.loading {
            return false;
        }
        match self.expires.get(key) {
            Some(&at) if at <= self.now_ms => match self.expire_mode {
                ExpireMode::Delete => {
                    // Like Redis, a deletion by expiry is a change for WATCH.
                    self.delete_expired(key);
                    true
                }
                ExpireMode::Hide => true,
                ExpireMode::Ignore => false,
            },
            _ => false,
        }
    }

    pub fn get(&mut self, key: &[u8]) -> Option<&Value> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.keys.get(key)
    }

    /// The value at `key` without expiring it or counting a read, for commands that
    /// hold several values at once after checking each with [`Db::read`].
    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.keys.get(key)
    }

    /// A read of `key` by a command, counted in keyspace hits and misses.
    pub fn read(&mut self, key: &[u8]) -> Option<&Value> {
        let gone = self.expire_if_needed(key);
        let found = self.keys.get(key).filter(|_| !gone);
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// Records a change to `key` (Redis's `signalModifiedKey` plus `server.dirty++`).
    pub fn modified(&mut self, key: &[u8]) {
        self.add_dirty(1);
        self.touch_watched(key);
    }

    /// Counts `n` changes without naming a key (FLUSHDB, SWAPDB, XTRIM's entries).
    pub fn add_dirty(&self, n: u64) {
        self.dirty.set(self.dirty.get() + n);
    }

    /// Deletes an expired key: counted, WATCH-invalidating and queued for propagation.
    fn delete_expired(&mut self, key: &[u8]) {
        self.remove(key);
        self.expired_count += 1;
        self.touch_watched(key);
        if self.track_expired {
            self.expired_keys.push(SmallBytes::new(key));
        }
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.keys.get_mut(key)
    }

    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces `key`, dropping any TTL (as SET does).
    pub fn set(&mut self, key: &[u8], value: Value) {
        if !self.expires.is_empty() {
            self.expires.swap_remove(key);
        }
        self.set_keep_ttl(key, value);
    }

    /// Inserts or replaces `key`, keeping a TTL it already has.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        self.expire_if_needed(key);
        match self.keys.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                self.keys.insert(SmallBytes::new(key), value);
                self.note_new_key(key);
            }
        }
    }

    /// The value at `key`, created with `make` if missing. The caller type-checks it.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> Value) -> &mut Value {
        self.expire_if_needed(key);
        if !self.keys.contains_key(key) {
            self.keys.insert(SmallBytes::new(key), make());
            self.note_new_key(key);
        }
        self.keys.get_mut(key).expect("just inserted")
    }

    fn note_new_key(&mut self, key: &[u8]) {
        if let Some(index) = &mut self.slot_keys {
            index.add(key);
        }
        if !self.blocked.is_empty() && self.blocked.contains_key(key) {
            self.signal_ready(key);
        }
    }

    /// Marks `key` as having new data for clients blocked on it.
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.blocked.contains_key(key) && !self.ready_keys.iter().any(|k| &**k == key) {
            self.ready_keys.push(SmallBytes::new(key));
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        if !self.expires.is_empty() {
            self.expires.swap_remove(key);
        }
        let removed = self.keys.swap_remove(key);
        if let Some(index) = self.slot_keys.as_mut().filter(|_| removed.is_some()) {
            index.remove(key);
        }
        removed
    }

    /// Deletes `key` if it holds an aggregate left empty by a command.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if self.keys.get(key).is_some_and(Value::is_empty_aggregate) {
            self.remove(key);
        }
    }

    /// Adds a key read from persisted data: one hash lookup, no WATCH or blocking
    /// work. Returns false, changing nothing, if the key is already there.
    pub fn load_key(&mut self, key: SmallBytes, value: Value, expire_at: Option<u64>) -> bool {
        let indexmap::map::Entry::Vacant(slot) = self.keys.entry(key) else {
            return false;
        };
        if let Some(at) = expire_at {
            self.expires.insert(slot.key().clone(), at);
        }
        slot.insert(value);
        true
    }

    /// Makes room for `additional` more keys before a bulk load.
    pub fn reserve(&mut self, additional: usize) {
        self.keys.reserve(additional);
    }

    /// Absolute expiry time of `key` in Unix ms, if it has one.
    pub fn expire_at(&self, key: &[u8]) -> Option<u64> {
        self.expires.get(key).copied()
    }

    /// Sets the expiry time of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) {
        match self.expires.get_mut(key) {
            Some(t) => *t = at_ms,
            None => {
                self.expires.insert(SmallBytes::new(key), at_ms);
            }
        }
    }

    /// Drops the TTL of `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.swap_remove(key).is_some()
    }

    /// Empties the keyspace (FLUSHDB), invalidating WATCHes of keys that existed.
    pub fn clear(&mut self) -> usize {
        for (key, list) in &self.watched {
            if self.keys.contains_key(key.as_slice()) {
                list.iter().for_each(|w| w.dirty.set(true));
            }
        }
        let n = self.keys.len();
        self.keys = HashMap::default();
        self.expires = HashMap::default();
        if self.slot_keys.is_some() {
            self.enable_slot_keys();
        }
        n
    }

    /// SWAPDB: exchanges the keys and TTLs of two databases. WATCHes of keys present in
    /// either are invalidated; clients blocked on keys that now exist are signalled.
    pub fn swap_keyspace(&mut self, other: &mut Db) {
        self.touch_watched_present_in(other);
        other.touch_watched_present_in(self);
        std::mem::swap(&mut self.keys, &mut other.keys);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.slot_keys, &mut other.slot_keys);
        self.signal_blocked_present();
        other.signal_blocked_present();
    }

    fn touch_watched_present_in(&self, other: &Db) {
        for (key, list) in &self.watched {
            if self.keys.contains_key(key.as_slice()) || other.keys.contains_key(key.as_slice()) {
                list.iter().for_each(|w| w.dirty.set(true));
            }
        }
    }

    fn signal_blocked_present(&mut self) {
        let present: Vec<SmallBytes> = self
            .blocked
            .keys()
            .filter(|k| self.keys.contains_key(k.as_slice()))
            .cloned()
            .collect();
        for key in present {
            self.signal_ready(&key);
        }
    }

    /// A random live key, skipping (and deleting) expired ones met on the way.
    pub fn random_key(&mut self, rand: u64) -> Option<SmallBytes> {
        let mut r = rand;
        for _ in 0..100 {
            if self.keys.is_empty() {
                return None;
            }
            let i = (r % self.keys.len() as u64) as usize;
            let key = self.keys.get_index(i).expect("in range").0.clone();
            if !self.expire_if_needed(&key) {
                return Some(key);
            }
            r = r
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                >> 1;
        }
        None
    }

    /// Walks keys for SCAN from `cursor`, calling `visit` on each live key until about
    /// `count` slots are visited. Keys are visited from the highest index down: a
    /// deletion moves the last key into the hole, which is then either still ahead of
    /// the cursor or was already returned, so every key present throughout the scan
    /// is returned at least once. Returns the next cursor (0 when done).
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&SmallBytes, &Value),
    ) -> u64 {
        let len = self.keys.len() as u64;
        let mut pos = if cursor == 0 || cursor > len {
            len
        } else {
            cursor
        };
        let mut budget = count.max(1);
        while pos > 0 && budget > 0 {
            pos -= 1;
            budget -= 1;
            let key = self.keys.get_index(pos as usize).expect("in range").0;
            let expired = self
                .expires
                .get(key.as_slice())
                .is_some_and(|&t| t <= self.now_ms);
            if !expired {
                let (k, v) = self.keys.get_index(pos as usize).expect("in range");
                visit(k, v);
            }
        }
        pos
    }

    /// Every key and value, for KEYS and snapshots; expired keys are skipped.
    pub fn iter(&self) -> impl Iterator<Item = (&SmallBytes, &Value)> {
        let now = self.now_ms;
        self.keys
            .iter()
            .filter(move |(k, _)| self.expires.get(k.as_slice()).is_none_or(|&t| t > now))
    }

    /// Every live key with its value and absolute expiry time (for persistence).
    pub fn iter_with_expiry(&self) -> impl Iterator<Item = (&SmallBytes, &Value, Option<u64>)> {
        let now = self.now_ms;
        self.keys
            .iter()
            .filter_map(move |(k, v)| match self.expires.get(k.as_slice()) {
                Some(&t) if t <= now => None,
                at => Some((k, v, at.copied())),
            })
    }

    /// One round of active expiry: samples up to `samples` keys with a TTL and deletes
    /// expired ones. Returns (sampled, expired) so the caller can decide to go again.
    pub fn active_expire(
        &mut self,
        samples: usize,
        rand: &mut impl FnMut() -> u64,
    ) -> (usize, usize) {
        let mut sampled = 0;
        let mut expired = 0;
        if self.expire_mode != ExpireMode::Delete {
            return (0, 0);
        }
        while sampled < samples && !self.expires.is_empty() {
            let i = (rand() % self.expires.len() as u64) as usize;
            let (key, &at) = self.expires.get_index(i).expect("in range");
            sampled += 1;
            if at <= self.now_ms {
                let key = key.clone();
                self.delete_expired(&key);
                expired += 1;
            }
        }
        (sampled, expired)
    }

    /// Registers a WATCH of `key` by a client.
    pub fn watch(&mut self, key: &[u8], watcher: Watcher) {
        let list = self.watched.entry(SmallBytes::new(key)).or_default();
        if !list.iter().any(|w| w.client_id == watcher.client_id) {
            list.push(watcher);
        }
    }

    pub fn unwatch(&mut self, key: &[u8], client_id: u64) {
        if let Some(list) = self.watched.get_mut(key) {
            list.retain(|w| w.client_id != client_id);
            if list.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// Redis's `signalModifiedKey`: invalidates the WATCHes on `key`.
    pub fn touch_watched(&mut self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(list) = self.watched.get(key) {
            for w in list {
                w.dirty.set(true);
            }
        }
    }
}
