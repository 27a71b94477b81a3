//! The swarm generator: a seed gives a scenario. Each seed switches whole kinds of actor on
//! and off (swarm testing), draws offsets towards block and sector boundaries and towards
//! `i_size`, and picks mount options and sync flags, on a small geometry. Every derived
//! option is printed with the seed ([`SwarmOptions`]'s `Display`).

use std::fmt;

use model::fs::ext4::extents::{Extent, ExtentState};
use model::fs::ext4::super_::{Geometry, Mount};
use model::include::fs::{FileFlags, Segment};
use model::limits::RLIM_INFINITY;
use model::ops::{Op, WriteOp};
use model::scenario::{InodeSpec, Scenario};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario_file::DEFAULT_BUFFER;

/// Blocks of the file a swarm scenario plays in.
pub const FILE_BLOCKS: u64 = 3;
/// Physical blocks of a swarm scenario's disk.
pub const DISK_BLOCKS: u32 = 16;
/// Actors of a swarm scenario: at least and at most.
pub const ACTORS: (usize, usize) = (2, 4);

/// The kinds of operation a seed may switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Buffered writes.
    Buffered,
    /// Synchronous direct writes.
    SyncDio,
    /// `io_submit` direct writes.
    AioDio,
    /// Buffered and direct reads, `stat`.
    Read,
    /// Truncate and punch hole.
    Shrink,
    /// Writeback, fsync, commit.
    Flush,
    /// A crash.
    Crash,
}

impl fmt::Display for Kind {
    /// The name printed with a seed's options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Buffered => "buffered",
            Kind::SyncDio => "sync-dio",
            Kind::AioDio => "aio-dio",
            Kind::Read => "read",
            Kind::Shrink => "shrink",
            Kind::Flush => "flush",
            Kind::Crash => "crash",
        })
    }
}

impl Kind {
    /// Every kind, in the order a seed draws them.
    pub const ALL: [Kind; 7] = KINDS;

    /// Parses the name [`Kind`]'s `Display` prints.
    pub fn from_name(name: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.to_string() == name)
    }
}

const KINDS: [Kind; 7] = [
    Kind::Buffered,
    Kind::SyncDio,
    Kind::AioDio,
    Kind::Read,
    Kind::Shrink,
    Kind::Flush,
    Kind::Crash,
];

/// Everything a seed decided.
#[derive(Clone, Debug)]
pub struct SwarmOptions {
    /// The seed.
    pub seed: u64,
    /// The kinds switched on.
    pub kinds: Vec<Kind>,
    /// Block and sector sizes.
    pub geometry: Geometry,
    /// Mount options.
    pub mount: Mount,
    /// `i_size` at the start.
    pub i_size: u64,
    /// Actors.
    pub actors: usize,
}

impl fmt::Display for SwarmOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.geometry;
        let m = &self.mount;
        let kinds: Vec<String> = self.kinds.iter().map(Kind::to_string).collect();
        write!(
            f,
            "SEED={} kinds={} block={} sector={} dioread_nolock={} plug_holds_bios={} bio_errors={} i_size={} actors={}",
            self.seed,
            kinds.join(","),
            g.blocksize(),
            g.sectorsize(),
            m.dioread_nolock,
            m.plug_holds_bios,
            m.bio_errors,
            self.i_size,
            self.actors
        )
    }
}

/// The scenario of `seed`, and the options it derived.
pub fn generate(seed: u64) -> (Scenario, SwarmOptions) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let options = options(seed, &mut rng);
    let inode = inode(&options, &mut rng);
    let programs = (0..options.actors)
        .map(|_| program(&options, &mut rng))
        .collect();
    let scenario = Scenario {
        geometry: options.geometry,
        mount: options.mount,
        inodes: vec![inode],
        actors: programs,
        patches: model::patches::Patches::NONE,
    };
    (scenario, options)
}

/// The options of `seed`'s scenario ([`generate`] draws them first), without drawing the
/// scenario.
pub fn options_of(seed: u64) -> SwarmOptions {
    options(seed, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// The option dimensions a coverage-guided hunt weighs ([`crate::guide`]): each kind on or
/// off, the sector size, dioread_nolock, plug_holds_bios, bio_errors, `i_size`, actors.
pub const DIMENSIONS: usize = 13;
/// The most values a dimension has (`i_size`'s five).
pub const VALUES_MAX: usize = 5;
/// The `i_size` choices, in blocks and sectors: `(blocks, sectors)`.
const I_SIZES: [(u64, u64); 5] = [(0, 0), (1, 0), (2, 0), (2, 1), (3, 0)];

/// Each dimension's name and number of values.
pub fn dimensions() -> [(String, usize); DIMENSIONS] {
    std::array::from_fn(|d| match d {
        0..7 => (format!("kind {}", KINDS[d]), 2),
        7 => ("sector 2 KiB".to_string(), 2),
        8 => ("dioread_nolock".to_string(), 2),
        9 => ("plug_holds_bios".to_string(), 2),
        10 => ("bio_errors".to_string(), 2),
        11 => ("i_size".to_string(), I_SIZES.len()),
        _ => ("actors".to_string(), ACTORS.1 - ACTORS.0 + 1),
    })
}

/// The value `options` takes in each dimension of [`dimensions`].
pub fn option_values(options: &SwarmOptions) -> [usize; DIMENSIONS] {
    let (b, s) = (options.geometry.blocksize(), options.geometry.sectorsize());
    let m = &options.mount;
    std::array::from_fn(|d| match d {
        0..7 => usize::from(options.kinds.contains(&KINDS[d])),
        7 => (options.geometry.sector_bits - 10) as usize,
        8 => usize::from(m.dioread_nolock),
        9 => usize::from(m.plug_holds_bios),
        10 => usize::from(m.bio_errors),
        11 => I_SIZES
            .iter()
            .position(|&(blocks, sectors)| blocks * b + sectors * s == options.i_size)
            .unwrap_or(0),
        _ => options.actors - ACTORS.0,
    })
}

fn options(seed: u64, rng: &mut ChaCha8Rng) -> SwarmOptions {
    let mut kinds: Vec<Kind> = KINDS
        .iter()
        .copied()
        .filter(|_| rng.random_range(0..3) > 0)
        .collect();
    if !kinds
        .iter()
        .any(|k| matches!(k, Kind::Buffered | Kind::SyncDio | Kind::AioDio))
    {
        kinds.push(Kind::AioDio);
    }
    let sector_bits = [10, 11][rng.random_range(0..2)];
    let geometry = Geometry {
        blkbits: 12,
        sector_bits,
        page_bits: 12,
        huge_file: true,
        disk_blocks: DISK_BLOCKS,
    };
    let mount = Mount {
        dioread_nolock: rng.random_range(0..2) == 0,
        sync: false,
        plug_holds_bios: rng.random_range(0..4) == 0,
        bio_errors: rng.random_range(0..8) == 0,
    };
    let b = geometry.blocksize();
    let (blocks, sectors) = I_SIZES[rng.random_range(0..I_SIZES.len())];
    let i_size = blocks * b + sectors * geometry.sectorsize();
    let actors = rng.random_range(ACTORS.0..=ACTORS.1);
    SwarmOptions {
        seed,
        kinds,
        geometry,
        mount,
        i_size,
        actors,
    }
}

/// One extent-mapped inode: each of its blocks a hole, written or unwritten, at scattered
/// physical blocks (so that neighbours are not always physically contiguous). A state 4.4
/// can reach: no written block past the one holding EOF (a drawn one is unwritten, as
/// `fallocate(FALLOC_FL_KEEP_SIZE)` leaves it), no cached page past EOF.
fn inode(options: &SwarmOptions, rng: &mut ChaCha8Rng) -> InodeSpec {
    let g = options.geometry;
    let eof_block = options.i_size.div_ceil(g.blocksize());
    let mut extents = Vec::new();
    let mut pblk = rng.random_range(0..3);
    for lblk in 0..FILE_BLOCKS {
        let state = match rng.random_range(0..4) {
            0 => continue,
            1 => ExtentState::Unwritten,
            _ if lblk >= eof_block => ExtentState::Unwritten,
            _ => ExtentState::Written,
        };
        extents.push(Extent {
            lblk,
            len: 1,
            pblk,
            state,
        });
        pblk += 1 + rng.random_range(0..2);
    }
    let eof_page = options.i_size.div_ceil(g.pagesize());
    let cached_pages = (0..FILE_BLOCKS)
        .filter(|_| rng.random_range(0..5) == 0)
        .filter(|&index| index < eof_page)
        .collect();
    InodeSpec {
        ino: 12,
        extents: true,
        s_sync: false,
        dio_refused: false,
        i_size: options.i_size,
        extents_at_start: extents,
        cached_pages,
    }
}

fn program(options: &SwarmOptions, rng: &mut ChaCha8Rng) -> Vec<Op> {
    let ops = rng.random_range(1..=2);
    (0..ops).map(|_| operation(options, rng)).collect()
}

fn operation(options: &SwarmOptions, rng: &mut ChaCha8Rng) -> Op {
    let kind = options.kinds[rng.random_range(0..options.kinds.len())];
    let pos = offset(options, rng);
    let b = options.geometry.blocksize();
    match kind {
        Kind::Buffered | Kind::SyncDio | Kind::AioDio => Op::Write(write(options, kind, pos, rng)),
        Kind::Read => match rng.random_range(0..3) {
            0 => Op::Stat { inode: 0 },
            n => Op::Read {
                inode: 0,
                pos: pos & !(b - 1),
                len: b,
                direct: n == 2,
            },
        },
        Kind::Shrink if rng.random_range(0..2) == 0 => Op::Truncate {
            inode: 0,
            size: pos,
        },
        Kind::Shrink => Op::PunchHole {
            inode: 0,
            pos,
            len: length(options, rng),
        },
        Kind::Flush => match rng.random_range(0..3) {
            0 => Op::Writeback { inode: 0 },
            1 => Op::Fsync {
                inode: 0,
                datasync: rng.random_range(0..2) == 0,
            },
            _ => Op::Commit,
        },
        Kind::Crash => Op::Crash,
    }
}

fn write(options: &SwarmOptions, kind: Kind, pos: u64, rng: &mut ChaCha8Rng) -> WriteOp {
    let len = length(options, rng);
    let sync = rng.random_range(0..3);
    let file = FileFlags {
        o_direct: kind != Kind::Buffered,
        o_append: rng.random_range(0..5) == 0,
        o_sync: sync == 2,
        o_dsync: sync > 0,
        o_largefile: true,
    };
    WriteOp {
        inode: 0,
        pos,
        segments: vec![Segment {
            base: DEFAULT_BUFFER,
            len,
        }],
        file,
        aio: kind == Kind::AioDio,
        rlimit_fsize: RLIM_INFINITY,
        tag: 0,
    }
}

/// An offset drawn towards block and sector boundaries and towards `i_size`.
fn offset(options: &SwarmOptions, rng: &mut ChaCha8Rng) -> u64 {
    let (b, s) = (options.geometry.blocksize(), options.geometry.sectorsize());
    let anchor = [0, b, 2 * b, options.i_size][rng.random_range(0..4)];
    let nudge = [0, 0, s, 2 * s][rng.random_range(0..4)];
    (anchor + nudge).min(FILE_BLOCKS * b - s)
}

fn length(options: &SwarmOptions, rng: &mut ChaCha8Rng) -> u64 {
    let (b, s) = (options.geometry.blocksize(), options.geometry.sectorsize());
    [s, 2 * s, b, b + s][rng.random_range(0..4)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_valid_scenario_every_time() {
        for seed in 0..200 {
            let (a, options) = generate(seed);
            let (b, _) = generate(seed);
            assert_eq!(a, b);
            a.build()
                .unwrap_or_else(|e| panic!("seed {seed} ({options}): {e}"));
            assert!((ACTORS.0..=ACTORS.1).contains(&a.actors.len()));
        }
    }

    #[test]
    fn seeds_switch_kinds_on_and_off() {
        let distinct: std::collections::BTreeSet<String> = (0..50)
            .map(|s| format!("{:?}", generate(s).1.kinds))
            .collect();
        assert!(distinct.len() > 10);
    }
}
