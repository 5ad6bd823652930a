//! A document as the client holds it: the yrs model of its kind, and how it is read from
//! the keyspace (`doc:{ID}:meta`, `:snapshot`, `:log` in one pipelined round trip).

use docs::message::ChannelMessage;
use docs::replica::{Logged, Replica};
use docs::{keys, DocKind, DocMeta, SheetDoc, TextDoc};
use redis::Value;
use yrs::sync::SyncMessage;

use crate::connection::Store;
use crate::error::{ClientError, Result};

/// The content of a document, of either kind.
pub enum Document {
    Text(TextDoc),
    Sheet(SheetDoc),
}

impl Document {
    /// An empty document of `kind` whose edits carry yrs client id `client_id`.
    pub fn new(kind: DocKind, client_id: u64) -> Self {
        match kind {
            DocKind::Text => Document::Text(TextDoc::with_client_id(client_id)),
            DocKind::Sheet => Document::Sheet(SheetDoc::with_client_id(client_id)),
        }
    }

    pub fn kind(&self) -> DocKind {
        match self {
            Document::Text(_) => DocKind::Text,
            Document::Sheet(_) => DocKind::Sheet,
        }
    }

    /// The state-exchange side, the same for both kinds.
    pub fn replica(&self) -> &dyn Replica {
        match self {
            Document::Text(t) => t,
            Document::Sheet(s) => s,
        }
    }

    /// The text, or an error naming the kind for a sheet.
    pub fn text(&self, id: &str) -> Result<&TextDoc> {
        match self {
            Document::Text(t) => Ok(t),
            Document::Sheet(_) => Err(wrong_kind(id, DocKind::Sheet)),
        }
    }

    /// The sheet, or an error naming the kind for a text.
    pub fn sheet(&self, id: &str) -> Result<&SheetDoc> {
        match self {
            Document::Sheet(s) => Ok(s),
            Document::Text(_) => Err(wrong_kind(id, DocKind::Text)),
        }
    }
}

fn wrong_kind(id: &str, kind: DocKind) -> ClientError {
    ClientError::WrongKind {
        id: id.to_string(),
        kind: kind.as_str(),
    }
}

/// A document read from the keyspace.
pub struct Loaded {
    pub meta: DocMeta,
    pub doc: Document,
    /// Id of the newest log entry folded in (`None` for an empty log).
    pub last_log_id: Option<String>,
    /// Number of log entries read (updates since the snapshot).
    pub log_entries: usize,
}

/// The raw stored state: snapshot (v2) and log updates (v1, oldest first).
pub struct StoredState {
    pub snapshot: Option<Vec<u8>>,
    pub log: Vec<(String, Vec<u8>)>,
}

impl StoredState {
    /// Applies snapshot and log to `doc` (idempotent: safe on a document that has some).
    /// A log entry nobody can apply (anyone may `XADD`) is skipped with a warning; the
    /// control service's fold drops it. What still waits afterwards is the store's own:
    /// re-reading cannot complete it, so it does not make the document look stalled.
    pub fn apply_to(&self, id: &str, doc: &dyn Replica) -> Result<()> {
        if let Some(snap) = &self.snapshot {
            doc.apply_update_v2(snap)
                .map_err(|e| bad(&keys::snapshot(id), e))?;
        }
        let updates: Vec<&[u8]> = self.log.iter().map(|(_, u)| u.as_slice()).collect();
        let outcome = doc.apply_log_v1(&updates);
        for ((entry, _), o) in self.log.iter().zip(outcome) {
            if o == Logged::Malformed {
                tracing::warn!(id, entry = %entry, "skipped a malformed log entry");
            }
        }
        doc.inbox().settle();
        Ok(())
    }
}

impl Store {
    /// Appends an update (v1) to the document's log and publishes it on its channel, in
    /// one pipelined round trip (same slot); with replica acks on, the same pipeline ends
    /// with `WAIT`. Returns how many replicas have the entry.
    pub async fn append_update(&self, id: &str, update: &[u8]) -> Result<usize> {
        let frame = ChannelMessage::Sync(SyncMessage::Update(update.to_vec())).encode();
        let mut pipe = redis::pipe();
        pipe.cmd("XADD")
            .arg(keys::log(id))
            .arg("*")
            .arg(keys::LOG_FIELD)
            .arg(update)
            .ignore();
        pipe.add_command(self.publish_cmd(&keys::channel(id), &frame))
            .ignore();
        if self.replica_acks() == 0 {
            self.query_pipe::<()>(&pipe).await?;
            return Ok(0);
        }
        pipe.cmd("WAIT").arg(self.replica_acks()).arg(WAIT_MS);
        let (replicas,): (usize,) = self.query_pipe(&pipe).await?;
        Ok(replicas)
    }
}

/// How long an edit waits for its replica acknowledgement.
const WAIT_MS: u64 = 500;

/// Reads meta, snapshot and log in one round trip (they share the document's slot).
pub async fn load(store: &Store, id: &str, client_id: u64) -> Result<Loaded> {
    let mut pipe = redis::pipe();
    pipe.cmd("HGETALL").arg(keys::meta(id));
    pipe.cmd("GET").arg(keys::snapshot(id));
    pipe.cmd("XRANGE").arg(keys::log(id)).arg("-").arg("+");
    let (fields, snapshot, log): (Vec<(String, String)>, Option<Vec<u8>>, Value) =
        store.query_pipe(&pipe).await?;
    if fields.is_empty() {
        return Err(ClientError::NotFound(id.to_string()));
    }
    let meta = DocMeta::from_fields(fields).map_err(|e| bad(&keys::meta(id), e))?;
    let state = StoredState {
        snapshot,
        log: parse_log(id, log)?,
    };
    let doc = Document::new(meta.kind, client_id);
    state.apply_to(id, doc.replica())?;
    Ok(Loaded {
        meta,
        doc,
        last_log_id: state.log.last().map(|(id, _)| id.clone()),
        log_entries: state.log.len(),
    })
}

/// Reads snapshot and log (no meta): what a session re-reads to catch up.
pub async fn read_state(store: &Store, id: &str) -> Result<StoredState> {
    let mut pipe = redis::pipe();
    pipe.cmd("GET").arg(keys::snapshot(id));
    pipe.cmd("XRANGE").arg(keys::log(id)).arg("-").arg("+");
    let (snapshot, log): (Option<Vec<u8>>, Value) = store.query_pipe(&pipe).await?;
    Ok(StoredState {
        snapshot,
        log: parse_log(id, log)?,
    })
}

/// One XRANGE entry: its id and its field-value pairs.
type LogEntry = (String, Vec<(Vec<u8>, Vec<u8>)>);

/// Parses an XRANGE reply into (entry id, update) pairs; an entry without the `u` field
/// is bad data, not something to skip silently.
pub fn parse_log(id: &str, reply: Value) -> Result<Vec<(String, Vec<u8>)>> {
    let entries: Vec<LogEntry> =
        redis::from_redis_value(reply).map_err(|e| bad(&keys::log(id), e))?;
    entries
        .into_iter()
        .map(|(entry, fields)| {
            let update = fields
                .into_iter()
                .find(|(f, _)| f == keys::LOG_FIELD.as_bytes())
                .map(|(_, v)| v)
                .ok_or_else(|| bad(&keys::log(id), format!("entry {entry} has no update")))?;
            Ok((entry, update))
        })
        .collect()
}

fn bad(key: &str, why: impl std::fmt::Display) -> ClientError {
    ClientError::BadData {
        key: key.to_string(),
        why: why.to_string(),
    }
}
