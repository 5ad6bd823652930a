//! `rustidocs cluster status`: one node's view of the cluster (nodes, roles, slots,
//! links), the slot coverage and a health verdict; exit code 0 only when healthy.

use super::{cluster_info, cluster_nodes, connect, ping, resolve_endpoints, NodeLine, SLOTS};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Local cluster directory [default: $RUSTIDOCS_HOME/cluster or ~/.local/share/rustidocs/cluster].
    #[arg(long, conflicts_with = "cluster")]
    dir: Option<PathBuf>,
    /// Cluster endpoints HOST:PORT[,...] [default: $RUSTIDOCS_CLUSTER, else the local cluster].
    #[arg(long)]
    cluster: Option<String>,
    /// Print a JSON object.
    #[arg(long)]
    json: bool,
}

/// What was seen, from the first endpoint that answered.
struct Report {
    source: Option<String>,
    unreachable: Vec<String>,
    /// Why the last endpoint tried did not answer, for when none did.
    last_error: Option<String>,
    info: HashMap<String, String>,
    nodes: Vec<NodeLine>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Health {
    Healthy,
    Degraded,
    Down,
}

impl Health {
    fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }
}

pub fn run(a: StatusArgs) -> Result<ExitCode> {
    let endpoints = resolve_endpoints(a.cluster.as_deref(), a.dir)?;
    let report = gather(&endpoints);
    let (health, problems) = verdict(&report);
    if a.json {
        print_json(&report, health, &problems)?;
    } else {
        print_text(&report, health, &problems);
    }
    Ok(if health == Health::Healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Asks the first endpoint that answers; every endpoint is pinged so dead ones count.
fn gather(endpoints: &[String]) -> Report {
    let mut r = Report {
        source: None,
        unreachable: Vec::new(),
        last_error: None,
        info: HashMap::new(),
        nodes: Vec::new(),
    };
    for ep in endpoints {
        if r.source.is_none() {
            let seen = connect(ep)
                .and_then(|mut c| Ok((cluster_info(&mut c)?, cluster_nodes(&mut c, ep)?)));
            match seen {
                Ok((info, nodes)) => {
                    r.source = Some(ep.clone());
                    r.info = info;
                    r.nodes = nodes;
                    continue;
                }
                Err(e) => r.last_error = Some(format!("{e:#}")),
            }
        } else if ping(ep) {
            continue;
        }
        r.unreachable.push(ep.clone());
    }
    r
}

fn verdict(r: &Report) -> (Health, Vec<String>) {
    if r.source.is_none() {
        let why = r.last_error.as_deref().unwrap_or("no endpoints");
        return (Health::Down, vec![format!("no node answered ({why})")]);
    }
    let mut problems: Vec<String> = r
        .unreachable
        .iter()
        .map(|e| format!("{e} unreachable"))
        .collect();
    let state = r.info.get("cluster_state").map_or("?", String::as_str);
    let covered = slots_ok(r);
    if covered < SLOTS {
        problems.push(format!("{} slots not served", SLOTS - covered));
    }
    for n in &r.nodes {
        let bad = n.trouble_flags();
        if !bad.is_empty() {
            problems.push(format!("{} is {}", n.addr, bad.join(",")));
        } else if n.link != "connected" && !n.has_flag("myself") {
            problems.push(format!("{} link {}", n.addr, n.link));
        }
    }
    let health = if state != "ok" {
        problems.insert(0, format!("cluster_state:{state}"));
        Health::Down
    } else if problems.is_empty() {
        Health::Healthy
    } else {
        Health::Degraded
    };
    (health, problems)
}

/// Slots owned by masters that are not failing.
fn slots_ok(r: &Report) -> u32 {
    r.nodes
        .iter()
        .filter(|n| n.is_master() && !n.has_flag("fail"))
        .map(NodeLine::slot_count)
        .sum()
}

fn counts(r: &Report) -> (usize, usize) {
    let masters = r.nodes.iter().filter(|n| n.is_master()).count();
    (masters, r.nodes.len() - masters)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

fn print_text(r: &Report, health: Health, problems: &[String]) {
    if let Some(src) = &r.source {
        let (masters, replicas) = counts(r);
        println!(
            "cluster_state: {}",
            r.info.get("cluster_state").map_or("?", String::as_str)
        );
        println!("slots: {}/{SLOTS} covered", slots_ok(r));
        println!("nodes: {masters} masters, {replicas} replicas (as seen by {src})");
        println!();
        println!(
            "{:<9} {:<22} {:<8} {:<9} {:<24} {:<13} FLAGS",
            "ID", "ADDR", "ROLE", "MASTER", "SLOTS", "LINK"
        );
        for n in sorted(&r.nodes) {
            println!(
                "{:<9} {:<22} {:<8} {:<9} {:<24} {:<13} {}",
                short(&n.id),
                n.addr,
                n.role(),
                n.master.as_deref().map_or("-", short),
                n.slots_text(),
                n.link,
                n.flags.join(",")
            );
        }
        println!();
    }
    for p in problems {
        println!("problem: {p}");
    }
    println!("health: {}", health.as_str());
}

fn print_json(r: &Report, health: Health, problems: &[String]) -> Result<()> {
    let (masters, replicas) = counts(r);
    let nodes: Vec<_> = sorted(&r.nodes)
        .into_iter()
        .map(|n| {
            json!({
                "id": n.id,
                "addr": n.addr,
                "role": n.role(),
                "master": n.master,
                "slots": n.slots.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>(),
                "slot_count": n.slot_count(),
                "link": n.link,
                "flags": n.flags,
            })
        })
        .collect();
    let v = json!({
        "source": r.source,
        "cluster_state": r.info.get("cluster_state"),
        "slots_covered": slots_ok(r),
        "masters": masters,
        "replicas": replicas,
        "unreachable": r.unreachable,
        "nodes": nodes,
        "problems": problems,
        "health": health.as_str(),
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// Nodes by address (port order for a local cluster) so the output is stable.
fn sorted(nodes: &[NodeLine]) -> Vec<&NodeLine> {
    let mut v: Vec<&NodeLine> = nodes.iter().collect();
    v.sort_by_key(|n| {
        let (host, port) = n.addr.rsplit_once(':').unwrap_or((&n.addr, "0"));
        (host.to_string(), port.parse::<u16>().unwrap_or(0))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::parse_node_line;

    fn report(state: &str, lines: &[&str]) -> Report {
        Report {
            source: Some("127.0.0.1:7000".into()),
            unreachable: Vec::new(),
            last_error: None,
            info: HashMap::from([("cluster_state".to_string(), state.to_string())]),
            nodes: lines.iter().map(|l| parse_node_line(l).unwrap()).collect(),
        }
    }

    const A: &str = "a 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191";
    const B: &str = "b 127.0.0.1:7001@17001 master - 0 0 2 connected 8192-16383";

    #[test]
    fn healthy_when_ok_and_covered() {
        assert_eq!(verdict(&report("ok", &[A, B])).0, Health::Healthy);
    }

    #[test]
    fn degraded_when_a_node_fails_or_slots_are_missing() {
        let pfail = "b 127.0.0.1:7001@17001 master,fail? - 0 0 2 connected 8192-16383";
        let (h, problems) = verdict(&report("ok", &[A, pfail]));
        assert_eq!(h, Health::Degraded);
        assert_eq!(problems, vec!["127.0.0.1:7001 is fail?"]);
        let (h, problems) = verdict(&report("ok", &[A]));
        assert_eq!(h, Health::Degraded);
        assert_eq!(problems, vec!["8192 slots not served"]);
    }

    #[test]
    fn down_when_state_fails_or_nobody_answers() {
        assert_eq!(verdict(&report("fail", &[A])).0, Health::Down);
        let mut r = report("ok", &[]);
        r.source = None;
        assert_eq!(verdict(&r).0, Health::Down);
    }
}
