//! The fast paths against their slow twins, over every example scenario and every corpus
//! entry: each optimisation must change nothing but speed.
//!
//! - The breadth-first search's fast fingerprint ([`sim::fingerprint::fingerprint`]) against
//!   SipHash over the whole state ([`sim::fingerprint::fingerprint_slow`]): a reference
//!   search keyed by both splits every state it reaches alike, and the engine's search (fast
//!   fingerprint) visits as many states and meets the same violations, in order, within
//!   [`BFS_TWIN_STATES`] states a scenario.
//! - Quiet steps (no notes, no step names: [`exec::Trace::Off`]) against traced ones: random
//!   walks with and without a kept trace take the same schedules to the same verdicts and
//!   final states ([`WALK_SEEDS_EXAMPLE`] seeds an example, [`WALK_SEEDS_ENTRY`] an entry and
//!   its stored schedule).
//! - The runnable tasks listed without allocating ([`exec::runnable`]: an idle writer's
//!   first wait from an unboxed frame without its iovec) against the simple listing
//!   ([`exec::runnable_simple`]), on every state of those walks and searches.

mod common;

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;

use model::drive::ending;
use model::exec::{self, Task, Trace};
use model::state::State;
use sim::engine::{self, Chooser, Execution, RandomWalk, ScheduleThenFirst};
use sim::fingerprint::{fingerprint, fingerprint_slow};
use sim::oracle::Observer;

/// States each breadth-first twin search may visit, per scenario (7 examples and 37 corpus
/// entries: about 200,000 states in all).
const BFS_TWIN_STATES: u64 = 4_000;

/// Random-walk seeds per example scenario, quiet against traced.
const WALK_SEEDS_EXAMPLE: u64 = 10_000;
/// Random-walk seeds per corpus entry, quiet against traced (besides its stored schedule).
const WALK_SEEDS_ENTRY: u64 = 300;

/// Every example scenario and every corpus entry's scenario, by file, in name order.
fn scenarios() -> Vec<(PathBuf, State)> {
    scenarios_and_schedules()
        .into_iter()
        .map(|(path, state, _)| (path, state))
        .collect()
}

/// [`scenarios`], each corpus entry with its stored schedule.
fn scenarios_and_schedules() -> Vec<(PathBuf, State, Option<Vec<Task>>)> {
    common::examples_and_corpus()
}

/// What a breadth-first search in measurement mode saw: states visited and the violations
/// met, in order (oracle and message).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    states: u64,
    violations: Vec<String>,
}

fn verdict(v: &sim::oracle::Violation) -> String {
    format!("{}: {}", v.oracle.name(), v.message)
}

/// The reference search: the engine's breadth-first search in measurement mode (a violation
/// ends its path; the search goes on), its visited set keyed by both fingerprints, checking
/// that they agree on every state (a new state for one is new for the other).
fn reference_bfs(initial: &State, max_states: u64) -> Seen {
    let mut seen = Seen {
        states: 0,
        violations: Vec::new(),
    };
    let first = Observer::new(initial);
    let mut slow = HashSet::from([fingerprint_slow(initial, &first)]);
    let mut fast = HashSet::from([fingerprint(initial, &first)]);
    let mut queue = VecDeque::from([(initial.clone(), first)]);
    while let Some((state, observer)) = queue.pop_front() {
        let runnable = exec::runnable(&state);
        assert_eq!(runnable, exec::runnable_simple(&state), "runnable twins");
        if runnable.is_empty()
            && let Err(v) = observer.at_end(&state, &ending(&state))
        {
            seen.violations.push(verdict(&v));
        }
        for task in runnable {
            let (mut next, mut watch) = (state.clone(), observer.clone());
            let checked = engine::apply(exec::step_with, &mut next, task, Trace::On)
                .and_then(|event| watch.after_step(&next, &event.expect("runnable")));
            if let Err(v) = checked {
                seen.violations.push(verdict(&v));
                continue;
            }
            let new_slow = slow.insert(fingerprint_slow(&next, &watch));
            let new_fast = fast.insert(fingerprint(&next, &watch));
            assert_eq!(new_slow, new_fast, "the fingerprints split states alike");
            if new_slow {
                seen.states += 1;
                if seen.states >= max_states {
                    return seen;
                }
                queue.push_back((next, watch));
            }
        }
    }
    seen
}

/// The engine's breadth-first search (fast fingerprint) in measurement mode.
fn engine_bfs(initial: &State, max_states: u64) -> Seen {
    let violations = RefCell::new(Vec::new());
    let accept = |run: &Execution| {
        let v = run.violation.as_ref().expect("a violating path");
        violations.borrow_mut().push(verdict(v));
        false
    };
    let report = engine::bfs_budgeted(
        initial,
        (max_states, u64::MAX),
        exec::step_with,
        &accept,
        &mut |_: &State, _: &[Task], _: Task| {},
    );
    Seen {
        states: report.states,
        violations: violations.into_inner(),
    }
}

#[test]
fn bfs_fast_fingerprint_matches_siphash_on_examples_and_corpus_4000_states_each() {
    let mut total = 0;
    for (path, initial) in scenarios() {
        let reference = reference_bfs(&initial, BFS_TWIN_STATES);
        let fast = engine_bfs(&initial, BFS_TWIN_STATES);
        assert_eq!(fast, reference, "{}", path.display());
        total += reference.states;
    }
    assert!(
        total > 10 * BFS_TWIN_STATES,
        "the searches ran: {total} states"
    );
}

/// Runs `chooser()` twice on `initial`, untraced and traced, and checks both runs took the
/// same schedule to the same end, verdict and final state. Returns the traced run's steps.
fn quiet_matches_traced(initial: &State, chooser: &dyn Fn() -> Box<dyn Chooser>) -> usize {
    let mut checked = RunnableTwins(chooser());
    let quiet = engine::execute(initial, &mut checked, exec::step_with, false);
    let traced = engine::execute(initial, &mut *chooser(), exec::step_with, true);
    assert!(quiet.trace.is_empty());
    assert_eq!(quiet.schedule, traced.schedule);
    assert_eq!(quiet.end, traced.end);
    assert_eq!(quiet.violation, traced.violation);
    assert_eq!(quiet.state, traced.state);
    assert_eq!(traced.trace.len(), traced.schedule.len());
    traced.trace.len()
}

/// A chooser that checks, before each choice, that the runnable tasks it is offered are the
/// simple listing's.
struct RunnableTwins(Box<dyn Chooser>);

impl Chooser for RunnableTwins {
    fn choose(&mut self, state: &State, runnable: &[Task]) -> Task {
        assert_eq!(runnable, exec::runnable_simple(state), "runnable twins");
        self.0.choose(state, runnable)
    }
}

#[test]
fn quiet_walks_match_traced_10000_seeds_an_example_300_an_entry_and_its_schedule() {
    let (mut runs, mut steps) = (0u64, 0usize);
    for (path, initial, schedule) in scenarios_and_schedules() {
        let seeds = match &schedule {
            Some(schedule) => {
                let stored = schedule.clone();
                let chooser =
                    || -> Box<dyn Chooser> { Box::new(ScheduleThenFirst::new(stored.clone())) };
                steps += quiet_matches_traced(&initial, &chooser);
                WALK_SEEDS_ENTRY
            }
            None => WALK_SEEDS_EXAMPLE,
        };
        for seed in 0..seeds {
            let chooser = || -> Box<dyn Chooser> { Box::new(RandomWalk::new(seed)) };
            steps += quiet_matches_traced(&initial, &chooser);
            runs += 1;
        }
        eprintln!("{}: {seeds} seeds", path.display());
    }
    assert!(runs >= 7 * WALK_SEEDS_EXAMPLE, "{runs} runs");
    assert!(steps as u64 > runs * 10, "{steps} steps");
}

/// A traced step writes its name and notes, an untraced one neither, and both leave the same
/// state: the first steps of the canonical scenario, one task at a time.
#[test]
fn untraced_step_writes_no_notes_and_changes_the_state_alike() {
    let initial = common::canonical_state();
    let (mut quiet, mut traced) = (initial.clone(), initial);
    let mut noted = 0;
    while let Some(&task) = exec::runnable(&traced).first() {
        let q = exec::step_with(&mut quiet, task, Trace::Off).expect("steps");
        let t = exec::step_with(&mut traced, task, Trace::On).expect("steps");
        assert!(q.notes.is_empty() && q.step.is_empty(), "{task}: {q:?}");
        assert_eq!(t.step, t.pc.name());
        assert_eq!((q.task, q.pc, &q.hazard), (t.task, t.pc, &t.hazard));
        assert_eq!(quiet, traced);
        noted += t.notes.len();
    }
    assert!(noted > 10, "the traced steps wrote notes: {noted}");
}
