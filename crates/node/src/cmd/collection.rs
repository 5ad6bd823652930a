//! Helpers shared by the aggregate families (sets, hashes, usable by ZSCAN too): SCAN
//! cursor and option parsing, the cursor walk over an indexed collection, random picks.

use resp::ReplyBuf;

use super::args::parse_i64;
use super::{Args, CmdError};

/// Collections this small are returned whole by the first scan call, as Redis does
/// for its compact encodings (listpack/intset), whatever COUNT says.
const SCAN_WHOLE_MAX: usize = 128;

/// Redis's `parseScanCursorOrReply` (`strtoul` rules): optional sign, decimal digits,
/// no leading space; `-n` wraps around; an empty string is cursor 0.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::msg("ERR invalid cursor");
    let Some(&first) = arg.first() else {
        return Ok(0);
    };
    if matches!(first, b' ' | b'\t'..=b'\r') {
        return Err(invalid());
    }
    let (neg, digits) = match first {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(invalid());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// The MATCH and COUNT options of SSCAN/HSCAN/ZSCAN.
pub struct ScanOpts<'a> {
    /// None when absent or `*` (matches everything).
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
}

impl<'a> ScanOpts<'a> {
    /// Parses the options from argument `from` on, with Redis's errors.
    pub fn parse(args: &Args<'a>, from: usize) -> Result<Self, CmdError> {
        let mut opts = ScanOpts {
            pattern: None,
            count: 10,
        };
        let mut i = from;
        while i < args.len() {
            let has_value = i + 1 < args.len();
            if args.is(i, "count") && has_value {
                let count = args.i64(i + 1)?;
                if count < 1 {
                    return Err(CmdError::Syntax);
                }
                opts.count = count as usize;
            } else if args.is(i, "match") && has_value {
                let p = args.get(i + 1);
                opts.pattern = (p != b"*").then_some(p);
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(opts)
    }

    pub fn matches(&self, text: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::glob::glob_match(p, text, false))
    }
}

/// Visits the indexes of a `len`-element indexed collection that one scan call from
/// `cursor` covers and returns the next cursor (0 when done). Indexes are walked from
/// the top down, so a swap- or shift-remove only moves elements that were already
/// returned or are still ahead: everything present throughout is returned at least once.
pub fn scan_indexes(len: usize, cursor: u64, count: usize, mut visit: impl FnMut(usize)) -> u64 {
    if cursor == 0 && len <= count.max(SCAN_WHOLE_MAX) {
        (0..len).for_each(visit);
        return 0;
    }
    let mut pos = match usize::try_from(cursor) {
        Ok(c) if c != 0 && c <= len => c,
        _ => len,
    };
    let mut budget = count;
    while pos > 0 && budget > 0 {
        pos -= 1;
        budget -= 1;
        visit(pos);
    }
    pos as u64
}

/// Writes a scan reply: the cursor as a bulk string, then the flat list of items.
pub fn reply_scan(out: &mut ReplyBuf, cursor: u64, items: &[&[u8]]) {
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(items.len());
    for item in items {
        out.bulk(item);
    }
}

/// The count of SRANDMEMBER/HRANDFIELD: an integer in ±`i64::MAX`.
pub fn parse_rand_count(arg: &[u8]) -> Result<i64, CmdError> {
    let v = parse_i64(arg).ok_or(CmdError::NotInteger)?;
    if v == i64::MIN {
        return Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(v)
}

/// Indexes of the elements SRANDMEMBER/HRANDFIELD with `count` return from a
/// collection of `len` (> 0): a negative count allows repeats, a count of at least
/// `len` returns everything in order, anything else is a uniform distinct sample.
pub fn random_indexes(len: usize, count: i64, mut rand: impl FnMut() -> u64) -> Vec<usize> {
    let n = count.unsigned_abs() as usize;
    let mut pick = |below: usize| (rand() % below as u64) as usize;
    if count < 0 || n == 1 {
        return (0..n).map(|_| pick(len)).collect();
    }
    if n >= len {
        return (0..len).collect();
    }
    if n * 3 > len {
        // Many picks: a partial Fisher-Yates shuffle of all indexes.
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..n {
            let j = i + pick(len - i);
            all.swap(i, j);
        }
        all.truncate(n);
        return all;
    }
    // Few picks: draw until `n` distinct ones were seen.
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let i = pick(len);
        if seen.insert(i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_parsing_follows_strtoul() {
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert!(parse_cursor(b"18446744073709551616").is_err());
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"1x").is_err());
        assert!(parse_cursor(b"-").is_err());
    }

    #[test]
    fn scan_walk_survives_removals() {
        // Remove an already-returned element between calls: nothing is missed.
        let mut items: Vec<u32> = (0..300).collect();
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = scan_indexes(items.len(), cursor, 7, |i| {
                seen.insert(items[i]);
            });
            if cursor == 0 {
                break;
            }
            let last = items.len() - 1;
            items.swap_remove(last.min(cursor as usize + 3));
        }
        assert!(items.iter().all(|x| seen.contains(x)));
    }

    #[test]
    fn random_indexes_follow_count_rules() {
        let mut state = 1u64;
        let mut rand = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            state >> 33
        };
        assert_eq!(random_indexes(3, 10, &mut rand), vec![0, 1, 2]);
        assert_eq!(random_indexes(3, -10, &mut rand).len(), 10);
        for n in [2, 40] {
            let mut v = random_indexes(50, n, &mut rand);
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), n as usize);
        }
    }
}
