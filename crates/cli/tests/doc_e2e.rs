//! Documents end to end on the whole system (`rustidocs up`, 9 nodes + control service):
//! 20 concurrent editors converge; acknowledged edits survive a master's SIGKILL and a
//! full restart of every process.

mod common;

use std::sync::Arc;
use std::time::Duration;

use client::{Delivery, Session, Store};
use common::session::{eventually, runtime, text_of};
use common::system::{signal, System};
use docs::{Axis, DocKind};

const EDITORS: usize = 20;
const EDITS_EACH: usize = 25;

/// Random text edits: inserts at random places, sometimes a deletion. The position is
/// picked from the length read just before, and the others' deletions may shorten the
/// text in between (the session applies them as they arrive): then it is picked again.
async fn edit_text(s: &Session, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    for i in 0..EDITS_EACH {
        loop {
            let len = text_of(s).chars().count();
            let done = if len > 4 && rng.u8(..4) == 0 {
                let at = rng.usize(..len - 2);
                s.delete_text(at, 2).await
            } else {
                let word = format!("{}{i} ", char::from(b'a' + (seed % 26) as u8));
                s.insert_text(rng.usize(..=len), &word).await
            };
            match done {
                Err(client::ClientError::Doc(docs::DocError::OutOfRange { .. })) => continue,
                done => {
                    done.unwrap();
                    break;
                }
            }
        }
    }
}

/// Random sheet edits: cell inputs (numbers, formulas) and now and then a new row or column.
async fn edit_sheet(s: &Session, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    for i in 0..EDITS_EACH {
        let sheet = s.document().sheet(s.id()).unwrap();
        let (rows, cols) = (sheet.count(Axis::Rows), sheet.count(Axis::Cols));
        match rng.u8(..10) {
            0 => s
                .insert_lines(Axis::Rows, rng.usize(..rows), 1)
                .await
                .unwrap(),
            1 => s
                .insert_lines(Axis::Cols, rng.usize(..cols), 1)
                .await
                .unwrap(),
            2 => {
                let f = format!("=SUM(A1:B{})", 1 + rng.usize(..5));
                s.set_cell(rng.usize(..8), rng.usize(..4), &f)
                    .await
                    .unwrap()
            }
            _ => {
                let v = (seed * 100 + i as u64).to_string();
                s.set_cell(rng.usize(..8), rng.usize(..4), &v)
                    .await
                    .unwrap()
            }
        };
    }
}

fn sheet_state(s: &Session) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let sheet = s.document().sheet(s.id()).unwrap();
    (sheet.inputs(), docs::formula::evaluate(sheet).unwrap())
}

#[test]
fn twenty_editors_converge_on_a_text_and_a_sheet() {
    let sys = System::up(3, 2, &["--persist-interval", "500ms"]);
    runtime().block_on(async {
        let store = Store::connect(&sys.endpoints).await.unwrap();
        let text = store.create(DocKind::Text, "T", "e2e").await.unwrap();
        let sheet = store.create(DocKind::Sheet, "S", "e2e").await.unwrap();
        let mut editors = Vec::new();
        for i in 0..EDITORS {
            let user = format!("user{i}");
            let t = Arc::new(store.open(&text.id, &user).await.unwrap());
            let s = Arc::new(store.open(&sheet.id, &user).await.unwrap());
            editors.push((t, s));
        }
        let work: Vec<_> = editors
            .iter()
            .enumerate()
            .map(|(i, (t, s))| {
                let (t, s) = (t.clone(), s.clone());
                tokio::spawn(async move {
                    tokio::join!(edit_text(&t, i as u64), edit_sheet(&s, 1000 + i as u64));
                })
            })
            .collect();
        for w in work {
            w.await.unwrap();
        }
        let fresh_t = store.open(&text.id, "reader").await.unwrap();
        let fresh_s = store.open(&sheet.id, "reader").await.unwrap();
        eventually("every editor has the stored text and sheet", || async {
            let want_t = text_of(&fresh_t);
            let want_s = sheet_state(&fresh_s);
            editors
                .iter()
                .all(|(t, s)| text_of(t) == want_t && sheet_state(s) == want_s)
        })
        .await;
        // Editors start and finish asynchronously: some edits reach a session only after
        // the fresh reader opened, so the reader must converge too.
        let reread = store.open(&text.id, "late").await.unwrap();
        assert_eq!(text_of(&reread), text_of(&editors[0].0));
        assert!(!text_of(&reread).is_empty());
    });
}

/// The port of the master that serves `key`'s slot, as node `addr` sees it.
fn master_port_of(addr: &str, key: &str) -> u16 {
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let mut c = client.get_connection().unwrap();
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut c)
        .unwrap();
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).unwrap();
    for line in nodes.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if !f[2].contains("master") {
            continue;
        }
        let serves = f[8..].iter().any(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&slot))
        });
        if serves {
            return f[1].split([':', '@']).nth(1).unwrap().parse().unwrap();
        }
    }
    panic!("no master serves slot {slot}");
}

/// Appends unique tokens to the end of the text; returns those the cluster acknowledged
/// (in the log on the master and on a replica) and those only queued.
async fn append_tokens(s: Arc<Session>, who: usize, n: usize) -> (Vec<String>, Vec<String>) {
    let (mut acked, mut queued) = (Vec::new(), Vec::new());
    for i in 0..n {
        let token = format!("<{who}.{i}>");
        let end = text_of(&s).chars().count();
        match s.insert_text(end, &token).await.unwrap() {
            Delivery::Acknowledged { replicas } if replicas > 0 => acked.push(token),
            _ => queued.push(token),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (acked, queued)
}

#[test]
fn acknowledged_edits_survive_a_master_kill_and_a_full_restart() {
    let mut sys = System::up(3, 2, &["--persist-interval", "300ms"]);
    let (id, acked, all) = runtime().block_on(async {
        let store = Store::connect(&sys.endpoints).await.unwrap();
        assert_eq!(
            store.replica_acks(),
            1,
            "every shard has replicas: edits wait for one"
        );
        let info = store.create(DocKind::Text, "F", "faults").await.unwrap();
        let victim = master_port_of(&sys.endpoints[0], &docs::keys::log(&info.id));
        let mut sessions = Vec::new();
        for who in 0..4 {
            sessions.push(Arc::new(
                store.open(&info.id, &format!("w{who}")).await.unwrap(),
            ));
        }
        let writers: Vec<_> = sessions
            .iter()
            .enumerate()
            .map(|(who, s)| tokio::spawn(append_tokens(s.clone(), who, 150)))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        signal(sys.node_pid(victim).unwrap(), "KILL");
        let (mut acked, mut all) = (Vec::new(), Vec::new());
        for w in writers {
            let (a, q) = w.await.unwrap();
            all.extend(a.iter().cloned().chain(q));
            acked.extend(a);
        }
        eprintln!(
            "{} edits acknowledged by a replica, {} not",
            acked.len(),
            all.len() - acked.len()
        );
        assert!(!acked.is_empty());
        eventually("every session has sent everything", || async {
            let mut done = true;
            for s in &sessions {
                done &= s.flush().await;
            }
            done
        })
        .await;
        eventually("a fresh reader sees every edit", || async {
            match store.open(&info.id, "check").await {
                Ok(r) => {
                    let t = text_of(&r);
                    all.iter().all(|tok| t.contains(tok.as_str()))
                }
                Err(_) => false,
            }
        })
        .await;
        // The control service goes on folding on the promoted replica.
        eventually("the log folded after the failover", || async {
            common::session::log_len(&store, &info.id).await == 0
        })
        .await;
        (info.id, acked, all)
    });
    assert!(sys.stop(), "rustidocs up stops cleanly");
    sys.restart(&["--persist-interval", "300ms"]);
    runtime().block_on(async {
        let store = Store::connect(&sys.endpoints).await.unwrap();
        let mut reopened = Err(client::ClientError::Closed);
        for _ in 0..200 {
            reopened = store.open(&id, "after").await;
            if reopened.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let reopened = reopened.unwrap_or_else(|e| panic!("no read after the restart: {e}"));
        let text = text_of(&reopened);
        let lost: Vec<&String> = all.iter().filter(|t| !text.contains(t.as_str())).collect();
        assert!(
            lost.is_empty(),
            "lost after restart: {lost:?} ({} acknowledged)",
            acked.len()
        );
    });
}

/// The same services on a cluster of Debian's redis-server processes: they use only
/// standard Redis 7 commands, so a real Redis cluster is a drop-in.
#[test]
fn the_system_runs_unchanged_on_a_real_redis_cluster() {
    let sys = System::up(
        3,
        1,
        &[
            "--node-binary",
            "redis-server",
            "--persist-interval",
            "200ms",
        ],
    );
    runtime().block_on(async {
        let store = Store::connect(&sys.endpoints).await.unwrap();
        assert!(store.is_cluster());
        let info = store.create(DocKind::Text, "Real", "redis").await.unwrap();
        let mut editors = Vec::new();
        for i in 0..5 {
            editors.push(Arc::new(
                store.open(&info.id, &format!("r{i}")).await.unwrap(),
            ));
        }
        let work: Vec<_> = editors
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let s = s.clone();
                tokio::spawn(async move { edit_text(&s, 500 + i as u64).await })
            })
            .collect();
        for w in work {
            w.await.unwrap();
        }
        eventually(
            "the control service folds the log on real Redis",
            || async { common::session::log_len(&store, &info.id).await == 0 },
        )
        .await;
        let fresh = store.open(&info.id, "reader").await.unwrap();
        eventually("every editor has the stored text", || async {
            editors.iter().all(|s| text_of(s) == text_of(&fresh))
        })
        .await;
        assert!(!text_of(&fresh).is_empty());
        assert_eq!(store.list(Some("redis")).await.unwrap()[0].id, info.id);
    });
    assert!(sys.control_log().contains("folded log into snapshot"));
}
