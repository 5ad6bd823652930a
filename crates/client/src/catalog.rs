//! The document catalogue: create, list (by topic, most recently updated first), rename and
//! delete documents. A document's own keys are written first and the index keys last.

use std::time::{SystemTime, UNIX_EPOCH};

use docs::{keys, Axis, DocKind, DocMeta};
use futures_util::future::join_all;

use crate::connection::Store;
use crate::document::Document;
use crate::error::{ClientError, Result};

/// Rows and columns of a new sheet: made once by its creator, so that editors never grow
/// the grid concurrently (two editors appending rows at once would get both).
pub const NEW_SHEET_ROWS: usize = 100;
pub const NEW_SHEET_COLS: usize = 26;

/// A document's id and metadata, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocInfo {
    pub id: String,
    pub meta: DocMeta,
}

impl Store {
    /// Creates an empty document (a sheet gets its initial grid) and returns it.
    pub async fn create(&self, kind: DocKind, title: &str, topic: &str) -> Result<DocInfo> {
        let doc = Document::new(kind, random_client_id());
        if let Document::Sheet(s) = &doc {
            s.insert(Axis::Rows, 0, NEW_SHEET_ROWS)?;
            s.insert(Axis::Cols, 0, NEW_SHEET_COLS)?;
        }
        self.create_from(&doc, title, topic).await
    }

    /// Creates a document whose initial content is `doc` (an import, say).
    pub async fn create_from(&self, doc: &Document, title: &str, topic: &str) -> Result<DocInfo> {
        let now = now_ms();
        let info = DocInfo {
            id: new_id(),
            meta: DocMeta {
                title: title.to_string(),
                kind: doc.kind(),
                topic: topic.to_string(),
                created: now,
                updated: now,
            },
        };
        let mut own = redis::pipe();
        own.cmd("HSET")
            .arg(keys::meta(&info.id))
            .arg(info.meta.to_fields());
        own.cmd("SET")
            .arg(keys::snapshot(&info.id))
            .arg(doc.replica().snapshot_v2());
        self.query_pipe::<()>(&own).await?;
        self.index(&info.id, &info.meta.topic, now).await?;
        Ok(info)
    }

    /// Records `id` in the document list and its topic (what the control service repairs).
    pub async fn index(&self, id: &str, topic: &str, updated_ms: u64) -> Result<()> {
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(keys::DOCS_INDEX).arg(updated_ms).arg(id);
        self.query::<()>(&zadd).await?;
        let mut sadd = redis::cmd("SADD");
        sadd.arg(keys::topic(topic)).arg(id);
        self.query::<()>(&sadd).await
    }

    /// The metadata of one document.
    pub async fn meta(&self, id: &str) -> Result<DocMeta> {
        let fields: Vec<(String, String)> = self
            .query(redis::cmd("HGETALL").arg(keys::meta(id)))
            .await?;
        if fields.is_empty() {
            return Err(ClientError::NotFound(id.to_string()));
        }
        DocMeta::from_fields(fields).map_err(ClientError::from)
    }

    /// Documents, most recently updated first; only those of `topic` when given. The
    /// index score is the time of the last edit the control service folded, so it
    /// overrides a creation-time `updated`. Index entries whose metadata is gone (a
    /// half-finished delete) are left out.
    pub async fn list(&self, topic: Option<&str>) -> Result<Vec<DocInfo>> {
        let mut ids: Vec<(String, f64)> = self
            .query(
                redis::cmd("ZRANGE")
                    .arg(keys::DOCS_INDEX)
                    .arg(0)
                    .arg(-1)
                    .arg("REV")
                    .arg("WITHSCORES"),
            )
            .await?;
        if let Some(t) = topic {
            let members: std::collections::HashSet<String> = self
                .query(redis::cmd("SMEMBERS").arg(keys::topic(t)))
                .await?;
            ids.retain(|(id, _)| members.contains(id));
        }
        let metas = join_all(ids.iter().map(|(id, _)| self.meta(id))).await;
        let mut out = Vec::with_capacity(ids.len());
        for ((id, score), meta) in ids.into_iter().zip(metas) {
            match meta {
                Ok(mut meta) => {
                    meta.updated = meta.updated.max(score as u64);
                    out.push(DocInfo { id, meta });
                }
                Err(ClientError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The topics of the listed documents, sorted, each once.
    pub async fn topics(&self) -> Result<Vec<String>> {
        let mut topics: Vec<String> = self
            .list(None)
            .await?
            .into_iter()
            .map(|d| d.meta.topic)
            .collect();
        topics.sort();
        topics.dedup();
        Ok(topics)
    }

    /// Changes a document's title.
    pub async fn rename(&self, id: &str, title: &str) -> Result<()> {
        self.meta(id).await?;
        self.query(
            redis::cmd("HSET")
                .arg(keys::meta(id))
                .arg("title")
                .arg(title),
        )
        .await
    }

    /// Deletes a document: its own keys, then its index entries.
    pub async fn delete(&self, id: &str) -> Result<()> {
        let meta = self.meta(id).await?;
        self.query::<()>(
            redis::cmd("DEL")
                .arg(keys::meta(id))
                .arg(keys::snapshot(id))
                .arg(keys::log(id)),
        )
        .await?;
        self.query::<()>(redis::cmd("ZREM").arg(keys::DOCS_INDEX).arg(id))
            .await?;
        self.query(redis::cmd("SREM").arg(keys::topic(&meta.topic)).arg(id))
            .await
    }
}

/// A new document id: 16 lowercase hex digits.
pub fn new_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// A random yrs client id (53 bits, as yrs and Yjs keep).
pub fn random_client_id() -> u64 {
    fastrand::u64(1..(1u64 << 53))
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
