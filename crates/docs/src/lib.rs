//! RustiDocs document model: text and sheet documents on yrs, formulas, metadata,
//! key names and channel messages. Pure: no network, no Redis.

pub mod a1;
pub mod csv_io;
pub mod error;
pub mod formula;
pub mod inbox;
pub mod keys;
pub mod message;
pub mod meta;
pub mod refs;
pub mod replica;
pub mod sheet;
pub mod text;
pub mod xlsx_io;

pub use error::{DocError, Result};
pub use meta::{DocKind, DocMeta};
pub use replica::{Inbox, Replica};
pub use sheet::{Axis, Cell, SheetDoc};
pub use text::{TextChange, TextDoc};
