//! Engine speed, side by side in one run on the same scenario: schedules/s and steps/s of
//! each strategy of our simulator. Run with
//! `cargo run --release -p sim --example engine_speed [SCENARIO_FILE]`.
//! Violations do not stop the count: every schedule runs to its end or its first violation.

use std::time::Instant;

use sim::engine::{self, Pct, RandomWalk};

/// Schedules per random and PCT measurement.
const SCHEDULES: u64 = 20_000;
/// Executions the DFS may run.
const DFS_BUDGET: u64 = 20_000;
/// States the BFS may visit.
const BFS_STATES: u64 = 200_000;

fn row(name: &str, schedules: u64, steps: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "{name:<22} {schedules:>9} {steps:>11} {:>14.0} {:>14.0} {:>9.3}",
        schedules as f64 / secs,
        steps as f64 / secs,
        secs
    );
}

fn main() {
    let file = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/unaligned-aio.toml".into());
    let scenario =
        sim::scenario_file::load(std::path::Path::new(&file)).unwrap_or_else(|e| panic!("{e}"));
    let initial = scenario.build().expect("valid scenario");
    println!("scenario {file}");
    println!(
        "{:<22} {:>9} {:>11} {:>14} {:>14} {:>9}",
        "engine", "schedules", "steps", "schedules/s", "steps/s", "seconds"
    );
    let started = Instant::now();
    let steps: u64 = (0..SCHEDULES)
        .map(|seed| {
            engine::execute(
                &initial,
                &mut RandomWalk::new(seed),
                model::exec::step,
                false,
            )
            .schedule
            .len() as u64
        })
        .sum();
    row("sim random", SCHEDULES, steps, started);
    let started = Instant::now();
    let steps: u64 = (0..SCHEDULES)
        .map(|seed| {
            engine::execute(&initial, &mut Pct::new(seed, 3), model::exec::step, false)
                .schedule
                .len() as u64
        })
        .sum();
    row("sim pct (depth 3)", SCHEDULES, steps, started);
    let started = Instant::now();
    let report = engine::dfs(&initial, 2, DFS_BUDGET, model::exec::step);
    row(
        "sim dfs (2 preemptions)",
        report.schedules,
        report.steps,
        started,
    );
    let started = Instant::now();
    let report = engine::bfs(&initial, BFS_STATES, model::exec::step);
    row("sim bfs", report.schedules, report.steps, started);
    println!(
        "bfs: {} states, exhausted={}, found={:?}",
        report.states,
        report.exhausted,
        report.found.map(|f| f.violation.map(|v| v.oracle.name()))
    );
    threaded_rows(&initial);
}

/// shuttle and loom rows: executions and steps counted by `sim::threaded`.
fn threaded_rows(initial: &model::state::State) {
    use sim::threaded::{EXECUTIONS, STEPS};
    use std::sync::atomic::Ordering::Relaxed;
    let counted = |name: &str, started: Instant, found: Option<String>| {
        row(
            name,
            EXECUTIONS.swap(0, Relaxed),
            STEPS.swap(0, Relaxed),
            started,
        );
        if let Some(oracle) = found {
            println!("  ({name} stopped at a violation: {oracle})");
        }
    };
    EXECUTIONS.store(0, Relaxed);
    STEPS.store(0, Relaxed);
    let iterations = SHUTTLE_ITERATIONS as usize;
    let started = Instant::now();
    let found = sim::threaded::shuttle_random(initial, model::exec::step, 1, iterations);
    counted("shuttle random", started, found.map(|f| f.oracle));
    let started = Instant::now();
    let found = sim::threaded::shuttle_pct(initial, model::exec::step, 1, 3, iterations);
    counted("shuttle pct (depth 3)", started, found.map(|f| f.oracle));
    if initial.actors.len() <= sim::threaded::LOOM_ACTORS_MAX {
        for bound in [1, 2] {
            let started = Instant::now();
            let found = sim::threaded::loom_check(initial, model::exec::step, Some(bound));
            let found = found.expect("fits loom");
            counted(
                &format!("loom (bound {bound})"),
                started,
                found.map(|f| f.oracle),
            );
        }
    }
}

/// Executions per shuttle measurement.
const SHUTTLE_ITERATIONS: u64 = 2_000;
