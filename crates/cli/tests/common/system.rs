//! `rustidocs up` as a test fixture: the whole local system (cluster + control service)
//! in a child process on free ports, stopped with SIGTERM when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{free_base, BIN};

pub struct System {
    pub dir: PathBuf,
    pub base: u16,
    pub endpoints: Vec<String>,
    child: Option<Child>,
}

impl System {
    /// `rustidocs up --masters M --replicas R` plus `extra`, waiting for its JSON summary.
    pub fn up(masters: u16, replicas: u16, extra: &[&str]) -> System {
        let base = free_base(masters * (1 + replicas));
        let dir = std::env::temp_dir().join(format!("rustidocs-sys-{}-{base}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut sys = System {
            dir,
            base,
            endpoints: Vec::new(),
            child: None,
        };
        sys.start(
            &[
                "--masters",
                &masters.to_string(),
                "--replicas",
                &replicas.to_string(),
                "--base-port",
                &base.to_string(),
            ],
            extra,
        );
        sys
    }

    /// Starts `rustidocs up` again on the same directory (a full restart).
    pub fn restart(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "stop it first");
        self.start(&[], extra);
    }

    fn start(&mut self, shape: &[&str], extra: &[&str]) {
        let mut child = Command::new(BIN)
            .arg("up")
            .args(shape)
            .args(extra)
            .arg("--json")
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn rustidocs up");
        let mut json = String::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.expect("rustidocs up output");
            let end = line == "}";
            json.push_str(&line);
            if end {
                break;
            }
        }
        let v: serde_json::Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("rustidocs up printed no JSON ({e}): {json}"));
        self.endpoints = v["cluster"]
            .as_str()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        self.child = Some(child);
    }

    /// The control service's current pid (from its pid file).
    pub fn control_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("pids/control.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The pid of the node on `port`.
    pub fn node_pid(&self, port: u16) -> Option<i32> {
        std::fs::read_to_string(self.dir.join(format!("pids/{port}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn control_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("control.log")).unwrap_or_default()
    }

    /// SIGTERM to `rustidocs up`; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        signal(child.id() as i32, "TERM");
        child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new(BIN)
            .args(["cluster", "down", "--purge", "--dir"])
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `kill -SIG pid`.
pub fn signal(pid: i32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// True if the process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next());
            state != Some("Z")
        })
        .unwrap_or(false)
}
