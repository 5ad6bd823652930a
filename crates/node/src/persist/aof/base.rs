//! Writes a base file from a dataset image: a snapshot (the default, like Redis 7's RDB
//! preamble) or commands — per key SET, RPUSH, SADD, HSET, ZADD or XADD in batches, then
//! PEXPIREAT, the way Redis's `rewriteAppendOnlyFile` does.

use std::io::Write;
use std::path::Path;

use crate::db::stream::StreamId;
use crate::db::Value;
use crate::persist::{DatasetImage, ImageEntry};

/// Elements per command in a base file (Redis's AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// Writes one command in RESP.
fn command(w: &mut impl Write, parts: &[&[u8]]) -> std::io::Result<()> {
    write!(w, "*{}\r\n", parts.len())?;
    for p in parts {
        write!(w, "${}\r\n", p.len())?;
        w.write_all(p)?;
        w.write_all(b"\r\n")?;
    }
    Ok(())
}

/// `name key` followed by `items`, split into commands of at most `per_cmd` items
/// (each item being one or more arguments).
fn batched<'a>(
    w: &mut impl Write,
    name: &[u8],
    key: &[u8],
    items: impl Iterator<Item = Vec<&'a [u8]>>,
) -> std::io::Result<()> {
    let mut parts: Vec<&[u8]> = vec![name, key];
    let mut count = 0;
    for item in items {
        parts.extend(item);
        count += 1;
        if count == ITEMS_PER_CMD {
            command(w, &parts)?;
            parts.truncate(2);
            count = 0;
        }
    }
    if count > 0 {
        command(w, &parts)?;
    }
    Ok(())
}

fn write_key(w: &mut impl Write, (key, value, expiry): &ImageEntry) -> std::io::Result<()> {
    let key = key.as_slice();
    match value {
        Value::Str(s) => command(w, &[b"SET", key, s.as_slice()])?,
        Value::List(l) => batched(w, b"RPUSH", key, l.iter().map(|e| vec![e.as_slice()]))?,
        Value::Set(s) => batched(w, b"SADD", key, s.iter().map(|e| vec![e.as_slice()]))?,
        Value::Hash(h) => batched(
            w,
            b"HSET",
            key,
            h.iter().map(|(f, v)| vec![f.as_slice(), v.as_slice()]),
        )?,
        Value::ZSet(z) => {
            let scores: Vec<String> = z.iter().map(|(_, s)| resp::format_double(s)).collect();
            let items = z
                .iter()
                .zip(&scores)
                .map(|((m, _), s)| vec![s.as_bytes(), m.as_slice()]);
            batched(w, b"ZADD", key, items)?
        }
        Value::Stream(s) => write_stream(w, key, s)?,
    }
    if let Some(at) = expiry {
        command(w, &[b"PEXPIREAT", key, at.to_string().as_bytes()])?;
    }
    Ok(())
}

/// Each entry as `XADD key <id> field value …` with its explicit ID. An empty stream
/// is created by `XADD key MAXLEN 0 <last-id> x y`, which keeps its last ID.
fn write_stream(
    w: &mut impl Write,
    key: &[u8],
    stream: &crate::db::stream::Stream,
) -> std::io::Result<()> {
    let mut id_buf = [0u8; 41];
    if stream.is_empty() {
        let id = stream.last_id.max(StreamId { ms: 0, seq: 1 });
        let id = id.format(&mut id_buf);
        return command(w, &[b"XADD", key, b"MAXLEN", b"0", id, b"x", b"y"]);
    }
    for (id, fields) in stream.range(StreamId::MIN, StreamId::MAX, false) {
        let mut parts: Vec<&[u8]> = vec![b"XADD", key, id.format(&mut id_buf)];
        parts.extend(fields.iter());
        command(w, &parts)?;
    }
    Ok(())
}

/// Writes `image` as commands: SELECT before each non-empty database.
pub fn write_image(w: &mut impl Write, image: &DatasetImage) -> std::io::Result<()> {
    for (index, db) in image.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        command(w, &[b"SELECT", index.to_string().as_bytes()])?;
        for entry in db {
            write_key(w, entry)?;
        }
    }
    Ok(())
}

/// Writes `image` to `path` and fsyncs it; returns the file's size. With
/// `preamble` (`aof-use-rdb-preamble yes`, the default) the base is a snapshot in our
/// snapshot format, as Redis 7 writes an RDB base; otherwise commands.
pub fn write_base_file(path: &Path, image: &DatasetImage, preamble: bool) -> anyhow::Result<u64> {
    let file = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    if preamble {
        w = crate::persist::snapshot::encode(image, w)?;
    } else {
        write_image(&mut w, image)?;
    }
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

/// Whether new base files are snapshots (`aof-use-rdb-preamble`).
pub fn preamble_enabled(srv: &crate::server::Server) -> bool {
    srv.config.borrow().get("aof-use-rdb-preamble") != Some("no")
}

/// Whether a base file holds a snapshot rather than commands: its name ends in
/// `.rdb`, as Redis names an RDB-preamble base.
pub fn is_snapshot_base(name: &str) -> bool {
    name.ends_with(".base.rdb")
}
