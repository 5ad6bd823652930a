//! What the propagation stream (the source of the AOF and of replication) carries for
//! a command: SELECT when the database changes, the command when it changed data,
//! MULTI/EXEC around transactions, DEL for expired keys.

mod common;
use common::inproc::InProc;
use common::show;

fn stream(p: &mut InProc) -> String {
    show(&p.srv.propagator.borrow_mut().take())
}

fn enabled() -> InProc {
    let p = InProc::new("");
    node::propagate::set_enabled(&p.srv, true);
    p
}

fn cmd(words: &[&str]) -> String {
    let mut out = format!("*{}\r\n", words.len());
    for w in words {
        out.push_str(&format!("${}\r\n{w}\r\n", w.len()));
    }
    out.replace("\r\n", "\\r\\n")
}

#[test]
fn writes_propagate_reads_do_not() {
    let mut p = enabled();
    p.run("SET a 1");
    p.run("GET a");
    p.run("INCR a");
    p.run("SET b 1 NX");
    p.run("SET b 1 NX");
    p.run("DEL nosuch");
    let want = [
        cmd(&["SELECT", "0"]),
        cmd(&["SET", "a", "1"]),
        cmd(&["INCR", "a"]),
        cmd(&["SET", "b", "1", "NX"]),
    ]
    .concat();
    assert_eq!(stream(&mut p), want);
    p.run("SELECT 3");
    p.run("SET c 1");
    assert_eq!(
        stream(&mut p),
        [cmd(&["SELECT", "3"]), cmd(&["SET", "c", "1"])].concat()
    );
}

#[test]
fn transactions_are_wrapped_and_empty_ones_vanish() {
    let mut p = enabled();
    p.run("SET a 1");
    stream(&mut p);
    for line in ["MULTI", "INCR a", "GET a", "INCR a", "EXEC"] {
        p.run(line);
    }
    let want = [
        cmd(&["MULTI"]),
        cmd(&["INCR", "a"]),
        cmd(&["INCR", "a"]),
        cmd(&["EXEC"]),
    ]
    .concat();
    assert_eq!(stream(&mut p), want);
    for line in ["MULTI", "GET a", "EXEC"] {
        p.run(line);
    }
    assert_eq!(stream(&mut p), "");
}

#[test]
fn expired_keys_propagate_as_del() {
    let mut p = enabled();
    p.run("SET a 1");
    p.run("PEXPIRE a 20");
    stream(&mut p);
    std::thread::sleep(std::time::Duration::from_millis(30));
    p.run("GET a");
    assert_eq!(stream(&mut p), cmd(&["DEL", "a"]));
}

#[test]
fn nothing_is_kept_while_disabled() {
    let mut p = InProc::new("");
    p.run("SET a 1");
    assert_eq!(stream(&mut p), "");
}
