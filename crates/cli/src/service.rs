//! The control service as a child of `rustidocs up`: spawned with its log in the cluster
//! directory and a pid file beside the nodes' (so `cluster down` stops it too), restarted
//! if it dies.

use crate::layout::Layout;
use crate::process;
use anyhow::{Context, Result};
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tracing::{info, warn};

const CONTROL_BINARY: &str = "rustidocs-control";
/// A control service that dies is started again, at most this often.
const RESTART_EVERY: Duration = Duration::from_secs(1);

/// A supervised `rustidocs-control`.
pub struct ControlService {
    binary: PathBuf,
    endpoints: Vec<String>,
    persist_interval: String,
    pub log: PathBuf,
    pid_file: PathBuf,
    child: Child,
    started: Instant,
}

impl ControlService {
    pub fn start(
        layout: &Layout,
        binary: Option<PathBuf>,
        endpoints: Vec<String>,
        persist_interval: &str,
    ) -> Result<Self> {
        let binary = process::resolve_binary(CONTROL_BINARY, "--control-binary", binary)?;
        let log = layout.dir.join("control.log");
        let pid_file = layout.pids_dir().join("control.pid");
        let child = spawn(&binary, &endpoints, persist_interval, &log, &pid_file)?;
        Ok(Self {
            binary,
            endpoints,
            persist_interval: persist_interval.to_string(),
            log,
            pid_file,
            child,
            started: Instant::now(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the service again if it has exited (and has run for a while: a service that
    /// dies at once is retried no faster than [`RESTART_EVERY`]).
    pub fn keep_alive(&mut self) {
        let Ok(Some(status)) = self.child.try_wait() else {
            return;
        };
        if self.started.elapsed() < RESTART_EVERY {
            return;
        }
        warn!(
            "control service exited ({status}); starting it again, see {}",
            self.log.display()
        );
        match spawn(
            &self.binary,
            &self.endpoints,
            &self.persist_interval,
            &self.log,
            &self.pid_file,
        ) {
            Ok(child) => self.child = child,
            Err(e) => warn!("cannot restart the control service: {e:#}"),
        }
        self.started = Instant::now();
    }

    /// SIGTERM (the service folds what is left and gives its lease up), then waits.
    pub fn stop(&mut self, timeout: Duration) -> Result<()> {
        info!("stopping the control service");
        let pid = self.child.id() as i32;
        process::terminate(pid);
        let done = process::wait_exit(pid, timeout);
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.pid_file);
        done
    }
}

fn spawn(
    binary: &Path,
    endpoints: &[String],
    persist_interval: &str,
    log: &Path,
    pid_file: &Path,
) -> Result<Child> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let child = Command::new(binary)
        .arg("--cluster")
        .arg(endpoints.join(","))
        .args(["--persist-interval", persist_interval])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        // Its own process group, as the nodes: a Ctrl-C reaches us, and we stop it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    if let Some(dir) = pid_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(pid_file, format!("{}\n", child.id()))?;
    Ok(child)
}
