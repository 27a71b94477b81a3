//! The breadth-first search in little memory (`engine::bfs_search`, behind
//! [`crate::engine::bfs`] and its siblings): the same
//! search, in the same order, as the clone-based one it replaced
//! ([`crate::engine::bfs_search_cloned`], kept as its slow twin), with three compact stores:
//!
//! - [`Frontier`]: the queued states, each with its oracles' history, as bytes (the hand
//!   codec of [`crate::codec`]: postcard's varint layout of their serde form, postcard
//!   itself its slow twin), decoded when the state is expanded. Actor programs never change
//!   within a search: they are left out and restored from the initial state.
//! - [`Links`]: per visited state (not per step), its parent state and the task that led
//!   there, [`LINK_BYTES`] bytes each: a violation's schedule is the parent's path plus one task.
//! - [`FingerprintSet`]: the visited fingerprints in open-addressing shards that grow by a
//!   quarter, so no resize holds two copies of the whole set.
//!
//! Every size counted here ([`FingerprintSet::bytes`], [`Links::bytes`],
//! [`Frontier::bytes`]) follows from the search alone (what was inserted and pushed, in
//! which order), never from the allocator or the machine, so the memory budget cuts a search
//! at the same state everywhere.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use model::exec::Task;
use model::state::State;

use crate::codec::Codec;
use crate::engine::{Execution, Probe, SearchReport, Stepper, replay};
use crate::expand::{BATCH_STATES, Context, Expanded, Pool, Successor};
use crate::fingerprint::fingerprint;
use crate::oracle::{Observer, Violation};
use crate::pack::{Method, Packer};

/// Shards of the visited set, chosen by a fingerprint's top bits: `2^SHARD_BITS` of them.
pub const SHARD_BITS: u32 = 8;
/// Slots of a shard before its first insertion grows it.
pub const SHARD_MIN_SLOTS: usize = 16;
/// A shard grows once more than `LOAD_NUM / LOAD_DEN` of its slots hold a fingerprint.
const LOAD_NUM: usize = 4;
/// See [`LOAD_NUM`].
const LOAD_DEN: usize = 5;
/// A shard that grows gets a quarter more slots (`slots / GROWTH_DIV`, at least one).
const GROWTH_DIV: usize = 4;
/// Bytes of one slot of the visited set: one fingerprint.
pub const SLOT_BYTES: u64 = 8;

/// The visited fingerprints: `2^SHARD_BITS` linear-probing tables of `u64`, 0 marking an
/// empty slot (the fingerprint 0 itself is kept aside). A shard grows by a quarter, so the
/// set's slots stay between 64% and 80% full and a resize copies one shard only.
#[derive(Clone, Debug)]
pub struct FingerprintSet {
    shards: Vec<Shard>,
    len: u64,
    slots: u64,
    zero: bool,
}

/// One shard: its slots and how many hold a fingerprint.
#[derive(Clone, Debug, Default)]
struct Shard {
    slots: Vec<u64>,
    len: usize,
}

impl Shard {
    /// The slot where probing for `fp` starts: the bits below the shard's, scaled to the
    /// table (no power-of-two size needed).
    fn home(&self, fp: u64) -> usize {
        let below = u128::from(fp << SHARD_BITS);
        ((below * self.slots.len() as u128) >> 64) as usize
    }

    /// Inserts nonzero `fp`; false when it was there. The shard has a free slot.
    fn insert(&mut self, fp: u64) -> bool {
        let mut i = self.home(fp);
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = fp;
                    self.len += 1;
                    return true;
                }
                held if held == fp => return false,
                _ => i = if i + 1 == self.slots.len() { 0 } else { i + 1 },
            }
        }
    }

    /// Whether nonzero `fp` is held.
    fn contains(&self, fp: u64) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let mut i = self.home(fp);
        loop {
            match self.slots[i] {
                0 => return false,
                held if held == fp => return true,
                _ => i = if i + 1 == self.slots.len() { 0 } else { i + 1 },
            }
        }
    }

    /// Moves every fingerprint into a table of `slots` slots.
    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![0; slots]);
        self.len = 0;
        for fp in old.into_iter().filter(|&fp| fp != 0) {
            self.insert(fp);
        }
    }
}

impl Default for FingerprintSet {
    fn default() -> FingerprintSet {
        FingerprintSet {
            shards: vec![Shard::default(); 1 << SHARD_BITS],
            len: 0,
            slots: 0,
            zero: false,
        }
    }
}

impl FingerprintSet {
    /// Inserts `fp`; false when it was there already.
    pub fn insert(&mut self, fp: u64) -> bool {
        if fp == 0 {
            let new = !self.zero;
            self.zero = true;
            self.len += u64::from(new);
            return new;
        }
        let shard = &mut self.shards[(fp >> (64 - SHARD_BITS)) as usize];
        if (shard.len + 1) * LOAD_DEN > shard.slots.len() * LOAD_NUM {
            let before = shard.slots.len();
            let after = (before + (before / GROWTH_DIV).max(1)).max(SHARD_MIN_SLOTS);
            shard.resize(after);
            self.slots += (after - before) as u64;
        }
        let new = shard.insert(fp);
        self.len += u64::from(new);
        new
    }

    /// Whether `fp` is held.
    pub fn contains(&self, fp: u64) -> bool {
        if fp == 0 {
            return self.zero;
        }
        self.shards[(fp >> (64 - SHARD_BITS)) as usize].contains(fp)
    }

    /// Fingerprints held.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of its slots.
    pub fn bytes(&self) -> u64 {
        self.slots * SLOT_BYTES
    }
}

/// Bytes of one [`Links`] entry: the parent's index (4) and the task (kind 1, id 2).
pub const LINK_BYTES: usize = 7;
/// Entries of one chunk of [`Links`] (a chunk is allocated whole, never moved).
pub const LINKS_PER_CHUNK: usize = 1 << 14;
/// The parent of the initial state.
const NO_PARENT: u32 = u32::MAX;

/// Per visited state, in the order visited: its parent state and the task that led to it.
#[derive(Clone, Debug, Default)]
pub struct Links {
    chunks: Vec<Vec<[u8; LINK_BYTES]>>,
    len: usize,
}

/// `task` in three bytes: its kind, then its id.
fn pack_task(task: Task) -> [u8; 3] {
    let (kind, id) = match task {
        Task::Actor(a) => (0, u16::from(a)),
        Task::Bio(n) => (1, n),
        Task::Work(n) => (2, n),
        Task::BioError(n) => (3, n),
    };
    let [lo, hi] = id.to_le_bytes();
    [kind, lo, hi]
}

/// The task [`pack_task`] packed.
fn unpack_task([kind, lo, hi]: [u8; 3]) -> Task {
    let id = u16::from_le_bytes([lo, hi]);
    match kind {
        0 => Task::Actor(u8::try_from(id).expect("an actor id fits a byte")),
        1 => Task::Bio(id),
        2 => Task::Work(id),
        _ => Task::BioError(id),
    }
}

impl Links {
    /// Appends the link of the next state; its index.
    pub fn push(&mut self, parent: Option<u32>, task: Task) -> u32 {
        if self.len.is_multiple_of(LINKS_PER_CHUNK) {
            self.chunks.push(Vec::with_capacity(LINKS_PER_CHUNK));
        }
        let [p0, p1, p2, p3] = parent.unwrap_or(NO_PARENT).to_le_bytes();
        let [k, lo, hi] = pack_task(task);
        let chunk = self.chunks.last_mut().expect("a chunk");
        chunk.push([p0, p1, p2, p3, k, lo, hi]);
        self.len += 1;
        u32::try_from(self.len - 1).expect("fewer than 2^32 states")
    }

    /// The parent and task of state `id` (`None` for the initial state).
    fn get(&self, id: u32) -> Option<(u32, Task)> {
        let id = id as usize;
        let [p0, p1, p2, p3, k, lo, hi] = self.chunks[id / LINKS_PER_CHUNK][id % LINKS_PER_CHUNK];
        let parent = u32::from_le_bytes([p0, p1, p2, p3]);
        (parent != NO_PARENT).then(|| (parent, unpack_task([k, lo, hi])))
    }

    /// The tasks from the initial state to state `id`.
    pub fn path(&self, mut id: u32) -> Vec<Task> {
        let mut schedule = Vec::new();
        while let Some((parent, task)) = self.get(id) {
            schedule.push(task);
            id = parent;
        }
        schedule.reverse();
        schedule
    }

    /// Bytes of its chunks.
    pub fn bytes(&self) -> u64 {
        (self.chunks.len() * LINKS_PER_CHUNK * LINK_BYTES) as u64
    }
}

/// Bytes of one chunk of [`Frontier`] (a state larger than that gets a chunk of its own).
pub const FRONTIER_CHUNK_BYTES: usize = 1 << 18;

/// The queue of states to expand, encoded: per state, its record ([`encode`]: index, state
/// without programs, history) packed against the record queued before it (at first the
/// initial state's), which holds most of its bytes ([`crate::pack`]). The records lie one
/// after the other in chunks; a chunk is freed once every record in it was taken.
#[derive(Debug)]
pub struct Frontier {
    chunks: VecDeque<Vec<u8>>,
    read: usize,
    len: u64,
    bytes: u64,
    /// Packs each pushed record against the one before it (at first the initial state's).
    packer: Packer,
    /// How the records are packed ([`crate::pack::method`] when the queue was made).
    method: Method,
    /// The record popped last (at first the initial state's): the next pop's dictionary.
    popped: Vec<u8>,
    /// Reused buffers: a record, and its compressed form.
    raw: Vec<u8>,
    packed: Vec<u8>,
    /// Records pushed, and their bytes, encoded and then compressed (with their lengths).
    pushes: u64,
    encoded: u64,
    compressed: u64,
    programs: Vec<Arc<[model::ops::Op]>>,
}

impl Frontier {
    /// An empty queue for states of a search from `initial`, whose programs it restores.
    pub fn new(initial: &State) -> Frontier {
        let mut stripped = initial.clone();
        let programs = strip_programs(&mut stripped);
        let dictionary = encode(0, &stripped, &Observer::new(initial), Vec::new());
        let method = crate::pack::method();
        Frontier {
            chunks: VecDeque::new(),
            read: 0,
            len: 0,
            bytes: 0,
            packer: Packer::new(dictionary.clone(), method),
            method,
            popped: dictionary,
            raw: Vec::new(),
            packed: Vec::new(),
            pushes: 0,
            encoded: 0,
            compressed: 0,
            programs,
        }
    }

    /// Queues state `id` with its observer, its programs left out.
    pub fn push(&mut self, id: u32, mut state: State, observer: &Observer) {
        strip_programs(&mut state);
        let body = append_body(&state, observer, Vec::new());
        self.push_body(id, &body);
    }

    /// Queues state `id` from its [`append_body`] bytes: the record is `id`'s varint then
    /// `body`, the very bytes [`encode`] gives for the whole triple.
    pub fn push_body(&mut self, id: u32, body: &[u8]) {
        let mut raw = std::mem::take(&mut self.raw);
        raw.clear();
        if slow_codec() {
            raw = postcard::to_extend(&id, raw).expect("an index encodes");
        } else {
            id.put(&mut raw);
        }
        raw.extend_from_slice(body);
        self.packer.pack(&raw, &mut self.packed);
        let n = self.packed.len();
        let mut header = [0u8; 2 * LENGTH_BYTES_MAX];
        let raw_len = put_length(&mut header, raw.len());
        let header_len = raw_len + put_length(&mut header[raw_len..], n);
        let header = &header[..header_len];
        self.append(header, n);
        self.len += 1;
        self.pushes += 1;
        self.encoded += raw.len() as u64;
        self.compressed += (header.len() + n) as u64;
        self.raw = raw;
    }

    /// Appends `header` and the first `n` compressed bytes as one record, in the last chunk
    /// when it fits.
    fn append(&mut self, header: &[u8], n: usize) {
        let size = header.len() + n;
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.capacity() - c.len() >= size);
        if !fits {
            let capacity = FRONTIER_CHUNK_BYTES.max(size);
            self.chunks.push_back(Vec::with_capacity(capacity));
            self.bytes += capacity as u64;
        }
        let chunk = self.chunks.back_mut().expect("a chunk");
        chunk.extend_from_slice(header);
        chunk.extend_from_slice(&self.packed[..n]);
    }

    /// Takes the oldest state, its programs restored.
    pub fn pop(&mut self) -> Option<(u32, State, Observer)> {
        let mut raws = Vec::new();
        if self.peek(1, &mut raws) == 0 {
            // Every record was taken: free the chunks that held them.
            while let Some(done) = self.chunks.pop_front() {
                self.bytes -= done.capacity() as u64;
            }
            self.read = 0;
            return None;
        }
        self.release();
        Some(self.restore(&raws[0]))
    }

    /// Decompresses the oldest `most` records (fewer when fewer are queued) into `raws`
    /// (its buffers reused) without taking them: [`Frontier::release`] takes each, in
    /// order, before the next `peek`. How many it decompressed.
    pub fn peek(&mut self, most: usize, raws: &mut Vec<Vec<u8>>) -> usize {
        let (mut chunk, mut at, mut n) = (0, self.read, 0);
        while n < most {
            let Some(bytes) = self.chunks.get(chunk) else {
                break;
            };
            if at == bytes.len() {
                (chunk, at) = (chunk + 1, 0);
                continue;
            }
            let raw_len = read_length(bytes, &mut at);
            let packed_len = read_length(bytes, &mut at);
            if raws.len() == n {
                raws.push(Vec::new());
            }
            let (before, from) = raws.split_at_mut(n);
            let dictionary = before.last().unwrap_or(&self.popped);
            let packed = &bytes[at..at + packed_len];
            crate::pack::unpack(self.method, packed, dictionary, raw_len, &mut from[0]);
            at += packed_len;
            n += 1;
        }
        if n > 0 {
            self.popped.clone_from(&raws[n - 1]);
        }
        n
    }

    /// Takes the oldest record (one [`Frontier::peek`] decompressed), freeing its chunk
    /// once every record in it is taken.
    pub fn release(&mut self) {
        loop {
            let front = self.chunks.front().expect("a peeked record is queued");
            if self.read < front.len() {
                let mut at = self.read;
                let _ = read_length(front, &mut at);
                let packed_len = read_length(front, &mut at);
                self.read = at + packed_len;
                self.len -= 1;
                return;
            }
            let done = self.chunks.pop_front().expect("the front chunk");
            self.bytes -= done.capacity() as u64;
            self.read = 0;
        }
    }

    /// The state, observer and index of a record [`Frontier::peek`] gave, its programs
    /// restored.
    pub fn restore(&self, raw: &[u8]) -> (u32, State, Observer) {
        restore(raw, &self.programs)
    }

    /// The actors' programs, which the records leave out.
    pub fn programs(&self) -> &[Arc<[model::ops::Op]>] {
        &self.programs
    }

    /// States queued.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of its chunks.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The records pushed so far: how many, their bytes encoded, and compressed as queued.
    pub fn pushed(&self) -> (u64, u64, u64) {
        (self.pushes, self.encoded, self.compressed)
    }
}

/// Replaces each actor's program by an empty one; the programs taken.
pub(crate) fn strip_programs(state: &mut State) -> Vec<Arc<[model::ops::Op]>> {
    let actors = state.actors.iter_mut();
    actors.map(|a| std::mem::take(&mut a.program)).collect()
}

/// Bytes of the longest length [`put_length`] writes (a 64-bit `usize`).
const LENGTH_BYTES_MAX: usize = 10;

/// Writes `n` at the start of `into` in seven-bit groups, low first, the top bit set on all
/// but the last; how many bytes it took (at most [`LENGTH_BYTES_MAX`]).
fn put_length(into: &mut [u8], mut n: usize) -> usize {
    let mut i = 0;
    while n >= 0x80 {
        into[i] = (n as u8 & 0x7f) | 0x80;
        n >>= 7;
        i += 1;
    }
    into[i] = n as u8;
    i + 1
}

/// Reads a length [`put_length`] wrote at `*at`, moving past it.
fn read_length(bytes: &[u8], at: &mut usize) -> usize {
    crate::pack::take_varint(bytes, at) as usize
}

/// Appends the encoding of `(id, state, observer)` to `into` (cleared first): the hand
/// codec ([`crate::codec`]), each value's fields one after the other.
pub fn encode(id: u32, state: &State, observer: &Observer, mut into: Vec<u8>) -> Vec<u8> {
    if slow_codec() {
        return encode_slow(id, state, observer, into);
    }
    into.clear();
    id.put(&mut into);
    append_body(state, observer, into)
}

/// Appends the encoding of `(state, observer)` to `into`: [`encode`] without the index.
pub fn append_body(state: &State, observer: &Observer, mut into: Vec<u8>) -> Vec<u8> {
    if slow_codec() {
        return append_body_slow(state, observer, into);
    }
    state.put(&mut into);
    observer.put(&mut into);
    into
}

/// Decodes one record of [`encode`] from the start of `bytes`; also the bytes left after it.
/// Panics on a record cut short or malformed ([`crate::codec::CUT`]).
pub fn decode(bytes: &[u8]) -> (u32, State, Observer, usize) {
    if slow_codec() {
        return decode_slow(bytes);
    }
    let mut input = bytes;
    let id = u32::take(&mut input);
    let state = State::take(&mut input);
    let observer = Observer::take(&mut input);
    (id, state, observer, input.len())
}

/// [`decode`] over `into`, whose buffers it reuses ([`Codec::take_into`]): the record's
/// index, and the bytes left after it. The same state and observer as [`decode`], field for
/// field (`sim/tests/reuse_twins.rs`); under the slow codec it is [`decode_slow`] moved in.
pub fn decode_into(bytes: &[u8], into: &mut (State, Observer)) -> (u32, usize) {
    if slow_codec() {
        let (id, state, observer, left) = decode_slow(bytes);
        *into = (state, observer);
        return (id, left);
    }
    let mut input = bytes;
    let id = u32::take(&mut input);
    into.0.take_into(&mut input);
    into.1.take_into(&mut input);
    (id, input.len())
}

/// [`encode`]'s slow twin: postcard, a compact varint form of the serde derives.
pub fn encode_slow(id: u32, state: &State, observer: &Observer, mut into: Vec<u8>) -> Vec<u8> {
    into.clear();
    postcard::to_extend(&(id, state, observer), into).expect("a state encodes")
}

/// [`append_body`]'s slow twin: [`encode_slow`] without the index (postcard writes a tuple
/// as its fields one after the other).
pub fn append_body_slow(state: &State, observer: &Observer, into: Vec<u8>) -> Vec<u8> {
    postcard::to_extend(&(state, observer), into).expect("a state encodes")
}

/// [`decode`]'s slow twin: decodes one record of [`encode_slow`].
pub fn decode_slow(bytes: &[u8]) -> (u32, State, Observer, usize) {
    let ((id, state, observer), rest) =
        postcard::take_from_bytes::<(u32, State, Observer)>(bytes).expect("a queued state decodes");
    (id, state, observer, rest.len())
}

/// The search's records take the slow codec ([`encode_slow`], [`decode_slow`]): for the
/// tests that compare the two over whole searches. Process-wide: a test that sets it runs
/// alone in its test binary.
static SLOW_CODEC: AtomicBool = AtomicBool::new(false);

/// Makes every record from now on take the slow codec (`true`) or the hand one (`false`,
/// the default): only for the twin tests, with no search running.
#[doc(hidden)]
pub fn use_slow_codec_for_tests(slow: bool) {
    SLOW_CODEC.store(slow, Ordering::Relaxed);
}

/// Whether [`use_slow_codec_for_tests`] chose the slow codec.
fn slow_codec() -> bool {
    SLOW_CODEC.load(Ordering::Relaxed)
}

/// Decodes a queued record and puts the actors' `programs` back.
pub fn restore(raw: &[u8], programs: &[Arc<[model::ops::Op]>]) -> (u32, State, Observer) {
    let (id, mut state, observer, _) = decode(raw);
    for (actor, program) in state.actors.iter_mut().zip(programs) {
        actor.program = program.clone();
    }
    (id, state, observer)
}

/// [`restore`] over `into`, whose buffers it reuses ([`decode_into`]): the record's index.
pub fn restore_into(
    raw: &[u8],
    programs: &[Arc<[model::ops::Op]>],
    into: &mut (State, Observer),
) -> u32 {
    let (id, _) = decode_into(raw, into);
    for (actor, program) in into.0.actors.iter_mut().zip(programs) {
        actor.program = program.clone();
    }
    id
}

/// The bytes the compact breadth-first search holds: the visited set's slots, the links'
/// chunks and the frontier's chunks, each counted exactly from what the search stored.
pub fn estimated_bytes(visited: &FingerprintSet, links: &Links, frontier: &Frontier) -> u64 {
    visited
        .bytes()
        .saturating_add(links.bytes())
        .saturating_add(frontier.bytes())
}

/// What a search looks for: the oracle's name (`""`: any) and whether to take a violating
/// execution.
pub type Wanted<'a> = (&'a str, &'a dyn Fn(&Execution) -> bool);

/// The search's stores and report.
struct Search<'a> {
    initial: &'a State,
    stepper: Stepper,
    wanted: Wanted<'a>,
    visited: FingerprintSet,
    links: Links,
    frontier: Frontier,
    report: SearchReport,
}

impl Search<'_> {
    /// `violation` is the oracle sought and `accept` takes the execution rebuilt along
    /// `schedule`: the search ends with it.
    fn found(&mut self, violation: &Violation, schedule: &[Task]) -> bool {
        let (oracle, accept) = self.wanted;
        if !(oracle.is_empty() || violation.oracle.name() == oracle) {
            return false;
        }
        let run = replay(self.initial, schedule, self.stepper).expect("a found path replays");
        let take = accept(&run);
        if take {
            self.report.found = Some(run);
        }
        take
    }
}

/// The breadth-first search of `engine::bfs_search` over the compact stores: the
/// same states, steps, ends and counterexample as [`crate::engine::bfs_search_cloned`], in
/// the same order; only its memory estimate differs ([`estimated_bytes`]). It takes
/// [`BATCH_STATES`] queued states at a time, expands them on `jobs` threads
/// ([`crate::expand`]) and merges the results one by one in queue order, exactly as the
/// one-state-at-a-time search would: only the merge inserts into the visited set, links and
/// queue, so the report (and where a limit cuts) is the same for every `jobs`. Steps are
/// shown to `probe`, when given, during the merge.
pub fn bfs(
    initial: &State,
    limits: (u64, u64),
    (stepper, jobs): (Stepper, usize),
    wanted: Wanted<'_>,
    probe: Option<Probe<'_>>,
) -> SearchReport {
    let how = (stepper, jobs, fingerprint as Key);
    bfs_keyed(initial, limits, how, wanted, probe)
}

/// A visited-set key: [`fingerprint`] for the unreduced search,
/// [`crate::symmetry::canonical_fingerprint`] for the symmetry reduction.
pub type Key = fn(&State, &Observer) -> u64;

/// [`bfs`] with the visited set keyed by `key`: two states with one key are one state.
/// Under [`crate::symmetry::canonical_fingerprint`] it is the symmetry reduction's search,
/// the same states, steps, ends and counterexample as the clone-based
/// [`crate::reduce::bfs_keyed`] (`sim/tests/bfs_twins.rs`).
pub fn bfs_keyed(
    initial: &State,
    limits: (u64, u64),
    how: (Stepper, usize, Key),
    wanted: Wanted<'_>,
    probe: Option<Probe<'_>>,
) -> SearchReport {
    let mut unwatched = |_: &crate::reduce::Progress| {};
    bfs_watched(initial, limits, how, wanted, (probe, &mut unwatched))
}

/// [`bfs_keyed`], showing where it stands to `watch` after every
/// [`crate::reduce::WATCH_EVERY_STATES`] states expanded (nothing it does depends on the
/// watch), for a progress line.
pub fn bfs_watched(
    initial: &State,
    limits: (u64, u64),
    (stepper, jobs, key): (Stepper, usize, Key),
    wanted: Wanted<'_>,
    (mut probe, watch): (Option<Probe<'_>>, crate::reduce::Watch<'_>),
) -> SearchReport {
    let mut s = Search {
        initial,
        stepper,
        wanted,
        visited: FingerprintSet::default(),
        links: Links::default(),
        frontier: Frontier::new(initial),
        report: SearchReport::default(),
    };
    s.visited.insert(key(initial, &Observer::new(initial)));
    let root = s.links.push(None, Task::Actor(0));
    s.frontier
        .push(root, initial.clone(), &Observer::new(initial));
    let programs = s.frontier.programs().to_vec();
    let cx = Context {
        programs: &programs,
        stepper,
        key,
        incremental: crate::fingerprint::incremental_key(key),
        keep: probe.is_some(),
    };
    s.report.exhausted = std::thread::scope(|scope| {
        let mut pool = Pool::start(scope, jobs);
        let (mut raws, mut expanded) = (Vec::new(), 0u64);
        loop {
            let n = s.frontier.peek(BATCH_STATES, &mut raws);
            if n == 0 {
                return true;
            }
            let before = expanded / crate::reduce::WATCH_EVERY_STATES;
            expanded += n as u64;
            if expanded / crate::reduce::WATCH_EVERY_STATES > before {
                watch(&crate::reduce::Progress {
                    states: s.report.states,
                    queued: s.frontier.len(),
                    steps: s.report.steps,
                    checks: 0,
                });
            }
            let visited = std::mem::take(&mut s.visited);
            let done;
            (done, (raws, _), s.visited) = pool.expand((raws, n), visited, cx);
            if merge(&mut s, done, limits, &mut probe) {
                return false;
            }
        }
    });
    s.report.queued = s.frontier.pushed();
    s.report
}

/// Takes each expanded state of `batch` off the queue, in order, and records its end and
/// successors ([`record`]). True when the search ends here (found, or a limit reached).
fn merge(
    s: &mut Search<'_>,
    batch: Vec<Expanded>,
    limits: (u64, u64),
    probe: &mut Option<Probe<'_>>,
) -> bool {
    for expanded in batch {
        s.frontier.release();
        if record(s, expanded, limits, probe) {
            return true;
        }
    }
    false
}

/// Records one expanded state `e`: its end when nothing can run, else each runnable task's
/// successor, shown to `probe` first. True when the search ends here.
fn record(
    s: &mut Search<'_>,
    e: Expanded,
    (max_states, max_bytes): (u64, u64),
    probe: &mut Option<Probe<'_>>,
) -> bool {
    if e.runnable.is_empty() {
        s.report.schedules += 1;
        if let Some(v) = &e.end
            && s.found(v, &s.links.path(e.id))
        {
            return true;
        }
    }
    for (successor, &task) in e.successors.iter().zip(&e.runnable) {
        if let (Some(probe), Some(state)) = (probe.as_mut(), &e.state) {
            probe(state, &e.runnable, task);
        }
        s.report.steps += 1;
        let fp = match successor {
            Successor::Broken(v) => {
                let mut schedule = s.links.path(e.id);
                schedule.push(task);
                if s.found(v, &schedule) {
                    return true;
                }
                continue;
            }
            Successor::Known(fp) | Successor::Fresh(fp, _) => *fp,
        };
        if s.visited.insert(fp) {
            let Successor::Fresh(_, range) = successor else {
                unreachable!("a fingerprint visited before the batch is not new");
            };
            s.report.states += 1;
            if s.report.states >= max_states {
                return true;
            }
            let child = s.links.push(Some(e.id), task);
            s.frontier.push_body(child, &e.bytes[range.clone()]);
            let bytes = estimated_bytes(&s.visited, &s.links, &s.frontier);
            s.report.peak_bytes = s.report.peak_bytes.max(bytes);
            if bytes > max_bytes {
                s.report.cut = true;
                return true;
            }
        }
    }
    false
}
