//! A collaborative text document: one yrs `Text` named `content`.
//! Positions and lengths in this API are in characters (Unicode scalar values, like GTK).

use yrs::types::text::TextEvent;
use yrs::types::Delta;
use yrs::{Doc, GetString, Observable, OffsetKind, Options, Out, Text, TextRef, Transact};

use crate::error::{DocError, Result};
use crate::replica::{Inbox, Replica};

/// Name of the shared text inside the yrs document.
pub const TEXT_NAME: &str = "content";

/// One step of a change, in characters, as seen by an observer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextChange {
    /// Skip this many unchanged characters.
    Retain(usize),
    /// Insert this text at the current position.
    Insert(String),
    /// Delete this many characters at the current position.
    Delete(usize),
}

/// A text document.
///
/// yrs counts in UTF-16 code units here (`OffsetKind::Utf16`, as Yjs does, so a browser
/// peer agrees); this type converts characters to UTF-16 units at its edges.
pub struct TextDoc {
    doc: Doc,
    text: TextRef,
    inbox: Inbox,
}

impl Default for TextDoc {
    fn default() -> Self {
        Self::new()
    }
}

impl TextDoc {
    /// A new empty document with a random client id.
    pub fn new() -> Self {
        Self::with_options(Options::default())
    }

    /// A new empty document with a given client id (unique among live peers, below 2^53).
    pub fn with_client_id(client_id: u64) -> Self {
        Self::with_options(Options::with_client_id(crate::replica::client_id(
            client_id,
        )))
    }

    fn with_options(mut options: Options) -> Self {
        options.offset_kind = OffsetKind::Utf16;
        let doc = Doc::with_options(options);
        let text = doc.get_or_insert_text(TEXT_NAME);
        Self {
            doc,
            text,
            inbox: Inbox::default(),
        }
    }

    /// The whole content.
    pub fn content(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Length in characters.
    pub fn len_chars(&self) -> usize {
        self.content().chars().count()
    }

    /// Inserts `chunk` before character `pos`; returns the update (v1) to broadcast.
    pub fn insert(&self, pos: usize, chunk: &str) -> Result<Vec<u8>> {
        let mut txn = self.doc.transact_mut();
        let content = self.text.get_string(&txn);
        let at = utf16_offset(&content, pos)?;
        self.text.insert(&mut txn, at, chunk);
        Ok(txn.encode_update_v1())
    }

    /// Appends `chunk` at the end; returns the update (v1). Unlike [`TextDoc::insert`] it
    /// need not read the text to find the offset, so it costs the same on any length.
    pub fn append(&self, chunk: &str) -> Vec<u8> {
        let mut txn = self.doc.transact_mut();
        let end = self.text.len(&txn);
        self.text.insert(&mut txn, end, chunk);
        txn.encode_update_v1()
    }

    /// Deletes `len` characters from character `pos`; returns the update (v1) to broadcast.
    pub fn delete(&self, pos: usize, len: usize) -> Result<Vec<u8>> {
        let mut txn = self.doc.transact_mut();
        let content = self.text.get_string(&txn);
        let start = utf16_offset(&content, pos)?;
        let end = utf16_offset(&content, pos + len)?;
        self.text.remove_range(&mut txn, start, end - start);
        Ok(txn.encode_update_v1())
    }

    /// Calls `f` with the change (in characters) after every transaction that changes the
    /// text, local or remote. `key` names the subscription for [`TextDoc::unobserve`].
    pub fn observe<F>(&self, key: &str, mut f: F)
    where
        F: FnMut(&[TextChange]) + 'static,
    {
        // Deletions in yrs deltas are counted in UTF-16 units of the text *before* the
        // change, which is gone by then: keep a shadow copy to translate them.
        let mut shadow = self.content();
        let text = self.text.clone();
        self.text.observe(key, move |txn, event: &TextEvent| {
            let changes = to_char_changes(&shadow, event.delta(txn));
            shadow = text.get_string(txn);
            f(&changes);
        });
    }

    /// Removes the observer registered under `key`; false if there was none.
    pub fn unobserve(&self, key: &str) -> bool {
        self.text.unobserve(key)
    }
}

impl Replica for TextDoc {
    fn doc(&self) -> &Doc {
        &self.doc
    }

    fn inbox(&self) -> &Inbox {
        &self.inbox
    }
}

/// The UTF-16 offset of character `pos` in `s`.
pub fn utf16_offset(s: &str, pos: usize) -> Result<u32> {
    let mut units = 0usize;
    let mut chars = s.chars();
    for _ in 0..pos {
        match chars.next() {
            Some(c) => units += c.len_utf16(),
            None => {
                return Err(DocError::OutOfRange {
                    pos,
                    len: s.chars().count(),
                })
            }
        }
    }
    u32::try_from(units).map_err(|_| DocError::OutOfRange { pos, len: units })
}

/// Counts the characters that make up the next `units` UTF-16 units of `chars`.
fn take_units(chars: &mut std::str::Chars<'_>, units: u32) -> usize {
    let (mut seen, mut count) = (0u32, 0usize);
    while seen < units {
        match chars.next() {
            Some(c) => {
                seen += c.len_utf16() as u32;
                count += 1;
            }
            None => break,
        }
    }
    count
}

/// Translates a yrs delta (UTF-16 units) into character counts, walking the old text.
fn to_char_changes(old: &str, delta: &[Delta]) -> Vec<TextChange> {
    let mut old_chars = old.chars();
    let mut changes = Vec::with_capacity(delta.len());
    for d in delta {
        match d {
            Delta::Retain(n, _) => changes.push(TextChange::Retain(take_units(&mut old_chars, *n))),
            Delta::Deleted(n) => changes.push(TextChange::Delete(take_units(&mut old_chars, *n))),
            Delta::Inserted(Out::Any(any), _) => changes.push(TextChange::Insert(any.to_string())),
            Delta::Inserted(other, _) => changes.push(TextChange::Insert(other.to_string())),
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn insert_and_delete_count_characters_not_bytes() {
        let doc = TextDoc::with_client_id(1);
        doc.insert(0, "héllo 🌍!").unwrap();
        doc.insert(7, "x").unwrap();
        assert_eq!(doc.content(), "héllo 🌍x!");
        doc.delete(1, 1).unwrap();
        doc.delete(5, 1).unwrap();
        assert_eq!(doc.content(), "hllo x!");
        assert_eq!(doc.len_chars(), 7);
    }

    #[test]
    fn append_goes_after_wide_characters() {
        let doc = TextDoc::with_client_id(1);
        doc.insert(0, "🌍é").unwrap();
        let update = doc.append("!");
        assert_eq!(doc.content(), "🌍é!");
        let other = TextDoc::with_client_id(2);
        other.apply_update_v2(&doc.snapshot_v2()).unwrap();
        other.apply_update_v1(&update).unwrap();
        assert_eq!(other.content(), "🌍é!");
    }

    #[test]
    fn out_of_range_positions_are_errors() {
        let doc = TextDoc::with_client_id(1);
        doc.insert(0, "ab").unwrap();
        assert!(matches!(
            doc.insert(3, "x"),
            Err(DocError::OutOfRange { pos: 3, len: 2 })
        ));
        assert!(doc.delete(1, 2).is_err());
        assert_eq!(doc.content(), "ab");
    }

    #[test]
    fn updates_and_diffs_sync_two_replicas() {
        let a = TextDoc::with_client_id(1);
        let b = TextDoc::with_client_id(2);
        let u1 = a.insert(0, "hello").unwrap();
        b.apply_update_v1(&u1).unwrap();
        b.insert(5, " world").unwrap();
        let diff = b.diff_v1(&a.state_vector_v1()).unwrap();
        a.apply_update_v1(&diff).unwrap();
        a.apply_update_v1(&u1).unwrap(); // duplicates are harmless
        assert_eq!(a.content(), "hello world");
        let c = TextDoc::with_client_id(3);
        c.apply_update_v2(&a.snapshot_v2()).unwrap();
        assert_eq!(c.content(), "hello world");
    }

    #[test]
    fn garbage_update_is_an_error() {
        let doc = TextDoc::with_client_id(1);
        assert!(matches!(
            doc.apply_update_v1(&[0xff, 0xff, 0xff]),
            Err(DocError::Update(_))
        ));
        assert!(doc.diff_v1(&[0xff]).is_err());
    }

    #[test]
    fn observer_sees_local_and_remote_changes_in_characters() {
        let a = TextDoc::with_client_id(1);
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        a.observe("test", move |c| sink.borrow_mut().push(c.to_vec()));
        a.insert(0, "🌍🌍ab").unwrap();
        a.delete(1, 2).unwrap();
        let b = TextDoc::with_client_id(2);
        b.apply_update_v1(&a.diff_v1(&b.state_vector_v1()).unwrap())
            .unwrap();
        a.apply_update_v1(&b.insert(2, "Z").unwrap()).unwrap();
        assert_eq!(
            *seen.borrow(),
            vec![
                vec![TextChange::Insert("🌍🌍ab".into())],
                vec![TextChange::Retain(1), TextChange::Delete(2)],
                vec![TextChange::Retain(2), TextChange::Insert("Z".into())],
            ]
        );
        assert!(a.unobserve("test"));
        a.insert(0, "q").unwrap();
        assert_eq!(seen.borrow().len(), 3);
    }
}
