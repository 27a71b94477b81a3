//! `writeiter shrink` on a starvation lasso entry: a copy of the stored entry padded with an
//! idle actor shrinks back to no larger than the entry and still replays as a corpus entry;
//! an entry whose lasso does not show its starvation is refused (exit 1, nothing written).
//! Bounded by the liveness search's state cap per candidate
//! ([`sim::shrink_lasso::LASSO_CANDIDATE_STATES`]).

mod common;

use std::path::{Path, PathBuf};

use common::{stdout, writeiter};

/// An upstream fix under which the stored starvation remains (it changes which extents a
/// direct write allocates, not where the unaligned AIO waits).
const PATCH: &str = "914f82a32d02";
/// The stored starvation entry.
const ENTRY: &str = "corpus/liveness/0045-unaligned-aio-starves-in-ext4-unwritten-wait.toml";

fn repository(path: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(path)
}

/// `text` written as the entry's file name under a directory of its own, `dir`.
fn write(dir: &str, text: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!("writeiter-shrink-lasso-{}", std::process::id()));
    let path = base
        .join(dir)
        .join(repository(ENTRY).file_name().expect("a file"));
    std::fs::create_dir_all(path.parent().expect("a dir")).expect("temp dir");
    std::fs::write(&path, text).expect("written");
    path
}

/// The entry with a third actor, a2, doing one journal commit (two steps); `steps` are put
/// before its stored stem.
fn padded(text: &str, steps: &str) -> String {
    let end = "\"\"\"\n\n[provenance]";
    assert!(text.contains(end), "the scenario ends before [provenance]");
    let actor = format!("\n[[actors]]\nops = [{{ op = \"commit\" }}]\n{end}");
    let padded = text.replace(end, &actor);
    padded.replacen("schedule = \"", &format!("schedule = \"{steps}"), 1)
}

/// The sizes of a lasso entry: actors, operations, bytes, and steps (stem and cycle).
fn size(path: &Path) -> sim::shrink::Size {
    let text = std::fs::read_to_string(path).expect("readable");
    let table: toml::Table = toml::from_str(&text).expect("a lasso file");
    let looping = sim::scenario_file::parse_looping(table["scenario"].as_str().expect("text"))
        .expect("a looping scenario");
    let schedule = table["schedule"].as_str().expect("a schedule");
    let (stem, cycle) = sim::liveness::parse_lasso(schedule).expect("a lasso");
    sim::shrink::size(&looping.scenario, stem.len() + cycle.len())
}

#[test]
fn a_padded_lasso_entry_shrinks_back_and_still_replays() {
    let entry = repository(ENTRY);
    let text = std::fs::read_to_string(&entry).expect("the entry");
    let path = write("padded", &padded(&text, "a2 a2 "));
    sim::cli_liveness::assert_lasso_entry(&path, model::exec::step_with);
    let before = size(&path);
    let stored = size(&entry);
    assert_eq!((before.actors, stored.actors), (3, 2), "padded with a2");
    // Shrunk under a patch (one that leaves the starvation in place): the file written
    // names it, so it replays as shrunk.
    let out = writeiter(&["shrink", "--patch", PATCH, path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(
        stdout(&out).contains(&format!("{before} -> ")),
        "{}",
        stdout(&out)
    );
    let after = size(&path);
    assert!(after.actors <= stored.actors, "{after} vs {stored}");
    assert!(after.ops <= stored.ops, "{after} vs {stored}");
    assert!(after.bytes <= stored.bytes, "{after} vs {stored}");
    assert!(after.steps <= stored.steps, "{after} vs {stored}");
    sim::cli_liveness::assert_lasso_entry(&path, model::exec::step_with);
    let shrunk = std::fs::read_to_string(&path).expect("written");
    assert!(
        shrunk.contains("# Shrunk by `writeiter shrink` from 3 actors"),
        "{shrunk}"
    );
    assert!(
        shrunk.contains("victim = 0\nwait = \"asleep on ioend_wq[12]\""),
        "{shrunk}"
    );
    assert!(
        shrunk.contains(&format!("patches = [\"{PATCH}\"]")),
        "{shrunk}"
    );
}

/// A lasso file without the lines shrink rewrites (here its `wait`, which a replay does not
/// need) is refused before any search: exit 2 naming the file, nothing written.
#[test]
fn a_lasso_file_without_a_wait_line_is_refused_before_searching() {
    let text = std::fs::read_to_string(repository(ENTRY)).expect("the entry");
    let no_wait: String = (text.lines())
        .filter(|l| !l.starts_with("wait = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = write("no-wait", &no_wait);
    let out = writeiter(&["shrink", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let said = "no victim, wait and schedule lines";
    assert!(
        common::stderr(&out).contains(said),
        "{}",
        common::stderr(&out)
    );
    assert!(
        common::stderr(&out).contains(path.to_str().expect("utf-8")),
        "names the file"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), no_wait);
}

/// The padded copy without a2's steps in its stem: the stored cycle leaves a2 runnable
/// throughout (not weakly fair), so the entry does not show its starvation and shrink
/// refuses it, leaving the file as it was.
#[test]
fn a_lasso_entry_that_does_not_starve_is_refused() {
    let text = std::fs::read_to_string(repository(ENTRY)).expect("the entry");
    let unfair = padded(&text, "");
    let path = write("unfair", &unfair);
    let out = writeiter(&["shrink", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let said = "not reproduced: the cycle is not weakly fair: a2 is runnable in every state of it and never steps; nothing written";
    assert!(stdout(&out).contains(said), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), unfair);
}
