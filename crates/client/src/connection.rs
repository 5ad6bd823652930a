//! `Store`: one connection to a Redis-compatible cluster or to a single node, with RESP3
//! pushes routed to subscriptions. Every other part of the library talks through it.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, ProtocolVersion, RedisFuture, Value};
use tokio::sync::mpsc;

use crate::error::{ClientError, Result};
use crate::router::{Link, Router};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the cluster, shared by every session of one app: cheap to clone.
///
/// On a cluster, document channels are sharded (`SSUBSCRIBE`/`SPUBLISH`); on a single node
/// they are plain (`SUBSCRIBE`/`PUBLISH`), which is the same thing with one shard.
#[derive(Clone)]
pub struct Store {
    conn: Conn,
    router: Router,
    endpoints: Vec<String>,
    /// Replicas an edit waits for (`WAIT n`) before it counts as acknowledged.
    replica_acks: usize,
}

/// The connection itself: redis-rs's cluster connection or a reconnecting single-node one.
/// Both reconnect by themselves and re-subscribe what was subscribed.
#[derive(Clone)]
pub enum Conn {
    Cluster(ClusterConnection),
    Single(ConnectionManager),
}

impl Store {
    /// Connects to `endpoints` (`host:port`, one or more seeds). Whether they form a cluster
    /// is asked of the first one that answers (`INFO cluster`).
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        let endpoints: Vec<String> = endpoints
            .iter()
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        if endpoints.is_empty() {
            return Err(ClientError::Endpoints("the list is empty".into()));
        }
        let router = Router::default();
        let Probe {
            cluster,
            replica_acks,
        } = probe(&endpoints).await?;
        let urls: Vec<String> = endpoints.iter().map(|e| format!("redis://{e}/")).collect();
        let conn = if cluster {
            let client = ClusterClientBuilder::new(urls)
                .use_protocol(ProtocolVersion::RESP3)
                .push_sender(router.clone())
                .connection_timeout(CONNECT_TIMEOUT)
                .response_timeout(RESPONSE_TIMEOUT)
                .build()?;
            Conn::Cluster(client.get_async_connection().await?)
        } else {
            let url = format!("redis://{}/?protocol=3", endpoints[0]);
            let config = ConnectionManagerConfig::new()
                .set_push_sender(router.clone())
                .set_automatic_resubscription()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_max_delay(Duration::from_millis(500));
            let client = redis::Client::open(url)?;
            Conn::Single(ConnectionManager::new_with_config(client, config).await?)
        };
        tracing::debug!(?endpoints, cluster, replica_acks, "connected");
        Ok(Self {
            conn,
            router,
            endpoints,
            replica_acks,
        })
    }

    /// Replicas an edit waits for before it is acknowledged: 1 when every shard has a
    /// replica (so a failover keeps it), else 0. Changes it.
    pub fn with_replica_acks(mut self, n: usize) -> Self {
        self.replica_acks = n;
        self
    }

    /// Replicas an edit waits for before it is acknowledged.
    pub fn replica_acks(&self) -> usize {
        self.replica_acks
    }

    /// True when connected to a cluster (as opposed to one standalone node).
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// The seed endpoints this store was connected with.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// A handle for commands of the caller's own (`cmd.query_async(&mut store.conn())`).
    pub fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// Runs one command.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        Ok(cmd.query_async(&mut self.conn()).await?)
    }

    /// Runs a pipeline; on a cluster every command must be in one slot (one round trip).
    pub async fn query_pipe<T: redis::FromRedisValue>(&self, pipe: &Pipeline) -> Result<T> {
        Ok(pipe.query_async(&mut self.conn()).await?)
    }

    /// The publish command for a document channel: `SPUBLISH` on a cluster, else `PUBLISH`.
    pub fn publish_cmd(&self, channel: &str, payload: &[u8]) -> Cmd {
        let mut cmd = redis::cmd(if self.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        });
        cmd.arg(channel).arg(payload);
        cmd
    }

    /// Publishes one message on a document channel; returns the number of receivers.
    pub async fn publish(&self, channel: &str, payload: &[u8]) -> Result<usize> {
        self.query(&self.publish_cmd(channel, payload)).await
    }

    /// Subscribes to a document channel. Messages, and news of the link, arrive on the
    /// returned subscription until it is dropped.
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.router.add(channel, tx);
        let sub = Subscription {
            store: self.clone(),
            channel: channel.to_string(),
            rx,
        };
        sub.resubscribe().await?;
        Ok(sub)
    }
}

/// One listener of one channel. Dropping it unsubscribes when it was the last listener.
pub struct Subscription {
    store: Store,
    channel: String,
    rx: mpsc::UnboundedReceiver<Link>,
}

impl Subscription {
    /// The next message or link event; `None` only if the store is gone.
    pub async fn recv(&mut self) -> Option<Link> {
        self.rx.recv().await
    }

    /// The channel's name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// (Re)sends the subscribe command: after a loss the library usually re-subscribes by
    /// itself, this makes sure of it. Subscribing twice is harmless.
    pub async fn resubscribe(&self) -> Result<()> {
        let mut conn = self.store.conn();
        match &mut conn {
            Conn::Cluster(c) => c.ssubscribe(&self.channel).await?,
            Conn::Single(c) => c.subscribe(&self.channel).await?,
        }
        Ok(())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.rx.close();
        if !self.store.router.prune(&self.channel) {
            return;
        }
        let (mut conn, channel) = (self.store.conn(), self.channel.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let done = match &mut conn {
                    Conn::Cluster(c) => c.sunsubscribe(&channel).await,
                    Conn::Single(c) => c.unsubscribe(&channel).await,
                };
                if let Err(e) = done {
                    tracing::debug!(%channel, "unsubscribe failed: {e}");
                }
            });
        }
    }
}

/// What the first endpoint that answers says about the deployment.
struct Probe {
    cluster: bool,
    replica_acks: usize,
}

/// Asks the first endpoint that answers whether cluster mode is on, and whether every
/// shard has a replica (CLUSTER NODES; `connected_slaves` on a single node).
async fn probe(endpoints: &[String]) -> Result<Probe> {
    let mut last = None;
    for ep in endpoints {
        let client = redis::Client::open(format!("redis://{ep}/"))?;
        let ask = async {
            let mut c = client.get_multiplexed_async_connection().await?;
            let info: String = redis::cmd("INFO").query_async(&mut c).await?;
            let cluster = info.contains("cluster_enabled:1");
            let replicated = if cluster {
                let nodes: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async(&mut c)
                    .await?;
                every_master_has_a_replica(&nodes)
            } else {
                info.lines()
                    .find_map(|l| l.strip_prefix("connected_slaves:"))
                    .is_some_and(|n| n.trim() != "0")
            };
            Ok::<_, redis::RedisError>(Probe {
                cluster,
                replica_acks: usize::from(replicated),
            })
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, ask).await {
            Ok(Ok(p)) => return Ok(p),
            Ok(Err(e)) => last = Some(format!("{ep}: {e}")),
            Err(_) => last = Some(format!("{ep}: timed out")),
        }
    }
    Err(ClientError::Endpoints(last.unwrap_or_default()))
}

/// True when every master that serves slots has at least one replica not marked failed.
fn every_master_has_a_replica(nodes: &str) -> bool {
    let lines: Vec<Vec<&str>> = nodes.lines().map(|l| l.split(' ').collect()).collect();
    let masters = lines
        .iter()
        .filter(|f| f.len() > 8 && f[2].contains("master") && !f[2].contains("fail"));
    let mut any = false;
    for m in masters {
        any = true;
        let has = lines.iter().any(|f| {
            f.len() > 3 && f[3] == m[0] && f[2].contains("slave") && !f[2].contains("fail")
        });
        if !has {
            return false;
        }
    }
    any
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Single(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        0
    }
}
