//! `rustidocs-node --check-aof <file|manifest|dir> [--fix]`, like `redis-check-aof`:
//! reports whether each file is valid and where the first bad record is; `--fix`
//! truncates the last file to its last complete command. Exit code 0 = valid.

use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::scan::{scan_file, truncate_file, Problem};

/// Runs the checker; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    let (mut path, mut fix) = (None, false);
    for a in args {
        match a.as_str() {
            "--fix" => fix = true,
            other if path.is_none() => path = Some(PathBuf::from(other)),
            _ => path = None,
        }
    }
    let Some(path) = path else {
        eprintln!("Usage: rustidocs-node --check-aof [--fix] <file.manifest|file.aof|dir>");
        return 1;
    };
    match check(&path, fix) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            println!("{e:#}");
            1
        }
    }
}

/// The files to check, in replay order.
fn files_of(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let manifest_path = if path.is_dir() {
        let found = std::fs::read_dir(path)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "manifest"));
        match found {
            Some(p) => p,
            None => anyhow::bail!("No manifest file found in {}", path.display()),
        }
    } else if path.extension().is_some_and(|e| e == "manifest") {
        path.to_path_buf()
    } else {
        return Ok(vec![path.to_path_buf()]);
    };
    println!("Start checking Multi Part AOF");
    let text = std::fs::read_to_string(&manifest_path)?;
    let manifest = Manifest::parse(&text)?;
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    Ok(manifest.replay_order().map(|f| dir.join(&f.name)).collect())
}

/// Checks every file; only the last one may be fixed (earlier files are followed by
/// more data, so cutting them would lose it silently).
fn check(path: &Path, fix: bool) -> anyhow::Result<bool> {
    let files = files_of(path)?;
    for (i, file) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if super::base::is_snapshot_base(&file_name) {
            // A snapshot base is checked as a snapshot; it is followed by the
            // incremental files, so it is never cut.
            let report = crate::persist::snapshot::check::check(file)?;
            match report.error {
                None => println!(
                    "RDB preamble of AOF {} is valid ({} keys)",
                    file.display(),
                    report.keys
                ),
                Some(e) => {
                    println!("RDB preamble of AOF {} is not valid: {e}", file.display());
                    return Ok(false);
                }
            }
            continue;
        }
        let scan = scan_file(file, |_| Ok(()))?;
        let name = file.display();
        let Some(problem) = scan.problem else {
            println!("AOF {name} is valid");
            continue;
        };
        match &problem {
            Problem::Truncated => println!("AOF {name} ends with an incomplete command"),
            Problem::Corrupt { at, reason } => {
                println!(
                    "0x{at:>16x}: {reason} (bad record at offset {})",
                    scan.valid_up_to
                )
            }
        }
        println!(
            "AOF analyzed: filename={name}, size={}, ok_up_to={}, ok_up_to_line={}, diff={}",
            scan.size,
            scan.valid_up_to,
            scan.valid_lines,
            scan.size - scan.valid_up_to
        );
        if !fix {
            println!("AOF {name} is not valid. Use the --fix option to try fixing it.");
            return Ok(false);
        }
        if !last {
            println!("AOF {name} is not the last file of the manifest: it can't be fixed.");
            return Ok(false);
        }
        truncate_file(file, scan.valid_up_to)?;
        println!("Successfully truncated AOF {name}");
    }
    Ok(true)
}
