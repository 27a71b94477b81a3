//! proptest properties of the model against the independent reference
//! (`properties::reference`). Case counts keep the suite inside the CI budget and the seed is
//! fixed; run more, or other cases, with `PROPTEST_CASES=1000000 PROPTEST_RNG_SEED=7 cargo
//! test --release -p properties --test properties`.
//!
//! Every property draws the mount options (`dioread_nolock` where the geometry allows it,
//! `-o sync`, a request-based device whose plug holds bios, a device that may fail bios) and
//! only initial states 4.4 can reach ([`reachable`]). The schedules here complete every bio
//! (a failing bio is a task the hunt chooses, never the first runnable one), so `bio_errors`
//! only adds tasks no property picks.

use model::drive;
use model::exec::{self, Event, Task};
use model::fs::ext4::extents::{Extent, ExtentState};
use model::fs::ext4::super_::{Geometry, Mount};
use model::include::fs::{FileFlags, Segment, errno};
use model::limits::{OPS_PER_ACTOR_MAX, RLIM_INFINITY};
use model::ops::{Frame, Op, OpResult, WriteOp, WritePc};
use model::scenario::{InodeSpec, Scenario};
use model::state::{Data, State};
use properties::reference::{self, RefFile, Request};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};

fn file_flags(direct: bool, append: bool, largefile: bool) -> FileFlags {
    FileFlags {
        o_direct: direct,
        o_append: append,
        o_sync: false,
        o_dsync: false,
        o_largefile: largefile,
    }
}

fn write_op(pos: u64, len: u64, file: FileFlags, aio: bool, rlimit: Option<u64>) -> WriteOp {
    let segments = vec![Segment {
        base: 0x10_0000,
        len,
    }];
    WriteOp {
        inode: 0,
        pos,
        segments,
        file,
        aio,
        rlimit_fsize: rlimit.unwrap_or(RLIM_INFINITY),
        tag: 0,
    }
}

fn inode(i_size: u64, extents: bool, map: Vec<Extent>, cached: Vec<u64>) -> InodeSpec {
    InodeSpec {
        ino: 12,
        extents,
        s_sync: false,
        dio_refused: false,
        i_size,
        extents_at_start: map,
        cached_pages: cached,
    }
}

/// The initial state 4.4 can reach from `map` and `cached`: written blocks past the one
/// holding EOF become unwritten (as `fallocate(FALLOC_FL_KEEP_SIZE)` leaves them; an extent
/// crossing that block is split there), and no page past EOF is cached.
fn reachable(
    map: Vec<Extent>,
    cached: Vec<u64>,
    i_size: u64,
    block: u64,
) -> (Vec<Extent>, Vec<u64>) {
    let eof_block = i_size.div_ceil(block);
    let mut out = Vec::new();
    for e in map {
        if e.state == ExtentState::Unwritten || e.end() <= eof_block {
            out.push(e);
            continue;
        }
        let below = eof_block.saturating_sub(e.lblk);
        if below > 0 {
            out.push(Extent { len: below, ..e });
        }
        out.push(Extent {
            lblk: e.lblk + below,
            len: e.len - below,
            pblk: e.pblk + below as u32,
            state: ExtentState::Unwritten,
        });
    }
    let cached = cached.into_iter().filter(|&p| p < eof_block).collect();
    (out, cached)
}

/// Every block size ext4 mounts (1–64 KiB) with a sector size the model can hold (at most 8
/// sectors a block here), huge_file on or off.
fn geometry() -> impl Strategy<Value = Geometry> {
    (10u32..=16, any::<bool>()).prop_map(|(blkbits, huge_file)| Geometry {
        blkbits,
        sector_bits: blkbits.saturating_sub(3).max(9),
        page_bits: blkbits.max(12),
        huge_file,
        disk_blocks: 32,
    })
}

/// Any mount options; `dioread_nolock` is dropped where mount refuses it (block size !=
/// page size) by [`fit`].
fn mount() -> impl Strategy<Value = Mount> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(dioread_nolock, sync, plug_holds_bios, bio_errors)| Mount {
            dioread_nolock,
            sync,
            plug_holds_bios,
            bio_errors,
        },
    )
}

/// `mount` as the geometry allows it.
fn fit(mount: Mount, g: &Geometry) -> Mount {
    Mount {
        dioread_nolock: mount.dioread_nolock && g.blkbits == g.page_bits,
        ..mount
    }
}

/// `cases` per property in CI, or `PROPTEST_CASES` to run more; the generator's seed is
/// [`SEED`] unless `PROPTEST_RNG_SEED` names another, so every run draws the same cases. A
/// failure's seed is saved to `properties/proptest-regressions/properties.txt` (commit it)
/// and replayed first ever after.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let base = ProptestConfig::default();
    let rng_seed = match base.rng_seed {
        RngSeed::Random => RngSeed::Fixed(SEED),
        fixed => fixed,
    };
    ProptestConfig {
        cases,
        rng_seed,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..base
    }
}

/// The generators' seed in `cargo test` (`PROPTEST_RNG_SEED` overrides it).
const SEED: u64 = 0x4_4e47;

const B: u64 = 4096;
const S: u64 = 1024;
/// Cases per property in `cargo test`; `PROPTEST_CASES` overrides.
const CASES: u32 = 20_000;
/// Where failing seeds persist, relative to the package root (cargo test's working directory).
const REGRESSIONS: &str = "proptest-regressions/properties.txt";
/// Largest `loff_t`.
const LOFF_T_MAX: u64 = i64::MAX as u64;

/// A write of property 1: where it starts, how long it is, how it is issued.
#[derive(Clone, Debug)]
struct LimitCase {
    g: Geometry,
    mount: Mount,
    extents: bool,
    i_size_pick: usize,
    pos_pick: proptest::sample::Index,
    /// Sectors to add to the picked offset.
    k: i64,
    /// Bytes to add to it: 0, or an offset no sector divides.
    skew: u64,
    /// Whole blocks of the length, and bytes more (a sub-block tail).
    blocks: u64,
    tail_pick: usize,
    append: bool,
    largefile: bool,
    rlimit_pick: usize,
    rlimit_any: u64,
    direct: bool,
    aio: bool,
    split: u64,
    base_skew: u64,
}

fn limit_case() -> impl Strategy<Value = LimitCase> {
    let kind = prop_oneof![
        Just((false, false)),
        Just((true, false)),
        Just((true, true))
    ];
    (
        (geometry(), mount(), any::<bool>(), 0usize..5),
        (
            any::<proptest::sample::Index>(),
            -2i64..=2,
            prop_oneof![3 => Just(0u64), 1 => Just(1), 1 => Just(511)],
        ),
        (0u64..3, 0usize..4, any::<bool>(), any::<bool>()),
        (
            0usize..6,
            0u64..(1 << 40),
            kind,
            0u64..4,
            prop_oneof![Just(0u64), Just(1), Just(512)],
        ),
    )
        .prop_map(|(a, b, c, d)| LimitCase {
            g: a.0,
            mount: a.1,
            extents: a.2,
            i_size_pick: a.3,
            pos_pick: b.0,
            k: b.1,
            skew: b.2,
            blocks: c.0,
            tail_pick: c.1,
            append: c.2,
            largefile: c.3,
            rlimit_pick: d.0,
            rlimit_any: d.1,
            direct: d.2.0,
            aio: d.2.1,
            split: d.3,
            base_skew: d.4,
        })
}

/// Property 1's write, built from a [`LimitCase`] with the reference's `s_maxbytes` and
/// `s_bitmap_maxbytes` (its own transcription of 4.4's formulas), never the model's.
struct LimitWrite {
    scenario: Scenario,
    request: Request,
    i_size: u64,
    s_maxbytes: u64,
    bitmap: Option<i64>,
    /// `s_maxbytes`, or for a block-mapped file `s_bitmap_maxbytes` (0 when negative).
    limit: u64,
    segments: Vec<(u64, u64)>,
}

fn limit_write(c: &LimitCase) -> LimitWrite {
    let g = c.g;
    let (bs, sector) = (g.blocksize(), g.sectorsize());
    let s_maxbytes = reference::s_maxbytes(g.blkbits, g.huge_file);
    let bitmap = reference::s_bitmap_maxbytes(g.blkbits, g.huge_file);
    let limit = if c.extents {
        s_maxbytes
    } else {
        bitmap.max(0) as u64
    };
    let i_size = [0, bs, limit.saturating_sub(bs), (1 << 31) - 1, bs + sector][c.i_size_pick]
        .min(limit)
        .min(s_maxbytes);
    let len = c.blocks * bs + [0, sector, 1, bs / 2][c.tail_pick];
    let rlimit = [
        None,
        Some(0),
        Some(c.rlimit_any),
        Some(s_maxbytes),
        Some(s_maxbytes + c.rlimit_any),
        Some(RLIM_INFINITY - 1),
    ][c.rlimit_pick];
    let edges = [
        0,
        i_size,
        limit,
        (1 << 31) - 1,
        rlimit.unwrap_or(0),
        s_maxbytes,
        LOFF_T_MAX - len,
        LOFF_T_MAX,
    ];
    let pos = edges[c.pos_pick.index(edges.len())]
        .saturating_add_signed(c.k * sector as i64)
        .saturating_add(c.skew)
        .min(LOFF_T_MAX);
    let file = file_flags(c.direct, c.append, c.largefile);
    let mut w = write_op(pos, len, file, c.aio, rlimit);
    w.segments = iovec(len, c.split, c.base_skew);
    LimitWrite {
        segments: w.segments.iter().map(|s| (s.base, s.len)).collect(),
        scenario: Scenario {
            geometry: g,
            mount: fit(c.mount, &g),
            inodes: vec![inode(i_size, c.extents, vec![], vec![])],
            actors: vec![vec![Op::Write(w)]],
            patches: model::patches::Patches::NONE,
        },
        request: Request {
            pos,
            len,
            append: c.append,
            largefile: c.largefile,
            rlimit,
        },
        i_size,
        s_maxbytes,
        bitmap: (!c.extents).then_some(bitmap),
        limit,
    }
}

/// Property 1 for one case.
fn check_size_limits(c: &LimitCase) -> Result<(), TestCaseError> {
    let w = limit_write(c);
    let (g, r) = (c.g, w.request);
    // rw_verify_area's -EINVAL comes before ext4; the model does not run such a write but
    // refuses the scenario, naming the range.
    if reference::rw_verify_area_refuses(r.pos, r.len) {
        let refused = w.scenario.build().expect_err("a wrapping range is refused");
        prop_assert!(refused.to_string().contains("loff_t"), "{}", refused);
        return Ok(());
    }
    let mut state = w.scenario.build().unwrap();
    drive::run(&mut state, &[], true).unwrap();
    let OpResult::Write {
        ret,
        sigxfsz,
        ki_pos,
        event,
    } = state.actors[0].results[0]
    else {
        unreachable!()
    };
    let ret = if ret == errno::EIOCBQUEUED {
        event.expect("a queued AIO completes")
    } else {
        ret
    };
    let mut expected = reference::expected_write(r, w.i_size, w.s_maxbytes, w.bitmap);
    let misaligned = || {
        reference::dio_misaligned(
            expected.pos,
            &w.segments,
            expected.ret as u64,
            g.sectorsize(),
        )
    };
    if c.direct && expected.ret > 0 && misaligned() {
        expected.ret = errno::EINVAL;
    }
    prop_assert_eq!((ret, sigxfsz), (expected.ret, expected.sigxfsz));
    if expected.ret > 0 && !c.aio {
        prop_assert_eq!(ki_pos, expected.pos + expected.ret as u64);
    }
    let (size, limit) = (state.inodes[0].i_size, w.limit);
    prop_assert!(
        size <= limit.max(w.i_size),
        "i_size {size} past the limit {limit}"
    );
    let past_limit = |b: u64| (b + 1) << g.blkbits > limit.next_multiple_of(g.blocksize());
    let map = &state.inodes[0].map;
    let past = map.delayed.iter().any(|&b| past_limit(b))
        || map.extents.iter().any(|e| past_limit(e.end() - 1));
    prop_assert!(!past, "a block at or past the limit");
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Size limits: for buffered, DIO and AIO DIO writes of one to four iovec segments (user
    /// addresses aligned or not, sub-block and sub-sector lengths and offsets), on every block
    /// size, huge_file on and off, extent and block-mapped files, with and without
    /// O_LARGEFILE, under `RLIMIT_FSIZE` unlimited, 0, anywhere, at and past `s_maxbytes`, at
    /// offsets at every edge (block, sector, `i_size`, `s_maxbytes`, `s_bitmap_maxbytes`,
    /// `MAX_NON_LFS`, the rlimit, `2^63 - 1` less the length, `2^63 - 1`), under any mount
    /// options: the model's return (bytes, `-EFBIG`, `-EINVAL` for a misaligned DIO, 0),
    /// SIGXFSZ and final position equal the reference's, computed with the reference's own
    /// `s_maxbytes` and `s_bitmap_maxbytes` (4.4's `loff_t` arithmetic: negative for 64 KiB
    /// blocks and for 32 KiB blocks without huge_file); nothing is written at or past the
    /// limit that applies (`generic_write_checks`, `ext4_max_size`, the bitmap-file check, `do_blockdev_direct_IO`'s
    /// alignment); a range past `2^63 - 1` (`rw_verify_area`'s `-EINVAL`) is refused by the
    /// scenario loader, as the model does not run it.
    #[test]
    fn size_limits_match_the_reference(c in limit_case()) {
        check_size_limits(&c)?;
    }
}

/// `len` bytes as `split + 1` iovec segments (the first `split` of one 512-byte piece each,
/// the rest in the last), the first one's address `skew` bytes past a page boundary.
fn iovec(len: u64, split: u64, skew: u64) -> Vec<Segment> {
    const PIECE: u64 = 512;
    let mut segments = Vec::new();
    let mut left = len;
    for _ in 0..split.min(len / PIECE) {
        segments.push(Segment {
            base: 0x10_0000,
            len: PIECE,
        });
        left -= PIECE;
    }
    segments.push(Segment {
        base: 0x10_0000,
        len: left,
    });
    segments[0].base += skew;
    segments
}

/// Blocks `0..blocks` as runs of 1–4 blocks, each a hole, written (half the runs) or
/// unwritten, placed
/// physically right after the previous extent or one block further (so adjacent extents may
/// or may not be contiguous): multi-block extents, whose blocks past the first a lookup must
/// offset into.
fn extent_map(blocks: u64) -> impl Strategy<Value = Vec<Extent>> {
    let runs = proptest::collection::vec((0u8..4, 1u64..=4, any::<bool>()), 1..=blocks as usize);
    runs.prop_map(move |runs| {
        let (mut lblk, mut pblk, mut out) = (0u64, 0u32, Vec::new());
        for (kind, len, gap) in runs {
            if lblk >= blocks {
                break;
            }
            let len = len.min(blocks - lblk);
            let state = match kind {
                0 => {
                    lblk += len;
                    continue;
                }
                1 | 2 => ExtentState::Written,
                _ => ExtentState::Unwritten,
            };
            pblk += u32::from(gap);
            out.push(Extent {
                lblk,
                len,
                pblk,
                state,
            });
            pblk += len as u32;
            lblk += len;
        }
        out
    })
}

/// 4 KiB blocks and pages on 1 KiB sectors, 32 disk blocks.
const G4K: Geometry = Geometry {
    blkbits: 12,
    sector_bits: 10,
    page_bits: 12,
    huge_file: true,
    disk_blocks: 32,
};

/// Steps actor 0 until its write passed `WritePc` `until`, or finished.
fn step_until(state: &mut State, until: WritePc) {
    for _ in 0..200 {
        if matches!(&state.actors[0].frame, Frame::Write(f) if f.pc == until)
            || state.actors[0].results.len() == 1
        {
            return;
        }
        exec::step(state, Task::Actor(0)).expect("a lone writer steps");
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Overwrite detection: over 8 blocks of holes and written and unwritten extents of 1–4
    /// blocks (adjacent ones contiguous or not), `i_size` aligned or not, cached pages, any
    /// mount options, writes of 1–12 sectors anywhere in them: the aio_mutex gate and the
    /// `overwrite` flag equal the reference's aio_mutex gate and overwrite test of `ext4_file_write_iter`,
    /// and the write drops i_mutex in `ext4_ext_direct_IO` exactly when the flag is set.
    #[test]
    fn overwrite_detection_matches_the_reference(
        map in extent_map(8),
        i_size in (1u64..=8, prop_oneof![Just(0u64), Just(S)]).prop_map(|(b, s)| b * B - s),
        cached in proptest::collection::vec(0u64..8, 0..2),
        mount in mount(),
        (pos, len) in (0u64..32, 1u64..13).prop_map(|(p, l)| (p * S, l * S)),
        aio in any::<bool>(),
        append in any::<bool>(),
        misaligned_buffer in any::<bool>(),
    ) {
        let (map, cached) = reachable(map, cached, i_size, B);
        let mut w = write_op(pos, len, file_flags(true, append, true), aio, None);
        if misaligned_buffer {
            w.segments[0].base += S;
        }
        let scenario = Scenario { geometry: G4K, mount, inodes: vec![inode(i_size, true, map.clone(), cached.clone())], actors: vec![vec![Op::Write(w.clone())]], patches: model::patches::Patches::NONE };
        let mut state = scenario.build().unwrap();
        step_until(&mut state, WritePc::DirectFlush);
        let Frame::Write(f) = &state.actors[0].frame else { panic!("the write is under way") };
        let alignment = w.segments[0].base | len;
        let aio_mutex = reference::takes_aio_mutex(aio, append, (pos, alignment), i_size, B);
        prop_assert_eq!(f.aio_mutex.is_some(), aio_mutex);
        let at = if append { i_size } else { pos };
        let expected = reference::is_overwrite(&map, B, (at, len), i_size, (mount.dioread_nolock, aio_mutex, !cached.is_empty()));
        prop_assert_eq!(f.overwrite, expected);
        step_until(&mut state, WritePc::DioStart);
        if matches!(state.actors[0].frame, Frame::Write(_)) {
            let without_i_mutex = state.inodes[0].i_mutex.is_none();
            prop_assert_eq!(without_i_mutex, expected, "i_mutex dropped exactly for an overwrite");
        }
    }
}

/// The position of the first step named `name` by `task` in the trace.
fn position(trace: &[Event], task: &str, name: &str) -> Option<usize> {
    trace
        .iter()
        .position(|e| e.task.to_string().starts_with(task) && e.step == name)
}

/// Runs the default schedule (the first runnable task) to the end; returns the trace and a
/// copy of the state at the moment actor 0's write returned (a synchronous return) or its
/// AIO event arrived.
fn run_to_return(state: &mut State) -> (Vec<Event>, State) {
    let mut trace = Vec::new();
    let mut at_return = None;
    for _ in 0..model::limits::STEPS_MAX {
        let returned = match state.actors[0].results.first() {
            Some(&OpResult::Write { ret, event, .. }) => {
                ret != errno::EIOCBQUEUED || event.is_some()
            }
            _ => false,
        };
        if returned && at_return.is_none() {
            at_return = Some(state.clone());
        }
        let Some(&task) = exec::runnable(state).first() else {
            break;
        };
        trace.push(exec::step(state, task).expect("a runnable task steps"));
    }
    (trace, at_return.expect("the write returns"))
}

/// What a crash leaves of `state`'s inode 0: the model's own crash (journal replay, orphan
/// cleanup), then every sector below the size read from disk.
fn crash_and_read(mut state: State) -> (u64, Vec<Data>) {
    model::fs::ext4::super_::crash(&mut state, 0, &mut model::notes::Notes::new(true));
    let size = state.inodes[0].i_size;
    let sector = state.geometry.sectorsize();
    let data = (0..size)
        .step_by(sector as usize)
        .map(|p| model::mm::filemap::read_disk_sector(&state, 0, p))
        .collect();
    (size, data)
}

/// The journal commits seen at `generic_write_sync`'s `jbd2_complete_transaction`: the
/// writer's and `dio_complete`'s `SyncCommit` steps, each `true` when it committed.
fn sync_commits(trace: &[Event]) -> Vec<bool> {
    trace
        .iter()
        .filter(|e| e.step == "SyncCommit" || e.step == "dio_complete:SyncCommit")
        .map(|e| {
            e.notes
                .iter()
                .any(|n| n.starts_with("jbd2_log_start_commit"))
        })
        .collect()
}

/// A write of property 3.
#[derive(Clone, Debug)]
struct SyncCase {
    map: Vec<Extent>,
    i_size: u64,
    pos: u64,
    len: u64,
    direct: bool,
    aio: bool,
    append: bool,
    /// 0: none, 1: O_DSYNC, 2: O_SYNC.
    sync: u8,
    s_sync: bool,
    mount: Mount,
}

fn sync_case() -> impl Strategy<Value = SyncCase> {
    let kind = prop_oneof![
        Just((false, false)),
        Just((true, false)),
        Just((true, true))
    ];
    (
        (
            // A quarter of the maps written all over, so that O_DSYNC overwrites (no
            // datasync transaction to wait for) are common.
            prop_oneof![3 => extent_map(6), 1 => Just(vec![Extent { lblk: 0, len: 6, pblk: 0, state: ExtentState::Written }])],
            prop_oneof![1 => Just(0), 1 => Just(B), 1 => Just(2 * B), 1 => Just(3 * B + S), 4 => Just(6 * B)],
        ),
        (0u64..28, 1u64..13).prop_map(|(p, l)| (p * S, l * S)),
        (kind, any::<bool>(), 0u8..3, any::<bool>(), mount()),
    )
        .prop_map(|((map, i_size), (pos, len), (kind, append, sync, s_sync, mount))| SyncCase {
            map,
            i_size,
            pos,
            len,
            direct: kind.0,
            aio: kind.1,
            append,
            sync,
            s_sync,
            mount,
        })
}

/// `generic_write_sync` runs where `ext4_file_write_iter` (fs/ext4/file.c) and `dio_complete` (fs/direct-io.c) run it: in the writer after i_mutex is released
/// and before the plug and the aio_mutex, or for a queued AIO in `dio_complete` after
/// `end_io` and `inode_dio_end` and before `ki_complete`.
fn check_sync_order(
    trace: &[Event],
    syncs: bool,
    ret: i64,
    event: Option<i64>,
) -> Result<(), TestCaseError> {
    let queued = ret == errno::EIOCBQUEUED;
    let writer_sync = position(trace, "a0", "SyncFlush");
    let worker_sync = position(trace, "w", "dio_complete:SyncFlush");
    prop_assert_eq!(
        writer_sync.is_some(),
        syncs && ret > 0,
        "writer's generic_write_sync"
    );
    let completed = syncs && queued && event.unwrap_or(0) > 0;
    prop_assert_eq!(
        worker_sync.is_some(),
        completed,
        "dio_complete's generic_write_sync"
    );
    if let Some(at) = writer_sync {
        prop_assert!(position(trace, "a0", "IMutexUnlock").is_some_and(|u| u < at));
        for later in ["FinishPlug", "AioMutexUnlock"] {
            let after = position(trace, "a0", later).is_none_or(|p| p > at);
            prop_assert!(after, "{} before the sync", later);
        }
    }
    if let Some(at) = worker_sync {
        let order = ["dio_complete:EndIo", "dio_complete:DioEnd"].map(|n| position(trace, "w", n));
        let first = order.iter().all(|p| p.is_some_and(|p| p < at));
        prop_assert!(first, "end_io and inode_dio_end first");
        prop_assert!(position(trace, "w", "dio_complete:KiComplete").is_some_and(|p| p > at));
    }
    Ok(())
}

/// Property 3 for one case.
fn check_sync(c: &SyncCase) -> Result<(), TestCaseError> {
    let mut file = file_flags(c.direct, c.append, true);
    (file.o_sync, file.o_dsync) = (c.sync == 2, c.sync > 0);
    let w = write_op(c.pos, c.len, file, c.aio, None);
    let (map, _) = reachable(c.map.clone(), vec![], c.i_size, B);
    let mut spec = inode(c.i_size, true, map.clone(), vec![]);
    spec.s_sync = c.s_sync;
    let scenario = Scenario {
        geometry: G4K,
        mount: c.mount,
        inodes: vec![spec],
        actors: vec![vec![Op::Write(w)]],
        patches: model::patches::Patches::NONE,
    };
    let mut state = scenario.build().unwrap();
    let (trace, at_return) = run_to_return(&mut state);
    let OpResult::Write {
        ret, ki_pos, event, ..
    } = state.actors[0].results[0]
    else {
        unreachable!()
    };
    let syncs = c.sync > 0 || c.s_sync || c.mount.sync;
    check_sync_order(&trace, syncs, ret, event)?;
    let written = if ret > 0 {
        Some((ki_pos - ret as u64, ki_pos))
    } else {
        event
            .filter(|&e| e > 0)
            .map(|e| (ki_pos, ki_pos + e as u64))
    };
    let Some((from, to)) = written.filter(|_| syncs) else {
        prop_assert!(
            sync_commits(&trace).iter().all(|&c| !c),
            "a commit without a sync"
        );
        return Ok(());
    };
    // The datasync flag: O_SYNC waits for i_sync_tid, which the write itself moved
    // (file_update_time); O_DSYNC or IS_SYNC alone waits for i_datasync_tid, which only
    // an allocation, a conversion or a size change moves.
    let datasync = reference::sync_is_datasync(file.o_sync);
    let must_commit = reference::sync_commits(datasync, &map, B, c.i_size, (from, to));
    prop_assert_eq!(
        sync_commits(&trace),
        vec![must_commit],
        "datasync={}",
        datasync
    );
    // Durability: a crash when the write returns leaves the reference's file.
    let mut expected = RefFile::initial(&map, c.i_size, S, B);
    expected.write(S, from, to - from, 1);
    let (size, data) = crash_and_read(at_return);
    prop_assert_eq!(size, expected.size, "the size after a crash");
    prop_assert_eq!(
        data,
        expected.read(S, 0, expected.size),
        "the file after a crash"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Sync writes (`generic_write_sync`, include/linux/fs.h), over 6 blocks of multi-block written and unwritten extents
    /// and holes, any mount options (`-o sync` makes every inode IS_SYNC), buffered, DIO and
    /// AIO DIO, O_APPEND or not, O_DSYNC, O_SYNC, IS_SYNC: `generic_write_sync` runs exactly
    /// when `ret > 0` and the file or inode is sync; in `ext4_file_write_iter` after i_mutex
    /// is released and before the plug and the aio_mutex; for a queued AIO in `dio_complete`
    /// after `end_io` and `inode_dio_end` and before `ki_complete`. Its
    /// `jbd2_complete_transaction` commits exactly when the reference says the tid it waits
    /// for moved (datasync = !O_SYNC); and a crash when the write returns (or its event
    /// arrives) leaves exactly the reference's file: the old contents with the write over
    /// them, at the new size.
    #[test]
    fn sync_writes_sync_in_order_and_survive_a_crash(c in sync_case()) {
        check_sync(&c)?;
    }
}

/// One operation of a sequential case.
#[derive(Clone, Debug)]
enum SeqOp {
    Write {
        pos: u64,
        len: u64,
        kind: Kind,
        append: bool,
        sync: bool,
    },
    Read {
        pos: u64,
        len: u64,
    },
    Truncate {
        size: u64,
    },
    Punch {
        pos: u64,
        len: u64,
    },
    Fsync,
    Crash,
}

fn seq_op() -> impl Strategy<Value = SeqOp> {
    let sectors = |n: u64| (0..n).prop_map(|k| k * S);
    prop_oneof![
        4 => (sectors(16), 1u64..9, kind(), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(pos, l, kind, append, sync)| SeqOp::Write { pos, len: l * S, kind, append, sync }),
        2 => (sectors(16), 1u64..9).prop_map(|(pos, l)| SeqOp::Read { pos, len: l * S }),
        1 => sectors(20).prop_map(|size| SeqOp::Truncate { size }),
        1 => (sectors(16), 1u64..9).prop_map(|(pos, l)| SeqOp::Punch { pos, len: l * S }),
        1 => Just(SeqOp::Fsync),
        1 => Just(SeqOp::Crash),
    ]
}

/// How a sequential write is issued: buffered, synchronous DIO or Linux native AIO DIO.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Buffered,
    Direct,
    Aio,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Buffered), Just(Kind::Direct), Just(Kind::Aio)]
}

fn to_model(op: &SeqOp) -> Op {
    match *op {
        SeqOp::Write {
            pos,
            len,
            kind,
            append,
            sync,
        } => {
            let mut file = file_flags(kind != Kind::Buffered, append, true);
            file.o_sync = sync;
            file.o_dsync = sync;
            Op::Write(write_op(pos, len, file, kind == Kind::Aio, None))
        }
        SeqOp::Read { pos, len } => Op::Read {
            inode: 0,
            pos,
            len,
            direct: false,
        },
        SeqOp::Truncate { size } => Op::Truncate { inode: 0, size },
        SeqOp::Punch { pos, len } => Op::PunchHole { inode: 0, pos, len },
        SeqOp::Fsync => Op::Fsync {
            inode: 0,
            datasync: false,
        },
        SeqOp::Crash => Op::Crash,
    }
}

/// What survives a crash after an unsynced direct or sync write (O_SYNC, or any write on a
/// `-o sync` mount), truncate or punch is not one file (a DIO overwrite of a committed
/// extent is on disk, a DIO into a hole is not; a sync write commits the journal for more
/// than its range; truncate and punch write back dirty pages, so a buffered overwrite they
/// flushed survives while their own zeroing may not), so such a crash gets an fsync first.
/// Property 3 checks sync writes across crashes.
fn fsync_before_uncertain_crashes(ops: Vec<SeqOp>, sync_mount: bool) -> Vec<SeqOp> {
    let mut out = Vec::new();
    let mut uncertain = false;
    for op in ops {
        match op {
            SeqOp::Write { kind, sync, .. } => {
                uncertain |= kind != Kind::Buffered || sync || sync_mount;
            }
            SeqOp::Truncate { .. } | SeqOp::Punch { .. } => uncertain = true,
            SeqOp::Fsync => uncertain = false,
            SeqOp::Crash if uncertain => {
                out.push(SeqOp::Fsync);
                uncertain = false;
            }
            _ => {}
        }
        out.push(op);
    }
    out.truncate(OPS_PER_ACTOR_MAX - 1); // room for the final read
    out
}

/// Runs the one actor to quiescence after every step: a pending bio, DIO completion or
/// work item always runs before the actor's next step, so an AIO write has completed
/// before the next operation starts.
fn run_quiescent(state: &mut State) -> drive::End {
    for _ in 0..model::limits::STEPS_MAX {
        let runnable = exec::runnable(state);
        let Some(&first) = runnable.first() else {
            break;
        };
        let task = runnable
            .iter()
            .copied()
            .find(|t| !matches!(t, Task::Actor(_)))
            .unwrap_or(first);
        exec::step(state, task).expect("a runnable task steps");
    }
    drive::ending(state)
}

/// The reference's sequential semantics of `ops`: the read results and the final file.
/// `durable` is the file as of the last fsync: what a crash leaves.
fn reference_run(ops: &[SeqOp]) -> (Vec<Vec<Data>>, RefFile) {
    let (mut file, mut durable, mut reads, mut tag) =
        (RefFile::default(), RefFile::default(), Vec::new(), 0u8);
    for op in ops {
        match *op {
            SeqOp::Write {
                pos, len, append, ..
            } => {
                tag += 1;
                file.write(S, if append { file.size } else { pos }, len, tag);
            }
            SeqOp::Read { pos, len } => reads.push(file.read(S, pos, len)),
            SeqOp::Truncate { size } => file.truncate(size),
            SeqOp::Punch { pos, len } => file.punch(S, B, pos, len),
            SeqOp::Fsync => durable = file.clone(),
            SeqOp::Crash => file = durable.clone(),
        }
    }
    (reads, file)
}

/// A sequential case: the mount, a preallocated (`FALLOC_FL_KEEP_SIZE`) unwritten range of
/// 0–16 blocks of the empty file, the operations.
fn sequential_case() -> impl Strategy<Value = (Mount, Option<Extent>, Vec<SeqOp>)> {
    let prealloc = proptest::option::of((0u64..16, 1u64..=16).prop_map(|(lblk, len)| Extent {
        lblk,
        len,
        pblk: 0,
        state: ExtentState::Unwritten,
    }));
    let ops = proptest::collection::vec(seq_op(), 1..OPS_PER_ACTOR_MAX);
    (mount(), prealloc, ops).prop_map(|(mount, prealloc, ops)| {
        (
            mount,
            prealloc,
            fsync_before_uncertain_crashes(ops, mount.sync),
        )
    })
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Sequential conformance: one process, on any mount options, over an empty file with or
    /// without a preallocated unwritten range of up to 16 blocks, doing writes of every kind
    /// (buffered, DIO, AIO DIO; block-aligned and sub-block; positional and O_APPEND;
    /// O_SYNC), reads, truncates, punches, fsyncs and crashes, each run to quiescence: every
    /// read, the final size and the contents after a crash (what the last fsync made
    /// durable) equal the reference.
    #[test]
    fn a_sequential_process_matches_the_reference_block_map((mount, prealloc, ops) in sequential_case()) {
        let mut program: Vec<Op> = ops.iter().map(to_model).collect();
        program.push(Op::Read { inode: 0, pos: 0, len: 24 * S, direct: false });
        let scenario = Scenario { geometry: G4K, mount, inodes: vec![inode(0, true, prealloc.into_iter().collect(), vec![])], actors: vec![program], patches: model::patches::Patches::NONE };
        let mut state = scenario.build().unwrap();
        prop_assert_eq!(run_quiescent(&mut state), drive::End::Done);
        let mut all = ops.clone();
        all.push(SeqOp::Read { pos: 0, len: 24 * S });
        let (expected, file) = reference_run(&all);
        let reads: Vec<&Vec<Data>> = state.actors[0].results.iter().filter_map(|r| match r { OpResult::Read(d) => Some(d), _ => None }).collect();
        prop_assert_eq!(reads.len(), expected.len());
        for (k, (got, want)) in reads.iter().zip(&expected).enumerate() {
            prop_assert_eq!(*got, want, "read {}", k);
        }
        prop_assert_eq!(state.inodes[0].i_size, file.size);
    }
}
