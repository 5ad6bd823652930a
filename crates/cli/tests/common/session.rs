//! Helpers for tests that drive document sessions of the client library: a runtime, and
//! waiting on a session's state or events with a deadline.

use std::time::Duration;

use client::{Event, Session, Store};

/// How long a test waits for something to reach a session.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Reads the session's events until `done` holds for it (checked first and after each).
pub async fn until(s: &mut Session, what: &str, done: impl Fn(&Session) -> bool) {
    let wait = async {
        while !done(s) {
            if s.next_event().await.is_none() {
                panic!("session ended while waiting for {what}");
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// Reads the session's events until one satisfies `want`.
pub async fn until_event(s: &mut Session, what: &str, want: impl Fn(&Event) -> bool) {
    let wait = async {
        loop {
            match s.next_event().await {
                Some(e) if want(&e) => return,
                Some(_) => {}
                None => panic!("session ended while waiting for {what}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// Polls `probe` until it returns true.
pub async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The content of a text session.
pub fn text_of(s: &Session) -> String {
    s.document().text(s.id()).unwrap().content()
}

/// Entries in a document's log.
pub async fn log_len(store: &Store, id: &str) -> usize {
    store
        .query(redis::cmd("XLEN").arg(docs::keys::log(id)))
        .await
        .unwrap()
}

/// The user names of a session list event, sorted.
pub fn session_users(e: &Event) -> Option<Vec<String>> {
    let Event::Sessions(list) = e else {
        return None;
    };
    let mut users: Vec<String> = list.iter().map(|s| s.user.clone()).collect();
    users.sort();
    Some(users)
}

/// `n` updates that can never integrate: edits 6.. of a writer whose first five nobody
/// has (as forged ones would be).
pub fn orphans(n: usize) -> Vec<Vec<u8>> {
    let w = docs::TextDoc::with_client_id(77);
    let all: Vec<Vec<u8>> = (0..5 + n).map(|_| w.insert(0, "o").unwrap()).collect();
    all[5..].to_vec()
}

/// Publishes `updates` on document `id`'s channel as y-sync update frames, in order.
pub async fn publish_updates(store: &Store, id: &str, updates: &[Vec<u8>]) {
    let channel = docs::keys::channel(id);
    for u in updates {
        let frame = docs::message::ChannelMessage::Sync(yrs::sync::SyncMessage::Update(u.clone()));
        store.publish(&channel, &frame.encode()).await.unwrap();
    }
}

/// Publishes joins of `n` made-up clients (ids 1000..) on document `id`'s channel.
pub async fn publish_joins(store: &Store, id: &str, n: u64) {
    use docs::message::{ChannelMessage, Custom, Session as Info};
    let channel = docs::keys::channel(id);
    for i in 0..n {
        let join = ChannelMessage::Custom(Custom::Join(Info {
            client: 1000 + i,
            user: format!("u{i}"),
        }));
        store.publish(&channel, &join.encode()).await.unwrap();
    }
}

/// The next message on a raw subscription, decoded (undecodable ones are skipped).
pub async fn next_message(
    sub: &mut client::connection::Subscription,
) -> docs::message::ChannelMessage {
    let wait = async {
        loop {
            match sub.recv().await {
                Some(client::router::Link::Message(bytes)) => {
                    if let Ok(m) = docs::message::ChannelMessage::decode(&bytes) {
                        return m;
                    }
                }
                Some(_) => {}
                None => panic!("subscription ended"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("timed out waiting for a channel message")
}
