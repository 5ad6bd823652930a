//! Basic start-up, protocol and string behaviour against the reference server.

mod common;
use common::*;

#[test]
fn prints_pid_and_ready_and_exits_on_sigterm() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("rustidocs-smoke-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = std::process::Command::new(node_binary())
        .args([
            "--port",
            &port.to_string(),
            "--dir",
            dir.to_str().unwrap(),
            "--some-unknown-directive",
            "x",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen_pid = false;
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 {
        seen_pid |= line.contains(&format!(" PID: {}", child.id()));
        if line.contains("Ready to accept connections") {
            break;
        }
        line.clear();
    }
    assert!(seen_pid, "PID line printed");
    assert_eq!(
        Conn::connect(port).cmd(&["PING"]),
        Frame::Simple(b"PONG".to_vec())
    );
    send_sigterm(child.id());
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(dir);
}

fn send_sigterm(pid: u32) {
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
}

#[test]
fn strings_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "SET a 1
         GET a
         INCR a
         INCRBY a 10
         DECRBY a 3
         DECR a
         INCRBYFLOAT a 1.5
         INCRBYFLOAT a 0.1
         SET a 10.5
         INCRBYFLOAT a 0.1
         INCR a
         SET big 9223372036854775807
         INCR big
         SET s hello
         APPEND s world
         STRLEN s
         GETRANGE s 0 3
         GETRANGE s -3 -1
         GETRANGE s 5 1
         GETRANGE s -100 100
         SETRANGE s 12 X
         GET s
         SETRANGE s -1 x
         SET k v NX
         SET k v XX
         SET k v2 XX GET
         SET k v NX XX
         SET k v EX 0
         SET k v EX abc
         SET k v PX 100 EX 100
         SET k v KEEPTTL EX 10
         SETNX k x
         SETNX k2 x
         GETSET k2 y
         GETDEL k2
         GETDEL k2
         MSET a 1 b 2 c 3
         MGET a b c nosuch
         MSET a 1 b
         MSETNX a 1 zz 2
         MSETNX yy 1 zz 2
         GETEX a PERSIST
         GETEX a EX 100 PX 100
         SETEX e 0 v
         SETEX e 100 v
         PSETEX e 100000 v
         GET nosuch
         GET
         INCR s
         INCRBY a x
         INCRBYFLOAT a x
         SET f 1e3
         INCRBYFLOAT f 1
         SET f 3.0
         INCRBYFLOAT f 1.5",
    );
}

#[test]
fn protocol_errors_match_redis() {
    let mut d = Differential::new();
    for bad in [
        &b"*1\r\nx\r\n"[..],
        b"*abc\r\n",
        b"*1\r\n$-5\r\n",
        b"set \"a\r\n",
    ] {
        let ours = {
            d.a = d.ours.conn();
            d.a.send_raw(bad);
            d.a.read_raw()
        };
        let theirs = {
            d.b = d.redis.conn();
            d.b.send_raw(bad);
            d.b.read_raw()
        };
        assert_eq!(show(&ours), show(&theirs));
        assert!(d.a.is_closed(), "connection closed after protocol error");
    }
}

#[test]
fn inline_and_pipelined_commands() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.send_raw(b"PING\r\nSET x \"a b\"\r\nGET x\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n");
    assert_eq!(c.read(), Frame::Simple(b"PONG".to_vec()));
    assert_eq!(c.read(), ok());
    assert_eq!(c.read(), bulk("a b"));
    assert_eq!(c.read(), bulk("a b"));
}
