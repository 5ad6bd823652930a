//! Node processes: finding the node binary, spawning a node detached from the terminal
//! with a pid file, and stopping it with SIGTERM (so it flushes its AOF) and waiting.

use crate::layout::Layout;
use anyhow::{bail, Context, Result};
use rustix::process::{kill_process, test_kill_process, Pid, Signal};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NODE_BINARY: &str = "rustidocs-node";

/// `--node-binary` if given, else `rustidocs-node` next to this executable, else the
/// one on PATH.
pub fn resolve_node_binary(flag: Option<PathBuf>) -> Result<PathBuf> {
    resolve_binary(NODE_BINARY, "--node-binary", flag)
}

/// The executable `name`: `flag` (the option named `option`) if given, else the one next
/// to this executable, else the one on PATH.
pub fn resolve_binary(name: &str, option: &str, flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return which(&p).with_context(|| format!("{name} binary {} not found", p.display()));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.is_file());
    match beside {
        Some(p) => Ok(p),
        None => which(Path::new(name)).with_context(|| {
            format!("{name} not found next to rustidocs nor on PATH (use {option})")
        }),
    }
}

/// A path with a directory part is taken as is; a bare name is looked up on PATH.
fn which(p: &Path) -> Option<PathBuf> {
    if p.components().count() > 1 {
        // Absolute: nodes run in their own directories.
        return p.is_file().then(|| p.canonicalize().ok()).flatten();
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(p))
        .find(|c| c.is_file())
}

/// Starts one node with its redis.conf and records its pid. The node gets its own
/// process group so a Ctrl-C in the terminal reaches only us (we then stop it in order)
/// and it outlives us when we exit.
pub fn spawn_node(layout: &Layout, binary: &Path, port: u16) -> Result<Child> {
    let dir = layout.node_dir(port);
    // Errors before the node opens its logfile (bad config) land here.
    let stderr = File::create(dir.join("stderr.log"))?;
    let child = Command::new(binary)
        .arg(layout.conf_path(port))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    std::fs::create_dir_all(layout.pids_dir())?;
    std::fs::write(layout.pid_path(port), format!("{}\n", child.id()))?;
    Ok(child)
}

/// The pid recorded for the node on `port`, if any.
pub fn read_pid(layout: &Layout, port: u16) -> Option<i32> {
    read_pid_file(&layout.pid_path(port))
}

pub fn read_pid_file(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Every pid file in the layout, as (path, pid), including ones for ports no longer
/// in the record.
pub fn pid_files(layout: &Layout) -> Vec<(PathBuf, Option<i32>)> {
    let Ok(entries) = std::fs::read_dir(layout.pids_dir()) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pid"))
        .map(|p| {
            let pid = read_pid_file(&p);
            (p, pid)
        })
        .collect();
    files.sort();
    files
}

/// True if the process exists and is not a zombie (a zombie has exited already; it only
/// waits for a parent, possibly a container's init that never reaps).
pub fn is_alive(pid: i32) -> bool {
    let Some(p) = Pid::from_raw(pid) else {
        return false;
    };
    if test_kill_process(p).is_err() {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the parenthesized command name, which may itself hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    state != Some("Z")
}

/// Sends SIGTERM; a node that is gone already is fine.
pub fn terminate(pid: i32) {
    if let Some(p) = Pid::from_raw(pid) {
        let _ = kill_process(p, Signal::TERM);
    }
}

/// Waits until the process has exited, polling.
pub fn wait_exit(pid: i32, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while is_alive(pid) {
        if Instant::now() >= deadline {
            bail!("process {pid} did not exit within {}s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// SIGTERMs every recorded node, waits for all of them and removes their pid files.
/// Signals go out first so the nodes shut down in parallel.
pub fn stop_all(layout: &Layout, timeout: Duration) -> Result<usize> {
    // A pid file whose process is gone (crash, reboot) is just removed.
    let files: Vec<_> = pid_files(layout)
        .into_iter()
        .map(|(path, pid)| (path, pid.filter(|p| is_alive(*p))))
        .collect();
    for pid in files.iter().filter_map(|(_, pid)| *pid) {
        terminate(pid);
    }
    let mut stopped = 0;
    let mut failures = Vec::new();
    for (path, pid) in files {
        if let Some(pid) = pid {
            if let Err(e) = wait_exit(pid, timeout) {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
            stopped += 1;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    if !failures.is_empty() {
        bail!("some nodes did not stop: {}", failures.join("; "));
    }
    Ok(stopped)
}
