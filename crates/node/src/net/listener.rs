//! Accepting clients: binding the configured addresses, enforcing `maxclients` and
//! protected mode, and spawning a connection task per client.

use std::net::SocketAddr;
use std::rc::Rc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::client::ClientShared;
use crate::server::{Server, Stats};

const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Binds every address in `bind` (Redis syntax: `*` = all IPv4, `::*` = all IPv6, a
/// leading `-` = optional) on `port`.
pub async fn bind_all(bind: &[String], port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    let addrs: Vec<String> = if bind.is_empty() {
        vec!["*".into(), "-::*".into()]
    } else {
        bind.to_vec()
    };
    for spec in addrs {
        let (optional, host) = match spec.strip_prefix('-') {
            Some(h) => (true, h.to_string()),
            None => (false, spec.clone()),
        };
        let host = match host.as_str() {
            "*" => "0.0.0.0".to_string(),
            "::*" => "::".to_string(),
            h => h.to_string(),
        };
        let addr: SocketAddr = match format!("{host}:{port}")
            .parse()
            .or_else(|_| format!("[{host}]:{port}").parse())
        {
            Ok(a) => a,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("Invalid bind address '{spec}'"),
                ))
            }
        };
        match bind_one(addr) {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::debug!("optional bind {spec} failed: {e}"),
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Failed listening on port {port} (tcp), aborting: {e}"),
                ))
            }
        }
    }
    Ok(listeners)
}

fn bind_one(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(511)
}

/// Accepts clients forever on `listener`.
pub async fn accept_loop(srv: Rc<Server>, listener: TcpListener) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("Accepting client connection: {e}");
                    continue;
                }
            },
            _ = srv.shutdown.notified() => return,
        };
        if srv.shutting_down.get() {
            return;
        }
        admit(&srv, stream, peer).await;
    }
}

async fn admit(srv: &Rc<Server>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (maxclients, protected) = {
        let cfg = srv.config.borrow();
        let default_bind = cfg.bind.is_empty() || cfg.bind == ["*", "-::*"];
        (
            cfg.maxclients,
            cfg.protected_mode && default_bind && cfg.requirepass.is_none(),
        )
    };
    if protected && !peer.ip().is_loopback() {
        let _ = stream.write_all(PROTECTED_MODE_DENIED.as_bytes()).await;
        Stats::incr(&srv.stats.rejected_connections, 1);
        return;
    }
    if srv.clients.borrow().len() >= maxclients {
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        Stats::incr(&srv.stats.rejected_connections, 1);
        return;
    }
    Stats::incr(&srv.stats.total_connections_received, 1);
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let fd = fd_of(&stream);
    let shared = Rc::new(ClientShared::new(
        srv.next_client_id(),
        peer.to_string(),
        laddr,
        fd,
        crate::clock::now_ms(),
    ));
    srv.clients.borrow_mut().insert(shared.id, shared.clone());
    tokio::task::spawn_local(super::conn::serve(srv.clone(), stream, shared));
}

fn fd_of(stream: &TcpStream) -> i32 {
    use std::os::fd::AsRawFd;
    stream.as_raw_fd()
}
