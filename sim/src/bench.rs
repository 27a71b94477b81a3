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
        engine::execute(
            initial,
            &mut RandomWalk::new(s),
            model::exec::step_with,
            false,
        )
        .schedule
        .len() as u64
    });
    row(&mut out, "sim random", schedules, steps, started);
    let started = Instant::now();
    let steps = count(&mut |s| {
        engine::execute(initial, &mut Pct::new(s, 3), model::exec::step_with, false)
            .schedule
            .len() as u64
    });
    row(&mut out, "sim pct", schedules, steps, started);
    let started = Instant::now();
    let report = engine::dfs(initial, 2, schedules, model::exec::step_with);
    row(&mut out, "sim dfs", report.schedules, report.steps, started);
    let started = Instant::now();
    let report = engine::bfs(initial, 1_000_000, model::exec::step_with);
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
    threaded::shuttle_random(initial, model::exec::step_with, 1, iterations);
    counted("shuttle random", started);
    let started = Instant::now();
    threaded::shuttle_pct(initial, model::exec::step_with, 1, 3, iterations);
    counted("shuttle pct", started);
    if initial.actors.len() <= threaded::LOOM_ACTORS_MAX {
        let started = Instant::now();
        let _ = threaded::loom_check(initial, model::exec::step_with, Some(1));
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
        stepper: model::exec::step_with,
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
        stepper: model::exec::step_with,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    };
    let result = hunt.run(&mut |_, _| {});
    result.schedules as f64 * 1000.0 / result.elapsed_ms.max(1) as f64
}

/// The canonical 3-writer scenario of `writeiter bench --json` (README, "`writeiter
/// bench`"): an unaligned AIO DIO into a hole inside `i_size`, an aligned AIO DIO over that
/// block, a buffered writer.
pub const CANONICAL_SCENARIO: &str = "examples/canonical.toml";
/// Seconds each hunt of the scaling figure runs at least (`--scaling-seconds`).
pub const SCALING_SECONDS: u64 = 5;
/// Loom's preemption bound in `bench --json` (`--loom-bound`).
pub const LOOM_BENCH_BOUND: usize = 1;
/// Shuttle runs this fraction of the schedules of our simulator's rows (it is slower).
pub const SHUTTLE_SHARE: u64 = 10;
/// The seed of every seeded row.
pub const BENCH_SEED: u64 = 1;

/// One engine's throughput in measurement mode (a violation ends its execution, not the
/// search).
#[derive(Clone, Debug, serde::Serialize)]
pub struct EngineRate {
    /// `sim`, `shuttle` or `loom`.
    pub engine: &'static str,
    /// `random`, `pct`, `dfs`, with its bound.
    pub strategy: String,
    /// Executions run.
    pub schedules: u64,
    /// Model steps applied.
    pub steps: u64,
    /// Seconds taken.
    pub seconds: f64,
    /// Steps a second.
    pub steps_per_s: f64,
    /// Executions a second.
    pub schedules_per_s: f64,
}

/// The unreduced breadth-first search of the scenario.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BfsFigures {
    /// Distinct states visited.
    pub states: u64,
    /// Steps applied.
    pub steps: u64,
    /// Every reachable state was visited.
    pub exhausted: bool,
    /// The memory budget stopped it.
    pub cut: bool,
    /// Seconds taken.
    pub seconds: f64,
    /// Peak MiB of the search, [`BfsFigures::peak_mb_source`] says how measured.
    pub peak_mb: f64,
    /// `"estimate"`: the search's own estimate of its bytes
    /// ([`crate::frontier::estimated_bytes`]), not the process's resident set.
    pub peak_mb_source: &'static str,
    /// Bytes of a queued state's encoding, on average over every state queued.
    pub encoded_bytes_per_state: f64,
    /// Bytes a queued state takes in the queue (its encoding compressed), on average.
    pub queued_bytes_per_state: f64,
    /// Threads that expanded its states: the hunt's default, every core (the figures but
    /// the seconds do not depend on it).
    pub jobs: usize,
}

/// The reduced searches ([`crate::reduce`]) against the unreduced ones of the same run: the
/// breadth-first search under symmetry (persistent sets cost more than they save on the
/// canonical scenario: README "Partial-order reduction"), the depth-first one under sleep sets.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reduced {
    /// The breadth-first search's reduction: `"symmetry"`.
    pub reduction: &'static str,
    /// States the reduced breadth-first search visited.
    pub states: u64,
    /// Its steps, beside [`Reduced::checks`].
    pub steps: u64,
    /// Steps it applied only to check independence.
    pub checks: u64,
    /// It visited every reachable state.
    pub exhausted: bool,
    /// Its memory budget stopped it.
    pub cut: bool,
    /// Its seconds.
    pub seconds: f64,
    /// States the unreduced breadth-first search visited ([`BenchJson::bfs`]).
    pub unreduced_states: u64,
    /// Its steps.
    pub unreduced_steps: u64,
    /// Its seconds.
    pub unreduced_seconds: f64,
    /// The depth-first search under sleep sets, same bound and budget as the engines' row.
    pub dfs: ReducedDfs,
}

/// The depth-first search under sleep sets beside the unreduced one.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReducedDfs {
    /// Its reduction: `"sleep"`.
    pub reduction: &'static str,
    /// Its preemption bound.
    pub bound: usize,
    /// Executions run (blocked ones included).
    pub schedules: u64,
    /// Steps, beside [`ReducedDfs::checks`].
    pub steps: u64,
    /// Steps applied only to check independence.
    pub checks: u64,
    /// It covered every schedule within its bound.
    pub exhausted: bool,
    /// Its seconds.
    pub seconds: f64,
    /// Executions of the unreduced search (the engines' DFS row).
    pub unreduced_schedules: u64,
    /// The unreduced search covered every schedule within the bound.
    pub unreduced_exhausted: bool,
}

/// The hunt's schedules/s with one job and two.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Scaling {
    /// Seconds each hunt ran at least.
    pub seconds: u64,
    /// Schedules/s with one job.
    pub jobs_1: f64,
    /// Schedules/s with two jobs.
    pub jobs_2: f64,
}

/// `writeiter bench --json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchJson {
    /// The scenario file measured.
    pub scenario: &'static str,
    /// Each engine and strategy.
    pub engines: Vec<EngineRate>,
    /// The unreduced breadth-first search.
    pub bfs: BfsFigures,
    /// The breadth-first and depth-first searches under sleep sets, beside the unreduced
    /// ones.
    pub reduced: Reduced,
    /// The hunt's scaling from one job to two.
    pub scaling: Scaling,
}

/// What `bench --json` runs: schedules per row, the breadth-first search's bounds, loom's
/// bound and the scaling hunts' seconds.
#[derive(Clone, Copy, Debug)]
pub struct Measure {
    /// Executions of our simulator's random and PCT rows, DFS's budget (shuttle: a
    /// [`SHUTTLE_SHARE`]th).
    pub schedules: u64,
    /// States the breadth-first search may visit (`u64::MAX`: all).
    pub bfs_states: u64,
    /// Its memory budget in bytes (estimated).
    pub bfs_bytes: u64,
    /// Loom's preemption bound.
    pub loom_bound: usize,
    /// Seconds of each scaling hunt.
    pub scaling_seconds: u64,
}

fn rate(
    engine: &'static str,
    strategy: String,
    (schedules, steps): (u64, u64),
    started: Instant,
) -> EngineRate {
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    EngineRate {
        engine,
        strategy,
        schedules,
        steps,
        seconds,
        steps_per_s: steps as f64 / seconds,
        schedules_per_s: schedules as f64 / seconds,
    }
}

/// Every engine on `scenario` in measurement mode, one run: the figures of `bench --json`.
pub fn measure(scenario: &Scenario, m: Measure) -> Result<BenchJson, String> {
    let initial = scenario.build().map_err(|e| e.to_string())?;
    let step = model::exec::step_with;
    let mut engines = Vec::new();
    let walk = |chooser: &mut dyn FnMut(u64) -> Box<dyn engine::Chooser>| {
        (0..m.schedules)
            .map(|s| {
                engine::execute(&initial, &mut *chooser(s), step, false)
                    .schedule
                    .len() as u64
            })
            .sum::<u64>()
    };
    let started = Instant::now();
    let steps = walk(&mut |s| Box::new(RandomWalk::new(BENCH_SEED.wrapping_add(s))));
    engines.push(rate("sim", "random".into(), (m.schedules, steps), started));
    let started = Instant::now();
    let steps =
        walk(&mut |s| Box::new(Pct::new(BENCH_SEED.wrapping_add(s), crate::hunt::PCT_DEPTH)));
    let pct = format!("pct (depth {})", crate::hunt::PCT_DEPTH);
    engines.push(rate("sim", pct.clone(), (m.schedules, steps), started));
    let started = Instant::now();
    let bound = crate::hunt::DFS_PREEMPTIONS;
    let report = engine::dfs_where(&initial, (bound, m.schedules), step, "", &|_| false);
    let dfs = format!("dfs (bound {bound})");
    let unreduced_dfs = (report.schedules, report.exhausted);
    engines.push(rate("sim", dfs, (report.schedules, report.steps), started));
    let iterations = (m.schedules / SHUTTLE_SHARE).max(1) as usize;
    let started = Instant::now();
    let done = threaded::shuttle_random_measured(&initial, step, BENCH_SEED, iterations)?;
    engines.push(rate(
        "shuttle",
        "random".into(),
        (done.executions, done.steps),
        started,
    ));
    let started = Instant::now();
    let depth = crate::hunt::PCT_DEPTH;
    let done = threaded::shuttle_pct_measured(&initial, step, BENCH_SEED, depth, iterations)?;
    engines.push(rate("shuttle", pct, (done.executions, done.steps), started));
    let started = Instant::now();
    let done = threaded::loom_measured(&initial, step, m.loom_bound)?;
    let loom = format!("dfs (bound {})", m.loom_bound);
    engines.push(rate("loom", loom, (done.executions, done.steps), started));
    let bfs = bfs_figures(&initial, m);
    let reduced = reduced_figures(&initial, m, &bfs, unreduced_dfs);
    let scaling = Scaling {
        seconds: m.scaling_seconds,
        jobs_1: timed_hunt_rate(scenario, 1, m.scaling_seconds),
        jobs_2: timed_hunt_rate(scenario, 2, m.scaling_seconds),
    };
    Ok(BenchJson {
        scenario: CANONICAL_SCENARIO,
        engines,
        bfs,
        reduced,
        scaling,
    })
}

/// The unreduced breadth-first search of `initial` in measurement mode, within `m`'s bounds.
fn bfs_figures(initial: &State, m: Measure) -> BfsFigures {
    let started = Instant::now();
    let jobs = crate::expand::default_jobs();
    let report = engine::bfs_jobs(
        initial,
        (m.bfs_states, m.bfs_bytes),
        (model::exec::step_with, jobs),
        ("", &|_| false),
        None,
    );
    let per_state = |bytes: u64| bytes as f64 / report.queued.0.max(1) as f64;
    BfsFigures {
        states: report.states,
        steps: report.steps,
        exhausted: report.exhausted,
        cut: report.cut,
        seconds: started.elapsed().as_secs_f64(),
        peak_mb: report.peak_bytes as f64 / crate::hunt::MIB as f64,
        peak_mb_source: "estimate",
        encoded_bytes_per_state: per_state(report.queued.1),
        queued_bytes_per_state: per_state(report.queued.2),
        jobs,
    }
}

/// The reduced searches of `initial` ([`Reduced`]) in measurement mode, within `m`'s bounds,
/// beside the unreduced figures of the same run.
fn reduced_figures(initial: &State, m: Measure, bfs: &BfsFigures, dfs: (u64, bool)) -> Reduced {
    let (symmetry, sleep) = (
        crate::reduce::Reduction::Symmetry,
        crate::reduce::Reduction::Sleep,
    );
    let started = Instant::now();
    let limits = (m.bfs_states, m.bfs_bytes);
    let step = model::exec::step_with;
    // The compact search on the default jobs, keyed by symmetry, as `writeiter search
    // --reduction symmetry` runs it (its clone-based twin is `reduce::bfs`).
    let key: crate::frontier::Key = crate::symmetry::canonical_fingerprint;
    let how = (
        step as crate::engine::Stepper,
        crate::expand::default_jobs(),
        key,
    );
    let report = crate::frontier::bfs_keyed(initial, limits, how, ("", &|_| false), None);
    let seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let bound = crate::hunt::DFS_PREEMPTIONS;
    let limits = (bound, m.schedules);
    let searched = crate::reduce::dfs(initial, limits, step, ("", &|_| false), sleep);
    let dfs = ReducedDfs {
        reduction: sleep.name(),
        bound,
        schedules: searched.schedules,
        steps: searched.steps,
        checks: searched.checks,
        exhausted: searched.exhausted,
        seconds: started.elapsed().as_secs_f64(),
        unreduced_schedules: dfs.0,
        unreduced_exhausted: dfs.1,
    };
    Reduced {
        reduction: symmetry.name(),
        states: report.states,
        steps: report.steps,
        checks: report.checks,
        exhausted: report.exhausted,
        cut: report.cut,
        seconds,
        unreduced_states: bfs.states,
        unreduced_steps: bfs.steps,
        unreduced_seconds: bfs.seconds,
        dfs,
    }
}

/// Schedules/s of a random-walk hunt on `scenario` with `jobs`, run for `seconds` (its whole
/// budget: a violation does not stop it).
pub fn timed_hunt_rate(scenario: &Scenario, jobs: usize, seconds: u64) -> f64 {
    let hunt = Hunt {
        engine: Engine::Sim,
        seed: BENCH_SEED,
        strategy: Some(Strategy::Random),
        source: Source::File(scenario.clone()),
        cases: u64::MAX / crate::hunt::CASE_SCHEDULES,
        max_seconds: Some(seconds),
        jobs,
        stepper: model::exec::step_with,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    };
    let result = hunt.run_classes(
        &crate::hunt::Known::new(),
        crate::hunt::Until::Budget,
        &std::sync::atomic::AtomicBool::new(false),
        &mut |_, _| {},
    );
    result.schedules as f64 * 1000.0 / result.elapsed_ms.max(1) as f64
}

/// The human table of [`measure`]'s figures.
pub fn measured_table(b: &BenchJson) -> String {
    let mut out = String::from(
        "| engine | strategy | schedules | steps | schedules/s | steps/s | seconds |\n|---|---|---|---|---|---|---|\n",
    );
    for e in &b.engines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.0} | {:.0} | {:.3} |",
            e.engine, e.strategy, e.schedules, e.steps, e.schedules_per_s, e.steps_per_s, e.seconds
        );
    }
    let bfs = &b.bfs;
    let how = match (bfs.exhausted, bfs.cut) {
        (true, _) => "exhausted",
        (_, true) => "cut by its memory budget",
        _ => "stopped at its state bound",
    };
    let _ = writeln!(
        out,
        "\nbfs (unreduced, jobs {}): {} states, {} steps, {how}, {:.1} s, peak {:.0} MiB ({}), {:.0} bytes a queued state ({:.0} encoded)\n{}hunt scaling ({} s each): jobs 1 {:.0} schedules/s, jobs 2 {:.0} schedules/s",
        bfs.jobs,
        bfs.states,
        bfs.steps,
        bfs.seconds,
        bfs.peak_mb,
        bfs.peak_mb_source,
        bfs.queued_bytes_per_state,
        bfs.encoded_bytes_per_state,
        reduced_lines(&b.reduced),
        b.scaling.seconds,
        b.scaling.jobs_1,
        b.scaling.jobs_2
    );
    out
}

/// The human lines of [`Reduced`]: each search with and without its reduction, and the
/// factors.
fn reduced_lines(r: &Reduced) -> String {
    let factor = |unreduced: u64, reduced: u64| unreduced as f64 / reduced.max(1) as f64;
    let d = &r.dfs;
    format!(
        "bfs (reduction {}): {} states (unreduced {}, x{:.2} fewer), {} steps (unreduced {}, x{:.2} fewer) and {} steps checking independence, {}, {:.1} s (unreduced {:.1} s)\ndfs (reduction {}, bound {}): {} executions (unreduced {}{}, x{:.2} fewer), {} steps and {} checking, {}, {:.1} s\n",
        r.reduction,
        r.states,
        r.unreduced_states,
        factor(r.unreduced_states, r.states),
        r.steps,
        r.unreduced_steps,
        factor(r.unreduced_steps, r.steps),
        r.checks,
        if r.exhausted {
            "exhausted"
        } else {
            "not exhausted"
        },
        r.seconds,
        r.unreduced_seconds,
        d.reduction,
        d.bound,
        d.schedules,
        d.unreduced_schedules,
        if d.unreduced_exhausted {
            ", exhausted"
        } else {
            ", budget reached"
        },
        factor(d.unreduced_schedules, d.schedules),
        d.steps,
        d.checks,
        if d.exhausted {
            "exhausted"
        } else {
            "budget reached"
        },
        d.seconds,
    )
}
