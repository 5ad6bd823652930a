//! Loading the AOF at start-up: read the manifest, replay the base and incremental
//! files through the normal dispatch, accept a torn tail (`aof-load-truncated`),
//! then open the last incremental file for appending (creating the first files).

use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use anyhow::bail;

use super::manifest::{aof_dir, sync_dir, Manifest};
use super::rewrite::file_size;
use super::scan::{scan_file, truncate_file, Problem};
use super::{base, open_append, start_appending};
use crate::client::{Client, ClientShared};
use crate::cmd::{dispatch, OwnedArgs};
use crate::server::Server;

/// Loads the AOF (when `appendonly yes`) and starts appending.
pub fn load_at_start(srv: &Server) -> anyhow::Result<()> {
    let (prefix, dir, truncated_ok) = {
        let cfg = srv.config.borrow();
        (
            cfg.get("appendfilename")
                .unwrap_or("appendonly.aof")
                .to_string(),
            aof_dir("", cfg.get("appenddirname").unwrap_or("appendonlydir")),
            cfg.get("aof-load-truncated") == Some("yes"),
        )
    };
    let manifest_name = format!("{prefix}.manifest");
    let manifest = Manifest::load(&dir, &manifest_name)?.unwrap_or_default();
    let started = Instant::now();
    let files: Vec<_> = manifest.replay_order().cloned().collect();
    set_loading(srv, true);
    let loaded = files.iter().enumerate().try_for_each(|(i, file)| {
        let last = i + 1 == files.len();
        load_file(srv, &dir, &file.name, last, truncated_ok)
    });
    set_loading(srv, false);
    loaded?;
    if !files.is_empty() {
        tracing::info!(
            "DB loaded from append only file: {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
    }
    remove_leftovers(&dir, &prefix);
    {
        let mut f = srv.aof.files.borrow_mut();
        f.dir = dir;
        f.prefix = prefix;
        f.manifest = manifest;
    }
    open_for_append(srv)
}

fn set_loading(srv: &Server, on: bool) {
    for db in &srv.dbs {
        db.borrow_mut().loading = on;
    }
}

/// Replays one file. Only the last file may end torn; its tail is cut off.
fn load_file(
    srv: &Server,
    dir: &Path,
    name: &str,
    last: bool,
    truncated_ok: bool,
) -> anyhow::Result<()> {
    let path = dir.join(name);
    if !path.exists() {
        bail!("The AOF file {name} doesn't exist");
    }
    if base::is_snapshot_base(name) {
        let (keys, _) = crate::persist::snapshot::load_into(srv, &path, false)?;
        tracing::info!("Loaded the AOF base snapshot {name}: {keys} keys");
        return Ok(());
    }
    let mut loader = Loader::new(srv);
    let scan = scan_file(&path, |commands| loader.run(commands, name))?;
    match scan.problem {
        None => Ok(()),
        Some(Problem::Corrupt { at, reason }) => bail!(
            "Bad file format reading the append only file {name} at offset {at}: {reason} (valid up to offset {}): make a backup of your AOF file, then use rustidocs-node --check-aof --fix <filename.manifest>",
            scan.valid_up_to
        ),
        Some(Problem::Truncated) if !last => bail!(
            "Fatal error: the truncated file {name} is not the last file (torn at offset {})",
            scan.valid_up_to
        ),
        Some(Problem::Truncated) if !truncated_ok => bail!(
            "Unexpected end of file reading the append only file {name} at offset {}. You can: 1) Make a backup of your AOF file, then use rustidocs-node --check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
            scan.valid_up_to
        ),
        Some(Problem::Truncated) => {
            tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
            tracing::warn!(
                "!!! Truncating the AOF {name} at offset {} !!!",
                scan.valid_up_to
            );
            truncate_file(&path, scan.valid_up_to)?;
            tracing::warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
            Ok(())
        }
    }
}

/// The client replay runs as: authenticated, never blocking (like inside EXEC),
/// replies thrown away.
struct Loader<'a> {
    srv: &'a Server,
    client: Client,
    out: resp::ReplyBuf,
}

impl<'a> Loader<'a> {
    fn new(srv: &'a Server) -> Self {
        let shared = Rc::new(ClientShared::new(
            u64::MAX,
            "aof".into(),
            String::new(),
            -1,
            crate::clock::now_ms(),
        ));
        let mut client = Client::new(shared, true);
        client.in_exec = true;
        client.replaying = true;
        Loader {
            srv,
            client,
            out: resp::ReplyBuf::new(false),
        }
    }

    fn run(&mut self, commands: &[Vec<Vec<u8>>], file: &str) -> anyhow::Result<()> {
        for command in commands {
            let args = OwnedArgs::from_slices(command.iter().map(Vec::as_slice));
            let args = args.args();
            if let Err(e) = dispatch::resolve(&args) {
                bail!(
                    "Unknown command '{}' reading the append only file {file}: {e}",
                    String::from_utf8_lossy(&command[0])
                );
            }
            let _ = dispatch::execute(self.srv, &mut self.client, &mut self.out, &args);
            self.out.buf.clear();
        }
        Ok(())
    }
}

/// Temporary files of a rewrite or first base that a crash left behind.
fn remove_leftovers(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("temp-rewriteaof-") || name == format!("temp-{prefix}.incr") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Like Redis's `aofOpenIfNeededOnServerStart`: without any file, writes a base of
/// the (empty) dataset; without an incremental file, creates one; appends to the last.
fn open_for_append(srv: &Server) -> anyhow::Result<()> {
    let aof = &srv.aof;
    let mut files = aof.files.borrow_mut();
    std::fs::create_dir_all(&files.dir)?;
    let prefix = files.prefix.clone();
    let mut manifest = files.manifest.clone();
    let mut changed = false;
    if manifest.base.is_none() && manifest.incrs.is_empty() {
        let preamble = base::preamble_enabled(srv);
        let base_file = manifest.install_base(&prefix, 0, preamble);
        base::write_base_file(
            &files.dir.join(&base_file.name),
            &crate::persist::capture(srv),
            preamble,
        )?;
        tracing::info!("Creating AOF base file {} on server start", base_file.name);
        changed = true;
    }
    if manifest.incrs.is_empty() {
        let incr = manifest.add_incr(&prefix);
        tracing::info!("Creating AOF incr file {} on server start", incr.name);
        changed = true;
    }
    let last = manifest
        .incrs
        .last()
        .expect("one incr at least")
        .name
        .clone();
    let file = open_append(&files.dir, &last)?;
    if changed {
        manifest.persist(&files.dir, &files.manifest_name())?;
    } else {
        sync_dir(&files.dir)?;
    }
    let sizes: Vec<u64> = manifest
        .replay_order()
        .map(|f| file_size(&files.dir.join(&f.name)))
        .collect();
    let current = *sizes.last().unwrap_or(&0);
    files.earlier_size = sizes.iter().sum::<u64>() - current;
    files.manifest = manifest;
    drop(files);
    start_appending(srv, file, current);
    aof.stats.base_size.set(aof.total_size());
    Ok(())
}
