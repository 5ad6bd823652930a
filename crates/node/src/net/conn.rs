//! One client connection: read a batch, run every complete command in it, write all
//! replies at once; park while blocked; deliver pushes from other clients; clean up.

use std::rc::Rc;
use std::time::Duration;

use resp::{ReplyBuf, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::blocking::{self, BlockRequest, BlockedClient};
use crate::client::{Client, ClientShared};
use crate::cmd::{dispatch, Args, OwnedArgs};
use crate::db::SmallBytes;
use crate::server::{Server, Stats};

const READ_CHUNK: usize = 16 * 1024;
/// Reply buffers that grew past this are shrunk back after a write.
const KEEP_CAPACITY: usize = 1024 * 1024;

/// Why the connection loop ended.
enum Close {
    Eof,
    Requested,
    Io,
    /// PSYNC: the connection now carries the replication stream.
    Replica,
}

struct Connection {
    srv: Rc<Server>,
    stream: TcpStream,
    client: Client,
    parser: RequestParser,
    inbuf: Vec<u8>,
    out: ReplyBuf,
    spare: Vec<u8>,
}

/// Serves a client until it disconnects or is killed, then removes all its traces.
pub async fn serve(srv: Rc<Server>, stream: TcpStream, shared: Rc<ClientShared>) {
    let authenticated = srv.config.borrow().requirepass.is_none();
    let max_bulk = srv.config.borrow().proto_max_bulk_len;
    let mut conn = Connection {
        srv: srv.clone(),
        stream,
        client: Client::new(shared.clone(), authenticated),
        parser: RequestParser::new(max_bulk),
        inbuf: Vec::with_capacity(READ_CHUNK),
        out: ReplyBuf::new(false),
        spare: Vec::new(),
    };
    let reason = conn.run().await;
    if matches!(reason, Close::Io) {
        tracing::debug!(id = shared.id, "client connection error");
    }
    if matches!(reason, Close::Replica) {
        let input = std::mem::take(&mut conn.inbuf);
        crate::repl::master::serve_replica(srv.clone(), conn.stream, &mut conn.client, input).await;
    }
    crate::cmd::connection::forget_client(&srv, &mut conn.client);
    srv.clients.borrow_mut().remove(&shared.id);
}

impl Connection {
    async fn run(&mut self) -> Close {
        loop {
            let pending_block = self.process_input();
            if let Err(reason) = self.flush_unless_killed().await {
                return reason;
            }
            if self.client.close_after_reply || self.client.shared.kill.get() {
                return Close::Requested;
            }
            if self.client.repl.psync.is_some() {
                return Close::Replica;
            }
            if let Some((count, offset, deadline)) = self.client.repl.wait.take() {
                let acked = crate::repl::master::wait_acks(
                    &self.srv,
                    &self.client,
                    count,
                    offset,
                    deadline,
                )
                .await;
                self.out.int(acked as i64);
                continue;
            }
            if let Some((req, args)) = pending_block {
                if let Err(reason) = self.wait_blocked(req, args).await {
                    return reason;
                }
                continue;
            }
            if let Err(reason) = self.read_more().await {
                return reason;
            }
        }
    }

    /// Runs every complete request in the input buffer. Stops early when a command
    /// blocks, returning it (with owned arguments) so the caller can wait.
    fn process_input(&mut self) -> Option<(BlockRequest, OwnedArgs)> {
        // Input counts as interaction for the idle `timeout`; one clock read per batch,
        // not per command (dispatch reads the clock for each command already).
        if !self.inbuf.is_empty() {
            self.client
                .shared
                .last_interaction_ms
                .set(crate::clock::now_ms());
        }
        let mut pos = 0;
        let mut blocked = None;
        while !self.client.close_after_reply
            && !self.client.shared.kill.get()
            && self.client.repl.psync.is_none()
            && self.client.repl.wait.is_none()
        {
            match self.parser.parse(&self.inbuf[pos..]) {
                Ok(Some(req)) => {
                    let base = if req.inline {
                        self.parser.inline_bytes()
                    } else {
                        &self.inbuf[pos..]
                    };
                    let args = Args::new(base, self.parser.args());
                    pos += req.consumed;
                    if args.is_empty() {
                        continue;
                    }
                    if let Some(mut block) =
                        dispatch::execute(&self.srv, &mut self.client, &mut self.out, &args)
                    {
                        let owned = block.rewritten.take().unwrap_or_else(|| args.to_owned());
                        blocked = Some((block, owned));
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(
                        "Protocol error ({}) from client: id={} addr={}",
                        e.0,
                        self.client.id(),
                        self.client.shared.addr
                    );
                    self.out.error(&format!("ERR {e}"));
                    self.client.close_after_reply = true;
                    break;
                }
            }
        }
        self.inbuf.drain(..pos);
        self.client.shared.query_buf_len.set(self.inbuf.len());
        blocked
    }

    /// Writes pushes from other clients first, then this client's own replies.
    async fn flush(&mut self) -> std::io::Result<()> {
        // Replies may promise only what the AOF made durable (appendfsync).
        if self.srv.aof.is_on()
            && (!self.out.buf.is_empty() || !self.client.shared.pending_out.borrow().is_empty())
        {
            crate::persist::aof::wait_durable(&self.srv).await;
        }
        if !self.client.shared.pending_out.borrow().is_empty() {
            std::mem::swap(
                &mut *self.client.shared.pending_out.borrow_mut(),
                &mut self.spare,
            );
            self.client.shared.soft_limit_since_ms.set(0);
            self.stream.write_all(&self.spare).await?;
            Stats::incr(
                &self.srv.stats.total_net_output_bytes,
                self.spare.len() as u64,
            );
            self.spare.clear();
            shrink(&mut self.spare);
        }
        if !self.out.buf.is_empty() {
            self.stream.write_all(&self.out.buf).await?;
            Stats::incr(
                &self.srv.stats.total_net_output_bytes,
                self.out.buf.len() as u64,
            );
            self.out.buf.clear();
            shrink(&mut self.out.buf);
        }
        Ok(())
    }

    /// Flushes, but gives up when the client is killed meanwhile: a peer that stopped
    /// reading (e.g. a subscriber over its output limit) must not hold the task forever.
    async fn flush_unless_killed(&mut self) -> Result<(), Close> {
        let shared = self.client.shared.clone();
        let mut woken = false;
        let result = {
            let flush = self.flush();
            tokio::pin!(flush);
            loop {
                tokio::select! {
                    done = &mut flush => break done.map_err(|_| Close::Io),
                    _ = shared.wake.notified() => {
                        if shared.kill.get() {
                            return Err(Close::Requested);
                        }
                        woken = true;
                    }
                }
            }
        };
        // Output that arrived meanwhile still needs its wake-up.
        if woken {
            shared.wake.notify_one();
        }
        result
    }

    /// Waits for more input, or for a wake-up (pushes to deliver, kill).
    async fn read_more(&mut self) -> Result<(), Close> {
        let wanted = self.parser.wanted();
        if wanted > self.inbuf.len() {
            self.inbuf.reserve(wanted - self.inbuf.len());
        } else if self.inbuf.capacity() - self.inbuf.len() < READ_CHUNK / 4 {
            self.inbuf.reserve(READ_CHUNK);
        }
        let shared = self.client.shared.clone();
        tokio::select! {
            read = self.stream.read_buf(&mut self.inbuf) => {
                match read {
                    Ok(0) => return Err(Close::Eof),
                    Ok(n) => {
                        Stats::incr(&self.srv.stats.total_net_input_bytes, n as u64);
                        self.check_query_limit()?;
                    }
                    Err(_) => return Err(Close::Io),
                }
            }
            _ = shared.wake.notified() => {}
        }
        Ok(())
    }

    fn check_query_limit(&self) -> Result<(), Close> {
        let limit = self.srv.config.borrow().client_query_buffer_limit;
        if self.inbuf.len() > limit {
            tracing::warn!(
                "Closing client that reached max query buffer length: id={} addr={} qbuf={}",
                self.client.id(),
                self.client.shared.addr,
                self.inbuf.len()
            );
            Stats::incr(&self.srv.stats.client_query_limit_disconnections, 1);
            return Err(Close::Requested);
        }
        Ok(())
    }

    /// Parks the client until another client serves it, its timeout passes, it is
    /// killed or it disconnects. Input that arrives meanwhile is buffered, not run.
    async fn wait_blocked(&mut self, req: BlockRequest, args: OwnedArgs) -> Result<(), Close> {
        let blocked = Rc::new(BlockedClient {
            shared: self.client.shared.clone(),
            db: self.client.db,
            args,
            keys: req.keys.iter().map(|k| SmallBytes::new(k)).collect(),
            served: Default::default(),
        });
        blocking::register(&self.srv, &blocked);
        let deadline = req.deadline_ms.map(|at| {
            let wait = at.saturating_sub(crate::clock::now_ms());
            tokio::time::Instant::now() + Duration::from_millis(wait)
        });
        let result = self.park(&blocked, deadline).await;
        blocking::unregister(&self.srv, &blocked);
        if result.is_ok() && !blocked.served.get() && !self.client.shared.kill.get() {
            self.out.null_array();
        }
        result
    }

    async fn park(
        &mut self,
        blocked: &Rc<BlockedClient>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(), Close> {
        let shared = self.client.shared.clone();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        loop {
            if blocked.served.get() || shared.kill.get() {
                return Ok(());
            }
            self.inbuf.reserve(READ_CHUNK);
            tokio::select! {
                _ = &mut sleep => return Ok(()),
                _ = shared.wake.notified() => {}
                read = self.stream.read_buf(&mut self.inbuf) => match read {
                    Ok(0) => return Err(Close::Eof),
                    Ok(_) => self.check_query_limit()?,
                    Err(_) => return Err(Close::Io),
                },
            }
        }
    }
}

fn shrink(buf: &mut Vec<u8>) {
    if buf.capacity() > KEEP_CAPACITY {
        buf.shrink_to(READ_CHUNK);
    }
}
