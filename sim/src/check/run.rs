//! A check: which engine and strategy search the scenario's interleavings, with what budget
//! and seed; the assertions on what it found, and the report a failing one panics with.

use std::path::PathBuf;

use model::state::State;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Execution, Scenario};
use crate::engine::{self, Chooser, Pct, RandomWalk, SearchReport, Stepper};
use crate::oracle::{Oracle, Violation};
use crate::threaded::{self, ThreadedFailure};

/// States an exhaustive check ([`Check::exhaustive`]) may visit: the bound of the proof of a
/// corpus `holds` entry.
pub const EXHAUSTIVE_STATES: u64 = crate::corpus::HOLDS_STATES;

/// The environment variable naming the directory a failing [`Check::assert_holds`] writes its
/// shrunk counterexample to, as a corpus file.
pub const CORPUS_DIR_VAR: &str = "WRITEITER_CORPUS_DIR";

/// How a report's replay line runs `writeiter` (from anywhere in the repository).
pub const WRITEITER: &str = "cargo run --release -p sim --bin writeiter --";

/// The engine and strategy that explore the interleavings, each with its budget in counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Our simulator: seeded uniform random walks.
    Random {
        /// Schedules run at most.
        schedules: u64,
    },
    /// Our simulator: PCT.
    Pct {
        /// Schedules run at most.
        schedules: u64,
        /// PCT's depth (priority change points plus one).
        depth: usize,
    },
    /// Our simulator: depth-first search within a preemption bound.
    Dfs {
        /// Preemptions per schedule at most.
        preemptions: usize,
        /// Schedules run at most.
        schedules: u64,
    },
    /// Our simulator: breadth-first search of every reachable state (with a visited set).
    Bfs {
        /// Distinct states visited at most.
        states: u64,
    },
    /// shuttle's random scheduler on real checker threads.
    ShuttleRandom {
        /// Executions at most.
        schedules: u64,
    },
    /// shuttle's PCT scheduler.
    ShuttlePct {
        /// Executions at most.
        schedules: u64,
        /// PCT's depth.
        depth: usize,
    },
    /// loom: every interleaving within a preemption bound (`LOOM_MAX_PREEMPTIONS` wins).
    Loom {
        /// Preemptions at most.
        preemptions: usize,
    },
}

impl Search {
    /// `sim`, `shuttle` or `loom`.
    pub fn engine(self) -> &'static str {
        match self {
            Search::Random { .. }
            | Search::Pct { .. }
            | Search::Dfs { .. }
            | Search::Bfs { .. } => "sim",
            Search::ShuttleRandom { .. } | Search::ShuttlePct { .. } => "shuttle",
            Search::Loom { .. } => "loom",
        }
    }

    /// `random`, `pct`, `dfs` or `bfs` (loom's exhaustive search counts as `dfs`).
    pub fn strategy(self) -> &'static str {
        match self {
            Search::Random { .. } | Search::ShuttleRandom { .. } => "random",
            Search::Pct { .. } | Search::ShuttlePct { .. } => "pct",
            Search::Dfs { .. } | Search::Loom { .. } => "dfs",
            Search::Bfs { .. } => "bfs",
        }
    }

    /// The engine, strategy and budget in words.
    pub fn describe(self) -> String {
        let budget = match self {
            Search::Random { schedules } | Search::ShuttleRandom { schedules } => {
                format!("{schedules} schedules")
            }
            Search::Pct { schedules, depth } | Search::ShuttlePct { schedules, depth } => {
                format!("depth {depth}, {schedules} schedules")
            }
            Search::Dfs {
                preemptions,
                schedules,
            } => format!("{preemptions} preemptions, {schedules} schedules"),
            Search::Bfs { states } => format!("{states} states"),
            Search::Loom { preemptions } => format!("{preemptions} preemptions"),
        };
        format!(
            "engine {}, strategy {} ({budget})",
            self.engine(),
            self.strategy()
        )
    }
}

/// A check of a [`Scenario`]: made by [`Scenario::check`], set up with the builder methods,
/// run by an assertion ([`Check::assert_holds`], [`Check::assert_violates`]) or [`Check::run`].
#[derive(Clone, Debug)]
pub struct Check {
    scenario: Scenario,
    search: Search,
    seed: u64,
    stepper: Stepper,
    /// A stepper other than the real model's was given.
    modified: bool,
    corpus_dir: Option<PathBuf>,
}

/// What a check did and found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Schedules, steps and states explored; whether the search covered everything within its
    /// bound (breadth-first: every reachable state; depth-first and loom: every schedule within
    /// the preemption bound); the first violating execution. shuttle's `schedules` is the
    /// budget given and loom's is 0: neither says how many it ran.
    pub report: SearchReport,
    /// shuttle's own schedule string of the failure, for [`threaded::shuttle_replay`].
    pub shuttle_schedule: Option<String>,
}

impl Outcome {
    /// The violation found, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.report.found.as_ref()?.violation.as_ref()
    }
}

impl Check {
    pub(super) fn new(scenario: Scenario) -> Check {
        Check {
            scenario,
            search: Search::Bfs {
                states: EXHAUSTIVE_STATES,
            },
            seed: 0,
            stepper: model::exec::step_with,
            modified: false,
            corpus_dir: None,
        }
    }

    /// Any search.
    pub fn search(mut self, search: Search) -> Self {
        self.search = search;
        self
    }

    /// Every reachable state, breadth-first, up to [`EXHAUSTIVE_STATES`]: `assert_holds`
    /// fails when the budget runs out first.
    pub fn exhaustive(self) -> Self {
        self.bfs(EXHAUSTIVE_STATES)
    }

    /// Breadth-first over every reachable state up to `states` ([`Search::Bfs`]); exhaustive
    /// like [`Check::exhaustive`], with another budget.
    pub fn bfs(self, states: u64) -> Self {
        self.search(Search::Bfs { states })
    }

    /// `schedules` seeded random walks ([`Search::Random`]).
    pub fn random(self, schedules: u64) -> Self {
        self.search(Search::Random { schedules })
    }

    /// `schedules` PCT runs of `depth` ([`Search::Pct`]).
    pub fn pct(self, schedules: u64, depth: usize) -> Self {
        self.search(Search::Pct { schedules, depth })
    }

    /// Depth-first within `preemptions`, up to `schedules` ([`Search::Dfs`]).
    pub fn dfs(self, preemptions: usize, schedules: u64) -> Self {
        self.search(Search::Dfs {
            preemptions,
            schedules,
        })
    }

    /// shuttle's random scheduler, `schedules` executions ([`Search::ShuttleRandom`]).
    pub fn shuttle(self, schedules: u64) -> Self {
        self.search(Search::ShuttleRandom { schedules })
    }

    /// shuttle's PCT scheduler of `depth`, `schedules` executions ([`Search::ShuttlePct`]).
    pub fn shuttle_pct(self, schedules: u64, depth: usize) -> Self {
        self.search(Search::ShuttlePct { schedules, depth })
    }

    /// loom within `preemptions` ([`Search::Loom`]; at most
    /// [`threaded::LOOM_ACTORS_MAX`] actors).
    pub fn loom(self, preemptions: usize) -> Self {
        self.search(Search::Loom { preemptions })
    }

    /// The seed every random choice derives from (default 0): the random walks' and PCT's
    /// schedule seeds come from one ChaCha8 stream of it; shuttle takes it as its own.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Steps a modified model (a planted bug: a broken copy of `model::exec::step_with` that
    /// passes the `Trace` it is given on). A report's replay line still runs the real model,
    /// and nothing is persisted.
    pub fn stepper(mut self, stepper: Stepper) -> Self {
        self.stepper = stepper;
        self.modified = true;
        self
    }

    /// Where a failing [`Check::assert_holds`] writes its shrunk counterexample, in place of
    /// [`CORPUS_DIR_VAR`].
    pub fn corpus_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.corpus_dir = Some(dir.into());
        self
    }

    /// Runs the search for a violation of any oracle, asserting nothing.
    pub fn run(&self) -> Outcome {
        self.explore(None)
    }

    /// Runs the search; with `wanted`, our simulator's strategies look for that oracle only
    /// (shuttle and loom stop at their first failure, whatever its oracle).
    fn explore(&self, wanted: Option<Oracle>) -> Outcome {
        let initial = self
            .scenario
            .model()
            .build()
            .expect("a checked scenario builds");
        let (stepper, oracle) = (self.stepper, wanted.map_or("", Oracle::name));
        let report = match self.search {
            Search::Random { schedules } => self.sample(&initial, schedules, wanted, &|seed| {
                Box::new(RandomWalk::new(seed))
            }),
            Search::Pct { schedules, depth } => self.sample(&initial, schedules, wanted, &|seed| {
                Box::new(Pct::new(seed, depth))
            }),
            Search::Dfs {
                preemptions,
                schedules,
            } => engine::dfs_for(&initial, preemptions, schedules, stepper, oracle),
            Search::Bfs { states } => engine::bfs_for(&initial, states, stepper, oracle),
            Search::ShuttleRandom { schedules } => {
                let n = usize::try_from(schedules).unwrap_or(usize::MAX);
                let failure = threaded::shuttle_random(&initial, stepper, self.seed, n);
                return self.threaded(&initial, failure);
            }
            Search::ShuttlePct { schedules, depth } => {
                let n = usize::try_from(schedules).unwrap_or(usize::MAX);
                let failure = threaded::shuttle_pct(&initial, stepper, self.seed, depth, n);
                return self.threaded(&initial, failure);
            }
            Search::Loom { preemptions } => {
                let failure = threaded::loom_check(&initial, stepper, Some(preemptions))
                    .unwrap_or_else(|e| panic!("{e}"));
                return self.threaded(&initial, failure);
            }
        };
        Outcome {
            report,
            shuttle_schedule: None,
        }
    }

    /// `schedules` executions under the choosers `make` gives for seeds drawn from the
    /// check's ChaCha8 stream, up to the first violation (of `wanted`, when given).
    fn sample(
        &self,
        initial: &State,
        schedules: u64,
        wanted: Option<Oracle>,
        make: &dyn Fn(u64) -> Box<dyn Chooser>,
    ) -> SearchReport {
        let mut seeds = ChaCha8Rng::seed_from_u64(self.seed);
        let mut report = SearchReport::default();
        for _ in 0..schedules {
            let run = engine::execute(initial, &mut *make(seeds.random()), self.stepper, false);
            report.schedules += 1;
            report.steps += run.schedule.len() as u64;
            let hit = run.violation.as_ref();
            if hit.is_some_and(|v| wanted.is_none_or(|o| v.oracle == o)) {
                report.found = Some(run);
                break;
            }
        }
        report
    }

    /// A shuttle or loom failure, replayed in our simulator to report it like any other.
    fn threaded(&self, initial: &State, failure: Option<ThreadedFailure>) -> Outcome {
        let schedules = match self.search {
            Search::ShuttleRandom { schedules } | Search::ShuttlePct { schedules, .. } => schedules,
            _ => 0,
        };
        let mut report = SearchReport {
            schedules,
            exhausted: failure.is_none() && self.search.engine() == "loom",
            ..SearchReport::default()
        };
        let shuttle_schedule = failure.as_ref().and_then(|f| f.shuttle_schedule.clone());
        if let Some(failure) = failure {
            let run = engine::replay(initial, &failure.schedule, self.stepper)
                .ok()
                .filter(|run| run.violation.is_some())
                .unwrap_or_else(|| {
                    panic!(
                        "{} reported {} but its schedule does not reproduce it in the simulator:\n{}",
                        self.search.engine(),
                        failure.oracle,
                        failure.message
                    )
                });
            report.steps = run.schedule.len() as u64;
            report.found = Some(run);
        }
        Outcome {
            report,
            shuttle_schedule,
        }
    }

    /// Panics when the search finds a violation of any oracle, with the report `writeiter
    /// hunt` prints (and, with [`CORPUS_DIR_VAR`] or [`Check::corpus_dir`], the path of the
    /// shrunk counterexample written there); for an exhaustive check also when it stopped at
    /// its budget before exploring every reachable state.
    #[track_caller]
    pub fn assert_holds(&self) -> Outcome {
        let outcome = self.run();
        if let Some(found) = &outcome.report.found {
            let traced = self.traced(found);
            let persisted = self.persist(&traced);
            let mut text = self.finding("assert_holds: a violation", &outcome, &traced);
            if let Some(line) = persisted {
                text += &format!("\n{line}");
            }
            panic!("{text}");
        }
        if let Search::Bfs { states } = self.search
            && !outcome.report.exhausted
        {
            panic!(
                "{}",
                self.nothing(
                    &format!(
                        "assert_holds: no violation, but the exhaustive check stopped at its \
                         budget of {states} states before exploring every reachable state \
                         (raise it with Check::bfs)"
                    ),
                    &outcome
                )
            );
        }
        outcome
    }

    /// Panics unless the search finds a violation of the oracle named `oracle` (an unknown
    /// name panics, listing the oracles); returns the violating execution with its trace.
    #[track_caller]
    pub fn assert_violates(&self, oracle: &str) -> Execution {
        let Some(wanted) = Oracle::from_name(oracle) else {
            let names: Vec<&str> = Oracle::ALL.iter().map(|o| o.name()).collect();
            panic!(
                "assert_violates: `{oracle}` is not an oracle; the oracles are {}",
                names.join(", ")
            );
        };
        let outcome = self.explore(Some(wanted));
        let Some(found) = &outcome.report.found else {
            let headline = format!("assert_violates: no violation of {oracle} found");
            panic!("{}", self.nothing(&headline, &outcome));
        };
        let traced = self.traced(found);
        let seen = traced
            .violation
            .as_ref()
            .expect("a found execution violates");
        if seen.oracle != wanted {
            let headline = format!(
                "assert_violates: {} stopped at a violation of {} before any of {oracle}",
                self.search.engine(),
                seen.oracle
            );
            panic!("{}", self.finding(&headline, &outcome, &traced));
        }
        traced
    }

    /// Asserts that the check finds a violation of the class `signature`: its rendering
    /// (`durability@aio_complete | aio-dio+dsync`, as `writeiter hunt` prints it; the search
    /// looks for its oracle) or its 16-hex id (the search takes the first violation of any
    /// oracle). Panics with the finding's report, its class included, otherwise; returns the
    /// execution.
    pub fn assert_class(&self, signature: &str) -> Execution {
        let wanted = signature.split_once('@').map(|(name, _)| {
            Oracle::from_name(name)
                .unwrap_or_else(|| panic!("assert_class: `{name}` is not an oracle"))
        });
        let outcome = self.explore(wanted);
        let Some(found) = &outcome.report.found else {
            let headline = format!("assert_class: no violation of class {signature} found");
            panic!("{}", self.nothing(&headline, &outcome));
        };
        let traced = self.traced(found);
        let initial = self
            .scenario
            .model()
            .build()
            .expect("a checked scenario builds");
        let got = crate::signature::of(&initial, &traced, self.stepper);
        if got
            .as_ref()
            .is_some_and(|g| g.to_string() == signature || g.id() == signature)
        {
            return traced;
        }
        let class = got.map_or("none".to_string(), |g| format!("{} {g}", g.id()));
        let headline = format!("assert_class: found class {class}, not {signature}");
        panic!("{}", self.finding(&headline, &outcome, &traced));
    }

    /// `found` replayed with its trace; the replay must show the same violation.
    fn traced(&self, found: &Execution) -> Execution {
        let initial = self
            .scenario
            .model()
            .build()
            .expect("a checked scenario builds");
        let traced = engine::replay(&initial, &found.schedule, self.stepper)
            .unwrap_or_else(|(i, e)| panic!("a found schedule replays, but step {i}: {e}"));
        assert_eq!(
            traced.violation, found.violation,
            "a found schedule replays to the same violation"
        );
        traced
    }

    /// The engine, seed and counts of a search in one line.
    fn searched(&self, outcome: &Outcome) -> String {
        let r = &outcome.report;
        let counts = match self.search {
            Search::Bfs { .. } => format!(": {} states, {} steps", r.states, r.steps),
            // loom does not say how many executions it ran.
            Search::Loom { .. } => String::new(),
            _ => format!(": {} schedules, {} steps", r.schedules, r.steps),
        };
        let exhausted = if r.exhausted {
            ", everything within the bound explored"
        } else {
            ""
        };
        format!(
            "{}, seed {}{counts}{exhausted}",
            self.search.describe(),
            self.seed
        )
    }

    /// `writeiter run FILE` and the rest of the command line, or why there is no file.
    fn run_line(&self, rest: &str) -> String {
        let line = match self.scenario.file() {
            Ok(file) => format!("{WRITEITER} run {}{rest}", file.display()),
            Err(e) => format!("(the scenario file could not be written: {e})"),
        };
        if self.modified {
            return format!(
                "{line}\n(this check stepped a modified model; the line runs the real one)"
            );
        }
        line
    }

    /// The report of a violation, as `writeiter hunt` prints a finding.
    fn finding(&self, headline: &str, outcome: &Outcome, traced: &Execution) -> String {
        let violation = traced.violation.as_ref().expect("a violation");
        let schedule = crate::corpus::schedule_text(traced);
        let steps = traced.trace.len();
        let tail = steps.saturating_sub(crate::report::TRACE_TAIL);
        let mut text = format!(
            "{headline}\n{}\nreplay: {}\nVIOLATION {violation}\ntrace (last {} of {steps} steps):\n{}",
            self.searched(outcome),
            self.run_line(&format!(" --schedule \"{schedule}\" --exact")),
            steps - tail,
            crate::report::trace_from(&traced.trace[tail..], tail)
        );
        if let Some(shuttle) = &outcome.shuttle_schedule {
            text += &format!("shuttle schedule: {shuttle}\n");
        }
        text.trim_end().to_string()
    }

    /// The report of a search that found nothing (to assert on).
    fn nothing(&self, headline: &str, outcome: &Outcome) -> String {
        format!(
            "{headline}\n{}\nscenario: {}",
            self.searched(outcome),
            self.run_line("")
        )
    }

    /// With a corpus directory, shrinks the counterexample and writes it there; the line to
    /// print.
    fn persist(&self, found: &Execution) -> Option<String> {
        let dir = (self.corpus_dir.clone())
            .or_else(|| std::env::var_os(CORPUS_DIR_VAR).map(PathBuf::from))?;
        // Printed whole: a relative path is taken from the test's (the package's) directory.
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        if self.modified {
            return Some(format!(
                "counterexample not written to {}: the check stepped a modified model, which a \
                 corpus entry cannot replay",
                dir.display()
            ));
        }
        let found = crate::corpus::Found {
            scenario: self.scenario.model(),
            execution: found,
            engine: self.search.engine(),
            strategy: self.search.strategy(),
            seed: self.seed,
            postmortem: format!(
                "Found by a `cargo test` check (sim::check, {}), not yet explained.",
                self.search.describe()
            ),
        };
        Some(match found.shrink_and_write(&dir) {
            Ok((path, sizes)) => format!("counterexample: {} (shrunk: {sizes})", path.display()),
            Err(e) => format!("counterexample not written: {e}"),
        })
    }
}
