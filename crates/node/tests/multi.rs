//! Transactions against the reference server: MULTI/EXEC/DISCARD rules and errors,
//! WATCH invalidation by other clients, flushes, expiry and databases, RESP3 forms.

mod common;
use common::*;

#[test]
fn multi_exec_discard_match_redis() {
    let mut d = Differential::new();
    d.check_script(
        "EXEC
         DISCARD
         MULTI
         MULTI
         SET a 1
         INCR a
         GET a
         SET s notanumber
         INCR s
         GET nokey
         EXEC
         EXEC
         MULTI
         SET a 2
         DISCARD
         GET a
         MULTI
         EXEC
         MULTI
         SELECT 1
         SET b 1
         EXEC
         GET b
         SELECT 0
         GET b
         MULTI
         PING
         ECHO hello
         UNWATCH
         EXEC",
    );
}

#[test]
fn queueing_errors_abort_exec_like_redis() {
    let mut d = Differential::new();
    d.check_script(
        "MULTI
         SET a 1
         NOSUCHCOMMAND x
         SET a 2
         EXEC
         GET a
         MULTI
         SET a
         EXEC
         MULTI
         GET a b
         SET a 3
         DISCARD
         GET a
         MULTI
         WATCH a
         SET a 4
         EXEC
         GET a
         MULTI
         SET a 5 XX NX
         EXEC",
    );
}

#[test]
fn watch_is_invalidated_by_another_clients_write() {
    let d = Differential::new();
    check_steps(
        &d,
        &[
            (0, "SET k 1"),
            (0, "WATCH k"),
            (1, "SET k 2"),
            (0, "MULTI"),
            (0, "SET k 3"),
            (0, "EXEC"),
            (0, "GET k"),
            // After EXEC every key is unwatched.
            (1, "SET k 4"),
            (0, "MULTI"),
            (0, "SET k 5"),
            (0, "EXEC"),
            // A write to another key does not invalidate.
            (0, "WATCH k"),
            (1, "SET other 1"),
            (1, "GET k"),
            (0, "MULTI"),
            (0, "SET k 6"),
            (0, "EXEC"),
            // Writes after MULTI but before EXEC do invalidate.
            (0, "WATCH k"),
            (0, "MULTI"),
            (1, "DEL k"),
            (0, "SET k 7"),
            (0, "EXEC"),
            (0, "GET k"),
            // Own writes before MULTI invalidate too; UNWATCH clears it.
            (0, "WATCH k"),
            (0, "SET k 8"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "WATCH k"),
            (0, "SET k 9"),
            (0, "UNWATCH"),
            (0, "MULTI"),
            (0, "EXEC"),
            // DISCARD drops the watches.
            (0, "WATCH k"),
            (0, "MULTI"),
            (0, "DISCARD"),
            (1, "SET k 10"),
            (0, "MULTI"),
            (0, "GET k"),
            (0, "EXEC"),
            // Watching a missing key: creating it invalidates.
            (0, "WATCH missing"),
            (1, "SET missing 1"),
            (0, "MULTI"),
            (0, "EXEC"),
            // Watching several keys, one of them touched; watching twice is fine.
            (0, "WATCH a b k k"),
            (1, "EXPIRE b 100"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "WATCH a b k"),
            (1, "SET b 1"),
            (0, "MULTI"),
            (0, "EXEC"),
            // A failing write (WRONGTYPE) or no-op does not touch the key.
            (0, "WATCH k"),
            (1, "INCR k2"),
            (1, "PERSIST k"),
            (1, "EXPIRE nokey 10"),
            (0, "MULTI"),
            (0, "EXEC"),
        ],
    );
}

#[test]
fn watch_is_per_database_and_invalidated_by_flushes() {
    let d = Differential::new();
    check_steps(
        &d,
        &[
            (0, "SET k 1"),
            (0, "WATCH k"),
            (1, "SELECT 1"),
            (1, "SET k x"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "WATCH k"),
            (1, "FLUSHALL"),
            (0, "MULTI"),
            (0, "EXEC"),
            // A flush of an empty key set changes nothing watched.
            (0, "WATCH k"),
            (1, "FLUSHALL"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "SET k 1"),
            (0, "WATCH k"),
            (1, "FLUSHDB"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "WATCH k"),
            (2, "FLUSHDB"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "SET k 1"),
            (0, "WATCH k"),
            (2, "SWAPDB 0 1"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "SELECT 1"),
            (0, "WATCH k"),
            (0, "SELECT 0"),
            (2, "SET k 2"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "SELECT 1"),
            (0, "WATCH k"),
            (2, "MOVE k 1"),
            (0, "MULTI"),
            (0, "EXEC"),
            (0, "SELECT 0"),
            (0, "WATCH k"),
            (2, "SELECT 1"),
            (2, "RENAME k k2"),
            (0, "MULTI"),
            (0, "EXEC"),
        ],
    );
}

#[test]
fn watched_keys_and_expiry_match_redis() {
    let d = Differential::new();
    check_steps(
        &d,
        &[
            // Expires after WATCH, untouched: EXEC fails.
            (0, "SET k v PX 200"),
            (0, "WATCH k"),
            (9, "350"),
            (0, "MULTI"),
            (0, "PING"),
            (0, "EXEC"),
            // Expires after WATCH and is deleted by a read: EXEC fails.
            (0, "SET k v PX 200"),
            (0, "WATCH k"),
            (9, "350"),
            (1, "GET k"),
            (0, "MULTI"),
            (0, "PING"),
            (0, "EXEC"),
            // Already expired when watched: its deletion is no change.
            (0, "SET k v PX 50"),
            (9, "150"),
            (0, "WATCH k"),
            (1, "GET k"),
            (0, "MULTI"),
            (0, "PING"),
            (0, "EXEC"),
            // ... but setting it again is.
            (0, "SET k v PX 50"),
            (9, "150"),
            (0, "WATCH k"),
            (1, "SET k again"),
            (0, "MULTI"),
            (0, "PING"),
            (0, "EXEC"),
            // A TTL far away is no change.
            (0, "SET k v EX 100"),
            (0, "WATCH k"),
            (0, "MULTI"),
            (0, "TTL k"),
            (0, "EXEC"),
        ],
    );
}

#[test]
fn resp3_exec_forms_match_redis() {
    let d = Differential::new();
    check_steps(
        &d,
        &[
            (0, "SET k 1"),
            (0, "WATCH k"),
            (1, "SET k 2"),
            (0, "MULTI"),
            (0, "GET k"),
            (0, "EXEC"),
            (0, "MULTI"),
            (0, "GET k"),
            (0, "GET nokey"),
            (0, "TTL k"),
            (0, "EXEC"),
        ],
    );
    let mut d = Differential::new();
    d.a.cmd(&["HELLO", "3"]);
    d.b.cmd(&["HELLO", "3"]);
    d.check_script(
        "SET k 1
         WATCH k
         SET k 2
         MULTI
         GET k
         EXEC
         MULTI
         GET k
         GET nokey
         OBJECT ENCODING nokey
         SET a b c
         EXEC
         MULTI
         NOSUCH
         EXEC",
    );
}

#[test]
fn exec_replies_are_pipelined_correctly() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    c.send_raw(b"MULTI\r\nSET x 1\r\nINCR x\r\nEXEC\r\nGET x\r\n");
    assert_eq!(c.read(), ok());
    assert_eq!(c.read(), Frame::Simple(b"QUEUED".to_vec()));
    assert_eq!(c.read(), Frame::Simple(b"QUEUED".to_vec()));
    assert_eq!(c.read(), Frame::Array(vec![ok(), int(2)]));
    assert_eq!(c.read(), bulk("2"));
}
