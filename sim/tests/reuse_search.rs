//! The compact breadth-first search expanding each queued state over its thread's scratch
//! states ([`sim::codec::Codec::take_into`], [`sim::codec::Codec::copy_from`]) against the
//! same search decoding and cloning fresh states (its slow twin,
//! [`expand::use_fresh_states_for_tests`]), over every [`EVERY`]th example and corpus entry:
//! unreduced and under the symmetry key, on 1 and 2 threads, taking the first violation and
//! refusing every one, with a probe shown every step: the same states, steps, ends,
//! exhaustion, queue bytes, counterexample and probed states.
//!
//! The switch is process-wide, so this file holds one test: nothing else runs in its binary
//! while it is set.

mod common;

use std::hash::{DefaultHasher, Hash, Hasher};

use model::exec::{self, Task};
use model::state::State;
use sim::engine::{Execution, SearchReport};
use sim::expand;
use sim::frontier::{self, Key};
use sim::oracle::Observer;

/// Every how many scenarios of [`common::examples_and_corpus`] one is searched.
const EVERY: usize = 4;
/// States each search may visit.
const TWIN_STATES: u64 = 2_000;
/// Thread counts the searches run with.
const JOBS: [usize; 2] = [1, 2];
/// Searches that must find a counterexample, at least (so counterexamples were compared).
const FOUND_MIN: usize = 4;

/// What both searches must agree on: the report's figures (queue bytes included), the
/// counterexample, and the steps the probe saw (how many, and a hash of each state shown
/// and its tasks).
type Outcome = (
    (u64, u64, u64, bool, bool, (u64, u64, u64)),
    Option<(Vec<Task>, String)>,
    (u64, u64),
);

/// The search of `initial` keyed by `key` on `jobs` threads, refusing every violation when
/// `measure`, a probe hashing every step shown.
fn search(initial: &State, key: Key, jobs: usize, measure: bool) -> Outcome {
    let accept = |_: &Execution| !measure;
    let wanted = ("", &accept as &dyn Fn(&Execution) -> bool);
    let (mut shown, mut hasher) = (0u64, DefaultHasher::new());
    let mut probe = |state: &State, runnable: &[Task], task: Task| {
        shown += 1;
        format!("{state:?}").hash(&mut hasher);
        format!("{runnable:?} {task:?}").hash(&mut hasher);
    };
    let limits = (TWIN_STATES, u64::MAX);
    let how = (exec::step_with as sim::engine::Stepper, jobs, key);
    let r: SearchReport = frontier::bfs_keyed(initial, limits, how, wanted, Some(&mut probe));
    let found = r.found.as_ref().map(|run| {
        let v = run.violation.as_ref().expect("a found run violates");
        (
            run.schedule.clone(),
            format!("{}: {}", v.oracle.name(), v.message),
        )
    });
    let figures = (r.states, r.steps, r.schedules, r.exhausted, r.cut, r.queued);
    (figures, found, (shown, hasher.finish()))
}

/// The search without a probe (each successor but the last copied, the last stepped in
/// place): its report's figures and counterexample.
fn unprobed(initial: &State, key: Key, jobs: usize) -> Outcome {
    let accept = |_: &Execution| false;
    let wanted = ("", &accept as &dyn Fn(&Execution) -> bool);
    let how = (exec::step_with as sim::engine::Stepper, jobs, key);
    let r = frontier::bfs_keyed(initial, (TWIN_STATES, u64::MAX), how, wanted, None);
    let figures = (r.states, r.steps, r.schedules, r.exhausted, r.cut, r.queued);
    (figures, None, (0, 0))
}

#[test]
fn the_bfs_is_the_same_with_scratch_states_and_fresh_ones() {
    let keys: [(&str, Key); 2] = [
        (
            "none",
            sim::fingerprint::fingerprint as fn(&State, &Observer) -> u64,
        ),
        ("symmetry", sim::symmetry::canonical_fingerprint),
    ];
    let mut found = 0;
    let scenarios = common::examples_and_corpus();
    for (path, initial, _) in scenarios.into_iter().step_by(EVERY) {
        for (name, key) in keys {
            for (jobs, measure) in JOBS.into_iter().flat_map(|j| [(j, false), (j, true)]) {
                let at = format!(
                    "{} ({name}, jobs {jobs}, measure {measure})",
                    path.display()
                );
                let reused = search(&initial, key, jobs, measure);
                let bare = unprobed(&initial, key, jobs);
                expand::use_fresh_states_for_tests(true);
                let fresh = search(&initial, key, jobs, measure);
                let fresh_bare = unprobed(&initial, key, jobs);
                expand::use_fresh_states_for_tests(false);
                assert_eq!(reused, fresh, "{at}");
                assert_eq!(bare, fresh_bare, "{at}, unprobed");
                found += usize::from(reused.1.is_some());
            }
        }
    }
    assert!(found >= FOUND_MIN, "counterexamples compared: {found}");
}
