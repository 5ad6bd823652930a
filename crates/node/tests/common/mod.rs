//! Test harness: start real `rustidocs-node` and reference `redis-server` processes on
//! free loopback ports in temporary directories, talk raw RESP to them, compare replies.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub use resp::Frame;

pub mod cluster;
pub mod inproc;

/// Path of our server binary (built by cargo for integration tests).
pub fn node_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rustidocs-node"))
}

/// A free port below 50000 (so port+10000 stays valid for a cluster bus later).
pub fn free_port() -> u16 {
    // Ports 10000..22767 (bus ports +10000 up to 32767) stay below Linux's ephemeral
    // range (32768+), where the kernel picks client sockets' local ports: a port found
    // free there could be taken by any outgoing connection before the server binds it.
    const LOW: u16 = 10000;
    const HIGH: u16 = 22767;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    if NEXT.load(Ordering::Relaxed) == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        let seed = (std::process::id() as u64 * 7919 + nanos) % u64::from(HIGH - LOW);
        let _ = NEXT.compare_exchange(0, LOW + seed as u16, Ordering::Relaxed, Ordering::Relaxed);
    }
    loop {
        let p = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = if p >= HIGH {
            NEXT.store(LOW + 1, Ordering::Relaxed);
            LOW
        } else {
            p
        };
        if TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 10000)).is_ok()
        {
            return p;
        }
    }
}

/// Which implementation a [`Server`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ours,
    Redis,
}

/// A running server process, killed (and its directory removed) on drop.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

impl Server {
    /// Starts our node with `--port <free> --dir <tmp>` plus `extra` directives.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_kind(Kind::Ours, extra)
    }

    /// Starts Debian's `redis-server` the same way, as the reference.
    pub fn start_redis(extra: &[&str]) -> Server {
        Self::start_kind(Kind::Redis, extra)
    }

    pub fn start_kind(kind: Kind, extra: &[&str]) -> Server {
        // Another test process may bind the port we found free before our server
        // does; then our server exits and we try another port.
        let mut last_error = String::new();
        for _ in 0..5 {
            match Self::try_start_on(kind, free_port(), extra) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("{kind:?} server did not start: {last_error}");
    }

    /// Like [`Server::start_kind`] on a given port (to restart a node where it was, or
    /// when other nodes must know the port in advance).
    pub fn start_on(kind: Kind, port: u16, extra: &[&str]) -> Server {
        Self::try_start_on(kind, port, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_on(kind: Kind, port: u16, extra: &[&str]) -> Result<Server, String> {
        let dir =
            std::env::temp_dir().join(format!("rustidocs-test-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let program = match kind {
            Kind::Ours => node_binary(),
            Kind::Redis => PathBuf::from("redis-server"),
        };
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
        ];
        if kind == Kind::Redis {
            args.extend(["--enable-debug-command".into(), "yes".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        // The server's own output goes to a file in its directory, so a failure to
        // start can say why.
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let child = Command::new(&program)
            .args(&args)
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut server = Server {
            kind,
            port,
            dir,
            child,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits until the server answers, and checks that the process answering is ours
    /// (its `process_id`), not another test's server that got the port first.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid = self.child.id().to_string();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(format!(
                    "{:?} server on port {} exited: {status}; last log lines: {tail:?}",
                    self.kind, self.port
                ));
            }
            if let Ok(mut c) = Conn::try_connect(self.port) {
                match c.try_cmd(&["INFO", "server"]) {
                    Ok(Frame::Bulk(info)) | Ok(Frame::Verbatim(info)) => {
                        let text = String::from_utf8_lossy(&info);
                        if text
                            .lines()
                            .any(|l| l.trim() == format!("process_id:{pid}"))
                        {
                            return Ok(());
                        }
                    }
                    // Started with a password: it answers, and only our child can.
                    Ok(Frame::Error(e)) if e.starts_with(b"NOAUTH") => return Ok(()),
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{:?} server on port {} did not become ready",
            self.kind, self.port
        ))
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// `redis://127.0.0.1:<port>` for redis-rs.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait_exit(Duration::from_secs(10))
            .expect("server exits after SIGTERM")
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw RESP connection.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Encodes a command as a RESP multibulk request.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Conn {
    pub fn try_connect(port: u16) -> std::io::Result<Conn> {
        Self::try_connect_to(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// Connects to any address, giving up after 2 s (a host behind a partition never
    /// answers the SYN, and the system's own limit is minutes).
    pub fn try_connect_to(addr: std::net::SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn connect(port: u16) -> Conn {
        Self::try_connect(port).expect("connect")
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send(&mut self, args: &[&str]) {
        let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_raw(&encode(&raw));
    }

    /// Reads one reply frame; Err on timeout or closed connection.
    pub fn try_read(&mut self) -> std::io::Result<Frame> {
        loop {
            if let Some((frame, n)) = Frame::parse(&self.buf) {
                self.buf.drain(..n);
                return Ok(frame);
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn read(&mut self) -> Frame {
        self.try_read().expect("reply")
    }

    /// Reads one reply and returns its raw bytes (for byte-exact comparisons).
    pub fn read_raw(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = resp::frame_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn try_cmd(&mut self, args: &[&str]) -> std::io::Result<Frame> {
        let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.stream.write_all(&encode(&raw))?;
        self.try_read()
    }

    pub fn cmd(&mut self, args: &[&str]) -> Frame {
        self.try_cmd(args)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// Sends a command given as bytes and returns the raw reply bytes.
    pub fn cmd_raw(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_raw(&encode(args));
        self.read_raw()
    }

    /// True when the server has closed the connection (reads EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1024];
        loop {
            match self.stream.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// Shorthands for expected frames.
pub fn ok() -> Frame {
    Frame::Simple(b"OK".to_vec())
}

pub fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}

pub fn int(i: i64) -> Frame {
    Frame::Integer(i)
}

pub fn err(s: &str) -> Frame {
    Frame::Error(s.as_bytes().to_vec())
}

/// The text of a string-like reply (bulk, verbatim, simple or error); panics otherwise.
pub fn text(f: Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Verbatim(b) | Frame::Simple(b) | Frame::Error(b) => {
            String::from_utf8_lossy(&b).into_owned()
        }
        other => panic!("not a string reply: {other:?}"),
    }
}

/// One field of `CLUSTER INFO` ("" when absent).
pub fn cluster_info_field(c: &mut Conn, name: &str) -> String {
    let info = text(c.cmd(&["CLUSTER", "INFO"]));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .to_string()
}

/// One field of an `INFO <section>` reply; panics when the server does not report it.
pub fn info_field(c: &mut Conn, section: &str, name: &str) -> String {
    let info = text(c.cmd(&["INFO", section]));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

/// Polls `cond` every 20 ms; panics naming `what` after 20 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Renders a raw reply readably for assertion messages.
pub fn show(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).replace("\r\n", "\\r\\n")
}

/// Runs the same commands against our node and the reference redis-server (fresh
/// instances) and asserts byte-identical replies. Each command is a list of words;
/// replies are compared one by one so a mismatch names the command.
pub struct Differential {
    pub ours: Server,
    pub redis: Server,
    pub a: Conn,
    pub b: Conn,
}

impl Differential {
    pub fn new() -> Differential {
        Self::with_config(&[])
    }

    pub fn with_config(extra: &[&str]) -> Differential {
        let ours = Server::start(extra);
        let redis = Server::start_redis(extra);
        let a = ours.conn();
        let b = redis.conn();
        Differential { ours, redis, a, b }
    }

    /// Runs one command on both and asserts identical raw replies; returns the reply.
    pub fn check_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let ra = self.a.cmd_raw(args);
        let rb = self.b.cmd_raw(args);
        let shown: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(
            show(&ra),
            show(&rb),
            "reply differs for {shown:?} (left: ours, right: redis)"
        );
        ra
    }

    pub fn check(&mut self, args: &[&str]) -> Vec<u8> {
        let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.check_bytes(&raw)
    }

    /// Runs many commands written one per line, words split on whitespace (use
    /// `check` for arguments containing spaces).
    pub fn check_script(&mut self, script: &str) {
        for line in script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[0].to_ascii_uppercase().as_str() {
                // Remaining time depends on when each server ran the command: a stall
                // of the machine between two commands may move it by a unit.
                "TTL" => self.check_close(&words, 1),
                "PTTL" => self.check_close(&words, 1000),
                _ => {
                    self.check(&words);
                }
            }
        }
    }

    /// Like `check`, but integer replies may differ by up to `tolerance`.
    pub fn check_close(&mut self, args: &[&str], tolerance: i64) {
        let (fa, fb) = (self.a.cmd(args), self.b.cmd(args));
        match (&fa, &fb) {
            (Frame::Integer(x), Frame::Integer(y)) if *x >= 0 && *y >= 0 => {
                assert!((x - y).abs() <= tolerance, "{args:?}: ours {x}, redis {y}")
            }
            _ => assert_eq!(
                fa, fb,
                "reply differs for {args:?} (left: ours, right: redis)"
            ),
        }
    }

    /// Runs a command on both whose reply is order-insensitive (SMEMBERS, HGETALL …):
    /// compares the sorted elements of the top-level aggregate.
    pub fn check_unordered(&mut self, args: &[&str]) {
        let fa = self.a.cmd(args);
        let fb = self.b.cmd(args);
        assert_eq!(
            sorted(fa),
            sorted(fb),
            "reply differs for {args:?} (left: ours, right: redis)"
        );
    }
}

impl Default for Differential {
    fn default() -> Self {
        Self::new()
    }
}

/// An aggregate frame with its elements sorted by their debug form (maps by pair).
pub fn sorted(f: Frame) -> Frame {
    let key = |x: &Frame| format!("{x:?}");
    match f {
        Frame::Array(mut v) => {
            v.sort_by_key(key);
            Frame::Array(v)
        }
        Frame::Set(mut v) => {
            v.sort_by_key(key);
            Frame::Set(v)
        }
        Frame::Map(mut v) => {
            v.sort_by_key(|(k, _)| key(k));
            Frame::Map(v)
        }
        other => other,
    }
}

/// Runs `steps` on fresh connections to `server`: each step is (connection, command);
/// connection 9 means "sleep that many ms". Returns each reply, shown readably.
pub fn run_steps(server: &Server, steps: &[(usize, &str)]) -> Vec<String> {
    let mut conns: Vec<Conn> = (0..3).map(|_| server.conn()).collect();
    let mut out = Vec::new();
    for &(c, line) in steps {
        if c == 9 {
            std::thread::sleep(Duration::from_millis(line.parse().unwrap()));
            continue;
        }
        let words: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        out.push(format!("{line} -> {}", show(&conns[c].cmd_raw(&words))));
    }
    out
}

/// The same multi-connection scenario on our node and on redis-server.
pub fn check_steps(d: &Differential, steps: &[(usize, &str)]) {
    assert_eq!(run_steps(&d.ours, steps), run_steps(&d.redis, steps));
}

/// A test's own directory that outlives server restarts (a [`Server`] removes its own
/// directory when dropped); removed when this is dropped.
pub struct TestDir(pub PathBuf);

impl TestDir {
    /// A new empty directory; `tag` names it for whoever looks in the temp dir.
    pub fn new(tag: &str) -> TestDir {
        let p = std::env::temp_dir().join(format!(
            "rustidocs-{tag}-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TestDir(p)
    }

    /// A new empty subdirectory.
    pub fn sub(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
