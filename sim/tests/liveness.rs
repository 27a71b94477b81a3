//! The liveness search (`sim::liveness`, `writeiter run FILE --liveness`) and the `repeat`
//! field of an actor: the starvation lasso of examples/starvation.toml is found and replays,
//! the upstream 4.6 shape (e142d05263a4) has none, `repeat = 2` is the program written out
//! twice, bad `repeat` values exit 2 naming the field, and the canonical renumbering the
//! search steps is the model's step renamed (its slow twin: the model's own step).

mod common;
use common::{stderr, stdout, writeiter};

use model::exec::{self, Task, Wait};
use model::patches::Patches;
use model::state::Sleep;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::liveness::{self, LivenessReport};
use sim::scenario_file::{self, Looping};

/// States the searches of these tests visit at most (the example has about 26 000).
const STATES: usize = 100_000;
/// Swarm scenarios the renumbering is checked on.
const SWARM_SEEDS: u64 = 40;
/// Steps of each random walk of the renumbering check.
const WALK_STEPS: usize = 400;
/// Random walks of each scenario in the `repeat = 2` check.
const WALKS: u64 = 30;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/starvation.toml");

fn example(patch: Option<&str>) -> Looping {
    let mut looping = scenario_file::load_looping(std::path::Path::new(EXAMPLE)).expect("loads");
    if let Some(id) = patch {
        let patches = Patches::parse(&[id]).expect("a patch");
        looping.scenario.patches = looping.scenario.patches.union(patches);
    }
    looping
}

fn search(looping: &Looping) -> LivenessReport {
    liveness::search(looping, STATES).expect("the search runs")
}

#[test]
fn the_unaligned_aio_starves_in_ext4_unwritten_wait_and_the_lasso_replays() {
    let looping = example(None);
    let found = search(&looping);
    assert!(!found.cut, "the example's states fit in {STATES}");
    let lasso = found.lasso.expect("a starvation lasso");
    // a0, the unaligned AIO, sleeps on ext4_ioend_wq(inode) = ioend_wq[12 % 37] in
    // ext4_unwritten_wait, holding aio_mutex (fs/ext4/file.c:105-114).
    assert_eq!(lasso.victim, 0);
    assert_eq!(lasso.wait, Wait::Asleep(Sleep::IoendWq(12)));
    assert!(lasso.cycle.contains(&Task::Actor(1)), "the stream steps");
    let replayed = liveness::replay(&looping, &lasso.stem, &lasso.cycle).expect("replays");
    assert!(
        replayed.returns,
        "stem + cycle + cycle: one canonical state"
    );
    assert_eq!(replayed.unfair, None);
    assert!(replayed.starving.iter().any(|&(a, _)| a == 0));
    assert!(replayed.starves());
    // i_unwritten never reaches 0 in the cycle: some io_end is flagged all along.
    let mut state = liveness::initial(&looping).expect("builds");
    for &task in &lasso.stem {
        liveness::step(&mut state, task, &looping.forever).expect("stem step");
    }
    for &task in &lasso.cycle {
        assert!(state.inodes[0].i_unwritten > 0, "before {task}");
        liveness::step(&mut state, task, &looping.forever).expect("cycle step");
    }
}

#[test]
fn a_lasso_cut_short_does_not_show_a_starvation() {
    let looping = example(None);
    let lasso = search(&looping).lasso.expect("a lasso");
    let mut cycle = lasso.cycle.clone();
    cycle.pop();
    let shown = liveness::replay(&looping, &lasso.stem, &cycle).map(|r| r.starves());
    assert!(!matches!(shown, Ok(true)), "a cycle that does not close");
    let stem_only = liveness::replay(&looping, &[], &lasso.stem).map(|r| r.starves());
    assert!(!matches!(stem_only, Ok(true)), "the stem is no cycle");
}

#[test]
fn under_e142d05263a4_the_wait_under_i_mutex_lets_i_unwritten_drain() {
    // The unaligned AIO waits under i_mutex: no write or punch of the stream can start, the
    // io_ends already flagged are converted, i_unwritten reaches 0 and the waiter goes on.
    let found = search(&example(Some("e142d05263a4")));
    assert!(!found.cut, "exhaustive");
    assert!(found.states > 1_000, "{} states", found.states);
    assert_eq!(found.lasso, None);
}

#[test]
fn under_e142d05263a4_the_victim_gets_past_the_wait_not_only_its_rlimit() {
    // The example's RLIMIT_FSIZE makes generic_write_checks refuse a0, and under the patch
    // those checks come before the wait: a0 would never wait at all, and "no lasso" would
    // prove nothing about the fix. Without the limit a0 does wait, under i_mutex, and still
    // no lasso exists: the fix, not the limit, ends the starvation.
    let mut looping = example(Some("e142d05263a4"));
    for op in &mut looping.scenario.actors[0] {
        if let model::ops::Op::Write(w) = op {
            assert_ne!(
                w.rlimit_fsize,
                model::limits::RLIM_INFINITY,
                "the example sets it"
            );
            w.rlimit_fsize = model::limits::RLIM_INFINITY;
        }
    }
    let found = liveness::search(&looping, 4 * STATES).expect("the search runs");
    assert!(!found.cut, "exhaustive ({} states)", found.states);
    assert!(found.states > 100_000, "{} states", found.states);
    assert_eq!(found.lasso, None);
}

#[test]
fn the_cli_prints_the_lasso_and_replays_it() {
    let out = writeiter(&["run", "examples/starvation.toml", "--liveness"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let finding = text
        .lines()
        .find(|l| l.starts_with("VIOLATION starvation: a0"))
        .expect("the finding line");
    assert!(finding.contains("ioend_wq[12]"), "{finding}");
    let replay = text
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .expect("a replay line");
    let schedule = replay
        .split_once("--schedule \"")
        .and_then(|(_, s)| s.strip_suffix('"'))
        .expect("the schedule");
    let again = writeiter(&[
        "run",
        "examples/starvation.toml",
        "--liveness",
        "--schedule",
        schedule,
    ]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(stdout(&again).contains("VIOLATION starvation: the lasso replays"));
    let patched = writeiter(&[
        "run",
        "examples/starvation.toml",
        "--liveness",
        "--patch",
        "e142d05263a4",
    ]);
    assert_eq!(patched.status.code(), Some(0), "{}", stderr(&patched));
    assert!(stdout(&patched).contains("no starvation lasso"));
}

#[test]
fn replay_and_explain_read_the_lasso_file_run_writes() {
    let dir = std::env::temp_dir().join(format!("writeiter-lasso-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lasso = dir.join("starvation.lasso.toml");
    let lasso = lasso.to_str().expect("utf-8");
    let example = "examples/starvation.toml";
    let found = writeiter(&["run", example, "--liveness", "--write", lasso]);
    assert_eq!(found.status.code(), Some(1), "{}", stderr(&found));
    let replayed = writeiter(&["replay", lasso]);
    assert_eq!(replayed.status.code(), Some(0), "{}", stdout(&replayed));
    assert!(stdout(&replayed).contains("reproduced: starvation of a0"));
    // Under e142d05263a4 a0 holds i_mutex while it waits: the stored lasso cannot step.
    let patched = writeiter(&["replay", lasso, "--patch", "e142d05263a4"]);
    assert_eq!(patched.status.code(), Some(1), "{}", stdout(&patched));
    let explained = writeiter(&["explain", lasso]);
    assert_eq!(explained.status.code(), Some(0), "{}", stderr(&explained));
    let text = stdout(&explained);
    assert!(text.contains("AioMutexLock aio_mutex[12] taken"), "{text}");
    assert!(text.contains("a0 is blocked throughout the cycle: asleep on ioend_wq[12]"));
}

/// `run --liveness --corpus-dir DIR` stores the lasso as a new lasso entry of DIR (numbered
/// after DIR's entries, class unknown): the entry's test passes on it, its replay line
/// replays it as printed, and a `--corpus-dir` that is not a directory is bad input before
/// any search.
#[test]
fn the_search_stores_its_lasso_as_a_corpus_entry() {
    let dir = std::env::temp_dir().join(format!("writeiter-lasso-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let safety = common::corpus_file("0001");
    std::fs::copy(&safety, dir.join(safety.file_name().expect("a file"))).expect("copied");
    let dir_text = dir.to_str().expect("utf-8");
    let args = [
        "run",
        "examples/starvation.toml",
        "--liveness",
        "--corpus-dir",
        dir_text,
    ];
    let found = writeiter(&args);
    assert_eq!(found.status.code(), Some(1), "{}", stderr(&found));
    let entry = dir.join("liveness").join("0002-starvation-a0.toml");
    let printed = format!("corpus entry: {}", entry.display());
    assert!(
        stdout(&found).lines().any(|l| l == printed),
        "{}",
        stdout(&found)
    );
    sim::cli_liveness::assert_lasso_entry(&entry, exec::step_with);
    let triage = sim::cli_liveness::load_lasso_entry(&entry)
        .expect("loads")
        .expect("an entry");
    assert_eq!(triage.class, "unknown: not yet matched to upstream history");
    let words = common::shell_words(&triage.replay);
    let prefix = common::shell_words(sim::cli::REPLAY_COMMAND);
    assert_eq!(words[..prefix.len()], prefix[..], "{}", triage.replay);
    let rest: Vec<&str> = words[prefix.len()..].iter().map(String::as_str).collect();
    let replayed = writeiter(&rest);
    assert_eq!(replayed.status.code(), Some(0), "{}", stdout(&replayed));
    assert!(stdout(&replayed).contains("reproduced: starvation of a0"));
    let file = dir.join("0001-not-a-dir");
    std::fs::write(&file, "").expect("written");
    let file = file.to_str().expect("utf-8");
    let args = [
        "run",
        "examples/starvation.toml",
        "--liveness",
        "--corpus-dir",
        file,
    ];
    let bad = writeiter(&args);
    assert_eq!(bad.status.code(), Some(2), "{}", stdout(&bad));
    assert!(
        stderr(&bad).contains(&format!("--corpus-dir {file}")),
        "{}",
        stderr(&bad)
    );
    assert!(
        !stdout(&bad).contains("searched"),
        "no search: {}",
        stdout(&bad)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A scenario whose actor 1 runs `ops`, `repeat` times (no field when `None`).
fn repeated(ops: &str, repeat: Option<&str>) -> String {
    let field = repeat.map_or(String::new(), |r| format!("repeat = {r}\n"));
    format!(
        "[geometry]\nblkbits = 12\nsector_bits = 10\npage_bits = 12\nhuge_file = true\ndisk_blocks = 16\n\n\
         [[inodes]]\nino = 12\ni_size = 8192\nextents = [{{ lblk = 0, len = 1, pblk = 0, state = \"written\" }}]\n\n\
         [[actors]]\nops = [{{ op = \"write\", pos = 5120, len = 1024, direct = true, aio = true }}]\n\n\
         [[actors]]\n{field}ops = [{ops}]\n"
    )
}

#[test]
fn repeat_2_is_the_program_written_out_twice() {
    let one =
        "{ op = \"write\", pos = 6144, len = 1024, direct = true, aio = true }, { op = \"stat\" }";
    let twice = scenario_file::parse(&repeated(one, Some("2"))).expect("repeat = 2");
    let written = scenario_file::parse(&repeated(&format!("{one}, {one}"), None)).expect("x2");
    assert_eq!(twice, written);
    assert_eq!(twice.actors[1].len(), 4);
    let once = scenario_file::parse(&repeated(one, Some("1"))).expect("repeat = 1");
    assert_eq!(
        once,
        scenario_file::parse(&repeated(one, None)).expect("no field")
    );
    let (a, b) = (
        twice.build().expect("builds"),
        written.build().expect("builds"),
    );
    for seed in 0..WALKS {
        let run = |initial| {
            let mut chooser = sim::engine::RandomWalk::new(seed);
            sim::engine::execute(initial, &mut chooser, exec::step_with, false)
        };
        let (x, y) = (run(&a), run(&b));
        assert_eq!(x.schedule, y.schedule, "seed {seed}");
        assert_eq!(
            x.violation.map(|v| v.to_string()),
            y.violation.map(|v| v.to_string()),
            "seed {seed}"
        );
    }
}

#[test]
fn bad_repeat_values_exit_2_naming_the_file_and_field() {
    let one = "{ op = \"stat\" }";
    let three = "{ op = \"stat\" }, { op = \"stat\" }, { op = \"stat\" }";
    let cases = [
        (one, "0", "actors[1].repeat"),
        (one, "-1", "actors[1].repeat"),
        (one, "9", "actors[1].repeat"),
        (one, "1.5", "actors[1].repeat"),
        (one, "true", "actors[1].repeat"),
        (one, "\"sometimes\"", "actors[1].repeat"),
        (one, "[2]", "actors[1].repeat"),
        (three, "3", "actors[1].repeat"),
        ("", "\"forever\"", "actors[1].repeat"),
        // forever outside the liveness search
        (one, "\"forever\"", "actors[1].repeat"),
    ];
    let dir = std::env::temp_dir().join(format!("writeiter-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (k, (ops, value, field)) in cases.iter().enumerate() {
        let path = dir.join(format!("repeat-{k}.toml"));
        std::fs::write(&path, repeated(ops, Some(value))).expect("written");
        let path = path.to_str().expect("utf-8");
        let liveness = k + 1 < cases.len();
        let args: &[&str] = if liveness {
            &["run", path, "--liveness"]
        } else {
            &["run", path]
        };
        let out = writeiter(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "repeat = {value}: {err}");
        assert!(
            err.contains(path) && err.contains(field),
            "repeat = {value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// The live bios, dios, io_ends and work items of `state`.
fn ids(state: &model::state::State) -> usize {
    state.bios.len() + state.dios.len() + state.io_ends.len() + state.work.len()
}

#[test]
fn the_renumbered_step_is_the_model_step_renamed() {
    let mut scenarios: Vec<_> = (0..SWARM_SEEDS)
        .map(|seed| sim::swarm::generate(seed).0)
        .collect();
    scenarios.push(example(None).scenario);
    let mut objects_seen = 0;
    for (k, scenario) in scenarios.iter().enumerate() {
        let forever = vec![false; scenario.actors.len()];
        let mut raw = scenario.build().expect("builds");
        let mut canon = raw.clone();
        liveness::canonicalize(&mut canon);
        let mut rng = ChaCha8Rng::seed_from_u64(k as u64);
        for i in 0..WALK_STEPS {
            let runnable = exec::runnable(&raw);
            let renamed: Vec<Task> = (runnable.iter())
                .map(|&t| liveness::canonical_task(&raw, t))
                .collect();
            assert_eq!(exec::runnable(&canon), renamed, "scenario {k} step {i}");
            let Some(&task) = runnable.get(rng.random_range(0..runnable.len().max(1))) else {
                break;
            };
            let canonical_task = liveness::canonical_task(&raw, task);
            let slow = exec::step(&mut raw, task).map(|e| e.pc);
            let fast = liveness::step(&mut canon, canonical_task, &forever).map(|e| e.pc);
            assert_eq!(slow.is_ok(), fast.is_ok(), "scenario {k} step {i}");
            assert_eq!(slow.ok(), fast.ok(), "scenario {k} step {i}: {task}");
            let mut expected = raw.clone();
            liveness::canonicalize(&mut expected);
            assert_eq!(canon, expected, "scenario {k} step {i}: {task}");
            objects_seen += ids(&raw);
        }
    }
    assert!(objects_seen > 1_000, "the walks renumber objects");
}
