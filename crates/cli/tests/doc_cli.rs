//! `rustidocs doc …` end to end: the real binary against a real 3-master cluster of our
//! nodes — create, list, edit, cat, cells with formulas, import/export, watch, errors.

mod common;

use common::{Nodes, BIN};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// A `doc` command against `nodes` (found through their cluster directory, as a user's
/// `cluster up` cluster is), with a fixed user name and no endpoint list from the caller's
/// environment.
fn doc_cmd(nodes: &Nodes, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("doc")
        .args(args)
        .arg("--dir")
        .arg(&nodes.dir)
        .env_remove("RUSTIDOCS_CLUSTER")
        .env("RUSTIDOCS_USER", "tester");
    cmd
}

/// Runs a command to its end; a command that has not ended after 30 s is killed and
/// fails the test (the CLI must never hang).
fn finish(mut cmd: Command, what: &str) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rustidocs");
    finish_child(child, what)
}

/// Waits for a child to end, for at most 30 s (then kills it and fails the test).
fn finish_child(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("`rustidocs {what}` hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    eprintln!("$ rustidocs {what}\n{}", common::text(&out));
    out
}

fn run(nodes: &Nodes, args: &[&str]) -> Output {
    finish(doc_cmd(nodes, args), &format!("doc {}", args.join(" ")))
}

/// stdout of a command that must succeed.
fn ok(nodes: &Nodes, args: &[&str]) -> String {
    let out = run(nodes, args);
    assert!(out.status.success(), "doc {args:?} failed");
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// The JSON a `--json` command prints.
fn json(nodes: &Nodes, args: &[&str]) -> Value {
    let mut with = args.to_vec();
    with.push("--json");
    let text = ok(nodes, &with);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

/// The error line of a command that must fail: exit code 1 (not a panic's 101), nothing
/// on stdout, one `error: …` line on stderr.
fn error_of(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "expected a clean failure");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line, got {stderr:?}");
    assert!(lines[0].starts_with("error: "), "{stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr:?}");
    lines[0].to_string()
}

fn fails(nodes: &Nodes, args: &[&str]) -> String {
    error_of(&run(nodes, args))
}

/// The id `doc new` / `doc import` print alone on their last line.
fn last_line(out: &str) -> String {
    out.lines().last().expect("some output").trim().to_string()
}

fn new_doc(nodes: &Nodes, kind: &str, title: &str, topic: &str) -> String {
    let id = last_line(&ok(
        nodes,
        &["new", "--kind", kind, "--title", title, "--topic", topic],
    ));
    assert_eq!(id.len(), 16, "an id of 16 hex digits: {id:?}");
    id
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect()
}

#[test]
fn text_and_sheet_documents() {
    let nodes = Nodes::up(3, 0);
    assert_eq!(ok(&nodes, &["list"]).trim(), "no documents");
    // Without --dir or --cluster, the local cluster of $RUSTIDOCS_HOME is the default.
    let home = nodes.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::symlink(&nodes.dir, home.join("cluster")).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["doc", "list", "--json"])
        .env("RUSTIDOCS_HOME", &home)
        .env_remove("RUSTIDOCS_CLUSTER");
    let out = finish(cmd, "doc list --json (RUSTIDOCS_HOME)");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");

    let notes = new_doc(&nodes, "text", "Notes", "work");
    let budget = new_doc(&nodes, "sheet", "Budget", "money");
    let made = json(&nodes, &["new", "--kind", "text", "--title", "Diary"]);
    assert_eq!(
        (made["kind"].as_str(), made["title"].as_str()),
        (Some("text"), Some("Diary"))
    );
    let diary = made["id"].as_str().unwrap().to_string();

    // Most recently updated first; a topic narrows the list.
    let all = json(&nodes, &["list"]);
    assert_eq!(ids(&all), [diary.as_str(), &budget, &notes]);
    assert_eq!(
        ids(&json(&nodes, &["list", "--topic", "work"])),
        [notes.as_str()]
    );
    let table = ok(&nodes, &["list", "--topic", "money"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("TITLE"),
        "{table}"
    );
    for field in [budget.as_str(), "sheet", "Budget", "money"] {
        assert!(lines[1].contains(field), "{table}");
    }

    // Text: insert, insert in the middle (characters, not bytes), delete.
    ok(&nodes, &["edit", &notes, "--insert", "0", "héllo world"]);
    ok(&nodes, &["edit", &notes, "--insert", "5", ","]);
    let edited = json(&nodes, &["edit", &notes, "--delete", "6", "1"]);
    assert_eq!(edited["length"], 11);
    assert_eq!(ok(&nodes, &["cat", &notes]), "héllo,world\n");
    assert_eq!(json(&nodes, &["cat", &notes])["content"], "héllo,world");
    // An edit moves its document to the top, and its updated time past its creation.
    let listed = json(&nodes, &["list"]);
    assert_eq!(ids(&listed), [notes.as_str(), &diary, &budget]);
    assert!(listed[0]["updated"].as_u64() > listed[0]["created"].as_u64());

    // Sheet: values and a formula; cat shows the computed values.
    ok(&nodes, &["set-cell", &budget, "A1", "item"]);
    ok(&nodes, &["set-cell", &budget, "B1", "cost"]);
    ok(&nodes, &["set-cell", &budget, "A2", "tea"]);
    assert_eq!(
        ok(&nodes, &["set-cell", &budget, "B2", "-2.5"]),
        "B2 = -2.5\n"
    );
    ok(&nodes, &["set-cell", &budget, "b3", "10"]);
    let set = json(&nodes, &["set-cell", &budget, "C3", "=B2*2+B3"]);
    assert_eq!(
        (set["cell"].as_str(), set["value"].as_str()),
        (Some("C3"), Some("5"))
    );
    assert_eq!(
        ok(&nodes, &["cat", &budget]),
        "item\tcost\t\ntea\t-2.5\t\n\t10\t5\n"
    );
    assert_eq!(
        ok(&nodes, &["cat", &budget, "--csv", "--inputs"]),
        "item,cost,\ntea,-2.5,\n,10,=B2*2+B3\n"
    );
    let values = json(&nodes, &["cat", &budget]);
    assert_eq!(values["values"][2][2], "5");

    // Removed documents are gone from the list and from cat.
    let removed = json(&nodes, &["rm", &diary]);
    assert_eq!(removed["removed"], true);
    // The sheet's edits moved it to the top.
    assert_eq!(ids(&json(&nodes, &["list"])), [budget.as_str(), &notes]);
    assert_eq!(
        fails(&nodes, &["cat", &diary]),
        format!("error: no such document: {diary}")
    );
    assert_eq!(
        fails(&nodes, &["rm", &diary]),
        format!("error: no such document: {diary}")
    );

    // Bad input: clear one-line errors, and nothing changed.
    let err = fails(&nodes, &["set-cell", &budget, "A0", "1"]);
    assert!(err.contains("bad cell reference \"A0\""), "{err}");
    let err = fails(&nodes, &["set-cell", &budget, "AA1", "1"]);
    assert!(err.contains("outside the sheet"), "{err}");
    let err = fails(&nodes, &["edit", &notes, "--insert", "12", "x"]);
    assert!(
        err.contains("position 12 is past the end of the text (11 characters)"),
        "{err}"
    );
    let err = fails(&nodes, &["edit", &notes, "--insert", "x", "y"]);
    assert!(err.contains("bad position \"x\""), "{err}");
    let err = fails(&nodes, &["edit", &notes, "--delete", "10", "2"]);
    assert!(err.contains("the text has 11 characters"), "{err}");
    let err = fails(&nodes, &["edit", &budget, "--insert", "0", "x"]);
    assert!(err.contains("is a sheet"), "{err}");
    let err = fails(&nodes, &["set-cell", &notes, "A1", "1"]);
    assert!(err.contains("is a text"), "{err}");
    assert_eq!(
        fails(&nodes, &["edit", "0123456789abcdef", "--insert", "0", "x"]),
        "error: no such document: 0123456789abcdef"
    );
    assert_eq!(ok(&nodes, &["cat", &notes]), "héllo,world\n");
}

#[test]
fn export_and_import_round_trip() {
    let nodes = Nodes::up(3, 0);
    let dir = nodes.dir.join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();

    // Text: txt out, txt in.
    let text = new_doc(&nodes, "text", "Letter", "mail");
    ok(
        &nodes,
        &["edit", &text, "--insert", "0", "Dear all,\nthanks.\n"],
    );
    ok(
        &nodes,
        &[
            "export",
            &text,
            "--format",
            "txt",
            "--output",
            &path("letter.txt"),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(path("letter.txt")).unwrap(),
        "Dear all,\nthanks.\n"
    );
    let back = last_line(&ok(
        &nodes,
        &["import", &path("letter.txt"), "--topic", "mail"],
    ));
    assert_eq!(ok(&nodes, &["cat", &back]), "Dear all,\nthanks.\n");
    let meta = json(&nodes, &["list", "--topic", "mail"]);
    let imported = meta
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == back.as_str())
        .unwrap();
    assert_eq!(
        (imported["title"].as_str(), imported["kind"].as_str()),
        (Some("letter"), Some("text"))
    );
    assert_eq!(
        ok(&nodes, &["export", &text, "--format", "md"]),
        "Dear all,\nthanks.\n"
    );
    let err = fails(&nodes, &["export", &text, "--format", "csv"]);
    assert!(
        err.contains("a text document exports as txt or md"),
        "{err}"
    );

    // Sheet: numbers, text and formulas through csv and xlsx.
    let sheet = new_doc(&nodes, "sheet", "Prices", "shop");
    for (cell, input) in [
        ("A1", "item"),
        ("B1", "price"),
        ("A2", "tea, green"),
        ("B2", "2.5"),
        ("A3", "cake"),
        ("B3", "4"),
        ("A4", "total"),
        ("B4", "=SUM(B2:B3)"),
    ] {
        ok(&nodes, &["set-cell", &sheet, cell, input]);
    }
    let inputs = ok(&nodes, &["cat", &sheet, "--inputs"]);
    assert_eq!(
        inputs,
        "item\tprice\ntea, green\t2.5\ncake\t4\ntotal\t=SUM(B2:B3)\n"
    );
    let values = "item\tprice\ntea, green\t2.5\ncake\t4\ntotal\t6.5\n";
    for name in ["prices.csv", "prices.xlsx"] {
        // The format comes from the file's extension.
        let wrote = json(&nodes, &["export", &sheet, "--output", &path(name)]);
        assert!(wrote["bytes"].as_u64().unwrap() > 0);
        let made = json(&nodes, &["import", &path(name), "--title", name]);
        let id = made["id"].as_str().unwrap();
        assert_eq!(made["kind"], "sheet");
        assert_eq!(ok(&nodes, &["cat", id, "--inputs"]), inputs, "{name}");
        assert_eq!(ok(&nodes, &["cat", id]), values, "{name}");
        // An imported sheet is as editable as a new one.
        assert_eq!(ok(&nodes, &["set-cell", id, "B3", "5"]), "B3 = 5\n");
        assert_eq!(json(&nodes, &["cat", id])["values"][3][1], "7.5");
    }
    assert_eq!(
        std::fs::read_to_string(path("prices.csv")).unwrap(),
        "item,price\n\"tea, green\",2.5\ncake,4\ntotal,=SUM(B2:B3)\n"
    );
    assert_eq!(
        ok(&nodes, &["export", &sheet, "--format", "md"]),
        "| item | price |\n| --- | --- |\n| tea, green | 2.5 |\n| cake | 4 |\n| total | 6.5 |\n"
    );
    assert_eq!(
        ok(&nodes, &["export", &sheet, "--format", "csv", "--values"]),
        "item,price\n\"tea, green\",2.5\ncake,4\ntotal,6.5\n"
    );

    // Files that do not fit.
    std::fs::write(path("notes.doc"), "x").unwrap();
    let err = fails(&nodes, &["import", &path("notes.doc")]);
    assert!(err.contains("expected .txt, .md, .csv or .xlsx"), "{err}");
    std::fs::write(path("broken.xlsx"), "not a zip").unwrap();
    let err = fails(&nodes, &["import", &path("broken.xlsx")]);
    assert!(err.contains("broken.xlsx") && err.contains("xlsx"), "{err}");
    let err = fails(&nodes, &["import", &path("missing.txt")]);
    assert!(err.contains("missing.txt"), "{err}");
}

/// Lines of a child's stdout, read by a thread.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads lines until `want` holds for the lines read so far (at most 30 s: a deadline
/// against hanging, not a timing assertion). Returns them.
fn read_until(
    rx: &Receiver<String>,
    seen: &mut Vec<String>,
    what: &str,
    want: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !want(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                eprintln!("watch| {line}");
                seen.push(line);
            }
            Err(_) => panic!("watch never showed {what}; it printed {seen:#?}"),
        }
    }
}

/// The strings of a JSON array (empty for anything else).
fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn watcher(nodes: &Nodes, id: &str, user: &str, extra: &[&str]) -> Child {
    let mut args = vec!["watch", id, "--user", user];
    args.extend_from_slice(extra);
    doc_cmd(nodes, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn doc watch")
}

#[test]
fn watch_shows_remote_edits_and_presence() {
    let nodes = Nodes::up(3, 0);
    let id = new_doc(&nodes, "text", "Live", "");
    ok(&nodes, &["edit", &id, "--insert", "0", "start"]);

    let mut human = watcher(&nodes, &id, "wendy", &[]);
    let mut machine = watcher(&nodes, &id, "robot", &["--json"]);
    let (h_rx, m_rx) = (lines_of(&mut human), lines_of(&mut machine));
    let (mut h, mut m) = (Vec::new(), Vec::new());
    // Each prints the content once it has joined (subscribed before reading).
    read_until(&h_rx, &mut h, "the start", |l| {
        l.iter().any(|x| x == "start")
    });
    read_until(&m_rx, &mut m, "the start", |l| !l.is_empty());
    let first: Value = serde_json::from_str(&m[0]).unwrap();
    assert_eq!(
        (first["event"].as_str(), first["content"].as_str()),
        (Some("content"), Some("start"))
    );
    assert!(
        h[0].starts_with(&format!("-- watching {id} \"Live\" (text)")),
        "{h:?}"
    );

    // Another process edits as ann: the watchers see her come, the change, and her go.
    let edit = doc_cmd(
        &nodes,
        &["edit", &id, "--insert", "5", "ed", "--user", "ann"],
    );
    assert!(finish(edit, "doc edit --user ann").status.success());
    read_until(&h_rx, &mut h, "ann's edit and visit", |l| {
        let at = |s: &str| l.iter().position(|x| x.contains(s));
        matches!(
            (at("ann joined"), at("-- changed"), at("ann left")),
            (Some(j), Some(c), Some(g)) if j < g && l.get(c + 1).map(String::as_str) == Some("started")
        )
    });
    assert!(
        h.iter()
            .any(|l| l.contains("ann joined; present: ") && l.contains("ann")),
        "{h:?}"
    );
    read_until(&m_rx, &mut m, "ann's edit (json)", |l| {
        let events: Vec<Value> = l.iter().map(|x| serde_json::from_str(x).unwrap()).collect();
        let joined = events
            .iter()
            .any(|e| e["event"] == "presence" && names(&e["joined"]).contains(&"ann"));
        let changed = events
            .iter()
            .any(|e| e["event"] == "content" && e["content"] == "started");
        let left = events
            .iter()
            .any(|e| e["event"] == "presence" && names(&e["left"]).contains(&"ann"));
        joined && changed && left
    });

    // SIGTERM ends a watch cleanly, with a goodbye the other watcher sees.
    let pid = rustix::process::Pid::from_child(&human);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(human.wait().unwrap().success());
    read_until(&m_rx, &mut m, "wendy leaving", |l| {
        l.iter().any(|x| {
            let e: Value = serde_json::from_str(x).unwrap();
            e["event"] == "presence" && names(&e["left"]).contains(&"wendy")
        })
    });
    let _ = machine.kill();
    let _ = machine.wait();

    // A reader that goes away (`doc watch … | head -2`) ends the watch quietly at its
    // next line, not with a panic.
    let mut short = doc_cmd(&nodes, &["watch", &id, "--user", "brief"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(short.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap(); // the reader, and with it the pipe, is dropped here
    assert!(first.starts_with("-- watching"), "{first:?}");
    ok(&nodes, &["edit", &id, "--insert", "0", "!"]);
    let out = finish_child(short, "doc watch | head -1");
    assert!(out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{out:?}"
    );

    // A sheet is shown as its computed values.
    let sheet = new_doc(&nodes, "sheet", "Live sheet", "");
    let mut grid = watcher(&nodes, &sheet, "wendy", &[]);
    let mut values = watcher(&nodes, &sheet, "robot", &["--json"]);
    let (g_rx, v_rx) = (lines_of(&mut grid), lines_of(&mut values));
    let (mut g, mut v) = (Vec::new(), Vec::new());
    read_until(&g_rx, &mut g, "the header", |l| !l.is_empty());
    read_until(&v_rx, &mut v, "the empty sheet", |l| !l.is_empty());
    let first: Value = serde_json::from_str(&v[0]).unwrap();
    assert_eq!(
        (first["kind"].as_str(), &first["values"]),
        (Some("sheet"), &serde_json::json!([]))
    );
    ok(&nodes, &["set-cell", &sheet, "B1", "=6*7"]);
    read_until(&g_rx, &mut g, "the value", |l| {
        l.iter().any(|x| x == "\t42")
    });
    read_until(&v_rx, &mut v, "the value (json)", |l| {
        l.iter().any(|x| {
            let e: Value = serde_json::from_str(x).unwrap();
            e["values"] == serde_json::json!([["", "42"]])
        })
    });
    let _ = values.kill();
    let _ = values.wait();
    let _ = grid.kill();
    let _ = grid.wait();
}

#[test]
fn unreachable_cluster_and_missing_record_are_clear_errors() {
    // A free port nobody listens on: refused at once.
    let port = common::free_base(1);
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(BIN);
    cmd.args(["doc", "list", "--cluster", &addr]);
    let err = error_of(&finish(cmd, "doc list --cluster"));
    assert!(
        err.starts_with(&format!("error: cannot reach the cluster at {addr}")),
        "{err}"
    );

    // The environment names the cluster when no flag does.
    let mut cmd = Command::new(BIN);
    cmd.args(["doc", "cat", "x"])
        .env("RUSTIDOCS_CLUSTER", &addr);
    let err = error_of(&finish(cmd, "doc cat (RUSTIDOCS_CLUSTER)"));
    assert!(err.contains(&addr), "{err}");

    // A named cluster directory without a cluster in it.
    let empty = std::env::temp_dir().join(format!("rustidocs-doc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["doc", "list", "--dir"])
        .arg(&empty)
        .env_remove("RUSTIDOCS_CLUSTER");
    let err = error_of(&finish(cmd, "doc list --dir EMPTY"));
    assert!(
        err.contains("no local cluster in") && err.contains(Path::new(&empty).to_str().unwrap()),
        "{err}"
    );
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn a_dead_node_is_a_clear_error_not_a_hang() {
    let nodes = Nodes::up(3, 0);
    let id = new_doc(&nodes, "text", "On a dead shard", "");
    // The node that serves the document's slot (no replica takes over: 0 replicas).
    let slot = nodes.cli(0, &["cluster", "keyslot", &format!("doc:{{{id}}}:meta")]);
    let owner = (0..nodes.count)
        .find(|&i| nodes.cli(i, &["cluster", "countkeysinslot", &slot]) != "0")
        .expect("a node holds the document");
    let pid_file = nodes
        .dir
        .join("pids")
        .join(format!("{}.pid", nodes.port(owner)));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();

    for args in [
        vec!["cat", id.as_str()],
        vec!["edit", id.as_str(), "--insert", "0", "x"],
    ] {
        let err = fails(&nodes, &args);
        assert!(err.contains("(is a node down?)"), "{err}");
    }
}

#[test]
fn works_on_a_single_standalone_node() {
    let node = Nodes::standalone();
    let addr = node.addr(0);
    let on_node = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("doc").args(args).args(["--cluster", &addr]);
        let out = finish(cmd, &format!("doc {}", args.join(" ")));
        assert!(out.status.success(), "doc {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    };
    let id = last_line(&on_node(&["new", "--kind", "sheet", "--title", "Solo"]));
    on_node(&["set-cell", &id, "A1", "20"]);
    on_node(&["set-cell", &id, "A2", "=A1+1"]);
    assert_eq!(on_node(&["cat", &id]), "20\n21\n");
    assert!(on_node(&["list"]).contains("Solo"));
}
