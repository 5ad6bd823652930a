//! Periodic work, Redis's `serverCron`: active expiry, idle client timeouts and the
//! soft output-buffer limit of pub/sub clients.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::server::{Server, Stats};

/// Keys sampled per round of active expiry, and the share of expired samples above
/// which another round runs (Redis: 20 and 10%).
const EXPIRE_SAMPLES: usize = 20;
const EXPIRE_REPEAT_PERCENT: usize = 10;

pub async fn run(srv: Rc<Server>) {
    loop {
        let hz = srv.config.borrow().hz.max(1);
        let period = Duration::from_millis(1000 / hz);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = srv.shutdown.notified() => return,
        }
        active_expire(&srv, period / 4);
        crate::propagate::propagate_expired(&srv);
        crate::persist::aof::cron(&srv);
        clients_cron(&srv);
        crate::persist::snapshot::cron(&srv);
        crate::repl::cron(&srv);
    }
}

/// Deletes expired keys by sampling, spending at most `budget` (25% of a cron tick).
fn active_expire(srv: &Server, budget: Duration) {
    let started = Instant::now();
    let now = crate::clock::now_ms();
    for db in &srv.dbs {
        let mut db = db.borrow_mut();
        db.now_ms = now;
        loop {
            let (sampled, expired) = db.active_expire(EXPIRE_SAMPLES, &mut || srv.random());
            Stats::incr(&srv.stats.expired_keys_active, expired as u64);
            if sampled == 0
                || expired * 100 / sampled <= EXPIRE_REPEAT_PERCENT
                || started.elapsed() > budget
            {
                break;
            }
        }
    }
}

/// Closes clients idle past `timeout` and pub/sub clients over their soft output limit
/// for longer than its seconds.
fn clients_cron(srv: &Server) {
    let now = crate::clock::now_ms();
    let (timeout_ms, soft) = {
        let cfg = srv.config.borrow();
        (cfg.timeout_secs * 1000, cfg.output_pubsub)
    };
    for client in srv.clients.borrow().values() {
        let idle = now.saturating_sub(client.last_interaction_ms.get());
        if timeout_ms > 0
            && idle > timeout_ms
            && !client.blocked.get()
            && client.subscription_count() == 0
        {
            tracing::debug!("Closing idle client id={}", client.id);
            client.request_kill();
            continue;
        }
        let since = client.soft_limit_since_ms.get();
        if soft.soft > 0 && since > 0 && now.saturating_sub(since) > soft.soft_seconds * 1000 {
            tracing::warn!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                client.id,
                client.addr
            );
            Stats::incr(&srv.stats.client_output_limit_disconnections, 1);
            client.request_kill();
        }
    }
}
