//! Our own simulator over the pure model: one execution under a [`Chooser`], and the
//! strategies that pick the next task: a seeded random walk, PCT, depth-first search bounded
//! by preemptions, and a breadth-first search over states with a visited set. Every random
//! choice comes from one ChaCha8 stream per seed; nothing else (no clock, no hash order)
//! changes a result.

use std::collections::VecDeque;

use model::drive::{End, ending};
use model::exec::{self, Event, StepError, Task, Trace};
use model::limits::STEPS_MAX;
use model::state::State;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::fingerprint::{fingerprint, visited_with};
use crate::oracle::{Checking, Observer, Oracle, Violation};

/// How one step is applied: `model::exec::step_with`, or a deliberately broken copy in a
/// test, which passes the [`Trace`] it is given on to `step_with`. [`execute`] without a
/// trace and the searches step under [`Trace::Off`], where an event's name and notes are
/// empty: a broken copy tells steps apart by `event.pc` (or `event.pc.name()`), not by
/// `event.step`.
pub type Stepper = fn(&mut State, Task, Trace) -> Result<Event, StepError>;

/// Applies `task`'s step with `stepper`, writing its name and notes under [`Trace::On`]
/// only. A panic inside the model (one of its internal assertions: a state the model itself
/// says cannot happen) is a finding like any other, the `model-assertion` violation, with
/// the schedule that led to it; the panic prints nothing.
pub fn apply(
    stepper: Stepper,
    state: &mut State,
    task: Task,
    trace: Trace,
) -> Result<Result<Event, StepError>, Violation> {
    let mut stepped = None;
    crate::sync::catch_quietly(|| stepped = Some(stepper(state, task, trace)))
        .map_err(|text| model_assertion(task, &text))?;
    Ok(stepped.expect("the step ran"))
}

/// The `model-assertion` violation of `task`'s step, which panicked with `text`.
fn model_assertion(task: Task, text: &str) -> Violation {
    Violation {
        oracle: Oracle::ModelAssertion,
        message: format!("{task}'s step panicked: {text}"),
        actors: match task {
            Task::Actor(a) => vec![a],
            _ => Vec::new(),
        },
    }
}

/// Picks the next task among the runnable ones (never empty).
pub trait Chooser {
    /// The task to run next.
    fn choose(&mut self, state: &State, runnable: &[Task]) -> Task;
}

/// One finished execution.
#[derive(Clone, Debug)]
pub struct Execution {
    /// The engine-independent schedule: the tasks that took steps, in order.
    pub schedule: Vec<Task>,
    /// The steps, when kept.
    pub trace: Vec<Event>,
    /// How it ended.
    pub end: End,
    /// The first oracle that broke.
    pub violation: Option<Violation>,
    /// The final state.
    pub state: State,
}

/// Runs `initial` to the end under `chooser`, checking every oracle. Without `keep_trace`
/// the steps run under [`Trace::Off`] (no notes or step names are formatted); the
/// schedule, verdict and final state are the same either way.
pub fn execute(
    initial: &State,
    chooser: &mut dyn Chooser,
    stepper: Stepper,
    keep_trace: bool,
) -> Execution {
    execute_checking(initial, chooser, stepper, keep_trace, Checking::default())
}

/// [`execute`] with an observer that checks as `checking` says ([`Checking::Every`]: every
/// check after every step, the slow twin of the default).
pub fn execute_checking(
    initial: &State,
    chooser: &mut dyn Chooser,
    stepper: Stepper,
    keep_trace: bool,
    checking: Checking,
) -> Execution {
    let mut walk = Walk {
        state: initial.clone(),
        schedule: Vec::with_capacity(SCHEDULE_CAPACITY),
        trace: Vec::new(),
        stepping: None,
    };
    let mut observer = Observer::checking(initial, checking);
    let mut ended = None;
    // One catch around the whole walk instead of one per step ([`apply`]): a panic inside a
    // step is the `model-assertion` finding of the step `stepping` names; any other panic
    // (a chooser's, an oracle's) is not the model's and goes on.
    let caught = crate::sync::catch_quietly(|| {
        ended = Some(walk.run(chooser, stepper, &mut observer, keep_trace));
    });
    let (end, violation) = match (caught, walk.stepping) {
        (Ok(()), _) => ended.expect("the walk ran"),
        (Err(text), Some(task)) => (ending(&walk.state), Some(model_assertion(task, &text))),
        (Err(text), None) => panic!("{text}"),
    };
    Execution {
        schedule: walk.schedule,
        trace: walk.trace,
        end,
        violation,
        state: walk.state,
    }
}

/// One execution under way ([`execute_checking`]).
struct Walk {
    state: State,
    schedule: Vec<Task>,
    trace: Vec<Event>,
    /// The task whose step is running, while it runs.
    stepping: Option<Task>,
}

impl Walk {
    /// Steps to the end (no runnable task, or [`STEPS_MAX`] steps) or the first violation;
    /// how it ended. A step's panic unwinds out of here with `stepping` set.
    fn run(
        &mut self,
        chooser: &mut dyn Chooser,
        stepper: Stepper,
        observer: &mut Observer,
        keep_trace: bool,
    ) -> (End, Option<Violation>) {
        let traced = if keep_trace { Trace::On } else { Trace::Off };
        let mut runnable = Vec::new();
        loop {
            exec::runnable_into(&self.state, &mut runnable);
            if runnable.is_empty() || self.schedule.len() >= STEPS_MAX {
                let end = if runnable.is_empty() {
                    ending(&self.state)
                } else {
                    End::StepLimit
                };
                let violation = observer.at_end(&self.state, &end).err();
                return (end, violation);
            }
            let task = chooser.choose(&self.state, &runnable);
            self.schedule.push(task);
            self.stepping = Some(task);
            let event = step_chosen(stepper, &mut self.state, task, traced);
            self.stepping = None;
            let event = event.expect("a chooser picks a runnable task");
            let checked = observer.after_step(&self.state, &event);
            if keep_trace {
                self.trace.push(event);
            }
            if let Err(violation) = checked {
                return (ending(&self.state), Some(violation));
            }
        }
    }
}

/// `stepper`'s step of `task`, which the chooser took from the runnable list of this state:
/// the model's own step ([`exec::step_with`]) skips asking again what the task waits for
/// ([`exec::step_listed`]); any other stepper (a test's broken copy) runs as given. The
/// same event either way (`sim/tests/walk_catch.rs` runs both).
fn step_chosen(
    stepper: Stepper,
    state: &mut State,
    task: Task,
    trace: Trace,
) -> Result<Event, StepError> {
    if std::ptr::fn_addr_eq(stepper, exec::step_with as Stepper) {
        Ok(exec::step_listed(state, task, trace))
    } else {
        stepper(state, task, trace)
    }
}

/// Replays an engine-independent schedule exactly, under [`Trace::On`], then stops: the
/// schedule of a violation reproduces it. A step the model refuses is an error.
pub fn replay(
    initial: &State,
    schedule: &[Task],
    stepper: Stepper,
) -> Result<Execution, (usize, StepError)> {
    let mut state = initial.clone();
    let mut observer = Observer::new(initial);
    let mut trace = Vec::new();
    for (index, &task) in schedule.iter().enumerate() {
        let checked = match apply(stepper, &mut state, task, Trace::On) {
            Ok(event) => {
                let event = event.map_err(|e| (index, e))?;
                let checked = observer.after_step(&state, &event);
                trace.push(event);
                checked
            }
            Err(violation) => Err(violation),
        };
        if let Err(violation) = checked {
            let schedule = schedule[..=index].to_vec();
            return Ok(Execution {
                schedule,
                trace,
                end: ending(&state),
                violation: Some(violation),
                state,
            });
        }
    }
    let end = ending(&state);
    let violation = observer.at_end(&state, &end).err();
    Ok(Execution {
        schedule: schedule.to_vec(),
        trace,
        end,
        violation,
        state,
    })
}

/// Follows a given schedule, then takes the first runnable task each time (the default
/// schedule of `writeiter run`).
#[derive(Debug)]
pub struct ScheduleThenFirst {
    schedule: Vec<Task>,
    next: usize,
}

impl ScheduleThenFirst {
    /// `schedule` first (it must apply: check it with [`replay`]).
    pub fn new(schedule: Vec<Task>) -> ScheduleThenFirst {
        ScheduleThenFirst { schedule, next: 0 }
    }
}

impl Chooser for ScheduleThenFirst {
    fn choose(&mut self, _state: &State, runnable: &[Task]) -> Task {
        let task = self.schedule.get(self.next).copied().unwrap_or(runnable[0]);
        self.next += 1;
        assert!(
            runnable.contains(&task),
            "the schedule was checked by replay"
        );
        task
    }
}

/// Uniform choice among the runnable tasks from a seeded ChaCha8 stream.
#[derive(Debug)]
pub struct RandomWalk {
    rng: ChaCha8Rng,
}

impl RandomWalk {
    /// A walk from `seed`.
    pub fn new(seed: u64) -> RandomWalk {
        RandomWalk {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Chooser for RandomWalk {
    fn choose(&mut self, _state: &State, runnable: &[Task]) -> Task {
        runnable[self.rng.random_range(0..runnable.len())]
    }
}

/// PCT (Burckhardt et al.): random priorities per task, the highest runnable one runs; at
/// `depth - 1` random steps the running task drops below every other.
#[derive(Debug)]
pub struct Pct {
    rng: ChaCha8Rng,
    priorities: Vec<(Task, u64)>,
    change_points: Vec<usize>,
    steps: usize,
}

/// The schedule length PCT draws its change points from.
pub const PCT_STEPS_ESTIMATE: usize = 120;

/// Tasks an execution's schedule has room for before it grows: one allocation for most
/// executions (the canonical scenario's take about 54 steps) instead of one per doubling.
pub const SCHEDULE_CAPACITY: usize = 128;

impl Pct {
    /// PCT of `depth` from `seed`.
    pub fn new(seed: u64, depth: usize) -> Pct {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let change_points = (1..depth)
            .map(|_| rng.random_range(0..PCT_STEPS_ESTIMATE))
            .collect();
        Pct {
            rng,
            priorities: Vec::new(),
            change_points,
            steps: 0,
        }
    }

    fn priority(&mut self, task: Task) -> u64 {
        if let Some(&(_, p)) = self.priorities.iter().find(|(t, _)| *t == task) {
            return p;
        }
        let p = self.rng.random_range(1_000..u64::MAX);
        self.priorities.push((task, p));
        p
    }
}

impl Chooser for Pct {
    fn choose(&mut self, _state: &State, runnable: &[Task]) -> Task {
        let mut best = runnable[0];
        let mut best_priority = self.priority(best);
        for &task in &runnable[1..] {
            let p = self.priority(task);
            if p > best_priority {
                (best, best_priority) = (task, p);
            }
        }
        if let Some(k) = self.change_points.iter().position(|&c| c == self.steps) {
            let entry = self
                .priorities
                .iter_mut()
                .find(|(t, _)| *t == best)
                .expect("known");
            entry.1 = k as u64;
        }
        self.steps += 1;
        best
    }
}

/// Follows a fixed prefix of choices (indexes into the runnable list), then keeps running the
/// task that ran last while it can, else the first runnable one (no further preemption):
/// the leaf policy of [`dfs`]. Records every choice point.
#[derive(Debug)]
struct Prefix {
    choices: Vec<usize>,
    /// Per step: the runnable tasks and the index chosen.
    taken: Vec<(Vec<Task>, usize)>,
}

impl Chooser for Prefix {
    fn choose(&mut self, _state: &State, runnable: &[Task]) -> Task {
        let depth = self.taken.len();
        let last = self.taken.last().map(|(tasks, i)| tasks[*i]);
        let index = match self.choices.get(depth) {
            Some(&i) => i,
            None => last
                .and_then(|l| runnable.iter().position(|&t| t == l))
                .unwrap_or(0),
        };
        self.taken.push((runnable.to_vec(), index));
        runnable[index]
    }
}

/// Choosing `runnable[index]` at `depth` preempts: the previous task could have gone on.
fn is_preemption(taken: &[(Vec<Task>, usize)], depth: usize, index: usize) -> bool {
    let Some((tasks, chosen)) = depth.checked_sub(1).map(|d| &taken[d]) else {
        return false;
    };
    let previous = tasks[*chosen];
    let runnable = &taken[depth].0;
    runnable[index] != previous && runnable.contains(&previous)
}

/// What a search did: executions, steps, distinct states, the first violation found.
#[derive(Clone, Debug, Default)]
pub struct SearchReport {
    /// Complete executions (schedules) run.
    pub schedules: u64,
    /// Steps applied.
    pub steps: u64,
    /// Distinct states seen (breadth-first search only).
    pub states: u64,
    /// The search covered everything within its bound.
    pub exhausted: bool,
    /// The first violating execution.
    pub found: Option<Execution>,
    /// The breadth-first search stopped at its memory budget ([`bfs_budgeted`]) with
    /// [`SearchReport::states`] states visited.
    pub cut: bool,
    /// The breadth-first search's peak estimated bytes ([`crate::frontier::estimated_bytes`];
    /// [`bfs_estimated_bytes`] for the clone-based twin and the reduced search).
    pub peak_bytes: u64,
    /// The compact breadth-first search's queue, over every state it queued: how many, the
    /// bytes of their encodings, and of their records as queued (compressed, with lengths).
    pub queued: (u64, u64, u64),
    /// Steps applied only to check that two tasks commute (reduced searches,
    /// [`crate::reduce`]), beside [`SearchReport::steps`].
    pub checks: u64,
}

/// Depth-first search over schedules with at most `bound` preemptions, up to `budget`
/// executions. Each execution re-runs from the start along a prefix of choices and then
/// goes on without preempting.
pub fn dfs(initial: &State, bound: usize, budget: u64, stepper: Stepper) -> SearchReport {
    dfs_for(initial, bound, budget, stepper, "")
}

/// [`dfs`] for a violation of the oracle named `oracle` only (`""`: any); an execution that
/// breaks another oracle counts and the search goes on.
pub fn dfs_for(
    initial: &State,
    bound: usize,
    budget: u64,
    stepper: Stepper,
    oracle: &str,
) -> SearchReport {
    dfs_where(initial, (bound, budget), stepper, oracle, &|_| true)
}

/// [`dfs_for`], where a violation of `oracle` counts only when `accept` takes its execution;
/// the search goes on past one it refuses.
pub fn dfs_where(
    initial: &State,
    (bound, budget): (usize, u64),
    stepper: Stepper,
    oracle: &str,
    accept: &dyn Fn(&Execution) -> bool,
) -> SearchReport {
    dfs_search(
        initial,
        (bound, budget),
        stepper,
        (oracle, accept),
        &mut |_, _, _| {},
    )
}

/// Sees each step before it runs: the state, its runnable tasks and the task chosen (for
/// coverage, [`crate::coverage`]). It cannot change what a search does.
pub type Probe<'a> = &'a mut dyn FnMut(&State, &[Task], Task);

/// A chooser that shows each of its choices to a [`Probe`].
pub struct Probed<'a> {
    /// The chooser.
    pub inner: &'a mut dyn Chooser,
    /// The probe.
    pub probe: Probe<'a>,
}

impl Chooser for Probed<'_> {
    fn choose(&mut self, state: &State, runnable: &[Task]) -> Task {
        let task = self.inner.choose(state, runnable);
        (self.probe)(state, runnable, task);
        task
    }
}

/// [`dfs_for`], showing every step of every execution to `probe`.
pub fn dfs_probed(
    initial: &State,
    bound: usize,
    budget: u64,
    stepper: Stepper,
    oracle: &str,
    probe: Probe<'_>,
) -> SearchReport {
    dfs_search(
        initial,
        (bound, budget),
        stepper,
        (oracle, &|_| true),
        probe,
    )
}

/// The depth-first search of [`dfs_where`] and [`dfs_probed`].
pub(crate) fn dfs_search(
    initial: &State,
    (bound, budget): (usize, u64),
    stepper: Stepper,
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
    probe: Probe<'_>,
) -> SearchReport {
    let mut report = SearchReport::default();
    let mut stack: Vec<Vec<usize>> = vec![Vec::new()];
    while let Some(prefix) = stack.pop() {
        if report.schedules >= budget {
            return report;
        }
        let mut chooser = Prefix {
            choices: prefix.clone(),
            taken: Vec::new(),
        };
        let mut probed = Probed {
            inner: &mut chooser,
            probe: &mut *probe,
        };
        let run = execute(initial, &mut probed, stepper, false);
        report.schedules += 1;
        report.steps += run.schedule.len() as u64;
        if run
            .violation
            .as_ref()
            .is_some_and(|v| oracle.is_empty() || v.oracle.name() == oracle)
            && accept(&run)
        {
            report.found = Some(run);
            return report;
        }
        push_alternatives(&chooser.taken, prefix.len(), bound, &mut stack);
    }
    report.exhausted = true;
    report
}

/// For every choice point past the prefix, the other runnable tasks whose new prefix stays
/// within `bound` preemptions; deepest last so they are explored first.
fn push_alternatives(
    taken: &[(Vec<Task>, usize)],
    from: usize,
    bound: usize,
    stack: &mut Vec<Vec<usize>>,
) {
    let mut used = vec![0usize; taken.len() + 1];
    for depth in 0..taken.len() {
        used[depth + 1] = used[depth] + usize::from(is_preemption(taken, depth, taken[depth].1));
    }
    for depth in from..taken.len() {
        let (tasks, chosen) = &taken[depth];
        for alternative in (0..tasks.len()).filter(|i| i != chosen) {
            if used[depth] + usize::from(is_preemption(taken, depth, alternative)) <= bound {
                let mut prefix: Vec<usize> = taken[..depth].iter().map(|t| t.1).collect();
                prefix.push(alternative);
                stack.push(prefix);
            }
        }
    }
}

/// Breadth-first search over states with a visited set of fingerprints (state plus the
/// oracles' history summary), up to `max_states`: a shortest counterexample, or every
/// reachable state explored.
pub fn bfs(initial: &State, max_states: u64, stepper: Stepper) -> SearchReport {
    bfs_for(initial, max_states, stepper, "")
}

/// [`bfs`] for a violation of the oracle named `oracle` only (`""`: any); a path that
/// breaks another oracle ends there.
pub fn bfs_for(initial: &State, max_states: u64, stepper: Stepper, oracle: &str) -> SearchReport {
    bfs_where(initial, max_states, stepper, oracle, &|_| true)
}

/// [`bfs_for`], where a violation of `oracle` counts only when `accept` takes its execution
/// (rebuilt with its trace, e.g. to ask for its class); a path it refuses ends there.
pub fn bfs_where(
    initial: &State,
    max_states: u64,
    stepper: Stepper,
    oracle: &str,
    accept: &dyn Fn(&Execution) -> bool,
) -> SearchReport {
    let limits = (max_states, u64::MAX);
    bfs_jobs(initial, limits, (stepper, 1), (oracle, accept), None)
}

/// [`bfs_for`], showing every step it applies (each runnable task of each state it expands)
/// to `probe`.
pub fn bfs_probed(
    initial: &State,
    max_states: u64,
    stepper: Stepper,
    oracle: &str,
    probe: Probe<'_>,
) -> SearchReport {
    bfs_search(
        initial,
        (max_states, u64::MAX),
        stepper,
        (oracle, &|_| true),
        probe,
    )
}

/// Bytes one visited fingerprint is estimated to take in the visited set (the `u64`, the
/// hash table's control byte and its spare capacity).
pub const BFS_VISITED_ENTRY_BYTES: u64 = 16;
/// Heap bytes a queued state and its oracles' history are estimated to hold beyond their
/// inline size (vectors of inodes, pages, bios, the history). Measured, not derived: 200,000
/// clones of a state (with its observer) halfway through a random walk of
/// `examples/canonical.toml` raised the resident set by 4,936 bytes each, of which 760 are
/// the inline size. A scenario with more pages, I/O in flight or history holds more; the
/// figure changes with the state's layout and must be measured again when that changes.
pub const BFS_QUEUED_HEAP_BYTES: u64 = 4_200;

/// The bytes a clone-based breadth-first search holds ([`bfs_search_cloned`] and the reduced
/// search, [`crate::reduce`]; the compact one counts its own, [`crate::frontier::estimated_bytes`]),
/// estimated from counts and type sizes only (never read off the process, so the cut is the
/// same on every machine): the visited fingerprints, the path nodes, and the queued states
/// with their oracles' history.
pub fn bfs_estimated_bytes(visited: u64, nodes: u64, queued: u64) -> u64 {
    let node = std::mem::size_of::<(Option<usize>, Task)>() as u64;
    let queued_each = (std::mem::size_of::<(State, Observer, Option<usize>)>() as u64)
        .saturating_add(BFS_QUEUED_HEAP_BYTES);
    visited
        .saturating_mul(BFS_VISITED_ENTRY_BYTES)
        .saturating_add(nodes.saturating_mul(node))
        .saturating_add(queued.saturating_mul(queued_each))
}

/// [`bfs_probed`] within a memory budget: the search stops (and reports
/// [`SearchReport::cut`]) once its estimated bytes ([`bfs_estimated_bytes`]) pass
/// `max_bytes`. `accept` as in [`bfs_where`]: a path it refuses ends there and the search
/// goes on (refusing all measures the whole state space).
pub fn bfs_budgeted(
    initial: &State,
    (max_states, max_bytes): (u64, u64),
    stepper: Stepper,
    accept: &dyn Fn(&Execution) -> bool,
    probe: Probe<'_>,
) -> SearchReport {
    bfs_search(
        initial,
        (max_states, max_bytes),
        stepper,
        ("", accept),
        probe,
    )
}

/// The breadth-first search of [`bfs_where`], [`bfs_probed`] and [`bfs_budgeted`], over
/// compact stores ([`crate::frontier`]): queued states encoded, one parent link per visited
/// state. [`bfs_search_cloned`] is its slow twin; both give the same report but for
/// [`SearchReport::peak_bytes`] (and so where a memory budget cuts).
pub(crate) fn bfs_search(
    initial: &State,
    limits: (u64, u64),
    stepper: Stepper,
    wanted: (&str, &dyn Fn(&Execution) -> bool),
    probe: Probe<'_>,
) -> SearchReport {
    crate::frontier::bfs(initial, limits, (stepper, 1), wanted, Some(probe))
}

/// The breadth-first search of [`bfs_budgeted`] (a memory budget, `wanted` as in
/// [`bfs_where`]) with its queued states expanded on `jobs` threads, steps shown to `probe`
/// when given. Its report is the same for every `jobs` (`sim/tests/bfs_twins.rs`).
pub fn bfs_jobs(
    initial: &State,
    limits: (u64, u64),
    (stepper, jobs): (Stepper, usize),
    wanted: (&str, &dyn Fn(&Execution) -> bool),
    probe: Option<Probe<'_>>,
) -> SearchReport {
    crate::frontier::bfs(initial, limits, (stepper, jobs), wanted, probe)
}

/// The slow twin of `bfs_search` ([`crate::frontier::bfs`], the search before it): queued states held as clones
/// with their observers, one path node per step, its memory estimated by
/// [`bfs_estimated_bytes`]. Kept for the differential test (`sim/tests/bfs_twins.rs`).
pub fn bfs_search_cloned(
    initial: &State,
    (max_states, max_bytes): (u64, u64),
    stepper: Stepper,
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
    probe: Probe<'_>,
) -> SearchReport {
    let wanted = |v: &crate::oracle::Violation| oracle.is_empty() || v.oracle.name() == oracle;
    let mut report = SearchReport::default();
    let mut nodes: Vec<(Option<usize>, Task)> = Vec::new();
    let mut queue = VecDeque::from([(initial.clone(), Observer::new(initial), None::<usize>)]);
    let mut visited = visited_with(fingerprint(initial, &Observer::new(initial)));
    while let Some((state, observer, node)) = queue.pop_front() {
        let runnable = exec::runnable(&state);
        if runnable.is_empty() {
            report.schedules += 1;
            if observer
                .at_end(&state, &ending(&state))
                .err()
                .is_some_and(|v| wanted(&v))
            {
                let run = rebuild(initial, &nodes, node, stepper);
                if accept(&run) {
                    report.found = Some(run);
                    return report;
                }
            }
        }
        for &task in &runnable {
            probe(&state, &runnable, task);
            let (mut next, mut watch) = (state.clone(), observer.clone());
            let checked = apply(stepper, &mut next, task, Trace::Off)
                .and_then(|event| watch.after_step(&next, &event.expect("runnable")));
            report.steps += 1;
            nodes.push((node, task));
            let id = nodes.len() - 1;
            match checked {
                Err(v) if wanted(&v) => {
                    let run = rebuild(initial, &nodes, Some(id), stepper);
                    if accept(&run) {
                        report.found = Some(run);
                        return report;
                    }
                    continue;
                }
                Err(_) => continue,
                Ok(()) => {}
            }
            if visited.insert(fingerprint(&next, &watch)) {
                report.states += 1;
                if report.states >= max_states {
                    return report;
                }
                queue.push_back((next, watch, Some(id)));
                let bytes = bfs_estimated_bytes(
                    visited.len() as u64,
                    nodes.len() as u64,
                    queue.len() as u64,
                );
                report.peak_bytes = report.peak_bytes.max(bytes);
                if bytes > max_bytes {
                    report.cut = true;
                    return report;
                }
            }
        }
    }
    report.exhausted = true;
    report
}

/// Replays the path to `node` to rebuild its execution with a trace.
pub(crate) fn rebuild(
    initial: &State,
    nodes: &[(Option<usize>, Task)],
    mut node: Option<usize>,
    stepper: Stepper,
) -> Execution {
    let mut schedule = Vec::new();
    while let Some(id) = node {
        schedule.push(nodes[id].1);
        node = nodes[id].0;
    }
    schedule.reverse();
    replay(initial, &schedule, stepper).expect("a found path replays")
}
