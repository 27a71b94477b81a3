//! The model's per-step invariant check ([`State::assert_step_invariants`], each object set
//! walked once) against the full check it stands in for ([`State::assert_invariants`],
//! every inode's counters recounted over every object): on every state of seeded random
//! walks of every example and corpus entry both pass or both panic with the same message,
//! and each planted broken invariant (a test-only corruption of a reached state) is caught
//! by both, alike. Each state a walk reaches keeps the marks of the step that made it, so
//! the per-step check skips there the extent trees that step left unwritten
//! ([`model::mark`]); a corruption is planted on a copy, every part of which counts as
//! written, so the per-step check must look at every tree there. The skip's premise is
//! checked on every step too: a tree whose mark the step left clear equals the tree before
//! the step (on more than half the states walked), and a tree changed unmarked is caught.

mod common;

use model::exec::{self, Trace};
use model::state::State;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Random-walk seeds per example scenario.
const SEEDS_EXAMPLE: u64 = 10_000;
/// Random-walk seeds per corpus entry.
const SEEDS_ENTRY: u64 = 300;
/// The walks of the seeds below this one plant corruptions (the others only compare the two
/// checks on the states they reach).
const PLANT_SEEDS: u64 = 200;
/// Every how many steps of a walk the corruptions are planted (on copies of the state).
const PLANT_EVERY: usize = 5;
/// Each corruption must be planted at least this often over all walks.
const PLANTED_MIN: usize = 100;

/// What a check did: `Ok` or its panic's text.
fn outcome(check: impl FnOnce()) -> Result<(), String> {
    sim::sync::catch_quietly(check)
}

/// Both checks on `state`: they must agree; returns their verdict.
fn both(state: &State, what: &str) -> Result<(), String> {
    let full = outcome(|| state.assert_invariants());
    let per_step = outcome(|| state.assert_step_invariants());
    assert_eq!(
        full, per_step,
        "{what}: the full and the per-step check disagree"
    );
    full
}

/// A test-only corruption: breaks one invariant of `state` if it can (`false` if the state
/// has nothing to break that way), and the text the checks must report.
type Corruption = (&'static str, fn(&mut State) -> bool);

const CORRUPTIONS: [Corruption; 9] = [
    ("extents overlap or are unsorted", |s| {
        let Some(&e) = s.inodes[0].map.extents.first() else {
            return false;
        };
        s.inodes[0].map.extents.push(e);
        true
    }),
    ("i_unwritten of inode 0", |s| {
        s.inodes[0].i_unwritten += 1;
        true
    }),
    ("i_ioend_count of inode 0", |s| {
        s.inodes[0].i_ioend_count += 1;
        true
    }),
    ("i_disksize past i_size in inode 0", |s| {
        s.inodes[0].i_disksize = s.inodes[0].i_size + 1;
        true
    }),
    ("mapped block is free", |s| {
        let Some(e) = s.inodes[0].map.extents.first() else {
            return false;
        };
        s.disk.free[e.pblk as usize] = true;
        true
    }),
    ("delalloc reservations exceed free blocks", |s| {
        let free = s.disk.free.iter().filter(|&&f| f).count() as u64;
        s.inodes[0].map.delayed.extend(1_000..1_001 + free);
        true
    }),
    ("t_updates counts the handles held", |s| {
        s.journal.t_updates += 1;
        true
    }),
    ("bio count", |s| {
        let Some(dio) = s.dios.values_mut().next() else {
            return false;
        };
        dio.bios += 1;
        true
    }),
    ("a dio's i_dio_count reference is gone", |s| {
        let Some(d) = s.dios.values().find(|d| d.holds_dio_count) else {
            return false;
        };
        let inode = d.inode;
        s.inodes[inode].i_dio_count = 0;
        true
    }),
];

/// Plants every corruption that applies into copies of `state` (which passes both checks):
/// both checks must catch it, with the expected text. Counts the plantings per corruption.
fn plant(state: &State, planted: &mut [usize; CORRUPTIONS.len()], what: &str) {
    for (count, (text, corrupt)) in planted.iter_mut().zip(CORRUPTIONS) {
        let mut broken = state.clone();
        if !corrupt(&mut broken) {
            continue;
        }
        let caught = both(&broken, what).expect_err("a planted corruption is caught");
        assert!(
            caught.contains(text),
            "{what}: `{text}` caught as `{caught}`"
        );
        *count += 1;
    }
}

/// One seeded random walk of `initial` to its end (or the model's panic): both checks on
/// every state, corruptions planted every [`PLANT_EVERY`] steps (seeds below
/// [`PLANT_SEEDS`]). Returns the states checked.
fn walk(
    initial: &State,
    seed: u64,
    planted: &mut [usize; CORRUPTIONS.len()],
    what: &str,
) -> (u64, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = initial.clone();
    let (mut checked, mut skipped) = (0, 0);
    for depth in 0..model::limits::STEPS_MAX {
        let verdict = both(&state, what);
        checked += 1;
        let runnable = exec::runnable(&state);
        if verdict.is_err() || runnable.is_empty() {
            break;
        }
        if seed < PLANT_SEEDS && depth % PLANT_EVERY == 0 {
            plant(&state, planted, what);
        }
        let task = runnable[rng.random_range(0..runnable.len())];
        let maps: Vec<_> = state.inodes.iter().map(|i| (*i.map).clone()).collect();
        if sim::engine::apply(exec::step_with, &mut state, task, Trace::Off).is_err() {
            checked += u64::from(both(&state, what).is_err());
            break;
        }
        skipped += unmarked_maps_unchanged(&state, &maps, what);
    }
    (checked, skipped)
}

/// The skip's premise, on the state a step left: a block map whose mark is clear is the
/// map it was before the step (`before`). The count of such maps (shape checks skipped).
fn unmarked_maps_unchanged(
    state: &State,
    before: &[model::fs::ext4::extents::ExtentMap],
    what: &str,
) -> u64 {
    let mut unmarked = 0;
    for (inode, before) in state.inodes.iter().zip(before) {
        if !inode.map.marked() {
            assert_eq!(*inode.map, *before, "{what}: a block map changed unmarked");
            unmarked += 1;
        }
    }
    unmarked
}

#[test]
fn the_per_step_invariant_check_agrees_with_the_full_one_and_catches_planted_breakage() {
    let mut planted = [0; CORRUPTIONS.len()];
    let (mut checked, mut skipped) = (0, 0);
    for (path, initial, schedule) in common::examples_and_corpus() {
        let seeds = if schedule.is_some() {
            SEEDS_ENTRY
        } else {
            SEEDS_EXAMPLE
        };
        let what = path.display().to_string();
        for seed in 0..seeds {
            let (c, s) = walk(&initial, seed, &mut planted, &what);
            (checked, skipped) = (checked + c, skipped + s);
        }
    }
    assert!(checked > 1_000_000, "{checked} states checked");
    assert!(
        skipped > checked / 2,
        "{skipped} shape checks skipped of {checked}"
    );
    for ((text, _), count) in CORRUPTIONS.iter().zip(planted) {
        assert!(count >= PLANTED_MIN, "`{text}` planted {count} times");
    }
}

/// The premise check catches a block map changed behind its mark: a delayed block added
/// through the test-only unmarked access.
#[test]
fn a_block_map_changed_unmarked_is_caught() {
    let (path, initial, _) = common::examples_and_corpus()
        .into_iter()
        .find(|(_, s, _)| !s.inodes.is_empty())
        .expect("a scenario with an inode");
    let before: Vec<_> = initial.inodes.iter().map(|i| (*i.map).clone()).collect();
    let mut state = initial.clone();
    state.clear_touched_for_tests();
    let what = path.display().to_string();
    let inodes = state.inodes.len() as u64;
    assert_eq!(unmarked_maps_unchanged(&state, &before, &what), inodes);
    state.inodes[0]
        .map
        .unmarked_for_tests()
        .delayed
        .insert(u64::MAX);
    let caught = sim::sync::catch_quietly(|| {
        unmarked_maps_unchanged(&state, &before, &what);
    });
    let message = caught.expect_err("the unmarked change is caught");
    assert!(
        message.contains("a block map changed unmarked"),
        "{message}"
    );
}
