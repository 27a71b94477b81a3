//! The hunt knows the corpus: a violation of a known class is counted under its entry and
//! the hunt goes on; a new class is reported (and written to `--corpus-dir` as `unknown`);
//! `--stop-on-new` stops at the first new one; exit 1 only when a class is new. Every hunt
//! here is bounded by its schedule count.

mod common;
use common::{stdout, writeiter};
use serde_json::Value;

/// Schedules of the hunts over the default corpus (about 300 cases).
const SCHEDULES: &str = "20000";

fn json_of(args: &[&str]) -> (Option<i32>, Value, String) {
    let out = writeiter(args);
    let err = common::stderr(&out);
    (out.status.code(), common::json(&out), err)
}

fn classes(value: &Value) -> &Vec<Value> {
    value["classes"].as_array().expect("a list of classes")
}

/// A temporary directory of this test process.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("writeiter-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

#[test]
fn the_default_corpus_is_known_and_the_hunt_goes_on_past_it() {
    let args = ["hunt", "--json", "--jobs", "2", "--schedules", SCHEDULES];
    let (code, value, err) = json_of(&args);
    assert!(err.contains("known classes: corpus ("), "{err}");
    let classes = classes(&value);
    let first = &classes[0];
    // Seed 1's violation is the class of 0010 (README): counted, not new.
    assert_eq!(first["first_seed"], 1, "{value}");
    assert_eq!(first["known"], 10, "{first}");
    assert_eq!(
        first["signature"],
        "durability@aio_complete | aio-dio+dsync"
    );
    assert!(classes.len() > 1, "the hunt went on past its first find");
    // The whole budget ran: every case of it, 64 schedules at most each (a case stops
    // early when its search is exhausted).
    let budget: u64 = SCHEDULES.parse().unwrap();
    let cases = budget.div_ceil(sim::hunt::CASE_SCHEDULES);
    assert_eq!(value["cases"].as_u64(), Some(cases), "the whole budget ran");
    assert!(value["schedules"].as_u64().unwrap() <= budget);
    let new = classes.iter().any(|c| c["known"].is_null());
    assert_eq!(code, Some(if new { 1 } else { 0 }), "{value}");
    let found: u64 = classes.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert!(found >= classes.len() as u64);
    for class in classes {
        let line = format!("class: known {:04} (", class["known"].as_u64().unwrap_or(0));
        if !class["known"].is_null() {
            assert!(err.contains(&line), "{line} in\n{err}");
        }
    }
    assert!(
        err.contains("class: unknown (new) signature ") == new,
        "{err}"
    );
}

#[test]
fn stop_on_new_stops_at_the_first_new_class() {
    let (code, value, err) = json_of(&[
        "hunt",
        "--json",
        "--jobs",
        "2",
        "--schedules",
        SCHEDULES,
        "--known",
        "none",
        "--stop-on-new",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("known classes: none"), "{err}");
    let classes = classes(&value);
    assert_eq!(classes.len(), 1, "{value}");
    assert!(classes[0]["known"].is_null());
    assert_eq!(classes[0]["count"], 1);
    assert_eq!(
        value["cases"].as_u64(),
        value["case"].as_u64().map(|c| c + 1)
    );
    assert_eq!(classes[0]["first_schedules"], value["schedules"]);
}

/// `--known DIR` names another corpus: with only 0010 in it, seed 1's class is known as
/// 0010 and the classes of the full corpus are new. Its starvation lasso entry (a copy of
/// 0045 in `DIR/liveness/`) is read, and the header says it is left out: no class of a hunt.
#[test]
fn known_names_another_corpus() {
    let dir = temp_dir("known");
    std::fs::create_dir_all(dir.join("liveness")).unwrap();
    let entry = common::corpus_file("0010");
    std::fs::copy(&entry, dir.join(entry.file_name().unwrap())).unwrap();
    let lasso = "liveness/0045-unaligned-aio-starves-in-ext4-unwritten-wait.toml";
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    std::fs::copy(from.join(lasso), dir.join(lasso)).unwrap();
    let (code, value, err) = json_of(&[
        "hunt",
        "--json",
        "--jobs",
        "2",
        "--schedules",
        SCHEDULES,
        "--known",
        dir.to_str().unwrap(),
    ]);
    let left_out = "(1 entries, 1 signatures; 1 starvation lasso entry left out: a hunt runs finite executions";
    assert!(err.contains(left_out), "{err}");
    let classes = classes(&value);
    assert_eq!(classes[0]["known"], 10, "{err}");
    assert!(classes[1..].iter().all(|c| c["known"].is_null()), "{value}");
    assert_eq!(code, Some(1));
    std::fs::remove_dir_all(&dir).ok();
}

/// Each new class is shrunk and written as its own `unknown` entry, and the JSON names it.
#[test]
fn each_new_class_is_written_to_the_corpus_dir_as_unknown() {
    let dir = temp_dir("classes");
    let (code, value, err) = json_of(&[
        "hunt",
        "--json",
        "--jobs",
        "2",
        "--schedules",
        "640",
        "--known",
        "none",
        "--corpus-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    let classes = classes(&value);
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, classes.len(), "{value}");
    for class in classes {
        let path = class["counterexample"].as_str().expect("a counterexample");
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("class = \"unknown\""), "{path}");
        assert_eq!(stored_signature(path), class["signature"], "{path}");
    }
    assert_eq!(value["counterexample"], classes[0]["counterexample"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// The signature of a stored counterexample's schedule.
fn stored_signature(path: &str) -> String {
    let loaded = sim::corpus::load(std::path::Path::new(path)).expect("a corpus file");
    let signature = sim::signature::entry_signature(&loaded, model::exec::step_with);
    signature
        .expect("its schedule violates its oracle")
        .to_string()
}

/// Shrinking keeps the class, not only the oracle: seed 18's find (the class of 0016, a
/// failed writeback's extent converted by `ext4_end_io`) would shrink into the class of 0024
/// if only its oracle were kept. Shrunk for its signature, it stays in its class, and the
/// stored entry is shrunk (a `[shrink]` table) and replays to that class.
#[test]
fn a_counterexample_shrinks_within_its_class() {
    let dir = temp_dir("unshrunk");
    let out = writeiter(&[
        "hunt",
        "--seed",
        "18",
        "--schedules",
        "64",
        "--jobs",
        "1",
        "--known",
        "none",
        "--corpus-dir",
        dir.to_str().unwrap(),
        "--json",
    ]);
    let (value, err) = (common::json(&out), common::stderr(&out));
    let class = &classes(&value)[0];
    let signature = "no-stale-exposure@ext4_end_io_rsv_work | bio-error+writeback";
    assert_eq!(class["signature"], signature);
    let path = class["counterexample"].as_str().expect("written");
    assert_eq!(stored_signature(path), signature);
    let loaded = sim::corpus::load(std::path::Path::new(path)).expect("a corpus file");
    assert!(loaded.entry.shrink.is_some(), "shrunk: {err}");
    // Shrunk for its oracle alone, the same find leaves its class.
    let oracle_only = sim::shrink::shrink(
        &sim::swarm::generate(18).0,
        "no-stale-exposure",
        model::exec::step_with,
    )
    .expect("shrinks");
    let initial = oracle_only.scenario.build().unwrap();
    let moved = sim::signature::of(&initial, &oracle_only.execution, model::exec::step_with);
    assert_ne!(moved.map(|s| s.to_string()).as_deref(), Some(signature));
    assert_eq!(writeiter(&["replay", path]).status.code(), Some(0));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_known_corpus_that_cannot_be_read_is_bad_input() {
    for dir in ["no/such/dir", "sim/tests/data"] {
        let out = writeiter(&["hunt", "--schedules", "64", "--known", dir]);
        assert_eq!(out.status.code(), Some(2), "{dir}: {}", stdout(&out));
        assert!(stdout(&out).is_empty(), "nothing hunted: {}", stdout(&out));
        assert!(
            common::stderr(&out).contains("--known"),
            "{}",
            common::stderr(&out)
        );
    }
}

/// The table of classes ends the human report: one row per class with its id and
/// signature, and its known entry or `new`.
#[test]
fn the_summary_is_a_table_of_classes() {
    let out = writeiter(&["hunt", "--jobs", "1", "--schedules", SCHEDULES]);
    let text = stdout(&out);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("classes: "))
        .collect();
    assert!(table.len() > 2, "{text}");
    assert!(
        table[1].contains("count") && table[1].contains("first seed"),
        "{text}"
    );
    assert!(table.iter().any(|l| l.contains(" 0010 bug ")), "{text}");
    assert!(table.last().unwrap().starts_with("violation: "), "{text}");
}
