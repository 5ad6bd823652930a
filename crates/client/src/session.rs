//! A live editing session on one document: local edits go out as log entry + channel
//! message in one round trip; remote edits, presence and session lists come back as events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use docs::message::{ChannelMessage, Custom, Session as SessionInfo};
use docs::replica::Replica;
use docs::{keys, Axis, DocMeta};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Transact};

use crate::catalog::random_client_id;
use crate::connection::{Store, Subscription};
use crate::document::{self, Document, StoredState};
use crate::error::Result;
use crate::presence::{
    LocalPresence, Peer, Peers, Presence, Throttle, ANSWER_EVERY, HEARTBEAT, PEER_TIMEOUT,
};
use crate::router::Link;

/// How often a session with unsent edits, or without its subscription, tries again.
const RETRY: Duration = Duration::from_millis(250);
/// At most one resync (a re-read of the stored state because remote updates wait too
/// long or too many, see [`docs::Inbox::stalled`]) per this long: a flood of forged updates
/// costs each session one read of the document per period, not one per message.
const RESYNC_EVERY: Duration = Duration::from_secs(10);

/// What a session tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Remote edits changed the content.
    Changed,
    /// The other people in the document (sorted), after someone came, moved or went.
    Presence(Vec<Peer>),
    /// The control service's list of sessions.
    Sessions(Vec<SessionInfo>),
    /// Part of an AI answer published on the document's channel.
    AiAnswer {
        request: String,
        text: String,
        done: bool,
    },
    /// An error addressed to this session or to everyone.
    Error { code: u32, text: String },
    /// The link to the cluster is lost; edits are kept and sent when it is back.
    Offline,
    /// The link is back and the document has caught up with what was missed.
    Online,
}

/// What became of a local edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the document's log on its master, and on this many of its replicas (the store
    /// waits for one replica when the shard has replicas).
    Acknowledged { replicas: usize },
    /// Applied locally only; the session keeps sending it until the cluster takes it.
    Queued,
}

/// An open document. Dropping it leaves the document (the others see the session go when
/// its presence times out; [`Session::close`] says goodbye at once).
pub struct Session {
    shared: Arc<Shared>,
    events: mpsc::UnboundedReceiver<Event>,
    task: JoinHandle<()>,
}

struct Shared {
    id: String,
    channel: String,
    store: Store,
    meta: DocMeta,
    doc: Document,
    client: u64,
    user: String,
    local: Mutex<LocalPresence>,
    peers: Mutex<Peers>,
    /// Edits not yet acknowledged; the lock also orders sends.
    outbox: tokio::sync::Mutex<Outbox>,
    online: AtomicBool,
    /// When the last resync happened.
    resynced: Mutex<Option<Instant>>,
    /// Presence sent in answer to joins and awareness queries.
    answers: Mutex<Throttle>,
    events: mpsc::UnboundedSender<Event>,
}

impl Store {
    /// Opens document `id` as `user`: subscribes to its channel, reads its state, says
    /// hello (join, sync step 1, presence) and starts listening.
    pub async fn open(&self, id: &str, user: &str) -> Result<Session> {
        let client = random_client_id();
        // Subscribe before reading, so that no edit falls between the read and the channel.
        let sub = self.subscribe(&keys::channel(id)).await?;
        let loaded = document::load(self, id, client).await?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            id: id.to_string(),
            channel: keys::channel(id),
            store: self.clone(),
            meta: loaded.meta,
            doc: loaded.doc,
            client,
            user: user.to_string(),
            local: Mutex::new(LocalPresence::new(client, Presence::new(user))),
            peers: Mutex::new(Peers::default()),
            outbox: tokio::sync::Mutex::new(Outbox::default()),
            online: AtomicBool::new(true),
            resynced: Mutex::new(None),
            answers: Mutex::new(Throttle::new(ANSWER_EVERY)),
            events: events_tx,
        });
        shared.announce().await;
        let task = tokio::spawn(run(shared.clone(), sub));
        tracing::debug!(id, user, client, "session opened");
        Ok(Session {
            shared,
            events,
            task,
        })
    }
}

impl Session {
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The metadata as it was when the session opened.
    pub fn meta(&self) -> &DocMeta {
        &self.shared.meta
    }

    /// The live content (remote edits are applied to it as they arrive).
    pub fn document(&self) -> &Document {
        &self.shared.doc
    }

    /// This session's yrs client id (also its id in presence and session lists).
    pub fn client_id(&self) -> u64 {
        self.shared.client
    }

    /// The next event; `None` once the session has stopped.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Hands the event stream over, for a task (or UI loop) that listens while others edit
    /// through a shared `&Session`; [`Session::next_event`] returns `None` afterwards.
    pub fn take_events(&mut self) -> mpsc::UnboundedReceiver<Event> {
        let (_, closed) = mpsc::unbounded_channel();
        std::mem::replace(&mut self.events, closed)
    }

    /// An event if one is waiting.
    pub fn try_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The other people in the document now.
    pub fn peers(&self) -> Vec<Peer> {
        lock(&self.shared.peers).list()
    }

    /// Inserts `text` before character `pos` of a text document.
    pub async fn insert_text(&self, pos: usize, text: &str) -> Result<Delivery> {
        let doc = self.shared.doc.text(&self.shared.id)?;
        self.shared.edit(|| doc.insert(pos, text)).await
    }

    /// Deletes `len` characters from `pos` of a text document.
    pub async fn delete_text(&self, pos: usize, len: usize) -> Result<Delivery> {
        let doc = self.shared.doc.text(&self.shared.id)?;
        self.shared.edit(|| doc.delete(pos, len)).await
    }

    /// Sets a cell's input (`""` clears it) in a sheet.
    pub async fn set_cell(&self, row: usize, col: usize, input: &str) -> Result<Delivery> {
        let sheet = self.shared.doc.sheet(&self.shared.id)?;
        self.shared.edit(|| sheet.set_cell(row, col, input)).await
    }

    /// Inserts `n` rows or columns before index `at` in a sheet.
    pub async fn insert_lines(&self, axis: Axis, at: usize, n: usize) -> Result<Delivery> {
        let sheet = self.shared.doc.sheet(&self.shared.id)?;
        self.shared.edit(|| sheet.insert(axis, at, n)).await
    }

    /// Deletes `n` rows or columns from index `at` in a sheet.
    pub async fn delete_lines(&self, axis: Axis, at: usize, n: usize) -> Result<Delivery> {
        let sheet = self.shared.doc.sheet(&self.shared.id)?;
        self.shared.edit(|| sheet.delete(axis, at, n)).await
    }

    /// Shows the others where this session's cursor (text) or selected cell (sheet) is.
    pub async fn set_cursor(&self, cursor: Option<u64>, cell: Option<String>) -> Result<()> {
        let update = {
            let mut local = lock(&self.shared.local);
            let mut p = local
                .get()
                .cloned()
                .unwrap_or_else(|| Presence::new(&self.shared.user));
            (p.cursor, p.cell) = (cursor, cell);
            local.set(Some(p))
        };
        self.shared.publish(ChannelMessage::Awareness(update)).await
    }

    /// Publishes a message of the caller's own on the document channel (an AI prompt's
    /// answer, say).
    pub async fn publish(&self, msg: ChannelMessage) -> Result<()> {
        self.shared.publish(msg).await
    }

    /// Sends what is still queued; true when nothing is left unacknowledged.
    pub async fn flush(&self) -> bool {
        let mut outbox = self.shared.outbox.lock().await;
        self.shared.flush(&mut outbox).await.is_some()
    }

    /// Leaves: sends unsent edits (if the link allows), tells the others this session is
    /// gone, and stops listening. True when every edit is stored (so an edit that was
    /// `Queued` and went out here, or with a reconnect's catch-up, is safe).
    pub async fn close(self) -> bool {
        let stored = self.flush().await;
        let bye = lock(&self.shared.local).set(None);
        if let Err(e) = self.shared.publish(ChannelMessage::Awareness(bye)).await {
            tracing::debug!(id = %self.shared.id, "goodbye not sent: {e}");
        }
        stored
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    /// Applies a local edit, queues its update and, when online, sends everything queued.
    async fn edit(&self, make: impl FnOnce() -> docs::Result<Vec<u8>>) -> Result<Delivery> {
        let mut outbox = self.outbox.lock().await;
        let before = outbox
            .updates
            .is_empty()
            .then(|| self.doc.replica().state_vector_v1());
        let update = make()?;
        outbox.push(before, update);
        if !self.online.load(Ordering::SeqCst) {
            // Offline, the edit waits for the reconnect's catch-up, which stores it; trying
            // the link here would hold every keystroke for a connect timeout.
            return Ok(Delivery::Queued);
        }
        Ok(match self.flush(&mut outbox).await {
            Some(replicas) => Delivery::Acknowledged { replicas },
            None => Delivery::Queued,
        })
    }

    /// Sends the queued edits as one log entry + channel message. `Some(n)` when
    /// acknowledged (by n replicas), `None` when they stay queued.
    async fn flush(&self, outbox: &mut Outbox) -> Option<usize> {
        if outbox.updates.is_empty() {
            return Some(0);
        }
        let update = match outbox.payload(self.doc.replica()) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(id = %self.id, "cannot encode queued edits: {e}");
                return None;
            }
        };
        match self.store.append_update(&self.id, &update).await {
            Ok(replicas) => {
                *outbox = Outbox::default();
                Some(replicas)
            }
            Err(e) => {
                tracing::debug!(id = %self.id, "edit queued: {e}");
                self.go_offline();
                None
            }
        }
    }

    async fn publish(&self, msg: ChannelMessage) -> Result<()> {
        let done = self.store.publish(&self.channel, &msg.encode()).await;
        if done.is_err() {
            self.go_offline();
        }
        done.map(|_| ())
    }

    /// Join, sync step 1 and our presence, in one round trip.
    async fn announce(&self) {
        let join = ChannelMessage::Custom(Custom::Join(SessionInfo {
            client: self.client,
            user: self.user.clone(),
        }));
        let sv = StateVector::decode_v1(&self.doc.replica().state_vector_v1()).unwrap_or_default();
        let step1 = ChannelMessage::Sync(SyncMessage::SyncStep1(sv));
        let presence = ChannelMessage::Awareness(lock(&self.local).update());
        let mut pipe = redis::pipe();
        for m in [join, step1, presence] {
            pipe.add_command(self.store.publish_cmd(&self.channel, &m.encode()))
                .ignore();
        }
        if let Err(e) = self.store.query_pipe::<()>(&pipe).await {
            tracing::debug!(id = %self.id, "announce failed: {e}");
            self.go_offline();
        }
    }

    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    fn go_offline(&self) {
        if self.online.swap(false, Ordering::SeqCst) {
            tracing::info!(id = %self.id, "link lost; edits are kept until it is back");
            self.emit(Event::Offline);
        }
    }

    /// After a loss: re-read the stored state (what we missed), store what the cluster
    /// lacks of ours (an acknowledged write lost in a failover, say), say hello again.
    async fn catch_up(&self) -> Result<()> {
        let stored = self.reread().await?;
        {
            // What the store lacks of ours covers everything queued, too.
            let mut outbox = self.outbox.lock().await;
            if let Some(update) = self.missing_from(&stored)? {
                self.store.append_update(&self.id, &update).await?;
            }
            *outbox = Outbox::default();
        }
        self.online.store(true, Ordering::SeqCst);
        self.announce().await;
        if self.online.load(Ordering::SeqCst) {
            tracing::info!(id = %self.id, "link back, caught up");
            self.emit(Event::Online);
        }
        Ok(())
    }

    /// Reads the stored state and makes it the base of what waits: updates received before
    /// the read that still wait are dropped, then the snapshot + log are applied. Every
    /// legitimate update is in the store by the time anyone can receive it (its writer
    /// appends to the log before publishing, in one pipeline to one node), so what is
    /// dropped and not given back by the store could never have integrated.
    async fn reread(&self) -> Result<StoredState> {
        let stored = document::read_state(&self.store, &self.id).await?;
        *lock(&self.resynced) = Some(Instant::now());
        self.apply_remote(|| {
            self.doc.replica().forget_waiting();
            stored.apply_to(&self.id, self.doc.replica())
        });
        Ok(stored)
    }

    /// Resyncs when remote updates wait too long or too many (a forged update whose
    /// dependency never comes, say), at most once per [`RESYNC_EVERY`].
    async fn resync_if_stalled(&self) {
        if !self.online.load(Ordering::SeqCst) || !self.doc.replica().inbox().stalled() {
            return;
        }
        if lock(&self.resynced).is_some_and(|t| t.elapsed() < RESYNC_EVERY) {
            return;
        }
        let held = self.doc.replica().inbox().len();
        tracing::warn!(id = %self.id, held, "remote updates wait for a dependency; resyncing");
        if let Err(e) = self.reread().await {
            tracing::debug!(id = %self.id, "resync failed: {e}");
            self.go_offline();
        }
    }

    /// Our updates that the stored snapshot + log do not have, or `None`. Compared by
    /// applying the diff to a copy of the stored state: a deletion leaves the state vector
    /// as it is (yrs records it in the delete set only), so equal state vectors do not
    /// mean nothing is missing.
    fn missing_from(&self, stored: &StoredState) -> Result<Option<Vec<u8>>> {
        let probe = Document::new(self.doc.kind(), random_client_id());
        stored.apply_to(&self.id, probe.replica())?;
        let diff = self
            .doc
            .replica()
            .diff_v1(&probe.replica().state_vector_v1())?;
        let before = probe.replica().doc().transact().snapshot();
        probe.replica().apply_update_v1(&diff)?;
        let changed = probe.replica().doc().transact().snapshot() != before;
        Ok(changed.then_some(diff))
    }

    /// Runs `apply` and tells the owner when the content changed.
    fn apply_remote(&self, apply: impl FnOnce() -> Result<()>) {
        let before = self.doc.replica().state_vector_v1();
        if let Err(e) = apply() {
            tracing::warn!(id = %self.id, "remote update rejected: {e}");
            return;
        }
        if self.doc.replica().state_vector_v1() != before {
            self.emit(Event::Changed);
        }
    }

    async fn on_message(&self, bytes: &[u8]) {
        let msg = match ChannelMessage::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(id = %self.id, "ignored a message: {e}");
                return;
            }
        };
        match msg {
            ChannelMessage::Sync(SyncMessage::Update(u) | SyncMessage::SyncStep2(u)) => {
                self.apply_remote(|| Ok(self.doc.replica().apply_update_v1(&u)?));
                self.resync_if_stalled().await;
            }
            ChannelMessage::Sync(SyncMessage::SyncStep1(_)) => {} // the control service answers
            ChannelMessage::Awareness(update) => self.on_awareness(&update),
            ChannelMessage::AwarenessQuery => self.answer_presence().await,
            ChannelMessage::Custom(Custom::Join(s)) if s.client != self.client => {
                self.answer_presence().await
            }
            ChannelMessage::Custom(Custom::Join(_)) => {}
            ChannelMessage::Custom(Custom::Sessions(list)) => self.emit(Event::Sessions(list)),
            ChannelMessage::Custom(Custom::AiAnswer {
                request,
                text,
                done,
            }) => self.emit(Event::AiAnswer {
                request,
                text,
                done,
            }),
            ChannelMessage::Custom(Custom::Error { client, code, text }) => {
                if client == 0 || client == self.client {
                    self.emit(Event::Error { code, text });
                }
            }
        }
    }

    fn on_awareness(&self, update: &AwarenessUpdate) {
        let mut peers = lock(&self.peers);
        if peers.apply(update, self.client) {
            let list = peers.list();
            drop(peers);
            self.emit(Event::Presence(list));
        }
    }

    /// Our presence for someone who asked (a join, a query), at most once per
    /// [`ANSWER_EVERY`]: later asks in the period get one answer at its end (`on_tick`).
    async fn answer_presence(&self) {
        if lock(&self.answers).request() {
            self.send_presence().await;
        }
    }

    async fn send_presence(&self) {
        let update = lock(&self.local).update();
        let _ = self.publish(ChannelMessage::Awareness(update)).await;
    }

    async fn on_tick(&self, sub: &Subscription) {
        if !self.online.load(Ordering::SeqCst) {
            if sub.resubscribe().await.is_ok() {
                if let Err(e) = self.catch_up().await {
                    tracing::debug!(id = %self.id, "catch-up failed: {e}");
                    self.go_offline();
                }
            }
            return;
        }
        self.resync_if_stalled().await;
        if lock(&self.answers).poll() {
            self.send_presence().await;
        }
        let mut outbox = self.outbox.lock().await;
        if !outbox.updates.is_empty() {
            self.flush(&mut outbox).await;
        }
    }
}

/// Local edits the cluster has not acknowledged yet.
#[derive(Default)]
struct Outbox {
    updates: Vec<Vec<u8>>,
    /// The local state vector (v1) before the oldest of them.
    since: Vec<u8>,
}

impl Outbox {
    /// Queues an update; `before` is the state vector before it when the outbox was empty.
    fn push(&mut self, before: Option<Vec<u8>>, update: Vec<u8>) {
        if let Some(sv) = before {
            self.since = sv;
        }
        self.updates.push(update);
    }

    /// One update carrying every queued edit: the edit itself, or the document's diff since
    /// the oldest (it may carry remote edits too, which is harmless). Merging the updates
    /// with `yrs::merge_updates_v1` instead grows quadratically with their number.
    fn payload(&self, doc: &dyn Replica) -> Result<Vec<u8>> {
        match self.updates.as_slice() {
            [one] => Ok(one.clone()),
            _ => Ok(doc.diff_v1(&self.since)?),
        }
    }
}

/// The session's listener: channel messages, link news, heartbeats and retries.
async fn run(shared: Arc<Shared>, mut sub: Subscription) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut retry = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            link = sub.recv() => match link {
                None => break,
                Some(Link::Message(bytes)) => shared.on_message(&bytes).await,
                Some(Link::Lost) => shared.go_offline(),
                Some(Link::Subscribed) => {}
            },
            _ = retry.tick() => shared.on_tick(&sub).await,
            _ = heartbeat.tick() => {
                shared.send_presence().await;
                let mut peers = lock(&shared.peers);
                if peers.expire(PEER_TIMEOUT) {
                    let list = peers.list();
                    drop(peers);
                    shared.emit(Event::Presence(list));
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
