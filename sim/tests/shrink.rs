//! Shrinking: the scenario and the schedule together, every candidate re-checked against
//! the same oracle; the result is 1-minimal and `writeiter shrink` rewrites a corpus file.

mod common;
use common::{corpus_file, stdout, writeiter};
use sim::corpus;
use sim::shrink::{self, size};

#[test]
fn a_shrunk_counterexample_keeps_its_oracle_and_is_one_minimal() {
    let loaded = corpus::load(&corpus_file("0004")).expect("loads");
    let oracle = loaded.entry.oracle.as_str();
    let shrunk =
        shrink::shrink(&loaded.scenario, oracle, model::exec::step).expect("still violates");
    let (before, after) = (size(&loaded.scenario, 0), size(&shrunk.scenario, 0));
    assert!(
        after.actors <= before.actors && after.ops <= before.ops && after.bytes <= before.bytes
    );
    assert_eq!(
        shrunk.execution.violation.as_ref().map(|v| v.oracle.name()),
        Some(oracle)
    );
    for a in 0..shrunk.scenario.actors.len() {
        for k in 0..shrunk.scenario.actors[a].len() {
            let mut smaller = shrunk.scenario.clone();
            smaller.actors[a].remove(k);
            if smaller.actors[a].is_empty() {
                smaller.actors.remove(a);
            }
            assert!(
                shrink::find(&smaller, oracle, model::exec::step).is_none(),
                "operation {k} of a{a} was not needed"
            );
        }
    }
}

#[test]
fn writeiter_shrink_rewrites_a_corpus_file_that_still_replays() {
    let dir = std::env::temp_dir().join(format!("writeiter-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("0010-copy.toml");
    std::fs::copy(corpus_file("0010"), &path).unwrap();
    let out = writeiter(&["shrink", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(" -> 1 actors, 1 operations"),
        "{}",
        stdout(&out)
    );
    let loaded = corpus::load(&path).expect("the shrunk file loads");
    assert!(loaded.entry.shrink.is_some());
    assert_eq!(corpus::replay(&loaded), corpus::Outcome::Reproduced);
    std::fs::remove_dir_all(&dir).ok();
}

/// A `holds` entry is a control: `writeiter shrink` refuses it (exit 2) and leaves the file
/// as it was, never rewriting it as `violates`.
#[test]
fn writeiter_shrink_refuses_a_holds_control_and_leaves_it_unchanged() {
    let dir = std::env::temp_dir().join(format!("writeiter-shrink-holds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("0011-copy.toml");
    std::fs::copy(corpus_file("0011"), &path).unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    assert!(
        before.contains("verdict = \"holds\""),
        "entry 11 is a holds control"
    );
    let out = writeiter(&["shrink", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("0011-copy.toml") && err.contains("holds"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    std::fs::remove_dir_all(&dir).ok();
}
