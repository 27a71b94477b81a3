//! The breadth-first search's fingerprint of a state: a fast deterministic 64-bit hash over
//! only what a step can change, and a visited set that takes the fingerprint as its own hash.
//!
//! [`fingerprint`] is the fast one the search uses; [`fingerprint_slow`] is its slow twin
//! (SipHash with fixed keys over the whole state), kept for the differential test
//! (`sim/tests/speed_twins.rs`): over every state a bounded search of each example reaches,
//! the two split the states alike.
//!
//! The fingerprint is a sum of per-slot hashes: one slot per part a step marks
//! ([`model::mark::Touched`]: the disk's sectors, the bios, the io_ends, each inode's page
//! cache and block map, each actor) and one for the rest (everything else, with the oracles'
//! history summary), each hashed by [`FoldHasher`] with its slot's key first, summed
//! (wrapping) and mixed once more. A successor shares with its parent every part its step
//! left unmarked, so the expansion ([`crate::expand`]) hashes a parent's parts once
//! ([`Parts::of`]) and per successor rehashes only the marked parts and the rest
//! ([`Parts::fingerprint_after`]); it equals [`fingerprint`] exactly
//! (`sim/tests/fingerprint_twins.rs`, over every successor of bounded searches of every
//! example and corpus entry, with a planted wrong mark it must catch).
//!
//! Collisions: two different states with one fingerprint would make the search skip the
//! second. Two states that differ in what the fingerprint reads differ in the rest (which
//! holds the numbers of inodes and actors: if those are equal, so are the slots) or in at
//! least one slot's part. Each slot's hash is a well-mixed 64-bit value of its key and its
//! contents (the key sets equal contents in two slots apart), so the difference of the two
//! sums is as good as uniform, and the sums agree with chance about `2^-64`; the last mix
//! keeps that. The chance of any collision among `n` states is then about `n² / 2^65`: under
//! one in a million for the canonical scenario's ~2 million states.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use model::mark::Touched;
use model::ops::Frame;
use model::state::{Actor, ActorId, Disk, Inode, MapEntry, ObjId, State};
use model::vec_map::VecMap;

use crate::oracle::Observer;

/// The multiplier of [`FoldHasher`]'s mixing step: an odd 64-bit constant with its bits
/// spread evenly (the fractional part of the golden ratio).
const FOLD_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
/// The multiplier of [`FoldHasher::finish`]'s last mix (another odd constant with spread bits).
const FINISH_MULTIPLIER: u64 = 0xd6e8_feb8_6659_fd93;
/// The multiplier of the last mix of the slots' summed hashes ([`fingerprint`]; another odd
/// constant with spread bits).
const COMBINE_MULTIPLIER: u64 = 0xa076_1d64_78bd_642f;
/// The hasher's starting value (any nonzero constant: a fixed seed, the same on every run).
const FOLD_SEED: u64 = 0x2d35_8dcc_aa6c_78a5;

/// Multiplies two words into 128 bits and folds the halves together with xor: one
/// multiplication that mixes every input bit into every output bit, and is not linear in
/// either input (so differences in two fields cannot cancel out the way they can under
/// xor-then-multiply).
fn fold(a: u64, b: u64) -> u64 {
    let wide = u128::from(a) * u128::from(b);
    (wide as u64) ^ ((wide >> 64) as u64)
}

/// A fast, deterministic 64-bit hasher: each word is xored into the running value, which is
/// then folded with a constant (`fold`). Bytes are taken eight at a time.
#[derive(Clone, Copy, Debug)]
pub struct FoldHasher {
    value: u64,
}

impl Default for FoldHasher {
    fn default() -> FoldHasher {
        FoldHasher { value: FOLD_SEED }
    }
}

impl FoldHasher {
    #[inline]
    fn word(&mut self, word: u64) {
        self.value = fold(self.value ^ word, FOLD_MULTIPLIER);
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.word(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            // The tail's length goes in with it: `[1]` and `[1, 0]` differ.
            self.word(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.word(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.word(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.word(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.word(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.word(n as u64);
    }

    fn finish(&self) -> u64 {
        fold(self.value, FINISH_MULTIPLIER)
    }
}

/// Hashes what a step can change of actor `actor`: everything but its program, which no step
/// changes. Listed by destructuring, so a new field of [`Actor`] must be placed here.
fn hash_actor(actor: &Actor, h: &mut FoldHasher) {
    hash_actor_with(actor, &actor.frame, &actor.wb_map, h);
}

/// [`hash_actor`] of `actor` with `frame` and `wb_map` (the parts that hold identifiers) in
/// place of its own.
fn hash_actor_with(actor: &Actor, frame: &Frame, wb_map: &MapEntry, h: &mut FoldHasher) {
    let Actor {
        program: _,
        op,
        frame: _,
        sleeping,
        results,
        wb_map: _,
        fdatawait,
        f_wb_err,
    } = actor;
    (op, frame, sleeping, results, wb_map, fdatawait, f_wb_err).hash(h);
}

/// Hashes inode `inode` but its page cache and block map (each a [`Part`] of its own), its
/// `i_private` named by `n`. Listed by destructuring, so a new field of [`Inode`] must be
/// placed here.
fn hash_inode_rest(inode: &Inode, n: &impl Naming, h: &mut FoldHasher) {
    let Inode {
        ino,
        extents,
        s_sync,
        dio_refused,
        state_dio_unwritten,
        state_dioread_lock,
        as_eio,
        wb_err,
        i_size,
        i_disksize,
        orphan,
        i_mutex,
        i_data_sem,
        invalidate_lock,
        i_dio_count,
        i_unwritten,
        i_ioend_count,
        i_private,
        map: _,
        pages: _,
        committed,
        sync_dirty,
        datasync_dirty,
        ordered,
        committing,
    } = inode;
    (
        ino,
        extents,
        s_sync,
        dio_refused,
        state_dio_unwritten,
        state_dioread_lock,
    )
        .hash(h);
    (
        as_eio, wb_err, i_size, i_disksize, orphan, i_mutex, i_data_sem,
    )
        .hash(h);
    let i_private = i_private.map(|id| n.name(id));
    (
        invalidate_lock,
        i_dio_count,
        i_unwritten,
        i_ioend_count,
        i_private,
    )
        .hash(h);
    (committed, sync_dirty, datasync_dirty, ordered, committing).hash(h);
}

/// The tag of the rest's slot ([`rest_hash`]): everything outside the marked parts.
const TAG_REST: u64 = 0;
/// The tag of the disk's sectors' slot.
const TAG_SECTORS: u64 = 1;
/// The tag of the bios' slot.
const TAG_BIOS: u64 = 2;
/// The tag of the io_ends' slot.
const TAG_IO_ENDS: u64 = 3;
/// The tag of an inode's page cache's slot.
const TAG_PAGES: u64 = 4;
/// The tag of an inode's block map's slot.
const TAG_MAP: u64 = 5;
/// The tag of an actor's slot.
const TAG_ACTOR: u64 = 6;
/// Bits of a slot's key below its tag: the inode's or actor's index.
const SLOT_INDEX_BITS: u32 = 32;
/// Slots before the inodes' in [`Parts`]: the sectors, the bios, the io_ends.
const FIXED_PARTS: usize = 3;

/// A part of the state the step marks ([`model::mark::Touched`]): hashed on its own, so that
/// a part the step left alone keeps its hash from the parent.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// The disk's sectors.
    Sectors,
    /// The bios in flight.
    Bios,
    /// The io_ends.
    IoEnds,
    /// An inode's page cache, by inode index.
    Pages(usize),
    /// An inode's block map, by inode index.
    Map(usize),
    /// An actor (all but its program), by actor index.
    Actor(usize),
}

impl Part {
    /// The part's slot key: its tag and index, hashed in first so that equal contents in two
    /// slots hash apart.
    fn slot(self) -> u64 {
        let (tag, index) = match self {
            Part::Sectors => (TAG_SECTORS, 0),
            Part::Bios => (TAG_BIOS, 0),
            Part::IoEnds => (TAG_IO_ENDS, 0),
            Part::Pages(ix) => (TAG_PAGES, ix),
            Part::Map(ix) => (TAG_MAP, ix),
            Part::Actor(a) => (TAG_ACTOR, a),
        };
        (tag << SLOT_INDEX_BITS) | index as u64
    }

    /// The step marked the part as written.
    fn marked(self, touched: Touched) -> bool {
        match self {
            Part::Sectors => touched.sectors(),
            Part::Bios => touched.bios(),
            Part::IoEnds => touched.io_ends(),
            Part::Pages(ix) => touched.pages(ix),
            Part::Map(ix) => touched.map(ix),
            Part::Actor(a) => ActorId::try_from(a).map_or(true, |a| touched.actor(a)),
        }
    }

    /// The part may hold an object identifier: the bios, the io_ends, an actor that holds
    /// one ([`crate::symmetry::actor_holds_ids`]).
    fn holds_ids(self, state: &State) -> bool {
        match self {
            Part::Bios | Part::IoEnds => true,
            Part::Actor(a) => crate::symmetry::actor_holds_ids(&state.actors[a]),
            Part::Sectors | Part::Pages(_) | Part::Map(_) => false,
        }
    }

    /// Where the part sits in `Parts::hashes` of a state with `inodes` inodes.
    fn position(self, inodes: usize) -> usize {
        match self {
            Part::Sectors => 0,
            Part::Bios => 1,
            Part::IoEnds => 2,
            Part::Pages(ix) => FIXED_PARTS + 2 * ix,
            Part::Map(ix) => FIXED_PARTS + 2 * ix + 1,
            Part::Actor(a) => FIXED_PARTS + 2 * inodes + a,
        }
    }
}

/// The sum (wrapping) of `hash` over the marked parts of `state`, taken in slot order: the
/// sectors, the bios, the io_ends, per inode its page cache and block map, per actor the
/// actor.
fn sum_parts(state: &State, mut hash: impl FnMut(Part) -> u64) -> u64 {
    let mut sum = 0u64;
    for part in [Part::Sectors, Part::Bios, Part::IoEnds] {
        sum = sum.wrapping_add(hash(part));
    }
    for ix in 0..state.inodes.len() {
        sum = sum.wrapping_add(hash(Part::Pages(ix)));
        sum = sum.wrapping_add(hash(Part::Map(ix)));
    }
    for a in 0..state.actors.len() {
        sum = sum.wrapping_add(hash(Part::Actor(a)));
    }
    sum
}

/// [`FoldHasher`] over `part` of `state`, keyed by its slot.
fn part_hash(state: &State, part: Part) -> u64 {
    let mut h = FoldHasher::default();
    h.word(part.slot());
    match part {
        Part::Sectors => state.disk.sectors.hash(&mut h),
        Part::Bios => state.bios.hash(&mut h),
        Part::IoEnds => state.io_ends.hash(&mut h),
        Part::Pages(ix) => state.inodes[ix].pages.hash(&mut h),
        Part::Map(ix) => state.inodes[ix].map.hash(&mut h),
        Part::Actor(a) => hash_actor(&state.actors[a], &mut h),
    }
    h.finish()
}

/// [`part_hash`] of `part` of `state` with its object identifiers named by `n`: a part that
/// holds none (the sectors, page caches, block maps, an actor without one), or any part when
/// `n` renames nothing, is hashed in place; the bios, the io_ends and an actor holding an
/// identifier are hashed as their renamed copies would be, value by value.
fn named_part_hash(state: &State, part: Part, n: &impl Naming) -> u64 {
    if !n.renames() {
        return part_hash(state, part);
    }
    let mut h = FoldHasher::default();
    match part {
        Part::Bios => {
            h.word(part.slot());
            hash_named_map(
                &state.bios,
                n,
                |v, mut f| crate::symmetry::bio_refs(v, &mut f),
                &mut h,
            );
        }
        Part::IoEnds => {
            h.word(part.slot());
            hash_named_map(&state.io_ends, n, |_, _| {}, &mut h);
        }
        Part::Actor(a) if crate::symmetry::actor_holds_ids(&state.actors[a]) => {
            h.word(part.slot());
            let actor = &state.actors[a];
            let (mut frame, mut wb_map) = (actor.frame.clone(), actor.wb_map);
            crate::symmetry::actor_refs(&mut frame, &mut wb_map, &mut |id: &mut ObjId| {
                *id = n.name(*id);
            });
            hash_actor_with(actor, &frame, &wb_map, &mut h);
        }
        _ => return part_hash(state, part),
    }
    h.finish()
}

/// Hashes `map` as its copy with every key and each value's references (`refs`) named by
/// `n` would hash (the naming keeps the keys' order): what `VecMap`'s `Hash` feeds, the
/// length, then each key and value.
fn hash_named_map<V: Clone + Hash>(
    map: &VecMap<ObjId, V>,
    n: &impl Naming,
    refs: impl Fn(&mut V, &mut dyn FnMut(&mut ObjId)),
    h: &mut FoldHasher,
) {
    h.write_usize(map.len());
    for (&id, v) in map {
        n.name(id).hash(h);
        let mut v = v.clone();
        refs(&mut v, &mut |id| *id = n.name(*id));
        v.hash(h);
    }
}

/// Hashes `map` with its identifiers named by `n` ([`hash_named_map`]), or in place when
/// `n` renames nothing.
fn hash_map_as<V: Clone + Hash>(
    map: &VecMap<ObjId, V>,
    n: &impl Naming,
    refs: impl Fn(&mut V, &mut dyn FnMut(&mut ObjId)),
    h: &mut FoldHasher,
) {
    if n.renames() {
        hash_named_map(map, n, refs, h);
    } else {
        map.hash(h);
    }
}

/// [`FoldHasher`] over the rest of `state` (what no mark covers) and the oracles' history
/// summary, keyed by the rest's slot. It leaves out the geometry, the mount options, the
/// patches and each actor's program, which stay fixed within one search (a search starts
/// from one state). Listed by destructuring, so a new field of [`State`] must be placed here
/// (hashed, left to a [`Part`], or left out with a reason).
fn rest_hash(state: &State, summary: &impl Hash, n: &impl Naming) -> u64 {
    let State {
        geometry: _,
        mount: _,
        inodes,
        disk,
        aio_mutex,
        bios: _,
        dios,
        io_ends: _,
        work,
        actors,
        next_id,
        crashed,
        journal,
        hazard,
        patches: _,
    } = state;
    let Disk {
        sectors: _,
        free,
        freed_uncommitted,
    } = disk;
    let mut h = FoldHasher::default();
    h.word(TAG_REST << SLOT_INDEX_BITS);
    h.write_usize(inodes.len());
    for inode in inodes {
        hash_inode_rest(inode, n, &mut h);
    }
    (free, freed_uncommitted, aio_mutex).hash(&mut h);
    hash_map_as(
        dios,
        n,
        |v, mut f| crate::symmetry::dio_refs(v, &mut f),
        &mut h,
    );
    hash_map_as(
        work,
        n,
        |v, mut f| crate::symmetry::work_refs(v, &mut f),
        &mut h,
    );
    h.write_usize(actors.len());
    (n.next_id(*next_id), crashed, journal, hazard).hash(&mut h);
    summary.hash(&mut h);
    h.finish()
}

/// The fingerprint from the sum of the slots' hashes: one last mix.
fn combine(sum: u64) -> u64 {
    fold(sum, COMBINE_MULTIPLIER)
}

/// The fast fingerprint of `state` and the oracles' history summary, for the visited set:
/// the sum of per-slot hashes (the rest and each marked part),
/// mixed once more. [`Parts::fingerprint_after`] is its incremental form, which rehashes
/// only the parts a step marked; the two are equal on every state
/// (`sim/tests/fingerprint_twins.rs`).
pub fn fingerprint(state: &State, observer: &Observer) -> u64 {
    let parts = sum_parts(state, |part| part_hash(state, part));
    combine(rest_hash(state, &observer.summary(), &AsIs).wrapping_add(parts))
}

/// How a key names the object identifiers of a state: [`fingerprint`] as they stand
/// ([`AsIs`]), the symmetry key by an order-preserving renaming
/// ([`crate::symmetry::canonical_fingerprint`]).
pub trait Naming {
    /// Whether some identifier is renamed (else every part is hashed in place).
    fn renames(&self) -> bool;
    /// The name of identifier `id`. Order-preserving: `a < b` gives `name(a) < name(b)`.
    fn name(&self, id: ObjId) -> ObjId;
    /// The `next_id` hashed for a state whose own is `next_id`.
    fn next_id(&self, next_id: ObjId) -> ObjId;
}

/// The identifiers as they stand: [`fingerprint`]'s naming.
pub struct AsIs;

impl Naming for AsIs {
    #[inline]
    fn renames(&self) -> bool {
        false
    }

    #[inline]
    fn name(&self, id: ObjId) -> ObjId {
        id
    }

    #[inline]
    fn next_id(&self, next_id: ObjId) -> ObjId {
        next_id
    }
}

/// [`fingerprint`] of the copy of `state` whose object identifiers (every one
/// [`crate::symmetry::visit_objects`] visits) and `next_id` are named by `n`, with the
/// history's part given as `summary`, what the so renamed observer's summary hashes as (the
/// symmetry key's [`Observer::canonical_summary`], read in place), computed without the
/// copy: the parts that hold no identifier hash the same renamed or not, so they are hashed
/// in place, and the others value by value with each identifier renamed as it is hashed.
pub fn named_fingerprint_with(state: &State, summary: &impl Hash, n: &impl Naming) -> u64 {
    let parts = sum_parts(state, |part| named_part_hash(state, part, n));
    combine(rest_hash(state, summary, n).wrapping_add(parts))
}

/// The marked parts' hashes of one state (the parent of the successors a search expands),
/// for [`Parts::fingerprint_after`].
#[derive(Clone, Debug)]
pub struct Parts {
    /// The parent's inodes.
    inodes: usize,
    /// Per part, in slot order (`Part::position`), its hash.
    hashes: Vec<u64>,
}

impl Parts {
    /// The hash of every marked part of `parent`.
    pub fn of(parent: &State) -> Parts {
        let slots = FIXED_PARTS + 2 * parent.inodes.len() + parent.actors.len();
        let mut hashes = Vec::with_capacity(slots);
        sum_parts(parent, |part| {
            let hash = part_hash(parent, part);
            hashes.push(hash);
            hash
        });
        Parts {
            inodes: parent.inodes.len(),
            hashes,
        }
    }

    /// `part`'s hash in the parent, if the parent has `part`.
    fn get(&self, part: Part) -> Option<u64> {
        let present = match part {
            Part::Pages(ix) | Part::Map(ix) => ix < self.inodes,
            _ => true,
        };
        present
            .then(|| self.hashes.get(part.position(self.inodes)).copied())
            .flatten()
    }

    /// [`fingerprint`] of `state`, a successor of the parent whose steps wrote only the
    /// parts `touched` marks (and what no mark covers): those are hashed afresh, the others
    /// taken from the parent. Equal to [`fingerprint`] whenever `touched` covers every
    /// change to a marked part (as [`State::touched`] does after a step).
    pub fn fingerprint_after(&self, state: &State, observer: &Observer, touched: Touched) -> u64 {
        self.named_fingerprint_after(state, observer, touched, &AsIs)
    }

    /// [`named_fingerprint_with`] of `state` (a successor of the parent, as for
    /// [`Parts::fingerprint_after`]) under naming `n`: a part the step left unmarked keeps
    /// its hash from the parent unless `n` renames an identifier it holds (the parent's
    /// parts are hashed as they stand, and a part without identifiers hashes the same
    /// renamed or not).
    pub fn named_fingerprint_after(
        &self,
        state: &State,
        observer: &Observer,
        touched: Touched,
        n: &impl Naming,
    ) -> u64 {
        self.named_fingerprint_after_with(state, &observer.summary(), touched, n)
    }

    /// [`Parts::named_fingerprint_after`] with the history's part given as `summary` (as
    /// for [`named_fingerprint_with`]).
    pub fn named_fingerprint_after_with(
        &self,
        state: &State,
        summary: &impl Hash,
        touched: Touched,
        n: &impl Naming,
    ) -> u64 {
        let parts = sum_parts(state, |part| {
            let kept = if part.marked(touched) || (n.renames() && part.holds_ids(state)) {
                None
            } else {
                self.get(part)
            };
            kept.unwrap_or_else(|| named_part_hash(state, part, n))
        });
        combine(rest_hash(state, summary, n).wrapping_add(parts))
    }
}

/// A visited-set key computed from the parent's [`Parts`] and the step's mark: the
/// incremental form of a [`crate::frontier::Key`].
pub type IncrementalKey = fn(&Parts, &State, &Observer, Touched) -> u64;

/// The incremental form of `key`, when it has one: [`Parts::fingerprint_after`] for
/// [`fingerprint`], [`crate::symmetry::canonical_fingerprint_after`] for the symmetry key
/// (checked by function address, as [`is_fingerprint`]: a miss only leaves the search
/// hashing whole states).
pub fn incremental_key(key: fn(&State, &Observer) -> u64) -> Option<IncrementalKey> {
    let symmetry = crate::symmetry::canonical_fingerprint as fn(&State, &Observer) -> u64;
    if is_fingerprint(key) {
        Some(|parts, state, observer, touched| parts.fingerprint_after(state, observer, touched))
    } else if std::ptr::fn_addr_eq(key, symmetry) {
        Some(crate::symmetry::canonical_fingerprint_after)
    } else {
        None
    }
}

/// Whether `key` is [`fingerprint`] itself (not another key, such as the symmetry
/// reduction's), so that a search may use [`Parts::fingerprint_after`] in its place. Function
/// addresses can only err towards `false` here (one function, two copies), never `true` for a
/// key computing something else: the search then hashes whole states, as slowly as before.
pub fn is_fingerprint(key: fn(&State, &Observer) -> u64) -> bool {
    std::ptr::fn_addr_eq(key, fingerprint as fn(&State, &Observer) -> u64)
}

/// The slow twin of [`fingerprint`]: SipHash with fixed keys over the whole state and the
/// summary (the search's fingerprint before the fast one).
pub fn fingerprint_slow(state: &State, observer: &Observer) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    state.hash(&mut hasher);
    observer.summary().hash(&mut hasher);
    hasher.finish()
}

/// A hasher for keys that are fingerprints already: a `u64` is its own hash (no second
/// hashing). Anything else is folded in as [`FoldHasher`] does.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdentityHasher {
    value: u64,
}

impl Hasher for IdentityHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut inner = FoldHasher {
            value: self.value ^ FOLD_SEED,
        };
        inner.write(bytes);
        self.value = inner.finish();
    }

    fn write_u64(&mut self, n: u64) {
        self.value = n;
    }

    fn finish(&self) -> u64 {
        self.value
    }
}

/// The visited set of fingerprints, hashed by [`IdentityHasher`].
pub type Visited = std::collections::HashSet<u64, BuildHasherDefault<IdentityHasher>>;

/// A visited set holding `first`.
pub fn visited_with(first: u64) -> Visited {
    let mut visited = Visited::default();
    visited.insert(first);
    visited
}
