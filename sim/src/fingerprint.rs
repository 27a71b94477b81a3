//! The breadth-first search's fingerprint of a state: a fast deterministic 64-bit hash over
//! only what a step can change, and a visited set that takes the fingerprint as its own hash.
//!
//! [`fingerprint`] is the fast one the search uses; [`fingerprint_slow`] is its slow twin
//! (SipHash with fixed keys over the whole state), kept for the differential test
//! (`sim/tests/speed_twins.rs`): over every state a bounded search of each example reaches,
//! the two split the states alike.
//!
//! Collisions: two different states with one fingerprint would make the search skip the
//! second. With a well-mixed 64-bit hash the chance of any collision among `n` states is
//! about `n² / 2^65`: under one in a million for the canonical scenario's ~2 million states.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use model::state::{Actor, State};

use crate::oracle::Observer;

/// The multiplier of [`FoldHasher`]'s mixing step: an odd 64-bit constant with its bits
/// spread evenly (the fractional part of the golden ratio).
const FOLD_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
/// The multiplier of [`FoldHasher::finish`]'s last mix (another odd constant with spread bits).
const FINISH_MULTIPLIER: u64 = 0xd6e8_feb8_6659_fd93;
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
    let Actor {
        program: _,
        op,
        frame,
        sleeping,
        results,
        wb_map,
        fdatawait,
        f_wb_err,
    } = actor;
    (op, frame, sleeping, results, wb_map, fdatawait, f_wb_err).hash(h);
}

/// The fast fingerprint of `state` and the oracles' history summary, for the visited set:
/// [`FoldHasher`] over what a step can change. It leaves out the geometry, the mount
/// options, the patches and each actor's program, which stay fixed within one search (a
/// search starts from one state). Listed by destructuring, so a new field of [`State`] must
/// be placed here (hashed, or left out with a reason).
pub fn fingerprint(state: &State, observer: &Observer) -> u64 {
    let State {
        geometry: _,
        mount: _,
        inodes,
        disk,
        aio_mutex,
        bios,
        dios,
        io_ends,
        work,
        actors,
        next_id,
        crashed,
        journal,
        hazard,
        patches: _,
    } = state;
    let mut h = FoldHasher::default();
    (inodes, disk, aio_mutex, bios, dios, io_ends, work).hash(&mut h);
    h.write_usize(actors.len());
    for actor in actors {
        hash_actor(actor, &mut h);
    }
    (next_id, crashed, journal, hazard).hash(&mut h);
    observer.summary().hash(&mut h);
    h.finish()
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
