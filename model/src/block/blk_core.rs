//! block/blk-core.c: the plug. A task's plugged bios are dispatched when it sleeps.

use crate::state::{ActorId, State};

/// `blk_schedule_flush_plug` from `schedule()`: an actor that cannot go on sleeps, and its
/// plugged bios are dispatched for good. `sleeps` says whether an actor cannot go on (the
/// engine's `actor_wait`, passed in: kernel code does not call the engine).
pub fn flush_plugs_of_sleepers(state: &mut State, sleeps: impl Fn(&State, ActorId) -> bool) {
    let plugged = |b: &crate::state::Bio| b.plugged_by;
    if !state
        .bios
        .values()
        .filter_map(plugged)
        .any(|o| sleeps(state, o))
    {
        return; // nothing to dispatch (asked without collecting): the bios stay unmarked
    }
    let sleepers: Vec<u8> = state
        .bios
        .values()
        .filter_map(|b| b.plugged_by)
        .filter(|&owner| sleeps(state, owner))
        .collect();
    for bio in state.bios.values_mut() {
        if bio
            .plugged_by
            .is_some_and(|owner| sleepers.contains(&owner))
        {
            bio.plugged_by = None;
        }
    }
}
