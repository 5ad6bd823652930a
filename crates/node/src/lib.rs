//! rustidocs-node: a Redis 7 compatible server. `run` starts it on the current thread;
//! the modules below follow the server's parts (network, commands, keyspace, …).

pub mod blocking;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod cron;
pub mod db;
pub mod glob;
pub mod log;
pub mod net;
pub mod persist;
pub mod propagate;
pub mod pubsub;
pub mod repl;
pub mod server;

use std::rc::Rc;

use config::Config;
use server::Server;

/// The version INFO and `--version` report (the Redis version we are compatible with).
pub const REDIS_VERSION: &str = "7.0.15";

/// Starts the server and serves until SHUTDOWN or SIGTERM/SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (bind, port) = (config.bind.clone(), config.port);
    let srv = Server::new(config);
    persist::load_at_start(&srv)?;
    let listeners = if port == 0 {
        Vec::new()
    } else {
        net::listener::bind_all(&bind, port).await?
    };
    if let Some(first) = listeners.first() {
        srv.listen_port.set(first.local_addr()?.port());
    }
    cluster::load_at_start(&srv)?;
    cluster::bus::start(&srv).await?;
    repl::start(&srv);
    for listener in listeners {
        tokio::task::spawn_local(net::listener::accept_loop(srv.clone(), listener));
    }
    tokio::task::spawn_local(cron::run(srv.clone()));
    tokio::task::spawn_local(persist::aof::writer_task(srv.clone()));
    tracing::info!("Ready to accept connections");
    wait_for_shutdown(&srv).await;
    srv.request_shutdown();
    tracing::warn!("Redis is now ready to exit, bye bye...");
    Ok(())
}

/// Waits for SHUTDOWN (which persisted already) or a signal; a signal's final save
/// runs here, and when it fails the server keeps running, as Redis 7.0 does.
async fn wait_for_shutdown(srv: &Rc<Server>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    loop {
        tokio::select! {
            _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
            _ = int.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
            _ = srv.shutdown.notified() => return,
        }
        tracing::warn!("User requested shutdown...");
        if finish_shutdown(srv, persist::ShutdownSave::Default, false) {
            return;
        }
    }
}

/// Makes everything promised durable before exit (Redis's `finishShutdown`): false
/// when the final snapshot could not be saved and `force` was not given, in which
/// case the server must keep running.
pub fn finish_shutdown(srv: &Server, save: persist::ShutdownSave, force: bool) -> bool {
    let started = clock::now_ms();
    match persist::on_shutdown(srv, save) {
        Ok(()) => {
            repl::saved::on_shutdown(srv, started);
            true
        }
        Err(e) if force => {
            tracing::warn!("Error trying to save the DB. Exit anyway. ({e:#})");
            true
        }
        Err(e) => {
            tracing::warn!("Error trying to save the DB, can't exit. ({e:#})");
            tracing::warn!(
                "Errors trying to shut down the server. Check the logs for more information."
            );
            false
        }
    }
}
