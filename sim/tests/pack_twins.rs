//! The hand packer of the breadth-first queue's records ([`sim::pack`], [`Method::Delta`])
//! against its slow twin, LZ4 with the previous record as its dictionary ([`Method::Lz4`]).
//!
//! - Real records: the records ([`frontier::encode`], programs left out, as queued) of every
//!   successor a bounded breadth-first walk of every example and corpus entry meets, in the
//!   order met, packed one after the other from the initial state's record and unpacked in
//!   the same order, come back byte for byte under either packer; and the hand packer's
//!   records take no more bytes in all than LZ4's.
//! - Random records: seeded sequences of records, each a fresh one or the one before it
//!   edited (bytes changed, put in, taken out, runs repeated), of every length from empty to
//!   past a varint's two bytes, come back byte for byte under either packer.
//!
//! Whole searches with either packer are compared in `pack_search.rs` (it switches the packer
//! process-wide, so it runs alone in its binary).

mod common;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::fingerprint::fingerprint;
use sim::frontier;
use sim::oracle::Observer;
use sim::pack::{self, Method, Packer};

/// States each scenario's breadth-first walk keeps (its records are those of every successor).
const WALK_STATES: u64 = 1_000;
/// Records every scenario must give, at least (a corpus entry whose writers soon break an
/// oracle gives few).
const RECORDS_MIN: usize = 1;
/// Records all scenarios must give, at least.
const RECORDS_TOTAL_MIN: usize = 40_000;
/// Random sequences, and records in each.
const RANDOM_SEQUENCES: u64 = 200;
/// See [`RANDOM_SEQUENCES`].
const RANDOM_RECORDS: usize = 40;
/// The longest random record (past the 16,383 bytes of a two-byte varint, and LZ4's 64 KiB
/// window).
const RANDOM_LEN_MAX: usize = 70_000;
/// The usual length of a random record, about a real one's.
const RANDOM_LEN_USUAL: usize = 600;

/// The packed bytes of `records`, each against the one before it (the first against
/// `dictionary`), under `method`, after checking that unpacking them in order gives each
/// back; what differs, if anything.
fn round_trip(method: Method, dictionary: &[u8], records: &[Vec<u8>]) -> Result<usize, String> {
    let mut packer = Packer::new(dictionary.to_vec(), method);
    let mut packed = Vec::new();
    for raw in records {
        let mut out = Vec::new();
        packer.pack(raw, &mut out);
        packed.push(out);
    }
    let (mut previous, mut back) = (dictionary.to_vec(), Vec::new());
    for (i, (raw, p)) in records.iter().zip(&packed).enumerate() {
        pack::unpack(method, p, &previous, raw.len(), &mut back);
        if &back != raw {
            return Err(format!("record {i} of {} ({method:?})", records.len()));
        }
        std::mem::swap(&mut previous, &mut back);
    }
    Ok(packed.iter().map(Vec::len).sum())
}

/// `state`'s record as queued: its programs left out.
fn record(id: u32, state: &model::state::State, observer: &Observer) -> Vec<u8> {
    let mut stripped = state.clone();
    for actor in &mut stripped.actors {
        actor.program = Default::default();
    }
    frontier::encode(id, &stripped, observer, Vec::new())
}

#[test]
fn real_records_round_trip_under_both_packers() {
    let (mut delta_total, mut lz4_total, mut count) = (0, 0, 0);
    for (path, initial, _) in common::examples_and_corpus() {
        let dictionary = record(0, &initial, &Observer::new(&initial));
        let mut records = Vec::new();
        common::each_successor(&initial, (WALK_STATES, fingerprint), &mut |_, _, s, o| {
            records.push(record(records.len() as u32 + 1, s, o));
        });
        assert!(records.len() >= RECORDS_MIN, "{}", path.display());
        let at = path.display();
        let trip = |method| round_trip(method, &dictionary, &records);
        let delta = trip(Method::Delta).unwrap_or_else(|e| panic!("{at}: {e}"));
        let lz4 = trip(Method::Lz4).unwrap_or_else(|e| panic!("{at}: {e}"));
        count += records.len();
        delta_total += delta;
        lz4_total += lz4;
    }
    eprintln!("{count} records: {delta_total} bytes packed by hand, {lz4_total} by LZ4");
    assert!(count >= RECORDS_TOTAL_MIN, "{count} records");
    assert!(delta_total <= lz4_total, "{delta_total} > {lz4_total}");
}

/// One random record: mostly `previous` edited, else fresh bytes.
fn random_record(rng: &mut ChaCha8Rng, previous: &[u8]) -> Vec<u8> {
    let fresh = |rng: &mut ChaCha8Rng, n: usize| -> Vec<u8> {
        // Few distinct bytes, so fresh records repeat themselves too.
        let alphabet = rng.random_range(1..=256u16);
        (0..n)
            .map(|_| rng.random_range(0..alphabet) as u8)
            .collect()
    };
    if rng.random_ratio(1, 8) {
        let len = if rng.random_ratio(1, 20) {
            rng.random_range(0..=RANDOM_LEN_MAX)
        } else {
            rng.random_range(0..=RANDOM_LEN_USUAL)
        };
        return fresh(rng, len);
    }
    let mut bytes = previous.to_vec();
    for _ in 0..rng.random_range(0..8) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..4) {
            0 if at < bytes.len() => bytes[at] = rng.random(),
            1 => {
                let n = rng.random_range(0..20);
                bytes.splice(at..at, fresh(rng, n));
            }
            2 => {
                let end = (at + rng.random_range(0..20)).min(bytes.len());
                bytes.drain(at..end);
            }
            _ if at > 0 => {
                // A run that repeats the bytes just before it (an overlapping match).
                let from = rng.random_range(0..at);
                let run: Vec<u8> = (0..rng.random_range(0..40))
                    .map(|k| bytes[from + k % (at - from)])
                    .collect();
                bytes.splice(at..at, run);
            }
            _ => {}
        }
    }
    bytes
}

#[test]
fn random_records_round_trip_under_both_packers() {
    for seed in 0..RANDOM_SEQUENCES {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dictionary = random_record(&mut rng, &[]);
        let mut records = Vec::new();
        for _ in 0..RANDOM_RECORDS {
            let previous = records.last().unwrap_or(&dictionary);
            let next = random_record(&mut rng, previous);
            records.push(next);
        }
        for method in [Method::Delta, Method::Lz4] {
            let trip = round_trip(method, &dictionary, &records);
            trip.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }
}

/// A record whose match runs past the record's length panics at once instead of growing
/// its buffer by the length it claims (here a quarter of a billion bytes for a two-byte
/// record): one literal, then a self-match of distance 1 and length 2^28 + 19.
#[test]
#[should_panic(expected = "a queued state unpacks within its length")]
fn a_match_past_the_record_panics_before_it_copies() {
    let packed = [0x1F, b'a', 3, 0x80, 0x80, 0x80, 0x80, 0x01];
    let mut out = Vec::new();
    pack::unpack(Method::Delta, &packed, b"", 2, &mut out);
}
