//! `writeiter shrink LASSO`: a lasso entry shrunk in place ([`crate::shrink_lasso`]). A
//! starvation keeps its victim starving on its stored wait; a model assertion keeps the
//! class of its path's last step ([`crate::signature::of_model_assertion`]) and its panic's
//! words ([`crate::shrink_lasso::panic_words`]). The stored
//! lasso or path must replay its finding first; the file written names the patches it was
//! shrunk under, rewrites only the lines of the finding (`victim`, `wait`, `schedule`, or
//! `violation`, `schedule`) and the scenario, and must replay its finding before it is
//! written.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::PatchArgs;
use crate::cli_liveness::{
    LassoFile, Stored, load_lasso, not_shown, panicked_last, quoted, scenario_field, shows,
};
use crate::engine::Stepper;
use crate::liveness::{self, Assertion, Lasso, PathReplayed};
use crate::scenario_file::{self, Looping};
use crate::shrink::Size;
use crate::shrink_lasso::{self, Asserting, LASSO_CANDIDATE_STATES, Starving};
use crate::signature::Signature;
use model::exec::Task;
use model::patches::Patches;

/// The lines a starvation's shrink rewrites, each on a line of its own before the scenario.
const STARVATION_LINES: [&str; 3] = ["victim", "wait", "schedule"];
/// The lines a model assertion's shrink rewrites.
const ASSERTION_LINES: [&str; 2] = ["violation", "schedule"];

/// A lasso file being shrunk: where it is, its text, the file as read, its scenario (with
/// the patches of the command line).
struct Entry<'a> {
    path: &'a Path,
    text: &'a str,
    file: &'a LassoFile,
    looping: &'a Looping,
}

/// `writeiter shrink LASSO` ([`shrink_with`] with the real model).
pub(crate) fn shrink(
    path: &Path,
    patches: &PatchArgs,
    (progress, out): (bool, &mut dyn Write),
) -> Result<ExitCode, String> {
    shrink_with(
        path,
        patches.patches()?,
        model::exec::step_with,
        (progress, out),
    )
}

/// `writeiter shrink LASSO` with `patches` and `stepper`: shrinks a lasso file in place.
/// Exit 0 shrunk and written; 1 when its lasso or path does not replay its finding, or the
/// search finds it neither in the scenario nor in a candidate (nothing written); a file
/// without the lines to rewrite is bad input (`Err`, exit 2). With `progress`, a line on
/// standard error counts the candidates searched and kept.
pub fn shrink_with(
    path: &Path,
    patches: Patches,
    stepper: Stepper,
    (progress, out): (bool, &mut dyn Write),
) -> Result<ExitCode, String> {
    let (looping, file, stored, _) = load_lasso(path, patches)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entry = Entry {
        path,
        text: &text,
        file: &file,
        looping: &looping,
    };
    let keys: &[&str] = match stored {
        Stored::Lasso(..) => &STARVATION_LINES,
        Stored::Assertion(_) => &ASSERTION_LINES,
    };
    let placeholders: Vec<(&str, String)> = keys.iter().map(|&k| (k, String::new())).collect();
    if with_fields(&text, &placeholders, "").is_none() {
        return Err(format!(
            "{}: {} (nothing written)",
            path.display(),
            not_rewritable(keys)
        ));
    }
    match stored {
        Stored::Lasso(victim, stem, cycle) => {
            shrink_starvation(&entry, (victim, &stem, &cycle), stepper, (progress, out))
        }
        Stored::Assertion(steps) => shrink_path(&entry, &steps, stepper, (progress, out)),
    }
}

/// Shrinks a starvation lasso entry: its lasso must show the victim starving, and each
/// candidate must starve it on the same wait.
fn shrink_starvation(
    entry: &Entry<'_>,
    (victim, stem, cycle): (u8, &[Task], &[Task]),
    stepper: Stepper,
    (progress, out): (bool, &mut dyn Write),
) -> Result<ExitCode, String> {
    let shown = entry.path.display();
    let replayed = match liveness::replay_with(entry.looping, (stem, cycle), stepper) {
        Ok(replayed) if shows(&replayed, victim, entry.file) => replayed,
        Ok(replayed) => {
            let why = not_shown(&replayed, victim, entry.file);
            let _ = writeln!(out, "{shown}: not reproduced: {why}; nothing written");
            return Ok(ExitCode::from(1));
        }
        Err(e) => {
            let _ = writeln!(out, "{shown}: broken: {e}; nothing written");
            return Ok(ExitCode::from(1));
        }
    };
    let wait = (replayed.starving.iter())
        .find(|(a, _)| *a == victim)
        .map(|(_, w)| w.to_string())
        .unwrap_or_default();
    let target = Starving {
        victim,
        wait: &wait,
    };
    let before = crate::shrink::size(&entry.looping.scenario, stem.len() + cycle.len());
    let shrunk = with_progress(progress, "lasso", &mut |watch| {
        shrink_lasso::shrink_lasso(entry.looping, target, stepper, watch)
    });
    let Some(shrunk) = shrunk else {
        let _ = writeln!(
            out,
            "{shown}: the liveness search (at most {LASSO_CANDIDATE_STATES} states a scenario) finds no starvation of a{victim} on {wait}; nothing written"
        );
        return Ok(ExitCode::from(1));
    };
    let lasso = &shrunk.lasso;
    let (stem, cycle) = (lasso.stem.len(), lasso.cycle.len());
    let after = crate::shrink::size(&shrunk.looping.scenario, stem + cycle);
    let fields = [
        ("victim", lasso.victim.to_string()),
        ("wait", quoted(&lasso.wait.to_string())),
        ("schedule", quoted(&lasso.schedule())),
    ];
    let text = shrunk_file(
        entry,
        (&shrunk.looping, &before),
        &fields,
        &lasso.schedule(),
    );
    let replays = |text: &str| lasso_replays_as_written(text, lasso, stepper);
    let done = format!("{before} -> {after} (stem {stem}, cycle {cycle}; steps count both)");
    write_shrunk(entry, (text, &replays), ("lasso", &done), out)
}

/// Shrinks a model assertion's lasso entry: its path's last step must still panic, and each
/// candidate's search must meet a model assertion of the same class first.
fn shrink_path(
    entry: &Entry<'_>,
    steps: &[Task],
    stepper: Stepper,
    (progress, out): (bool, &mut dyn Write),
) -> Result<ExitCode, String> {
    let shown = entry.path.display();
    let replayed = match liveness::replay_path(entry.looping, steps, stepper) {
        Ok(replayed) => replayed,
        Err(e) => {
            let _ = writeln!(out, "{shown}: broken: {e}; nothing written");
            return Ok(ExitCode::from(1));
        }
    };
    let class = last_step_class(&replayed, steps);
    let (Some(signature), Some(violation)) = (class, &replayed.violation) else {
        let why = "the path's last step no longer panics";
        let _ = writeln!(out, "{shown}: not reproduced: {why}; nothing written");
        return Ok(ExitCode::from(1));
    };
    let panic = shrink_lasso::panic_words(violation);
    let target = Asserting {
        signature: &signature,
        panic: &panic,
    };
    let before = crate::shrink::size(&entry.looping.scenario, steps.len());
    let shrunk = with_progress(progress, "path", &mut |watch| {
        shrink_lasso::shrink_assertion(entry.looping, target, stepper, watch)
    });
    let Some((looping, assertion)) = shrunk else {
        let _ = writeln!(
            out,
            "{shown}: the liveness search (at most {LASSO_CANDIDATE_STATES} states a scenario) meets no model assertion of class {signature} panicking with \"{panic}\" first; nothing written"
        );
        return Ok(ExitCode::from(1));
    };
    let after = crate::shrink::size(&looping.scenario, assertion.path.len());
    let fields = [
        ("violation", quoted(&assertion.violation.to_string())),
        ("schedule", quoted(&assertion.schedule())),
    ];
    let text = shrunk_file(entry, (&looping, &before), &fields, &assertion.schedule());
    let replays = |text: &str| path_replays_as_written(text, &assertion, stepper);
    let done = format!(
        "{before} -> {after} (a path of {} steps)",
        assertion.path.len()
    );
    write_shrunk(entry, (text, &replays), ("path", &done), out)
}

/// Whether a shrunk entry's text replays its finding.
type Replays<'a> = &'a dyn Fn(&str) -> bool;

/// Writes the shrunk entry's `text` in place when it read back and `replays` its finding,
/// and prints `done` (exit 0); else says the shrunk file does not replay its `what` (exit 1,
/// nothing written).
fn write_shrunk(
    entry: &Entry<'_>,
    (text, replays): (Option<String>, Replays<'_>),
    (what, done): (&str, &str),
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    let shown = entry.path.display();
    let Some(text) = text.filter(|text| replays(text)) else {
        let _ = writeln!(
            out,
            "{shown}: the shrunk file does not replay its {what}; nothing written"
        );
        return Ok(ExitCode::from(1));
    };
    std::fs::write(entry.path, text).map_err(|e| format!("{shown}: {e}"))?;
    let _ = writeln!(out, "{shown}: {done}");
    Ok(ExitCode::SUCCESS)
}

/// The class of the model assertion of `steps`'s last step, when that step is the one that
/// panicked in `replayed` (read from the state it started from, as the search reads it).
pub(crate) fn last_step_class(replayed: &PathReplayed, steps: &[Task]) -> Option<Signature> {
    panicked_last(replayed, steps)?;
    let last = *steps.last()?;
    Some(crate::signature::of_model_assertion(&replayed.state, last))
}

/// Told, after each candidate's search, how many were searched and how many kept.
type Watch<'a> = &'a mut dyn FnMut(usize, usize);

/// `shrink` run with, when `progress`, a line on standard error counting the candidates
/// searched and kept while it shrinks `what`.
fn with_progress<T>(progress: bool, what: &str, shrink: &mut dyn FnMut(Watch<'_>) -> T) -> T {
    let start = format!("shrinking the {what}: searching the scenario");
    let line = crate::cli::working_line(progress, &start);
    let mut watch = |searched: usize, kept: usize| {
        line.set_message(format!(
            "shrinking the {what}: {searched} candidates searched, {kept} kept"
        ));
    };
    let shrunk = shrink(&mut watch);
    line.finish_and_clear();
    shrunk
}

/// Why a lasso file cannot be shrunk in place: [`with_fields`] finds no line to rewrite for
/// some of `keys`.
fn not_rewritable(keys: &[&str]) -> String {
    let listed = match keys {
        [rest @ .., last] if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => keys.join(""),
    };
    format!("no {listed} lines before a `scenario = \"\"\"` field to rewrite")
}

/// The lasso file `text` and its scenario as it would be read, with the patches it names.
fn read_back(text: &str) -> Option<(LassoFile, Looping)> {
    let file: LassoFile = toml::from_str(text).ok()?;
    let looping = scenario_file::parse_looping(&file.scenario).ok()?;
    Some((file, looping))
}

/// The lasso file `text` replays as written: its scenario's lasso shows its victim starving
/// on its wait.
fn lasso_replays_as_written(text: &str, lasso: &Lasso, stepper: Stepper) -> bool {
    let Some((file, looping)) = read_back(text) else {
        return false;
    };
    let replayed = liveness::replay_with(&looping, (&lasso.stem, &lasso.cycle), stepper);
    replayed.is_ok_and(|r| shows(&r, lasso.victim, &file))
}

/// The lasso file `text` replays as written: its scenario's path panics at its last step,
/// a model assertion of the class the shrink kept.
fn path_replays_as_written(text: &str, assertion: &Assertion, stepper: Stepper) -> bool {
    let Some((_, looping)) = read_back(text) else {
        return false;
    };
    let replayed = liveness::replay_path(&looping, &assertion.path, stepper);
    replayed.is_ok_and(|r| {
        last_step_class(&r, &assertion.path).is_some_and(|s| s == assertion.signature)
    })
}

/// The entry's text with the shrunk scenario `written` (the patches it was shrunk under:
/// its own and those of the command line; a comment gives the sizes `before`) and the
/// finding's `fields` in place of the stored ones, every other field as it was; `None` when
/// it does not read back (its scenario and its `schedule`).
fn shrunk_file(
    entry: &Entry<'_>,
    (written, before): (&Looping, &Size),
    fields: &[(&str, String)],
    schedule: &str,
) -> Option<String> {
    let scenario = format!(
        "# Shrunk by `writeiter shrink` from {before} (steps: {}).\n{}{}",
        steps_counted(entry.file),
        comments_before(&entry.file.scenario),
        scenario_file::looping_to_toml(written)
    );
    let new = with_fields(entry.text, fields, &scenario_field(&scenario))?;
    let back: LassoFile = toml::from_str(&new).ok()?;
    (back.scenario == scenario && back.schedule == schedule).then_some(new)
}

/// What a lasso file's step count counts: stem and cycle, or the path.
fn steps_counted(file: &LassoFile) -> &'static str {
    if file.verdict == crate::cli_liveness::STARVATION {
        "stem and cycle"
    } else {
        "the path"
    }
}

/// The comment lines that open the scenario text `scenario`, introduced as describing it
/// before shrinking (nothing when it opens with none).
fn comments_before(scenario: &str) -> String {
    let lines: Vec<&str> = (scenario.lines())
        .take_while(|l| l.starts_with('#'))
        .filter(|l| !l.starts_with("# Shrunk by `writeiter shrink`"))
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "# The comments below describe the scenario before shrinking:\n{}\n",
        lines.join("\n")
    )
}

/// `text` (a lasso file) with the first line of each of `fields` (`key = …`, before the
/// scenario) set to its value, and its `scenario = """…"""` field replaced by `scenario`.
fn with_fields(text: &str, fields: &[(&str, String)], scenario: &str) -> Option<String> {
    const OPEN: &str = "scenario = \"\"\"";
    let start = if text.starts_with(OPEN) {
        0
    } else {
        text.find(&format!("\n{OPEN}"))? + 1
    };
    let body = start + OPEN.len();
    let end = body + text[body..].find("\"\"\"")? + 3;
    let mut head: Vec<String> = text[..start].lines().map(str::to_string).collect();
    for (key, value) in fields {
        let prefix = format!("{key} = ");
        let line = head.iter_mut().find(|l| l.starts_with(&prefix))?;
        *line = format!("{prefix}{value}");
    }
    Some(format!("{}\n{scenario}{}", head.join("\n"), &text[end..]))
}
