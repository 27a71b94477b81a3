//! The patch mechanism at the user's edge: `writeiter patches`, `--patch` on every command that
//! runs the model, the scenario-file key `patches`, and the replay line of a patched hunt.
//! (What each patch changes is tested beside it, in `patches_*.rs`.)

mod common;
use common::{corpus_file, stderr, stdout, writeiter};
use model::patches::{Patch, Patches};

/// `writeiter patches` lists every patch: its commit id, release and title, and what it
/// changes.
#[test]
fn patches_lists_every_commit_with_its_release_and_title() {
    let out = writeiter(&["patches"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for patch in Patch::ALL {
        let u = patch.upstream();
        let line = text
            .lines()
            .find(|l| l.starts_with(u.id))
            .unwrap_or_else(|| panic!("no line for {}\n{text}", u.id));
        assert!(
            line.contains(u.version) && line.ends_with(u.title),
            "{line}"
        );
        assert!(text.contains(u.changes), "{}: {text}", u.id);
    }
    assert!(
        text.contains("brings in: 332391a9935d"),
        "5e25c269e17d builds on 332391a9935d: {text}"
    );
}

/// An id no patch has is bad input on every command that takes `--patch`: exit 2, the flag
/// and the id named, nothing on standard output.
#[test]
fn an_unknown_patch_id_exits_2_on_every_command() {
    let entry = corpus_file("0003");
    let entry = entry.to_str().expect("utf-8 path");
    for args in [
        vec!["run", "examples/unaligned-aio.toml"],
        vec!["hunt", "--schedules", "64"],
        vec!["replay", entry],
        vec!["explain", entry],
        vec!["shrink", entry],
    ] {
        for bad in ["c0ffee1234ab", "74da"] {
            let mut args = args.clone();
            args.extend(["--patch", bad]);
            let out = writeiter(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            let said = stderr(&out);
            assert!(said.contains("--patch") && said.contains(bad), "{said}");
            assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        }
    }
}

/// A scenario file's `patches` key: an unknown id names the file and `patches[k]`; known ids
/// (abbreviated, or `all`) are applied, and `run` says so in its first line.
#[test]
fn a_scenario_file_names_its_patches() {
    let dir = std::env::temp_dir().join(format!("writeiter-patches-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let example = std::fs::read_to_string("../examples/unaligned-aio.toml").expect("example");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        format!("patches = [\"372a03e\", \"nope\"]\n{example}"),
    )
    .unwrap();
    let out = writeiter(&["run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("bad.toml") && said.contains("patches[1]"),
        "{said}"
    );
    assert!(said.contains("`nope`"), "{said}");

    let good = dir.join("good.toml");
    std::fs::write(&good, format!("patches = [\"372a03e\"]\n{example}")).unwrap();
    let out = writeiter(&["run", good.to_str().unwrap(), "--patch", "74dae4278546"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = stdout(&out).lines().next().unwrap_or_default().to_string();
    assert!(
        first.ends_with("Linux 4.1-4.4 + 74dae4278546 + 372a03e01853"),
        "{first}"
    );
    let out = writeiter(&["run", "examples/unaligned-aio.toml"]);
    let first = stdout(&out).lines().next().unwrap_or_default().to_string();
    assert!(first.ends_with("Linux 4.1-4.4"), "{first}");
}

/// The scenario file a patched scenario is written as reads back to the same patches, and
/// the corpus file of a patched finding keeps them under `[scenario]`.
#[test]
fn patches_survive_a_round_trip_through_scenario_and_corpus_files() {
    let mut scenario = sim::swarm::generate(7).0;
    scenario.patches = Patches::parse(&["5e25c269e17d", "74dae42"]).unwrap();
    assert_eq!(
        scenario.patches.iter().count(),
        3,
        "5e25c269e17d brings 332391a9935d"
    );
    let text = sim::scenario_file::to_toml(&scenario);
    assert!(text.starts_with("patches = ["), "{text}");
    assert_eq!(sim::scenario_file::parse(&text).unwrap(), scenario);
    let nested = sim::scenario_file::to_toml_under(&scenario, "scenario.");
    assert!(nested.starts_with("[scenario]\npatches = ["), "{nested}");
    let unpatched = sim::scenario_file::to_toml(&sim::swarm::generate(7).0);
    assert!(!unpatched.contains("patches"), "4.4.121 needs no key");
}

/// A hunt with `--patch` says which model it runs, and its replay line carries the patches:
/// run as printed, it shows the same violation.
#[test]
fn a_patched_hunts_replay_line_carries_its_patches_and_reproduces() {
    let dir = std::env::temp_dir().join(format!("writeiter-patched-hunt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // 0018 is accepted upstream: no patch removes it.
    let loaded = sim::corpus::load(&corpus_file("0018")).expect("entry loads");
    let scenario = dir.join("0018.toml");
    std::fs::write(&scenario, sim::scenario_file::to_toml(&loaded.scenario)).unwrap();
    let out = writeiter(&[
        "hunt",
        "--scenario",
        scenario.to_str().unwrap(),
        "--patch",
        "all",
        "--known",
        "none",
        "--stop-on-new",
        "--schedules",
        "6400",
        "--max-seconds",
        "100000",
        "--jobs",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().next().unwrap_or_default();
    assert!(
        header.contains(&format!("model {}", Patches::all())),
        "{header}"
    );
    let replay = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("no replay line in\n{text}"));
    for id in Patches::all().ids() {
        assert!(replay.contains(&format!("--patch {id}")), "{replay}");
    }
    let words = shell_words(replay);
    // `cargo run --release -p sim --bin writeiter -- run ...`: the binary's arguments.
    let run_at = words.iter().position(|w| w == "--").expect("cargo's `--`") + 1;
    assert_eq!(words[run_at], "run", "{replay}");
    let args: Vec<&str> = words[run_at..].iter().map(String::as_str).collect();
    let again = writeiter(&args);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(stdout(&again).contains("VIOLATION"), "{}", stdout(&again));
}

/// Splits a command line printed for a POSIX shell: words, with `'...'` and `"..."` quoting.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote) = (Vec::new(), String::new(), None);
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}
