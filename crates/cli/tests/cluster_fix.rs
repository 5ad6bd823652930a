//! `redis-cli --cluster fix` on a cluster of our nodes: a slot left half-migrated and
//! a slot nobody serves are repaired, keys kept, and `--cluster check` is clean again.

mod common;

use common::{redis_cli_cluster, text, Nodes};

/// `--cluster check` output, asserting it fails (the cluster is broken).
fn check_fails(nodes: &Nodes) -> String {
    let out = redis_cli_cluster(&["check", &nodes.addr(0)]);
    let t = text(&out);
    assert!(
        !out.status.success(),
        "check passed on a broken cluster:\n{t}"
    );
    t
}

/// Keys {tag}0..{tag}n hashing to one slot, written through node i.
fn write_keys(nodes: &Nodes, i: u16, tag: &str, n: usize) -> Vec<String> {
    let keys: Vec<String> = (0..n).map(|k| format!("{{{tag}}}k{k}")).collect();
    for k in &keys {
        assert_eq!(nodes.cli(i, &["SET", k, "v"]), "OK");
    }
    keys
}

/// Every key reads back through the cluster (redirections followed).
fn assert_keys(nodes: &Nodes, keys: &[String]) {
    for k in keys {
        let out = std::process::Command::new("redis-cli")
            .args(["-c", "-p", &nodes.port(0).to_string(), "GET", k])
            .output()
            .expect("redis-cli");
        assert_eq!(text(&out).trim(), "v", "key {k}");
    }
}

#[test]
fn fix_closes_a_half_migrated_slot() {
    let nodes = Nodes::three_masters();
    // Move the slot of "{a}" halfway from its owner to the next master.
    let slot = nodes.cli(0, &["CLUSTER", "KEYSLOT", "{a}"]);
    let owner = owner_of(&nodes, "{a}");
    let keys = write_keys(&nodes, owner, "a", 20);
    let target = (owner + 1) % 3;
    let (owner_id, target_id) = (nodes.myid(owner), nodes.myid(target));
    let importing = ["CLUSTER", "SETSLOT", &slot, "IMPORTING", &owner_id];
    assert_eq!(nodes.cli(target, &importing), "OK");
    let migrating = ["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id];
    assert_eq!(nodes.cli(owner, &migrating), "OK");
    // Half of the keys already moved.
    let port = nodes.port(target).to_string();
    let mut migrate = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
    migrate.extend(keys[..10].iter().map(String::as_str));
    assert_eq!(nodes.cli(owner, &migrate), "OK");
    let t = check_fails(&nodes);
    assert!(t.contains("open slot"), "{t}");

    fix(&nodes);
    nodes.wait_ok(0..3);
    assert_keys(&nodes, &keys);
    for i in 0..3 {
        let line = nodes.cli(i, &["CLUSTER", "NODES"]);
        assert!(!line.contains("->-") && !line.contains("-<-"), "{line}");
    }
}

#[test]
fn fix_assigns_an_uncovered_slot() {
    let nodes = Nodes::three_masters();
    // The slot of "{b}" loses its owner everywhere; the owner keeps the keys.
    let slot = nodes.cli(0, &["CLUSTER", "KEYSLOT", "{b}"]);
    let owner = owner_of(&nodes, "{b}");
    let keys = write_keys(&nodes, owner, "b", 20);
    for i in 0..3 {
        assert_eq!(nodes.cli(i, &["CLUSTER", "DELSLOTS", &slot]), "OK");
    }
    common::wait_for("the cluster notices the uncovered slot", || {
        (0..3).all(|i| nodes.info_field(i, "cluster_slots_assigned") == "16383")
    });
    let t = check_fails(&nodes);
    assert!(t.contains("Not all 16384 slots are covered"), "{t}");

    fix(&nodes);
    nodes.wait_ok(0..3);
    for i in 0..3 {
        assert_eq!(nodes.info_field(i, "cluster_slots_assigned"), "16384");
    }
    // The node holding the keys got the slot back.
    assert_eq!(owner_of(&nodes, "{b}"), owner);
    assert_keys(&nodes, &keys);
}

/// `redis-cli --cluster fix`: coverage fixes ask for an explicit "yes" on standard
/// input even with --cluster-yes (redis-cli's ignore_force), so answer it.
fn fix(nodes: &Nodes) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("redis-cli")
        .args(["--cluster", "fix", &nodes.addr(0), "--cluster-yes"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli --cluster fix");
    let mut stdin = child.stdin.take().expect("stdin");
    // redis-cli may exit before reading it all: a closed pipe is fine.
    let _ = stdin.write_all("yes\n".repeat(8).as_bytes());
    drop(stdin);
    let out = child.wait_with_output().expect("redis-cli --cluster fix");
    let t = text(&out);
    eprintln!("$ redis-cli --cluster fix\n{t}");
    assert!(out.status.success(), "fix failed:\n{t}");
}

/// The master that accepts a write of `key` (the others answer MOVED).
fn owner_of(nodes: &Nodes, key: &str) -> u16 {
    (0..3)
        .find(|&i| nodes.cli(i, &["EXISTS", key]) == "0")
        .expect("a master serving the key")
}
