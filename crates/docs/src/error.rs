//! Errors of the document model.
//! One enum for the whole crate, so callers match on one type.

use thiserror::Error;

/// What can go wrong when editing, syncing or decoding a document.
#[derive(Debug, Error, PartialEq)]
pub enum DocError {
    /// A position or length past the end of the text, grid or a row/column list.
    #[error("position {pos} out of range (length {len})")]
    OutOfRange { pos: usize, len: usize },
    /// A yrs update or state vector that could not be decoded or applied.
    #[error("invalid update: {0}")]
    Update(String),
    /// A cell reference such as `A1` that could not be parsed.
    #[error("invalid cell reference: {0}")]
    BadRef(String),
    /// The formula engine refused the sheet.
    #[error("formula engine: {0}")]
    Formula(String),
    /// A channel message or metadata record that could not be decoded.
    #[error("invalid message: {0}")]
    Message(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, DocError>;
