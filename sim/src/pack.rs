//! The compression of the breadth-first queue's records ([`crate::frontier::Frontier`]):
//! each record is packed against the record queued just before it, its dictionary, and
//! unpacked against the record taken just before it, which is the same one (the queue gives
//! records back in the order they went in).
//!
//! The fast packer ([`Method::Delta`]) is a small LZ77 of our own, made for records that are
//! mostly their neighbour with a few bytes changed or shifted:
//!
//! - The dictionary and the record are one stream of bytes: a match copies from the
//!   dictionary, or from the record's own bytes already written.
//! - Every sequence is a token byte (literal count in the high four bits, match length less
//!   [`MIN_MATCH`] in the low four, 15 meaning a varint follows), the literals, the match's
//!   distance code as a varint, and the length's varint if any. Code 0 repeats the last
//!   match's distance, 1 the one before it (both at first the dictionary's length: the same
//!   offset in the dictionary), and any other is a new distance back plus 2. A record that
//!   ends in literals ends with a token whose match is left out.
//! - Matches are found by trying the two repeated distances first, then a hash table of
//!   four-byte words at the record's offsets that are multiples of [`INDEX_STEP`] (a match
//!   found there is extended backwards). The table holds stream positions, which only grow
//!   (the stream never restarts): an entry older than the dictionary is stale by its
//!   position alone, so the table is never cleared, and the record's positions, entered
//!   while it is packed, serve the next record, whose dictionary it is, without hashing it
//!   again.
//!
//! Its slow twin ([`Method::Lz4`]) is the LZ4 block format of `lz4_flex` with the dictionary,
//! which allocates and clears a table and hashes the dictionary for every record
//! (`sim/tests/pack_twins.rs` round-trips both; `pack_search.rs` compares whole searches).

use std::sync::atomic::{AtomicBool, Ordering};

/// The shortest match the fast packer writes.
pub const MIN_MATCH: usize = 4;
/// The fast packer's hash table has `2^HASH_BITS` entries.
pub const HASH_BITS: u32 = 12;
/// Only the record's offsets that are multiples of `INDEX_STEP` enter the hash table (a match
/// found from one is extended backwards over the bytes before it).
pub const INDEX_STEP: usize = MIN_MATCH;
/// A token's four-bit field that says a varint follows with the rest of the count.
const NIBBLE_MORE: usize = 15;
/// The multiplier of the four-byte hash (Knuth's, as LZ4's).
const HASH_PRIME: u32 = 2_654_435_761;
/// The distance code that repeats the previous match's distance.
const REPEAT: u64 = 0;
/// The distance code that repeats the distance before the previous match's.
const REPEAT_OLDER: u64 = 1;
/// A distance's code is the distance plus `DISTANCE_BIAS`, after the two repeat codes.
const DISTANCE_BIAS: u64 = 2;

/// The last two match distances, latest first, after a match of distance `code`.
fn next_repeats([latest, older]: [u64; 2], code: u64) -> [u64; 2] {
    match code {
        REPEAT => [latest, older],
        REPEAT_OLDER => [older, latest],
        distance => [distance - DISTANCE_BIAS, latest],
    }
}

/// Which packer a queue uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The hand LZ77 against the previous record (the default).
    Delta,
    /// LZ4 with the previous record as its dictionary (the slow twin).
    Lz4,
}

/// Packs records one after the other, each against the one before it.
#[derive(Clone, Debug)]
pub struct Packer {
    method: Method,
    /// The record packed last (at first the one given to [`Packer::new`]).
    dictionary: Vec<u8>,
    /// The stream position of the dictionary's first byte.
    base: u64,
    /// Per hash of a four-byte word, the stream position where it was seen last
    /// ([`Method::Delta`] only; positions below `base` are stale).
    table: Box<[u64; 1 << HASH_BITS]>,
    /// A spare buffer: the next record's copy.
    spare: Vec<u8>,
}

impl Packer {
    /// A packer whose first record is packed against `dictionary`.
    pub fn new(dictionary: Vec<u8>, method: Method) -> Packer {
        let mut packer = Packer {
            method,
            dictionary: Vec::new(),
            // Position 0 is never in the stream: an empty entry is stale.
            base: 1,
            table: Box::new([0; 1 << HASH_BITS]),
            spare: Vec::new(),
        };
        if method == Method::Delta {
            index(
                &mut packer.table,
                &dictionary,
                packer.base,
                0..dictionary.len(),
            );
        }
        packer.dictionary = dictionary;
        packer
    }

    /// Packs `raw` against the record packed before it into `out` (cleared first); `raw`
    /// becomes the next record's dictionary.
    pub fn pack(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        out.clear();
        match self.method {
            Method::Delta => self.pack_delta(raw, out),
            Method::Lz4 => {
                out.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
                let n = lz4_flex::block::compress_into_with_dict(raw, out, &self.dictionary)
                    .expect("the buffer holds the worst case");
                out.truncate(n);
            }
        }
        self.base += self.dictionary.len() as u64;
        let mut next = std::mem::take(&mut self.spare);
        next.clear();
        next.extend_from_slice(raw);
        self.spare = std::mem::replace(&mut self.dictionary, next);
    }

    /// [`Packer::pack`] by the hand LZ77: greedy, the repeated distance tried first.
    fn pack_delta(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let start = self.base + self.dictionary.len() as u64;
        let from = Source {
            dictionary: &self.dictionary,
            raw,
            base: self.base,
            start,
        };
        let (mut q, mut literals) = (0, 0);
        let mut repeat = [self.dictionary.len() as u64; 2];
        while q + MIN_MATCH <= raw.len() {
            let slot = hash(raw, q);
            let here = start + q as u64;
            let seen = if q.is_multiple_of(INDEX_STEP) {
                std::mem::replace(&mut self.table[slot], here)
            } else {
                self.table[slot]
            };
            let mut best = (from.common(q, repeat[0]), REPEAT, 0);
            if best.0 < MIN_MATCH {
                best = (from.common(q, repeat[1]), REPEAT_OLDER, 0);
            }
            if best.0 < MIN_MATCH && seen >= self.base {
                let distance = here - seen;
                let len = from.common(q, distance);
                if len >= MIN_MATCH {
                    best = (
                        len,
                        distance + DISTANCE_BIAS,
                        from.behind(q, distance, literals),
                    );
                }
            }
            let (len, code, back) = best;
            if len < MIN_MATCH {
                q += 1;
                continue;
            }
            put_sequence(out, &raw[literals..q - back], Some((len + back, code)));
            index(&mut self.table, raw, start, q + 1..q + len);
            repeat = next_repeats(repeat, code);
            q += len;
            literals = q;
        }
        if literals < raw.len() {
            put_sequence(out, &raw[literals..], None);
        }
    }
}

/// Where a match may copy from: the dictionary, then the record so far, as one stream.
struct Source<'a> {
    dictionary: &'a [u8],
    raw: &'a [u8],
    /// Stream positions of `dictionary[0]` and `raw[0]`.
    base: u64,
    start: u64,
}

impl Source<'_> {
    /// How many bytes before `raw[q]`, down to `raw[floor]`, equal those before the
    /// match `distance` back (which is valid: [`Source::common`] found it).
    fn behind(&self, q: usize, distance: u64, floor: usize) -> usize {
        let from = self.start + q as u64 - distance;
        let before: &[u8] = if from < self.start {
            &self.dictionary[..(from - self.base) as usize]
        } else {
            &self.raw[..(from - self.start) as usize]
        };
        let mine = &self.raw[floor..q];
        let pairs = before.iter().rev().zip(mine.iter().rev());
        pairs.take_while(|(a, b)| a == b).count()
    }

    /// How many bytes from `raw[q]` on equal those `distance` back in the stream (0 when
    /// that is before the dictionary); a match from the dictionary stops at its end.
    #[inline(always)]
    fn common(&self, q: usize, distance: u64) -> usize {
        let here = self.start + q as u64;
        if distance == 0 || distance > here - self.base {
            return 0;
        }
        let from = here - distance;
        let (source, i) = if from < self.start {
            (self.dictionary, (from - self.base) as usize)
        } else {
            (self.raw, (from - self.start) as usize)
        };
        // Most tries fail in the first word: only a match is extended.
        match (source.get(i..i + MIN_MATCH), self.raw.get(q..q + MIN_MATCH)) {
            (Some(a), Some(b)) if a == b => common_prefix(&source[i..], &self.raw[q..]),
            _ => 0,
        }
    }
}

/// Bytes at the start of `a` and `b` that are equal.
#[inline(always)]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let most = a.len().min(b.len());
    let mut n = 0;
    while n + 8 <= most {
        let x = u64::from_le_bytes(a[n..n + 8].try_into().expect("eight bytes"));
        let y = u64::from_le_bytes(b[n..n + 8].try_into().expect("eight bytes"));
        let differ = x ^ y;
        if differ != 0 {
            return n + (differ.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < most && a[n] == b[n] {
        n += 1;
    }
    n
}

/// The table slot of the four bytes at `bytes[at..]`.
fn hash(bytes: &[u8], at: usize) -> usize {
    slot(u32::from_le_bytes(
        bytes[at..at + 4].try_into().expect("four bytes"),
    ))
}

/// The table slot of a four-byte `word`.
fn slot(word: u32) -> usize {
    (word.wrapping_mul(HASH_PRIME) >> (32 - HASH_BITS)) as usize
}

/// Enters the positions `at` of `bytes` (whose first byte is at stream position `start`)
/// that are multiples of [`INDEX_STEP`] and have four bytes from them on, later ones over
/// earlier ones.
fn index(table: &mut [u64; 1 << HASH_BITS], bytes: &[u8], start: u64, at: std::ops::Range<usize>) {
    let end = at.end.min((bytes.len() + 1).saturating_sub(MIN_MATCH));
    let first = at.start.next_multiple_of(INDEX_STEP);
    if first >= end {
        return;
    }
    // A step of four: each chunk is the word at its position.
    let words = bytes[first..]
        .chunks_exact(INDEX_STEP)
        .take((end - first).div_ceil(INDEX_STEP));
    for (k, word) in words.enumerate() {
        let word = u32::from_le_bytes(word.try_into().expect("four bytes"));
        table[slot(word)] = start + (first + k * INDEX_STEP) as u64;
    }
}

/// Appends one sequence: `literals`, then the match of `(length, distance code)` if any.
#[inline(always)]
fn put_sequence(out: &mut Vec<u8>, literals: &[u8], matched: Option<(usize, u64)>) {
    let extra = matched.map_or(0, |(len, _)| len - MIN_MATCH);
    let token = (literals.len().min(NIBBLE_MORE) << 4) | extra.min(NIBBLE_MORE);
    out.push(token as u8);
    if literals.len() >= NIBBLE_MORE {
        put_varint(out, (literals.len() - NIBBLE_MORE) as u64);
    }
    out.extend_from_slice(literals);
    if let Some((_, code)) = matched {
        put_varint(out, code);
        if extra >= NIBBLE_MORE {
            put_varint(out, (extra - NIBBLE_MORE) as u64);
        }
    }
}

/// Appends `n` in seven-bit groups, low first, the top bit set on all but the last.
fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a varint [`put_varint`] wrote at `*at`, moving past it.
pub(crate) fn take_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let (mut n, mut shift) = (0u64, 0);
    loop {
        let byte = bytes[*at];
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// The panic message of a record whose literals or match run past its length.
pub const UNPACKS_WITHIN: &str = "a queued state unpacks within its length";

/// Unpacks into `out` (cleared first) the `raw_len` bytes that `method` packed as `packed`
/// against `dictionary`. Records come only from the queue itself: one that does not unpack
/// is a bug, and panics ([`UNPACKS_WITHIN`] before a count past the record is acted on).
pub fn unpack(method: Method, packed: &[u8], dictionary: &[u8], raw_len: usize, out: &mut Vec<u8>) {
    match method {
        Method::Delta => unpack_delta(packed, dictionary, raw_len, out),
        Method::Lz4 => {
            out.resize(raw_len, 0);
            let got = lz4_flex::block::decompress_into_with_dict(packed, out, dictionary)
                .expect("a queued state decompresses");
            assert_eq!(got, raw_len, "a queued state decompresses whole");
        }
    }
}

/// [`unpack`] of [`Method::Delta`].
fn unpack_delta(packed: &[u8], dictionary: &[u8], raw_len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(raw_len);
    let (mut at, mut repeat) = (0, [dictionary.len() as u64; 2]);
    while out.len() < raw_len {
        let token = usize::from(packed[at]);
        at += 1;
        let mut literals = token >> 4;
        if literals == NIBBLE_MORE {
            literals += take_varint(packed, &mut at) as usize;
        }
        assert!(literals <= raw_len - out.len(), "{UNPACKS_WITHIN}");
        out.extend_from_slice(&packed[at..at + literals]);
        at += literals;
        if out.len() >= raw_len {
            break;
        }
        let code = take_varint(packed, &mut at);
        let mut len = (token & 0xf) + MIN_MATCH;
        if token & 0xf == NIBBLE_MORE {
            len += take_varint(packed, &mut at) as usize;
        }
        assert!(len <= raw_len - out.len(), "{UNPACKS_WITHIN}");
        repeat = next_repeats(repeat, code);
        copy_match(out, dictionary, repeat[0] as usize, len);
    }
    assert_eq!(out.len(), raw_len, "a queued state unpacks whole");
    assert_eq!(at, packed.len(), "a queued state unpacks to its end");
}

/// Appends the `len` bytes `distance` back in the stream of `dictionary` then `out`.
fn copy_match(out: &mut Vec<u8>, dictionary: &[u8], distance: usize, len: usize) {
    let q = out.len();
    if distance > q {
        let i = dictionary.len() + q - distance;
        out.extend_from_slice(&dictionary[i..i + len]);
    } else if distance >= len {
        out.extend_from_within(q - distance..q - distance + len);
    } else {
        for k in 0..len {
            out.push(out[q - distance + k]);
        }
    }
}

/// The queues made from now on take the slow packer ([`Method::Lz4`]): for the tests that
/// compare the two over whole searches. Process-wide: a test that sets it runs alone in its
/// test binary.
static SLOW_PACKER: AtomicBool = AtomicBool::new(false);

/// Makes every queue made from now on pack with LZ4 (`true`) or the hand packer (`false`,
/// the default): only for the twin tests, with no search running.
#[doc(hidden)]
pub fn use_slow_packer_for_tests(slow: bool) {
    SLOW_PACKER.store(slow, Ordering::Relaxed);
}

/// The packer a queue made now takes ([`use_slow_packer_for_tests`]).
pub fn method() -> Method {
    if SLOW_PACKER.load(Ordering::Relaxed) {
        Method::Lz4
    } else {
        Method::Delta
    }
}
