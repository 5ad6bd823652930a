//! Command arguments as slices of the read buffer (no copy per argument), an owned
//! form for queued and blocked commands, and the number parsers Redis applies to them.

use super::CmdError;

/// The arguments of one command; `args[0]` is the command name.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    base: &'a [u8],
    ranges: &'a [(usize, usize)],
}

impl<'a> Args<'a> {
    pub fn new(base: &'a [u8], ranges: &'a [(usize, usize)]) -> Self {
        Args { base, ranges }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn get(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.ranges[i];
        &self.base[s..e]
    }

    /// Arguments from `from` on.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &'a [u8]> + '_ {
        (from..self.len()).map(move |i| self.get(i))
    }

    pub fn to_owned(&self) -> OwnedArgs {
        let mut o = OwnedArgs::default();
        for i in 0..self.len() {
            o.push(self.get(i));
        }
        o
    }

    pub fn i64(&self, i: usize) -> Result<i64, CmdError> {
        parse_i64(self.get(i)).ok_or(CmdError::NotInteger)
    }

    pub fn f64(&self, i: usize) -> Result<f64, CmdError> {
        parse_f64(self.get(i)).ok_or(CmdError::NotFloat)
    }

    /// Case-insensitive comparison of argument `i` with an ASCII keyword.
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.get(i).eq_ignore_ascii_case(word.as_bytes())
    }

    /// The command name in lower case, as Redis shows it in errors.
    pub fn name_lower(&self) -> String {
        String::from_utf8_lossy(self.get(0)).to_lowercase()
    }
}

impl std::ops::Index<usize> for Args<'_> {
    type Output = [u8];
    fn index(&self, i: usize) -> &[u8] {
        self.get(i)
    }
}

/// Arguments stored in one buffer, for MULTI queues and blocked clients.
#[derive(Clone, Default, Debug)]
pub struct OwnedArgs {
    data: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl OwnedArgs {
    pub fn push(&mut self, arg: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(arg);
        self.ranges.push((start, self.data.len()));
    }

    pub fn from_slices<'b>(args: impl IntoIterator<Item = &'b [u8]>) -> Self {
        let mut o = OwnedArgs::default();
        for a in args {
            o.push(a);
        }
        o
    }

    pub fn args(&self) -> Args<'_> {
        Args::new(&self.data, &self.ranges)
    }

    /// Bytes held, for multi-mem in CLIENT LIST.
    pub fn mem(&self) -> usize {
        self.data.len() + self.ranges.len() * 16
    }
}

/// Redis's `string2ll`: strict decimal, no spaces, no '+', no leading zeros.
pub use resp::parse_i64;

/// Redis's `string2ld`/`strtod` acceptance for scores and increments: no spaces, no
/// NaN, `inf`/`-inf`/`+inf` allowed.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ if lower.contains("inf") || lower.contains("nan") => return None,
        _ => text.parse::<f64>().ok()?,
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_parsing_matches_redis() {
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"1.0"), None);
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
    }

    #[test]
    fn owned_args_round_trip() {
        let o = OwnedArgs::from_slices([&b"SET"[..], b"k", b""]);
        let a = o.args();
        assert_eq!(a.len(), 3);
        assert_eq!(a.get(1), b"k");
        assert!(a.is(0, "set"));
    }
}
