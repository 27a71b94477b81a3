//! Shrinking: the scenario and the schedule together, every candidate re-checked against
//! the same oracle. Both tests start from counterexamples grown past what their violation
//! needs, so they show the shrinker removing actors, operations and bytes: the result is the
//! corpus entry's own size, 1-minimal, and `writeiter shrink` rewrites a corpus file.

mod common;
use common::{corpus_file, stdout, writeiter};
use model::ops::Op;
use sim::corpus;
use sim::shrink::{self, size};

/// Corpus entry 0004 (a durability violation: 2 actors, 2 operations, 1024 bytes) grown by
/// what the violation does not need: a third actor that stats, a read after the fsync, and
/// 2048 bytes appended instead of 1024.
fn grown_0004() -> (model::scenario::Scenario, String) {
    let loaded = corpus::load(&corpus_file("0004")).expect("loads");
    let mut grown = loaded.scenario.clone();
    grown.actors.push(vec![Op::Stat { inode: 0 }]);
    grown.actors[0].push(Op::Read {
        inode: 0,
        pos: 0,
        len: 4096,
        direct: false,
    });
    let Op::Write(w) = &mut grown.actors[1][0] else {
        panic!("0004's second actor writes")
    };
    w.segments[0].len = 2048;
    (grown, loaded.entry.oracle.clone())
}

#[test]
fn shrinking_an_unshrunk_counterexample_finds_the_corpus_entry_and_is_one_minimal() {
    let (grown, oracle) = grown_0004();
    let oracle = oracle.as_str();
    assert!(
        shrink::find(&grown, oracle, model::exec::step_with).is_some(),
        "the grown scenario still violates {oracle}"
    );
    let shrunk = shrink::shrink(&grown, oracle, model::exec::step_with).expect("still violates");
    let (before, after) = (size(&grown, 0), size(&shrunk.scenario, 0));
    assert_eq!(
        (before.actors, before.ops, before.bytes),
        (3, 4, 6144),
        "the grown scenario"
    );
    assert_eq!(
        (after.actors, after.ops, after.bytes),
        (2, 2, 1024),
        "back to corpus 0004's size"
    );
    let corpus = corpus::load(&corpus_file("0004")).expect("loads").scenario;
    assert_eq!(shrunk.scenario, corpus, "back to corpus 0004 itself");
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
                shrink::find(&smaller, oracle, model::exec::step_with).is_none(),
                "operation {k} of a{a} was not needed"
            );
        }
    }
}

/// `writeiter shrink` on an unshrunk copy of corpus entry 0010 (`tests/data/`: a stat actor
/// and 2048 bytes more than needed) rewrites it to the entry's size, and the file replays.
#[test]
fn writeiter_shrink_rewrites_an_unshrunk_corpus_file_that_still_replays() {
    let dir = std::env::temp_dir().join(format!("writeiter-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("0010-copy.toml");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/unshrunk-0010.toml");
    std::fs::copy(data, &path).unwrap();
    let out = writeiter(&["shrink", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("2 actors, 2 operations, 2048 bytes")
            && stdout(&out).contains(" -> 1 actors, 1 operations, 1024 bytes"),
        "{}",
        stdout(&out)
    );
    let loaded = corpus::load(&path).expect("the shrunk file loads");
    let shrink = loaded.entry.shrink.as_ref().expect("a [shrink] table");
    assert!(
        shrink
            .before
            .starts_with("2 actors, 2 operations, 2048 bytes")
    );
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
