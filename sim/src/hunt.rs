//! `writeiter hunt`: runs many cases, each a scenario (a swarm seed, or a given file) under
//! one strategy, until a violation ([`Until::FirstViolation`]), the first violation of a
//! class the corpus does not know ([`Until::FirstNew`]), or the budget ([`Until::Budget`]).
//! Each violation gets its [`Signature`]; violations of one signature are one class. Work is
//! split by case across threads and the result is read off the finished cases in index
//! order up to the lowest case that stops the hunt, so it depends on the seed and never on
//! `--jobs`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use model::exec::{Event, StepError, Task, Trace};
use model::scenario::Scenario;
use model::state::State;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::coverage::Coverage;
use crate::engine::{self, Execution, Pct, Probed, RandomWalk, Stepper};
use crate::guide::{self, Guide, Selection, Weights};
use crate::reduce::{self, Reduction};
use crate::signature::{self, Signature};
use crate::swarm;

/// Schedules one case runs (random and PCT), or its execution budget (DFS).
pub const CASE_SCHEDULES: u64 = 64;
/// Preemption bound of the depth-first search.
pub const DFS_PREEMPTIONS: usize = 2;
/// PCT depth.
pub const PCT_DEPTH: usize = 3;
/// The memory budget of one breadth-first search, in MiB, unless `--max-mb` gives another:
/// the search stops (and says so) once its estimated bytes
/// ([`engine::bfs_estimated_bytes`]) pass it.
pub const BFS_MAX_MB: u64 = 2048;
/// Bytes in a MiB.
pub const MIB: u64 = 1 << 20;
/// How often a worker waiting for a round's weights looks at the stop conditions again.
pub const GUIDE_POLL: Duration = Duration::from_millis(20);

/// Which engine explores the interleavings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Our simulator over the pure model (every strategy).
    Sim,
    /// shuttle: random or PCT scheduling of real checker threads.
    Shuttle,
    /// loom: exhaustive within a preemption bound (at most 3 actors).
    Loom,
}

impl Engine {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sim => "sim",
            Engine::Shuttle => "shuttle",
            Engine::Loom => "loom",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Engine> {
        [Engine::Sim, Engine::Shuttle, Engine::Loom]
            .into_iter()
            .find(|e| e.name() == name)
    }

    /// The strategies this engine runs, the portfolio first.
    pub fn strategies(self) -> &'static [Strategy] {
        match self {
            Engine::Sim => &[
                Strategy::Random,
                Strategy::Pct,
                Strategy::Dfs,
                Strategy::Bfs,
            ],
            Engine::Shuttle => &[Strategy::Random, Strategy::Pct],
            Engine::Loom => &[Strategy::Dfs],
        }
    }
}

/// How a case explores interleavings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Uniform random walk.
    Random,
    /// PCT with depth [`PCT_DEPTH`].
    Pct,
    /// Depth-first, at most [`DFS_PREEMPTIONS`] preemptions.
    Dfs,
    /// Breadth-first over states with a visited set.
    Bfs,
}

impl Strategy {
    /// The default portfolio, one strategy per case in turn.
    pub const PORTFOLIO: [Strategy; 3] = [Strategy::Random, Strategy::Pct, Strategy::Dfs];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Pct => "pct",
            Strategy::Dfs => "dfs",
            Strategy::Bfs => "bfs",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Strategy> {
        [
            Strategy::Random,
            Strategy::Pct,
            Strategy::Dfs,
            Strategy::Bfs,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// What to hunt in.
#[derive(Clone, Debug)]
pub enum Source {
    /// Swarm scenarios from this base seed (case `i` uses seed `base + i`).
    Swarm,
    /// Swarm scenarios whose seeds a [`Selection`] chooses: coverage-guided, or leaving kinds
    /// out ([`crate::guide`]).
    Selected(Selection),
    /// One scenario, every case a different schedule seed.
    File(Scenario),
}

/// A hunt's settings.
#[derive(Clone, Debug)]
pub struct Hunt {
    /// The engine.
    pub engine: Engine,
    /// The base seed.
    pub seed: u64,
    /// A fixed strategy, or the portfolio.
    pub strategy: Option<Strategy>,
    /// Where scenarios come from.
    pub source: Source,
    /// Cases to run at most.
    pub cases: u64,
    /// Wall-clock budget in seconds (stops early; results up to then stay deterministic).
    pub max_seconds: Option<u64>,
    /// Worker threads.
    pub jobs: usize,
    /// How steps apply (`model::exec::step_with`, or a broken copy in a test).
    pub stepper: Stepper,
    /// This hunt runs shard `.0` (from 0) of `.1`: the cases whose number is `.0` modulo `.1`.
    pub shard: (u64, u64),
    /// Upstream fixes applied to every case's model, beside a scenario file's own.
    pub patches: model::patches::Patches,
}

/// What bounds one search beyond its case: the breadth-first search's memory budget, and the
/// depth-first search's execution budget; and the partial-order reduction both run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes a breadth-first search may hold (estimated), [`BFS_MAX_MB`] MiB by default.
    pub bfs_bytes: u64,
    /// Executions of a depth-first search: [`CASE_SCHEDULES`] per case, or the whole
    /// schedule budget for the one search of a scenario file ([`Hunt::single_search`]).
    pub dfs_schedules: u64,
    /// The reduction of the depth-first and breadth-first cases ([`Reduction::None`] by
    /// default); random and PCT cases ignore it.
    pub reduction: Reduction,
    /// Threads expanding a breadth-first search's states: the hunt's jobs for the one search
    /// of a scenario file ([`Hunt::single_search`], its other threads idle), else 1 (the
    /// cases run side by side already). The search is the same on any number.
    pub bfs_jobs: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            bfs_bytes: BFS_MAX_MB * MIB,
            dfs_schedules: CASE_SCHEDULES,
            reduction: Reduction::None,
            bfs_jobs: 1,
        }
    }
}

/// One case: which scenario, which strategy.
#[derive(Clone, Debug)]
pub struct Case {
    /// Case index.
    pub index: u64,
    /// The seed of this case (swarm scenario and schedule seeds derive from it).
    pub seed: u64,
    /// Its strategy.
    pub strategy: Strategy,
    /// Its scenario.
    pub scenario: Scenario,
    /// The derived options, printed with the seed.
    pub options: String,
}

/// What one case did.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case.
    pub case: Case,
    /// Schedules run.
    pub schedules: u64,
    /// Steps taken.
    pub steps: u64,
    /// The violating execution, if any.
    pub found: Option<Execution>,
    /// The violation's signature (`None` without a violation).
    pub signature: Option<Signature>,
    /// Milliseconds from the hunt's start to this case's end (reporting only: it depends on
    /// the machine and the threads, and never decides anything).
    pub finished_ms: u128,
    /// What the case's steps covered (our simulator only), until the hunt merges it.
    pub coverage: Option<Box<Coverage>>,
    /// The breadth-first search stopped at its memory budget, with this many states.
    pub cut: Option<u64>,
}

/// When a hunt stops, besides its budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// At the first violation.
    FirstViolation,
    /// At the first violation whose signature the known classes do not hold.
    FirstNew,
    /// Never: every class is counted until the budget ends.
    Budget,
}

/// Signatures known beforehand (the corpus), each with the number of its entry.
pub type Known = BTreeMap<Signature, u32>;

/// One class of violation a hunt found: its signature, how often, and its first find.
#[derive(Clone, Debug)]
pub struct Class {
    /// The signature.
    pub signature: Signature,
    /// The known entry of that signature, if any.
    pub known: Option<u32>,
    /// Violating cases with this signature.
    pub count: u64,
    /// The first (lowest) case that found it.
    pub first: CaseResult,
    /// Schedules of the counted cases up to and including the first find, in case order.
    pub first_schedules: u64,
}

/// The outcome of a hunt. Its totals and classes count the finished cases up to the lowest
/// case `k` that stopped it ([`Until`]), or all of them: cases other threads started after
/// `k` do not count, so nothing but the milliseconds depends on thread timing (every case
/// below `k` runs, unless the time budget or a stop cuts the hunt short).
#[derive(Clone, Debug)]
pub struct HuntResult {
    /// Cases counted.
    pub cases: u64,
    /// Schedules of the counted cases.
    pub schedules: u64,
    /// Steps of the counted cases.
    pub steps: u64,
    /// The violation of the lowest case, if any.
    pub found: Option<CaseResult>,
    /// The classes found, in the order of their first case.
    pub classes: Vec<Class>,
    /// Milliseconds taken (the one figure that is not deterministic).
    pub elapsed_ms: u128,
    /// The hunt was stopped from outside (Ctrl-C) before its budget.
    pub interrupted: bool,
    /// What the counted cases covered.
    pub coverage: Coverage,
    /// The first counted case whose breadth-first search its memory budget cut: (case,
    /// states visited).
    pub cut: Option<(u64, u64)>,
}

impl Hunt {
    /// Case `index`.
    pub fn case(&self, local: u64) -> Case {
        self.case_weighted(local, None)
    }

    /// Case `index` under the weights of its round (a guided hunt).
    pub fn case_weighted(&self, local: u64, weights: Option<&Weights>) -> Case {
        let index = local * self.shard.1 + self.shard.0;
        let seed = match &self.source {
            Source::Selected(selection) => selection.seed(self.seed, index, weights),
            _ => self.seed.wrapping_add(index),
        };
        let portfolio: &[Strategy] = if self.engine == Engine::Sim {
            &Strategy::PORTFOLIO
        } else {
            self.engine.strategies()
        };
        let strategy = self
            .strategy
            .unwrap_or(portfolio[(index % portfolio.len() as u64) as usize]);
        let (mut scenario, options) = match &self.source {
            Source::Swarm | Source::Selected(_) => {
                let (scenario, options) = swarm::generate(seed);
                (scenario, options.to_string())
            }
            Source::File(scenario) => (scenario.clone(), format!("SEED={seed} scenario file")),
        };
        scenario.patches = scenario.patches.union(self.patches);
        if self.engine == Engine::Loom {
            // loom's thread limit: the first actors only.
            scenario.actors.truncate(crate::threaded::LOOM_ACTORS_MAX);
        }
        Case {
            index,
            seed,
            strategy,
            scenario,
            options,
        }
    }

    /// Runs cases until a violation, the case count or the time budget; `progress` is
    /// called with each finished case (for a progress line).
    pub fn run(&self, progress: &mut dyn FnMut(&CaseResult, u64)) -> HuntResult {
        self.run_until(&AtomicBool::new(false), progress)
    }

    /// [`Hunt::run`], also stopping (between cases) once `stop` is set. `progress` gets each
    /// finished case, in the order they finish, and the schedules finished so far.
    pub fn run_until(
        &self,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&CaseResult, u64),
    ) -> HuntResult {
        self.run_classes(&Known::new(), Until::FirstViolation, stop, progress)
    }

    /// The hunt runs one search, not cases: a scenario file under a fixed depth-first or
    /// breadth-first strategy (every case would repeat the same deterministic search; random
    /// and PCT cases differ by their seeds). That search is shard 1's only case; a DFS gets
    /// the whole schedule budget ([`Limits::dfs_schedules`]).
    pub fn single_search(&self) -> bool {
        let strategy = self.strategy.or(match self.engine.strategies() {
            [only] => Some(*only),
            _ => None,
        });
        matches!(&self.source, Source::File(_))
            && matches!(strategy, Some(Strategy::Dfs | Strategy::Bfs))
    }

    /// Cases this shard runs at most.
    fn case_budget(&self) -> u64 {
        match (self.single_search(), self.shard.0) {
            (false, _) => self.cases,
            (true, 0) => self.cases.min(1),
            (true, _) => 0,
        }
    }

    /// The limits of each case of this hunt under `bfs_bytes` and `reduction`.
    fn limits(&self, bfs_bytes: u64, reduction: Reduction) -> Limits {
        let dfs_schedules = if self.single_search() {
            self.cases
                .saturating_mul(self.shard.1)
                .saturating_mul(CASE_SCHEDULES)
                .max(CASE_SCHEDULES)
        } else {
            CASE_SCHEDULES
        };
        Limits {
            bfs_bytes,
            dfs_schedules,
            reduction,
            bfs_jobs: if self.single_search() {
                self.jobs.max(1)
            } else {
                1
            },
        }
    }

    /// Runs cases until `until` or the budget, counting each violation under its signature
    /// (a class: `known` names the signatures known beforehand); also stops (between cases)
    /// once `stop` is set.
    pub fn run_classes(
        &self,
        known: &Known,
        until: Until,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&CaseResult, u64),
    ) -> HuntResult {
        self.run_budgeted(BFS_MAX_MB * MIB, known, until, stop, progress)
    }

    /// [`Hunt::run_classes`] with each breadth-first search held to `bfs_bytes` (estimated).
    pub fn run_budgeted(
        &self,
        bfs_bytes: u64,
        known: &Known,
        until: Until,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&CaseResult, u64),
    ) -> HuntResult {
        let searches = (bfs_bytes, Reduction::None);
        self.run_reduced(searches, known, until, stop, progress)
    }

    /// [`Hunt::run_budgeted`] with the depth-first and breadth-first cases under `reduction`
    /// (`searches`: the breadth-first search's bytes, the reduction): each runs the search
    /// `writeiter search --reduction` runs ([`reduce::dfs`], [`reduce::bfs`]).
    /// [`Reduction::None`] is the hunt's own unreduced searches, their steps shown to the
    /// coverage probe; a reduced search shows its steps to none, so its case adds nothing to
    /// the coverage (nor, in a guided hunt, to the guide).
    pub fn run_reduced(
        &self,
        (bfs_bytes, reduction): (u64, Reduction),
        known: &Known,
        until: Until,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&CaseResult, u64),
    ) -> HuntResult {
        let limits = self.limits(bfs_bytes, reduction);
        let started = Instant::now();
        let next = AtomicU64::new(0);
        let lowest_stop = AtomicU64::new(u64::MAX);
        let (send, receive) = mpsc::channel::<CaseResult>();
        let mut finished = BTreeMap::new();
        let mut schedules = 0;
        let rule = StopRule { known, until };
        let rounds = Rounds::new();
        let mut merger = Merger::default();
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.max(1) {
                let send = send.clone();
                let (next, lowest, rule, rounds) = (&next, &lowest_stop, &rule, &rounds);
                let shared = Shared {
                    next,
                    lowest,
                    stop,
                    started,
                    rounds,
                };
                scope.spawn(move || self.worker(&shared, rule, limits, &send));
            }
            drop(send);
            for case in receive {
                schedules += case.schedules;
                progress(&case, schedules);
                finished.insert(case.case.index, case);
                merger.merge_ready(self, &mut finished, &rule, &rounds);
            }
        });
        let mut result = HuntResult {
            cases: 0,
            schedules: 0,
            steps: 0,
            found: None,
            classes: Vec::new(),
            elapsed_ms: started.elapsed().as_millis(),
            interrupted: stop.load(Ordering::SeqCst),
            coverage: merger.coverage,
            cut: None,
        };
        // In index order, up to the lowest case that stops the hunt. Every case below it ran
        // (workers stop only past it) unless the time budget or a stop cut the hunt short.
        for (_, mut case) in finished {
            if let Some(coverage) = case.coverage.take() {
                result.coverage.merge(&coverage);
            }
            result.count(case.clone(), known);
            if rule.stops(&case) {
                break;
            }
        }
        result
    }

    /// The local number (within the shard) of case `index`.
    fn local_of(&self, index: u64) -> u64 {
        (index - self.shard.0) / self.shard.1
    }

    /// A guided hunt ([`Source::Selected`] with `guided`); only our simulator collects the
    /// coverage that guides.
    fn guided(&self) -> bool {
        self.engine == Engine::Sim && matches!(&self.source, Source::Selected(s) if s.guided)
    }

    /// Takes cases in order; stops past the lowest case that stops the hunt, the case count
    /// or the time budget.
    fn worker(
        &self,
        shared: &Shared<'_>,
        rule: &StopRule<'_>,
        limits: Limits,
        send: &mpsc::Sender<CaseResult>,
    ) {
        let cases = self.case_budget();
        loop {
            let local = shared.next.fetch_add(1, Ordering::SeqCst);
            let out_of_time = self
                .max_seconds
                .is_some_and(|s| shared.started.elapsed().as_secs() >= s);
            let stopped = out_of_time || shared.stop.load(Ordering::SeqCst);
            if local >= cases || local > shared.lowest.load(Ordering::SeqCst) || stopped {
                return;
            }
            let weights = if self.guided() {
                let quit = || {
                    let out_of_time = self
                        .max_seconds
                        .is_some_and(|s| shared.started.elapsed().as_secs() >= s);
                    out_of_time
                        || shared.stop.load(Ordering::SeqCst)
                        || local > shared.lowest.load(Ordering::SeqCst)
                };
                match shared.rounds.wait(local / guide::ROUND, quit) {
                    Some(weights) => weights,
                    None => return,
                }
            } else {
                Arc::new(None)
            };
            let case = self.case_weighted(local, weights.as_ref().as_ref());
            let mut result = run_case_limited(self.engine, case, self.stepper, limits);
            result.signature = signature_of(&result, self.stepper);
            result.finished_ms = shared.started.elapsed().as_millis();
            if rule.stops(&result) {
                shared.lowest.fetch_min(local, Ordering::SeqCst);
            }
            if send.send(result).is_err() {
                return;
            }
        }
    }
}

/// What the workers of one hunt share.
struct Shared<'a> {
    /// The next case to take.
    next: &'a AtomicU64,
    /// The lowest case that stops the hunt so far.
    lowest: &'a AtomicU64,
    /// Set from outside (Ctrl-C).
    stop: &'a AtomicBool,
    /// The hunt's start.
    started: Instant,
    /// The weights of each round of a guided hunt.
    rounds: &'a Rounds,
}

/// The weights of each round of a guided hunt, published as the hunt merges the cases they
/// come from ([`crate::guide`]); rounds `0..=LAG` have none.
struct Rounds {
    published: Mutex<Vec<Arc<Option<Weights>>>>,
    ready: Condvar,
}

impl Rounds {
    fn new() -> Rounds {
        let unguided = (0..=guide::LAG).map(|_| Arc::new(None)).collect();
        Rounds {
            published: Mutex::new(unguided),
            ready: Condvar::new(),
        }
    }

    /// The weights of `round` once published; `None` when `quit` says so first.
    fn wait(&self, round: u64, quit: impl Fn() -> bool) -> Option<Arc<Option<Weights>>> {
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(weights) = published.get(round as usize) {
                return Some(weights.clone());
            }
            if quit() {
                return None;
            }
            published = self
                .ready
                .wait_timeout(published, GUIDE_POLL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn publish(&self, weights: Weights) {
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        published.push(Arc::new(Some(weights)));
        self.ready.notify_all();
    }
}

/// Merges finished cases in case order as they become contiguous: their coverage, and for
/// a guided hunt what each option value brought, publishing a round's weights when the
/// rounds it depends on are merged. It stops at the first case that stops the hunt.
#[derive(Default)]
struct Merger {
    /// The next local case to merge.
    next: u64,
    /// A merged case stopped the hunt.
    stopped: bool,
    coverage: Coverage,
    guide: Guide,
}

impl Merger {
    fn merge_ready(
        &mut self,
        hunt: &Hunt,
        finished: &mut BTreeMap<u64, CaseResult>,
        rule: &StopRule<'_>,
        rounds: &Rounds,
    ) {
        let guided = hunt.guided();
        while !self.stopped {
            let index = self.next * hunt.shard.1 + hunt.shard.0;
            let Some(case) = finished.get_mut(&index) else {
                return;
            };
            debug_assert_eq!(hunt.local_of(index), self.next);
            let new = case
                .coverage
                .take()
                .map_or(0, |coverage| self.coverage.merge(&coverage));
            if guided {
                self.guide.record(case.case.seed, new);
            }
            self.stopped = rule.stops(case);
            self.next += 1;
            if guided && self.next.is_multiple_of(guide::ROUND) {
                rounds.publish(self.guide.weights());
            }
        }
    }
}

/// Which finished case stops a hunt.
struct StopRule<'a> {
    known: &'a Known,
    until: Until,
}

impl StopRule<'_> {
    fn stops(&self, case: &CaseResult) -> bool {
        match (self.until, &case.signature) {
            (_, None) => case.found.is_some() && self.until != Until::Budget,
            (Until::FirstViolation, Some(_)) => true,
            (Until::FirstNew, Some(s)) => !self.known.contains_key(s),
            (Until::Budget, Some(_)) => false,
        }
    }
}

impl HuntResult {
    /// Adds a finished case (in index order) to the totals and to its class.
    fn count(&mut self, case: CaseResult, known: &Known) {
        self.cases += 1;
        self.schedules += case.schedules;
        self.steps += case.steps;
        if let (None, Some(states)) = (self.cut, case.cut) {
            self.cut = Some((case.case.index, states));
        }
        let Some(signature) = case.signature.clone() else {
            return;
        };
        if let Some(class) = self.classes.iter_mut().find(|c| c.signature == signature) {
            class.count += 1;
            return;
        }
        if self.found.is_none() {
            self.found = Some(case.clone());
        }
        self.classes.push(Class {
            known: known.get(&signature).copied(),
            signature,
            count: 1,
            first: case,
            first_schedules: self.schedules,
        });
    }
}

/// The signature of a case's violation, if it has one.
fn signature_of(result: &CaseResult, stepper: Stepper) -> Option<Signature> {
    let run = result.found.as_ref()?;
    let initial = result.case.scenario.build().ok()?;
    signature::of(&initial, run, stepper)
}

/// Runs one case on `engine` with its strategy.
pub fn run_case_on(engine: Engine, case: Case, stepper: Stepper) -> CaseResult {
    run_case_limited(engine, case, stepper, Limits::default())
}

/// [`run_case_on`] within `limits`.
pub fn run_case_limited(
    engine: Engine,
    case: Case,
    stepper: Stepper,
    limits: Limits,
) -> CaseResult {
    match engine {
        Engine::Sim => run_case_within(case, stepper, limits),
        Engine::Shuttle | Engine::Loom => run_threaded_case(engine, case, stepper),
    }
}

/// The first failure shuttle or loom finds in `case` (deterministic: the case's own seed,
/// strategy and schedule count), with shuttle's own schedule string.
pub fn threaded_failure(
    engine: Engine,
    case: &Case,
    stepper: Stepper,
) -> Option<crate::threaded::ThreadedFailure> {
    let initial = case.scenario.build().expect("cases hold valid scenarios");
    let iterations = CASE_SCHEDULES as usize;
    match (engine, case.strategy) {
        (Engine::Loom, _) => {
            crate::threaded::loom_check(&initial, stepper, None).expect("cases fit loom")
        }
        (_, Strategy::Pct) => {
            crate::threaded::shuttle_pct(&initial, stepper, case.seed, PCT_DEPTH, iterations)
        }
        _ => crate::threaded::shuttle_random(&initial, stepper, case.seed, iterations),
    }
}

/// A case under shuttle or loom. The failure's engine-independent schedule is replayed in
/// our simulator to report it like any other; a schedule that does not reproduce there is
/// reported as it came.
fn run_threaded_case(engine: Engine, case: Case, stepper: Stepper) -> CaseResult {
    let initial = case.scenario.build().expect("cases hold valid scenarios");
    let failure = threaded_failure(engine, &case, stepper);
    // Exact: the execution within the case where the violation came, else the case's
    // schedules (loom's one exhaustive search counts as one).
    let schedules = match (&failure, engine) {
        (Some(f), Engine::Shuttle) => f.execution.clamp(1, CASE_SCHEDULES),
        (_, Engine::Loom) => 1,
        _ => CASE_SCHEDULES,
    };
    let found = failure.map(|f| match engine::replay(&initial, &f.schedule, stepper) {
        Ok(run) if run.violation.is_some() => run,
        _ => panic!(
            "{} reported {} but its schedule does not reproduce it in the simulator:\n{}",
            engine.name(),
            f.oracle,
            f.message
        ),
    });
    let steps = found.as_ref().map_or(0, |f| f.schedule.len() as u64);
    CaseResult {
        case,
        schedules,
        steps,
        found,
        signature: None,
        finished_ms: 0,
        coverage: None,
        cut: None,
    }
}

/// Runs one case with its strategy on our simulator.
pub fn run_case(case: Case, stepper: Stepper) -> CaseResult {
    run_case_within(case, stepper, Limits::default())
}

/// [`run_case`] within `limits`.
pub fn run_case_within(case: Case, stepper: Stepper, limits: Limits) -> CaseResult {
    let initial = case.scenario.build().expect("cases hold valid scenarios");
    let mut coverage = Coverage::new();
    let mut probe = |state: &State, runnable: &[model::exec::Task], task| {
        coverage.see(state, runnable, task);
    };
    let mut cut = None;
    let mut reduced = None;
    let (schedules, steps, found) = match case.strategy {
        Strategy::Random | Strategy::Pct => sample(&initial, &case, stepper, &mut probe),
        Strategy::Dfs => {
            let report = dfs_case(&initial, stepper, limits, (&mut probe, &mut reduced));
            (report.schedules, report.steps, report.found)
        }
        Strategy::Bfs => {
            let report = bfs_case(&initial, stepper, limits, (&mut probe, &mut reduced));
            cut = report.cut.then_some(report.states);
            (report.schedules, report.steps, report.found)
        }
    };
    if let Some(seen) = reduced {
        coverage.merge(&seen);
    }
    CaseResult {
        case,
        schedules,
        steps,
        found,
        signature: None,
        finished_ms: 0,
        coverage: Some(Box::new(coverage)),
        cut,
    }
}

/// Where a case's search shows its steps: the probe of the hunt's own unreduced searches,
/// and the coverage a reduced search's steps reach ([`probing`]).
type Probes<'a, 'b> = (engine::Probe<'a>, &'b mut Option<Coverage>);

/// A case's depth-first search within [`DFS_PREEMPTIONS`] and `limits`: unreduced with every
/// step shown to the probe, or under `limits.reduction` as `writeiter search --strategy dfs`
/// runs it, every step it applies seen through its stepper ([`probing`]).
fn dfs_case(
    initial: &State,
    stepper: Stepper,
    limits: Limits,
    (probe, reduced): Probes<'_, '_>,
) -> engine::SearchReport {
    let bounds = (DFS_PREEMPTIONS, limits.dfs_schedules);
    match limits.reduction {
        Reduction::None => engine::dfs_probed(initial, bounds.0, bounds.1, stepper, "", probe),
        reduction => {
            let (report, seen) = probing(stepper, |probed| {
                reduce::dfs(initial, bounds, probed, ("", &|_| true), reduction)
            });
            *reduced = Some(seen);
            report
        }
    }
}

/// A case's breadth-first search within `limits`' bytes: unreduced with every step shown to
/// the probe, or under `limits.reduction` as `writeiter search --strategy bfs` runs it, every
/// step it applies seen through its stepper ([`probing`]).
fn bfs_case(
    initial: &State,
    stepper: Stepper,
    limits: Limits,
    (probe, reduced): Probes<'_, '_>,
) -> engine::SearchReport {
    let bounds = (u64::MAX, limits.bfs_bytes);
    match limits.reduction {
        Reduction::None => {
            let how = (stepper, limits.bfs_jobs);
            engine::bfs_jobs(initial, bounds, how, ("", &|_| true), Some(probe))
        }
        reduction => {
            let (report, seen) = probing(stepper, |probed| {
                reduce::bfs(initial, bounds, probed, ("", &|_| true), reduction)
            });
            *reduced = Some(seen);
            report
        }
    }
}

thread_local! {
    /// The coverage of the search [`probing`] runs on this thread, and the stepper
    /// [`probed_step`] applies.
    static PROBING: RefCell<Option<(Coverage, Stepper)>> = const { RefCell::new(None) };
}

/// Runs `search` with a stepper that shows each step it applies to a coverage probe before
/// applying it with `stepper`: the reduced searches (`reduce::dfs`, `reduce::bfs`) take a
/// plain `fn` stepper and no probe, and step on the calling thread. Their result is
/// unchanged; the coverage is that of every step they applied (a step of a re-executed
/// prefix counts again, as in the unreduced depth-first search). Returns the search's
/// result and that coverage.
pub fn probing<T>(stepper: Stepper, search: impl FnOnce(Stepper) -> T) -> (T, Coverage) {
    let outer = PROBING.replace(Some((Coverage::new(), stepper)));
    let result = search(probed_step);
    let (coverage, _) = PROBING.replace(outer).expect("set above");
    (result, coverage)
}

/// The stepper of [`probing`]: shows the step to this thread's coverage (with the runnable
/// tasks of `state`, as the hunt's own probe sees them), then applies it.
fn probed_step(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let stepper = PROBING.with_borrow_mut(|probing| {
        let (coverage, stepper) = probing.as_mut().expect("stepping inside probing");
        coverage.see(state, &model::exec::runnable(state), task);
        *stepper
    });
    stepper(state, task, trace)
}

/// Random or PCT schedules, each from a seed drawn from the case's ChaCha8 stream.
fn sample(
    initial: &State,
    case: &Case,
    stepper: Stepper,
    probe: engine::Probe<'_>,
) -> (u64, u64, Option<Execution>) {
    let mut seeds = ChaCha8Rng::seed_from_u64(case.seed);
    let mut steps = 0;
    for schedule in 0..CASE_SCHEDULES {
        let seed: u64 = seeds.random();
        let (mut pct, mut walk);
        let inner: &mut dyn engine::Chooser = match case.strategy {
            Strategy::Pct => {
                pct = Pct::new(seed, PCT_DEPTH);
                &mut pct
            }
            _ => {
                walk = RandomWalk::new(seed);
                &mut walk
            }
        };
        let mut probed = Probed {
            inner,
            probe: &mut *probe,
        };
        let run = engine::execute(initial, &mut probed, stepper, false);
        steps += run.schedule.len() as u64;
        if run.violation.is_some() {
            return (schedule + 1, steps, Some(run));
        }
    }
    (CASE_SCHEDULES, steps, None)
}
