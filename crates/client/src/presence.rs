//! Presence: who is in a document, their colour and cursor (text position or selected cell),
//! carried as y-sync awareness updates (JSON per client) and forgotten after a silence.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use docs::replica::client_id;
use serde_json::{json, Value};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::AwarenessUpdate;

/// A peer that has sent nothing for this long is gone (as Yjs's awareness timeout).
pub const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a session repeats its own presence, so peers don't time it out.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Answers to joins and awareness queries (a session's presence, the control service's
/// session list) go out at most once per this long: a burst of joins gets one answer per
/// period from each, not one per join (which made traffic grow with joins × sessions).
pub const ANSWER_EVERY: Duration = Duration::from_secs(1);

const PALETTE: [&str; 8] = [
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
];

/// What one person shows the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub user: String,
    /// `#rrggbb`, derived from the user name unless chosen.
    pub color: String,
    /// Cursor in a text document, in characters.
    pub cursor: Option<u64>,
    /// Selected cell in a sheet, A1 form.
    pub cell: Option<String>,
}

impl Presence {
    /// A presence for `user` with the user's colour and no cursor yet.
    pub fn new(user: &str) -> Self {
        Self {
            user: user.to_string(),
            color: color_for(user).to_string(),
            cursor: None,
            cell: None,
        }
    }

    fn to_json(&self) -> String {
        json!({"user": self.user, "color": self.color, "cursor": self.cursor, "cell": self.cell})
            .to_string()
    }

    fn from_json(text: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(text).ok()?;
        let user = v.get("user")?.as_str()?.to_string();
        let color = v
            .get("color")
            .and_then(Value::as_str)
            .map_or_else(|| color_for(&user).to_string(), str::to_string);
        Some(Self {
            cursor: v.get("cursor").and_then(Value::as_u64),
            cell: v.get("cell").and_then(Value::as_str).map(str::to_string),
            user,
            color,
        })
    }
}

/// A stable colour per user name.
pub fn color_for(user: &str) -> &'static str {
    let h = user
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    PALETTE[h as usize % PALETTE.len()]
}

/// Another session in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub client: u64,
    pub presence: Presence,
}

/// This session's own presence and its awareness clock.
pub struct LocalPresence {
    client: u64,
    clock: u32,
    state: Option<Presence>,
}

impl LocalPresence {
    pub fn new(client: u64, presence: Presence) -> Self {
        Self {
            client,
            clock: 0,
            state: Some(presence),
        }
    }

    pub fn get(&self) -> Option<&Presence> {
        self.state.as_ref()
    }

    /// Changes the presence; returns the awareness update to publish.
    pub fn set(&mut self, presence: Option<Presence>) -> AwarenessUpdate {
        self.state = presence;
        self.update()
    }

    /// The current state as a fresh awareness update (a heartbeat or an answer to a query).
    pub fn update(&mut self) -> AwarenessUpdate {
        self.clock = self.clock.wrapping_add(1);
        let json = self
            .state
            .as_ref()
            .map_or_else(|| "null".to_string(), Presence::to_json);
        let entry = AwarenessUpdateEntry {
            clock: self.clock,
            json: Arc::from(json),
        };
        AwarenessUpdate {
            clients: HashMap::from([(client_id(self.client), entry)]),
        }
    }
}

struct Known {
    clock: u32,
    presence: Option<Presence>,
    seen: Instant,
}

/// What this session knows of the others.
#[derive(Default)]
pub struct Peers {
    known: HashMap<u64, Known>,
}

impl Peers {
    /// Folds in an awareness update; `me` is skipped. True when the visible set changed.
    pub fn apply(&mut self, update: &AwarenessUpdate, me: u64) -> bool {
        let now = Instant::now();
        let mut changed = false;
        for (client, entry) in &update.clients {
            let client = client.get();
            if client == me {
                continue;
            }
            let presence = if &*entry.json == "null" {
                None
            } else {
                Presence::from_json(&entry.json)
            };
            match self.known.get_mut(&client) {
                Some(k) if entry.clock < k.clock => {}
                Some(k) => {
                    changed |= k.presence != presence;
                    (k.clock, k.presence, k.seen) = (entry.clock, presence, now);
                }
                None => {
                    changed |= presence.is_some();
                    let k = Known {
                        clock: entry.clock,
                        presence,
                        seen: now,
                    };
                    self.known.insert(client, k);
                }
            }
        }
        changed
    }

    /// Records a session that announced itself with a join, before its first awareness
    /// update arrives; true when it is new.
    pub fn join(&mut self, client: u64, user: &str) -> bool {
        if self.known.contains_key(&client) {
            return false;
        }
        let k = Known {
            clock: 0,
            presence: Some(Presence::new(user)),
            seen: Instant::now(),
        };
        self.known.insert(client, k);
        true
    }

    /// Forgets peers silent for longer than `timeout`; true when someone visible went.
    pub fn expire(&mut self, timeout: Duration) -> bool {
        let before = self.list().len();
        self.known.retain(|_, k| k.seen.elapsed() <= timeout);
        self.list().len() != before
    }

    /// Visible peers, by user name then client id.
    pub fn list(&self) -> Vec<Peer> {
        let mut out: Vec<Peer> = self
            .known
            .iter()
            .filter_map(|(client, k)| {
                k.presence.clone().map(|presence| Peer {
                    client: *client,
                    presence,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.presence.user, a.client).cmp(&(&b.presence.user, b.client)));
        out
    }
}

/// Coalesces requests to publish something: the first goes out at once; those within
/// `every` of the last send become one send when the period is over ([`Throttle::poll`]).
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    pending: bool,
}

impl Throttle {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            pending: false,
        }
    }

    /// A request; true when it is to be sent now (else a later `poll` says when).
    pub fn request(&mut self) -> bool {
        if self.last.is_some_and(|t| t.elapsed() < self.every) {
            self.pending = true;
            return false;
        }
        self.sent();
        true
    }

    /// True when a deferred request is due now; called periodically by the owner.
    pub fn poll(&mut self) -> bool {
        if self.pending && self.last.is_none_or(|t| t.elapsed() >= self.every) {
            self.sent();
            return true;
        }
        false
    }

    fn sent(&mut self) {
        self.last = Some(Instant::now());
        self.pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_round_trips_and_newer_clocks_win() {
        let mut ann = LocalPresence::new(7, Presence::new("ann"));
        let mut peers = Peers::default();
        assert!(peers.apply(&ann.update(), 1));
        assert_eq!(peers.list()[0].presence.user, "ann");
        let old = ann.update();
        let mut moved = Presence::new("ann");
        moved.cursor = Some(4);
        let new = ann.set(Some(moved.clone()));
        assert!(peers.apply(&new, 1));
        assert!(!peers.apply(&old, 1), "an older clock is ignored");
        assert_eq!(peers.list()[0].presence, moved);
        assert!(peers.apply(&ann.set(None), 1), "null state means gone");
        assert!(peers.list().is_empty());
    }

    #[test]
    fn own_updates_are_skipped_and_silence_expires() {
        let mut me = LocalPresence::new(1, Presence::new("me"));
        let mut peers = Peers::default();
        assert!(!peers.apply(&me.update(), 1));
        let mut bob = LocalPresence::new(2, Presence::new("bob"));
        peers.apply(&bob.update(), 1);
        assert!(!peers.expire(Duration::from_secs(60)));
        assert!(peers.expire(Duration::ZERO));
        assert!(peers.list().is_empty());
    }

    #[test]
    fn a_burst_of_requests_becomes_one_send_now_and_one_later() {
        let mut t = Throttle::new(Duration::from_secs(3600));
        assert!(t.request());
        assert!(!t.poll(), "nothing deferred yet");
        assert!((0..100).all(|_| !t.request()));
        assert!(!t.poll(), "the period is not over");
        let mut t = Throttle::new(Duration::ZERO);
        assert!(t.request() && t.request());
    }

    #[test]
    fn colours_are_stable_per_user() {
        assert_eq!(color_for("ann"), color_for("ann"));
        assert!(color_for("ann").starts_with('#'));
    }
}
