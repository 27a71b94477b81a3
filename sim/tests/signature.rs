//! Signatures of findings (`sim/src/signature.rs`) against the corpus: entries of different
//! mechanisms differ, entries of one mechanism agree, and an entry's signature is what the
//! re-finds of its oracle over many schedule seeds get.
//!
//! "One mechanism" here: the same oracle broken at the same kernel step while the same
//! kinds of operation are in flight. 0001 and 0004 are one mechanism (an O_DSYNC buffered
//! write's commit after its failed writeback bio, whoever took `AS_EIO` first: a flusher or
//! an fsync); 0009 and 0013 are one (an extending DIO maps its block written in
//! `ext4_ext_map_blocks` before its data lands; 0009's write is O_DSYNC, which changes
//! nothing before the violation). 0002 and 0008 share a fix but not a mechanism: a read
//! caches old data seen at a bio's completion, against a buffered write's page seen at the
//! AIO's event.

use std::collections::BTreeMap;

use sim::corpus::{self, Verdict};
use sim::engine::{self, Execution, Pct, RandomWalk};
use sim::signature::{self, Signature};

/// Schedule seeds each entry's scenario is rerun with, per strategy (random walk, PCT).
const SEEDS: u64 = 200;
/// PCT depth of the reruns.
const PCT_DEPTH: usize = 3;
/// Share of an entry's re-finds (by its own oracle) that must get its signature, in percent.
const STABLE_PERCENT: usize = 95;
/// States the breadth-first search that re-finds an entry no seed re-found may visit.
const REFIND_STATES: u64 = 200_000;

/// Entries that share a mechanism, so a signature: 0027 is 0007's zeroing by a second
/// direct write (a synchronous one, which no gate serializes), 0028 is 0001's error taken by
/// another flusher (the same file's AIO completion, which errseq does not separate).
const SAME: [(u32, u32); 5] = [(1, 4), (1, 28), (4, 28), (7, 27), (9, 13)];

fn violating_entries() -> Vec<corpus::Loaded> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| corpus::load(f).expect("a valid entry"))
        .filter(|l| l.entry.verdict == Verdict::Violates)
        .collect()
}

/// The signature of an entry's stored schedule.
fn entry_signature(loaded: &corpus::Loaded) -> Signature {
    let initial = loaded.scenario.build().expect("checked");
    let schedule = model::drive::parse_schedule(&loaded.entry.schedule).expect("checked");
    let run = engine::replay(&initial, &schedule, model::exec::step_with).expect("applies");
    signature::of(&initial, &run, model::exec::step_with).expect("violates")
}

#[test]
fn fnv1a_matches_its_reference_values() {
    assert_eq!(signature::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(signature::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(signature::fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
}

/// Every `violates` entry stores the signature of its stored schedule: `writeiter replay`
/// demands it of that schedule and of any schedule found in a stale one's place.
#[test]
fn every_violating_entry_stores_its_signature() {
    let wrong: Vec<String> = violating_entries()
        .iter()
        .filter_map(|l| {
            let got = entry_signature(l).to_string();
            (l.entry.signature.as_deref() != Some(got.as_str()))
                .then(|| format!("{:04}\tsignature = \"{got}\"", l.entry.id))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "entries whose signature is not stored:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn entries_of_different_mechanisms_have_different_signatures() {
    let signatures: BTreeMap<u32, Signature> = violating_entries()
        .iter()
        .map(|l| (l.entry.id, entry_signature(l)))
        .collect();
    for (&a, sa) in &signatures {
        for (&b, sb) in signatures.range(a + 1..) {
            let same = SAME.contains(&(a, b));
            assert_eq!(
                sa == sb,
                same,
                "{a:04} `{sa}` and {b:04} `{sb}`: expected {}",
                if same { "one signature" } else { "two" }
            );
            assert_eq!(sa.id() == sb.id(), same, "ids of {a:04} and {b:04}");
        }
    }
    assert_ne!(signatures[&25], signatures[&26]);
}

#[test]
fn signatures_name_the_kernel_step_and_the_operations() {
    let by_id: BTreeMap<u32, String> = violating_entries()
        .iter()
        .map(|l| (l.entry.id, entry_signature(l).to_string()))
        .collect();
    assert_eq!(by_id[&10], "durability@aio_complete | aio-dio+dsync");
    assert_eq!(
        by_id[&24],
        "no-stale-exposure@ext4_put_io_end | aio-dio+bio-error"
    );
    assert_eq!(
        by_id[&12],
        "block-freeing-exclusion@ext4_truncate | truncate"
    );
}

/// Every violation of `oracle` over [`SEEDS`] random walks and as many PCT runs.
fn refinds(initial: &model::state::State, oracle: &str) -> Vec<Execution> {
    let step = model::exec::step_with;
    let mut found = Vec::new();
    for seed in 0..SEEDS {
        let runs = [
            engine::execute(initial, &mut RandomWalk::new(seed), step, false),
            engine::execute(initial, &mut Pct::new(seed, PCT_DEPTH), step, false),
        ];
        found.extend(runs.into_iter().filter(|r| {
            r.violation
                .as_ref()
                .is_some_and(|v| v.oracle.name() == oracle)
        }));
    }
    if found.is_empty() {
        found.extend(engine::bfs_for(initial, REFIND_STATES, step, oracle).found);
    }
    found
}

#[test]
fn an_entry_s_signature_is_what_the_re_finds_of_its_oracle_get() {
    let mut figures = Vec::new();
    for loaded in violating_entries() {
        let own = entry_signature(&loaded);
        let initial = loaded.scenario.build().expect("checked");
        let runs = refinds(&initial, &loaded.entry.oracle);
        let same = runs
            .iter()
            .filter(|r| signature::of(&initial, r, model::exec::step_with).as_ref() == Some(&own))
            .count();
        let id = loaded.entry.id;
        figures.push(format!("{id:04}: {same}/{}", runs.len()));
        assert!(
            !runs.is_empty(),
            "{id:04}: no re-find of {}",
            loaded.entry.oracle
        );
        assert!(
            same * 100 >= runs.len() * STABLE_PERCENT,
            "{id:04}: {same} of {} re-finds get `{own}`; the first: {:?}",
            runs.len(),
            runs.first()
                .and_then(|r| signature::of(&initial, r, model::exec::step_with))
                .map(|s| s.to_string())
        );
    }
    println!(
        "re-finds with the entry's signature: {}",
        figures.join(", ")
    );
}

/// The signature of a stored schedule, and whether that schedule fails a bio.
fn stored(path: &str) -> (String, bool) {
    let path = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    let loaded = corpus::load(std::path::Path::new(&path)).expect("a corpus-format file");
    let fails = model::drive::parse_schedule(&loaded.entry.schedule)
        .expect("checked")
        .iter()
        .any(|t| matches!(t, model::exec::Task::BioError(_)));
    (entry_signature(&loaded).to_string(), fails)
}

/// `bio-error` is part of a signature only when the violation needs the failed bio: 0015's
/// stale block is the failed writeback bio's doing; in triage 0035 (0018's mechanism under
/// all patches) the bio that failed is another write's and plays no part, so its class is
/// the one it has without any failure.
#[test]
fn bio_error_counts_only_when_the_violation_needs_the_failed_bio() {
    let (needed, fails) =
        stored("corpus/0015-failed-writeback-leaves-an-allocated-block-stale.toml");
    assert!(fails);
    assert_eq!(needed, "no-stale-exposure@bio_endio | bio-error+writeback");
    let (incidental, fails) =
        stored("triage/patched-hunt/0035-no-spurious-zeros-seed241731026514929.toml");
    assert!(fails, "the schedule fails a bio");
    assert_eq!(incidental, "no-spurious-zeros@at-rest | aio-dio");
}
