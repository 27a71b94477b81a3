//! The compact breadth-first search ([`sim::frontier`]) against its slow twin, the
//! clone-based search it replaced ([`engine::bfs_search_cloned`]), over every example
//! scenario (but the looping one) and every corpus entry; and its stores against simple ones.
//!
//! - Both searches, looking for any violation and in measurement mode (every violation
//!   refused, the search goes on), within [`TWIN_STATES`] states: the same states, steps,
//!   ends, exhaustion, steps shown to the probe, and the same counterexample (schedule,
//!   violation, end).
//! - The encoding round trip: along [`WALK_SEEDS`] random walks of each scenario, every state
//!   and its observer pass through a [`Frontier`] (encoded, compressed, decoded) before each
//!   step; the walk meets the same verdict as the plain walk, and each decoded pair equals
//!   the original (state, observer's fields, fingerprint). Then all those states go through
//!   one long queue (many chunks) and come out equal, in order.
//! - The parallel search ([`engine::bfs_jobs`]) on 1, 2 and 3 threads against the clone-based
//!   twin (same report and counterexample, same steps shown to a probe), and against itself
//!   across thread counts where a limit cuts it: a small state bound, and a byte budget
//!   (the same cut state, steps, ends, peak estimate and queued bytes).
//! - The visited set against a `HashSet`, and the memory budget's cut: deterministic, and the
//!   compact estimate far below the clone-based one.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use model::exec::{self, Task};
use model::state::State;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::engine::{self, Execution, RandomWalk, SearchReport};
use sim::fingerprint::fingerprint;
use sim::frontier::{FRONTIER_CHUNK_BYTES, FingerprintSet, Frontier};
use sim::oracle::Observer;

/// States each twin search may visit, per scenario and mode.
const TWIN_STATES: u64 = 2_500;
/// Random walks per scenario for the round trip.
const WALK_SEEDS: u64 = 30;
/// At most this many passes of a scenario's walked states through one long queue.
const QUEUE_ROUNDS_MAX: usize = 6;
/// Fingerprints the visited-set check inserts.
const SET_INSERTS: u64 = 300_000;
/// Thread counts the parallel search runs with.
const JOBS: [usize; 3] = [1, 2, 3];
/// The state bound that cuts the parallel searches (below one batch, so mid-batch).
const CUT_STATES: u64 = 700;
/// States of the canonical scenario the budget check searches.
const BUDGET_STATES: u64 = 20_000;

/// Every example scenario that ends (the looping one is the liveness search's) and every
/// corpus entry, by file, in name order, built.
fn scenarios() -> Vec<(PathBuf, State)> {
    common::examples_and_corpus()
        .into_iter()
        .map(|(path, state, _)| (path, state))
        .collect()
}

/// What a search reports that both layouts must agree on (all but the memory estimate).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    figures: (u64, u64, u64, bool, bool),
    found: Option<(Vec<Task>, String, String)>,
    probed: Vec<Task>,
}

fn outcome(report: &SearchReport, probed: Vec<Task>) -> Outcome {
    let found = report.found.as_ref().map(|run: &Execution| {
        let violation = run.violation.as_ref().expect("a found run violates");
        let verdict = format!("{}: {}", violation.oracle.name(), violation.message);
        (run.schedule.clone(), verdict, format!("{:?}", run.end))
    });
    Outcome {
        figures: (
            report.states,
            report.steps,
            report.schedules,
            report.exhausted,
            report.cut,
        ),
        found,
        probed,
    }
}

/// One search of `initial`, compact or clone-based, refusing every violation when
/// `measure`.
fn search(initial: &State, compact: bool, measure: bool) -> Outcome {
    let mut probed = Vec::new();
    let accept = |_: &Execution| !measure;
    let mut probe = |_: &State, _: &[Task], task: Task| probed.push(task);
    let limits = (TWIN_STATES, u64::MAX);
    let report = if compact {
        engine::bfs_budgeted(initial, limits, exec::step_with, &accept, &mut probe)
    } else {
        let wanted = ("", &accept as &dyn Fn(&Execution) -> bool);
        engine::bfs_search_cloned(initial, limits, exec::step_with, wanted, &mut probe)
    };
    outcome(&report, probed)
}

#[test]
fn compact_bfs_matches_its_clone_based_twin() {
    let mut found = 0;
    for (path, initial) in scenarios() {
        for measure in [false, true] {
            let compact = search(&initial, true, measure);
            let cloned = search(&initial, false, measure);
            assert_eq!(
                compact.figures,
                cloned.figures,
                "{} (measure {measure})",
                path.display()
            );
            assert_eq!(compact.found, cloned.found, "{}", path.display());
            assert!(compact.probed == cloned.probed, "{}", path.display());
            found += usize::from(compact.found.is_some());
        }
    }
    // The corpus entries break oracles within their first states: the counterexamples were
    // compared, not only their absence.
    assert!(found >= 20, "counterexamples compared: {found}");
}

/// The parallel search of `initial` on `jobs` threads, refusing every violation when
/// `measure`, its steps shown to a probe when `probing`.
fn parallel(
    initial: &State,
    limits: (u64, u64),
    jobs: usize,
    (measure, probing): (bool, bool),
) -> (SearchReport, Vec<Task>) {
    let mut probed = Vec::new();
    let accept = |_: &Execution| !measure;
    let mut probe = |_: &State, _: &[Task], task: Task| probed.push(task);
    let probe: Option<engine::Probe<'_>> = probing.then_some(&mut probe);
    let wanted = ("", &accept as &dyn Fn(&Execution) -> bool);
    let report = engine::bfs_jobs(initial, limits, (exec::step_with, jobs), wanted, probe);
    (report, probed)
}

#[test]
fn the_parallel_bfs_matches_the_clone_based_twin_on_every_thread_count() {
    let mut found = 0;
    for (path, initial) in scenarios() {
        for measure in [false, true] {
            let cloned = search(&initial, false, measure);
            for jobs in JOBS {
                let limits = (TWIN_STATES, u64::MAX);
                let probing = jobs == 2;
                let (report, probed) = parallel(&initial, limits, jobs, (measure, probing));
                let got = outcome(
                    &report,
                    if probing {
                        probed
                    } else {
                        cloned.probed.clone()
                    },
                );
                let at = format!("{} (measure {measure}, jobs {jobs})", path.display());
                assert_eq!(got.figures, cloned.figures, "{at}");
                assert_eq!(got.found, cloned.found, "{at}");
                assert!(got.probed == cloned.probed, "{at}");
                found += usize::from(got.found.is_some());
            }
        }
    }
    assert!(found >= 3 * 20, "counterexamples compared: {found}");
}

/// Under the symmetry key, the compact search on 1 and 2 threads is the clone-based reduced
/// search (`reduce::bfs` under `Reduction::Symmetry`, its twin): the same states, steps,
/// ends, counterexample and verdict, on every example and corpus entry, stopping at the
/// first violation and going on past violations.
#[test]
fn the_compact_bfs_under_symmetry_matches_the_reduced_clone_based_search() {
    let mut found = 0;
    for (path, initial) in scenarios() {
        for measure in [false, true] {
            let accept = |_: &Execution| !measure;
            let wanted = ("", &accept as &dyn Fn(&Execution) -> bool);
            let limits = (TWIN_STATES, u64::MAX);
            let symmetry = sim::reduce::Reduction::Symmetry;
            let twin = sim::reduce::bfs(&initial, limits, exec::step_with, wanted, symmetry);
            let twin = outcome(&twin, Vec::new());
            for jobs in [1, 2] {
                let key: sim::frontier::Key = sim::symmetry::canonical_fingerprint;
                let how = (exec::step_with as engine::Stepper, jobs, key);
                let report = sim::frontier::bfs_keyed(&initial, limits, how, wanted, None);
                let at = format!("{} (measure {measure}, jobs {jobs})", path.display());
                assert_eq!(outcome(&report, Vec::new()), twin, "{at}");
            }
            found += usize::from(twin.found.is_some());
        }
    }
    assert!(found >= 20, "counterexamples compared: {found}");
}

/// The compact search shows where it stands to its watch while it runs, on one thread and
/// on two: often enough (once per `WATCH_EVERY_STATES` states expanded), with counts that grow
/// and never pass the final ones, and a watched search is the unwatched one.
#[test]
fn the_compact_bfs_shows_its_progress() {
    let initial = common::examples_and_corpus()
        .into_iter()
        .find(|(path, _, _)| path.ends_with("examples/extending-crash.toml"))
        .expect("the example")
        .1;
    let all = (u64::MAX, u64::MAX);
    let never = |_: &Execution| false;
    let wanted = ("", &never as &dyn Fn(&Execution) -> bool);
    for jobs in [1, 2] {
        let how = (
            exec::step_with as engine::Stepper,
            jobs,
            fingerprint as sim::frontier::Key,
        );
        let mut seen: Vec<sim::reduce::Progress> = Vec::new();
        let mut watch = |p: &sim::reduce::Progress| seen.push(*p);
        let watched = sim::frontier::bfs_watched(&initial, all, how, wanted, (None, &mut watch));
        let plain = sim::frontier::bfs_keyed(&initial, all, how, wanted, None);
        assert_eq!((watched.states, watched.steps), (plain.states, plain.steps));
        common::assert_progress(&seen, watched.states);
    }
}

/// What must not depend on the thread count when a limit cuts a search.
fn cut_figures(r: &SearchReport) -> (u64, u64, u64, bool, bool, u64, (u64, u64, u64)) {
    (
        r.states,
        r.steps,
        r.schedules,
        r.exhausted,
        r.cut,
        r.peak_bytes,
        r.queued,
    )
}

#[test]
fn the_parallel_bfs_cuts_at_the_same_state_on_every_thread_count() {
    let (mut by_states, mut by_bytes) = (0, 0);
    for (path, initial) in scenarios() {
        let whole = parallel(&initial, (TWIN_STATES, u64::MAX), 1, (true, false)).0;
        let budget = whole.peak_bytes / 2;
        for limits in [(CUT_STATES, u64::MAX), (u64::MAX, budget)] {
            let one = parallel(&initial, limits, 1, (true, false)).0;
            for jobs in &JOBS[1..] {
                let other = parallel(&initial, limits, *jobs, (true, false)).0;
                let at = format!("{} ({limits:?}, jobs {jobs})", path.display());
                assert_eq!(cut_figures(&other), cut_figures(&one), "{at}");
            }
            by_states += usize::from(!one.exhausted && !one.cut);
            by_bytes += usize::from(one.cut);
        }
    }
    // Most scenarios are cut both ways: the cut points were compared, not only full searches.
    assert!(by_states >= 10 && by_bytes >= 10, "{by_states} {by_bytes}");
}

/// Passes `state` and `observer` through `frontier` as state `id`, checks that what comes
/// out equals them (the observer as a clone of it), and returns it.
fn round_trip(frontier: &mut Frontier, id: u32, state: &State, observer: &Observer) -> Observer {
    frontier.push(id, state.clone(), observer);
    let (back_id, back, watch) = frontier.pop().expect("one queued");
    assert_eq!(back_id, id);
    assert_eq!(&back, state, "the state round-trips");
    // A decoded observer is what a clone is: its history, and a memo of remembered check
    // inputs that starts cold (`sim::oracle::memo`).
    assert_eq!(
        format!("{watch:?}"),
        format!("{:?}", observer.clone()),
        "the observer"
    );
    assert_eq!(fingerprint(&back, &watch), fingerprint(state, observer));
    watch
}

/// A random walk of `initial` from `seed` whose state and observer round-trip through
/// `frontier` before every step and at the end; its verdict, and every state it passed.
fn walk_through(
    initial: &State,
    seed: u64,
    frontier: &mut Frontier,
) -> (Option<String>, Vec<(State, Observer)>) {
    let plain = engine::execute(initial, &mut RandomWalk::new(seed), exec::step_with, false);
    let (mut state, mut observer) = (initial.clone(), Observer::new(initial));
    let mut passed = Vec::new();
    let verdict = |v: &sim::oracle::Violation| format!("{}: {}", v.oracle.name(), v.message);
    for (i, &task) in plain.schedule.iter().enumerate() {
        observer = round_trip(frontier, i as u32, &state, &observer);
        passed.push((state.clone(), observer.clone()));
        let checked = engine::apply(exec::step_with, &mut state, task, exec::Trace::On)
            .and_then(|event| observer.after_step(&state, &event.expect("runnable")));
        if let Err(v) = checked {
            assert_eq!(Some(verdict(&v)), plain.violation.as_ref().map(verdict));
            return (Some(verdict(&v)), passed);
        }
    }
    let at = plain.schedule.len() as u32;
    observer = round_trip(frontier, at, &state, &observer);
    let end = model::drive::ending(&state);
    let last = observer.at_end(&state, &end).err().map(|v| verdict(&v));
    assert_eq!(last, plain.violation.as_ref().map(verdict));
    assert_eq!(state, plain.state);
    passed.push((state, observer));
    (last, passed)
}

#[test]
fn states_and_observers_round_trip_through_the_frontier() {
    let (mut verdicts, mut most_bytes) = (0, 0);
    for (path, initial) in scenarios() {
        let mut frontier = Frontier::new(&initial);
        let mut passed = Vec::new();
        for seed in 0..WALK_SEEDS {
            let (verdict, states) = walk_through(&initial, seed, &mut frontier);
            verdicts += usize::from(verdict.is_some());
            passed.extend(states);
        }
        // All at once: records compressed against those queued before them, over chunks
        // (the passed states again and again until they fill more than two chunks).
        let mut queue = Frontier::new(&initial);
        let chunks = 2 * FRONTIER_CHUNK_BYTES as u64;
        let mut rounds = 0;
        while rounds == 0 || (queue.bytes() <= chunks && rounds < QUEUE_ROUNDS_MAX) {
            for (i, (state, observer)) in passed.iter().enumerate() {
                queue.push(i as u32, state.clone(), observer);
            }
            rounds += 1;
        }
        most_bytes = most_bytes.max(queue.bytes());
        assert_eq!(queue.len(), (rounds * passed.len()) as u64);
        for _ in 0..rounds {
            for (i, (state, observer)) in passed.iter().enumerate() {
                let (id, back, watch) = queue.pop().expect("queued");
                assert_eq!((id as usize, &back), (i, state), "{}", path.display());
                assert_eq!(format!("{watch:?}"), format!("{observer:?}"));
            }
        }
        assert!(
            queue.pop().is_none() && queue.bytes() == 0,
            "{}",
            path.display()
        );
    }
    assert!(verdicts > 0, "some walks broke an oracle");
    let chunks = 2 * FRONTIER_CHUNK_BYTES as u64;
    assert!(most_bytes > chunks, "a queue spanned chunks: {most_bytes}");
}

#[test]
fn the_visited_set_agrees_with_a_hash_set() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut set, mut twin) = (FingerprintSet::default(), HashSet::new());
    for i in 0..SET_INSERTS {
        // Repeats, zero, and fingerprints crowding one shard (equal top bits).
        let fp = match i % 4 {
            0 => rng.random_range(0..SET_INSERTS / 2),
            1 => rng.random::<u64>() & 0x00ff_ffff_ffff_ffff,
            _ => rng.random::<u64>(),
        };
        assert_eq!(set.insert(fp), twin.insert(fp), "fingerprint {fp:#x}");
    }
    assert_eq!(set.len(), twin.len() as u64);
    for fp in twin {
        assert!(!set.insert(fp), "fingerprint {fp:#x} kept");
    }
    // Slots between 64% and 80% full (a shard grows by a quarter at 80%), give or take the
    // shards' starting sizes.
    let slots = set.bytes() / 8;
    assert!(
        slots * 4 >= set.len() * 5 && slots * 10 <= set.len() * 17,
        "{slots}"
    );
}

#[test]
fn the_compact_estimate_cuts_deterministically_and_far_below_the_clones() {
    let initial = common::canonical_state();
    let run = |limits: (u64, u64), compact: bool| {
        let quiet = &mut |_: &State, _: &[Task], _: Task| {};
        let refuse = &|_: &Execution| false;
        if compact {
            engine::bfs_budgeted(&initial, limits, exec::step_with, refuse, quiet)
        } else {
            engine::bfs_search_cloned(&initial, limits, exec::step_with, ("", refuse), quiet)
        }
    };
    let compact = run((BUDGET_STATES, u64::MAX), true);
    let cloned = run((BUDGET_STATES, u64::MAX), false);
    assert_eq!(compact.steps, cloned.steps);
    assert!(
        compact.peak_bytes * 4 < cloned.peak_bytes,
        "{} against {}",
        compact.peak_bytes,
        cloned.peak_bytes
    );
    let budget = compact.peak_bytes / 2;
    let cut = run((u64::MAX, budget), true);
    assert!(cut.cut && cut.states < BUDGET_STATES, "{}", cut.states);
    assert!(cut.peak_bytes > budget);
    let again = run((u64::MAX, budget), true);
    assert_eq!((again.states, again.steps), (cut.states, cut.steps));
}

/// States of the `writeiter search --jobs` check.
const CLI_STATES: &str = "3000";

#[test]
fn search_jobs_prints_the_same_search_and_refuses_zero() {
    let run = |reduction: &str, jobs: &str| {
        let args = [
            "search",
            "examples/canonical.toml",
            "--reduction",
            reduction,
        ];
        let out =
            common::writeiter(&[&args[..], &["--states", CLI_STATES, "--jobs", jobs]].concat());
        // All but the seconds, which the last line's figures hold before "s (reduction".
        let text = common::stdout(&out);
        let lines: Vec<String> = text
            .lines()
            .map(|l| match l.rfind(" s (reduction") {
                Some(at) => l[..l[..at].rfind(", ").unwrap_or(at)].to_string(),
                None => l.to_string(),
            })
            .collect();
        (out.status.code(), lines)
    };
    for reduction in ["none", "symmetry"] {
        let one = run(reduction, "1");
        assert!(one.1.iter().any(|l| l.starts_with("bfs: ")), "{:?}", one.1);
        assert_eq!(run(reduction, "3"), one, "{reduction}");
        assert_eq!(run(reduction, "0").0, Some(2), "--jobs 0 is bad input");
    }
}
