//! Bus connections: the listener on the bus port, one outbound link per known node
//! (opened by the cron), inbound links from peers; each link reads whole frames.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::frame;
use crate::server::Server;

/// Frames queued for a link's writer; shared so a broadcast encodes once.
pub type Outbox = mpsc::UnboundedSender<Rc<[u8]>>;

/// A live link as the node table keeps it (dropping `tx` closes an outbound link).
#[derive(Clone, Debug)]
pub struct LinkHandle {
    pub id: u64,
    /// Creation time, ms (CLUSTER LINKS' create-time).
    pub ctime: u64,
    pub tx: Option<Outbox>,
    /// True once the TCP connection is established.
    pub connected: bool,
}

/// What message processing needs to know about the link a frame came on.
pub struct LinkCtx {
    pub id: u64,
    pub inbound: bool,
    pub peer_ip: String,
    pub local_ip: String,
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Accepts peers on the bus port until shutdown.
pub async fn accept_loop(srv: Rc<Server>, listener: TcpListener) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::task::spawn_local(run_link(srv.clone(), stream, next_id(), None));
                }
                Err(e) => {
                    tracing::warn!("Error accepting cluster node: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = srv.shutdown.notified() => return,
        }
    }
}

/// Starts connecting to `ip:bus_port`; the returned handle goes into the node table.
pub fn connect(srv: &Rc<Server>, ip: &str, bus_port: u16, timeout_ms: u64) -> LinkHandle {
    let id = next_id();
    let (tx, rx) = mpsc::unbounded_channel();
    let srv = srv.clone();
    let addr = format!("{}:{bus_port}", bracket(ip));
    tokio::task::spawn_local(async move {
        let attempt = tokio::time::timeout(
            Duration::from_millis(timeout_ms.max(100)),
            TcpStream::connect(&addr),
        );
        match attempt.await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                run_link(srv, stream, id, Some(rx)).await;
            }
            _ => {
                tracing::debug!("Connection with node at {addr} failed");
                super::link_closed(&srv, id);
            }
        }
    });
    LinkHandle {
        id,
        ctime: crate::clock::now_ms(),
        tx: Some(tx),
        connected: false,
    }
}

/// IPv6 literals need brackets in `host:port`.
fn bracket(ip: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

/// The next queued frame; an inbound link has no queue and waits forever.
async fn next_out(rx: &mut Option<mpsc::UnboundedReceiver<Rc<[u8]>>>) -> Option<Rc<[u8]>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Serves one link until either side closes it (or its handle is dropped).
async fn run_link(
    srv: Rc<Server>,
    mut stream: TcpStream,
    id: u64,
    mut rx: Option<mpsc::UnboundedReceiver<Rc<[u8]>>>,
) {
    let ip_of = |a: std::io::Result<std::net::SocketAddr>| {
        a.map(|a| a.ip().to_canonical().to_string())
            .unwrap_or_default()
    };
    let link = LinkCtx {
        id,
        inbound: rx.is_none(),
        peer_ip: ip_of(stream.peer_addr()),
        local_ip: ip_of(stream.local_addr()),
    };
    if let Err(e) = serve(&srv, &mut stream, &link, &mut rx).await {
        tracing::debug!("Cluster bus link {id} closed: {e}");
    }
    super::link_closed(&srv, id);
}

async fn serve(
    srv: &Rc<Server>,
    stream: &mut TcpStream,
    link: &LinkCtx,
    rx: &mut Option<mpsc::UnboundedReceiver<Rc<[u8]>>>,
) -> anyhow::Result<()> {
    if !link.inbound {
        if let Some(first) = super::link_connected(srv, link) {
            stream.write_all(&first).await?;
        }
    }
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        while let Some(len) = frame::frame_len(&buf)? {
            if buf.len() < len {
                break;
            }
            let msg = frame::decode(&buf[..len])?;
            buf.drain(..len);
            for reply in super::receive(srv, link, msg) {
                stream.write_all(&reply).await?;
            }
        }
        tokio::select! {
            n = stream.read_buf(&mut buf) => {
                if n? == 0 {
                    return Ok(());
                }
            }
            out = next_out(rx) => match out {
                Some(bytes) => stream.write_all(&bytes).await?,
                None => return Ok(()),
            },
        }
    }
}
