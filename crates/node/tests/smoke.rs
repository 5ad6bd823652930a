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

#[test]
fn requirepass_and_auth_match_redis() {
    let mut d = Differential::with_config(&["--requirepass", "s3cret"]);
    d.check_script(
        "GET a
         AUTH wrong
         AUTH default wrong
         AUTH a b c
         HELLO 3 AUTH default wrong
         PING
         AUTH s3cret
         SET a 1
         GET a",
    );
    let mut fresh_ours = d.ours.conn();
    let mut fresh_redis = d.redis.conn();
    for c in [&mut fresh_ours, &mut fresh_redis] {
        assert_eq!(
            c.cmd(&["HELLO", "2", "AUTH", "default", "s3cret"]).clone(),
            c_ok_hello(c)
        );
    }
}

/// After a successful HELLO the connection is authenticated: a GET works.
fn c_ok_hello(c: &mut Conn) -> Frame {
    let f = c.cmd(&["GET", "a"]);
    assert_eq!(f, bulk("1"));
    c.cmd(&["HELLO", "2", "AUTH", "default", "s3cret"])
}

#[test]
fn auth_without_password_configured() {
    let mut d = Differential::new();
    d.check_script("AUTH foo\nAUTH default foo\nAUTH default x y");
}

#[test]
fn oversized_bulk_and_query_buffer_are_refused() {
    let args = [
        "--proto-max-bulk-len",
        "1mb",
        "--client-query-buffer-limit",
        "1mb",
    ];
    let mut d = Differential::with_config(&args);
    d.a.send_raw(b"*1\r\n$2000000\r\n");
    d.b.send_raw(b"*1\r\n$2000000\r\n");
    assert_eq!(show(&d.a.read_raw()), show(&d.b.read_raw()));
    assert!(d.a.is_closed());
    // A request that fits the bulk limit but not the query buffer: closed, no reply.
    let mut a = d.ours.conn();
    // Like Redis: the bulk at the limit plus its CRLF no longer fits the query buffer.
    let mut big = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 1_048_576));
    big.extend_from_slice(b"\r\n*1\r\n$4\r\nPING\r\n");
    let _ = std::io::Write::write_all(&mut a.stream, &big);
    assert!(
        a.is_closed(),
        "client over the query buffer limit is disconnected"
    );
    assert_eq!(
        d.ours.conn().cmd(&["PING"]),
        Frame::Simple(b"PONG".to_vec())
    );
}

#[test]
fn loads_a_config_file_with_unknown_directives() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("rustidocs-conf-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!("# a Redis config\nport {port}\nbind 127.0.0.1\nsave 900 1\nsave 300 10\nmaxclients 50\nsome-future-directive yes\nrequirepass \"p w\"\n"),
    )
    .unwrap();
    let mut child = std::process::Command::new(node_binary())
        .arg(&conf)
        .args(["--dir", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut conn = loop {
        if let Ok(c) = Conn::try_connect(port) {
            break c;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(conn.cmd(&["AUTH", "p w"]), ok());
    assert_eq!(conn.cmd(&["SET", "x", "1"]), ok());
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
