//! `writeiter run FILE --liveness`: the liveness search ([`crate::liveness`]) on a scenario
//! file whose actors may repeat forever, or, with `--schedule "STEM cycle: CYCLE"`, the
//! replay of one lasso; `--write OUT` stores the lasso found as a lasso file, which
//! `writeiter replay` and `writeiter explain` read.
//!
//! A lasso file (TOML): `kind = "lasso"`, `victim` (the actor), `schedule` (`STEM cycle:
//! CYCLE`), `patches` (ids applied on top of the scenario's) and `scenario`, the scenario
//! file's text as a string.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{PatchArgs, REPLAY_COMMAND};
use crate::liveness::{self, Lasso, Replayed};
use crate::report;
use crate::scenario_file;
use model::exec::Task;

/// The search (or, with a schedule, the replay) for `writeiter run FILE --liveness`.
pub(crate) fn run(
    file: &Path,
    (schedule, states_max): (&str, usize),
    patches: &PatchArgs,
    write_to: Option<&Path>,
    (progress, out): (bool, &mut dyn Write),
) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    let mut looping = scenario_file::load_looping(file).map_err(|e| e.to_string())?;
    looping.scenario = patches.apply(looping.scenario)?;
    let forever: Vec<String> = (looping.forever.iter().enumerate())
        .filter(|(_, f)| **f)
        .map(|(a, _)| format!("a{a}"))
        .collect();
    let _ = writeln!(
        out,
        "writeiter run {} --liveness: ext4_file_write_iter as in Linux 4.1-4.4{}; repeating forever: {}",
        file.display(),
        crate::cli::patched_words(looping.scenario.patches),
        if forever.is_empty() {
            "none".to_string()
        } else {
            forever.join(" ")
        }
    );
    if !schedule.trim().is_empty() {
        let (stem, cycle) =
            liveness::parse_lasso(schedule).map_err(|e| format!("--schedule: {e}"))?;
        let replayed =
            liveness::replay(&looping, &stem, &cycle).map_err(|e| format!("--schedule: {e}"))?;
        return Ok(print_replay(&replayed, &cycle, out));
    }
    let line =
        crate::cli::working_line(progress, "liveness search: canonical states, breadth-first");
    let found = liveness::search(&looping, states_max);
    line.finish_and_clear();
    let found = found?;
    let searched = if found.cut {
        format!("cut at {states_max} states: not exhaustive")
    } else {
        "every reachable state".to_string()
    };
    let _ = writeln!(
        out,
        "searched {} canonical states, {} transitions ({searched})",
        found.states, found.edges
    );
    let Some(lasso) = found.lasso else {
        let _ = writeln!(out, "no starvation lasso");
        return Ok(ExitCode::SUCCESS);
    };
    let replay = replay_line(file, patches, &lasso);
    let _ = writeln!(out, "{}", finding(&lasso));
    let _ = writeln!(out, "replay: {replay}");
    let replayed = liveness::replay(&looping, &lasso.stem, &lasso.cycle)?;
    print_replay(&replayed, &lasso.cycle, out);
    if let Some(path) = write_to {
        let ids = patches.patches()?.ids();
        std::fs::write(path, lasso_file(&text, &ids, &lasso))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let _ = writeln!(out, "lasso: {}", path.display());
    }
    Ok(ExitCode::from(1))
}

/// A lasso file: the lasso, the patches and the scenario file's text.
fn lasso_file(scenario: &str, patches: &[&str], lasso: &Lasso) -> String {
    let ids: Vec<String> = patches.iter().map(|id| format!("\"{id}\"")).collect();
    format!(
        "kind = \"lasso\"\nverdict = \"starvation\"\nvictim = {}\nwait = \"{}\"\nschedule = \"{}\"\npatches = [{}]\nscenario = \"\"\"\n{}\"\"\"\n",
        lasso.victim,
        lasso.wait,
        lasso.schedule(),
        ids.join(", "),
        scenario
            .replace('\\', "\\\\")
            .replace("\"\"\"", "\\\"\\\"\\\"")
    )
}

/// A lasso file as read.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LassoFile {
    #[allow(dead_code)] // checked by is_lasso
    kind: String,
    #[allow(dead_code)] // always "starvation"
    verdict: String,
    victim: u8,
    #[allow(dead_code)] // for people; the replay says it again
    wait: String,
    schedule: String,
    patches: Vec<String>,
    scenario: String,
}

/// The file is a lasso file (`kind = "lasso"`), not a corpus entry.
pub(crate) fn is_lasso(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    toml::from_str::<toml::Table>(&text)
        .is_ok_and(|t| t.get("kind").and_then(toml::Value::as_str) == Some("lasso"))
}

/// A lasso file read: the scenario (patched), the file, and its stem and cycle.
type LassoRead = (scenario_file::Looping, LassoFile, Vec<Task>, Vec<Task>);

/// Reads a lasso file: the scenario (patched) and the lasso; errors name the file and field.
fn load_lasso(path: &Path, patches: &PatchArgs) -> Result<LassoRead, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let file: LassoFile =
        toml::from_str(&text).map_err(|e| format!("{name}: {}", e.to_string().trim_end()))?;
    let mut looping = scenario_file::parse_looping(&file.scenario)
        .map_err(|e| format!("{name}: scenario: {e}"))?;
    let stored = model::patches::Patches::parse(&file.patches)
        .map_err(|e| format!("{name}: patches: {e}"))?;
    looping.scenario.patches = looping
        .scenario
        .patches
        .union(stored)
        .union(patches.patches()?);
    if usize::from(file.victim) >= looping.scenario.actors.len() {
        return Err(format!("{name}: victim: no actor a{}", file.victim));
    }
    let (stem, cycle) =
        liveness::parse_lasso(&file.schedule).map_err(|e| format!("{name}: schedule: {e}"))?;
    Ok((looping, file, stem, cycle))
}

/// `writeiter replay LASSO`: 0 when the lasso still shows its victim starving, 1 when not.
pub(crate) fn replay(
    path: &Path,
    patches: &PatchArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    let (looping, file, stem, cycle) = load_lasso(path, patches)?;
    let _ = writeln!(
        out,
        "writeiter replay {}: starvation of a{}, Linux 4.1-4.4{}",
        path.display(),
        file.victim,
        crate::cli::patched_words(looping.scenario.patches)
    );
    let replayed = match liveness::replay(&looping, &stem, &cycle) {
        Ok(replayed) => replayed,
        Err(e) => {
            let _ = writeln!(out, "broken: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let shown = replayed.starves() && replayed.starving.iter().any(|&(a, _)| a == file.victim);
    if shown {
        let _ = writeln!(
            out,
            "reproduced: starvation of a{} ({} steps of stem, a cycle of {})",
            file.victim,
            stem.len(),
            cycle.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let _ = writeln!(
        out,
        "not reproduced: the lasso no longer shows a{} starving",
        file.victim
    );
    Ok(ExitCode::from(1))
}

/// `writeiter explain LASSO`: the stem and two rounds of the cycle as a timeline.
pub(crate) fn explain(
    path: &Path,
    patches: &PatchArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    let (looping, file, stem, cycle) = load_lasso(path, patches)?;
    let replayed = liveness::replay(&looping, &stem, &cycle)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let title = format!(
        "{}: starvation of a{} (Linux 4.4{}); steps 0..{} the stem, then the cycle twice ({} steps a round; object numbers are the renumbered ones)",
        path.display(),
        file.victim,
        crate::cli::patched_words(looping.scenario.patches),
        stem.len(),
        cycle.len()
    );
    let execution = crate::engine::Execution {
        schedule: stem.iter().chain(&cycle).chain(&cycle).copied().collect(),
        trace: replayed.trace.clone(),
        end: model::drive::End::Paused,
        violation: None,
        state: replayed.state.clone(),
    };
    let _ = write!(out, "{}", crate::explain::text(&title, &execution));
    for (a, wait) in &replayed.starving {
        let _ = writeln!(out, "a{a} is blocked throughout the cycle: {wait}");
    }
    Ok(if replayed.starves() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The finding line: the verdict, the victim, what it waits for, the lasso's size.
fn finding(lasso: &Lasso) -> String {
    format!(
        "VIOLATION starvation: a{} stays blocked ({}) in every state of a weakly fair cycle of {} steps after a stem of {} steps",
        lasso.victim,
        lasso.wait,
        lasso.cycle.len(),
        lasso.stem.len()
    )
}

/// The command that replays the lasso.
fn replay_line(file: &Path, patches: &PatchArgs, lasso: &Lasso) -> String {
    let ids: String = (patches
        .patches()
        .map(|p| p.ids())
        .unwrap_or_default()
        .iter())
    .map(|id| format!(" --patch {id}"))
    .collect();
    format!(
        "{REPLAY_COMMAND} run {}{ids} --liveness --schedule \"{}\"",
        file.display(),
        lasso.schedule()
    )
}

/// Prints a replayed lasso (stem, then one round of the cycle) and its verdict; exit 1 when
/// it shows a starvation, 0 when not.
fn print_replay(replayed: &Replayed, cycle: &[Task], out: &mut dyn Write) -> ExitCode {
    let stem = replayed.stem_len;
    let _ = writeln!(out, "stem ({stem} steps):");
    let _ = write!(out, "{}", report::trace(&replayed.trace[..stem]));
    let _ = writeln!(out, "cycle: ({} steps, repeated for ever)", cycle.len());
    let round = &replayed.trace[stem..stem + cycle.len()];
    let _ = write!(out, "{}", report::trace_from(round, stem));
    let _ = writeln!(
        out,
        "the cycle {} the state after the stem (checked over two rounds)",
        if replayed.returns {
            "returns to"
        } else {
            "does NOT return to"
        }
    );
    if let Some(task) = replayed.unfair {
        let _ = writeln!(
            out,
            "unfair: {task} is runnable in every state of the cycle and never steps"
        );
    }
    for (a, wait) in &replayed.starving {
        let _ = writeln!(out, "a{a} is blocked throughout: {wait}");
    }
    if replayed.starves() {
        let _ = writeln!(out, "VIOLATION starvation: the lasso replays");
        ExitCode::from(1)
    } else {
        let _ = writeln!(out, "no starvation on this lasso");
        ExitCode::SUCCESS
    }
}
