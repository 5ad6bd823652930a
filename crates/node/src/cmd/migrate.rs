//! MIGRATE: moves keys to another Redis-compatible server. Instead of Redis's RESTORE
//! of an RDB payload, each value is rebuilt there with plain commands in MULTI/EXEC.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use resp::Frame;

use super::table::{CommandSpec, Flags};
use super::{Args, CmdError, CmdResult, Ctx, OwnedArgs};
use crate::db::{Db, Value};

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("migrate", -6, Flags::WRITE, migrate)
    .keys(3, 3, 1)
    .keys_fn(migrate_keys)
    .acl(&["keyspace", "dangerous"])
    .doc(
        "generic",
        "2.6.0",
        "Atomically transfers a key from one Redis instance to another.",
    )];

/// Elements per command when rebuilding big aggregates.
const BATCH: usize = 128;

/// Redis's `migrateGetKeys`: the key at 3, or everything after KEYS.
fn migrate_keys(args: &Args) -> Vec<usize> {
    let keys_at = (6..args.len()).find(|&i| args.is(i, "keys"));
    match keys_at {
        Some(i) if args.get(3).is_empty() => (i + 1..args.len()).collect(),
        _ => vec![3],
    }
}

struct Options<'a> {
    copy: bool,
    replace: bool,
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    keys: Vec<&'a [u8]>,
}

fn parse_options<'a>(args: &Args<'a>) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        copy: false,
        replace: false,
        auth: None,
        keys: vec![args.get(3)],
    };
    let mut i = 6;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args.is(i, "copy") {
            o.copy = true;
        } else if args.is(i, "replace") {
            o.replace = true;
        } else if args.is(i, "auth") && more >= 1 {
            o.auth = Some((None, args.get(i + 1)));
            i += 1;
        } else if args.is(i, "auth2") && more >= 2 {
            o.auth = Some((Some(args.get(i + 1)), args.get(i + 2)));
            i += 2;
        } else if args.is(i, "keys") {
            if !args.get(3).is_empty() {
                return Err(CmdError::msg(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            o.keys = args.iter_from(i + 1).collect();
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

fn migrate(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let opts = parse_options(args)?;
    let mut timeout = args.i64(5)?;
    let db_index = args.i64(4)?;
    if timeout <= 0 {
        timeout = 1000;
    }
    // What to send for each key that exists (and has not expired).
    let mut plans: Vec<(&[u8], Vec<OwnedArgs>)> = Vec::new();
    {
        let mut db = ctx.db();
        for &key in &opts.keys {
            if db.read(key).is_some() {
                plans.push((key, rebuild(&db, key)));
            }
        }
    }
    if plans.is_empty() {
        ctx.out.simple(b"NOKEY");
        return Ok(());
    }
    let asking = ctx.srv.cluster.is_some();
    let host = String::from_utf8_lossy(args.get(1)).into_owned();
    let port = String::from_utf8_lossy(args.get(2)).into_owned();
    let mut target = Target::connect(&host, &port, timeout as u64)?;
    target.prelude(&opts, db_index)?;
    let mut moved = Vec::new();
    for (key, commands) in &plans {
        target.transfer(key, commands, opts.replace, asking)?;
        moved.push(*key);
    }
    if !opts.copy {
        let mut db = ctx.db();
        for key in &moved {
            db.remove(key);
            db.modified(key);
        }
        drop(db);
        // Replicas and the AOF see the keys leave as a DEL.
        let del = OwnedArgs::from_slices(std::iter::once(&b"DEL"[..]).chain(moved.iter().copied()));
        ctx.propagate_as(vec![del]);
    }
    ctx.out.ok();
    Ok(())
}

fn command<'a>(words: impl IntoIterator<Item = &'a [u8]>) -> OwnedArgs {
    OwnedArgs::from_slices(words)
}

/// Commands that recreate the value at `key` (the caller deletes it first), with its
/// remaining time to live.
fn rebuild(db: &Db, key: &[u8]) -> Vec<OwnedArgs> {
    let mut out = Vec::new();
    let value = db.peek(key).expect("checked by the caller");
    let batched = |out: &mut Vec<OwnedArgs>, name: &[u8], items: Vec<Vec<u8>>, per: usize| {
        for chunk in items.chunks(BATCH * per) {
            let words = [name, key]
                .into_iter()
                .chain(chunk.iter().map(Vec::as_slice));
            out.push(command(words));
        }
    };
    match value {
        Value::Str(s) => out.push(command([&b"SET"[..], key, s])),
        Value::List(l) => batched(
            &mut out,
            b"RPUSH",
            l.iter().map(|e| e.to_vec()).collect(),
            1,
        ),
        Value::Set(s) => batched(&mut out, b"SADD", s.iter().map(|e| e.to_vec()).collect(), 1),
        Value::Hash(h) => {
            let items = h
                .iter()
                .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
                .collect();
            batched(&mut out, b"HSET", items, 2)
        }
        Value::ZSet(z) => {
            let items = z
                .iter()
                .flat_map(|(m, score)| [score.to_string().into_bytes(), m.to_vec()])
                .collect();
            batched(&mut out, b"ZADD", items, 2)
        }
        Value::Stream(s) => rebuild_stream(&mut out, key, s),
    }
    if let Some(at) = db.expire_at(key) {
        out.push(command([&b"PEXPIREAT"[..], key, at.to_string().as_bytes()]));
    }
    out
}

fn stream_id(id: crate::db::stream::StreamId) -> Vec<u8> {
    let mut buf = [0u8; 41];
    id.format(&mut buf).to_vec()
}

/// XADD of every entry, then XSETID for the last id and counters when they differ from
/// what the XADDs leave (deletions happened). An empty stream is created by an XADD
/// trimmed away at once.
fn rebuild_stream(out: &mut Vec<OwnedArgs>, key: &[u8], s: &crate::db::stream::Stream) {
    let all = s.range(
        crate::db::stream::StreamId::MIN,
        crate::db::stream::StreamId::MAX,
        false,
    );
    for (id, fields) in all {
        let id = stream_id(*id);
        let words = [&b"XADD"[..], key, &id].into_iter().chain(fields.iter());
        out.push(command(words));
    }
    if s.is_empty() {
        let first = crate::db::stream::StreamId::new(0, 1).max(s.last_id);
        let id = stream_id(first);
        out.push(command([
            &b"XADD"[..],
            key,
            b"MAXLEN",
            b"0",
            &id,
            b"f",
            b"v",
        ]));
    }
    let untouched = s.max_deleted_id == crate::db::stream::StreamId::MIN
        && s.entries_added == s.len() as u64
        && s.last().is_some_and(|(id, _)| *id == s.last_id);
    if untouched {
        return;
    }
    let (last, max_deleted) = (stream_id(s.last_id), stream_id(s.max_deleted_id));
    let added = s.entries_added.to_string();
    out.push(command([
        &b"XSETID"[..],
        key,
        &last,
        b"ENTRIESADDED",
        added.as_bytes(),
        b"MAXDELETEDID",
        &max_deleted,
    ]));
}

/// A blocking RESP connection to the target (MIGRATE blocks the server, as in Redis).
struct Target {
    stream: TcpStream,
    buf: Vec<u8>,
}

fn io_error(what: &str) -> CmdError {
    CmdError::msg(format!("IOERR error or timeout {what} to target instance"))
}

fn target_error(msg: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "ERR Target instance replied with error: {}",
        String::from_utf8_lossy(msg)
    ))
}

impl Target {
    fn connect(host: &str, port: &str, timeout_ms: u64) -> Result<Target, CmdError> {
        let timeout = Duration::from_millis(timeout_ms);
        let failed = || CmdError::msg("IOERR error or timeout connecting to the client");
        let addr = format!("{host}:{port}")
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(failed)?;
        // Redis connects without blocking and only sees a refusal when it writes.
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                failed()
            } else {
                io_error("writing")
            }
        })?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        let _ = stream.set_nodelay(true);
        Ok(Target {
            stream,
            buf: Vec::new(),
        })
    }

    fn send(&mut self, commands: &[OwnedArgs]) -> Result<(), CmdError> {
        let mut bytes = Vec::new();
        for c in commands {
            let args = c.args();
            bytes.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for a in args.iter_from(0) {
                bytes.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                bytes.extend_from_slice(a);
                bytes.extend_from_slice(b"\r\n");
            }
        }
        self.stream
            .write_all(&bytes)
            .map_err(|_| io_error("writing"))
    }

    fn read(&mut self) -> Result<Frame, CmdError> {
        loop {
            if let Some((frame, used)) = Frame::parse(&self.buf) {
                self.buf.drain(..used);
                return Ok(frame);
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return Err(io_error("reading")),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads one reply; an error reply becomes MIGRATE's error.
    fn expect_ok(&mut self) -> Result<Frame, CmdError> {
        match self.read()? {
            Frame::Error(e) => Err(target_error(&e)),
            other => Ok(other),
        }
    }

    /// AUTH (if asked for) and SELECT of the destination database.
    fn prelude(&mut self, opts: &Options, db_index: i64) -> Result<(), CmdError> {
        let mut commands = Vec::new();
        if let Some((user, pass)) = opts.auth {
            let words = std::iter::once(&b"AUTH"[..]).chain(user).chain([pass]);
            commands.push(command(words));
        }
        let db = db_index.to_string();
        commands.push(command([&b"SELECT"[..], db.as_bytes()]));
        self.send(&commands)?;
        let replies: Vec<Result<Frame, CmdError>> =
            commands.iter().map(|_| self.expect_ok()).collect();
        replies.into_iter().try_for_each(|r| r.map(drop))
    }

    /// Recreates one key on the target: refuses to overwrite without REPLACE (like
    /// RESTORE's BUSYKEY), then runs DEL + the rebuild commands in one transaction.
    fn transfer(
        &mut self,
        key: &[u8],
        commands: &[OwnedArgs],
        replace: bool,
        asking: bool,
    ) -> Result<(), CmdError> {
        let asking_cmd = || command([&b"ASKING"[..]]);
        if !replace {
            let mut check: Vec<OwnedArgs> = asking.then(asking_cmd).into_iter().collect();
            check.push(command([&b"EXISTS"[..], key]));
            self.send(&check)?;
            let replies = self.read_all(check.len())?;
            if replies.last() == Some(&Frame::Integer(1)) {
                return Err(target_error(b"BUSYKEY Target key name already exists."));
            }
        }
        let mut batch: Vec<OwnedArgs> = asking.then(asking_cmd).into_iter().collect();
        batch.push(command([&b"MULTI"[..]]));
        batch.push(command([&b"DEL"[..], key]));
        batch.extend(
            commands
                .iter()
                .map(|c| OwnedArgs::from_slices(c.args().iter_from(0))),
        );
        batch.push(command([&b"EXEC"[..]]));
        self.send(&batch)?;
        let replies = self.read_all(batch.len())?;
        let exec_result = replies.last().cloned();
        for reply in replies.iter().chain(match &exec_result {
            Some(Frame::Array(items)) => items.iter(),
            _ => [].iter(),
        }) {
            if let Frame::Error(e) = reply {
                return Err(target_error(e));
            }
        }
        Ok(())
    }

    /// Reads `n` replies, keeping error replies as frames.
    fn read_all(&mut self, n: usize) -> Result<Vec<Frame>, CmdError> {
        (0..n).map(|_| self.read()).collect()
    }
}
