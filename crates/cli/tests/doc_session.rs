//! The client library against real deployments of our nodes: catalogue, live sessions
//! (remote edits, presence), reading back from the keyspace; one node and a cluster.

mod common;

use client::{Event, Store};
use common::session::{
    eventually, next_message, orphans, publish_joins, publish_updates, runtime, text_of, until,
    until_event,
};
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

/// Two stores on the node: one direct, one through `proxy` (which a test can cut).
async fn direct_and_through(node: &Nodes, proxy: &common::proxy::Proxy) -> (Store, Store) {
    let direct = Store::connect(&[node.addr(0)]).await.unwrap();
    let through = Store::connect(&[format!("127.0.0.1:{}", proxy.port)])
        .await
        .unwrap();
    (direct, through)
}

/// A network cut between an editor and its node: edits made meanwhile are queued, the
/// session reconnects by itself, stores them and catches up with what it missed.
#[test]
fn a_session_rides_out_a_network_cut() {
    let node = Nodes::standalone();
    let proxy = common::proxy::Proxy::start(node.port(0));
    runtime().block_on(async {
        let (direct, cut_off) = direct_and_through(&node, &proxy).await;
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
        let (direct, cut_off) = direct_and_through(&node, &proxy).await;
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

/// Anyone may publish on a document channel. Updates that can never integrate (their
/// dependency does not exist) are held only up to a bound; past it, or once one has waited
/// too long, the session re-reads the stored state and drops them, and edits keep flowing.
#[test]
fn forged_updates_are_bounded_and_dropped_by_a_resync() {
    let node = Nodes::standalone();
    runtime().block_on(async {
        let store = Store::connect(&[node.addr(0)]).await.unwrap();
        let info = store.create(DocKind::Text, "Forged", "t").await.unwrap();
        let mut ann = store.open(&info.id, "ann").await.unwrap();
        let bob = store.open(&info.id, "bob").await.unwrap();
        bob.insert_text(0, "before").await.unwrap();
        until(&mut ann, "bob's first edit", |s| text_of(s) == "before").await;

        let forged = orphans(docs::inbox::MAX_HELD + 1);
        publish_updates(&store, &info.id, &forged).await;
        // Published after the forged updates on the same channel, so ann has handled them
        // all by the time she has this edit.
        bob.insert_text(6, " after").await.unwrap();
        until(&mut ann, "bob's edit after the forged ones", |s| {
            text_of(s) == "before after"
        })
        .await;
        let replica = ann.document().replica();
        assert_eq!(replica.inbox().len(), 0, "nothing is held after the resync");
        assert!(!replica.is_waiting(), "the forged updates are gone");
        assert!(!replica.inbox().stalled());

        // Only what really waits is held: one forged update costs one entry, not one per
        // edit that follows it.
        publish_updates(&store, &info.id, &orphans(1)).await;
        for i in 0..20 {
            bob.insert_text(i, "x").await.unwrap();
        }
        let want = format!("{}before after", "x".repeat(20));
        until(&mut ann, "bob's 20 edits", |s| text_of(s) == want).await;
        assert_eq!(ann.document().replica().inbox().len(), 1);
        let fresh = store.open(&info.id, "cy").await.unwrap();
        assert_eq!(text_of(&fresh), want);
        assert!(!fresh.document().replica().is_waiting());
        // Waiting longer than the inbox allows (MAX_WAIT) also makes the session resync.
        eventually("ann drops the lone forged update", || async {
            let r = ann.document().replica();
            r.inbox().is_empty() && !r.is_waiting()
        })
        .await;
        assert_eq!(text_of(&ann), want);
    });
}

/// `close` says whether every edit is stored: an edit queued during a cut and stored by
/// the reconnect's catch-up counts as stored; one still queued when the link is down
/// does not.
#[test]
fn close_tells_whether_queued_edits_were_stored() {
    let node = Nodes::standalone();
    let proxy = common::proxy::Proxy::start(node.port(0));
    runtime().block_on(async {
        let (direct, cut_off) = direct_and_through(&node, &proxy).await;
        let info = direct.create(DocKind::Text, "Close", "net").await.unwrap();
        let mut ann = cut_off.open(&info.id, "ann").await.unwrap();
        proxy.cut();
        until_event(&mut ann, "ann offline", |e| *e == Event::Offline).await;
        let d = ann.insert_text(0, "kept").await.unwrap();
        assert_eq!(d, client::Delivery::Queued);
        proxy.heal();
        until_event(&mut ann, "ann back online", |e| *e == Event::Online).await;
        assert!(ann.close().await, "the catch-up stored the queued edit");
        let check = direct.open(&info.id, "check").await.unwrap();
        assert_eq!(text_of(&check), "kept");

        let mut dan = cut_off.open(&info.id, "dan").await.unwrap();
        proxy.cut();
        until_event(&mut dan, "dan offline", |e| *e == Event::Offline).await;
        let d = dan.insert_text(0, "lost ").await.unwrap();
        assert_eq!(d, client::Delivery::Queued);
        assert!(!dan.close().await, "the link is still cut");
    });
}

/// A burst of joins (anyone may publish them, with made-up client ids) gets a few presence
/// answers from each session, not one per join.
#[test]
fn a_join_flood_gets_few_presence_answers() {
    let node = Nodes::standalone();
    runtime().block_on(async {
        let store = Store::connect(&[node.addr(0)]).await.unwrap();
        let info = store.create(DocKind::Text, "Flood", "t").await.unwrap();
        let mut ann = store.open(&info.id, "ann").await.unwrap();
        let bob = store.open(&info.id, "bob").await.unwrap();
        let watcher = Store::connect(&[node.addr(0)]).await.unwrap();
        let mut sub = watcher
            .subscribe(&docs::keys::channel(&info.id))
            .await
            .unwrap();

        publish_joins(&store, &info.id, 100).await;
        // bob's edit is published after the joins: when ann has it, she has handled them.
        bob.insert_text(0, "x").await.unwrap();
        until(&mut ann, "bob's edit after the joins", |s| {
            text_of(s) == "x"
        })
        .await;
        ann.set_cursor(Some(7), None).await.unwrap();

        let me = docs::replica::client_id(ann.client_id());
        let mut answers = 0;
        loop {
            let docs::message::ChannelMessage::Awareness(u) = next_message(&mut sub).await else {
                continue;
            };
            let Some(entry) = u.clients.get(&me) else {
                continue;
            };
            if entry.json.contains("\"cursor\":7") {
                break;
            }
            answers += 1;
        }
        assert!(answers <= 4, "{answers} presence messages for 100 joins");
    });
}
