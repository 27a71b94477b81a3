//! The incremental fingerprint ([`Parts::fingerprint_after`], which rehashes only the parts a
//! step marked) against the whole one ([`fingerprint`]), over every successor of a bounded
//! breadth-first search of every example scenario and corpus entry: the two must be equal.
//! A planted wrong mark (only the stepping actor's part, as if a step could change no other
//! actor) must make them differ somewhere, so the twin can fail.

mod common;

use model::exec::Task;
use model::mark::Touched;
use model::state::State;
use sim::fingerprint::{fingerprint, is_fingerprint};

/// States each twin search may visit, per scenario.
const TWIN_STATES: u64 = 3_000;
/// States each search with a planted wrong mark may visit, per example scenario.
const PLANTED_STATES: u64 = 1_000;

/// A mark as the expansion hands it to [`Parts::fingerprint_after`], given the task stepped.
type Mark = fn(Touched, Task) -> Touched;

/// The mark the step left: what the search uses.
fn true_mark(touched: Touched, _: Task) -> Touched {
    touched
}

/// Wrong on purpose: only the stepping actor's part of the actors (none for a bio or work
/// item), as if no step could wake or change another actor.
fn planted_mark(touched: Touched, task: Task) -> Touched {
    let stepping = match task {
        Task::Actor(a) => Some(a),
        _ => None,
    };
    touched.only_actor_for_tests(stepping)
}

/// Successors checked and how many of them the two fingerprints told apart.
#[derive(Debug, Default)]
struct Tally {
    checked: u64,
    differ: u64,
}

/// Breadth-first over the states reachable from `initial` (at most `max_states`, a violating
/// step ends its path), comparing on every successor the incremental fingerprint from its
/// parent's parts, under the mark `mark` makes of the step's, with the whole one.
fn twin_bfs(initial: &State, max_states: u64, mark: Mark) -> Tally {
    let mut tally = Tally::default();
    common::each_successor(
        initial,
        (max_states, fingerprint),
        &mut |parts, task, next, watch| {
            let whole = fingerprint(next, watch);
            let incremental = parts.fingerprint_after(next, watch, mark(next.touched(), task));
            tally.checked += 1;
            tally.differ += u64::from(whole != incremental);
        },
    );
    tally
}

#[test]
fn incremental_fingerprint_equals_whole_on_every_successor_of_examples_and_corpus() {
    let mut checked = 0;
    for (path, initial, _) in common::examples_and_corpus() {
        let tally = twin_bfs(&initial, TWIN_STATES, true_mark);
        assert_eq!(tally.differ, 0, "{}: {tally:?}", path.display());
        checked += tally.checked;
    }
    assert!(checked > 10 * TWIN_STATES, "successors checked: {checked}");
}

#[test]
fn a_planted_wrong_mark_makes_the_twins_differ() {
    let scenarios = common::examples_and_corpus();
    let examples = scenarios
        .iter()
        .filter(|(_, _, schedule)| schedule.is_none());
    let differ: u64 = examples
        .map(|(_, initial, _)| twin_bfs(initial, PLANTED_STATES, planted_mark).differ)
        .sum();
    assert!(differ > 0, "the planted mark went unnoticed");
}

#[test]
fn the_unreduced_search_key_is_recognised_and_the_symmetry_key_is_not() {
    assert!(is_fingerprint(fingerprint));
    assert!(!is_fingerprint(sim::symmetry::canonical_fingerprint));
    assert!(!is_fingerprint(sim::fingerprint::fingerprint_slow));
}
