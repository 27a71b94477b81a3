//! Footprints on the oracles' history, for the persistent-set search of the simulator: what
//! of a state the history of operations reads ([`marks`]: which operation each actor runs,
//! how many have returned, which AIO completions have arrived), whether one step changed it
//! ([`emits`]), and which tasks may still change it ([`may_emit`]). The history numbers
//! these events by the step they happen at, so two steps that each record one do not
//! commute: their order is in the history. Conservative on the side of "may": a task whose
//! future is not known to be free of events is taken to have one.

use crate::exec::Task;
use crate::ops::{Frame, Op, OpResult};
use crate::state::{State, Wait};

/// What the history of operations keeps a step number of, for one actor: the operation
/// running (its start is recorded when it leaves `Idle`, and kept while it runs), the
/// returns it keeps (a write's, a truncate's or punch's end, a crash), and the `ki_complete`
/// results that arrived (`aio_complete`, fs/aio.c:1030-1110, for a queued AIO write; the
/// write frame's or its result's `event`). The end of any other operation drops its start
/// and keeps nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    running: Option<usize>,
    kept_returns: usize,
    completions: Vec<Option<i64>>,
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
            let kept = actor.program[..actor.results.len()].iter().filter(|op| {
                matches!(
                    op,
                    Op::Write(_) | Op::Truncate { .. } | Op::PunchHole { .. } | Op::Crash
                )
            });
            Mark {
                running: (!matches!(actor.frame, Frame::Idle)).then_some(actor.op),
                kept_returns: kept.count(),
                completions: returned.chain(current).collect(),
            }
        })
        .collect()
}

/// Whether the step from `before` to `after` left a new step number in the history: an
/// operation started (and still runs), one returned that the history keeps, or an AIO
/// completion arrived ([`Mark`]).
pub fn emits(before: &State, after: &State) -> bool {
    marks(before).iter().zip(marks(after)).any(|(b, a)| {
        (a.running.is_some() && a.running != b.running)
            || a.kept_returns != b.kept_returns
            || a.completions != b.completions
    })
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

/// Whether a task other than `t` may record an operation event while `t` does not step:
/// one that [`may_emit`] and does not wait for `t` ([`waits_for`]). Tasks that do not exist
/// yet come from these (a bio from its actor, a work item from its bio), so they are covered.
pub fn others_may_emit(state: &State, t: Task) -> bool {
    crate::exec::tasks(state)
        .filter(|&u| u != t)
        .any(|u| may_emit(state, u) && !waits_for(state, u, t))
}
