//! The hand-written byte form of the breadth-first search's queued records
//! ([`crate::frontier::encode`]): a model state and its observer, each field written in
//! declaration order with no self-description. Integers are LEB128 varints (signed ones
//! zigzagged first), `u8`, `bool` and enum tags one byte, an `Option` a tag byte then its
//! value, a sequence its length then its items. That is postcard's layout of the serde
//! derives, byte for byte: the hand codec is the fast twin of postcard
//! ([`crate::frontier::encode_slow`]), which the tests keep beside it and compare it with
//! (`sim/tests/codec_twins.rs`). Varints were measured against fixed-width little-endian
//! integers on the canonical scenario: fixed width doubles the records (raw and compressed)
//! and costs more in compression than it saves in decoding.
//!
//! A struct's impl destructures it whole (`record!`'s `let Type { a, b } = self`), so a
//! field added to the model breaks the build here instead of going missing from the queue.
//! Two values fall back to postcard: an actor's program ([`Op`]: the queue strips programs,
//! so a record holds none) and [`Patches`] (its bit set is private to the model; one per
//! record).
//!
//! Records come only from the search itself, so a record that does not decode is a bug:
//! decoding a cut or malformed record panics ([`CUT`], [`MALFORMED`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use model::fs::ext4::extents::{Extent, ExtentMap, ExtentState};
use model::fs::ext4::super_::{Geometry, Mount};
use model::include::fs::{FileFlags, Iocb, IovIter, KiFlags, Segment};
use model::mark::Tracked;
use model::ops::{
    CommitPc, CompletePc, DioPath, Frame, IocbPrivate, Op, OpResult, OtherFrame, OtherPc,
    WriteFrame, WritePc,
};
use model::patches::Patches;
use model::state::{
    Actor, Bio, BioOwner, Committed, Data, Dio, Disk, Hazard, Inode, IoEnd, Journal, Page, RwSem,
    Sleep, State, Work,
};
use model::vec_map::VecMap;

/// The panic message of a record that ends before its last field.
pub const CUT: &str = "a queued record is cut short";
/// The panic message of a record whose bytes no value encodes (a bad tag or an integer out
/// of its type's range).
pub const MALFORMED: &str = "a queued record is malformed";

/// Bits of payload in one varint byte.
const VARINT_BITS: u32 = 7;
/// The varint byte's flag: more bytes follow.
const VARINT_MORE: u8 = 0x80;

/// A value with a byte form: `put` appends it, `take` reads it back from the front of
/// `input` and moves `input` past it.
///
/// Three more methods reuse a value's heap buffers instead of allocating new ones, for the
/// breadth-first search's per-thread scratch states: [`Codec::take_into`] (decoding over an
/// old value), [`Codec::copy_from`] (copying over one) and [`Codec::copy_marked_from`]
/// (copying over a value copied from the same source, only its marked parts). Each leaves
/// the value equal, in every field, to what [`Codec::take`] or [`Clone::clone`] gives,
/// which stay their slow twins (`sim/tests/reuse_twins.rs`, `codec_marked.rs`); a type that
/// overrides none simply takes or clones anew.
pub trait Codec: Sized + Clone {
    /// Appends the value's bytes to `out`.
    fn put(&self, out: &mut Vec<u8>);
    /// Reads a value [`Codec::put`] wrote at the start of `input`, moving past it; panics
    /// ([`CUT`], [`MALFORMED`]) when `input` does not start with one.
    fn take(input: &mut &[u8]) -> Self;
    /// [`Codec::take`] over `self`: `self` becomes the value read, keeping what it can of
    /// its buffers.
    #[inline]
    fn take_into(&mut self, input: &mut &[u8]) {
        *self = Self::take(input);
    }
    /// `source.clone()` over `self`, keeping what it can of its buffers.
    #[inline]
    fn copy_from(&mut self, source: &Self) {
        *self = source.clone();
    }
    /// [`Codec::copy_from`] for a `self` that was copied from `source` and since then
    /// written only through its marked parts (the [`Tracked`] cells whose flag is set): an
    /// unmarked cell still holds `source`'s value, so it is only marked (as a copy is), not
    /// copied. Sequences of one length are walked item by item; anything else is copied
    /// whole. The breadth-first search copies a parent over the successor stepped before
    /// from that same parent; [`Codec::copy_from`] stays the slow twin
    /// (`sim/tests/codec_marked.rs` state by state, `reuse_search.rs` search by search).
    ///
    /// Sound only while nothing moves a whole [`Tracked`] cell without marking it (a swap,
    /// sort or remove-and-push of cells within a sequence of one length, `mem::swap` of two
    /// cells): the model writes cells only through their `DerefMut` or replaces them with
    /// new (marked) ones, the rule the incremental fingerprint rests on too
    /// ([`model::mark`]).
    #[inline]
    fn copy_marked_from(&mut self, source: &Self) {
        self.copy_from(source);
    }
}

/// The first byte of `input`, moved past.
#[inline]
fn byte(input: &mut &[u8]) -> u8 {
    let (&b, rest) = input.split_first().expect(CUT);
    *input = rest;
    b
}

/// Appends `n` as a varint: seven bits a byte, low first, the top bit set on all but the
/// last.
#[inline]
pub fn put_varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= u64::from(VARINT_MORE) {
        out.push(n as u8 | VARINT_MORE);
        n >>= VARINT_BITS;
    }
    out.push(n as u8);
}

/// Reads a varint [`put_varint`] wrote: one byte inline (most are), more
/// out of line.
#[inline]
pub fn take_varint(input: &mut &[u8]) -> u64 {
    match input.split_first() {
        Some((&b, rest)) if b & VARINT_MORE == 0 => {
            *input = rest;
            u64::from(b)
        }
        _ => take_long_varint(input),
    }
}

/// [`take_varint`] of any length.
#[inline(never)]
fn take_long_varint(input: &mut &[u8]) -> u64 {
    let (mut n, mut shift) = (0u64, 0);
    loop {
        let b = byte(input);
        assert!(shift < u64::BITS, "{MALFORMED}");
        // The tenth byte holds the top bit alone: more would be lost from a `u64`.
        let room = u64::BITS - shift;
        assert!(
            room >= VARINT_BITS || u32::from(b) >> room == 0,
            "{MALFORMED}"
        );
        n |= u64::from(b & !VARINT_MORE) << shift;
        if b & VARINT_MORE == 0 {
            return n;
        }
        shift += VARINT_BITS;
    }
}

/// Appends a sequence: its length, then each item. Every sequence type's impl writes
/// through it, from a slice.
#[inline]
pub fn put_slice<T: Codec>(items: &[T], out: &mut Vec<u8>) {
    put_varint(items.len() as u64, out);
    items.iter().for_each(|x| x.put(out));
}

/// Reads a sequence [`put_slice`] wrote: `make` gets the length (at most the bytes left,
/// as every item takes one at least) for the collection's capacity, `push` each item in
/// order. Every sequence type's impl reads through it.
#[inline]
pub fn take_seq<T: Codec, C>(
    input: &mut &[u8],
    make: impl FnOnce(usize) -> C,
    mut push: impl FnMut(&mut C, T),
) -> C {
    let n = usize::take(input);
    let mut items = make(n.min(input.len()));
    for _ in 0..n {
        push(&mut items, T::take(input));
    }
    items
}

/// Unsigned integers: a varint, range-checked on the way back.
macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Codec for $t {
            #[inline]
    fn put(&self, out: &mut Vec<u8>) {
                put_varint(*self as u64, out);
            }
            #[inline]
            fn take(input: &mut &[u8]) -> $t {
                <$t>::try_from(take_varint(input)).expect(MALFORMED)
            }
        }
    )*};
}
unsigned!(u16, u32, u64, usize);

impl Codec for u8 {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> u8 {
        byte(input)
    }
}

/// Zigzag, then a varint: small magnitudes of either sign take few bytes.
impl Codec for i64 {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        put_varint(((*self << 1) ^ (*self >> (i64::BITS - 1))) as u64, out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> i64 {
        let n = take_varint(input);
        ((n >> 1) as i64) ^ -((n & 1) as i64)
    }
}

impl Codec for bool {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    #[inline]
    fn take(input: &mut &[u8]) -> bool {
        match byte(input) {
            0 => false,
            1 => true,
            _ => panic!("{MALFORMED}"),
        }
    }
}

impl Codec for String {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        put_slice(self.as_bytes(), out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> String {
        String::from_utf8(Vec::take(input)).expect(MALFORMED)
    }
}

impl<T: Codec> Codec for Option<T> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(x) => {
                out.push(1);
                x.put(out);
            }
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Option<T> {
        bool::take(input).then(|| T::take(input))
    }
    #[inline]
    fn take_into(&mut self, input: &mut &[u8]) {
        match (bool::take(input), self.as_mut()) {
            (true, Some(x)) => x.take_into(input),
            (true, None) => *self = Some(T::take(input)),
            (false, _) => *self = None,
        }
    }
    #[inline]
    fn copy_from(&mut self, source: &Self) {
        match (self.as_mut(), source) {
            (Some(x), Some(y)) => x.copy_from(y),
            _ => self.clone_from(source),
        }
    }
}

impl<A: Codec, B: Codec> Codec for (A, B) {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> (A, B) {
        let a = A::take(input);
        (a, B::take(input))
    }
}

impl<A: Codec, B: Codec, C: Codec> Codec for (A, B, C) {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
        self.2.put(out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> (A, B, C) {
        let a = A::take(input);
        let b = B::take(input);
        (a, b, C::take(input))
    }
}

impl<T: Codec> Codec for Vec<T> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        put_slice(self, out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Vec<T> {
        take_seq(input, Vec::with_capacity, Vec::push)
    }
    /// The items it holds are read over, one by one; those beyond are dropped or pushed.
    #[inline]
    fn take_into(&mut self, input: &mut &[u8]) {
        let n = usize::take(input);
        self.truncate(n);
        self.iter_mut().for_each(|x| x.take_into(input));
        for _ in self.len()..n {
            self.push(T::take(input));
        }
    }
    /// The items it holds are copied over, one by one; those beyond are dropped or cloned.
    #[inline]
    fn copy_from(&mut self, source: &Self) {
        self.truncate(source.len());
        let (over, beyond) = source.split_at(self.len());
        self.iter_mut().zip(over).for_each(|(x, y)| x.copy_from(y));
        self.extend_from_slice(beyond);
    }
    /// Of the same length, item by item; else copied whole.
    #[inline]
    fn copy_marked_from(&mut self, source: &Self) {
        if self.len() == source.len() {
            self.iter_mut()
                .zip(source)
                .for_each(|(x, y)| x.copy_marked_from(y));
        } else {
            self.copy_from(source);
        }
    }
}

impl<T: Codec + Copy + Default, const N: usize> Codec for model::inline_vec::InlineVec<T, N> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        put_slice(self, out);
    }
    /// A list that fits inline is sized first and its items read into place (no push
    /// per item); a longer one is pushed item by item as [`take_seq`] does, so that a cut
    /// record's length allocates nothing before the cut is met.
    #[inline]
    fn take(input: &mut &[u8]) -> model::inline_vec::InlineVec<T, N> {
        let n = usize::take(input);
        let mut items = model::inline_vec::InlineVec::new();
        if n <= N {
            items.resize(n, T::default());
            items.iter_mut().for_each(|item| *item = T::take(input));
        } else {
            (0..n).for_each(|_| items.push(T::take(input)));
        }
        items
    }
}

impl<T: Codec> Codec for Box<T> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        (**self).put(out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Box<T> {
        Box::new(T::take(input))
    }
    #[inline]
    fn take_into(&mut self, input: &mut &[u8]) {
        (**self).take_into(input);
    }
    #[inline]
    fn copy_from(&mut self, source: &Self) {
        (**self).copy_from(source);
    }
    #[inline]
    fn copy_marked_from(&mut self, source: &Self) {
        (**self).copy_marked_from(source);
    }
}

impl<T: Codec> Codec for Arc<[T]> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        put_slice(self, out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Arc<[T]> {
        Vec::take(input).into()
    }
    /// An empty slice (a queued record's program, restored after) is the shared empty
    /// one.
    #[inline]
    fn take_into(&mut self, input: &mut &[u8]) {
        let items = Vec::take(input);
        *self = if items.is_empty() {
            Arc::default()
        } else {
            items.into()
        };
    }
}

impl<T: Codec> Codec for Tracked<T> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        (**self).put(out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Tracked<T> {
        Tracked::new(T::take(input))
    }
    /// Through the mutable access, which marks it, as [`Tracked::new`] does.
    #[inline]
    fn take_into(&mut self, input: &mut &[u8]) {
        (**self).take_into(input);
    }
    /// Through the mutable access, which marks it, as a clone is.
    #[inline]
    fn copy_from(&mut self, source: &Self) {
        (**self).copy_from(source);
    }
    /// Copied when marked; else only marked: unwritten since `source` was copied, it holds
    /// `source`'s value.
    #[inline]
    fn copy_marked_from(&mut self, source: &Self) {
        if self.marked() {
            (**self).copy_from(source);
        } else {
            std::ops::DerefMut::deref_mut(self);
        }
    }
}

/// Its entries in key order, as a sequence of pairs.
impl<K: Codec + Ord, V: Codec> Codec for VecMap<K, V> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        put_varint(self.len() as u64, out);
        for (k, v) in self {
            k.put(out);
            v.put(out);
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> VecMap<K, V> {
        take_seq(input, |_| VecMap::new(), |m, (k, v)| drop(m.insert(k, v)))
    }
    /// Its entries are read over in order while their keys are the record's; from the
    /// first that differs, the rest are dropped and the record's inserted anew.
    #[inline]
    fn take_into(&mut self, input: &mut &[u8]) {
        let n = usize::take(input);
        let (mut same, mut differs) = (0, None);
        for (k, v) in self.iter_mut().take(n) {
            let key = K::take(input);
            if key != *k {
                differs = Some(key);
                break;
            }
            v.take_into(input);
            same += 1;
        }
        keep_first(self, same);
        if let Some(key) = differs {
            let value = V::take(input);
            self.insert(key, value);
            same += 1;
        }
        for _ in same..n {
            let (k, v) = <(K, V)>::take(input);
            self.insert(k, v);
        }
    }
    /// Its entries are copied over in order while their keys are `source`'s; from the
    /// first that differs, the rest are dropped and `source`'s cloned.
    #[inline]
    fn copy_from(&mut self, source: &Self) {
        let mut same = 0;
        for ((k, v), (sk, sv)) in self.iter_mut().zip(source) {
            if k != sk {
                break;
            }
            v.copy_from(sv);
            same += 1;
        }
        keep_first(self, same);
        let rest = source.iter().skip(same);
        self.extend(rest.map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// Drops every entry of `map` but its first `n`.
#[inline]
fn keep_first<K: Ord, V>(map: &mut VecMap<K, V>, n: usize) {
    if map.len() > n {
        let mut seen = 0;
        map.retain(|_, _| {
            seen += 1;
            seen <= n
        });
    }
}

/// Its entries in key order, as a sequence of pairs.
impl<K: Codec + Ord, V: Codec> Codec for BTreeMap<K, V> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        put_varint(self.len() as u64, out);
        for (k, v) in self {
            k.put(out);
            v.put(out);
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> BTreeMap<K, V> {
        take_seq(input, |_| BTreeMap::new(), |m, (k, v)| drop(m.insert(k, v)))
    }
}

/// Its items in order, as a sequence.
impl<T: Codec + Ord> Codec for BTreeSet<T> {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        put_varint(self.len() as u64, out);
        self.iter().for_each(|x| x.put(out));
    }
    #[inline]
    fn take(input: &mut &[u8]) -> BTreeSet<T> {
        take_seq(
            input,
            |_| BTreeSet::new(),
            |s, x| {
                s.insert(x);
            },
        )
    }
}

/// The impl of a struct: its fields in the order listed, which must name every field (the
/// destructuring has no `..`).
macro_rules! record {
    ($($ty:ident { $($field:ident),* $(,)? })*) => {$(
        impl $crate::codec::Codec for $ty {
            #[inline]
    fn put(&self, out: &mut Vec<u8>) {
                let $ty { $($field),* } = self;
                $($crate::codec::Codec::put($field, out);)*
            }
            #[inline]
            fn take(input: &mut &[u8]) -> $ty {
                $ty { $($field: $crate::codec::Codec::take(input)),* }
            }
            #[inline]
            fn take_into(&mut self, input: &mut &[u8]) {
                let $ty { $($field),* } = self;
                $($crate::codec::Codec::take_into($field, input);)*
            }
            #[inline]
            fn copy_from(&mut self, source: &Self) {
                let $ty { $($field),* } = self;
                $($crate::codec::Codec::copy_from($field, &source.$field);)*
            }
            #[inline]
            fn copy_marked_from(&mut self, source: &Self) {
                let $ty { $($field),* } = self;
                $($crate::codec::Codec::copy_marked_from($field, &source.$field);)*
            }
        }
    )*};
}
pub(crate) use record;

/// The impl of a fieldless enum with an `ALL` array in declaration order: its index, one
/// byte (`sim/tests/codec_twins.rs` checks the order).
macro_rules! program_point {
    ($($ty:ident),*) => {$(
        impl Codec for $ty {
            #[inline]
    fn put(&self, out: &mut Vec<u8>) {
                out.push(*self as u8);
            }
            #[inline]
            fn take(input: &mut &[u8]) -> $ty {
                *$ty::ALL.get(usize::from(byte(input))).expect(MALFORMED)
            }
        }
    )*};
}
program_point!(WritePc, OtherPc, CompletePc, CommitPc);

/// Falls back to postcard, one value at a time.
macro_rules! by_postcard {
    ($($ty:ident),*) => {$(
        impl Codec for $ty {
            #[inline]
    fn put(&self, out: &mut Vec<u8>) {
                let bytes = std::mem::take(out);
                *out = postcard::to_extend(self, bytes).expect("a value encodes");
            }
            #[inline]
            fn take(input: &mut &[u8]) -> $ty {
                match postcard::take_from_bytes(input) {
                    Ok((x, rest)) => {
                        *input = rest;
                        x
                    }
                    Err(postcard::Error::DeserializeUnexpectedEnd) => panic!("{CUT}"),
                    Err(_) => panic!("{MALFORMED}"),
                }
            }
        }
    )*};
}
by_postcard!(Op, Patches);

record! {
    State {
        geometry, mount, inodes, disk, aio_mutex, bios, dios, io_ends, work, actors, next_id,
        crashed, journal, hazard, patches,
    }
    Geometry { blkbits, sector_bits, page_bits, huge_file, disk_blocks }
    Mount { dioread_nolock, sync, plug_holds_bios, bio_errors }
    Disk { sectors, free, freed_uncommitted }
    Page { dirty, writeback, error, data, bh_mapped, bh_delay, bh_unwritten }
    RwSem { readers, writer }
    Committed { map, i_disksize, orphan }
    Journal { running, committed, requested, locked, t_updates, committing }
    Inode {
        ino, extents, s_sync, dio_refused, state_dio_unwritten, state_dioread_lock, as_eio,
        wb_err, i_size, i_disksize, orphan, i_mutex, i_data_sem, invalidate_lock, i_dio_count,
        i_unwritten, i_ioend_count, i_private, map, pages, committed, sync_dirty,
        datasync_dirty, ordered, committing,
    }
    ExtentMap { extents, delayed }
    Extent { lblk, len, pblk, state }
    Dio {
        inode, owner, is_async, defer_completion, bios, submitter_ref, holds_dio_count, result,
        io_error, sync_error, fdatawait, offset, private, end_io, file, op,
    }
    FileFlags { o_direct, o_append, o_sync, o_dsync, o_largefile }
    IoEnd { inode, count, unwritten, offset, size, pages, failed }
    Bio { inode, owner, psector, data, zero, plugged_by, pages }
    Actor { program, op, frame, sleeping, results, wb_map, fdatawait, f_wb_err }
    WriteFrame {
        pc, inode, file, iocb, iter, aio_mutex, unaligned_aio, i_mutex_held, overwrite,
        iocb_private, ret, sigxfsz, plugged, path, io_end, dio, gb_io, gb_io_pending, orphan,
        dio_blkbits, dio_next, dio_end, last_new, last_pblk, dio_ret, written, buffered_pos,
        status, perform_error, fallback, event, commit_tid,
    }
    Iocb { ki_flags, ki_pos, ki_complete }
    KiFlags { direct, append }
    IovIter { segments, segment, iov_offset, count }
    Segment { base, len }
    OtherFrame { pc, pos, read, flag, orphan, error, tid }
}

/// A tag byte, then the payload. The common sectors (a stale block below 128, a write)
/// are two bytes, read as one pair; the rest go through the general path (`take_data`).
/// (Writing them as one pair was measured: it costs more than two pushes.)
impl Codec for Data {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match *self {
            Data::Zero => out.push(0),
            Data::Stale(p) => {
                out.push(1);
                p.put(out);
            }
            Data::Initial { inode, lblk } => {
                out.extend([2, inode]);
                lblk.put(out);
            }
            Data::Write(n) => out.extend([3, n]),
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Data {
        match *input {
            [1, p, rest @ ..] if p & VARINT_MORE == 0 => {
                *input = rest;
                Data::Stale(u32::from(*p))
            }
            [3, n, rest @ ..] => {
                *input = rest;
                Data::Write(*n)
            }
            _ => take_data(input),
        }
    }
}

/// [`Data::take`] of any sector, its tag byte first.
#[inline(never)]
fn take_data(input: &mut &[u8]) -> Data {
    match byte(input) {
        0 => Data::Zero,
        1 => Data::Stale(u32::take(input)),
        2 => {
            let inode = byte(input);
            let lblk = u32::take(input);
            Data::Initial { inode, lblk }
        }
        3 => Data::Write(byte(input)),
        _ => panic!("{MALFORMED}"),
    }
}

/// One byte.
impl Codec for ExtentState {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        out.push(match self {
            ExtentState::Unwritten => 0,
            ExtentState::Written => 1,
        });
    }
    #[inline]
    fn take(input: &mut &[u8]) -> ExtentState {
        match byte(input) {
            0 => ExtentState::Unwritten,
            1 => ExtentState::Written,
            _ => panic!("{MALFORMED}"),
        }
    }
}

/// One byte.
impl Codec for DioPath {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        out.push(match self {
            DioPath::Ext => 0,
            DioPath::ExtOverwrite => 1,
            DioPath::Ind => 2,
        });
    }
    #[inline]
    fn take(input: &mut &[u8]) -> DioPath {
        match byte(input) {
            0 => DioPath::Ext,
            1 => DioPath::ExtOverwrite,
            2 => DioPath::Ind,
            _ => panic!("{MALFORMED}"),
        }
    }
}

/// A tag byte, then the io_end.
impl Codec for IocbPrivate {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            IocbPrivate::Null => out.push(0),
            IocbPrivate::Overwrite => out.push(1),
            IocbPrivate::IoEnd(e) => {
                out.push(2);
                e.put(out);
            }
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> IocbPrivate {
        match byte(input) {
            0 => IocbPrivate::Null,
            1 => IocbPrivate::Overwrite,
            2 => IocbPrivate::IoEnd(u16::take(input)),
            _ => panic!("{MALFORMED}"),
        }
    }
}

/// A tag byte, then the object.
impl Codec for BioOwner {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        let (tag, id) = match *self {
            BioOwner::Dio(id) => (0, id),
            BioOwner::Writeback(id) => (1, id),
        };
        out.push(tag);
        id.put(out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> BioOwner {
        match byte(input) {
            0 => BioOwner::Dio(u16::take(input)),
            1 => BioOwner::Writeback(u16::take(input)),
            _ => panic!("{MALFORMED}"),
        }
    }
}

/// A tag byte, then the bucket or inode.
impl Codec for Sleep {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match *self {
            Sleep::IoendWq(b) => out.extend([0, b]),
            Sleep::DioWait(i) => {
                out.push(1);
                i.put(out);
            }
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Sleep {
        match byte(input) {
            0 => Sleep::IoendWq(byte(input)),
            1 => Sleep::DioWait(usize::take(input)),
            _ => panic!("{MALFORMED}"),
        }
    }
}

/// A tag byte, then the message.
impl Codec for Hazard {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        let (tag, what) = match self {
            Hazard::SleepInAtomic(s) => (0, s),
            Hazard::UseAfterFree(s) => (1, s),
        };
        out.push(tag);
        what.put(out);
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Hazard {
        match byte(input) {
            0 => Hazard::SleepInAtomic(String::take(input)),
            1 => Hazard::UseAfterFree(String::take(input)),
            _ => panic!("{MALFORMED}"),
        }
    }
}

/// A tag byte, then the variant's fields in order.
impl Codec for Work {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Work::DioComplete {
                dio,
                pc,
                wb_map,
                tid,
            } => {
                out.push(0);
                dio.put(out);
                pc.put(out);
                wb_map.put(out);
                tid.put(out);
            }
            Work::EndIo { io_end } => {
                out.push(1);
                io_end.put(out);
            }
            Work::Commit { pc } => {
                out.push(2);
                pc.put(out);
            }
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Work {
        match byte(input) {
            0 => Work::DioComplete {
                dio: Codec::take(input),
                pc: Codec::take(input),
                wb_map: Codec::take(input),
                tid: Codec::take(input),
            },
            1 => Work::EndIo {
                io_end: Codec::take(input),
            },
            2 => Work::Commit {
                pc: Codec::take(input),
            },
            _ => panic!("{MALFORMED}"),
        }
    }
}

/// A tag byte, then the frame.
impl Codec for Frame {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Idle => out.push(0),
            Frame::Write(w) => {
                out.push(1);
                w.put(out);
            }
            Frame::Other(o) => {
                out.push(2);
                o.put(out);
            }
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> Frame {
        let tag = byte(input);
        frame_of(tag, input)
    }
    /// A frame of the same variant is read over; another is replaced.
    #[inline]
    fn take_into(&mut self, input: &mut &[u8]) {
        match (byte(input), self) {
            (1, Frame::Write(w)) => w.take_into(input),
            (2, Frame::Other(o)) => o.take_into(input),
            (tag, frame) => *frame = frame_of(tag, input),
        }
    }
    /// A frame of the same variant is copied over; another is replaced by a clone.
    #[inline]
    fn copy_from(&mut self, source: &Self) {
        match (self, source) {
            (Frame::Write(w), Frame::Write(s)) => w.copy_from(s),
            (Frame::Other(o), Frame::Other(s)) => o.copy_from(s),
            (frame, _) => *frame = source.clone(),
        }
    }
}

/// The frame of tag `tag`, its payload read from `input`.
#[inline]
fn frame_of(tag: u8, input: &mut &[u8]) -> Frame {
    match tag {
        0 => Frame::Idle,
        1 => Frame::Write(Codec::take(input)),
        2 => Frame::Other(Codec::take(input)),
        _ => panic!("{MALFORMED}"),
    }
}

/// A tag byte, then the variant's fields in order.
impl Codec for OpResult {
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            OpResult::Write {
                ret,
                sigxfsz,
                ki_pos,
                event,
            } => {
                out.push(0);
                ret.put(out);
                sigxfsz.put(out);
                ki_pos.put(out);
                event.put(out);
            }
            OpResult::Read(data) => {
                out.push(1);
                data.put(out);
            }
            OpResult::Stat(size) => {
                out.push(2);
                size.put(out);
            }
            OpResult::Done => out.push(3),
            OpResult::Failed(e) => {
                out.push(4);
                e.put(out);
            }
            OpResult::Crashed => out.push(5),
        }
    }
    #[inline]
    fn take(input: &mut &[u8]) -> OpResult {
        match byte(input) {
            0 => OpResult::Write {
                ret: Codec::take(input),
                sigxfsz: Codec::take(input),
                ki_pos: Codec::take(input),
                event: Codec::take(input),
            },
            1 => OpResult::Read(Codec::take(input)),
            2 => OpResult::Stat(Codec::take(input)),
            3 => OpResult::Done,
            4 => OpResult::Failed(Codec::take(input)),
            5 => OpResult::Crashed,
            _ => panic!("{MALFORMED}"),
        }
    }
}
