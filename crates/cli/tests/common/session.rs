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
