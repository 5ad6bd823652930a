//! Encoder/decoder properties on random datasets: round trips are exact, and any
//! truncation or single-byte corruption is refused at or before the damaged offset.

use std::collections::{BTreeMap, VecDeque};

use proptest::prelude::*;

use super::decode::{decode, ErrorKind, Options};
use super::encode::encode;
use crate::db::stream::{NodeLimits, Stream, StreamId};
use crate::db::zset::ZSet;
use crate::db::{HashMap, HashSet, SmallBytes, Value};
use crate::persist::DatasetImage;

/// A value in a form independent of the encoder, for comparing datasets.
fn describe(v: &Value) -> String {
    let show = |b: &[u8]| format!("{b:?}");
    match v {
        Value::Str(s) => format!("str {}", show(s)),
        Value::List(l) => format!("list {:?}", l.iter().map(|s| show(s)).collect::<Vec<_>>()),
        Value::Hash(h) => {
            let m: BTreeMap<_, _> = h.iter().map(|(f, v)| (show(f), show(v))).collect();
            format!("hash {m:?}")
        }
        Value::Set(s) => {
            let m: std::collections::BTreeSet<_> = s.iter().map(|m| show(m)).collect();
            format!("set {m:?}")
        }
        Value::ZSet(z) => {
            let m: Vec<_> = z.iter().map(|(m, s)| (show(m), s.to_bits())).collect();
            format!("zset {m:?}")
        }
        Value::Stream(s) => {
            let entries: Vec<_> = s
                .range(StreamId::MIN, StreamId::MAX, false)
                .map(|(id, items)| (*id, items.iter().map(show).collect::<Vec<_>>()))
                .collect();
            format!(
                "stream {} {} {} {entries:?}",
                s.last_id, s.entries_added, s.max_deleted_id
            )
        }
    }
}

fn describe_image(image: &DatasetImage) -> Vec<Vec<String>> {
    let mut dbs: Vec<Vec<String>> = image
        .dbs
        .iter()
        .map(|db| {
            let mut keys: Vec<String> = db
                .iter()
                .map(|(k, v, at)| format!("{k:?} {at:?} {}", describe(v)))
                .collect();
            keys.sort();
            keys
        })
        .collect();
    while dbs.last().is_some_and(Vec::is_empty) {
        dbs.pop();
    }
    dbs
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..12),
        1 => proptest::collection::vec(any::<u8>(), 20..300),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
        Just(-0.0),
        Just(f64::INFINITY),
        (-100i32..100).prop_map(f64::from),
    ]
}

/// A generated value in plain data (proptest needs `Debug + Clone`).
#[derive(Debug, Clone)]
enum Spec {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(std::collections::BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, f64>, bool),
    /// (ms delta, seq, fields, deleted) per entry, and extra `entries_added`.
    Stream(Vec<(u64, u64, Vec<Vec<u8>>, bool)>, u64),
}

fn build(spec: &Spec) -> Value {
    let small = |v: &Vec<u8>| SmallBytes::new(v);
    match spec {
        Spec::Str(b) => Value::Str(small(b)),
        Spec::List(l) => Value::List(Box::new(l.iter().map(small).collect())),
        Spec::Hash(m) => {
            let h: HashMap<_, _> = m.iter().map(|(f, v)| (small(f), small(v))).collect();
            Value::Hash(Box::new(h))
        }
        Spec::Set(m) => {
            let s: HashSet<_> = m.iter().map(small).collect();
            Value::Set(Box::new(s))
        }
        Spec::ZSet(m, compact) => {
            let mut z = if *compact {
                ZSet::default()
            } else {
                ZSet::skiplist()
            };
            for (member, &score) in m {
                // A small set loads back compact, where -0 reads as 0 (as in Redis);
                // keep -0 out of the generated skiplist sets.
                z.insert(member, if score == 0.0 { 0.0 } else { score });
            }
            Value::ZSet(Box::new(z))
        }
        Spec::Stream(entries, extra) => Value::Stream(Box::new(build_stream(entries, *extra))),
    }
}

fn build_stream(entries: &[(u64, u64, Vec<Vec<u8>>, bool)], extra: u64) -> Stream {
    let limits = NodeLimits {
        max_bytes: 4096,
        max_entries: 3,
    };
    let mut s = Stream::default();
    let mut id = StreamId::new(0, 0);
    let mut doomed = Vec::new();
    for (dms, seq, fields, delete) in entries {
        id = StreamId::new(id.ms + dms, *seq);
        let items: Vec<&[u8]> = fields.iter().flat_map(|f| [&f[..], b"v"]).collect();
        s.append(id, items.into_iter(), limits);
        if *delete {
            doomed.push(id);
        }
    }
    for id in doomed {
        s.delete(id);
    }
    s.entries_added += extra;
    s
}

fn spec() -> impl Strategy<Value = Spec> {
    use proptest::collection::{btree_map, btree_set, vec};
    let entry = (1u64..1000, 0u64..3, vec(bytes(), 1..4), any::<bool>());
    prop_oneof![
        bytes().prop_map(Spec::Str),
        vec(bytes(), 1..6).prop_map(Spec::List),
        btree_map(bytes(), bytes(), 1..6).prop_map(Spec::Hash),
        btree_set(bytes(), 1..6).prop_map(Spec::Set),
        (btree_map(bytes(), score(), 1..6), any::<bool>()).prop_map(|(m, c)| Spec::ZSet(m, c)),
        (vec(entry, 0..8), 0u64..5).prop_map(|(e, x)| Spec::Stream(e, x)),
    ]
}

type ImageSpec = Vec<BTreeMap<Vec<u8>, (Spec, Option<u64>)>>;

fn image() -> impl Strategy<Value = ImageSpec> {
    let key = (spec(), proptest::option::of(1u64..u64::MAX));
    proptest::collection::vec(proptest::collection::btree_map(bytes(), key, 0..6), 0..4)
}

fn build_image(spec: &ImageSpec) -> DatasetImage {
    let dbs = spec
        .iter()
        .map(|db| {
            db.iter()
                .map(|(k, (v, at))| (SmallBytes::new(k), build(v), *at))
                .collect()
        })
        .collect();
    DatasetImage { dbs, taken_ms: 0 }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn round_trip_is_exact(spec in image()) {
        let image = build_image(&spec);
        let first = encode(&image, Vec::new()).unwrap();
        let back = decode(&first[..], Options::default()).unwrap();
        let again = encode(&back, Vec::new()).unwrap();
        prop_assert_eq!(describe_image(&back), describe_image(&image));
        prop_assert_eq!(back.key_count(), image.key_count());
        // Same bytes means same keys, values, orders and expiry times.
        prop_assert_eq!(first, again);
    }

    #[test]
    fn damage_is_always_detected(spec in image(), at in any::<prop::sample::Index>(),
                                 flip in 1u8..=255, cut in any::<bool>()) {
        let good = encode(&build_image(&spec), Vec::new()).unwrap();
        let pos = at.index(good.len());
        let mut bad = good.clone();
        if cut {
            bad.truncate(pos);
        } else {
            bad[pos] ^= flip;
        }
        let err = decode(&bad[..], Options::default()).err();
        let err = err.expect("damaged snapshot must not decode");
        prop_assert!(err.offset <= pos as u64, "error at {} after damage at {pos}", err.offset);
        if cut {
            prop_assert!(matches!(err.kind, ErrorKind::Truncated));
        }
    }
}

#[test]
fn every_type_round_trips_semantically() {
    let mut list = VecDeque::new();
    list.push_back(SmallBytes::new(b""));
    list.push_back(SmallBytes::new(&[0, 255, 13, 10]));
    // Past 128 members a set stays a skiplist, which keeps -0.
    let mut z = ZSet::skiplist();
    z.insert(b"neg-zero", -0.0);
    z.insert(b"inf", f64::INFINITY);
    for i in 0..200 {
        z.insert(format!("m{i}").as_bytes(), i as f64);
    }
    let image = DatasetImage {
        dbs: vec![
            vec![
                (SmallBytes::new(b""), Value::Str(SmallBytes::new(b"")), None),
                (
                    SmallBytes::new(b"big"),
                    Value::Str(SmallBytes::from_vec(vec![7; 3 << 20])),
                    Some(u64::MAX),
                ),
                (SmallBytes::new(b"l"), Value::List(Box::new(list)), Some(1)),
            ],
            vec![],
            vec![(SmallBytes::new(b"z"), Value::ZSet(Box::new(z)), None)],
        ],
        taken_ms: 0,
    };
    let bytes = encode(&image, Vec::new()).unwrap();
    let back = decode(&bytes[..], Options::default()).unwrap();
    assert_eq!(describe_image(&back), describe_image(&image));
    let z = back.dbs[2][0].1.as_zset().unwrap();
    assert!(z.score(b"neg-zero").unwrap().is_sign_negative());
}

#[test]
fn empty_image_is_header_and_trailer() {
    let image = DatasetImage {
        dbs: (0..16).map(|_| Vec::new()).collect(),
        taken_ms: 0,
    };
    let bytes = encode(&image, Vec::new()).unwrap();
    assert_eq!(&bytes[..8], super::MAGIC);
    assert_eq!(
        decode(&bytes[..], Options::default()).unwrap().key_count(),
        0
    );
}
