//! The `writeiter` command line: `run` and `hunt`. Bad input (an unknown flag, a bad value,
//! a malformed or unreadable file) is exit status 2 with a message naming the flag or file.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use model::exec::Task;
use model::scenario::Scenario;

use crate::engine;

/// `println!` that stops quietly when the reader went away (`writeiter … | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// `print!` that stops quietly when the reader went away.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}
use crate::hunt::{CASE_SCHEDULES, CaseResult, Engine, Hunt, HuntResult, Source, Strategy};
use crate::{report, scenario_file, swarm};

/// Usage, printed with `--help` and with a usage error.
pub const USAGE: &str = "usage:
  writeiter replay FILE                      (a corpus file: exit 0 when it still shows its verdict)
  writeiter shrink FILE                      (a corpus file: shrink it in place)
  writeiter explain FILE [--svg OUT] [--html OUT]   (a corpus file as a timeline)
  writeiter bench [--seeds N] [--schedules N]      (the engines side by side)
  writeiter run (FILE | --swarm SEED [--actors-max N]) [--schedule \"a0 a1 b3 ...\"] [--exact]
  writeiter hunt [--engine sim|shuttle|loom] [--strategy random|pct|dfs|bfs] [--seed N] [--schedules N]
                 [--max-seconds S] [--scenario FILE] [--jobs N] [--corpus-dir DIR] [--json]
                 [--shard I/N]";

/// Runs the command line `args` (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let result = match args.first().map(String::as_str) {
        Some("run") => parse_run(&args[1..]).and_then(run),
        Some("hunt") => parse_hunt(&args[1..]).and_then(hunt),
        Some("replay") => replay_corpus(&args[1..]),
        Some("shrink") => shrink_corpus(&args[1..]),
        Some("explain") => explain(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("-h" | "--help") => {
            say!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other}\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    result.unwrap_or_else(|message| {
        eprintln!("writeiter: {message}");
        ExitCode::from(2)
    })
}

/// Flags and their values, in order; positional arguments under the empty name.
fn flags<'a>(
    args: &'a [String],
    valued: &[&str],
    bare: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if valued.contains(&arg.as_str()) {
            let value = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
            out.push((arg.as_str(), value.as_str()));
        } else if bare.contains(&arg.as_str()) {
            out.push((arg.as_str(), ""));
        } else if arg.starts_with("--") {
            return Err(format!("unknown flag {arg}\n{USAGE}"));
        } else {
            out.push(("", arg.as_str()));
        }
    }
    Ok(out)
}

fn number(flag: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: `{value}` is not a whole number"))
}

/// Where a scenario comes from on the command line.
#[derive(Debug)]
enum ScenarioArg {
    File(PathBuf),
    /// A swarm seed, keeping at most this many actors (loom's limit).
    Swarm(u64, usize),
}

impl ScenarioArg {
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

struct RunArgs {
    scenario: ScenarioArg,
    schedule: String,
    exact: bool,
}

fn parse_run(args: &[String]) -> Result<RunArgs, String> {
    let mut scenario = None;
    let (mut schedule, mut exact, mut actors_max) = (String::new(), false, usize::MAX);
    for (flag, value) in flags(
        args,
        &["--schedule", "--swarm", "--actors-max"],
        &["--exact"],
    )? {
        match flag {
            "--schedule" => schedule = value.to_string(),
            "--exact" => exact = true,
            "--actors-max" => actors_max = number(flag, value)? as usize,
            "--swarm" => scenario = Some(ScenarioArg::Swarm(number(flag, value)?, usize::MAX)),
            _ if scenario.is_none() => scenario = Some(ScenarioArg::File(PathBuf::from(value))),
            _ => return Err(format!("unexpected argument {value}")),
        }
    }
    let mut scenario = scenario.ok_or("missing scenario FILE (or --swarm SEED)")?;
    if let ScenarioArg::Swarm(_, max) = &mut scenario {
        *max = actors_max;
    }
    Ok(RunArgs {
        scenario,
        schedule,
        exact,
    })
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let scenario = args.scenario.load()?;
    let schedule =
        model::drive::parse_schedule(&args.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let initial = scenario
        .build()
        .map_err(|e| format!("{}: {e}", args.scenario.describe()))?;
    say!(
        "writeiter run {}: ext4_file_write_iter as in Linux 4.1-4.4",
        args.scenario.describe()
    );
    let replayed = engine::replay(&initial, &schedule, model::exec::step)
        .map_err(|(index, e)| format!("--schedule: schedule step {index}: {e}"))?;
    let run = if args.exact || replayed.violation.is_some() {
        replayed
    } else {
        let mut chooser = engine::ScheduleThenFirst::new(schedule);
        engine::execute(&initial, &mut chooser, model::exec::step, true)
    };
    say_raw!("{}", report::trace(&run.trace));
    say!("{}", report::ending(&run.end));
    if let Some(violation) = &run.violation {
        say!("VIOLATION {violation}");
    }
    say_raw!("{}", report::final_state(&run.state));
    let finished = matches!(run.end, model::drive::End::Done | model::drive::End::Paused);
    Ok(if finished && run.violation.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `writeiter replay FILE`: 0 when the outcome matches the entry's verdict, 1 when not, 2 for
/// a malformed or unreadable file.
fn replay_corpus(args: &[String]) -> Result<ExitCode, String> {
    let [file] = args else {
        return Err(format!("replay takes one corpus FILE\n{USAGE}"));
    };
    let loaded = crate::corpus::load(Path::new(file)).map_err(|e| e.to_string())?;
    let entry = &loaded.entry;
    say!(
        "writeiter replay {file}: {} {} ({:?}), kernel {}",
        entry.id,
        entry.slug,
        entry.verdict,
        entry.kernel
    );
    say!("class: {}", entry.class_words());
    let outcome = crate::corpus::replay(&loaded);
    let verdict_holds = entry.verdict == crate::corpus::Verdict::Holds;
    let matches = match &outcome {
        crate::corpus::Outcome::Reproduced => {
            say!("reproduced: {}", entry.oracle);
            !verdict_holds
        }
        crate::corpus::Outcome::Refound(schedule) => {
            say!(
                "stale: the stored schedule no longer breaks {}; a search found it at \"{schedule}\"",
                entry.oracle
            );
            false
        }
        crate::corpus::Outcome::Held => {
            if verdict_holds {
                say!("held: a breadth-first search of every reachable state finds no violation");
            } else {
                say!("held: no search breaks {}", entry.oracle);
            }
            verdict_holds
        }
        crate::corpus::Outcome::NotExhausted(states) => {
            say!("not proven: the breadth-first search stopped at {states} states");
            false
        }
        crate::corpus::Outcome::Other(what) => {
            say!("broken instead: {what}");
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
/// before and after; exit 1 when the entry no longer violates its oracle.
fn shrink_corpus(args: &[String]) -> Result<ExitCode, String> {
    let [file] = args else {
        return Err(format!("shrink takes one corpus FILE\n{USAGE}"));
    };
    let path = Path::new(file);
    let loaded = crate::corpus::load(path).map_err(|e| e.to_string())?;
    let entry = &loaded.entry;
    let steps = model::drive::parse_schedule(&entry.schedule).map_or(0, |s| s.len());
    let before = crate::shrink::size(&loaded.scenario, steps);
    let Some(shrunk) = crate::shrink::shrink(&loaded.scenario, &entry.oracle, model::exec::step)
    else {
        say!(
            "{file}: no search breaks {} any more; nothing written",
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
    say!(
        "{file}: {before} -> {after}; preemptions {:?}, as short as the shortest found: {}",
        shrunk.preemptions,
        shrunk.shortest
    );
    Ok(ExitCode::SUCCESS)
}

/// `writeiter explain FILE [--svg OUT] [--html OUT]`: the corpus entry's run as a timeline.
fn explain(args: &[String]) -> Result<ExitCode, String> {
    let (mut file, mut svg, mut html) = (None, None, None);
    for (flag, value) in flags(args, &["--svg", "--html"], &[])? {
        match flag {
            "--svg" => svg = Some(PathBuf::from(value)),
            "--html" => html = Some(PathBuf::from(value)),
            _ if file.is_none() => file = Some(value.to_string()),
            _ => return Err(format!("unexpected argument {value}")),
        }
    }
    let file = file.ok_or("explain takes a corpus FILE")?;
    let loaded = crate::corpus::load(Path::new(&file)).map_err(|e| e.to_string())?;
    let initial = loaded.scenario.build().expect("checked on load");
    let schedule = model::drive::parse_schedule(&loaded.entry.schedule).expect("checked on load");
    let run = engine::replay(&initial, &schedule, model::exec::step)
        .map_err(|(i, e)| format!("{file}: schedule step {i}: {e}"))?;
    let title = format!(
        "{} {} ({}, Linux {}; {})",
        loaded.entry.id,
        loaded.entry.slug,
        loaded.entry.oracle,
        loaded.entry.kernel,
        loaded.entry.class_words()
    );
    say_raw!("{}", crate::explain::text(&title, &run));
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    if let Some(path) = &svg {
        write(path, crate::explain::svg(&title, &run))?;
    }
    if let Some(path) = &html {
        write(path, crate::explain::html(&title, &run))?;
    }
    Ok(if run.violation.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `writeiter bench [--seeds N] [--schedules N]`: the engines side by side, as tables.
fn bench(args: &[String]) -> Result<ExitCode, String> {
    let mut b = crate::bench::Bench {
        seeds: 5,
        schedules: 20_000,
    };
    for (flag, value) in flags(args, &["--seeds", "--schedules"], &[])? {
        match flag {
            "--seeds" => b.seeds = number(flag, value)?.max(1),
            "--schedules" => b.schedules = number(flag, value)?.max(10),
            _ => return Err(format!("unexpected argument {value}")),
        }
    }
    let load = |file: &str| {
        scenario_file::load(Path::new(file))
            .map_err(|e| format!("{e} (run bench from the repository root)"))
    };
    let (throughput, loom) = (
        load(crate::bench::THROUGHPUT_SCENARIO)?,
        load(crate::bench::LOOM_SCENARIO)?,
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    say!("writeiter bench: {cores} cores, release build");
    say!("\nthroughput on {}:\n", crate::bench::THROUGHPUT_SCENARIO);
    say_raw!(
        "{}",
        crate::bench::throughput(&throughput.build().expect("valid"), b.schedules)
    );
    say!(
        "\nfirst violation, swarm seeds 0..{} (jobs 1, up to {} cases each):\n",
        b.seeds,
        crate::bench::HUNT_CASES
    );
    say_raw!("{}", crate::bench::time_to_violation(b.seeds, &loom));
    let (one, all) = (
        crate::bench::hunt_rate(&throughput, 1),
        crate::bench::hunt_rate(&throughput, cores),
    );
    say!(
        "\nhunt speed-up ({} random cases on {}): jobs 1 {one:.0} schedules/s, jobs {cores} {all:.0} schedules/s: x{:.2}",
        crate::bench::SPEEDUP_CASES,
        crate::bench::THROUGHPUT_SCENARIO,
        all / one.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

/// `writeiter hunt`'s settings.
struct HuntArgs {
    hunt: Hunt,
    scenario_file: Option<PathBuf>,
    schedules: u64,
    corpus_dir: Option<PathBuf>,
    json: bool,
}

/// Default budget of `writeiter hunt`: schedules, and seconds.
pub const HUNT_SCHEDULES: u64 = 1_000_000;
/// Default wall-clock budget of `writeiter hunt`.
pub const HUNT_SECONDS: u64 = 60;

fn parse_hunt(args: &[String]) -> Result<HuntArgs, String> {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hunt = Hunt {
        engine: Engine::Sim,
        seed: 0,
        strategy: None,
        source: Source::Swarm,
        cases: 0,
        max_seconds: Some(HUNT_SECONDS),
        jobs,
        stepper: model::exec::step,
        shard: (0, 1),
    };
    let mut parsed = HuntArgs {
        hunt,
        scenario_file: None,
        schedules: HUNT_SCHEDULES,
        corpus_dir: None,
        json: false,
    };
    let valued = [
        "--engine",
        "--strategy",
        "--seed",
        "--schedules",
        "--max-seconds",
        "--scenario",
        "--jobs",
        "--corpus-dir",
        "--shard",
    ];
    for (flag, value) in flags(args, &valued, &["--json"])? {
        let h = &mut parsed.hunt;
        match flag {
            "--engine" => {
                h.engine = Engine::from_name(value)
                    .ok_or(format!("--engine: `{value}` is not sim, shuttle or loom"))?
            }
            "--strategy" => {
                h.strategy = Some(Strategy::from_name(value).ok_or(format!(
                    "--strategy: `{value}` is not random, pct, dfs or bfs"
                ))?)
            }
            "--seed" => h.seed = number(flag, value)?,
            "--schedules" => parsed.schedules = number(flag, value)?.max(1),
            "--max-seconds" => h.max_seconds = Some(number(flag, value)?),
            "--jobs" => h.jobs = number(flag, value)?.clamp(1, 256) as usize,
            "--scenario" => parsed.scenario_file = Some(PathBuf::from(value)),
            "--corpus-dir" => parsed.corpus_dir = Some(PathBuf::from(value)),
            "--json" => parsed.json = true,
            "--shard" => h.shard = shard(value)?,
            _ => return Err(format!("unexpected argument {value}")),
        }
    }
    check_hunt(&mut parsed)?;
    parsed.hunt.cases = parsed
        .schedules
        .div_ceil(CASE_SCHEDULES)
        .div_ceil(parsed.hunt.shard.1);
    Ok(parsed)
}

/// `--shard I/N` (I from 1): this hunt runs the cases numbered I-1 modulo N.
fn shard(value: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--shard: `{value}` is not I/N with 1 <= I <= N");
    let (i, n) = value.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i == 0 || i > n {
        return Err(bad());
    }
    Ok((i - 1, n))
}

/// The engine runs the strategy; the scenario file loads (and fits loom).
fn check_hunt(parsed: &mut HuntArgs) -> Result<(), String> {
    let engine = parsed.hunt.engine;
    if let Some(strategy) = parsed
        .hunt
        .strategy
        .filter(|s| !engine.strategies().contains(s))
    {
        return Err(format!(
            "--strategy {} does not run on --engine {}",
            strategy.name(),
            engine.name()
        ));
    }
    let Some(path) = &parsed.scenario_file else {
        return Ok(());
    };
    let scenario = scenario_file::load(path).map_err(|e| e.to_string())?;
    let max = crate::threaded::LOOM_ACTORS_MAX;
    if engine == Engine::Loom && scenario.actors.len() > max {
        let actors = scenario.actors.len();
        return Err(format!(
            "{}: loom runs at most {max} actors, the scenario has {actors}",
            path.display()
        ));
    }
    parsed.hunt.source = Source::File(scenario);
    Ok(())
}

fn hunt(args: HuntArgs) -> Result<ExitCode, String> {
    let h = &args.hunt;
    let strategy = h.strategy.map_or("portfolio", Strategy::name);
    say!(
        "writeiter hunt: engine {}, strategy {strategy}, seed {}, shard {}/{}, up to {} schedules ({} cases), jobs {}",
        h.engine.name(),
        h.seed,
        h.shard.0 + 1,
        h.shard.1,
        args.schedules,
        h.cases,
        h.jobs
    );
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal() && !args.json;
    let mut last = Instant::now();
    let result = h.run(&mut |case: &CaseResult, schedules: u64| {
        if terminal && last.elapsed().as_millis() >= 200 {
            let rate = schedules as f64 / started.elapsed().as_secs_f64().max(1e-3);
            eprint!(
                "\r  cases {:>6}  schedules {schedules:>9}  {rate:>9.0} schedules/s  violations {}",
                case.case.index + 1,
                u8::from(case.found.is_some())
            );
            last = Instant::now();
        }
    });
    if terminal {
        eprintln!();
    }
    let counterexample = match &result.found {
        Some(found) => report_violation(&args, found)?,
        None => None,
    };
    print_summary(&args, &result, counterexample.as_deref());
    Ok(if result.found.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The replay line of a found case.
fn replay_line(args: &HuntArgs, found: &CaseResult, schedule: &str) -> String {
    match &args.scenario_file {
        Some(path) => format!(
            "writeiter run {} --schedule \"{schedule}\" --exact",
            path.display()
        ),
        None if args.hunt.engine == Engine::Loom => format!(
            "writeiter run --swarm {} --actors-max {} --schedule \"{schedule}\" --exact",
            found.case.seed,
            crate::threaded::LOOM_ACTORS_MAX
        ),
        None => format!(
            "writeiter run --swarm {} --schedule \"{schedule}\" --exact",
            found.case.seed
        ),
    }
}

/// Prints the seed and replay line first, then the oracle, the actors and the trace tail;
/// writes the counterexample to the corpus dir when given. Returns its path.
fn report_violation(args: &HuntArgs, found: &CaseResult) -> Result<Option<String>, String> {
    let execution = found.found.as_ref().expect("a violation");
    let violation = execution.violation.as_ref().expect("a violation");
    let schedule: Vec<String> = execution.schedule.iter().map(Task::to_string).collect();
    let schedule = schedule.join(" ");
    let replay = replay_line(args, found, &schedule);
    say!("{}", found.case.options);
    say!("replay: {replay}");
    say!("VIOLATION {violation}");
    say!(
        "case {} (strategy {}), {} steps",
        found.case.index,
        found.case.strategy.name(),
        execution.schedule.len()
    );
    let initial = found.case.scenario.build().expect("valid");
    let traced = engine::replay(&initial, &execution.schedule, model::exec::step)
        .map_err(|(i, e)| format!("replay failed at {i}: {e}"))?;
    let tail = traced.trace.len().saturating_sub(report::TRACE_TAIL);
    say!(
        "trace (last {} of {} steps):",
        traced.trace.len() - tail,
        traced.trace.len()
    );
    say_raw!("{}", report::trace_from(&traced.trace[tail..], tail));
    let Some(dir) = &args.corpus_dir else {
        return Ok(None);
    };
    let path = write_counterexample(dir, args, found, &violation.to_string())?;
    say!("counterexample: {path}");
    Ok(Some(path))
}

/// Writes a corpus file `NNNN-<oracle>-seed<S>.toml` (the next free number in `dir`).
fn write_counterexample(
    dir: &Path,
    args: &HuntArgs,
    found: &CaseResult,
    violation: &str,
) -> Result<String, String> {
    let oracle = violation.split(':').next().unwrap_or("violation");
    let execution = found.found.as_ref().expect("a violation");
    let before = crate::shrink::size(&found.case.scenario, execution.schedule.len());
    let shrunk = crate::shrink::shrink(&found.case.scenario, oracle, args.hunt.stepper);
    let (scenario, run, record) = match &shrunk {
        Some(s) => (
            &s.scenario,
            &s.execution,
            Some((s.preemptions, s.shortest, before.to_string())),
        ),
        None => (&found.case.scenario, execution, None),
    };
    say!(
        "shrunk: {before} -> {}",
        crate::shrink::size(scenario, run.schedule.len())
    );
    std::fs::create_dir_all(dir).map_err(|e| format!("--corpus-dir {}: {e}", dir.display()))?;
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
        engine: args.hunt.engine.name(),
        strategy: found.case.strategy.name(),
        seed: found.case.seed,
        date: &today(),
        shrink: record,
        shuttle_schedule: shuttle_schedule(args, scenario, oracle),
        class_lines: "class = \"unknown\"\n".to_string(),
    };
    std::fs::write(&path, crate::corpus::to_toml(&new, scenario))
        .map_err(|e| format!("--corpus-dir {}: {e}", path.display()))?;
    Ok(path.display().to_string())
}

/// For a shuttle hunt, shuttle's own schedule string of the (shrunk) scenario's violation.
fn shuttle_schedule(args: &HuntArgs, scenario: &Scenario, oracle: &str) -> Option<String> {
    if args.hunt.engine != Engine::Shuttle {
        return None;
    }
    let initial = scenario.build().ok()?;
    let found =
        crate::threaded::shuttle_pct(&initial, args.hunt.stepper, args.hunt.seed, 3, 2_000)?;
    (found.oracle == oracle)
        .then_some(found.shuttle_schedule)
        .flatten()
}

/// Today's date (UTC, YYYY-MM-DD) for a corpus file's provenance; it never enters a result.
fn today() -> String {
    crate::corpus::today()
}

fn print_summary(args: &HuntArgs, result: &HuntResult, counterexample: Option<&str>) {
    let verdict = if result.found.is_some() {
        "violation"
    } else {
        "clean"
    };
    let rate = result.schedules as f64 * 1000.0 / (result.elapsed_ms.max(1) as f64);
    say!(
        "{verdict}: {} cases, {} schedules, {} steps in {} ms ({rate:.0} schedules/s)",
        result.cases,
        result.schedules,
        result.steps,
        result.elapsed_ms
    );
    if !args.json {
        return;
    }
    let found = result.found.as_ref();
    let oracle = found
        .and_then(|f| f.found.as_ref())
        .and_then(|e| e.violation.as_ref())
        .map(|v| v.oracle.name());
    let strategy = found.map_or(
        args.hunt.strategy.map_or("portfolio", Strategy::name),
        |f| f.case.strategy.name(),
    );
    let seed = found.map_or(args.hunt.seed, |f| f.case.seed);
    say!(
        "{{\"verdict\":\"{verdict}\",\"oracle\":{},\"engine\":\"{}\",\"strategy\":\"{strategy}\",\"seed\":{seed},\"schedules\":{},\"steps\":{},\"elapsed_ms\":{},\"counterexample\":{}}}",
        json_string(oracle),
        args.hunt.engine.name(),
        result.schedules,
        result.steps,
        result.elapsed_ms,
        json_string(counterexample)
    );
}

/// A JSON string (or `null`).
fn json_string(value: Option<&str>) -> String {
    let Some(text) = value else {
        return "null".to_string();
    };
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            c if (c as u32) < 0x20 => out += &format!("\\u{:04x}", c as u32),
            c => out.push(c),
        }
    }
    out + "\""
}
