//! `rustidocs-control`: the control and persistence service of a RustiDocs cluster —
//! answers joins, keeps the list of who is editing, folds logs into snapshots.

mod compact;
mod lease;
mod service;
mod tracked;

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "rustidocs-control", version, about)]
struct Args {
    /// Cluster seed endpoints (HOST:PORT, comma separated); one standalone node works too.
    #[arg(
        long,
        env = "RUSTIDOCS_CLUSTER",
        value_delimiter = ',',
        default_value = "127.0.0.1:7000"
    )]
    cluster: Vec<String>,
    /// How often changed documents' logs are folded into their snapshots (`3s`, `500ms`).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    persist_interval: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s:?} (use ms, s or m)")),
    };
    if !(secs > 0.0 && secs < 86_400.0) {
        return Err(format!("{s:?} is out of range (above 0, below a day)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUSTIDOCS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    let args = Args::parse();
    // One thread: the service is one loop, and on 2 cores the nodes want the other.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let store = client::Store::connect(&args.cluster)
        .await
        .with_context(|| format!("connecting to {}", args.cluster.join(",")))?;
    tracing::info!(
        cluster = %args.cluster.join(","),
        persist_interval_ms = args.persist_interval.as_millis() as u64,
        "control service started"
    );
    service::Service::new(store, args.persist_interval)
        .run(shutdown())
        .await;
    tracing::info!("control service stopped");
    Ok(())
}

/// Resolves at SIGTERM or Ctrl-C.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("no SIGTERM handler: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }
}
