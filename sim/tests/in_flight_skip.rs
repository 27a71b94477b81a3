//! The skip of `block-freeing-exclusion`'s in-flight check ([`in_flight_inputs_changed`])
//! against the check itself. No walk of the examples or the corpus breaks that check (the
//! twins of `sim/tests/oracle_twins.rs` cannot tell a wrong skip of it apart), so the states
//! are planted: on every state of [`WALK_SEEDS`] random walks of every example and corpus
//! entry that records a bio in flight, each inode's block map is emptied, or each of its
//! extents moved to other physical blocks, through the state's change mark (the flags
//! cleared first, as a step does). Whenever that breaks the check, the skip says its inputs
//! changed, so the check runs. A skip that forgot the block maps would fail here.

mod common;

use model::mark::Touched;
use model::state::State;
use sim::oracle::blocks::{check_in_flight, in_flight_inputs_changed};
use sim::oracle::history::History;

/// Random-walk seeds per example and corpus entry.
const WALK_SEEDS: u64 = 20;
/// Steps per walk at most.
const WALK_STEPS_MAX: usize = 400;

/// The planted changes of inode `ix`'s block map: emptied, and every extent moved by one
/// physical block.
fn planted(state: &State, ix: usize) -> Vec<State> {
    let mut out = Vec::new();
    let mut emptied = state.clone();
    emptied.clear_touched_for_tests();
    emptied.inodes[ix].map.extents.clear();
    out.push(emptied);
    let mut moved = state.clone();
    moved.clear_touched_for_tests();
    for e in moved.inodes[ix].map.extents.iter_mut() {
        e.pblk += 1;
    }
    out.push(moved);
    out
}

/// `(planted states that break the check, those the skip would have skipped)` on `state`.
fn compare(h: &History, state: &State) -> (usize, usize) {
    let (mut broken, mut skipped) = (0, 0);
    if h.bios.is_empty() || check_in_flight(h, state).is_err() {
        return (0, 0);
    }
    for ix in 0..state.inodes.len() {
        for planted in planted(state, ix) {
            let touched: Touched = planted.touched();
            if check_in_flight(h, &planted).is_err() {
                broken += 1;
                skipped += usize::from(!in_flight_inputs_changed(&planted, touched, false));
            }
        }
    }
    (broken, skipped)
}

#[test]
fn the_in_flight_skip_never_skips_a_broken_check() {
    let (mut broken, mut skipped) = (0, 0);
    for (_, initial, _) in common::examples_and_corpus() {
        for seed in 0..WALK_SEEDS {
            common::each_passing_state(&initial, (seed, WALK_STEPS_MAX), &mut |history, state| {
                let (b, s) = compare(history, state);
                broken += b;
                skipped += s;
            });
        }
    }
    assert!(broken > 100, "only {broken} planted states break the check");
    assert_eq!(skipped, 0, "of {broken} planted states breaking the check");
}
