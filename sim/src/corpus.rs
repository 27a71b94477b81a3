//! The corpus: one counterexample (or one case known to hold) per TOML file under `corpus/`,
//! read with serde. `corpus/README.md` documents the format; `cargo test` replays every file
//! (`sim/tests/corpus.rs`) and `writeiter replay FILE` replays one. The lasso entries of the
//! liveness search live in its [`LIVENESS_DIR`] (read by [`crate::cli_liveness`]).

use std::path::{Path, PathBuf};

use model::scenario::Scenario;
use serde::Deserialize;

use crate::engine::{self, Execution, Pct, RandomWalk};
use crate::scenario_file::{ScenarioFile, to_toml_under};

/// Random and PCT schedules a stale schedule's re-search tries, each.
pub const RESEARCH_SCHEDULES: u64 = 5_000;
/// States the re-search's breadth-first search may visit.
pub const RESEARCH_STATES: u64 = 200_000;
/// States the breadth-first search that proves a `holds` entry may visit: it must explore
/// every reachable state within this bound.
pub const HOLDS_STATES: u64 = 500_000;

/// The subdirectory of the corpus that holds its lasso entries: lasso files
/// ([`crate::cli_liveness`]) with an id, a slug, a class and a postmortem, replayed by
/// [`crate::cli_liveness::assert_lasso_entry`]. The hunt's known classes read its lasso
/// entries of a model assertion as classes and count those of a starvation as left out
/// ([`crate::cli_liveness::HuntClass`]); `writeiter matrix` reads only the `.toml` files of
/// the corpus itself.
pub const LIVENESS_DIR: &str = "liveness";

/// The kernel version every corpus entry is about.
pub const KERNEL: &str = "4.4";

/// What an entry claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The schedule breaks the oracle.
    Violates,
    /// Nothing in the scenario breaks the oracle (checked by a bounded search).
    Holds,
}

impl Verdict {
    /// The name a corpus file uses.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Violates => "violates",
            Verdict::Holds => "holds",
        }
    }
}

/// What kind of behaviour a stored violation is, judged against the kernel's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// A 4.4 defect that upstream fixed: `fixed_by` names the commit.
    Bug,
    /// 4.4 does this by its own contract, which a later kernel changed: `changed_by`.
    ByDesign,
    /// Still so upstream and considered correct: `reference` (a commit or a document).
    Accepted,
    /// Not yet matched to upstream history.
    Unknown,
}

impl Class {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Class::Bug => "bug",
            Class::ByDesign => "by-design",
            Class::Accepted => "accepted",
            Class::Unknown => "unknown",
        }
    }

    /// The field that cites the evidence for this class, if it has one.
    pub fn evidence_field(self) -> Option<&'static str> {
        match self {
            Class::Bug => Some("fixed_by"),
            Class::ByDesign => Some("changed_by"),
            Class::Accepted => Some("reference"),
            Class::Unknown => None,
        }
    }
}

/// Where an entry came from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// `writeiter <version>`.
    pub tool: String,
    /// `sim`, `shuttle` or `loom`.
    pub engine: String,
    /// The strategy that found it.
    pub strategy: String,
    /// The seed of the case.
    pub seed: u64,
    /// When (YYYY-MM-DD).
    pub date: String,
}

/// One corpus file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Number, unique in the corpus.
    pub id: u32,
    /// Short name, as in the file name `NNNN-slug.toml`.
    pub slug: String,
    /// The oracle's kebab-case name.
    pub oracle: String,
    /// The kernel version modelled (`4.4`).
    pub kernel: String,
    /// `violates` or `holds`.
    pub verdict: Verdict,
    /// For a violation: what kind of behaviour it is.
    #[serde(default)]
    pub class: Option<Class>,
    /// `class = "bug"`: `"<12 hex digits> <title> (<version>)"` of the upstream fix.
    #[serde(default)]
    pub fixed_by: Option<String>,
    /// `class = "by-design"`: the upstream change of contract.
    #[serde(default)]
    pub changed_by: Option<String>,
    /// `class = "accepted"`: the commit or document that keeps it.
    #[serde(default)]
    pub reference: Option<String>,
    /// The engine-independent schedule.
    pub schedule: String,
    /// For a violation: its class key, the signature `writeiter hunt` prints
    /// (`oracle@kernel function | kinds`, [`crate::signature`]). Replay demands it of the
    /// stored schedule and of any schedule found in a stale one's place.
    #[serde(default)]
    pub signature: Option<String>,
    /// shuttle's own schedule string, where one exists.
    #[serde(default)]
    pub shuttle_schedule: Option<String>,
    /// Which kernel code does it, and why.
    pub postmortem: String,
    /// Where it came from.
    pub provenance: Provenance,
    /// What shrinking found, once shrunk.
    #[serde(default)]
    pub shrink: Option<ShrinkRecord>,
    /// The scenario, in the scenario-file format.
    pub scenario: ScenarioFile,
}

/// What `writeiter shrink` recorded.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShrinkRecord {
    /// The preemption bound of the schedule's search (absent: found breadth-first only).
    #[serde(default)]
    pub preemptions: Option<u64>,
    /// The schedule is as short as the shortest the breadth-first search found.
    pub shortest: bool,
    /// Sizes before shrinking.
    pub before: String,
}

/// A corpus file that cannot be used: the file and what is wrong (line and field where TOML
/// knows them).
#[derive(Debug)]
pub struct CorpusError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for CorpusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A loaded entry with its checked scenario.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The entry.
    pub entry: Entry,
    /// Its scenario.
    pub scenario: Scenario,
}

/// Reads and checks a corpus file.
pub fn load(path: &Path) -> Result<Loaded, CorpusError> {
    let error = |message: String| CorpusError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read: {e}")))?;
    let entry: Entry =
        toml::from_str(&text).map_err(|e| error(e.to_string().trim_end().to_string()))?;
    if crate::oracle::Oracle::from_name(&entry.oracle).is_none() {
        return Err(error(format!(
            "oracle: `{}` is not an oracle",
            entry.oracle
        )));
    }
    if entry.kernel != KERNEL {
        return Err(error(format!(
            "kernel: `{}`; the model mirrors {KERNEL}",
            entry.kernel
        )));
    }
    model::drive::parse_schedule(&entry.schedule).map_err(|e| error(format!("schedule: {e}")))?;
    check_class(&entry).map_err(error)?;
    let scenario = entry
        .scenario
        .clone()
        .checked_in(&text, "scenario.")
        .map_err(|e| error(format!("scenario: {e}")))?;
    Ok(Loaded { entry, scenario })
}

/// A violation has a class and exactly the evidence field its class asks for; a `holds`
/// entry has none.
fn check_class(entry: &Entry) -> Result<(), String> {
    let fields = [
        ("fixed_by", &entry.fixed_by),
        ("changed_by", &entry.changed_by),
        ("reference", &entry.reference),
    ];
    match (entry.verdict, entry.class) {
        (Verdict::Holds, Some(_)) => {
            Err("class: a holds entry is a control, it has no class".to_string())
        }
        (Verdict::Holds, None) => check_fields(None, "(none)", fields),
        (Verdict::Violates, None) => {
            Err("class: missing; a violation is a bug, by-design, accepted or unknown".to_string())
        }
        (Verdict::Violates, Some(class)) => check_evidence(class, fields),
    }
}

/// A finding's `class` against its evidence fields (`fixed_by`, `changed_by`, `reference`
/// with their values): exactly the field its class asks for, and a `fixed_by` in the form
/// of a commit citation. A safety entry and a lasso entry ([`LIVENESS_DIR`]) are checked
/// alike.
pub fn check_evidence(class: Class, fields: [(&str, &Option<String>); 3]) -> Result<(), String> {
    check_fields(class.evidence_field(), class.name(), fields)
}

/// Exactly the evidence field `wanted` is present, and a `fixed_by` is a commit citation.
fn check_fields(
    wanted: Option<&str>,
    class_name: &str,
    fields: [(&str, &Option<String>); 3],
) -> Result<(), String> {
    for (name, value) in fields {
        match (Some(name) == wanted, value) {
            (true, None) => return Err(format!("{name}: missing for class {class_name}")),
            (false, Some(_)) => {
                return Err(format!("{name}: not a field of class {class_name}"));
            }
            _ => {}
        }
    }
    if let Some((_, Some(fix))) = fields.iter().find(|(name, _)| *name == "fixed_by")
        && !is_commit_citation(fix)
    {
        return Err(format!(
            "fixed_by: `{fix}` is not \"<12 hex digits> <title> (<version>)\""
        ));
    }
    Ok(())
}

/// `"<12 hex digits> <title> (<version>)"`, e.g. `"372a03e01853 ext4: fix data corruption
/// caused by unaligned direct AIO (v5.1)"`.
fn is_commit_citation(text: &str) -> bool {
    let Some((id, rest)) = text.split_once(' ') else {
        return false;
    };
    let hex = id.len() == 12
        && id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    let version = rest
        .rsplit_once(" (")
        .and_then(|(title, v)| (!title.is_empty()).then_some(v))
        .and_then(|v| v.strip_suffix(')'))
        .is_some_and(|v| v.starts_with('v') && v[1..].split('.').all(|n| n.parse::<u32>().is_ok()));
    hex && version
}

impl Entry {
    /// The class and its evidence, as TOML lines (empty for a `holds` entry).
    pub fn class_lines(&self) -> String {
        let Some(class) = self.class else {
            return String::new();
        };
        let evidence = [
            ("fixed_by", &self.fixed_by),
            ("changed_by", &self.changed_by),
            ("reference", &self.reference),
        ]
        .into_iter()
        .find_map(|(name, value)| {
            value
                .as_ref()
                .map(|v| format!("{name} = {}\n", toml_string(v)))
        })
        .unwrap_or_default();
        format!("class = \"{}\"\n{evidence}", class.name())
    }

    /// The class in words for reports: `bug (fixed by …)`, `unknown`, `control`.
    pub fn class_words(&self) -> String {
        let wanted = self.class.and_then(Class::evidence_field);
        let evidence = [
            ("fixed_by", &self.fixed_by),
            ("changed_by", &self.changed_by),
            ("reference", &self.reference),
        ]
        .into_iter()
        .find(|(name, _)| Some(*name) == wanted)
        .and_then(|(_, value)| value.as_deref());
        class_words(self.class, evidence)
    }
}

/// A class and its evidence (the value of its evidence field) in words for reports: `bug,
/// fixed by …`, `unknown: …`, `control` (no class).
pub fn class_words(class: Option<Class>, evidence: Option<&str>) -> String {
    let evidence = evidence.unwrap_or("?");
    match class {
        None => "control".to_string(),
        Some(Class::Bug) => format!("bug, fixed by {evidence}"),
        Some(Class::ByDesign) => format!("by design in 4.4, changed by {evidence}"),
        Some(Class::Accepted) => format!("accepted upstream ({evidence})"),
        Some(Class::Unknown) => "unknown: not yet matched to upstream history".to_string(),
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// How a replay came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The stored schedule breaks the stored oracle.
    Reproduced,
    /// The stored schedule no longer does, but a search of the scenario found this one.
    Refound(String),
    /// No search breaks the oracle (a `holds` entry wants this: a breadth-first search
    /// explored every reachable state and found no violation of any oracle).
    Held,
    /// The breadth-first search of a `holds` entry stopped at its bound of this many states.
    NotExhausted(u64),
    /// The schedule breaks another oracle first.
    Other(String),
}

/// Replays an entry. A `violates` entry: its schedule, and when that no longer shows the
/// violation, a bounded search of its scenario for the same oracle. A `holds` entry: a
/// breadth-first search of every reachable state, which must find no violation at all.
pub fn replay(loaded: &Loaded) -> Outcome {
    let initial = loaded.scenario.build().expect("checked on load");
    if loaded.entry.verdict == Verdict::Holds {
        return prove_holds(&initial);
    }
    let schedule = model::drive::parse_schedule(&loaded.entry.schedule).expect("checked on load");
    let oracle = loaded.entry.oracle.as_str();
    let run = engine::replay(&initial, &schedule, model::exec::step_with).ok();
    let seen = run.as_ref().and_then(|r| r.violation.as_ref());
    if let Some(run) = run
        .as_ref()
        .filter(|_| seen.is_some_and(|v| v.oracle.name() == oracle))
    {
        if let Some(changed) = class_changed(loaded, &initial, run) {
            return Outcome::Other(changed);
        }
        return shuttle_agrees(loaded, &initial);
    }
    match search(&initial, oracle) {
        Some(found) => match class_changed(loaded, &initial, &found) {
            Some(changed) => Outcome::Other(format!(
                "a search found {oracle} at \"{}\", but of {changed}",
                schedule_text(&found)
            )),
            None => Outcome::Refound(schedule_text(&found)),
        },
        None => Outcome::Held,
    }
}

/// The entry's stored `signature`, if it has one, against the one `run` shows: the class
/// `run` is of, when it is another.
fn class_changed(
    loaded: &Loaded,
    initial: &model::state::State,
    run: &Execution,
) -> Option<String> {
    let stored = loaded.entry.signature.as_ref()?;
    let got = crate::signature::of(initial, run, model::exec::step_with);
    let got = got.map_or("no class".to_string(), |s| s.to_string());
    (got != *stored).then(|| format!("class {got}, not the entry's {stored}"))
}

/// A breadth-first search of every state reachable from `initial`.
fn prove_holds(initial: &model::state::State) -> Outcome {
    let report = engine::bfs(initial, HOLDS_STATES, model::exec::step_with);
    match report.found {
        Some(found) => {
            let v = found
                .violation
                .as_ref()
                .expect("a found execution violates");
            Outcome::Other(format!("{v} at \"{}\"", schedule_text(&found)))
        }
        None if report.exhausted => Outcome::Held,
        None => Outcome::NotExhausted(report.states),
    }
}

/// A stored shuttle schedule must reproduce the oracle in shuttle too.
fn shuttle_agrees(loaded: &Loaded, initial: &model::state::State) -> Outcome {
    let Some(shuttle) = &loaded.entry.shuttle_schedule else {
        return Outcome::Reproduced;
    };
    match crate::threaded::shuttle_replay(initial, model::exec::step_with, shuttle) {
        Some(failure) if failure.oracle == loaded.entry.oracle => Outcome::Reproduced,
        Some(failure) => Outcome::Other(format!("{} under shuttle's replay", failure.oracle)),
        None => Outcome::Other("nothing under shuttle's replay".to_string()),
    }
}

/// Random walks, PCT and a breadth-first search for a violation of `oracle`.
fn search(initial: &model::state::State, oracle: &str) -> Option<Execution> {
    let hits = |run: &Execution| {
        run.violation
            .as_ref()
            .is_some_and(|v| v.oracle.name() == oracle)
    };
    for seed in 0..RESEARCH_SCHEDULES {
        let run = engine::execute(
            initial,
            &mut RandomWalk::new(seed),
            model::exec::step_with,
            false,
        );
        if hits(&run) {
            return Some(run);
        }
        let run = engine::execute(
            initial,
            &mut Pct::new(seed, 3),
            model::exec::step_with,
            false,
        );
        if hits(&run) {
            return Some(run);
        }
    }
    engine::bfs_for(initial, RESEARCH_STATES, model::exec::step_with, oracle).found
}

/// Replaces the `schedule = "..."` line of the corpus file at `path` (nothing else changes).
pub fn store_schedule(path: &Path, schedule: &str) -> Result<(), CorpusError> {
    let error = |message: String| CorpusError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read: {e}")))?;
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if !done && line.starts_with("schedule = ") {
                done = true;
                format!("schedule = \"{schedule}\"")
            } else {
                line.to_string()
            }
        })
        .collect();
    if !done {
        return Err(error("schedule: no line to replace".to_string()));
    }
    std::fs::write(path, lines.join("\n") + "\n").map_err(|e| error(format!("cannot write: {e}")))
}

/// A schedule as text.
pub fn schedule_text(run: &Execution) -> String {
    run.schedule
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a new entry needs besides its scenario.
#[derive(Clone, Debug)]
pub struct NewEntry<'a> {
    /// Number.
    pub id: u32,
    /// Short name.
    pub slug: &'a str,
    /// Oracle.
    pub oracle: &'a str,
    /// Schedule.
    pub schedule: &'a str,
    /// Postmortem.
    pub postmortem: &'a str,
    /// Engine, strategy, seed.
    pub engine: &'a str,
    /// Strategy.
    pub strategy: &'a str,
    /// Seed.
    pub seed: u64,
    /// Date (YYYY-MM-DD).
    pub date: &'a str,
    /// What shrinking found, if shrunk.
    pub shrink: Option<(Option<usize>, bool, String)>,
    /// shuttle's schedule string for the scenario, if shuttle found it.
    pub shuttle_schedule: Option<String>,
    /// The class lines ([`Entry::class_lines`]); a new finding is `class = "unknown"`.
    pub class_lines: String,
}

/// The signature of the violation `schedule` shows in `scenario`, if it shows one.
pub fn signature_of(scenario: &Scenario, schedule: &str) -> Option<crate::signature::Signature> {
    let initial = scenario.build().ok()?;
    let schedule = model::drive::parse_schedule(schedule).ok()?;
    let run = engine::replay(&initial, &schedule, model::exec::step_with).ok()?;
    crate::signature::of(&initial, &run, model::exec::step_with)
}

/// A corpus file's text.
pub fn to_toml(new: &NewEntry<'_>, scenario: &Scenario) -> String {
    let postmortem = new.postmortem.replace("'''", "''\\'");
    let shuttle = new.shuttle_schedule.as_ref().map_or(String::new(), |s| {
        // Shuttle wraps a long schedule at 76 columns: a multi-line string keeps it as is.
        format!("shuttle_schedule = \"\"\"\n{s}\"\"\"\n")
    });
    let signature = signature_of(scenario, new.schedule)
        .map_or(String::new(), |s| format!("signature = \"{s}\"\n"));
    let shrink = new
        .shrink
        .as_ref()
        .map_or(String::new(), |(preemptions, shortest, before)| {
            let preemptions = preemptions.map_or(String::new(), |p| format!("preemptions = {p}\n"));
            format!("[shrink]\n{preemptions}shortest = {shortest}\nbefore = \"{before}\"\n\n")
        });
    format!(
        "id = {}\nslug = \"{}\"\noracle = \"{}\"\nkernel = \"{KERNEL}\"\nverdict = \"violates\"\n{}schedule = \"{}\"\n{signature}{shuttle}postmortem = '''\n{}\n'''\n\n[provenance]\ntool = \"writeiter {}\"\nengine = \"{}\"\nstrategy = \"{}\"\nseed = {}\ndate = \"{}\"\n\n{shrink}{}",
        new.id,
        new.slug,
        new.oracle,
        new.class_lines,
        new.schedule,
        postmortem.trim(),
        env!("CARGO_PKG_VERSION"),
        new.engine,
        new.strategy,
        new.seed,
        new.date,
        to_toml_under(scenario, "scenario.")
    )
}

/// A violation to store as a new corpus entry (`class = "unknown"`, a placeholder
/// postmortem), as `writeiter hunt --corpus-dir` and a failing `sim::check` assertion do.
#[derive(Clone, Debug)]
pub struct Found<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its violating execution on the real model.
    pub execution: &'a Execution,
    /// The engine that found it.
    pub engine: &'a str,
    /// The strategy.
    pub strategy: &'a str,
    /// The seed.
    pub seed: u64,
    /// Who found it, how; the violation is appended.
    pub postmortem: String,
}

impl Found<'_> {
    /// Shrinks the counterexample on the real model ([`crate::shrink::shrink`]; unshrunk when
    /// the bounded search cannot re-find it) and writes it to `dir` as
    /// `NNNN-<oracle>-seed<S>.toml` with the next free number. The path, and the sizes before
    /// and after.
    pub fn shrink_and_write(&self, dir: &Path) -> Result<(PathBuf, String), String> {
        let violation = (self.execution.violation.as_ref()).ok_or("no violation to write")?;
        let oracle = violation.oracle.name();
        let size = crate::shrink::size;
        let before = size(self.scenario, self.execution.schedule.len());
        let shrunk = crate::shrink::shrink(self.scenario, oracle, model::exec::step_with);
        let (scenario, run, record) = match &shrunk {
            Some(s) => (
                &s.scenario,
                &s.execution,
                Some((s.preemptions, s.shortest, before.to_string())),
            ),
            None => (self.scenario, self.execution, None),
        };
        let sizes = format!("{before} -> {}", size(scenario, run.schedule.len()));
        let slug = format!("{oracle}-seed{}", self.seed);
        let (postmortem, schedule, date) = (
            format!("{}\n{violation}", self.postmortem),
            schedule_text(run),
            today(),
        );
        let path = write_next(dir, &slug, |id| {
            let new = NewEntry {
                id,
                slug: &slug,
                oracle,
                schedule: &schedule,
                postmortem: &postmortem,
                engine: self.engine,
                strategy: self.strategy,
                seed: self.seed,
                date: &date,
                shrink: record.clone(),
                shuttle_schedule: None,
                class_lines: "class = \"unknown\"\n".to_string(),
            };
            to_toml(&new, scenario)
        })?;
        Ok((path, sizes))
    }
}

/// Writes `text(id)` to `dir/NNNN-<slug>.toml` with the first number from one past the count
/// of corpus files in `dir` that no file there starts with; a file created meanwhile by
/// another writer (a test running in parallel) moves it on to the next.
pub fn write_next(dir: &Path, slug: &str, text: impl Fn(u32) -> String) -> Result<PathBuf, String> {
    write_numbered(dir, dir, slug, text)
}

/// [`write_next`] for a lasso entry: into `dir`'s [`LIVENESS_DIR`], numbered like the
/// entries of `dir` (the numbers of both are taken).
pub fn write_next_lasso(
    dir: &Path,
    slug: &str,
    text: impl Fn(u32) -> String,
) -> Result<PathBuf, String> {
    write_numbered(dir, &dir.join(LIVENESS_DIR), slug, text)
}

/// The `.toml` files of `dir` (a corpus: its safety entries, or its lasso entries), sorted
/// by name; an error names the directory.
pub fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let listing = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = listing
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The names of the files in `dir` (none when it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Writes `text(id)` to `into/NNNN-<slug>.toml`, the number the first from one past the
/// count of corpus files in `corpus` that no file of `corpus` or of its lasso entries starts
/// with.
fn write_numbered(
    corpus: &Path,
    into: &Path,
    slug: &str,
    text: impl Fn(u32) -> String,
) -> Result<PathBuf, String> {
    use std::io::Write as _;
    let error = |e: std::io::Error| format!("{}: {e}", into.display());
    std::fs::create_dir_all(into).map_err(error)?;
    std::fs::read_dir(corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let names = names_in(corpus);
    let mut id = 1 + names.iter().filter(|n| n.ends_with(".toml")).count() as u32;
    let lassos = names_in(&corpus.join(LIVENESS_DIR));
    loop {
        let prefix = format!("{id:04}-");
        if !names.iter().chain(&lassos).any(|n| n.starts_with(&prefix)) {
            let path = into.join(format!("{prefix}{slug}.toml"));
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            match created {
                Ok(mut file) => {
                    file.write_all(text(id).as_bytes()).map_err(error)?;
                    return Ok(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(error(e)),
            }
        }
        id += 1;
    }
}

/// Today's date (UTC, YYYY-MM-DD) for a corpus file's provenance; it never enters a result.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Days to civil date (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Panics unless the entry at `path` (number `id`, slug `slug`) sits in the file named
/// after them, `NNNN-slug.toml`, as `cargo test` demands of every entry.
#[track_caller]
pub fn assert_named(path: &Path, id: u32, slug: &str) {
    let name = path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let wanted = format!("{id:04}-{slug}.toml");
    assert!(
        name == wanted,
        "{}: entry {id} `{slug}` belongs in a file named {wanted}",
        path.display()
    );
}
