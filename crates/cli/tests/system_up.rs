//! `rustidocs up`: the whole local system starts, serves documents (the control service
//! folds their logs), restarts a control service that dies, and stops everything on SIGTERM.

mod common;

use client::Store;
use common::session::{eventually, log_len, runtime};
use common::system::{alive, signal, System};
use docs::DocKind;

#[test]
fn up_runs_cluster_and_control_and_stops_both() {
    let mut sys = System::up(3, 2, &["--persist-interval", "200ms"]);
    assert_eq!(sys.endpoints.len(), 9);
    let first_control = sys.control_pid().expect("control pid file");
    assert!(alive(first_control));
    runtime().block_on(async {
        let store = Store::connect(&sys.endpoints).await.unwrap();
        let info = store.create(DocKind::Text, "Up", "t").await.unwrap();
        let s = store.open(&info.id, "ann").await.unwrap();
        s.insert_text(0, "folded").await.unwrap();
        eventually("the control service folds the log", || async {
            log_len(&store, &info.id).await == 0
        })
        .await;

        // A control service that dies is started again.
        signal(first_control, "KILL");
        eventually("a new control service", || async {
            sys.control_pid()
                .is_some_and(|p| p != first_control && alive(p))
        })
        .await;
        s.insert_text(6, "!").await.unwrap();
        eventually("the new control service folds too", || async {
            log_len(&store, &info.id).await == 0
        })
        .await;
    });
    let control = sys.control_pid().unwrap();
    let nodes: Vec<i32> = (0..9).filter_map(|i| sys.node_pid(sys.base + i)).collect();
    assert_eq!(nodes.len(), 9);
    assert!(sys.stop(), "rustidocs up exits 0 on SIGTERM");
    assert!(!alive(control), "control service still running");
    assert!(nodes.iter().all(|p| !alive(*p)), "nodes still running");
    assert!(
        sys.control_log().contains("control service stopped"),
        "{}",
        sys.control_log()
    );
}
