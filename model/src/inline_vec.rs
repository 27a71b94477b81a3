//! [`InlineVec`]: the vector the model state keeps its short lists of plain values in (a
//! page's or a bio's sectors, the pages a bio or io_end ends writeback on, the pages a flush
//! waits for, the disk's per-block flags, an actor's `f_wb_err` per inode).
//!
//! Not kernel code. The breadth-first search clones a state for every successor and drops
//! the states it has expanded; each non-empty `Vec` in a state costs a heap allocation on
//! every clone and a free on every drop. These lists hold a handful of `Copy` values, so up
//! to `N` of them sit inside the vector itself and are copied with the state; a longer list
//! (a geometry with many sectors a page) spills to a `Vec` on the heap, so nothing fails.
//!
//! **Guarantee**: an `InlineVec` behaves as a `Vec` with the same operations applied: the
//! same results and contents, and the same `Debug` text, `Hash` input (the slice's: its
//! length, then each item), equality, ordering and serde form (a sequence, so postcard
//! bytes are a `Vec`'s). Engines that print, hash, compare or store states see no
//! difference. `model/tests/inline_vec.rs` checks it against `Vec` over a seeded random
//! sequence of operations that crosses the inline/heap boundary both ways.
//!
//! The representation is canonical: inline exactly when the length is at most `N` (an
//! operation that shrinks a spilled vector to `N` items or fewer moves them back inline), so
//! a clone allocates only for a list longer than `N`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// Up to `N` `Copy` items inline, more on the heap. Reads and writes of the items go
/// through `Deref<Target = [T]>` / `DerefMut`; the length changes through the `Vec` methods
/// below.
#[derive(Clone)]
pub struct InlineVec<T, const N: usize> {
    repr: Repr<T, N>,
}

/// Where the items are: inline when there are at most `N`, else on the heap.
#[derive(Clone)]
enum Repr<T, const N: usize> {
    /// `items[..len]` are the items; the rest are never read (defaults, or items a
    /// shrinking operation left behind).
    Inline { len: u8, items: [T; N] },
    /// More than `N` items.
    Heap(Vec<T>),
}

impl<T: Copy + Default, const N: usize> InlineVec<T, N> {
    /// `N` fits the inline length counter (checked wherever a vector is made inline:
    /// [`InlineVec::new`] and `settle`).
    const N_FITS: () = assert!(N <= u8::MAX as usize, "InlineVec: N must fit a u8");

    /// An empty vector (allocates nothing).
    pub fn new() -> Self {
        let () = Self::N_FITS;
        InlineVec {
            repr: Repr::Inline {
                len: 0,
                items: [T::default(); N],
            },
        }
    }

    /// `len` copies of `value` (`vec![value; len]`).
    pub fn from_elem(value: T, len: usize) -> Self {
        let mut v = Self::new();
        v.resize(len, value);
        v
    }

    /// The items moved inline if there are at most `N` (the canonical form every
    /// operation leaves behind).
    fn settle(&mut self) {
        let () = Self::N_FITS;
        if let Repr::Heap(heap) = &self.repr
            && heap.len() <= N
        {
            let mut items = [T::default(); N];
            items[..heap.len()].copy_from_slice(heap);
            self.repr = Repr::Inline {
                len: heap.len() as u8,
                items,
            };
        }
    }

    /// The items on the heap (a `Vec` with room for `additional` more), to grow past `N`.
    fn spill(&mut self, additional: usize) -> &mut Vec<T> {
        if let Repr::Inline { len, items } = &self.repr {
            let mut heap = Vec::with_capacity(usize::from(*len) + additional);
            heap.extend_from_slice(&items[..usize::from(*len)]);
            self.repr = Repr::Heap(heap);
        }
        match &mut self.repr {
            Repr::Heap(heap) => heap,
            Repr::Inline { .. } => unreachable!("spilled just above"),
        }
    }

    /// Appends `value`.
    pub fn push(&mut self, value: T) {
        match &mut self.repr {
            Repr::Inline { len, items } if usize::from(*len) < N => {
                items[usize::from(*len)] = value;
                *len += 1;
            }
            _ => self.spill(1).push(value),
        }
    }

    /// Removes the last item and returns it, if any.
    pub fn pop(&mut self) -> Option<T> {
        let last = self.last().copied();
        if let Some(len) = self.len().checked_sub(1) {
            self.truncate(len);
        }
        last
    }

    /// Puts `value` at `index`, shifting the items after it up; panics past the end, as
    /// `Vec::insert` does.
    pub fn insert(&mut self, index: usize, value: T) {
        assert!(index <= self.len(), "insertion index past the end");
        self.push(value);
        self[index..].rotate_right(1);
    }

    /// Takes out the item at `index`, shifting the items after it down; panics past the end,
    /// as `Vec::remove` does.
    pub fn remove(&mut self, index: usize) -> T {
        assert!(index < self.len(), "removal index past the end");
        let value = self[index];
        self[index..].rotate_left(1);
        self.truncate(self.len() - 1);
        value
    }

    /// Keeps the first `new_len` items (nothing if already as short).
    pub fn truncate(&mut self, new_len: usize) {
        match &mut self.repr {
            Repr::Inline { len, .. } => {
                if new_len < usize::from(*len) {
                    *len = new_len as u8;
                }
            }
            Repr::Heap(heap) => heap.truncate(new_len),
        }
        self.settle();
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Makes the length `new_len`: truncates, or appends copies of `value`.
    pub fn resize(&mut self, new_len: usize, value: T) {
        match &mut self.repr {
            Repr::Inline { len, items } if new_len <= N => {
                items[usize::from(*len).min(new_len)..new_len].fill(value);
                *len = new_len as u8;
            }
            _ => {
                let grow = new_len.saturating_sub(self.len());
                self.spill(grow).resize(new_len, value);
                self.settle();
            }
        }
    }

    /// Keeps only the items `keep` accepts, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut kept = 0;
        for i in 0..self.len() {
            let item = self[i];
            if keep(&item) {
                self[kept] = item;
                kept += 1;
            }
        }
        self.truncate(kept);
    }

    /// Appends copies of the items of `other`.
    pub fn extend_from_slice(&mut self, other: &[T]) {
        match &mut self.repr {
            Repr::Inline { len, items } if usize::from(*len) + other.len() <= N => {
                let start = usize::from(*len);
                items[start..start + other.len()].copy_from_slice(other);
                *len += other.len() as u8;
            }
            _ => self.spill(other.len()).extend_from_slice(other),
        }
    }

    /// The items spilled to the heap (there are more than `N`): for tests of the
    /// representation.
    pub fn spilled(&self) -> bool {
        matches!(self.repr, Repr::Heap(_))
    }
}

impl<T, const N: usize> InlineVec<T, N> {
    /// The items.
    pub fn as_slice(&self) -> &[T] {
        match &self.repr {
            Repr::Inline { len, items } => &items[..usize::from(*len)],
            Repr::Heap(heap) => heap,
        }
    }

    /// The items, to change.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.repr {
            Repr::Inline { len, items } => &mut items[..usize::from(*len)],
            Repr::Heap(heap) => heap,
        }
    }
}

impl<T: Copy + Default, const N: usize> Default for InlineVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Deref for InlineVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T, const N: usize> DerefMut for InlineVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

/// Equal as the slices of items are (the representation is not compared).
impl<T: PartialEq, const N: usize> PartialEq for InlineVec<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq, const N: usize> Eq for InlineVec<T, N> {}

/// Equal to a `Vec` of the same items (as a `Vec` is to another).
impl<T: PartialEq, const N: usize> PartialEq<Vec<T>> for InlineVec<T, N> {
    fn eq(&self, other: &Vec<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// Equal to an array of the same items (as a `Vec` is).
impl<T: PartialEq, const N: usize, const M: usize> PartialEq<[T; M]> for InlineVec<T, N> {
    fn eq(&self, other: &[T; M]) -> bool {
        self.as_slice() == other
    }
}

/// Equal to a slice of the same items (as a `Vec` is).
impl<T: PartialEq, const N: usize> PartialEq<&[T]> for InlineVec<T, N> {
    fn eq(&self, other: &&[T]) -> bool {
        self.as_slice() == *other
    }
}

/// Ordered as the slices of items are (as `Vec`'s order).
impl<T: PartialOrd, const N: usize> PartialOrd for InlineVec<T, N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.as_slice().partial_cmp(other.as_slice())
    }
}

impl<T: Ord, const N: usize> Ord for InlineVec<T, N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

/// What `Vec`'s `Hash` feeds the hasher: the slice's (its length, then each item), so a
/// fingerprint of a state is the same over either vector.
impl<T: Hash, const N: usize> Hash for InlineVec<T, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

/// `[a, b, ...]`, as `Vec` prints.
impl<T: fmt::Debug, const N: usize> fmt::Debug for InlineVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<T: Copy + Default, const N: usize> Extend<T> for InlineVec<T, N> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        iter.into_iter().for_each(|item| self.push(item));
    }
}

impl<'a, T: Copy + Default + 'a, const N: usize> Extend<&'a T> for InlineVec<T, N> {
    fn extend<I: IntoIterator<Item = &'a T>>(&mut self, iter: I) {
        iter.into_iter().for_each(|item| self.push(*item));
    }
}

impl<T: Copy + Default, const N: usize> FromIterator<T> for InlineVec<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = Self::new();
        v.extend(iter);
        v
    }
}

impl<T: Copy + Default, const N: usize> From<&[T]> for InlineVec<T, N> {
    fn from(items: &[T]) -> Self {
        let mut v = Self::new();
        v.extend_from_slice(items);
        v
    }
}

impl<T: Copy + Default, const N: usize> From<Vec<T>> for InlineVec<T, N> {
    fn from(items: Vec<T>) -> Self {
        let mut v = InlineVec {
            repr: Repr::Heap(items),
        };
        v.settle();
        v
    }
}

impl<T: Copy + Default, const N: usize, const M: usize> From<[T; M]> for InlineVec<T, N> {
    fn from(items: [T; M]) -> Self {
        Self::from(&items[..])
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a InlineVec<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a mut InlineVec<T, N> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_mut_slice().iter_mut()
    }
}

/// A sequence of the items, as `Vec` serializes (postcard: the length, then each item).
impl<T: serde::Serialize, const N: usize> serde::Serialize for InlineVec<T, N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.as_slice())
    }
}

/// A sequence of items, as `Vec` deserializes.
impl<'de, T, const N: usize> serde::Deserialize<'de> for InlineVec<T, N>
where
    T: serde::Deserialize<'de> + Copy + Default,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(SeqVisitor(std::marker::PhantomData))
    }
}

/// Reads a sequence into an [`InlineVec`].
struct SeqVisitor<T, const N: usize>(std::marker::PhantomData<T>);

impl<'de, T, const N: usize> serde::de::Visitor<'de> for SeqVisitor<T, N>
where
    T: serde::Deserialize<'de> + Copy + Default,
{
    type Value = InlineVec<T, N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut v = InlineVec::new();
        while let Some(item) = seq.next_element()? {
            v.push(item);
        }
        Ok(v)
    }
}
