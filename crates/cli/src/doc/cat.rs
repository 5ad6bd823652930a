//! `rustidocs doc cat`: prints a document without joining it. A text as it is; a sheet
//! as its computed values (tab-separated by default, CSV or raw inputs on request).

use super::grid::{self, to_tsv, trim};
use super::{load, print_json, Ctx};
use anyhow::Result;
use clap::Args;
use client::Document;
use serde_json::json;

#[derive(Debug, Args)]
pub struct CatArgs {
    /// The document's id.
    id: String,
    /// Sheets: comma-separated with CSV quoting instead of tab-separated.
    #[arg(long)]
    csv: bool,
    /// Sheets: show what was typed (formulas) instead of the computed values.
    #[arg(long)]
    inputs: bool,
}

pub async fn run(ctx: &Ctx, a: CatArgs) -> Result<()> {
    let loaded = load(ctx, &a.id).await?;
    match &loaded.doc {
        Document::Text(t) => print_text(ctx, &a.id, &t.content()),
        Document::Sheet(s) => {
            let cells = if a.inputs {
                trim(s.inputs())
            } else {
                grid::values(s)?
            };
            print_sheet(ctx, &a, &cells)?;
        }
    }
    Ok(())
}

fn print_text(ctx: &Ctx, id: &str, content: &str) {
    if ctx.json {
        print_json(&json!({"id": id, "kind": "text", "content": content}));
    } else {
        out!("{}", with_final_newline(content));
    }
}

fn print_sheet(ctx: &Ctx, a: &CatArgs, cells: &[Vec<String>]) -> Result<()> {
    if ctx.json {
        let key = if a.inputs { "inputs" } else { "values" };
        print_json(&json!({"id": a.id, "kind": "sheet", key: cells}));
    } else if a.csv {
        out!("{}", docs::csv_io::to_csv(cells)?);
    } else {
        out!("{}", to_tsv(cells));
    }
    Ok(())
}

/// The text with a line break at its end, so the shell prompt starts on its own line.
pub fn with_final_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}
