//! Write propagation: every change a command makes leaves the node as commands, in
//! order, for the append-only file (and replicas): SELECT and MULTI/EXEC framing,
//! expirations as DEL, and commands rewritten where replaying them would differ.

use crate::cmd::Args;
use crate::server::Server;

/// A MULTI that is open on the propagated stream, or wanted before the next command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Transaction {
    #[default]
    None,
    /// EXEC started; MULTI is written only if something is propagated.
    Pending,
    Open,
}

#[derive(Default)]
pub struct Propagator {
    /// Whether anything consumes the stream (AOF on; later, replicas attached).
    enabled: bool,
    /// Encoded commands not yet taken by the consumer.
    pending: Vec<u8>,
    /// Database the stream last selected.
    last_db: Option<usize>,
    transaction: Transaction,
    /// Bytes ever propagated (the AOF's offset; replication counts its own).
    pub offset: u64,
    /// The replication stream: backlog and attached replicas.
    pub repl: crate::repl::backlog::ReplFeed,
}

impl Propagator {
    pub fn enabled(&self) -> bool {
        self.enabled || self.repl.active()
    }

    /// Whether the AOF consumes the stream.
    pub fn aof_enabled(&self) -> bool {
        self.enabled
    }

    /// Sends a command to replicas only, outside any database (PING, GETACK).
    pub fn emit_to_replicas(&mut self, parts: &[&[u8]]) {
        if self.repl.proxying {
            return;
        }
        let mut out = resp::ReplyBuf::new(false);
        out.array(parts.len());
        for p in parts {
            out.bulk(p);
        }
        self.repl.feed(&out.buf);
    }

    /// Appends one command for database `db`, with a SELECT first when needed (before
    /// a pending MULTI, as Redis writes it).
    pub fn emit(&mut self, db: usize, args: &Args) {
        if self.last_db != Some(db) {
            let index = db.to_string();
            self.encode(&[b"SELECT", index.as_bytes()]);
            self.last_db = Some(db);
        }
        if self.transaction == Transaction::Pending {
            self.transaction = Transaction::Open;
            self.encode(&[b"MULTI"]);
        }
        let parts: Vec<&[u8]> = (0..args.len()).map(|i| args.get(i)).collect();
        self.encode(&parts);
    }

    fn encode(&mut self, parts: &[&[u8]]) {
        let start = self.pending.len();
        let mut out = resp::ReplyBuf {
            buf: std::mem::take(&mut self.pending),
            resp3: false,
        };
        out.array(parts.len());
        for p in parts {
            out.bulk(p);
        }
        self.pending = out.buf;
        self.offset += (self.pending.len() - start) as u64;
        if !self.repl.proxying {
            self.repl.feed(&self.pending[start..]);
        }
        if !self.enabled {
            // Only replicas consume the stream: nothing waits for these bytes.
            self.pending.truncate(start);
        }
    }

    /// EXEC begins: what its commands propagate is wrapped in MULTI … EXEC.
    pub fn begin_transaction(&mut self) {
        self.transaction = Transaction::Pending;
    }

    /// Whether an EXEC (or a multi-command rewrite) is being propagated.
    pub fn in_transaction(&self) -> bool {
        self.transaction != Transaction::None
    }

    pub fn end_transaction(&mut self) {
        if self.transaction == Transaction::Open {
            self.encode(&[b"EXEC"]);
        }
        self.transaction = Transaction::None;
    }

    /// Takes the encoded stream so far (the consumer writes it out).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Forgets the selected database, so the next command re-selects (e.g. after the
    /// consumer starts a new file).
    pub fn reset_selected_db(&mut self) {
        self.last_db = None;
    }
}

/// Turns propagation on or off for the whole server (and expiry tracking with it).
pub fn set_enabled(srv: &Server, on: bool) {
    srv.propagator.borrow_mut().enabled = on;
    refresh_tracking(srv);
}

/// Tracks expired keys (for their DELs) while anything consumes the stream: the AOF
/// or replication.
pub fn refresh_tracking(srv: &Server) {
    let on = srv.propagator.borrow().enabled();
    for db in &srv.dbs {
        let mut db = db.borrow_mut();
        if db.track_expired != on {
            db.track_expired = on;
            db.expired_keys.clear();
        }
    }
}

/// How a deletion propagates, as Redis: UNLINK when the lazyfree option behind it
/// (`lazyfree-lazy-expire`, `lazyfree-lazy-user-del`) is on, else DEL.
pub fn deletion_command(srv: &Server, lazyfree_option: &str) -> &'static [u8] {
    match srv.config.borrow().get(lazyfree_option) {
        Some("yes") => b"UNLINK",
        _ => b"DEL",
    }
}

/// Propagates the deletions of keys that expired since the last call, as DELs.
pub fn propagate_expired(srv: &Server) {
    let mut p = srv.propagator.borrow_mut();
    if !p.enabled() {
        return;
    }
    let mut command: Option<&[u8]> = None;
    for (index, db) in srv.dbs.iter().enumerate() {
        let keys = std::mem::take(&mut db.borrow_mut().expired_keys);
        for key in keys {
            let name =
                *command.get_or_insert_with(|| deletion_command(srv, "lazyfree-lazy-expire"));
            let del = crate::cmd::OwnedArgs::from_slices([name, &key]);
            p.emit(index, &del.args());
        }
    }
}
