//! RustiDocs client library: connects to a Redis-compatible cluster (or one node), keeps the
//! document catalogue, and runs live editing sessions. Used by every app and service.
//!
//! ```no_run
//! # async fn demo() -> client::Result<()> {
//! let store = client::Store::connect(&["127.0.0.1:7000".to_string()]).await?;
//! let info = store.create(docs::DocKind::Text, "Notes", "work").await?;
//! let mut session = store.open(&info.id, "ann").await?;
//! session.insert_text(0, "hello").await?;
//! while let Some(event) = session.next_event().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! How it maps onto the keyspace is in DESIGN.md ("Data in the keyspace") and
//! docs/PROTOCOL.md: an edit is applied locally, then `XADD doc:{ID}:log` and the
//! publication on `doc:{ID}` go out in one pipelined round trip.

pub mod catalog;
pub mod connection;
pub mod document;
pub mod error;
pub mod presence;
pub mod router;
pub mod session;

pub use catalog::DocInfo;
pub use connection::Store;
pub use document::{Document, Loaded};
pub use error::{ClientError, Result};
pub use presence::{Peer, Presence};
pub use session::{Delivery, Event, Session};
