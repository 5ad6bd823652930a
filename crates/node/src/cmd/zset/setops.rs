//! Set operations over sorted sets (and plain sets, scored 1): ZUNION, ZINTER, ZDIFF,
//! their STORE forms and ZINTERCARD (Redis's `zunionInterDiffGenericCommand`).

use super::{numkeys_keys, reply_element, reply_elements_len, store_result};
use crate::cmd::{Args, CmdError, CmdResult, Ctx};
use crate::db::zset::ZSet;
use crate::db::{Db, HashMap, HashSet, SmallBytes, Value};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate` (a NaN sum becomes 0).
    fn apply(self, target: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *target += v;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => *target = if v < *target { v } else { *target },
            Aggregate::Max => *target = if v > *target { v } else { *target },
        }
    }
}

/// An input: a missing key is an empty set.
#[derive(Clone, Copy)]
enum Src<'a> {
    Empty,
    Z(&'a ZSet),
    S(&'a HashSet<SmallBytes>),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::Empty => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Src::Empty => None,
            Src::Z(z) => z.score(member),
            Src::S(s) => s.contains(member).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&'a [u8], f64)) {
        match *self {
            Src::Empty => {}
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.iter().for_each(|m| f(m, 1.0)),
        }
    }
}

/// The options after the keys.
struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Parses `numkeys` at `at`; returns it after Redis's checks.
fn parse_numkeys(args: &Args, at: usize) -> Result<usize, CmdError> {
    let n = args.i64(at)?;
    if n < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{}' command",
            args.name_lower()
        )));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    Ok(n as usize)
}

fn parse_options(
    args: &Args,
    mut j: usize,
    n: usize,
    op: Op,
    store: bool,
    card: bool,
) -> Result<Options, CmdError> {
    let mut o = Options {
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let scored = op != Op::Diff && !card;
    while j < args.len() {
        let remaining = args.len() - j;
        if scored && remaining > n && args.is(j, "weights") {
            for (i, w) in o.weights.iter_mut().enumerate() {
                *w = super::parse_score(args.get(j + 1 + i))
                    .ok_or_else(|| CmdError::msg("ERR weight value is not a float"))?;
            }
            j += n + 1;
        } else if scored && remaining >= 2 && args.is(j, "aggregate") {
            o.aggregate = match args.get(j + 1).to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return Err(CmdError::Syntax),
            };
            j += 2;
        } else if !store && !card && args.is(j, "withscores") {
            o.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && args.is(j, "limit") {
            let l = crate::cmd::args::parse_i64(args.get(j + 1))
                .filter(|l| *l >= 0)
                .ok_or_else(|| CmdError::msg("ERR LIMIT can't be negative"))?;
            o.limit = l as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// Looks up every input key (counting reads), failing on a non-set type.
fn check_sources(db: &mut Db, keys: &[&[u8]]) -> CmdResult {
    for key in keys {
        if let Some(v) = db.read(key) {
            if !matches!(v, Value::ZSet(_) | Value::Set(_)) {
                return Err(CmdError::WrongType);
            }
        }
    }
    Ok(())
}

fn sources<'d>(db: &'d Db, keys: &[&[u8]]) -> Vec<Src<'d>> {
    keys.iter()
        .map(|k| match db.peek(k) {
            Some(Value::ZSet(z)) => Src::Z(z),
            Some(Value::Set(s)) => Src::S(s),
            _ => Src::Empty,
        })
        .collect()
}

/// Weighted score, with NaN (0 × inf) turned into 0 as Redis does.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Members of the smallest input found in all others, with aggregated scores;
/// `on_match` gets each and returns false to stop early.
fn intersect(srcs: &[(Src, f64)], agg: Aggregate, mut on_match: impl FnMut(&[u8], f64) -> bool) {
    let (first, w0) = srcs[0];
    let mut go = true;
    first.for_each(|m, s| {
        if !go {
            return;
        }
        let mut score = weighted(s, w0);
        for (src, w) in &srcs[1..] {
            match src.score(m) {
                Some(v) => agg.apply(&mut score, v * w),
                None => return,
            }
        }
        go = on_match(m, score);
    });
}

fn union<'a>(srcs: &[(Src<'a>, f64)], agg: Aggregate) -> HashMap<&'a [u8], f64> {
    let mut acc: HashMap<&[u8], f64> = HashMap::default();
    for (src, w) in srcs {
        src.for_each(|m, s| {
            let score = weighted(s, *w);
            match acc.get_mut(m) {
                Some(t) => agg.apply(t, score),
                None => {
                    acc.insert(m, score);
                }
            }
        });
    }
    acc
}

fn difference(srcs: &[(Src, f64)], out: &mut ZSet) -> usize {
    let mut longest = 0;
    srcs[0].0.for_each(|m, s| {
        if srcs[1..].iter().all(|(src, _)| src.score(m).is_none()) {
            out.insert(m, s);
            longest = longest.max(m.len());
        }
    });
    longest
}

/// Shared body: `dst` is the store target (if any), `at` the index of numkeys.
fn generic(ctx: &mut Ctx, args: &Args, at: usize, op: Op, store: bool, card: bool) -> CmdResult {
    let n = parse_numkeys(args, at)?;
    let keys: Vec<&[u8]> = (at + 1..at + 1 + n).map(|i| args.get(i)).collect();
    let mut db = ctx.db();
    check_sources(&mut db, &keys)?;
    let opts = parse_options(args, at + 1 + n, n, op, store, card)?;
    let mut srcs: Vec<(Src, f64)> = sources(&db, &keys)
        .into_iter()
        .zip(opts.weights.iter().copied())
        .collect();
    if op != Op::Diff {
        srcs.sort_by_key(|(s, _)| s.len());
    }
    if card {
        let mut count = 0;
        if srcs[0].0.len() > 0 {
            intersect(&srcs, opts.aggregate, |_, _| {
                count += 1;
                opts.limit == 0 || count < opts.limit
            });
        }
        drop(db);
        ctx.out.int(count as i64);
        return Ok(());
    }
    let mut result = if store {
        ZSet::default()
    } else {
        ZSet::skiplist()
    };
    let mut longest = 0;
    match op {
        Op::Inter => intersect(&srcs, opts.aggregate, |m, s| {
            result.insert(m, s);
            longest = longest.max(m.len());
            true
        }),
        Op::Union => {
            for (m, s) in union(&srcs, opts.aggregate) {
                result.insert(m, s);
                longest = longest.max(m.len());
            }
        }
        Op::Diff => longest = difference(&srcs, &mut result),
    }
    drop(srcs);
    drop(db);
    if store {
        store_result(ctx, args.get(1), result, longest);
        return Ok(());
    }
    reply_elements_len(ctx.out, result.len(), opts.withscores);
    for (m, s) in result.iter() {
        reply_element(ctx.out, m, s, opts.withscores);
    }
    Ok(())
}

pub(super) fn zunionstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, 2, Op::Union, true, false)
}

pub(super) fn zinterstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, 2, Op::Inter, true, false)
}

pub(super) fn zdiffstore(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, 2, Op::Diff, true, false)
}

pub(super) fn zunion(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, 1, Op::Union, false, false)
}

pub(super) fn zinter(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, 1, Op::Inter, false, false)
}

pub(super) fn zdiff(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, 1, Op::Diff, false, false)
}

pub(super) fn zintercard(ctx: &mut Ctx, args: &Args) -> CmdResult {
    generic(ctx, args, 1, Op::Inter, false, true)
}

pub(super) fn store_keys(args: &Args) -> Vec<usize> {
    let mut keys = vec![1];
    keys.extend(numkeys_keys(args, 2));
    keys
}

pub(super) fn read_keys(args: &Args) -> Vec<usize> {
    numkeys_keys(args, 1)
}
