//! Formula references as stable ids: `A1` ↔ `[[<rowid>|<colid>]]` tokens, so a formula
//! keeps pointing at the same cell when rows or columns are inserted or deleted elsewhere.
//!
//! Stored form: each A1 reference inside the grid becomes `[[` `$`? rowid `|` `$`? colid
//! `]]` (the `$` keep absolute markers). Text inside string literals is never touched.

use std::collections::HashMap;

use crate::a1::{self, CellRef, Piece};

/// The current row and column ids, by index and by id.
pub struct Ids {
    pub(crate) row_ids: Vec<String>,
    pub(crate) col_ids: Vec<String>,
    pub(crate) rows: HashMap<String, usize>,
    pub(crate) cols: HashMap<String, usize>,
}

impl Ids {
    /// Indexes the given id lists (display order).
    pub fn new(row_ids: Vec<String>, col_ids: Vec<String>) -> Self {
        let index = |ids: &[String]| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect()
        };
        let (rows, cols) = (index(&row_ids), index(&col_ids));
        Self {
            row_ids,
            col_ids,
            rows,
            cols,
        }
    }
}

const OPEN: &str = "[[";
const CLOSE: &str = "]]";
/// What a reference to a deleted row or column shows.
pub const REF_ERROR: &str = "#REF!";

/// The stored form of a user's input: formulas get their in-grid references replaced by
/// tokens; plain values are stored unchanged.
pub fn to_stored(input: &str, ids: &Ids) -> String {
    if !input.starts_with('=') {
        return input.to_string();
    }
    a1::split_refs(input)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(t) => t.to_string(),
            Piece::Ref(r) => token(&r, ids).unwrap_or_else(|| a1::format_ref(&r)),
        })
        .collect()
}

fn token(r: &CellRef, ids: &Ids) -> Option<String> {
    let (row, col) = (ids.row_ids.get(r.row)?, ids.col_ids.get(r.col)?);
    let d = |abs: bool| if abs { "$" } else { "" };
    Some(format!(
        "{OPEN}{}{row}|{}{col}{CLOSE}",
        d(r.abs_row),
        d(r.abs_col)
    ))
}

/// The A1 form of a stored input, and whether some reference points at a deleted row or
/// column (shown as `#REF!`).
pub fn to_a1(stored: &str, ids: &Ids) -> (String, bool) {
    if !stored.starts_with('=') {
        return (stored.to_string(), false);
    }
    let b = stored.as_bytes();
    let (mut out, mut broken, mut i, mut copied) = (String::new(), false, 0, 0);
    while i < b.len() {
        if b[i] == b'"' {
            i = a1::skip_string(b, i);
            continue;
        }
        let Some(end) = stored[i..]
            .starts_with(OPEN)
            .then(|| stored[i..].find(CLOSE))
            .flatten()
        else {
            i += 1;
            continue;
        };
        out.push_str(&stored[copied..i]);
        match resolve(&stored[i + OPEN.len()..i + end], ids) {
            Some(r) => out.push_str(&a1::format_ref(&r)),
            None => {
                out.push_str(REF_ERROR);
                broken = true;
            }
        }
        i += end + CLOSE.len();
        copied = i;
    }
    out.push_str(&stored[copied..]);
    (out, broken)
}

/// Resolves the inside of a token (`$rowid|colid`) to current indices.
fn resolve(inner: &str, ids: &Ids) -> Option<CellRef> {
    let (r, c) = inner.split_once('|')?;
    let (abs_row, r) = strip_dollar(r);
    let (abs_col, c) = strip_dollar(c);
    let (row, col) = (*ids.rows.get(r)?, *ids.cols.get(c)?);
    Some(CellRef {
        row,
        col,
        abs_row,
        abs_col,
    })
}

fn strip_dollar(s: &str) -> (bool, &str) {
    match s.strip_prefix('$') {
        Some(rest) => (true, rest),
        None => (false, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(rows: &[&str], cols: &[&str]) -> Ids {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Ids::new(v(rows), v(cols))
    }

    #[test]
    fn formulas_round_trip_through_tokens() {
        let ids = ids(&["r0", "r1", "r2"], &["c0", "c1"]);
        let stored = to_stored("=SUM(A1:$B$3)+\"A1\"+Z99", &ids);
        assert_eq!(stored, "=SUM([[r0|c0]]:[[$r2|$c1]])+\"A1\"+Z99");
        assert_eq!(
            to_a1(&stored, &ids),
            ("=SUM(A1:$B$3)+\"A1\"+Z99".to_string(), false)
        );
        assert_eq!(to_stored("A1", &ids), "A1");
    }

    #[test]
    fn moved_and_deleted_ids_follow_the_cell() {
        let before = ids(&["r0", "r1"], &["c0"]);
        let stored = to_stored("=A2*2+A1", &before);
        let after = ids(&["new", "r1"], &["c0"]);
        assert_eq!(to_a1(&stored, &after), ("=A2*2+#REF!".to_string(), true));
        let shifted = ids(&["x", "r0", "r1"], &["c0"]);
        assert_eq!(to_a1(&stored, &shifted).0, "=A3*2+A2");
    }
}
