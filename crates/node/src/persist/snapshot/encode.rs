//! The snapshot encoder: a header, then one checksummed record per database and per
//! key, then a trailer, written to any `Write` (a file, or later a replica's socket).

use std::io::{self, Write};

use super::crc::{crc32c, Crc};
use super::{kind, vtype, HEADER_LEN, MAGIC, VERSION};
use crate::db::Value;
use crate::persist::DatasetImage;

/// Payload buffers larger than this are released after their record is written, so
/// one huge value does not pin its size in memory for the rest of the save.
const KEEP_BUF: usize = 1 << 20;

/// Writes a snapshot record by record. Call [`Encoder::finish`] to write the trailer:
/// without it the output is (deliberately) not a valid snapshot.
pub struct Encoder<W: Write> {
    w: W,
    buf: Vec<u8>,
    /// CRC of the CRCs of every record so far (the trailer's total checksum).
    chain: Crc,
    records: u64,
    keys: u64,
}

impl<W: Write> Encoder<W> {
    /// Writes the header.
    pub fn new(mut w: W) -> io::Result<Self> {
        let header = header_bytes();
        w.write_all(&header)?;
        let mut chain = Crc::default();
        chain.update(&header[HEADER_LEN - 4..]);
        Ok(Encoder {
            w,
            buf: Vec::with_capacity(4096),
            chain,
            records: 0,
            keys: 0,
        })
    }

    /// Starts the section of database `index`, which holds `keys` keys.
    pub fn begin_db(&mut self, index: usize, keys: usize) -> io::Result<()> {
        put_varint(&mut self.buf, index as u64);
        put_varint(&mut self.buf, keys as u64);
        self.flush_record(kind::DB)
    }

    /// One key with its value and absolute expiry (Unix ms).
    pub fn key(&mut self, key: &[u8], value: &Value, expire_ms: Option<u64>) -> io::Result<()> {
        let expiry_flag = if expire_ms.is_some() {
            vtype::HAS_EXPIRY
        } else {
            0
        };
        self.buf.push(value_type(value) | expiry_flag);
        if let Some(at) = expire_ms {
            self.buf.extend_from_slice(&at.to_le_bytes());
        }
        put_bytes(&mut self.buf, key);
        put_value(&mut self.buf, value);
        self.keys += 1;
        self.flush_record(kind::KEY)
    }

    /// Writes the trailer and returns the writer (flushed).
    pub fn finish(mut self) -> io::Result<W> {
        let trailer = trailer_record(self.keys, self.records, self.chain.value());
        self.w.write_all(&trailer)?;
        self.w.flush()?;
        Ok(self.w)
    }

    /// Frames the payload in `buf` as a record of `kind` and writes it.
    fn flush_record(&mut self, kind: u8) -> io::Result<()> {
        let mut head = [0u8; 11];
        head[0] = kind;
        let n = 1 + encode_varint(self.buf.len() as u64, &mut head[1..]);
        let mut crc = Crc::default();
        crc.update(&head[..n]);
        crc.update(&self.buf);
        let crc = crc.value().to_le_bytes();
        self.w.write_all(&head[..n])?;
        self.w.write_all(&self.buf)?;
        self.w.write_all(&crc)?;
        self.chain.update(&crc);
        self.records += 1;
        self.buf.clear();
        if self.buf.capacity() > KEEP_BUF {
            self.buf = Vec::with_capacity(4096);
        }
        Ok(())
    }
}

/// Encodes a whole image: one section per non-empty database.
pub fn encode<W: Write>(image: &DatasetImage, w: W) -> io::Result<W> {
    encode_until(image, w, &|| false)
}

/// Like [`encode`], but gives up with `ErrorKind::Interrupted` as soon as `cancelled`
/// says so (checked every few keys), for a background save that must stop.
pub fn encode_until<W: Write>(
    image: &DatasetImage,
    w: W,
    cancelled: &dyn Fn() -> bool,
) -> io::Result<W> {
    let mut enc = Encoder::new(w)?;
    for (index, db) in image.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        enc.begin_db(index, db.len())?;
        for (n, (key, value, at)) in db.iter().enumerate() {
            if n % 1024 == 0 && cancelled() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "save cancelled"));
            }
            enc.key(key, value, *at)?;
        }
    }
    enc.finish()
}

pub(super) fn header_bytes() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    // Bytes 10..12: flags, none defined yet.
    let crc = crc32c(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The complete trailer record (also written by `--check-snapshot --fix`).
pub(super) fn trailer_record(keys: u64, records: u64, chain: u32) -> Vec<u8> {
    let mut payload = Vec::with_capacity(20);
    payload.extend_from_slice(&keys.to_le_bytes());
    payload.extend_from_slice(&records.to_le_bytes());
    payload.extend_from_slice(&chain.to_le_bytes());
    let mut rec = vec![kind::END];
    put_varint(&mut rec, payload.len() as u64);
    rec.extend_from_slice(&payload);
    let crc = crc32c(&rec);
    rec.extend_from_slice(&crc.to_le_bytes());
    rec
}

fn value_type(value: &Value) -> u8 {
    match value {
        Value::Str(_) => vtype::STRING,
        Value::List(_) => vtype::LIST,
        Value::Hash(_) => vtype::HASH,
        Value::Set(_) => vtype::SET,
        Value::ZSet(_) => vtype::ZSET,
        Value::Stream(_) => vtype::STREAM,
    }
}

fn put_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(s) => put_bytes(buf, s),
        Value::List(l) => put_all(buf, l.len(), l.iter().map(|s| &s[..])),
        Value::Set(s) => put_all(buf, s.len(), s.iter().map(|s| &s[..])),
        Value::Hash(h) => {
            put_varint(buf, h.len() as u64);
            for (f, v) in h.iter() {
                put_bytes(buf, f);
                put_bytes(buf, v);
            }
        }
        Value::ZSet(z) => {
            put_varint(buf, z.len() as u64);
            for (member, score) in z.iter() {
                put_bytes(buf, member);
                buf.extend_from_slice(&score.to_bits().to_le_bytes());
            }
        }
        Value::Stream(s) => put_stream(buf, s),
    }
}

fn put_stream(buf: &mut Vec<u8>, s: &crate::db::stream::Stream) {
    for v in [
        s.last_id.ms,
        s.last_id.seq,
        s.entries_added,
        s.max_deleted_id.ms,
        s.max_deleted_id.seq,
        s.len() as u64,
    ] {
        put_varint(buf, v);
    }
    let mut prev_ms = 0;
    let all = s.range(
        crate::db::stream::StreamId::MIN,
        crate::db::stream::StreamId::MAX,
        false,
    );
    for (id, items) in all {
        // IDs ascend, so the millisecond part is stored as a (small) delta.
        put_varint(buf, id.ms - prev_ms);
        put_varint(buf, id.seq);
        prev_ms = id.ms;
        put_all(buf, items.count(), items.iter());
    }
}

fn put_all<'a>(buf: &mut Vec<u8>, n: usize, items: impl Iterator<Item = &'a [u8]>) {
    put_varint(buf, n as u64);
    for item in items {
        put_bytes(buf, item);
    }
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

pub(super) fn put_varint(buf: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 10];
    let n = encode_varint(v, &mut tmp);
    buf.extend_from_slice(&tmp[..n]);
}

/// LEB128: seven bits per byte, low first, high bit set on all but the last byte.
fn encode_varint(mut v: u64, out: &mut [u8]) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}
