//! The compact breadth-first search with the hand packer of its queue ([`sim::pack`])
//! against the same search with LZ4 (its slow twin), over every [`EVERY`]th example and
//! corpus entry, on 1 and 2 threads, taking the first violation and refusing every one: the
//! same states, steps, ends, exhaustion, queue pushes and encoded bytes, and counterexample;
//! only the queued (packed) bytes differ.
//!
//! The packer is switched process-wide ([`pack::use_slow_packer_for_tests`]), so this file
//! holds one test: nothing else runs in its binary while the switch is set.

mod common;

use model::state::State;
use sim::pack;

/// Every how many scenarios of [`common::examples_and_corpus`] one is searched.
const EVERY: usize = 3;
/// States each search may visit.
const TWIN_STATES: u64 = 3_000;
/// Thread counts the searches run with.
const JOBS: [usize; 2] = [1, 2];
/// Searches that must find a counterexample, at least (so counterexamples were compared).
const FOUND_MIN: usize = 4;
/// Searches whose queues the hand packer made smaller than LZ4, at least (so the switch works).
const SMALLER_MIN: usize = 4;

/// What both packers' searches must agree on (all the report but the memory figures), and
/// the queued bytes, which they need not.
type Outcome = (
    (u64, u64, u64, bool, bool, u64, u64),
    Option<common::Counterexample>,
    u64,
);

/// The search of `initial` on `jobs` threads, refusing every violation when `measure`.
fn search(initial: &State, jobs: usize, measure: bool) -> Outcome {
    let (r, found) = common::twin_bfs(initial, TWIN_STATES, jobs, measure);
    let (pushes, encoded, queued) = r.queued;
    let figures = (
        r.states,
        r.steps,
        r.schedules,
        r.exhausted,
        r.cut,
        pushes,
        encoded,
    );
    (figures, found, queued)
}

#[test]
fn the_bfs_is_the_same_with_the_hand_and_the_slow_packer() {
    let (mut found, mut smaller) = (0, 0);
    let scenarios = common::examples_and_corpus();
    for (path, initial, _) in scenarios.into_iter().step_by(EVERY) {
        for (jobs, measure) in JOBS.into_iter().flat_map(|j| [(j, false), (j, true)]) {
            let hand = search(&initial, jobs, measure);
            pack::use_slow_packer_for_tests(true);
            let slow = search(&initial, jobs, measure);
            pack::use_slow_packer_for_tests(false);
            let at = format!("{} (jobs {jobs}, measure {measure})", path.display());
            assert_eq!((&hand.0, &hand.1), (&slow.0, &slow.1), "{at}");
            found += usize::from(hand.1.is_some());
            // The switch works: the queues' packed bytes differ (the hand packer's smaller).
            smaller += usize::from(hand.2 < slow.2);
        }
    }
    assert!(found >= FOUND_MIN, "counterexamples compared: {found}");
    assert!(
        smaller >= SMALLER_MIN,
        "searches where the packers differ: {smaller}"
    );
}
