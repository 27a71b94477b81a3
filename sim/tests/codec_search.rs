//! The compact breadth-first search with the hand codec of its records ([`sim::codec`])
//! against the same search with the slow codec (postcard over the serde derives), over
//! every [`EVERY`]th example and corpus entry, on 1 and 2 threads, taking the first violation
//! and refusing every one: the same states, steps, ends, exhaustion, queue pushes and
//! counterexample.
//!
//! The codec is switched process-wide ([`frontier::use_slow_codec_for_tests`]), so this file
//! holds one test: nothing else runs in its binary while the switch is set.

mod common;

use model::state::State;
use sim::frontier;

/// Every how many scenarios of [`common::examples_and_corpus`] one is searched.
const EVERY: usize = 4;
/// States each search may visit.
const TWIN_STATES: u64 = 3_000;
/// Thread counts the searches run with.
const JOBS: [usize; 2] = [1, 2];
/// Searches that must find a counterexample, at least (so counterexamples were compared).
const FOUND_MIN: usize = 4;

/// What both codecs' searches must agree on: all the report but the memory figures.
type Outcome = (
    (u64, u64, u64, bool, bool, u64),
    Option<common::Counterexample>,
);

/// The search of `initial` on `jobs` threads, refusing every violation when `measure`.
fn search(initial: &State, jobs: usize, measure: bool) -> Outcome {
    let (r, found) = common::twin_bfs(initial, TWIN_STATES, jobs, measure);
    let figures = (
        r.states,
        r.steps,
        r.schedules,
        r.exhausted,
        r.cut,
        r.queued.0,
    );
    (figures, found)
}

/// Decoding a record whose first `bool` (the geometry's `huge_file`, after the index and
/// three integers) is 2: the message tells which codec decoded it.
fn bad_record_message() -> String {
    let record = [0u8, 0, 0, 0, 2];
    let payload = std::panic::catch_unwind(|| drop(frontier::decode(&record))).expect_err("bad");
    let text = payload.downcast_ref::<String>().cloned();
    text.or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a message")
}

#[test]
fn the_bfs_is_the_same_with_the_hand_and_the_slow_codec() {
    // The switch works: the slow codec decodes (postcard's error, not the hand codec's).
    frontier::use_slow_codec_for_tests(true);
    let slow_message = bad_record_message();
    frontier::use_slow_codec_for_tests(false);
    assert!(
        !slow_message.starts_with(sim::codec::MALFORMED),
        "{slow_message}"
    );
    assert!(bad_record_message().starts_with(sim::codec::MALFORMED));

    let mut found = 0;
    let scenarios = common::examples_and_corpus();
    for (path, initial, _) in scenarios.into_iter().step_by(EVERY) {
        for (jobs, measure) in JOBS.into_iter().flat_map(|j| [(j, false), (j, true)]) {
            let hand = search(&initial, jobs, measure);
            frontier::use_slow_codec_for_tests(true);
            let slow = search(&initial, jobs, measure);
            frontier::use_slow_codec_for_tests(false);
            let at = format!("{} (jobs {jobs}, measure {measure})", path.display());
            assert_eq!(hand, slow, "{at}");
            found += usize::from(hand.1.is_some());
        }
    }
    assert!(found >= FOUND_MIN, "counterexamples compared: {found}");
}
