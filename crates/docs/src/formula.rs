//! Evaluates a sheet with ironcalc: the current grid (inputs in A1 form) goes into a fresh
//! ironcalc model, which computes every cell; results come back as display text.

use ironcalc_base::Model;

use crate::error::{DocError, Result};
use crate::refs::REF_ERROR;
use crate::sheet::{Cell, SheetDoc};

/// What a circular reference shows.
pub const CIRC_ERROR: &str = "#CIRC!";

/// Computed display values of the whole grid (`""` for empty cells).
pub fn evaluate(sheet: &SheetDoc) -> Result<Vec<Vec<String>>> {
    let cells = sheet.cells();
    let model = computed_model(&cells)?;
    let (rows, cols) = (
        sheet.count(crate::Axis::Rows),
        sheet.count(crate::Axis::Cols),
    );
    let mut grid = vec![vec![String::new(); cols]; rows];
    for cell in &cells {
        let value = model
            .get_formatted_cell_value(0, ironcalc_index(cell.row)?, ironcalc_index(cell.col)?)
            .map_err(DocError::Formula)?;
        grid[cell.row][cell.col] = display(value);
    }
    Ok(grid)
}

/// A fresh one-sheet ironcalc model holding `cells` (A1 form), evaluated. Also what the
/// xlsx export writes, so a file shows the same values as `evaluate`.
pub(crate) fn computed_model(cells: &[Cell]) -> Result<Model<'static>> {
    let mut model = Model::new_empty("sheet", "en", "UTC", "en").map_err(DocError::Formula)?;
    for cell in cells {
        // A formula with a reference to a deleted row/column is #REF! as a whole, like
        // Excel; feeding `=#REF!` lets the error flow into cells that depend on it.
        let input = if cell.broken {
            format!("={REF_ERROR}")
        } else {
            cell.input.clone()
        };
        model
            .set_user_input(
                0,
                ironcalc_index(cell.row)?,
                ironcalc_index(cell.col)?,
                input,
            )
            .map_err(DocError::Formula)?;
    }
    model.evaluate();
    Ok(model)
}

/// ironcalc rows and columns are 1-based i32.
pub(crate) fn ironcalc_index(i: usize) -> Result<i32> {
    i32::try_from(i + 1).map_err(|_| DocError::OutOfRange {
        pos: i,
        len: i32::MAX as usize,
    })
}

/// Our error texts where they differ from ironcalc's.
fn display(value: String) -> String {
    match value.as_str() {
        "#CIRC!" | "#CIRCULAR!" => CIRC_ERROR.to_string(),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Axis;

    /// Evaluates a sheet holding `inputs` (row-major).
    fn eval_grid(inputs: &[&[&str]]) -> Vec<Vec<String>> {
        let s = SheetDoc::with_client_id(1);
        s.insert(Axis::Rows, 0, inputs.len()).unwrap();
        s.insert(
            Axis::Cols,
            0,
            inputs.iter().map(|r| r.len()).max().unwrap_or(0),
        )
        .unwrap();
        for (r, row) in inputs.iter().enumerate() {
            for (c, input) in row.iter().enumerate() {
                s.set_cell(r, c, input).unwrap();
            }
        }
        evaluate(&s).unwrap()
    }

    /// Value of `formula` placed after the numbers 1, 2, 3, 4 in column A (A1:A4).
    fn with_numbers(formula: &str) -> String {
        eval_grid(&[&["1"], &["2"], &["3"], &["4"], &[formula]])[4][0].clone()
    }

    #[test]
    fn arithmetic_with_parentheses() {
        assert_eq!(with_numbers("=(A1+A2)*A3-A4/2"), "7");
        assert_eq!(with_numbers("=2^3+1"), "9");
    }

    #[test]
    fn aggregate_functions_over_ranges() {
        assert_eq!(with_numbers("=SUM(A1:A4)"), "10");
        assert_eq!(with_numbers("=AVERAGE(A1:A4)"), "2.5");
        assert_eq!(with_numbers("=MIN(A1:A4)"), "1");
        assert_eq!(with_numbers("=MAX(A1:A4)"), "4");
        assert_eq!(with_numbers("=COUNT(A1:A4)"), "4");
    }

    #[test]
    fn if_round_concat() {
        assert_eq!(with_numbers("=IF(A4>3,\"big\",\"small\")"), "big");
        assert_eq!(with_numbers("=ROUND(A4/3,2)"), "1.33");
        assert_eq!(with_numbers("=CONCAT(\"A\",A1,\"-\",A2)"), "A1-2");
    }

    #[test]
    fn division_by_zero() {
        assert_eq!(with_numbers("=A1/0"), "#DIV/0!");
    }

    #[test]
    fn circular_reference() {
        let grid = eval_grid(&[&["=B1", "=A1"]]);
        assert_eq!(grid[0][0], CIRC_ERROR);
    }

    #[test]
    fn deleted_reference_is_ref_error_and_propagates() {
        let s = SheetDoc::with_client_id(1);
        s.insert(Axis::Rows, 0, 3).unwrap();
        s.insert(Axis::Cols, 0, 1).unwrap();
        s.set_cell(0, 0, "1").unwrap();
        s.set_cell(1, 0, "=A1+1").unwrap();
        s.set_cell(2, 0, "=A2*10").unwrap();
        assert_eq!(
            evaluate(&s).unwrap(),
            vec![vec!["1"], vec!["2"], vec!["20"]]
        );
        s.delete(Axis::Rows, 0, 1).unwrap();
        assert_eq!(
            evaluate(&s).unwrap(),
            vec![vec![REF_ERROR], vec![REF_ERROR]]
        );
    }

    #[test]
    fn formulas_follow_inserted_rows() {
        let s = SheetDoc::with_client_id(1);
        s.insert(Axis::Rows, 0, 2).unwrap();
        s.insert(Axis::Cols, 0, 1).unwrap();
        s.set_cell(0, 0, "21").unwrap();
        s.set_cell(1, 0, "=A1*2").unwrap();
        s.insert(Axis::Rows, 0, 1).unwrap();
        s.set_cell(0, 0, "1000").unwrap();
        assert_eq!(
            evaluate(&s).unwrap(),
            vec![vec!["1000"], vec!["21"], vec!["42"]]
        );
    }
}
