//! The history summary the visited set hashes ([`History::summary`]: the recorded step
//! numbers gathered, sorted and deduplicated inline) against its slow twin
//! ([`History::summary_slow`]: the same through a `Vec` and the standard library), on every
//! state of a bounded breadth-first search of every example scenario and corpus entry: the
//! two must hash alike. The fingerprint reads the summary through
//! [`sim::oracle::Observer::summary`], so equal hashes keep every search's states and
//! counts.

mod common;

use std::hash::{DefaultHasher, Hash, Hasher};

use model::state::State;
use sim::fingerprint::{FoldHasher, fingerprint};
use sim::oracle::history::History;

/// States each twin search may visit, per scenario.
const TWIN_STATES: u64 = 3_000;

/// The summary hashed by SipHash with fixed keys and by the fingerprint's hasher, fast or
/// slow.
fn hashes(history: &History, slow: bool) -> (u64, u64) {
    let (mut sip, mut fold) = (DefaultHasher::new(), FoldHasher::default());
    if slow {
        history.summary_slow().hash(&mut sip);
        history.summary_slow().hash(&mut fold);
    } else {
        history.summary().hash(&mut sip);
        history.summary().hash(&mut fold);
    }
    (sip.finish(), fold.finish())
}

/// Histories compared and how many of them the two summaries hashed apart.
#[derive(Debug, Default)]
struct Tally {
    checked: u64,
    differ: u64,
}

/// Breadth-first over the states reachable from `initial` (at most `max_states`, a violating
/// step ends its path), comparing the two summaries of every successor's history.
fn twin_bfs(initial: &State, max_states: u64) -> Tally {
    let mut tally = Tally::default();
    common::each_successor(initial, (max_states, fingerprint), &mut |_, _, _, watch| {
        let history = watch.history();
        tally.checked += 1;
        tally.differ += u64::from(hashes(history, false) != hashes(history, true));
    });
    tally
}

#[test]
fn the_inline_summary_hashes_as_the_slow_one_on_every_state_of_examples_and_corpus() {
    let mut checked = 0;
    for (path, initial, _) in common::examples_and_corpus() {
        let tally = twin_bfs(&initial, TWIN_STATES);
        assert_eq!(tally.differ, 0, "{}: {tally:?}", path.display());
        checked += tally.checked;
    }
    assert!(checked > 10 * TWIN_STATES, "histories checked: {checked}");
}
