//! Walks one AOF file unit by unit (a command, or a whole MULTI … EXEC block), and
//! says how far it is valid: shared by loading and by `--check-aof`.

use std::io::BufReader;
use std::path::Path;

use super::reader::{AofReader, ReadError};

/// Why a file is not valid to its end.
#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// Ends inside a record, or inside a MULTI block without EXEC: a torn tail.
    Truncated,
    /// A malformed record at byte `at`.
    Corrupt { at: u64, reason: String },
}

/// The result of scanning a file.
pub struct Scan {
    pub size: u64,
    /// Bytes up to the end of the last complete unit.
    pub valid_up_to: u64,
    /// Lines in the valid part (as `redis-check-aof` reports them).
    pub valid_lines: u64,
    pub problem: Option<Problem>,
}

/// Reads `path`, handing each complete unit to `apply` (one command, or the commands
/// of a transaction without MULTI/EXEC). A failing `apply` stops the scan with its error.
pub fn scan_file(
    path: &Path,
    mut apply: impl FnMut(&[Vec<Vec<u8>>]) -> anyhow::Result<()>,
) -> anyhow::Result<Scan> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("Can't open the append-only file {}: {e}", path.display()))?;
    let size = file.metadata()?.len();
    let mut reader = AofReader::new(BufReader::with_capacity(1 << 20, file));
    let mut scan = Scan {
        size,
        valid_up_to: 0,
        valid_lines: 0,
        problem: None,
    };
    // Commands of an open MULTI block, and the lines they span.
    let mut transaction: Option<(Vec<Vec<Vec<u8>>>, u64)> = None;
    loop {
        let record = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => {
                if transaction.is_some() {
                    tracing::warn!(
                        "Revert incomplete MULTI/EXEC transaction in AOF file {}",
                        path.display()
                    );
                    scan.problem = Some(Problem::Truncated);
                }
                return Ok(scan);
            }
            Err(ReadError::Truncated { .. }) => {
                scan.problem = Some(Problem::Truncated);
                return Ok(scan);
            }
            Err(ReadError::Corrupt { at, reason, .. }) => {
                scan.problem = Some(Problem::Corrupt { at, reason });
                return Ok(scan);
            }
        };
        let lines = 1 + 2 * record.args.len() as u64;
        let name = &record.args[0];
        if name.eq_ignore_ascii_case(b"multi") {
            transaction = Some((Vec::new(), lines));
            continue;
        }
        if name.eq_ignore_ascii_case(b"exec") {
            if let Some((commands, spanned)) = transaction.take() {
                apply(&commands)?;
                scan.valid_lines += spanned + lines;
                scan.valid_up_to = record.end;
            }
            continue;
        }
        match transaction.as_mut() {
            Some((commands, spanned)) => {
                commands.push(record.args);
                *spanned += lines;
            }
            None => {
                apply(std::slice::from_ref(&record.args))?;
                scan.valid_lines += lines;
                scan.valid_up_to = record.end;
            }
        }
    }
}

/// Cuts `path` to `len` bytes and makes that durable.
pub fn truncate_file(path: &Path, len: u64) -> anyhow::Result<()> {
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()?;
    Ok(())
}
