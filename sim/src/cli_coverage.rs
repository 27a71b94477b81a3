//! `writeiter coverage`: runs a hunt (the same cases as `writeiter hunt` with the same
//! flags) and reports what it covered ([`crate::coverage`]): protocol points, and per actor
//! kind the program points it never reached, as text and, with `--html`, as a page. With
//! `--scenario FILE` a breadth-first search of every reachable state of the file gives the
//! reachable total, and the report says what fraction of it the hunt reached. Also the
//! `--unguided` flag of `writeiter hunt` and its coverage line, kept here so that
//! `crate::cli` only names them.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;

use crate::cli::{HUNT_SCHEDULES, HUNT_SECONDS, JOBS_MAX};
use crate::coverage::{self, ActorKind};
use crate::guide::Selection;
use crate::hunt::{CASE_SCHEDULES, Engine, Hunt, HuntResult, Known, Source, Until};
use crate::scenario_file;
use crate::swarm::Kind;

/// `writeiter coverage`'s flags.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Base seed: as `writeiter hunt --seed`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Schedules budget (64 a case).
    #[arg(long, default_value_t = HUNT_SCHEDULES, value_parser = clap::value_parser!(u64).range(1..))]
    schedules: u64,
    /// Wall-clock budget in seconds, at least 1.
    #[arg(long, value_name = "S", default_value_t = HUNT_SECONDS, value_parser = clap::value_parser!(u64).range(1..))]
    max_seconds: u64,
    /// Hunt in this scenario file instead of swarm scenarios; the report then gives the
    /// scenario's reachable total.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Worker threads (default: all cores); the result does not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=JOBS_MAX))]
    jobs: Option<u64>,
    /// Swarm cases as the blind swarm draws them, without coverage guidance.
    #[arg(long)]
    unguided: bool,
    /// Leave these kinds out of every swarm case (comma-separated: buffered, sync-dio,
    /// aio-dio, read, shrink, flush, crash).
    #[arg(long, value_name = "KINDS", value_delimiter = ',', value_parser = kind)]
    without: Vec<Kind>,
    /// Also write the report as an HTML page here.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
    #[command(flatten)]
    patches: crate::cli::PatchArgs,
}

/// A `--without` value.
fn kind(value: &str) -> Result<Kind, String> {
    Kind::from_name(value).ok_or_else(|| {
        let names: Vec<String> = Kind::ALL.iter().map(Kind::to_string).collect();
        format!("`{value}` is not a kind ({})", names.join(", "))
    })
}

/// Where a hunt's swarm cases come from: coverage-guided unless `unguided`, leaving out
/// the kinds `without` names.
pub fn swarm_source(unguided: bool, without: &[Kind]) -> Source {
    if unguided && without.is_empty() {
        return Source::Swarm;
    }
    Source::Selected(Selection {
        guided: !unguided,
        without: without.to_vec(),
    })
}

/// The hunt's coverage line: protocol points and program points reached per actor kind.
pub fn summary_line(result: &HuntResult) -> String {
    let c = &result.coverage;
    let kinds: Vec<String> = ActorKind::ALL
        .iter()
        .map(|&kind| {
            let all = coverage::program_points()
                .into_iter()
                .filter(|&pc| coverage::kind_of(pc) == kind)
                .count();
            format!("{} {}/{all}", kind.name(), all - c.unreached(kind).len())
        })
        .collect();
    format!(
        "coverage: {} protocol points; program points reached: {} (writeiter coverage lists the rest)",
        c.points.len(),
        kinds.join(", ")
    )
}

/// Runs `writeiter coverage`.
pub fn run(args: &CoverageArgs, out: &mut dyn Write) -> Result<ExitCode, String> {
    let patches = args.patches.patches()?;
    let (scenario, source) = source(args)?;
    if let Some(path) = &args.html {
        std::fs::write(path, "").map_err(|e| format!("--html {}: {e}", path.display()))?;
    }
    let jobs = args
        .jobs
        .map_or_else(crate::expand::default_jobs, |j| j as usize);
    let hunt = Hunt {
        engine: Engine::Sim,
        seed: args.seed,
        strategy: None,
        source,
        cases: args.schedules.div_ceil(CASE_SCHEDULES),
        max_seconds: Some(args.max_seconds),
        jobs,
        stepper: model::exec::step_with,
        shard: (0, 1),
        patches,
    };
    let result = hunt.run_classes(
        &Known::new(),
        Until::Budget,
        &AtomicBool::new(false),
        &mut |_, _| {},
    );
    let total = match &scenario {
        Some(s) => {
            let initial = s.build().map_err(|e| format!("the scenario: {e}"))?;
            let (total, exhausted) =
                coverage::reachable(&initial, coverage::REACHABLE_STATES, hunt.stepper);
            exhausted.then_some(total)
        }
        None => None,
    };
    let title = title(args, &result);
    let mut text = format!("{title}\n");
    if args.scenario.is_some() && total.is_none() {
        text.push_str(&format!(
            "reachable total: unknown (a breadth-first search did not finish within {} states)\n",
            coverage::REACHABLE_STATES
        ));
    }
    text.push_str(&coverage::text(&result.coverage, total.as_ref()));
    write!(out, "{text}").map_err(|e| e.to_string())?;
    if let Some(path) = &args.html {
        let page = coverage::html(&title, &result.coverage, total.as_ref());
        std::fs::write(path, page).map_err(|e| format!("--html {}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The scenario file (with `--patch` applied) and where the cases come from, checked.
fn source(args: &CoverageArgs) -> Result<(Option<model::scenario::Scenario>, Source), String> {
    let scenario = match &args.scenario {
        Some(path) => {
            let loaded = scenario_file::load(path).map_err(|e| e.to_string())?;
            Some(args.patches.apply(loaded)?)
        }
        None => None,
    };
    if scenario.is_some() && !args.without.is_empty() {
        return Err(
            "--without leaves kinds out of swarm cases; it does not apply to --scenario"
                .to_string(),
        );
    }
    let selection = Selection {
        guided: !args.unguided,
        without: args.without.clone(),
    };
    selection.check().map_err(|e| format!("--without: {e}"))?;
    let source = match &scenario {
        Some(s) => Source::File(s.clone()),
        None => swarm_source(args.unguided, &args.without),
    };
    Ok((scenario, source))
}

/// What was hunted, in one line.
fn title(args: &CoverageArgs, result: &HuntResult) -> String {
    let source = match &args.scenario {
        Some(path) => format!("scenario {}", path.display()),
        None if args.unguided => "swarm (unguided)".to_string(),
        None => "swarm (coverage-guided)".to_string(),
    };
    let without: Vec<String> = args.without.iter().map(Kind::to_string).collect();
    let without = if without.is_empty() {
        String::new()
    } else {
        format!(" without {}", without.join(","))
    };
    format!(
        "writeiter coverage: model {}, {source}{without}, seed {}, {} cases, {} schedules, {} steps",
        args.patches.patches().unwrap_or_default(),
        args.seed,
        result.cases,
        result.schedules,
        result.steps
    )
}
