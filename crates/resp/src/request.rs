//! Parsing client requests (multibulk and inline) into argument offsets, the way
//! Redis's `processMultibulkBuffer` / `processInlineBuffer` do, without copying.

use crate::inline::split_args;

/// Longest inline command, and longest `*`/`$` header line, Redis accepts (64 KiB).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// A protocol error: the client gets `-ERR Protocol error: <message>` and is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(msg: impl Into<String>) -> Self {
        ProtocolError(msg.into())
    }
}

/// One complete request found at the start of the buffer passed to [`RequestParser::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Bytes of the buffer this request used (including an empty request's bytes).
    pub consumed: usize,
    /// True when the arguments live in [`RequestParser::inline_bytes`] instead of the buffer.
    pub inline: bool,
}

/// Progress through a multibulk request that has not fully arrived yet.
#[derive(Debug, Clone, Copy)]
struct Partial {
    remaining: usize,
    pos: usize,
}

/// A resumable request parser. Arguments are `(start, end)` offsets relative to the
/// start of the request, so a caller may move an incomplete request to the front of its
/// buffer between calls; partial progress is kept so a huge request is not re-scanned.
#[derive(Debug)]
pub struct RequestParser {
    args: Vec<(usize, usize)>,
    inline: Vec<u8>,
    partial: Option<Partial>,
    max_bulk_len: usize,
    /// Bytes the current partial request needs before it can complete, when known.
    wanted: usize,
}

impl RequestParser {
    pub fn new(max_bulk_len: usize) -> Self {
        RequestParser {
            args: Vec::with_capacity(8),
            inline: Vec::new(),
            partial: None,
            max_bulk_len,
            wanted: 0,
        }
    }

    pub fn set_max_bulk_len(&mut self, n: usize) {
        self.max_bulk_len = n;
    }

    /// Argument offsets of the last complete request.
    pub fn args(&self) -> &[(usize, usize)] {
        &self.args
    }

    /// Backing bytes of an inline request's arguments.
    pub fn inline_bytes(&self) -> &[u8] {
        &self.inline
    }

    /// How many bytes (from the request start) are needed before parsing can finish; 0
    /// when unknown. Lets a caller reserve room for a large bulk argument in one step.
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    /// True while a multibulk request is partly parsed.
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Parses one request from `buf`, which must start where the previous incomplete
    /// request started (or at a fresh request). `Ok(None)` means more bytes are needed.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<Request>, ProtocolError> {
        let result = self.parse_inner(buf);
        if result.is_err() {
            self.partial = None;
        }
        result
    }

    fn parse_inner(&mut self, buf: &[u8]) -> Result<Option<Request>, ProtocolError> {
        if self.partial.is_none() {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return self.parse_inline(buf);
            }
            self.args.clear();
            self.wanted = 0;
            let Some(line_end) = find_cr(buf, 1) else {
                if buf.len() > INLINE_MAX_SIZE {
                    return Err(ProtocolError::new("too big mbulk count string"));
                }
                return Ok(None);
            };
            if line_end + 1 >= buf.len() {
                return Ok(None);
            }
            let count = parse_i64(&buf[1..line_end])
                .filter(|n| *n <= i32::MAX as i64)
                .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
            let pos = line_end + 2;
            if count <= 0 {
                return Ok(Some(Request {
                    consumed: pos,
                    inline: false,
                }));
            }
            self.args.reserve(count.min(1024) as usize);
            self.partial = Some(Partial {
                remaining: count as usize,
                pos,
            });
        }
        self.continue_multibulk(buf)
    }

    fn continue_multibulk(&mut self, buf: &[u8]) -> Result<Option<Request>, ProtocolError> {
        let Partial {
            mut remaining,
            mut pos,
        } = self.partial.expect("partial state");
        while remaining > 0 {
            let Some(line_end) = find_cr(buf, pos) else {
                if buf.len() - pos > INLINE_MAX_SIZE {
                    return Err(ProtocolError::new("too big bulk count string"));
                }
                break;
            };
            if line_end + 1 >= buf.len() {
                break;
            }
            if buf[pos] != b'$' {
                return Err(ProtocolError(format!(
                    "expected '$', got '{}'",
                    buf[pos] as char
                )));
            }
            let len = parse_i64(&buf[pos + 1..line_end])
                .filter(|n| *n >= 0 && (*n as u64) <= self.max_bulk_len as u64)
                .ok_or_else(|| ProtocolError::new("invalid bulk length"))?
                as usize;
            let start = line_end + 2;
            // Like Redis, the two bytes after the data are skipped, not checked.
            if buf.len() < start + len + 2 {
                self.wanted = start + len + 2;
                break;
            }
            self.args.push((start, start + len));
            pos = start + len + 2;
            remaining -= 1;
        }
        if remaining > 0 {
            self.partial = Some(Partial { remaining, pos });
            return Ok(None);
        }
        self.partial = None;
        self.wanted = 0;
        Ok(Some(Request {
            consumed: pos,
            inline: false,
        }))
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<Request>, ProtocolError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > INLINE_MAX_SIZE {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        self.args.clear();
        self.inline.clear();
        let parts = split_args(&buf[..line_end])
            .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        for part in parts {
            let start = self.inline.len();
            self.inline.extend_from_slice(&part);
            self.args.push((start, self.inline.len()));
        }
        Ok(Some(Request {
            consumed: nl + 1,
            inline: true,
        }))
    }
}

fn find_cr(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == b'\r')
        .map(|i| i + from)
}

/// Redis's `string2ll`: optional '-', digits, no leading zeros or '+', no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(p: &RequestParser, buf: &[u8], req: Request) -> Vec<Vec<u8>> {
        let base = if req.inline { p.inline_bytes() } else { buf };
        p.args().iter().map(|&(s, e)| base[s..e].to_vec()).collect()
    }

    #[test]
    fn multibulk_whole_and_split() {
        let wire = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
        let mut p = RequestParser::new(512 << 20);
        let req = p.parse(wire).unwrap().unwrap();
        assert_eq!(req.consumed, wire.len());
        assert_eq!(
            args_of(&p, wire, req),
            vec![b"GET".to_vec(), b"key".to_vec()]
        );
        for cut in 1..wire.len() {
            let mut p = RequestParser::new(512 << 20);
            assert_eq!(p.parse(&wire[..cut]).unwrap(), None, "cut at {cut}");
            let req = p.parse(wire).unwrap().unwrap();
            assert_eq!(
                args_of(&p, wire, req),
                vec![b"GET".to_vec(), b"key".to_vec()]
            );
        }
    }

    #[test]
    fn inline_and_errors() {
        let mut p = RequestParser::new(512 << 20);
        let buf = b"set a \"b c\"\r\n";
        let req = p.parse(buf).unwrap().unwrap();
        assert_eq!(
            args_of(&p, buf, req),
            vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()]
        );
        assert!(p.parse(b"set \"a\r\n").is_err());
        assert_eq!(
            p.parse(b"*1\r\nx\r\n").unwrap_err().0,
            "expected 'x', got 'x'".replacen("'x', got", "'$', got", 1)
        );
        assert_eq!(
            p.parse(b"*a\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        let mut small = RequestParser::new(10);
        assert_eq!(
            small.parse(b"*1\r\n$11\r\n").unwrap_err().0,
            "invalid bulk length"
        );
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-0"), None);
    }
}
