//! The patch matrix: every `bug` entry's class is gone under the patch its `fixed_by` names,
//! and `writeiter matrix` prints and exports the table.

mod common;
use common::{corpus_file, stderr, stdout, writeiter};
use model::patches::{Patch, Patches};
use sim::corpus::{Class, Verdict};
use sim::matrix::{Cell, judge};

fn entries() -> Vec<sim::corpus::Loaded> {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| sim::corpus::load(f).expect("a corpus file"))
        .collect()
}

/// Each `bug` entry names its fix, the model has that fix as a patch, and under it alone a
/// search finds the entry's class no more (a breadth-first search of every reachable state,
/// or of 500,000 states and 4,000 random and PCT schedules).
#[test]
fn every_bug_entry_is_fixed_by_the_patch_its_fixed_by_names() {
    for loaded in entries()
        .iter()
        .filter(|l| l.entry.class == Some(Class::Bug))
    {
        let id = loaded.entry.id;
        let patch = sim::matrix::fixed_by(loaded)
            .unwrap_or_else(|| panic!("{id:04}: no patch for {:?}", loaded.entry.fixed_by));
        let cell = judge(loaded, Patches::NONE.with(patch));
        assert!(
            cell.class_gone(),
            "{id:04}: its class still shows under {patch}"
        );
        assert_eq!(
            judge(loaded, Patches::NONE),
            Cell::Violates,
            "{id:04} under 4.4"
        );
    }
}

/// `writeiter matrix --json` on a corpus of two entries: a row each, a cell for 4.4, for every
/// patch and for all patches; 4.4 shows each entry's verdict; the bug entry's class is gone
/// under its fix, so the exit status is 0. The text table has the same cells.
#[test]
fn writeiter_matrix_exports_a_row_per_entry_and_a_cell_per_patch() {
    let dir = std::env::temp_dir().join(format!("writeiter-matrix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for entry in ["0007", "0011"] {
        let from = corpus_file(entry);
        std::fs::copy(&from, dir.join(from.file_name().unwrap())).expect("copied");
    }
    let out = writeiter(&["matrix", "--corpus", dir.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let value = common::json(&out);
    let rows = value["entries"].as_array().expect("entries");
    assert_eq!(rows.len(), 2);
    let columns = 2 + Patch::ALL.len();
    for row in rows {
        let cells = row["cells"].as_object().expect("cells");
        assert_eq!(cells.len(), columns, "{row}");
        let verdict = row["verdict"].as_str().unwrap();
        assert_eq!(cells["4.4"], verdict, "{row}");
        for patch in Patch::ALL {
            assert!(cells.contains_key(patch.upstream().id), "{row}");
        }
    }
    assert_eq!(rows[0]["id"], 7);
    assert_eq!(rows[0]["class"], "bug");
    assert_ne!(rows[0]["cells"]["372a03e01853"], "violates");
    assert_eq!(rows[1]["verdict"], "holds");
    let text = writeiter(&["matrix", "--corpus", dir.to_str().unwrap()]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let line = stdout(&text)
        .lines()
        .find(|l| l.starts_with("| 0007 "))
        .map(str::to_string)
        .expect("a row for 0007");
    assert!(
        line.starts_with(
            "| 0007 extending-unaligned-aio-zeroes-a-queued-aios-data | bug | violates |"
        ),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A missing corpus directory is bad input.
#[test]
fn writeiter_matrix_of_a_missing_directory_exits_2() {
    let out = writeiter(&["matrix", "--corpus", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--corpus no/such/dir"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

/// Under 4.4.121 every entry shows its verdict in the matrix, as `writeiter replay` says.
#[test]
fn the_4_4_column_is_each_entrys_verdict() {
    for loaded in entries() {
        let want = match loaded.entry.verdict {
            Verdict::Violates => Cell::Violates,
            Verdict::Holds => Cell::Holds,
        };
        assert_eq!(
            judge(&loaded, Patches::NONE),
            want,
            "{:04}",
            loaded.entry.id
        );
    }
}

/// The counterexamples of the two hunts of 4.4.121 + all patches that are not (or cannot be)
/// stored in the corpus (README, "What the patched hunt left", and its rerun) stay valid: each loads, names its patches, and its stored schedule
/// shows its stored class on the patched model.
#[test]
fn the_patched_hunts_untriaged_counterexamples_still_show_their_class() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../triage");
    let mut files = Vec::new();
    for hunt in ["patched-hunt", "patched-hunt-2", "patched-hunt-3"] {
        let dir = std::path::Path::new(root).join(hunt);
        let listing = std::fs::read_dir(&dir).expect("a triage directory");
        let found: Vec<_> = listing.map(|e| e.unwrap().path()).collect();
        assert!(!found.is_empty(), "{}", dir.display());
        files.extend(found);
    }
    files.sort();
    let mut off = Vec::new();
    for file in files {
        let loaded = sim::corpus::load(&file).expect("a corpus-format file");
        assert!(!loaded.scenario.patches.is_empty(), "{}", file.display());
        let stored = loaded.entry.signature.as_deref().expect("a signature");
        let shown = sim::corpus::signature_of(&loaded.scenario, &loaded.entry.schedule)
            .map(|s| s.to_string());
        if shown.as_deref() != Some(stored) {
            off.push(format!("{}: {shown:?}, not {stored}", file.display()));
        }
    }
    assert!(off.is_empty(), "{}", off.join("\n"));
}
