//! A1 cell references: column letters, `B12` ↔ (row index, column index), and a scanner
//! that finds references in formula text (outside string literals).

use crate::error::{DocError, Result};

/// Excel's (and ironcalc's) last column, `XFD`.
pub const MAX_COLS: usize = 16_384;
/// Excel's (and ironcalc's) last row.
pub const MAX_ROWS: usize = 1_048_576;

/// A parsed reference: 0-based indices and whether each part was absolute (`$`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRef {
    pub row: usize,
    pub col: usize,
    pub abs_row: bool,
    pub abs_col: bool,
}

/// Column letters of a 0-based column index: 0 → `A`, 26 → `AA`.
pub fn col_name(col: usize) -> String {
    let mut n = col + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A1 text of 0-based indices: (0, 0) → `A1`.
pub fn format(row: usize, col: usize) -> String {
    format!("{}{}", col_name(col), row + 1)
}

/// A1 text with `$` markers.
pub fn format_ref(r: &CellRef) -> String {
    let d = |abs: bool| if abs { "$" } else { "" };
    format!(
        "{}{}{}{}",
        d(r.abs_col),
        col_name(r.col),
        d(r.abs_row),
        r.row + 1
    )
}

/// Parses `B12` or `$B$12` (case-insensitive) into 0-based indices.
pub fn parse(text: &str) -> Result<CellRef> {
    match scan_ref(text.as_bytes(), 0) {
        Some((r, end)) if end == text.len() => Ok(r),
        _ => Err(DocError::BadRef(text.to_string())),
    }
}

/// Tries to read a reference starting exactly at `start`; returns it and its end.
fn scan_ref(b: &[u8], start: usize) -> Option<(CellRef, usize)> {
    let mut i = start;
    let abs_col = eat(b, &mut i, b'$');
    let letters = i;
    while i < b.len() && b[i].is_ascii_alphabetic() && i - letters < 3 {
        i += 1;
    }
    if i == letters || (i < b.len() && b[i].is_ascii_alphabetic()) {
        return None;
    }
    let col = b[letters..i].iter().fold(0usize, |acc, c| {
        acc * 26 + (c.to_ascii_uppercase() - b'A' + 1) as usize
    });
    let abs_row = eat(b, &mut i, b'$');
    let digits = i;
    while i < b.len() && b[i].is_ascii_digit() && i - digits < 8 {
        i += 1;
    }
    let row: usize = std::str::from_utf8(&b[digits..i]).ok()?.parse().ok()?;
    if row == 0 || row > MAX_ROWS || col > MAX_COLS {
        return None;
    }
    let r = CellRef {
        row: row - 1,
        col: col - 1,
        abs_row,
        abs_col,
    };
    Some((r, i))
}

fn eat(b: &[u8], i: &mut usize, c: u8) -> bool {
    let hit = b.get(*i) == Some(&c);
    *i += usize::from(hit);
    hit
}

/// True for bytes that glue to a name: a reference may not touch them on either side.
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'$' | b'!' | b'[' | b']') || c >= 0x80
}

/// A piece of formula text: verbatim text, or a reference found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Ref(CellRef),
}

/// Splits formula text into verbatim pieces and A1 references. String literals
/// (`"…"`, with `""` escapes), function names (`LOG10(`) and sheet-qualified names are
/// left as text.
pub fn split_refs(formula: &str) -> Vec<Piece<'_>> {
    let b = formula.as_bytes();
    let (mut pieces, mut text_start, mut i) = (Vec::new(), 0, 0);
    while i < b.len() {
        if b[i] == b'"' {
            i = skip_string(b, i);
            continue;
        }
        let boundary = i == 0 || !is_word(b[i - 1]);
        if let Some((r, end)) = boundary.then(|| scan_ref(b, i)).flatten() {
            if end == b.len() || !(is_word(b[end]) || b[end] == b'(') {
                pieces.push(Piece::Text(&formula[text_start..i]));
                pieces.push(Piece::Ref(r));
                (i, text_start) = (end, end);
                continue;
            }
        }
        i += 1;
    }
    pieces.push(Piece::Text(&formula[text_start..]));
    pieces.retain(|p| *p != Piece::Text(""));
    pieces
}

/// The index just past the string literal opening at `start`.
pub(crate) fn skip_string(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'"' {
            if b.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_round_trip() {
        for (col, name) in [
            (0, "A"),
            (25, "Z"),
            (26, "AA"),
            (701, "ZZ"),
            (702, "AAA"),
            (16_383, "XFD"),
        ] {
            assert_eq!(col_name(col), name);
            assert_eq!(parse(&format!("{name}1")).unwrap().col, col);
        }
    }

    #[test]
    fn parse_accepts_absolute_and_lowercase() {
        let r = parse("$b$12").unwrap();
        assert_eq!((r.row, r.col, r.abs_row, r.abs_col), (11, 1, true, true));
        assert_eq!(format_ref(&r), "$B$12");
        assert_eq!(format(0, 0), "A1");
        for bad in ["", "A", "1", "A0", "AAAA1", "XFE1", "A1B", "A1048577"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn split_finds_refs_but_not_functions_or_strings() {
        let pieces = split_refs("=SUM(A1:$B2)+LOG10(C3)&\"D4\"&Sheet1!E5+e6");
        let refs: Vec<String> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Ref(r) => Some(format_ref(r)),
                Piece::Text(_) => None,
            })
            .collect();
        assert_eq!(refs, ["A1", "$B2", "C3", "E6"]);
    }
}
