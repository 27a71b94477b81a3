//! Helpers shared by the `sim` integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};

use model::fs::ext4::extents::{Extent, ExtentState};
use model::scenario::InodeSpec;

/// Runs the `writeiter` binary from the repository root.
pub fn writeiter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writeiter"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("writeiter runs")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The corpus file whose name starts with `prefix` (`"0003"`).
pub fn corpus_file(prefix: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .expect("entry")
}

/// Inode 0 (ino 12): one written block at p0, `i_size` 4096.
pub fn one_block_inode() -> InodeSpec {
    InodeSpec {
        ino: 12,
        extents: true,
        s_sync: false,
        dio_refused: false,
        i_size: 4096,
        extents_at_start: vec![Extent {
            lblk: 0,
            len: 1,
            pblk: 0,
            state: ExtentState::Written,
        }],
        cached_pages: Vec::new(),
    }
}

/// Standard output parsed as exactly one JSON document (trailing text is an error).
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", stdout(out)))
}

/// A command line split into words as a POSIX shell does for the quoting `writeiter`
/// prints: spaces separate words, '…' and "…" quote.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (None, ' ') => words.extend(word.take()),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (Some(q), c) if c == q => quote = None,
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Replays `schedule` (trace notation, `a0 b2 w3 …`) on the scenario file text `toml`
/// under `stepper`; panics if the scenario or the schedule does not apply.
pub fn replay_toml(
    toml: &str,
    schedule: &str,
    stepper: sim::engine::Stepper,
) -> sim::engine::Execution {
    let state = sim::Scenario::from_toml(toml)
        .expect("a valid scenario")
        .model()
        .build()
        .expect("it builds");
    let schedule = model::drive::parse_schedule(schedule).expect("a schedule");
    sim::engine::replay(&state, &schedule, stepper).expect("the schedule applies")
}

/// Every example scenario (but one whose actors repeat forever, which only the liveness
/// search loads) and every corpus entry with its stored schedule, by file, in name order,
/// built: what the twin tests run both sides of an optimisation on.
pub fn examples_and_corpus() -> Vec<(
    std::path::PathBuf,
    model::state::State,
    Option<Vec<model::exec::Task>>,
)> {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let files = |dir: &str| {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("the directory")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        files
    };
    let examples = files("examples")
        .into_iter()
        .filter_map(|path| match sim::scenario_file::load(&path) {
            Ok(scenario) => Some((path, scenario, None)),
            Err(e) => {
                assert!(sim::scenario_file::load_looping(&path).is_ok(), "{e}");
                None
            }
        });
    let corpus = files("corpus").into_iter().map(|path| {
        let loaded = sim::corpus::load(&path).expect("a corpus entry loads");
        let schedule = model::drive::parse_schedule(&loaded.entry.schedule).expect("checked");
        (path, loaded.scenario, Some(schedule))
    });
    let all: Vec<_> = examples.chain(corpus).collect();
    assert!(all.len() >= 40, "examples and corpus found: {}", all.len());
    all.into_iter()
        .map(|(path, s, schedule)| (path, s.build().expect("the scenario builds"), schedule))
        .collect()
}

/// Runs the replay line of a hunt's output exactly as printed (less the cargo prefix, which
/// builds this same binary) and checks it shows the same violation.
pub fn replay_as_printed(text: &str) {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .expect("a replay line");
    let violation = text
        .lines()
        .find(|l| l.starts_with("VIOLATION "))
        .expect("a violation");
    let words = shell_words(line);
    let prefix = shell_words(sim::cli::REPLAY_COMMAND);
    assert_eq!(words[..prefix.len()], prefix[..], "{line}");
    assert_eq!(
        prefix,
        [
            "cargo",
            "run",
            "--release",
            "-p",
            "sim",
            "--bin",
            "writeiter",
            "--"
        ]
    );
    let args: Vec<&str> = words[prefix.len()..].iter().map(String::as_str).collect();
    let again = writeiter(&args);
    assert_eq!(again.status.code(), Some(1), "{line}\n{}", stdout(&again));
    assert!(
        stdout(&again).lines().any(|l| l == violation),
        "{line} does not show {violation}:\n{}",
        stdout(&again)
    );
}

/// The progress a watched search of `states` states showed (`seen`, in order): at least one
/// call per [`sim::reduce::WATCH_EVERY_STATES`] states (and two), counts that grow at every
/// call, never past the search's own, and a queue still holding states.
pub fn assert_progress(seen: &[sim::reduce::Progress], states: u64) {
    let expected = states / sim::reduce::WATCH_EVERY_STATES;
    assert!(seen.len() as u64 >= expected.max(2), "{} calls", seen.len());
    assert!(
        seen.windows(2)
            .all(|w| w[0].states < w[1].states && w[0].steps < w[1].steps)
    );
    let last = seen.last().expect("a call");
    assert!(last.states <= states && last.queued > 0, "{last:?}");
}

/// A seeded random walk from `initial` under every check (`Checking::Every`), at most
/// `steps_max` steps: `visit` sees the history and the state after each step that broke no
/// oracle; the walk stops at the first that does (a model assertion too), or when nothing
/// can run.
pub fn each_passing_state(
    initial: &model::state::State,
    (seed, steps_max): (u64, usize),
    visit: &mut dyn FnMut(&sim::oracle::history::History, &model::state::State),
) {
    use sim::engine::Chooser;
    let mut state = initial.clone();
    let mut observer = sim::oracle::Observer::checking(&state, sim::oracle::Checking::Every);
    let mut chooser = sim::engine::RandomWalk::new(seed);
    for _ in 0..steps_max {
        let runnable = model::exec::runnable(&state);
        if runnable.is_empty() {
            break;
        }
        let task = chooser.choose(&state, &runnable);
        let stepped = sim::engine::apply(
            model::exec::step_with,
            &mut state,
            task,
            model::exec::Trace::Off,
        );
        let Ok(Ok(event)) = stepped else { break };
        if observer.after_step(&state, &event).is_err() {
            break;
        }
        visit(observer.history(), &state);
    }
}

/// What a twin search visits: the parent's parts, the task stepped, the successor and its
/// observer.
pub type VisitSuccessor<'a> = &'a mut dyn FnMut(
    &sim::fingerprint::Parts,
    model::exec::Task,
    &model::state::State,
    &sim::oracle::Observer,
);

/// Breadth-first over the states reachable from `initial`, keyed by `key`, at most
/// `max_states` of them kept (a step that breaks an oracle ends its path): `visit` sees every
/// successor that broke none, with its parent's parts and the task that made it. The driver
/// of the twin tests that compare two keys or hashes on every successor.
pub fn each_successor(
    initial: &model::state::State,
    (max_states, key): (u64, fn(&model::state::State, &sim::oracle::Observer) -> u64),
    visit: VisitSuccessor<'_>,
) {
    use model::exec::{self, Trace};
    let first = sim::oracle::Observer::new(initial);
    let mut seen = std::collections::HashSet::from([key(initial, &first)]);
    let mut queue = std::collections::VecDeque::from([(initial.clone(), first)]);
    while let Some((state, observer)) = queue.pop_front() {
        let parts = sim::fingerprint::Parts::of(&state);
        for task in exec::runnable(&state) {
            let (mut next, mut watch) = (state.clone(), observer.clone());
            let checked = sim::engine::apply(exec::step_with, &mut next, task, Trace::Off)
                .and_then(|event| watch.after_step(&next, &event.expect("runnable")));
            if checked.is_err() {
                continue;
            }
            visit(&parts, task, &next, &watch);
            if seen.insert(key(&next, &watch)) && (seen.len() as u64) < max_states {
                queue.push_back((next, watch));
            }
        }
    }
}

/// `examples/canonical.toml`, built.
pub fn canonical_state() -> model::state::State {
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/canonical.toml"
    ));
    let scenario = sim::scenario_file::load(path).expect("examples/canonical.toml loads");
    scenario.build().expect("examples/canonical.toml builds")
}

/// The states and observers along a random walk of `initial` from `seed`, first to last
/// (the last the one a step that broke an oracle left).
pub fn walk_pairs(
    initial: &model::state::State,
    seed: u64,
) -> Vec<(model::state::State, sim::oracle::Observer)> {
    use model::exec;
    let chooser = &mut sim::engine::RandomWalk::new(seed);
    let plain = sim::engine::execute(initial, chooser, exec::step_with, false);
    let (mut state, mut observer) = (initial.clone(), sim::oracle::Observer::new(initial));
    let mut passed = vec![(state.clone(), observer.clone())];
    for &task in &plain.schedule {
        let checked = sim::engine::apply(exec::step_with, &mut state, task, exec::Trace::Off)
            .and_then(|event| observer.after_step(&state, &event.expect("runnable")));
        passed.push((state.clone(), observer.clone()));
        if checked.is_err() {
            break;
        }
    }
    passed
}

/// A run's counterexample as the twin searches compare it: its schedule, and its
/// violation's oracle and message.
pub type Counterexample = (Vec<model::exec::Task>, String);

/// The breadth-first search of `initial` within `states` on `jobs` threads, refusing every
/// violation when `measure` (else taking the first): its report, and its counterexample.
pub fn twin_bfs(
    initial: &model::state::State,
    states: u64,
    jobs: usize,
    measure: bool,
) -> (sim::engine::SearchReport, Option<Counterexample>) {
    use sim::engine::Execution;
    let accept = |_: &Execution| !measure;
    let wanted = ("", &accept as &dyn Fn(&Execution) -> bool);
    let step = (model::exec::step_with as sim::engine::Stepper, jobs);
    let r = sim::engine::bfs_jobs(initial, (states, u64::MAX), step, wanted, None);
    let found = r.found.as_ref().map(|run| {
        let v = run.violation.as_ref().expect("a found run violates");
        let message = format!("{}: {}", v.oracle.name(), v.message);
        (run.schedule.clone(), message)
    });
    (r, found)
}
