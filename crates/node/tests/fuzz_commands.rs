//! Property test of command argument parsing: random commands from the real command
//! table with random, often malformed arguments, run in-process through the same
//! dispatch a connection uses. No input may panic, and every reply must be well-formed
//! RESP (complete frames, nothing left over).

mod common;

use common::inproc::InProc;
use node::cmd::table;
use proptest::prelude::*;
use resp::Frame;

/// Commands left out: they sleep, stop the server or change how replies are framed.
const EXCLUDED: &[&str] = &["debug", "shutdown", "monitor", "sync", "psync", "replconf"];

fn command_names() -> Vec<String> {
    table::all_commands()
        .map(|c| c.name.to_string())
        .filter(|n| !EXCLUDED.contains(&n.as_str()))
        .collect()
}

fn subcommand_words() -> Vec<String> {
    let mut words: Vec<String> = table::all_commands()
        .flat_map(|c| c.subcommands.iter().map(|s| s.name.to_string()))
        .filter(|s| s != "reply" && s != "kill" && s != "pause")
        .collect();
    words.push("help".into());
    words
}

/// Argument words that hit options, numbers at their limits and malformed values.
fn arg_strategy() -> impl Strategy<Value = Vec<u8>> {
    let words: Vec<&'static str> = vec![
        "k1",
        "k2",
        "{k}1",
        "{k}2",
        "field",
        "member",
        "0",
        "1",
        "-1",
        "2",
        "5",
        "10",
        "100",
        "-100",
        "1.5",
        "-0.5",
        "inf",
        "-inf",
        "+inf",
        "nan",
        "abc",
        "",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551616",
        "NX",
        "XX",
        "GT",
        "LT",
        "CH",
        "INCR",
        "EX",
        "PX",
        "EXAT",
        "PXAT",
        "KEEPTTL",
        "GET",
        "PERSIST",
        "COUNT",
        "MATCH",
        "TYPE",
        "LIMIT",
        "WITHSCORES",
        "BYSCORE",
        "BYLEX",
        "REV",
        "LEFT",
        "RIGHT",
        "BEFORE",
        "AFTER",
        "RANK",
        "MAXLEN",
        "MINID",
        "~",
        "=",
        "*",
        "$",
        "+",
        "-",
        "(1",
        "[a",
        "0-1",
        "1-*",
        "STREAMS",
        "BLOCK",
        "WEIGHTS",
        "AGGREGATE",
        "SUM",
        "MIN",
        "MAX",
        "WITHVALUES",
        "REPLACE",
        "DB",
        "ASYNC",
        "SYNC",
        "ID",
        "ADDR",
        "SKIPME",
        "h*",
        "[",
        "\\",
        "*?",
        "NOMKSTREAM",
        "NUMSUB",
        "CHANNELS",
        "ENCODING",
        "REFCOUNT",
        "3",
        "2",
    ];
    prop_oneof![
        8 => proptest::sample::select(words).prop_map(|w| w.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..12),
        1 => (-30i64..300).prop_map(|n| n.to_string().into_bytes()),
    ]
}

fn command_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let names = command_names();
    let subs = subcommand_words();
    (
        proptest::sample::select(names),
        proptest::option::of(proptest::sample::select(subs)),
        proptest::collection::vec(arg_strategy(), 0..7),
    )
        .prop_map(|(name, sub, rest)| {
            let mut cmd = vec![name.into_bytes()];
            if let Some(s) = sub {
                cmd.push(s.into_bytes());
            }
            cmd.extend(rest);
            cmd
        })
}

/// Asserts `buf` is a sequence of complete RESP frames with nothing left over.
fn assert_well_formed(buf: &[u8], cmd: &[Vec<u8>]) {
    let mut pos = 0;
    while pos < buf.len() {
        match Frame::parse(&buf[pos..]) {
            Some((_, n)) => pos += n,
            None => panic!(
                "malformed reply to {:?}: {:?}",
                cmd.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>(),
                String::from_utf8_lossy(&buf[pos..])
            ),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_never_panic_and_reply_well_formed(cmds in proptest::collection::vec(command_strategy(), 1..40)) {
        let mut p = InProc::new("proto-max-bulk-len 1mb\nenable-debug-command no\n");
        // Propagation on, so rewriting code paths run too; the stream must be well-formed.
        node::propagate::set_enabled(&p.srv, true);
        for cmd in &cmds {
            let reply = p.run_bytes(cmd.iter().map(Vec::as_slice));
            assert_well_formed(&reply, cmd);
            p.client.shared.pending_out.borrow_mut().clear();
        }
        let propagated = p.srv.propagator.borrow_mut().take();
        assert_well_formed(&propagated, &[b"(propagation stream)".to_vec()]);
    }
}
