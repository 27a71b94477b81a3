//! One corpus entry replayed to its verdict, as an assertion: what `writeiter replay FILE`
//! checks, for a test of its own per entry (`sim/tests/corpus.rs`) or in a user's crate.

use std::path::Path;

use crate::corpus::{self, Loaded, Outcome, Verdict};

/// Replays the corpus file at `path` (`corpus/README.md`, "Replay") and panics unless it
/// shows its verdict: a `violates` entry's stored schedule breaks its oracle (a stale schedule
/// fails, naming the schedule a search found in its place), a `holds` entry survives a
/// breadth-first search of every reachable state. A malformed file, or one whose name is not
/// `NNNN-slug.toml` for its `id` and `slug`, panics naming the file and the field. Returns
/// the loaded entry.
///
/// ```
/// let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus");
/// let loaded = sim::check::assert_entry(format!("{corpus}/0011-buffered-writer-and-reader-hold.toml"));
/// assert_eq!(loaded.entry.verdict, sim::corpus::Verdict::Holds);
/// ```
#[track_caller]
pub fn assert_entry(path: impl AsRef<Path>) -> Loaded {
    let path = path.as_ref();
    let loaded = corpus::load(path).unwrap_or_else(|e| panic!("{e}"));
    let entry = &loaded.entry;
    corpus::assert_named(path, entry.id, &entry.slug);
    let outcome = corpus::replay(&loaded);
    let failure = match (entry.verdict, &outcome) {
        (Verdict::Violates, Outcome::Reproduced) | (Verdict::Holds, Outcome::Held) => {
            return loaded;
        }
        (Verdict::Violates, Outcome::Refound(schedule)) => format!(
            "stale: the stored schedule no longer breaks {}; a search found it at \"{schedule}\"",
            entry.oracle
        ),
        (Verdict::Violates, Outcome::Held) => format!("held: no search breaks {}", entry.oracle),
        (_, Outcome::NotExhausted(states)) => {
            format!("not proven: the breadth-first search stopped at {states} states")
        }
        (_, Outcome::Other(what)) => format!("broken instead: {what}"),
        (Verdict::Holds, Outcome::Reproduced | Outcome::Refound(_)) => {
            format!("a holds entry broke {}", entry.oracle)
        }
    };
    panic!(
        "{}: entry {} {} ({} {}; class: {}): {failure}\nreplay: {} replay {}",
        path.display(),
        entry.id,
        entry.slug,
        entry.verdict.name(),
        entry.oracle,
        entry.class_words(),
        super::run::WRITEITER,
        path.display()
    );
}
