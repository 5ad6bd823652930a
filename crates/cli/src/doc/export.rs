//! `rustidocs doc export`: writes a document as txt, md, csv or xlsx to a file or stdout.
//! A sheet's csv and xlsx keep the inputs (formulas), so importing them gives it back.

use super::grid::{to_markdown, to_tsv, trim, values};
use super::{load, print_json, Ctx};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use client::Document;
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The document's id.
    id: String,
    /// txt: the text (a sheet: tab-separated values); md: the text (a sheet: a Markdown
    /// table of values); csv, xlsx: sheets only, inputs and formulas kept [default: from
    /// the --output extension, else txt for a text and csv for a sheet].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The file to write [default: stdout].
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// csv: write computed values instead of inputs (formulas).
    #[arg(long)]
    values: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Txt,
    Md,
    Csv,
    Xlsx,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Txt => "txt",
            Format::Md => "md",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Format::value_variants()
            .iter()
            .copied()
            .find(|f| f.name() == ext)
    }
}

pub async fn run(ctx: &Ctx, a: ExportArgs) -> Result<()> {
    let loaded = load(ctx, &a.id).await?;
    let format = a
        .format
        .or_else(|| a.output.as_deref().and_then(Format::from_path))
        .unwrap_or(match loaded.doc {
            Document::Text(_) => Format::Txt,
            Document::Sheet(_) => Format::Csv,
        });
    let bytes = render(&loaded.doc, format, a.values)?;
    match &a.output {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            report(ctx, &a.id, format, path, bytes.len());
        }
        None => to_stdout(ctx, &a.id, format, &bytes)?,
    }
    Ok(())
}

/// The file's bytes.
fn render(doc: &Document, format: Format, computed: bool) -> Result<Vec<u8>> {
    let text = match (doc, format) {
        (Document::Text(t), Format::Txt | Format::Md) => t.content(),
        (Document::Text(_), _) => bail!("a text document exports as txt or md"),
        (Document::Sheet(s), Format::Txt) => to_tsv(&values(s)?),
        (Document::Sheet(s), Format::Md) => to_markdown(&values(s)?),
        (Document::Sheet(s), Format::Csv) => {
            let grid = if computed {
                values(s)?
            } else {
                trim(s.inputs())
            };
            docs::csv_io::to_csv(&grid)?
        }
        (Document::Sheet(s), Format::Xlsx) => return Ok(docs::xlsx_io::export_xlsx(s)?),
    };
    Ok(text.into_bytes())
}

fn report(ctx: &Ctx, id: &str, format: Format, path: &Path, len: usize) {
    if ctx.json {
        print_json(&json!({"id": id, "format": format.name(),
            "output": path.display().to_string(), "bytes": len}));
    } else {
        outln!("wrote {} ({len} bytes, {})", path.display(), format.name());
    }
}

fn to_stdout(ctx: &Ctx, id: &str, format: Format, bytes: &[u8]) -> Result<()> {
    if format == Format::Xlsx && (ctx.json || std::io::stdout().is_terminal()) {
        bail!("xlsx is a binary format: give --output FILE");
    }
    if ctx.json {
        let content = String::from_utf8_lossy(bytes);
        print_json(&json!({"id": id, "format": format.name(), "content": content}));
        return Ok(());
    }
    super::emit_bytes(bytes);
    Ok(())
}
