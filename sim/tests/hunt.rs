//! Our simulator's strategies and `writeiter hunt`: a planted bug every strategy finds, the
//! same seed giving the same trace, the printed replay command reproducing a violation, the
//! JSON summary, exit statuses.

mod common;
use common::{stdout, writeiter};

use model::exec::{Event, StepError, Task, Trace};
use model::fs::ext4::super_::{Geometry, Mount};
use model::include::fs::{FileFlags, Segment};
use model::ops::{Op, WriteOp};
use model::scenario::Scenario;
use model::state::State;
use sim::engine::{self, Pct, RandomWalk};
use sim::hunt::{Hunt, Source, Strategy, run_case};

/// The planted bug: a broken copy of `generic_file_direct_write`'s tail that loses a sector
/// of the `i_size` an extending direct write set.
fn broken_step(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = model::exec::step_with(state, task, trace)?;
    if event.pc.name() == "DirectEnd" && state.inodes[0].i_size > 4096 {
        let sector = state.geometry.sectorsize();
        let ino = &mut state.inodes[0];
        ino.i_size -= sector;
        ino.i_disksize = ino.i_disksize.min(ino.i_size);
    }
    Ok(event)
}

/// An extending sync O_DIRECT write beside a `stat`.
fn extending_dio() -> Scenario {
    let file = FileFlags {
        o_direct: true,
        o_largefile: true,
        ..FileFlags::default()
    };
    let write = WriteOp {
        inode: 0,
        pos: 4096,
        segments: vec![Segment {
            base: 0x10_0000,
            len: 4096,
        }],
        file,
        aio: false,
        rlimit_fsize: model::limits::RLIM_INFINITY,
        tag: 0,
    };
    let inode = common::one_block_inode();
    let actors = vec![vec![Op::Write(write)], vec![Op::Stat { inode: 0 }]];
    Scenario {
        geometry: Geometry::SMALL,
        mount: Mount::default(),
        inodes: vec![inode],
        actors,
        patches: model::patches::Patches::NONE,
    }
}

fn case(strategy: Strategy) -> sim::hunt::CaseResult {
    let hunt = Hunt {
        engine: sim::hunt::Engine::Sim,
        seed: 7,
        strategy: Some(strategy),
        source: Source::File(extending_dio()),
        cases: 1,
        max_seconds: None,
        jobs: 1,
        stepper: broken_step,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    };
    run_case(hunt.case(0), broken_step)
}

#[test]
fn every_strategy_of_our_simulator_finds_the_planted_bug() {
    for strategy in [
        Strategy::Random,
        Strategy::Pct,
        Strategy::Dfs,
        Strategy::Bfs,
    ] {
        let result = case(strategy);
        let found = result
            .found
            .unwrap_or_else(|| panic!("{} missed the planted bug", strategy.name()));
        let violation = found.violation.expect("a violation");
        assert_eq!(
            violation.oracle.name(),
            "size-rules",
            "{}: {violation}",
            strategy.name()
        );
        let replayed = engine::replay(
            &extending_dio().build().unwrap(),
            &found.schedule,
            broken_step,
        )
        .unwrap();
        assert_eq!(
            replayed.violation.map(|v| v.oracle),
            Some(violation.oracle),
            "{}",
            strategy.name()
        );
    }
}

#[test]
fn the_correct_model_passes_where_the_planted_bug_fails() {
    let initial = extending_dio().build().unwrap();
    let report = engine::bfs(&initial, 100_000, model::exec::step_with);
    assert!(report.exhausted && report.found.is_none(), "{report:?}");
    assert!(report.states > 10);
    let report = engine::dfs(&initial, 2, 10_000, model::exec::step_with);
    assert!(report.exhausted && report.found.is_none());
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let (scenario, _) = sim::swarm::generate(3);
    let initial = scenario.build().unwrap();
    for seed in 0..20 {
        let a = engine::execute(
            &initial,
            &mut RandomWalk::new(seed),
            model::exec::step_with,
            true,
        );
        let b = engine::execute(
            &initial,
            &mut RandomWalk::new(seed),
            model::exec::step_with,
            true,
        );
        assert_eq!(a.trace, b.trace);
        let a = engine::execute(
            &initial,
            &mut Pct::new(seed, 3),
            model::exec::step_with,
            true,
        );
        let b = engine::execute(
            &initial,
            &mut Pct::new(seed, 3),
            model::exec::step_with,
            true,
        );
        assert_eq!(a.trace, b.trace);
    }
}

#[test]
fn a_hunt_reports_the_same_lowest_case_whatever_the_jobs() {
    let hunt = |jobs| Hunt {
        engine: sim::hunt::Engine::Sim,
        seed: 0,
        strategy: None,
        source: Source::Swarm,
        cases: 40,
        max_seconds: None,
        jobs,
        stepper: model::exec::step_with,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    };
    let one = hunt(1).run(&mut |_, _| {});
    let four = hunt(4).run(&mut |_, _| {});
    let index = |r: &sim::hunt::HuntResult| {
        r.found
            .as_ref()
            .map(|f| (f.case.index, f.found.as_ref().unwrap().schedule.clone()))
    };
    assert!(
        one.found.is_some(),
        "the 4.4 model has violations a small hunt finds"
    );
    assert_eq!(index(&one), index(&four));
}

#[test]
fn the_printed_replay_command_reproduces_the_violation() {
    for args in [
        vec![
            "hunt",
            "--scenario",
            "examples/unaligned-aio.toml",
            "--jobs",
            "1",
            "--schedules",
            "20000",
        ],
        vec!["hunt", "--jobs", "1", "--schedules", "20000"],
        vec![
            "hunt",
            "--jobs",
            "1",
            "--schedules",
            "20000",
            "--engine",
            "shuttle",
        ],
    ] {
        // Knowing no class, the first violation is new and stops the hunt; the budget is
        // the schedule count alone.
        let no_time = vec![
            "--known",
            "none",
            "--stop-on-new",
            "--max-seconds",
            "100000",
        ];
        let args = [args, no_time].concat();
        let out = writeiter(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let text = stdout(&out);
        assert!(
            text.lines().nth(1).is_some_and(|l| l.starts_with("SEED=")),
            "the seed comes first:\n{text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with("  a0: ")),
            "the scenario's operations are printed:\n{text}"
        );
        common::replay_as_printed(&text);
    }
}

/// `--jobs` changes nothing but the time: the same JSON from one job and from two, for
/// several seeds of a count-bounded hunt.
#[test]
fn the_json_is_the_same_for_one_job_and_two_apart_from_time() {
    let json = |seed: &str, jobs: &str| {
        let out = writeiter(&[
            "hunt",
            "--json",
            "--jobs",
            jobs,
            "--schedules",
            "2000",
            "--seed",
            seed,
        ]);
        let mut value = common::json(&out);
        assert!(value["elapsed_ms"].is_u64(), "{value}");
        value["elapsed_ms"] = serde_json::Value::Null;
        for class in value["classes"].as_array_mut().expect("classes") {
            assert!(class["first_ms"].is_u64(), "{class}");
            class["first_ms"] = serde_json::Value::Null;
        }
        (out.status.code(), value)
    };
    let mut violations = 0;
    for seed in ["0", "5", "11", "23", "40", "77"] {
        let one = json(seed, "1");
        assert_eq!(json(seed, "2"), one, "seed {seed}");
        violations += usize::from(one.1["verdict"] == "violation");
    }
    assert!(
        violations >= 3,
        "most seeds find a violation within 2,000 schedules"
    );
}

/// Each class of a hunt that knew none has the documented keys, no known entry and (without
/// `--corpus-dir`) no counterexample.
fn assert_class_keys(classes: &[serde_json::Value]) {
    assert!(!classes.is_empty());
    let mut class_keys = vec![
        "signature",
        "id",
        "oracle",
        "known",
        "count",
        "first_seed",
        "first_schedules",
        "first_ms",
        "counterexample",
    ];
    class_keys.sort_unstable();
    for class in classes {
        let mut keys: Vec<&str> = class
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, class_keys);
        assert!(
            class["known"].is_null() && class["counterexample"].is_null(),
            "{class}"
        );
    }
}

/// With `--json` standard output is exactly one JSON document with the documented keys;
/// the human text (seed, replay line, trace) goes to standard error.
#[test]
fn json_stdout_is_exactly_one_document_and_human_text_goes_to_stderr() {
    let out = writeiter(&[
        "hunt",
        "--json",
        "--jobs",
        "1",
        "--schedules",
        "3000",
        "--seed",
        "5",
        "--known",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(1), "every class is new");
    let value = common::json(&out);
    let object = value.as_object().expect("an object");
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut documented = vec![
        "verdict",
        "oracle",
        "violation",
        "engine",
        "strategy",
        "seed",
        "case",
        "shard",
        "cases",
        "schedules",
        "steps",
        "elapsed_ms",
        "interrupted",
        "replay",
        "counterexample",
        "classes",
        "reduction",
    ];
    documented.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, documented);
    assert_eq!(value["verdict"], "violation");
    assert_eq!(value["engine"], "sim");
    assert_eq!(value["interrupted"], false);
    assert!(value["oracle"].is_string() && value["violation"].is_string());
    assert!(value["seed"].is_u64() && value["cases"].is_u64() && value["schedules"].is_u64());
    assert!(value["counterexample"].is_null());
    let classes = value["classes"].as_array().expect("a list of classes");
    assert_class_keys(classes);
    assert_eq!(classes[0]["first_seed"], value["seed"]);
    let err = common::stderr(&out);
    assert!(
        err.contains("VIOLATION ") && err.contains("replay: cargo run"),
        "{err}"
    );
    common::replay_as_printed(&err);
}

#[test]
fn a_clean_hunt_exits_0_and_writes_no_counterexample() {
    let out = writeiter(&[
        "hunt",
        "--scenario",
        "sim/tests/data/clean.toml",
        "--schedules",
        "640",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let value = common::json(&out);
    assert_eq!(value["verdict"], "clean");
    assert!(value["oracle"].is_null() && value["counterexample"].is_null());
    assert_eq!(value["cases"], 10);
    assert!(
        value["schedules"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 640)
    );
}

#[test]
fn a_violation_goes_to_the_corpus_dir_and_replays_from_there() {
    let dir = std::env::temp_dir().join(format!("writeiter-hunt-{}", std::process::id()));
    let out = writeiter(&[
        "hunt",
        "--scenario",
        "examples/unaligned-aio.toml",
        "--jobs",
        "1",
        "--schedules",
        "20000",
        "--max-seconds",
        "100000",
        "--corpus-dir",
        dir.to_str().unwrap(),
        "--json",
        "--known",
        "none",
        "--stop-on-new",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let value = common::json(&out);
    let path = value["counterexample"].as_str().expect("a counterexample");
    assert!(path.ends_with(".toml") && path.contains("0001-"), "{path}");
    let again = writeiter(&["replay", path]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("reproduced:"), "{}", stdout(&again));
    std::fs::remove_dir_all(&dir).ok();
}

/// A `--corpus-dir` that cannot take a file is refused before the hunt starts: a violation
/// found first would otherwise end in exit 2 and be lost.
#[test]
fn a_corpus_dir_that_is_not_a_writable_directory_is_refused_up_front() {
    let file = std::env::temp_dir().join(format!("writeiter-not-a-dir-{}", std::process::id()));
    std::fs::write(&file, "a file").unwrap();
    for dir in [file.clone(), file.join("below")] {
        let out = writeiter(&[
            "hunt",
            "--scenario",
            "examples/unaligned-aio.toml",
            "--corpus-dir",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        assert!(stdout(&out).is_empty(), "nothing hunted: {}", stdout(&out));
        assert!(
            common::stderr(&out).contains("--corpus-dir"),
            "{}",
            common::stderr(&out)
        );
    }
    std::fs::remove_file(&file).ok();
}

#[test]
fn bad_hunt_flags_exit_2_naming_the_flag() {
    for (args, expected) in [
        (
            vec!["hunt", "--strategy", "bogus"],
            "invalid value 'bogus' for '--strategy",
        ),
        (vec!["hunt", "--seed", "x"], "invalid value 'x' for '--seed"),
        (
            vec!["hunt", "--engine", "qemu"],
            "invalid value 'qemu' for '--engine",
        ),
        (
            vec!["hunt", "--engine", "shuttle", "--strategy", "bfs"],
            "--strategy bfs does not run on --engine shuttle",
        ),
        (
            vec!["hunt", "--scenario", "no/such.toml"],
            "no/such.toml: cannot read",
        ),
        (
            vec!["hunt", "--frobnicate"],
            "unexpected argument '--frobnicate'",
        ),
        (vec!["hunt", "--max-seconds", "0"], "0 would check nothing"),
        (vec!["hunt", "--max-seconds=0"], "0 would check nothing"),
        (vec!["hunt", "--jobs", "0"], "invalid value '0' for '--jobs"),
        (
            vec!["hunt", "--schedules", "0"],
            "invalid value '0' for '--schedules",
        ),
        (
            vec!["hunt", "--seed", "1", "--seed=2"],
            "cannot be used multiple times",
        ),
        (
            vec!["hunt", "--json", "--json"],
            "cannot be used multiple times",
        ),
        (vec!["hunt", "--shard", "0/3"], "`0/3` is not I/N"),
    ] {
        let out = writeiter(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
}

#[test]
fn shards_split_the_seed_space_into_disjoint_parts() {
    let shard = |i: u64| Hunt {
        engine: sim::hunt::Engine::Sim,
        seed: 100,
        strategy: None,
        source: Source::Swarm,
        cases: 10,
        max_seconds: None,
        jobs: 1,
        stepper: model::exec::step_with,
        shard: (i, 3),
        patches: model::patches::Patches::NONE,
    };
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..3 {
        for local in 0..10 {
            let case = shard(i).case(local);
            assert_eq!((case.seed - 100) % 3, i, "shard {i}");
            assert!(seen.insert(case.seed), "seed {} in two shards", case.seed);
        }
    }
    let out = writeiter(&[
        "hunt",
        "--shard",
        "2/3",
        "--json",
        "--jobs",
        "1",
        "--schedules",
        "20000",
        "--max-seconds",
        "100000",
        "--known",
        "none",
        "--stop-on-new",
    ]);
    let value = common::json(&out);
    let seed = value["seed"].as_u64().expect("a seed");
    assert_eq!(seed % 3, 1, "{value}");
    assert_eq!(value["shard"], "2/3");
    for bad in ["0/3", "4/3", "x"] {
        assert_eq!(
            writeiter(&["hunt", "--shard", bad]).status.code(),
            Some(2),
            "{bad}"
        );
    }
}

#[test]
fn bench_prints_every_engine_side_by_side() {
    let out = writeiter(&["bench", "--seeds", "1", "--schedules", "200"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for row in [
        "| sim random |",
        "| sim pct |",
        "| sim dfs |",
        "| sim bfs",
        "| shuttle random |",
        "| shuttle pct |",
        "| loom (bound 1) |",
        "| loom dfs",
        "hunt speed-up",
    ] {
        assert!(text.contains(row), "missing {row} in\n{text}");
    }
    // Every throughput row ran its schedules and steps; every first-violation row found it
    // (each engine finds the swarm's seed 0 violation, a count, not a time).
    let cell = |line: &str, k: usize| {
        line.split('|')
            .nth(k)
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    for line in text.lines().filter(|l| {
        l.starts_with("| sim ") || l.starts_with("| shuttle ") || l.starts_with("| loom ")
    }) {
        let second = cell(line, 2);
        if second.contains('/') {
            assert_eq!(second, "1/1", "{line}");
        } else {
            let (schedules, steps): (u64, u64) =
                (second.parse().unwrap(), cell(line, 3).parse().unwrap());
            assert!(schedules > 0 && steps >= schedules, "{line}");
        }
    }
}

/// Ctrl-C (SIGINT) stops a hunt between cases; it prints its summary and the JSON of the
/// cases finished so far, `"interrupted": true`, and exits 0 (nothing found).
#[test]
fn ctrl_c_prints_the_summary_and_the_json_so_far() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_writeiter"))
        .args([
            "hunt",
            "--scenario",
            "sim/tests/data/clean.toml",
            "--schedules",
            "100000000000",
            "--max-seconds",
            "100000",
            "--jobs",
            "1",
            "--json",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("writeiter runs");
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut header = String::new();
    err.read_line(&mut header).unwrap();
    assert!(header.starts_with("writeiter hunt:"), "{header}");
    let kill = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .expect("sh runs kill");
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert_eq!(out.status.code(), Some(0), "{rest}");
    let value = common::json(&out);
    assert_eq!(value["interrupted"], true, "{value}");
    assert_eq!(value["verdict"], "clean");
    assert!(
        rest.contains("interrupted (Ctrl-C)") && rest.contains("clean: "),
        "{rest}"
    );
}
