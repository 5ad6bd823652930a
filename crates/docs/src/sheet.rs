//! A collaborative spreadsheet: rows and columns are yrs arrays of stable ids, cells a yrs
//! map keyed `"<rowid>:<colid>"`; formulas keep references as stable ids (see `refs`).

use yrs::{Array, ArrayRef, Doc, Map, MapRef, Options, Out, ReadTxn, Transact};

use crate::error::{DocError, Result};
use crate::refs::{to_a1, to_stored, Ids};
use crate::replica::{Inbox, Replica};

/// Names of the shared types inside the yrs document.
pub const ROWS_NAME: &str = "rows";
pub const COLS_NAME: &str = "cols";
pub const CELLS_NAME: &str = "cells";

/// Which list of ids an operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Rows,
    Cols,
}

/// A non-empty cell of the current grid, its input in A1 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub row: usize,
    pub col: usize,
    /// What the user typed, references shown in A1 (a deleted one as `#REF!`).
    pub input: String,
    /// True when the formula refers to a deleted row or column.
    pub broken: bool,
}

/// A spreadsheet document (one sheet).
pub struct SheetDoc {
    doc: Doc,
    rows: ArrayRef,
    cols: ArrayRef,
    cells: MapRef,
    inbox: Inbox,
}

impl Default for SheetDoc {
    fn default() -> Self {
        Self::new()
    }
}

impl SheetDoc {
    /// A new empty sheet (no rows, no columns) with a random client id.
    pub fn new() -> Self {
        Self::from_doc(Doc::new())
    }

    /// A new empty sheet with a given client id (unique among live peers, below 2^53).
    pub fn with_client_id(client_id: u64) -> Self {
        let id = crate::replica::client_id(client_id);
        Self::from_doc(Doc::with_options(Options::with_client_id(id)))
    }

    fn from_doc(doc: Doc) -> Self {
        let rows = doc.get_or_insert_array(ROWS_NAME);
        let cols = doc.get_or_insert_array(COLS_NAME);
        let cells = doc.get_or_insert_map(CELLS_NAME);
        Self {
            doc,
            rows,
            cols,
            cells,
            inbox: Inbox::default(),
        }
    }

    fn axis(&self, axis: Axis) -> &ArrayRef {
        match axis {
            Axis::Rows => &self.rows,
            Axis::Cols => &self.cols,
        }
    }

    /// Number of rows or columns.
    pub fn count(&self, axis: Axis) -> usize {
        self.axis(axis).len(&self.doc.transact()) as usize
    }

    /// The ids of all rows or columns, in display order.
    pub fn ids(&self, axis: Axis) -> Vec<String> {
        read_ids(self.axis(axis), &self.doc.transact())
    }

    /// The stable id at display index `index`.
    pub fn id_at(&self, axis: Axis, index: usize) -> Option<String> {
        self.ids(axis).into_iter().nth(index)
    }

    /// The display index of a stable id, if it still exists.
    pub fn index_of(&self, axis: Axis, id: &str) -> Option<usize> {
        self.ids(axis).iter().position(|x| x == id)
    }

    /// Inserts `n` new rows or columns before index `at`; returns the update (v1).
    pub fn insert(&self, axis: Axis, at: usize, n: usize) -> Result<Vec<u8>> {
        let array = self.axis(axis);
        let mut txn = self.doc.transact_mut();
        check_range(at, 0, array.len(&txn) as usize)?;
        // Ids from this client's clock are unique: yrs already requires unique client ids,
        // and each inserted id consumes at least one clock tick, so start+k is unused.
        let client = self.doc.client_id().get();
        let clock = txn.state_vector().get(&self.doc.client_id());
        for k in 0..n {
            let id = format!("{client:x}-{:x}", clock as usize + k);
            array.insert(&mut txn, (at + k) as u32, id);
        }
        Ok(txn.encode_update_v1())
    }

    /// Deletes `n` rows or columns from index `at`, with their cells; returns the update.
    /// Formulas elsewhere that point into them now show `#REF!`.
    pub fn delete(&self, axis: Axis, at: usize, n: usize) -> Result<Vec<u8>> {
        let array = self.axis(axis);
        let mut txn = self.doc.transact_mut();
        let ids = read_ids(array, &txn);
        check_range(at, n, ids.len())?;
        let doomed = &ids[at..at + n];
        let keys: Vec<String> = self
            .cells
            .keys(&txn)
            .filter(|k| key_in(k, axis, doomed))
            .map(str::to_string)
            .collect();
        for k in keys {
            self.cells.remove(&mut txn, &k);
        }
        array.remove_range(&mut txn, at as u32, n as u32);
        Ok(txn.encode_update_v1())
    }

    /// Sets the input of a cell (a value, or `=formula` with A1 references); an empty
    /// input clears it. References inside the grid are stored as stable ids; references
    /// past the grid stay as A1 text. Returns the update (v1).
    pub fn set_cell(&self, row: usize, col: usize, input: &str) -> Result<Vec<u8>> {
        let mut txn = self.doc.transact_mut();
        let ids = self.ids_in(&txn);
        let key = ids.key(row, col)?;
        if input.is_empty() {
            self.cells.remove(&mut txn, &key);
        } else {
            self.cells.insert(&mut txn, key, to_stored(input, &ids));
        }
        Ok(txn.encode_update_v1())
    }

    /// The input of a cell in A1 form, `None` when empty.
    pub fn cell_input(&self, row: usize, col: usize) -> Result<Option<String>> {
        let txn = self.doc.transact();
        let ids = self.ids_in(&txn);
        let key = ids.key(row, col)?;
        Ok(read_str(self.cells.get(&txn, &key)).map(|s| to_a1(&s, &ids).0))
    }

    /// The input of a cell as stored in the CRDT (references as stable ids).
    pub fn stored_cell(&self, row: usize, col: usize) -> Result<Option<String>> {
        let txn = self.doc.transact();
        let key = self.ids_in(&txn).key(row, col)?;
        Ok(read_str(self.cells.get(&txn, &key)))
    }

    /// Every non-empty cell of the current grid, in A1 form, sorted by (row, col).
    /// Cells of deleted rows or columns (set concurrently with the delete) are skipped.
    pub fn cells(&self) -> Vec<Cell> {
        let txn = self.doc.transact();
        let ids = self.ids_in(&txn);
        let mut out: Vec<Cell> = self
            .cells
            .iter(&txn)
            .filter_map(|(key, value)| {
                let (r, c) = key.split_once(':')?;
                let (row, col) = (*ids.rows.get(r)?, *ids.cols.get(c)?);
                let (input, broken) = to_a1(&read_str(Some(value))?, &ids);
                Some(Cell {
                    row,
                    col,
                    input,
                    broken,
                })
            })
            .collect();
        out.sort_by_key(|c| (c.row, c.col));
        out
    }

    /// The grid of inputs in A1 form, `""` for empty cells.
    pub fn inputs(&self) -> Vec<Vec<String>> {
        let mut grid = vec![vec![String::new(); self.count(Axis::Cols)]; self.count(Axis::Rows)];
        for c in self.cells() {
            grid[c.row][c.col] = c.input;
        }
        grid
    }

    fn ids_in<T: ReadTxn>(&self, txn: &T) -> Ids {
        Ids::new(read_ids(&self.rows, txn), read_ids(&self.cols, txn))
    }
}

impl Replica for SheetDoc {
    fn doc(&self) -> &Doc {
        &self.doc
    }

    fn inbox(&self) -> &Inbox {
        &self.inbox
    }
}

impl Ids {
    /// The cell map key of a grid position.
    fn key(&self, row: usize, col: usize) -> Result<String> {
        let r = self.row_ids.get(row).ok_or(DocError::OutOfRange {
            pos: row,
            len: self.row_ids.len(),
        })?;
        let c = self.col_ids.get(col).ok_or(DocError::OutOfRange {
            pos: col,
            len: self.col_ids.len(),
        })?;
        Ok(cell_key(r, c))
    }
}

/// The cell map key of a row id and a column id.
pub fn cell_key(row_id: &str, col_id: &str) -> String {
    format!("{row_id}:{col_id}")
}

fn key_in(key: &str, axis: Axis, ids: &[String]) -> bool {
    let Some((r, c)) = key.split_once(':') else {
        return false;
    };
    let part = if axis == Axis::Rows { r } else { c };
    ids.iter().any(|id| id == part)
}

fn check_range(at: usize, n: usize, len: usize) -> Result<()> {
    if at + n > len {
        return Err(DocError::OutOfRange { pos: at + n, len });
    }
    Ok(())
}

fn read_str(value: Option<Out>) -> Option<String> {
    match value? {
        Out::Any(yrs::Any::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn read_ids<T: ReadTxn>(array: &ArrayRef, txn: &T) -> Vec<String> {
    array.iter(txn).filter_map(|v| read_str(Some(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(client: u64, rows: usize, cols: usize) -> SheetDoc {
        let s = SheetDoc::with_client_id(client);
        s.insert(Axis::Rows, 0, rows).unwrap();
        s.insert(Axis::Cols, 0, cols).unwrap();
        s
    }

    fn sync(a: &SheetDoc, b: &SheetDoc) {
        b.apply_update_v1(&a.diff_v1(&b.state_vector_v1()).unwrap())
            .unwrap();
        a.apply_update_v1(&b.diff_v1(&a.state_vector_v1()).unwrap())
            .unwrap();
    }

    #[test]
    fn ids_are_unique_and_indexable() {
        let s = sheet(7, 3, 2);
        let rows = s.ids(Axis::Rows);
        let cols = s.ids(Axis::Cols);
        let mut all: Vec<_> = rows.iter().chain(&cols).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5);
        assert_eq!(s.index_of(Axis::Rows, &rows[2]), Some(2));
        assert_eq!(s.id_at(Axis::Cols, 1).as_deref(), Some(cols[1].as_str()));
        assert_eq!((s.count(Axis::Rows), s.count(Axis::Cols)), (3, 2));
    }

    #[test]
    fn set_read_and_clear_cells() {
        let s = sheet(1, 2, 2);
        s.set_cell(1, 1, "42").unwrap();
        s.set_cell(0, 0, "=B2+1").unwrap();
        assert_eq!(s.cell_input(1, 1).unwrap().as_deref(), Some("42"));
        assert_eq!(s.cell_input(0, 0).unwrap().as_deref(), Some("=B2+1"));
        assert!(s.stored_cell(0, 0).unwrap().unwrap().contains("[["));
        assert_eq!(
            s.inputs(),
            vec![
                vec!["=B2+1".to_string(), String::new()],
                vec![String::new(), "42".to_string()]
            ]
        );
        s.set_cell(1, 1, "").unwrap();
        assert_eq!(s.cell_input(1, 1).unwrap(), None);
        assert!(matches!(
            s.set_cell(2, 0, "x"),
            Err(DocError::OutOfRange { pos: 2, len: 2 })
        ));
        assert!(s.insert(Axis::Rows, 3, 1).is_err());
        assert!(s.delete(Axis::Cols, 1, 2).is_err());
    }

    #[test]
    fn inserting_above_keeps_formulas_on_their_cells() {
        let s = sheet(1, 2, 2);
        s.set_cell(1, 0, "5").unwrap();
        s.set_cell(1, 1, "=A2*2").unwrap();
        s.insert(Axis::Rows, 0, 1).unwrap();
        s.insert(Axis::Cols, 0, 1).unwrap();
        assert_eq!(s.cell_input(2, 2).unwrap().as_deref(), Some("=B3*2"));
        assert_eq!(s.cell_input(2, 1).unwrap().as_deref(), Some("5"));
    }

    #[test]
    fn deleting_a_referenced_row_shows_ref_error() {
        let s = sheet(1, 3, 1);
        s.set_cell(0, 0, "1").unwrap();
        s.set_cell(2, 0, "=A1+1").unwrap();
        s.delete(Axis::Rows, 0, 1).unwrap();
        let cells = s.cells();
        assert_eq!(cells.len(), 1);
        assert_eq!(
            cells[0],
            Cell {
                row: 1,
                col: 0,
                input: "=#REF!+1".into(),
                broken: true
            }
        );
    }

    #[test]
    fn concurrent_structure_edits_keep_others_cells() {
        let a = sheet(1, 2, 2);
        let b = SheetDoc::with_client_id(2);
        sync(&a, &b);
        a.set_cell(1, 1, "mine").unwrap();
        b.insert(Axis::Rows, 0, 1).unwrap();
        b.insert(Axis::Cols, 1, 1).unwrap();
        b.set_cell(0, 0, "theirs").unwrap();
        sync(&a, &b);
        for s in [&a, &b] {
            assert_eq!(s.cell_input(2, 2).unwrap().as_deref(), Some("mine"));
            assert_eq!(s.cell_input(0, 0).unwrap().as_deref(), Some("theirs"));
        }
        assert_eq!(a.inputs(), b.inputs());
    }

    #[test]
    fn cell_set_in_a_concurrently_deleted_row_disappears() {
        let a = sheet(1, 2, 1);
        let b = SheetDoc::with_client_id(2);
        sync(&a, &b);
        a.delete(Axis::Rows, 1, 1).unwrap();
        b.set_cell(1, 0, "lost").unwrap();
        sync(&a, &b);
        assert_eq!(a.cells(), vec![]);
        assert_eq!(b.cells(), vec![]);
    }
}
