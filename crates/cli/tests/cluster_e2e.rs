//! End-to-end tests of clusters of our node binary with real tools: `rustidocs cluster`,
//! `redis-cli --cluster create|check|info`, redis-rs and redis-py cluster clients.

mod common;

use common::{Nodes, BIN};
use redis::cluster::{cluster_pipe, ClusterClient};
use redis::Commands;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// Sets and reads back `n` keys with redis-rs's cluster client, one by one and in a
/// cluster pipeline, plus multi-key commands on hash-tagged keys.
fn redis_rs_round_trip(nodes: &Nodes, prefix: &str, n: usize) {
    let client = ClusterClient::new(vec![format!("redis://{}/", nodes.addr(0))]).unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..n {
        let _: () = con.set(format!("{prefix}:{i}"), i).unwrap();
    }
    for i in 0..n {
        let v: usize = con.get(format!("{prefix}:{i}")).unwrap();
        assert_eq!(v, i);
    }
    let mut pipe = cluster_pipe();
    for i in 0..n {
        pipe.cmd("INCR").arg(format!("{prefix}:{i}"));
    }
    let got: Vec<usize> = pipe.query(&mut con).unwrap();
    assert_eq!(got, (1..=n).collect::<Vec<_>>());
    let tagged = [format!("{{{prefix}}}a"), format!("{{{prefix}}}b")];
    let _: () = con.mset(&[(&tagged[0], "1"), (&tagged[1], "2")]).unwrap();
    let both: Vec<String> = con.mget(&tagged).unwrap();
    assert_eq!(both, ["1", "2"]);
}

fn status_json(nodes: &Nodes) -> (bool, Value) {
    let out = nodes.rustidocs(&["cluster", "status", "--json"]);
    let v = serde_json::from_slice(&out.stdout).expect("status --json prints JSON");
    (out.status.success(), v)
}

fn pid_of(nodes: &Nodes, i: u16) -> String {
    let path = nodes
        .dir
        .join("pids")
        .join(format!("{}.pid", nodes.port(i)));
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

#[test]
fn up_3x2_serves_clients_survives_a_dead_replica_and_goes_down() {
    let nodes = Nodes::up(3, 2);
    let (ok, v) = status_json(&nodes);
    assert!(ok, "status says unhealthy: {v}");
    assert_eq!(v["health"], "healthy");
    assert_eq!(v["cluster_state"], "ok");
    assert_eq!(
        (v["masters"].as_u64(), v["replicas"].as_u64()),
        (Some(3), Some(6))
    );
    assert_eq!(v["slots_covered"], 16384);
    nodes.cluster_tool(&["check", &nodes.addr(4)]);

    for i in 0..20 {
        let key = format!("key:{i}");
        let set = Command::new("redis-cli")
            .args(["-c", "-p", &nodes.port(i % 9).to_string(), "set", &key, "x"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&set.stdout).trim(), "OK");
        let get = Command::new("redis-cli")
            .args(["-c", "-p", &nodes.port(8 - i % 9).to_string(), "get", &key])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "x");
    }
    redis_rs_round_trip(&nodes, "before", 300);

    // SIGKILL a replica: clients see no difference, the masters stay ok.
    let masters = nodes.masters();
    let replica = (0..9).find(|i| !masters.contains(i)).unwrap();
    let killed = Command::new("kill")
        .args(["-KILL", &pid_of(&nodes, replica)])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(2500)); // past cluster-node-timeout: FAIL
    let survivors = (0..9).filter(|i| *i != replica);
    assert!(survivors
        .clone()
        .all(|i| nodes.info_field(i, "cluster_state") == "ok"));
    redis_rs_round_trip(&nodes, "after", 300);
    let nodes_seen = nodes.cli(masters[0], &["cluster", "nodes"]);
    let dead = nodes_seen
        .lines()
        .find(|l| l.contains(&format!(":{}@", nodes.port(replica))))
        .unwrap();
    assert!(dead.contains("fail"), "{dead}");

    let down = Command::new(BIN)
        .args(["cluster", "down", "--dir"])
        .arg(&nodes.dir)
        .output()
        .unwrap();
    assert!(down.status.success(), "{}", common::text(&down));
    assert!(
        (0..9).all(|i| nodes.cli(i, &["ping"]) != "PONG"),
        "nodes still answer after down"
    );
}

#[test]
fn redis_cli_creates_a_3x2_cluster_of_ours_and_clients_use_it() {
    let nodes = Nodes::spawn(9);
    let addrs = nodes.addrs();
    let mut args = vec!["create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "2", "--cluster-yes"]);
    nodes.cluster_tool(&args);
    nodes.wait_ok(0..9);

    let check = nodes.cluster_tool(&["check", &nodes.addr(0)]);
    assert!(check.contains("[OK] All nodes agree about slots configuration."));
    assert!(check.contains("[OK] All 16384 slots covered."));
    assert!(
        !check.contains("[ERR]") && !check.contains("[WARNING]"),
        "{check}"
    );
    assert_eq!(nodes.masters().len(), 3);
    let info = nodes.cluster_tool(&["info", &nodes.addr(0)]);
    assert_eq!(info.matches("| 2 slaves.").count(), 3, "{info}");

    redis_rs_round_trip(&nodes, "rs", 1000);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/cluster_client.py");
    let ports: Vec<String> = nodes.ports().map(|p| p.to_string()).collect();
    let out = Command::new("python3")
        .arg(script)
        .args(&ports)
        .output()
        .unwrap();
    assert!(out.status.success(), "redis-py:\n{}", common::text(&out));

    let info = nodes.cluster_tool(&["info", &nodes.addr(0)]);
    assert!(info.contains("keys in 3 masters."), "{info}");
}
