//! The hand codec of the breadth-first search's records ([`sim::codec`]) against its slow
//! twin, postcard over the serde derives ([`frontier::encode_slow`]).
//!
//! - Along [`WALK_SEEDS`] random walks of every example and corpus entry, every state
//!   (with its programs and without, as queued) and its observer round-trip: the state comes
//!   back equal, the observer with the same serde form (postcard's bytes) and equal to a
//!   clone of it, and the whole input is consumed. The records of [`frontier::encode`] give
//!   back their index too, and are postcard's bytes ([`frontier::encode_slow`]) exactly.
//! - A planted fault: a codec that drops a field (writes its default) fails that check.
//! - Every program point ([`WritePc::ALL`] and its siblings) round-trips in one byte.
//! - A record cut anywhere panics with [`codec::CUT`]; a bad tag with [`codec::MALFORMED`].
//!
//! The whole searches with either codec are compared in `codec_search.rs` (it switches the
//! codec process-wide, so it runs alone in its binary).

mod common;

use std::sync::Arc;

use model::ops::{CommitPc, CompletePc, OtherPc, WritePc};
use model::state::{Data, State};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::codec::{self, Codec};
use sim::frontier;
use sim::oracle::Observer;

/// Random walks per scenario.
const WALK_SEEDS: u64 = 10;
/// States (with their observers) every scenario's walks must pass at least, so the round
/// trip saw more than initial states.
const STATES_MIN: usize = 5;
/// Scenarios whose walks the planted fault must be caught on, at least.
const CAUGHT_MIN: usize = 30;
/// Cut records the truncation check tries, from as many walked states.
const CUT_RECORDS: usize = 8;

/// Writes a state and its observer.
type Put = fn(&State, &Observer, &mut Vec<u8>);

/// The hand codec.
fn hand_put(state: &State, observer: &Observer, out: &mut Vec<u8>) {
    state.put(out);
    observer.put(out);
}

/// The planted fault: the hand codec, forgetting the next object id (written as 0, as a
/// codec that skipped the field and defaulted it would give back).
fn dropping_put(state: &State, observer: &Observer, out: &mut Vec<u8>) {
    let mut forgetful = state.clone();
    forgetful.next_id = 0;
    hand_put(&forgetful, observer, out);
}

/// The serde form of `x` (the slow codec): the oracle of what an observer holds.
fn serde_form<T: serde::Serialize>(x: &T) -> Vec<u8> {
    postcard::to_allocvec(x).expect("encodes")
}

/// Writes `state` and `observer` with `put`, reads them back with the hand codec; what
/// differs, if anything.
fn round_trip(put: Put, state: &State, observer: &Observer) -> Result<(), String> {
    let mut bytes = Vec::new();
    put(state, observer, &mut bytes);
    let mut input = &bytes[..];
    let back = State::take(&mut input);
    let watch = Observer::take(&mut input);
    if !input.is_empty() {
        return Err(format!("{} bytes left over", input.len()));
    }
    if &back != state {
        return Err(format!("the state differs: {back:?}"));
    }
    if serde_form(&watch) != serde_form(observer) {
        return Err("the observer's serde form differs".to_string());
    }
    // A decoded observer is what a clone is: its memo starts cold.
    if format!("{watch:?}") != format!("{:?}", observer.clone()) {
        return Err("the observer differs from a clone".to_string());
    }
    Ok(())
}

/// `state` as queued: its programs left out.
fn stripped(state: &State) -> State {
    let mut s = state.clone();
    for actor in &mut s.actors {
        actor.program = Arc::from([]);
    }
    s
}

/// Every scenario's walked states, by file.
fn walked() -> Vec<(String, Vec<(State, Observer)>)> {
    common::examples_and_corpus()
        .into_iter()
        .map(|(path, initial, _)| {
            let states = (0..WALK_SEEDS)
                .flat_map(|seed| common::walk_pairs(&initial, seed))
                .collect();
            (path.display().to_string(), states)
        })
        .collect()
}

#[test]
fn every_walked_state_and_observer_round_trips() {
    for (path, states) in walked() {
        assert!(states.len() >= STATES_MIN, "{path}: {}", states.len());
        for (i, (state, observer)) in states.iter().enumerate() {
            let at = format!("{path}, state {i}");
            round_trip(hand_put, state, observer).unwrap_or_else(|e| panic!("{at}: {e}"));
            let queued = stripped(state);
            round_trip(hand_put, &queued, observer).unwrap_or_else(|e| panic!("{at}: {e}"));
            let id = u32::try_from(i).expect("few states") << 7;
            let record = frontier::encode(id, &queued, observer, Vec::new());
            let slow = frontier::encode_slow(id, &queued, observer, Vec::new());
            assert!(record == slow, "{at}: the record is not postcard's");
            let (back_id, back, _, left) = frontier::decode(&record);
            assert_eq!((back_id, left), (id, 0), "{at}");
            assert_eq!(back, queued, "{at}");
        }
    }
}

#[test]
fn a_codec_that_drops_a_field_fails_the_round_trip() {
    let mut caught = 0;
    for (_, states) in walked() {
        let fails = |(s, o): &(State, Observer)| round_trip(dropping_put, s, o).is_err();
        caught += usize::from(states.iter().any(fails));
    }
    assert!(caught >= CAUGHT_MIN, "caught in {caught} scenarios");
}

/// `x` round-trips in `bytes` bytes.
fn assert_round_trips<T: Codec + PartialEq + std::fmt::Debug>(x: T, bytes: usize) {
    let mut out = Vec::new();
    x.put(&mut out);
    assert_eq!(out.len(), bytes, "{x:?}");
    let mut input = &out[..];
    assert_eq!(T::take(&mut input), x);
    assert!(input.is_empty(), "{x:?}");
}

#[test]
fn every_program_point_round_trips_in_one_byte() {
    WritePc::ALL
        .into_iter()
        .for_each(|p| assert_round_trips(p, 1));
    OtherPc::ALL
        .into_iter()
        .for_each(|p| assert_round_trips(p, 1));
    CompletePc::ALL
        .into_iter()
        .for_each(|p| assert_round_trips(p, 1));
    CommitPc::ALL
        .into_iter()
        .for_each(|p| assert_round_trips(p, 1));
}

#[test]
fn integers_round_trip_at_their_edges() {
    for n in [
        0,
        1,
        127,
        128,
        16_383,
        16_384,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let bytes = (64 - n.leading_zeros()).div_ceil(7).max(1) as usize;
        assert_round_trips(n, bytes);
    }
    for n in [0i64, -1, 1, -64, 63, -65, 64, i64::MIN, i64::MAX] {
        let zigzag = ((n << 1) ^ (n >> 63)) as u64;
        let bytes = (64 - zigzag.leading_zeros()).div_ceil(7).max(1) as usize;
        assert_round_trips(n, bytes);
    }
}

/// The message of the panic `f` raises, if it does.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> Option<String> {
    let payload = std::panic::catch_unwind(f).err()?;
    let text = payload.downcast_ref::<String>().cloned();
    text.or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
}

#[test]
fn a_cut_record_panics_with_a_clear_message() {
    let (_, initial, _) = common::examples_and_corpus().swap_remove(0);
    let states = common::walk_pairs(&initial, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for _ in 0..CUT_RECORDS {
        let (state, observer) = &states[rng.random_range(0..states.len())];
        let record = frontier::encode(7, &stripped(state), observer, Vec::new());
        for cut in 0..record.len() {
            let message = panic_message(|| drop(frontier::decode(&record[..cut])));
            assert_eq!(message.as_deref(), Some(codec::CUT), "cut at {cut}");
        }
    }
    let malformed = [
        panic_message(|| {
            let _ = bool::take(&mut &[2u8][..]);
        }),
        panic_message(|| {
            let _ = Data::take(&mut &[9u8][..]);
        }),
        panic_message(|| {
            let _ = u16::take(&mut &[0xff, 0xff, 0x7f][..]);
        }),
        // Ten bytes whose last one carries more than the top bit of a `u64`.
        panic_message(|| {
            let _ =
                u64::take(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f][..]);
        }),
    ];
    // The largest `u64` (its tenth byte holds the top bit alone) still reads back.
    let mut most = Vec::new();
    u64::MAX.put(&mut most);
    assert_eq!(u64::take(&mut &most[..]), u64::MAX);
    for message in malformed {
        let message = message.expect("a malformed value panics");
        assert!(message.starts_with(codec::MALFORMED), "{message}");
    }
}
