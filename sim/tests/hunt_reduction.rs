//! `writeiter hunt --reduction`: the hunt's depth-first and breadth-first cases run the search
//! `writeiter search --reduction` runs (`sim::reduce`), random and PCT cases ignore it, a
//! finding's printed replay line still reproduces it, the result does not depend on
//! `--jobs`, and bad values exit 2. Bounded by cases, schedules and states.

mod common;

use std::sync::atomic::AtomicBool;

use common::{stdout, writeiter};
use model::state::State;
use sim::hunt::{Hunt, HuntResult, Known, Source, Strategy, Until};
use sim::reduce::{self, Reduction};

/// A scenario whose breadth-first search meets a violation within a few hundred states
/// under every reduction.
const BFS_SCENARIO: &str = "examples/bio-errors.toml";
/// A scenario whose depth-first search meets a violation at its first execution.
const DFS_SCENARIO: &str = "examples/unaligned-aio.toml";
/// A corpus entry whose depth-first search meets its violation after a few thousand
/// executions under sleep sets (tens of thousands unreduced).
const DFS_ENTRY: &str = "0003";
/// Cases of the hunt run under two job counts.
const JOBS_CASES: u64 = 24;
/// Cases of a one-search hunt: its depth-first search gets 64 executions a case.
const ONE_SEARCH_CASES: u64 = 200;
/// Swarm scenarios the stepper's probe is compared with the hunt's own on.
const PROBE_SEEDS: u64 = 12;
/// Cases of the hunts whose reduced depth-first cases must add coverage.
const COVERAGE_CASES: u64 = 4;

fn repository(path: &str) -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(path)
}

fn hunt(source: Source, strategy: Option<Strategy>, cases: u64, jobs: usize) -> Hunt {
    Hunt {
        engine: sim::hunt::Engine::Sim,
        seed: 0,
        strategy,
        source,
        cases,
        max_seconds: None,
        jobs,
        stepper: model::exec::step_with,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    }
}

fn run(hunt: &Hunt, reduction: Reduction) -> HuntResult {
    let searches = (sim::hunt::BFS_MAX_MB * sim::hunt::MIB, reduction);
    let stop = AtomicBool::new(false);
    hunt.run_reduced(
        searches,
        &Known::new(),
        Until::Budget,
        &stop,
        &mut |_, _| {},
    )
}

fn scenario(path: &str) -> model::scenario::Scenario {
    sim::scenario_file::load(&repository(path)).expect("the example loads")
}

/// A class as compared: its signature, count, first case and that case's schedule.
type ClassSeen = (String, u64, u64, String);

/// What a hunt's result says, but for its milliseconds: totals, and each class.
fn verdict(r: &HuntResult) -> (u64, u64, u64, Vec<ClassSeen>) {
    let classes = r.classes.iter().map(|c| {
        let run = c.first.found.as_ref().expect("a class has its execution");
        let schedule = sim::corpus::schedule_text(run);
        (
            c.signature.to_string(),
            c.count,
            c.first.case.index,
            schedule,
        )
    });
    (r.cases, r.schedules, r.steps, classes.collect())
}

/// The one search of a scenario file with `strategy` under `reduction`: the figures and the
/// violation of `writeiter search`'s own search of that reduction.
fn one_search_is_the_reduced_search(
    initial: &State,
    source: Source,
    strategy: Strategy,
    reduction: Reduction,
) -> HuntResult {
    let hunt = hunt(source, Some(strategy), ONE_SEARCH_CASES, 1);
    let result = run(&hunt, reduction);
    let any = |_: &sim::engine::Execution| true;
    let report = match strategy {
        Strategy::Bfs => {
            let bytes = sim::hunt::BFS_MAX_MB * sim::hunt::MIB;
            reduce::bfs(
                initial,
                (u64::MAX, bytes),
                model::exec::step_with,
                ("", &any),
                reduction,
            )
        }
        _ => {
            let bounds = (
                sim::hunt::DFS_PREEMPTIONS,
                ONE_SEARCH_CASES * sim::hunt::CASE_SCHEDULES,
            );
            reduce::dfs(
                initial,
                bounds,
                model::exec::step_with,
                ("", &any),
                reduction,
            )
        }
    };
    let name = reduction.name();
    assert_eq!(result.cases, 1, "{name}: one search");
    assert_eq!(
        (result.schedules, result.steps),
        (report.schedules, report.steps),
        "{name}: the hunt's search is writeiter search's"
    );
    let found = result.found.as_ref().and_then(|c| c.found.as_ref());
    let expected = report.found.as_ref().expect("the search meets a violation");
    assert_eq!(
        found.map(|run| &run.schedule),
        Some(&expected.schedule),
        "{name}"
    );
    result
}

#[test]
fn a_reduced_case_runs_the_search_of_writeiter_search() {
    let example = scenario(BFS_SCENARIO);
    let initial = example.build().expect("builds");
    let mut steps = Vec::new();
    for reduction in Reduction::ALL {
        let source = Source::File(example.clone());
        let result = one_search_is_the_reduced_search(&initial, source, Strategy::Bfs, reduction);
        steps.push((reduction, result.steps));
    }
    let of = |r: Reduction| steps.iter().find(|(x, _)| *x == r).expect("ran").1;
    assert!(
        of(Reduction::Sleep) < of(Reduction::None),
        "sleep sets take fewer steps than the unreduced search: {steps:?}"
    );
    let entry = sim::corpus::load(&common::corpus_file(DFS_ENTRY)).expect("the entry loads");
    let initial = entry.scenario.build().expect("builds");
    let source = Source::File(entry.scenario.clone());
    let sleep = one_search_is_the_reduced_search(&initial, source, Strategy::Dfs, Reduction::Sleep);
    assert!(
        sleep.schedules < ONE_SEARCH_CASES * sim::hunt::CASE_SCHEDULES,
        "under sleep sets the depth-first search meets the entry's violation within its budget"
    );
}

/// The coverage probe fed through the stepper (`sim::hunt::probing`, how a reduced case
/// shows its steps) sees what the hunt's own probe, fed by the chooser, sees: on the
/// unreduced depth-first search of the swarm scenarios, the same protocol points and the same
/// steps at each program point, and the search's result is unchanged.
#[test]
fn the_stepper_probe_sees_what_the_hunt_s_own_probe_sees() {
    for seed in 0..PROBE_SEEDS {
        let (scenario, _) = sim::swarm::generate(seed);
        let initial = scenario.build().expect("a swarm scenario builds");
        let bounds = (sim::hunt::DFS_PREEMPTIONS, sim::hunt::CASE_SCHEDULES);
        let mut own = sim::coverage::Coverage::new();
        let mut probe = |state: &State, runnable: &[model::exec::Task], task| {
            own.see(state, runnable, task);
        };
        let stepper = model::exec::step_with;
        let direct = sim::engine::dfs_probed(&initial, bounds.0, bounds.1, stepper, "", &mut probe);
        let (report, seen) = sim::hunt::probing(stepper, |probed| {
            reduce::dfs(&initial, bounds, probed, ("", &|_| true), Reduction::None)
        });
        assert!(!seen.points.is_empty(), "seed {seed}");
        assert_eq!(seen, own, "seed {seed}");
        let outcome = |r: &sim::engine::SearchReport| {
            (
                r.schedules,
                r.steps,
                r.found.as_ref().map(|f| f.schedule.clone()),
            )
        };
        assert_eq!(outcome(&report), outcome(&direct), "seed {seed}");
    }
}

/// A reduced depth-first or breadth-first case adds its steps to the hunt's coverage (and
/// so to the guide's weights): a hunt of such cases only (swarm cases under persistent sets,
/// one breadth-first search of a file under sleep sets) covers protocol points, those of
/// `probing` over the same searches, whose steps are those of the searches without a probe.
#[test]
fn a_reduced_case_adds_coverage() {
    let searches = [
        (
            Strategy::Dfs,
            Reduction::Persistent,
            Source::Swarm,
            COVERAGE_CASES,
        ),
        (
            Strategy::Bfs,
            Reduction::Sleep,
            Source::File(scenario(BFS_SCENARIO)),
            1,
        ),
    ];
    for (strategy, reduction, source, cases) in searches {
        let hunt = hunt(source, Some(strategy), cases, 1);
        let result = run(&hunt, reduction);
        assert!(!result.coverage.points.is_empty(), "{}", reduction.name());
        let mut expected = sim::coverage::Coverage::new();
        let mut steps = 0;
        for index in 0..cases {
            let initial = hunt.case(index).scenario.build().expect("builds");
            let limits = (u64::MAX, sim::hunt::BFS_MAX_MB * sim::hunt::MIB);
            let bounds = (sim::hunt::DFS_PREEMPTIONS, sim::hunt::CASE_SCHEDULES);
            let search = |stepper| match strategy {
                Strategy::Dfs => reduce::dfs(&initial, bounds, stepper, ("", &|_| true), reduction),
                _ => reduce::bfs(&initial, limits, stepper, ("", &|_| true), reduction),
            };
            let (report, seen) = sim::hunt::probing(model::exec::step_with, search);
            assert_eq!(
                report.steps,
                search(model::exec::step_with).steps,
                "unchanged"
            );
            steps += report.steps;
            expected.merge(&seen);
        }
        assert_eq!(result.steps, steps, "{}", reduction.name());
        assert_eq!(result.coverage, expected, "{}", reduction.name());
    }
    let out = writeiter(&[
        "hunt",
        "--strategy",
        "dfs",
        "--reduction",
        "sleep",
        "--jobs",
        "1",
        "--schedules",
        "128",
        "--known",
        "none",
    ]);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("coverage: "))
        .map(str::to_string);
    let points = line
        .as_deref()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(points.is_some_and(|n| n > 0), "{line:?}");
}

#[test]
fn a_reduced_hunt_is_the_same_whatever_the_jobs() {
    for reduction in [Reduction::Sleep, Reduction::Persistent] {
        let one = run(&hunt(Source::Swarm, None, JOBS_CASES, 1), reduction);
        let two = run(&hunt(Source::Swarm, None, JOBS_CASES, 2), reduction);
        assert!(!one.classes.is_empty(), "a small hunt meets violations");
        assert_eq!(verdict(&one), verdict(&two), "{}", reduction.name());
    }
}

#[test]
fn random_and_pct_cases_ignore_the_reduction() {
    for strategy in [Strategy::Random, Strategy::Pct] {
        let unreduced = run(
            &hunt(Source::Swarm, Some(strategy), JOBS_CASES, 1),
            Reduction::None,
        );
        let reduced = run(
            &hunt(Source::Swarm, Some(strategy), JOBS_CASES, 1),
            Reduction::Sleep,
        );
        assert!(unreduced.steps > 0);
        assert_eq!(
            verdict(&unreduced),
            verdict(&reduced),
            "{}",
            strategy.name()
        );
    }
}

#[test]
fn each_reduction_finds_the_violation_and_the_replay_line_reproduces_it() {
    for (file, strategy) in [(BFS_SCENARIO, "bfs"), (DFS_SCENARIO, "dfs")] {
        for reduction in Reduction::ALL {
            let name = reduction.name();
            let args = [
                "hunt",
                "--scenario",
                file,
                "--strategy",
                strategy,
                "--reduction",
                name,
                "--jobs",
                "1",
                "--known",
                "none",
            ];
            let out = writeiter(&args);
            let text = stdout(&out);
            assert_eq!(out.status.code(), Some(1), "{args:?}:\n{text}");
            let note = format!("reduction {name}: the {strategy} cases search under it");
            let noted = text.lines().any(|l| l.starts_with(&note));
            assert_eq!(noted, reduction != Reduction::None, "{args:?}:\n{text}");
            common::replay_as_printed(&text);
        }
    }
}

#[test]
fn the_header_says_which_cases_ignore_the_reduction() {
    let hunt = |extra: &[&str]| {
        let mut args = vec![
            "hunt",
            "--jobs",
            "1",
            "--schedules",
            "640",
            "--known",
            "none",
        ];
        args.extend(extra);
        stdout(&writeiter(&args))
    };
    let note = "reduction sleep: the dfs cases search under it (as writeiter search --reduction sleep); the random and pct cases ignore it";
    let reduced = hunt(&["--reduction", "sleep"]);
    assert_eq!(reduced.lines().nth(1), Some(note), "{reduced}");
    let plain = hunt(&[]);
    let none = hunt(&["--reduction", "none"]);
    let replays = |t: &str| -> Vec<String> {
        let kept = t
            .lines()
            .filter(|l| !l.contains(" ms") && !l.contains("  "));
        kept.map(str::to_string).collect()
    };
    assert!(!plain.contains("reduction"), "{plain}");
    assert_eq!(replays(&plain), replays(&none));
    let random = hunt(&["--reduction", "symmetry", "--strategy", "random"]);
    let line = "reduction symmetry: the random cases ignore it";
    assert_eq!(random.lines().nth(1), Some(line), "{random}");
}

/// `hunt --json` of `schedules` with `extra`: the document, with the milliseconds (the only
/// figures that depend on the machine) blanked.
fn hunt_json(schedules: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "hunt",
        "--json",
        "--jobs",
        "1",
        "--schedules",
        schedules,
        "--known",
        "none",
    ];
    args.extend(extra);
    let mut value = common::json(&writeiter(&args));
    value["elapsed_ms"] = serde_json::Value::Null;
    for class in value["classes"].as_array_mut().expect("classes") {
        class["first_ms"] = serde_json::Value::Null;
    }
    value
}

/// The `reduction` object of `hunt --json` says which reduction ran and which cases it
/// applied to (the cases the header's note names), under `none` and under a reduction; where
/// the reduction changes no search (random cases only) the rest of the document is the same
/// as without it, so the field adds and changes nothing else.
#[test]
fn the_json_names_the_reduction_and_the_cases_it_applies_to() {
    let reduction = |value: &serde_json::Value| value["reduction"].to_string();
    let none = hunt_json("640", &[]);
    let expected = r#"{"applies_to":["dfs"],"ignored_by":["random","pct"],"name":"none"}"#;
    assert_eq!(reduction(&none), expected);
    let sleep = hunt_json("640", &["--reduction", "sleep"]);
    assert_eq!(reduction(&sleep), expected.replace("none", "sleep"));
    let bfs = hunt_json("64", &["--reduction", "persistent", "--strategy", "bfs"]);
    let expected = r#"{"applies_to":["bfs"],"ignored_by":[],"name":"persistent"}"#;
    assert_eq!(reduction(&bfs), expected);
    let random = |r: &str| hunt_json("640", &["--strategy", "random", "--reduction", r]);
    let (mut plain, mut reduced) = (random("none"), random("symmetry"));
    assert_eq!(
        reduction(&plain).replace("none", "symmetry"),
        reduction(&reduced)
    );
    assert!(plain["classes"].as_array().is_some_and(|c| !c.is_empty()));
    let object = |v: &mut serde_json::Value| v.as_object_mut().expect("an object").clone();
    let (mut plain, mut reduced) = (object(&mut plain), object(&mut reduced));
    assert!(plain.remove("reduction").is_some() && reduced.remove("reduction").is_some());
    assert_eq!(plain, reduced, "the rest of the document is the same");
    assert_eq!(
        plain.len(),
        16,
        "the keys besides reduction: {:?}",
        plain.keys()
    );
}

#[test]
fn bad_reduction_values_exit_2_naming_the_flag() {
    for args in [
        vec!["hunt", "--reduction", "por"],
        vec!["hunt", "--reduction", ""],
        vec!["hunt", "--engine", "shuttle", "--reduction", "sleep"],
        vec!["hunt", "--engine", "loom", "--reduction", "persistent"],
    ] {
        let out = writeiter(&args);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--reduction"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
