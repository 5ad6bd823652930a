//! `rustidocs doc …`: list, create, read, edit, watch, import, export and remove documents
//! on a cluster, through the client library; one subcommand per module.

/// `print!` for the `doc` commands: see [`emit`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::doc::emit(&format!($($arg)*)) };
}

/// `println!` for the `doc` commands: see [`emit`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::doc::emit(&format!("{}\n", format!($($arg)*))) };
}

mod cat;
mod edit;
mod export;
mod grid;
mod import;
mod list;
mod new;
mod rm;
mod set_cell;
mod target;
mod watch;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use client::{ClientError, Store};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct DocArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: DocCmd,
}

/// Options every `doc` subcommand takes.
#[derive(Debug, Args)]
struct Common {
    /// Cluster endpoints HOST:PORT[,...] [default: $RUSTIDOCS_CLUSTER, else the local
    /// cluster that `rustidocs cluster up` started, else 127.0.0.1:7000].
    #[arg(long, global = true, conflicts_with = "dir")]
    cluster: Option<String>,
    /// Local cluster directory whose recorded nodes to use [default: $RUSTIDOCS_HOME/cluster
    /// or ~/.local/share/rustidocs/cluster].
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Script-friendly output: JSON (one value, or one object per line for `watch`).
    #[arg(long, global = true)]
    json: bool,
    /// The name others see while this command has the document open [default: $USER].
    #[arg(long, global = true, env = "RUSTIDOCS_USER")]
    user: Option<String>,
}

#[derive(Debug, Subcommand)]
enum DocCmd {
    /// List documents, most recently updated first.
    List(list::ListArgs),
    /// Create an empty document; prints its id on the last line.
    New(new::NewArgs),
    /// Print a document: a text as it is, a sheet as its computed values, tab-separated
    /// (`--csv` for CSV, `--inputs` for the formulas).
    Cat(cat::CatArgs),
    /// Insert or delete text in a text document.
    Edit(edit::EditArgs),
    /// Set one cell of a sheet (a value, or a formula starting with `=`).
    SetCell(set_cell::SetCellArgs),
    /// Follow a document live: its content after each change, and who is present.
    Watch(watch::WatchArgs),
    /// Write a document to a file (or stdout) as txt, md, csv or xlsx.
    Export(export::ExportArgs),
    /// Create a document from a file: .txt/.md make a text, .csv/.xlsx a sheet; prints
    /// the new id on the last line.
    Import(import::ImportArgs),
    /// Delete a document.
    Rm(rm::RmArgs),
}

/// What a subcommand works with: the connected store and the output mode.
pub struct Ctx {
    pub store: Store,
    pub json: bool,
    pub user: String,
}

pub fn run(args: DocArgs) -> Result<ExitCode> {
    let endpoints = target::endpoints(args.common.cluster.as_deref(), args.common.dir.clone())?;
    // Two workers are plenty for one command; the machine's cores belong to the nodes.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let store = Store::connect(&endpoints)
            .await
            .with_context(|| format!("cannot reach the cluster at {}", endpoints.join(",")))?;
        let ctx = Ctx {
            store,
            json: args.common.json,
            user: args.common.user.unwrap_or_else(default_user),
        };
        dispatch(&ctx, args.cmd).await.map_err(explain)
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn dispatch(ctx: &Ctx, cmd: DocCmd) -> Result<()> {
    match cmd {
        DocCmd::List(a) => list::run(ctx, a).await,
        DocCmd::New(a) => new::run(ctx, a).await,
        DocCmd::Cat(a) => cat::run(ctx, a).await,
        DocCmd::Edit(a) => edit::run(ctx, a).await,
        DocCmd::SetCell(a) => set_cell::run(ctx, a).await,
        DocCmd::Watch(a) => watch::run(ctx, a).await,
        DocCmd::Export(a) => export::run(ctx, a).await,
        DocCmd::Import(a) => import::run(ctx, a).await,
        DocCmd::Rm(a) => rm::run(ctx, a).await,
    }
}

/// Says what a failed cluster request means for the user: a timeout or a dropped link
/// is most likely a node that is down.
fn explain(e: anyhow::Error) -> anyhow::Error {
    let Some(ClientError::Redis(r)) = e.downcast_ref::<ClientError>() else {
        return e;
    };
    if r.is_timeout() {
        anyhow::anyhow!("the cluster did not answer in time (is a node down?): {r}")
    } else if r.is_connection_dropped() || r.is_connection_refusal() {
        anyhow::anyhow!("lost the link to the cluster (is a node down?): {r}")
    } else {
        e
    }
}

/// `$USER`, else `cli`: a name for presence, not an identity.
fn default_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "cli".to_string())
}

/// Writes to stdout and flushes (output goes to pipes as often as to terminals). A reader
/// that has gone (`… | head -1`) ends the command quietly, as it does other Unix tools;
/// `print!` would panic instead. Another write error is a one-line error and exit code 1.
pub fn emit(text: &str) {
    emit_bytes(text.as_bytes());
}

/// [`emit`] for bytes (an xlsx file on stdout).
pub fn emit_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// Prints one JSON value on one line (so `watch --json` is one object per line).
pub fn print_json(v: &Value) {
    outln!("{v}");
}

/// Loads a document without joining it: no presence, nothing for others to see.
pub async fn load(ctx: &Ctx, id: &str) -> Result<client::Loaded> {
    Ok(client::document::load(&ctx.store, id, client::catalog::random_client_id()).await?)
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC (no time zone database
/// needed, and sortable).
pub fn utc_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc_time(1_796_387_696_789), "2026-12-04 12:34:56");
    }
}
