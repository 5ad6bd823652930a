//! `rustidocs doc new`: creates an empty text or sheet (a sheet gets the client's initial
//! grid) and prints its id alone on the last line.

use super::list::info_json;
use super::{print_json, Ctx};
use anyhow::Result;
use clap::{Args, ValueEnum};
use client::DocInfo;
use docs::DocKind;

#[derive(Debug, Args)]
pub struct NewArgs {
    /// What kind of document.
    #[arg(long, value_enum)]
    kind: Kind,
    /// Its title.
    #[arg(long, default_value = "Untitled")]
    title: String,
    /// The topic it is listed under.
    #[arg(long, default_value = "")]
    topic: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Text,
    Sheet,
}

impl From<Kind> for DocKind {
    fn from(k: Kind) -> DocKind {
        match k {
            Kind::Text => DocKind::Text,
            Kind::Sheet => DocKind::Sheet,
        }
    }
}

pub async fn run(ctx: &Ctx, a: NewArgs) -> Result<()> {
    let info = ctx.store.create(a.kind.into(), &a.title, &a.topic).await?;
    announce(ctx, &info, "created");
    Ok(())
}

/// Says what was made; the id is alone on the last line (or is the JSON's `id`).
pub fn announce(ctx: &Ctx, info: &DocInfo, verb: &str) {
    if ctx.json {
        print_json(&info_json(info));
        return;
    }
    outln!(
        "{verb} {} {:?} in topic {:?}",
        info.meta.kind.as_str(),
        info.meta.title,
        info.meta.topic
    );
    outln!("{}", info.id);
}
