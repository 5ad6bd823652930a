//! Document metadata (title, kind, topic, created, updated) and its form as the
//! field-value pairs of the Redis hash `doc:{ID}:meta`.

use crate::error::{DocError, Result};

/// What kind of document this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Text,
    Sheet,
}

impl DocKind {
    /// The hash field value: `text` or `sheet`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Text => "text",
            DocKind::Sheet => "sheet",
        }
    }

    /// Parses `text` or `sheet`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "text" => Ok(DocKind::Text),
            "sheet" => Ok(DocKind::Sheet),
            _ => Err(DocError::Message(format!("unknown document kind {s:?}"))),
        }
    }
}

/// The metadata of one document. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMeta {
    pub title: String,
    pub kind: DocKind,
    pub topic: String,
    pub created: u64,
    pub updated: u64,
}

impl DocMeta {
    /// The hash fields, in a fixed order (for `HSET doc:{ID}:meta f v …`).
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("title", self.title.clone()),
            ("kind", self.kind.as_str().to_string()),
            ("topic", self.topic.clone()),
            ("created", self.created.to_string()),
            ("updated", self.updated.to_string()),
        ]
    }

    /// Reads the hash fields (as from `HGETALL`); unknown fields are ignored so newer
    /// writers can add some. `kind` is required; a missing title or topic is empty and
    /// missing times are 0.
    pub fn from_fields<K, V>(fields: impl IntoIterator<Item = (K, V)>) -> Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (mut title, mut kind, mut topic) = (String::new(), None, String::new());
        let (mut created, mut updated) = (0, 0);
        for (k, v) in fields {
            let v = v.as_ref();
            match k.as_ref() {
                "title" => title = v.to_string(),
                "kind" => kind = Some(DocKind::parse(v)?),
                "topic" => topic = v.to_string(),
                "created" => created = parse_time("created", v)?,
                "updated" => updated = parse_time("updated", v)?,
                _ => {}
            }
        }
        let kind = kind.ok_or_else(|| DocError::Message("metadata without kind".into()))?;
        Ok(Self {
            title,
            kind,
            topic,
            created,
            updated,
        })
    }
}

fn parse_time(field: &str, v: &str) -> Result<u64> {
    v.parse()
        .map_err(|_| DocError::Message(format!("bad {field} time {v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let m = DocMeta {
            title: "Budget 2027".into(),
            kind: DocKind::Sheet,
            topic: "finance".into(),
            created: 1_700_000_000_000,
            updated: 1_700_000_000_123,
        };
        let fields = m.to_fields();
        assert_eq!(fields[1], ("kind", "sheet".to_string()));
        assert_eq!(DocMeta::from_fields(fields).unwrap(), m);
    }

    #[test]
    fn missing_or_bad_fields() {
        let m = DocMeta::from_fields([("kind", "text"), ("extra", "x")]).unwrap();
        assert_eq!(
            (m.title.as_str(), m.kind, m.created),
            ("", DocKind::Text, 0)
        );
        assert!(DocMeta::from_fields([("title", "t")]).is_err());
        assert!(DocMeta::from_fields([("kind", "slides")]).is_err());
        assert!(DocMeta::from_fields([("kind", "text"), ("created", "soon")]).is_err());
    }
}
