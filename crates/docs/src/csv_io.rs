//! CSV import and export of a sheet (the `csv` crate): export inputs or computed values,
//! import into an empty sheet.

use crate::error::{DocError, Result};
use crate::sheet::{Axis, SheetDoc};

/// Writes a grid of strings as CSV (comma separated, `\n` line ends, quoting as needed).
pub fn to_csv(grid: &[Vec<String>]) -> Result<String> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for row in grid {
        w.write_record(row).map_err(csv_error)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| DocError::Message(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| DocError::Message(e.to_string()))
}

/// Fills a sheet from CSV: grows it to fit, then sets every non-empty field (a field
/// starting with `=` is a formula). Returns the updates (v1) to broadcast, in order.
pub fn import_csv(sheet: &SheetDoc, text: &str) -> Result<Vec<Vec<u8>>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.map(|rec| rec.iter().map(str::to_string).collect()))
        .collect::<std::result::Result<_, _>>()
        .map_err(csv_error)?;
    import_grid(sheet, &rows)
}

/// Fills a sheet from a grid of inputs (row-major; rows may differ in length): grows it
/// to fit, then sets every non-empty input. Returns the updates (v1), in order.
pub fn import_grid(sheet: &SheetDoc, rows: &[Vec<String>]) -> Result<Vec<Vec<u8>>> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut updates = Vec::new();
    for (axis, want) in [(Axis::Rows, rows.len()), (Axis::Cols, width)] {
        let have = sheet.count(axis);
        if want > have {
            updates.push(sheet.insert(axis, have, want - have)?);
        }
    }
    for (i, row) in rows.iter().enumerate() {
        for (j, field) in row.iter().enumerate().filter(|(_, f)| !f.is_empty()) {
            updates.push(sheet.set_cell(i, j, field)?);
        }
    }
    Ok(updates)
}

fn csv_error(e: csv::Error) -> DocError {
    DocError::Message(format!("csv: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::evaluate;

    #[test]
    fn import_evaluate_export() {
        let sheet = SheetDoc::with_client_id(1);
        import_csv(&sheet, "a,\"b, c\"\n1,2,=A2+B2\n").unwrap();
        assert_eq!((sheet.count(Axis::Rows), sheet.count(Axis::Cols)), (2, 3));
        assert_eq!(
            to_csv(&sheet.inputs()).unwrap(),
            "a,\"b, c\",\n1,2,=A2+B2\n"
        );
        assert_eq!(
            to_csv(&evaluate(&sheet).unwrap()).unwrap(),
            "a,\"b, c\",\n1,2,3\n"
        );
    }

    #[test]
    fn import_into_a_larger_sheet_keeps_its_size() {
        let sheet = SheetDoc::with_client_id(1);
        sheet.insert(Axis::Rows, 0, 5).unwrap();
        sheet.insert(Axis::Cols, 0, 5).unwrap();
        import_csv(&sheet, "x\n").unwrap();
        assert_eq!(sheet.count(Axis::Rows), 5);
        assert_eq!(sheet.cell_input(0, 0).unwrap().as_deref(), Some("x"));
    }
}
