//! Networking: the TCP listener that admits clients and the per-connection loop.

pub mod conn;
pub mod listener;
