//! Live resharding of a cluster of our nodes with `redis-cli --cluster reshard|rebalance|
//! add-node|del-node` while a redis-rs cluster client keeps writing and reading.

mod common;

use common::Nodes;
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::Commands;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const KEYS: u64 = 2000;

fn connect(nodes: &Nodes) -> ClusterConnection {
    ClusterClient::new(vec![format!("redis://{}/", nodes.addr(0))])
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Retries a command the client gave up on (its own MOVED/ASK/TRYAGAIN retries ran
/// out mid-migration): SET of a fixed value is idempotent, so retrying is exact.
fn retry<T>(what: &str, mut f: impl FnMut() -> redis::RedisResult<T>) -> T {
    for _ in 0..200 {
        match f() {
            Ok(v) => return v,
            Err(e) => {
                eprintln!("{what}: {e}, retrying");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
    panic!("{what} kept failing")
}

/// Writes key i%KEYS := round and reads it back, until told to stop; returns the last
/// value of every key.
fn writer(nodes: &Nodes, stop: Arc<AtomicBool>) -> thread::JoinHandle<HashMap<u64, u64>> {
    let mut con = connect(nodes);
    thread::spawn(move || {
        let mut last = HashMap::new();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) || n < KEYS {
            let (key, value) = (format!("w:{}", n % KEYS), n);
            retry("SET", || con.set::<_, _, ()>(&key, value));
            let got: u64 = retry("GET", || con.get(&key));
            assert_eq!(got, value, "{key} read back");
            last.insert(n % KEYS, value);
            n += 1;
        }
        last
    })
}

#[test]
fn reshard_and_rebalance_under_load_lose_nothing() {
    let nodes = Nodes::three_masters();
    let stop = Arc::new(AtomicBool::new(false));
    let handle = writer(&nodes, stop.clone());
    thread::sleep(Duration::from_millis(300));

    let (from, to) = (nodes.myid(0), nodes.myid(1));
    nodes.cluster_tool(&[
        "reshard",
        &nodes.addr(0),
        "--cluster-from",
        &from,
        "--cluster-to",
        &to,
        "--cluster-slots",
        "1000",
        "--cluster-yes",
    ]);
    nodes.wait_ok(0..3);
    let rebalance = nodes.cluster_tool(&["rebalance", &nodes.addr(0)]);
    assert!(
        rebalance.contains("Moving"),
        "rebalance moved nothing:\n{rebalance}"
    );
    nodes.wait_ok(0..3);

    stop.store(true, Ordering::Relaxed);
    let last = handle.join().expect("writer");
    assert_eq!(last.len() as u64, KEYS);
    let mut con = connect(&nodes);
    for (k, v) in &last {
        let got: u64 = con.get(format!("w:{k}")).unwrap();
        assert_eq!(got, *v, "w:{k}");
    }
    let info = nodes.cluster_tool(&["info", &nodes.addr(0)]);
    assert!(
        info.contains(&format!("[OK] {KEYS} keys in 3 masters.")),
        "{info}"
    );
}

#[test]
fn add_node_and_del_node_of_an_empty_node() {
    let nodes = Nodes::three_masters();
    let extra = Nodes::spawn(1);
    nodes.cluster_tool(&["add-node", &extra.addr(0), &nodes.addr(0)]);
    let id = extra.myid(0);
    // Known by its real id everywhere (a node still in handshake is listed under a
    // temporary id, and CLUSTER FORGET of the real one would be refused there).
    common::wait_for("all four nodes know each other", || {
        (0..3).all(|i| {
            nodes.info_field(i, "cluster_known_nodes") == "4"
                && nodes
                    .cli(i, &["CLUSTER", "NODES"])
                    .lines()
                    .any(|l| l.starts_with(&id) && !l.contains("handshake"))
        }) && extra.info_field(0, "cluster_known_nodes") == "4"
    });
    nodes.wait_ok(0..3);
    let info = nodes.cluster_tool(&["info", &nodes.addr(0)]);
    assert!(info.contains(&format!("{} (", extra.addr(0))), "{info}");

    nodes.cluster_tool(&["del-node", &nodes.addr(0), &id]);
    common::wait_for("the three know three nodes", || {
        (0..3).all(|i| nodes.info_field(i, "cluster_known_nodes") == "3")
    });
    nodes.wait_ok(0..3);
    // del-node resets the removed node: it knows only itself again.
    assert_eq!(extra.info_field(0, "cluster_known_nodes"), "1");
}
