//! Footprints on the oracles' history, for the persistent-set search of the simulator: what
//! of a state the history of operations reads ([`marks`]: which operation each actor runs,
//! how many have returned, which AIO completions have arrived), which of those one step
//! changed ([`emitted`]), and which tasks may still change them ([`may_emit`],
//! [`may_start`]). The history numbers these events by the step they happen at, and the
//! oracles read of those numbers only whether an end (a return it keeps, a completion) came
//! before a start: so a step that records a start and one that records an end may not
//! commute (the history keeps their order while an oracle can still compare them), while
//! two starts, or two ends, may. Conservative on the side of "may": a task whose future is
//! not known to be free of events is taken to have one, and every start is taken to
//! conflict with every end.

use crate::exec::Task;
use crate::ops::{Frame, Op, OpResult};
use crate::state::{State, Wait};

/// What the history of operations keeps a step number of, for one actor: the operation
/// running (its start is recorded when it leaves `Idle`, and kept while it runs), the
/// returns it keeps as an end (`kept`), and the `ki_complete`
/// results that arrived (`aio_complete`, fs/aio.c:1030-1110, for a queued AIO write; the
/// write frame's or its result's `event`, once set). The end of any other operation drops
/// its start and keeps nothing. A write that starts and returns in one step is never seen
/// running: its return is its start too (`writes_started`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    running: Option<usize>,
    kept_returns: usize,
    writes_started: usize,
    completions: usize,
}

/// Whether the history keeps an end for operation `op` returning `result`: a write that
/// completed on return (any return but `-EIOCBQUEUED`: a queued AIO completes at its event;
/// a write a crash killed completes nothing), a truncate's or punch's end, a crash (the
/// epoch).
fn kept((op, result): (&Op, &OpResult)) -> bool {
    match (op, result) {
        (Op::Write(_), &OpResult::Write { ret, .. }) => {
            ret != crate::include::fs::errno::EIOCBQUEUED
        }
        (Op::Write(_), _) => false,
        (op, _) => matches!(op, Op::Truncate { .. } | Op::PunchHole { .. } | Op::Crash),
    }
}

/// The writes of `actor`'s program that returned or run.
fn writes_started(actor: &crate::state::Actor) -> usize {
    let started = actor.results.len() + usize::from(!matches!(actor.frame, Frame::Idle));
    let ops = &actor.program[..started.min(actor.program.len())];
    ops.iter().filter(|op| matches!(op, Op::Write(_))).count()
}

/// Every actor's [`Mark`], in actor order.
pub fn marks(state: &State) -> Vec<Mark> {
    state
        .actors
        .iter()
        .map(|actor| {
            let current = match &actor.frame {
                Frame::Write(w) => Some(w.event),
                Frame::Idle | Frame::Other(_) => None,
            };
            let returned = actor.results.iter().filter_map(|r| match r {
                OpResult::Write { event, .. } => Some(*event),
                _ => None,
            });
            let kept = actor
                .program
                .iter()
                .zip(&actor.results)
                .filter(|k| kept(*k));
            Mark {
                running: (!matches!(actor.frame, Frame::Idle)).then_some(actor.op),
                kept_returns: kept.count(),
                writes_started: writes_started(actor),
                completions: returned.chain(current).flatten().count(),
            }
        })
        .collect()
}

/// Whether the step from `before` to `after` left a new step number in the history: an
/// operation started (and still runs), one returned that the history keeps, or an AIO
/// completion arrived ([`Mark`]).
pub fn emits(before: &State, after: &State) -> bool {
    let events = emitted(before, after);
    events.start || events.end
}

/// The kinds of history events one step recorded ([`emitted`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Emitted {
    /// An operation started (and still runs).
    pub start: bool,
    /// An operation returned that the history keeps, or an AIO completion arrived.
    pub end: bool,
}

/// The history events the step from `before` to `after` recorded ([`Mark`]).
pub fn emitted(before: &State, after: &State) -> Emitted {
    let mut out = Emitted::default();
    for (b, a) in marks(before).iter().zip(marks(after)) {
        out.start |= a.running.is_some() && a.running != b.running;
        out.start |= a.writes_started != b.writes_started;
        out.end |= a.kept_returns != b.kept_returns || a.completions != b.completions;
    }
    out
}

/// Whether `task` may start an operation at some later step: an actor with an operation
/// after the running one, or an idle actor with one left (an actor leaves `Idle` only by its
/// own step, `exec.rs`'s `idle`). A bio or a work item never starts one.
pub fn may_start(state: &State, task: Task) -> bool {
    match task {
        Task::Actor(a) => {
            let actor = &state.actors[a as usize];
            actor.op + usize::from(!matches!(actor.frame, Frame::Idle)) < actor.program.len()
        }
        Task::Bio(_) | Task::BioError(_) | Task::Work(_) => false,
    }
}

/// Whether a task other than `t`, not waiting for `t` ([`waits_for`]), may record an event
/// whose order against `events` the history keeps: an end ([`may_emit`]) where `events`
/// holds a start, a start ([`may_start`]) where it holds an end.
pub fn others_may_conflict(state: &State, t: Task, events: Emitted) -> bool {
    crate::exec::tasks(state)
        .filter(|&u| u != t && !waits_for(state, u, t))
        .any(|u| (events.start && may_emit(state, u)) || (events.end && may_start(state, u)))
}

/// Whether `task` may start, return or complete an operation at some later step: an actor
/// with an operation running or still to start; every bio and work item (a bio's end may
/// complete a dio, and `dio_complete` calls `ki_complete`, fs/direct-io.c:282-287; the
/// commit moves the transaction a completion is stamped with). Conservative: `false` only
/// for an actor whose program is done.
pub fn may_emit(state: &State, task: Task) -> bool {
    match task {
        Task::Actor(a) => {
            let actor = &state.actors[a as usize];
            actor.op < actor.program.len() || !matches!(actor.frame, Frame::Idle)
        }
        Task::Bio(_) | Task::BioError(_) | Task::Work(_) => true,
    }
}

/// Whether `u` waits on a mutex (`i_mutex` or an `aio_mutex` bucket) that `t`'s actor holds:
/// only the owner's steps release it (`mutex_unlock`), so `u` cannot step while `t` does not.
pub fn waits_for(state: &State, u: Task, t: Task) -> bool {
    let Task::Actor(holder) = t else {
        return false;
    };
    match crate::exec::task_wait(state, u) {
        Ok(Some(Wait::IMutex { owner, .. } | Wait::AioMutex { owner, .. })) => owner == holder,
        _ => false,
    }
}
