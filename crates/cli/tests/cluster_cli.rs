//! End-to-end tests of `rustidocs cluster up|status|down` with Debian's redis-server as
//! the node binary (the same commands must drive a real Redis), on random free ports.

mod common;

use common::free_base;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rustidocs");

/// A cluster directory on random ports; dropping it stops and deletes the cluster even
/// when the test failed half way.
struct TestCluster {
    dir: PathBuf,
    base: u16,
}

impl TestCluster {
    fn new(nodes: u16) -> TestCluster {
        let base = free_base(nodes);
        let dir = std::env::temp_dir().join(format!("rustidocs-cli-{}-{base}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TestCluster { dir, base }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(BIN)
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .output()
            .expect("run rustidocs");
        eprintln!(
            "$ rustidocs {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn up(&self, masters: usize, replicas: usize) {
        let (m, r, b) = (
            masters.to_string(),
            replicas.to_string(),
            self.base.to_string(),
        );
        let out = self.run(&[
            "cluster",
            "up",
            "--masters",
            &m,
            "--replicas",
            &r,
            "--base-port",
            &b,
            "--node-binary",
            "redis-server",
        ]);
        assert!(out.status.success(), "cluster up failed");
    }

    fn status(&self) -> (bool, Value) {
        let out = self.run(&["cluster", "status", "--json"]);
        let v = serde_json::from_slice(&out.stdout).expect("status --json prints JSON");
        (out.status.success(), v)
    }

    fn pids(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("pids")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
            .collect()
    }

    fn redis_cli(&self, port_offset: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-c", "-p", &(self.base + port_offset).to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["cluster", "down", "--purge", "--dir"])
            .arg(&self.dir)
            .output();
    }
}

/// Alive and not a zombie (our nodes are reparented when `rustidocs` exits).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next());
            state != Some("Z")
        })
        .unwrap_or(false)
}

fn assert_healthy(c: &TestCluster, masters: u64, replicas: u64) {
    let (ok, v) = c.status();
    assert!(ok, "status exit code says unhealthy: {v}");
    assert_eq!(v["health"], "healthy");
    assert_eq!(v["cluster_state"], "ok");
    assert_eq!(v["masters"], masters);
    assert_eq!(v["replicas"], replicas);
    assert_eq!(v["slots_covered"], 16384);
    assert_eq!(
        v["nodes"].as_array().unwrap().len() as u64,
        masters + replicas
    );
}

fn assert_down(c: &TestCluster, pids: &[i32]) {
    let out = c.run(&["cluster", "down"]);
    assert!(out.status.success());
    assert!(c.pids().is_empty(), "pid files left after down");
    let left: Vec<_> = pids.iter().filter(|p| alive(**p)).collect();
    assert!(
        left.is_empty(),
        "processes still running after down: {left:?}"
    );
}

#[test]
fn three_masters_two_replicas_up_status_restart_down() {
    let c = TestCluster::new(9);
    c.up(3, 2);
    assert_healthy(&c, 3, 6);

    let text = c.run(&["cluster", "status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("health: healthy"), "{text}");
    assert!(text.contains("3 masters, 6 replicas"), "{text}");

    // Keys spread over all masters; redis-cli -c follows the redirections.
    for i in 0..10 {
        let key = format!("key:{i}");
        assert_eq!(c.redis_cli(0, &["set", &key, &format!("v{i}")]), "OK");
        assert_eq!(c.redis_cli(1, &["get", &key]), format!("v{i}"));
    }

    let pids = c.pids();
    assert_eq!(pids.len(), 9);
    assert_down(&c, &pids);
    let (ok, v) = c.status();
    assert!(!ok, "status of a stopped cluster must fail");
    assert_eq!(v["health"], "down");

    // `up` on the same dir restarts the same cluster, with its data (AOF).
    c.up(3, 2);
    assert_healthy(&c, 3, 6);
    assert_eq!(c.redis_cli(2, &["get", "key:7"]), "v7");
    let pids = c.pids();
    assert_eq!(pids.len(), 9);
    assert_down(&c, &pids);

    let out = c.run(&["cluster", "down", "--purge"]);
    assert!(out.status.success());
    assert!(!c.dir.exists());
}

#[test]
fn three_masters_no_replicas() {
    let c = TestCluster::new(3);
    c.up(3, 0);
    assert_healthy(&c, 3, 0);
    assert_eq!(c.redis_cli(0, &["set", "{a}x", "1"]), "OK");
    assert_eq!(c.redis_cli(2, &["get", "{a}x"]), "1");
    // A second `up` on a running cluster starts nothing and still reports it ok.
    c.up(3, 0);
    let pids = c.pids();
    assert_eq!(pids.len(), 3);
    assert_down(&c, &pids);
}

#[test]
fn foreground_stops_all_nodes_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let c = TestCluster::new(3);
    let mut child = Command::new(BIN)
        .args([
            "cluster",
            "up",
            "--foreground",
            "--masters",
            "3",
            "--replicas",
            "0",
        ])
        .args([
            "--base-port",
            &c.base.to_string(),
            "--node-binary",
            "redis-server",
            "--dir",
        ])
        .arg(&c.dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn rustidocs");
    // The endpoint lines come once the cluster is ok.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("endpoint line").unwrap();
    assert_eq!(first, format!("127.0.0.1:{} master", c.base));
    let pids = c.pids();
    assert_eq!(pids.len(), 3);
    assert!(
        child.try_wait().unwrap().is_none(),
        "--foreground must stay"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
    assert!(c.pids().is_empty(), "pid files left");
    assert!(pids.iter().all(|p| !alive(*p)), "nodes still running");
}
