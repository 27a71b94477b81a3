//! The codec's shared priors (a thread's last [`Prior`] written or read kept with its bytes,
//! so the next record with that prior copies or skips them) against each prior encoded and
//! decoded whole ([`share_priors_for_tests`]`(false)`, the slow twin), on the states of
//! bounded breadth-first searches of every example scenario and corpus entry, taken one
//! scenario after the other (so the cache meets new priors, and crashes' new epochs):
//! every record must be the same bytes either way, and decode to an observer of the same
//! serde form with an equal prior. It switches the codec process-wide, so it is this
//! binary's only test.

mod common;

use std::collections::{HashSet, VecDeque};

use model::exec::{self, Trace};
use model::state::State;
use sim::engine;
use sim::fingerprint::fingerprint;
use sim::frontier;
use sim::oracle::Observer;
use sim::oracle::history::share_priors_for_tests;

/// States each search may visit, per scenario.
const TWIN_STATES: u64 = 1_000;

/// The states (with their observers) a breadth-first search from `initial` visits, at most
/// `max_states`, in order.
fn visited(initial: &State, max_states: u64) -> Vec<(State, Observer)> {
    let first = Observer::new(initial);
    let mut seen = HashSet::from([fingerprint(initial, &first)]);
    let mut queue = VecDeque::from([(initial.clone(), first)]);
    let mut out = Vec::new();
    while let Some((state, observer)) = queue.pop_front() {
        for task in exec::runnable(&state) {
            let (mut next, mut watch) = (state.clone(), observer.clone());
            let checked = engine::apply(exec::step_with, &mut next, task, Trace::Off)
                .and_then(|event| watch.after_step(&next, &event.expect("runnable")));
            if checked.is_ok()
                && seen.insert(fingerprint(&next, &watch))
                && (seen.len() as u64) < max_states
            {
                queue.push_back((next.clone(), watch.clone()));
            }
        }
        out.push((state, observer));
    }
    out
}

/// `(state, observer)`'s record with priors shared (`true`) or not.
fn record(state: &State, observer: &Observer, share: bool) -> Vec<u8> {
    share_priors_for_tests(share);
    let bytes = frontier::encode(7, state, observer, Vec::new());
    share_priors_for_tests(true);
    bytes
}

/// Records compared, and how many differed between the twins (bytes, or what they decode to).
#[derive(Debug, Default)]
struct Tally {
    checked: u64,
    differ: u64,
}

/// Encodes and decodes every state of `states` both ways, comparing.
fn compare(states: &[(State, Observer)], tally: &mut Tally) {
    for (state, observer) in states {
        let (shared, whole) = (
            record(state, observer, true),
            record(state, observer, false),
        );
        let (_, _, back, rest) = frontier::decode(&shared);
        share_priors_for_tests(false);
        let (_, _, back_whole, _) = frontier::decode(&whole);
        let again = frontier::encode(7, state, &back, Vec::new());
        share_priors_for_tests(true);
        let same = shared == whole
            && rest == 0
            && again == whole
            && back.history().prior == observer.history().prior
            && back_whole.history().prior == observer.history().prior;
        tally.checked += 1;
        tally.differ += u64::from(!same);
    }
}

#[test]
fn shared_priors_give_the_same_records_as_whole_ones_on_examples_and_corpus() {
    let mut tally = Tally::default();
    for (path, initial, _) in common::examples_and_corpus() {
        let before = tally.differ;
        compare(&visited(&initial, TWIN_STATES), &mut tally);
        assert_eq!(tally.differ, before, "{}: {tally:?}", path.display());
    }
    assert!(
        tally.checked > 10 * TWIN_STATES,
        "records checked: {tally:?}"
    );
}
