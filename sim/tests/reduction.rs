//! Partial-order reduction (`sim::reduce`) against its slow twin, the unreduced searches of
//! `sim::engine`: the same verdicts on every corpus entry and every example, every state
//! visited by the breadth-first search, the same violations within the depth-first search's
//! preemption bound, and fewer steps or executions. Bounded by states and executions.
//!
//! # Rules of the history key
//!
//! The reduced searches key the oracles' history by the outcomes `History::order_read`
//! keeps. The epoch rule and the overlap rules each decide a verdict: leaving one out is
//! caught by `forgotten_order_judges_alike`, and `order_alone_decides_a_verdict` shows a
//! scenario (`examples/order-decides-exposure.toml`) whose violations the order alone
//! decides. The five other rules decide no verdict of the model, for these reasons; each is
//! shown live (leaving it out merges states) yet verdict-neutral on a scenario by
//! [`rules_that_decide_no_verdict_still_merge_states`] (`OrderRule`,
//! `Observer::forget_unread_order_dropping`).
//! - Read (a remover's end against a reader's `op_start`, `check_read`'s `m.end < since`):
//!   after every step `check_exposure` judges everything a buffered or a direct read would
//!   return in that state against every remover ended so far (`since` past every step). A
//!   read that started after a remover ended copies its values from states after that end,
//!   already judged against it, and with no more leniency than at its return (`zeros_lost`
//!   only grows with `History::failed`): the violation is met there, before the read
//!   returns, in either of the merged histories. A read that started before is not judged
//!   against that remover at all. In `examples/read-beside-a-punch.toml` the violation (the
//!   read caches the punched block's old data while the punch runs) is met by that check.
//! - Sync, a remover's end against a sync write's start (`check_durable`'s
//!   `unordered_remover`): the remover covers an offset of the write's range, so the two
//!   reaches meet at every earlier state (reaches only narrow) and the overlap rule keeps
//!   the pair. A write's completion against the sync write's start (`unordered_write`): the
//!   surviving data of a write `t` at an offset of the sync write's range; when `t` is the
//!   epoch's and wrote that offset, their reaches meet; when `t` began before the epoch, it
//!   completed before the crash and the sync write started after it, in every history. What
//!   is left is a write's data outside its own range surviving a crash under a completed
//!   sync write's range, with the sync write's own mapping committed: we know of no such
//!   state (the exposure check reports such data as "from elsewhere" when it shows).
//! - Return (`check_write_return`): a write that returned `n > 0` raised `i_size` to
//!   `ki_pos` first, so a size below it takes a truncate after that, whose range
//!   (`[new size, old size)`) meets the write's and excuses it under the overlap rule. A
//!   non-overlapping remover's outcome matters only for a size below `ki_pos` that no
//!   truncate made, a size bug the model does not show (no corpus entry, no hunt finding).
//! - Append (`check_appends`): two appends overlap only when the file shrank between them,
//!   by a truncate whose range meets the earlier append's (overlap rule) and which excuses
//!   the pair; else it would be an append-placement bug the model does not show.
//! - Remover against remover (`allowed`): both give zeros. Zeros are allowed at an offset
//!   exactly when some remover there is followed by no definite write (a remover followed
//!   by a remover that a write follows is followed by that write too), and a write is
//!   followed by a remover through a write-remover pair: the verdict never reads a
//!   remover-remover outcome.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use model::exec;
use model::state::State;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::engine::{Execution, SearchReport};
use sim::oracle::history::OrderRule;
use sim::persistent::Horizon;
use sim::reduce::{self, Reduction};

/// States each breadth-first search of a verdict comparison may visit.
const VERDICT_STATES: u64 = 4_000;
/// Executions each depth-first search of a verdict comparison may run.
const VERDICT_SCHEDULES: u64 = 3_000;
/// The preemption bound of the hunt's depth-first search.
const BOUND: usize = sim::hunt::DFS_PREEMPTIONS;
/// Executions an exhaustive depth-first search of the violation-set comparison may run.
const EXHAUSTIVE_SCHEDULES: u64 = 6_000;

fn repository(path: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(path)
}

/// Every `.toml` file of the repository's `dir`, sorted.
fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repository(dir))
        .expect("the directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Every corpus entry's initial state with its oracle.
fn corpus() -> Vec<(String, State, String)> {
    let entries = files("corpus").into_iter().map(|file| {
        let loaded = sim::corpus::load(&file).expect("a corpus entry loads");
        let initial = loaded.scenario.build().expect("builds");
        (name(&file), initial, loaded.entry.oracle)
    });
    entries.collect()
}

/// Every example's initial state.
fn examples() -> Vec<(String, State)> {
    let examples = files("examples").into_iter().filter_map(|file| {
        let scenario = finite(&file)?;
        Some((name(&file), scenario.build().expect("builds")))
    });
    examples.collect()
}

/// The example's scenario; `None` for one whose actors repeat forever (only the liveness
/// search takes it, and it must load there).
fn finite(file: &Path) -> Option<model::scenario::Scenario> {
    match sim::scenario_file::load(file) {
        Ok(scenario) => Some(scenario),
        Err(e) => {
            let looping = sim::scenario_file::load_looping(file);
            assert!(looping.is_ok(), "{e}");
            None
        }
    }
}

fn name(file: &Path) -> String {
    file.file_stem()
        .expect("a file")
        .to_string_lossy()
        .into_owned()
}

fn example(name: &str) -> State {
    let file = repository(&format!("examples/{name}.toml"));
    let scenario = sim::scenario_file::load(&file).expect("the example loads");
    scenario.build().expect("builds")
}

fn bfs(initial: &State, oracle: &str, reduction: Reduction) -> SearchReport {
    let limits = (VERDICT_STATES, u64::MAX);
    reduce::bfs(
        initial,
        limits,
        model::exec::step_with,
        (oracle, &|_| true),
        reduction,
    )
}

fn dfs(initial: &State, oracle: &str, reduction: Reduction) -> SearchReport {
    let limits = (BOUND, VERDICT_SCHEDULES);
    reduce::dfs(
        initial,
        limits,
        model::exec::step_with,
        (oracle, &|_| true),
        reduction,
    )
}

/// The oracle a search found broken, if any.
fn oracle_of(report: &SearchReport) -> Option<&'static str> {
    let found = report.found.as_ref()?;
    Some(
        found
            .violation
            .as_ref()
            .expect("a found run violates")
            .oracle
            .name(),
    )
}

/// Preemptions of `run`'s schedule, counted as the depth-first search counts them.
fn preemptions(initial: &State, run: &Execution) -> usize {
    let mut state = initial.clone();
    let mut count = 0;
    for (i, &task) in run.schedule.iter().enumerate() {
        let runnable = exec::runnable(&state);
        let last = i.checked_sub(1).map(|j| run.schedule[j]);
        count += usize::from(last.is_some_and(|l| l != task && runnable.contains(&l)));
        let _ = exec::step(&mut state, task);
    }
    count
}

/// Breadth-first, for every corpus entry and its oracle: the search under sleep sets finds a
/// violation exactly when the unreduced one does, and visits as many states when neither
/// finds one; the searches under symmetry and persistent sets agree with it too
/// ([`symmetry_agrees`]).
#[test]
fn bfs_verdicts_agree_on_every_corpus_entry() {
    for (name, initial, oracle) in corpus() {
        let slow = bfs_agree(&name, &initial, &oracle);
        symmetry_agrees(&name, &initial, &oracle, &slow);
    }
}

/// Breadth-first, for every example: the same, for any oracle (then, under sleep sets, for
/// the one found).
#[test]
fn bfs_verdicts_agree_on_every_example() {
    for (name, initial) in examples() {
        let any = bfs_agree(&name, &initial, "");
        symmetry_agrees(&name, &initial, "", &any);
        bfs_agree(&name, &initial, oracle_of(&any).unwrap_or(""));
    }
}

/// The unreduced search of `oracle` from `initial` and its reduced twin agree.
fn bfs_agree(name: &str, initial: &State, oracle: &str) -> SearchReport {
    let slow = bfs(initial, oracle, Reduction::None);
    let fast = bfs(initial, oracle, Reduction::Sleep);
    let verdicts = (oracle_of(&slow), slow.exhausted);
    assert_eq!(
        verdicts,
        (oracle_of(&fast), fast.exhausted),
        "{name} ({oracle})"
    );
    if slow.exhausted {
        assert_eq!(fast.states, slow.states, "{name}");
    }
    assert!(
        fast.steps <= slow.steps,
        "{name}: {} steps, unreduced {}",
        fast.steps,
        slow.steps
    );
    slow
}

/// The searches under symmetry, and under symmetry with persistent sets, of `oracle` from
/// `initial` against the unreduced one, `slow`, within the same state budget: they visit
/// fewer states a level, so each finds a violation wherever the unreduced one finds one (of
/// the same oracle when one is asked for), and holds wherever that one exhausts without one.
fn symmetry_agrees(name: &str, initial: &State, oracle: &str, slow: &SearchReport) {
    for reduction in [Reduction::Symmetry, Reduction::Persistent] {
        let fast = bfs(initial, oracle, reduction);
        let what = format!("{name} ({oracle}) under {}", reduction.name());
        assert!(fast.states <= slow.states || !slow.exhausted, "{what}");
        if slow.found.is_some() || slow.exhausted {
            assert_eq!(fast.found.is_some(), slow.found.is_some(), "{what}");
            assert!(fast.exhausted || fast.found.is_some(), "{what}");
        }
        if !oracle.is_empty() {
            assert!(
                fast.found.is_none() || oracle_of(&fast) == Some(oracle),
                "{what}"
            );
        }
    }
}

/// Depth-first within the hunt's preemption bound: the reduced search finds every oracle
/// the unreduced one finds (for every corpus entry, its oracle), holds wherever the
/// unreduced one exhausts its bound without a violation, and what it finds replays and stays
/// within the bound. Where only the reduced search finds one, the unreduced search ran out
/// of executions first (the reduced one needs fewer).
#[test]
fn dfs_verdicts_agree_on_every_corpus_entry_within_the_bound() {
    let (mut agreed, mut ahead) = (0, 0);
    for (name, initial, oracle) in corpus() {
        let (slow, fast) = (
            dfs(&initial, &oracle, Reduction::None),
            dfs(&initial, &oracle, Reduction::Sleep),
        );
        if let Some(found) = &fast.found {
            assert!(preemptions(&initial, found) <= BOUND, "{name}");
            let again = sim::engine::replay(&initial, &found.schedule, model::exec::step_with);
            let again = again.expect("a found schedule replays");
            assert_eq!(
                again.violation.map(|v| v.oracle.name()),
                Some(oracle.as_str()),
                "{name}"
            );
        }
        match (slow.found.is_some(), fast.found.is_some()) {
            (true, false) => panic!("{name}: the reduced search missed {oracle}"),
            (false, true) => {
                assert!(!slow.exhausted, "{name}: the unreduced search holds");
                ahead += 1;
            }
            (false, false) if slow.exhausted => {
                assert!(fast.exhausted, "{name}");
                assert!(fast.schedules <= slow.schedules, "{name}");
                agreed += 1;
            }
            _ => agreed += 1,
        }
    }
    assert!(
        agreed >= 30,
        "{agreed} entries compared, {ahead} found only reduced"
    );
}

/// The violations a depth-first search meets when a violation ends its execution and the
/// search goes on: each as its oracle and the state it broke in.
fn violations(
    initial: &State,
    bound: usize,
    reduction: Reduction,
) -> (BTreeSet<(String, State)>, SearchReport) {
    let seen = std::cell::RefCell::new(BTreeSet::new());
    let note = |run: &Execution| {
        let oracle = run.violation.as_ref().expect("violates").oracle.name();
        seen.borrow_mut()
            .insert((oracle.to_string(), run.state.clone()));
        false
    };
    let limits = (bound, EXHAUSTIVE_SCHEDULES);
    let report = reduce::dfs(
        initial,
        limits,
        model::exec::step_with,
        ("", &note),
        reduction,
    );
    (seen.into_inner(), report)
}

/// Within each bound, the reduced depth-first search meets exactly the violations (oracle
/// and state) the exhaustive unreduced one meets, in no more executions: a schedule is left
/// out only for a reordering within the bound that breaks the same oracle in the same state.
/// Plain sleep sets (a sleeping task always left out) fail here: they miss violations of
/// 0003 within 1 preemption, of 0007, 0008 and unaligned-aio within none, of 0044 within
/// none and within 1.
#[test]
fn dfs_meets_the_same_violations_within_each_bound() {
    let mut cases: Vec<(String, State)> = corpus().into_iter().map(|(n, s, _)| (n, s)).collect();
    cases.extend(examples());
    let mut met = 0;
    for (prefix, most) in EXHAUSTIVE {
        let (name, initial) = cases
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .expect("a case");
        for bound in 0..=most {
            let (slow, slow_report) = violations(initial, bound, Reduction::None);
            let (fast, fast_report) = violations(initial, bound, Reduction::Sleep);
            assert!(
                slow_report.exhausted && fast_report.exhausted,
                "{name} bound {bound}"
            );
            assert_eq!(slow, fast, "{name} bound {bound}");
            assert!(
                fast_report.schedules <= slow_report.schedules,
                "{name} bound {bound}"
            );
            met += slow.len();
        }
    }
    assert!(met > 0, "the scenarios compared break some oracle");
}

/// Scenarios and the highest bound within which their unreduced depth-first search
/// exhausts in [`EXHAUSTIVE_SCHEDULES`].
const EXHAUSTIVE: [(&str, usize); 13] = [
    ("0001", 2),
    ("0002", 2),
    ("0003", 1),
    ("0004", 2),
    ("0005", 2),
    ("0007", 0),
    ("0008", 0),
    ("0010", 2),
    ("0018", 2),
    ("0024", 2),
    ("0044", 1),
    ("overwrite-truncate", 2),
    ("unaligned-aio", 0),
];

/// The reduced breadth-first search visits every state the unreduced one visits, reaches
/// as many ends, in fewer steps; and it is deterministic.
#[test]
fn bfs_sleep_sets_visit_every_state_in_fewer_steps() {
    for name in ["overwrite-truncate", "extending-crash"] {
        let initial = example(name);
        let limits = (u64::MAX, u64::MAX);
        let search = |r| {
            reduce::bfs(
                &initial,
                limits,
                model::exec::step_with,
                ("", &|_| false),
                r,
            )
        };
        let (slow, fast) = (search(Reduction::None), search(Reduction::Sleep));
        assert!(slow.exhausted && fast.exhausted, "{name}");
        assert_eq!(
            (fast.states, fast.schedules),
            (slow.states, slow.schedules),
            "{name}"
        );
        assert!(
            fast.steps < slow.steps,
            "{name}: {} steps, unreduced {}",
            fast.steps,
            slow.steps
        );
        let again = search(Reduction::Sleep);
        assert_eq!(
            (again.steps, again.checks),
            (fast.steps, fast.checks),
            "{name}"
        );
    }
}

/// `writeiter search --compare`: both reductions' verdicts agree, the reduced search runs
/// fewer executions, a violation exits 1, none 0 (`--measure` goes on past violations and
/// covers the whole bound).
#[test]
fn search_compares_the_reductions_and_exits_by_verdict() {
    let entry =
        "corpus/0044-buffered-write-zero-fills-a-block-an-aio-writes-then-a-failed-dio.toml";
    let file = repository(entry);
    let file = file.to_str().expect("a path");
    let out = common::writeiter(&[
        "search",
        file,
        "--strategy",
        "dfs",
        "--oracle",
        "no-spurious-zeros",
        "--compare",
    ]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let verdicts = text
        .lines()
        .find(|l| l.starts_with("verdicts:"))
        .expect("verdicts");
    assert!(
        verdicts.starts_with("verdicts: reduced no-spurious-zeros, unreduced no-spurious-zeros;"),
        "{verdicts}"
    );
    let executions = |reduction: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.ends_with(&format!("(reduction {reduction})")))
            .expect("figures");
        let count = line
            .split(": ")
            .nth(1)
            .expect("figures")
            .split(' ')
            .next()
            .expect("a count");
        count.parse().expect("a number")
    };
    assert!(executions("sleep") < executions("none"), "{text}");
    let measured = [
        "search",
        file,
        "--strategy",
        "dfs",
        "--bound",
        "0",
        "--measure",
        "--compare",
    ];
    let out = common::writeiter(&measured);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.matches(", exhausted,").count(), 2, "{text}");
    assert!(
        text.contains("verdicts: reduced none, unreduced none;"),
        "{text}"
    );
}

/// `writeiter search` with its defaults (breadth-first under sleep sets) visits every state
/// of a scenario without a violation and exits 0; bad input names the file or the flag and
/// exits 2.
#[test]
fn search_covers_every_state_and_refuses_bad_input() {
    let path = repository("examples/overwrite-truncate.toml");
    let out = common::writeiter(&["search", path.to_str().expect("a path")]);
    assert_eq!(out.status.code(), Some(0));
    let all = (u64::MAX, u64::MAX);
    let slow = reduce::bfs(
        &example("overwrite-truncate"),
        all,
        model::exec::step_with,
        ("", &|_| true),
        Reduction::None,
    );
    let states = format!("bfs: {} states", slow.states);
    assert!(
        common::stdout(&out).contains(&states),
        "{}",
        common::stdout(&out)
    );
    let file = path.to_str().expect("a path");
    let out = common::writeiter(&["search", file, "--oracle", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--oracle: `bogus`"));
    let out = common::writeiter(&["search", "no-such-file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.toml"));
}

/// States the commutation check of the symmetry reduction steps from, a scenario.
const SYMMETRY_CHECK_STATES: usize = 3_000;
/// The corpus entries and examples whose exhaustive searches, reduced and unreduced, the
/// symmetry tests compare (each exhausts within a few tens of thousands of states).
const SYMMETRY_EXHAUSTIVE: [&str; 11] = [
    "0003",
    "0007",
    "0008",
    "0018",
    "0019",
    "0020",
    "0025",
    "0027",
    "0044",
    "order-decides-exposure",
    "overwrite-truncate",
];

/// Every corpus entry and example whose name starts with one of `prefixes`.
fn cases(prefixes: &[&str]) -> Vec<(String, State)> {
    let mut cases: Vec<(String, State)> = corpus().into_iter().map(|(n, s, _)| (n, s)).collect();
    cases.extend(examples());
    cases.retain(|(n, _)| prefixes.iter().any(|p| n.starts_with(p)));
    assert_eq!(cases.len(), prefixes.len(), "a case per prefix");
    cases
}

/// A model state with its oracles' history.
type Point = (State, sim::oracle::Observer);

/// Breadth-first over the distinct states (by fingerprint) reachable from `initial`, at most
/// `limit` of them: `visit` sees each and returns the successors to queue.
fn walk_states(initial: &State, limit: usize, mut visit: impl FnMut(&Point) -> Vec<Point>) {
    let start = (initial.clone(), sim::oracle::Observer::new(initial));
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(point) = queue.pop_front() {
        if seen.len() >= limit {
            break;
        }
        if seen.insert(sim::fingerprint::fingerprint(&point.0, &point.1)) {
            queue.extend(visit(&point));
        }
    }
}

/// `task`'s step from `point`, its oracles checked: the next point, or the oracle broken.
fn stepped(point: &Point, task: exec::Task) -> Result<Point, &'static str> {
    let (mut state, mut observer) = point.clone();
    let event = sim::engine::apply(model::exec::step_with, &mut state, task, exec::Trace::On)
        .map_err(|v| v.oracle.name())?;
    let event = event.expect("a runnable task steps");
    observer
        .after_step(&state, &event)
        .map_err(|v| v.oracle.name())?;
    Ok((state, observer))
}

/// The canonical key of a step's outcome, or the oracle it broke.
fn outcome(next: Result<Point, &'static str>) -> Result<u64, &'static str> {
    next.map(|(s, o)| sim::symmetry::canonical_fingerprint(&s, &o))
}

/// The symmetry reduction's dynamic twin: on every state a breadth-first walk of each
/// scenario reaches (up to [`SYMMETRY_CHECK_STATES`]), renaming commutes with stepping.
/// The renamed state has the same runnable tasks, renamed; and each task's step from the
/// state and its renamed step from the renamed state end in states with one canonical key,
/// or break the same oracle. This is what lets the visited set take either for the other.
#[test]
fn symmetry_commutes_with_every_step() {
    let mut checked = 0;
    let mut renamed = 0;
    for (name, initial) in cases(&SYMMETRY_EXHAUSTIVE) {
        walk_states(&initial, SYMMETRY_CHECK_STATES, |point| {
            let (state, observer, ids) = sim::symmetry::canonical(&point.0, &point.1);
            let to = |id| sim::symmetry::rank(&ids, id);
            let runnable = exec::runnable(&point.0);
            let mut successors = Vec::new();
            let image: Vec<exec::Task> = runnable
                .iter()
                .map(|&t| sim::symmetry::rename_task(t, to))
                .collect();
            assert_eq!(exec::runnable(&state), image, "{name}");
            renamed += usize::from(state != point.0);
            let canonical = (state, observer);
            for &task in &runnable {
                let next = stepped(point, task);
                let twin = stepped(&canonical, sim::symmetry::rename_task(task, to));
                if let Ok(next) = &next {
                    successors.push(next.clone());
                }
                assert_eq!(outcome(next), outcome(twin), "{name}: {task}");
                checked += 1;
            }
            successors
        });
    }
    assert!(
        checked > 10_000 && renamed > 1_000,
        "{checked} steps, {renamed} renamed"
    );
}

/// Every violation an exhaustive breadth-first search keyed as `keyed` says meets when violations
/// end paths, not the search: each as its oracle and the canonical key of the model state it
/// broke in (the state renamed as [`sim::symmetry::canonical`] does, so that the unreduced
/// search and the symmetry reduction name one violation alike); with the report.
fn oracles_met(
    initial: &State,
    keyed: reduce::Keyed<'_>,
) -> (BTreeSet<(&'static str, u64)>, SearchReport) {
    oracles_met_within(initial, keyed, (u64::MAX, u64::MAX))
}

/// [`oracles_met`] within `limits` (states, bytes).
fn oracles_met_within(
    initial: &State,
    keyed: reduce::Keyed<'_>,
    limits: (u64, u64),
) -> (BTreeSet<(&'static str, u64)>, SearchReport) {
    let met = std::cell::RefCell::new(BTreeSet::new());
    let blank = sim::oracle::Observer::new(initial);
    let note = |run: &Execution| {
        let oracle = run.violation.as_ref().expect("violates").oracle.name();
        let state = sim::symmetry::canonical_fingerprint(&run.state, &blank);
        met.borrow_mut().insert((oracle, state));
        false
    };
    let report = reduce::bfs_keyed(
        initial,
        limits,
        model::exec::step_with,
        ("", &note),
        keyed,
        &mut |_, _, _| {},
    );
    (met.into_inner(), report)
}

/// A breadth-first search keyed by `key`, without sleep sets, with persistent sets looking
/// as far as `persistent` says.
fn keyed<'a>(
    key: &'a dyn Fn(&State, &sim::oracle::Observer) -> u64,
    persistent: Option<Horizon>,
) -> reduce::Keyed<'a> {
    reduce::Keyed {
        key,
        sleep_sets: false,
        persistent,
    }
}

/// The unreduced search's key.
const EXACT: &dyn Fn(&State, &sim::oracle::Observer) -> u64 = &sim::fingerprint::fingerprint;
/// The symmetry reduction's key (with of the history's order only what the oracles read).
const RENAMED: &dyn Fn(&State, &sim::oracle::Observer) -> u64 =
    &sim::symmetry::canonical_fingerprint;
/// The symmetry key keeping the history's whole order of events (its twin for the order).
const RENAMED_FULL_ORDER: &dyn Fn(&State, &sim::oracle::Observer) -> u64 =
    &sim::symmetry::renamed_fingerprint;

/// A key that forgets the history's order of events entirely, keeping only which events
/// happened ([`sim::oracle::Observer::forget_all_order_for_tests`]): unsound, for the tests
/// that show the reduction tests catch it.
fn orderless(s: &State, o: &sim::oracle::Observer) -> u64 {
    let mut o = o.clone();
    o.forget_all_order_for_tests();
    sim::fingerprint::fingerprint(s, &o)
}

/// Symmetry keeping the history's whole order, symmetry keeping of it only what the oracles
/// read, then that with persistent sets (checked by exploration alone, then with the
/// footprint's cheap reject and the settled states), against the unreduced breadth-first
/// search, exhaustively on the scenarios of [`SYMMETRY_EXHAUSTIVE`]: the same violations
/// met (oracle and state, up to the renaming), each key in no more states than the finer
/// one, persistent sets in no more than symmetry alone, and fewer in all.
#[test]
fn symmetry_and_persistent_sets_meet_the_same_violations_in_fewer_states() {
    let mut states = [0; 4];
    let mut full_order_states = 0;
    for (name, initial) in cases(&SYMMETRY_EXHAUSTIVE) {
        let (slow, slow_report) = oracles_met(&initial, keyed(EXACT, None));
        let (full, full_report) = oracles_met(&initial, keyed(RENAMED_FULL_ORDER, None));
        assert!(full_report.exhausted, "{name}");
        assert_eq!(slow, full, "{name}: symmetry with the whole order");
        assert!(full_report.states <= slow_report.states, "{name}");
        full_order_states += full_report.states;
        let (renamed, renamed_report) = oracles_met(&initial, keyed(RENAMED, None));
        assert!(renamed_report.states <= full_report.states, "{name}");
        let persistent = Some(Horizon::Future);
        let (fast, fast_report) = oracles_met(&initial, keyed(RENAMED, persistent));
        let footprint = Some(Horizon::Footprint);
        let (cheap, cheap_report) = oracles_met(&initial, keyed(RENAMED, footprint));
        let reports = [&slow_report, &renamed_report, &fast_report, &cheap_report];
        assert!(reports.iter().all(|r| r.exhausted), "{name}");
        assert_eq!(slow, renamed, "{name}: symmetry");
        assert_eq!(slow, fast, "{name}: persistent sets");
        assert_eq!(slow, cheap, "{name}: persistent sets by footprint");
        assert!(fast_report.states <= renamed_report.states, "{name}");
        assert!(cheap_report.states <= renamed_report.states, "{name}");
        assert!(renamed_report.states <= slow_report.states, "{name}");
        for (total, report) in states.iter_mut().zip(reports) {
            *total += report.states;
        }
    }
    assert!(
        states[3] < states[1] && states[2] < states[1] && states[1] < full_order_states,
        "states {states:?}, {full_order_states} with the whole order"
    );
    assert!(
        full_order_states < states[0],
        "{full_order_states} vs {states:?}"
    );
}

/// The comparison above catches unsound reductions: a key that merges states whose object
/// identifiers differ beyond an order-preserving renaming (every identifier taken for one),
/// persistent sets checked against the other tasks' next steps only (not their futures),
/// and a key that forgets the history's order ([`orderless`]: on
/// `examples/order-decides-exposure.toml`, [`order_alone_decides_a_verdict`]) each change
/// the violations met on some scenario.
#[test]
fn unsound_reductions_are_caught() {
    let blind = |s: &State, o: &sim::oracle::Observer| {
        let (mut s, mut o) = (s.clone(), o.clone());
        sim::symmetry::rename_objects(&mut s, |_| 1);
        o.visit_objects(&mut |id| *id = 1);
        sim::fingerprint::fingerprint(&s, &o)
    };
    let unsound = [
        keyed(&blind, None),
        keyed(RENAMED, Some(Horizon::NextSteps)),
        keyed(&orderless, None),
    ];
    for (which, reduction) in unsound.into_iter().enumerate() {
        let caught = cases(&SYMMETRY_EXHAUSTIVE).into_iter().any(|(_, initial)| {
            let (slow, _) = oracles_met(&initial, keyed(EXACT, None));
            let (fast, _) = oracles_met(&initial, reduction);
            slow != fast
        });
        assert!(caught, "unsound reduction {which} went unnoticed");
    }
}

/// The history's order alone decides the verdict of `examples/order-decides-exposure.toml`:
/// the unreduced search meets stale exposure (a write's data back after a punch that
/// started once the write had completed), and so do symmetry and persistent sets, with the
/// same violations; a key that forgets the order ([`orderless`]) merges the state where
/// the write completed before the punch started with the one where the punch started
/// first, keeps the latter (met first), and meets no violation at all.
#[test]
fn order_alone_decides_a_verdict() {
    let initial = example("order-decides-exposure");
    let (exact, _) = oracles_met(&initial, keyed(EXACT, None));
    let oracles: BTreeSet<&str> = exact.iter().map(|&(oracle, _)| oracle).collect();
    assert_eq!(oracles, BTreeSet::from(["no-stale-exposure"]));
    for horizon in [None, Some(Horizon::Footprint)] {
        let (reduced, _) = oracles_met(&initial, keyed(RENAMED, horizon));
        assert_eq!(reduced, exact, "{horizon:?}");
    }
    let (coarse, report) = oracles_met(&initial, keyed(&orderless, None));
    assert!(report.exhausted && coarse.is_empty(), "{coarse:?}");
}

/// `writeiter search --reduction persistent --compare`: both verdicts, and the states of
/// both searches with the factor; the unreduced count is the unreduced search's. A
/// reduction it does not know exits 2 naming the flag.
#[test]
fn search_reports_the_persistent_sets_state_factor() {
    let path = repository("examples/overwrite-truncate.toml");
    let file = path.to_str().expect("a path");
    let out = common::writeiter(&["search", file, "--reduction", "persistent", "--compare"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let verdicts = text
        .lines()
        .find(|l| l.starts_with("verdicts:"))
        .expect("verdicts");
    let all = (u64::MAX, u64::MAX);
    let search = |r| {
        reduce::bfs(
            &example("overwrite-truncate"),
            all,
            exec::step_with,
            ("", &|_| true),
            r,
        )
    };
    let (slow, fast) = (search(Reduction::None), search(Reduction::Persistent));
    assert!(fast.states < slow.states, "{text}");
    let expected = format!(
        "verdicts: reduced none, unreduced none; states {} vs {} (x{:.2} fewer)",
        fast.states,
        slow.states,
        slow.states as f64 / fast.states as f64
    );
    assert!(verdicts.starts_with(&expected), "{verdicts}");
    let out = common::writeiter(&["search", file, "--reduction", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--reduction"));
}

/// Pairs of steps [`footprint_events_order_the_history`] needs to have compared.
const FOOTPRINT_PAIRS_MIN: usize = 100;

/// A pair of steps from one state that both run in both orders without breaking an oracle.
struct StepPair {
    /// The history events each records ([`model::footprint::emitted`]).
    events: [model::footprint::Emitted; 2],
    /// Any step at all: both orders end alike under the persistent sets' key
    /// ([`sim::symmetry::order_fingerprint`]).
    commute: bool,
    /// Both orders end alike under the unreduced search's key (the history's whole order).
    commute_exactly: bool,
}

/// Over every state a breadth-first walk of each scenario of [`SYMMETRY_EXHAUSTIVE`] reaches
/// (up to [`SYMMETRY_CHECK_STATES`]), every pair of runnable tasks whose steps both run in
/// both orders without breaking an oracle.
fn step_pairs() -> Vec<StepPair> {
    let mut out = Vec::new();
    for (_, initial) in cases(&SYMMETRY_EXHAUSTIVE) {
        walk_states(&initial, SYMMETRY_CHECK_STATES, |point| {
            let next: Vec<(exec::Task, Point)> = exec::runnable(&point.0)
                .iter()
                .filter_map(|&t| stepped(point, t).ok().map(|p| (t, p)))
                .collect();
            for (i, (t, after_t)) in next.iter().enumerate() {
                for (u, after_u) in &next[i + 1..] {
                    out.extend(pair(point, (*t, after_t), (*u, after_u)));
                }
            }
            next.into_iter().map(|(_, p)| p).collect()
        });
    }
    out
}

/// The steps `t` and `u` from `point` in both orders, when both run without breaking an
/// oracle.
fn pair(
    point: &Point,
    (t, after_t): (exec::Task, &Point),
    (u, after_u): (exec::Task, &Point),
) -> Option<StepPair> {
    let both = (
        exec::runnable(&after_t.0).contains(&u),
        exec::runnable(&after_u.0).contains(&t),
    );
    if both != (true, true) {
        return None;
    }
    let (Ok(tu), Ok(ut)) = (stepped(after_t, u), stepped(after_u, t)) else {
        return None;
    };
    let alike = |key: &dyn Fn(&State, &sim::oracle::Observer) -> u64| {
        key(&tu.0, &tu.1) == key(&ut.0, &ut.1)
    };
    let emitted = |after: &Point| model::footprint::emitted(&point.0, &after.0);
    Some(StepPair {
        events: [emitted(after_t), emitted(after_u)],
        commute: alike(&sim::symmetry::order_fingerprint),
        commute_exactly: alike(EXACT),
    })
}

/// The history keeps the order of the pair's events: one records a start and the other an
/// end ([`sim::persistent::rejected`]'s conflict).
fn conflict(p: &StepPair) -> bool {
    let [a, b] = p.events;
    (a.start && b.end) || (a.end && b.start)
}

/// What the footprint's cheap reject of persistent sets ([`sim::persistent::rejected`])
/// takes for a conflict, against what commutes. Two steps that each record an event of any
/// kind ([`model::footprint::emitted`]) never commute under the unreduced key, which keeps
/// the whole order. Under the persistent sets' key, which keeps whether an end came before
/// a start only while an oracle can still compare them
/// ([`sim::oracle::history::History::order_read`]), some pairs of one start and one end
/// commute (the reject gives them up: a cost in reduction, not in soundness, as the
/// exploration decides), and so do some pairs of two starts or two ends, and some pairs
/// of steps taken for events when every step is.
#[test]
fn footprint_events_order_the_history() {
    let pairs = step_pairs();
    let conflicting: Vec<&StepPair> = pairs.iter().filter(|p| conflict(p)).collect();
    assert!(
        conflicting.len() >= FOOTPRINT_PAIRS_MIN,
        "{} conflicting pairs",
        conflicting.len()
    );
    let any_event = |p: &&StepPair| p.events.iter().all(|e| e.start || e.end);
    let events: Vec<&StepPair> = pairs.iter().filter(any_event).collect();
    assert!(
        events.iter().all(|p| !p.commute_exactly),
        "the whole order orders every event"
    );
    assert!(
        conflicting.iter().any(|p| p.commute),
        "no start commutes with an end under the order the oracles read"
    );
    assert!(
        events.iter().any(|p| p.commute && !conflict(p)),
        "no two starts, nor two ends, commute under the order the oracles read"
    );
    assert!(
        pairs.iter().any(|p| p.commute && !any_event(&p)),
        "every step taken for an event: no pair commutes"
    );
}

/// A reduced breadth-first search shows its progress to its watch every
/// [`reduce::WATCH_EVERY_STATES`] expanded states (the `search` progress line): the states
/// grow from call to call, never past the final count, and the watch changes nothing.
#[test]
fn reduced_search_shows_its_progress() {
    let initial = example("extending-crash");
    let all = (u64::MAX, u64::MAX);
    let how = (exec::step_with as sim::engine::Stepper, Reduction::Symmetry);
    let mut seen: Vec<reduce::Progress> = Vec::new();
    let mut watch = |p: &reduce::Progress| seen.push(*p);
    let watched = reduce::bfs_progress(&initial, all, how, ("", &|_| false), &mut watch);
    let plain = reduce::bfs(&initial, all, how.0, ("", &|_| false), how.1);
    assert_eq!((watched.states, watched.steps), (plain.states, plain.steps));
    common::assert_progress(&seen, watched.states);
}

/// The scenarios [`order_key_is_a_bisimulation`] walks beyond those of
/// [`SYMMETRY_EXHAUSTIVE`]: one whose verdict at quiescence depends on whether one write
/// completed before another started (0037: the model restores the older write's data), and
/// the examples whose sync writes, appends, crash, reads and removers the key's audit
/// ([`sim::oracle::history::History::order_read`]) lets it forget more of.
const ORDER_EXTRA: [&str; 5] = [
    "0037",
    "bio-errors",
    "bitmap-file",
    "extending-crash",
    "nolock-mix",
];

/// The scenarios of the history key's tests: [`SYMMETRY_EXHAUSTIVE`] and [`ORDER_EXTRA`].
fn order_cases() -> Vec<(String, State)> {
    let prefixes: Vec<&str> = SYMMETRY_EXHAUSTIVE
        .iter()
        .chain(&ORDER_EXTRA)
        .copied()
        .collect();
    cases(&prefixes)
}

/// What a state's next steps and its end are to the oracles, under `key`: for each runnable
/// task, the oracle its step breaks or the key of the state it reaches; where none can
/// run, the oracle the end breaks, if any; and the outcome of every comparison of an end
/// with a start an oracle can still read
/// ([`sim::oracle::history::History::read_order_outcomes`], the slow twin of the key's
/// order).
type Local = (
    Vec<Result<u64, &'static str>>,
    Option<&'static str>,
    Vec<Option<bool>>,
);

fn local(point: &Point, key: &dyn Fn(&State, &sim::oracle::Observer) -> u64) -> Local {
    let steps = exec::runnable(&point.0)
        .into_iter()
        .map(|t| stepped(point, t).map(|(s, o)| key(&s, &o)))
        .collect::<Vec<_>>();
    let end = steps.is_empty().then(|| {
        let end = model::drive::ending(&point.0);
        point
            .1
            .at_end(&point.0, &end)
            .err()
            .map(|v| v.oracle.name())
    });
    let order = point.1.history().read_order_outcomes(&point.0);
    (steps, end.flatten(), order)
}

/// Over every state an unreduced breadth-first walk of each scenario of [`order_cases`]
/// reaches (up to [`ORDER_CHECK_STATES`]), the states `key` merges (one key, different
/// exact fingerprints) whose next steps or end differ to the oracles ([`local`]), and the
/// merged pairs compared.
fn unlike_merged(key: &dyn Fn(&State, &sim::oracle::Observer) -> u64) -> (usize, usize) {
    let (mut unlike, mut merged) = (0, 0);
    for (_, initial) in order_cases() {
        let mut first: std::collections::HashMap<u64, Local> = Default::default();
        walk_states(&initial, ORDER_CHECK_STATES, |point| {
            let here = local(point, key);
            match first.entry(key(&point.0, &point.1)) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    merged += 1;
                    unlike += usize::from(*e.get() != here);
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(here);
                }
            }
            let next = exec::runnable(&point.0).into_iter();
            next.filter_map(|t| stepped(point, t).ok()).collect()
        });
    }
    (unlike, merged)
}

/// States [`order_key_is_a_bisimulation`] walks at most, a scenario.
const ORDER_CHECK_STATES: usize = 12_000;
/// Merged pairs [`order_key_is_a_bisimulation`] needs to have compared.
const ORDER_MERGED_MIN: usize = 10_000;

/// The persistent sets' key, which keeps of the history's order only whether each end came
/// before each start where an oracle can still compare them
/// ([`sim::symmetry::order_fingerprint`], [`sim::oracle::history::History::order_read`]),
/// is a bisimulation on every state the walks reach: two states it merges have the same
/// runnable tasks, each task's step breaks the same oracle or reaches two states it merges
/// again, and where nothing runs, the end breaks the same oracle; and the two histories
/// answer every comparison of an end with a start that the audit keeps alike (the direct
/// comparisons, slow twin of the key's renumbering). So states it merges have the same
/// futures with the same verdicts. A key that forgets the order entirely fails it.
#[test]
fn order_key_is_a_bisimulation() {
    let (unlike, merged) = unlike_merged(&sim::symmetry::order_fingerprint);
    assert!(merged >= ORDER_MERGED_MIN, "{merged} merged states");
    assert_eq!(unlike, 0, "{unlike} of {merged} merged states differ");
    let (unlike, merged) = unlike_merged(&orderless);
    assert!(
        unlike > 0,
        "forgetting the order: {merged} merged states all alike"
    );
}

/// States of each scenario of [`order_cases`] that [`forgotten_order_judges_alike`] runs on
/// from.
const FORGOTTEN_STATES: usize = 2_000;
/// Random runs [`forgotten_order_judges_alike`] needs to have compared.
const FORGOTTEN_RUNS_MIN: usize = 20_000;

/// What the oracles say along one run from `point` to its end, taking at step `k` the
/// runnable task `choices[k]` picks (modulo how many can run): the oracle a step breaks, or
/// the one the end breaks (`None`: neither).
fn run_verdict(point: &Point, choices: &[u64]) -> Option<&'static str> {
    let mut point = point.clone();
    for &choice in choices {
        let runnable = exec::runnable(&point.0);
        if runnable.is_empty() {
            break;
        }
        let task = runnable[(choice % runnable.len() as u64) as usize];
        match stepped(&point, task) {
            Ok(next) => point = next,
            Err(oracle) => return Some(oracle),
        }
    }
    let end = model::drive::ending(&point.0);
    point
        .1
        .at_end(&point.0, &end)
        .err()
        .map(|v| v.oracle.name())
}

/// The number of the scenarios of [`order_cases`] on which `forget` changes what the oracles
/// say along some random run (from a state of a breadth-first walk, up to
/// [`FORGOTTEN_STATES`] a scenario, one run each with the same choices for the history as
/// it is and for its copy that `forget` rewrote), and the runs compared.
fn judged_unlike(forget: &dyn Fn(&mut sim::oracle::Observer, &State)) -> (usize, usize) {
    let (mut unlike, mut runs) = (0, 0);
    for (seed, (_, initial)) in order_cases().into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed as u64);
        let mut differs = false;
        walk_states(&initial, FORGOTTEN_STATES, |point| {
            let mut forgotten = point.clone();
            forget(&mut forgotten.1, &forgotten.0);
            let choices: Vec<u64> = (0..model::limits::STEPS_MAX)
                .map(|_| rng.random())
                .collect();
            differs |= run_verdict(point, &choices) != run_verdict(&forgotten, &choices);
            runs += 1;
            let next = exec::runnable(&point.0).into_iter();
            next.filter_map(|t| stepped(point, t).ok()).collect()
        });
        unlike += usize::from(differs);
    }
    (unlike, runs)
}

/// The audit of the key ([`sim::oracle::history::History::order_read`]) against the oracles
/// themselves: a history whose step numbers were replaced as the key replaces them
/// ([`sim::oracle::Observer::forget_unread_order`]: the least numbers that keep the outcomes
/// the audit says an oracle can still read, 0 for events no read pair holds, the unread
/// outcomes as they fall) judges every random run from every state of the walks as the real
/// history does, step by step and at the end. Had the audit left out a pair an oracle
/// reads, the rewritten history could answer it otherwise and break a different oracle, or
/// none. A rewrite that keeps no order at all
/// ([`sim::oracle::Observer::forget_all_order_for_tests`]) is caught on some scenario.
#[test]
fn forgotten_order_judges_alike() {
    let (unlike, runs) = judged_unlike(&|o, s| o.forget_unread_order(s));
    assert!(runs >= FORGOTTEN_RUNS_MIN, "{runs} runs");
    assert_eq!(unlike, 0, "{unlike} scenarios judged otherwise");
    let (unlike, _) = judged_unlike(&|o, _| o.forget_all_order_for_tests());
    assert!(unlike > 0, "forgetting the order changed no verdict");
}

/// States each exhaustive search of [`rules_that_decide_no_verdict_still_merge_states`] may
/// visit (the largest, the unreduced search of `appends-beside-a-punch`, needs under 5,000).
const RULE_STATES: u64 = 20_000;

/// The symmetry key with rule `rule` of `History::order_read` left out
/// (`Observer::forget_unread_order_dropping`): unsound in general, for the tests.
fn dropping(rule: OrderRule) -> impl Fn(&State, &sim::oracle::Observer) -> u64 {
    move |s: &State, o: &sim::oracle::Observer| {
        let (s, mut o, _) = sim::symmetry::canonical(s, o);
        o.forget_unread_order_dropping(&s, rule);
        sim::fingerprint::fingerprint(&s, &o)
    }
}

/// [`oracles_met`] within [`RULE_STATES`], which the search must exhaust.
fn oracles_met_exhaustively(
    name: &str,
    initial: &State,
    key: &dyn Fn(&State, &sim::oracle::Observer) -> u64,
) -> (BTreeSet<(&'static str, u64)>, u64) {
    let (met, report) = oracles_met_within(initial, keyed(key, None), (RULE_STATES, u64::MAX));
    assert!(report.exhausted, "{name}: {} states", report.states);
    (met, report.states)
}

/// The five rules of `History::order_read` that decide no verdict of the model (module
/// doc, "Rules of the history key"), each on a scenario where it is live: leaving the rule
/// out of the symmetry key merges states the shipped key keeps apart (fewer states, so the
/// hook drops a pair the key reads), and still meets exactly the unreduced search's
/// violations, as the shipped key does. Should an oracle come to depend on one of these
/// rules, the second comparison fails, and the scenario becomes the rule's deciding test.
#[test]
fn rules_that_decide_no_verdict_still_merge_states() {
    let cases = [
        (OrderRule::Read, "read-beside-a-punch"),
        (OrderRule::Return, "read-beside-a-punch"),
        (OrderRule::Sync, "appends-beside-a-punch"),
        (OrderRule::Append, "appends-beside-a-punch"),
        (OrderRule::RemoverRemover, "order-decides-exposure"),
    ];
    for (rule, name) in cases {
        let initial = example(name);
        let (exact, _) = oracles_met_exhaustively(name, &initial, EXACT);
        let (shipped, shipped_states) = oracles_met_exhaustively(name, &initial, RENAMED);
        assert_eq!(shipped, exact, "{name}: the shipped key");
        let (merged, merged_states) = oracles_met_exhaustively(name, &initial, &dropping(rule));
        assert!(
            merged_states < shipped_states,
            "{name}: without {rule:?}, {merged_states} states vs {shipped_states}"
        );
        assert_eq!(merged, exact, "{name}: without {rule:?}");
    }
}
