//! Partial-order reduction for the exhaustive searches ([`Reduction`]): sleep sets, and, for
//! the breadth-first search, symmetry of object identifiers ([`crate::symmetry`]) and
//! persistent sets ([`crate::persistent`]). Sleep sets check independence at the state. Two tasks `a` and `b` runnable at a state `s` commute there when each stays
//! runnable after the other, `s·a·b` and `s·b·a` are the same model state with the same
//! oracles' history summary (what the breadth-first search's fingerprint holds), and none of
//! the four steps raises a violation. Checking it costs two extra steps a pair, and the
//! single step of a sleeping task the search does not take; [`SearchReport::checks`] counts
//! them.
//!
//! A task explored at a state sleeps in the siblings explored after it, and stays asleep
//! down a path while every step taken commutes with it; a sleeping task is not taken: the
//! schedules it would start are reorderings of ones its earlier sibling covers, which reach
//! the same states with the same verdicts. Sleep sets prune steps, never states: every
//! reachable state is still visited.
//!
//! The unreduced searches of [`crate::engine`] are the slow twins; `sim/tests/reduction.rs`
//! holds the reduced ones to them. An `accept` that tells apart two reorderings of one
//! execution (a class, a schedule) is not preserved: the reduced searches are for verdicts.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use model::drive::{End, ending};
use model::exec::{self, Task, Trace};
use model::limits::STEPS_MAX;
use model::state::State;

use crate::engine::{self, Execution, Probe, SearchReport, Stepper};
use crate::oracle::{Observer, Violation};

/// Which partial-order reduction an exhaustive search applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// None: every runnable task at every state (the slow twin).
    #[default]
    None,
    /// Sleep sets with independence checked at the state.
    Sleep,
    /// Symmetry: the breadth-first search's visited set keys a state by its object
    /// identifiers' renaming onto their ranks ([`crate::symmetry`]), so states that differ
    /// only by how bios, dios, io_ends and work items are numbered are one; and it keeps of
    /// the oracles' history's order only whether each end came before each start that an
    /// oracle can still compare it with ([`crate::oracle::Observer::forget_unread_order`]). Every runnable task is explored.
    /// The depth-first search has no visited set: it runs unreduced.
    Symmetry,
    /// Symmetry, and persistent sets checked by exploring the other tasks' future, after the
    /// footprint's cheap reject ([`crate::persistent::Horizon::Footprint`]): where one task
    /// is persistent alone, only it is explored.
    /// The depth-first search runs unreduced.
    Persistent,
}

impl Reduction {
    /// Every reduction, by name.
    pub const ALL: [Reduction; 4] = [
        Reduction::None,
        Reduction::Sleep,
        Reduction::Symmetry,
        Reduction::Persistent,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::Sleep => "sleep",
            Reduction::Symmetry => "symmetry",
            Reduction::Persistent => "persistent",
        }
    }

    /// The reduction named `name`.
    pub fn from_name(name: &str) -> Option<Reduction> {
        Reduction::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// A model state with its oracles' history.
pub type Point = (State, Observer);

/// `task`'s step from `point`: the next point, or the violation the step raises.
pub fn successor(stepper: Stepper, point: &Point, task: Task) -> Result<Point, Violation> {
    let (mut state, mut observer) = point.clone();
    let event = engine::apply(stepper, &mut state, task, Trace::Off)?;
    observer.after_step(&state, &event.expect("a runnable task steps"))?;
    Ok((state, observer))
}

/// How two tasks commute at a state: the tasks runnable after the sleeping one alone
/// (`s·z`), for the preemption counts of the depth-first search, and `s·v·z`.
struct Commuted {
    after_sleeper: Vec<Task>,
    /// `s·v·z`: the sleeping task's single step from the next state.
    next: Point,
}

/// The oracles' history summary's hash (the part of [`crate::fingerprint::fingerprint`] beside the
/// state, which [`Around::commute`] compares whole).
fn history(observer: &Observer) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    observer.summary().hash(&mut hasher);
    hasher.finish()
}

/// One state's single steps, each computed once, and the independence of its runnable
/// tasks.
struct Around<'a> {
    stepper: Stepper,
    point: &'a Point,
    one: Vec<(Task, Result<Point, Violation>)>,
    /// Steps applied from this state, single steps and the checks' second steps.
    applied: u64,
}

impl<'a> Around<'a> {
    /// `point`'s steps, with `one` the single steps already known.
    fn new(
        stepper: Stepper,
        point: &'a Point,
        one: Vec<(Task, Result<Point, Violation>)>,
    ) -> Around<'a> {
        Around {
            stepper,
            point,
            one,
            applied: 0,
        }
    }

    /// The index of `task`'s single step in `one`, computing it the first time.
    fn index(&mut self, task: Task) -> usize {
        if let Some(i) = self.one.iter().position(|(t, _)| *t == task) {
            return i;
        }
        self.applied += 1;
        self.one
            .push((task, successor(self.stepper, self.point, task)));
        self.one.len() - 1
    }

    /// `task`'s step from this state, taken out.
    fn take(mut self, task: Task) -> Result<Point, Violation> {
        let i = self.index(task);
        self.one.swap_remove(i).1
    }

    /// `task`'s step from this state.
    fn step(&mut self, task: Task) -> &Result<Point, Violation> {
        let i = self.index(task);
        &self.one[i].1
    }

    /// `second` after `first`'s step, when `second` stays runnable and no step violates;
    /// with the tasks runnable after `first`.
    fn then(&mut self, first: Task, second: Task) -> Option<(Point, Vec<Task>)> {
        let i = self.index(first);
        let after = self.one[i].1.as_ref().ok()?;
        let runnable = exec::runnable(&after.0);
        if !runnable.contains(&second) {
            return None;
        }
        self.applied += 1;
        Some((successor(self.stepper, after, second).ok()?, runnable))
    }

    /// Whether the sleeping task `z` and the task `v` taken commute at this state (see the
    /// module's doc), with what the depth-first search's preemption counts need.
    fn commute(&mut self, z: Task, v: Task) -> Option<Commuted> {
        let (zv, after_sleeper) = self.then(z, v)?;
        let (vz, _) = self.then(v, z)?;
        let same = zv.0 == vz.0 && history(&zv.1) == history(&vz.1);
        same.then_some(Commuted {
            after_sleeper,
            next: vz,
        })
    }
}

/// A state queued by the reduced breadth-first search: its sleep set, and the tasks to
/// explore (`None`: every runnable task not asleep; `Some`: a state reached again with a
/// smaller sleep set, whose newly woken tasks only are explored).
struct Queued {
    point: Point,
    node: Option<usize>,
    sleep: Vec<Task>,
    wake: Option<Vec<Task>>,
}

/// What the visited set holds for a state: the tasks asleep on every path that reached it
/// so far, and the path node it was first reached by.
struct Seen {
    sleep: Vec<Task>,
    node: Option<usize>,
}

/// Bytes a visited state's sleep set is estimated to take beyond its fingerprint.
pub const SLEEP_ENTRY_BYTES: u64 = std::mem::size_of::<Seen>() as u64;

/// The breadth-first search of `engine::bfs_search` under sleep sets: the same states
/// (within `max_states` and `max_bytes`), fewer steps. A state reached again with a sleep
/// set that lacks some of the tasks asleep when it was first expanded is expanded again
/// for those tasks only, and keeps the intersection. A counterexample found is not
/// always a shortest one (a state expanded again queues behind deeper ones).
pub fn bfs_search(
    initial: &State,
    limits: (u64, u64),
    stepper: Stepper,
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
    probe: Probe<'_>,
) -> SearchReport {
    let keyed = Keyed {
        key: &crate::fingerprint::fingerprint,
        sleep_sets: true,
        persistent: None,
    };
    bfs_keyed(initial, limits, stepper, (oracle, accept), keyed, probe)
}

/// The visited-set key of a breadth-first search and whether it keeps sleep sets (which
/// name tasks by their identifiers, so they go only with a key that does not rename them).
#[derive(Clone, Copy)]
pub struct Keyed<'a> {
    /// A state's key: two states with one key are one state to the search.
    pub key: &'a dyn Fn(&State, &Observer) -> u64,
    /// Sleep sets on.
    pub sleep_sets: bool,
    /// Persistent sets ([`crate::persistent`]), looking this far: a state where one task is
    /// persistent alone is expanded by that task only.
    pub persistent: Option<crate::persistent::Horizon>,
}

/// The breadth-first search of [`bfs_search`] with the visited-set key and sleep sets of
/// `keyed`: with [`crate::fingerprint::fingerprint`] and no sleep sets, the unreduced
/// search; with [`crate::symmetry::canonical_fingerprint`], the symmetry reduction. The
/// tests also give it unsound keys, to show they catch one.
pub fn bfs_keyed(
    initial: &State,
    limits: (u64, u64),
    stepper: Stepper,
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
    keyed: Keyed<'_>,
    probe: Probe<'_>,
) -> SearchReport {
    let mut unwatched = |_: &Progress| {};
    let how = (stepper, keyed);
    bfs_watched(
        initial,
        limits,
        how,
        (oracle, accept),
        (probe, &mut unwatched),
    )
}

/// Expanded states between two calls of a [`Watch`].
pub const WATCH_EVERY_STATES: u64 = 4096;

/// Where a reduced breadth-first search stands, for a progress line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// States visited.
    pub states: u64,
    /// States queued, not yet expanded.
    pub queued: u64,
    /// Steps taken by the search.
    pub steps: u64,
    /// Steps taken checking independence.
    pub checks: u64,
}

/// Called with the search's [`Progress`] every [`WATCH_EVERY_STATES`] expanded states.
pub type Watch<'a> = &'a mut dyn FnMut(&Progress);

/// [`bfs_keyed`], showing its [`Progress`] to `watch` as it goes (nothing it does depends
/// on the watch).
pub fn bfs_watched(
    initial: &State,
    limits: (u64, u64),
    (stepper, keyed): (Stepper, Keyed<'_>),
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
    (probe, watch): (Probe<'_>, Watch<'_>),
) -> SearchReport {
    let mut search = Bfs {
        initial,
        limits,
        stepper,
        oracle,
        accept,
        keyed,
        memo: crate::persistent::Memo::default(),
        report: SearchReport::default(),
        nodes: Vec::new(),
        queue: VecDeque::new(),
        visited: HashMap::new(),
    };
    let start = (initial.clone(), Observer::new(initial));
    let seen = Seen {
        sleep: Vec::new(),
        node: None,
    };
    let fingerprint = (keyed.key)(&start.0, &start.1);
    search.visited.insert(fingerprint, seen);
    search.queue.push_back(Queued {
        point: start,
        node: None,
        sleep: Vec::new(),
        wake: None,
    });
    let mut expanded = 0u64;
    while let Some(queued) = search.queue.pop_front() {
        if let Some(found) = search.expand(queued, probe) {
            search.report.found = found;
            return search.report;
        }
        expanded += 1;
        if expanded.is_multiple_of(WATCH_EVERY_STATES) {
            watch(&search.progress());
        }
    }
    search.report.exhausted = true;
    search.report
}

/// The reduced breadth-first search's state.
struct Bfs<'a> {
    initial: &'a State,
    /// States and estimated bytes it may hold.
    limits: (u64, u64),
    stepper: Stepper,
    oracle: &'a str,
    accept: &'a dyn Fn(&Execution) -> bool,
    keyed: Keyed<'a>,
    /// What the persistent-set checks learnt.
    memo: crate::persistent::Memo,
    report: SearchReport,
    nodes: Vec<(Option<usize>, Task)>,
    queue: VecDeque<Queued>,
    visited: HashMap<u64, Seen>,
}

/// Why a search stops: `Some(run)` a violation found, `None` a bound reached.
type Stop = Option<Execution>;

impl Bfs<'_> {
    /// Where the search stands.
    fn progress(&self) -> Progress {
        Progress {
            states: self.report.states,
            queued: self.queue.len() as u64,
            steps: self.report.steps,
            checks: self.report.checks,
        }
    }

    /// `violation` (of the oracle searched for) along the path to `node`, if `accept` takes it.
    fn found(&self, violation: &Violation, node: Option<usize>) -> Option<Execution> {
        if !(self.oracle.is_empty() || violation.oracle.name() == self.oracle) {
            return None;
        }
        let run = engine::rebuild(self.initial, &self.nodes, node, self.stepper);
        (self.accept)(&run).then_some(run)
    }

    /// Expands one queued state; `Some` when the search stops.
    fn expand(&mut self, queued: Queued, probe: Probe<'_>) -> Option<Stop> {
        let state = &queued.point.0;
        let runnable = exec::runnable(state);
        if runnable.is_empty() {
            self.report.schedules += 1;
            let end = queued.point.1.at_end(state, &ending(state));
            if let Some(run) = end.err().and_then(|v| self.found(&v, queued.node)) {
                return Some(Some(run));
            }
        }
        let explore = queued.wake.clone().unwrap_or_else(|| {
            let awake = runnable.iter().filter(|t| !queued.sleep.contains(t));
            awake.copied().collect()
        });
        let explore = match self.keyed.persistent {
            Some(horizon) => self
                .persistent(horizon, &queued.point, &runnable)
                .map_or(explore, |t| vec![t]),
            None => explore,
        };
        let mut around = Around::new(self.stepper, &queued.point, Vec::new());
        let mut taken = 0;
        let mut asleep = queued.sleep.clone();
        let mut stop = None;
        for task in explore {
            probe(state, &runnable, task);
            self.report.steps += 1;
            self.nodes.push((queued.node, task));
            let id = self.nodes.len() - 1;
            taken += 1;
            let next = match around.step(task) {
                Ok(next) => next.clone(),
                Err(v) => match self.found(v, Some(id)) {
                    Some(run) => {
                        stop = Some(Some(run));
                        break;
                    }
                    None => {
                        asleep.push(task);
                        continue;
                    }
                },
            };
            let sleep: Vec<Task> = asleep
                .iter()
                .copied()
                .filter(|&z| self.keyed.sleep_sets && around.commute(z, task).is_some())
                .collect();
            asleep.push(task);
            if self.visit(next, id, sleep) {
                stop = Some(None);
                break;
            }
        }
        self.report.checks += around.applied - taken;
        stop
    }

    /// The task persistent alone at `point` ([`crate::persistent::choose`]), its checks'
    /// steps counted.
    fn persistent(
        &mut self,
        horizon: crate::persistent::Horizon,
        point: &Point,
        runnable: &[Task],
    ) -> Option<Task> {
        let mut applied = 0;
        let how = (self.stepper, horizon);
        let chosen = crate::persistent::choose(how, point, runnable, &mut self.memo, &mut applied);
        self.report.checks += applied;
        chosen
    }

    /// Records the state `next` reached by path node `id` with the sleep set `sleep`, and
    /// queues what it needs explored; `true` when a bound stops the search.
    fn visit(&mut self, next: Point, id: usize, sleep: Vec<Task>) -> bool {
        let (max_states, max_bytes) = self.limits;
        let queued = match self.visited.entry((self.keyed.key)(&next.0, &next.1)) {
            Entry::Vacant(entry) => {
                entry.insert(Seen {
                    sleep: sleep.clone(),
                    node: Some(id),
                });
                self.report.states += 1;
                if self.report.states >= max_states {
                    return true;
                }
                Queued {
                    point: next,
                    node: Some(id),
                    sleep,
                    wake: None,
                }
            }
            Entry::Occupied(mut entry) => {
                let seen = entry.get_mut();
                let wake: Vec<Task> = seen
                    .sleep
                    .iter()
                    .copied()
                    .filter(|t| !sleep.contains(t))
                    .collect();
                if wake.is_empty() {
                    return false;
                }
                seen.sleep.retain(|t| sleep.contains(t));
                Queued {
                    point: next,
                    node: seen.node,
                    sleep: seen.sleep.clone(),
                    wake: Some(wake),
                }
            }
        };
        self.queue.push_back(queued);
        let visited = self.visited.len() as u64;
        let bytes =
            engine::bfs_estimated_bytes(visited, self.nodes.len() as u64, self.queue.len() as u64)
                .saturating_add(visited.saturating_mul(SLEEP_ENTRY_BYTES));
        self.report.peak_bytes = self.report.peak_bytes.max(bytes);
        if bytes > max_bytes {
            self.report.cut = true;
            return true;
        }
        false
    }
}

/// A depth-first search under `reduction`: [`engine::dfs_where`] unreduced, or its sleep-set
/// twin ([`dfs_search`]); symmetry and persistent sets act on the breadth-first search's
/// visited set and states, so under them the depth-first search runs unreduced. Within
/// `bound` preemptions and `budget` executions.
pub fn dfs(
    initial: &State,
    limits: (usize, u64),
    stepper: Stepper,
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
    reduction: Reduction,
) -> SearchReport {
    let mut quiet = |_: &State, _: &[Task], _: Task| {};
    // Every search steps under `Trace::Off` (a counterexample is rebuilt traced by `replay`).
    match reduction {
        Reduction::None => {
            engine::dfs_search(initial, limits, stepper, (oracle, accept), &mut quiet)
        }
        Reduction::Sleep => dfs_search(initial, limits, stepper, (oracle, accept)),
        Reduction::Symmetry | Reduction::Persistent => {
            engine::dfs_search(initial, limits, stepper, (oracle, accept), &mut quiet)
        }
    }
}

/// A breadth-first search under `reduction`: [`engine::bfs_budgeted`]'s unreduced search, its
/// sleep-set twin ([`bfs_search`]), or [`bfs_keyed`] under symmetry, with or without
/// persistent sets. Within `max_states` states and `max_bytes` estimated
/// bytes.
pub fn bfs(
    initial: &State,
    limits: (u64, u64),
    stepper: Stepper,
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
    reduction: Reduction,
) -> SearchReport {
    let mut unwatched = |_: &Progress| {};
    let how = (stepper, reduction);
    bfs_progress(initial, limits, how, (oracle, accept), &mut unwatched)
}

/// [`bfs`], showing the reduced searches' [`Progress`] to `watch` (the unreduced search
/// of [`engine`] shows none).
pub fn bfs_progress(
    initial: &State,
    limits: (u64, u64),
    (stepper, reduction): (Stepper, Reduction),
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
    watch: Watch<'_>,
) -> SearchReport {
    let mut quiet = |_: &State, _: &[Task], _: Task| {};
    // Every search steps under `Trace::Off` (a counterexample is rebuilt traced by `replay`).
    let keyed = match reduction {
        Reduction::None => {
            return engine::bfs_search(initial, limits, stepper, (oracle, accept), &mut quiet);
        }
        Reduction::Sleep => Keyed {
            key: &crate::fingerprint::fingerprint,
            sleep_sets: true,
            persistent: None,
        },
        Reduction::Symmetry | Reduction::Persistent => Keyed {
            key: &crate::symmetry::canonical_fingerprint,
            sleep_sets: false,
            persistent: (reduction == Reduction::Persistent)
                .then_some(crate::persistent::Horizon::Footprint),
        },
    };
    let how = (stepper, keyed);
    bfs_watched(initial, limits, how, (oracle, accept), (&mut quiet, watch))
}

/// Choosing `task` after `last` preempts: `last` could have gone on (as
/// [`engine`]'s depth-first search counts).
fn preempts(task: Task, last: Option<Task>, runnable: &[Task]) -> usize {
    usize::from(last.is_some_and(|l| l != task && runnable.contains(&l)))
}

/// A task asleep on the depth-first search's path, with what the bound needs of the
/// schedule that covers it: the same path with the task taken where it was explored.
#[derive(Clone, Copy, Debug)]
struct Sleeper {
    task: Task,
    /// Preemptions of the covering schedule up to the current state.
    shadow: usize,
    /// The covering schedule's last task.
    prev: Task,
    /// The current path's last task is still runnable where the two schedules meet (after
    /// this task's step at the current state).
    meet_runs_last: bool,
}

impl Sleeper {
    /// A sibling explored at a state with `shadow` preemptions up to its step there.
    fn explored(task: Task, shadow: usize) -> Sleeper {
        Sleeper {
            task,
            shadow,
            prev: task,
            meet_runs_last: false,
        }
    }

    /// This sleeper after the path takes `v` at `around`'s state: still asleep if it
    /// commutes with `v` there, its covering schedule then taking `v` too.
    /// With it, this task's single step from the next state.
    fn across(self, v: Task, around: &mut Around<'_>) -> Option<(Sleeper, Point)> {
        let commuted = around.commute(self.task, v)?;
        let switch = v != self.prev && commuted.after_sleeper.contains(&self.prev);
        let sleeper = Sleeper {
            task: self.task,
            shadow: self.shadow + usize::from(switch),
            prev: v,
            meet_runs_last: exec::runnable(&commuted.next.0).contains(&v),
        };
        Some((sleeper, commuted.next))
    }
}

/// Whether taking `task` at a state (reached with `preemptions`, after `last`) may be left
/// out: it is asleep, and the schedule that covers it has no more preemptions than this one
/// whatever follows (one more where they meet when `last` could go on there). This is what
/// keeps the verdicts of a preemption-bounded search: a schedule within the bound is left
/// out only for one within the bound.
fn covered(
    task: Task,
    sleep: &[Sleeper],
    (preemptions, last): (usize, Option<Task>),
    runnable: &[Task],
) -> bool {
    sleep.iter().find(|z| z.task == task).is_some_and(|z| {
        z.shadow + usize::from(z.meet_runs_last) <= preemptions + preempts(task, last, runnable)
    })
}

/// A branch of the reduced depth-first search: a prefix of tasks, and the sleep set at the
/// state before its last task (the siblings explored before it included).
struct Branch {
    prefix: Vec<Task>,
    sleep: Vec<Sleeper>,
}

/// A choice point of a run past its branch's prefix: what its alternatives need.
struct Choice {
    runnable: Vec<Task>,
    chosen: Task,
    sleep: Vec<Sleeper>,
    preemptions: usize,
    last: Option<Task>,
}

/// How a run of the reduced depth-first search ended.
struct Ran {
    schedule: Vec<Task>,
    /// The violation it ended on, if any.
    violation: Option<Violation>,
    choices: Vec<Choice>,
}

/// The depth-first search of `engine::dfs_search` under sleep sets, with the same
/// preemption bound: a branch's run replays its prefix, then goes on as the unreduced leaf
/// policy does (the last task while it can, else the first runnable one) among the tasks
/// not `covered`; a run where every runnable task is covered, or a preemption would pass
/// the bound, stops there (a blocked run, counted as an execution). A task asleep but not
/// covered is taken: the reduction gives way to the bound.
pub fn dfs_search(
    initial: &State,
    (bound, budget): (usize, u64),
    stepper: Stepper,
    (oracle, accept): (&str, &dyn Fn(&Execution) -> bool),
) -> SearchReport {
    let mut report = SearchReport::default();
    let mut stack = vec![Branch {
        prefix: Vec::new(),
        sleep: Vec::new(),
    }];
    while let Some(branch) = stack.pop() {
        if report.schedules >= budget {
            return report;
        }
        let ran = run_branch(initial, &branch, (bound, stepper), &mut report);
        report.schedules += 1;
        if ran
            .violation
            .as_ref()
            .is_some_and(|v| oracle.is_empty() || v.oracle.name() == oracle)
        {
            let run = engine::replay(initial, &ran.schedule, stepper).expect("a run replays");
            if accept(&run) {
                report.found = Some(run);
                return report;
            }
        }
        push_alternatives(&ran, branch.prefix.len(), bound, &mut stack);
    }
    report.exhausted = true;
    report
}

/// The leaf policy's task: the last one while it can go on, else the first runnable one;
/// among those not [`covered`] and within the bound. `None`: the run is blocked.
fn leaf_choice(
    runnable: &[Task],
    sleep: &[Sleeper],
    (preemptions, last): (usize, Option<Task>),
    bound: usize,
) -> Option<Task> {
    let last_first = last.filter(|l| runnable.contains(l)).into_iter();
    last_first.chain(runnable.iter().copied()).find(|&t| {
        preemptions + preempts(t, last, runnable) <= bound
            && !covered(t, sleep, (preemptions, last), runnable)
    })
}

/// One run of a branch: replays its prefix, then the leaf policy; tracks the sleep set from
/// the branch's last choice on.
fn run_branch(
    initial: &State,
    branch: &Branch,
    (bound, stepper): (usize, Stepper),
    report: &mut SearchReport,
) -> Ran {
    let mut point = (initial.clone(), Observer::new(initial));
    let (mut schedule, mut choices) = (Vec::new(), Vec::new());
    let mut sleep = Vec::new();
    let mut preemptions = 0;
    // The sleeping tasks' single steps from the current state, computed by the last checks.
    let mut carried = Vec::new();
    let tracked = branch.prefix.len().saturating_sub(1);
    loop {
        let depth = schedule.len();
        if depth == tracked {
            sleep.clone_from(&branch.sleep);
        }
        let runnable = exec::runnable(&point.0);
        let last = schedule.last().copied();
        if runnable.is_empty() || depth >= STEPS_MAX {
            let end = if runnable.is_empty() {
                ending(&point.0)
            } else {
                End::StepLimit
            };
            let violation = point.1.at_end(&point.0, &end).err();
            return ended(schedule, violation, choices);
        }
        let chosen = match branch.prefix.get(depth) {
            Some(&task) => Some(task),
            None => leaf_choice(&runnable, &sleep, (preemptions, last), bound),
        };
        let Some(task) = chosen else {
            return ended(schedule, None, choices);
        };
        let cost = preempts(task, last, &runnable);
        if depth >= branch.prefix.len() {
            choices.push(Choice {
                runnable,
                chosen: task,
                sleep: sleep.clone(),
                preemptions,
                last,
            });
        }
        preemptions += cost;
        report.steps += 1;
        schedule.push(task);
        let stepped = if depth >= tracked && !sleep.is_empty() {
            let mut around = Around::new(stepper, &point, std::mem::take(&mut carried));
            // The step taken counts in `steps`, not in `checks`, unless a check computed it.
            let fresh = u64::from(!around.one.iter().any(|(t, _)| *t == task));
            around.step(task);
            let kept = sleep.iter().filter(|z| z.task != task);
            let across: Vec<(Sleeper, Point)> =
                kept.filter_map(|z| z.across(task, &mut around)).collect();
            report.checks += around.applied - fresh;
            let next = around.take(task);
            sleep = across.iter().map(|(z, _)| *z).collect();
            carried = across.into_iter().map(|(z, p)| (z.task, Ok(p))).collect();
            next.map(|next| point = next)
        } else {
            advance(stepper, &mut point, task)
        };
        if let Err(violation) = stepped {
            return ended(schedule, Some(violation), choices);
        }
    }
}

/// A run that ended after `schedule`.
fn ended(schedule: Vec<Task>, violation: Option<Violation>, choices: Vec<Choice>) -> Ran {
    Ran {
        schedule,
        violation,
        choices,
    }
}

/// `task`'s step applied to `point` in place, its oracles checked.
fn advance(stepper: Stepper, point: &mut Point, task: Task) -> Result<(), Violation> {
    let event = engine::apply(stepper, &mut point.0, task, Trace::Off)?;
    point
        .1
        .after_step(&point.0, &event.expect("a runnable task steps"))
}

/// For every choice point of `ran` past its branch's prefix (`from` steps), the other
/// runnable tasks within `bound` preemptions that are not [`covered`], each with its sleep
/// set: the tasks asleep there, and the siblings explored before it (the one the run took
/// first, then the earlier alternatives). Deepest last, so they are explored first.
fn push_alternatives(ran: &Ran, from: usize, bound: usize, stack: &mut Vec<Branch>) {
    for (i, c) in ran.choices.iter().enumerate() {
        let at = (c.preemptions, c.last);
        let mut explored = vec![Sleeper::explored(
            c.chosen,
            c.preemptions + preempts(c.chosen, c.last, &c.runnable),
        )];
        for &alternative in c.runnable.iter().filter(|&&t| t != c.chosen) {
            let shadow = c.preemptions + preempts(alternative, c.last, &c.runnable);
            if shadow > bound || covered(alternative, &c.sleep, at, &c.runnable) {
                continue;
            }
            let asleep = c
                .sleep
                .iter()
                .filter(|z| z.task != alternative && explored.iter().all(|e| e.task != z.task));
            let sleep = asleep.chain(explored.iter()).copied().collect();
            let mut prefix = ran.schedule[..from + i].to_vec();
            prefix.push(alternative);
            stack.push(Branch { prefix, sleep });
            explored.push(Sleeper::explored(alternative, shadow));
        }
    }
}
