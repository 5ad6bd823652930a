//! Parsing replies (any RESP2/RESP3 frame) as a client sees them: used by tests, the
//! differential checker and tools that read a server's raw output.

/// A decoded RESP2/RESP3 frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    Null,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Double(Vec<u8>),
    Boolean(bool),
    Verbatim(Vec<u8>),
    BigNumber(Vec<u8>),
}

fn line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rel = buf.get(from..)?.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[from..from + rel], from + rel + 2))
}

fn num(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

impl Frame {
    /// Decodes one frame at the start of `buf`; `None` if incomplete or malformed.
    /// Returns the frame and how many bytes it used.
    pub fn parse(buf: &[u8]) -> Option<(Frame, usize)> {
        Self::parse_at(buf, 0)
    }

    fn parse_at(buf: &[u8], at: usize) -> Option<(Frame, usize)> {
        let kind = *buf.get(at)?;
        let (head, next) = line(buf, at + 1)?;
        let head_vec = || head.to_vec();
        Some(match kind {
            b'+' => (Frame::Simple(head_vec()), next),
            b'-' => (Frame::Error(head_vec()), next),
            b':' => (Frame::Integer(num(head)?), next),
            b',' => (Frame::Double(head_vec()), next),
            b'(' => (Frame::BigNumber(head_vec()), next),
            b'#' => (Frame::Boolean(head == b"t"), next),
            b'_' => (Frame::Null, next),
            b'$' | b'=' | b'!' => {
                let n = num(head)?;
                if n < 0 {
                    return Some((Frame::Null, next));
                }
                let end = next + n as usize;
                if buf.len() < end + 2 {
                    return None;
                }
                let data = buf[next..end].to_vec();
                let f = match kind {
                    b'$' => Frame::Bulk(data),
                    b'=' => Frame::Verbatim(data),
                    _ => Frame::Error(data),
                };
                (f, end + 2)
            }
            b'*' | b'~' | b'>' | b'%' => {
                let n = num(head)?;
                if n < 0 {
                    return Some((Frame::Null, next));
                }
                let items = if kind == b'%' { 2 * n } else { n } as usize;
                let mut pos = next;
                let mut v = Vec::with_capacity(items.min(4096));
                for _ in 0..items {
                    let (f, p) = Self::parse_at(buf, pos)?;
                    v.push(f);
                    pos = p;
                }
                let f = match kind {
                    b'*' => Frame::Array(v),
                    b'~' => Frame::Set(v),
                    b'>' => Frame::Push(v),
                    _ => {
                        let mut pairs = Vec::with_capacity(v.len() / 2);
                        let mut it = v.into_iter();
                        while let (Some(k), Some(val)) = (it.next(), it.next()) {
                            pairs.push((k, val));
                        }
                        Frame::Map(pairs)
                    }
                };
                (f, pos)
            }
            _ => return None,
        })
    }
}

/// Length of the complete frame at the start of `buf`, if it is all there.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    Frame::parse(buf).map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_incomplete() {
        let wire = b"*3\r\n:1\r\n$3\r\nabc\r\n%1\r\n+k\r\n_\r\n";
        let (f, n) = Frame::parse(wire).unwrap();
        assert_eq!(n, wire.len());
        assert_eq!(
            f,
            Frame::Array(vec![
                Frame::Integer(1),
                Frame::Bulk(b"abc".to_vec()),
                Frame::Map(vec![(Frame::Simple(b"k".to_vec()), Frame::Null)])
            ])
        );
        for cut in 0..wire.len() {
            assert!(frame_len(&wire[..cut]).is_none());
        }
    }
}
