//! `rustidocs`: the command line. `up` runs the whole local system; `cluster …` runs and
//! inspects a cluster of `rustidocs-node` processes; `doc …` works with documents.

mod cluster;
mod doc;
mod layout;
mod process;
mod service;
mod up;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "rustidocs", version, about = "RustiDocs command line")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the whole local system (cluster + control service) in the foreground;
    /// Ctrl-C or SIGTERM stops everything it started.
    Up(up::UpArgs),
    /// Run and inspect a cluster of rustidocs-node processes.
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// List, create, read, edit, watch, import, export and remove documents.
    Doc(doc::DocArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `doc` commands print their own results and one-line errors: by default keep the
    // client libraries' progress notes (redis-rs retrying a dead node…) out of the way.
    let default_filter = match cli.cmd {
        Cmd::Doc(_) => "warn,redis=error",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUSTIDOCS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .without_time()
        .with_target(false)
        .init();
    let result = match cli.cmd {
        Cmd::Up(a) => up::run(a),
        Cmd::Cluster(c) => cluster::run(c),
        Cmd::Doc(d) => doc::run(d),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
