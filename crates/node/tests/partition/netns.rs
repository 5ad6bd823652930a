//! A private switched network for one test process: a "switch" namespace holding a
//! bridge, one namespace per host plugged into it by a veth, and a veth from ours.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every name starts with this, then the test's pid: a later run can tell leftovers of
/// a dead run (killed before its Drop ran) from those of a run still going.
const PREFIX: &str = "rdpt";

/// The network; everything it created is deleted on drop (even after a panic).
pub struct Net {
    tag: String,
    /// First three bytes of the /24 (`10.a.b`); hosts are .1, .2 …, we are .254.
    subnet: String,
    hosts: usize,
}

/// Runs `ip` with `args`; the output whether it succeeded or not.
fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!(
            "running `ip {}`: {e} (is iproute2 installed?)",
            args.join(" ")
        )
    })
}

/// Runs `ip` with `args` and panics with its stderr when it fails.
fn ip_ok(args: &[&str]) {
    let out = ip(args);
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl Net {
    /// Creates the switch and `hosts` host namespaces, each with one address.
    pub fn new(hosts: usize) -> Net {
        remove_leftovers();
        // Tests of one process (`cargo test` runs them as threads) count their networks.
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let pid = std::process::id() as usize;
        let k = COUNT.fetch_add(1, Ordering::Relaxed) % 10;
        let mut net = Net {
            tag: format!("{PREFIX}{pid}x{k}"),
            subnet: free_subnet(pid * 10 + k),
            hosts: 0,
        };
        let sw = net.switch();
        let out = ip(&["netns", "add", &sw]);
        assert!(
            out.status.success(),
            "this test needs network namespaces (root, iproute2): `ip netns add` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        ip_ok(&["-n", &sw, "link", "set", "lo", "up"]);
        // br0 is the network; a partition moves hosts to br1, the far side.
        for br in ["br0", "br1"] {
            ip_ok(&["-n", &sw, "link", "add", br, "type", "bridge"]);
            ip_ok(&["-n", &sw, "link", "set", br, "up"]);
        }
        // Our side: a veth whose other end is a bridge port named "host".
        let mine = net.host_link();
        let here = std::process::id().to_string();
        ip_ok(&[
            "-n", &sw, "link", "add", "host", "type", "veth", "peer", "name", &mine, "netns", &here,
        ]);
        ip_ok(&["-n", &sw, "link", "set", "host", "master", "br0", "up"]);
        ip_ok(&[
            "addr",
            "add",
            &format!("{}.254/24", net.subnet),
            "dev",
            &mine,
        ]);
        ip_ok(&["link", "set", &mine, "up"]);
        for i in 0..hosts {
            let ns = net.ns(i);
            ip_ok(&["netns", "add", &ns]);
            net.hosts = i + 1;
            let port = format!("p{i}");
            ip_ok(&["-n", &ns, "link", "set", "lo", "up"]);
            ip_ok(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ]);
            ip_ok(&["-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            let addr = format!("{}/24", net.ip(i));
            ip_ok(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip_ok(&["-n", &ns, "link", "set", "eth0", "up"]);
        }
        net
    }

    fn switch(&self) -> String {
        format!("{}sw", self.tag)
    }

    fn host_link(&self) -> String {
        format!("{}h", self.tag)
    }

    /// The namespace of host `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    /// The address of host `i`.
    pub fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, i + 1)
    }

    /// Moves `hosts` to a switch of their own: they reach each other but no one else
    /// (nor us); packets across are dropped and TCP connections hang (no reset), as
    /// when the cable between two switches is cut.
    pub fn partition(&self, hosts: &[usize]) {
        self.plug(hosts, "br1");
    }

    /// Plugs `hosts` back into the network.
    pub fn heal(&self, hosts: &[usize]) {
        self.plug(hosts, "br0");
    }

    fn plug(&self, hosts: &[usize], bridge: &str) {
        for i in hosts {
            let port = format!("p{i}");
            ip_ok(&["-n", &self.switch(), "link", "set", &port, "master", bridge]);
        }
    }

    /// A command that runs `program` inside host `i`'s namespace (`ip netns exec`
    /// execs it: the child's pid is the program's).
    pub fn command(&self, i: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(i), program]);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace destroys the veths in it (and their peers).
        for i in 0..self.hosts {
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["netns", "del", &self.switch()]);
        // The kernel tears namespaces down asynchronously: remove our end now.
        let _ = ip(&["link", "del", &self.host_link()]);
    }
}

/// A /24 in 10/8 derived from the pid (parallel runs differ) that no route or address
/// of ours uses yet.
fn free_subnet(seed: usize) -> String {
    let routes = String::from_utf8_lossy(&ip(&["-4", "route", "show", "table", "all"]).stdout)
        .into_owned()
        + &String::from_utf8_lossy(&ip(&["-4", "-o", "addr", "show"]).stdout);
    let mut n = seed;
    loop {
        let subnet = format!("10.{}.{}", 64 + (n >> 8) % 128, n & 0xff);
        if !routes.contains(&format!("{subnet}.")) {
            return subnet;
        }
        n += 1;
    }
}

/// Namespaces and links of earlier runs whose process is gone.
fn remove_leftovers() {
    let list = String::from_utf8_lossy(&ip(&["netns", "list"]).stdout).into_owned();
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if pid.is_empty() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = ip(&["netns", "del", name]);
        if let Some(tag) = name.strip_suffix("sw") {
            let _ = ip(&["link", "del", &format!("{tag}h")]);
        }
    }
}
