//! The control service's loop: follows every listed document, answers joins, keeps session
//! lists, and every persist interval folds the logs that grew into their snapshots.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use client::router::Link;
use client::Store;
use docs::{keys, DocKind, DocMeta};
use tokio::sync::mpsc;

use crate::compact;
use crate::lease::Lease;
use crate::tracked::{Inbound, Tracked};

/// How often the document list is re-read (new documents get followed within this).
const DISCOVER: Duration = Duration::from_secs(1);
/// How often the service logs what it follows.
const STATUS: Duration = Duration::from_secs(60);
/// How often session lists held back by their rate limit are looked at.
const FLUSH: Duration = Duration::from_millis(250);

pub struct Service {
    store: Store,
    persist_interval: Duration,
    docs: HashMap<String, Tracked>,
    inbound_tx: mpsc::UnboundedSender<Inbound>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    lease: Lease,
}

impl Service {
    pub fn new(store: Store, persist_interval: Duration) -> Self {
        let (inbound_tx, inbound) = mpsc::unbounded_channel();
        Self {
            store,
            persist_interval,
            docs: HashMap::new(),
            inbound_tx,
            inbound,
            lease: Lease::new(),
        }
    }

    /// Runs until `stop` resolves, then folds what is left and gives the lease up.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut discover = tokio::time::interval(DISCOVER);
        let mut persist = tokio::time::interval(self.persist_interval);
        let mut status = tokio::time::interval(STATUS);
        let mut flush = tokio::time::interval(FLUSH);
        discover.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        persist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some((id, link)) = self.inbound.recv() => self.on_link(&id, link).await,
                _ = discover.tick() => {
                    self.lease.renew(&self.store).await;
                    if let Err(e) = self.discover().await {
                        tracing::warn!("cannot read the document list: {e}");
                    }
                }
                _ = persist.tick() => self.persist_round().await,
                _ = flush.tick() => {
                    for doc in self.docs.values_mut() {
                        doc.flush(&self.store).await;
                    }
                }
                _ = status.tick() => {
                    let (docs, people) = self.counts();
                    tracing::info!(docs, people, lease = self.lease.held(), "status");
                }
                () = &mut stop => break,
            }
        }
        tracing::info!("stopping: folding what is left");
        self.persist_round().await;
        self.lease.release(&self.store).await;
    }

    async fn on_link(&mut self, id: &str, link: Link) {
        let Some(doc) = self.docs.get_mut(id) else {
            return;
        };
        match link {
            Link::Message(bytes) => doc.on_message(&self.store, &bytes).await,
            // Missed messages may include updates: look at the log again.
            Link::Lost | Link::Subscribed => doc.dirty = true,
        }
    }

    /// Follows documents new in `docs:index`, forgets deleted ones (removing a stale
    /// index entry whose metadata is gone).
    async fn discover(&mut self) -> client::Result<()> {
        let listed: Vec<String> = self
            .store
            .query(redis::cmd("ZRANGE").arg(keys::DOCS_INDEX).arg(0).arg(-1))
            .await?;
        let listed_set: HashSet<&String> = listed.iter().collect();
        self.docs.retain(|id, _| listed_set.contains(id));
        let new: Vec<&String> = listed
            .iter()
            .filter(|id| !self.docs.contains_key(*id))
            .collect();
        for id in new {
            match self.store.meta(id).await {
                Ok(meta) => self.follow(id, meta.kind).await,
                Err(client::ClientError::NotFound(_)) => self.drop_stale(id).await,
                Err(e) => tracing::warn!(%id, "cannot read metadata: {e}"),
            }
        }
        Ok(())
    }

    async fn follow(&mut self, id: &str, kind: DocKind) {
        match Tracked::start(&self.store, id, kind, self.inbound_tx.clone()).await {
            Ok(t) => {
                tracing::info!(%id, kind = kind.as_str(), "following document");
                self.docs.insert(id.to_string(), t);
            }
            Err(e) => tracing::warn!(%id, "cannot subscribe: {e}"),
        }
    }

    async fn drop_stale(&self, id: &str) {
        tracing::info!(%id, "removing index entry of a deleted document");
        let zrem = redis::cmd("ZREM").arg(keys::DOCS_INDEX).arg(id).clone();
        if let Err(e) = self.store.query::<()>(&zrem).await {
            tracing::warn!(%id, "cannot remove stale index entry: {e}");
        }
    }

    /// Upkeep of every document, then (holding the lease) a fold of each that grew.
    async fn persist_round(&mut self) {
        for doc in self.docs.values_mut() {
            doc.tick(&self.store).await;
        }
        if !self.lease.held() {
            return;
        }
        let dirty: Vec<(String, DocKind)> = self
            .docs
            .values()
            .filter(|d| d.dirty)
            .map(|d| (d.id.clone(), d.kind))
            .collect();
        for (id, kind) in dirty {
            let more = self.fold(&id, kind).await;
            if let Some(doc) = self.docs.get_mut(&id) {
                doc.dirty = more;
            }
        }
    }

    /// Folds one document; true when it must be looked at again next round (more log
    /// left, or the fold failed).
    async fn fold(&self, id: &str, kind: DocKind) -> bool {
        match compact::fold(&self.store, id, kind).await {
            Ok(None) => false,
            Ok(Some(f)) => {
                tracing::info!(
                    %id,
                    entries = f.entries,
                    snapshot_bytes = f.snapshot_bytes,
                    "folded log into snapshot"
                );
                self.repair_index(id, f.last_ms).await;
                f.more
            }
            Err(e) => {
                tracing::warn!(%id, "fold failed, will retry: {e}");
                true
            }
        }
    }

    /// Moves the document up the list to its last edit, and makes sure its topic set
    /// has it (the creator writes both last, so a crash can leave them behind).
    async fn repair_index(&self, id: &str, last_ms: u64) {
        let meta: DocMeta = match self.store.meta(id).await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%id, "no metadata to index: {e}");
                return;
            }
        };
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(keys::DOCS_INDEX)
            .arg("GT")
            .arg(last_ms)
            .arg(id)
            .ignore();
        if let Err(e) = self.store.query_pipe::<()>(&pipe).await {
            tracing::warn!(%id, "cannot update the document list: {e}");
        }
        let sadd = redis::cmd("SADD")
            .arg(keys::topic(&meta.topic))
            .arg(id)
            .clone();
        if let Err(e) = self.store.query::<()>(&sadd).await {
            tracing::warn!(%id, "cannot update the topic set: {e}");
        }
    }

    /// Documents followed, people in them (for the status log).
    fn counts(&self) -> (usize, usize) {
        let people = self.docs.values().map(Tracked::session_count).sum();
        (self.docs.len(), people)
    }
}
