//! `rustidocs doc list`: the documents, most recently updated first, optionally of one
//! topic; a table for people, a JSON array for scripts.

use super::{print_json, utc_time, Ctx};
use anyhow::Result;
use clap::Args;
use client::DocInfo;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the documents of this topic.
    #[arg(long)]
    topic: Option<String>,
}

pub async fn run(ctx: &Ctx, a: ListArgs) -> Result<()> {
    // The client shows as `updated` the later of the metadata's time and the index
    // score, which edits move (`edit::touch`) and the control service's compactions too.
    let docs = ctx.store.list(a.topic.as_deref()).await?;
    if ctx.json {
        print_json(&Value::Array(docs.iter().map(info_json).collect()));
    } else {
        print_table(&docs);
    }
    Ok(())
}

/// A document's id and metadata as JSON (times in Unix milliseconds).
pub fn info_json(d: &DocInfo) -> Value {
    json!({
        "id": d.id,
        "kind": d.meta.kind.as_str(),
        "title": d.meta.title,
        "topic": d.meta.topic,
        "created": d.meta.created,
        "updated": d.meta.updated,
    })
}

fn print_table(docs: &[DocInfo]) {
    if docs.is_empty() {
        outln!("no documents");
        return;
    }
    let rows: Vec<[String; 5]> = docs
        .iter()
        .map(|d| {
            [
                d.id.clone(),
                d.meta.kind.as_str().to_string(),
                d.meta.title.clone(),
                d.meta.topic.clone(),
                utc_time(d.meta.updated),
            ]
        })
        .collect();
    let header = ["ID", "KIND", "TITLE", "TOPIC", "UPDATED (UTC)"].map(str::to_string);
    let width = |i: usize| {
        std::iter::once(&header)
            .chain(&rows)
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..4).map(width).collect();
    for r in std::iter::once(&header).chain(&rows) {
        outln!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
    }
}
