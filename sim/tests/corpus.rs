//! Replays every file of `corpus/`: a `violates` entry must still break its oracle (by its
//! stored schedule, or, when the model changed under it, by a search of its scenario, which
//! is said plainly), a `holds` entry must hold. Also the corpus format's errors and
//! `writeiter replay`'s exit statuses.

mod common;
use common::{stdout, writeiter};
use sim::corpus::{self, Outcome, Verdict};

fn corpus_files() -> Vec<std::path::PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_entry_still_shows_its_verdict() {
    let files = corpus_files();
    assert!(
        files.len() >= 10,
        "the corpus holds the violations the hunt found"
    );
    let mut ids = std::collections::BTreeSet::new();
    for file in files {
        let loaded = corpus::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            ids.insert(loaded.entry.id),
            "{}: id {} used twice",
            file.display(),
            loaded.entry.id
        );
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(
            name,
            format!("{:04}-{}.toml", loaded.entry.id, loaded.entry.slug),
            "file name"
        );
        let outcome = corpus::replay(&loaded);
        match (loaded.entry.verdict, &outcome) {
            (Verdict::Violates, Outcome::Reproduced) | (Verdict::Holds, Outcome::Held) => {}
            (Verdict::Violates, Outcome::Refound(schedule)) => {
                eprintln!("{name}: schedule stale, violation re-found at \"{schedule}\"");
            }
            (verdict, outcome) => panic!("{name}: {verdict:?} but {outcome:?}"),
        }
    }
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("writeiter-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("written");
    path
}

fn entry_text() -> String {
    std::fs::read_to_string(&corpus_files()[9]).expect("entry 10")
}

/// Entry 10 with its `schedule = "..."` line replaced.
fn with_schedule(schedule: &str) -> String {
    let text = entry_text();
    let line = text
        .lines()
        .find(|l| l.starts_with("schedule = "))
        .expect("a schedule line")
        .to_string();
    text.replace(&line, &format!("schedule = \"{schedule}\""))
}

#[test]
fn a_stale_schedule_is_re_found_and_said_so() {
    let text = with_schedule("a0 a0 a0");
    let path = write("stale.toml", &text);
    let loaded = corpus::load(&path).expect("loads");
    assert!(matches!(corpus::replay(&loaded), Outcome::Refound(_)));
    let out = writeiter(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("schedule stale, violation re-found at"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_malformed_entry_names_the_file_line_and_field() {
    let path = write(
        "typo.toml",
        &entry_text().replace("verdict = \"violates\"", "verdikt = \"violates\""),
    );
    let error = corpus::load(&path).unwrap_err().to_string();
    assert!(
        error.contains("typo.toml") && error.contains("verdikt") && error.contains("line"),
        "{error}"
    );
    let path = write(
        "oracle.toml",
        &entry_text().replace("oracle = \"durability\"", "oracle = \"durabillity\""),
    );
    let error = corpus::load(&path).unwrap_err().to_string();
    assert!(
        error.contains("oracle: `durabillity` is not an oracle"),
        "{error}"
    );
    let path = write("schedule.toml", &with_schedule("a0 q4"));
    assert!(
        corpus::load(&path)
            .unwrap_err()
            .to_string()
            .contains("schedule: `q4`")
    );
    let out = writeiter(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        writeiter(&["replay", "no/such.toml"]).status.code(),
        Some(2)
    );
}

#[test]
fn replay_exits_1_when_an_entry_no_longer_shows_its_verdict() {
    let text = entry_text().replace("verdict = \"violates\"", "verdict = \"holds\"");
    let path = write("wrong-verdict.toml", &text);
    let out = writeiter(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = writeiter(&["replay", corpus_files()[0].to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_shuttle_hunt_stores_shuttle_s_schedule_and_replay_checks_it() {
    let dir = std::env::temp_dir().join(format!("writeiter-corpus-shuttle-{}", std::process::id()));
    let out = writeiter(&[
        "hunt",
        "--engine",
        "shuttle",
        "--jobs",
        "1",
        "--corpus-dir",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("shuttle_schedule = "))
        .expect("shuttle's schedule stored")
        .to_string();
    assert_eq!(
        writeiter(&["replay", file.to_str().unwrap()]).status.code(),
        Some(0)
    );
    std::fs::write(&file, text.replace(&line, "shuttle_schedule = \"9102\"")).unwrap();
    let out = writeiter(&["replay", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a shuttle schedule that no longer reproduces: {}",
        stdout(&out)
    );
    std::fs::remove_dir_all(&dir).ok();
}
