//! What a step touched: the change mark of [`crate::exec::Event::touched`].
//!
//! Not kernel code. The parts of the state the oracles' skips depend on (each inode's page
//! cache and block map, the disk's sectors, the bios and io_ends in flight, each actor) sit
//! in a [`Tracked`] cell. Reading goes through `Deref`; any mutable access goes through
//! `DerefMut`, which sets the cell's flag, so a write cannot reach the value without marking
//! it (a cell made new, by `Default` or by `Clone` starts marked: a part replaced wholesale is
//! marked too). The mark may over-report (a mutable access that writes nothing), never
//! under-report. The step clears the flags before it runs and collects them after
//! ([`crate::exec::step_listed`]); the flags stay set in the state until the next step, so a
//! reader of the state sees also what was written after the step ([`State::touched`]).
//! `sim/tests/marks.rs` is the slow twin: it diffs the state before and after each step part
//! by part and checks the mark covers every change.
//!
//! What a cell cannot see is itself being moved: a cell swapped with another, or sorted,
//! or removed and pushed back within a sequence of one length, keeps its flag while its
//! slot's value changes. The model never moves cells so (it writes through `DerefMut` or
//! puts new cells), and the readers of the marks (the incremental fingerprint, the oracles'
//! skips, the breadth-first search's copy of a parent over its successor) rely on it; the
//! diff of `marks.rs` would catch such a move as a change left unmarked.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

use crate::limits::{ACTORS_MAX, INODES_MAX};
use crate::state::{ActorId, InodeIx, State};

/// A part of the state whose mutable accesses mark it. Equality, order, hashing, `Debug` and
/// serde see the value alone: two states that differ only in their flags are the same state.
pub struct Tracked<T> {
    value: T,
    touched: bool,
}

impl<T> Tracked<T> {
    /// `value`, marked (a new part counts as written).
    pub const fn new(value: T) -> Tracked<T> {
        Tracked {
            value,
            touched: true,
        }
    }

    /// Written since the flag was last cleared.
    #[inline]
    pub fn marked(&self) -> bool {
        self.touched
    }

    /// Clears the flag (the step does, before it runs).
    fn unmark(&mut self) {
        self.touched = false;
    }

    /// The value to change without marking it: a deliberately unreported write, for the
    /// tests that show the twin of the mark catches one.
    #[doc(hidden)]
    pub fn unmarked_for_tests(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Tracked<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.touched = true;
        &mut self.value
    }
}

impl<T> From<T> for Tracked<T> {
    fn from(value: T) -> Tracked<T> {
        Tracked::new(value)
    }
}

impl<T: IntoIterator> IntoIterator for Tracked<T> {
    type Item = T::Item;
    type IntoIter = T::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        self.value.into_iter()
    }
}

impl<'t, T> IntoIterator for &'t Tracked<T>
where
    &'t T: IntoIterator,
{
    type Item = <&'t T as IntoIterator>::Item;
    type IntoIter = <&'t T as IntoIterator>::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        self.value.into_iter()
    }
}

/// Iterating to change marks the part.
impl<'t, T> IntoIterator for &'t mut Tracked<T>
where
    &'t mut T: IntoIterator,
{
    type Item = <&'t mut T as IntoIterator>::Item;
    type IntoIter = <&'t mut T as IntoIterator>::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        self.deref_mut().into_iter()
    }
}

impl<A, T: FromIterator<A>> FromIterator<A> for Tracked<T> {
    fn from_iter<I: IntoIterator<Item = A>>(iter: I) -> Tracked<T> {
        Tracked::new(T::from_iter(iter))
    }
}

impl<T: Default> Default for Tracked<T> {
    fn default() -> Tracked<T> {
        Tracked::new(T::default())
    }
}

/// A copy starts marked: a part copied over another is a write of that part.
impl<T: Clone> Clone for Tracked<T> {
    fn clone(&self) -> Tracked<T> {
        Tracked::new(self.value.clone())
    }
}

impl<T: PartialEq> PartialEq for Tracked<T> {
    fn eq(&self, other: &Tracked<T>) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Tracked<T> {}

impl<T: PartialOrd> PartialOrd for Tracked<T> {
    fn partial_cmp(&self, other: &Tracked<T>) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord> Ord for Tracked<T> {
    fn cmp(&self, other: &Tracked<T>) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T: Hash> Hash for Tracked<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<T: fmt::Debug> fmt::Debug for Tracked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: serde::Serialize> serde::Serialize for Tracked<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Tracked<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Tracked<T>, D::Error> {
        T::deserialize(deserializer).map(Tracked::new)
    }
}

/// The parts a step touched, as a bitset: per inode (up to [`INODES_MAX`]) its page cache and
/// its block map, per actor (up to [`ACTORS_MAX`]) the whole actor (frame, results, sleep,
/// flush state), the disk's sectors, the bios, the io_ends. An inode or actor past the limits
/// always counts as touched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Touched(u32);

/// First bit of the inodes' page caches.
const PAGES: u32 = 0;
/// First bit of the inodes' block maps.
const MAP: u32 = PAGES + INODES_MAX as u32;
/// First bit of the actors.
const ACTOR: u32 = MAP + INODES_MAX as u32;
/// The disk's sectors.
const SECTORS: u32 = ACTOR + ACTORS_MAX as u32;
/// The bios in flight.
const BIOS: u32 = SECTORS + 1;
/// The io_ends.
const IO_ENDS: u32 = BIOS + 1;
/// Every bit used.
const ALL: u32 = (1 << (IO_ENDS + 1)) - 1;
// Every bit, the actors' included, fits the mark's `u32` (with `ALL`'s shift).
const _: () = assert!(IO_ENDS + 1 < u32::BITS);

impl Touched {
    /// Everything touched.
    pub const ALL: Touched = Touched(ALL);

    #[inline]
    fn has(self, bit: u32) -> bool {
        self.0 & (1 << bit) != 0
    }

    #[inline]
    fn set(&mut self, bit: u32, touched: bool) {
        self.0 |= u32::from(touched) << bit;
    }

    /// Inode `ix`'s page cache.
    #[inline]
    pub fn pages(self, ix: InodeIx) -> bool {
        ix >= INODES_MAX || self.has(PAGES + ix as u32)
    }

    /// Inode `ix`'s block map (extents and delayed blocks).
    #[inline]
    pub fn map(self, ix: InodeIx) -> bool {
        ix >= INODES_MAX || self.has(MAP + ix as u32)
    }

    /// Some inode's page cache.
    #[inline]
    pub fn any_pages(self) -> bool {
        self.0 & (((1 << INODES_MAX) - 1) << PAGES) != 0
    }

    /// Some actor.
    #[inline]
    pub fn any_actor(self) -> bool {
        self.0 & (((1 << ACTORS_MAX) - 1) << ACTOR) != 0
    }

    /// Actor `a` (any of its fields).
    #[inline]
    pub fn actor(self, a: ActorId) -> bool {
        a as usize >= ACTORS_MAX || self.has(ACTOR + u32::from(a))
    }

    /// The marked actors among the first `count`, in increasing order: those
    /// [`Touched::actor`] reports, without testing each in turn (an actor from
    /// [`ACTORS_MAX`] on always counts as marked).
    #[inline]
    pub fn actors(self, count: usize) -> TouchedActors {
        let below = count.min(ACTORS_MAX);
        let mask = (1u32 << below) - 1;
        TouchedActors {
            bits: (self.0 >> ACTOR) & mask,
            wide: ACTORS_MAX..count.max(ACTORS_MAX),
        }
    }

    /// The disk's sectors.
    #[inline]
    pub fn sectors(self) -> bool {
        self.has(SECTORS)
    }

    /// The bios in flight.
    #[inline]
    pub fn bios(self) -> bool {
        self.has(BIOS)
    }

    /// The io_ends.
    #[inline]
    pub fn io_ends(self) -> bool {
        self.has(IO_ENDS)
    }

    /// Wrong on purpose, for the tests: the mark with every actor's part left out but
    /// `a`'s (as if only the actor that stepped could have changed).
    #[doc(hidden)]
    pub fn only_actor_for_tests(self, a: Option<ActorId>) -> Touched {
        let actors = ((1 << ACTORS_MAX) - 1) << ACTOR;
        let keep = a.map_or(0, |a| self.0 & (1 << (ACTOR + u32::from(a))));
        Touched((self.0 & !actors) | keep)
    }

    /// Both marks' parts.
    #[inline]
    pub fn union(self, other: Touched) -> Touched {
        Touched(self.0 | other.0)
    }

    /// Every part `self` marks is marked in `other` too.
    #[inline]
    pub fn within(self, other: Touched) -> bool {
        self.0 & !other.0 == 0
    }
}

/// The marked actors of a [`Touched`] ([`Touched::actors`]).
#[derive(Clone, Debug)]
pub struct TouchedActors {
    /// The marked actors below [`ACTORS_MAX`] not yet given, one bit each.
    bits: u32,
    /// The actors from [`ACTORS_MAX`] on not yet given.
    wide: std::ops::Range<usize>,
}

impl Iterator for TouchedActors {
    type Item = ActorId;

    #[inline]
    fn next(&mut self) -> Option<ActorId> {
        if self.bits != 0 {
            let a = self.bits.trailing_zeros();
            self.bits &= self.bits - 1;
            return Some(a as ActorId);
        }
        self.wide.next().map(|a| a as ActorId)
    }
}

impl State {
    /// The parts written since the flags were last cleared (by the step now running or the
    /// last one): what the last step touched, and anything written after it.
    #[inline]
    pub fn touched(&self) -> Touched {
        let mut t = Touched(0);
        let wide = self.inodes.len() > INODES_MAX || self.actors.len() > ACTORS_MAX;
        if wide {
            return Touched::ALL;
        }
        for (ix, inode) in self.inodes.iter().enumerate() {
            t.set(PAGES + ix as u32, inode.pages.marked());
            t.set(MAP + ix as u32, inode.map.marked());
        }
        for (a, actor) in self.actors.iter().enumerate() {
            t.set(ACTOR + a as u32, actor.marked());
        }
        t.set(SECTORS, self.disk.sectors.marked());
        t.set(BIOS, self.bios.marked());
        t.set(IO_ENDS, self.io_ends.marked());
        t
    }

    /// Clears every flag, as the step does first: for the tests.
    #[doc(hidden)]
    pub fn clear_touched_for_tests(&mut self) {
        self.clear_touched();
    }

    /// Clears every flag: what is written from now on is marked afresh.
    pub(crate) fn clear_touched(&mut self) {
        for inode in &mut self.inodes {
            inode.pages.unmark();
            inode.map.unmark();
        }
        for actor in &mut self.actors {
            actor.unmark();
        }
        self.disk.sectors.unmark();
        self.bios.unmark();
        self.io_ends.unmark();
    }
}
