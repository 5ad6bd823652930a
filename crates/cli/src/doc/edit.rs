//! `rustidocs doc edit`: one insertion or deletion in a text document, made as a short
//! live session (so open editors see it at once), acknowledged before the command exits.

use super::{print_json, Ctx};
use anyhow::{anyhow, bail, Result};
use clap::{ArgGroup, Args};
use client::session::Delivery;
use client::Session;
use docs::DocKind;
use serde_json::json;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("op").required(true).args(["insert", "delete"])))]
pub struct EditArgs {
    /// The document's id.
    id: String,
    /// Insert TEXT before character POS (0 is the start; positions count characters).
    #[arg(long, num_args = 2, value_names = ["POS", "TEXT"], allow_hyphen_values = true)]
    insert: Option<Vec<String>>,
    /// Delete LEN characters from character POS.
    #[arg(long, num_args = 2, value_names = ["POS", "LEN"])]
    delete: Option<Vec<usize>>,
}

pub async fn run(ctx: &Ctx, a: EditArgs) -> Result<()> {
    let session = open_text(ctx, &a.id).await?;
    let done = apply(&session, &a).await;
    let length = session.document().text(&a.id)?.len_chars();
    let flushed = session.close().await;
    stored(done?, flushed)?;
    touch(ctx, &a.id).await;
    if ctx.json {
        print_json(&json!({"id": a.id, "length": length}));
    } else {
        outln!("{}: {length} characters", a.id);
    }
    Ok(())
}

/// Joins a document that must be a text; a sheet gets a pointer to `set-cell`.
pub async fn open_text(ctx: &Ctx, id: &str) -> Result<Session> {
    let session = ctx.store.open(id, &ctx.user).await?;
    if session.meta().kind != DocKind::Text {
        session.close().await;
        bail!("document {id} is a sheet: use `rustidocs doc set-cell`");
    }
    Ok(session)
}

async fn apply(session: &Session, a: &EditArgs) -> Result<Delivery> {
    let len = session.document().text(session.id())?.len_chars();
    let delivery = if let Some(ins) = &a.insert {
        let pos: usize = ins[0]
            .parse()
            .map_err(|_| anyhow!("bad position {:?}: expected a character count", ins[0]))?;
        if pos > len {
            bail!("position {pos} is past the end of the text ({len} characters)");
        }
        session.insert_text(pos, &ins[1]).await?
    } else if let Some(del) = &a.delete {
        let (pos, n) = (del[0], del[1]);
        if pos.checked_add(n).is_none_or(|end| end > len) {
            bail!("cannot delete {n} characters at {pos}: the text has {len} characters");
        }
        session.delete_text(pos, n).await?
    } else {
        unreachable!("clap requires --insert or --delete")
    };
    Ok(delivery)
}

/// Moves an edited document to the top of the list (`ZADD docs:index XX GT now id`): the
/// client library's edits leave the index alone. `XX` never re-adds a document removed
/// meanwhile, and `GT` never moves one back. The edit is stored already, so a failure
/// here is only a warning.
pub async fn touch(ctx: &Ctx, id: &str) {
    let mut zadd = redis::cmd("ZADD");
    zadd.arg(docs::keys::DOCS_INDEX)
        .arg("XX")
        .arg("GT")
        .arg(client::catalog::now_ms())
        .arg(id);
    if let Err(e) = ctx.store.query::<()>(&zadd).await {
        tracing::warn!("{id} edited, but not moved up the document list: {e}");
    }
}

/// An edit the cluster did not take would die with this process: say so. `flushed` is
/// what [`Session::close`] answered: a queued edit that its last flush (or a reconnect's
/// catch-up) stored is saved.
pub fn stored(delivery: Delivery, flushed: bool) -> Result<()> {
    match (delivery, flushed) {
        (Delivery::Acknowledged { .. }, _) | (Delivery::Queued, true) => Ok(()),
        (Delivery::Queued, false) => bail!("the cluster did not take the edit (it is not saved)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_edit_stored_at_close_is_saved() {
        assert!(stored(Delivery::Queued, true).is_ok());
        assert!(stored(Delivery::Queued, false).is_err());
        assert!(stored(Delivery::Acknowledged { replicas: 0 }, true).is_ok());
    }
}
