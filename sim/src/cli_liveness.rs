//! `writeiter run FILE --liveness`: the liveness search ([`crate::liveness`]) on a scenario
//! file whose actors may repeat forever, or, with `--schedule "STEM cycle: CYCLE"`, the
//! replay of one lasso; `--write OUT` stores the lasso found as a lasso file, which
//! `writeiter replay` and `writeiter explain` read.
//!
//! A lasso file (TOML): `kind = "lasso"`, `verdict`, `victim` (the actor), `schedule`
//! (`STEM cycle: CYCLE`), `patches` (ids applied on top of the scenario's) and `scenario`,
//! the scenario file's text as a string. A lasso entry of the corpus
//! ([`crate::corpus::LIVENESS_DIR`]) is a lasso file with the corpus fields too (id, slug,
//! kernel, class and its evidence, postmortem, replay line, provenance): `--corpus-dir`
//! writes one, [`assert_lasso_entry`] is its test in `cargo test`,
//! [`crate::cli_shrink_lasso::shrink_with`] shrinks one in place (`writeiter shrink`), and
//! [`hunt_class`] says what it is to a hunt's known classes.
//!
//! A model assertion the search meets (the model's step panicked) is a finding too, the
//! `model-assertion` violation of the safety engines ([`crate::engine::apply`]): the run
//! prints it with the path that reaches it and exits 1; `--schedule PATH` (a schedule
//! without `cycle:`) replays such a path; `--write` stores it in a lasso file with `verdict
//! = "model-assertion"`, its `violation`, and the path as its `schedule` (no victim, no
//! cycle).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{PatchArgs, REPLAY_COMMAND};
use crate::corpus::{Class, Provenance};
use crate::engine::Stepper;
use crate::liveness::{self, Assertion, Lasso, PathReplayed, Replayed};
use crate::oracle::{Oracle, Violation};
use crate::report;
use crate::scenario_file;
use model::exec::Task;
use model::patches::Patches;

/// The lasso file's verdict of a starvation lasso.
pub const STARVATION: &str = "starvation";

/// The fields a lasso entry of the corpus has besides those of a lasso file.
const ENTRY_FIELDS: &str =
    "id, slug, kernel, class and its evidence, postmortem, replay, [provenance]";

/// What `writeiter run FILE --liveness` runs: the file, a schedule to replay (empty: the
/// search), the search's state cap, the `--patch` fixes, where `--write` stores the finding,
/// and how steps apply (`model::exec::step_with`, or a broken copy in a test).
#[derive(Clone, Copy)]
pub struct LivenessRun<'a> {
    /// The scenario file.
    pub file: &'a Path,
    /// `--schedule`: a lasso (`STEM cycle: CYCLE`) or a path; empty for the search.
    pub schedule: &'a str,
    /// `--states-max`.
    pub states_max: usize,
    /// The fixes `--patch` named.
    pub patches: Patches,
    /// `--write`.
    pub write: Option<&'a Path>,
    /// `--corpus-dir`: where the finding is stored as a lasso entry (under its
    /// [`crate::corpus::LIVENESS_DIR`], `class = "unknown"`).
    pub corpus_dir: Option<&'a Path>,
    /// How steps apply.
    pub stepper: Stepper,
}

/// The search (or, with a schedule, the replay) for `writeiter run FILE --liveness`.
pub(crate) fn run(
    file: &Path,
    (schedule, states_max): (&str, usize),
    patches: &PatchArgs,
    (write, corpus_dir): (Option<&Path>, Option<&Path>),
    (progress, out): (bool, &mut dyn Write),
) -> Result<ExitCode, String> {
    let how = LivenessRun {
        file,
        schedule,
        states_max,
        patches: patches.patches()?,
        write,
        corpus_dir,
        stepper: model::exec::step_with,
    };
    run_with(&how, (progress, out))
}

/// `run` as `how` says. Exit status: 1 a finding (a starvation lasso or a model
/// assertion, found or replayed), 0 none; `Err` bad input.
pub fn run_with(
    how: &LivenessRun<'_>,
    (progress, out): (bool, &mut dyn Write),
) -> Result<ExitCode, String> {
    let (file, schedule, states_max) = (how.file, how.schedule, how.states_max);
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    let mut looping = scenario_file::load_looping(file).map_err(|e| e.to_string())?;
    looping.scenario.patches = looping.scenario.patches.union(how.patches);
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
        return replay_schedule(&looping, how, out);
    }
    if let Some(dir) = how.corpus_dir {
        // Before the search, so that a finding is never lost to a bad directory.
        std::fs::create_dir_all(dir.join(crate::corpus::LIVENESS_DIR))
            .map_err(|e| format!("--corpus-dir {}: {e}", dir.display()))?;
    }
    let line =
        crate::cli::working_line(progress, "liveness search: canonical states, breadth-first");
    let found = liveness::search_with(&looping, states_max, how.stepper);
    line.finish_and_clear();
    let found = found?;
    let searched = match (&found.assertion, found.cut) {
        (Some(_), _) => "stopped at a model assertion".to_string(),
        (None, true) => format!("cut at {states_max} states: not exhaustive"),
        (None, false) => "every reachable state".to_string(),
    };
    let _ = writeln!(
        out,
        "searched {} canonical states, {} transitions ({searched})",
        found.states, found.edges
    );
    if let Some(assertion) = found.assertion {
        return report_assertion(&looping, how, (&text, &assertion), out);
    }
    let Some(lasso) = found.lasso else {
        let _ = writeln!(out, "no starvation lasso");
        return Ok(ExitCode::SUCCESS);
    };
    let replay = replay_line(file, how.patches, &lasso.schedule());
    let _ = writeln!(out, "{}", finding(&lasso));
    let _ = writeln!(out, "replay: {replay}");
    let replayed = liveness::replay_with(&looping, (&lasso.stem, &lasso.cycle), how.stepper)?;
    print_replay(&replayed, &lasso.cycle, out);
    let stored = lasso_file(&text, &how.patches.ids(), &lasso);
    let slug = format!("{STARVATION}-a{}", lasso.victim);
    store(how, (&stored, &slug, &finding(&lasso)), out)?;
    Ok(ExitCode::from(1))
}

/// `--schedule`: a lasso (`STEM cycle: CYCLE`) replayed over two rounds, or a path (no
/// `cycle:`) replayed up to the first model assertion.
fn replay_schedule(
    looping: &scenario_file::Looping,
    how: &LivenessRun<'_>,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    if !how.schedule.contains("cycle:") {
        let path =
            model::drive::parse_schedule(how.schedule).map_err(|e| format!("--schedule: {e}"))?;
        let replayed = liveness::replay_path(looping, &path, how.stepper)
            .map_err(|e| format!("--schedule: {e}"))?;
        return Ok(print_path(&replayed, out));
    }
    let (stem, cycle) =
        liveness::parse_lasso(how.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let replayed = liveness::replay_with(looping, (&stem, &cycle), how.stepper)
        .map_err(|e| format!("--schedule: {e}"))?;
    Ok(print_replay(&replayed, &cycle, out))
}

/// Prints the model assertion the search met: its violation line, its class (signature),
/// the replay line, the path replayed; stores it with `--write`. Exit 1.
fn report_assertion(
    looping: &scenario_file::Looping,
    how: &LivenessRun<'_>,
    (text, assertion): (&str, &Assertion),
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    let schedule = assertion.schedule();
    let _ = writeln!(out, "VIOLATION {}", assertion.violation);
    let signature = &assertion.signature;
    let _ = writeln!(out, "class: signature {} {signature}", signature.id());
    let _ = writeln!(
        out,
        "replay: {}",
        replay_line(how.file, how.patches, &schedule)
    );
    let replayed = liveness::replay_path(looping, &assertion.path, how.stepper)?;
    print_path(&replayed, out);
    let stored = assertion_file(text, &how.patches.ids(), assertion);
    let found = format!("VIOLATION {}", assertion.violation);
    store(how, (&stored, Oracle::ModelAssertion.name(), &found), out)?;
    Ok(ExitCode::from(1))
}

/// Stores a finding (`stored`: its lasso file, `slug`, the `finding` line): as the lasso
/// file `--write` names, and with `--corpus-dir` as a new lasso entry of that corpus,
/// `class = "unknown"` with a placeholder postmortem, as `writeiter hunt --corpus-dir`
/// stores a safety finding.
fn store(
    how: &LivenessRun<'_>,
    (stored, slug, finding): (&str, &str, &str),
    out: &mut dyn Write,
) -> Result<(), String> {
    if let Some(path) = how.write {
        std::fs::write(path, stored).map_err(|e| format!("{}: {e}", path.display()))?;
        let _ = writeln!(out, "lasso: {}", path.display());
    }
    if let Some(dir) = how.corpus_dir {
        let entry = |id: u32| {
            let name = format!("{id:04}-{slug}.toml");
            let path = dir.join(crate::corpus::LIVENESS_DIR).join(name);
            entry_file(stored, (id, slug, &path), finding)
        };
        let path = crate::corpus::write_next_lasso(dir, slug, entry)?;
        let _ = writeln!(out, "corpus entry: {}", path.display());
    }
    Ok(())
}

/// A new lasso entry: the corpus fields (`class = "unknown"`, a placeholder postmortem with
/// the `finding` line, the replay line of the entry at `path`), the lasso file `stored`,
/// and its provenance.
fn entry_file(stored: &str, (id, slug, path): (u32, &str, &Path), finding: &str) -> String {
    let replay = format!("{REPLAY_COMMAND} replay {}", path.display());
    format!(
        "id = {id}\nslug = {}\nkernel = \"{}\"\nclass = \"unknown\"\nreplay = {}\npostmortem = '''\nFound by writeiter run --liveness, not yet explained.\n{}\n'''\n{stored}\n[provenance]\ntool = \"writeiter {}\"\nengine = \"sim\"\nstrategy = \"liveness\"\nseed = 0\ndate = \"{}\"\n",
        quoted(slug),
        crate::corpus::KERNEL,
        quoted(&replay),
        finding.replace("'''", "''\\'"),
        env!("CARGO_PKG_VERSION"),
        crate::corpus::today()
    )
}

/// A path replayed: its steps, then the model assertion of its last step (exit 1) or that
/// none fired (exit 0).
fn print_path(replayed: &PathReplayed, out: &mut dyn Write) -> ExitCode {
    let _ = writeln!(out, "path ({} steps):", replayed.trace.len());
    let _ = write!(out, "{}", report::trace(&replayed.trace));
    match &replayed.violation {
        Some(violation) => {
            let step = replayed.trace.len();
            let _ = writeln!(out, "step {step} panicked");
            let _ = writeln!(out, "VIOLATION {violation}");
            ExitCode::from(1)
        }
        None => {
            let _ = writeln!(out, "no model assertion on this path");
            ExitCode::SUCCESS
        }
    }
}

/// A TOML string, quoted and escaped.
pub(crate) fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The lasso file's head: kind and verdict.
fn head(verdict: &str) -> String {
    format!("kind = \"lasso\"\nverdict = {}\n", quoted(verdict))
}

/// The lasso file's tail: the patches and the scenario file's text.
fn tail(scenario: &str, patches: &[&str]) -> String {
    let ids: Vec<String> = patches.iter().map(|id| format!("\"{id}\"")).collect();
    format!(
        "patches = [{}]\n{}\n",
        ids.join(", "),
        scenario_field(scenario)
    )
}

/// The `scenario` field: the scenario file's text as a multi-line TOML string.
pub(crate) fn scenario_field(scenario: &str) -> String {
    format!(
        "scenario = \"\"\"\n{}\"\"\"",
        scenario
            .replace('\\', "\\\\")
            .replace("\"\"\"", "\\\"\\\"\\\"")
    )
}

/// A lasso file: the lasso, the patches and the scenario file's text.
fn lasso_file(scenario: &str, patches: &[&str], lasso: &Lasso) -> String {
    format!(
        "{}victim = {}\nwait = \"{}\"\nschedule = \"{}\"\n{}",
        head(STARVATION),
        lasso.victim,
        lasso.wait,
        lasso.schedule(),
        tail(scenario, patches)
    )
}

/// The lasso file of a model assertion: the violation, the path as the schedule, the patches
/// and the scenario file's text.
fn assertion_file(scenario: &str, patches: &[&str], assertion: &Assertion) -> String {
    format!(
        "{}violation = {}\nschedule = {}\n{}",
        head(Oracle::ModelAssertion.name()),
        quoted(&assertion.violation.to_string()),
        quoted(&assertion.schedule()),
        tail(scenario, patches)
    )
}

/// A lasso file as read.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LassoFile {
    #[allow(dead_code)] // checked by is_lasso
    kind: String,
    /// `starvation`, or `model-assertion`.
    pub(crate) verdict: String,
    /// The starving actor (a starvation only).
    #[serde(default)]
    victim: Option<u8>,
    /// What the victim waits for at the cycle's start (a starvation only); the replay must
    /// find it blocked on the same.
    #[serde(default)]
    pub(crate) wait: Option<String>,
    /// The model assertion's violation (a model assertion only); the replay says it again.
    #[serde(default)]
    violation: Option<String>,
    pub(crate) schedule: String,
    patches: Vec<String>,
    pub(crate) scenario: String,
    /// The corpus fields of a lasso entry ([`crate::corpus::LIVENESS_DIR`]): its number.
    #[serde(default)]
    id: Option<u32>,
    /// Its short name: the file is `NNNN-slug.toml`.
    #[serde(default)]
    slug: Option<String>,
    /// The kernel version it is about (`4.4`).
    #[serde(default)]
    kernel: Option<String>,
    /// Its class, judged against the kernel's history.
    #[serde(default)]
    class: Option<Class>,
    /// `class = "bug"`: the upstream fix.
    #[serde(default)]
    fixed_by: Option<String>,
    /// `class = "by-design"`: the upstream change of contract.
    #[serde(default)]
    changed_by: Option<String>,
    /// `class = "accepted"`: the commit or document that keeps it.
    #[serde(default)]
    reference: Option<String>,
    /// Which kernel code does it, and why.
    #[serde(default)]
    postmortem: Option<String>,
    /// The command line that replays the entry (`writeiter replay` of its file).
    #[serde(default)]
    replay: Option<String>,
    /// Where it came from.
    #[serde(default)]
    provenance: Option<Provenance>,
}

/// The corpus fields of a lasso entry, all present.
#[derive(Debug)]
pub struct Triage {
    /// The entry's number.
    pub id: u32,
    /// Its short name.
    pub slug: String,
    /// The class in words ([`crate::corpus::class_words`]).
    pub class: String,
    /// Its replay line.
    pub replay: String,
}

/// A lasso file's corpus fields: `None` for a file `--write` stored (it has none), the
/// triage of a lasso entry (it has them all: `id`, `slug`, `kernel`, `class` with its
/// evidence, `postmortem`, `replay`, `[provenance]`); an error names the field.
fn triage_of(file: &LassoFile) -> Result<Option<Triage>, String> {
    let present = [
        file.id.is_some(),
        file.slug.is_some(),
        file.kernel.is_some(),
        file.class.is_some(),
        file.postmortem.is_some(),
        file.replay.is_some(),
        file.provenance.is_some(),
    ];
    let evidence = [
        ("fixed_by", &file.fixed_by),
        ("changed_by", &file.changed_by),
        ("reference", &file.reference),
    ];
    if !present.contains(&true) && evidence.iter().all(|(_, v)| v.is_none()) {
        return Ok(None);
    }
    let missing =
        |field: &str| format!("{field}: missing (a lasso entry of the corpus has {ENTRY_FIELDS})");
    let kernel = file.kernel.as_deref().ok_or_else(|| missing("kernel"))?;
    if kernel != crate::corpus::KERNEL {
        let wanted = crate::corpus::KERNEL;
        return Err(format!("kernel: `{kernel}`; the model mirrors {wanted}"));
    }
    let class = file.class.ok_or_else(|| missing("class"))?;
    crate::corpus::check_evidence(class, evidence)?;
    file.postmortem
        .as_ref()
        .ok_or_else(|| missing("postmortem"))?;
    file.provenance
        .as_ref()
        .ok_or_else(|| missing("provenance"))?;
    let value = evidence.iter().find_map(|(_, v)| v.as_deref());
    Ok(Some(Triage {
        id: file.id.ok_or_else(|| missing("id"))?,
        slug: file.slug.clone().ok_or_else(|| missing("slug"))?,
        class: crate::corpus::class_words(Some(class), value),
        replay: file.replay.clone().ok_or_else(|| missing("replay"))?,
    }))
}

/// What a lasso file stores: a starvation lasso, or the path to a model assertion.
pub(crate) enum Stored {
    /// The victim, the stem and the cycle.
    Lasso(u8, Vec<Task>, Vec<Task>),
    /// The path, its last step panicking.
    Assertion(Vec<Task>),
}

/// The file is a lasso file (`kind = "lasso"`), not a corpus entry.
pub(crate) fn is_lasso(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    toml::from_str::<toml::Table>(&text)
        .is_ok_and(|t| t.get("kind").and_then(toml::Value::as_str) == Some("lasso"))
}

/// A lasso file read: the scenario (patched), the file, what it stores, and its triage when
/// it is a lasso entry of the corpus.
pub(crate) type LassoRead = (scenario_file::Looping, LassoFile, Stored, Option<Triage>);

/// Reads a lasso file: the scenario (patched with `patches` too) and the lasso or path;
/// errors name the file and field.
pub(crate) fn load_lasso(path: &Path, patches: Patches) -> Result<LassoRead, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let file: LassoFile =
        toml::from_str(&text).map_err(|e| format!("{name}: {}", e.to_string().trim_end()))?;
    let mut looping = scenario_file::parse_looping(&file.scenario)
        .map_err(|e| format!("{name}: scenario: {e}"))?;
    let stored = Patches::parse(&file.patches).map_err(|e| format!("{name}: patches: {e}"))?;
    looping.scenario.patches = looping.scenario.patches.union(stored).union(patches);
    let stored =
        stored_of(&file, looping.scenario.actors.len()).map_err(|e| format!("{name}: {e}"))?;
    let triage = triage_of(&file).map_err(|e| format!("{name}: {e}"))?;
    Ok((looping, file, stored, triage))
}

/// What `file` stores by its verdict, checked against a scenario of `actors` actors; an
/// error names the field.
fn stored_of(file: &LassoFile, actors: usize) -> Result<Stored, String> {
    let assertion = Oracle::ModelAssertion.name();
    match file.verdict.as_str() {
        STARVATION => {
            let victim = file
                .victim
                .ok_or("victim: missing (a starvation names its victim)")?;
            if usize::from(victim) >= actors {
                return Err(format!("victim: no actor a{victim}"));
            }
            let (stem, cycle) =
                liveness::parse_lasso(&file.schedule).map_err(|e| format!("schedule: {e}"))?;
            Ok(Stored::Lasso(victim, stem, cycle))
        }
        verdict if verdict == assertion => {
            if file.schedule.contains("cycle:") {
                return Err(format!(
                    "schedule: a {assertion} is a path, without `cycle:`"
                ));
            }
            let path = model::drive::parse_schedule(&file.schedule)
                .map_err(|e| format!("schedule: {e}"))?;
            Ok(Stored::Assertion(path))
        }
        other => Err(format!(
            "verdict: `{other}` is neither `{STARVATION}` nor `{assertion}`"
        )),
    }
}

/// `writeiter replay LASSO`: 0 when the lasso still shows its victim starving, 1 when not.
pub(crate) fn replay(
    path: &Path,
    patches: &PatchArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    replay_with(path, patches.patches()?, model::exec::step_with, out)
}

/// `replay` with `patches` and `stepper`: a starvation lasso replays over two rounds of its
/// cycle; a model assertion's path replays up to its last step, which must still panic.
pub fn replay_with(
    path: &Path,
    patches: Patches,
    stepper: Stepper,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    let (looping, file, stored, triage) = load_lasso(path, patches)?;
    print_entry(&file, triage.as_ref(), out);
    let (victim, stem, cycle) = match stored {
        Stored::Lasso(victim, stem, cycle) => (victim, stem, cycle),
        Stored::Assertion(steps) => {
            return replay_assertion(path, (&looping, &file), &steps, stepper, out);
        }
    };
    let _ = writeln!(
        out,
        "writeiter replay {}: starvation of a{}, Linux 4.1-4.4{}",
        path.display(),
        victim,
        crate::cli::patched_words(looping.scenario.patches)
    );
    let replayed = match liveness::replay_with(&looping, (&stem, &cycle), stepper) {
        Ok(replayed) => replayed,
        Err(e) => {
            let _ = writeln!(out, "broken: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if shows(&replayed, victim, &file) {
        let _ = writeln!(
            out,
            "reproduced: starvation of a{} ({} steps of stem, a cycle of {})",
            victim,
            stem.len(),
            cycle.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let _ = writeln!(
        out,
        "not reproduced: {}",
        not_shown(&replayed, victim, &file)
    );
    Ok(ExitCode::from(1))
}

/// The replayed lasso shows `victim` starving as `file` stores it: a weakly fair cycle
/// back to its state, the victim blocked throughout on the stored wait (any, when the file
/// stores none).
pub(crate) fn shows(replayed: &Replayed, victim: u8, file: &LassoFile) -> bool {
    let as_stored =
        |wait: &model::exec::Wait| (file.wait.as_ref()).is_none_or(|w| *w == wait.to_string());
    replayed.starves()
        && (replayed.starving.iter()).any(|(a, wait)| *a == victim && as_stored(wait))
}

/// Why a replayed lasso does not show `victim` starving as `file` stores it: the cycle does
/// not return to its state, leaves a runnable task out (not weakly fair), does not keep
/// the victim blocked, or keeps it blocked on another wait.
pub(crate) fn not_shown(replayed: &Replayed, victim: u8, file: &LassoFile) -> String {
    let blocked = (replayed.starving.iter()).find(|(a, _)| *a == victim);
    if !replayed.returns {
        "the cycle does not return to the state after the stem".to_string()
    } else if let Some(task) = replayed.unfair {
        format!(
            "the cycle is not weakly fair: {task} is runnable in every state of it and never steps"
        )
    } else if let Some((_, wait)) = blocked {
        format!(
            "a{victim} starves, but blocked on {wait}, not on the stored {}",
            file.wait.as_deref().unwrap_or_default()
        )
    } else {
        format!("the lasso no longer shows a{victim} starving")
    }
}

/// What a lasso entry of the corpus is to a hunt's known classes
/// ([`crate::signature::corpus_signatures`]).
#[derive(Clone, Debug)]
pub enum HuntClass {
    /// A starvation: no class of a hunt. A hunt's executions are finite (its scenarios do
    /// not repeat forever) and its oracles judge one execution at a time, so none of them
    /// shows a task waiting for ever; the liveness search finds these.
    Starvation,
    /// A model assertion, a class a hunt can meet (its random walks step the same model):
    /// the entry with the signature of its path's last step
    /// ([`crate::signature::of_model_assertion`]), or `None` when that step no longer
    /// panics (stale).
    Assertion(Option<crate::signature::KnownEntry>),
}

/// What the lasso entry at `path` is to a hunt ([`HuntClass`]), its path replayed with
/// `stepper`; an error names the file and field (a lasso file without the corpus fields is
/// one).
pub fn hunt_class(path: &Path, stepper: Stepper) -> Result<HuntClass, String> {
    let (looping, file, stored, triage) = load_lasso(path, Patches::NONE)?;
    let shown = path.display();
    let triage = triage
        .ok_or_else(|| format!("{shown}: not a corpus entry: it has none of {ENTRY_FIELDS}"))?;
    let Stored::Assertion(steps) = stored else {
        return Ok(HuntClass::Starvation);
    };
    let replayed =
        liveness::replay_path(&looping, &steps, stepper).map_err(|e| format!("{shown}: {e}"))?;
    let class = file.class.map_or("unknown", Class::name);
    let signature = crate::cli_shrink_lasso::last_step_class(&replayed, &steps);
    let entry = signature.map(|signature| crate::signature::KnownEntry {
        id: triage.id,
        class,
        signature,
    });
    Ok(HuntClass::Assertion(entry))
}

/// Reads a lasso file: the triage of a lasso entry of the corpus, `None` for a lasso file
/// without corpus fields; an error names the file and the field.
pub fn load_lasso_entry(path: &Path) -> Result<Option<Triage>, String> {
    load_lasso(path, Patches::NONE).map(|(_, _, _, triage)| triage)
}

/// The first line of `replay` and `explain` on a lasso entry of the corpus: its number,
/// slug, verdict and class (nothing for a lasso file without corpus fields).
fn print_entry(file: &LassoFile, triage: Option<&Triage>, out: &mut dyn Write) {
    if let Some(triage) = triage {
        let verdict = &file.verdict;
        let (id, slug, class) = (triage.id, &triage.slug, &triage.class);
        let _ = writeln!(out, "corpus entry {id} {slug} ({verdict}); class: {class}");
    }
}

/// The test of a lasso entry of the corpus (`sim/tests/corpus.rs` runs it on every file of
/// [`crate::corpus::LIVENESS_DIR`]): it loads with all its corpus fields, lies in the file its
/// id and slug name, its replay line replays that file, and it replays with `stepper`
/// ([`replay_with`]): a starvation's stem reaches the state its cycle returns to, the cycle
/// is weakly fair to the others and the victim stays blocked in every state of two rounds;
/// a model assertion's path still panics at its last step. Panics naming the file, the
/// entry and its class, with what the replay printed and the replay line.
pub fn assert_lasso_entry(path: &Path, stepper: Stepper) {
    let (_, file, _, triage) = load_lasso(path, Patches::NONE).unwrap_or_else(|e| panic!("{e}"));
    let shown = path.display();
    let triage = triage
        .unwrap_or_else(|| panic!("{shown}: not a corpus entry: it has none of {ENTRY_FIELDS}"));
    crate::corpus::assert_named(path, triage.id, &triage.slug);
    let wanted = format!("{:04}-{}.toml", triage.id, triage.slug);
    let command = format!("{REPLAY_COMMAND} replay ");
    let replays_it = (triage.replay.strip_prefix(&command))
        .is_some_and(|file| file == wanted || file.ends_with(&format!("/{wanted}")));
    assert!(
        replays_it,
        "{shown}: replay: `{}` is not `{command}…/{wanted}`",
        triage.replay
    );
    let mut out = Vec::new();
    let code =
        replay_with(path, Patches::NONE, stepper, &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        code == ExitCode::SUCCESS,
        "{shown}: entry {} {} ({}; class: {}):\n{}replay: {}",
        triage.id,
        triage.slug,
        file.verdict,
        triage.class,
        String::from_utf8_lossy(&out),
        triage.replay
    );
}

/// The replay of a stored model assertion: 0 when the path's last step still panics (and
/// no earlier one), 1 when not.
fn replay_assertion(
    path: &Path,
    (looping, file): (&scenario_file::Looping, &LassoFile),
    steps: &[Task],
    stepper: Stepper,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    let _ = writeln!(
        out,
        "writeiter replay {}: {}, Linux 4.1-4.4{}",
        path.display(),
        file.violation
            .as_deref()
            .unwrap_or(Oracle::ModelAssertion.name()),
        crate::cli::patched_words(looping.scenario.patches)
    );
    let replayed = match liveness::replay_path(looping, steps, stepper) {
        Ok(replayed) => replayed,
        Err(e) => {
            let _ = writeln!(out, "broken: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    match panicked_last(&replayed, steps) {
        Some(violation) => {
            let _ = writeln!(
                out,
                "reproduced: step {} panics ({violation})",
                steps.len() - 1
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let _ = writeln!(out, "not reproduced: the path's last step no longer panics");
            Ok(ExitCode::from(1))
        }
    }
}

/// The model assertion of the path's last step, when it is the step that panicked.
pub(crate) fn panicked_last<'a>(
    replayed: &'a PathReplayed,
    steps: &[Task],
) -> Option<&'a Violation> {
    let last = replayed.trace.len() + 1 == steps.len();
    replayed.violation.as_ref().filter(|_| last)
}

/// `writeiter explain LASSO`: the stem and two rounds of the cycle as a timeline.
pub(crate) fn explain(
    path: &Path,
    patches: &PatchArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    explain_with(path, patches.patches()?, model::exec::step_with, out)
}

/// `explain` with `patches` and `stepper`; a model assertion's path is drawn up to the
/// step that panicked (exit 0 when it still does, 1 when not).
pub fn explain_with(
    path: &Path,
    patches: Patches,
    stepper: Stepper,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    let (looping, file, stored, triage) = load_lasso(path, patches)?;
    print_entry(&file, triage.as_ref(), out);
    let (victim, stem, cycle) = match stored {
        Stored::Lasso(victim, stem, cycle) => (victim, stem, cycle),
        Stored::Assertion(steps) => return explain_assertion(path, &looping, &steps, stepper, out),
    };
    let replayed = liveness::replay_with(&looping, (&stem, &cycle), stepper)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let title = format!(
        "{}: starvation of a{} (Linux 4.4{}); steps 0..{} the stem, then the cycle twice ({} steps a round; object numbers are the renumbered ones)",
        path.display(),
        victim,
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

/// The timeline of a stored model assertion's path, up to the step that panicked.
fn explain_assertion(
    path: &Path,
    looping: &scenario_file::Looping,
    steps: &[Task],
    stepper: Stepper,
    out: &mut dyn Write,
) -> Result<ExitCode, String> {
    let replayed = liveness::replay_path(looping, steps, stepper)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let reproduced = panicked_last(&replayed, steps).is_some();
    let title = format!(
        "{}: a model assertion in the liveness search (Linux 4.4{}); {} steps, then {} panics (object numbers are the renumbered ones)",
        path.display(),
        crate::cli::patched_words(looping.scenario.patches),
        replayed.trace.len(),
        steps.last().map_or_else(String::new, Task::to_string)
    );
    let execution = crate::engine::Execution {
        schedule: steps[..replayed.trace.len()].to_vec(),
        trace: replayed.trace.clone(),
        end: model::drive::End::Paused,
        violation: replayed.violation.clone(),
        state: replayed.state.clone(),
    };
    let _ = write!(out, "{}", crate::explain::text(&title, &execution));
    if !reproduced {
        let _ = writeln!(out, "not reproduced: the path's last step no longer panics");
    }
    Ok(if reproduced {
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

/// The command that replays a lasso or a path (`schedule`).
fn replay_line(file: &Path, patches: Patches, schedule: &str) -> String {
    let ids: String = (patches.ids().iter())
        .map(|id| format!(" --patch {id}"))
        .collect();
    format!(
        "{REPLAY_COMMAND} run {}{ids} --liveness --schedule \"{schedule}\"",
        file.display()
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
