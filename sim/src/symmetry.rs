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
use model::state::{Bio, BioOwner, Dio, ObjId, State, Work};
use model::vec_map::VecMap;

use crate::oracle::Observer;

/// Visits every object identifier of `state`, keys and references, letting `f` rewrite it:
/// the keys of the bios, dios, io_ends and work items and every reference to one (a bio's
/// owner, a dio's `private`, a work item's dio or io_end, `i_private`, a writer's io_end, dio
/// and `get_block` io_end, its `iocb->private`, a writeback pass's `ext4_inode_aio` read).
/// `next_id` is left alone. [`rename_objects`] and [`object_ids`] are this one walk.
pub fn visit_objects(state: &mut State, f: &mut impl FnMut(&mut ObjId)) {
    let rekey = |mut id: ObjId, f: &mut dyn FnMut(&mut ObjId)| {
        f(&mut id);
        id
    };
    state.bios = std::mem::take(&mut state.bios)
        .into_iter()
        .map(|(id, mut bio)| {
            bio_refs(&mut bio, f);
            (rekey(id, f), bio)
        })
        .collect();
    state.dios = std::mem::take(&mut state.dios)
        .into_iter()
        .map(|(id, mut dio)| {
            dio_refs(&mut dio, f);
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
            work_refs(&mut work, f);
            (rekey(id, f), work)
        })
        .collect();
    inode_and_actor_refs(state, f);
}

/// Visits the identifier a bio refers to (its owner: a dio or a writeback io_end).
fn bio_refs(bio: &mut Bio, f: &mut impl FnMut(&mut ObjId)) {
    match &mut bio.owner {
        BioOwner::Dio(d) | BioOwner::Writeback(d) => f(d),
    }
}

/// Visits the identifier a dio refers to (its `private` io_end).
fn dio_refs(dio: &mut Dio, f: &mut impl FnMut(&mut ObjId)) {
    if let Some(id) = &mut dio.private {
        f(id);
    }
}

/// Visits the identifiers a work item refers to (its dio, and the io_end its writeback
/// read, or its io_end).
fn work_refs(work: &mut Work, f: &mut impl FnMut(&mut ObjId)) {
    match work {
        Work::DioComplete { dio, wb_map, .. } => {
            f(dio);
            if let Some(Some(id)) = wb_map {
                f(id);
            }
        }
        Work::EndIo { io_end } => f(io_end),
        Work::Commit { .. } => {}
    }
}

/// Visits the identifiers the inodes (`i_private`) and the actors (a writeback pass's
/// `ext4_inode_aio` read; a writer's io_end, dio, `get_block` io_end and `iocb->private`)
/// refer to.
fn inode_and_actor_refs(state: &mut State, f: &mut impl FnMut(&mut ObjId)) {
    for inode in &mut state.inodes {
        if let Some(id) = &mut inode.i_private {
            f(id);
        }
    }
    for actor in &mut state.actors {
        if let Some(Some(id)) = &mut actor.wb_map {
            f(id);
        }
        if let Frame::Write(w) = &mut actor.frame {
            for id in [&mut w.io_end, &mut w.dio, &mut w.gb_io]
                .into_iter()
                .flatten()
            {
                f(id);
            }
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
/// ([`Observer::forget_unread_order`]). The same value as [`canonical_fingerprint_slow`]
/// (`sim/tests/symmetry_twins.rs`), built with less copying: the identifiers are gathered
/// without rebuilding any map ([`held_ids`]), and a state whose identifiers already are
/// their ranks (`1..=n`, with `next_id` at `n`: nothing freed since) is its own renaming,
/// so it is hashed as it stands and only the history is copied (to forget its order).
pub fn canonical_fingerprint(state: &State, observer: &Observer) -> u64 {
    let (ranked, count) = IDS.with_borrow_mut(|ids| {
        ids.clear();
        held_ids(state, observer, ids);
        ids.sort_unstable();
        ids.dedup();
        (are_ranks(ids), ids.len() as ObjId)
    });
    let mut observer = observer.clone();
    if ranked && state.next_id == count {
        observer.forget_unread_order(state);
        return crate::fingerprint::fingerprint(state, &observer);
    }
    let renamed = IDS.with_borrow(|ids| {
        if !ranked {
            observer.visit_objects(&mut |id| *id = rank(ids, *id));
        }
        renamed_state(state, |id| rank(ids, id), count)
    });
    observer.forget_unread_order(&renamed);
    crate::fingerprint::fingerprint(&renamed, &observer)
}

/// `state` with its object identifiers renamed by `to` (order-preserving) and `next_id` set
/// to `next_id`: what [`rename_objects`] makes of a copy, built in one pass (each map of
/// identifiers collected once, renamed, instead of copied and then rebuilt).
fn renamed_state(state: &State, to: impl Fn(ObjId) -> ObjId, next_id: ObjId) -> State {
    let State {
        geometry,
        mount,
        inodes,
        disk,
        aio_mutex,
        bios,
        dios,
        io_ends,
        work,
        actors,
        next_id: _,
        crashed,
        journal,
        hazard,
        patches,
    } = state;
    let mut f = |id: &mut ObjId| *id = to(*id);
    let mut renamed = State {
        geometry: *geometry,
        mount: *mount,
        inodes: inodes.clone(),
        disk: disk.clone(),
        aio_mutex: aio_mutex.clone(),
        bios: Default::default(),
        dios: Default::default(),
        io_ends: io_ends.iter().map(|(&id, e)| (to(id), e.clone())).collect(),
        work: Default::default(),
        actors: actors.clone(),
        next_id,
        crashed: *crashed,
        journal: journal.clone(),
        hazard: hazard.clone(),
        patches: *patches,
    };
    renamed.bios = renamed_map(bios, &to, |bio| bio_refs(bio, &mut f));
    renamed.dios = renamed_map(dios, &to, |dio| dio_refs(dio, &mut f));
    renamed.work = renamed_map(work, &to, |w| work_refs(w, &mut f));
    inode_and_actor_refs(&mut renamed, &mut f);
    renamed
}

/// A copy of `map` with its keys renamed by `to` (order-preserving, so the copy stays
/// sorted) and each value's references by `refs`.
fn renamed_map<V: Clone, M: FromIterator<(ObjId, V)>>(
    map: &VecMap<ObjId, V>,
    to: &impl Fn(ObjId) -> ObjId,
    mut refs: impl FnMut(&mut V),
) -> M {
    map.iter()
        .map(|(&id, v)| {
            let mut v = v.clone();
            refs(&mut v);
            (to(id), v)
        })
        .collect()
}

/// The slow twin of [`canonical_fingerprint`]: the whole state and history copied, every
/// identifier renamed ([`canonical`]), the order forgotten, then hashed.
pub fn canonical_fingerprint_slow(state: &State, observer: &Observer) -> u64 {
    let (state, mut observer, _) = canonical(state, observer);
    observer.forget_unread_order(&state);
    crate::fingerprint::fingerprint(&state, &observer)
}

std::thread_local! {
    /// [`canonical_fingerprint`]'s list of identifiers, kept between calls on one thread so
    /// that it allocates once (its contents never outlive a call).
    static IDS: std::cell::RefCell<Vec<ObjId>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `ids` (sorted, without repeats) are `1, 2, …, n`: each its own rank.
fn are_ranks(ids: &[ObjId]) -> bool {
    ids.iter().zip(1..).all(|(&id, rank)| id == rank)
}

/// Appends to `out` every object identifier `state` and the oracles' history hold: the
/// identifiers [`object_ids`] and [`Observer::visit_objects`] visit, read in place.
pub fn held_ids(state: &State, observer: &Observer, out: &mut Vec<ObjId>) {
    state_ids(state, out);
    let h = observer.history();
    for (&id, record) in &h.bios {
        out.extend(record.io_end);
        out.push(id);
    }
    out.extend(h.conversions.keys());
    out.extend(h.landed.keys());
    out.extend(h.landed_superseded.keys());
}

/// Appends to `out` every object identifier of `state`, keys and references: those
/// [`visit_objects`] visits, read without rebuilding the maps.
fn state_ids(state: &State, out: &mut Vec<ObjId>) {
    for (&id, bio) in state.bios.iter() {
        match bio.owner {
            BioOwner::Dio(d) | BioOwner::Writeback(d) => out.push(d),
        }
        out.push(id);
    }
    for (&id, dio) in &state.dios {
        out.extend(dio.private);
        out.push(id);
    }
    out.extend(state.io_ends.keys());
    for (&id, work) in &state.work {
        match work {
            Work::DioComplete { dio, wb_map, .. } => {
                out.push(*dio);
                out.extend(wb_map.flatten());
            }
            Work::EndIo { io_end } => out.push(*io_end),
            Work::Commit { .. } => {}
        }
        out.push(id);
    }
    out.extend(state.inodes.iter().filter_map(|inode| inode.i_private));
    for actor in &state.actors {
        out.extend(actor.wb_map.flatten());
        if let Frame::Write(w) = &actor.frame {
            out.extend([w.io_end, w.dio, w.gb_io].into_iter().flatten());
            if let IocbPrivate::IoEnd(id) = w.iocb_private {
                out.push(id);
            }
        }
    }
}

/// [`canonical_fingerprint`] keeping the history's whole order of events (every step number
/// as its rank): the symmetry key before [`Observer::forget_unread_order`], which the
/// reduction tests hold the coarser key against (its twin for the history's order, not for
/// the copying [`canonical_fingerprint_slow`] stands for).
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
