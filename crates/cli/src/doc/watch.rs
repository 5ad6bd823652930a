//! `rustidocs doc watch`: joins a document and prints its content after every remote
//! change, and a line whenever someone comes or goes, until Ctrl-C (or SIGTERM).

use super::grid::{show, values};
use super::{print_json, Ctx};
use anyhow::{Context, Result};
use clap::Args;
use client::{Document, Event, Peer, Session};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The document's id.
    id: String,
}

pub async fn run(ctx: &Ctx, a: WatchArgs) -> Result<()> {
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut session = ctx.store.open(&a.id, &ctx.user).await?;
    let mut view = View {
        json: ctx.json,
        peers: BTreeMap::new(),
    };
    view.started(&session)?;
    loop {
        tokio::select! {
            event = session.next_event() => match event {
                Some(e) => view.event(&session, e)?,
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    // Say goodbye, so the others see us leave at once rather than after the timeout.
    session.close().await;
    Ok(())
}

/// What has been printed: the peers last shown, by client id.
struct View {
    json: bool,
    peers: BTreeMap<u64, String>,
}

impl View {
    fn started(&mut self, s: &Session) -> Result<()> {
        let meta = s.meta();
        if self.json {
            let mut first = content_json(s)?;
            first["id"] = s.id().into();
            first["kind"] = meta.kind.as_str().into();
            first["title"] = meta.title.clone().into();
            print_json(&first);
        } else {
            outln!(
                "-- watching {} {:?} ({}); Ctrl-C to stop",
                s.id(),
                meta.title,
                meta.kind.as_str()
            );
            self.content(s)?;
        }
        Ok(())
    }

    fn event(&mut self, s: &Session, e: Event) -> Result<()> {
        match e {
            Event::Changed => self.changed(s)?,
            Event::Presence(peers) => self.presence(&peers),
            Event::Offline => self.note("offline", "lost the cluster; waiting for it"),
            Event::Online => self.note("online", "back online"),
            Event::Error { code, text } => self.note("error", &format!("error {code}: {text}")),
            Event::Sessions(_) | Event::AiAnswer { .. } => {}
        }
        Ok(())
    }

    fn changed(&self, s: &Session) -> Result<()> {
        if self.json {
            print_json(&content_json(s)?);
            return Ok(());
        }
        outln!("-- changed");
        self.content(s)
    }

    fn content(&self, s: &Session) -> Result<()> {
        out!("{}", super::cat::with_final_newline(&show(s.document())?));
        Ok(())
    }

    /// Prints who joined and who left since the last list, and who is here now.
    fn presence(&mut self, peers: &[Peer]) {
        let now: BTreeMap<u64, String> = peers
            .iter()
            .map(|p| (p.client, p.presence.user.clone()))
            .collect();
        let joined: Vec<&str> = names(&now, &self.peers);
        let left: Vec<&str> = names(&self.peers, &now);
        if self.json {
            let present: Vec<_> = peers
                .iter()
                .map(|p| {
                    json!({"user": p.presence.user, "client": p.client,
                    "cursor": p.presence.cursor, "cell": p.presence.cell})
                })
                .collect();
            print_json(&json!({"event": "presence", "joined": joined, "left": left,
                "present": present}));
        } else {
            let mut what: Vec<String> = joined.iter().map(|u| format!("{u} joined")).collect();
            what.extend(left.iter().map(|u| format!("{u} left")));
            if what.is_empty() {
                what.push("someone moved".into());
            }
            let here = if peers.is_empty() {
                "nobody else".to_string()
            } else {
                peers.iter().map(where_is).collect::<Vec<_>>().join(", ")
            };
            outln!("-- {}; present: {here}", what.join(", "));
        }
        self.peers = now;
    }

    fn note(&self, event: &str, text: &str) {
        if self.json {
            print_json(&json!({"event": event, "text": text}));
        } else {
            outln!("-- {text}");
        }
    }
}

/// A content event as `cat --json` shows a document: a text's `content`, a sheet's
/// computed `values` (rows of cells, trimmed to the used ones).
fn content_json(s: &Session) -> Result<Value> {
    Ok(match s.document() {
        Document::Text(t) => json!({"event": "content", "content": t.content()}),
        Document::Sheet(sheet) => json!({"event": "content", "values": values(sheet)?}),
    })
}

/// `ann`, `ann at 12` (text cursor) or `ann at B3` (selected cell).
fn where_is(p: &Peer) -> String {
    let user = &p.presence.user;
    match (&p.presence.cell, p.presence.cursor) {
        (Some(cell), _) => format!("{user} at {cell}"),
        (None, Some(pos)) => format!("{user} at {pos}"),
        (None, None) => user.clone(),
    }
}

/// Users in `a` whose client is not in `b`.
fn names<'a>(a: &'a BTreeMap<u64, String>, b: &BTreeMap<u64, String>) -> Vec<&'a str> {
    a.iter()
        .filter(|(c, _)| !b.contains_key(c))
        .map(|(_, u)| u.as_str())
        .collect()
}
