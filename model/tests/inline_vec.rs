//! The slow twin of `model::inline_vec::InlineVec`: `Vec`, the vector the model state used
//! before. Two pairs of vectors take the same seeded random sequence of operations, with
//! lengths that cross the inline capacity both ways (spilling to the heap and coming back);
//! after every operation each result, the items, the length, the `Debug` text, the SipHash,
//! the postcard bytes and JSON text, a clone, equality and ordering between the two vectors
//! must be the same on both sides, and the vector must be inline exactly when it fits.

use std::hash::{Hash, Hasher};

use model::inline_vec::InlineVec;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Items kept inline: small, so random lengths cross it often.
const INLINE: usize = 4;
/// Operations applied in the whole sequence.
const OPERATIONS: usize = 20_000;
/// The generator's seed (any fixed value: the sequence is the same on every run).
const SEED: u64 = 0x1a11_7ec5;
/// Items are drawn from `0..VALUE_SPACE`: small, so `retain` and comparisons find equal
/// items.
const VALUE_SPACE: u32 = 8;
/// Lengths asked of `resize` and `truncate` are below this (three times the inline
/// capacity: well past the boundary either way).
const LEN_SPACE: usize = 3 * INLINE;
/// An `extend` adds fewer items than this.
const EXTEND_MAX: usize = 2 * INLINE;
/// Each kind of crossing (inline to heap, heap to inline) happens at least this often.
const CROSSINGS_MIN: usize = 500;

/// The vector under test.
type Inline = InlineVec<u32, INLINE>;

/// A vector under test and its twin.
#[derive(Default)]
struct Pair {
    inline: Inline,
    vec: Vec<u32>,
}

/// SipHash with fixed keys, as the search's slow fingerprint uses.
fn sip<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// A few random items.
fn items(rng: &mut ChaCha8Rng) -> Vec<u32> {
    (0..rng.random_range(0..EXTEND_MAX))
        .map(|_| rng.random_range(0..VALUE_SPACE))
        .collect()
}

/// Applies one random operation to both vectors of `pair`; returns what each side answered,
/// as text, to be compared.
fn apply(pair: &mut Pair, rng: &mut ChaCha8Rng) -> (String, String) {
    let value = rng.random_range(0..VALUE_SPACE);
    let new_len = rng.random_range(0..LEN_SPACE);
    let (inline, vec) = (&mut pair.inline, &mut pair.vec);
    // An index inside the items (0 when empty, for the operations that accept the end).
    let index = rng.random_range(0..=vec.len());
    match rng.random_range(0..12) {
        0..=2 => {
            inline.push(value);
            vec.push(value);
            (String::new(), String::new())
        }
        3 => (format!("{:?}", inline.pop()), format!("{:?}", vec.pop())),
        4 => {
            inline.insert(index, value);
            vec.insert(index, value);
            (String::new(), String::new())
        }
        5 if index < vec.len() => (
            format!("{}", inline.remove(index)),
            format!("{}", vec.remove(index)),
        ),
        5 | 6 => {
            inline.truncate(new_len);
            vec.truncate(new_len);
            (String::new(), String::new())
        }
        7 => {
            inline.resize(new_len, value);
            vec.resize(new_len, value);
            (String::new(), String::new())
        }
        8 => {
            inline.retain(|&x| x != value);
            vec.retain(|&x| x != value);
            (String::new(), String::new())
        }
        9 => {
            let more = items(rng);
            inline.extend(more.iter().copied());
            vec.extend(more.iter().copied());
            (String::new(), String::new())
        }
        10 => {
            let more = items(rng);
            inline.extend_from_slice(&more);
            vec.extend_from_slice(&more);
            (String::new(), String::new())
        }
        _ => {
            for (x, y) in inline.iter_mut().zip(vec.iter_mut()) {
                *x = (*x + value) % VALUE_SPACE;
                *y = (*y + value) % VALUE_SPACE;
            }
            if let (Some(x), Some(y)) = (inline.first_mut(), vec.first_mut()) {
                *x = value;
                *y = value;
            }
            (String::new(), String::new())
        }
    }
}

/// Everything observable of a vector, as text: its items forwards and backwards, length,
/// `Debug` text, SipHash, postcard bytes, JSON text.
fn observe<V>(v: &V) -> String
where
    V: std::ops::Deref<Target = [u32]> + std::fmt::Debug + Hash + serde::Serialize,
{
    format!(
        "{:?} {:?} {} {} {:?} {} {:?} {}",
        v.iter().collect::<Vec<_>>(),
        v.iter().rev().collect::<Vec<_>>(),
        v.len(),
        v.is_empty(),
        v,
        sip(v),
        postcard::to_allocvec(v).expect("postcard"),
        serde_json::to_string(v).expect("json"),
    )
}

/// The representation is canonical (inline exactly when the items fit), for `v` and its
/// clone and its postcard round trip, which also equal it.
fn assert_canonical(v: &Inline, step: usize) {
    assert_eq!(
        v.spilled(),
        v.len() > INLINE,
        "operation {step}: representation"
    );
    let clone = v.clone();
    assert_eq!(
        (&clone, clone.spilled()),
        (v, v.spilled()),
        "operation {step}: clone"
    );
    let bytes = postcard::to_allocvec(v).expect("postcard");
    let back: Inline = postcard::from_bytes(&bytes).expect("postcard back");
    assert_eq!(
        (&back, back.spilled()),
        (v, v.spilled()),
        "operation {step}: round trip"
    );
}

#[test]
fn inline_vec_behaves_as_vec_over_a_random_sequence() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut pairs = [Pair::default(), Pair::default()];
    let (mut spills, mut returns) = (0, 0);
    for step in 0..OPERATIONS {
        let which = rng.random_range(0..2);
        let pair = &mut pairs[which];
        let was_spilled = pair.inline.spilled();
        let (a, b) = apply(pair, &mut rng);
        assert_eq!(a, b, "operation {step}: results differ");
        assert_eq!(
            observe(&pair.inline),
            observe(&pair.vec),
            "operation {step}: contents differ"
        );
        assert_canonical(&pair.inline, step);
        spills += usize::from(!was_spilled && pair.inline.spilled());
        returns += usize::from(was_spilled && !pair.inline.spilled());
        let [p, q] = &pairs;
        assert_eq!(
            (p.inline == q.inline, p.inline.cmp(&q.inline)),
            (p.vec == q.vec, p.vec.cmp(&q.vec)),
            "operation {step}: comparison differs"
        );
    }
    // The sequence crossed the inline capacity both ways, often.
    assert!(spills >= CROSSINGS_MIN, "{spills} spills");
    assert!(returns >= CROSSINGS_MIN, "{returns} returns inline");
}

#[test]
fn inline_vec_builds_and_reads_back_as_vec() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
    for step in 0..OPERATIONS / 20 {
        let vec: Vec<u32> = (0..rng.random_range(0..LEN_SPACE))
            .map(|_| rng.random_range(0..VALUE_SPACE))
            .collect();
        let built = [
            vec.iter().copied().collect::<Inline>(),
            Inline::from(vec.clone()),
            Inline::from(&vec[..]),
        ];
        for inline in &built {
            assert_eq!(observe(inline), observe(&vec), "build {step}");
            assert!(*inline == vec && *inline == &vec[..], "build {step}");
            assert_canonical(inline, step);
            // Deserialized from a `Vec`'s bytes and JSON, it is the same vector.
            let bytes = postcard::to_allocvec(&vec).expect("postcard");
            let json = serde_json::to_string(&vec).expect("json");
            assert_eq!(
                &postcard::from_bytes::<Inline>(&bytes).expect("postcard"),
                inline
            );
            assert_eq!(
                &serde_json::from_str::<Inline>(&json).expect("json"),
                inline
            );
        }
        let value = rng.random_range(0..VALUE_SPACE);
        let len = rng.random_range(0..LEN_SPACE);
        assert_eq!(
            observe(&Inline::from_elem(value, len)),
            observe(&vec![value; len])
        );
    }
}
