//! Symmetry of object identifiers. Bios, dios, io_ends and work items get their identifiers
//! from one counter ([`State::new_id`]), and the model and the oracles only compare them
//! (equality, and order: a serial workqueue runs its items in identifier order). Two states
//! that differ only by an order-preserving renaming of those identifiers therefore have the
//! same futures, step for step, with the same verdicts.
//!
//! [`rename_objects`] rewrites every identifier a state holds (keys and references); the
//! liveness search and [`canonical_fingerprint`] share it. [`canonical_fingerprint`] is the
//! visited-set key of the reduced breadth-first search: the state and the oracles' history
//! with every identifier either holds (live or dangling) replaced by its rank, 1, 2, …, and
//! `next_id` by their count, so that the next identifier handed out is still above every
//! one in use; the history's step numbers keep only what the oracles read of their order
//! ([`Observer::forget_unread_order`]). The renaming is a bijection on the identifiers that
//! appear, so nothing is merged that the model could tell apart. `sim/tests/reduction.rs`
//! checks that stepping commutes with the renaming on every state the small examples reach,
//! and that the history key is a bisimulation on them.

use model::exec::Task;
use model::ops::{Frame, IocbPrivate};
use model::state::{BioOwner, ObjId, State, Work};

use crate::oracle::Observer;

/// Visits every object identifier of `state`, keys and references, letting `f` rewrite it:
/// the keys of the bios, dios, io_ends and work items and every reference to one (a bio's
/// owner, a dio's `private`, a work item's dio or io_end, `i_private`, a writer's io_end, dio
/// and `get_block` io_end, its `iocb->private`, a writeback pass's `ext4_inode_aio` read).
/// `next_id` is left alone. [`rename_objects`] and [`object_ids`] are this one walk.
pub fn visit_objects(state: &mut State, f: &mut impl FnMut(&mut ObjId)) {
    let opt = |id: &mut Option<ObjId>, f: &mut dyn FnMut(&mut ObjId)| {
        if let Some(id) = id {
            f(id);
        }
    };
    let rekey = |mut id: ObjId, f: &mut dyn FnMut(&mut ObjId)| {
        f(&mut id);
        id
    };
    state.bios = std::mem::take(&mut state.bios)
        .into_iter()
        .map(|(id, mut bio)| {
            match &mut bio.owner {
                BioOwner::Dio(d) | BioOwner::Writeback(d) => f(d),
            }
            (rekey(id, f), bio)
        })
        .collect();
    state.dios = std::mem::take(&mut state.dios)
        .into_iter()
        .map(|(id, mut dio)| {
            opt(&mut dio.private, f);
            (rekey(id, f), dio)
        })
        .collect();
    state.io_ends = std::mem::take(&mut state.io_ends)
        .into_iter()
        .map(|(id, io_end)| (rekey(id, f), io_end))
        .collect();
    state.work = std::mem::take(&mut state.work)
        .into_iter()
        .map(|(id, mut work)| {
            match &mut work {
                Work::DioComplete { dio, wb_map, .. } => {
                    f(dio);
                    if let Some(entry) = wb_map {
                        opt(entry, f);
                    }
                }
                Work::EndIo { io_end } => f(io_end),
                Work::Commit { .. } => {}
            }
            (rekey(id, f), work)
        })
        .collect();
    for inode in &mut state.inodes {
        opt(&mut inode.i_private, f);
    }
    for actor in &mut state.actors {
        if let Some(entry) = &mut actor.wb_map {
            opt(entry, f);
        }
        if let Frame::Write(w) = &mut actor.frame {
            opt(&mut w.io_end, f);
            opt(&mut w.dio, f);
            opt(&mut w.gb_io, f);
            if let IocbPrivate::IoEnd(id) = &mut w.iocb_private {
                f(id);
            }
        }
    }
}

/// Renames every object identifier of `state` by `to` ([`visit_objects`]).
pub fn rename_objects(state: &mut State, to: impl Fn(ObjId) -> ObjId) {
    visit_objects(state, &mut |id| *id = to(*id));
}

/// Every object identifier `state` holds, keys and references, appended to `out`.
pub fn object_ids(state: &mut State, out: &mut Vec<ObjId>) {
    visit_objects(state, &mut |id| out.push(*id));
}

/// The order-preserving renaming onto 1, 2, …: each identifier of `ids` (sorted, without
/// repeats) to its rank plus one; any other to 0.
pub fn rank(ids: &[ObjId], id: ObjId) -> ObjId {
    ids.binary_search(&id).map_or(0, |r| r as ObjId + 1)
}

/// `task` with its object identifier renamed by `to` (actors keep their numbers).
pub fn rename_task(task: Task, to: impl Fn(ObjId) -> ObjId) -> Task {
    match task {
        Task::Actor(a) => Task::Actor(a),
        Task::Bio(id) => Task::Bio(to(id)),
        Task::BioError(id) => Task::BioError(to(id)),
        Task::Work(id) => Task::Work(to(id)),
    }
}

/// `point` with its object identifiers renamed onto their ranks among every identifier the
/// state and the oracles' history hold, and `next_id` their count.
pub fn canonical(state: &State, observer: &Observer) -> (State, Observer, Vec<ObjId>) {
    let (mut state, mut observer) = (state.clone(), observer.clone());
    let mut ids = Vec::new();
    object_ids(&mut state, &mut ids);
    observer.visit_objects(&mut |id| ids.push(*id));
    ids.sort_unstable();
    ids.dedup();
    rename_objects(&mut state, |id| rank(&ids, id));
    observer.visit_objects(&mut |id| *id = rank(&ids, *id));
    state.next_id = ids.len() as ObjId;
    (state, observer, ids)
}

/// The visited-set key of a state under symmetry: [`crate::fingerprint::fingerprint`] of its
/// [`canonical`] renaming, with of the history's order only what the oracles read
/// ([`Observer::forget_unread_order`]).
pub fn canonical_fingerprint(state: &State, observer: &Observer) -> u64 {
    let (state, mut observer, _) = canonical(state, observer);
    observer.forget_unread_order(&state);
    crate::fingerprint::fingerprint(&state, &observer)
}

/// [`canonical_fingerprint`] keeping the history's whole order of events (every step number
/// as its rank): the symmetry key before [`Observer::forget_unread_order`], its slow twin.
pub fn renamed_fingerprint(state: &State, observer: &Observer) -> u64 {
    let (state, observer, _) = canonical(state, observer);
    crate::fingerprint::fingerprint(&state, &observer)
}

/// The state and the history with of its order only what the oracles read, without
/// renaming: the persistent sets' key ([`crate::persistent`]), under which one task's
/// identifiers name the same objects in two states with one key.
pub fn order_fingerprint(state: &State, observer: &Observer) -> u64 {
    let mut observer = observer.clone();
    observer.forget_unread_order(state);
    crate::fingerprint::fingerprint(state, &observer)
}
