//! The compaction lease: at most one control service folds logs at a time, so two
//! instances never overwrite each other's snapshots (which could drop folded updates).

use std::time::Duration;

use client::Store;

/// The key holding the current holder's token (any slot: it is one key on its own).
pub const LEASE_KEY: &str = "control:lease";
/// How long a lease lasts without renewal: a SIGKILLed holder is replaced after this.
pub const LEASE_TTL: Duration = Duration::from_secs(5);

/// This instance's claim on [`LEASE_KEY`].
pub struct Lease {
    token: String,
    held: bool,
}

impl Lease {
    pub fn new() -> Self {
        Self {
            token: format!("{:016x}-{}", fastrand::u64(..), std::process::id()),
            held: false,
        }
    }

    /// True while this instance may compact.
    pub fn held(&self) -> bool {
        self.held
    }

    /// Takes the lease when it is free, or extends it when it is ours. Renewal reads then
    /// extends (no scripting needed); the gap matters only if this process stalls for
    /// longer than the whole TTL between the two, and the renewals come every second.
    pub async fn renew(&mut self, store: &Store) {
        let was = self.held;
        self.held = match self.try_renew(store).await {
            Ok(held) => held,
            Err(e) => {
                tracing::debug!("lease renewal failed: {e}");
                false
            }
        };
        match (was, self.held) {
            (false, true) => tracing::info!("compaction lease taken"),
            (true, false) => tracing::warn!("compaction lease lost; compaction paused"),
            _ => {}
        }
    }

    async fn try_renew(&self, store: &Store) -> client::Result<bool> {
        let ttl = LEASE_TTL.as_millis() as u64;
        let mut set = redis::cmd("SET");
        set.arg(LEASE_KEY)
            .arg(&self.token)
            .arg("NX")
            .arg("PX")
            .arg(ttl);
        let taken: Option<String> = store.query(&set).await?;
        if taken.is_some() {
            return Ok(true);
        }
        let holder: Option<String> = store.query(redis::cmd("GET").arg(LEASE_KEY)).await?;
        if holder.as_deref() != Some(self.token.as_str()) {
            return Ok(false);
        }
        let extended: bool = store
            .query(redis::cmd("PEXPIRE").arg(LEASE_KEY).arg(ttl))
            .await?;
        Ok(extended)
    }

    /// Gives the lease up at a clean stop, so a successor need not wait for it to expire.
    pub async fn release(&mut self, store: &Store) {
        if !self.held {
            return;
        }
        self.held = false;
        let holder: client::Result<Option<String>> =
            store.query(redis::cmd("GET").arg(LEASE_KEY)).await;
        if matches!(holder, Ok(Some(t)) if t == self.token) {
            let _ = store.query::<()>(redis::cmd("DEL").arg(LEASE_KEY)).await;
        }
    }
}
