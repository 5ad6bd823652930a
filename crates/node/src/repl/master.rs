//! Serving a replica: answering PSYNC with +CONTINUE (from the backlog) or
//! +FULLRESYNC plus a snapshot payload, then streaming and reading its ACKs.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use resp::RequestParser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::backlog::ReplicaLink;
use super::LinkKind;
use crate::client::Client;
use crate::cmd::Args;
use crate::server::{Server, Stats};

/// Whether PSYNC `replid offset` can continue from our backlog (Redis's
/// `masterTryPartialResynchronization` checks).
fn can_continue(srv: &Server, replid: &str, offset: i64) -> bool {
    let st = srv.repl.borrow();
    let known = replid == st.replid
        || (replid == st.replid2 && offset <= st.second_offset && st.second_offset >= 0);
    if !known || offset < 0 {
        return false;
    }
    let p = srv.propagator.borrow();
    p.repl.active()
        && (offset as u64) >= p.repl.first_byte_offset()
        && (offset as u64) <= p.repl.offset + 1
}

/// The connection `client` asked for PSYNC: it becomes a replica link until it
/// disconnects. `input` holds bytes it sent after PSYNC.
pub async fn serve_replica(
    srv: Rc<Server>,
    mut stream: TcpStream,
    client: &mut Client,
    input: Vec<u8>,
) {
    let Some((replid, offset)) = client.repl.psync.take() else {
        return;
    };
    let shared = client.shared.clone();
    shared.link_kind.set(LinkKind::Replica);
    let ip = shared
        .addr
        .rsplit_once(':')
        .map_or(shared.addr.clone(), |(ip, _)| ip.to_string());
    let link = Rc::new(ReplicaLink {
        client: shared.clone(),
        out: RefCell::default(),
        wake: Notify::new(),
        online: Cell::new(false),
        ip,
        listening_port: Cell::new(client.repl.listening_port),
        ack_offset: Cell::new(0),
        ack_ms: Cell::new(crate::clock::now_ms()),
    });
    let started = if can_continue(&srv, &replid, offset) {
        continue_sync(&srv, &mut stream, &link, offset as u64).await
    } else {
        if replid != "?" {
            srv.repl.borrow_mut().sync_partial_err += 1;
        }
        full_sync(&srv, &mut stream, &link).await
    };
    if started.is_ok() {
        let _ = stream_to(&srv, &mut stream, &link, input).await;
    }
    srv.propagator.borrow_mut().repl.remove(&link);
    tracing::info!(
        "Connection with replica {}:{} lost.",
        link.ip,
        link.listening_port.get()
    );
}

async fn continue_sync(
    srv: &Server,
    stream: &mut TcpStream,
    link: &Rc<ReplicaLink>,
    from: u64,
) -> std::io::Result<()> {
    let (reply, missing) = {
        let mut p = srv.propagator.borrow_mut();
        let missing = p.repl.since(from).unwrap_or_default();
        p.repl.replicas.push(link.clone());
        let mut st = srv.repl.borrow_mut();
        st.sync_partial_ok += 1;
        (format!("+CONTINUE {}\r\n", st.replid), missing)
    };
    tracing::info!(
        "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {from}.",
        link.ip,
        missing.len()
    );
    // The backlog part goes before whatever the stream adds meanwhile.
    {
        let mut out = link.out.borrow_mut();
        let later = std::mem::replace(&mut *out, missing);
        out.extend_from_slice(&later);
    }
    stream.write_all(reply.as_bytes()).await?;
    link.online.set(true);
    link.wake.notify_one();
    Ok(())
}

/// +FULLRESYNC, then the dataset as one bulk payload in our snapshot format. The
/// image is taken between two commands at the announced offset and encoded into
/// memory by a blocking thread; the stream that follows is buffered meanwhile.
async fn full_sync(
    srv: &Server,
    stream: &mut TcpStream,
    link: &Rc<ReplicaLink>,
) -> std::io::Result<()> {
    super::ensure_backlog(srv, !super::is_replica(srv));
    let image = crate::persist::capture(srv);
    let header = {
        let mut p = srv.propagator.borrow_mut();
        // On a master the stream re-selects its database for the new replica; a
        // replica proxies its master's stream, so it tells which database is current.
        let stream_db = if p.repl.proxying {
            format!(" {}", srv.repl.borrow().master_db.get())
        } else {
            p.reset_selected_db();
            String::new()
        };
        p.repl.replicas.push(link.clone());
        let mut st = srv.repl.borrow_mut();
        st.sync_full += 1;
        format!("+FULLRESYNC {} {}{stream_db}\r\n", st.replid, p.repl.offset)
    };
    tracing::info!(
        "Starting full resync with replica {} (snapshot payload in memory)",
        link.ip
    );
    stream.write_all(header.as_bytes()).await?;
    let payload = tokio::task::spawn_blocking(move || {
        crate::persist::snapshot::encode::encode(&image, Vec::new())
    })
    .await
    .map_err(std::io::Error::other)??;
    stream
        .write_all(format!("${}\r\n", payload.len()).as_bytes())
        .await?;
    stream.write_all(&payload).await?;
    Stats::incr(&srv.stats.total_net_output_bytes, payload.len() as u64);
    tracing::info!("Synchronization with replica {} succeeded", link.ip);
    link.online.set(true);
    link.wake.notify_one();
    Ok(())
}

/// Streams to the replica and reads its REPLCONF ACKs until either side closes or
/// the replica is killed.
async fn stream_to(
    srv: &Server,
    stream: &mut TcpStream,
    link: &Rc<ReplicaLink>,
    mut input: Vec<u8>,
) -> std::io::Result<()> {
    let (mut reader, mut writer) = stream.split();
    let mut parser = RequestParser::new(1 << 20);
    loop {
        read_acks(srv, link, &mut parser, &mut input);
        if link.client.kill.get() {
            return Ok(());
        }
        let pending = std::mem::take(&mut *link.out.borrow_mut());
        if !pending.is_empty() {
            Stats::incr(&srv.stats.total_net_output_bytes, pending.len() as u64);
            // A replica that stopped reading must not hold the task once killed
            // (only a kill wakes a replica link's client).
            tokio::select! {
                written = writer.write_all(&pending) => written?,
                _ = link.client.wake.notified() => return Ok(()),
            }
            continue;
        }
        input.reserve(4096);
        tokio::select! {
            _ = link.wake.notified() => {}
            _ = link.client.wake.notified() => {}
            read = reader.read_buf(&mut input) => {
                if read? == 0 {
                    return Ok(());
                }
            }
        }
    }
}

/// Applies REPLCONF ACK <offset> (and ignores anything else a replica sends).
fn read_acks(srv: &Server, link: &ReplicaLink, parser: &mut RequestParser, input: &mut Vec<u8>) {
    let mut pos = 0;
    while let Ok(Some(req)) = parser.parse(&input[pos..]) {
        let args = Args::new(&input[pos..], parser.args());
        pos += req.consumed;
        if args.len() >= 3 && args.is(0, "replconf") && args.is(1, "ack") {
            if let Some(offset) = resp::parse_i64(args.get(2)) {
                link.ack_offset.set(offset.max(0) as u64);
                link.ack_ms.set(crate::clock::now_ms());
                link.client.last_interaction_ms.set(crate::clock::now_ms());
                srv.repl.borrow().acks.notify_waiters();
            }
        }
    }
    input.drain(..pos);
}

/// WAIT: how many replicas acked `offset`, waiting until `wanted` did or the
/// deadline (Unix ms, 0 = none) passed. Asks replicas for an ACK first.
pub async fn wait_acks(
    srv: &Server,
    client: &Client,
    wanted: usize,
    offset: u64,
    deadline: u64,
) -> usize {
    let acked = srv.propagator.borrow().repl.acked(offset);
    if acked >= wanted {
        return acked;
    }
    srv.propagator
        .borrow_mut()
        .emit_to_replicas(&[b"REPLCONF", b"GETACK", b"*"]);
    let acks = srv.repl.borrow().acks.clone();
    let sleep = async {
        if deadline == 0 {
            std::future::pending::<()>().await;
        }
        let wait = deadline.saturating_sub(crate::clock::now_ms());
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    };
    tokio::pin!(sleep);
    loop {
        let notified = acks.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let acked = srv.propagator.borrow().repl.acked(offset);
        if acked >= wanted || client.shared.kill.get() {
            return acked;
        }
        tokio::select! {
            _ = &mut sleep => return srv.propagator.borrow().repl.acked(offset),
            _ = &mut notified => {}
            _ = client.shared.wake.notified() => {}
        }
    }
}
