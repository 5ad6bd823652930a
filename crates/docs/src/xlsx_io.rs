//! xlsx import and export of a sheet with ironcalc: export writes inputs (formulas kept)
//! with their computed values; import reads the first worksheet's inputs into a sheet.

use std::io::Cursor;

use ironcalc::base::Model;

use crate::csv_io::import_grid;
use crate::error::{DocError, Result};
use crate::formula::computed_model;
use crate::sheet::SheetDoc;

/// The bytes of an xlsx workbook with one worksheet holding the sheet's cells. Formulas
/// are written as formulas, with the values `formula::evaluate` shows cached beside them.
pub fn export_xlsx(sheet: &SheetDoc) -> Result<Vec<u8>> {
    let model = computed_model(&sheet.cells())?;
    let out = ironcalc::export::save_xlsx_to_writer(&model, Cursor::new(Vec::new()))
        .map_err(xlsx_error)?;
    Ok(out.into_inner())
}

/// The inputs of the first worksheet of an xlsx file, row-major from A1 (`""` for empty
/// cells); a formula comes back as `=…` in English A1 form.
pub fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    let workbook =
        ironcalc::import::load_from_xlsx_bytes(bytes, "import", "en", "UTC").map_err(xlsx_error)?;
    let model = Model::from_workbook(workbook, "en").map_err(DocError::Formula)?;
    let mut grid: Vec<Vec<String>> = Vec::new();
    for cell in model.get_all_cells().into_iter().filter(|c| c.index == 0) {
        let input = model
            .get_localized_cell_content(0, cell.row, cell.column)
            .map_err(DocError::Formula)?;
        if input.is_empty() {
            continue; // a styled but empty cell
        }
        // ironcalc indices are 1-based; anything else would not be a cell of the sheet.
        let (Ok(row), Ok(col)) = (
            usize::try_from(cell.row - 1),
            usize::try_from(cell.column - 1),
        ) else {
            continue;
        };
        if grid.len() <= row {
            grid.resize(row + 1, Vec::new());
        }
        if grid[row].len() <= col {
            grid[row].resize(col + 1, String::new());
        }
        grid[row][col] = input;
    }
    Ok(grid)
}

/// Fills a sheet from an xlsx file (its first worksheet): grows it to fit, then sets every
/// non-empty cell. Returns the updates (v1) to broadcast, in order.
pub fn import_xlsx(sheet: &SheetDoc, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    import_grid(sheet, &read_xlsx(bytes)?)
}

fn xlsx_error(e: ironcalc::error::XlsxError) -> DocError {
    DocError::Message(format!("xlsx: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::evaluate;
    use crate::Axis;

    fn sheet_of(inputs: &[&[&str]]) -> SheetDoc {
        let s = SheetDoc::with_client_id(1);
        import_grid(
            &s,
            &inputs
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        s
    }

    #[test]
    fn numbers_text_and_formulas_round_trip() {
        let inputs: &[&[&str]] = &[
            &["item", "price", "qty", "total"],
            &["tea", "2.5", "4", "=B2*C2"],
            &["cake", "3", "", "=B3*2"],
            &["", "", "sum", "=SUM(D2:D3)"],
        ];
        let original = sheet_of(inputs);
        let bytes = export_xlsx(&original).unwrap();
        let back = SheetDoc::with_client_id(2);
        import_xlsx(&back, &bytes).unwrap();
        assert_eq!(back.inputs(), original.inputs());
        assert_eq!(evaluate(&back).unwrap()[3][3], "16");
    }

    #[test]
    fn import_keeps_a_larger_sheet_and_skips_gaps() {
        let original = sheet_of(&[&["", ""], &["", "x"]]);
        let back = SheetDoc::with_client_id(2);
        back.insert(Axis::Rows, 0, 5).unwrap();
        back.insert(Axis::Cols, 0, 5).unwrap();
        import_xlsx(&back, &export_xlsx(&original).unwrap()).unwrap();
        assert_eq!((back.count(Axis::Rows), back.count(Axis::Cols)), (5, 5));
        assert_eq!(back.cell_input(1, 1).unwrap().as_deref(), Some("x"));
        assert_eq!(back.cells().len(), 1);
    }

    #[test]
    fn reads_a_workbook_written_by_another_library() {
        // testdata/make_openpyxl_xlsx.py wrote it: formulas without cached values, a
        // second sheet (not imported), an empty row.
        let bytes = include_bytes!("../testdata/openpyxl.xlsx");
        let s = SheetDoc::with_client_id(1);
        import_xlsx(&s, bytes).unwrap();
        let row = |r: &[&str]| r.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            s.inputs(),
            vec![
                row(&["item", "price", "", "note, with comma"]),
                row(&["tea", "2.5", "", ""]),
                row(&["cake", "4", "", ""]),
                row(&["", "", "", ""]),
                row(&["total", "=SUM(B2:B3)*2", "", ""]),
            ]
        );
        assert_eq!(evaluate(&s).unwrap()[4][1], "13");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let s = SheetDoc::with_client_id(1);
        assert!(matches!(
            import_xlsx(&s, b"not a zip file"),
            Err(DocError::Message(_))
        ));
    }
}
