//! `rustidocs-node --check-snapshot FILE [--fix]`: says whether a snapshot is valid,
//! how many keys it holds and where it is first damaged; `--fix` keeps the good prefix.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use super::decode::{Decoder, Options, SnapError};
use super::encode::trailer_record;
use super::file::write_atomically;

/// What a check found.
pub struct Report {
    /// The first problem, None if the file is valid.
    pub error: Option<SnapError>,
    /// Bytes of the good prefix (the whole file when valid).
    pub good_len: u64,
    /// Keys in the good prefix.
    pub keys: u64,
    records: u64,
    chain: u32,
    /// The trailer was read (damage, if any, is only extra data after it).
    trailer_ok: bool,
    header_ok: bool,
}

/// Reads the whole file, stopping at the first damaged record.
pub fn check(path: &Path) -> io::Result<Report> {
    let reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut dec = match Decoder::new(reader, Options::default()) {
        Ok(dec) => dec,
        Err(e) => {
            return Ok(Report {
                error: Some(e),
                good_len: 0,
                keys: 0,
                records: 0,
                chain: 0,
                trailer_ok: false,
                header_ok: false,
            })
        }
    };
    let mut error = None;
    loop {
        match dec.next_item() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let (records, chain) = dec.chain_state();
    let (good_len, keys, trailer_ok) = (dec.offset(), dec.keys(), dec.is_done());
    if trailer_ok {
        let mut rest = dec.into_inner();
        if rest.read(&mut [0u8; 1])? != 0 {
            error = Some(SnapError {
                offset: good_len,
                kind: super::ErrorKind::Corrupt("data after the trailer".into()),
            });
        }
    }
    Ok(Report {
        error,
        good_len,
        keys,
        records,
        chain,
        trailer_ok,
        header_ok: true,
    })
}

/// Rewrites `path` as its good prefix plus a trailer that matches it (atomically).
pub fn fix(path: &Path, report: &Report) -> io::Result<()> {
    if !report.header_ok {
        return Err(io::Error::other("the header is damaged: nothing to keep"));
    }
    write_atomically(path, |w| {
        let mut prefix = File::open(path)?.take(report.good_len);
        io::copy(&mut prefix, w)?;
        if !report.trailer_ok {
            w.write_all(&trailer_record(report.keys, report.records, report.chain))?;
        }
        Ok(())
    })
}

/// Entry point of `--check-snapshot`: `args` are what follows it. Returns the exit
/// code: 0 valid (or fixed), 1 damaged, 2 usage or I/O error.
pub fn run_cli(args: &[String]) -> i32 {
    let (file, want_fix) = match args {
        [file] => (file, false),
        [file, flag] if flag == "--fix" => (file, true),
        _ => {
            eprintln!("Usage: rustidocs-node --check-snapshot <file> [--fix]");
            return 2;
        }
    };
    let path = Path::new(file);
    let report = match check(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Cannot read '{file}': {e}");
            return 2;
        }
    };
    let Some(err) = &report.error else {
        println!(
            "Snapshot '{file}' is valid: {} keys, {} bytes.",
            report.keys, report.good_len
        );
        return 0;
    };
    println!("Snapshot '{file}' is NOT valid: {err}.");
    println!("First bad offset: {}", err.offset);
    println!(
        "Good prefix: {} bytes, {} keys.",
        report.good_len, report.keys
    );
    if !want_fix {
        println!("Run with --fix to keep the good prefix (the rest is dropped).");
        return 1;
    }
    match fix(path, &report) {
        Ok(()) => {
            println!(
                "Fixed: '{file}' truncated to its good prefix; {} keys kept.",
                report.keys
            );
            0
        }
        Err(e) => {
            eprintln!("Cannot fix '{file}': {e}");
            2
        }
    }
}
