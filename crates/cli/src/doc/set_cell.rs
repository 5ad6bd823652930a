//! `rustidocs doc set-cell`: sets one cell of a sheet by its A1 name, as a short live
//! session, and prints the cell's computed value.

use super::edit::{stored, touch};
use super::{print_json, Ctx};
use anyhow::{bail, Result};
use clap::Args;
use docs::{a1, Axis, DocKind};
use serde_json::json;

#[derive(Debug, Args)]
pub struct SetCellArgs {
    /// The document's id.
    id: String,
    /// The cell, as `B3`.
    cell: String,
    /// What to put in it: a number, text, or a formula such as `=SUM(A1:A3)`; "" clears it.
    #[arg(allow_hyphen_values = true)]
    value: String,
}

pub async fn run(ctx: &Ctx, a: SetCellArgs) -> Result<()> {
    let at = a1::parse(&a.cell).map_err(|_| {
        anyhow::anyhow!("bad cell reference {:?} (expected a name like B3)", a.cell)
    })?;
    let session = ctx.store.open(&a.id, &ctx.user).await?;
    if session.meta().kind != DocKind::Sheet {
        session.close().await;
        bail!("document {} is a text: use `rustidocs doc edit`", a.id);
    }
    let sheet = session.document().sheet(&a.id)?;
    let (rows, cols) = (sheet.count(Axis::Rows), sheet.count(Axis::Cols));
    if at.row >= rows || at.col >= cols {
        session.close().await;
        bail!(
            "cell {} is outside the sheet ({rows} rows, columns A to {})",
            a.cell.to_uppercase(),
            a1::col_name(cols.saturating_sub(1))
        );
    }
    let done = session.set_cell(at.row, at.col, &a.value).await;
    let value = docs::formula::evaluate(sheet)
        .map(|g| g[at.row][at.col].clone())
        .unwrap_or_default();
    let flushed = session.close().await;
    stored(done?, flushed)?;
    touch(ctx, &a.id).await;
    let name = a1::format(at.row, at.col);
    if ctx.json {
        print_json(&json!({"id": a.id, "cell": name, "input": a.value, "value": value}));
    } else {
        outln!("{name} = {value}");
    }
    Ok(())
}
