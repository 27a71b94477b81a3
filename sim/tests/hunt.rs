//! Our simulator's strategies and `writeiter hunt`: a planted bug every strategy finds, the
//! same seed giving the same trace, the printed replay command reproducing a violation, the
//! JSON summary, exit statuses.

mod common;
use common::{stdout, writeiter};

use model::exec::{Event, StepError, Task};
use model::geometry::{Geometry, Mount};
use model::iocb::{FileFlags, Segment};
use model::ops::{Op, WriteOp};
use model::scenario::Scenario;
use model::state::State;
use sim::engine::{self, Pct, RandomWalk};
use sim::hunt::{Hunt, Source, Strategy, run_case};

/// The planted bug: a broken copy of `generic_file_direct_write`'s tail that loses a sector
/// of the `i_size` an extending direct write set.
fn broken_step(state: &mut State, task: Task) -> Result<Event, StepError> {
    let event = model::exec::step(state, task)?;
    if event.step == "DirectEnd" && state.inodes[0].i_size > 4096 {
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
    let report = engine::bfs(&initial, 100_000, model::exec::step);
    assert!(report.exhausted && report.found.is_none(), "{report:?}");
    assert!(report.states > 10);
    let report = engine::dfs(&initial, 2, 10_000, model::exec::step);
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
            model::exec::step,
            true,
        );
        let b = engine::execute(
            &initial,
            &mut RandomWalk::new(seed),
            model::exec::step,
            true,
        );
        assert_eq!(a.trace, b.trace);
        let a = engine::execute(&initial, &mut Pct::new(seed, 3), model::exec::step, true);
        let b = engine::execute(&initial, &mut Pct::new(seed, 3), model::exec::step, true);
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
        stepper: model::exec::step,
        shard: (0, 1),
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
    let out = writeiter(&[
        "hunt",
        "--scenario",
        "examples/unaligned-aio.toml",
        "--jobs",
        "1",
        "--schedules",
        "20000",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.lines().nth(1).is_some_and(|l| l.starts_with("SEED=")),
        "the seed comes first:\n{text}"
    );
    let replay = text
        .lines()
        .find_map(|l| l.strip_prefix("replay: writeiter "))
        .expect("a replay line");
    let oracle = text
        .lines()
        .find_map(|l| l.strip_prefix("VIOLATION "))
        .expect("a violation")
        .split(':')
        .next()
        .unwrap();
    let schedule = replay.split('"').nth(1).expect("a quoted schedule");
    let again = writeiter(&[
        "run",
        "examples/unaligned-aio.toml",
        "--schedule",
        schedule,
        "--exact",
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stdout(&again).contains(&format!("VIOLATION {oracle}:")),
        "{}",
        stdout(&again)
    );
}

#[test]
fn the_json_summary_is_the_same_for_one_job_and_many_apart_from_time() {
    let json = |jobs: &str| {
        let out = writeiter(&[
            "hunt",
            "--json",
            "--jobs",
            jobs,
            "--schedules",
            "3000",
            "--seed",
            "5",
        ]);
        let last = stdout(&out).lines().last().unwrap().to_string();
        let cut = last.find("\"elapsed_ms\"").unwrap();
        let rest = &last[cut..];
        let after = &rest[rest.find(',').unwrap()..];
        (out.status.code(), format!("{}{}", &last[..cut], after))
    };
    let (code, one) = json("1");
    assert_eq!(json("3"), (code, one.clone()));
    for key in [
        "\"verdict\":",
        "\"oracle\":",
        "\"engine\":\"sim\"",
        "\"strategy\":",
        "\"seed\":",
        "\"schedules\":",
        "\"steps\":",
        "\"counterexample\":",
    ] {
        assert!(one.contains(key), "{key} missing in {one}");
    }
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
    assert!(
        stdout(&out)
            .lines()
            .last()
            .unwrap()
            .contains("\"verdict\":\"clean\",\"oracle\":null")
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
        "--corpus-dir",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let last = stdout(&out).lines().last().unwrap().to_string();
    let path = last
        .split("\"counterexample\":\"")
        .nth(1)
        .unwrap()
        .trim_end_matches("\"}");
    assert!(path.ends_with(".toml") && path.contains("0001-"), "{path}");
    let again = writeiter(&["replay", path]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("reproduced:"), "{}", stdout(&again));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_hunt_flags_exit_2_naming_the_flag() {
    for (args, expected) in [
        (vec!["hunt", "--strategy", "bogus"], "--strategy: `bogus`"),
        (
            vec!["hunt", "--seed", "x"],
            "--seed: `x` is not a whole number",
        ),
        (vec!["hunt", "--engine", "qemu"], "--engine: `qemu`"),
        (
            vec!["hunt", "--engine", "shuttle", "--strategy", "bfs"],
            "--strategy bfs does not run on --engine shuttle",
        ),
        (
            vec!["hunt", "--scenario", "no/such.toml"],
            "no/such.toml: cannot read",
        ),
        (vec!["hunt", "--frobnicate"], "unknown flag --frobnicate"),
    ] {
        let out = writeiter(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
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
        stepper: model::exec::step,
        shard: (i, 3),
    };
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..3 {
        for local in 0..10 {
            let case = shard(i).case(local);
            assert_eq!((case.seed - 100) % 3, i, "shard {i}");
            assert!(seen.insert(case.seed), "seed {} in two shards", case.seed);
        }
    }
    let out = writeiter(&["hunt", "--shard", "2/3", "--json", "--jobs", "1"]);
    let last = stdout(&out).lines().last().unwrap().to_string();
    let seed: u64 = last
        .split("\"seed\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(seed % 3, 1, "{last}");
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
}
