//! `writeiter bench`: the engines side by side in one run. Throughput (schedules/s and
//! steps/s) of every engine and strategy on one scenario, the time and schedules to the first
//! violation over several seeds (median, min, max), and the speed-up of a hunt from one job to
//! all cores. Figures, never assertions: speed claims live here and in the README.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use model::scenario::Scenario;
use model::state::State;

use crate::engine::{self, Pct, RandomWalk};
use crate::hunt::{Engine, Hunt, Source, Strategy};
use crate::threaded::{self, EXECUTIONS, STEPS};

/// The throughput scenario: no engine finds a violation in it, so every run goes to its end.
pub const THROUGHPUT_SCENARIO: &str = "examples/extending-crash.toml";
/// The scenario loom's time to a violation is measured on (loom cannot run every swarm case).
pub const LOOM_SCENARIO: &str = "examples/unaligned-aio.toml";
/// Cases a time-to-violation hunt may run.
pub const HUNT_CASES: u64 = 300;
/// Cases of the speed-up hunt.
pub const SPEEDUP_CASES: u64 = 400;

/// What `writeiter bench` measures: seeds for time to violation, schedules for throughput.
#[derive(Clone, Copy, Debug)]
pub struct Bench {
    /// Seeds (0..seeds) for the time to the first violation.
    pub seeds: u64,
    /// Schedules per throughput row (DFS: its budget; shuttle: a tenth).
    pub schedules: u64,
}

fn row(out: &mut String, name: &str, schedules: u64, steps: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let (rate, step_rate) = (schedules as f64 / secs, steps as f64 / secs);
    let _ = writeln!(
        out,
        "| {name} | {schedules} | {steps} | {rate:.0} | {step_rate:.0} | {secs:.3} |"
    );
}

/// The throughput table on `scenario`.
pub fn throughput(initial: &State, schedules: u64) -> String {
    let mut out = String::from(
        "| engine | schedules | steps | schedules/s | steps/s | seconds |\n|---|---|---|---|---|---|\n",
    );
    let count = |chooser: &mut dyn FnMut(u64) -> u64| (0..schedules).map(chooser).sum::<u64>();
    let started = Instant::now();
    let steps = count(&mut |s| {
        engine::execute(initial, &mut RandomWalk::new(s), model::exec::step, false)
            .schedule
            .len() as u64
    });
    row(&mut out, "sim random", schedules, steps, started);
    let started = Instant::now();
    let steps = count(&mut |s| {
        engine::execute(initial, &mut Pct::new(s, 3), model::exec::step, false)
            .schedule
            .len() as u64
    });
    row(&mut out, "sim pct", schedules, steps, started);
    let started = Instant::now();
    let report = engine::dfs(initial, 2, schedules, model::exec::step);
    row(&mut out, "sim dfs", report.schedules, report.steps, started);
    let started = Instant::now();
    let report = engine::bfs(initial, 1_000_000, model::exec::step);
    row(
        &mut out,
        &format!("sim bfs ({} states)", report.states),
        report.schedules,
        report.steps,
        started,
    );
    threaded_rows(&mut out, initial, (schedules / 10).max(1) as usize);
    out
}

fn threaded_rows(out: &mut String, initial: &State, iterations: usize) {
    let mut counted = |name: &str, started: Instant| {
        row(
            out,
            name,
            EXECUTIONS.swap(0, Relaxed),
            STEPS.swap(0, Relaxed),
            started,
        )
    };
    EXECUTIONS.store(0, Relaxed);
    STEPS.store(0, Relaxed);
    let started = Instant::now();
    threaded::shuttle_random(initial, model::exec::step, 1, iterations);
    counted("shuttle random", started);
    let started = Instant::now();
    threaded::shuttle_pct(initial, model::exec::step, 1, 3, iterations);
    counted("shuttle pct", started);
    if initial.actors.len() <= threaded::LOOM_ACTORS_MAX {
        let started = Instant::now();
        let _ = threaded::loom_check(initial, model::exec::step, Some(1));
        counted("loom (bound 1)", started);
    }
}

/// Median, min and max.
fn spread(mut values: Vec<u128>) -> String {
    if values.is_empty() {
        return "-".into();
    }
    values.sort_unstable();
    format!(
        "{} ({}–{})",
        values[values.len() / 2],
        values[0],
        values[values.len() - 1]
    )
}

/// Schedules and milliseconds to the first violation, per engine and strategy, over seeds.
pub fn time_to_violation(seeds: u64, loom_scenario: &Scenario) -> String {
    let mut out = String::from(
        "| engine | found | schedules to first violation: median (min–max) | ms: median (min–max) |\n|---|---|---|---|\n",
    );
    let runs = [
        (Engine::Sim, Strategy::Random),
        (Engine::Sim, Strategy::Pct),
        (Engine::Sim, Strategy::Dfs),
        (Engine::Sim, Strategy::Bfs),
        (Engine::Shuttle, Strategy::Random),
        (Engine::Shuttle, Strategy::Pct),
    ];
    for (engine, strategy) in runs {
        let hunts = (0..seeds).map(|seed| hunt(engine, strategy, seed, Source::Swarm, HUNT_CASES));
        let name = format!("{} {}", engine.name(), strategy.name());
        out += &spread_row(&name, hunts.collect());
    }
    let hunts = (0..seeds).map(|seed| {
        hunt(
            Engine::Loom,
            Strategy::Dfs,
            seed,
            Source::File(loom_scenario.clone()),
            1,
        )
    });
    out += &spread_row(&format!("loom dfs ({LOOM_SCENARIO})"), hunts.collect());
    out
}

fn spread_row(name: &str, hunts: Vec<(bool, u64, u128)>) -> String {
    let found: Vec<&(bool, u64, u128)> = hunts.iter().filter(|h| h.0).collect();
    let schedules = spread(found.iter().map(|h| u128::from(h.1)).collect());
    let ms = spread(found.iter().map(|h| h.2).collect());
    format!(
        "| {name} | {}/{} | {schedules} | {ms} |\n",
        found.len(),
        hunts.len()
    )
}

/// One hunt: (found, schedules, milliseconds).
fn hunt(
    engine: Engine,
    strategy: Strategy,
    seed: u64,
    source: Source,
    cases: u64,
) -> (bool, u64, u128) {
    let hunt = Hunt {
        engine,
        seed,
        strategy: Some(strategy),
        source,
        cases,
        max_seconds: None,
        jobs: 1,
        stepper: model::exec::step,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    };
    let result = hunt.run(&mut |_, _| {});
    (result.found.is_some(), result.schedules, result.elapsed_ms)
}

/// Schedules/s of a random-walk hunt of `SPEEDUP_CASES` cases on `scenario` with `jobs`.
pub fn hunt_rate(scenario: &Scenario, jobs: usize) -> f64 {
    let hunt = Hunt {
        engine: Engine::Sim,
        seed: 0,
        strategy: Some(Strategy::Random),
        source: Source::File(scenario.clone()),
        cases: SPEEDUP_CASES,
        max_seconds: None,
        jobs,
        stepper: model::exec::step,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    };
    let result = hunt.run(&mut |_, _| {});
    result.schedules as f64 * 1000.0 / result.elapsed_ms.max(1) as f64
}
