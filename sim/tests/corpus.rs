//! One test per file of `corpus/`, named after it (`corpus::0003-overwrite-aio-clears-…`, so
//! `cargo test 0003` runs one entry and nextest spreads the entries over cores): a `violates`
//! entry's stored schedule must still break its oracle (a stale schedule fails, printing the
//! one a search found in its place), a `holds` entry must survive a breadth-first search of
//! every reachable state ([`sim::assert_entry`]). Beside them, as tests of the same harness
//! (libtest-mimic): the ids, the corpus format's errors (the class and its evidence
//! included) and `writeiter replay`'s exit statuses. The lasso entries of
//! `corpus/liveness/` are tests of their own too (`corpus::liveness/0045-…`): each must still
//! starve its victim (or still panic at its path's last step) on the current model
//! ([`sim::cli_liveness::assert_lasso_entry`]); tampered copies show that the replay fails.

mod common;
use common::{stdout, writeiter};
use libtest_mimic::{Arguments, Trial};
use sim::corpus::{self, Outcome};

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = corpus_files()
        .into_iter()
        .map(|file| {
            let stem = file.file_stem().expect("a file").to_string_lossy();
            Trial::test(format!("corpus::{stem}"), move || {
                sim::assert_entry(&file);
                Ok(())
            })
        })
        .collect();
    trials.extend(lasso_files().into_iter().map(|file| {
        let name = file.file_stem().expect("a file").to_string_lossy();
        Trial::test(format!("corpus::liveness/{name}"), move || {
            sim::cli_liveness::assert_lasso_entry(&file, model::exec::step_with);
            Ok(())
        })
    }));
    trials.extend(tests().into_iter().map(|(name, test)| {
        Trial::test(name, move || {
            test();
            Ok(())
        })
    }));
    libtest_mimic::run(&args, trials).exit();
}

/// The tests of the harness itself, beside one per corpus entry.
fn tests() -> [(&'static str, fn()); 13] {
    [
        ("corpus::ids_are_unique", ids_are_unique),
        (
            "format::a_violation_needs_a_class_and_its_evidence",
            a_violation_needs_a_class_and_its_evidence,
        ),
        (
            "format::a_malformed_entry_names_the_file_line_and_field",
            a_malformed_entry_names_the_file_line_and_field,
        ),
        ("format::a_misnamed_file_fails", a_misnamed_file_fails),
        (
            "replay::a_stale_schedule_fails_and_prints_the_schedule_found_in_its_place",
            a_stale_schedule_fails_and_prints_the_schedule_found_in_its_place,
        ),
        (
            "replay::another_class_fails_and_update_refuses_it",
            another_class_fails_and_update_refuses_it,
        ),
        (
            "replay::replay_exits_1_when_an_entry_no_longer_shows_its_verdict",
            replay_exits_1_when_an_entry_no_longer_shows_its_verdict,
        ),
        (
            "replay::a_shuttle_hunt_stores_shuttle_s_schedule_and_replay_checks_it",
            a_shuttle_hunt_stores_shuttle_s_schedule_and_replay_checks_it,
        ),
        (
            "liveness::the_corpus_holds_the_starvation_lasso",
            the_corpus_holds_the_starvation_lasso,
        ),
        (
            "liveness::a_tampered_lasso_entry_fails_its_replay",
            a_tampered_lasso_entry_fails_its_replay,
        ),
        (
            "liveness::an_unfair_cycle_is_refused_naming_the_task_it_leaves_out",
            an_unfair_cycle_is_refused_naming_the_task_it_leaves_out,
        ),
        (
            "liveness::a_lasso_entry_needs_its_corpus_fields",
            a_lasso_entry_needs_its_corpus_fields,
        ),
        (
            "liveness::the_replay_line_replays_the_entry_and_explain_draws_it",
            the_replay_line_replays_the_entry_and_explain_draws_it,
        ),
    ]
}

fn corpus_files() -> Vec<std::path::PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus");
    let dir = std::path::Path::new(dir).canonicalize().expect("corpus/");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The lasso entries, `corpus/liveness/*.toml`, sorted.
fn lasso_files() -> Vec<std::path::PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus");
    let dir = std::path::Path::new(dir).join(corpus::LIVENESS_DIR);
    let dir = dir.canonicalize().expect("corpus/liveness/");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus/liveness/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The id of a lasso entry (every file of `corpus/liveness/` is one).
fn lasso_id(file: &std::path::Path) -> u32 {
    let triage = sim::cli_liveness::load_lasso_entry(file).unwrap_or_else(|e| panic!("{e}"));
    triage
        .unwrap_or_else(|| panic!("{}: not a corpus entry", file.display()))
        .id
}

/// Ids are unique over the safety entries and the lasso entries together.
fn ids_are_unique() {
    let files = corpus_files();
    assert!(
        files.len() >= 10,
        "the corpus holds the violations the hunt found"
    );
    let mut ids = std::collections::BTreeSet::new();
    let safety = files.iter().map(|f| {
        let loaded = corpus::load(f).unwrap_or_else(|e| panic!("{e}"));
        (f.clone(), loaded.entry.id)
    });
    let lassos = lasso_files().into_iter().map(|f| (f.clone(), lasso_id(&f)));
    for (file, id) in safety.chain(lassos) {
        assert!(ids.insert(id), "{}: id {id} used twice", file.display());
    }
}

/// The starvation lasso of 4.4 (`examples/starvation.toml`) is a lasso entry, classified.
fn the_corpus_holds_the_starvation_lasso() {
    let starvation: Vec<_> = lasso_files()
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| t.contains("verdict = \"starvation\""))
        })
        .collect();
    assert!(!starvation.is_empty(), "a starvation lasso entry");
    let triage = sim::cli_liveness::load_lasso_entry(&starvation[0])
        .expect("loads")
        .expect("a corpus entry");
    assert!(
        triage.class.starts_with("bug, fixed by e142d05263a4"),
        "{}",
        triage.class
    );
}

/// The starvation lasso entry's text and file name.
fn lasso_entry() -> (String, String) {
    let file = lasso_files()
        .into_iter()
        .find(|f| {
            f.to_string_lossy()
                .contains("starves-in-ext4-unwritten-wait")
        })
        .expect("the starvation entry");
    let name = file
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned();
    (std::fs::read_to_string(&file).expect("readable"), name)
}

/// `text` with the line starting with `key = ` replaced by `line`.
fn with_line(text: &str, key: &str, line: &str) -> String {
    let old = text
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("a {key} line"));
    text.replace(old, line)
}

/// Copies of the lasso entry that no longer show their starvation fail the entry's test
/// and `writeiter replay` (exit 1): under the fix (the stem is refused at i_mutex), with
/// the cycle cut short (its second round is refused: it did not return to its state), with
/// another victim (a1 keeps stepping), and with another stored wait (a0 still starves, but
/// not on what the entry says).
fn a_tampered_lasso_entry_fails_its_replay() {
    let (text, name) = lasso_entry();
    let schedule = text
        .lines()
        .find(|l| l.starts_with("schedule = "))
        .expect("a schedule");
    let (stem, cycle) = schedule.split_once(" cycle: ").expect("a lasso");
    let short = cycle
        .trim_end_matches('"')
        .rsplit_once(' ')
        .expect("steps")
        .0;
    let tampered = [
        (
            "patched",
            with_line(&text, "patches", "patches = [\"e142d05263a4\"]"),
            "broken:",
        ),
        (
            "short",
            text.replace(schedule, &format!("{stem} cycle: {short}\"")),
            "broken: lasso step",
        ),
        (
            "victim",
            with_line(&text, "victim", "victim = 1"),
            "not reproduced",
        ),
        (
            "wait",
            with_line(&text, "wait", "wait = \"on i_mutex of inode 12\""),
            "but blocked on asleep on ioend_wq[12], not on the stored on i_mutex",
        ),
    ];
    let path = write(&format!("lasso/{name}"), &text);
    sim::cli_liveness::assert_lasso_entry(&path, model::exec::step_with);
    for (what, copy, said) in tampered {
        assert_ne!(copy, text, "{what}");
        let path = write(&format!("lasso-{what}/{name}"), &copy);
        let message = panic_text(|| {
            sim::cli_liveness::assert_lasso_entry(&path, model::exec::step_with);
        });
        assert!(
            message.contains(said) && message.contains("class: bug, fixed by e142d05263a4"),
            "{what}: {message}"
        );
        assert!(message.contains("replay: cargo run"), "{what}: {message}");
        let out = writeiter(&["replay", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stdout(&out));
    }
}

/// `text` (a lasso entry) with one more actor at the end of its scenario, running `ops`.
fn with_actor(text: &str, ops: &str) -> String {
    let end = "\"\"\"\n\n[provenance]";
    assert!(text.contains(end), "the scenario ends before [provenance]");
    text.replace(end, &format!("\n[[actors]]\nops = [{ops}]\n{end}"))
}

/// A copy of the lasso entry with one more actor, a2, whose one operation (a journal
/// commit) is runnable in every state of the stored cycle, which never steps it: the stem
/// and the cycle still replay and return to their state, a0 is still blocked throughout,
/// but the cycle is not weakly fair. The library's replay names a2 as the unfair task and
/// does not call it a starvation; the entry's test and `writeiter replay` refuse it (exit
/// 1, as for any entry that no longer shows its verdict), naming a2.
fn an_unfair_cycle_is_refused_naming_the_task_it_leaves_out() {
    let (text, name) = lasso_entry();
    let copy = with_actor(&text, "{ op = \"commit\" }");
    let table: toml::Table = toml::from_str(&copy).expect("a lasso file");
    let scenario = table["scenario"].as_str().expect("a scenario");
    let looping = sim::scenario_file::parse_looping(scenario).expect("a looping scenario");
    assert_eq!(looping.scenario.actors.len(), 3, "a2 added");
    let schedule = table["schedule"].as_str().expect("a schedule");
    let (stem, cycle) = sim::liveness::parse_lasso(schedule).expect("a lasso");
    let replayed = sim::liveness::replay(&looping, &stem, &cycle).expect("it steps");
    assert!(replayed.returns, "the cycle still returns to its state");
    assert!(replayed.starving.iter().any(|(a, _)| *a == 0), "a0 blocked");
    assert_eq!(replayed.unfair, Some(model::exec::Task::Actor(2)));
    assert!(!replayed.starves(), "an unfair cycle is no starvation");
    let path = write(&format!("lasso-unfair/{name}"), &copy);
    let said = "not reproduced: the cycle is not weakly fair: a2 is runnable in every state of it and never steps";
    let message = panic_text(|| {
        sim::cli_liveness::assert_lasso_entry(&path, model::exec::step_with);
    });
    assert!(message.contains(said), "{message}");
    let out = writeiter(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains(said), "{}", stdout(&out));
}

/// A lasso entry has every corpus field or none (a plain lasso file): a missing or wrong
/// one is bad input naming the file and the field (`writeiter replay` exits 2), and the
/// entry's test checks its file name and that its replay line names it.
fn a_lasso_entry_needs_its_corpus_fields() {
    let (text, name) = lasso_entry();
    let fixed_by = text
        .lines()
        .find(|l| l.starts_with("fixed_by = "))
        .expect("a fix");
    let cases = [
        (
            "class",
            text.replace("class = \"bug\"\n", ""),
            "class: missing",
        ),
        (
            "evidence",
            text.replace(&format!("{fixed_by}\n"), ""),
            "fixed_by: missing",
        ),
        (
            "citation",
            with_line(&text, "fixed_by", "fixed_by = \"e142d05 ext4\""),
            "fixed_by: `e142d05 ext4` is not",
        ),
        (
            "kernel",
            with_line(&text, "kernel", "kernel = \"4.9\""),
            "kernel: `4.9`",
        ),
        (
            "postmortem",
            text.replace("postmortem = ", "post_mortem = "),
            "post_mortem",
        ),
        ("replay", text.replace("replay = ", "# "), "replay: missing"),
    ];
    for (what, copy, said) in cases {
        let path = write(&format!("fields-{what}/{name}"), &copy);
        let error = sim::cli_liveness::load_lasso_entry(&path).expect_err(what);
        assert!(
            error.contains(&name) && error.contains(said),
            "{what}: {error}"
        );
        let out = writeiter(&["replay", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: {}",
            common::stderr(&out)
        );
    }
    let path = write("0099-another-name.toml", &text);
    let message = panic_text(|| {
        sim::cli_liveness::assert_lasso_entry(&path, model::exec::step_with);
    });
    assert!(
        message.contains(&format!("belongs in a file named {name}")),
        "{message}"
    );
    let elsewhere = text.replace(
        &format!("replay corpus/liveness/{name}"),
        "replay corpus/0010.toml",
    );
    let path = write(&format!("replay-line/{name}"), &elsewhere);
    let message = panic_text(|| {
        sim::cli_liveness::assert_lasso_entry(&path, model::exec::step_with);
    });
    assert!(message.contains("replay: `cargo run"), "{message}");
}

/// The entry's replay line, run as printed from the repository root, reproduces it; `explain`
/// draws it with its victim blocked throughout.
fn the_replay_line_replays_the_entry_and_explain_draws_it() {
    let (text, name) = lasso_entry();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("replay = "))
        .expect("a replay line");
    let words = common::shell_words(line.trim_matches('"'));
    let prefix = common::shell_words(sim::cli::REPLAY_COMMAND);
    assert_eq!(words[..prefix.len()], prefix[..], "{line}");
    let args: Vec<&str> = words[prefix.len()..].iter().map(String::as_str).collect();
    let out = writeiter(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("reproduced: starvation of a0"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("class: bug, fixed by e142d05263a4"),
        "{}",
        stdout(&out)
    );
    let file = format!("corpus/liveness/{name}");
    let out = writeiter(&["explain", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let first = stdout(&out).lines().next().map(str::to_string);
    let entry =
        "corpus entry 45 unaligned-aio-starves-in-ext4-unwritten-wait (starvation); class: bug";
    assert!(
        first.as_deref().is_some_and(|l| l.starts_with(entry)),
        "{first:?}"
    );
    assert!(
        stdout(&out).contains("a0 is blocked throughout the cycle: asleep on ioend_wq"),
        "{}",
        stdout(&out)
    );
}

/// The panic text of `f` (which must panic).
fn panic_text(f: impl FnOnce()) -> String {
    sim::sync::catch_quietly(f).expect_err("it panics")
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("writeiter-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("in the dir")).expect("temp dir");
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

/// Entry 10's file name.
fn entry_name() -> String {
    let file = &corpus_files()[9];
    file.file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned()
}

/// Entry 10 with another class stored: its schedule still breaks the oracle, but replay
/// fails on the class; stale too, `--update` finds only schedules of the class it has and
/// leaves the file as it was.
fn another_class_fails_and_update_refuses_it() {
    let stored = "durability@aio_complete | aio-dio+dsync";
    let other = "durability@aio_complete | aio-dio";
    let text = entry_text().replace(stored, other);
    assert_ne!(text, entry_text(), "entry 10 stores its signature");
    let path = write(&format!("class/{}", entry_name()), &text);
    let out = writeiter(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let wanted = format!("class {stored}, not the entry's {other}");
    assert!(stdout(&out).contains(&wanted), "{}", stdout(&out));
    let stale = with_schedule("a0 a0 a0").replace(stored, other);
    let path = write(&format!("class-stale/{}", entry_name()), &stale);
    let out = writeiter(&["replay", "--update", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains(&wanted), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        stale,
        "not updated"
    );
}

fn a_stale_schedule_fails_and_prints_the_schedule_found_in_its_place() {
    let text = with_schedule("a0 a0 a0");
    // In a directory of its own: the entry's file name, which `assert_entry` checks.
    let path = write(&format!("stale/{}", entry_name()), &text);
    let loaded = corpus::load(&path).expect("loads");
    let Outcome::Refound(found) = corpus::replay(&loaded) else {
        panic!("a search re-finds the violation");
    };
    let out = writeiter(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a stale entry is a failure");
    assert!(
        stdout(&out).contains(&format!("a search found it at \"{found}\"")),
        "{}",
        stdout(&out)
    );
    // The test of its own says the same, with the entry's class and a replay line.
    let message = panic_text(|| {
        sim::assert_entry(&path);
    });
    let replay = format!("replay {}", path.display());
    assert!(
        message.contains(&format!("a search found it at \"{found}\""))
            && message.contains("class: bug, fixed by")
            && message.contains(&replay),
        "{message}"
    );
}

fn a_misnamed_file_fails() {
    let path = write("0099-another-name.toml", &entry_text());
    let message = panic_text(|| {
        sim::assert_entry(&path);
    });
    assert!(
        message.contains(&format!("belongs in a file named {}", entry_name())),
        "{message}"
    );
}

fn a_violation_needs_a_class_and_its_evidence() {
    let class = |text: &str| {
        let path = write("class.toml", text);
        corpus::load(&path).err().map(|e| e.to_string())
    };
    let text = entry_text();
    let fixed_by = text
        .lines()
        .find(|l| l.starts_with("fixed_by = "))
        .expect("entry 10 is a bug with its fix")
        .to_string();
    assert_eq!(class(&text), None);
    let without = text
        .replace("class = \"bug\"\n", "")
        .replace(&format!("{fixed_by}\n"), "");
    assert!(class(&without).is_some_and(|e| e.contains("class: missing")));
    let no_evidence = text.replace(&format!("{fixed_by}\n"), "");
    assert!(class(&no_evidence).is_some_and(|e| e.contains("fixed_by: missing")));
    let bad_citation = text.replace(&fixed_by, "fixed_by = \"109811c ext4: something\"");
    assert!(class(&bad_citation).is_some_and(|e| e.contains("is not \"<12 hex digits>")));
    let wrong_field = text.replace("fixed_by = ", "reference = ");
    assert!(class(&wrong_field).is_some_and(|e| e.contains("fixed_by: missing")));
    let unknown = text
        .replace("class = \"bug\"", "class = \"unknown\"")
        .replace(&format!("{fixed_by}\n"), "");
    assert_eq!(class(&unknown), None);
    let holds = unknown.replace("verdict = \"violates\"", "verdict = \"holds\"");
    assert!(class(&holds).is_some_and(|e| e.contains("a holds entry is a control")));
}

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

fn replay_exits_1_when_an_entry_no_longer_shows_its_verdict() {
    let text = entry_text();
    let fixed_by = text
        .lines()
        .find(|l| l.starts_with("fixed_by = "))
        .expect("entry 10 is a bug with its fix")
        .to_string();
    let text = text
        .replace("verdict = \"violates\"", "verdict = \"holds\"")
        .replace("class = \"bug\"\n", "")
        .replace(&format!("{fixed_by}\n"), "");
    let path = write("wrong-verdict.toml", &text);
    let out = writeiter(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = writeiter(&["replay", corpus_files()[0].to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

fn a_shuttle_hunt_stores_shuttle_s_schedule_and_replay_checks_it() {
    let dir = std::env::temp_dir().join(format!("writeiter-corpus-shuttle-{}", std::process::id()));
    let out = writeiter(&[
        "hunt",
        "--engine",
        "shuttle",
        "--jobs",
        "1",
        "--schedules",
        "20000",
        "--max-seconds",
        "100000",
        "--corpus-dir",
        dir.to_str().unwrap(),
        "--json",
        "--known",
        "none",
        "--stop-on-new",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    // The value, one line or a multi-line string (shuttle wraps long schedules).
    let start = text
        .find("shuttle_schedule = ")
        .expect("shuttle's schedule stored");
    let value = &text[start + "shuttle_schedule = ".len()..];
    let end = match value.strip_prefix("\"\"\"") {
        Some(rest) => 3 + rest.find("\"\"\"").expect("closed") + 3,
        None => value.find('\n').expect("one line"),
    };
    let line = text[start..start + "shuttle_schedule = ".len() + end].to_string();
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
