//! The `cargo test` API (`sim::check`): a scenario built in code is the scenario file's, its
//! errors name the field as the loader's do; every engine finds corpus 0003's violation and an
//! exhaustive check proves corpus 0019; a failing assertion panics with the hunt's report
//! whose replay line reproduces the finding, and persists a shrunk corpus entry that replays.
//! Every search is bounded by counts.

mod common;
use std::path::PathBuf;

use common::{corpus_file, stdout, writeiter};
use model::exec::{Event, StepError, Task, Trace};
use model::state::State;
use sim::check::{CORPUS_DIR_VAR, Error, Inode, Scenario, op};
use sim::corpus::{self, Class};

const ORACLE: &str = "single-dio-decision";

/// Corpus 0003's scenario, in code.
fn overwrite_aio_clears_i_private() -> Scenario {
    Scenario::builder()
        .dioread_nolock()
        .inode(
            Inode::new()
                .i_size(8192)
                .unwritten(0, 1, 0)
                .written(1, 1, 2),
        )
        .actor([op::write(0, 1024).direct().aio()])
        .actor([op::write(4096, 4096).direct().aio()])
        .build()
        .expect("corpus 0003's scenario")
}

/// The panic text of `f` (which must panic).
fn panic_text(f: impl FnOnce()) -> String {
    sim::sync::catch_quietly(f).expect_err("it panics")
}

/// A directory of its own under the temporary directory, empty.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("writeiter-check-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every field of the scenario format, in a file.
const EVERY_FIELD: &str = r#"
[geometry]
blkbits = 12
sector_bits = 9
page_bits = 12
huge_file = false
disk_blocks = 32
[mount]
dioread_nolock = true
sync = true
plug_holds_bios = true
bio_errors = true
[[inodes]]
ino = 49
i_size = 8192
s_sync = true
cached_pages = [1]
extents = [{ lblk = 0, len = 2, pblk = 3, state = "written" }]
[[inodes]]
mapping = "bitmap"
dio_refused = true
i_size = 1024
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [
  { op = "write", inode = 1, pos = 0, len = 512, direct = true, aio = true, append = true, sync = "dsync" },
  { op = "write", pos = 4096, segments = [{ base = 0x100200, len = 512 }, { base = 0x100400, len = 512 }],
    sync = "sync", largefile = false, rlimit_fsize = 1048576 },
  { op = "read", pos = 0, len = 4096, direct = true },
]
[[actors]]
ops = [
  { op = "stat", inode = 1 }, { op = "truncate", size = 4096 }, { op = "punch_hole", pos = 0, len = 1024 },
  { op = "fsync", datasync = true }, { op = "writeback" }, { op = "commit" }, { op = "crash" },
]
"#;

/// [`EVERY_FIELD`] in code.
fn every_field_in_code() -> Scenario {
    Scenario::builder()
        .blkbits(12)
        .sector_bits(9)
        .page_bits(12)
        .huge_file(false)
        .disk_blocks(32)
        .dioread_nolock()
        .sync()
        .plug_holds_bios()
        .bio_errors()
        .inode(
            Inode::new()
                .ino(49)
                .i_size(8192)
                .s_sync()
                .cached_pages([1])
                .written(0, 2, 3),
        )
        .inode(
            Inode::new()
                .bitmap()
                .dio_refused()
                .i_size(1024)
                .written(0, 1, 0),
        )
        .actor([
            op::write(0, 512).inode(1).direct().aio().append().dsync(),
            op::write(4096, 0)
                .segments([(0x10_0200, 512), (0x10_0400, 512)])
                .sync()
                .largefile(false)
                .rlimit_fsize(1 << 20),
            op::read(0, 4096).direct(),
        ])
        .actor([
            op::stat().inode(1),
            op::truncate(4096),
            op::punch_hole(0, 1024),
            op::fsync().datasync(),
            op::writeback(),
            op::commit(),
            op::crash(),
        ])
        .build()
        .unwrap()
}

#[test]
fn a_scenario_built_in_code_is_the_file_s_scenario() {
    let from_corpus = Scenario::from_corpus(corpus_file("0003")).unwrap();
    assert_eq!(
        overwrite_aio_clears_i_private().model(),
        from_corpus.model()
    );
    let (built, file) = (
        every_field_in_code(),
        Scenario::from_toml(EVERY_FIELD).unwrap(),
    );
    assert_eq!(built.model(), file.model());
    assert_eq!(Scenario::from_toml(&built.to_toml()).unwrap(), built);
}

#[test]
fn builder_errors_name_the_field_as_the_loader_does() {
    let built = Scenario::builder()
        .inode(Inode::new().i_size(4096).written(0, 1, 16))
        .build()
        .unwrap_err();
    let file = Scenario::from_toml(
        "[[inodes]]\ni_size = 4096\nextents = [{ lblk = 0, len = 1, pblk = 16, state = \"written\" }]",
    )
    .unwrap_err();
    // The same field and reason; a file's error also says the line.
    assert_eq!(file.message, format!("line 3: {}", built.message));
    assert!(
        built
            .to_string()
            .starts_with("Scenario::builder(): inodes[0].extents[0].pblk: "),
        "{built}"
    );
    let error = |actor: Vec<sim::Operation>| -> Error {
        let inode = Inode::new().i_size(4096).written(0, 1, 0);
        Scenario::builder()
            .inode(inode)
            .actor(actor)
            .build()
            .unwrap_err()
    };
    let message = |actor| error(actor).message;
    assert_eq!(
        message(vec![op::read(0, 4096).aio()]),
        "actors[0].ops[0].aio: a `read` has no `aio`"
    );
    assert_eq!(
        message(vec![op::stat(), op::commit().inode(1)]),
        "actors[0].ops[1].inode: a `commit` has no `inode`"
    );
    assert_eq!(
        message(vec![op::truncate(0).datasync()]),
        "actors[0].ops[0].datasync: a `truncate` has no `datasync`"
    );
    assert_eq!(
        message(vec![op::write(0, 1).inode(3)]),
        "actors[0].ops[0].inode: no inode 3"
    );
    let no_inodes = Scenario::builder().build().unwrap_err();
    assert!(
        no_inodes.message.starts_with("inodes: 0 inodes"),
        "{no_inodes}"
    );
    let bad = Scenario::from_file("no/such/file.toml").unwrap_err();
    assert!(
        bad.origin == "no/such/file.toml" && bad.message.contains("cannot read"),
        "{bad}"
    );
}

#[test]
fn every_engine_finds_corpus_0003_s_violation() {
    let s = overwrite_aio_clears_i_private();
    let checks = [
        s.check().exhaustive(),
        s.check().dfs(1, 10_000),
        s.check().random(5_000),
        s.check().pct(5_000, 3),
        s.check().shuttle(5_000),
        s.check().shuttle_pct(5_000, 3),
        s.check().loom(2),
    ];
    for check in checks {
        let run = check.assert_violates(ORACLE);
        let violation = run.violation.as_ref().expect("a violation");
        assert_eq!(violation.oracle.name(), ORACLE, "{check:?}");
        assert_eq!(run.trace.len(), run.schedule.len(), "{check:?}: traced");
    }
    // The same seed, the same schedule; another seed, a walk of its own.
    let schedule = |seed| {
        s.check()
            .random(5_000)
            .seed(seed)
            .assert_violates(ORACLE)
            .schedule
    };
    assert_eq!(schedule(3), schedule(3));
    let outcome = |seed| s.check().random(5_000).seed(seed).run().report.schedules;
    assert_ne!((outcome(3), schedule(3)), (outcome(4), schedule(4)));
}

#[test]
fn an_exhaustive_check_proves_corpus_0019() {
    let s = Scenario::from_corpus(corpus_file("0019")).unwrap();
    let outcome = s.check().exhaustive().assert_holds();
    assert!(outcome.report.exhausted && outcome.report.states > 100);
    assert!(outcome.violation().is_none());
    // Other searches of it hold too.
    s.check().random(500).assert_holds();
    s.check().dfs(2, 5_000).assert_holds();
    s.check().shuttle(200).assert_holds();
    let loom = s.check().loom(1).assert_holds();
    assert!(loom.report.exhausted);
    // Too small a budget is a failure, not a proof.
    let message = panic_text(|| {
        s.check().bfs(10).assert_holds();
    });
    assert!(
        message.contains("stopped at its budget of 10 states") && message.contains("scenario: "),
        "{message}"
    );
    let message = panic_text(|| {
        s.check().exhaustive().assert_violates("lost-write");
    });
    assert!(
        message.starts_with("assert_violates: no violation of lost-write found")
            && message.contains("everything within the bound explored"),
        "{message}"
    );
}

#[test]
fn an_unknown_oracle_is_refused_naming_the_oracles() {
    let s = overwrite_aio_clears_i_private();
    let message = panic_text(|| {
        s.check().assert_violates("single-dio-decisions");
    });
    assert!(
        message.contains("`single-dio-decisions` is not an oracle; the oracles are")
            && message.contains("no-spurious-zeros, ")
            && message.contains(ORACLE),
        "{message}"
    );
}

/// `assert_class` by rendering and by id; a wrong class fails with the class it found and a
/// replay line.
#[test]
fn assert_class_names_the_class_found() {
    let s = overwrite_aio_clears_i_private();
    let class = "single-dio-decision@ext4_ext_map_blocks | aio-dio";
    let run = s.check().exhaustive().assert_class(class);
    assert!(run.violation.is_some());
    let id = format!("{:016x}", sim::signature::fnv1a(class.as_bytes()));
    s.check().exhaustive().assert_class(&id);
    let message = panic_text(|| {
        s.check()
            .exhaustive()
            .assert_class("single-dio-decision@ext4_ext_map_blocks | dio");
    });
    assert!(
        message.contains(&format!("found class {id} {class}, not")) && message.contains("replay: "),
        "{message}"
    );
}

/// The file and the schedule of a report's replay line, which must be
/// `replay: cargo run --release -p sim --bin writeiter -- run FILE --schedule "…" --exact`.
fn replay_line(report: &str) -> (String, String) {
    let line = report
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("a replay line in:\n{report}"));
    let rest = line
        .strip_prefix("cargo run --release -p sim --bin writeiter -- run ")
        .expect("the command");
    let (file, schedule) = rest.split_once(" --schedule \"").expect("a schedule");
    let schedule = schedule.strip_suffix("\" --exact").expect("--exact");
    (file.to_string(), schedule.to_string())
}

#[test]
fn a_failing_assertion_reports_like_the_hunt_and_its_line_replays() {
    let s = overwrite_aio_clears_i_private();
    // Persisted here, whatever the environment says.
    let dir = temp_dir("report");
    let report = panic_text(|| {
        s.check().exhaustive().corpus_dir(&dir).assert_holds();
    });
    for part in [
        "assert_holds: a violation\nengine sim, strategy bfs (500000 states), seed 0: ",
        " states, ",
        "\nVIOLATION single-dio-decision: ",
        "\ntrace (last ",
    ] {
        assert!(report.contains(part), "{part:?} in:\n{report}");
    }
    // A scenario built in code is written where the replay line finds it.
    let (file, schedule) = replay_line(&report);
    assert!(file.starts_with(&std::env::temp_dir().display().to_string()));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), s.to_toml());
    let out = writeiter(&["run", &file, "--schedule", &schedule, "--exact"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("VIOLATION single-dio-decision: "),
        "{}",
        stdout(&out)
    );
    // A scenario read from a file is replayed from that file.
    let path = dir.join("overwrite.toml");
    std::fs::write(&path, s.to_toml()).unwrap();
    let report = panic_text(|| {
        Scenario::from_file(&path)
            .unwrap()
            .check()
            .random(5_000)
            .corpus_dir(&dir)
            .assert_holds();
    });
    assert_eq!(replay_line(&report).0, path.display().to_string());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_failing_assert_holds_persists_a_shrunk_corpus_entry() {
    let dir = temp_dir("persist");
    let s = overwrite_aio_clears_i_private();
    let report = panic_text(|| {
        s.check().exhaustive().corpus_dir(&dir).assert_holds();
    });
    let path = dir.join(format!("0001-{ORACLE}-seed0.toml"));
    let line = format!("counterexample: {} (shrunk: ", path.display());
    assert!(report.contains(&line), "{report}");
    let loaded = sim::assert_entry(&path);
    assert_eq!(loaded.entry.oracle, ORACLE);
    assert_eq!(loaded.entry.class, Some(Class::Unknown));
    assert!(loaded.entry.shrink.is_some());
    assert_eq!(corpus::replay(&loaded), corpus::Outcome::Reproduced);
    // The next failure takes the next number.
    panic_text(|| {
        s.check().random(5_000).corpus_dir(&dir).assert_holds();
    });
    assert!(dir.join(format!("0002-{ORACLE}-seed0.toml")).exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// Run only by [`the_environment_variable_names_the_corpus_directory`], in a child process
/// with [`CORPUS_DIR_VAR`] set.
#[test]
#[ignore = "a child of the_environment_variable_names_the_corpus_directory"]
fn child_fails_with_the_corpus_directory_set() {
    overwrite_aio_clears_i_private()
        .check()
        .exhaustive()
        .assert_holds();
}

#[test]
fn the_environment_variable_names_the_corpus_directory() {
    let dir = temp_dir("env");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_fails_with_the_corpus_directory_set",
        ])
        .env(CORPUS_DIR_VAR, &dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the child's assertion fails");
    let path = dir.join(format!("0001-{ORACLE}-seed0.toml"));
    let text = format!("{}{}", stdout(&out), common::stderr(&out));
    assert!(
        text.contains(&format!("counterexample: {}", path.display())),
        "{text}"
    );
    // The report alone: shuttle's panic hook prints nothing of its own for it.
    assert!(
        !text.contains("Task failed") && !text.contains("shuttle::replay"),
        "{text}"
    );
    sim::assert_entry(&path);
    std::fs::remove_dir_all(&dir).ok();
}

/// A planted bug: every step panics.
fn always_panics(_: &mut State, task: Task, _: Trace) -> Result<Event, StepError> {
    panic!("planted bug at {task}")
}

#[test]
fn a_modified_model_is_reported_as_such_and_not_persisted() {
    let dir = temp_dir("modified");
    let s = overwrite_aio_clears_i_private();
    let check = s.check().stepper(always_panics).corpus_dir(&dir);
    let run = check.assert_violates("model-assertion");
    assert_eq!(run.schedule.len(), 1);
    let report = panic_text(|| {
        check.assert_holds();
    });
    assert!(
        report.contains("VIOLATION model-assertion: ")
            && report.contains("this check stepped a modified model")
            && report.contains("counterexample not written to"),
        "{report}"
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).ok();
}

/// `with_patch`: the patched scenario's check runs the patched model, its file lists the
/// patches, and a failing assertion's replay line replays on the patched model. Corpus 0003's
/// race is gone under its fix; under 372a03e01853 (another fix) it still shows, and the
/// replay line shows it again.
#[test]
fn with_patch_checks_the_patched_model_and_its_replay_line_carries_the_patch() {
    let s = overwrite_aio_clears_i_private();
    s.with_patch("74dae42").check().exhaustive().assert_holds();
    let other = s.with_patch("372a03e01853");
    assert!(other.to_toml().starts_with("patches = [\"372a03e01853\"]"));
    let report = panic_text(|| {
        other
            .check()
            .exhaustive()
            .corpus_dir(temp_dir("patched"))
            .assert_holds();
    });
    let (file, schedule) = replay_line(&report);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), other.to_toml());
    let out = writeiter(&["run", &file, "--schedule", &schedule, "--exact"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("Linux 4.1-4.4 + 372a03e01853"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("VIOLATION single-dio-decision: "),
        "{}",
        stdout(&out)
    );
    let unknown = panic_text(|| {
        s.with_patch("c0ffee12");
    });
    assert!(unknown.contains("`c0ffee12`"), "{unknown}");
}
