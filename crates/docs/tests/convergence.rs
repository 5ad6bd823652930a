//! Convergence: replicas of a text and of a sheet make random concurrent edits, exchange
//! updates in random order with duplicates, and must end with identical content.

use docs::formula::evaluate;
use docs::{Axis, Replica, SheetDoc, TextDoc};
use proptest::prelude::*;

const REPLICAS: usize = 3;

/// One step of a run: a local edit on a replica, or a partial sync between two.
#[derive(Debug, Clone)]
enum Step<Op> {
    Edit(usize, Op),
    /// `to` catches up with everything `from` has (state vector + diff).
    Sync(usize, usize),
}

#[derive(Debug, Clone)]
enum TextOp {
    Insert(u16, String),
    Delete(u16, u8),
}

#[derive(Debug, Clone)]
enum SheetOp {
    Set(u16, u16, String),
    Insert(Axis, u16, u8),
    Delete(Axis, u16, u8),
}

fn steps<Op: std::fmt::Debug + Clone>(
    op: impl Strategy<Value = Op>,
) -> impl Strategy<Value = Vec<Step<Op>>> {
    let step = prop_oneof![
        4 => (0..REPLICAS, op).prop_map(|(r, op)| Step::Edit(r, op)),
        1 => (0..REPLICAS, 0..REPLICAS).prop_map(|(a, b)| Step::Sync(a, b)),
    ];
    prop::collection::vec(step, 1..40)
}

fn text_op() -> impl Strategy<Value = TextOp> {
    prop_oneof![
        (any::<u16>(), "[a-zé🌍 ]{1,4}").prop_map(|(p, s)| TextOp::Insert(p, s)),
        (any::<u16>(), 1..4u8).prop_map(|(p, n)| TextOp::Delete(p, n)),
    ]
}

fn axis() -> impl Strategy<Value = Axis> {
    prop_oneof![Just(Axis::Rows), Just(Axis::Cols)]
}

fn sheet_op() -> impl Strategy<Value = SheetOp> {
    let input = prop_oneof![
        "[0-9]{1,3}",
        "=A1+B2",
        "=SUM(A1:B3)",
        "[a-z]{1,3}",
        Just(String::new())
    ];
    prop_oneof![
        3 => (any::<u16>(), any::<u16>(), input).prop_map(|(r, c, s)| SheetOp::Set(r, c, s)),
        2 => (axis(), any::<u16>(), 1..3u8).prop_map(|(a, p, n)| SheetOp::Insert(a, p, n)),
        1 => (axis(), any::<u16>(), 1..2u8).prop_map(|(a, p, n)| SheetOp::Delete(a, p, n)),
    ]
}

fn apply_text(doc: &TextDoc, op: &TextOp) -> Vec<u8> {
    let len = doc.len_chars();
    match op {
        TextOp::Insert(p, s) => doc.insert(*p as usize % (len + 1), s).unwrap(),
        TextOp::Delete(p, n) => {
            let at = *p as usize % (len + 1);
            doc.delete(at, (*n as usize).min(len - at)).unwrap()
        }
    }
}

/// Applies a sheet op scaled to the current grid; `None` when the grid cannot take it.
fn apply_sheet(doc: &SheetDoc, op: &SheetOp) -> Option<Vec<u8>> {
    let (rows, cols) = (doc.count(Axis::Rows), doc.count(Axis::Cols));
    match op {
        SheetOp::Set(_, _, _) if rows == 0 || cols == 0 => None,
        SheetOp::Set(r, c, s) => Some(
            doc.set_cell(*r as usize % rows, *c as usize % cols, s)
                .unwrap(),
        ),
        SheetOp::Insert(a, p, n) => Some(
            doc.insert(*a, *p as usize % (doc.count(*a) + 1), *n as usize)
                .unwrap(),
        ),
        SheetOp::Delete(a, _, _) if doc.count(*a) == 0 => None,
        SheetOp::Delete(a, p, n) => {
            let len = doc.count(*a);
            let at = *p as usize % len;
            Some(doc.delete(*a, at, (*n as usize).min(len - at)).unwrap())
        }
    }
}

/// Runs the steps, then delivers every update to every replica in a shuffled order with
/// duplicates (updates that arrive before their dependencies wait inside yrs).
fn run<D: Replica, Op>(
    replicas: &[D],
    steps: &[Step<Op>],
    seed: u64,
    edit: impl Fn(&D, &Op) -> Option<Vec<u8>>,
) {
    let mut updates = Vec::new();
    for step in steps {
        match step {
            Step::Edit(r, op) => updates.extend(edit(&replicas[*r], op)),
            Step::Sync(from, to) => {
                let diff = replicas[*from]
                    .diff_v1(&replicas[*to].state_vector_v1())
                    .unwrap();
                replicas[*to].apply_update_v1(&diff).unwrap();
            }
        }
    }
    let mut rng = seed | 1;
    for replica in replicas {
        let mut order: Vec<usize> = (0..updates.len()).chain(0..updates.len() / 2).collect();
        shuffle(&mut order, &mut rng);
        for i in order {
            replica.apply_update_v1(&updates[i]).unwrap();
        }
    }
}

/// Fisher–Yates with xorshift64: deterministic from proptest's seed.
fn shuffle(v: &mut [usize], rng: &mut u64) {
    for i in (1..v.len()).rev() {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        v.swap(i, (*rng % (i as u64 + 1)) as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_replicas_converge(steps in steps(text_op()), seed in any::<u64>()) {
        let replicas: Vec<TextDoc> = (0..REPLICAS as u64).map(|i| TextDoc::with_client_id(i + 1)).collect();
        run(&replicas, &steps, seed, |d, op| Some(apply_text(d, op)));
        let first = replicas[0].content();
        for r in &replicas[1..] {
            prop_assert_eq!(r.content(), first.clone());
        }
    }

    #[test]
    fn sheet_replicas_converge(steps in steps(sheet_op()), seed in any::<u64>()) {
        let replicas: Vec<SheetDoc> = (0..REPLICAS as u64).map(|i| SheetDoc::with_client_id(i + 1)).collect();
        run(&replicas, &steps, seed, apply_sheet);
        let (cells, values) = (replicas[0].cells(), evaluate(&replicas[0]).unwrap());
        for r in &replicas[1..] {
            prop_assert_eq!(r.ids(Axis::Rows), replicas[0].ids(Axis::Rows));
            prop_assert_eq!(r.ids(Axis::Cols), replicas[0].ids(Axis::Cols));
            prop_assert_eq!(r.cells(), cells.clone());
            prop_assert_eq!(evaluate(r).unwrap(), values.clone());
        }
    }
}
