//! Protocol coverage (`sim::coverage`), `writeiter coverage` and the coverage-guided swarm:
//! an exhaustive search reaches exactly the breadth-first reachable total, what a hunt
//! reaches lies inside it, a swarm without AIO never reaches `dio_complete`, a guided hunt
//! gives the same result whatever `--jobs`, and the command's text, HTML and bad input.

mod common;
use common::{stderr, stdout, writeiter};

use model::exec::Pc;
use model::ops::CompletePc;
use sim::coverage::{self, ActorKind, Coverage};
use sim::guide::{self, Selection};
use sim::hunt::{Engine, Hunt, HuntResult, Known, Source, Until};
use sim::swarm::Kind;

/// A small scenario: an unaligned AIO extending past EOF beside a sync direct overwrite.
const SMALL: &str = r#"
[[inodes]]
ino = 12
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]

[[actors]]
ops = [{ op = "write", pos = 4096, len = 1024, direct = true, aio = true }]

[[actors]]
ops = [{ op = "write", pos = 0, len = 1024, direct = true }]
"#;

fn small() -> model::state::State {
    let dir = std::env::temp_dir().join(format!("writeiter-coverage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.toml");
    std::fs::write(&path, SMALL).unwrap();
    sim::scenario_file::load(&path).unwrap().build().unwrap()
}

/// Preemption bound and execution budget under which the depth-first search exhausts
/// [`SMALL`] (it reports whether it did).
const DFS_BOUND: usize = 64;
const DFS_BUDGET: u64 = 200_000;

#[test]
fn an_exhaustive_search_reaches_exactly_the_reachable_total() {
    let initial = small();
    let (total, exhausted) =
        coverage::reachable(&initial, coverage::REACHABLE_STATES, model::exec::step_with);
    assert!(exhausted, "the breadth-first search exhausts the scenario");
    let mut dfs = Coverage::new();
    let report = sim::engine::dfs_probed(
        &initial,
        DFS_BOUND,
        DFS_BUDGET,
        model::exec::step_with,
        "(none)",
        &mut |s, r, t| dfs.see(s, r, t),
    );
    assert!(report.exhausted, "{} schedules", report.schedules);
    eprintln!(
        "{} schedules, {} points, {} reachable",
        report.schedules,
        dfs.points.len(),
        total.points.len()
    );
    assert_eq!(dfs.points, total.points);
}

/// Every protocol point a hunt's random, PCT and DFS cases reach in a scenario lies inside
/// its reachable total, and they reach most of it.
#[test]
fn what_a_hunt_reaches_lies_inside_the_reachable_total() {
    let initial = small();
    let (total, _) =
        coverage::reachable(&initial, coverage::REACHABLE_STATES, model::exec::step_with);
    let dir = std::env::temp_dir().join(format!("writeiter-coverage-{}", std::process::id()));
    let scenario = sim::scenario_file::load(&dir.join("small.toml")).unwrap();
    let result = hunt(Source::File(scenario), 30, 1);
    assert!(result.coverage.points.is_subset(&total.points));
    assert!(
        result.coverage.points.len() * 10 >= total.points.len() * 8,
        "{} of {}",
        result.coverage.points.len(),
        total.points.len()
    );
}

fn hunt(source: Source, cases: u64, jobs: usize) -> HuntResult {
    Hunt {
        engine: Engine::Sim,
        seed: 0,
        strategy: None,
        source,
        cases,
        max_seconds: None,
        jobs,
        stepper: model::exec::step_with,
        shard: (0, 1),
        patches: model::patches::Patches::NONE,
    }
    .run_classes(
        &Known::new(),
        Until::Budget,
        &std::sync::atomic::AtomicBool::new(false),
        &mut |_, _| {},
    )
}

/// Cases of the swarm hunts below.
const SWARM_CASES: u64 = 60;

#[test]
fn a_swarm_without_aio_never_reaches_dio_complete() {
    let complete = |c: &CompletePc| Pc::DioComplete(*c);
    let without = Source::Selected(Selection {
        guided: false,
        without: vec![Kind::AioDio],
    });
    let result = hunt(without, SWARM_CASES, 2);
    let unreached = result.coverage.unreached(ActorKind::DioComplete);
    assert_eq!(
        unreached,
        CompletePc::ALL.iter().map(complete).collect::<Vec<_>>()
    );
    // The control: the same budget with AIO reaches `ki_complete`.
    let with = hunt(Source::Swarm, SWARM_CASES, 2);
    assert!(
        with.coverage
            .reached(Pc::DioComplete(CompletePc::KiComplete))
    );
}

/// Cases of the guided hunt: three rounds and a part, so that rounds 2 and 3 are guided.
const GUIDED_CASES: u64 = 3 * guide::ROUND + 40;

#[test]
fn a_guided_hunt_is_the_same_whatever_the_jobs_and_differs_from_the_blind_one() {
    let guided = || {
        Source::Selected(Selection {
            guided: true,
            without: Vec::new(),
        })
    };
    let key = |r: &HuntResult| {
        let classes: Vec<_> = r
            .classes
            .iter()
            .map(|c| {
                (
                    c.signature.to_string(),
                    c.count,
                    c.first.case.seed,
                    c.first_schedules,
                )
            })
            .collect();
        (r.cases, r.schedules, r.steps, classes, r.coverage.clone())
    };
    let one = key(&hunt(guided(), GUIDED_CASES, 1));
    let two = key(&hunt(guided(), GUIDED_CASES, 2));
    assert_eq!(one, two);
    let blind = key(&hunt(Source::Swarm, GUIDED_CASES, 2));
    assert_ne!(
        one.2,
        blind.2,
        "guidance changes the cases past round {}",
        guide::LAG
    );
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("writeiter-coverage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn coverage_lists_the_unreached_points_as_text_and_html() {
    let html = temp("coverage.html");
    let out = writeiter(&[
        "coverage",
        "--without",
        "aio-dio",
        "--schedules",
        "4000",
        "--jobs",
        "2",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "writeiter coverage: model 4.4.121, swarm (coverage-guided) without aio-dio"
        ),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l
            .trim_start()
            .starts_with("unreached dio_complete:KiComplete")
            && l.ends_with("aio_complete")),
        "{text}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(
            "<tr class=\"unreached\"><td>dio_complete:KiComplete</td><td>aio_complete</td>"
        ),
        "{page}"
    );
}

#[test]
fn coverage_of_a_scenario_file_is_a_fraction_of_its_reachable_total() {
    let out = writeiter(&[
        "coverage",
        "--scenario",
        "examples/unaligned-aio.toml",
        "--schedules",
        "2000",
        "--jobs",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text.lines().nth(1).unwrap_or_default();
    assert!(
        line.starts_with("protocol points: ") && line.contains(" reachable ("),
        "{text}"
    );
    assert!(text.contains("(unreachable in this scenario)"), "{text}");
}

#[test]
fn help_lists_the_coverage_command() {
    let out = writeiter(&["help"]);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.trim_start().starts_with("coverage ")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_coverage_flags_exit_2_naming_the_flag() {
    let html = temp("no-such-dir").join("x.html");
    for (args, flag) in [
        (vec!["coverage", "--without", "nosuch"], "--without"),
        (
            vec!["coverage", "--without", "buffered,sync-dio,aio-dio"],
            "--without",
        ),
        (
            vec![
                "coverage",
                "--scenario",
                "examples/unaligned-aio.toml",
                "--without",
                "read",
            ],
            "--without",
        ),
        (vec!["coverage", "--html", html.to_str().unwrap()], "--html"),
        (
            vec!["coverage", "--scenario", "no-such-file.toml"],
            "no-such-file.toml",
        ),
        (vec!["coverage", "--max-seconds", "0"], "--max-seconds"),
        (
            vec![
                "hunt",
                "--unguided",
                "--scenario",
                "examples/unaligned-aio.toml",
            ],
            "--unguided",
        ),
    ] {
        let out = writeiter(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A program point only an upstream fix adds is marked as such, and `--patch` reaches it: the
/// example's unaligned AIO is queued (`-EIOCBQUEUED`), so with 57a0da28ced8 it waits in
/// `ext4_unwritten_wait` before dropping `i_mutex`.
#[test]
fn a_patch_only_program_point_is_marked_and_reached_under_its_patch() {
    let run = |patch: &[&str]| {
        let mut args = vec![
            "coverage",
            "--scenario",
            "examples/unaligned-aio.toml",
            "--schedules",
            "640",
            "--jobs",
            "1",
        ];
        args.extend_from_slice(patch);
        let out = common::writeiter(&args);
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        common::stdout(&out)
    };
    let plain = run(&[]);
    let marked = "unreached QueuedUnwrittenWait          ext4_unwritten_wait (a step of --patch 57a0da28ced8 only)";
    assert!(plain.contains(marked), "{plain}");
    let patched = run(&["--patch", "57a0da28ced8"]);
    assert!(
        patched.starts_with("writeiter coverage: model 4.4.121 + 57a0da28ced8,"),
        "{patched}"
    );
    assert!(
        !patched.contains("unreached QueuedUnwrittenWait"),
        "{patched}"
    );
}
