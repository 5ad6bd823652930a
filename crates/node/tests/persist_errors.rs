//! Persistence errors with real processes, next to redis-server 7.0: MISCONF after a
//! failed BGSAVE or AOF write, and a SHUTDOWN / SIGTERM whose final save fails.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{wait_until, Conn, Frame, Kind, Server};

/// A scratch directory of the test's own, removed on drop.
type Scratch = common::TestDir;

/// Starts `kind` with `dir` as its directory. Removing that directory afterwards makes
/// every save fail (even as root: the file cannot be created in a deleted directory).
fn start_in(kind: Kind, dir: &Path, extra: &[&str]) -> Server {
    let dir = dir.display().to_string();
    let mut args = vec!["--dir", dir.as_str()];
    args.extend_from_slice(extra);
    Server::start_kind(kind, &args)
}

/// One field of INFO persistence.
fn info_field(c: &mut Conn, name: &str) -> String {
    common::info_field(c, "persistence", name)
}

/// A reply as one comparable line.
fn show(f: Frame) -> String {
    match f {
        Frame::Error(e) => format!("-{}", String::from_utf8_lossy(&e)),
        Frame::Simple(s) => format!("+{}", String::from_utf8_lossy(&s)),
        other => format!("{other:?}"),
    }
}

const MISCONF_RDB: &str = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Everything a client sees around a failed BGSAVE, until a save succeeds again.
fn failed_bgsave_transcript(kind: Kind) -> Vec<String> {
    let scratch = Scratch::new("bgsave");
    let doomed = scratch.sub("doomed");
    let good = scratch.sub("good");
    let extra = ["--save", "3600 1", "--enable-protected-configs", "yes"];
    let server = start_in(kind, &doomed, &extra);
    let mut c = server.conn();
    std::fs::remove_dir(&doomed).unwrap();
    let mut seen = vec![show(c.cmd(&["SET", "a", "1"]))];
    seen.push(show(c.cmd(&["BGSAVE"])));
    wait_until("the BGSAVE to fail", || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    seen.push(info_field(&mut c, "rdb_last_bgsave_status"));
    for cmd in [
        &["SET", "a", "2"][..],
        &["PING"],
        &["GET", "a"],
        &["INCR", "n"],
        &["DEL", "a"],
        &["MULTI"],
        &["SET", "b", "1"],
        &["GET", "a"],
        &["EXEC"],
        &["SAVE"],
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
        &["SET", "a", "3"],
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
        &["SET", "a", "4"],
        &["CONFIG", "SET", "save", ""],
        &["SET", "a", "5"],
        &["CONFIG", "SET", "save", "3600 1"],
        &["SET", "a", "6"],
    ] {
        seen.push(show(c.cmd(cmd)));
    }
    // Queued before the error is noticed, refused at EXEC.
    seen.push(show(c.cmd(&["CONFIG", "SET", "save", ""])));
    seen.push(show(c.cmd(&["MULTI"])));
    seen.push(show(c.cmd(&["SET", "c", "1"])));
    seen.push(show(
        server.conn().cmd(&["CONFIG", "SET", "save", "3600 1"]),
    ));
    seen.push(show(c.cmd(&["EXEC"])));
    seen.push(show(c.cmd(&["EXISTS", "c"])));
    // A writable directory again: the next successful save clears the error.
    let good = good.display().to_string();
    seen.push(show(c.cmd(&["CONFIG", "SET", "dir", &good])));
    seen.push(show(c.cmd(&["BGSAVE"])));
    wait_until("the BGSAVE to succeed", || {
        info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    seen.push(info_field(&mut c, "rdb_last_bgsave_status"));
    seen.push(show(c.cmd(&["SET", "a", "7"])));
    seen.push(show(c.cmd(&["GET", "a"])));
    seen
}

#[test]
fn misconf_after_a_failed_bgsave_matches_redis() {
    let ours = failed_bgsave_transcript(Kind::Ours);
    assert_eq!(ours[3], MISCONF_RDB, "{ours:#?}");
    assert_eq!(ours, failed_bgsave_transcript(Kind::Redis));
}

/// SHUTDOWN whose final save fails: refused, the server goes on; NOSAVE still exits.
fn refused_shutdown_transcript(kind: Kind, last: &str) -> Vec<String> {
    let scratch = Scratch::new("shutdown");
    let doomed = scratch.sub("doomed");
    let mut server = start_in(kind, &doomed, &["--save", "3600 1"]);
    let mut c = server.conn();
    std::fs::remove_dir(&doomed).unwrap();
    let mut seen = vec![show(c.cmd(&["SET", "a", "1"]))];
    for cmd in [
        &["SHUTDOWN"][..],
        &["SHUTDOWN", "SAVE"],
        &["SHUTDOWN", "NOW"],
    ] {
        seen.push(show(c.cmd(cmd)));
    }
    seen.push(show(c.cmd(&["PING"])));
    seen.push(show(c.cmd(&["GET", "a"])));
    // NOSAVE skips the save; FORCE exits although it fails. No reply, only the close.
    c.send(&["SHUTDOWN", last]);
    let status = server.wait_exit(Duration::from_secs(10));
    seen.push(format!("exited: {}", status.is_some()));
    seen.push(format!("closed: {}", c.is_closed()));
    seen
}

#[test]
fn shutdown_refuses_to_exit_when_the_final_save_fails_like_redis() {
    for last in ["NOSAVE", "FORCE"] {
        let ours = refused_shutdown_transcript(Kind::Ours, last);
        assert_eq!(ours[1], "-ERR Errors trying to SHUTDOWN. Check logs.");
        assert_eq!(ours.last().unwrap(), "closed: true");
        assert_eq!(ours, refused_shutdown_transcript(Kind::Redis, last));
    }
}

#[test]
fn sigterm_keeps_running_when_the_final_save_fails() {
    for kind in [Kind::Ours, Kind::Redis] {
        let scratch = Scratch::new("sigterm");
        let doomed = scratch.sub("doomed");
        let log = scratch.0.join("server.log");
        let log_arg = log.display().to_string();
        let mut server = start_in(kind, &doomed, &["--save", "3600 1", "--logfile", &log_arg]);
        let mut c = server.conn();
        c.cmd(&["SET", "a", "1"]);
        std::fs::remove_dir(&doomed).unwrap();
        let pid = server.pid().to_string();
        assert!(std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        wait_until("the refused shutdown in the log", || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("can't exit"))
        });
        assert_eq!(show(c.cmd(&["GET", "a"])), "Bulk([49])", "{kind:?}");
        assert!(
            server.wait_exit(Duration::ZERO).is_none(),
            "{kind:?} exited"
        );
        c.send(&["SHUTDOWN", "NOSAVE"]);
        assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    }
}

/// `appendfsync everysec` and a write error on the AOF: the reply of that write still
/// goes out (the error is found when it is flushed), later writes get MISCONF with the
/// system's reason, and INFO says `aof_last_write_status:err`.
fn aof_write_error_transcript(kind: Kind) -> Vec<String> {
    let scratch = Scratch::new("aofwrite");
    let dir = scratch.sub("data");
    let server = start_in(kind, &dir, &["--appendonly", "yes"]);
    let mut c = server.conn();
    seen_ok(&mut c);
    // The next incremental file the rewrite opens is /dev/full: every write to it
    // fails with ENOSPC (as on a full disk), whoever runs the test.
    let next = dir.join("appendonlydir").join("appendonly.aof.2.incr.aof");
    std::os::unix::fs::symlink("/dev/full", &next).unwrap();
    let mut seen = vec![show(c.cmd(&["BGREWRITEAOF"]))];
    wait_until("the rewrite to finish", || {
        info_field(&mut c, "aof_rewrite_in_progress") == "0"
            && info_field(&mut c, "aof_rewrite_scheduled") == "0"
    });
    seen.push(info_field(&mut c, "aof_last_bgrewrite_status"));
    seen.push(show(c.cmd(&["SET", "a", "2"])));
    wait_until("the failed AOF write", || {
        info_field(&mut c, "aof_last_write_status") == "err"
    });
    for cmd in [&["SET", "a", "3"][..], &["PING"], &["GET", "a"]] {
        seen.push(show(c.cmd(cmd)));
    }
    // Switching the AOF off lifts the refusal.
    seen.push(show(c.cmd(&["CONFIG", "SET", "appendonly", "no"])));
    seen.push(show(c.cmd(&["SET", "a", "4"])));
    seen
}

fn seen_ok(c: &mut Conn) {
    assert_eq!(show(c.cmd(&["SET", "a", "1"])), "+OK");
}

#[test]
fn misconf_after_an_aof_write_error_matches_redis() {
    let ours = aof_write_error_transcript(Kind::Ours);
    assert_eq!(
        ours[3], "-MISCONF Errors writing to the AOF file: No space left on device",
        "{ours:#?}"
    );
    assert_eq!(ours, aof_write_error_transcript(Kind::Redis));
}
