//! The replica side: connect to the master (retrying), handshake, PSYNC, load a
//! full-sync payload, then apply the master's stream as its client and ACK it.

use std::rc::Rc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use resp::{ReplyBuf, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{LinkKind, LinkState};
use crate::client::{Client, ClientShared};
use crate::cmd::{dispatch, Args};
use crate::db::ExpireMode;
use crate::persist::snapshot::{Decoder, Item};
use crate::server::{Server, Stats};

const ACK_PERIOD: Duration = Duration::from_secs(1);

/// Runs while this node replicates from the master of `generation`.
pub async fn run(srv: Rc<Server>, generation: u64) {
    let stop = srv.repl.borrow().stop.clone();
    let mut delay = Duration::from_millis(100);
    loop {
        let stopped = stop.notified();
        tokio::pin!(stopped);
        stopped.as_mut().enable();
        let Some((host, port)) = current_master(&srv, generation) else {
            return;
        };
        tracing::info!("Connecting to MASTER {host}:{port}");
        let mut session = Session::new(&srv);
        let result = tokio::select! {
            r = session.run(&host, port) => r,
            _ = &mut stopped => return,
        };
        drop(session);
        if current_master(&srv, generation).is_none() {
            return;
        }
        if let Err(e) = result {
            tracing::warn!("Replication with MASTER {host}:{port}: {e:#}");
        }
        link_down(&srv);
        let connected_long = srv.repl.borrow().master_last_io_ms.get() > 0;
        delay = if connected_long {
            Duration::from_millis(100)
        } else {
            (delay * 2).min(Duration::from_secs(1))
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = &mut stopped => return,
        }
    }
}

fn current_master(srv: &Server, generation: u64) -> Option<(String, u16)> {
    let st = srv.repl.borrow();
    (st.generation == generation).then(|| st.master.clone())?
}

fn link_down(srv: &Server) {
    let st = srv.repl.borrow();
    if st.link.get() == LinkState::Connected {
        st.link_down_since_ms.set(crate::clock::now_ms());
    }
    st.link.set(LinkState::Connect);
}

/// One connection to the master. Its master client leaves the client list when the
/// session ends, however it ends.
struct Session {
    srv: Rc<Server>,
    client: Client,
    buf: Vec<u8>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.srv.clients.borrow_mut().remove(&self.client.shared.id);
        set_expire_mode(&self.srv, ExpireMode::Hide);
    }
}

fn set_expire_mode(srv: &Server, mode: ExpireMode) {
    if !super::is_replica(srv) {
        return;
    }
    for db in &srv.dbs {
        db.borrow_mut().expire_mode = mode;
    }
}

impl Session {
    fn new(srv: &Rc<Server>) -> Session {
        let id = srv.next_client_id();
        let shared = Rc::new(ClientShared::new(
            id,
            String::new(),
            String::new(),
            -1,
            crate::clock::now_ms(),
        ));
        shared.link_kind.set(LinkKind::Master);
        let mut client = Client::new(shared, true);
        client.db = srv.repl.borrow().master_db.get();
        Session {
            srv: srv.clone(),
            client,
            buf: Vec::new(),
        }
    }

    async fn run(&mut self, host: &str, port: u16) -> anyhow::Result<()> {
        self.srv.repl.borrow().link.set(LinkState::Connecting);
        let mut stream =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect((host, port)))
                .await
                .context("connect timeout")?
                .context("connect")?;
        let _ = stream.set_nodelay(true);
        tracing::info!("MASTER <-> REPLICA sync started");
        self.handshake(&mut stream).await?;
        self.psync(&mut stream).await?;
        self.register(&stream);
        self.stream(&mut stream).await
    }

    /// AUTH (masterauth), PING, REPLCONF listening-port and capa, as Redis sends them.
    async fn handshake(&mut self, stream: &mut TcpStream) -> anyhow::Result<()> {
        let (user, pass) = {
            let cfg = self.srv.config.borrow();
            let get = |n| cfg.get(n).filter(|v| !v.is_empty()).map(str::to_string);
            (get("masteruser"), get("masterauth"))
        };
        if let Some(pass) = pass {
            let mut parts = vec![b"AUTH".to_vec()];
            parts.extend(user.map(String::into_bytes));
            parts.push(pass.into_bytes());
            let reply = self.request(stream, &parts).await?;
            if reply.starts_with('-') {
                bail!("Unable to AUTH to MASTER: {reply}");
            }
        }
        let reply = self.request(stream, &[b"PING".to_vec()]).await?;
        if reply.starts_with('-') && !reply.starts_with("-ERR operation not permitted") {
            bail!("Error reply to PING from master: '{reply}'");
        }
        let port = self.srv.listen_port.get().to_string();
        self.request(
            stream,
            &[
                b"REPLCONF".to_vec(),
                b"listening-port".to_vec(),
                port.into_bytes(),
            ],
        )
        .await?;
        let capa = [&b"REPLCONF"[..], b"capa", b"eof", b"capa", b"psync2"];
        self.request(stream, &capa.map(<[u8]>::to_vec)).await?;
        Ok(())
    }

    /// PSYNC with our history (replid, offset + 1), or `? -1` without one.
    async fn psync(&mut self, stream: &mut TcpStream) -> anyhow::Result<()> {
        let (replid, offset) = {
            let p = self.srv.propagator.borrow();
            let st = self.srv.repl.borrow();
            if p.repl.active() {
                (st.replid.clone(), (p.repl.offset + 1).to_string())
            } else {
                ("?".to_string(), "-1".to_string())
            }
        };
        let parts = [b"PSYNC".to_vec(), replid.into_bytes(), offset.into_bytes()];
        let reply = self.request(stream, &parts).await?;
        let words: Vec<&str> = reply.split_whitespace().collect();
        match words.as_slice() {
            ["+FULLRESYNC", id, off, rest @ ..] => {
                let offset: u64 = off.parse().context("bad FULLRESYNC offset")?;
                let db = rest.first().and_then(|d| d.parse().ok()).unwrap_or(0);
                tracing::info!("Full resync from master: {id}:{offset}");
                self.srv.repl.borrow().link.set(LinkState::Sync);
                let payload = self.read_payload(stream).await?;
                self.load(&payload, id, offset, db)
            }
            ["+CONTINUE", rest @ ..] => {
                tracing::info!("Successful partial resynchronization with master.");
                self.continued(rest.first().copied());
                Ok(())
            }
            _ => bail!("Unexpected reply to PSYNC from master: {reply}"),
        }
    }

    /// Sends one command and reads its one-line reply (skipping keep-alive newlines).
    async fn request(
        &mut self,
        stream: &mut TcpStream,
        parts: &[Vec<u8>],
    ) -> anyhow::Result<String> {
        let mut out = ReplyBuf::new(false);
        out.array(parts.len());
        for p in parts {
            out.bulk(p);
        }
        stream.write_all(&out.buf).await?;
        self.read_line(stream).await
    }

    async fn read_line(&mut self, stream: &mut TcpStream) -> anyhow::Result<String> {
        loop {
            while self.buf.first() == Some(&b'\n') {
                self.buf.remove(0);
            }
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            self.read_some(stream).await?;
        }
    }

    async fn read_some(&mut self, stream: &mut TcpStream) -> anyhow::Result<usize> {
        let timeout = self
            .srv
            .config
            .borrow()
            .get("repl-timeout")
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        self.buf.reserve(16 * 1024);
        let n = tokio::time::timeout(Duration::from_secs(timeout), stream.read_buf(&mut self.buf))
            .await
            .map_err(|_| anyhow!("timeout on the link with the master"))??;
        if n == 0 {
            bail!("connection closed by the master");
        }
        Stats::incr(&self.srv.stats.total_net_input_bytes, n as u64);
        self.srv
            .repl
            .borrow()
            .master_last_io_ms
            .set(crate::clock::now_ms());
        Ok(n)
    }

    /// The `$<len>\r\n<bytes>` payload after +FULLRESYNC.
    async fn read_payload(&mut self, stream: &mut TcpStream) -> anyhow::Result<Vec<u8>> {
        let line = self.read_line(stream).await?;
        let len: usize = line
            .strip_prefix('$')
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| {
                anyhow!("Bad protocol from MASTER, the first byte is not '$': {line}")
            })?;
        while self.buf.len() < len {
            self.read_some(stream).await?;
        }
        let rest = self.buf.split_off(len);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// Replaces the dataset with the payload and adopts the master's history.
    fn load(&mut self, payload: &[u8], replid: &str, offset: u64, db: usize) -> anyhow::Result<()> {
        let srv = &self.srv;
        tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
        for d in &srv.dbs {
            let n = d.borrow_mut().clear();
            srv.add_dirty(n as u64);
        }
        tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
        let mut dec = Decoder::new(payload, crate::persist::snapshot::options(srv))
            .map_err(|e| anyhow!("bad payload from master: {e}"))?;
        let mut current = 0;
        while let Some(item) = dec.next_item().map_err(|e| anyhow!("bad payload: {e}"))? {
            match item {
                Item::Db { index, .. } => current = index,
                Item::Key((key, value, at)) => {
                    if let Some(target) = srv.dbs.get(current) {
                        target.borrow_mut().load_key(key, value, at);
                    }
                }
            }
        }
        super::disconnect_replicas(srv);
        {
            let mut st = srv.repl.borrow_mut();
            st.replid = replid.to_string();
            st.replid2 = "0".repeat(40);
            st.second_offset = -1;
            st.master_db.set(db);
            st.read_offset.set(offset);
        }
        self.client.db = db;
        let size = super::backlog_size(srv);
        srv.propagator.borrow_mut().repl.reset(offset, size);
        crate::propagate::refresh_tracking(srv);
        if srv.aof.is_on() {
            // The AOF must describe the new dataset.
            crate::persist::aof::restart_after_full_sync(srv);
        }
        tracing::info!("MASTER <-> REPLICA sync: Finished with success");
        Ok(())
    }

    /// +CONTINUE [replid]: a new id means the master was promoted; keep the old one as
    /// replid2 so our own sub-replicas can continue too.
    fn continued(&mut self, new_id: Option<&str>) {
        let offset = self.srv.propagator.borrow().repl.offset;
        self.srv.repl.borrow().read_offset.set(offset);
        let Some(id) = new_id else { return };
        let changed = {
            let mut st = self.srv.repl.borrow_mut();
            if st.replid == id {
                false
            } else {
                st.replid2 = std::mem::replace(&mut st.replid, id.to_string());
                st.second_offset = offset as i64 + 1;
                true
            }
        };
        if changed {
            super::disconnect_replicas(&self.srv);
        }
    }

    fn register(&mut self, stream: &TcpStream) {
        let addr = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let old = self.client.shared.clone();
        let shared = Rc::new(ClientShared::new(
            old.id,
            addr,
            laddr,
            -1,
            crate::clock::now_ms(),
        ));
        shared.link_kind.set(LinkKind::Master);
        self.client.shared = shared.clone();
        self.srv.clients.borrow_mut().insert(shared.id, shared);
        let st = self.srv.repl.borrow();
        st.link.set(LinkState::Connected);
        st.link_down_since_ms.set(0);
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished loading.");
    }

    /// Applies the master's stream and ACKs every second.
    async fn stream(&mut self, stream: &mut TcpStream) -> anyhow::Result<()> {
        let mut parser = RequestParser::new(usize::MAX >> 1);
        let mut ack = tokio::time::interval(ACK_PERIOD);
        let mut pending_tx = Vec::new();
        loop {
            let getack = self.apply(&mut parser, &mut pending_tx);
            if getack {
                self.send_ack(stream).await?;
            }
            if self.client.shared.kill.get() {
                bail!("master client killed");
            }
            let shared = self.client.shared.clone();
            let mut ack_due = false;
            tokio::select! {
                read = self.read_some(stream) => {
                    let st = self.srv.repl.borrow();
                    st.read_offset.set(st.read_offset.get() + read? as u64);
                }
                _ = ack.tick() => ack_due = true,
                _ = shared.wake.notified() => {}
            }
            if ack_due {
                self.send_ack(stream).await?;
            }
        }
    }

    async fn send_ack(&mut self, stream: &mut TcpStream) -> anyhow::Result<()> {
        let offset = self.srv.propagator.borrow().repl.offset.to_string();
        let mut out = ReplyBuf::new(false);
        out.array(3);
        out.bulk(b"REPLCONF");
        out.bulk(b"ACK");
        out.bulk(offset.as_bytes());
        stream.write_all(&out.buf).await?;
        Ok(())
    }

    /// Runs every complete command in the buffer. Bytes count as applied (offset,
    /// backlog, sub-replicas) at command boundaries outside MULTI, as Redis's
    /// `reploff`. Returns true if the master asked for an ACK.
    fn apply(&mut self, parser: &mut RequestParser, pending_tx: &mut Vec<u8>) -> bool {
        let srv = self.srv.clone();
        let mut pos = 0;
        let mut getack = false;
        let mut out = ReplyBuf::new(false);
        set_expire_mode(&srv, ExpireMode::Ignore);
        while let Ok(Some(req)) = parser.parse(&self.buf[pos..]) {
            let raw = &self.buf[pos..pos + req.consumed];
            let base = if req.inline {
                parser.inline_bytes()
            } else {
                raw
            };
            let args = Args::new(base, parser.args());
            if args.len() >= 2 && args.is(0, "replconf") && args.is(1, "getack") {
                getack = true;
            } else if !args.is_empty() {
                dispatch::execute(&srv, &mut self.client, &mut out, &args);
                out.buf.clear();
            }
            pending_tx.extend_from_slice(raw);
            pos += req.consumed;
            if self.client.multi.is_none() {
                srv.propagator.borrow_mut().repl.feed(pending_tx);
                pending_tx.clear();
                srv.repl.borrow().master_db.set(self.client.db);
            }
        }
        set_expire_mode(&srv, ExpireMode::Hide);
        self.buf.drain(..pos);
        getack
    }
}
