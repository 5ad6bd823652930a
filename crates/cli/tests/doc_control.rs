//! The control service against a real cluster of our nodes: it answers joins with the
//! session list, folds logs into snapshots, and loses nothing when it is SIGKILLed.

mod common;

use client::Store;
use common::session::{
    eventually, log_len, next_message, orphans, publish_joins, publish_updates, runtime,
    session_users, text_of, until, until_event,
};
use common::{Control, Nodes};
use docs::DocKind;

/// Waits until the control service's log says it follows document `id`.
async fn followed(control: &Control, id: &str) {
    eventually("control follows the document", || async {
        control
            .log_text()
            .lines()
            .any(|l| l.contains("following document") && l.contains(id))
    })
    .await;
}

#[test]
fn control_lists_sessions_and_folds_the_log() {
    let nodes = Nodes::up(3, 0);
    let control = Control::start(&nodes.addrs(), "200ms", nodes.dir.join("control.log"));
    runtime().block_on(async {
        let store = Store::connect(&nodes.addrs()).await.unwrap();
        let info = store.create(DocKind::Text, "Log", "t").await.unwrap();
        followed(&control, &info.id).await;

        let mut ann = store.open(&info.id, "ann").await.unwrap();
        until_event(&mut ann, "a session list with ann", |e| {
            session_users(e) == Some(vec!["ann".into()])
        })
        .await;
        let mut bob = store.open(&info.id, "bob").await.unwrap();
        until_event(&mut ann, "a session list with ann and bob", |e| {
            session_users(e) == Some(vec!["ann".into(), "bob".into()])
        })
        .await;

        for i in 0..200 {
            ann.insert_text(i, "x").await.unwrap();
        }
        until(&mut bob, "ann's 200 edits", |s| text_of(s).len() == 200).await;
        eventually("the log folded away", || async {
            log_len(&store, &info.id).await == 0
        })
        .await;
        // The snapshot alone now holds everything.
        let cy = store.open(&info.id, "cy").await.unwrap();
        assert_eq!(text_of(&cy), "x".repeat(200));
        // The list moved the document to its last edit.
        let listed = store.list(None).await.unwrap();
        assert!(listed[0].meta.updated >= info.meta.created);

        bob.close().await;
        until_event(&mut ann, "bob gone from the session list", |e| {
            session_users(e) == Some(vec!["ann".into(), "cy".into()])
        })
        .await;
    });
    assert!(
        control.log_text().contains("folded log into snapshot"),
        "{}",
        control.log_text()
    );
}

#[test]
fn edits_survive_a_control_crash() {
    let nodes = Nodes::up(3, 0);
    let mut control = Control::start(&nodes.addrs(), "200ms", nodes.dir.join("control.log"));
    runtime().block_on(async {
        let store = Store::connect(&nodes.addrs()).await.unwrap();
        let info = store.create(DocKind::Text, "Crash", "t").await.unwrap();
        followed(&control, &info.id).await;
        let ann = store.open(&info.id, "ann").await.unwrap();
        let mut written = String::new();
        for round in 0..6 {
            for _ in 0..50 {
                let c = char::from(b'a' + round as u8);
                ann.insert_text(written.chars().count(), &c.to_string())
                    .await
                    .unwrap();
                written.push(c);
            }
            match round {
                1 => control.kill(),
                3 => {
                    control = Control::start(&nodes.addrs(), "200ms", nodes.dir.join("control.log"))
                }
                _ => {}
            }
        }
        // The restarted service takes the lease once the dead one's expires, then folds.
        eventually("the log folded away after the restart", || async {
            log_len(&store, &info.id).await == 0
        })
        .await;
        let check = store.open(&info.id, "check").await.unwrap();
        assert_eq!(text_of(&check), written);
    });
}

/// Anyone may publish on a document channel: a malformed update (one that makes yrs's
/// decoder overflow) is ignored by the control service and by the sessions, which go on
/// answering joins, folding and passing edits.
#[test]
fn garbage_on_the_channel_wedges_nobody() {
    let node = Nodes::standalone();
    let control = Control::start(&[node.addr(0)], "200ms", node.dir.join("control.log"));
    runtime().block_on(async {
        let store = Store::connect(&[node.addr(0)]).await.unwrap();
        let info = store.create(DocKind::Text, "Junk", "t").await.unwrap();
        followed(&control, &info.id).await;
        let ann = store.open(&info.id, "ann").await.unwrap();
        let mut bob = store.open(&info.id, "bob").await.unwrap();

        // Update frame (00 02 len): no structs, a delete set whose range end overflows.
        let junk = [0, 2, 10, 0, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1];
        let channel = docs::keys::channel(&info.id);
        assert!(store.publish(&channel, &junk).await.unwrap() >= 2);

        ann.insert_text(0, "after").await.unwrap();
        until(&mut bob, "ann's edit after the junk", |s| {
            text_of(s) == "after"
        })
        .await;
        let mut cy = store.open(&info.id, "cy").await.unwrap();
        until_event(&mut cy, "a session list from the control service", |e| {
            session_users(e) == Some(vec!["ann".into(), "bob".into(), "cy".into()])
        })
        .await;
        eventually("the log folded away", || async {
            log_len(&store, &info.id).await == 0
        })
        .await;
    });
}

/// Forged updates that can never integrate: the control service's copy of the document
/// does not keep them (it is dropped and reloaded from the store once they pile up), and
/// it goes on answering joins with the real content.
#[test]
fn forged_updates_make_the_control_reload_its_copy() {
    let node = Nodes::standalone();
    let control = Control::start(&[node.addr(0)], "200ms", node.dir.join("control.log"));
    runtime().block_on(async {
        let store = Store::connect(&[node.addr(0)]).await.unwrap();
        let info = store.create(DocKind::Text, "Forged", "t").await.unwrap();
        followed(&control, &info.id).await;
        let ann = store.open(&info.id, "ann").await.unwrap();
        ann.insert_text(0, "real").await.unwrap();
        // ann's join made the service load its copy; the forged updates pile up in it.
        publish_updates(&store, &info.id, &orphans(docs::inbox::MAX_HELD + 1)).await;
        eventually("the control dropped its copy", || async {
            control
                .log_text()
                .contains("copy dropped, reloading from the store")
        })
        .await;
        let mut bob = store.open(&info.id, "bob").await.unwrap();
        until(&mut bob, "the real text", |s| text_of(s) == "real").await;
        assert!(!bob.document().replica().is_waiting());
        until_event(&mut bob, "a session list", |e| {
            session_users(e) == Some(vec!["ann".into(), "bob".into()])
        })
        .await;
    });
}

/// A burst of joins (anyone may publish them, with made-up client ids) gets a few session
/// lists, the last one complete, not one list per join (each as long as the joins so far).
#[test]
fn a_join_flood_gets_few_session_lists() {
    let node = Nodes::standalone();
    let control = Control::start(&[node.addr(0)], "200ms", node.dir.join("control.log"));
    runtime().block_on(async {
        let store = Store::connect(&[node.addr(0)]).await.unwrap();
        let info = store.create(DocKind::Text, "Flood", "t").await.unwrap();
        followed(&control, &info.id).await;
        let mut sub = store
            .subscribe(&docs::keys::channel(&info.id))
            .await
            .unwrap();
        publish_joins(&store, &info.id, 100).await;
        let mut lists = 0;
        loop {
            use docs::message::{ChannelMessage, Custom};
            if let ChannelMessage::Custom(Custom::Sessions(list)) = next_message(&mut sub).await {
                lists += 1;
                if list.len() == 100 {
                    break;
                }
            }
        }
        assert!(lists <= 4, "{lists} session lists for 100 joins");
    });
}
