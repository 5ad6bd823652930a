//! Sheet grids as people read them: trimmed to the used cells, then tab-separated or
//! as a Markdown table. Shared by `cat`, `watch` and `export`.

use anyhow::Result;
use client::Document;
use docs::formula::evaluate;

/// The grid cut to the smallest top-left rectangle holding every non-empty cell (a new
/// sheet has 100 × 26 cells, nearly all empty).
pub fn trim(grid: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let rows = grid
        .iter()
        .rposition(|r| r.iter().any(|c| !c.is_empty()))
        .map_or(0, |i| i + 1);
    let cols = grid
        .iter()
        .filter_map(|r| r.iter().rposition(|c| !c.is_empty()))
        .max()
        .map_or(0, |i| i + 1);
    grid.into_iter()
        .take(rows)
        .map(|mut r| {
            r.truncate(cols);
            r
        })
        .collect()
}

/// The computed values of a sheet, trimmed.
pub fn values(sheet: &docs::SheetDoc) -> Result<Vec<Vec<String>>> {
    Ok(trim(evaluate(sheet)?))
}

/// Tab-separated lines, each ending in `\n`. Tabs and line breaks inside a value become
/// spaces, so every line is one row.
pub fn to_tsv(grid: &[Vec<String>]) -> String {
    let mut out = String::new();
    for row in grid {
        let cells: Vec<String> = row
            .iter()
            .map(|c| c.replace(['\t', '\n', '\r'], " "))
            .collect();
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    out
}

/// A Markdown table whose first row is the header (as a spreadsheet's first row usually
/// is); `|` is escaped and line breaks become `<br>`.
pub fn to_markdown(grid: &[Vec<String>]) -> String {
    let width = grid.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let line = |row: &[String]| {
        let cells: Vec<String> = (0..width)
            .map(|i| {
                row.get(i)
                    .map(|c| c.replace('|', "\\|").replace('\n', "<br>"))
                    .unwrap_or_default()
            })
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(grid.first().map_or(&[][..], Vec::as_slice));
    out.push_str(&format!("|{}\n", " --- |".repeat(width)));
    for row in grid.iter().skip(1) {
        out.push_str(&line(row));
    }
    out
}

/// What `cat` and `watch` show of a document: the text, or the sheet's values as TSV.
pub fn show(doc: &Document) -> Result<String> {
    match doc {
        Document::Text(t) => Ok(t.content()),
        Document::Sheet(s) => Ok(to_tsv(&values(s)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn trims_to_the_used_rectangle() {
        let grid = g(&[&["a", "", ""], &["", "b", ""], &["", "", ""]]);
        assert_eq!(trim(grid), g(&[&["a", ""], &["", "b"]]));
        assert!(trim(g(&[&["", ""]])).is_empty());
    }

    #[test]
    fn tsv_and_markdown() {
        let grid = g(&[&["name", "n"], &["a|b", "1\t2"]]);
        assert_eq!(to_tsv(&grid), "name\tn\na|b\t1 2\n");
        assert_eq!(
            to_markdown(&grid),
            "| name | n |\n| --- | --- |\n| a\\|b | 1\t2 |\n"
        );
        assert_eq!(to_markdown(&[]), "|  |\n| --- |\n");
    }
}
