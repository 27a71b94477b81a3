//! kernel/sched/wait.c: waking the sleepers of a wait queue.

use crate::state::{Sleep, State};

/// `wake_up_all`: every actor asleep on `queue` becomes runnable (and re-checks).
pub fn wake_up_all(state: &mut State, queue: Sleep) {
    for actor in &mut state.actors {
        if actor.sleeping == Some(queue) {
            actor.sleeping = None;
        }
    }
}
