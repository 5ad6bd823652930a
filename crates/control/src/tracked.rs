//! One document the service follows: its channel subscription, who is in it, the state it
//! answers joins from, and whether its log has grown since the last fold.

use std::time::{Duration, Instant};

use client::connection::Subscription;
use client::document::{self, Document};
use client::presence::{Peers, Throttle, ANSWER_EVERY, PEER_TIMEOUT};
use client::router::Link;
use client::Store;
use docs::message::{ChannelMessage, Custom, Session};
use docs::DocKind;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use yrs::sync::SyncMessage;
use yrs::updates::encoder::Encode;

/// A loaded state nobody has joined or edited for this long is dropped from memory.
const IDLE: Duration = Duration::from_secs(60);
/// How often a lost subscription is tried again.
const RESUBSCRIBE: Duration = Duration::from_millis(250);

/// What the service hears from a document's channel: (document id, link news).
pub type Inbound = (String, Link);

pub struct Tracked {
    pub id: String,
    pub kind: DocKind,
    channel: String,
    forwarder: JoinHandle<()>,
    sessions: Peers,
    /// Session lists published (a burst of joins gets one list per period).
    lists: Throttle,
    /// The document as last loaded plus every update seen since; `None` until needed.
    state: Option<Document>,
    /// The log may hold entries not folded yet.
    pub dirty: bool,
    last_use: Instant,
}

impl Tracked {
    /// Subscribes to the document's channel, forwarding everything to `inbound`, and asks
    /// whoever is already in the document to show themselves.
    pub async fn start(
        store: &Store,
        id: &str,
        kind: DocKind,
        inbound: mpsc::UnboundedSender<Inbound>,
    ) -> client::Result<Self> {
        let channel = docs::keys::channel(id);
        let sub = store.subscribe(&channel).await?;
        let forwarder = tokio::spawn(forward(id.to_string(), sub, inbound));
        let t = Self {
            id: id.to_string(),
            kind,
            channel,
            forwarder,
            sessions: Peers::default(),
            lists: Throttle::new(ANSWER_EVERY),
            state: None,
            dirty: true,
            last_use: Instant::now(),
        };
        t.publish(store, &ChannelMessage::AwarenessQuery).await;
        Ok(t)
    }

    /// Handles one message from the channel.
    pub async fn on_message(&mut self, store: &Store, bytes: &[u8]) {
        let msg = match ChannelMessage::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(id = %self.id, "ignored a message: {e}");
                return;
            }
        };
        match msg {
            ChannelMessage::Sync(SyncMessage::Update(u) | SyncMessage::SyncStep2(u)) => {
                self.dirty = true;
                if let Some(doc) = &self.state {
                    if let Err(e) = doc.replica().apply_update_v1(&u) {
                        tracing::warn!(id = %self.id, "bad update on the channel: {e}");
                    }
                }
                self.drop_if_stalled();
            }
            ChannelMessage::Sync(SyncMessage::SyncStep1(sv)) => {
                self.answer_step1(store, &sv.encode_v1()).await
            }
            ChannelMessage::Awareness(update) => {
                if self.sessions.apply(&update, 0) {
                    self.publish_sessions(store).await;
                }
            }
            ChannelMessage::Custom(Custom::Join(s)) => {
                tracing::info!(id = %self.id, user = %s.user, client = s.client, "join");
                self.sessions.join(s.client, &s.user);
                self.publish_sessions(store).await;
            }
            ChannelMessage::AwarenessQuery | ChannelMessage::Custom(_) => {}
        }
    }

    /// Drops the copy when channel updates wait too long or too many for a dependency (a
    /// forged update, say): the next join reloads it from the store, which has every
    /// legitimate update, so what waited and is not there is gone for good.
    fn drop_if_stalled(&mut self) {
        let Some(doc) = &self.state else { return };
        if doc.replica().inbox().stalled() {
            let held = doc.replica().inbox().len();
            tracing::warn!(id = %self.id, held, "updates wait for a dependency; copy dropped, reloading from the store");
            self.state = None;
        }
    }

    /// Sync step 2: what a joiner with state vector `sv` lacks.
    async fn answer_step1(&mut self, store: &Store, sv: &[u8]) {
        self.last_use = Instant::now();
        if self.state.is_none() {
            match document::load(store, &self.id, client::catalog::random_client_id()).await {
                Ok(loaded) => self.state = Some(loaded.doc),
                Err(e) => {
                    tracing::warn!(id = %self.id, "cannot load to answer a join: {e}");
                    return;
                }
            }
        }
        let Some(doc) = &self.state else { return };
        match doc.replica().diff_v1(sv) {
            Ok(diff) => {
                let step2 = ChannelMessage::Sync(SyncMessage::SyncStep2(diff));
                self.publish(store, &step2).await;
            }
            Err(e) => tracing::debug!(id = %self.id, "bad state vector in a join: {e}"),
        }
    }

    /// Publishes the session list, at most once per [`ANSWER_EVERY`]; a change within the
    /// period is published at its end ([`Tracked::flush`]), with the list as it is then.
    async fn publish_sessions(&mut self, store: &Store) {
        if self.lists.request() {
            self.send_sessions(store).await;
        }
    }

    /// Sends what was held back by the rate limit, once its period is over.
    pub async fn flush(&mut self, store: &Store) {
        if self.lists.poll() {
            self.send_sessions(store).await;
        }
    }

    async fn send_sessions(&self, store: &Store) {
        let list = self
            .sessions
            .list()
            .into_iter()
            .map(|p| Session {
                client: p.client,
                user: p.presence.user,
            })
            .collect();
        self.publish(store, &ChannelMessage::Custom(Custom::Sessions(list)))
            .await;
    }

    async fn publish(&self, store: &Store, msg: &ChannelMessage) {
        if let Err(e) = store.publish(&self.channel, &msg.encode()).await {
            tracing::debug!(id = %self.id, "publish failed: {e}");
        }
    }

    /// Periodic upkeep: forget silent sessions (and say so), drop an idle state.
    pub async fn tick(&mut self, store: &Store) {
        self.drop_if_stalled();
        if self.sessions.expire(PEER_TIMEOUT) {
            self.publish_sessions(store).await;
        }
        if self.state.is_some() && self.sessions.list().is_empty() && self.last_use.elapsed() > IDLE
        {
            self.state = None;
        }
    }

    /// Number of people in the document.
    pub fn session_count(&self) -> usize {
        self.sessions.list().len()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// Forwards a subscription's news to the service; after a loss, subscribes again until
/// the server confirms (the service then re-checks the log).
async fn forward(id: String, mut sub: Subscription, inbound: mpsc::UnboundedSender<Inbound>) {
    while let Some(link) = sub.recv().await {
        let lost = link == Link::Lost;
        if inbound.send((id.clone(), link)).is_err() {
            return;
        }
        if lost {
            resubscribe(&id, &sub).await;
        }
    }
}

async fn resubscribe(id: &str, sub: &Subscription) {
    loop {
        tokio::time::sleep(RESUBSCRIBE).await;
        match sub.resubscribe().await {
            Ok(()) => return,
            Err(e) => tracing::debug!(%id, "resubscribe failed: {e}"),
        }
    }
}
