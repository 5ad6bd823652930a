//! `rustidocs up`: the whole local system in the foreground — the cluster (3 masters with
//! 2 replicas each by default) and the control service — stopped together on Ctrl-C.

use crate::cluster::up::{self as cluster_up, ClusterArgs};
use crate::service::ControlService;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// How often the control service folds document logs into snapshots (`3s`, `500ms`).
    #[arg(long, default_value = "3s")]
    persist_interval: String,
    /// Control service executable [default: rustidocs-control beside rustidocs, else on PATH].
    #[arg(long)]
    control_binary: Option<PathBuf>,
}

pub fn run(a: UpArgs) -> Result<ExitCode> {
    // Before anything starts, so a signal at any moment stops what did start.
    let stop = cluster_up::stop_on_signals()?;
    let mut started = cluster_up::start(&a.cluster, true)?;
    let endpoints = started.record.addrs();
    let control = ControlService::start(
        &started.layout,
        a.control_binary.clone(),
        endpoints,
        &a.persist_interval,
    );
    let mut control = match control {
        Ok(c) => c,
        Err(e) => {
            started.stop()?;
            return Err(e);
        }
    };
    let mut v = cluster_up::endpoints_json(&started.layout, &started.record)?;
    if a.cluster.json {
        v["control"] = json!({"pid": control.pid(), "log": control.log.display().to_string()});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        cluster_up::print_endpoints(&started.layout, &started.record, false)?;
        println!(
            "control service: pid {}, log {}",
            control.pid(),
            control.log.display()
        );
        println!("documents: rustidocs doc list | doc new --kind text --title T --topic T");
    }
    cluster_up::wait_for_signal(&stop, &mut started.children, || control.keep_alive());
    let control_stopped = control.stop(Duration::from_secs(30));
    started.stop()?;
    control_stopped?;
    Ok(ExitCode::SUCCESS)
}
