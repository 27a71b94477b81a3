//! Decoding and copying over an old value ([`Codec::take_into`], [`Codec::copy_from`], the
//! breadth-first search's per-thread scratch states) against their slow twins, decoding and
//! cloning anew ([`Codec::take`], [`Clone::clone`]).
//!
//! - The states and observers along [`WALK_SEEDS`] random walks of every example and corpus
//!   entry, in a seeded shuffle across all scenarios, are decoded (as queued records,
//!   [`frontier::decode_into`]) and copied over one scratch pair that holds whatever came
//!   before (other inodes, actors, frames, maps of other keys): each result equals the twin's
//!   in value, in `Debug` form (the observer's memo, cold in both), in its bytes and in the
//!   marks the incremental fingerprint reads ([`State::touched`]).
//! - A planted fault, a reuse that leaves one field of the old value (the next object id),
//!   fails that comparison.
//!
//! The whole searches with and without the scratch states are compared in `reuse_search.rs`.

mod common;

use std::sync::Arc;

use model::state::State;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sim::codec::Codec;
use sim::frontier;
use sim::oracle::Observer;

/// Random walks per scenario.
const WALK_SEEDS: u64 = 6;
/// Walked states (over all scenarios) the comparison must see, at least.
const STATES_MIN: usize = 1_000;
/// States on which the planted fault must be caught, at least.
const CAUGHT_MIN: usize = 100;
/// The seed of the shuffle that orders the states.
const SHUFFLE_SEED: u64 = 23;

/// A state and its observer.
type Pair = (State, Observer);

/// Every scenario's walked states, in one seeded shuffle: consecutive states mostly come
/// from different scenarios.
fn shuffled() -> Vec<Pair> {
    let mut all: Vec<Pair> = common::examples_and_corpus()
        .into_iter()
        .flat_map(|(_, initial, _)| {
            (0..WALK_SEEDS)
                .flat_map(|seed| common::walk_pairs(&initial, seed))
                .collect::<Vec<_>>()
        })
        .collect();
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(SHUFFLE_SEED));
    all
}

/// `state` as queued: its programs left out.
fn stripped(state: &State) -> State {
    let mut s = state.clone();
    for actor in &mut s.actors {
        actor.program = Arc::from([]);
    }
    s
}

/// What differs between `got` and the twin's `want`, if anything.
fn differs(got: &Pair, want: &Pair) -> Option<String> {
    let bytes = |(s, o): &Pair| {
        let mut out = Vec::new();
        s.put(&mut out);
        o.put(&mut out);
        out
    };
    if got.0 != want.0 || format!("{:?}", got.0) != format!("{:?}", want.0) {
        return Some(format!("the state differs: {:?}", got.0));
    }
    if got.0.touched() != want.0.touched() {
        return Some(format!(
            "marks {:?}, not {:?}",
            got.0.touched(),
            want.0.touched()
        ));
    }
    if format!("{:?}", got.1) != format!("{:?}", want.1) {
        return Some("the observer differs".to_string());
    }
    (bytes(got) != bytes(want)).then(|| "the bytes differ".to_string())
}

/// Decodes `record` over `scratch` (as the search does) and against the fresh decoding;
/// what differs, if anything. `leave_next_id` plants the fault.
fn decode_over(record: &[u8], scratch: &mut Pair, leave_next_id: bool) -> Option<String> {
    let old_next_id = scratch.0.next_id;
    let (id, left) = frontier::decode_into(record, scratch);
    if leave_next_id {
        scratch.0.next_id = old_next_id;
    }
    let (want_id, state, observer, want_left) = frontier::decode(record);
    if (id, left) != (want_id, want_left) {
        return Some(format!("index {id} and {left} left"));
    }
    differs(scratch, &(state, observer))
}

/// Copies `source` over `scratch` and against a clone; what differs, if anything.
/// `leave_next_id` plants the fault.
fn copy_over(source: &Pair, scratch: &mut Pair, leave_next_id: bool) -> Option<String> {
    let old_next_id = scratch.0.next_id;
    scratch.0.copy_from(&source.0);
    scratch.1.copy_from(&source.1);
    if leave_next_id {
        scratch.0.next_id = old_next_id;
    }
    differs(scratch, &source.clone())
}

#[test]
fn decoding_and_copying_over_old_states_equal_their_fresh_twins() {
    let all = shuffled();
    assert!(all.len() >= STATES_MIN, "{} states", all.len());
    let (mut decoded, mut copied) = (all[0].clone(), all[0].clone());
    for (i, (state, observer)) in all.iter().enumerate() {
        let id = u32::try_from(i).expect("few states");
        let record = frontier::encode(id, &stripped(state), observer, Vec::new());
        if let Some(e) = decode_over(&record, &mut decoded, false) {
            panic!("state {i} decoded over the one before: {e}");
        }
        let pair = (state.clone(), observer.clone());
        if let Some(e) = copy_over(&pair, &mut copied, false) {
            panic!("state {i} copied over the one before: {e}");
        }
    }
}

#[test]
fn a_reuse_that_leaves_a_field_behind_fails_the_comparison() {
    let all = shuffled();
    let (mut decoded, mut copied) = (all[0].clone(), all[0].clone());
    let (mut caught_decoding, mut caught_copying) = (0, 0);
    for (i, (state, observer)) in all.iter().enumerate() {
        let id = u32::try_from(i).expect("few states");
        let record = frontier::encode(id, &stripped(state), observer, Vec::new());
        caught_decoding += usize::from(decode_over(&record, &mut decoded, true).is_some());
        let pair = (state.clone(), observer.clone());
        caught_copying += usize::from(copy_over(&pair, &mut copied, true).is_some());
    }
    assert!(caught_decoding >= CAUGHT_MIN, "caught {caught_decoding}");
    assert!(caught_copying >= CAUGHT_MIN, "caught {caught_copying}");
}
