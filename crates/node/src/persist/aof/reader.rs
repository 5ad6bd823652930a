//! Reads an AOF's commands (RESP arrays of bulk strings) one at a time, with their
//! offsets, telling a record cut short by the end of the file from a malformed one.

use std::io::BufRead;

/// Why reading stopped before the end of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The file ends inside the record starting at `offset` (a torn last write).
    Truncated { offset: u64 },
    /// The bytes at `at` are not a valid record (the record starts at `offset`).
    Corrupt {
        offset: u64,
        at: u64,
        reason: String,
    },
}

/// One command: its arguments and its byte range in the file.
pub struct Record {
    pub args: Vec<Vec<u8>>,
    pub start: u64,
    pub end: u64,
}

/// Longest header line accepted (`*<count>` / `$<len>`), and the largest count and
/// bulk length, as Redis's loader bounds them.
const MAX_HEADER: usize = 32;
const MAX_BULK: u64 = 512 << 20;

pub struct AofReader<R> {
    inner: R,
    pos: u64,
    line: Vec<u8>,
}

impl<R: BufRead> AofReader<R> {
    pub fn new(inner: R) -> Self {
        AofReader {
            inner,
            pos: 0,
            line: Vec::with_capacity(MAX_HEADER),
        }
    }

    /// Offset just past the last record read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The next record, `Ok(None)` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        let start = self.pos;
        let count = match self.header(start, b'*')? {
            None => return Ok(None),
            Some(n) => n,
        };
        if count == 0 {
            return Err(self.corrupt(start, start, "empty command"));
        }
        let mut args = Vec::with_capacity(count.min(1024) as usize);
        for _ in 0..count {
            let at = self.pos;
            let len = self
                .header(start, b'$')?
                .ok_or(ReadError::Truncated { offset: start })?;
            if len > MAX_BULK {
                return Err(self.corrupt(start, at, "bulk length out of range"));
            }
            let mut arg = vec![0; len as usize + 2];
            self.read_exact(&mut arg, start)?;
            if !arg.ends_with(b"\r\n") {
                let at = self.pos - 2;
                return Err(self.corrupt(start, at, "expected \\r\\n after the argument"));
            }
            arg.truncate(len as usize);
            args.push(arg);
        }
        Ok(Some(Record {
            args,
            start,
            end: self.pos,
        }))
    }

    /// Reads a `<prefix><number>\r\n` line; `None` at end of file before any byte.
    fn header(&mut self, record: u64, prefix: u8) -> Result<Option<u64>, ReadError> {
        let at = self.pos;
        self.line.clear();
        let n = <&mut R as std::io::Read>::take(&mut self.inner, MAX_HEADER as u64)
            .read_until(b'\n', &mut self.line)
            .map_err(|e| self.corrupt(record, at, &e.to_string()))?;
        self.pos += n as u64;
        if n == 0 && prefix == b'*' {
            return Ok(None);
        }
        if !self.line.ends_with(b"\n") {
            if n < MAX_HEADER && self.inner.fill_buf().map_or(true, |b| b.is_empty()) {
                return Err(ReadError::Truncated { offset: record });
            }
            return Err(self.corrupt(record, at, "header line too long"));
        }
        let digits = match self.line.strip_suffix(b"\r\n") {
            Some(body) if body.first() == Some(&prefix) => &body[1..],
            _ => {
                let what = if prefix == b'*' { "'*'" } else { "'$'" };
                return Err(self.corrupt(record, at, &format!("expected {what}")));
            }
        };
        match std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(v) if !digits.is_empty() && digits[0] != b'+' => Ok(Some(v)),
            _ => Err(self.corrupt(record, at, "invalid number")),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8], record: u64) -> Result<(), ReadError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => return Err(ReadError::Truncated { offset: record }),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.corrupt(record, self.pos, &e.to_string())),
            }
        }
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn corrupt(&self, offset: u64, at: u64, reason: &str) -> ReadError {
        ReadError::Corrupt {
            offset,
            at,
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (usize, Result<(), ReadError>) {
        let mut r = AofReader::new(bytes);
        let mut n = 0;
        loop {
            match r.next_record() {
                Ok(Some(_)) => n += 1,
                Ok(None) => return (n, Ok(())),
                Err(e) => return (n, Err(e)),
            }
        }
    }

    const TWO: &[u8] =
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";

    #[test]
    fn every_cut_is_a_truncation_after_complete_records() {
        for cut in 0..TWO.len() {
            let (n, res) = read_all(&TWO[..cut]);
            let first_end = 23;
            if cut == 0 || cut == first_end {
                assert_eq!(res, Ok(()), "cut {cut}");
            } else {
                let offset = if cut < first_end { 0 } else { first_end as u64 };
                assert_eq!(res, Err(ReadError::Truncated { offset }), "cut {cut}");
            }
            assert_eq!(n, usize::from(cut >= first_end));
        }
        assert_eq!(read_all(TWO), (2, Ok(())));
    }

    #[test]
    fn bad_framing_is_corruption() {
        let mut bad = TWO.to_vec();
        bad[23] = b'x';
        assert!(matches!(
            read_all(&bad),
            (1, Err(ReadError::Corrupt { offset: 23, .. }))
        ));
        let mut bad = TWO.to_vec();
        bad[14] = b'X'; // the \r after SELECT
        assert!(matches!(
            read_all(&bad),
            (0, Err(ReadError::Corrupt { offset: 0, .. }))
        ));
    }
}
