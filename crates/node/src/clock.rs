//! Wall-clock time in the units Redis uses (Unix milliseconds and microseconds).

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    now_us() / 1000
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
