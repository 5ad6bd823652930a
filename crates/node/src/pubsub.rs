//! Pub/sub registry: which clients listen on which channels, patterns and shard
//! channels, and delivery of messages into their output (with output buffer limits).

use std::collections::BTreeSet;
use std::io::Write;
use std::rc::Rc;

use crate::client::{Client, ClientShared};
use crate::config::BufferLimit;
use crate::db::HashMap;
use crate::server::{Server, Stats};

/// The three kinds of subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

/// Subscribers of one name, in subscription order (the delivery order of Redis 7.0).
pub type Subscribers = Vec<Rc<ClientShared>>;
pub type Registry = HashMap<Vec<u8>, Subscribers>;

/// Subscribers of channels, patterns and shard channels, by name.
#[derive(Default)]
pub struct PubSub {
    pub channels: Registry,
    pub patterns: Registry,
    pub shard_channels: Registry,
}

impl PubSub {
    pub fn registry(&self, kind: Kind) -> &Registry {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn registry_mut(&mut self, kind: Kind) -> &mut Registry {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Registers a new subscription (the caller checked the client did not have it).
    pub fn add(&mut self, kind: Kind, name: &[u8], client: &Rc<ClientShared>) {
        let registry = self.registry_mut(kind);
        match registry.get_mut(name) {
            Some(list) => list.push(client.clone()),
            None => {
                registry.insert(name.to_vec(), vec![client.clone()]);
            }
        }
    }

    /// Drops one subscription; names nobody listens to any more are forgotten, so
    /// PUBSUB CHANNELS does not list them and the registry does not grow forever.
    pub fn remove(&mut self, kind: Kind, name: &[u8], client_id: u64) {
        let registry = self.registry_mut(kind);
        if let Some(list) = registry.get_mut(name) {
            list.retain(|c| c.id != client_id);
            if list.is_empty() {
                registry.swap_remove(name);
            }
        }
    }

    /// Drops every subscription of a disconnecting client.
    pub fn remove_client(&mut self, client: &Client) {
        let id = client.id();
        let sets: [(Kind, &BTreeSet<Vec<u8>>); 3] = [
            (Kind::Channel, &client.channels),
            (Kind::Pattern, &client.patterns),
            (Kind::Shard, &client.shard_channels),
        ];
        for (kind, names) in sets {
            for name in names {
                self.remove(kind, name, id);
            }
        }
    }

    /// How many clients subscribed to exactly `name` (patterns are not expanded).
    pub fn subscriber_count(&self, kind: Kind, name: &[u8]) -> usize {
        self.registry(kind).get(name).map_or(0, Vec::len)
    }
}

/// Frame headers by protocol: a RESP2 array or a RESP3 push of 3 or 4 elements.
const HEADER_3: [&[u8]; 2] = [b"*3\r\n", b">3\r\n"];
const HEADER_4: [&[u8]; 2] = [b"*4\r\n", b">4\r\n"];
const MESSAGE: &[u8] = b"$7\r\nmessage\r\n";
const PMESSAGE: &[u8] = b"$8\r\npmessage\r\n";
const SMESSAGE: &[u8] = b"$8\r\nsmessage\r\n";

/// Appends a RESP bulk string.
fn put_bulk(buf: &mut Vec<u8>, data: &[u8]) {
    // Writing to a Vec cannot fail.
    let _ = write!(buf, "${}\r\n", data.len());
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
}

/// One message frame, pre-encoded except for its header: the only byte that differs
/// between RESP2 and RESP3 is `*` vs `>`, so the body is shared by all subscribers.
struct Frame<'a> {
    headers: [&'static [u8]; 2],
    parts: [&'a [u8]; 3],
}

impl Frame<'_> {
    fn write(&self, buf: &mut Vec<u8>, resp3: bool) {
        buf.extend_from_slice(self.headers[resp3 as usize]);
        for part in self.parts {
            buf.extend_from_slice(part);
        }
    }
}

/// What a publish did: how many subscriptions received the message, and the frames
/// for the publisher itself (it may listen too), in its own protocol.
pub struct Published {
    pub receivers: usize,
    pub own: Vec<u8>,
}

/// Delivers `message` on `channel` to its subscribers (and, unless sharded, to the
/// matching patterns' subscribers), like Redis's `pubsubPublishMessage`. `publisher`
/// is the publishing client's id (0 when the server publishes, e.g. notifications).
pub fn publish(
    srv: &Server,
    channel: &[u8],
    message: &[u8],
    shard: bool,
    publisher: u64,
) -> Published {
    let pubsub = srv.pubsub.borrow();
    let mut sender = Sender {
        srv,
        publisher,
        limit: None,
        published: Published {
            receivers: 0,
            own: Vec::new(),
        },
    };
    let (exact, kind_bulk) = if shard {
        (&pubsub.shard_channels, SMESSAGE)
    } else {
        (&pubsub.channels, MESSAGE)
    };
    // Encoded lazily: a publish nobody listens to allocates nothing.
    let mut tail = Vec::new();
    let encode_tail = |tail: &mut Vec<u8>| {
        if tail.is_empty() {
            tail.reserve(channel.len() + message.len() + 32);
            put_bulk(tail, channel);
            put_bulk(tail, message);
        }
    };
    if let Some(subs) = exact.get(channel) {
        encode_tail(&mut tail);
        let frame = Frame {
            headers: HEADER_3,
            parts: [kind_bulk, &tail, b""],
        };
        sender.send_all(subs, &frame);
    }
    if !shard {
        let mut pattern_bulk = Vec::new();
        for (pattern, subs) in &pubsub.patterns {
            if !crate::glob::glob_match(pattern, channel, false) {
                continue;
            }
            encode_tail(&mut tail);
            pattern_bulk.clear();
            put_bulk(&mut pattern_bulk, pattern);
            let frame = Frame {
                headers: HEADER_4,
                parts: [PMESSAGE, &pattern_bulk, &tail],
            };
            sender.send_all(subs, &frame);
        }
    }
    sender.published
}

/// Writes frames into subscribers' pending output, enforcing the pub/sub class
/// output buffer limits.
struct Sender<'a> {
    srv: &'a Server,
    publisher: u64,
    /// Read from the config on first delivery.
    limit: Option<BufferLimit>,
    published: Published,
}

impl Sender<'_> {
    fn send_all(&mut self, subs: &[Rc<ClientShared>], frame: &Frame) {
        self.published.receivers += subs.len();
        for sub in subs {
            let resp3 = sub.resp.get() == 3;
            if sub.id == self.publisher {
                frame.write(&mut self.published.own, resp3);
            } else {
                self.deliver(sub, frame, resp3);
            }
        }
    }

    fn deliver(&mut self, sub: &ClientShared, frame: &Frame, resp3: bool) {
        // A client being closed gets no more output (Redis: CLIENT_CLOSE_ASAP).
        if sub.kill.get() {
            return;
        }
        let used = {
            let mut out = sub.pending_out.borrow_mut();
            let was_empty = out.is_empty();
            frame.write(&mut out, resp3);
            // The connection task empties `pending_out` only when it flushes, and a
            // wake-up was requested when it last became non-empty: one is enough.
            if was_empty {
                sub.wake.notify_one();
            }
            out.len() as u64
        };
        let srv = self.srv;
        let limit = *self
            .limit
            .get_or_insert_with(|| srv.config.borrow().output_pubsub);
        enforce_limit(srv, &limit, sub, used);
    }
}

/// Redis's `checkClientOutputBufferLimits` for a subscriber holding `used` bytes of
/// undelivered output: over the hard limit it is closed at once; over the soft limit
/// for longer than its seconds too (cron.rs checks the latter as time passes).
fn enforce_limit(srv: &Server, limit: &BufferLimit, sub: &ClientShared, used: u64) {
    if limit.hard > 0 && used >= limit.hard {
        close_for_output_limit(srv, sub);
        return;
    }
    if limit.soft == 0 || used < limit.soft {
        sub.soft_limit_since_ms.set(0);
        return;
    }
    let now = crate::clock::now_ms();
    let since = sub.soft_limit_since_ms.get();
    if since == 0 {
        sub.soft_limit_since_ms.set(now);
    } else if now.saturating_sub(since) > limit.soft_seconds * 1000 {
        close_for_output_limit(srv, sub);
    }
}

/// Disconnects a subscriber that fell too far behind and frees what it had pending.
fn close_for_output_limit(srv: &Server, sub: &ClientShared) {
    tracing::warn!(
        "Client id={} addr={} laddr={} fd={} name={} scheduled to be closed ASAP for overcoming of output buffer limits.",
        sub.id,
        sub.addr,
        sub.laddr,
        sub.fd,
        String::from_utf8_lossy(&sub.name.borrow()),
    );
    Stats::incr(&srv.stats.client_output_limit_disconnections, 1);
    *sub.pending_out.borrow_mut() = Vec::new();
    sub.soft_limit_since_ms.set(0);
    sub.request_kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(id: u64, resp: u8) -> Rc<ClientShared> {
        let c = ClientShared::new(id, "127.0.0.1:1".into(), "127.0.0.1:2".into(), 5, 0);
        c.resp.set(resp);
        Rc::new(c)
    }

    fn server() -> Rc<Server> {
        Server::new(crate::config::Config::default())
    }

    #[test]
    fn publish_encodes_per_protocol_and_counts_patterns() {
        let srv = server();
        let (a, b) = (shared(1, 2), shared(2, 3));
        {
            let mut ps = srv.pubsub.borrow_mut();
            ps.add(Kind::Channel, b"news", &a);
            ps.add(Kind::Pattern, b"n*", &b);
            ps.add(Kind::Pattern, b"x*", &b);
        }
        let p = publish(&srv, b"news", b"hi", false, 99);
        assert_eq!(p.receivers, 2);
        assert!(p.own.is_empty());
        assert_eq!(
            &*a.pending_out.borrow(),
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            &*b.pending_out.borrow(),
            b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(publish(&srv, b"news", b"hi", true, 99).receivers, 0);
    }

    #[test]
    fn own_frames_are_returned_and_removal_forgets_names() {
        let srv = server();
        let a = shared(1, 3);
        srv.pubsub.borrow_mut().add(Kind::Shard, b"s", &a);
        let p = publish(&srv, b"s", b"m", true, 1);
        assert_eq!(p.receivers, 1);
        assert_eq!(p.own, b">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nm\r\n");
        assert!(a.pending_out.borrow().is_empty());
        srv.pubsub.borrow_mut().remove(Kind::Shard, b"s", 1);
        assert!(srv.pubsub.borrow().shard_channels.is_empty());
    }

    #[test]
    fn hard_limit_kills_and_frees() {
        let srv = server();
        srv.config.borrow_mut().output_pubsub = BufferLimit {
            hard: 100,
            soft: 0,
            soft_seconds: 0,
        };
        let a = shared(1, 2);
        srv.pubsub.borrow_mut().add(Kind::Channel, b"c", &a);
        publish(&srv, b"c", &[b'x'; 50], false, 0);
        assert!(!a.kill.get());
        publish(&srv, b"c", &[b'x'; 50], false, 0);
        assert!(a.kill.get());
        assert!(a.pending_out.borrow().is_empty());
        assert_eq!(srv.stats.client_output_limit_disconnections.get(), 1);
        // Still counted as a receiver, but nothing is buffered for a closing client.
        assert_eq!(publish(&srv, b"c", b"x", false, 0).receivers, 1);
        assert!(a.pending_out.borrow().is_empty());
    }

    #[test]
    fn soft_limit_starts_the_clock() {
        let srv = server();
        srv.config.borrow_mut().output_pubsub = BufferLimit {
            hard: 0,
            soft: 10,
            soft_seconds: 60,
        };
        let a = shared(1, 2);
        srv.pubsub.borrow_mut().add(Kind::Channel, b"c", &a);
        publish(&srv, b"c", b"0123456789", false, 0);
        assert!(a.soft_limit_since_ms.get() > 0);
        assert!(!a.kill.get());
    }
}
