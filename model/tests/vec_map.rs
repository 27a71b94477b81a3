//! The slow twin of `model::vec_map::VecMap`: `std::collections::BTreeMap`, the map the model
//! state used before. Two pairs of maps take the same seeded random sequence of operations
//! over a small key space; after every operation each result, the entries in iteration order
//! (forwards and backwards), the length, the `Debug` text, the SipHash of the map, equality
//! and ordering between the two maps must be the same on both sides.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::ops::Bound;

use model::vec_map::VecMap;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Operations applied in the whole sequence.
const OPERATIONS: usize = 20_000;
/// Keys are drawn from `0..KEY_SPACE`: small, so inserts hit existing keys and removes find
/// entries often.
const KEY_SPACE: u8 = 16;
/// The generator's seed (any fixed value: the sequence is the same on every run).
const SEED: u64 = 0x5eed_0fea;
/// Values are drawn from `0..VALUE_SPACE`.
const VALUE_SPACE: u32 = 1000;
/// An `extend` adds fewer pairs than this; a collected map is built from fewer than
/// `4 * EXTEND_MAX` pairs.
const EXTEND_MAX: usize = 4;
/// One operation in this many empties a map, so it fills up from nothing again.
const CLEAR_ONE_IN: u32 = 500;

/// A map under test and its twin.
#[derive(Default)]
struct Pair {
    flat: VecMap<u8, u32>,
    tree: BTreeMap<u8, u32>,
}

/// SipHash with fixed keys, as the search's slow fingerprint uses.
fn sip<T: Hash>(value: &T) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// A random key bound: included, excluded or unbounded.
fn bound(rng: &mut ChaCha8Rng) -> Bound<u8> {
    let key = rng.random_range(0..KEY_SPACE);
    match rng.random_range(0..3) {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

/// A random range `BTreeMap::range` accepts (it panics on an inverted or empty-excluded one).
fn valid_range(rng: &mut ChaCha8Rng) -> (Bound<u8>, Bound<u8>) {
    loop {
        let (start, end) = (bound(rng), bound(rng));
        let ok = match (start, end) {
            (Bound::Excluded(s), Bound::Excluded(e)) => s < e,
            (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
                s <= e
            }
            _ => true,
        };
        if ok {
            return (start, end);
        }
    }
}

/// Applies one random operation to both maps of `pair`; returns what each side answered, as
/// text, to be compared.
fn apply(pair: &mut Pair, rng: &mut ChaCha8Rng) -> (String, String) {
    let key = rng.random_range(0..KEY_SPACE);
    let value = rng.random_range(0..VALUE_SPACE);
    let (flat, tree) = (&mut pair.flat, &mut pair.tree);
    match rng.random_range(0..12) {
        0..=2 => (
            format!("{:?}", flat.insert(key, value)),
            format!("{:?}", tree.insert(key, value)),
        ),
        3 | 4 => (
            format!("{:?}", flat.remove(&key)),
            format!("{:?}", tree.remove(&key)),
        ),
        5 => (
            format!("{:?} {}", flat.get(&key), flat.contains_key(&key)),
            format!("{:?} {}", tree.get(&key), tree.contains_key(&key)),
        ),
        6 => {
            let a = flat.get_mut(&key).map(|v| std::mem::replace(v, value));
            let b = tree.get_mut(&key).map(|v| std::mem::replace(v, value));
            (format!("{a:?}"), format!("{b:?}"))
        }
        7 => {
            let range = valid_range(rng);
            let a: Vec<_> = flat.range(range).collect();
            let b: Vec<_> = tree.range(range).collect();
            let a_back: Vec<_> = flat.range(range).rev().collect();
            let b_back: Vec<_> = tree.range(range).rev().collect();
            (format!("{a:?} {a_back:?}"), format!("{b:?} {b_back:?}"))
        }
        8 => {
            let range = valid_range(rng);
            flat.range_mut(range).for_each(|(k, v)| *v += u32::from(*k));
            tree.range_mut(range).for_each(|(k, v)| *v += u32::from(*k));
            (String::new(), String::new())
        }
        9 => {
            flat.retain(|k, v| (u32::from(*k) + *v) % 3 != 0);
            tree.retain(|k, v| (u32::from(*k) + *v) % 3 != 0);
            (String::new(), String::new())
        }
        10 => {
            flat.values_mut()
                .for_each(|v| *v = (*v * 7 + 1) % VALUE_SPACE);
            tree.values_mut()
                .for_each(|v| *v = (*v * 7 + 1) % VALUE_SPACE);
            (String::new(), String::new())
        }
        _ => {
            let more: Vec<(u8, u32)> = (0..rng.random_range(0..EXTEND_MAX))
                .map(|_| {
                    (
                        rng.random_range(0..KEY_SPACE),
                        rng.random_range(0..VALUE_SPACE),
                    )
                })
                .collect();
            flat.extend(more.iter().copied());
            tree.extend(more.iter().copied());
            (String::new(), String::new())
        }
    }
}

/// Everything observable of one side of `pair`, as text.
fn observe(pair: &Pair) -> (String, String) {
    let flat = &pair.flat;
    let tree = &pair.tree;
    let a = format!(
        "{:?} {:?} {:?} {:?} {} {} {:?} {}",
        flat.iter().collect::<Vec<_>>(),
        flat.iter().rev().collect::<Vec<_>>(),
        flat.keys().collect::<Vec<_>>(),
        flat.values().collect::<Vec<_>>(),
        flat.len(),
        flat.is_empty(),
        flat,
        sip(flat),
    );
    let b = format!(
        "{:?} {:?} {:?} {:?} {} {} {:?} {}",
        tree.iter().collect::<Vec<_>>(),
        tree.iter().rev().collect::<Vec<_>>(),
        tree.keys().collect::<Vec<_>>(),
        tree.values().collect::<Vec<_>>(),
        tree.len(),
        tree.is_empty(),
        tree,
        sip(tree),
    );
    (a, b)
}

#[test]
fn vec_map_behaves_as_btreemap_over_a_random_sequence() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut pairs = [Pair::default(), Pair::default()];
    let mut nonempty_steps = 0;
    for step in 0..OPERATIONS {
        let which = rng.random_range(0..2);
        let pair = &mut pairs[which];
        if rng.random_range(0..CLEAR_ONE_IN) == 0 {
            pair.flat.clear();
            pair.tree.clear();
        }
        let (a, b) = apply(pair, &mut rng);
        assert_eq!(a, b, "operation {step}: results differ");
        let (a, b) = observe(pair);
        assert_eq!(a, b, "operation {step}: contents differ");
        let [p, q] = &pairs;
        assert_eq!(
            (p.flat == q.flat, p.flat.cmp(&q.flat)),
            (p.tree == q.tree, p.tree.cmp(&q.tree)),
            "operation {step}: comparison differs"
        );
        nonempty_steps += usize::from(!pairs[which].tree.is_empty());
    }
    // The sequence exercised populated maps, not only empty ones.
    assert!(nonempty_steps > OPERATIONS / 2, "{nonempty_steps}");
}

#[test]
fn vec_map_collects_and_consumes_as_btreemap() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
    for _ in 0..OPERATIONS / 20 {
        let pairs: Vec<(u8, u32)> = (0..rng.random_range(0..4 * EXTEND_MAX))
            .map(|_| {
                (
                    rng.random_range(0..KEY_SPACE),
                    rng.random_range(0..VALUE_SPACE),
                )
            })
            .collect();
        let flat: VecMap<u8, u32> = pairs.iter().copied().collect();
        let tree: BTreeMap<u8, u32> = pairs.iter().copied().collect();
        assert_eq!(format!("{flat:?}"), format!("{tree:?}"));
        assert_eq!(sip(&flat), sip(&tree));
        let mut flat = flat;
        let mut tree = tree;
        for (k, v) in &mut flat {
            *v ^= u32::from(*k);
        }
        for (k, v) in &mut tree {
            *v ^= u32::from(*k);
        }
        if let Some((k, _)) = pairs.first() {
            assert_eq!(flat[k], tree[k]);
        }
        let owned: Vec<_> = flat.into_iter().collect();
        assert_eq!(owned, tree.into_iter().collect::<Vec<_>>());
    }
}
