//! Scenario checks for `cargo test`: the engines of this crate behind a small API, in the
//! spirit of `loom::model` and `shuttle::check_random`.
//!
//! - A [`Scenario`] comes from a scenario file ([`Scenario::from_file`]), TOML text
//!   ([`Scenario::from_toml`]), a corpus entry ([`Scenario::from_corpus`]) or code
//!   ([`Scenario::builder`], with [`Inode`] and the operations of [`op`]). Every entry point
//!   runs the scenario-file loader's checks; an error names the field at fault.
//! - [`Scenario::check`] makes a [`Check`]: the engine and strategy ([`Search`]), its budget in
//!   counts (schedules, states, a preemption bound) and a seed. Nothing is bounded by time.
//! - [`Check::assert_holds`] panics when the search finds a violation of any oracle (and, for
//!   an exhaustive check, when it did not explore every reachable state);
//!   [`Check::assert_violates`] panics unless it finds a violation of the named oracle, and
//!   returns that [`Execution`]; [`Check::assert_class`] likewise for a class (a finding's
//!   signature, as `writeiter hunt` prints it, or its id).
//! - A failing assertion panics with the report `writeiter hunt` prints for a finding: the
//!   engine, strategy and seed, a replay line for `writeiter run`, the violation and the
//!   trace's tail. With [`CORPUS_DIR_VAR`] set (or [`Check::corpus_dir`]), a failing
//!   [`Check::assert_holds`] also shrinks the counterexample and writes it there as a corpus
//!   file, as proptest persists its failures.
//! - [`assert_entry`] replays one corpus file to its verdict, as `writeiter replay` does.
//!
//! ```
//! use sim::check::{Inode, Scenario, op};
//!
//! let s = Scenario::builder()
//!     .inode(Inode::new().i_size(4096).written(0, 1, 0))
//!     .actor([op::write(0, 4096).direct()])
//!     .actor([op::read(0, 4096)])
//!     .build()
//!     .unwrap();
//! let outcome = s.check().exhaustive().assert_holds();
//! assert!(outcome.report.exhausted);
//! ```

mod builder;
mod entry;
mod run;

use std::path::{Path, PathBuf};

pub use builder::{Inode, Operation, ScenarioBuilder, op};
pub use entry::assert_entry;
pub use run::{CORPUS_DIR_VAR, Check, EXHAUSTIVE_STATES, Outcome, Search, WRITEITER};

pub use crate::engine::Execution;

/// A scenario to check: the initial file state and the actors with their operations, checked
/// as the scenario-file loader checks them (`writeiter run` accepts it as a file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    model: model::scenario::Scenario,
    /// The scenario file it was read from (absolute), for the replay line.
    file: Option<PathBuf>,
}

/// A scenario that cannot be used: where it came from and what is wrong, naming the field (and
/// the line, where TOML knows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The file, or how the scenario was given (`TOML text`, `Scenario::builder()`).
    pub origin: String,
    /// What is wrong: `inodes[0].extents[1].pblk: outside the disk or already used`.
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for Error {}

impl Scenario {
    /// Reads a scenario file (README, "Scenario files").
    pub fn from_file(path: impl AsRef<Path>) -> Result<Scenario, Error> {
        let path = path.as_ref();
        let model = crate::scenario_file::load(path).map_err(|e| Error {
            origin: e.path,
            message: e.message,
        })?;
        let file = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        Ok(Scenario { model, file })
    }

    /// Parses scenario-file text.
    pub fn from_toml(text: &str) -> Result<Scenario, Error> {
        let model = crate::scenario_file::parse(text).map_err(|message| Error {
            origin: "TOML text".to_string(),
            message,
        })?;
        Ok(Scenario { model, file: None })
    }

    /// The scenario of a corpus file (`corpus/README.md`), which is checked like any corpus
    /// file: its class, schedule and oracle too.
    pub fn from_corpus(path: impl AsRef<Path>) -> Result<Scenario, Error> {
        let loaded = crate::corpus::load(path.as_ref()).map_err(|e| Error {
            origin: e.path,
            message: e.message,
        })?;
        Ok(Scenario {
            model: loaded.scenario,
            file: None,
        })
    }

    /// A scenario from the model's own description, checked by building its initial state.
    pub fn from_model(model: model::scenario::Scenario) -> Result<Scenario, Error> {
        model.build().map_err(|e| Error {
            origin: "model::scenario::Scenario".to_string(),
            message: e.to_string(),
        })?;
        Ok(Scenario { model, file: None })
    }

    /// Builds a scenario in code.
    pub fn builder() -> ScenarioBuilder {
        ScenarioBuilder::default()
    }

    /// The model's description of the scenario.
    pub fn model(&self) -> &model::scenario::Scenario {
        &self.model
    }

    /// This scenario with the upstream fix `id` applied to the model as well (a commit id of
    /// `writeiter patches`, 7 to 12 hex digits, or `all`). The replay line of a finding
    /// carries the patches, and a scenario file written from it lists them.
    ///
    /// # Panics
    ///
    /// When no patch has the id, naming it and listing the ids there are.
    pub fn with_patch(&self, id: &str) -> Scenario {
        let patches = model::patches::Patches::parse(&[id])
            .unwrap_or_else(|e| panic!("Scenario::with_patch: {e}"));
        let mut model = self.model.clone();
        model.patches = model.patches.union(patches);
        Scenario { model, file: None }
    }

    /// The scenario as a scenario file.
    pub fn to_toml(&self) -> String {
        crate::scenario_file::to_toml(&self.model)
    }

    /// A check of (a copy of) this scenario: by default [`Check::exhaustive`] on the real
    /// model, seed 0.
    pub fn check(&self) -> Check {
        Check::new(self.clone())
    }

    /// A scenario file that `writeiter run` reads: the file it came from, else its TOML
    /// written under [`std::env::temp_dir`], named after a hash of the text.
    pub fn file(&self) -> Result<PathBuf, String> {
        if let Some(file) = &self.file {
            return Ok(file.clone());
        }
        let text = self.to_toml();
        let path = std::env::temp_dir().join(format!("writeiter-scenario-{:016x}.toml", {
            use std::hash::{Hash, Hasher};
            // SipHash with fixed keys: the same text, the same name, in every process.
            let mut hasher = std::hash::DefaultHasher::new();
            text.hash(&mut hasher);
            hasher.finish()
        }));
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            return Ok(path);
        }
        std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}
