//! Snapshot files: written through a temporary file, fsync and rename so a crash never
//! leaves half a snapshot in place; read back whole, refusing anything after the trailer.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::decode::{Decoder, ErrorKind, Item, Options, SnapError};
use super::encode::encode;
use crate::persist::DatasetImage;

const IO_BUF: usize = 1 << 20;

/// Writes `image` to `path` atomically (see [`write_atomically`]).
pub fn write_snapshot(image: &DatasetImage, path: &Path) -> io::Result<()> {
    write_atomically(path, |w| encode(image, w).map(drop))
}

/// Runs `write` on a buffered temporary file next to `path`, fsyncs it, renames it
/// over `path` and fsyncs the directory so the rename itself is durable. On error the
/// temporary file is removed and `path` is left as it was.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(temp_name());
    let result = (|| {
        let mut w = BufWriter::with_capacity(IO_BUF, File::create(&tmp)?);
        write(&mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `temp-<pid>-<n>.rdb`, unique per save within the process (SAVE and a background
/// save may overlap at shutdown).
fn temp_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("temp-{}-{n}.rdb", std::process::id())
}

/// Reads the whole snapshot at `path` into an image.
pub fn load_snapshot(path: &Path, opts: Options) -> Result<DatasetImage, SnapError> {
    let mut image = DatasetImage {
        dbs: Vec::new(),
        taken_ms: crate::clock::now_ms(),
    };
    let mut current = 0;
    read_file(path, opts, |item| {
        match item {
            Item::Db { index, .. } => {
                current = index;
                if image.dbs.len() <= index {
                    image.dbs.resize_with(index + 1, Vec::new);
                }
            }
            Item::Key(entry) => image.dbs[current].push(entry),
        }
        Ok(())
    })?;
    Ok(image)
}

/// Streams every database section and key of the file at `path` to `sink`. The file
/// must end right after its trailer. `sink` may refuse an item with a message,
/// reported at that record's offset.
pub fn read_file(
    path: &Path,
    opts: Options,
    mut sink: impl FnMut(Item) -> Result<(), String>,
) -> Result<u64, SnapError> {
    let file = File::open(path).map_err(|e| SnapError {
        offset: 0,
        kind: ErrorKind::Io(e),
    })?;
    let mut dec = Decoder::new(BufReader::with_capacity(IO_BUF, file), opts)?;
    loop {
        let start = dec.offset();
        let Some(item) = dec.next_item()? else {
            break;
        };
        sink(item).map_err(|why| SnapError {
            offset: start,
            kind: ErrorKind::Corrupt(why),
        })?;
    }
    let keys = dec.keys();
    let end = dec.offset();
    let mut rest = dec.into_inner();
    if rest.read(&mut [0u8; 1]).unwrap_or(0) != 0 {
        return Err(SnapError {
            offset: end,
            kind: ErrorKind::Corrupt("data after the trailer".into()),
        });
    }
    Ok(keys)
}
