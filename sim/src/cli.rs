//! The `writeiter` command line (clap): `run`, `hunt`, `replay`, `shrink`, `explain`, `bench`
//! and `help`. Exit status: 0 clean (or as the entry claims), 1 a violation (or a run that
//! could not finish), 2 bad input: an unknown or repeated flag, conflicting flags, a bad value,
//! a malformed or unreadable file (the message names the flag, or the file, line and field).
//! `--help` and `--version` exit 0.
//!
//! Output goes through [`Io`], so the whole command line runs in-process too (the bad-input
//! tests do): [`main`] gives it the process's standard output and error.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use model::patches::{Patch, Patches};
use model::scenario::Scenario;

use crate::engine;
use crate::hunt::{
    CASE_SCHEDULES, CaseResult, Class, Engine, Hunt, HuntResult, Known, Source, Strategy, Until,
};
use crate::scenario_file::clip_lines;
use crate::signature::KnownEntry;
use crate::{report, scenario_file, swarm};

/// Writes a line, ignoring a write error ([`main`]'s standard output ends the process
/// quietly when the reader went away, as in `writeiter … | head`).
macro_rules! say {
    ($w:expr, $($arg:tt)*) => {{
        let _ = writeln!($w, $($arg)*);
    }};
}

/// Writes text as it is, ignoring a write error (see [`say!`]).
macro_rules! say_raw {
    ($w:expr, $($arg:tt)*) => {{
        let _ = write!($w, $($arg)*);
    }};
}

/// The replay line's command: the binary built from this repository, exactly as printed.
pub const REPLAY_COMMAND: &str = "cargo run --release -p sim --bin writeiter --";

/// Default budget of `writeiter hunt`: schedules, and seconds.
pub const HUNT_SCHEDULES: u64 = 1_000_000;
/// Default wall-clock budget of `writeiter hunt`.
pub const HUNT_SECONDS: u64 = 60;
/// Most worker threads `--jobs` takes.
pub const JOBS_MAX: u64 = 256;
/// The corpus a hunt knows by default, when this directory exists.
pub const KNOWN_DEFAULT: &str = "corpus";
/// `--known none`: a hunt that knows no class.
pub const KNOWN_NONE: &str = "none";
/// The largest `--max-mb` (1 TiB).
pub const MAX_MB_MAX: u64 = 1 << 20;
/// The largest `bench --loom-bound`.
pub const LOOM_BOUND_MAX: u64 = 3;
/// Milliseconds between redraws of the hunt's progress line.
pub const PROGRESS_TICK_MS: u64 = 200;

/// Where a command writes: `out` its result (with `--json`, exactly one JSON document),
/// `err` human text that is not the result and every error; `progress` draws a progress
/// line on the process's standard error; `interrupt` is the flag Ctrl-C sets.
pub struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// Draw the hunt's progress line (standard error is a terminal).
    pub progress: bool,
    /// Set by Ctrl-C; a hunt stops between cases and reports what it has.
    pub interrupt: Option<&'static AtomicBool>,
}

/// The ext4 write-path harness: Linux 4.4's `ext4_file_write_iter` as a model, hunted for
/// concurrency bugs.
#[derive(Debug, Parser)]
#[command(name = "writeiter", version, arg_required_else_help = true)]
#[command(
    about = "Model-checks the Linux 4.4 ext4 write path (ext4_file_write_iter)",
    after_help = "Exit status: 0 clean, 1 a violation (or a run that could not finish), 2 bad input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario under a schedule, one line a step, every oracle checked.
    Run(RunArgs),
    /// Hunt for oracle violations over swarm scenarios (or one scenario file).
    Hunt(HuntArgs),
    /// Replay a corpus file: exit 0 when it still shows its verdict, 1 when not.
    Replay(ReplayArgs),
    /// Shrink a `violates` corpus file in place (actors, operations, lengths, schedule),
    /// or a starvation lasso file (actors, operations, repeats, lengths; the lasso searched
    /// again): exit 0 written, 1 when it no longer shows its verdict (nothing written).
    Shrink(FileArg),
    /// Explain a corpus file as a timeline (text, SVG, HTML).
    Explain(ExplainArgs),
    /// The engines side by side: throughput, time to the first violation, speed-up.
    Bench(BenchArgs),
    /// List the upstream fixes that `--patch` applies to the 4.4.121 model.
    Patches,
    /// Every corpus entry under 4.4.121, under each patch alone and under all of them.
    Matrix(MatrixArgs),
    /// Hunt, then show which program points of each actor kind it never reached.
    Coverage(crate::cli_coverage::CoverageArgs),
    /// One exhaustive search (BFS, or DFS within a preemption bound) of a scenario file,
    /// with or without partial-order reduction.
    Search(crate::cli_search::SearchArgs),
}

/// `--patch ID`, repeated: upstream fixes applied to the model.
#[derive(Debug, Args)]
pub(crate) struct PatchArgs {
    /// Apply the upstream fix with this commit id (7 to 12 hex digits; `writeiter patches`
    /// lists them) to the 4.4.121 model; repeat for more, `all` for every one.
    #[arg(long = "patch", value_name = "ID|all")]
    patch: Vec<String>,
}

impl PatchArgs {
    /// The patches named, or bad input naming the flag and the id.
    pub(crate) fn patches(&self) -> Result<Patches, String> {
        Patches::parse(&self.patch).map_err(|e| format!("--patch: {e}"))
    }

    /// `scenario` with the patches named applied as well.
    pub(crate) fn apply(&self, mut scenario: Scenario) -> Result<Scenario, String> {
        scenario.patches = scenario.patches.union(self.patches()?);
        Ok(scenario)
    }
}

#[derive(Debug, Args)]
struct MatrixArgs {
    /// The corpus directory.
    #[arg(long, value_name = "DIR", default_value = KNOWN_DEFAULT)]
    corpus: PathBuf,
    /// Standard output is one JSON document, `{"entries": [...]}` (schema in the README).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The scenario file (TOML; see the README's "Scenario files").
    #[arg(required_unless_present = "swarm", conflicts_with = "swarm")]
    file: Option<PathBuf>,
    /// Run the swarm scenario of this seed instead of a file.
    #[arg(long, value_name = "SEED")]
    swarm: Option<u64>,
    /// Keep only the swarm scenario's first N actors (loom's limit).
    #[arg(long, value_name = "N", requires = "swarm", conflicts_with = "file")]
    actors_max: Option<usize>,
    /// Tasks to step first, separated by spaces or commas: "a0 a1 b3 w4 e5".
    #[arg(long, default_value = "", hide_default_value = true)]
    schedule: String,
    /// Stop after the schedule (otherwise the first runnable task steps until the end).
    #[arg(long)]
    exact: bool,
    /// Search for a starvation lasso instead (actors may `repeat = "forever"`); with
    /// --schedule "STEM cycle: CYCLE", replay that lasso; with a schedule without `cycle:`,
    /// replay a path (to a model assertion the search found).
    #[arg(long, requires = "file", conflicts_with_all = ["swarm", "exact"])]
    liveness: bool,
    /// With --liveness: write the lasso (or the path to a model assertion) found to this
    /// file (`writeiter replay` and `writeiter explain` read it).
    #[arg(long, value_name = "OUT", requires = "liveness")]
    write: Option<PathBuf>,
    /// With --liveness: store the finding in this corpus as a new lasso entry
    /// (`DIR/liveness/NNNN-<verdict>….toml`, class unknown) for a person to triage.
    #[arg(long, value_name = "DIR", requires = "liveness")]
    corpus_dir: Option<PathBuf>,
    /// With --liveness: canonical states the search visits at most.
    #[arg(long, value_name = "N", requires = "liveness", default_value_t = crate::liveness::LIVENESS_STATES_DEFAULT as u64, value_parser = clap::value_parser!(u64).range(1..=crate::liveness::LIVENESS_STATES_MAX as u64))]
    states_max: u64,
    #[command(flatten)]
    patches: PatchArgs,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// The corpus file.
    file: PathBuf,
    /// When the stored schedule is stale, write the schedule a search found in its place
    /// (same oracle) into the file; review the diff like code.
    #[arg(long)]
    update: bool,
    #[command(flatten)]
    patches: PatchArgs,
}

#[derive(Debug, Args)]
struct FileArg {
    /// The corpus file.
    file: PathBuf,
    #[command(flatten)]
    patches: PatchArgs,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// The corpus file.
    file: PathBuf,
    /// Also draw the timeline as an SVG picture here.
    #[arg(long, value_name = "OUT")]
    svg: Option<PathBuf>,
    /// Also write an HTML page (timeline and sector table) here.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
    #[command(flatten)]
    patches: PatchArgs,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Swarm seeds 0..N for the time to the first violation.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// Schedules per throughput row.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(10..))]
    schedules: u64,
    /// One JSON document: every engine on examples/canonical.toml in measurement mode, its
    /// unreduced breadth-first search and the hunt's scaling (the human table on stderr).
    #[arg(long)]
    json: bool,
    /// With --json: states the breadth-first search may visit (default: all).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    bfs_states: Option<u64>,
    /// With --json: the breadth-first search's memory budget in MiB (estimated).
    #[arg(long, value_name = "MB", default_value_t = crate::hunt::BFS_MAX_MB, value_parser = clap::value_parser!(u64).range(1..=MAX_MB_MAX))]
    max_mb: u64,
    /// With --json: loom's preemption bound.
    #[arg(long, value_name = "N", default_value_t = crate::bench::LOOM_BENCH_BOUND as u64, value_parser = clap::value_parser!(u64).range(0..=LOOM_BOUND_MAX))]
    loom_bound: u64,
    /// With --json: seconds each scaling hunt (1 job, 2 jobs) runs.
    #[arg(long, value_name = "S", default_value_t = crate::bench::SCALING_SECONDS, value_parser = seconds)]
    scaling_seconds: u64,
}

/// `--engine`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum EngineArg {
    /// Our simulator over the pure model.
    Sim,
    /// shuttle's random or PCT scheduling of checker threads.
    Shuttle,
    /// loom's exhaustive search within a preemption bound (at most 3 actors).
    Loom,
}

/// `--strategy`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StrategyArg {
    /// Uniform random walk.
    Random,
    /// PCT, depth 3.
    Pct,
    /// Depth-first, at most 2 preemptions.
    Dfs,
    /// Breadth-first over states: a shortest counterexample.
    Bfs,
}

#[derive(Debug, Args)]
struct HuntArgs {
    /// The engine.
    #[arg(long, value_enum, default_value_t = EngineArg::Sim)]
    engine: EngineArg,
    /// One strategy for every case (default: the engine's portfolio in turn).
    #[arg(long, value_enum)]
    strategy: Option<StrategyArg>,
    /// Base seed: case i runs seed + i.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Schedules budget (64 a case).
    #[arg(long, default_value_t = HUNT_SCHEDULES, value_parser = clap::value_parser!(u64).range(1..))]
    schedules: u64,
    /// Wall-clock budget in seconds, at least 1 (0 would check nothing).
    #[arg(long, value_name = "S", default_value_t = HUNT_SECONDS, value_parser = seconds)]
    max_seconds: u64,
    /// Hunt in this scenario file (schedule seeds vary) instead of swarm scenarios.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Swarm cases as the blind swarm draws them, without coverage guidance.
    #[arg(long, conflicts_with = "scenario")]
    unguided: bool,
    /// Worker threads (default: all cores); the result does not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=JOBS_MAX))]
    jobs: Option<u64>,
    /// Write a violation, shrunk, as a corpus file into this directory (checked first).
    #[arg(long, value_name = "DIR")]
    corpus_dir: Option<PathBuf>,
    /// Standard output is one JSON document (schema in the README); human text goes to
    /// standard error.
    #[arg(long)]
    json: bool,
    /// Run only the cases numbered I-1 modulo N (I from 1).
    #[arg(long, value_name = "I/N", value_parser = shard)]
    shard: Option<(u64, u64)>,
    /// The corpus whose classes are known (default: `corpus/` when it exists); `none`
    /// knows none, so every class is new. Its lasso entries (`liveness/`) of a model
    /// assertion are known classes (a hunt can meet the same panic); those of a starvation
    /// are not, and the header counts them as left out: a hunt's executions are finite,
    /// so none shows a task waiting for ever (`writeiter run FILE --liveness` searches for
    /// starvations).
    #[arg(long, value_name = "DIR|none")]
    known: Option<String>,
    /// Stop at the first violation of a new class (otherwise the hunt runs its budget).
    #[arg(long)]
    stop_on_new: bool,
    /// Memory budget of each breadth-first search in MiB, estimated from its state counts
    /// and sizes (the same on every machine); a search that reaches it stops and says so.
    #[arg(long, value_name = "MB", default_value_t = crate::hunt::BFS_MAX_MB, value_parser = clap::value_parser!(u64).range(1..=MAX_MB_MAX))]
    max_mb: u64,
    /// Partial-order reduction of the depth-first and breadth-first cases, as `writeiter
    /// search --reduction` (`none`: the hunt's own unreduced searches); random and PCT cases
    /// ignore it. Our simulator only.
    #[arg(long, value_name = "none|sleep|symmetry|persistent", default_value = "none", value_parser = reduction_arg)]
    reduction: crate::reduce::Reduction,
    #[command(flatten)]
    patches: PatchArgs,
}

/// `--reduction`'s value, by [`crate::reduce::Reduction::name`].
fn reduction_arg(value: &str) -> Result<crate::reduce::Reduction, String> {
    crate::reduce::Reduction::from_name(value).ok_or_else(|| {
        let names: Vec<&str> = crate::reduce::Reduction::ALL
            .iter()
            .map(|r| r.name())
            .collect();
        format!("not a reduction (one of {})", names.join(", "))
    })
}

/// Runs the command line `args` (without the program name) on the process's standard output
/// and error; Ctrl-C stops a hunt between cases.
pub fn main(args: &[String]) -> ExitCode {
    static INTERRUPT: AtomicBool = AtomicBool::new(false);
    let mut out = QuietStdout;
    let mut err = std::io::stderr();
    let io = Io {
        out: &mut out,
        err: &mut err,
        progress: std::io::stderr().is_terminal(),
        interrupt: Some(&INTERRUPT),
    };
    execute(args, io)
}

/// Standard output that ends the process quietly when the reader went away.
struct QuietStdout;

impl Write for QuietStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout()
            .lock()
            .write(buf)
            .or_else(|_| std::process::exit(0))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout()
            .lock()
            .flush()
            .or_else(|_| std::process::exit(0))
    }
}

/// Runs the command line `args` (without the program name) with `io`.
pub fn execute(args: &[String], io: Io<'_>) -> ExitCode {
    let argv = std::iter::once("writeiter".to_string()).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let mut text = clip_lines(e.render().to_string().trim_end());
            text.push('\n');
            if e.use_stderr() {
                say_raw!(io.err, "{text}");
                return ExitCode::from(2);
            }
            say_raw!(io.out, "{text}");
            return ExitCode::SUCCESS;
        }
    };
    let Io {
        out,
        err,
        progress,
        interrupt,
    } = io;
    let result = match cli.command {
        Command::Run(args) => run(&args, progress, out),
        Command::Hunt(args) => {
            let io = Io {
                out,
                err: &mut *err,
                progress,
                interrupt,
            };
            hunt(&args, io)
        }
        Command::Replay(args) if crate::cli_liveness::is_lasso(&args.file) => {
            crate::cli_liveness::replay(&args.file, &args.patches, out)
        }
        Command::Replay(args) => replay_corpus(&args, out),
        Command::Shrink(args) if crate::cli_liveness::is_lasso(&args.file) => {
            crate::cli_shrink_lasso::shrink(&args.file, &args.patches, (progress, out))
        }
        Command::Shrink(args) => shrink_corpus(&args, out),
        Command::Explain(args) if crate::cli_liveness::is_lasso(&args.file) => {
            crate::cli_liveness::explain(&args.file, &args.patches, out)
        }
        Command::Explain(args) => explain(&args, out, err),
        Command::Bench(args) => bench(&args, out, err),
        Command::Patches => list_patches(out),
        Command::Matrix(args) => matrix(&args, progress, out, err),
        Command::Coverage(args) => crate::cli_coverage::run(&args, out),
        Command::Search(args) => crate::cli_search::run(&args, progress, out),
    };
    result.unwrap_or_else(|message| {
        say!(err, "writeiter: {}", clip_lines(&message));
        ExitCode::from(2)
    })
}

/// Where `run`'s scenario comes from.
enum ScenarioArg<'a> {
    File(&'a Path),
    /// A swarm seed, keeping at most this many actors (loom's limit).
    Swarm(u64, usize),
}

impl ScenarioArg<'_> {
    fn load(&self) -> Result<Scenario, String> {
        match self {
            ScenarioArg::File(path) => scenario_file::load(path).map_err(|e| e.to_string()),
            ScenarioArg::Swarm(seed, actors_max) => {
                let mut scenario = swarm::generate(*seed).0;
                scenario.actors.truncate(*actors_max);
                Ok(scenario)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            ScenarioArg::File(path) => path.display().to_string(),
            ScenarioArg::Swarm(seed, _) => format!("--swarm {seed}"),
        }
    }
}

fn run(args: &RunArgs, progress: bool, out: &mut dyn Write) -> Result<ExitCode, String> {
    if let (true, Some(file)) = (args.liveness, &args.file) {
        let search = (args.schedule.as_str(), args.states_max as usize);
        let store = (args.write.as_deref(), args.corpus_dir.as_deref());
        return crate::cli_liveness::run(file, search, &args.patches, store, (progress, out));
    }
    let source = match (&args.file, args.swarm) {
        (_, Some(seed)) => ScenarioArg::Swarm(seed, args.actors_max.unwrap_or(usize::MAX)),
        (Some(file), None) => ScenarioArg::File(file),
        (None, None) => return Err("missing scenario FILE (or --swarm SEED)".to_string()),
    };
    let scenario = args.patches.apply(source.load()?)?;
    let schedule =
        model::drive::parse_schedule(&args.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let initial = scenario
        .build()
        .map_err(|e| format!("{}: {e}", source.describe()))?;
    say!(
        out,
        "writeiter run {}: ext4_file_write_iter as in Linux 4.1-4.4{}",
        source.describe(),
        patched_words(scenario.patches)
    );
    let replayed = engine::replay(&initial, &schedule, model::exec::step_with)
        .map_err(|(index, e)| format!("--schedule: schedule step {index}: {e}"))?;
    let run = if args.exact || replayed.violation.is_some() {
        replayed
    } else {
        let mut chooser = engine::ScheduleThenFirst::new(schedule);
        engine::execute(&initial, &mut chooser, model::exec::step_with, true)
    };
    say_raw!(out, "{}", report::trace(&run.trace));
    say!(out, "{}", report::ending(&run.end));
    if let Some(violation) = &run.violation {
        say!(out, "VIOLATION {violation}");
    }
    say_raw!(out, "{}", report::final_state(&run.state));
    let finished = matches!(run.end, model::drive::End::Done | model::drive::End::Paused);
    Ok(if finished && run.violation.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// ` + 74dae4278546 + …` after the kernel version, for a patched model; empty for 4.4.121.
pub(crate) fn patched_words(patches: Patches) -> String {
    patches
        .iter()
        .map(|p| format!(" + {}", p.upstream().id))
        .collect()
}

/// A corpus file, with the patches of `--patch` applied to its scenario as well.
fn load_patched(file: &Path, patches: &PatchArgs) -> Result<crate::corpus::Loaded, String> {
    let mut loaded = crate::corpus::load(file).map_err(|e| e.to_string())?;
    loaded.scenario = patches.apply(loaded.scenario)?;
    Ok(loaded)
}

/// `writeiter patches`: each patch's commit, release and what it changes in the model.
fn list_patches(out: &mut dyn Write) -> Result<ExitCode, String> {
    say!(
        out,
        "Upstream fixes the model can apply to 4.4.121 (--patch ID, or --patch all):"
    );
    for patch in Patch::ALL {
        let u = patch.upstream();
        say!(out, "{} {:6} {}", u.id, u.version, u.title);
        say!(out, "    changes: {}", u.changes);
        if !u.requires.is_empty() {
            let ids: Vec<&str> = u.requires.iter().map(|p| p.upstream().id).collect();
            say!(out, "    brings in: {}", ids.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `writeiter matrix [--corpus DIR] [--json]`: every entry under 4.4.121, each patch alone and
/// all patches; exit 0 when every `bug` entry's class is gone under its `fixed_by` patch and
/// every entry shows its verdict under 4.4.121, else 1.
fn matrix(
    args: &MatrixArgs,
    progress: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, String> {
    let dir = &args.corpus;
    if !dir.is_dir() {
        return Err(format!("--corpus {}: not a directory", dir.display()));
    }
    let jobs = crate::expand::default_jobs();
    let bar = matrix_bar(progress);
    let judged = |done: usize, all: usize| {
        bar.set_length(all as u64);
        bar.set_position(done as u64);
    };
    let rows = crate::matrix::matrix(dir, jobs, &judged).map_err(|e| format!("--corpus {e}"))?;
    bar.finish_and_clear();
    let columns = crate::matrix::columns();
    let expected = |row: &crate::matrix::Row| {
        let entry = &row.loaded.entry;
        let at_44 = match entry.verdict {
            crate::corpus::Verdict::Violates => row.cells[0] == crate::matrix::Cell::Violates,
            crate::corpus::Verdict::Holds => row.cells[0] == crate::matrix::Cell::Holds,
        };
        let fixed = crate::matrix::fixed_by(&row.loaded).is_none_or(|patch| {
            let column = columns
                .iter()
                .position(|(name, _)| name == patch.upstream().id);
            column.is_some_and(|c| row.cells[c].class_gone())
        });
        at_44 && fixed
    };
    let ok = rows.iter().all(expected);
    if args.json {
        say!(out, "{}", matrix_json(&rows, &columns));
        if !ok {
            say!(
                err,
                "writeiter matrix: an entry is off its verdict or its fix (see the JSON)"
            );
        }
    } else {
        say_raw!(out, "{}", matrix_text(&rows, &columns));
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The matrix's progress line on standard error (a terminal only): cells judged of all.
fn matrix_bar(shown: bool) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{elapsed} [{bar:20}] cells {pos}/{len}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(PROGRESS_TICK_MS));
    bar
}

/// The matrix as a Markdown table, then the other classes that showed.
fn matrix_text(rows: &[crate::matrix::Row], columns: &[(String, Patches)]) -> String {
    let short = |name: &str| name.chars().take(7).collect::<String>();
    let mut text = String::from("| entry | class |");
    for (name, _) in columns {
        text += &format!(" {} |", short(name));
    }
    text += "\n|---|---|";
    text += &"---|".repeat(columns.len());
    text.push('\n');
    let mut others = Vec::new();
    for row in rows {
        let entry = &row.loaded.entry;
        let class = entry.class.map_or("control", crate::corpus::Class::name);
        text += &format!("| {:04} {} | {class} |", entry.id, entry.slug);
        for (cell, (name, _)) in row.cells.iter().zip(columns) {
            text += &format!(" {} |", cell.word());
            if let crate::matrix::Cell::Other(signature) = cell {
                others.push(format!(
                    "{:04} under {}: {signature}",
                    entry.id,
                    short(name)
                ));
            }
        }
        text.push('\n');
    }
    if !others.is_empty() {
        text += "\nother: the entry's class is gone, and another class shows:\n";
        for line in others {
            text += &format!("- {line}\n");
        }
    }
    text
}

/// One entry of `writeiter matrix --json`.
#[derive(Debug, serde::Serialize)]
struct MatrixJson<'a> {
    id: u32,
    file: &'a str,
    slug: &'a str,
    oracle: &'a str,
    verdict: &'static str,
    class: Option<&'static str>,
    fixed_by: Option<&'a str>,
    /// Column name (`4.4`, a commit id, `all`) to `violates`, `holds`, `holds≤N` or `other`.
    cells: std::collections::BTreeMap<&'a str, String>,
    /// Column name to the class an `other` cell showed.
    other: std::collections::BTreeMap<&'a str, &'a str>,
}

fn matrix_json(rows: &[crate::matrix::Row], columns: &[(String, Patches)]) -> String {
    let entries: Vec<MatrixJson<'_>> = rows
        .iter()
        .map(|row| {
            let entry = &row.loaded.entry;
            let named = || {
                row.cells
                    .iter()
                    .zip(columns)
                    .map(|(c, (n, _))| (n.as_str(), c))
            };
            MatrixJson {
                id: entry.id,
                file: &row.file,
                slug: &entry.slug,
                oracle: &entry.oracle,
                verdict: verdict_name(entry.verdict),
                class: entry.class.map(crate::corpus::Class::name),
                fixed_by: entry.fixed_by.as_deref(),
                cells: named().map(|(n, c)| (n, c.word())).collect(),
                other: named()
                    .filter_map(|(n, c)| match c {
                        crate::matrix::Cell::Other(s) => Some((n, s.as_str())),
                        _ => None,
                    })
                    .collect(),
            }
        })
        .collect();
    serde_json::json!({ "entries": entries }).to_string()
}

/// A corpus verdict as the file spells it.
fn verdict_name(verdict: crate::corpus::Verdict) -> &'static str {
    match verdict {
        crate::corpus::Verdict::Violates => "violates",
        crate::corpus::Verdict::Holds => "holds",
    }
}

/// `writeiter replay FILE`: 0 when the outcome matches the entry's verdict, 1 when not, 2 for
/// a malformed or unreadable file.
fn replay_corpus(args: &ReplayArgs, out: &mut dyn Write) -> Result<ExitCode, String> {
    let file = args.file.as_path();
    let loaded = load_patched(file, &args.patches)?;
    let entry = &loaded.entry;
    say!(
        out,
        "writeiter replay {}: {} {} ({}), kernel {}{}",
        file.display(),
        entry.id,
        entry.slug,
        verdict_name(entry.verdict),
        entry.kernel,
        patched_words(loaded.scenario.patches)
    );
    say!(out, "class: {}", entry.class_words());
    let outcome = crate::corpus::replay(&loaded);
    let verdict_holds = entry.verdict == crate::corpus::Verdict::Holds;
    let matches = match &outcome {
        crate::corpus::Outcome::Reproduced => {
            say!(out, "reproduced: {}", entry.oracle);
            !verdict_holds
        }
        crate::corpus::Outcome::Refound(schedule) if args.update => {
            crate::corpus::store_schedule(file, schedule).map_err(|e| e.to_string())?;
            say!(
                out,
                "updated: the stored schedule was stale; {} now holds the one a search found: \"{schedule}\"",
                file.display()
            );
            true
        }
        crate::corpus::Outcome::Refound(schedule) => {
            say!(
                out,
                "stale: the stored schedule no longer breaks {}; a search found it at \"{schedule}\" (writeiter replay --update writes it)",
                entry.oracle
            );
            false
        }
        crate::corpus::Outcome::Held => {
            if verdict_holds {
                say!(
                    out,
                    "held: a breadth-first search of every reachable state finds no violation"
                );
            } else {
                say!(out, "held: no search breaks {}", entry.oracle);
            }
            verdict_holds
        }
        crate::corpus::Outcome::NotExhausted(states) => {
            say!(
                out,
                "not proven: the breadth-first search stopped at {states} states"
            );
            false
        }
        crate::corpus::Outcome::Other(what) => {
            say!(out, "broken instead: {what}");
            false
        }
    };
    Ok(if matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `writeiter shrink FILE`: shrinks a `violates` corpus entry in place and prints its sizes
/// before and after; exit 1 when the entry no longer violates its oracle. A `holds` entry is
/// a control and is refused (exit 2): shrinking would rewrite it as `violates`.
fn shrink_corpus(args: &FileArg, out: &mut dyn Write) -> Result<ExitCode, String> {
    let path = args.file.as_path();
    let file = path.display();
    let loaded = load_patched(path, &args.patches)?;
    let entry = &loaded.entry;
    if entry.verdict == crate::corpus::Verdict::Holds {
        return Err(format!(
            "{file}: verdict: `holds`: a holds entry is a control that no schedule breaks; \
             shrink only shrinks `violates` entries (nothing written)"
        ));
    }
    let steps = model::drive::parse_schedule(&entry.schedule).map_or(0, |s| s.len());
    let before = crate::shrink::size(&loaded.scenario, steps);
    let target = match &entry.signature {
        Some(signature) => crate::shrink::Target::class(&entry.oracle, signature),
        None => entry.oracle.as_str().into(),
    };
    let Some(shrunk) = crate::shrink::shrink(&loaded.scenario, target, model::exec::step_with)
    else {
        say!(
            out,
            "{file}: no search breaks {} in its class any more; nothing written",
            entry.oracle
        );
        return Ok(ExitCode::from(1));
    };
    let after = crate::shrink::size(&shrunk.scenario, shrunk.execution.schedule.len());
    let p = &entry.provenance;
    let new = crate::corpus::NewEntry {
        id: entry.id,
        slug: &entry.slug,
        oracle: &entry.oracle,
        schedule: &crate::corpus::schedule_text(&shrunk.execution),
        postmortem: &entry.postmortem,
        engine: &p.engine,
        strategy: &p.strategy,
        seed: p.seed,
        date: &p.date,
        shrink: Some((shrunk.preemptions, shrunk.shortest, before.to_string())),
        shuttle_schedule: None,
        class_lines: entry.class_lines(),
    };
    std::fs::write(path, crate::corpus::to_toml(&new, &shrunk.scenario))
        .map_err(|e| format!("{file}: {e}"))?;
    let preemptions = shrunk
        .preemptions
        .map_or("none found by DFS".to_string(), |p| p.to_string());
    say!(
        out,
        "{file}: {before} -> {after}; preemptions {preemptions}, as short as the shortest found: {}",
        shrunk.shortest
    );
    Ok(ExitCode::SUCCESS)
}

/// `writeiter explain FILE [--svg OUT] [--html OUT]`: the corpus entry's run as a timeline.
/// A stale schedule (it no longer breaks the entry's oracle, or cannot step) is re-found by
/// the same search `replay` uses, said on standard error, and the found schedule explained.
fn explain(
    args: &ExplainArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, String> {
    let file = args.file.display();
    let loaded = load_patched(&args.file, &args.patches)?;
    let entry = &loaded.entry;
    let initial = loaded
        .scenario
        .build()
        .map_err(|e| format!("{file}: scenario: {e}"))?;
    let stored = model::drive::parse_schedule(&entry.schedule)
        .map_err(|e| format!("{file}: schedule: {e}"))?;
    let replayed = engine::replay(&initial, &stored, model::exec::step_with);
    let shows = |run: &engine::Execution| {
        run.violation
            .as_ref()
            .is_some_and(|v| v.oracle.name() == entry.oracle)
    };
    let stale = match &replayed {
        Ok(run) => entry.verdict == crate::corpus::Verdict::Violates && !shows(run),
        Err(_) => true,
    };
    let run = if stale {
        match crate::corpus::replay(&loaded) {
            crate::corpus::Outcome::Refound(schedule) => {
                say!(
                    err,
                    "{file}: schedule stale, violation re-found at \"{schedule}\""
                );
                let schedule = model::drive::parse_schedule(&schedule)
                    .map_err(|e| format!("{file}: re-found schedule: {e}"))?;
                engine::replay(&initial, &schedule, model::exec::step_with)
                    .map_err(|(i, e)| format!("{file}: re-found schedule step {i}: {e}"))?
            }
            _ => match replayed {
                Ok(run) => run,
                Err((i, e)) => {
                    say!(
                        err,
                        "{file}: schedule step {i}: {e}; no search breaks {} any more",
                        entry.oracle
                    );
                    return Ok(ExitCode::from(1));
                }
            },
        }
    } else {
        replayed.map_err(|(i, e)| format!("{file}: schedule step {i}: {e}"))?
    };
    let title = format!(
        "{} {} ({}, Linux {}{}; {})",
        entry.id,
        entry.slug,
        entry.oracle,
        entry.kernel,
        patched_words(loaded.scenario.patches),
        entry.class_words()
    );
    say_raw!(out, "{}", crate::explain::text(&title, &run));
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    if let Some(path) = &args.svg {
        write(path, crate::explain::svg(&title, &run))?;
    }
    if let Some(path) = &args.html {
        write(path, crate::explain::html(&title, &run))?;
    }
    Ok(if run.violation.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `writeiter bench [--seeds N] [--schedules N]`: the engines side by side, as tables.
fn bench(args: &BenchArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitCode, String> {
    if args.json {
        let scenario = scenario_file::load(Path::new(crate::bench::CANONICAL_SCENARIO))
            .map_err(|e| format!("{e} (run bench from the repository root)"))?;
        let m = crate::bench::Measure {
            schedules: args.schedules,
            bfs_states: args.bfs_states.unwrap_or(u64::MAX),
            bfs_bytes: args.max_mb * crate::hunt::MIB,
            loom_bound: args.loom_bound as usize,
            scaling_seconds: args.scaling_seconds,
        };
        let figures = crate::bench::measure(&scenario, m)?;
        say_raw!(err, "{}", crate::bench::measured_table(&figures));
        say!(
            out,
            "{}",
            serde_json::to_string(&figures).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let b = crate::bench::Bench {
        seeds: args.seeds,
        schedules: args.schedules,
    };
    let load = |file: &str| {
        scenario_file::load(Path::new(file))
            .map_err(|e| format!("{e} (run bench from the repository root)"))
    };
    let (throughput, loom) = (
        load(crate::bench::THROUGHPUT_SCENARIO)?,
        load(crate::bench::LOOM_SCENARIO)?,
    );
    let initial = throughput
        .build()
        .map_err(|e| format!("{}: {e}", crate::bench::THROUGHPUT_SCENARIO))?;
    let cores = crate::expand::default_jobs();
    say!(out, "writeiter bench: {cores} cores, release build");
    say!(
        out,
        "\nthroughput on {}:\n",
        crate::bench::THROUGHPUT_SCENARIO
    );
    say_raw!(out, "{}", crate::bench::throughput(&initial, b.schedules));
    say!(
        out,
        "\nfirst violation, swarm seeds 0..{} (jobs 1, up to {} cases each):\n",
        b.seeds,
        crate::bench::HUNT_CASES
    );
    say_raw!(out, "{}", crate::bench::time_to_violation(b.seeds, &loom));
    let (one, all) = (
        crate::bench::hunt_rate(&throughput, 1),
        crate::bench::hunt_rate(&throughput, cores),
    );
    say!(
        out,
        "\nhunt speed-up ({} random cases on {}): jobs 1 {one:.0} schedules/s, jobs {cores} {all:.0} schedules/s: x{:.2}",
        crate::bench::SPEEDUP_CASES,
        crate::bench::THROUGHPUT_SCENARIO,
        all / one.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

/// `--max-seconds S`: a whole number of seconds, at least 1 (a budget of 0 would check no
/// schedule at all yet report a clean hunt).
fn seconds(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(0) => Err("0 would check nothing; give at least 1".to_string()),
        Ok(s) => Ok(s),
        Err(_) => Err(format!("`{value}` is not a whole number of seconds")),
    }
}

/// `--shard I/N` (I from 1): this hunt runs the cases numbered I-1 modulo N.
fn shard(value: &str) -> Result<(u64, u64), String> {
    let bad = || format!("`{value}` is not I/N with 1 <= I <= N");
    let (i, n) = value.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i == 0 || i > n {
        return Err(bad());
    }
    Ok((i - 1, n))
}

/// A hunt's settings, checked: the engine runs the strategy, the scenario file loads (and
/// fits loom), the corpus directory is a writable directory.
struct HuntPlan<'a> {
    args: &'a HuntArgs,
    hunt: Hunt,
    known: KnownClasses,
}

/// The classes a hunt knows: the corpus it read, its entries, and what could not be used.
#[derive(Default)]
struct KnownClasses {
    /// The directory, when one was read.
    dir: Option<PathBuf>,
    /// Its `violates` entries with their signatures.
    entries: Vec<KnownEntry>,
    /// Entries left out (a stale schedule).
    stale: Vec<String>,
    /// Its lasso entries of a starvation: no class of a hunt
    /// ([`crate::cli_liveness::HuntClass::Starvation`]).
    starvations: usize,
}

impl KnownClasses {
    /// `--known`: a directory, `none`, or by default `corpus/` when it exists.
    fn read(flag: Option<&str>, stepper: engine::Stepper) -> Result<KnownClasses, String> {
        let dir = match flag {
            Some(KNOWN_NONE) => return Ok(KnownClasses::default()),
            Some(dir) => PathBuf::from(dir),
            None if Path::new(KNOWN_DEFAULT).is_dir() => PathBuf::from(KNOWN_DEFAULT),
            None => return Ok(KnownClasses::default()),
        };
        if !dir.is_dir() {
            return Err(format!("--known {}: not a directory", dir.display()));
        }
        let classes = crate::signature::corpus_signatures(&dir, stepper)
            .map_err(|e| format!("--known {}: {e}", dir.display()))?;
        Ok(KnownClasses {
            dir: Some(dir),
            entries: classes.known,
            stale: classes.stale,
            starvations: classes.starvations.len(),
        })
    }

    /// Signature to entry number (the lowest number when entries share a signature).
    fn by_signature(&self) -> Known {
        let mut known = Known::new();
        for entry in &self.entries {
            known.entry(entry.signature.clone()).or_insert(entry.id);
        }
        known
    }

    /// An entry's class name.
    fn class(&self, id: u32) -> &'static str {
        self.entries
            .iter()
            .find(|e| e.id == id)
            .map_or("unknown", |e| e.class)
    }

    /// What the header says of them.
    fn describe(&self) -> String {
        match &self.dir {
            None => "known classes: none".to_string(),
            Some(dir) => format!(
                "known classes: {} ({} entries, {} signatures{})",
                dir.display(),
                self.entries.len(),
                self.by_signature().len(),
                starvations_words(self.starvations)
            ),
        }
    }
}

/// The header's words on a corpus's starvation lasso entries, left out of the known
/// classes (none: nothing).
fn starvations_words(starvations: usize) -> String {
    match starvations {
        0 => String::new(),
        n => format!(
            "; {n} starvation lasso {} left out: a hunt runs finite executions, `writeiter run FILE --liveness` searches for starvations",
            if n == 1 { "entry" } else { "entries" }
        ),
    }
}

impl HuntArgs {
    fn plan(&self) -> Result<HuntPlan<'_>, String> {
        let engine = match self.engine {
            EngineArg::Sim => Engine::Sim,
            EngineArg::Shuttle => Engine::Shuttle,
            EngineArg::Loom => Engine::Loom,
        };
        let strategy = self.strategy.map(|s| match s {
            StrategyArg::Random => Strategy::Random,
            StrategyArg::Pct => Strategy::Pct,
            StrategyArg::Dfs => Strategy::Dfs,
            StrategyArg::Bfs => Strategy::Bfs,
        });
        if let Some(s) = strategy.filter(|s| !engine.strategies().contains(s)) {
            return Err(format!(
                "--strategy {} does not run on --engine {}",
                s.name(),
                engine.name()
            ));
        }
        if engine != Engine::Sim && self.reduction != crate::reduce::Reduction::None {
            return Err(format!(
                "--reduction {}: only --engine sim searches under a reduction, not --engine {}",
                self.reduction.name(),
                engine.name()
            ));
        }
        let source = match &self.scenario {
            None => crate::cli_coverage::swarm_source(self.unguided, &[]),
            Some(path) => {
                let scenario = scenario_file::load(path).map_err(|e| e.to_string())?;
                let max = crate::threaded::LOOM_ACTORS_MAX;
                if engine == Engine::Loom && scenario.actors.len() > max {
                    let actors = scenario.actors.len();
                    return Err(format!(
                        "{}: loom runs at most {max} actors, the scenario has {actors}",
                        path.display()
                    ));
                }
                Source::File(scenario)
            }
        };
        if let Some(dir) = &self.corpus_dir {
            writable_dir(dir).map_err(|e| format!("--corpus-dir {}: {e}", dir.display()))?;
        }
        let shard = self.shard.unwrap_or((0, 1));
        let jobs = self
            .jobs
            .map_or_else(crate::expand::default_jobs, |j| j as usize);
        let hunt = Hunt {
            engine,
            seed: self.seed,
            strategy,
            source,
            cases: self.schedules.div_ceil(CASE_SCHEDULES).div_ceil(shard.1),
            max_seconds: Some(self.max_seconds),
            jobs,
            stepper: model::exec::step_with,
            shard,
            patches: self.patches.patches()?,
        };
        let known = KnownClasses::read(self.known.as_deref(), hunt.stepper)?;
        Ok(HuntPlan {
            args: self,
            hunt,
            known,
        })
    }
}

/// `dir` is a directory this process can write a file in (made when missing).
fn writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("not a writable directory: {e}"))?;
    if !dir.is_dir() {
        return Err("not a directory".to_string());
    }
    let probe = dir.join(format!(".writeiter-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("not a writable directory: {e}"))?;
    std::fs::remove_file(&probe).map_err(|e| format!("cannot remove {}: {e}", probe.display()))
}

/// Ctrl-C sets `flag` (a hunt stops between cases and reports); a second Ctrl-C ends the
/// process at once.
fn on_ctrl_c(flag: &'static AtomicBool) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let installed = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
        // Without a handler Ctrl-C ends the hunt as it always did.
        drop(installed);
    });
}

fn hunt(args: &HuntArgs, io: Io<'_>) -> Result<ExitCode, String> {
    let plan = args.plan()?;
    if args.json {
        hunt_to(&plan, io.interrupt, io.progress, Some(io.out), io.err)
    } else {
        hunt_to(&plan, io.interrupt, io.progress, None, io.out)
    }
}

/// Runs the planned hunt: human text to `human`, the JSON document (with `--json`) to `json`.
fn hunt_to(
    plan: &HuntPlan<'_>,
    interrupt: Option<&'static AtomicBool>,
    progress: bool,
    json: Option<&mut dyn Write>,
    human: &mut dyn Write,
) -> Result<ExitCode, String> {
    let (h, args) = (&plan.hunt, plan.args);
    // Ctrl-C is caught from before the first line: after it, a hunt always reports.
    let never = AtomicBool::new(false);
    let stop = match interrupt {
        Some(flag) => {
            on_ctrl_c(flag);
            flag
        }
        None => &never,
    };
    print_header(plan, human);
    let bar = progress_bar(progress, h.cases, args.max_seconds);
    let started = Instant::now();
    let mut found = 0u64;
    let until = if args.stop_on_new {
        Until::FirstNew
    } else {
        Until::Budget
    };
    let known = plan.known.by_signature();
    let result = h.run_reduced(
        (args.max_mb * crate::hunt::MIB, args.reduction),
        &known,
        until,
        stop,
        &mut |case: &CaseResult, schedules: u64| {
            found += u64::from(case.found.is_some());
            let rate = schedules as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.inc(1);
            bar.set_message(format!(
                "{schedules} schedules, {rate:.0} schedules/s, violations {found}"
            ));
        },
    );
    bar.finish_and_clear();
    if result.interrupted {
        say!(
            human,
            "interrupted (Ctrl-C): the result covers the {} cases finished before it",
            result.cases
        );
    }
    let mut reported = Vec::new();
    for class in &result.classes {
        reported.push(report_violation(plan, class, human)?);
    }
    for line in &plan.known.stale {
        say!(human, "{line}");
    }
    say!(human, "{}", crate::cli_coverage::summary_line(&result));
    print_classes(plan, &result, &reported, human);
    print_summary(plan, &result, human);
    print_search_notes(plan, &result, human);
    if let Some(json) = json {
        let document = summary_json(plan, &result, &reported);
        say!(json, "{document}");
    }
    Ok(if result.classes.iter().any(|c| c.known.is_none()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What bounded the hunt's searches: a breadth-first search its memory budget cut, and a
/// scenario file searched once.
fn print_search_notes(plan: &HuntPlan<'_>, result: &HuntResult, human: &mut dyn Write) {
    let (h, args) = (&plan.hunt, plan.args);
    if let Some((case, states)) = result.cut {
        say!(
            human,
            "bfs cut: case {case}'s breadth-first search reached its memory budget (--max-mb {}) at {states} states: it did not explore every state",
            args.max_mb
        );
    }
    if h.single_search() {
        say!(
            human,
            "one search: the scenario file under {} is searched once, not per case",
            h.strategy.unwrap_or(Strategy::Dfs).name()
        );
    }
}

/// The hunt's first line: its settings and the classes it knows.
fn print_header(plan: &HuntPlan<'_>, human: &mut dyn Write) {
    let (h, args) = (&plan.hunt, plan.args);
    let strategy = h.strategy.map_or("portfolio", Strategy::name);
    say!(
        human,
        "writeiter hunt: model {}, engine {}, strategy {strategy}, seed {}, shard {}/{}, up to {} schedules ({} cases) or {} s, jobs {}, {}",
        h.patches,
        h.engine.name(),
        h.seed,
        h.shard.0 + 1,
        h.shard.1,
        args.schedules,
        h.cases,
        args.max_seconds,
        h.jobs,
        plan.known.describe()
    );
    if let Some(note) = reduction_note(plan) {
        say!(human, "{note}");
    }
}

/// The strategies of the hunt's cases that search under `--reduction` (depth-first and
/// breadth-first) and those that ignore it (random and PCT), in portfolio order. Under `none`
/// the first are the hunt's own unreduced searches.
fn reduction_cases(plan: &HuntPlan<'_>) -> (Vec<&'static str>, Vec<&'static str>) {
    let strategies: &[Strategy] = match &plan.hunt.strategy {
        Some(strategy) => std::slice::from_ref(strategy),
        None => &Strategy::PORTFOLIO,
    };
    let names = |exhaustive: bool| {
        let chosen = strategies
            .iter()
            .filter(|s| matches!(s, Strategy::Dfs | Strategy::Bfs) == exhaustive);
        chosen.map(|s| s.name()).collect::<Vec<_>>()
    };
    (names(true), names(false))
}

/// With `--reduction` other than `none`, which of the hunt's cases search under it and which
/// ignore it (random and PCT).
fn reduction_note(plan: &HuntPlan<'_>) -> Option<String> {
    let reduction = plan.args.reduction;
    if reduction == crate::reduce::Reduction::None {
        return None;
    }
    let name = reduction.name();
    let (under, ignoring) = reduction_cases(plan);
    let mut parts = Vec::new();
    if !under.is_empty() {
        parts.push(format!(
            "the {} cases search under it (as writeiter search --reduction {name})",
            under.join(" and ")
        ));
    }
    if !ignoring.is_empty() {
        parts.push(format!("the {} cases ignore it", ignoring.join(" and ")));
    }
    Some(format!("reduction {name}: {}", parts.join("; ")))
}

/// A class's words: `known 0010 (bug)` or `unknown (new)`.
fn class_words(plan: &HuntPlan<'_>, class: &Class) -> String {
    match class.known {
        Some(id) => format!("known {id:04} ({})", plan.known.class(id)),
        None => "unknown (new)".to_string(),
    }
}

/// A line on standard error while one long search runs (`writeiter search`, `run
/// --liveness`): the time it has taken so far and what it is doing. Hidden unless `shown`
/// (standard error is a terminal); the caller clears it when the search ends.
pub(crate) fn working_line(shown: bool, what: &str) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{elapsed} {spinner} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(PROGRESS_TICK_MS));
    bar
}

/// The hunt's progress line on standard error: elapsed time and budget, cases, schedules,
/// schedules/s, violations. Hidden unless `shown`.
fn progress_bar(shown: bool, cases: u64, seconds: u64) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(cases),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let template = format!("{{elapsed}} of {seconds}s [{{bar:20}}] cases {{pos}}/{{len}}, {{msg}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(PROGRESS_TICK_MS));
    bar
}

/// `s` quoted for a POSIX shell when it needs it.
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The replay line of a found case: the command that shows the same violation, exactly as
/// printed (from the repository root).
fn replay_line(plan: &HuntPlan<'_>, found: &CaseResult, schedule: &str) -> String {
    let source = match &plan.args.scenario {
        Some(path) => shell_word(&path.display().to_string()),
        None if plan.hunt.engine == Engine::Loom => format!(
            "--swarm {} --actors-max {}",
            found.case.seed,
            crate::threaded::LOOM_ACTORS_MAX
        ),
        None => format!("--swarm {}", found.case.seed),
    };
    let patches: String = plan
        .hunt
        .patches
        .ids()
        .iter()
        .map(|id| format!(" --patch {id}"))
        .collect();
    format!("{REPLAY_COMMAND} run {source}{patches} --schedule \"{schedule}\" --exact")
}

/// What was printed of a class's first find: its counterexample file, if written, and its
/// replay line.
type Reported = (Option<String>, String);

/// Prints the first find of a class: the seed, the class and the replay line first, then
/// the oracle, the scenario's operations and the trace tail; writes a new class's
/// counterexample to the corpus dir when given. Returns its path and the replay line.
fn report_violation(
    plan: &HuntPlan<'_>,
    class: &Class,
    out: &mut dyn Write,
) -> Result<Reported, String> {
    let found = &class.first;
    let Some(execution) = &found.found else {
        return Err("a violating case without its execution".to_string());
    };
    let Some(violation) = &execution.violation else {
        return Err("a violating execution without its violation".to_string());
    };
    let schedule = crate::corpus::schedule_text(execution);
    let replay = replay_line(plan, found, &schedule);
    say!(out, "{}", found.case.options);
    say!(
        out,
        "class: {} signature {} {}",
        class_words(plan, class),
        class.signature.id(),
        class.signature
    );
    say!(out, "replay: {replay}");
    say!(out, "VIOLATION {violation}");
    say!(
        out,
        "case {} (strategy {}), {} steps",
        found.case.index,
        found.case.strategy.name(),
        execution.schedule.len()
    );
    say_raw!(out, "{}", report::scenario(&found.case.scenario));
    let initial = found
        .case
        .scenario
        .build()
        .map_err(|e| format!("the found scenario: {e}"))?;
    let traced = engine::replay(&initial, &execution.schedule, plan.hunt.stepper)
        .map_err(|(i, e)| format!("replay failed at {i}: {e}"))?;
    let tail = traced.trace.len().saturating_sub(report::TRACE_TAIL);
    say!(
        out,
        "trace (last {} of {} steps):",
        traced.trace.len() - tail,
        traced.trace.len()
    );
    say_raw!(out, "{}", report::trace_from(&traced.trace[tail..], tail));
    let Some(dir) = plan
        .args
        .corpus_dir
        .as_ref()
        .filter(|_| class.known.is_none())
    else {
        return Ok((None, replay));
    };
    let path = write_counterexample(dir, plan, found, &violation.to_string(), out)?;
    say!(out, "counterexample: {path}");
    Ok((Some(path), replay))
}

/// Writes a corpus file `NNNN-<oracle>-seed<S>.toml` (the next free number in `dir`).
fn write_counterexample(
    dir: &Path,
    plan: &HuntPlan<'_>,
    found: &CaseResult,
    violation: &str,
    out: &mut dyn Write,
) -> Result<String, String> {
    let oracle = violation.split(':').next().unwrap_or("violation");
    let Some(execution) = &found.found else {
        return Err("a violating case without its execution".to_string());
    };
    let before = crate::shrink::size(&found.case.scenario, execution.schedule.len());
    let signature = found.signature.as_ref().map(ToString::to_string);
    let target = match &signature {
        Some(signature) => crate::shrink::Target::class(oracle, signature),
        None => oracle.into(),
    };
    let shrunk = crate::shrink::shrink(&found.case.scenario, target, plan.hunt.stepper);
    let (scenario, run, record) = match &shrunk {
        Some(s) => (
            &s.scenario,
            &s.execution,
            Some((s.preemptions, s.shortest, before.to_string())),
        ),
        None => (&found.case.scenario, execution, None),
    };
    say!(
        out,
        "shrunk: {before} -> {}",
        crate::shrink::size(scenario, run.schedule.len())
    );
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("--corpus-dir {}: {e}", dir.display()))?;
    let id = 1 + entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .count() as u32;
    let slug = format!("{oracle}-seed{}", found.case.seed);
    let path = dir.join(format!("{id:04}-{slug}.toml"));
    let postmortem = format!(
        "Found by writeiter hunt, not yet explained.\n{violation}\n{}",
        found.case.options
    );
    let new = crate::corpus::NewEntry {
        id,
        slug: &slug,
        oracle,
        schedule: &crate::corpus::schedule_text(run),
        postmortem: &postmortem,
        engine: plan.hunt.engine.name(),
        strategy: found.case.strategy.name(),
        seed: found.case.seed,
        date: &today(),
        shrink: record,
        shuttle_schedule: shuttle_schedule(
            plan,
            found,
            shrunk.as_ref().map(|s| &s.scenario),
            oracle,
        ),
        class_lines: "class = \"unknown\"\n".to_string(),
    };
    std::fs::write(&path, crate::corpus::to_toml(&new, scenario))
        .map_err(|e| format!("--corpus-dir {}: {e}", path.display()))?;
    Ok(path.display().to_string())
}

/// For a shuttle hunt, shuttle's own schedule string of the stored scenario's violation: a
/// shrunk scenario is searched again; an unshrunk one replays the case's own exploration.
fn shuttle_schedule(
    plan: &HuntPlan<'_>,
    found: &CaseResult,
    shrunk: Option<&Scenario>,
    oracle: &str,
) -> Option<String> {
    let h = &plan.hunt;
    if h.engine != Engine::Shuttle {
        return None;
    }
    let failure = match shrunk {
        Some(scenario) => {
            let initial = scenario.build().ok()?;
            crate::threaded::shuttle_pct(&initial, h.stepper, h.seed, 3, 2_000)?
        }
        None => crate::hunt::threaded_failure(h.engine, &found.case, h.stepper)?,
    };
    (failure.oracle == oracle)
        .then_some(failure.shuttle_schedule)
        .flatten()
}

/// Today's date (UTC, YYYY-MM-DD) for a corpus file's provenance; it never enters a result.
fn today() -> String {
    crate::corpus::today()
}

/// The table of classes: signature, oracle, count, known entry, first find.
fn print_classes(
    plan: &HuntPlan<'_>,
    result: &HuntResult,
    reported: &[Reported],
    out: &mut dyn Write,
) {
    if result.classes.is_empty() {
        return;
    }
    let new = result.classes.iter().filter(|c| c.known.is_none()).count();
    say!(
        out,
        "classes: {} ({} known, {new} new)",
        result.classes.len(),
        result.classes.len() - new
    );
    say!(
        out,
        "  {:<16} {:>6}  {:<14} {:>10} {:>10} {:>8}  signature",
        "id",
        "count",
        "known",
        "first seed",
        "schedules",
        "ms"
    );
    for (class, (path, _)) in result.classes.iter().zip(reported) {
        let known = class.known.map_or("new".to_string(), |id| {
            format!("{id:04} {}", plan.known.class(id))
        });
        say!(
            out,
            "  {:<16} {:>6}  {known:<14} {:>10} {:>10} {:>8}  {}",
            class.signature.id(),
            class.count,
            class.first.case.seed,
            class.first_schedules,
            class.first.finished_ms,
            class.signature
        );
        if let Some(path) = path {
            say!(out, "  {:<16} counterexample: {path}", "");
        }
    }
}

/// The human summary line.
fn print_summary(plan: &HuntPlan<'_>, result: &HuntResult, out: &mut dyn Write) {
    let verdict = if result.found.is_some() {
        "violation"
    } else {
        "clean"
    };
    let rate = result.schedules as f64 * 1000.0 / (result.elapsed_ms.max(1) as f64);
    let shard = plan.hunt.shard;
    say!(
        out,
        "{verdict}: {} cases, {} schedules, {} steps in {} ms ({rate:.0} schedules/s), shard {}/{}",
        result.cases,
        result.schedules,
        result.steps,
        result.elapsed_ms,
        shard.0 + 1,
        shard.1
    );
}

/// The `--json` document, one line (its schema is in the README, "`writeiter hunt --json`").
#[derive(Debug, serde::Serialize)]
struct HuntJson<'a> {
    verdict: &'static str,
    oracle: Option<&'static str>,
    violation: Option<String>,
    engine: &'static str,
    strategy: &'static str,
    seed: u64,
    case: Option<u64>,
    shard: String,
    cases: u64,
    schedules: u64,
    steps: u64,
    elapsed_ms: u128,
    interrupted: bool,
    replay: Option<&'a str>,
    counterexample: Option<&'a str>,
    classes: Vec<ClassJson<'a>>,
    /// `--reduction` and the cases it applies to, as the line after the text header says.
    reduction: ReductionJson,
    /// Present only when a breadth-first search's memory budget cut it.
    #[serde(skip_serializing_if = "Option::is_none")]
    bfs_cut: Option<CutJson>,
}

/// `--reduction` in the `--json` document: its name, the strategies of the cases that search
/// under it and of those that ignore it ([`reduction_cases`]).
#[derive(Debug, serde::Serialize)]
struct ReductionJson {
    name: &'static str,
    applies_to: Vec<&'static str>,
    ignored_by: Vec<&'static str>,
}

/// A breadth-first search its memory budget cut, in the `--json` document.
#[derive(Debug, serde::Serialize)]
struct CutJson {
    case: u64,
    states: u64,
    max_mb: u64,
}

/// One class in the `--json` document.
#[derive(Debug, serde::Serialize)]
struct ClassJson<'a> {
    signature: String,
    id: String,
    oracle: &'static str,
    known: Option<u32>,
    count: u64,
    first_seed: u64,
    first_schedules: u64,
    first_ms: u128,
    counterexample: Option<&'a str>,
}

fn class_json<'a>(class: &Class, reported: &'a Reported) -> ClassJson<'a> {
    ClassJson {
        signature: class.signature.to_string(),
        id: class.signature.id(),
        oracle: class.signature.oracle.name(),
        known: class.known,
        count: class.count,
        first_seed: class.first.case.seed,
        first_schedules: class.first_schedules,
        first_ms: class.first.finished_ms,
        counterexample: reported.0.as_deref(),
    }
}

/// The `--json` document of a finished hunt: the top-level fields describe its first
/// violation (in case order), `classes` every class.
fn summary_json(plan: &HuntPlan<'_>, result: &HuntResult, reported: &[Reported]) -> String {
    let h = &plan.hunt;
    let found = result.found.as_ref();
    let violation = found
        .and_then(|f| f.found.as_ref())
        .and_then(|e| e.violation.as_ref());
    let strategy = found.map_or(h.strategy.map_or("portfolio", Strategy::name), |f| {
        f.case.strategy.name()
    });
    // The first violation is the first find of the first class.
    let first = reported.first();
    let (applies_to, ignored_by) = reduction_cases(plan);
    let document = HuntJson {
        verdict: if found.is_some() {
            "violation"
        } else {
            "clean"
        },
        oracle: violation.map(|v| v.oracle.name()),
        violation: violation.map(ToString::to_string),
        engine: h.engine.name(),
        strategy,
        seed: found.map_or(h.seed, |f| f.case.seed),
        case: found.map(|f| f.case.index),
        shard: format!("{}/{}", h.shard.0 + 1, h.shard.1),
        cases: result.cases,
        schedules: result.schedules,
        steps: result.steps,
        elapsed_ms: result.elapsed_ms,
        interrupted: result.interrupted,
        replay: first.map(|r| r.1.as_str()),
        counterexample: first.and_then(|r| r.0.as_deref()),
        classes: (result.classes.iter().zip(reported))
            .map(|(c, r)| class_json(c, r))
            .collect(),
        reduction: ReductionJson {
            name: plan.args.reduction.name(),
            applies_to,
            ignored_by,
        },
        bfs_cut: result.cut.map(|(case, states)| CutJson {
            case,
            states,
            max_mb: plan.args.max_mb,
        }),
    };
    // Plain strings, numbers and options: serialising cannot fail.
    serde_json::to_string(&document).unwrap_or_default()
}
