//! Symmetry of object identifiers. Bios, dios, io_ends and work items get their identifiers
//! from one counter ([`State::new_id`]), and the model and the oracles only compare them
//! (equality, and order: a serial workqueue runs its items in identifier order). Two states
//! that differ only by an order-preserving renaming of those identifiers therefore have the
//! same futures, step for step, with the same verdicts.
//!
//! [`rename_objects`] rewrites every identifier a state holds (keys and references); the
//! liveness search and the slow twin [`canonical_fingerprint_slow`] use it, while
//! [`canonical_fingerprint`] hashes the state as its renaming would be without building it
//! (through the same per-value visitors, `bio_refs` and the others), gathering the
//! identifiers in place into a set of bits that gives their ranks, by the walk that
//! [`held_ids`] lists them with: a read-only walk of the same places kept beside them
//! (`sim/tests/symmetry_twins.rs` compares the two lists). [`canonical_fingerprint`] is the
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
use model::state::{Actor, Bio, BioOwner, Dio, MapEntry, ObjId, State, Work};

use crate::fingerprint::Naming;
use crate::oracle::Observer;
use crate::oracle::history::CanonicalSummary;

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
pub(crate) fn bio_refs(bio: &mut Bio, f: &mut impl FnMut(&mut ObjId)) {
    match &mut bio.owner {
        BioOwner::Dio(d) | BioOwner::Writeback(d) => f(d),
    }
}

/// Visits the identifier a dio refers to (its `private` io_end).
pub(crate) fn dio_refs(dio: &mut Dio, f: &mut impl FnMut(&mut ObjId)) {
    if let Some(id) = &mut dio.private {
        f(id);
    }
}

/// Visits the identifiers a work item refers to (its dio, and the io_end its writeback
/// read, or its io_end).
pub(crate) fn work_refs(work: &mut Work, f: &mut impl FnMut(&mut ObjId)) {
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
        let actor: &mut Actor = actor;
        actor_refs(&mut actor.frame, &mut actor.wb_map, f);
    }
}

/// Visits the identifiers an actor refers to: in its `frame`, a writer's io_end, dio,
/// `get_block` io_end and `iocb->private`; in `wb_map`, a writeback pass's `ext4_inode_aio`
/// read.
pub(crate) fn actor_refs(frame: &mut Frame, wb_map: &mut MapEntry, f: &mut impl FnMut(&mut ObjId)) {
    if let Some(Some(id)) = wb_map {
        f(id);
    }
    if let Frame::Write(w) = frame {
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

/// An actor holds an object identifier (in its frame or `wb_map`, as [`actor_refs`] visits).
pub(crate) fn actor_holds_ids(actor: &Actor) -> bool {
    let frame = match &actor.frame {
        Frame::Write(w) => {
            w.io_end.is_some()
                || w.dio.is_some()
                || w.gb_io.is_some()
                || matches!(w.iocb_private, IocbPrivate::IoEnd(_))
        }
        _ => false,
    };
    frame || matches!(actor.wb_map, Some(Some(_)))
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
/// (`sim/tests/symmetry_twins.rs`), built without copying the state or the history: the
/// identifiers are gathered in place into a set of bits that gives their ranks, the history
/// is hashed as its renamed copy with its order forgotten would be
/// ([`Observer::canonical_summary`]), and the state as its renaming would be
/// ([`crate::fingerprint::named_fingerprint_with`]: the parts that hold no identifier in place,
/// the others value by value, renamed as they are hashed). When the identifiers already are
/// their ranks (`1..=n`: nothing freed since), nothing is renamed but `next_id`.
pub fn canonical_fingerprint(state: &State, observer: &Observer) -> u64 {
    canonical_key(state, observer, |summary, ranks| {
        crate::fingerprint::named_fingerprint_with(state, summary, ranks)
    })
}

/// [`canonical_fingerprint`] of `state`, a successor of the state whose parts `parts` holds
/// by a step that marked `touched`: the parts the step left unmarked and the renaming
/// leaves alone keep their hashes from the parent
/// ([`crate::fingerprint::Parts::named_fingerprint_after_with`]). The same value
/// (`sim/tests/symmetry_twins.rs`).
pub fn canonical_fingerprint_after(
    parts: &crate::fingerprint::Parts,
    state: &State,
    observer: &Observer,
    touched: model::mark::Touched,
) -> u64 {
    canonical_key(state, observer, |summary, ranks| {
        parts.named_fingerprint_after_with(state, summary, touched, ranks)
    })
}

/// The symmetry key of `state` and `observer` by `hash`, given the history's summary as
/// its renamed copy with its order forgotten would give it (read in place,
/// [`Observer::canonical_summary`]), and the renaming ([`Ranks`]) to hash the state under.
fn canonical_key(
    state: &State,
    observer: &Observer,
    hash: impl FnOnce(&CanonicalSummary<'_, Ranks<'_>>, &Ranks<'_>) -> u64,
) -> u64 {
    HELD.with_borrow_mut(|held| {
        held.clear();
        each_held_id(state, observer, &mut |id| held.insert(id));
        held.count();
        let ranks = Ranks {
            renames: !held.are_ranks(),
            held,
        };
        // The order the oracles read depends on the actors' programs and positions alone,
        // which the renaming leaves: the state as it stands serves for its renaming.
        let summary = observer.canonical_summary(state, &ranks);
        hash(&summary, &ranks)
    })
}

/// The renaming of [`canonical`] as a [`Naming`]: each identifier to its rank among those
/// held ([`HeldSet::rank`], what [`rank`] gives on their sorted list), and `next_id` to
/// their count.
struct Ranks<'a> {
    /// Some identifier is not its own rank.
    renames: bool,
    /// The identifiers held.
    held: &'a HeldSet,
}

impl Naming for Ranks<'_> {
    fn renames(&self) -> bool {
        self.renames
    }

    fn name(&self, id: ObjId) -> ObjId {
        if self.renames { self.held.rank(id) } else { id }
    }

    fn next_id(&self, _: ObjId) -> ObjId {
        self.held.held as ObjId
    }
}

/// Bits of a [`HeldSet`] word.
const WORD_BITS: usize = u64::BITS as usize;

/// The identifiers held, as a set of bits with the count of those below each word: ranks
/// without sorting, deduplicating or searching a list.
#[derive(Default)]
struct HeldSet {
    /// Bit `id % 64` of word `id / 64`: `id` is held.
    words: Vec<u64>,
    /// Per word, the identifiers held below it ([`HeldSet::count`]).
    below: Vec<u32>,
    /// Words that may have a bit set (all past them are clear).
    used: usize,
    /// The identifiers held ([`HeldSet::count`]).
    held: usize,
}

impl HeldSet {
    /// No identifier held.
    fn clear(&mut self) {
        self.words[..self.used].fill(0);
        self.used = 0;
    }

    /// `id` is held.
    fn insert(&mut self, id: ObjId) {
        let word = usize::from(id) / WORD_BITS;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << (usize::from(id) % WORD_BITS);
        self.used = self.used.max(word + 1);
    }

    /// Counts the identifiers held, below each word and in all.
    fn count(&mut self) {
        self.below.clear();
        let mut held = 0;
        for &word in &self.words[..self.used] {
            self.below.push(held);
            held += word.count_ones();
        }
        self.held = held as usize;
    }

    /// The rank of `id` among the identifiers held, from 1 (0 for one not held), as
    /// [`rank`] on their sorted list; after [`HeldSet::count`].
    fn rank(&self, id: ObjId) -> ObjId {
        let (word, bit) = (usize::from(id) / WORD_BITS, usize::from(id) % WORD_BITS);
        let Some(&w) = self.words[..self.used].get(word) else {
            return 0;
        };
        if w & (1 << bit) == 0 {
            return 0;
        }
        let below = self.below[word] + (w & ((1 << bit) - 1)).count_ones();
        below as ObjId + 1
    }

    /// The identifiers held are `1, 2, …, n`: each its own rank (0 not held, and the
    /// highest held is their count).
    fn are_ranks(&self) -> bool {
        let highest = self.words[..self.used]
            .iter()
            .rposition(|&w| w != 0)
            .map(|word| {
                word * WORD_BITS + (WORD_BITS - 1 - self.words[word].leading_zeros() as usize)
            });
        self.words.first().is_none_or(|&w| w & 1 == 0) && highest.unwrap_or(0) == self.held
    }
}

/// The slow twin of [`canonical_fingerprint`]: the whole state and history copied, every
/// identifier renamed ([`canonical`]), the order forgotten, then hashed.
pub fn canonical_fingerprint_slow(state: &State, observer: &Observer) -> u64 {
    let (state, mut observer, _) = canonical(state, observer);
    observer.forget_unread_order(&state);
    crate::fingerprint::fingerprint(&state, &observer)
}

std::thread_local! {
    /// [`canonical_fingerprint`]'s set of identifiers, kept between calls on one thread so
    /// that it allocates once (its contents never outlive a call).
    static HELD: std::cell::RefCell<HeldSet> = const {
        std::cell::RefCell::new(HeldSet {
            words: Vec::new(),
            below: Vec::new(),
            used: 0,
            held: 0,
        })
    };
}

/// Appends to `out` every object identifier `state` and the oracles' history hold: the
/// identifiers [`object_ids`] and [`Observer::visit_objects`] visit, read in place.
pub fn held_ids(state: &State, observer: &Observer, out: &mut Vec<ObjId>) {
    each_held_id(state, observer, &mut |id| out.push(id));
}

/// Calls `f` on every object identifier `state` and the oracles' history hold, as
/// [`held_ids`] lists them.
fn each_held_id(state: &State, observer: &Observer, f: &mut impl FnMut(ObjId)) {
    state_ids(state, f);
    let h = observer.history();
    for (&id, record) in &h.bios {
        record.io_end.into_iter().for_each(&mut *f);
        f(id);
    }
    h.conversions.keys().copied().for_each(&mut *f);
    h.landed.keys().copied().for_each(&mut *f);
    h.landed_superseded.keys().copied().for_each(f);
}

/// Calls `f` on every object identifier of `state`, keys and references: those
/// [`visit_objects`] visits, read without rebuilding the maps.
fn state_ids(state: &State, f: &mut impl FnMut(ObjId)) {
    for (&id, bio) in state.bios.iter() {
        match bio.owner {
            BioOwner::Dio(d) | BioOwner::Writeback(d) => f(d),
        }
        f(id);
    }
    for (&id, dio) in &state.dios {
        dio.private.into_iter().for_each(&mut *f);
        f(id);
    }
    state.io_ends.keys().copied().for_each(&mut *f);
    for (&id, work) in &state.work {
        match work {
            Work::DioComplete { dio, wb_map, .. } => {
                f(*dio);
                wb_map.flatten().into_iter().for_each(&mut *f);
            }
            Work::EndIo { io_end } => f(*io_end),
            Work::Commit { .. } => {}
        }
        f(id);
    }
    state
        .inodes
        .iter()
        .filter_map(|inode| inode.i_private)
        .for_each(&mut *f);
    for actor in &state.actors {
        actor.wb_map.flatten().into_iter().for_each(&mut *f);
        if let Frame::Write(w) = &actor.frame {
            [w.io_end, w.dio, w.gb_io]
                .into_iter()
                .flatten()
                .for_each(&mut *f);
            if let IocbPrivate::IoEnd(id) = w.iocb_private {
                f(id);
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
/// identifiers name the same objects in two states with one key. The history is read in
/// place ([`Observer::canonical_summary`] under no renaming); the same value as
/// [`order_fingerprint_slow`], which copies it (`sim/tests/symmetry_twins.rs`).
pub fn order_fingerprint(state: &State, observer: &Observer) -> u64 {
    let summary = observer.canonical_summary(state, &crate::fingerprint::AsIs);
    crate::fingerprint::named_fingerprint_with(state, &summary, &crate::fingerprint::AsIs)
}

/// The slow twin of [`order_fingerprint`]: the history copied, its order forgotten
/// ([`Observer::forget_unread_order`]), then the state and the copy fingerprinted.
pub fn order_fingerprint_slow(state: &State, observer: &Observer) -> u64 {
    let mut observer = observer.clone();
    observer.forget_unread_order(state);
    crate::fingerprint::fingerprint(state, &observer)
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Seeded sets of identifiers the bit set is checked on.
    const SETS: u64 = 2_000;
    /// Identifiers drawn for one set, at most (repeats allowed).
    const DRAWN: usize = 40;
    /// Identifiers are drawn below this: several words of the bit set.
    const ID_RANGE: ObjId = 400;

    /// The bit set's ranks, count and `are_ranks` against [`rank`] on the sorted list, over
    /// seeded sets (one set in four is `1..=n`, its own renaming), the set reused from one
    /// to the next as [`canonical_key`] reuses it.
    #[test]
    fn held_set_ranks_as_the_sorted_list() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut held = HeldSet::default();
        for _ in 0..SETS {
            let drawn = rng.random_range(0..=DRAWN);
            let mut ids: Vec<ObjId> = if rng.random_range(0..4) == 0 {
                (1..=drawn as ObjId).collect()
            } else {
                (0..drawn).map(|_| rng.random_range(0..ID_RANGE)).collect()
            };
            held.clear();
            ids.iter().for_each(|&id| held.insert(id));
            held.count();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(held.held, ids.len(), "{ids:?}");
            let own = ids.iter().zip(1..).all(|(&id, r)| id == r);
            assert_eq!(held.are_ranks(), own, "{ids:?}");
            for id in 0..ID_RANGE + 2 * WORD_BITS as ObjId {
                assert_eq!(held.rank(id), rank(&ids, id), "{id} in {ids:?}");
            }
        }
    }
}
