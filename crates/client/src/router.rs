//! Delivers the connection's RESP3 pushes to the subscriptions that want them: messages of a
//! channel to that channel's subscribers, link losses and (re)subscriptions to everyone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redis::aio::AsyncPushSender;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

/// What a subscription hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// A message published on the channel.
    Message(Vec<u8>),
    /// The server confirmed a subscription to the channel (first time or after a reconnect).
    Subscribed,
    /// The connection carrying the subscription was lost, or the server dropped it (the
    /// channel's slot moved); messages may have been missed.
    Lost,
}

/// Listeners by channel name.
type Routes = HashMap<Vec<u8>, Vec<mpsc::UnboundedSender<Link>>>;

/// The push sender given to redis-rs: routes each push by channel name.
#[derive(Clone, Default)]
pub struct Router {
    routes: Arc<Mutex<Routes>>,
}

impl Router {
    /// Adds a listener for `channel`; returns true when it is the channel's first.
    pub fn add(&self, channel: &str, tx: mpsc::UnboundedSender<Link>) -> bool {
        let mut routes = self.lock();
        let list = routes.entry(channel.as_bytes().to_vec()).or_default();
        list.retain(|t| !t.is_closed());
        list.push(tx);
        list.len() == 1
    }

    /// Drops closed listeners of `channel`; returns true when none is left.
    pub fn prune(&self, channel: &str) -> bool {
        let mut routes = self.lock();
        let Some(list) = routes.get_mut(channel.as_bytes()) else {
            return true;
        };
        list.retain(|t| !t.is_closed());
        if list.is_empty() {
            routes.remove(channel.as_bytes());
            return true;
        }
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self, channel: &[u8], link: Link) {
        if let Some(list) = self.lock().get_mut(channel) {
            list.retain(|tx| tx.send(link.clone()).is_ok());
        }
    }

    fn deliver_all(&self, link: Link) {
        for list in self.lock().values_mut() {
            list.retain(|tx| tx.send(link.clone()).is_ok());
        }
    }
}

impl AsyncPushSender for Router {
    fn send(&self, info: PushInfo) -> Result<(), redis::aio::SendError> {
        let channel = info.data.first().and_then(bytes_of);
        match (info.kind, channel) {
            (PushKind::Disconnection, _) => self.deliver_all(Link::Lost),
            (PushKind::Message | PushKind::SMessage, Some(ch)) => {
                if let Some(payload) = info.data.get(1).and_then(bytes_of) {
                    self.deliver(ch, Link::Message(payload.to_vec()));
                }
            }
            (PushKind::Subscribe | PushKind::SSubscribe, Some(ch)) => {
                self.deliver(ch, Link::Subscribed)
            }
            // A server-side unsubscribe we did not ask for (we only unsubscribe channels
            // nobody listens to): the slot moved, the listener must subscribe again.
            (PushKind::Unsubscribe | PushKind::SUnsubscribe, Some(ch)) => {
                self.deliver(ch, Link::Lost)
            }
            _ => {}
        }
        Ok(())
    }
}

fn bytes_of(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}
