//! The client library against real deployments of our nodes: catalogue, live sessions
//! (remote edits, presence), reading back from the keyspace; one node and a cluster.

mod common;

use client::{Event, Store};
use common::session::{runtime, text_of, until, until_event};
use common::Nodes;
use docs::DocKind;

async fn two_editors_share_a_text(store: &Store) {
    let info = store.create(DocKind::Text, "Notes", "work").await.unwrap();
    let listed = store.list(Some("work")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].meta.title.as_str()),
        (info.id.as_str(), "Notes")
    );
    assert!(store.list(Some("play")).await.unwrap().is_empty());

    let mut ann = store.open(&info.id, "ann").await.unwrap();
    let mut bob = store.open(&info.id, "bob").await.unwrap();
    ann.insert_text(0, "hello wörld").await.unwrap();
    until(&mut bob, "ann's edit", |s| text_of(s) == "hello wörld").await;
    bob.delete_text(5, 1).await.unwrap();
    bob.insert_text(5, ", ").await.unwrap();
    until(&mut ann, "bob's edits", |s| text_of(s) == "hello, wörld").await;

    // Presence: each sees the other, with a cursor once it is set.
    bob.set_cursor(Some(3), None).await.unwrap();
    until(&mut ann, "bob's cursor", |s| {
        s.peers()
            .iter()
            .any(|p| p.presence.user == "bob" && p.presence.cursor == Some(3))
    })
    .await;
    until(&mut bob, "ann's presence", |s| {
        s.peers().iter().any(|p| p.presence.user == "ann")
    })
    .await;
    bob.close().await;
    until(&mut ann, "bob leaving", |s| s.peers().is_empty()).await;
    assert!(matches!(
        ann.try_event(),
        None | Some(Event::Presence(_)) | Some(Event::Changed)
    ));

    // Everything acknowledged is in the keyspace: a fresh session reads it back.
    let again = store.open(&info.id, "cy").await.unwrap();
    assert_eq!(text_of(&again), "hello, wörld");

    store.rename(&info.id, "Renamed").await.unwrap();
    assert_eq!(store.meta(&info.id).await.unwrap().title, "Renamed");
    store.delete(&info.id).await.unwrap();
    assert!(store.list(None).await.unwrap().is_empty());
    assert!(matches!(
        store.open(&info.id, "dan").await,
        Err(client::ClientError::NotFound(_))
    ));
}

async fn two_editors_share_a_sheet(store: &Store) {
    let info = store
        .create(DocKind::Sheet, "Budget", "money")
        .await
        .unwrap();
    let ann = store.open(&info.id, "ann").await.unwrap();
    let mut bob = store.open(&info.id, "bob").await.unwrap();
    ann.set_cell(0, 0, "2").await.unwrap();
    ann.set_cell(1, 0, "=A1*21").await.unwrap();
    until(&mut bob, "ann's cells", |s| {
        let sheet = s.document().sheet(s.id()).unwrap();
        docs::formula::evaluate(sheet).unwrap()[1][0] == "42"
    })
    .await;
}

#[test]
fn sessions_on_a_cluster() {
    let nodes = Nodes::up(3, 0);
    runtime().block_on(async {
        let store = Store::connect(&nodes.addrs()).await.unwrap();
        assert!(store.is_cluster());
        two_editors_share_a_text(&store).await;
        two_editors_share_a_sheet(&store).await;
    });
}

#[test]
fn sessions_on_a_single_node() {
    let node = Nodes::standalone();
    runtime().block_on(async {
        let store = Store::connect(&[node.addr(0)]).await.unwrap();
        assert!(!store.is_cluster());
        two_editors_share_a_text(&store).await;
        two_editors_share_a_sheet(&store).await;
    });
}

/// A network cut between an editor and its node: edits made meanwhile are queued, the
/// session reconnects by itself, stores them and catches up with what it missed.
#[test]
fn a_session_rides_out_a_network_cut() {
    let node = Nodes::standalone();
    let proxy = common::proxy::Proxy::start(node.port(0));
    runtime().block_on(async {
        let direct = Store::connect(&[node.addr(0)]).await.unwrap();
        let cut_off = Store::connect(&[format!("127.0.0.1:{}", proxy.port)])
            .await
            .unwrap();
        let info = direct.create(DocKind::Text, "Cut", "net").await.unwrap();
        let mut ann = cut_off.open(&info.id, "ann").await.unwrap();
        let mut bob = direct.open(&info.id, "bob").await.unwrap();
        ann.insert_text(0, "a").await.unwrap();
        until(&mut bob, "ann's first edit", |s| text_of(s) == "a").await;

        proxy.cut();
        let mut queued = 0;
        for i in 1..=20 {
            let d = ann.insert_text(i, "b").await.unwrap();
            queued += usize::from(d == client::Delivery::Queued);
        }
        bob.insert_text(0, "<").await.unwrap();
        assert!(queued > 0, "edits during the cut are queued, not lost");
        proxy.heal();
        let want = format!("<a{}", "b".repeat(20));
        until(&mut ann, "ann back online with bob's edit", |s| {
            text_of(s) == want
        })
        .await;
        until(&mut bob, "ann's queued edits", |s| text_of(s) == want).await;
        assert!(ann.flush().await);
        let fresh = direct.open(&info.id, "cy").await.unwrap();
        assert_eq!(text_of(&fresh), want);
    });
}

/// Deletions made during a cut are stored at the reconnect like insertions. A deletion
/// leaves yrs's state vector unchanged, so the catch-up cannot tell by state vectors alone
/// that the cluster lacks it.
#[test]
fn deletions_made_offline_reach_the_others() {
    let node = Nodes::standalone();
    let proxy = common::proxy::Proxy::start(node.port(0));
    runtime().block_on(async {
        let direct = Store::connect(&[node.addr(0)]).await.unwrap();
        let cut_off = Store::connect(&[format!("127.0.0.1:{}", proxy.port)])
            .await
            .unwrap();
        let info = direct.create(DocKind::Text, "Cut", "net").await.unwrap();
        let mut ann = cut_off.open(&info.id, "ann").await.unwrap();
        let mut bob = direct.open(&info.id, "bob").await.unwrap();
        ann.insert_text(0, "hello world").await.unwrap();
        until(&mut bob, "ann's text", |s| text_of(s) == "hello world").await;

        proxy.cut();
        until_event(&mut ann, "ann offline", |e| *e == Event::Offline).await;
        let d = ann.delete_text(5, 6).await.unwrap();
        assert_eq!(d, client::Delivery::Queued, "the link is cut");
        proxy.heal();
        until_event(&mut ann, "ann back online", |e| *e == Event::Online).await;
        until(&mut bob, "ann's offline deletion", |s| {
            text_of(s) == "hello"
        })
        .await;
        let fresh = direct.open(&info.id, "cy").await.unwrap();
        assert_eq!(text_of(&fresh), "hello");
    });
}
