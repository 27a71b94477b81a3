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
}
