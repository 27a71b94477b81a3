//! Persistent sets for the breadth-first search, checked by exploring the other tasks'
//! future. At a state `s` the search may take a single runnable task `t` instead of all of
//! them when `{t}` is *persistent*: on every path from `s` that `t` does not take, `t` stays
//! runnable and its step commutes with each step taken. [`isolated`] checks it outright: it
//! explores every state reachable from `s` by the other tasks (up to
//! [`PERSISTENT_FUTURE_STATES`] of them; more, and `t` is not taken alone), and at each such
//! state `s'` and for each other runnable task `u` requires that `t` is runnable, that `s'·t`,
//! `s'·u`, `s'·u·t` and `s'·t·u` break no oracle, and that `s'·u·t` and `s'·t·u` are one
//! state with one oracles' history as far as the oracles can read it (one
//! [`crate::symmetry::order_fingerprint`]: the history keeps of the order of its events only
//! whether each end came before each start an oracle can still compare it with,
//! [`crate::oracle::Observer::forget_unread_order`];
//! two states with one such key have the same futures with the same verdicts).
//!
//! Why no violation is lost: take a state the reduced search visits, and a path of `n`
//! steps from it to a violation (a step that breaks an oracle, or an end whose check
//! fails). If the search took every task there, the path's first step is taken. If it took
//! only `t`: the path cannot avoid `t`, since every state off `t` was explored and breaks
//! nothing, and `t` is runnable in each (so none is an end); so the path is `w·t·rest` with
//! `w` free of `t`, and because `t` commutes with each step of `w`, `t·w·rest` reaches the
//! same state, from the successor the search visits, in `n - 1` steps. By
//! induction on `n` every violation's oracle is met. No cycle proviso is needed: the check
//! covers the whole future off `t`, not only the next steps, so nothing is ignored.
//!
//! Its cost is the exploration: [`PERSISTENT_FUTURE_STATES`] bounds it a candidate, and it
//! pays only where the other tasks' futures are small (the other writers blocked on a lock
//! `t`'s actor holds, with a few bios and work items in flight). Two shortcuts cut it
//! ([`Horizon::Footprint`], what `--reduction persistent` runs; [`Horizon::Future`] is their
//! slow twin). A cheap reject by footprint ([`rejected`]): a step that records an operation
//! start in the oracles' history does not commute with one that records an end, nor an end
//! with a start ([`model::footprint::emitted`]), wherever an oracle can still compare the
//! two: the history keeps which came first. So while another task may still record an
//! event of the other kind, `t` is not explored; rejecting is always sound, and it costs a
//! reduction where that other event cannot happen off `t`, or where no oracle reads the
//! pair's order any more ([`crate::oracle::history::History::order_read`]: the key forgets
//! it, and the exploration could accept `t`). And settled states ([`Memo`]): an accepted check explored the whole
//! future off `t` of every state it saw, so a later check does not expand those states
//! again; the proof above only needs every state off `t` checked once, by this check or an
//! earlier one.

use std::collections::{HashSet, VecDeque};

use model::exec::{self, Task};

use crate::engine::Stepper;
use crate::reduce::{Point, successor};

/// States of the other tasks' future [`isolated`] explores at most for one candidate task;
/// past it the candidate is not taken alone.
pub const PERSISTENT_FUTURE_STATES: usize = 64;

/// How far [`isolated`] looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Horizon {
    /// Every state the other tasks reach, up to [`PERSISTENT_FUTURE_STATES`]: sound.
    Future,
    /// [`Horizon::Future`] after a cheap reject by footprint ([`rejected`]): a candidate
    /// whose step records an operation event while another task may still record one is
    /// not explored. And the exploration does not expand a state an earlier accepted one
    /// explored for the same task (settled states, [`Memo`]): its whole future off that task was
    /// checked then. Sound as [`Horizon::Future`] is.
    Footprint,
    /// The current state only: the other tasks' next steps, not their futures. Unsound (a
    /// task commuting with what can run now may not commute with what runs later); kept so
    /// that the tests can show they catch it.
    NextSteps,
}

impl Horizon {
    /// Future states explored at most beside the current one.
    fn states(self) -> usize {
        match self {
            Horizon::Future | Horizon::Footprint => PERSISTENT_FUTURE_STATES,
            Horizon::NextSteps => 1,
        }
    }
}

/// Independence results [`Memo`] keeps at most; past it, it starts afresh.
pub const PERSISTENT_MEMO_ENTRIES: usize = 1 << 20;

/// What the checks learnt, kept across the states of one search: whether `t` and `u`
/// commute at a state (by its fingerprint), with `u`'s successor when they do. A map for
/// lookups only: no result depends on its order.
#[derive(Default)]
pub struct Memo {
    commute: std::collections::HashMap<(u64, Task, Task), bool>,
    /// States (by fingerprint) with a task whose whole future off that task an accepted
    /// check explored: the task is persistent there, and at every state of that future.
    settled: HashSet<(u64, Task)>,
}

impl Memo {
    fn get(&self, at: u64, t: Task, u: Task) -> Option<bool> {
        self.commute.get(&(at, t, u)).copied()
    }

    fn put(&mut self, at: u64, t: Task, u: Task, commute: bool) {
        if self.commute.len() >= PERSISTENT_MEMO_ENTRIES {
            self.commute.clear();
        }
        self.commute.insert((at, t, u), commute);
    }

    /// Whether an accepted check covered the future off `t` of the state `at`.
    fn settled(&self, at: u64, t: Task) -> bool {
        self.settled.contains(&(at, t))
    }

    /// Records that an accepted check covered the future off `t` of each state of `seen`.
    fn settle(&mut self, seen: &HashSet<u64>, t: Task) {
        if self.settled.len() + seen.len() > PERSISTENT_MEMO_ENTRIES {
            self.settled.clear();
        }
        self.settled.extend(seen.iter().map(|&at| (at, t)));
    }
}

/// The first runnable task at `point` that is persistent alone ([`isolated`]), if any; only
/// when at least two tasks can run. `applied` counts the steps the checks take.
pub fn choose(
    (stepper, horizon): (Stepper, Horizon),
    point: &Point,
    runnable: &[Task],
    memo: &mut Memo,
    applied: &mut u64,
) -> Option<Task> {
    if runnable.len() < 2 {
        return None;
    }
    runnable
        .iter()
        .copied()
        .find(|&t| isolated((stepper, horizon), point, t, memo, applied))
}

/// A point's key: the model state and of the oracles' history what they can read
/// ([`crate::symmetry::order_fingerprint`]).
fn fingerprint(point: &Point) -> u64 {
    crate::symmetry::order_fingerprint(&point.0, &point.1)
}

/// Whether `{t}` is persistent at `start`: over every state the other tasks reach from it
/// (within `horizon`), `t` is runnable and commutes with each other
/// runnable task, and no step of either order breaks an oracle.
pub fn isolated(
    (stepper, horizon): (Stepper, Horizon),
    start: &Point,
    t: Task,
    memo: &mut Memo,
    applied: &mut u64,
) -> bool {
    if horizon == Horizon::Footprint && rejected(stepper, start, t, applied) {
        return false;
    }
    let reuse = horizon == Horizon::Footprint;
    let first = fingerprint(start);
    let mut seen = HashSet::from([first]);
    let mut queue = VecDeque::from([(first, start.clone())]);
    while let Some((at, point)) = queue.pop_front() {
        if reuse && memo.settled(at, t) {
            continue;
        }
        let Some(others) = commuting(stepper, (&point, at), t, memo, applied) else {
            return false;
        };
        if horizon == Horizon::NextSteps {
            return true;
        }
        for next in others {
            let key = fingerprint(&next);
            if seen.insert(key) {
                if seen.len() > horizon.states() {
                    return false;
                }
                queue.push_back((key, next));
            }
        }
    }
    if reuse {
        memo.settle(&seen, t);
    }
    true
}

/// The footprint's cheap reject: `t`'s step from `start` breaks an oracle, or it records an
/// operation start or end ([`model::footprint::emitted`]) while another task may still
/// record one of the other kind ([`model::footprint::others_may_conflict`]). The history
/// keeps whether an end came before a start while an oracle can still compare them, so
/// wherever the other's event can happen off `t` and its order with `t`'s is read, the two
/// orders differ and the exploration rejects `t` too; where it cannot happen (the other
/// task waits for `t`) or its order is read no more, the reject costs a reduction, never
/// soundness.
pub fn rejected(stepper: Stepper, start: &Point, t: Task, applied: &mut u64) -> bool {
    *applied += 1;
    let Ok(after) = successor(stepper, start, t) else {
        return true;
    };
    let events = model::footprint::emitted(&start.0, &after.0);
    model::footprint::others_may_conflict(&start.0, t, events)
}

/// The other tasks' successors of `point` (whose fingerprint is `at`) when `t` is runnable
/// there, its step breaks no oracle and it commutes with each of them (see the module's
/// doc); `None` otherwise.
fn commuting(
    stepper: Stepper,
    (point, at): (&Point, u64),
    t: Task,
    memo: &mut Memo,
    applied: &mut u64,
) -> Option<Vec<Point>> {
    let runnable = exec::runnable(&point.0);
    if !runnable.contains(&t) {
        return None;
    }
    let mut after_t: Option<(Point, Vec<Task>)> = None;
    let mut others = Vec::new();
    for &u in runnable.iter().filter(|&&u| u != t) {
        let known = memo.get(at, t, u);
        if known == Some(false) {
            return None;
        }
        *applied += 1;
        let after_u = successor(stepper, point, u).ok()?;
        if known.is_none() {
            if after_t.is_none() {
                after_t = Some(stepped(stepper, point, t, applied)?);
            }
            let (tp, tr) = after_t.as_ref().expect("just stepped");
            let commute = pair(stepper, (tp, tr), (&after_u, t, u), applied);
            memo.put(at, t, u, commute);
            if !commute {
                return None;
            }
        }
        others.push(after_u);
    }
    if others.is_empty() {
        stepped(stepper, point, t, applied)?;
    }
    Some(others)
}

/// `t`'s step from `point` when it breaks no oracle, with the tasks runnable after it.
fn stepped(
    stepper: Stepper,
    point: &Point,
    t: Task,
    applied: &mut u64,
) -> Option<(Point, Vec<Task>)> {
    *applied += 1;
    let next = successor(stepper, point, t).ok()?;
    let runnable = exec::runnable(&next.0);
    Some((next, runnable))
}

/// Whether `u` after `t` (from `after_t`, where `runnable_t` can run) and `t` after `u` (from
/// `after_u`) both run, break no oracle and end in one state with one history.
fn pair(
    stepper: Stepper,
    (after_t, runnable_t): (&Point, &[Task]),
    (after_u, t, u): (&Point, Task, Task),
    applied: &mut u64,
) -> bool {
    if !runnable_t.contains(&u) || !exec::runnable(&after_u.0).contains(&t) {
        return false;
    }
    *applied += 2;
    match (
        successor(stepper, after_u, t),
        successor(stepper, after_t, u),
    ) {
        (Ok(ut), Ok(tu)) => fingerprint(&ut) == fingerprint(&tu),
        _ => false,
    }
}
