//! No input makes `writeiter` panic. A proptest mutates the scenario files of `examples/` and
//! the corpus files of `corpus/` (truncation, flipped bytes, extreme numbers, wrong types,
//! missing and duplicated lines, stray fields) and runs `run`, `replay`, `explain`, `shrink`
//! (on the mutated copy) and `hunt --scenario` (one case, no time budget that matters) on
//! each, in-process through `sim::cli::execute` with panics caught: every command exits 0, 1
//! or 2, and never panics.
//!
//! `cargo test` runs [`CASES`] cases from a fixed seed; the longer run is
//! `cargo test --release -p sim --test bad_input -- --ignored` ([`LONG_CASES`] cases from a
//! random seed; `BAD_INPUT_CASES` and `BAD_INPUT_SEED` change either run).

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// Cases of the property in `cargo test`.
const CASES: u32 = 2_000;
/// Cases of the `--ignored` run.
const LONG_CASES: u32 = 20_000;
/// The seed of the `cargo test` run.
const SEED: u64 = 0x11;

/// Numbers a mutation puts in place of a number: the edges of 4.4's types and beyond.
const EXTREMES: [&str; 16] = [
    "0",
    "1",
    "-1",
    "4095",
    "4294967295",
    "4294967296",
    "2147483647",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "1e300",
    "\"seven\"",
    "true",
    "[1, 2]",
];

/// One change to a file's text.
#[derive(Clone, Debug)]
enum Mutation {
    /// Keep the first `at` (a fraction of the length, in 1/65536) bytes.
    Truncate(u16),
    /// XOR the byte at `at` with a nonzero mask.
    Flip(u16, u8),
    /// Replace the `k`-th number with one of [`EXTREMES`].
    Extreme(u16, usize),
    /// Remove line `k` (a missing field).
    DropLine(u16),
    /// Write line `k` twice (a duplicate field).
    DuplicateLine(u16),
    /// Replace the value of the `k`-th `key = value` line with one of [`EXTREMES`].
    WrongValue(u16, usize),
    /// Add a field nobody knows after line `k`.
    StrayField(u16),
    /// Set the `k`-th `name = <number>` of one of [`FIELDS`] (inline tables included) to
    /// one of [`NUMBERS`].
    Field(usize, u16, usize),
}

/// The numbers a [`Mutation::Field`] puts in: the edges of 4.4's types (`loff_t`,
/// `size_t`, 32-bit block numbers), of the model's bounds, and past them.
const NUMBERS: [&str; 12] = [
    "18446744073709551615",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "9223372036854775807",
    "0",
    "1",
    "4095",
    "2147483647",
    "4294967295",
    "4294967296",
    "-1",
];

/// The numeric fields of scenario and corpus files a [`Mutation::Field`] aims at (offsets
/// and lengths, where sums overflow, twice).
const FIELDS: [&str; 18] = [
    "pos",
    "pos",
    "len",
    "len",
    "lblk",
    "pblk",
    "size",
    "i_size",
    "base",
    "rlimit_fsize",
    "cached_pages",
    "disk_blocks",
    "blkbits",
    "sector_bits",
    "page_bits",
    "inode",
    "ino",
    "id",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let extreme = 0..EXTREMES.len();
    prop_oneof![
        1 => any::<u16>().prop_map(Mutation::Truncate),
        1 => (any::<u16>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        3 => (any::<u16>(), extreme.clone()).prop_map(|(k, e)| Mutation::Extreme(k, e)),
        1 => any::<u16>().prop_map(Mutation::DropLine),
        1 => any::<u16>().prop_map(Mutation::DuplicateLine),
        2 => (any::<u16>(), extreme).prop_map(|(k, e)| Mutation::WrongValue(k, e)),
        1 => any::<u16>().prop_map(Mutation::StrayField),
        12 => (0..FIELDS.len(), any::<u16>(), 0..NUMBERS.len())
            .prop_map(|(f, k, e)| Mutation::Field(f, k, e)),
    ]
}

/// Scales `k` (0..65536) to `0..n`.
fn pick(k: u16, n: usize) -> usize {
    usize::from(k) * n / 65_536
}

impl Mutation {
    fn apply(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let lines: Vec<&str> = text.lines().collect();
        let rejoin = |lines: Vec<String>| lines.join("\n") + "\n";
        match *self {
            Mutation::Truncate(at) => {
                String::from_utf8_lossy(&bytes[..pick(at, bytes.len() + 1)]).into_owned()
            }
            Mutation::Flip(at, mask) => {
                let mut bytes = bytes.to_vec();
                if !bytes.is_empty() {
                    let at = pick(at, bytes.len());
                    bytes[at] ^= mask;
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Mutation::Extreme(k, e) => replace_span(text, &number_spans(text), k, EXTREMES[e]),
            Mutation::Field(f, k, e) => {
                replace_span(text, &field_spans(text, FIELDS[f]), k, NUMBERS[e])
            }
            Mutation::DropLine(k) | Mutation::DuplicateLine(k) | Mutation::StrayField(k)
                if lines.is_empty() =>
            {
                let _ = k;
                text.to_string()
            }
            Mutation::DropLine(k) => {
                let k = pick(k, lines.len());
                rejoin(
                    lines
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != k)
                        .map(|(_, l)| (*l).to_string())
                        .collect(),
                )
            }
            Mutation::DuplicateLine(k) => {
                let k = pick(k, lines.len());
                let mut out: Vec<String> = lines.iter().map(|l| (*l).to_string()).collect();
                out.insert(k, lines[k].to_string());
                rejoin(out)
            }
            Mutation::WrongValue(k, e) => {
                let keyed: Vec<usize> = (0..lines.len())
                    .filter(|&i| lines[i].contains(" = ") && !lines[i].starts_with('['))
                    .collect();
                if keyed.is_empty() {
                    return text.to_string();
                }
                let i = keyed[pick(k, keyed.len())];
                let mut out: Vec<String> = lines.iter().map(|l| (*l).to_string()).collect();
                let key = lines[i].split(" = ").next().unwrap_or("");
                out[i] = format!("{key} = {}", EXTREMES[e]);
                rejoin(out)
            }
            Mutation::StrayField(k) => {
                let k = pick(k, lines.len());
                let mut out: Vec<String> = lines.iter().map(|l| (*l).to_string()).collect();
                out.insert(k + 1, "frobnicate = 3".to_string());
                rejoin(out)
            }
        }
    }
}

/// `text` with the `k`-th (scaled) of `spans` replaced by `with`.
fn replace_span(text: &str, spans: &[(usize, usize)], k: u16, with: &str) -> String {
    if spans.is_empty() {
        return text.to_string();
    }
    let (from, to) = spans[pick(k, spans.len())];
    format!("{}{with}{}", &text[..from], &text[to..])
}

/// Byte spans of the decimal numbers in `text`.
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let from = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            spans.push((from, i));
        } else {
            i += 1;
        }
    }
    spans
}

/// Byte spans of the values of `name = <digits>` (or `name = [<digits>`) in `text`.
fn field_spans(text: &str, name: &str) -> Vec<(usize, usize)> {
    let pattern = format!("{name} = ");
    let mut spans = Vec::new();
    for (at, _) in text.match_indices(&pattern) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let from = at + pattern.len() + usize::from(text[at + pattern.len()..].starts_with('['));
        let digits = text[from..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            spans.push((from, from + digits));
        }
    }
    spans
}

/// The files mutations start from: every example scenario and corpus entry.
fn seed_files() -> Vec<(String, String)> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut files = Vec::new();
    for dir in ["examples", "corpus"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("a seed directory")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("a seed file");
            files.push((path.display().to_string(), text));
        }
    }
    assert!(files.len() >= 10, "examples/ and corpus/ hold the seeds");
    files
}

/// Runs `writeiter args` in-process; `Err` with the panic's text when it panicked.
fn writeiter(args: &[&str]) -> Result<ExitCode, String> {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    panic::catch_unwind(AssertUnwindSafe(|| {
        let io = sim::cli::Io {
            out: &mut out,
            err: &mut err,
            progress: false,
            interrupt: None,
        };
        sim::cli::execute(&args, io)
    }))
    .map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(ToString::to_string))
            .unwrap_or_else(|| "a panic".to_string())
    })
}

/// Every command on the file at `path` exits 0, 1 or 2 without a panic. Returns whether
/// some command got past loading the file (exit 0 or 1).
fn every_command_survives(path: &Path) -> Result<bool, TestCaseError> {
    let file = path.to_str().expect("a UTF-8 temp path");
    let commands: [&[&str]; 5] = [
        &["run", file],
        &["replay", file],
        &["explain", file],
        &[
            "hunt",
            "--scenario",
            file,
            "--schedules",
            "64",
            "--jobs",
            "1",
            "--max-seconds",
            "100000",
        ],
        &["shrink", file],
    ];
    let mut loaded = false;
    for args in commands {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let code = writeiter(args)
            .map_err(|panic| TestCaseError::fail(format!("{args:?} panicked: {panic}\n{text}")))?;
        let allowed = [0, 1, 2].map(ExitCode::from);
        prop_assert!(allowed.contains(&code), "{args:?} exited {code:?}\n{text}");
        loaded |= code != ExitCode::from(2);
    }
    Ok(loaded)
}

fn run_property(cases: u32, seed: Option<u64>) {
    let cases = std::env::var("BAD_INPUT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let seed = std::env::var("BAD_INPUT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .or(seed);
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: seed.map_or(RngSeed::Random, RngSeed::Fixed),
        ..Config::default()
    };
    let files = seed_files();
    let dir = std::env::temp_dir().join(format!("writeiter-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("mutated.toml");
    // Panics are caught and reported as failures; their default message would only repeat it.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let strategy = (0..files.len(), prop::collection::vec(mutation(), 1..3));
    let (ran, loaded) = (AtomicU32::new(0), AtomicU32::new(0));
    let result = TestRunner::new(config).run(&strategy, |(index, mutations)| {
        let mut text = files[index].1.clone();
        for m in &mutations {
            text = m.apply(&text);
        }
        std::fs::write(&path, &text).expect("the mutated file is written");
        let ok = every_command_survives(&path)
            .map_err(|e| TestCaseError::fail(format!("from {}: {e}", files[index].0)))?;
        ran.fetch_add(1, Ordering::Relaxed);
        loaded.fetch_add(u32::from(ok), Ordering::Relaxed);
        Ok(())
    });
    panic::set_hook(hook);
    std::fs::remove_dir_all(&dir).ok();
    if let Err(e) = result {
        panic!("{e}");
    }
    // The mutations reach past the parser: some files still load and run.
    let (ran, loaded) = (ran.into_inner(), loaded.into_inner());
    assert!(
        loaded * 20 >= ran,
        "only {loaded} of {ran} mutated files got past loading"
    );
}

#[test]
fn no_mutated_scenario_or_corpus_file_makes_writeiter_panic() {
    run_property(CASES, Some(SEED));
}

/// The long run: `cargo test --release -p sim --test bad_input -- --ignored`.
#[test]
#[ignore = "long: 20,000 cases"]
fn no_mutated_file_makes_writeiter_panic_long_run() {
    run_property(LONG_CASES, None);
}

/// The mutations do what they say (so the property covers what it claims).
#[test]
fn the_mutations_change_the_text_as_named() {
    let text = "[[inodes]]\ni_size = 8192\n";
    assert_eq!(Mutation::Truncate(0).apply(text), "");
    assert_eq!(
        Mutation::Extreme(65_535, 9).apply(text),
        "[[inodes]]\ni_size = 18446744073709551615\n"
    );
    assert_eq!(Mutation::DropLine(65_535).apply(text), "[[inodes]]\n");
    assert_eq!(
        Mutation::DuplicateLine(65_535).apply(text),
        "[[inodes]]\ni_size = 8192\ni_size = 8192\n"
    );
    assert_eq!(
        Mutation::WrongValue(0, 13).apply(text),
        "[[inodes]]\ni_size = \"seven\"\n"
    );
    assert_eq!(
        Mutation::StrayField(0).apply(text),
        "[[inodes]]\nfrobnicate = 3\ni_size = 8192\n"
    );
    assert_ne!(Mutation::Flip(0, 1).apply(text), text);
    assert_eq!(
        Mutation::Field(7, 0, 1).apply(text),
        "[[inodes]]\ni_size = 9223372036854775807\n"
    );
    let op = "ops = [{ op = \"read\", pos = 0, len = 4096 }]\n";
    assert_eq!(
        Mutation::Field(2, 0, 0).apply(op),
        "ops = [{ op = \"read\", pos = 0, len = 18446744073709551615 }]\n"
    );
    let out = writeiter(&["run", "no/such/file.toml"]);
    assert_eq!(out, Ok(ExitCode::from(2)));
}
