//! Messages on a document channel: y-sync framing (`yrs::sync::Message`) for state and
//! presence, plus our own messages in its custom slot. Byte layouts: docs/PROTOCOL.md.

use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;
use yrs::sync::{AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;

use crate::error::{DocError, Result};

/// The y-sync message tag of our own messages (below 128, so one byte as a varint too).
pub const CUSTOM_TAG: u8 = 100;
/// Version of our own messages' payload; a reader rejects versions it does not know.
pub const VERSION: u32 = 1;

const KIND_JOIN: u32 = 0;
const KIND_SESSIONS: u32 = 1;
const KIND_ERROR: u32 = 2;
const KIND_AI_ANSWER: u32 = 3;

/// One editing session on a document: a yrs client id and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub client: u64,
    pub user: String,
}

/// Our own messages, carried in y-sync's custom slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Custom {
    /// A client joins the document (answered with sync step 2 and a session list).
    Join(Session),
    /// Who is editing the document now.
    Sessions(Vec<Session>),
    /// Something went wrong for the named client (0: everyone).
    Error {
        client: u64,
        code: u32,
        text: String,
    },
    /// (Part of) an AI answer to a request; `done` on the last part.
    AiAnswer {
        request: String,
        text: String,
        done: bool,
    },
}

/// Anything published on `doc:{ID}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelMessage {
    /// y-sync step 1 / step 2 / update.
    Sync(SyncMessage),
    /// Presence: cursors, names (JSON per client).
    Awareness(AwarenessUpdate),
    /// Ask everyone to send their awareness state.
    AwarenessQuery,
    /// One of ours.
    Custom(Custom),
}

impl ChannelMessage {
    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let msg = match self {
            ChannelMessage::Sync(s) => Message::Sync(s.clone()),
            ChannelMessage::Awareness(a) => Message::Awareness(a.clone()),
            ChannelMessage::AwarenessQuery => Message::AwarenessQuery,
            ChannelMessage::Custom(c) => Message::Custom(CUSTOM_TAG, c.encode()),
        };
        msg.encode_v1()
    }

    /// Parses wire bytes. y-sync auth messages and unknown custom tags are errors.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let msg = crate::replica::decode_untrusted(bytes, Message::decode_v1)
            .map_err(|e| DocError::Message(e.to_string()))?;
        match msg {
            Message::Sync(s) => Ok(ChannelMessage::Sync(s)),
            Message::Awareness(a) => Ok(ChannelMessage::Awareness(a)),
            Message::AwarenessQuery => Ok(ChannelMessage::AwarenessQuery),
            Message::Custom(CUSTOM_TAG, payload) => {
                Custom::decode(&payload).map(ChannelMessage::Custom)
            }
            Message::Custom(tag, _) => Err(DocError::Message(format!("unknown message tag {tag}"))),
            Message::Auth(_) => Err(DocError::Message("auth messages are not used".into())),
        }
    }
}

impl Custom {
    /// The payload: varuint version, varuint kind, then the kind's fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.write_var(VERSION);
        match self {
            Custom::Join(s) => {
                out.write_var(KIND_JOIN);
                write_session(&mut out, s);
            }
            Custom::Sessions(list) => {
                out.write_var(KIND_SESSIONS);
                out.write_var(list.len());
                list.iter().for_each(|s| write_session(&mut out, s));
            }
            Custom::Error { client, code, text } => {
                out.write_var(KIND_ERROR);
                out.write_var(*client);
                out.write_var(*code);
                out.write_string(text);
            }
            Custom::AiAnswer {
                request,
                text,
                done,
            } => {
                out.write_var(KIND_AI_ANSWER);
                out.write_string(request);
                out.write_string(text);
                out.write_u8(u8::from(*done));
            }
        }
        out
    }

    /// Parses a payload; rejects unknown versions and kinds and trailing bytes.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut c = Cursor::new(payload);
        let version: u32 = c.read_var().map_err(bad)?;
        if version != VERSION {
            return Err(DocError::Message(format!(
                "unknown message version {version}"
            )));
        }
        let msg = match c.read_var::<u32>().map_err(bad)? {
            KIND_JOIN => Custom::Join(read_session(&mut c)?),
            KIND_SESSIONS => {
                let n: usize = c.read_var().map_err(bad)?;
                // n comes from the wire: grow as entries actually parse, not up front.
                let mut list = Vec::new();
                for _ in 0..n {
                    list.push(read_session(&mut c)?);
                }
                Custom::Sessions(list)
            }
            KIND_ERROR => Custom::Error {
                client: c.read_var().map_err(bad)?,
                code: c.read_var().map_err(bad)?,
                text: read_string(&mut c)?,
            },
            KIND_AI_ANSWER => Custom::AiAnswer {
                request: read_string(&mut c)?,
                text: read_string(&mut c)?,
                done: c.read_u8().map_err(bad)? != 0,
            },
            kind => return Err(DocError::Message(format!("unknown message kind {kind}"))),
        };
        if c.has_content() {
            return Err(DocError::Message("trailing bytes after message".into()));
        }
        Ok(msg)
    }
}

fn write_session(out: &mut Vec<u8>, s: &Session) {
    out.write_var(s.client);
    out.write_string(&s.user);
}

fn read_session(c: &mut Cursor<'_>) -> Result<Session> {
    Ok(Session {
        client: c.read_var().map_err(bad)?,
        user: read_string(c)?,
    })
}

fn read_string(c: &mut Cursor<'_>) -> Result<String> {
    c.read_string().map(str::to_string).map_err(bad)
}

fn bad(e: impl std::fmt::Display) -> DocError {
    DocError::Message(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Replica, TextDoc};
    use std::collections::HashMap;
    use yrs::sync::awareness::AwarenessUpdateEntry;
    use yrs::StateVector;

    fn round_trip(m: ChannelMessage) -> Vec<u8> {
        let bytes = m.encode();
        assert_eq!(ChannelMessage::decode(&bytes).unwrap(), m);
        bytes
    }

    #[test]
    fn sync_messages_use_y_sync_framing() {
        let doc = TextDoc::with_client_id(5);
        let update = doc.insert(0, "hi").unwrap();
        let sv = StateVector::decode_v1(&doc.state_vector_v1()).unwrap();
        let step1 = round_trip(ChannelMessage::Sync(SyncMessage::SyncStep1(sv)));
        assert_eq!(&step1[..2], &[0, 0]);
        let step2 = round_trip(ChannelMessage::Sync(SyncMessage::SyncStep2(update.clone())));
        assert_eq!(&step2[..2], &[0, 1]);
        let upd = round_trip(ChannelMessage::Sync(SyncMessage::Update(update.clone())));
        assert_eq!(upd[..3], [0, 2, update.len() as u8]);
        assert_eq!(&upd[3..], &update[..]);
        assert_eq!(round_trip(ChannelMessage::AwarenessQuery), vec![3]);
    }

    #[test]
    fn awareness_round_trips() {
        let entry = AwarenessUpdateEntry {
            clock: 3,
            json: r#"{"user":"ann","cursor":4}"#.into(),
        };
        let clients = HashMap::from([(crate::replica::client_id(9), entry)]);
        let bytes = round_trip(ChannelMessage::Awareness(AwarenessUpdate { clients }));
        assert_eq!(bytes[0], 1);
    }

    #[test]
    fn our_messages_round_trip_with_documented_bytes() {
        let join = round_trip(ChannelMessage::Custom(Custom::Join(Session {
            client: 300,
            user: "ann".into(),
        })));
        // tag 100, payload length 8: version 1, kind 0, client 300 = varuint ac 02, "ann".
        assert_eq!(join, [100, 8, 1, 0, 0xac, 0x02, 3, b'a', b'n', b'n']);
        round_trip(ChannelMessage::Custom(Custom::Sessions(vec![
            Session {
                client: 1,
                user: "a".into(),
            },
            Session {
                client: 2,
                user: "b".into(),
            },
        ])));
        round_trip(ChannelMessage::Custom(Custom::Error {
            client: 0,
            code: 7,
            text: "no".into(),
        }));
        round_trip(ChannelMessage::Custom(Custom::AiAnswer {
            request: "r1".into(),
            text: "42".into(),
            done: true,
        }));
    }

    #[test]
    fn bad_messages_are_errors() {
        for bytes in [
            vec![],
            vec![100, 2, 2, 0],    // version 2
            vec![100, 2, 1, 9],    // kind 9
            vec![100, 3, 1, 2, 0], // error without code/text
            vec![100, 3, 1, 0, 1], // join without user
            vec![101, 0],          // unknown tag
            vec![2, 0],            // auth
        ] {
            assert!(ChannelMessage::decode(&bytes).is_err(), "{bytes:?}");
        }
        let mut payload = Custom::Join(Session {
            client: 1,
            user: "x".into(),
        })
        .encode();
        payload.push(0);
        assert!(Custom::decode(&payload).is_err());
    }
}
