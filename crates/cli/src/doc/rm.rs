//! `rustidocs doc rm`: deletes a document (its keys, then its index entries); an unknown
//! id is an error.

use super::{print_json, Ctx};
use anyhow::Result;
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The document's id.
    id: String,
}

pub async fn run(ctx: &Ctx, a: RmArgs) -> Result<()> {
    ctx.store.delete(&a.id).await?;
    if ctx.json {
        print_json(&json!({"id": a.id, "removed": true}));
    } else {
        outln!("removed {}", a.id);
    }
    Ok(())
}
