//! proptest properties of the model against the independent reference
//! (`properties::reference`). Case counts keep the suite inside the CI budget; run more with
//! `PROPTEST_CASES=10000 cargo test --release -p properties`.

use model::drive;
use model::exec;
use model::extent::{Extent, ExtentState};
use model::geometry::{Geometry, Mount};
use model::iocb::{FileFlags, Segment};
use model::limits::OPS_PER_ACTOR_MAX;
use model::ops::{Frame, Op, OpResult, WriteOp, WritePc};
use model::scenario::{InodeSpec, Scenario};
use model::state::{Data, State};
use properties::reference::{self, RefFile, Request};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

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
        rlimit_fsize: rlimit.unwrap_or(model::limits::RLIM_INFINITY),
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

/// The initial state 4.4 can reach from `map` and `cached`: a written block past the one
/// holding EOF becomes unwritten (as `fallocate(FALLOC_FL_KEEP_SIZE)` leaves it), and no
/// page past EOF is cached.
fn reachable(
    map: Vec<Extent>,
    cached: Vec<u64>,
    i_size: u64,
    block: u64,
) -> (Vec<Extent>, Vec<u64>) {
    let eof_block = i_size.div_ceil(block);
    let map = map
        .into_iter()
        .map(|e| match e.state {
            ExtentState::Written if e.lblk + e.len > eof_block => Extent {
                state: ExtentState::Unwritten,
                ..e
            },
            _ => e,
        })
        .collect();
    let cached = cached
        .into_iter()
        .filter(|&p| p < i_size.div_ceil(block))
        .collect();
    (map, cached)
}

/// Block sizes with a sector size the model can hold (at most 16 sectors a block).
fn geometry() -> impl Strategy<Value = Geometry> {
    (
        prop_oneof![Just(10u32), Just(12), Just(14), Just(16)],
        any::<bool>(),
    )
        .prop_map(|(blkbits, huge_file)| Geometry {
            blkbits,
            sector_bits: blkbits.saturating_sub(3).max(9),
            page_bits: blkbits.max(12),
            huge_file,
            disk_blocks: 32,
        })
}

/// `cases` per property in CI, or `PROPTEST_CASES` to run more. A failure's seed is saved to
/// `properties/proptest-regressions/properties.txt` (commit it) and replayed first ever after.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Size limits: for buffered, DIO and AIO DIO writes of one to four iovec segments, the
    /// model's return (bytes, `-EFBIG`, `-EINVAL` for a misaligned DIO, 0), SIGXFSZ and final
    /// position equal the reference's, and nothing is written at or past the limit that
    /// applies (`generic_write_checks`, the bitmap-file check, `do_blockdev_direct_IO`'s
    /// alignment).
    #[test]
    fn size_limits_match_the_reference(
        g in geometry(),
        extents in any::<bool>(),
        i_size_pick in 0usize..4,
        pos_pick in any::<proptest::sample::Index>(),
        k in -2i64..=2,
        blocks in 0u64..3,
        append in any::<bool>(),
        largefile in any::<bool>(),
        rlimit in proptest::option::of(0u64..(1 << 40)),
        (direct, aio) in prop_oneof![Just((false, false)), Just((true, false)), Just((true, true))],
        split in 0u64..4,
        base_skew in prop_oneof![Just(0u64), Just(1), Just(512)],
    ) {
        let limit = if extents { g.s_maxbytes() } else { g.s_bitmap_maxbytes().max(0) as u64 };
        let i_size = [0, g.blocksize(), limit.saturating_sub(g.blocksize()), (1 << 31) - 1][i_size_pick].min(limit).min(g.s_maxbytes());
        let edges = [0, i_size, limit, (1 << 31) - 1, rlimit.unwrap_or(0)];
        let pos = edges[pos_pick.index(edges.len())].saturating_add_signed(k * g.sectorsize() as i64);
        let len = blocks * g.blocksize();
        let mut w = write_op(pos, len, file_flags(direct, append, largefile), aio, rlimit);
        w.segments = iovec(len, split, base_skew);
        let segments: Vec<(u64, u64)> = w.segments.iter().map(|s| (s.base, s.len)).collect();
        let scenario = Scenario { geometry: g, mount: Mount::default(), inodes: vec![inode(i_size, extents, vec![], vec![])], actors: vec![vec![Op::Write(w)]] };
        let mut state = scenario.build().unwrap();
        drive::run(&mut state, &[], true).unwrap();
        let OpResult::Write { ret, sigxfsz, ki_pos, event } = state.actors[0].results[0] else { unreachable!() };
        let ret = if ret == model::iocb::errno::EIOCBQUEUED { event.expect("a queued AIO completes") } else { ret };
        let bitmap = (!extents).then(|| g.s_bitmap_maxbytes());
        let mut expected = reference::expected_write(Request { pos, len, append, largefile, rlimit }, i_size, g.s_maxbytes(), bitmap);
        if direct && expected.ret > 0 && reference::dio_misaligned(expected.pos, &segments, expected.ret as u64, g.sectorsize()) {
            expected.ret = model::iocb::errno::EINVAL;
        }
        prop_assert_eq!((ret, sigxfsz), (expected.ret, expected.sigxfsz));
        if expected.ret > 0 && !aio {
            prop_assert_eq!(ki_pos, expected.pos + expected.ret as u64);
        }
        prop_assert!(state.inodes[0].i_size <= limit.max(i_size), "i_size {} past the limit {}", state.inodes[0].i_size, limit);
        let past_limit = |b: u64| (b + 1) << g.blkbits > limit.next_multiple_of(g.blocksize());
        let map = &state.inodes[0].map;
        let past = map.delayed.iter().any(|&b| past_limit(b)) || map.extents.iter().any(|e| past_limit(e.lblk + e.len - 1));
        prop_assert!(!past, "a block at or past the limit");
    }
}

/// `len` bytes as `split + 1` iovec segments (the first `split` of one sector each, the rest
/// in the last), the first one's address `skew` bytes past a page boundary.
fn iovec(len: u64, split: u64, skew: u64) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut left = len;
    for _ in 0..split.min(len / S) {
        segments.push(Segment {
            base: 0x10_0000,
            len: S,
        });
        left -= S;
    }
    segments.push(Segment {
        base: 0x10_0000,
        len: left,
    });
    segments[0].base += skew;
    segments
}

const B: u64 = 4096;
const S: u64 = 1024;
/// Cases per property in `cargo test` (about a second for all four); `PROPTEST_CASES` overrides.
const CASES: u32 = 20_000;
/// Where failing seeds persist, relative to the package root (cargo test's working directory).
const REGRESSIONS: &str = "proptest-regressions/properties.txt";

/// Four blocks, each a hole, written or unwritten, placed physically next to the previous
/// one or not (so adjacent written extents may or may not be contiguous).
fn extent_map() -> impl Strategy<Value = Vec<Extent>> {
    proptest::collection::vec((0u8..3, any::<bool>()), 4).prop_map(|blocks| {
        let mut pblk = 0u32;
        let mut out: Vec<Extent> = Vec::new();
        for (lblk, (kind, gap)) in blocks.into_iter().enumerate() {
            let state = match kind {
                0 => continue,
                1 => ExtentState::Written,
                _ => ExtentState::Unwritten,
            };
            pblk += 1 + u32::from(gap);
            out.push(Extent {
                lblk: lblk as u64,
                len: 1,
                pblk,
                state,
            });
        }
        out
    })
}

/// Steps actor 0 until its write passed `WritePc` `until`, or finished.
fn step_until(state: &mut State, until: WritePc) {
    for _ in 0..100 {
        if matches!(&state.actors[0].frame, Frame::Write(f) if f.pc == until)
            || state.actors[0].results.len() == 1
        {
            return;
        }
        model::exec::step(state, model::exec::Task::Actor(0)).expect("a lone writer steps");
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Overwrite detection: the aio_mutex gate and the `overwrite` flag equal the reference
    /// aio_mutex gate and overwrite test of `ext4_file_write_iter`, and the write drops i_mutex
    /// in `ext4_ext_direct_IO` exactly when the flag is set.
    #[test]
    fn overwrite_detection_matches_the_reference(
        map in extent_map(),
        i_size in prop_oneof![Just(2 * B), Just(3 * B + S), Just(4 * B)],
        cached in proptest::collection::vec(0u64..4, 0..2),
        nolock in any::<bool>(),
        (pos, len) in (0u64..16, 1u64..9).prop_map(|(p, l)| (p * S, l * S)),
        aio in any::<bool>(),
        append in any::<bool>(),
        misaligned_buffer in any::<bool>(),
    ) {
        let (map, cached) = reachable(map, cached, i_size, B);
        let mut w = write_op(pos, len, file_flags(true, append, true), aio, None);
        if misaligned_buffer {
            w.segments[0].base += S;
        }
        let g = Geometry { blkbits: 12, sector_bits: 10, page_bits: 12, huge_file: true, disk_blocks: 16 };
        let mount = Mount { dioread_nolock: nolock, ..Mount::default() };
        let scenario = Scenario { geometry: g, mount, inodes: vec![inode(i_size, true, map.clone(), cached.clone())], actors: vec![vec![Op::Write(w.clone())]] };
        let mut state = scenario.build().unwrap();
        step_until(&mut state, WritePc::DirectFlush);
        let Frame::Write(f) = &state.actors[0].frame else { panic!("the write is under way") };
        let alignment = w.segments[0].base | len;
        let aio_mutex = reference::takes_aio_mutex(aio, append, (pos, alignment), i_size, B);
        prop_assert_eq!(f.aio_mutex.is_some(), aio_mutex);
        let at = if append { i_size } else { pos };
        let expected = reference::is_overwrite(&map, B, (at, len), i_size, (nolock, aio_mutex, !cached.is_empty()));
        prop_assert_eq!(f.overwrite, expected);
        step_until(&mut state, WritePc::DioStart);
        if matches!(state.actors[0].frame, Frame::Write(_)) {
            let without_i_mutex = state.inodes[0].i_mutex.is_none();
            prop_assert_eq!(without_i_mutex, expected, "i_mutex dropped exactly for an overwrite");
        }
    }
}

/// The position of the first step named `name` by `task` in the trace.
fn position(trace: &[model::exec::Event], task: &str, name: &str) -> Option<usize> {
    trace
        .iter()
        .position(|e| e.task.to_string().starts_with(task) && e.step == name)
}

/// What a crash now keeps at `offset`: the disk through the committed extents, below the
/// committed size.
fn after_crash(state: &State, offset: u64) -> Data {
    let ino = &state.inodes[0];
    let g = state.geometry;
    match ino.committed.map.pblk(offset >> g.blkbits) {
        Some((pblk, ExtentState::Written)) if offset < ino.committed.i_disksize => {
            state.disk.sectors[state.psector(pblk, offset) as usize]
        }
        _ => Data::Zero,
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Sync ordering: `generic_write_sync` (include/linux/fs.h) runs exactly when `ret > 0` and the
    /// file is O_SYNC/O_DSYNC or IS_SYNC; in `ext4_file_write_iter` after i_mutex is released
    /// and before the plug and the aio_mutex; for a queued AIO in `dio_complete` after
    /// `end_io` and `inode_dio_end` and before `ki_complete`; and when the write returns (or
    /// its event arrives) a crash keeps its range `[final - ret, final)`.
    #[test]
    fn sync_writes_sync_in_order_and_survive_a_crash(
        map in extent_map(),
        i_size in prop_oneof![Just(0), Just(B), Just(2 * B)],
        (pos, len) in (0u64..12, 1u64..9).prop_map(|(p, l)| (p * S, l * S)),
        (direct, aio) in prop_oneof![Just((false, false)), Just((true, false)), Just((true, true))],
        append in any::<bool>(),
        sync in 0u8..3,
        s_sync in any::<bool>(),
        nolock in any::<bool>(),
    ) {
        let mut file = file_flags(direct, append, true);
        (file.o_sync, file.o_dsync) = (sync == 2, sync > 0);
        let w = write_op(pos, len, file, aio, None);
        let g = Geometry { blkbits: 12, sector_bits: 10, page_bits: 12, huge_file: true, disk_blocks: 16 };
        let (map, _) = reachable(map, vec![], i_size, B);
        let mut spec = inode(i_size, true, map, vec![]);
        spec.s_sync = s_sync;
        let scenario = Scenario { geometry: g, mount: Mount { dioread_nolock: nolock, ..Mount::default() }, inodes: vec![spec], actors: vec![vec![Op::Write(w)]] };
        let mut state = scenario.build().unwrap();
        let run = drive::run(&mut state, &[], true).unwrap();
        let OpResult::Write { ret, ki_pos, event, .. } = state.actors[0].results[0] else { unreachable!() };
        let syncs = sync > 0 || s_sync;
        let queued = ret == model::iocb::errno::EIOCBQUEUED;
        let writer_sync = position(&run.trace, "a0", "SyncFlush");
        let worker_sync = position(&run.trace, "w", "dio_complete:SyncFlush");
        prop_assert_eq!(writer_sync.is_some(), syncs && ret > 0, "writer's generic_write_sync");
        prop_assert_eq!(worker_sync.is_some(), syncs && queued && event.unwrap_or(0) > 0, "dio_complete's generic_write_sync");
        if let Some(at) = writer_sync {
            prop_assert!(position(&run.trace, "a0", "IMutexUnlock").is_some_and(|u| u < at));
            for later in ["FinishPlug", "AioMutexUnlock"] {
                prop_assert!(position(&run.trace, "a0", later).is_none_or(|p| p > at), "{} before the sync", later);
            }
        }
        if let Some(at) = worker_sync {
            let order = ["dio_complete:EndIo", "dio_complete:DioEnd"].map(|n| position(&run.trace, "w", n));
            prop_assert!(order.iter().all(|p| p.is_some_and(|p| p < at)), "end_io and inode_dio_end first");
            prop_assert!(position(&run.trace, "w", "dio_complete:KiComplete").is_some_and(|p| p > at));
        }
        let written = if ret > 0 { Some((ki_pos - ret as u64, ki_pos)) } else { event.filter(|&e| e > 0).map(|e| (ki_pos, ki_pos + e as u64)) };
        if let (true, Some((from, to))) = (syncs, written) {
            for offset in (from..to).step_by(S as usize) {
                prop_assert_eq!(after_crash(&state, offset), Data::Write(1), "offset {} after a crash", offset);
            }
        }
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

/// What survives a crash after an unsynced direct or O_SYNC write, truncate or punch is not
/// one file (a DIO overwrite of a committed extent is on disk, a DIO into a hole is not; an
/// O_SYNC write commits the journal for more than its range; truncate and punch write back
/// dirty pages, so a buffered overwrite they flushed survives while their own zeroing may
/// not), so such a crash gets an fsync first. Property 3 checks sync writes across crashes.
fn fsync_before_uncertain_crashes(ops: Vec<SeqOp>) -> Vec<SeqOp> {
    let mut out = Vec::new();
    let mut uncertain = false;
    for op in ops {
        match op {
            SeqOp::Write { kind, sync, .. } => uncertain |= kind != Kind::Buffered || sync,
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
            .find(|t| !matches!(t, exec::Task::Actor(_)))
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

proptest! {
    #![proptest_config(config(CASES))]

    /// Sequential conformance: one process doing writes of every kind (buffered, DIO, AIO DIO;
    /// block-aligned and sub-block; positional and O_APPEND; O_SYNC), reads, truncates,
    /// punches, fsyncs and crashes, each run to quiescence: every read, the final size and
    /// the contents after a crash (what the last fsync made durable) equal the reference.
    #[test]
    fn a_sequential_process_matches_the_reference_block_map(
        ops in proptest::collection::vec(seq_op(), 1..OPS_PER_ACTOR_MAX).prop_map(fsync_before_uncertain_crashes)
    ) {
        let mut program: Vec<Op> = ops.iter().map(to_model).collect();
        program.push(Op::Read { inode: 0, pos: 0, len: 24 * S, direct: false });
        let g = Geometry { blkbits: 12, sector_bits: 10, page_bits: 12, huge_file: true, disk_blocks: 32 };
        let scenario = Scenario { geometry: g, mount: Mount::default(), inodes: vec![inode(0, true, vec![], vec![])], actors: vec![program] };
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
