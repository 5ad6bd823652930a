//! RustiDocs document model: text and sheet documents on yrs, formulas, metadata,
//! key names and channel messages. Pure: no network, no Redis.

pub mod error;
pub mod replica;
pub mod text;

pub use error::{DocError, Result};
pub use replica::Replica;
pub use text::{TextChange, TextDoc};
