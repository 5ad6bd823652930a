//! The client library's error type: what can go wrong talking to the cluster or reading
//! a document, in words a caller can show a person.

use thiserror::Error;

/// Errors of the client library.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The cluster (or node) answered with an error, or the connection failed.
    #[error("cluster: {0}")]
    Redis(#[from] redis::RedisError),
    /// The document model rejected an edit or an update.
    #[error("document: {0}")]
    Doc(#[from] docs::DocError),
    /// No document with this id.
    #[error("no such document: {0}")]
    NotFound(String),
    /// The operation does not fit the document's kind (a cell edit on a text document…).
    #[error("document {id} is a {kind} document")]
    WrongKind { id: String, kind: &'static str },
    /// Stored data that does not parse (a damaged snapshot, a log entry without update…).
    #[error("bad data in {key}: {why}")]
    BadData { key: String, why: String },
    /// The endpoint list was empty or unusable.
    #[error("no usable cluster endpoint: {0}")]
    Endpoints(String),
    /// A key changed between a read and a write that depended on it (`WATCH` fired).
    #[error("{0} changed meanwhile")]
    Changed(String),
    /// The session was closed, or its background task ended.
    #[error("session closed")]
    Closed,
}

/// Results of the client library.
pub type Result<T> = std::result::Result<T, ClientError>;
