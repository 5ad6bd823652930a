//! The snapshot decoder: reads records from any `Read`, checks each record's CRC before
//! looking inside, and reports the byte offset of the first record that is damaged.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};

use super::crc::Crc;
use super::{kind, vtype, HEADER_LEN, MAGIC, VERSION};
use crate::db::stream::{NodeLimits, Stream, StreamId};
use crate::db::zset::ZSet;
use crate::db::{HashMap, HashSet, SmallBytes, Value};
use crate::persist::{DatasetImage, ImageEntry};

/// Payloads up to this size are read in one call into a buffer sized up front.
const DIRECT_READ: u64 = 1 << 20;

/// Why a snapshot could not be read, and where: `offset` is the start of the record
/// (or header) that is damaged, i.e. the end of the good prefix.
#[derive(Debug)]
pub struct SnapError {
    pub offset: u64,
    pub kind: ErrorKind,
}

#[derive(Debug)]
pub enum ErrorKind {
    /// The data ends inside the header or a record, or before the trailer.
    Truncated,
    Corrupt(String),
    Io(io::Error),
}

impl fmt::Display for SnapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Truncated => write!(f, "truncated at offset {}", self.offset),
            ErrorKind::Corrupt(why) => write!(f, "corrupt at offset {}: {why}", self.offset),
            ErrorKind::Io(e) => write!(f, "read error at offset {}: {e}", self.offset),
        }
    }
}

impl std::error::Error for SnapError {}

/// How loaded values are shaped (the server's encoding limits).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub stream_node: NodeLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node: NodeLimits {
                max_bytes: 4096,
                max_entries: 100,
            },
        }
    }
}

/// One thing read from a snapshot.
pub enum Item {
    /// The following keys belong to database `index`, which has about `keys` keys.
    Db {
        index: usize,
        keys: u64,
    },
    Key(ImageEntry),
}

/// Reads a snapshot record by record; `next_item` returns None once the trailer is
/// read and verified.
pub struct Decoder<R: Read> {
    r: R,
    opts: Options,
    /// End of the last good record: where the good prefix stops.
    offset: u64,
    chain: Crc,
    records: u64,
    keys: u64,
    in_db: bool,
    done: bool,
    buf: Vec<u8>,
    /// Bytes of the current record's length prefix.
    frame_len: usize,
}

impl<R: Read> Decoder<R> {
    /// Reads and checks the header.
    pub fn new(mut r: R, opts: Options) -> Result<Self, SnapError> {
        let mut h = [0u8; HEADER_LEN];
        read_exact(&mut r, &mut h, 0)?;
        let bad = |why: &str| SnapError {
            offset: 0,
            kind: ErrorKind::Corrupt(why.into()),
        };
        if &h[..8] != MAGIC {
            return Err(bad("not a rustidocs snapshot (bad magic)"));
        }
        if super::crc::crc32c(&h[..12]).to_le_bytes() != h[12..] {
            return Err(bad("header checksum mismatch"));
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version != VERSION {
            return Err(bad(&format!("unsupported snapshot version {version}")));
        }
        let mut chain = Crc::default();
        chain.update(&h[12..]);
        Ok(Decoder {
            r,
            opts,
            offset: HEADER_LEN as u64,
            chain,
            records: 0,
            keys: 0,
            in_db: false,
            done: false,
            buf: Vec::new(),
            frame_len: 0,
        })
    }

    /// Bytes of the good prefix read so far (header and complete, valid records).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Keys read so far.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// Records read so far and the running total checksum, for `--fix` to write a
    /// trailer that matches the good prefix.
    pub fn chain_state(&self) -> (u64, u32) {
        (self.records, self.chain.value())
    }

    /// True once the trailer was read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The inner reader (positioned after the trailer once `is_done`).
    pub fn into_inner(self) -> R {
        self.r
    }

    pub fn next_item(&mut self) -> Result<Option<Item>, SnapError> {
        if self.done {
            return Ok(None);
        }
        let (kind, crc) = self.read_record()?;
        let item = self.parse(kind).map_err(|why| self.corrupt(why))?;
        // Only a fully valid record moves the good prefix forward.
        if matches!(item, Some(Item::Key(_))) {
            self.keys += 1;
        }
        self.offset += self.record_len();
        self.chain.update(&crc.to_le_bytes());
        self.records += 1;
        Ok(item)
    }

    /// Reads one record's frame and payload into `buf`, checking its CRC.
    fn read_record(&mut self) -> Result<(u8, u32), SnapError> {
        let start = self.offset;
        let mut kind = [0u8; 1];
        read_exact(&mut self.r, &mut kind, start)?;
        let mut crc = Crc::default();
        crc.update(&kind);
        let len = self.read_varint_frame(&mut crc)?;
        self.read_payload(len, start)?;
        crc.update(&self.buf);
        let mut stored = [0u8; 4];
        read_exact(&mut self.r, &mut stored, start)?;
        if crc.value().to_le_bytes() != stored {
            return Err(self.corrupt("record checksum mismatch".into()));
        }
        Ok((kind[0], crc.value()))
    }

    /// Reads `len` payload bytes into `buf`. Past [`DIRECT_READ`] bytes, `take` grows
    /// the buffer as data arrives, so a damaged length cannot make us allocate more
    /// than the input really holds.
    fn read_payload(&mut self, len: u64, start: u64) -> Result<(), SnapError> {
        self.buf.clear();
        if len <= DIRECT_READ {
            self.buf.resize(len as usize, 0);
            return read_exact(&mut self.r, &mut self.buf, start);
        }
        let got = (&mut self.r)
            .take(len)
            .read_to_end(&mut self.buf)
            .map_err(|e| io_error(e, start))?;
        if (got as u64) < len {
            return Err(truncated(start));
        }
        Ok(())
    }

    /// The record's length prefix, which is covered by its CRC too.
    fn read_varint_frame(&mut self, crc: &mut Crc) -> Result<u64, SnapError> {
        let mut v = 0u64;
        for i in 0..10 {
            let mut b = [0u8; 1];
            read_exact(&mut self.r, &mut b, self.offset)?;
            crc.update(&b);
            v |= u64::from(b[0] & 0x7f) << (7 * i);
            if b[0] & 0x80 == 0 {
                self.frame_len = i + 1;
                return Ok(v);
            }
        }
        Err(self.corrupt("bad record length".into()))
    }

    fn record_len(&self) -> u64 {
        1 + self.frame_len as u64 + self.buf.len() as u64 + 4
    }

    fn corrupt(&self, why: String) -> SnapError {
        SnapError {
            offset: self.offset,
            kind: ErrorKind::Corrupt(why),
        }
    }

    fn parse(&mut self, kind: u8) -> Result<Option<Item>, String> {
        let mut p = Payload {
            data: &self.buf,
            pos: 0,
        };
        let item = match kind {
            kind::DB => {
                self.in_db = true;
                let index = p.varint()? as usize;
                let keys = p.varint()?;
                Some(Item::Db { index, keys })
            }
            kind::KEY if !self.in_db => return Err("key outside a database section".into()),
            kind::KEY => Some(Item::Key(parse_key(&mut p, &self.opts)?)),
            kind::END => {
                self.check_trailer(&mut p)?;
                self.done = true;
                None
            }
            other => return Err(format!("unknown record type {other}")),
        };
        p.end()?;
        Ok(item)
    }

    fn check_trailer(&self, p: &mut Payload) -> Result<(), String> {
        let keys = p.u64()?;
        let records = p.u64()?;
        let chain = p.u32()?;
        if keys != self.keys || records != self.records {
            return Err(format!(
                "trailer counts {keys} keys in {records} records, read {} in {}",
                self.keys, self.records
            ));
        }
        if chain != self.chain.value() {
            return Err("total checksum mismatch".into());
        }
        Ok(())
    }
}

fn read_exact(r: &mut impl Read, buf: &mut [u8], offset: u64) -> Result<(), SnapError> {
    r.read_exact(buf).map_err(|e| io_error(e, offset))
}

fn io_error(e: io::Error, offset: u64) -> SnapError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        truncated(offset)
    } else {
        SnapError {
            offset,
            kind: ErrorKind::Io(e),
        }
    }
}

fn truncated(offset: u64) -> SnapError {
    SnapError {
        offset,
        kind: ErrorKind::Truncated,
    }
}

/// Decodes a whole snapshot into an image.
pub fn decode<R: Read>(r: R, opts: Options) -> Result<DatasetImage, SnapError> {
    let mut dec = Decoder::new(r, opts)?;
    let mut image = DatasetImage {
        dbs: Vec::new(),
        taken_ms: crate::clock::now_ms(),
    };
    let mut current = 0;
    while let Some(item) = dec.next_item()? {
        match item {
            Item::Db { index, .. } => {
                current = index;
                if image.dbs.len() <= index {
                    image.dbs.resize_with(index + 1, Vec::new);
                }
            }
            Item::Key(entry) => image.dbs[current].push(entry),
        }
    }
    Ok(image)
}

/// A record's payload being parsed; every read is bounds-checked.
struct Payload<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Payload<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.data.len() - self.pos {
            return Err(format!("length {n} runs past the end of the record"));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("bad varint".into())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| "length too large")?)
    }

    fn small(&mut self) -> Result<SmallBytes, String> {
        Ok(SmallBytes::new(self.bytes()?))
    }

    /// An element count, which cannot exceed the bytes left (each takes at least one):
    /// a bound that keeps a crafted count from reserving huge memory.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        if n > (self.data.len() - self.pos) as u64 {
            return Err(format!("count {n} larger than the record"));
        }
        Ok(n as usize)
    }

    fn end(&self) -> Result<(), String> {
        if self.pos != self.data.len() {
            return Err("extra bytes at the end of the record".into());
        }
        Ok(())
    }
}

fn parse_key(p: &mut Payload, opts: &Options) -> Result<ImageEntry, String> {
    let t = p.u8()?;
    let expire = if t & vtype::HAS_EXPIRY != 0 {
        Some(p.u64()?)
    } else {
        None
    };
    let key = p.small()?;
    let value = match t & !vtype::HAS_EXPIRY {
        vtype::STRING => Value::Str(p.small()?),
        vtype::LIST => parse_list(p)?,
        vtype::HASH => parse_hash(p)?,
        vtype::SET => parse_set(p)?,
        vtype::ZSET => parse_zset(p, opts)?,
        vtype::STREAM => Value::Stream(Box::new(parse_stream(p, opts.stream_node)?)),
        other => return Err(format!("unknown value type {other}")),
    };
    if value.is_empty_aggregate() {
        return Err("empty aggregate value".into());
    }
    Ok((key, value, expire))
}

fn parse_list(p: &mut Payload) -> Result<Value, String> {
    let n = p.count()?;
    let mut list = VecDeque::with_capacity(n);
    for _ in 0..n {
        list.push_back(p.small()?);
    }
    Ok(Value::List(Box::new(list)))
}

fn parse_hash(p: &mut Payload) -> Result<Value, String> {
    let n = p.count()?;
    let mut hash = HashMap::with_capacity_and_hasher(n, Default::default());
    for _ in 0..n {
        let field = p.small()?;
        if hash.insert(field, p.small()?).is_some() {
            return Err("duplicate hash field".into());
        }
    }
    Ok(Value::Hash(Box::new(hash)))
}

fn parse_set(p: &mut Payload) -> Result<Value, String> {
    let n = p.count()?;
    let mut set = HashSet::with_capacity_and_hasher(n, Default::default());
    for _ in 0..n {
        if !set.insert(p.small()?) {
            return Err("duplicate set member".into());
        }
    }
    Ok(Value::Set(Box::new(set)))
}

/// Like Redis, a sorted set's encoding follows from its size and the server's limits.
fn parse_zset(p: &mut Payload, opts: &Options) -> Result<Value, String> {
    let n = p.count()?;
    let mut members = Vec::with_capacity(n);
    let mut longest = 0;
    for _ in 0..n {
        let member = p.bytes()?;
        let score = f64::from_bits(p.u64()?);
        if score.is_nan() {
            return Err("NaN score".into());
        }
        longest = longest.max(member.len());
        members.push((member, score));
    }
    let mut z = if n <= opts.zset_max_listpack_entries && longest <= opts.zset_max_listpack_value {
        ZSet::default()
    } else {
        ZSet::skiplist()
    };
    for (member, score) in members {
        if !z.insert(member, score) {
            return Err("duplicate sorted set member".into());
        }
    }
    Ok(Value::ZSet(Box::new(z)))
}

fn parse_stream(p: &mut Payload, limits: NodeLimits) -> Result<Stream, String> {
    let last_id = StreamId::new(p.varint()?, p.varint()?);
    let entries_added = p.varint()?;
    let max_deleted_id = StreamId::new(p.varint()?, p.varint()?);
    let n = p.count()?;
    let mut s = Stream::default();
    let mut prev: Option<StreamId> = None;
    let mut items: Vec<&[u8]> = Vec::new();
    for _ in 0..n {
        let delta = p.varint()?;
        let ms = prev.map_or(0, |id| id.ms).checked_add(delta);
        let id = StreamId::new(ms.ok_or("bad entry id")?, p.varint()?);
        if prev.is_some_and(|prev| id <= prev) || id > last_id {
            return Err("stream entry IDs out of order".into());
        }
        let count = p.count()?;
        if count == 0 || count % 2 != 0 {
            return Err("stream entry with a bad field count".into());
        }
        items.clear();
        for _ in 0..count {
            items.push(p.bytes()?);
        }
        s.append(id, items.iter().copied(), limits);
        prev = Some(id);
    }
    // `append` counted and moved these; the saved values are the truth.
    s.last_id = last_id;
    s.entries_added = entries_added;
    s.max_deleted_id = max_deleted_id;
    Ok(s)
}
