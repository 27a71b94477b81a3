//! A model assertion the liveness search meets is a finding, as in the safety engines: the
//! `model-assertion` violation, printed first with the path that reaches it, a replay line
//! that reproduces it, and a lasso file (`verdict = "model-assertion"`) that `replay` and
//! `explain` accept. The planted assertion is a broken stepper (the liveness search's
//! `Stepper` is the hook); a legal looping scenario still gives its lasso, or none when the
//! search is cut. Bounded by the search's state cap.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use common::{stderr, stdout, writeiter};
use model::exec::{Event, StepError, Task, Trace};
use model::patches::Patches;
use model::state::State;
use sim::cli_liveness::{self, LivenessRun};
use sim::liveness;

/// The looping example.
const EXAMPLE: &str = "examples/starvation.toml";
/// States the searches of these tests visit at most (the example has about 26 000).
const STATES: usize = 60_000;
/// A cap that cuts the example's search before its lasso.
const SMALL_STATES: usize = 500;
/// The planted assertion's message.
const PLANTED: &str = "planted: a punch while an unwritten io_end is in flight";
/// The stream's operation the planted assertion fires in: its second punch.
const SECOND_PUNCH: usize = 3;

/// The planted bug: the model's step with an assertion that fires when the stream (a1)
/// steps in its second punch while an io_end is still flagged unwritten, which the real
/// model allows.
fn broken_step(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let stream = &state.actors[1];
    if task == Task::Actor(1) && stream.op == SECOND_PUNCH && state.inodes[0].i_unwritten > 0 {
        panic!("{PLANTED}");
    }
    model::exec::step_with(state, task, trace)
}

fn repository(path: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(path)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("writeiter-assertion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// `writeiter run EXAMPLE --liveness` in-process with `stepper`: exit status and output.
fn run(
    schedule: &str,
    (states_max, write): (usize, Option<&Path>),
    stepper: sim::engine::Stepper,
) -> (ExitCode, String) {
    let file = repository(EXAMPLE);
    let how = LivenessRun {
        file: &file,
        schedule,
        states_max,
        patches: Patches::NONE,
        write,
        corpus_dir: None,
        stepper,
    };
    let mut out = Vec::new();
    let code = cli_liveness::run_with(&how, (false, &mut out)).expect("no bad input");
    (code, String::from_utf8(out).expect("utf-8"))
}

/// The schedule of a replay line (`… --schedule "…"`).
fn schedule_of(text: &str) -> String {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .expect("a replay line");
    assert!(line.contains(" --liveness --schedule \""), "{line}");
    let (_, quoted) = line.split_once("--schedule \"").expect("a schedule");
    quoted.strip_suffix('"').expect("quoted").to_string()
}

#[test]
fn a_model_assertion_in_the_liveness_search_is_a_finding_that_replays() {
    let lasso = temp("assertion.lasso.toml");
    let (code, text) = run("", (STATES, Some(&lasso)), broken_step);
    assert_eq!(code, ExitCode::from(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].ends_with("(stopped at a model assertion)"),
        "{text}"
    );
    let finding = format!("VIOLATION model-assertion: a1's step panicked: {PLANTED} (actors a1)");
    assert_eq!(lines[2], finding, "the finding line first:\n{text}");
    let class = "model-assertion@model-step | punch";
    assert!(
        lines[3].starts_with("class: signature ") && lines[3].ends_with(class),
        "its class next:\n{text}"
    );
    let path = schedule_of(&text);
    assert!(!path.contains("cycle:"), "a path, not a lasso: {path}");
    assert!(
        path.ends_with("a1"),
        "the path ends with the panicking step: {path}"
    );
    assert!(
        text.contains(&format!("lasso: {}", lasso.display())),
        "{text}"
    );

    // The replay line, run with the same stepper, shows the same finding; the real model
    // steps the same path without one.
    let (again, replayed) = run(&path, (STATES, None), broken_step);
    assert_eq!(again, ExitCode::from(1), "{replayed}");
    assert!(replayed.lines().any(|l| l == finding), "{replayed}");
    let (real, clean) = run(&path, (STATES, None), model::exec::step_with);
    assert_eq!(real, ExitCode::SUCCESS, "{clean}");
    assert!(clean.contains("no model assertion on this path"), "{clean}");

    // The stored finding: `replay` and `explain` accept it, and it reproduces under the
    // broken stepper only.
    let mut out = Vec::new();
    let replay = cli_liveness::replay_with(&lasso, Patches::NONE, broken_step, &mut out);
    let shown = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(replay, Ok(ExitCode::SUCCESS), "{shown}");
    assert!(shown.contains("reproduced: step"), "{shown}");
    let mut out = Vec::new();
    let explain = cli_liveness::explain_with(&lasso, Patches::NONE, broken_step, &mut out);
    let drawn = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(explain, Ok(ExitCode::SUCCESS), "{drawn}");
    assert!(drawn.contains(&finding), "{drawn}");
    let lasso = lasso.to_str().expect("utf-8");
    for command in ["replay", "explain"] {
        let real = writeiter(&[command, lasso]);
        assert_eq!(real.status.code(), Some(1), "{}", stderr(&real));
        assert!(
            stdout(&real).contains("not reproduced: the path's last step no longer panics"),
            "{command}: {}",
            stdout(&real)
        );
    }
}

/// `writeiter run EXAMPLE --liveness --corpus-dir DIR` in-process with `stepper`, `DIR` a
/// fresh temporary directory `name`: it must exit 1 (a finding); the directory and the
/// output.
fn search_into_corpus(name: &str, stepper: sim::engine::Stepper) -> (PathBuf, String) {
    let dir = temp(name);
    std::fs::remove_dir_all(&dir).ok();
    let file = repository(EXAMPLE);
    let how = LivenessRun {
        file: &file,
        schedule: "",
        states_max: STATES,
        patches: Patches::NONE,
        write: None,
        corpus_dir: Some(&dir),
        stepper,
    };
    let mut out = Vec::new();
    let code = cli_liveness::run_with(&how, (false, &mut out)).expect("no bad input");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(code, ExitCode::from(1), "{text}");
    (dir, text)
}

/// A model assertion the search meets is stored like a starvation: `--corpus-dir` writes
/// a lasso entry with `verdict = "model-assertion"`, which the entry's test replays with the
/// stepper that panics (its path's last step still panics) and fails with the real model.
#[test]
fn a_model_assertion_is_stored_as_a_lasso_entry_of_the_corpus() {
    let (dir, text) = search_into_corpus("corpus", broken_step);
    let entry = dir.join("liveness").join("0001-model-assertion.toml");
    assert!(
        text.contains(&format!("corpus entry: {}", entry.display())),
        "{text}"
    );
    let stored = std::fs::read_to_string(&entry).expect("written");
    assert!(
        stored.contains("verdict = \"model-assertion\"\n"),
        "{stored}"
    );
    assert!(
        stored.contains(PLANTED) && stored.contains("class = \"unknown\""),
        "{stored}"
    );
    cli_liveness::assert_lasso_entry(&entry, broken_step);
    // `writeiter shrink` (the real model) replays the path first: its last step no longer
    // panics, so nothing is shrunk or written.
    let shrink = writeiter(&["shrink", entry.to_str().expect("utf-8")]);
    assert_eq!(shrink.status.code(), Some(1), "{}", stderr(&shrink));
    assert!(
        stdout(&shrink).contains("not reproduced: the path's last step no longer panics"),
        "{}",
        stdout(&shrink)
    );
    assert_eq!(std::fs::read_to_string(&entry).expect("kept"), stored);
    let real = sim::sync::catch_quietly(|| {
        cli_liveness::assert_lasso_entry(&entry, model::exec::step_with)
    });
    let message = real.expect_err("the real model does not panic on the path");
    assert!(
        message.contains("not reproduced: the path's last step no longer panics")
            && message.contains("class: unknown"),
        "{message}"
    );
}

/// Cases of the hunt that meets the planted assertion again (it fires in the first).
const HUNT_CASES: u64 = 4;

/// A lasso entry of a model assertion is a class a hunt can meet: the corpus's known
/// classes hold it under the signature of its path's last step, and a hunt over the
/// example's program (one round, the same broken stepper) counts the panic it meets as
/// that entry, not as a new class. Under the real model its path no longer panics: the
/// entry is stale, left out with a line that says so.
/// Another planted bug, firing after the step changed the state: the stream's step that
/// takes it past its second punch panics once the punch is done (its next operation, a
/// buffered write, already current), so the state the step leaves names another kind of
/// operation than the one it started from.
fn broken_after_step(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let was = state.actors[1].op;
    let event = model::exec::step_with(state, task, trace)?;
    if task == Task::Actor(1) && was == SECOND_PUNCH && state.actors[1].op == SECOND_PUNCH + 1 {
        panic!("{PLANTED}");
    }
    Ok(event)
}

#[test]
fn a_model_assertion_lasso_entry_is_a_known_class_of_the_hunt() {
    known_class_of_the_hunt("corpus-known", broken_step);
}

/// The class is read from the state the panicking step started from, as the search and the
/// hunt read it, not from what the step left half-changed.
#[test]
fn a_late_model_assertion_keeps_the_class_of_the_state_before_its_step() {
    known_class_of_the_hunt("corpus-known-late", broken_after_step);
}

/// The liveness search with `stepper` stores its model assertion in a new corpus; the
/// hunt's known classes hold it under the search's signature (the stream's punch), a hunt
/// with the same stepper counts the assertion it meets as that entry, and under the real
/// model the entry is stale.
fn known_class_of_the_hunt(name: &str, stepper: sim::engine::Stepper) {
    let (dir, _) = search_into_corpus(name, stepper);
    let file = repository(EXAMPLE);
    let classes = sim::signature::corpus_signatures(&dir, stepper).expect("loads");
    assert_eq!(classes.known.len(), 1, "{classes:?}");
    let entry = &classes.known[0];
    assert_eq!((entry.id, entry.class), (1, "unknown"));
    let signature = "model-assertion@model-step | punch";
    assert_eq!(entry.signature.to_string(), signature);
    assert!(classes.stale.is_empty() && classes.starvations.is_empty());

    let looping = sim::scenario_file::load_looping(&file).expect("loads");
    let hunt = sim::hunt::Hunt {
        engine: sim::hunt::Engine::Sim,
        seed: 0,
        strategy: Some(sim::hunt::Strategy::Random),
        source: sim::hunt::Source::File(looping.scenario),
        cases: HUNT_CASES,
        max_seconds: None,
        jobs: 1,
        stepper,
        shard: (0, 1),
        patches: Patches::NONE,
    };
    let known = sim::hunt::Known::from([(entry.signature.clone(), entry.id)]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let until = sim::hunt::Until::FirstNew;
    let result = hunt.run_classes(&known, until, &stop, &mut |_, _| {});
    let met = (result.classes.iter()).find(|c| c.signature.to_string() == signature);
    let met = met.expect("the hunt meets the planted assertion");
    assert_eq!(met.known, Some(1), "counted as the lasso entry");

    let real = sim::signature::corpus_signatures(&dir, model::exec::step_with).expect("loads");
    assert!(real.known.is_empty(), "{real:?}");
    assert_eq!(real.stale.len(), 1, "{real:?}");
    assert!(real.stale[0].contains("stale path"), "{real:?}");
}

#[test]
fn the_path_found_is_the_shortest_to_a_panicking_step() {
    let looping = sim::scenario_file::load_looping(&repository(EXAMPLE)).expect("loads");
    let report = liveness::search_with(&looping, STATES, broken_step).expect("runs");
    let assertion = report.assertion.expect("the planted assertion fires");
    assert_eq!(report.lasso, None);
    let replayed = liveness::replay_path(&looping, &assertion.path, broken_step).expect("steps");
    assert_eq!(replayed.violation.as_ref(), Some(&assertion.violation));
    assert_eq!(replayed.trace.len() + 1, assertion.path.len());
    // No shorter path panics: every proper prefix of the path, extended by any runnable
    // task, steps without the assertion (the search is breadth-first).
    for len in 0..assertion.path.len() - 1 {
        let prefix = &assertion.path[..len];
        let at = liveness::replay_path(&looping, prefix, broken_step).expect("steps");
        assert_eq!(at.violation, None);
        for task in model::exec::runnable(&at.state) {
            let mut state = at.state.clone();
            let how = (task, Trace::Off);
            let step = liveness::step_checked(broken_step, &mut state, how, &looping.forever);
            assert!(step.is_ok(), "{len} steps then {task} panics already");
        }
    }
}

#[test]
fn a_legal_looping_scenario_still_gives_its_lasso_or_none() {
    let (code, text) = run("", (STATES, None), model::exec::step_with);
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains("VIOLATION starvation: a0 stays blocked"),
        "{text}"
    );
    assert!(!text.contains("model-assertion"), "{text}");
    let (code, text) = run("", (SMALL_STATES, None), model::exec::step_with);
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(
        text.contains(&format!("cut at {SMALL_STATES} states")),
        "{text}"
    );
    assert!(text.contains("no starvation lasso"), "{text}");
    let looping = sim::scenario_file::load_looping(&repository(EXAMPLE)).expect("loads");
    let plain = liveness::search(&looping, STATES).expect("runs");
    let with = liveness::search_with(&looping, STATES, model::exec::step_with).expect("runs");
    assert_eq!((plain.states, plain.edges), (with.states, with.edges));
    assert_eq!(plain.lasso, with.lasso);
    assert!(plain.lasso.is_some() && with.assertion.is_none());
}

#[test]
fn bad_lasso_files_exit_2_naming_the_field() {
    let scenario = std::fs::read_to_string(repository(EXAMPLE)).expect("the example");
    let body = |head: &str| {
        format!(
            "kind = \"lasso\"\n{head}\npatches = []\nscenario = \"\"\"\n{}\"\"\"\n",
            scenario.replace('\\', "\\\\")
        )
    };
    for (name, head, field) in [
        (
            "verdict",
            "verdict = \"deadlock\"\nschedule = \"a1\"",
            "verdict",
        ),
        (
            "cycle",
            "verdict = \"model-assertion\"\nschedule = \"a1 cycle: a1\"",
            "schedule",
        ),
        (
            "victim",
            "verdict = \"starvation\"\nschedule = \"cycle: a1\"",
            "victim",
        ),
        (
            "path",
            "verdict = \"model-assertion\"\nschedule = \"a1 zz\"",
            "schedule",
        ),
    ] {
        let file = temp(&format!("bad-{name}.lasso.toml"));
        std::fs::write(&file, body(head)).expect("written");
        let file = file.to_str().expect("utf-8");
        for command in ["replay", "explain"] {
            let out = writeiter(&[command, file]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name} {command}: {err}");
            assert!(err.contains(file) && err.contains(field), "{name}: {err}");
            assert!(!err.contains("panicked"), "{name}: {err}");
        }
    }
}

/// The planted assertion of [`broken_step`] for scenarios that may have lost actors: it
/// fires only while an a1 exists.
fn broken_step_any(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let stream = state.actors.get(1).map(|a| a.op);
    if task == Task::Actor(1) && stream == Some(SECOND_PUNCH) && state.inodes[0].i_unwritten > 0 {
        panic!("{PLANTED}");
    }
    model::exec::step_with(state, task, trace)
}

/// An idle actor, one journal commit, added to the scenario of a lasso entry's text.
fn with_idle_actor(text: &str) -> String {
    let end = "\"\"\"\n\n[provenance]";
    assert!(text.contains(end), "the scenario ends before [provenance]");
    text.replace(
        end,
        &format!("\n[[actors]]\nops = [{{ op = \"commit\" }}]\n{end}"),
    )
}

/// A model assertion's lasso entry shrinks too: padded with an idle actor, it shrinks back
/// (the search of each candidate must meet a model assertion of the same class first, with
/// the same words), the file written replays its path under the stepper that panics and
/// keeps its violation, and a shrink under the real model, whose replay of the stored path
/// no longer panics, writes nothing.
#[test]
fn a_model_assertion_lasso_entry_shrinks_and_still_replays() {
    let (dir, _) = search_into_corpus("corpus-shrink", broken_step_any);
    let entry = dir.join("liveness").join("0001-model-assertion.toml");
    let stored = std::fs::read_to_string(&entry).expect("written");
    std::fs::write(&entry, with_idle_actor(&stored)).expect("padded");
    let actors = |path: &Path| {
        let table: toml::Table =
            toml::from_str(&std::fs::read_to_string(path).expect("readable")).expect("toml");
        let scenario = table["scenario"].as_str().expect("text").to_string();
        let looping = sim::scenario_file::parse_looping(&scenario).expect("a scenario");
        (
            looping.scenario.actors.len(),
            table["schedule"].as_str().map(str::to_string),
        )
    };
    let (padded, path_before) = actors(&entry);
    assert_eq!(padded, 3, "padded with a2");
    cli_liveness::assert_lasso_entry(&entry, broken_step_any);

    let mut out = Vec::new();
    let shrink = sim::cli_shrink_lasso::shrink_with;
    let code = shrink(&entry, Patches::NONE, broken_step_any, (false, &mut out));
    let said = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(code, Ok(ExitCode::SUCCESS), "{said}");
    assert!(
        said.contains("3 actors") && said.contains("-> 2 actors"),
        "{said}"
    );
    let (after, path_after) = actors(&entry);
    assert_eq!(after, 2, "the idle actor removed");
    assert_eq!(path_after, path_before, "the same shortest path");
    cli_liveness::assert_lasso_entry(&entry, broken_step_any);
    let shrunk = std::fs::read_to_string(&entry).expect("written");
    assert!(shrunk.contains(PLANTED), "its violation kept: {shrunk}");
    assert!(shrunk.contains("(steps: the path)"), "{shrunk}");

    let mut out = Vec::new();
    let real = shrink(
        &entry,
        Patches::NONE,
        model::exec::step_with,
        (false, &mut out),
    );
    assert_eq!(
        real,
        Ok(ExitCode::from(1)),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(std::fs::read_to_string(&entry).expect("kept"), shrunk);
}

/// Another planted assertion, in the same kind of operation (the stream's first punch: the
/// same class), with other words.
const OTHER: &str = "planted: another assertion in a punch";

/// [`broken_step_any`], plus [`OTHER`] in the stream's first punch once the scenario has
/// only two actors: a candidate without the idle actor meets it first.
fn broken_step_twice(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let first_punch = state.actors.get(1).is_some_and(|a| a.op == 0);
    if task == Task::Actor(1) && state.actors.len() == 2 && first_punch {
        panic!("{OTHER}");
    }
    broken_step_any(state, task, trace)
}

/// A candidate whose first assertion has the stored one's class but other words is not
/// kept: the padded entry keeps its idle actor (removing it lets [`OTHER`] fire first) and
/// its violation.
#[test]
fn a_model_assertion_shrink_keeps_the_stored_panic_not_its_class_alone() {
    let (dir, _) = search_into_corpus("corpus-shrink-other", broken_step_any);
    let entry = dir.join("liveness").join("0001-model-assertion.toml");
    let stored = std::fs::read_to_string(&entry).expect("written");
    std::fs::write(&entry, with_idle_actor(&stored)).expect("padded");
    cli_liveness::assert_lasso_entry(&entry, broken_step_twice);

    let mut out = Vec::new();
    let shrink = sim::cli_shrink_lasso::shrink_with;
    let code = shrink(&entry, Patches::NONE, broken_step_twice, (false, &mut out));
    let said = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(code, Ok(ExitCode::SUCCESS), "{said}");
    let shrunk = std::fs::read_to_string(&entry).expect("written");
    let table: toml::Table = toml::from_str(&shrunk).expect("toml");
    let scenario = table["scenario"].as_str().expect("text");
    let looping = sim::scenario_file::parse_looping(scenario).expect("a scenario");
    assert_eq!(
        looping.scenario.actors.len(),
        3,
        "the idle actor kept: {said}"
    );
    let violation = table["violation"].as_str().expect("a violation");
    assert!(violation.contains(PLANTED), "{violation}");
    cli_liveness::assert_lasso_entry(&entry, broken_step_twice);
}
