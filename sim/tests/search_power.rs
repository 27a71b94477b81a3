//! Search power, the parts that leave the model alone: the canonical scenario's
//! breadth-first count (the benchmark's anchor), one search for a scenario file under DFS or
//! BFS, the breadth-first search's memory budget, exact shuttle counts, `bench --json`'s
//! shape. Bounded by counts, never by time.

mod common;
use common::{stdout, writeiter};

use std::path::Path;
use std::sync::atomic::AtomicBool;

use model::scenario::Scenario;
use sim::hunt::{CASE_SCHEDULES, Engine, Hunt, Known, Source, Strategy, Until};

/// States of the bounded breadth-first count: the full search of the canonical scenario
/// (2,092,372 states, about half a minute in release on an idle 2-core machine) is too slow
/// for `cargo test`, so the anchor is its first states, in breadth-first order.
const CANONICAL_BFS_STATES: u64 = 100_000;

fn canonical() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/canonical.toml");
    sim::scenario_file::load(Path::new(path)).expect("examples/canonical.toml loads")
}

fn hunt(engine: Engine, strategy: Strategy, cases: u64) -> Hunt {
    Hunt {
        engine,
        seed: 3,
        strategy: Some(strategy),
        source: Source::File(canonical()),
        cases,
        max_seconds: None,
        jobs: 2,
        stepper: model::exec::step_with,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    }
}

fn budget(h: &Hunt, bytes: u64) -> sim::hunt::HuntResult {
    h.run_budgeted(
        bytes,
        &Known::new(),
        Until::Budget,
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
}

/// The benchmark's anchor: the breadth-first search of the canonical scenario in
/// measurement mode (a violating path ends, the search goes on) visits the same states with
/// the same steps. A change here changes what every bench figure measures.
#[test]
fn canonical_bfs_count_is_the_anchor() {
    let initial = canonical().build().expect("builds");
    let report = sim::engine::bfs_budgeted(
        &initial,
        (CANONICAL_BFS_STATES, u64::MAX),
        model::exec::step_with,
        &|_| false,
        &mut |_, _, _| {},
    );
    assert_eq!(
        (
            report.states,
            report.steps,
            report.schedules,
            report.exhausted,
            report.cut
        ),
        (
            CANONICAL_BFS_STATES,
            ANCHOR_STEPS,
            ANCHOR_SCHEDULES,
            false,
            false
        )
    );
}
/// Steps the bounded count applies.
const ANCHOR_STEPS: u64 = 240_934;
/// Complete executions it reaches (none within the first states: they are all shallow).
const ANCHOR_SCHEDULES: u64 = 0;

/// A scenario file under DFS or BFS is one search, not the same search once per case.
#[test]
fn a_scenario_file_under_dfs_or_bfs_runs_one_search() {
    let dfs = hunt(Engine::Sim, Strategy::Dfs, 10);
    assert!(dfs.single_search());
    let result = budget(&dfs, sim::hunt::BFS_MAX_MB * sim::hunt::MIB);
    assert_eq!(result.cases, 1, "one search");
    // The one DFS gets the hunt's whole schedule budget.
    assert!(result.schedules <= 10 * CASE_SCHEDULES);
    assert!(result.schedules > CASE_SCHEDULES || result.found.is_some());
    let bfs = hunt(Engine::Sim, Strategy::Bfs, 10);
    let result = budget(&bfs, sim::hunt::BFS_MAX_MB * sim::hunt::MIB);
    assert_eq!(result.cases, 1, "one search");
    // Random and PCT stay seeded per case.
    for strategy in [Strategy::Random, Strategy::Pct] {
        let h = hunt(Engine::Sim, strategy, 3);
        assert!(!h.single_search());
        assert_eq!(budget(&h, u64::MAX).cases, 3);
    }
    // The CLI's counts say so too.
    let out = writeiter(&[
        "hunt",
        "--scenario",
        "examples/canonical.toml",
        "--strategy",
        "dfs",
        "--schedules",
        "640",
        "--json",
        "--known",
        "none",
        "--jobs",
        "2",
    ]);
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(json["cases"], 1);
}

/// `writeiter hunt --json` of the canonical scenario under BFS with `extra` flags.
fn bfs_hunt(extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let mut args = vec![
        "hunt",
        "--scenario",
        "examples/canonical.toml",
        "--strategy",
        "bfs",
        "--known",
        "none",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = writeiter(&args);
    let json = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    (out, json)
}

/// The breadth-first search's memory budget: a tiny one cuts it, and the hunt says so in its
/// text and its JSON; the default does not cut the hunt's search (it stops at its violation first); bad values exit 2.
#[test]
fn the_bfs_memory_budget_cuts_and_says_so() {
    let h = hunt(Engine::Sim, Strategy::Bfs, 1);
    let result = budget(&h, sim::hunt::MIB);
    let (case, states) = result.cut.expect("1 MiB cuts the canonical search");
    assert_eq!(case, 0);
    assert!(states > 0 && states < 100_000, "{states}");
    let again = budget(&h, sim::hunt::MIB);
    assert_eq!(again.cut, result.cut, "the cut is deterministic");
    let initial = canonical().build().expect("builds");
    let small = sim::engine::bfs_budgeted(
        &initial,
        (1_000, u64::MAX),
        model::exec::step_with,
        &|_| false,
        &mut |_, _, _| {},
    );
    assert!(!small.cut && small.peak_bytes > 0);

    let (out, json) = bfs_hunt(&["--max-mb", "1"]);
    assert_eq!(json["bfs_cut"]["max_mb"], 1);
    assert_eq!(json["bfs_cut"]["states"].as_u64(), Some(states));
    // The one search of a scenario file expands on the hunt's threads: the same cut.
    let (_, json) = bfs_hunt(&["--max-mb", "1", "--jobs", "3"]);
    assert_eq!(json["bfs_cut"]["states"].as_u64(), Some(states));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("bfs cut:"), "{text}");
    // Without a cut the key is null.
    let (_, json) = bfs_hunt(&[]);
    assert!(json["bfs_cut"].is_null());
    for bad in ["0", "x", "-1", "99999999999"] {
        let flag = format!("--max-mb={bad}");
        let out = writeiter(&["hunt", "--strategy", "bfs", &flag]);
        assert_eq!(out.status.code(), Some(2), "--max-mb {bad}");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("--max-mb"), "{text}");
    }
}

/// Shuttle reports the execution within its case where the violation came, not the case's
/// 64.
#[test]
fn shuttle_counts_are_exact() {
    for strategy in [Strategy::Random, Strategy::Pct] {
        let h = Hunt {
            jobs: 1,
            ..hunt(Engine::Shuttle, strategy, 20)
        };
        let result = h.run(&mut |_, _| {});
        let found = result
            .found
            .as_ref()
            .expect("shuttle finds a violation on canonical");
        let initial = found.case.scenario.build().unwrap();
        let failure = sim::hunt::threaded_failure(Engine::Shuttle, &found.case, h.stepper)
            .expect("it fails again");
        assert_eq!(found.schedules, failure.execution);
        assert!((1..=CASE_SCHEDULES).contains(&found.schedules));
        assert_eq!(
            result.schedules,
            (result.cases - 1) * CASE_SCHEDULES + found.schedules
        );
        // The execution it names is the one that fails: with one fewer, shuttle finds none.
        if failure.execution > 1 {
            let fewer = (failure.execution - 1) as usize;
            let none = match strategy {
                Strategy::Pct => sim::threaded::shuttle_pct(
                    &initial,
                    h.stepper,
                    found.case.seed,
                    sim::hunt::PCT_DEPTH,
                    fewer,
                ),
                _ => sim::threaded::shuttle_random(&initial, h.stepper, found.case.seed, fewer),
            };
            assert!(none.is_none(), "{strategy:?}");
        }
    }
}

/// `bench --json`'s shape on a tiny budget (no figure's value is asserted, only that each
/// row ran).
#[test]
fn bench_json_has_every_engine() {
    let out = writeiter(&[
        "bench",
        "--json",
        "--schedules",
        "20",
        "--bfs-states",
        "500",
        "--loom-bound",
        "0",
        "--scaling-seconds",
        "1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    let engines = json["engines"].as_array().expect("engines");
    let names: Vec<(String, String)> = engines
        .iter()
        .map(|e| {
            for key in ["steps_per_s", "schedules_per_s"] {
                assert!(e[key].as_f64().is_some_and(|v| v >= 0.0), "{e}");
            }
            assert!(e["schedules"].as_u64().unwrap() > 0, "{e}");
            assert!(e["steps"].as_u64().unwrap() > 0, "{e}");
            let strategy = e["strategy"].as_str().unwrap();
            let first = strategy.split(' ').next().unwrap().to_string();
            (e["engine"].as_str().unwrap().to_string(), first)
        })
        .collect();
    let want = [
        ("sim", "random"),
        ("sim", "pct"),
        ("sim", "dfs"),
        ("shuttle", "random"),
        ("shuttle", "pct"),
        ("loom", "dfs"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(names, want);
    assert_eq!(json["bfs"]["states"], 500);
    assert_eq!(json["bfs"]["peak_mb_source"], "estimate");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(json["bfs"]["jobs"], cores, "the hunt's default jobs");
    assert!(json["bfs"]["seconds"].as_f64().is_some());
    assert!(json["bfs"]["peak_mb"].as_f64().is_some());
    queued_smaller_than_encoded(&json["bfs"]);
    reduced_beside_unreduced(&json);
    assert_eq!(json["scaling"]["seconds"], 1);
    for key in ["jobs_1", "jobs_2"] {
        assert!(json["scaling"][key].as_f64().is_some_and(|v| v > 0.0));
    }
    for bad in [
        vec!["bench", "--json", "--max-mb", "0"],
        vec!["bench", "--json", "--scaling-seconds", "0"],
        vec!["bench", "--json", "--loom-bound", "9"],
        vec!["bench", "--json", "--bfs-states", "0"],
    ] {
        let out = writeiter(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// `bench --json`'s `bfs`: a queued state takes fewer bytes (compressed) than its encoding.
fn queued_smaller_than_encoded(bfs: &serde_json::Value) {
    let queued = bfs["queued_bytes_per_state"].as_f64().expect("queued");
    let encoded = bfs["encoded_bytes_per_state"].as_f64().expect("encoded");
    assert!(queued > 0.0 && queued < encoded, "{queued} {encoded}");
}

/// `bench --json`'s `reduced`: the breadth-first search under symmetry and the
/// depth-first one under sleep sets beside the unreduced ones of the same run (no more
/// states; the DFS within the same budget).
fn reduced_beside_unreduced(json: &serde_json::Value) {
    let reduced = &json["reduced"];
    assert_eq!(reduced["reduction"], "symmetry");
    assert_eq!(reduced["unreduced_states"], json["bfs"]["states"]);
    assert_eq!(reduced["unreduced_steps"], json["bfs"]["steps"]);
    let count = |key: &str| reduced[key].as_u64().expect("a count");
    assert!(count("states") >= 1 && count("states") <= count("unreduced_states"));
    assert!(reduced["checks"].as_u64().is_some() && reduced["seconds"].as_f64().is_some());
    let dfs = &reduced["dfs"];
    assert_eq!(dfs["reduction"], "sleep");
    assert_eq!(dfs["bound"], sim::hunt::DFS_PREEMPTIONS);
    assert!(
        dfs["schedules"]
            .as_u64()
            .is_some_and(|s| (1..=20).contains(&s))
    );
    assert_eq!(dfs["unreduced_schedules"], 20);
}
