//! The `no-stale-exposure` message (`contents::InodeWalk::exposed`, kept in a cold function)
//! on the stored counterexamples: every corpus entry of that oracle, replayed by its own
//! schedule, breaks it with a message that names the read, the inode and the offset, and
//! says what the read now returns in one of the forms the check writes. Nothing else reads
//! the message's words, so without this a changed message would pass every test.

use model::exec::Task;
use sim::corpus::Verdict;
use sim::oracle::Oracle;

/// Entries of the oracle the corpus must hold, at least.
const ENTRIES_MIN: usize = 3;

/// How the message says what the read returns (`contents::exposure`, `describe`).
const RETURNS: [&str; 4] = [
    "stale disk contents of block p",
    "initial data of inode ",
    "data of write ",
    "stale data of block p",
];

/// Whether `message` reads "{a read|a direct read} of inode N at OFFSET now returns WHAT".
fn well_formed(message: &str) -> bool {
    let rest = ["a read of inode ", "a direct read of inode "]
        .iter()
        .find_map(|read| message.strip_prefix(read));
    let Some((inode, rest)) = rest.and_then(|r| r.split_once(" at ")) else {
        return false;
    };
    let Some((offset, what)) = rest.split_once(" now returns ") else {
        return false;
    };
    inode.parse::<usize>().is_ok()
        && offset.parse::<u64>().is_ok()
        && RETURNS.iter().any(|r| what.starts_with(r))
}

#[test]
fn each_stored_exposure_names_its_read_inode_offset_and_value() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus"));
    let mut checked = 0;
    for path in sim::corpus::toml_files(dir).expect("the corpus") {
        let loaded = sim::corpus::load(&path).expect("a corpus entry loads");
        let entry = &loaded.entry;
        if entry.oracle != Oracle::NoStaleExposure.name() || entry.verdict != Verdict::Violates {
            continue;
        }
        let initial = loaded.scenario.build().expect("the scenario builds");
        let schedule: Vec<Task> = model::drive::parse_schedule(&entry.schedule).expect("parses");
        let run = sim::engine::replay(&initial, &schedule, model::exec::step_with)
            .expect("the schedule replays");
        let v = run.violation.expect("the stored schedule violates");
        assert_eq!(v.oracle, Oracle::NoStaleExposure, "{}", path.display());
        assert!(well_formed(&v.message), "{}: {}", path.display(), v.message);
        checked += 1;
    }
    assert!(checked >= ENTRIES_MIN, "{checked} entries checked");
}
