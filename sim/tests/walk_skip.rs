//! The memo's skip of the exposure walk ([`Memo::check_exposure`]) against the simple check:
//! on every state of [`WALK_SEEDS`] random walks of `canonical.toml` that passes, and for
//! every write, a history in which only that write's range changed (to an empty one, so its
//! data, wherever it shows, comes "from elsewhere") gets from a warm memo, which walked the
//! state under the real history, the verdict `check_exposure_simple` gives. The memo skips
//! the walk when the changed write's data showed nowhere in its last walk, and walks again
//! (taking as judged only the offsets judged on other values) when it did.
//!
//! The memo compares of an inode's locks only what decides which reads run now: a lock or
//! unlock of `i_mutex` leaves its inputs as they were unless `invalidate_lock` is held for
//! write and a direct read takes the locked path, when a direct read waits for `i_mutex`
//! ([`the_memo_sees_each_lock_a_read_waits_for`], on the same walks' states with the locks
//! set by hand).
//!
//! The comparison can fail: [`Checking::WrongWalkSkipForTests`], which skips the walk
//! whenever the state's inputs are as remembered, passes some of those histories that the
//! simple check fails. (The random walks of `sim/tests/oracle_twins.rs` never tell it apart:
//! there a write's inputs change only before its data shows anywhere.)

mod common;

use model::mark::Touched;
use model::state::State;
use sim::oracle::contents::check_exposure_simple;
use sim::oracle::history::History;
use sim::oracle::memo::{HistoryDiff, Memo, Unchanged};
use sim::oracle::{Checking, Violation};

/// Random-walk seeds of `canonical.toml`.
const WALK_SEEDS: u64 = 60;
/// Steps per walk at most.
const WALK_STEPS_MAX: usize = 400;

/// A memo checking as `checking` that remembers `state` and `h` and walked `state` under
/// `h` with its passed offsets (as after a passing step that changed the state).
fn warm_memo(h: &History, state: &State, checking: Checking) -> Memo {
    let mut memo = Memo::new(checking);
    for _ in 0..2 {
        let unchanged = memo.unchanged(state, h, Touched::ALL, true);
        memo.passed(state, h, unchanged, Touched::ALL);
    }
    let walked = Unchanged {
        state: false,
        diff: HistoryDiff::Same,
    };
    assert_eq!(memo.check_exposure(h, state, walked), Ok(()));
    memo.passed(state, h, walked, Touched::ALL);
    memo
}

/// For each write of `h`, the verdict of a memo warm on `h` and the simple check's on a
/// history where only that write's range is empty: `(differences, simple check failures)`.
fn plant(h: &History, state: &State, checking: Checking) -> (usize, usize) {
    let (mut differ, mut failing) = (0, 0);
    for &tag in h.writes.keys() {
        let mut moved = h.clone();
        let w = moved.writes.get_mut(&tag).expect("the write");
        if w.range.is_none() {
            continue;
        }
        w.range = Some((0, 0));
        let simple: Result<(), Violation> = check_exposure_simple(&moved, state);
        let mut memo = warm_memo(h, state, checking);
        let unchanged = memo.unchanged(state, &moved, Touched::default(), true);
        assert!(unchanged.state, "the state is as remembered");
        let memo_verdict = memo.check_exposure(&moved, state, unchanged);
        differ += usize::from(memo_verdict != simple);
        failing += usize::from(simple.is_err());
    }
    (differ, failing)
}

/// The passing states of the walks of `canonical.toml`, each with its observer's history.
fn passing_states(mut visit: impl FnMut(&History, &State)) {
    let initial = common::canonical_state();
    for seed in 0..WALK_SEEDS {
        common::each_passing_state(&initial, (seed, WALK_STEPS_MAX), &mut visit);
    }
}

/// [`plant`] over the passing states of the walks: `(differences, simple check failures)`.
fn walks(checking: Checking) -> (usize, usize) {
    let (mut differ, mut failing) = (0, 0);
    passing_states(|h, state| {
        let (d, f) = plant(h, state, checking);
        differ += d;
        failing += f;
    });
    (differ, failing)
}

/// Whether a memo warm on `state` with inode 0's `invalidate_lock` writer as `writer` and
/// `i_mutex` free sees the state changed once `i_mutex` is taken.
fn i_mutex_seen(h: &History, state: &State, writer: bool) -> bool {
    let mut before = state.clone();
    before.inodes[0].invalidate_lock.writer = writer;
    before.inodes[0].i_mutex = None;
    let memo = warm_memo(h, &before, Checking::Incremental);
    let mut after = before.clone();
    after.inodes[0].i_mutex = Some(0);
    !memo.unchanged(&after, h, Touched::default(), false).state
}

#[test]
fn the_memo_sees_each_lock_a_read_waits_for() {
    let mut states = 0;
    passing_states(|h, state| {
        if check_exposure_simple(h, state).is_err() {
            return;
        }
        let locked_path = !state.should_dioread_nolock(0) || state.inodes[0].state_dioread_lock;
        assert_eq!(i_mutex_seen(h, state, true), locked_path, "{state:?}");
        assert!(!i_mutex_seen(h, state, false), "{state:?}");
        states += 1;
    });
    assert!(states > 1_000, "{states} states");
}

#[test]
fn the_walk_skip_agrees_with_the_simple_check() {
    let (differ, failing) = walks(Checking::Incremental);
    assert_eq!(
        differ, 0,
        "the memo's verdict differs from the simple check's"
    );
    assert!(failing > 0, "no planted history fails the simple check");
    eprintln!("{failing} planted histories fail the simple check; the memo agrees on all");
}

#[test]
fn a_wrong_walk_skip_is_caught() {
    let (differ, _) = walks(Checking::WrongWalkSkipForTests);
    assert!(
        differ > 0,
        "no planted history tells the wrong walk skip apart"
    );
    eprintln!("the wrong walk skip differs on {differ} planted histories");
}
