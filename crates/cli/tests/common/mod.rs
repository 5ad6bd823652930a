//! Harness of the end-to-end cluster tests: clusters of our node binary formed by
//! `rustidocs cluster up` or by `redis-cli --cluster create`, on random free ports.
#![allow(dead_code)] // each test file uses a different part

pub mod proxy;
pub mod session;
pub mod system;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rustidocs");

/// `rustidocs-node` is built beside `rustidocs` (`cargo nextest run --workspace` and
/// `cargo build --bins` build both).
pub fn node_binary() -> PathBuf {
    let p = Path::new(BIN).with_file_name("rustidocs-node");
    assert!(
        p.is_file(),
        "{} missing: run `cargo build --bins`",
        p.display()
    );
    p
}

/// `rustidocs-control`, built beside `rustidocs` like the node binary.
pub fn control_binary() -> PathBuf {
    let p = Path::new(BIN).with_file_name("rustidocs-control");
    assert!(
        p.is_file(),
        "{} missing: run `cargo build --bins`",
        p.display()
    );
    p
}

/// A running `rustidocs-control` against `endpoints`; killed (SIGKILL) on drop. Its log
/// goes to `log`, shown by the test on failure.
pub struct Control {
    child: Child,
    pub log: PathBuf,
}

impl Control {
    pub fn start(endpoints: &[String], persist_interval: &str, log: PathBuf) -> Control {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(control_binary())
            .arg("--cluster")
            .arg(endpoints.join(","))
            .args(["--persist-interval", persist_interval])
            .env("RUSTIDOCS_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn rustidocs-control");
        Control { child, log }
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Nodes on consecutive ports; dropping it stops them and removes their directory.
pub struct Nodes {
    pub dir: PathBuf,
    pub base: u16,
    pub count: u16,
    /// Some when we spawned the nodes ourselves; None when `rustidocs cluster up` did.
    children: Option<Vec<Child>>,
}

impl Nodes {
    /// `rustidocs cluster up --masters M --replicas R` with our node binary.
    pub fn up(masters: u16, replicas: u16) -> Nodes {
        let count = masters * (1 + replicas);
        let nodes = Nodes::empty(count, None);
        let out = nodes.rustidocs(&[
            "cluster",
            "up",
            "--masters",
            &masters.to_string(),
            "--replicas",
            &replicas.to_string(),
            "--base-port",
            &nodes.base.to_string(),
        ]);
        assert!(out.status.success(), "cluster up failed");
        nodes
    }

    /// Three masters formed by `redis-cli --cluster create`, waited for until `ok`.
    pub fn three_masters() -> Nodes {
        let nodes = Nodes::spawn(3);
        let addrs = nodes.addrs();
        let mut args = vec!["create"];
        args.extend(addrs.iter().map(String::as_str));
        args.push("--cluster-yes");
        nodes.cluster_tool(&args);
        nodes.wait_ok(0..3);
        nodes
    }

    /// `count` fresh cluster-enabled nodes that know nothing of each other.
    pub fn spawn(count: u16) -> Nodes {
        Nodes::spawn_with(
            count,
            &["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"],
        )
    }

    /// One standalone node (cluster mode off).
    pub fn standalone() -> Nodes {
        Nodes::spawn_with(1, &[])
    }

    fn spawn_with(count: u16, extra: &[&str]) -> Nodes {
        let mut nodes = Nodes::empty(count, Some(Vec::new()));
        for port in nodes.ports() {
            let dir = nodes.dir.join(port.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            let child = Command::new(node_binary())
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(extra)
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn rustidocs-node");
            nodes.children.as_mut().unwrap().push(child);
        }
        for i in 0..count {
            wait_for(&format!("node {i} answers PING"), || {
                nodes.cli(i, &["ping"]) == "PONG"
            });
        }
        nodes
    }

    fn empty(count: u16, children: Option<Vec<Child>>) -> Nodes {
        let base = free_base(count);
        let dir = std::env::temp_dir().join(format!("rustidocs-e2e-{}-{base}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Nodes {
            dir,
            base,
            count,
            children,
        }
    }

    pub fn ports(&self) -> std::ops::Range<u16> {
        self.base..self.base + self.count
    }

    pub fn port(&self, i: u16) -> u16 {
        self.base + i
    }

    pub fn addr(&self, i: u16) -> String {
        format!("127.0.0.1:{}", self.port(i))
    }

    pub fn addrs(&self) -> Vec<String> {
        (0..self.count).map(|i| self.addr(i)).collect()
    }

    pub fn rustidocs(&self, args: &[&str]) -> Output {
        let out = Command::new(BIN)
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .output()
            .expect("run rustidocs");
        eprintln!("$ rustidocs {}\n{}", args.join(" "), text(&out));
        out
    }

    /// `redis-cli -p PORT args...`, trimmed stdout.
    pub fn cli(&self, i: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port(i).to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `redis-cli --cluster SUBCOMMAND args...`, asserting success; returns the output.
    pub fn cluster_tool(&self, args: &[&str]) -> String {
        let out = redis_cli_cluster(args);
        let t = text(&out);
        assert!(
            out.status.success(),
            "redis-cli --cluster {args:?} failed:\n{t}"
        );
        t
    }

    pub fn myid(&self, i: u16) -> String {
        self.cli(i, &["cluster", "myid"])
    }

    /// The field of CLUSTER INFO on node i.
    pub fn info_field(&self, i: u16, field: &str) -> String {
        let info = self.cli(i, &["cluster", "info"]);
        info.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(&format!("{field}:"))
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    /// Indexes of the nodes that are masters with slots, as node 0 sees them.
    pub fn masters(&self) -> Vec<u16> {
        let nodes = self.cli(0, &["cluster", "nodes"]);
        let mut out: Vec<u16> = nodes
            .lines()
            .filter(|l| l.contains("master") && l.split(' ').count() > 8)
            .filter_map(|l| {
                let addr = l.split(' ').nth(1)?;
                let port: u16 = addr.split([':', '@']).nth(1)?.parse().ok()?;
                Some(port - self.base)
            })
            .collect();
        out.sort();
        out
    }

    /// Waits until every listed node says cluster_state:ok and `--cluster check` passes.
    pub fn wait_ok(&self, nodes: impl Iterator<Item = u16> + Clone) {
        wait_for("cluster_state:ok everywhere", || {
            nodes
                .clone()
                .all(|i| self.info_field(i, "cluster_state") == "ok")
        });
        wait_for("redis-cli --cluster check passes", || {
            redis_cli_cluster(&["check", &self.addr(0)])
                .status
                .success()
        });
    }

    pub fn kill(&mut self, i: u16) {
        let children = self.children.as_mut().expect("spawned nodes");
        let _ = children[i as usize].kill();
        let _ = children[i as usize].wait();
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        match &mut self.children {
            Some(children) => children.iter_mut().for_each(|c| {
                let _ = c.kill();
                let _ = c.wait();
            }),
            None => {
                let _ = Command::new(BIN)
                    .args(["cluster", "down", "--purge", "--dir"])
                    .arg(&self.dir)
                    .output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn redis_cli_cluster(args: &[&str]) -> Output {
    Command::new("redis-cli")
        .arg("--cluster")
        .args(args)
        .output()
        .expect("redis-cli --cluster")
}

/// The whole output of a command, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Polls `ok` for up to 30 s.
pub fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A random base port in 10000..22000 whose node and bus ports (+10000) are all free;
/// both stay below Linux's ephemeral range (32768+), where client sockets take ports.
pub fn free_base(nodes: u16) -> u16 {
    let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
    for attempt in 0u64.. {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(attempt ^ u64::from(std::process::id()));
        let base = 10000 + (h.finish() % (22000 - 10000 - u64::from(nodes))) as u16;
        if (base..base + nodes).all(|p| free(p) && free(p + 10000)) {
            return base;
        }
    }
    unreachable!("the loop only ends by returning")
}
