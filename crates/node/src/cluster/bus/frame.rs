//! The bus's wire format: a fixed preamble (magic, version, type, length), a header
//! every message carries (sender's view of itself), and a body per message type.

use crate::cluster::slots::SlotBitmap;

/// "RB": RustidocsBus. Anything else on the bus port is not one of ours.
pub const MAGIC: [u8; 2] = *b"RB";
/// Bumped on incompatible changes; a node drops frames of another version.
pub const VERSION: u8 = 2;
/// magic + version + type + u32 total length.
pub const PREAMBLE: usize = 8;
/// Largest frame accepted (a PUBLISH carries the whole message).
pub const MAX_FRAME: usize = 1 << 30;
pub const ID_LEN: usize = 40;
const SLOT_BYTES: usize = 16384 / 8;

/// Message types; the numbers are part of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Type {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Publish = 4,
    FailoverAuthRequest = 5,
    FailoverAuthAck = 6,
    Update = 7,
    PublishShard = 8,
}

/// Every type, by number.
const TYPES: [Type; 9] = [
    Type::Ping,
    Type::Pong,
    Type::Meet,
    Type::Fail,
    Type::Publish,
    Type::FailoverAuthRequest,
    Type::FailoverAuthAck,
    Type::Update,
    Type::PublishShard,
];

/// The types' stat names in type order (CLUSTER INFO lists the counters so).
pub const STAT_NAMES: [&str; 9] = [
    "ping",
    "pong",
    "meet",
    "fail",
    "publish",
    "auth-req",
    "auth-ack",
    "update",
    "publishshard",
];

impl Type {
    fn from_u8(b: u8) -> Option<Type> {
        TYPES.get(b as usize).copied()
    }

    /// The name CLUSTER INFO's `cluster_stats_messages_<name>_sent` uses.
    pub fn stat_name(self) -> &'static str {
        STAT_NAMES[self as usize]
    }
}

/// The sender's view of itself, in every message.
#[derive(Clone, Debug, Default)]
pub struct Header {
    pub sender: String,
    pub current_epoch: u64,
    pub config_epoch: u64,
    pub repl_offset: u64,
    /// `NodeFlags` bits of the sender (MYSELF is cleared by the receiver).
    pub flags: u16,
    /// The master's id when the sender is a replica.
    pub master: Option<String>,
    /// The sender's shard id (version 2).
    pub shard_id: String,
    /// Empty: the receiver uses the connection's peer address.
    pub ip: String,
    pub port: u16,
    pub bus_port: u16,
    /// The sender's cluster_state: true when ok.
    pub state_ok: bool,
    pub slots: Box<SlotBitmap>,
}

/// What a PING/PONG/MEET tells about another node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gossip {
    pub id: String,
    pub ip: String,
    pub port: u16,
    pub bus_port: u16,
    pub flags: u16,
    pub ping_sent: u64,
    pub pong_received: u64,
}

#[derive(Clone, Debug)]
pub enum Body {
    /// PING, PONG and MEET.
    Gossip(Vec<Gossip>),
    /// FAIL: the node now failing.
    Fail(String),
    /// PUBLISH / PUBLISHSHARD.
    Publish { channel: Vec<u8>, message: Vec<u8> },
    /// UPDATE: a node's newer slot configuration.
    Update {
        id: String,
        config_epoch: u64,
        slots: Box<SlotBitmap>,
    },
    /// Reserved for failover (FAILOVER_AUTH_REQUEST/ACK): opaque payload.
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Message {
    pub kind: Type,
    pub header: Header,
    pub body: Body,
}

/// Why a frame was rejected; the link is closed after any of these.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("bad magic")]
    Magic,
    #[error("unsupported bus protocol version {0}")]
    Version(u8),
    #[error("unknown message type {0}")]
    Type(u8),
    #[error("frame length {0} out of range")]
    Length(usize),
    #[error("truncated or malformed frame")]
    Malformed,
}

/// The total length of the frame starting `buf`, once its preamble is there.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    if buf.len() < PREAMBLE {
        return Ok(None);
    }
    if buf[..2] != MAGIC {
        return Err(FrameError::Magic);
    }
    if buf[2] != VERSION {
        return Err(FrameError::Version(buf[2]));
    }
    let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    if !(PREAMBLE..=MAX_FRAME).contains(&len) {
        return Err(FrameError::Length(len));
    }
    Ok(Some(len))
}

// ---- encoding ------------------------------------------------------------------------

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// A node id: exactly 40 bytes, zeros for "none".
    fn id(&mut self, id: Option<&str>) {
        let mut raw = [0u8; ID_LEN];
        if let Some(id) = id {
            let n = id.len().min(ID_LEN);
            raw[..n].copy_from_slice(&id.as_bytes()[..n]);
        }
        self.0.extend_from_slice(&raw);
    }
    fn short_str(&mut self, s: &str) {
        let n = s.len().min(255);
        self.u8(n as u8);
        self.0.extend_from_slice(&s.as_bytes()[..n]);
    }
    fn blob(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u32).to_be_bytes());
        self.0.extend_from_slice(b);
    }
    fn slots(&mut self, s: &SlotBitmap) {
        self.0.extend_from_slice(&s.0);
    }
}

/// Encodes a whole frame, preamble included.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(2400));
    w.0.extend_from_slice(&MAGIC);
    w.u8(VERSION);
    w.u8(msg.kind as u8);
    w.0.extend_from_slice(&[0; 4]);
    let h = &msg.header;
    w.id(Some(&h.sender));
    w.u64(h.current_epoch);
    w.u64(h.config_epoch);
    w.u64(h.repl_offset);
    w.u16(h.flags);
    w.id(h.master.as_deref());
    w.id(Some(&h.shard_id));
    w.short_str(&h.ip);
    w.u16(h.port);
    w.u16(h.bus_port);
    w.u8(h.state_ok as u8);
    w.slots(&h.slots);
    match &msg.body {
        Body::Gossip(entries) => {
            w.u16(entries.len() as u16);
            for g in entries {
                w.id(Some(&g.id));
                w.short_str(&g.ip);
                w.u16(g.port);
                w.u16(g.bus_port);
                w.u16(g.flags);
                w.u64(g.ping_sent);
                w.u64(g.pong_received);
            }
        }
        Body::Fail(id) => w.id(Some(id)),
        Body::Publish { channel, message } => {
            w.blob(channel);
            w.blob(message);
        }
        Body::Update {
            id,
            config_epoch,
            slots,
        } => {
            w.id(Some(id));
            w.u64(*config_epoch);
            w.slots(slots);
        }
        Body::Raw(data) => w.blob(data),
    }
    let len = (w.0.len() as u32).to_be_bytes();
    w.0[4..8].copy_from_slice(&len);
    w.0
}

// ---- decoding ------------------------------------------------------------------------

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.0.len() < n {
            return Err(FrameError::Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, FrameError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u64(&mut self) -> Result<u64, FrameError> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn id(&mut self) -> Result<Option<String>, FrameError> {
        let raw = self.take(ID_LEN)?;
        if raw.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let id = std::str::from_utf8(raw).map_err(|_| FrameError::Malformed)?;
        Ok(Some(id.to_string()))
    }
    fn some_id(&mut self) -> Result<String, FrameError> {
        self.id()?.ok_or(FrameError::Malformed)
    }
    fn short_str(&mut self) -> Result<String, FrameError> {
        let n = self.u8()? as usize;
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| FrameError::Malformed)?;
        Ok(s.to_string())
    }
    fn blob(&mut self) -> Result<Vec<u8>, FrameError> {
        let b = self.take(4)?;
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn slots(&mut self) -> Result<Box<SlotBitmap>, FrameError> {
        let raw = self.take(SLOT_BYTES)?;
        let mut s = Box::<SlotBitmap>::default();
        s.0.copy_from_slice(raw);
        Ok(s)
    }
}

/// Decodes one whole frame (as delimited by [`frame_len`]).
pub fn decode(frame: &[u8]) -> Result<Message, FrameError> {
    let len = frame_len(frame)?.ok_or(FrameError::Malformed)?;
    if len != frame.len() {
        return Err(FrameError::Length(frame.len()));
    }
    let kind = Type::from_u8(frame[3]).ok_or(FrameError::Type(frame[3]))?;
    let mut r = Reader(&frame[PREAMBLE..]);
    let header = Header {
        sender: r.some_id()?,
        current_epoch: r.u64()?,
        config_epoch: r.u64()?,
        repl_offset: r.u64()?,
        flags: r.u16()?,
        master: r.id()?,
        shard_id: r.some_id()?,
        ip: r.short_str()?,
        port: r.u16()?,
        bus_port: r.u16()?,
        state_ok: r.u8()? != 0,
        slots: r.slots()?,
    };
    let body = match kind {
        Type::Ping | Type::Pong | Type::Meet => {
            let count = r.u16()? as usize;
            let mut entries = Vec::with_capacity(count.min(64));
            for _ in 0..count {
                entries.push(Gossip {
                    id: r.some_id()?,
                    ip: r.short_str()?,
                    port: r.u16()?,
                    bus_port: r.u16()?,
                    flags: r.u16()?,
                    ping_sent: r.u64()?,
                    pong_received: r.u64()?,
                });
            }
            Body::Gossip(entries)
        }
        Type::Fail => Body::Fail(r.some_id()?),
        Type::Publish | Type::PublishShard => Body::Publish {
            channel: r.blob()?,
            message: r.blob()?,
        },
        Type::Update => Body::Update {
            id: r.some_id()?,
            config_epoch: r.u64()?,
            slots: r.slots()?,
        },
        Type::FailoverAuthRequest | Type::FailoverAuthAck => Body::Raw(r.blob()?),
    };
    if !r.0.is_empty() {
        return Err(FrameError::Malformed);
    }
    Ok(Message { kind, header, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        let mut slots = Box::<SlotBitmap>::default();
        slots.set(0, true);
        slots.set(16383, true);
        Header {
            sender: "a".repeat(40),
            current_epoch: 7,
            config_epoch: 3,
            repl_offset: 99,
            flags: 2,
            master: None,
            shard_id: "c".repeat(40),
            ip: "127.0.0.1".into(),
            port: 7000,
            bus_port: 17000,
            state_ok: true,
            slots,
        }
    }

    #[test]
    fn round_trip_ping() {
        let g = Gossip {
            id: "b".repeat(40),
            ip: "::1".into(),
            port: 1,
            bus_port: 2,
            flags: 8,
            ping_sent: 5,
            pong_received: 6,
        };
        let msg = Message {
            kind: Type::Ping,
            header: header(),
            body: Body::Gossip(vec![g.clone()]),
        };
        let bytes = encode(&msg);
        assert_eq!(frame_len(&bytes).unwrap(), Some(bytes.len()));
        let back = decode(&bytes).unwrap();
        assert_eq!(back.kind, Type::Ping);
        assert_eq!(back.header.sender, msg.header.sender);
        assert_eq!(back.header.repl_offset, 99);
        assert_eq!(back.header.shard_id, "c".repeat(40));
        assert_eq!(*back.header.slots, *msg.header.slots);
        match back.body {
            Body::Gossip(v) => assert_eq!(v, vec![g]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_bad_frames() {
        let msg = Message {
            kind: Type::Publish,
            header: header(),
            body: Body::Publish {
                channel: b"ch".to_vec(),
                message: b"hello".to_vec(),
            },
        };
        let mut bytes = encode(&msg);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        bytes[2] = 9;
        assert_eq!(frame_len(&bytes), Err(FrameError::Version(9)));
        bytes[0] = b'X';
        assert_eq!(frame_len(&bytes), Err(FrameError::Magic));
        assert_eq!(frame_len(&bytes[..3]), Ok(None));
    }
}
