//! Property tests: the request parser never panics, and any encoded request split at
//! any point parses back to the same arguments.

use proptest::prelude::*;
use resp::RequestParser;

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Feeds `wire` in chunks the way a connection would, compacting consumed bytes.
fn feed(wire: &[u8], chunk: usize, max_bulk: usize) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let mut p = RequestParser::new(max_bulk);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match p.parse(&buf) {
                Ok(Some(req)) => {
                    let base = if req.inline {
                        p.inline_bytes()
                    } else {
                        &buf[..]
                    };
                    let args: Vec<Vec<u8>> =
                        p.args().iter().map(|&(s, e)| base[s..e].to_vec()).collect();
                    if !args.is_empty() {
                        out.push(args);
                    }
                    buf.drain(..req.consumed);
                }
                Ok(None) => break,
                Err(e) => return Err(e.0),
            }
        }
    }
    Ok(out)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512), chunk in 1usize..64) {
        let _ = feed(&data, chunk, 1 << 20);
    }

    #[test]
    fn mostly_valid_bytes_never_panic(
        parts in proptest::collection::vec(prop_oneof![
            Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()), Just(b"\n".to_vec()),
            Just(b"-1".to_vec()), Just(b"3".to_vec()), Just(b"\"".to_vec()), Just(b"'".to_vec()),
            Just(b"abc".to_vec()), Just(b" ".to_vec()), Just(b"99999999999999999999".to_vec())
        ], 0..40),
        chunk in 1usize..16
    ) {
        let data: Vec<u8> = parts.concat();
        let _ = feed(&data, chunk, 64);
    }

    #[test]
    fn encoded_requests_round_trip(
        reqs in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6), 1..5),
        chunk in 1usize..50
    ) {
        let wire: Vec<u8> = reqs.iter().flat_map(|r| encode(r)).collect();
        let parsed = feed(&wire, chunk, 1 << 20).unwrap();
        prop_assert_eq!(parsed, reqs);
    }
}
