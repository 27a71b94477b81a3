//! block/blk-core.c: the plug. A task's plugged bios are dispatched when it sleeps.

use crate::state::{ActorId, State};

/// `blk_schedule_flush_plug` from `schedule()`: an actor that cannot go on sleeps, and its
/// plugged bios are dispatched for good. `sleeps` says whether an actor cannot go on (the
/// engine's `actor_wait`, passed in: kernel code does not call the engine).
pub fn flush_plugs_of_sleepers(state: &mut State, sleeps: impl Fn(&State, ActorId) -> bool) {
    if plugged_sleepers(state, &sleeps).next().is_none() {
        return; // nothing to dispatch (asked without collecting): the bios stay unmarked
    }
    let sleepers: Vec<ActorId> = plugged_sleepers(state, &sleeps).collect();
    for bio in state.bios.values_mut() {
        if bio
            .plugged_by
            .is_some_and(|owner| sleepers.contains(&owner))
        {
            bio.plugged_by = None;
        }
    }
}

/// The owners of plugged bios that sleep (one per bio: an owner may repeat).
fn plugged_sleepers<'a>(
    state: &'a State,
    sleeps: &'a impl Fn(&State, ActorId) -> bool,
) -> impl Iterator<Item = ActorId> + 'a {
    (state.bios.values())
        .filter_map(|b| b.plugged_by)
        .filter(move |&owner| sleeps(state, owner))
}
