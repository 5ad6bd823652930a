//! The manifest of a multi-part AOF (Redis 7): which base and incremental files make
//! up the dataset, in order, one `file <name> seq <n> type <b|i|h>` line each.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Base,
    Incr,
    /// Replaced by a rewrite, waiting to be deleted.
    History,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::Incr => 'i',
            FileType::History => 'h',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileType,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
    /// Highest sequence numbers used so far (new files take the next ones).
    pub base_seq: u64,
    pub incr_seq: u64,
}

impl Manifest {
    /// Parses manifest text like Redis's `aofLoadManifestFromFile`: `#` lines are
    /// comments, each other line lists `file`, `seq` and `type` keys in any order.
    pub fn parse(text: &str) -> anyhow::Result<Manifest> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let file = parse_line(line).with_context(|| {
                format!(
                    "Invalid AOF manifest file format (line {}: '{line}')",
                    n + 1
                )
            })?;
            match file.kind {
                FileType::Base => {
                    if m.base.is_some() {
                        bail!("Found duplicate base file information");
                    }
                    m.base_seq = file.seq;
                    m.base = Some(file);
                }
                FileType::Incr => {
                    if file.seq <= m.incr_seq {
                        bail!("Found a non-monotonic sequence number");
                    }
                    m.incr_seq = file.seq;
                    m.incrs.push(file);
                }
                FileType::History => m.history.push(file),
            }
        }
        Ok(m)
    }

    /// The text Redis writes: base, then history, then incremental files.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let files = self.base.iter().chain(&self.history).chain(&self.incrs);
        for f in files {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                f.name,
                f.seq,
                f.kind.letter()
            ));
        }
        out
    }

    /// Files to replay, in order: the base (if any), then the incremental files.
    pub fn replay_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incrs)
    }

    /// Registers a new base file `<prefix>.<seq>.base.rdb` (a snapshot) or
    /// `.base.aof` (commands); the previous base and every incremental file before
    /// `keep_incrs_from` become history.
    pub fn install_base(
        &mut self,
        prefix: &str,
        keep_incrs_from: usize,
        snapshot: bool,
    ) -> AofFile {
        self.base_seq += 1;
        let ext = if snapshot { "rdb" } else { "aof" };
        let base = AofFile {
            name: format!("{prefix}.{}.base.{ext}", self.base_seq),
            seq: self.base_seq,
            kind: FileType::Base,
        };
        if let Some(mut old) = self.base.replace(base.clone()) {
            old.kind = FileType::History;
            self.history.push(old);
        }
        let keep = keep_incrs_from.min(self.incrs.len());
        for mut old in self.incrs.drain(..keep) {
            old.kind = FileType::History;
            self.history.push(old);
        }
        base
    }

    /// Registers a new incremental file `<prefix>.<seq>.incr.aof` at the end.
    pub fn add_incr(&mut self, prefix: &str) -> AofFile {
        self.incr_seq += 1;
        let file = AofFile {
            name: format!("{prefix}.{}.incr.aof", self.incr_seq),
            seq: self.incr_seq,
            kind: FileType::Incr,
        };
        self.incrs.push(file.clone());
        file
    }

    /// Writes the manifest atomically: temporary file, fsync, rename, fsync the
    /// directory (so the rename itself survives a crash).
    pub fn persist(&self, dir: &Path, manifest_name: &str) -> anyhow::Result<()> {
        let tmp = dir.join(format!("temp-{manifest_name}"));
        write_synced(&tmp, self.render().as_bytes())?;
        std::fs::rename(&tmp, dir.join(manifest_name))
            .with_context(|| format!("renaming {} into place", tmp.display()))?;
        sync_dir(dir)
    }

    /// Reads `<dir>/<manifest_name>`; `None` when there is none.
    pub fn load(dir: &Path, manifest_name: &str) -> anyhow::Result<Option<Manifest>> {
        let path = dir.join(manifest_name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Manifest::parse(&text)
                .with_context(|| format!("loading the AOF manifest {}", path.display()))
                .map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

fn parse_line(line: &str) -> anyhow::Result<AofFile> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        bail!("odd number of words");
    }
    let (mut name, mut seq, mut kind) = (None, None, None);
    for pair in words.chunks(2) {
        match pair[0] {
            "file" => name = Some(pair[1].to_string()),
            "seq" => seq = Some(pair[1].parse::<u64>()?),
            "type" => {
                kind = Some(match pair[1] {
                    "b" => FileType::Base,
                    "i" => FileType::Incr,
                    "h" => FileType::History,
                    other => bail!("unknown file type '{other}'"),
                })
            }
            _ => {}
        }
    }
    match (name, seq, kind) {
        (Some(name), Some(seq), Some(kind)) if !name.contains('/') => {
            Ok(AofFile { name, seq, kind })
        }
        _ => bail!("missing file, seq or type"),
    }
}

/// Creates (or replaces) `path` with `bytes` and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Makes renames and file creations in `dir` durable.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsync of directory {}", dir.display()))
}

/// `<dir>/<appenddirname>`, where every AOF file lives.
pub fn aof_dir(dir: &str, dirname: &str) -> PathBuf {
    let base = if dir.is_empty() {
        Path::new(".")
    } else {
        Path::new(dir)
    };
    base.join(dirname)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rewrite() {
        let mut m = Manifest::default();
        m.install_base("appendonly.aof", 0, false);
        m.add_incr("appendonly.aof");
        assert_eq!(
            m.render(),
            "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        assert_eq!(Manifest::parse(&m.render()).unwrap(), m);
        m.add_incr("appendonly.aof");
        m.install_base("appendonly.aof", 1, false);
        assert_eq!(
            m.render(),
            "file appendonly.aof.2.base.aof seq 2 type b\n\
             file appendonly.aof.1.base.aof seq 1 type h\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert!(Manifest::parse("file x seq 1 type z\n").is_err());
        assert!(Manifest::parse("file x seq 1\n").is_err());
    }
}
