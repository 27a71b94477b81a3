//! `writeiter run FILE --liveness`: the liveness search ([`crate::liveness`]) on a scenario
//! file whose actors may repeat forever, or, with `--schedule "STEM cycle: CYCLE"`, the
//! replay of one lasso.

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
    schedule: &str,
    states_max: usize,
    patches: &PatchArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
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
    let found = liveness::search(&looping, states_max)?;
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
    Ok(ExitCode::from(1))
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
