//! `rustidocs cluster up`: start the nodes of a local cluster and, the first time, form
//! the cluster the way `redis-cli --cluster create` does; then wait until it is ok.

use super::{cluster_info, cluster_nodes, connect, ping, NodeLine, SLOTS};
use crate::layout::{Layout, NodeConf, Record};
use crate::process;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

const HOST: &str = "127.0.0.1";
/// How long a node gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Stay attached and stop every node on Ctrl-C / SIGTERM.
    #[arg(long)]
    foreground: bool,
}

/// The cluster's shape and where it lives: shared by `cluster up` and `rustidocs up`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Number of masters [default: 3].
    #[arg(long)]
    masters: Option<usize>,
    /// Replicas per master [default: 2].
    #[arg(long)]
    replicas: Option<usize>,
    /// Port of the first node; the others follow (their bus ports are +10000) [default: 7000].
    #[arg(long)]
    base_port: Option<u16>,
    /// Cluster directory [default: $RUSTIDOCS_HOME/cluster or ~/.local/share/rustidocs/cluster].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// cluster-node-timeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    node_timeout: u64,
    /// Node executable [default: rustidocs-node beside rustidocs, else on PATH].
    #[arg(long)]
    node_binary: Option<PathBuf>,
    /// Seconds to wait for the cluster to become ok.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Print the endpoints as a JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: UpArgs) -> Result<ExitCode> {
    // In the foreground, Ctrl-C/SIGTERM must stop the cluster whenever they come, so
    // the handlers go in before anything starts (a signal right after the endpoints
    // are printed would otherwise kill us and leave the nodes running).
    let stop = if a.foreground {
        Some(stop_on_signals()?)
    } else {
        None
    };
    let mut started = start(&a.cluster, a.foreground)?;
    print_endpoints(&started.layout, &started.record, a.cluster.json)?;
    if let Some(stop) = stop {
        wait_for_signal(&stop, &mut started.children, || {});
        started.stop()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A cluster this process started (or found running).
pub struct Started {
    pub layout: Layout,
    pub record: Record,
    /// The node processes started now (nodes found running are not among them).
    pub children: Vec<Child>,
}

impl Started {
    /// Stops every node of the layout (SIGTERM, so the AOF is flushed) and reaps ours.
    pub fn stop(&mut self) -> Result<()> {
        info!("stopping the cluster");
        process::stop_all(&self.layout, STOP_TIMEOUT)?;
        for c in &mut self.children {
            let _ = c.wait();
        }
        Ok(())
    }
}

/// Starts the nodes, forms the cluster the first time, and waits until it is ok. On
/// failure with `stop_on_error` the nodes are stopped again; else they are left running
/// and the error says how to stop them.
pub fn start(a: &ClusterArgs, stop_on_error: bool) -> Result<Started> {
    let layout = Layout::resolve(a.dir.clone())?;
    let record = plan(&layout, a)?;
    let binary =
        process::resolve_node_binary(a.node_binary.clone().or(record.node_binary.clone()))?;
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let mut children = start_nodes(&layout, &record, &binary, a.node_timeout)?;
    if let Err(e) = bring_up(&record, &mut children, deadline) {
        if stop_on_error {
            let _ = process::stop_all(&layout, STOP_TIMEOUT);
        } else {
            eprintln!(
                "nodes may still be running: `rustidocs cluster down --dir {}` stops them",
                layout.dir.display()
            );
        }
        return Err(e);
    }
    Ok(Started {
        layout,
        record,
        children,
    })
}

/// The cluster's shape: the recorded one if DIR holds a cluster, else a new one from
/// the flags (recorded now, so a later `up`, `status` or `down` finds it).
fn plan(layout: &Layout, a: &ClusterArgs) -> Result<Record> {
    if layout.has_record() {
        let r = layout.read_record()?;
        if a.masters.is_some_and(|m| m != r.masters) || a.replicas.is_some_and(|n| n != r.replicas)
        {
            warn!(
                "{} holds a cluster of {} masters x {} replicas; starting that one",
                layout.dir.display(),
                r.masters,
                r.replicas
            );
        }
        return Ok(r);
    }
    let masters = a.masters.unwrap_or(3);
    let replicas = a.replicas.unwrap_or(2);
    let base = a.base_port.unwrap_or(7000);
    if masters == 0 {
        bail!("--masters must be at least 1");
    }
    let n = masters * (1 + replicas);
    let last = base as usize + n - 1;
    if base == 0 || last + 10000 > u16::MAX as usize {
        bail!("ports {base}..={last} leave no room for the cluster bus ports (+10000)");
    }
    let r = Record {
        host: HOST.to_string(),
        ports: (base..=last as u16).collect(),
        masters,
        replicas,
        node_binary: a
            .node_binary
            .clone()
            .map(|b| process::resolve_node_binary(Some(b)))
            .transpose()?,
    };
    for &port in &r.ports {
        layout.write_node_conf(&NodeConf {
            host: &r.host,
            port,
            node_timeout_ms: a.node_timeout,
        })?;
    }
    layout.write_record(&r)?;
    Ok(r)
}

impl Record {
    pub fn addrs(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("{}:{p}", self.host))
            .collect()
    }
}

/// Starts every node that is not running already.
fn start_nodes(
    layout: &Layout,
    r: &Record,
    binary: &std::path::Path,
    node_timeout: u64,
) -> Result<Vec<Child>> {
    let mut children = Vec::new();
    for &port in &r.ports {
        if process::read_pid(layout, port).is_some_and(process::is_alive) {
            info!("node {port} is running already");
            continue;
        }
        if !layout.conf_path(port).is_file() {
            layout.write_node_conf(&NodeConf {
                host: &r.host,
                port,
                node_timeout_ms: node_timeout,
            })?;
        }
        children.push(process::spawn_node(layout, binary, port)?);
    }
    info!(
        "started {} node(s) with {}",
        children.len(),
        binary.display()
    );
    Ok(children)
}

fn bring_up(r: &Record, children: &mut [Child], deadline: Instant) -> Result<()> {
    let addrs = r.addrs();
    wait_until("waiting for the nodes to answer PING", deadline, || {
        if let Some(status) = children
            .iter_mut()
            .find_map(|c| c.try_wait().ok().flatten())
        {
            bail!("a node exited during startup ({status}); see its node.log / stderr.log");
        }
        Ok(match addrs.iter().find(|a| !ping(a)) {
            Some(a) => Err(format!("{a} not answering yet")),
            None => Ok(()),
        })
    })?;
    if needs_create(&addrs)? {
        create(r, deadline)?;
    }
    wait_until("waiting for the cluster to join", deadline, || {
        Ok(check_ready(r))
    })
}

/// Polls `check` until it says Ok: its inner Err is the reason to keep waiting (shown
/// about once a second), its outer Err a failure.
fn wait_until(
    what: &str,
    deadline: Instant,
    mut check: impl FnMut() -> Result<Result<(), String>>,
) -> Result<()> {
    let mut last_report = Instant::now();
    loop {
        let reason = match check()? {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        if Instant::now() >= deadline {
            bail!("timed out {what}: {reason}");
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            info!("{what} ... ({reason})");
            last_report = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True when every node is blank (knows only itself, owns no slot): a new cluster.
/// False when all have joined before. A mix is a half-formed cluster we do not repair.
fn needs_create(addrs: &[String]) -> Result<bool> {
    let mut blank = 0;
    for a in addrs {
        let info = cluster_info(&mut connect(a)?)?;
        if info.get("cluster_known_nodes").map(String::as_str) == Some("1")
            && info.get("cluster_slots_assigned").map(String::as_str) == Some("0")
        {
            blank += 1;
        }
    }
    match blank {
        0 => Ok(false),
        b if b == addrs.len() => Ok(true),
        _ => bail!("the cluster is half formed ({blank} of {} nodes are blank); `rustidocs cluster down --purge` and start again", addrs.len()),
    }
}

/// redis-cli's split: masters get 16384/n slots each, rounding as it goes, the last one
/// takes the rest.
pub fn slot_ranges(masters: usize) -> Vec<(u32, u32)> {
    let per = SLOTS as f64 / masters as f64;
    let mut first = 0u32;
    let mut cursor = 0f64;
    (0..masters)
        .map(|i| {
            let mut last = (cursor + per - 1.0).round() as u32;
            if last >= SLOTS || i == masters - 1 {
                last = SLOTS - 1;
            }
            let range = (first, last);
            first = last + 1;
            cursor += per;
            range
        })
        .collect()
}

/// The master index each replica follows: replicas are assigned round-robin over the
/// masters, as redis-cli does on a single host (nodes after the masters, in order).
pub fn replica_masters(masters: usize, replicas: usize) -> Vec<usize> {
    (0..masters * replicas).map(|j| j % masters).collect()
}

/// Forms the cluster: slots, config epochs, MEET, then replicas once all know each other.
fn create(r: &Record, deadline: Instant) -> Result<()> {
    let addrs = r.addrs();
    info!(
        "creating a cluster of {} masters with {} replicas each",
        r.masters, r.replicas
    );
    let mut conns = addrs
        .iter()
        .map(|a| connect(a))
        .collect::<Result<Vec<_>>>()?;
    for (conn, (first, last)) in conns.iter_mut().zip(slot_ranges(r.masters)) {
        redis::cmd("CLUSTER")
            .arg("ADDSLOTSRANGE")
            .arg(first)
            .arg(last)
            .query::<()>(conn)?;
    }
    // Distinct epochs so no collision handling is needed when the nodes meet.
    for (i, conn) in conns.iter_mut().enumerate() {
        redis::cmd("CLUSTER")
            .arg("SET-CONFIG-EPOCH")
            .arg(i + 1)
            .query::<()>(conn)?;
    }
    for conn in conns.iter_mut().skip(1) {
        redis::cmd("CLUSTER")
            .arg("MEET")
            .arg(&r.host)
            .arg(r.ports[0])
            .query::<()>(conn)?;
    }
    wait_until("waiting for the cluster to join", deadline, || {
        Ok(check_all_known(&addrs))
    })?;
    let ids = conns
        .iter_mut()
        .map(|c| Ok(redis::cmd("CLUSTER").arg("MYID").query::<String>(c)?))
        .collect::<Result<Vec<_>>>()?;
    for (j, m) in replica_masters(r.masters, r.replicas)
        .into_iter()
        .enumerate()
    {
        let conn = &mut conns[r.masters + j];
        redis::cmd("CLUSTER")
            .arg("REPLICATE")
            .arg(&ids[m])
            .query::<()>(conn)
            .with_context(|| format!("{} REPLICATE {}", addrs[r.masters + j], addrs[m]))?;
    }
    Ok(())
}

/// Every node lists every other, with no handshake left.
fn check_all_known(addrs: &[String]) -> Result<(), String> {
    for a in addrs {
        let nodes = node_view(a)?;
        let known = nodes
            .iter()
            .filter(|n| n.trouble_flags().is_empty())
            .count();
        if known < addrs.len() {
            return Err(format!("{a} knows {known}/{} nodes", addrs.len()));
        }
    }
    Ok(())
}

fn node_view(addr: &str) -> Result<Vec<NodeLine>, String> {
    connect(addr)
        .and_then(|mut c| cluster_nodes(&mut c, addr))
        .map_err(|e| format!("{addr}: {e:#}"))
}

/// What nodes must agree on: each node's id, role, master and slots, sorted by id.
type Topology = Vec<(String, &'static str, Option<String>, Vec<(u32, u32)>)>;

fn topology(nodes: Vec<NodeLine>) -> Topology {
    let mut t: Topology = nodes
        .into_iter()
        .map(|n| {
            let role = n.role();
            (n.id, role, n.master, n.slots)
        })
        .collect();
    t.sort();
    t
}

/// Ready: every node says cluster_state:ok and sees the same nodes, roles and slots,
/// with the planned number of masters and replicas and nobody failing.
fn check_ready(r: &Record) -> Result<(), String> {
    let mut first_view: Option<Topology> = None;
    for a in r.addrs() {
        let info = connect(&a)
            .and_then(|mut c| cluster_info(&mut c))
            .map_err(|e| format!("{a}: {e:#}"))?;
        let state = info.get("cluster_state").map(String::as_str).unwrap_or("?");
        if state != "ok" {
            return Err(format!("{a} cluster_state:{state}"));
        }
        let nodes = node_view(&a)?;
        if let Some(n) = nodes.iter().find(|n| !n.trouble_flags().is_empty()) {
            return Err(format!("{a} sees {} as {}", n.addr, n.flags.join(",")));
        }
        let masters = nodes.iter().filter(|n| n.is_master()).count();
        let replicas = nodes.iter().filter(|n| n.role() == "replica").count();
        if masters != r.masters || replicas != r.masters * r.replicas {
            return Err(format!(
                "{a} sees {masters} masters and {replicas} replicas"
            ));
        }
        let view = topology(nodes);
        match &first_view {
            None => first_view = Some(view),
            Some(v) if *v != view => {
                return Err(format!("{a} does not agree with {} yet", r.addrs()[0]))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

pub fn print_endpoints(layout: &Layout, r: &Record, as_json: bool) -> Result<()> {
    let v = endpoints_json(layout, r)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    for n in v["nodes"].as_array().into_iter().flatten() {
        println!(
            "{} {}",
            n["addr"].as_str().unwrap_or(""),
            n["role"].as_str().unwrap_or("")
        );
    }
    println!();
    println!(
        "cluster is up: redis-cli -c -h {} -p {}",
        r.host, r.ports[0]
    );
    println!(
        "for rustidocs commands elsewhere: export RUSTIDOCS_CLUSTER={}",
        v["cluster"].as_str().unwrap_or("")
    );
    println!(
        "stop it with: rustidocs cluster down --dir {}",
        layout.dir.display()
    );
    Ok(())
}

/// The endpoints and each node's role, as `cluster up --json` prints them.
pub fn endpoints_json(layout: &Layout, r: &Record) -> Result<serde_json::Value> {
    let addrs = r.addrs();
    let nodes = node_view(&addrs[0]).map_err(anyhow::Error::msg)?;
    let role_of = |a: &str| {
        nodes
            .iter()
            .find(|n| n.addr == a)
            .map_or("unknown", NodeLine::role)
    };
    let list: Vec<_> = addrs
        .iter()
        .map(|a| json!({"addr": a, "role": role_of(a)}))
        .collect();
    Ok(json!({
        "dir": layout.dir.display().to_string(),
        "state": "ok",
        "nodes": list,
        "cluster": addrs.join(","),
    }))
}

/// A flag set by SIGINT or SIGTERM (which then no longer end the process).
pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// Blocks until `stop` is set, reporting nodes that die meanwhile; `tick` runs about
/// five times a second (the caller's own upkeep).
pub fn wait_for_signal(stop: &AtomicBool, children: &mut [Child], mut tick: impl FnMut()) {
    info!("running in the foreground; Ctrl-C stops everything");
    let mut reported = vec![false; children.len()];
    while !stop.load(Ordering::Relaxed) {
        for (c, seen) in children.iter_mut().zip(reported.iter_mut()) {
            if let (false, Ok(Some(status))) = (*seen, c.try_wait()) {
                warn!("node process {} exited: {status}", c.id());
                *seen = true;
            }
        }
        tick();
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_split_like_redis_cli() {
        assert_eq!(
            slot_ranges(3),
            vec![(0, 5460), (5461, 10922), (10923, 16383)]
        );
        assert_eq!(slot_ranges(1), vec![(0, 16383)]);
        let r = slot_ranges(7);
        assert_eq!(r.first().unwrap().0, 0);
        assert_eq!(r.last().unwrap().1, 16383);
        assert!(r.windows(2).all(|w| w[0].1 + 1 == w[1].0));
    }

    #[test]
    fn replicas_round_robin() {
        assert_eq!(replica_masters(3, 2), vec![0, 1, 2, 0, 1, 2]);
        assert!(replica_masters(3, 0).is_empty());
    }
}
