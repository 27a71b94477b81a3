//! `writeiter search FILE`: one exhaustive search of a scenario file, breadth-first over
//! states or depth-first within a preemption bound, with or without partial-order reduction
//! ([`crate::reduce`]). It prints the first violation found (oracle and schedule) and the
//! search's figures; `--compare` runs it unreduced too (or under sleep sets, when unreduced) and prints both verdicts and
//! the reduction factor. Exit status: 1 when a violation was found, 0 when none, 2 on bad
//! input. On a terminal, standard error shows how far a reduced breadth-first search got
//! (states, queue, states per second, checking steps).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};

use crate::engine::SearchReport;
use crate::reduce::{self, Reduction};

/// The largest `search --bound`.
pub const SEARCH_BOUND_MAX: u64 = 16;
/// `search --schedules`' default: executions a depth-first search may run.
pub const SEARCH_SCHEDULES: u64 = 1_000_000;

/// `writeiter search`'s flags.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The scenario file (or a corpus entry: its scenario).
    file: PathBuf,
    /// Breadth-first over states, or depth-first within `--bound` preemptions.
    #[arg(long, value_enum, default_value_t = SearchStrategy::Bfs)]
    strategy: SearchStrategy,
    /// Partial-order reduction: `sleep` (sleep sets), `symmetry` (states equal up to a
    /// renumbering of bios, dios, io_ends and work items are one; breadth-first only),
    /// `persistent` (symmetry plus persistent sets; breadth-first only, and slow) or `none`
    /// (every interleaving, the slow twin).
    #[arg(long, value_enum, default_value_t = ReductionArg::Sleep)]
    reduction: ReductionArg,
    /// Only this oracle's violations count (default: any).
    #[arg(long, value_name = "NAME")]
    oracle: Option<String>,
    /// Depth-first: the preemption bound.
    #[arg(long, value_name = "N", default_value_t = crate::hunt::DFS_PREEMPTIONS as u64, value_parser = clap::value_parser!(u64).range(0..=SEARCH_BOUND_MAX))]
    bound: u64,
    /// Depth-first: executions it may run.
    #[arg(long, value_name = "N", default_value_t = SEARCH_SCHEDULES, value_parser = clap::value_parser!(u64).range(1..))]
    schedules: u64,
    /// Breadth-first: states it may visit (default: all).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    states: Option<u64>,
    /// Breadth-first: its memory budget in MiB (estimated).
    #[arg(long, value_name = "MB", default_value_t = crate::hunt::BFS_MAX_MB, value_parser = clap::value_parser!(u64).range(1..=crate::cli::MAX_MB_MAX))]
    max_mb: u64,
    /// Breadth-first, unreduced or under symmetry: threads expanding states (default: all
    /// cores, as the hunt); the result does not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=crate::cli::JOBS_MAX))]
    jobs: Option<u64>,
    /// Also run the search unreduced (or, when it is unreduced, under sleep sets), and
    /// print both verdicts and the reduction factor.
    #[arg(long)]
    compare: bool,
    /// Measurement mode: a violation ends its execution (or path), not the search, so the
    /// figures cover the whole search (as `writeiter bench --json`); none is reported.
    #[arg(long)]
    measure: bool,
}

/// `--strategy`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SearchStrategy {
    /// Breadth-first over states, with a visited set.
    Bfs,
    /// Depth-first over schedules within a preemption bound.
    Dfs,
}

/// `--reduction`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReductionArg {
    /// Every interleaving.
    None,
    /// Sleep sets, independence checked at the state.
    Sleep,
    /// Symmetry: states equal up to the numbering of bios, dios, io_ends and work items
    /// are one (breadth-first only; the depth-first search runs unreduced).
    Symmetry,
    /// Symmetry, and persistent sets: a task whose step commutes with everything the
    /// other tasks can do without it is explored alone (breadth-first only).
    Persistent,
}

impl ReductionArg {
    fn reduction(self) -> Reduction {
        match self {
            ReductionArg::None => Reduction::None,
            ReductionArg::Sleep => Reduction::Sleep,
            ReductionArg::Symmetry => Reduction::Symmetry,
            ReductionArg::Persistent => Reduction::Persistent,
        }
    }
}

/// Runs `writeiter search`.
pub fn run(args: &SearchArgs, progress: bool, out: &mut dyn Write) -> Result<ExitCode, String> {
    let scenario = crate::scenario_file::load(&args.file).or_else(|e| {
        let entry = crate::corpus::load(&args.file).map_err(|_| e.to_string())?;
        Ok::<_, String>(entry.scenario)
    })?;
    let initial = scenario
        .build()
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    let oracle = args.oracle.clone().unwrap_or_default();
    if !oracle.is_empty() && crate::oracle::Oracle::from_name(&oracle).is_none() {
        return Err(format!("--oracle: `{oracle}` is not an oracle"));
    }
    let reduction = args.reduction.reduction();
    let (report, seconds) = search((args, progress), &initial, &oracle, reduction);
    let _ = writeln!(out, "{}", verdict(&report));
    let _ = writeln!(out, "{}", figures(args, reduction, &report, seconds));
    if args.compare {
        let other = match reduction {
            Reduction::None => Reduction::Sleep,
            Reduction::Sleep | Reduction::Symmetry | Reduction::Persistent => Reduction::None,
        };
        let (twin, twin_seconds) = search((args, progress), &initial, &oracle, other);
        let _ = writeln!(out, "{}", figures(args, other, &twin, twin_seconds));
        let _ = writeln!(
            out,
            "{}",
            comparison(args.strategy, (reduction, &report), (other, &twin))
        );
    }
    Ok(if report.found.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The search `args` asks for under `reduction`, and its seconds.
fn search(
    (args, progress): (&SearchArgs, bool),
    initial: &model::state::State,
    oracle: &str,
    reduction: Reduction,
) -> (SearchReport, f64) {
    let started = Instant::now();
    let what = match (args.strategy, reduction) {
        (SearchStrategy::Bfs, Reduction::None) => "breadth-first search",
        (SearchStrategy::Bfs, Reduction::Sleep) => "breadth-first search under sleep sets",
        (SearchStrategy::Bfs, Reduction::Symmetry) => "breadth-first search under symmetry",
        (SearchStrategy::Bfs, Reduction::Persistent) => {
            "breadth-first search under symmetry and persistent sets"
        }
        (SearchStrategy::Dfs, Reduction::None | Reduction::Symmetry | Reduction::Persistent) => {
            "depth-first search"
        }
        (SearchStrategy::Dfs, Reduction::Sleep) => "depth-first search under sleep sets",
    };
    let line = crate::cli::working_line(progress, what);
    let step = model::exec::step_with;
    let accept = |_: &crate::engine::Execution| !args.measure;
    let report = match args.strategy {
        SearchStrategy::Bfs => {
            let limits = (
                args.states.unwrap_or(u64::MAX),
                args.max_mb * crate::hunt::MIB,
            );
            let jobs = args
                .jobs
                .map_or_else(crate::expand::default_jobs, |j| j as usize);
            let mut watch = |p: &reduce::Progress| {
                let rate = p.states as f64 / started.elapsed().as_secs_f64().max(1e-3);
                line.set_message(progress_text(what, p, rate));
            };
            if let Some(key) = compact_key(reduction) {
                let how = (step as crate::engine::Stepper, jobs, key);
                let shown = (None, &mut watch as reduce::Watch<'_>);
                crate::frontier::bfs_watched(initial, limits, how, (oracle, &accept), shown)
            } else {
                let how: (crate::engine::Stepper, Reduction) = (step, reduction);
                reduce::bfs_progress(initial, limits, how, (oracle, &accept), &mut watch)
            }
        }
        SearchStrategy::Dfs => {
            let limits = (args.bound as usize, args.schedules);
            reduce::dfs(initial, limits, step, (oracle, &accept), reduction)
        }
    };
    line.finish_and_clear();
    (report, started.elapsed().as_secs_f64())
}

/// The visited-set key of the compact breadth-first search on `--jobs` threads
/// ([`crate::frontier::bfs_keyed`]) for the reductions that are only a key: none, and
/// symmetry (its clone-based twin is [`reduce::bfs`]). Sleep and persistent sets run the
/// clone-based searches of [`reduce`].
fn compact_key(reduction: Reduction) -> Option<crate::frontier::Key> {
    match reduction {
        Reduction::None => Some(crate::fingerprint::fingerprint),
        Reduction::Symmetry => Some(crate::symmetry::canonical_fingerprint),
        Reduction::Sleep | Reduction::Persistent => None,
    }
}

/// The progress line of a breadth-first search: states, queue, rate, checks.
fn progress_text(what: &str, p: &reduce::Progress, rate: f64) -> String {
    format!(
        "{what}: {} states, {} queued, {rate:.0} states/s, {} steps, {} checking independence",
        p.states, p.queued, p.steps, p.checks
    )
}

/// The violation found and its schedule, or that none was.
fn verdict(report: &SearchReport) -> String {
    match &report.found {
        Some(run) => {
            let violation = run.violation.as_ref().expect("a found run violates");
            let schedule = crate::corpus::schedule_text(run);
            format!("violation: {violation}\nschedule: {schedule}")
        }
        None if report.exhausted => "no violation: the search covered everything".to_string(),
        None => "no violation found: the search stopped at its bound".to_string(),
    }
}

/// The search's last line: what it ran and covered.
fn figures(args: &SearchArgs, reduction: Reduction, r: &SearchReport, seconds: f64) -> String {
    let how = match (r.found.is_some(), r.exhausted, r.cut) {
        (true, _, _) => "stopped at the violation",
        (_, true, _) => "exhausted",
        (_, _, true) => "cut by its memory budget",
        _ => "stopped at its bound",
    };
    let what = match args.strategy {
        SearchStrategy::Bfs => format!("bfs: {} states, {} ends", r.states, r.schedules),
        SearchStrategy::Dfs => format!("dfs (bound {}): {} executions", args.bound, r.schedules),
    };
    format!(
        "{what}, {} steps, {} steps checking independence, {how}, {seconds:.2} s (reduction {})",
        r.steps,
        r.checks,
        reduction.name()
    )
}

/// Both searches' verdicts and the reduction factor: of executions and steps depth-first,
/// of states and steps breadth-first.
fn comparison(
    strategy: SearchStrategy,
    a: (Reduction, &SearchReport),
    b: (Reduction, &SearchReport),
) -> String {
    let oracle = |r: &SearchReport| {
        r.found.as_ref().map_or("none", |run| {
            run.violation.as_ref().expect("violates").oracle.name()
        })
    };
    let (reduced, unreduced) = if a.0 != Reduction::None {
        (a.1, b.1)
    } else {
        (b.1, a.1)
    };
    let factor = |u: u64, r: u64| u as f64 / r.max(1) as f64;
    let steps = factor(unreduced.steps, reduced.steps);
    let counts = match strategy {
        SearchStrategy::Bfs => format!(
            "states {} vs {} (x{:.2} fewer)",
            reduced.states,
            unreduced.states,
            factor(unreduced.states, reduced.states)
        ),
        SearchStrategy::Dfs => format!(
            "executions x{:.2} fewer",
            factor(unreduced.schedules, reduced.schedules)
        ),
    };
    format!(
        "verdicts: reduced {}, unreduced {}; {counts}, steps x{steps:.2} fewer",
        oracle(reduced),
        oracle(unreduced)
    )
}
