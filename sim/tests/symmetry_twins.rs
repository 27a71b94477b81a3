//! The symmetry reduction's key ([`canonical_fingerprint`], which gathers identifiers in place
//! and hashes a state that is its own renaming without copying it) against its slow twin
//! ([`canonical_fingerprint_slow`], which copies and renames everything), over every
//! successor of a bounded breadth-first search of every example scenario and corpus entry
//! (keyed by the slow twin, as the reduced search is): the two keys must be equal, and the
//! identifiers gathered in place must be those the renaming walks visit. The incremental
//! form ([`canonical_fingerprint_after`], which takes the parts the step left unmarked and
//! the renaming leaves alone from the parent's hashes) must equal the slow twin too. Both
//! ways of the fast key (a state already its own renaming, and one to rename) must occur.
//! The history's part alone is compared too: [`Observer::canonical_summary`] (read in place)
//! must hash as the summary of the observer's copy renamed and with its order forgotten, under
//! the ranks and under no renaming. The persistent sets' key ([`order_fingerprint`], the
//! history read in place without renaming) must equal its copying twin
//! ([`order_fingerprint_slow`]).

mod common;

use std::hash::{Hash, Hasher};

use model::state::{ObjId, State};
use sim::fingerprint::{AsIs, FoldHasher, Naming, Parts};
use sim::oracle::Observer;
use sim::symmetry::{
    canonical_fingerprint, canonical_fingerprint_after, canonical_fingerprint_slow, held_ids,
    object_ids, order_fingerprint, order_fingerprint_slow, rank,
};

/// States each twin search may visit, per scenario.
const TWIN_STATES: u64 = 3_000;

/// Successors checked, how many were their own renaming, and how many the twins told apart.
#[derive(Debug, Default)]
struct Tally {
    checked: u64,
    ranked: u64,
    differ: u64,
}

/// The identifiers of `state` and `observer` as the renaming walks visit them (copies
/// rebuilt), sorted, without repeats.
fn walked_ids(state: &State, observer: &Observer) -> Vec<ObjId> {
    let (mut state, mut observer) = (state.clone(), observer.clone());
    let mut ids = Vec::new();
    object_ids(&mut state, &mut ids);
    observer.visit_objects(&mut |id| ids.push(*id));
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The symmetry key's renaming by the sorted list of identifiers ([`rank`]).
struct ListRanks<'a>(&'a [ObjId]);

impl Naming for ListRanks<'_> {
    fn renames(&self) -> bool {
        true
    }

    fn name(&self, id: ObjId) -> ObjId {
        rank(self.0, id)
    }

    fn next_id(&self, _: ObjId) -> ObjId {
        self.0.len() as ObjId
    }
}

/// `value` hashed by the fingerprint's hasher.
fn hashed(value: &impl Hash) -> u64 {
    let mut h = FoldHasher::default();
    value.hash(&mut h);
    h.finish()
}

/// The history's part of the key read in place against the copy's, renamed by `ids`'
/// ranks and not renamed: whether both agree.
fn summaries_agree(state: &State, observer: &Observer, ids: &[ObjId]) -> bool {
    let mut renamed = observer.clone();
    renamed.visit_objects(&mut |id| *id = rank(ids, *id));
    renamed.forget_unread_order(state);
    let mut kept = observer.clone();
    kept.forget_unread_order(state);
    hashed(&observer.canonical_summary(state, &ListRanks(ids))) == hashed(&renamed.summary())
        && hashed(&observer.canonical_summary(state, &AsIs)) == hashed(&kept.summary())
}

/// Compares the twins on one state, counting into `tally`; with its parent's `parts`, the
/// incremental key too.
fn compare(state: &State, observer: &Observer, parts: Option<&Parts>, tally: &mut Tally) {
    let mut held = Vec::new();
    held_ids(state, observer, &mut held);
    held.sort_unstable();
    held.dedup();
    let walked = walked_ids(state, observer);
    // A state with identifiers that already are their ranks (the initial states, with
    // none, do not count: they would meet this alone).
    let ranked = !held.is_empty()
        && held.iter().zip(1..).all(|(&id, r)| id == r)
        && state.next_id == held.len() as ObjId;
    let fast = canonical_fingerprint(state, observer);
    let slow = canonical_fingerprint_slow(state, observer);
    tally.checked += 1;
    tally.ranked += u64::from(ranked);
    let after = parts.map_or(slow, |parts| {
        canonical_fingerprint_after(parts, state, observer, state.touched())
    });
    let summaries = summaries_agree(state, observer, &walked);
    let order = order_fingerprint(state, observer) == order_fingerprint_slow(state, observer);
    tally.differ +=
        u64::from(fast != slow || after != slow || held != walked || !summaries || !order);
}

/// Breadth-first over the states reachable from `initial` (at most `max_states`, keyed by
/// the slow twin; a violating step ends its path), comparing the twins on every successor.
fn twin_bfs(initial: &State, max_states: u64) -> Tally {
    let mut tally = Tally::default();
    compare(initial, &Observer::new(initial), None, &mut tally);
    common::each_successor(
        initial,
        (max_states, canonical_fingerprint_slow),
        &mut |parts, _, next, watch| compare(next, watch, Some(parts), &mut tally),
    );
    tally
}

#[test]
fn fast_symmetry_key_equals_slow_on_every_successor_of_examples_and_corpus() {
    let mut total = Tally::default();
    for (path, initial, _) in common::examples_and_corpus() {
        let tally = twin_bfs(&initial, TWIN_STATES);
        assert_eq!(tally.differ, 0, "{}: {tally:?}", path.display());
        total.checked += tally.checked;
        total.ranked += tally.ranked;
    }
    assert!(
        total.checked > 10 * TWIN_STATES,
        "successors checked: {total:?}"
    );
    assert!(
        total.ranked > 0,
        "no state with identifiers was its own renaming: {total:?}"
    );
    assert!(
        total.ranked < total.checked,
        "every state was its own renaming: {total:?}"
    );
}
