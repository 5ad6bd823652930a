//! Real clients against our node: redis-rs, redis-py (RESP2 and RESP3), redis-cli and
//! redis-benchmark, used as their users would use them.

mod common;
use common::*;
use std::process::Command;

#[test]
fn redis_rs_commands_pipelines_transactions() {
    let server = Server::start(&[]);
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
    let (a, b): (i64, Vec<String>) = redis::pipe()
        .cmd("RPUSH")
        .arg("l")
        .arg("x")
        .arg("y")
        .cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!((a, b), (2, vec!["x".to_string(), "y".to_string()]));
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("ctr")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let members: Vec<String> = {
        let _: i64 = redis::cmd("SADD")
            .arg("s")
            .arg("m1")
            .arg("m2")
            .query(&mut con)
            .unwrap();
        let mut m: Vec<String> = redis::cmd("SMEMBERS").arg("s").query(&mut con).unwrap();
        m.sort();
        m
    };
    assert_eq!(members, ["m1", "m2"]);
}

#[test]
fn redis_rs_resp3() {
    let server = Server::start(&[]);
    let client = redis::Client::open(format!("{}?protocol=resp3", server.url())).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let map: std::collections::HashMap<String, String> =
        redis::cmd("HGETALL").arg("h").query(&mut con).unwrap();
    assert_eq!(map.get("f").map(String::as_str), Some("v"));
}

fn run_python(port: u16, protocol: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/client_smoke.py");
    let out = Command::new("python3")
        .args([script, &port.to_string(), protocol])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "redis-py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn redis_py_resp2_and_resp3() {
    // The script runs against the reference too, so its expectations are Redis's.
    for server in [Server::start(&[]), Server::start_redis(&[])] {
        run_python(server.port, "2");
        run_python(server.port, "3");
    }
}

#[test]
fn redis_cli_and_benchmark() {
    let server = Server::start(&[]);
    let port = server.port.to_string();
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(&port)
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["set", "a", "hello world"]), "OK");
    assert_eq!(cli(&["get", "a"]), "hello world");
    assert_eq!(cli(&["--no-raw", "get", "a"]), "\"hello world\"");
    assert_eq!(cli(&["rpush", "l", "1", "2"]), "2");
    assert_eq!(
        cli(&["--no-raw", "lrange", "l", "0", "-1"]),
        "1) \"1\"\n2) \"2\""
    );
    let out = Command::new("timeout")
        .args([
            "60",
            "redis-benchmark",
            "-p",
            &port,
            "-n",
            "2000",
            "-c",
            "5",
            "-q",
            "-t",
            "set,get,lpush,incr",
        ])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-benchmark: {text}");
    for t in ["SET", "GET", "LPUSH", "INCR"] {
        assert!(text.contains(&format!("{t}: ")), "{t} missing in {text}");
    }
}
