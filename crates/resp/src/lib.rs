//! RESP2/RESP3 wire format: the request parser a server needs and the reply encoder.
//! No I/O here: callers hand in byte buffers and get offsets and bytes back.

mod frame;
mod inline;
mod request;
mod write;

pub use frame::{frame_len, Frame};
pub use inline::split_args;
pub use request::{parse_i64, ProtocolError, Request, RequestParser, INLINE_MAX_SIZE};
pub use write::{format_double, ReplyBuf};
