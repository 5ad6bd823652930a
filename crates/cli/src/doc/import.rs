//! `rustidocs doc import`: creates a document from a file, its kind from the extension
//! (.txt/.md → text, .csv/.xlsx → sheet); prints the new id alone on the last line.

use super::new::announce;
use super::Ctx;
use anyhow::{bail, Context, Result};
use clap::Args;
use client::catalog::{random_client_id, NEW_SHEET_COLS, NEW_SHEET_ROWS};
use client::Document;
use docs::{Axis, SheetDoc, TextDoc};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: .txt or .md for a text, .csv or .xlsx (first worksheet) for a sheet.
    file: PathBuf,
    /// Its title [default: the file name without extension].
    #[arg(long)]
    title: Option<String>,
    /// The topic it is listed under.
    #[arg(long, default_value = "")]
    topic: String,
}

pub async fn run(ctx: &Ctx, a: ImportArgs) -> Result<()> {
    let doc = read(&a.file)?;
    let title = a.title.clone().unwrap_or_else(|| stem(&a.file));
    let info = ctx.store.create_from(&doc, &title, &a.topic).await?;
    announce(ctx, &info, "imported");
    Ok(())
}

/// The document a file makes.
fn read(path: &Path) -> Result<Document> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let utf8 = |bytes: Vec<u8>| {
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", path.display()))
    };
    match ext.as_str() {
        "txt" | "md" => {
            let text = TextDoc::with_client_id(random_client_id());
            text.insert(0, &utf8(bytes)?)?;
            Ok(Document::Text(text))
        }
        "csv" => {
            let sheet = new_sheet()?;
            docs::csv_io::import_csv(&sheet, &utf8(bytes)?)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(Document::Sheet(sheet))
        }
        "xlsx" => {
            let sheet = new_sheet()?;
            docs::xlsx_io::import_xlsx(&sheet, &bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(Document::Sheet(sheet))
        }
        _ => bail!(
            "cannot tell what {} holds: expected .txt, .md, .csv or .xlsx",
            path.display()
        ),
    }
}

/// An empty sheet with the grid `doc new` gives (imports larger than that grow it), so
/// an imported sheet has room to be edited like a new one.
fn new_sheet() -> Result<SheetDoc> {
    let sheet = SheetDoc::with_client_id(random_client_id());
    sheet.insert(Axis::Rows, 0, NEW_SHEET_ROWS)?;
    sheet.insert(Axis::Cols, 0, NEW_SHEET_COLS)?;
    Ok(sheet)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Imported".to_string())
}
