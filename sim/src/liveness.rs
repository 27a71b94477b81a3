//! The liveness search: a task that waits for ever while the others keep going.
//!
//! The safety engines ([`crate::engine`]) look at one finite execution at a time; a task that
//! never gets to run is invisible to them, because every scenario ends. Here actors may run
//! their programs in rounds without end (`repeat = "forever"` in the scenario file), and the
//! search looks for a *lasso*: a stem from the initial state to a state `s`, then a cycle
//! from `s` back to `s`, that can be repeated for ever and in which one actor, the victim,
//! stays blocked while the other tasks make progress. That is the `starvation` verdict.
//!
//! What a reported lasso proves, in the model:
//! - **the victim is blocked in every state of the cycle**: it has work left (its program is
//!   not finished, or it repeats forever) and [`model::exec::task_wait`] names what it waits
//!   for in each of those states. A task that is only sometimes runnable and never chosen
//!   (a waiter on a mutex the others keep taking and releasing) is not reported: whether it
//!   would get the mutex is the scheduler's and the mutex's fairness, which the model does
//!   not describe. So the victim starves under any fairness towards it;
//! - **the cycle is weakly fair** to every other task: a task (actor, bio or work item)
//!   runnable in every state of the cycle takes a step in it. A schedule that simply never
//!   runs a runnable task is not a starvation.
//!
//! It proves nothing beyond the model: the safety oracles do not run here (the other engines
//! check them), the search stops at [`LIVENESS_STATES_MAX`] states (the report says so, and
//! then "no lasso" is no proof), and the model's own abstractions hold (README, "What is not
//! modelled").
//!
//! A state repeats only if nothing in it counts iterations, so the search steps a
//! *canonical* state ([`step`]): after every step the live bios, dios, io_ends and work
//! items are renumbered 1, 2, … in the order of their identifiers (the model only compares
//! identifiers, and a workqueue's order is the order of its items' identifiers, which
//! renumbering keeps), `next_id` becomes their count, the journal's transaction ids move
//! down so that the last committed one is 0, and an actor that repeats forever
//! starts its next round, with its results list emptied, once its program is finished and
//! every AIO it submitted has completed (as a program that reaps its events with
//! `io_getevents` before it submits again; that also bounds the I/O in flight). Task names
//! in a lasso (`b2`, `w3`) are those of the renumbered states; a lasso replays with
//! [`replay`], not with the safety engines' `--schedule`.
//!
//! The search: a breadth-first search of the canonical states, kept as fingerprints
//! ([`fingerprint`]; parents give the shortest stem to each state), for each actor the
//! strongly connected components (iterative Tarjan) of the states where it is blocked, and in
//! the component that admits a weakly fair cycle (`fair`) and is reached first, the cycle
//! through its first state (`cycle_through`). docs/liveness.md says more, and what the
//! search does not check.
//!
//! A panic inside the model's step (one of its own assertions) is a finding, as in the
//! safety engines: [`crate::engine::apply`] turns it into the `model-assertion` violation,
//! and the search stops at the first one it meets, with the path that reaches it
//! ([`Assertion`]; [`replay_path`] reproduces it).

use std::collections::{HashMap, VecDeque};

use model::exec::{self, Event, StepError, Task, Trace, Wait};
use model::ops::Frame;
use model::state::{ActorId, ObjId, State, Work};

use crate::engine::Stepper;
use crate::oracle::Violation;
use crate::scenario_file::Looping;

/// States the liveness search may be allowed to visit (`--states-max`); a few hundred bytes
/// a state (about 410 MB at 1 000 000).
pub const LIVENESS_STATES_MAX: usize = 2_000_000;

/// States the liveness search visits unless told otherwise; past it the search stops and
/// says it was cut.
pub const LIVENESS_STATES_DEFAULT: usize = 1_000_000;

/// Detours `cycle_through` adds at most to make a cycle weakly fair (one per task
/// whose fairness it repairs; more tasks than this is beyond any scenario's size).
pub const FAIR_DETOURS_MAX: usize = 64;

/// The live object identifiers, sorted without repeats: the canonical renumbering gives each
/// its rank ([`crate::symmetry::rank`]).
fn live_ids(state: &State) -> Vec<ObjId> {
    let mut live: Vec<ObjId> = (state.bios.keys())
        .chain(state.dios.keys())
        .chain(state.io_ends.keys())
        .chain(state.work.keys())
        .copied()
        .collect();
    live.sort_unstable();
    live.dedup();
    live
}

/// `task` under the renumbering of `state` (actors keep their numbers).
pub fn canonical_task(state: &State, task: Task) -> Task {
    let live = live_ids(state);
    crate::symmetry::rename_task(task, |id| crate::symmetry::rank(&live, id))
}

/// Renumbers the live bios, dios, io_ends and work items 1, 2, … in their order, and every
/// reference to them ([`crate::symmetry::rename_objects`]); an identifier of an object
/// already gone becomes 0 (no object has it).
pub fn canonicalize(state: &mut State) {
    let delta = shift_journal(state);
    let live = live_ids(state);
    crate::symmetry::rename_objects(state, |id| crate::symmetry::rank(&live, id));
    for work in state.work.values_mut() {
        if let Work::DioComplete { tid, .. } = work {
            shift_tid(tid, delta);
        }
    }
    for actor in &mut state.actors {
        match &mut actor.frame {
            Frame::Write(f) => shift_tid(&mut f.commit_tid, delta),
            Frame::Other(f) => shift_tid(&mut f.tid, delta),
            Frame::Idle => {}
        }
    }
    state.next_id = live.len() as ObjId;
}

/// Counts the journal's transactions from the last one committed: `j_commit_sequence`
/// becomes 0 and every transaction id moves down as much (the model compares transaction
/// ids and adds one, fs/jbd2/journal.c's `tid_geq` and the commit's `t_tid + 1`). Returns the
/// shift.
fn shift_journal(state: &mut State) -> u32 {
    let j = &mut state.journal;
    let delta = j.committed;
    j.running -= delta;
    j.committed = 0;
    j.requested = j.requested.saturating_sub(delta);
    delta
}

/// A transaction id moved down by `delta`; one committed before the last commit becomes 0,
/// committed like it.
fn shift_tid(tid: &mut Option<u32>, delta: u32) {
    if let Some(tid) = tid {
        *tid = tid.saturating_sub(delta);
    }
}

/// An actor that repeats forever and has finished its round starts the next one once no
/// dio it submitted is alive: its program counter goes back to the first operation and its
/// results list is emptied.
fn next_rounds(state: &mut State, forever: &[bool]) {
    for (a, _) in forever.iter().enumerate().filter(|(_, f)| **f) {
        let owns_dio = state.dios.values().any(|d| d.owner as usize == a);
        let actor = &mut state.actors[a];
        if actor.op >= actor.program.len() && !owns_dio {
            actor.op = 0;
            actor.results.clear();
        }
    }
}

/// The initial canonical state of `looping`.
pub fn initial(looping: &Looping) -> Result<State, String> {
    let mut state = looping.scenario.build().map_err(|e| e.to_string())?;
    next_rounds(&mut state, &looping.forever);
    canonicalize(&mut state);
    Ok(state)
}

/// One step of the liveness search: [`model::exec::step`], then the next rounds of the
/// actors that repeat forever, then the canonical renumbering.
pub fn step(state: &mut State, task: Task, forever: &[bool]) -> Result<Event, StepError> {
    let event = exec::step(state, task)?;
    next_rounds(state, forever);
    canonicalize(state);
    Ok(event)
}

/// [`step`] under `stepper` and `trace`, a panic of the model caught: `Err` the
/// `model-assertion` violation ([`crate::engine::apply`]), `Ok(Err)` a runnable step the
/// model refused (its own error, not a finding).
pub fn step_checked(
    stepper: Stepper,
    state: &mut State,
    (task, trace): (Task, Trace),
    forever: &[bool],
) -> Result<Result<Event, String>, Violation> {
    let event = match crate::engine::apply(stepper, state, task, trace)? {
        Ok(event) => event,
        Err(e) => return Ok(Err(format!("the model refused a runnable step: {e}"))),
    };
    next_rounds(state, forever);
    canonicalize(state);
    Ok(Ok(event))
}

/// `a` has work left: its program is not finished, or it repeats forever.
fn has_work(state: &State, a: ActorId, forever: &[bool]) -> bool {
    let actor = &state.actors[a as usize];
    forever[a as usize] || actor.op < actor.program.len()
}

/// What `a` waits for, when it has work left and cannot step.
pub fn blocked(state: &State, a: ActorId, forever: &[bool]) -> Option<Wait> {
    if !has_work(state, a, forever) {
        return None;
    }
    exec::task_wait(state, Task::Actor(a)).ok().flatten()
}

/// The state graph the breadth-first search built. States are kept as fingerprints only
/// ([`fingerprint`]); the lasso is replayed from the initial state to show them.
struct Graph {
    /// By state: the runnable tasks, in [`exec::runnable`]'s order.
    enabled: Vec<Vec<Task>>,
    /// By state: (task, next state), one per runnable task (fewer where the search was cut).
    edges: Vec<Vec<(Task, u32)>>,
    /// By state: the state and task it was first reached from.
    parent: Vec<Option<(u32, Task)>>,
    /// By state: bit `a` set when actor `a` is blocked with work left ([`blocked`]).
    blocked: Vec<u8>,
    cut: bool,
    /// The first step whose model assertion fired; the search stopped there.
    assertion: Option<Assertion>,
}

/// A state's 128-bit fingerprint (two SipHash runs with fixed keys over its `Hash`): the
/// search takes two states with one fingerprint for one state (at a million states the
/// chance of a collision is about 10^-27).
pub fn fingerprint(state: &State) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        state.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// A lasso: the stem leads to the cycle's first state; the cycle returns to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lasso {
    /// The actor that starves.
    pub victim: ActorId,
    /// What it waits for where the cycle starts.
    pub wait: Wait,
    /// From the initial state to the cycle.
    pub stem: Vec<Task>,
    /// The cycle (never empty).
    pub cycle: Vec<Task>,
}

impl Lasso {
    /// The lasso as one schedule line: the stem, `cycle:`, the cycle.
    pub fn schedule(&self) -> String {
        let words = |tasks: &[Task]| {
            tasks
                .iter()
                .map(Task::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!("{} cycle: {}", words(&self.stem), words(&self.cycle))
            .trim_start()
            .to_string()
    }
}

/// Parses a lasso schedule (`STEM cycle: CYCLE`).
pub fn parse_lasso(text: &str) -> Result<(Vec<Task>, Vec<Task>), String> {
    let (stem, cycle) = text
        .split_once("cycle:")
        .ok_or("a lasso is `STEM cycle: CYCLE` (the word `cycle:` is missing)")?;
    let stem = model::drive::parse_schedule(stem)?;
    let cycle = model::drive::parse_schedule(cycle)?;
    if cycle.is_empty() {
        return Err("the cycle after `cycle:` is empty".to_string());
    }
    Ok((stem, cycle))
}

/// A model assertion the liveness search met: the path from the initial canonical state
/// (its last step the one that panicked) and the `model-assertion` violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// The tasks stepped, the last one panicking (renumbered names, as a lasso's).
    pub path: Vec<Task>,
    /// The violation ([`crate::oracle::Oracle::ModelAssertion`]).
    pub violation: Violation,
    /// Its class ([`crate::signature::of_model_assertion`]).
    pub signature: crate::signature::Signature,
}

impl Assertion {
    /// The path as a schedule line (no `cycle:`: `writeiter run FILE --liveness --schedule`
    /// replays it as a path).
    pub fn schedule(&self) -> String {
        let words: Vec<String> = self.path.iter().map(Task::to_string).collect();
        words.join(" ")
    }
}

/// What the liveness search found.
#[derive(Clone, Debug)]
pub struct LivenessReport {
    /// Canonical states visited.
    pub states: usize,
    /// Transitions between them.
    pub edges: usize,
    /// The search stopped at [`LIVENESS_STATES_MAX`] (or the cap given): "no lasso" proves
    /// nothing then.
    pub cut: bool,
    /// The starvation lasso, if any.
    pub lasso: Option<Lasso>,
    /// The model assertion that stopped the search, if one fired (then no lasso is looked
    /// for).
    pub assertion: Option<Assertion>,
}

/// Breadth-first search of the canonical states, up to `max_states`; it stops at the first
/// step whose model assertion fires.
fn explore(
    initial: &State,
    (forever, stepper): (&[bool], Stepper),
    max_states: usize,
) -> Result<Graph, String> {
    let mut graph = Graph {
        enabled: Vec::new(),
        edges: Vec::new(),
        parent: vec![None],
        blocked: Vec::new(),
        cut: false,
        assertion: None,
    };
    let mut index: HashMap<u128, u32> = HashMap::from([(fingerprint(initial), 0)]);
    let mut queue = VecDeque::from([initial.clone()]);
    while let Some(state) = queue.pop_front() {
        let enabled = exec::runnable(&state);
        let mut out = Vec::new();
        for &task in &enabled {
            let mut after = state.clone();
            let how = (task, Trace::Off);
            match step_checked(stepper, &mut after, how, forever) {
                Ok(stepped) => {
                    stepped?;
                }
                Err(violation) => {
                    // The state expanded is the next one without edges: states are
                    // numbered in the order the queue holds them.
                    let mut path = stem_to(&graph, graph.edges.len() as u32);
                    path.push(task);
                    let signature = crate::signature::of_model_assertion(&state, task);
                    graph.assertion = Some(Assertion {
                        path,
                        violation,
                        signature,
                    });
                    return Ok(graph);
                }
            }
            let print = fingerprint(&after);
            let to = match index.get(&print) {
                Some(&to) => to,
                None if index.len() >= max_states => {
                    graph.cut = true;
                    continue;
                }
                None => {
                    let to = index.len() as u32;
                    index.insert(print, to);
                    graph.parent.push(Some((graph.edges.len() as u32, task)));
                    queue.push_back(after);
                    to
                }
            };
            out.push((task, to));
        }
        let mask = (0..state.actors.len() as ActorId)
            .filter(|&a| blocked(&state, a, forever).is_some())
            .fold(0u8, |mask, a| mask | 1 << a);
        graph.blocked.push(mask);
        graph.enabled.push(enabled);
        graph.edges.push(out);
    }
    Ok(graph)
}

/// [`step_checked`] under [`Trace::On`], with a panic of the model (one of its assertions)
/// as an error too, for a lasso's replay.
fn stepped(
    stepper: Stepper,
    state: &mut State,
    task: Task,
    forever: &[bool],
) -> Result<Event, String> {
    step_checked(stepper, state, (task, Trace::On), forever).map_err(|v| v.to_string())?
}

/// Strongly connected components of the subgraph of the states in `inside` (iterative
/// Tarjan), each with at least one edge inside it.
fn components(graph: &Graph, inside: &[bool]) -> Vec<Vec<u32>> {
    const NONE: u32 = u32::MAX;
    let n = graph.edges.len();
    let (mut order, mut low) = (vec![NONE; n], vec![0u32; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut found, mut counter) = (Vec::new(), Vec::new(), 0u32);
    for root in (0..n).filter(|&s| inside[s]) {
        if order[root] != NONE {
            continue;
        }
        let mut calls: Vec<(u32, usize)> = vec![(root as u32, 0)];
        order[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut next_edge)) = calls.last_mut() {
            let edges = &graph.edges[v as usize];
            if let Some(&(_, w)) = edges.get(*next_edge) {
                *next_edge += 1;
                let w_ix = w as usize;
                if !inside[w_ix] {
                    continue;
                }
                if order[w_ix] == NONE {
                    order[w_ix] = counter;
                    low[w_ix] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w_ix] = true;
                    calls.push((w, 0));
                } else if on_stack[w_ix] {
                    low[v as usize] = low[v as usize].min(order[w_ix]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] == order[v as usize] {
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("Tarjan's stack");
                    on_stack[w as usize] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                component.sort_unstable();
                let member = |s: u32| component.binary_search(&s).is_ok();
                let has_edge = component
                    .iter()
                    .any(|&s| graph.edges[s as usize].iter().any(|&(_, t)| member(t)));
                if has_edge {
                    found.push(component);
                }
            }
        }
    }
    found
}

/// The tasks runnable in every one of `states`.
fn always_enabled(graph: &Graph, states: &[u32]) -> Vec<Task> {
    let mut tasks = graph.enabled[states[0] as usize].clone();
    for &s in &states[1..] {
        tasks.retain(|t| graph.enabled[s as usize].contains(t));
    }
    tasks
}

/// The cycle (states visited, tasks taken) is weakly fair: every task runnable in all its
/// states is taken in it. Returns the first task that is not.
fn unfair_task(graph: &Graph, states: &[u32], tasks: &[Task]) -> Option<Task> {
    always_enabled(graph, states)
        .into_iter()
        .find(|t| !tasks.contains(t))
}

/// A strongly connected component admits a weakly fair cycle exactly when every task
/// runnable in all its states labels one of its inner edges: then the tour of all its edges
/// is fair; else the task is runnable and never taken on every cycle inside it.
fn fair(graph: &Graph, component: &[u32]) -> bool {
    let member = |s: u32| component.binary_search(&s).is_ok();
    always_enabled(graph, component).iter().all(|task| {
        component.iter().any(|&s| {
            graph.edges[s as usize]
                .iter()
                .any(|&(t, to)| t == *task && member(to))
        })
    })
}

/// The shortest path inside `component` from `from` to a state where `goal` holds of the
/// edge taken (`Some(task)`: an edge with that task; `None`: reaching `target` states).
fn path_inside(
    graph: &Graph,
    component: &[u32],
    from: u32,
    goal: &dyn Fn(u32, Task, u32) -> bool,
) -> Option<Vec<(Task, u32)>> {
    let member = |s: u32| component.binary_search(&s).is_ok();
    let mut parent: HashMap<u32, (u32, Task)> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = std::collections::HashSet::from([from]);
    while let Some(s) = queue.pop_front() {
        for &(task, to) in &graph.edges[s as usize] {
            if !member(to) {
                continue;
            }
            if goal(s, task, to) {
                let mut path = vec![(task, to)];
                let mut at = s;
                while at != from {
                    let (before, t) = parent[&at];
                    path.push((t, at));
                    at = before;
                }
                path.reverse();
                return Some(path);
            }
            if seen.insert(to) {
                parent.insert(to, (s, task));
                queue.push_back(to);
            }
        }
    }
    None
}

/// A weakly fair cycle through `entry` inside a fair `component`: the shortest cycle back to
/// `entry`, then, while some task is runnable in all its states and not taken, a detour by
/// the shortest path to an edge of that task (or to a state where it is not runnable) and
/// back.
fn cycle_through(graph: &Graph, component: &[u32], entry: u32) -> Option<Vec<Task>> {
    let back = |at: u32| path_inside(graph, component, at, &|_, _, to| to == entry);
    let mut path = back(entry)?;
    for _ in 0..FAIR_DETOURS_MAX {
        let states: Vec<u32> = path.iter().map(|&(_, s)| s).collect();
        let tasks: Vec<Task> = path.iter().map(|&(t, _)| t).collect();
        let Some(missing) = unfair_task(graph, &states, &tasks) else {
            return Some(tasks);
        };
        let mut detour =
            path_inside(graph, component, entry, &|_, t, _| t == missing).or_else(|| {
                path_inside(graph, component, entry, &|_, _, to| {
                    !graph.enabled[to as usize].contains(&missing)
                })
            })?;
        let end = detour.last().expect("a path has an edge").1;
        detour.extend(back(end)?);
        detour.extend(path);
        path = detour;
    }
    None
}

/// The path of first discovery from the initial state to `s`: the shortest stem.
fn stem_to(graph: &Graph, s: u32) -> Vec<Task> {
    let mut stem = Vec::new();
    let mut at = s;
    while let Some((before, task)) = graph.parent[at as usize] {
        stem.push(task);
        at = before;
    }
    stem.reverse();
    stem
}

/// Searches the canonical states of `looping` (at most `max_states`) for a starvation
/// lasso: the one whose cycle starts nearest the initial state (first actor on a tie).
pub fn search(looping: &Looping, max_states: usize) -> Result<LivenessReport, String> {
    search_with(looping, max_states, exec::step_with)
}

/// [`search`] stepping with `stepper` (`model::exec::step_with`, or a broken copy in a
/// test). A model assertion stops it: the report holds it and no lasso.
pub fn search_with(
    looping: &Looping,
    max_states: usize,
    stepper: Stepper,
) -> Result<LivenessReport, String> {
    let start = initial(looping)?;
    let forever = &looping.forever;
    let mut graph = explore(&start, (forever, stepper), max_states)?;
    if let Some(assertion) = graph.assertion.take() {
        return Ok(LivenessReport {
            states: graph.edges.len() + 1,
            edges: graph.edges.iter().map(Vec::len).sum(),
            cut: graph.cut,
            lasso: None,
            assertion: Some(assertion),
        });
    }
    let mut best: Option<(u32, ActorId, Vec<u32>)> = None;
    for a in 0..start.actors.len() as ActorId {
        let inside: Vec<bool> = graph.blocked.iter().map(|m| m & 1 << a != 0).collect();
        for component in components(&graph, &inside) {
            let entry = component[0]; // sorted: the first state reached
            if fair(&graph, &component) && best.as_ref().is_none_or(|b| entry < b.0) {
                best = Some((entry, a, component));
            }
        }
    }
    let lasso = best.and_then(|(entry, victim, component)| {
        let stem = stem_to(&graph, entry);
        let mut state = start.clone();
        for &task in &stem {
            stepped(stepper, &mut state, task, forever).ok()?;
        }
        Some(Lasso {
            victim,
            wait: blocked(&state, victim, forever)?,
            stem,
            cycle: cycle_through(&graph, &component, entry)?,
        })
    });
    Ok(LivenessReport {
        states: graph.edges.len(),
        edges: graph.edges.iter().map(Vec::len).sum(),
        cut: graph.cut,
        lasso,
        assertion: None,
    })
}

/// A lasso replayed: the trace of the stem and two rounds of the cycle.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The steps: stem, cycle, cycle.
    pub trace: Vec<Event>,
    /// The stem's length in steps.
    pub stem_len: usize,
    /// The actors blocked in every state of both rounds, with what they wait for where the
    /// cycle starts.
    pub starving: Vec<(ActorId, Wait)>,
    /// The state after the stem, after one round and after two rounds is the same canonical
    /// state.
    pub returns: bool,
    /// The first task runnable in every state of the cycle and not taken in it, if any.
    pub unfair: Option<Task>,
    /// The state after the two rounds.
    pub state: State,
}

/// Replays `stem`, then `cycle` twice, with [`step`]; an error names the step the model
/// refused.
pub fn replay(looping: &Looping, stem: &[Task], cycle: &[Task]) -> Result<Replayed, String> {
    replay_with(looping, (stem, cycle), exec::step_with)
}

/// [`replay`] stepping with `stepper`.
pub fn replay_with(
    looping: &Looping,
    (stem, cycle): (&[Task], &[Task]),
    stepper: Stepper,
) -> Result<Replayed, String> {
    let forever = &looping.forever;
    let mut state = initial(looping)?;
    let mut trace = Vec::new();
    let schedule = stem.iter().chain(cycle).chain(cycle);
    let mut marks = Vec::new();
    let actors = state.actors.len() as ActorId;
    let mut starving: Vec<(ActorId, Wait)> = Vec::new();
    let (mut enabled_throughout, mut taken) = (None::<Vec<Task>>, Vec::new());
    for (index, &task) in schedule.enumerate() {
        if index == stem.len() {
            starving = (0..actors)
                .filter_map(|a| blocked(&state, a, forever).map(|w| (a, w)))
                .collect();
        }
        if index >= stem.len() {
            starving.retain(|&(a, _)| blocked(&state, a, forever).is_some());
            let now = exec::runnable(&state);
            let kept = enabled_throughout.get_or_insert_with(|| now.clone());
            kept.retain(|t| now.contains(t));
            taken.push(task);
        }
        if index == stem.len() || index == stem.len() + cycle.len() {
            marks.push(state.clone());
        }
        let event = stepped(stepper, &mut state, task, forever)
            .map_err(|e| format!("lasso step {index} ({task}): {e}"))?;
        trace.push(event);
    }
    marks.push(state.clone());
    let returns = marks.windows(2).all(|w| w[0] == w[1]);
    let unfair = enabled_throughout
        .unwrap_or_default()
        .into_iter()
        .find(|t| !taken.contains(t));
    Ok(Replayed {
        trace,
        stem_len: stem.len(),
        starving,
        returns,
        unfair,
        state,
    })
}

/// A path replayed ([`replay_path`]): the steps taken, the model assertion that stopped it,
/// and the state reached.
#[derive(Clone, Debug)]
pub struct PathReplayed {
    /// The steps before the one that panicked (all of them when none did).
    pub trace: Vec<Event>,
    /// The `model-assertion` violation of the step that panicked, if one did.
    pub violation: Option<Violation>,
    /// The state after the last step that completed: the state the panicking step started
    /// from, not what it left half-changed (the search's and the hunt's signatures read that
    /// one).
    pub state: State,
}

/// Replays `path` with [`step_checked`] from the initial canonical state, up to the first
/// step whose model assertion fires; an error names a step the model refused.
pub fn replay_path(
    looping: &Looping,
    path: &[Task],
    stepper: Stepper,
) -> Result<PathReplayed, String> {
    let mut state = initial(looping)?;
    let mut trace = Vec::new();
    for (index, &task) in path.iter().enumerate() {
        let before = state.clone();
        match step_checked(stepper, &mut state, (task, Trace::On), &looping.forever) {
            Ok(Ok(event)) => trace.push(event),
            Ok(Err(e)) => return Err(format!("path step {index} ({task}): {e}")),
            Err(violation) => {
                let violation = Some(violation);
                return Ok(PathReplayed {
                    trace,
                    violation,
                    state: before,
                });
            }
        }
    }
    let violation = None;
    Ok(PathReplayed {
        trace,
        violation,
        state,
    })
}

impl Replayed {
    /// The replay shows a starvation: the cycle returns to its state, is weakly fair, and
    /// some actor is blocked throughout.
    pub fn starves(&self) -> bool {
        self.returns && self.unfair.is_none() && !self.starving.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Random graphs tried against the slow twin.
    const GRAPHS: u64 = 300;
    /// States of a random graph at most.
    const NODES_MAX: usize = 12;

    fn graph(edges: Vec<Vec<(Task, u32)>>, enabled: Vec<Vec<Task>>) -> Graph {
        let n = edges.len();
        Graph {
            enabled,
            edges,
            parent: vec![None; n],
            blocked: vec![0; n],
            cut: false,
            assertion: None,
        }
    }

    /// The slow twin of [`components`]: mutual reachability from a transitive closure.
    fn components_by_closure(graph: &Graph, inside: &[bool]) -> Vec<Vec<u32>> {
        let n = graph.edges.len();
        let mut reach = vec![vec![false; n]; n];
        for s in 0..n {
            reach[s][s] = true;
            for &(_, t) in &graph.edges[s] {
                reach[s][t as usize] |= inside[s] && inside[t as usize];
            }
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    reach[i][j] |= reach[i][k] && reach[k][j];
                }
            }
        }
        let mut found: Vec<Vec<u32>> = Vec::new();
        for i in (0..n).filter(|&i| inside[i]) {
            let c: Vec<u32> = (0..n)
                .filter(|&j| inside[j] && reach[i][j] && reach[j][i])
                .map(|j| j as u32)
                .collect();
            let inner = c
                .iter()
                .any(|&s| graph.edges[s as usize].iter().any(|&(_, t)| c.contains(&t)));
            if inner && !found.contains(&c) {
                found.push(c);
            }
        }
        found.sort();
        found
    }

    #[test]
    fn tarjan_finds_the_components_of_mutual_reachability() {
        let mut nontrivial = 0;
        for seed in 0..GRAPHS {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let n = rng.random_range(1..=NODES_MAX);
            let edges: Vec<Vec<(Task, u32)>> = (0..n)
                .map(|_| {
                    (0..rng.random_range(0..4u8))
                        .map(|k| (Task::Actor(k), rng.random_range(0..n) as u32))
                        .collect()
                })
                .collect();
            let inside: Vec<bool> = (0..n).map(|_| rng.random_range(0..4) != 0).collect();
            let g = graph(edges, vec![Vec::new(); n]);
            let mut fast = components(&g, &inside);
            fast.sort();
            let slow = components_by_closure(&g, &inside);
            assert_eq!(fast, slow, "seed {seed}");
            nontrivial += slow.len();
        }
        assert!(nontrivial > GRAPHS as usize / 2, "the graphs have cycles");
    }

    #[test]
    fn a_component_is_fair_when_its_always_runnable_tasks_step_in_it() {
        let (a1, a2) = (Task::Actor(1), Task::Actor(2));
        let ring = vec![vec![(a1, 1)], vec![(a1, 0)]];
        // a2 runnable in both states, never taken: no weakly fair cycle.
        let g = graph(ring.clone(), vec![vec![a1, a2], vec![a1, a2]]);
        assert!(!fair(&g, &[0, 1]));
        // a2 runnable in one state only: the ring is fair.
        let g = graph(ring, vec![vec![a1, a2], vec![a1]]);
        assert!(fair(&g, &[0, 1]));
        assert_eq!(cycle_through(&g, &[0, 1], 0), Some(vec![a1, a1]));
        // a2 taken by a loop on state 0: fair, and the cycle takes the detour.
        let g = graph(
            vec![vec![(a1, 1), (a2, 0)], vec![(a1, 0)]],
            vec![vec![a1, a2], vec![a1, a2]],
        );
        assert!(fair(&g, &[0, 1]));
        let cycle = cycle_through(&g, &[0, 1], 0).expect("a fair cycle");
        assert!(cycle.contains(&a2) && cycle.contains(&a1), "{cycle:?}");
    }
}
