//! A sequential case: one file, a list of operations, then `fsync`. [`Case::check`] runs it
//! through real system calls on a mounted image and through the model, and compares every
//! outcome: each operation's return, SIGXFSZ, the O_APPEND position, the final size, the
//! block map (written / unwritten / hole) and the contents sector by sector.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use model::drive::{self, End};
use model::exec::{self, Task};
use model::fs::ext4::extents::{Extent, ExtentState};
use model::fs::ext4::super_::Geometry;
use model::include::fs::{FileFlags, Segment, errno};
use model::limits::RLIM_INFINITY;
use model::limits::STEPS_MAX;
use model::mm::filemap::read_disk_sector;
use model::ops::{Frame, Op, OpResult, WriteOp, WritePc};
use model::scenario::{InodeSpec, Scenario};
use model::state::{Data, State};

use super::image::{Flavour, Image};
use super::sys;

/// The logical sector size of a loop device, and of the model's geometry here.
pub const SECTOR: u64 = 512;

/// How a write is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `pwrite` on a plain descriptor.
    Buffered,
    /// `lseek` to `pos`, then `write` on an `O_APPEND` descriptor (which writes at EOF).
    Append,
    /// `pwrite` on an `O_DIRECT` descriptor from a 4096-aligned buffer.
    Direct,
    /// `io_submit` of one `IOCB_CMD_PWRITE` on the `O_DIRECT` descriptor, then `io_getevents`.
    Aio,
    /// As `Direct`, from a buffer this many bytes past a 4096-byte boundary (the model's
    /// segment `base` is `0x100000` plus it): not a multiple of 512 is misaligned.
    DirectAt(u64),
    /// As `Aio`, from a buffer this many bytes past a 4096-byte boundary.
    AioAt(u64),
}

impl Kind {
    /// Issued on the `O_DIRECT` descriptor.
    pub fn direct(self) -> bool {
        matches!(
            self,
            Kind::Direct | Kind::Aio | Kind::DirectAt(_) | Kind::AioAt(_)
        )
    }

    /// Issued through `io_submit`.
    pub fn aio(self) -> bool {
        matches!(self, Kind::Aio | Kind::AioAt(_))
    }

    /// Bytes past a 4096-byte boundary where the buffer starts.
    pub fn addr_offset(self) -> u64 {
        match self {
            Kind::DirectAt(n) | Kind::AioAt(n) => n,
            _ => 0,
        }
    }
}

/// One operation of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseOp {
    /// A write of `len` bytes at `pos`, every byte the write's number (1, 2, ...), under
    /// `RLIMIT_FSIZE = rlimit` when set.
    Write {
        /// How it is issued.
        kind: Kind,
        /// Offset.
        pos: u64,
        /// Length.
        len: u64,
        /// `RLIMIT_FSIZE` for this write.
        rlimit: Option<u64>,
    },
    /// `ftruncate(size)`.
    Truncate {
        /// New size.
        size: u64,
    },
    /// `fallocate(mode, off, len)`, mode 0 or `FALLOC_FL_KEEP_SIZE`, block-aligned; only as
    /// the first operation on an extent-mapped file. The model has no fallocate: it starts
    /// from an inode with one unwritten extent over those blocks and `i_size` `off + len`
    /// (0 with `keep_size`).
    Fallocate {
        /// `FALLOC_FL_KEEP_SIZE`.
        keep_size: bool,
        /// Offset.
        off: u64,
        /// Length.
        len: u64,
    },
}

/// A case: the image it runs on and its operations (at most 7: the model runs 8 a program,
/// and `fsync` is appended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The image.
    pub flavour: Flavour,
    /// The operations, in order.
    pub ops: Vec<CaseOp>,
}

/// What one 512-byte sector holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sector {
    /// Zeros (`Data::Zero`).
    Zero,
    /// Every byte is `n` (`Data::Write(n)`).
    Write(u8),
    /// Anything else: mixed bytes, or stale or initial data in the model.
    Other,
}

/// State of a run of blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockState {
    /// Allocated and written.
    Written,
    /// Allocated unwritten (`FIEMAP_EXTENT_UNWRITTEN`).
    Unwritten,
    /// Delayed allocation left after `fsync` (the model only; a failure).
    Delayed,
}

/// What one operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpOutcome {
    /// Bytes written, 0, or `-errno` (for AIO: the event's `res`).
    pub ret: i64,
    /// SIGXFSZ was raised.
    pub sigxfsz: bool,
    /// For O_APPEND writes, the file position after the call.
    pub position: Option<u64>,
}

impl OpOutcome {
    /// The outcome of an operation that is not a write: its return only.
    fn plain(ret: i64) -> OpOutcome {
        OpOutcome {
            ret,
            sigxfsz: false,
            position: None,
        }
    }
}

/// Everything compared for a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Per operation.
    pub ops: Vec<OpOutcome>,
    /// `st_size` after `fsync`.
    pub size: u64,
    /// Runs of blocks `(first, count, state)`, merged, in order; holes are absent.
    pub map: Vec<(u64, u64, BlockState)>,
    /// Contents of the compared sectors, by sector index.
    pub data: Vec<(u64, Sector)>,
}

/// Merges adjacent runs in the same state.
pub fn merge(mut runs: Vec<(u64, u64, BlockState)>) -> Vec<(u64, u64, BlockState)> {
    runs.sort_by_key(|r| r.0);
    let mut out: Vec<(u64, u64, BlockState)> = Vec::new();
    for run in runs {
        match out.last_mut() {
            Some(last) if last.0 + last.1 == run.0 && last.2 == run.2 => last.1 += run.1,
            _ => out.push(run),
        }
    }
    out
}

fn classify(bytes: &[u8]) -> Sector {
    match bytes.first() {
        Some(&b) if bytes.iter().all(|&x| x == b) => {
            if b == 0 {
                Sector::Zero
            } else {
                Sector::Write(b)
            }
        }
        _ => Sector::Other,
    }
}

impl Case {
    /// The model's geometry for this case's image (512-byte sectors as the loop device,
    /// 4 KiB pages, `huge_file` as mkfs.ext4 sets it, the largest simulated disk).
    pub fn geometry(&self) -> Geometry {
        Geometry {
            blkbits: self.flavour.blkbits(),
            sector_bits: 9,
            page_bits: 12,
            huge_file: true,
            disk_blocks: model::limits::DISK_BLOCKS_MAX,
        }
    }

    fn model_op(op: &CaseOp) -> Op {
        match *op {
            CaseOp::Write {
                kind,
                pos,
                len,
                rlimit,
            } => Op::Write(WriteOp {
                inode: 0,
                pos,
                segments: vec![Segment {
                    base: 0x10_0000 + kind.addr_offset(),
                    len,
                }],
                file: FileFlags {
                    o_direct: kind.direct(),
                    o_append: kind == Kind::Append,
                    o_largefile: true,
                    ..FileFlags::default()
                },
                aio: kind.aio(),
                rlimit_fsize: rlimit.unwrap_or(RLIM_INFINITY),
                tag: 0,
            }),
            CaseOp::Truncate { size } => Op::Truncate { inode: 0, size },
            CaseOp::Fallocate { .. } => unreachable!("a leading fallocate is the initial inode"),
        }
    }

    /// The leading fallocate, if any, and the operations after it.
    fn split_fallocate(&self) -> (Option<(bool, u64, u64)>, &[CaseOp]) {
        match self.ops.split_first() {
            Some((
                &CaseOp::Fallocate {
                    keep_size,
                    off,
                    len,
                },
                rest,
            )) => (Some((keep_size, off, len)), rest),
            _ => (None, &self.ops),
        }
    }

    /// The model's inode at the start: empty, or the result of the leading fallocate (one
    /// unwritten extent from physical block 0, the first block the first-fit allocator of
    /// an empty model disk hands out).
    fn initial_inode(&self) -> InodeSpec {
        let bs = self.flavour.blocksize();
        let (extents_at_start, i_size) = match self.split_fallocate().0 {
            Some((keep_size, off, len)) => (
                vec![Extent {
                    lblk: off / bs,
                    len: len / bs,
                    pblk: 0,
                    state: ExtentState::Unwritten,
                }],
                if keep_size { 0 } else { off + len },
            ),
            None => (vec![], 0),
        };
        InodeSpec {
            ino: 12,
            extents: self.flavour.extents(),
            s_sync: false,
            dio_refused: false,
            i_size,
            extents_at_start,
            cached_pages: vec![],
        }
    }

    /// Runs the case in the model (one actor, the default schedule, to quiescence).
    pub fn run_model(&self) -> Result<ModelRun, String> {
        let (fallocate, rest) = self.split_fallocate();
        let mut program: Vec<Op> = rest.iter().map(Case::model_op).collect();
        program.push(Op::Fsync {
            inode: 0,
            datasync: false,
        });
        let scenario = Scenario {
            geometry: self.geometry(),
            mount: self.flavour.mount(),
            inodes: vec![self.initial_inode()],
            actors: vec![program],
            patches: model::patches::Patches::NONE,
        };
        let mut state = scenario.build().map_err(|e| format!("model: {e}"))?;
        let conversions = run_quiescent(&mut state)?;
        let results = &state.actors[0].results;
        if results.last() != Some(&OpResult::Done) {
            return Err(format!("model fsync: {:?}", results.last()));
        }
        let mut ops: Vec<OpOutcome> = fallocate.iter().map(|_| OpOutcome::plain(0)).collect();
        for (op, r) in rest.iter().zip(results) {
            ops.push(model_outcome(op, r)?);
        }
        let outcome = Outcome {
            ops,
            size: state.inodes[0].i_size,
            map: model_map(&state),
            data: Vec::new(),
        };
        Ok(ModelRun {
            outcome,
            state,
            conversions,
        })
    }
}

/// A case run in the model: what is compared, the final state, and every step that turned
/// unwritten blocks written.
#[derive(Debug)]
pub struct ModelRun {
    /// The outcome, without contents.
    pub outcome: Outcome,
    /// The state at the end.
    pub state: State,
    /// The conversions, in order.
    pub conversions: Vec<Conversion>,
}

/// Who converted unwritten blocks in one model step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Converter {
    /// A writeback pass (no dioread_nolock: `ext4_ext_convert_to_initialized` per run) that
    /// wrote back these dirty blocks, in order.
    Writeback(Vec<u64>),
    /// A direct write's `get_block` with CREATE over `(lblk, want)` (4.4's
    /// `ext4_ind_direct_IO` past `i_size`).
    DirectGetBlock(u64, u64),
    /// Anything else (an io_end's or a dio's conversion at completion: exactly what it wrote).
    Completion,
}

/// One model step that turned unwritten blocks of inode 0 written.
#[derive(Clone, Debug)]
pub struct Conversion {
    /// The step's task and name, for messages.
    pub step: String,
    /// What converted.
    pub by: Converter,
    /// The extents before the step.
    pub before: Vec<Extent>,
    /// The extents after it.
    pub after: Vec<Extent>,
    /// `i_size` and `i_disksize` before the step.
    pub sizes: (u64, u64),
    /// The blocks that were unwritten before the step and written after it.
    pub converted: BTreeSet<u64>,
}

/// The dirty blocks of inode 0 (a page's dirty bits are per block).
fn dirty_blocks(state: &State) -> BTreeSet<u64> {
    let g = state.geometry;
    let per_page = 1u64 << (g.page_bits - g.blkbits);
    let mut out = BTreeSet::new();
    for (&index, page) in &state.inodes[0].pages {
        for k in 0..per_page {
            if page.dirty & (1 << k) != 0 {
                out.insert(index * per_page + k);
            }
        }
    }
    out
}

/// The state of every mapped block of inode 0.
fn block_states(state: &State) -> BTreeMap<u64, ExtentState> {
    state.inodes[0]
        .map
        .extents
        .iter()
        .flat_map(|e| (e.lblk..e.end()).map(move |b| (b, e.state)))
        .collect()
}

/// Steps `task` and records it as a [`Conversion`] when it turned unwritten blocks written.
fn step_recording(
    state: &mut State,
    task: Task,
    conversions: &mut Vec<Conversion>,
) -> Result<(), String> {
    let ino = &state.inodes[0];
    let before = ino.map.extents.clone();
    let sizes = (ino.i_size, ino.i_disksize);
    let (states, dirty) = (block_states(state), dirty_blocks(state));
    let g = state.geometry;
    let get_block = match &state.actors[0].frame {
        Frame::Write(f)
            if task == Task::Actor(0)
                && matches!(f.pc, WritePc::DioGetBlock | WritePc::DioMapAlloc) =>
        {
            let lblk = f.dio_next >> g.blkbits;
            Some((lblk, f.dio_end.div_ceil(g.blocksize()) - lblk))
        }
        _ => None,
    };
    let event = exec::step(state, task).map_err(|e| format!("model: {e}"))?;
    let after = block_states(state);
    let converted: BTreeSet<u64> = states
        .iter()
        .filter(|&(b, s)| {
            *s == ExtentState::Unwritten && after.get(b) == Some(&ExtentState::Written)
        })
        .map(|(&b, _)| b)
        .collect();
    if converted.is_empty() {
        return Ok(());
    }
    let cleaned: Vec<u64> = dirty.difference(&dirty_blocks(state)).copied().collect();
    let by = match get_block {
        Some((lblk, want)) => Converter::DirectGetBlock(lblk, want),
        None if !cleaned.is_empty() => Converter::Writeback(cleaned),
        None => Converter::Completion,
    };
    conversions.push(Conversion {
        step: format!("{} {}", event.task, event.step),
        by,
        before: before.to_vec(),
        after: state.inodes[0].map.extents.to_vec(),
        sizes,
        converted,
    });
    Ok(())
}

/// The model's block map as merged runs (delayed blocks included, to fail the comparison).
fn model_map(state: &State) -> Vec<(u64, u64, BlockState)> {
    let map = &state.inodes[0].map;
    let mut runs: Vec<_> = map
        .extents
        .iter()
        .map(|e| {
            let s = match e.state {
                ExtentState::Written => BlockState::Written,
                ExtentState::Unwritten => BlockState::Unwritten,
            };
            (e.lblk, e.len, s)
        })
        .collect();
    runs.extend(map.delayed.iter().map(|&b| (b, 1, BlockState::Delayed)));
    merge(runs)
}

/// Runs the program with the default schedule (the first runnable task), except that
/// between two operations every bio completes and every queued work item runs first: each
/// operation runs to quiescence, as on an idle machine where `io_getevents` has returned
/// before the next system call. Returns the steps that converted unwritten blocks.
fn run_quiescent(state: &mut State) -> Result<Vec<Conversion>, String> {
    let bound = STEPS_MAX * state.actors[0].program.len();
    let mut conversions = Vec::new();
    for _ in 0..bound {
        let runnable = exec::runnable(state);
        let idle = matches!(state.actors[0].frame, Frame::Idle);
        let background = runnable.iter().find(|t| !matches!(t, Task::Actor(_)));
        let next = if idle {
            background.or(runnable.first())
        } else {
            runnable.first()
        };
        let Some(&task) = next else {
            return match drive::ending(state) {
                End::Done => Ok(conversions),
                end => Err(format!("model run ended {end:?}")),
            };
        };
        step_recording(state, task, &mut conversions)?;
    }
    Err(format!("model: no quiescence after {bound} steps"))
}

fn model_outcome(op: &CaseOp, result: &OpResult) -> Result<OpOutcome, String> {
    match (op, result) {
        (
            CaseOp::Write { kind, pos, .. },
            OpResult::Write {
                ret,
                sigxfsz,
                ki_pos,
                event,
            },
        ) => {
            let ret = if *ret == errno::EIOCBQUEUED {
                event.ok_or("model: a queued AIO without its event")?
            } else {
                *ret
            };
            // new_sync_write moves f_pos only when the write returned > 0.
            let position = (*kind == Kind::Append).then_some(if ret > 0 { *ki_pos } else { *pos });
            Ok(OpOutcome {
                ret,
                sigxfsz: *sigxfsz,
                position,
            })
        }
        (CaseOp::Truncate { .. }, OpResult::Done) => Ok(OpOutcome::plain(0)),
        (CaseOp::Truncate { .. }, OpResult::Failed(e)) => Ok(OpOutcome::plain(*e)),
        _ => Err(format!("model: {op:?} returned {result:?}")),
    }
}

/// What the model's file holds in `sector`: the cached page if any, else the disk.
pub fn model_sector(state: &State, sector: u64) -> Sector {
    let g = state.geometry;
    let pos = sector * SECTOR;
    let data = match state.inodes[0].pages.get(&(pos >> g.page_bits)) {
        Some(page) => page.data[((pos & (g.pagesize() - 1)) >> g.sector_bits) as usize],
        None => read_disk_sector(state, 0, pos),
    };
    match data {
        Data::Zero => Sector::Zero,
        Data::Write(n) => Sector::Write(n),
        Data::Stale(_) | Data::Initial { .. } => Sector::Other,
    }
}

/// A buffer of `len` bytes equal to `byte`, starting `offset` bytes past a 4096-byte
/// boundary (O_DIRECT).
struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: u64, byte: u8, offset: u64) -> AlignedBuf {
        let (len, offset) = (len as usize, offset as usize);
        let storage = vec![byte; len + offset + 4096];
        let start = storage.as_ptr().align_offset(4096) + offset;
        AlignedBuf {
            storage,
            start,
            len,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
}

/// A system call's result as the kernel returns it: the value or `-errno`.
fn ret(r: std::io::Result<usize>) -> i64 {
    match r {
        Ok(n) => n as i64,
        Err(e) => -i64::from(e.raw_os_error().unwrap_or(i32::MAX)),
    }
}

/// The descriptors a case writes through.
struct Files {
    plain: File,
    direct: File,
    append: File,
}

fn io(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Files {
    fn open(case: &Case, path: &std::path::Path) -> Result<Files, String> {
        let plain = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io("create"))?;
        let flags = sys::inode_flags(&plain).map_err(io("FS_IOC_GETFLAGS"))?;
        if (flags & sys::FS_EXTENT_FL != 0) != case.flavour.extents() {
            return Err(format!(
                "{:?}: a new file has inode flags {flags:#x}",
                case.flavour
            ));
        }
        let direct = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .map_err(io("open O_DIRECT"))?;
        let append = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io("open O_APPEND"))?;
        Ok(Files {
            plain,
            direct,
            append,
        })
    }

    fn write(&self, kind: Kind, buf: &[u8], pos: u64) -> Result<(i64, Option<u64>), String> {
        Ok(match kind {
            Kind::Buffered => (ret(self.plain.write_at(buf, pos)), None),
            Kind::Direct | Kind::DirectAt(_) => (ret(self.direct.write_at(buf, pos)), None),
            Kind::Aio | Kind::AioAt(_) => (sys::aio_pwrite(&self.direct, buf, pos), None),
            Kind::Append => {
                let mut f = &self.append;
                f.seek(SeekFrom::Start(pos)).map_err(io("lseek"))?;
                let r = ret(f.write(buf));
                (r, Some(f.stream_position().map_err(io("lseek"))?))
            }
        })
    }
}

impl Case {
    /// Runs the case on a new file `name` of the mounted `image`; returns the outcome
    /// without contents and the file, still open.
    pub fn run_real(&self, image: &Image, name: &str) -> Result<(Outcome, File), String> {
        let files = Files::open(self, &image.mnt().join(name))?;
        let mut ops = Vec::new();
        let mut tag = 0u8;
        for op in &self.ops {
            let outcome = match *op {
                CaseOp::Write {
                    kind,
                    pos,
                    len,
                    rlimit,
                } => {
                    tag += 1;
                    let buf = AlignedBuf::new(len, tag, kind.addr_offset());
                    let limit = rlimit.map(sys::FsizeLimit::set);
                    let before = sys::sigxfsz_count();
                    let (ret, position) = files.write(kind, buf.bytes(), pos)?;
                    let sigxfsz = sys::sigxfsz_count() != before;
                    drop(limit);
                    OpOutcome {
                        ret,
                        sigxfsz,
                        position,
                    }
                }
                CaseOp::Truncate { size } => {
                    OpOutcome::plain(ret(files.plain.set_len(size).map(|()| 0)))
                }
                CaseOp::Fallocate {
                    keep_size,
                    off,
                    len,
                } => OpOutcome::plain(sys::fallocate(&files.plain, keep_size, off, len)),
            };
            ops.push(outcome);
        }
        files.plain.sync_all().map_err(io("fsync"))?;
        let size = files.plain.metadata().map_err(io("fstat"))?.len();
        let bs = self.flavour.blocksize();
        let extents = sys::fiemap(&files.plain).map_err(io("FIEMAP"))?;
        let runs = extents.iter().map(|e| {
            let state = if e.unwritten {
                BlockState::Unwritten
            } else {
                BlockState::Written
            };
            (e.logical / bs, e.length.div_ceil(bs), state)
        });
        let outcome = Outcome {
            ops,
            size,
            map: merge(runs.collect()),
            data: Vec::new(),
        };
        Ok((outcome, files.plain))
    }

    /// The sectors whose contents are compared: every sector below both sizes in the first
    /// 64 blocks, in any block either side maps, and in any page the model caches. Every
    /// other sector below the size is a hole on both sides (when the maps agree).
    fn sectors(&self, real: &Outcome, model: &Outcome, state: &State) -> Vec<u64> {
        let bs = self.flavour.blocksize();
        let per_page = 4096 / bs;
        let mut blocks: BTreeSet<u64> = (0..64).collect();
        for &(first, count, _) in real.map.iter().chain(&model.map) {
            blocks.extend(first..first + count.min(1024));
        }
        for &index in state.inodes[0].pages.keys() {
            blocks.extend(index * per_page..(index + 1) * per_page);
        }
        let end = real.size.min(model.size).div_ceil(SECTOR);
        let spb = bs / SECTOR;
        blocks
            .iter()
            .flat_map(|b| b * spb..(b + 1) * spb)
            .filter(|&s| s < end)
            .collect()
    }

    /// Runs the case both ways on a new file `name` of `image` and compares; the file is
    /// removed afterwards. `Err` is an unexplained difference (or a failure to run).
    pub fn check(&self, image: &Image, name: &str) -> Result<Compared, String> {
        assert_eq!(image.flavour, self.flavour);
        let mut run = self.run_model()?;
        let path = image.mnt().join(name);
        let real = self.run_real(image, name);
        let result = real.and_then(|(mut real, file)| {
            let sectors = self.sectors(&real, &run.outcome, &run.state);
            let mut buf = vec![0u8; SECTOR as usize];
            for &s in &sectors {
                let n = file.read_at(&mut buf, s * SECTOR).map_err(io("pread"))?;
                real.data.push((s, classify(&buf[..n])));
                run.outcome.data.push((s, model_sector(&run.state, s)));
            }
            Ok(real)
        });
        let removed = std::fs::remove_file(&path);
        let real = result?;
        removed.map_err(io("unlink"))?;
        if real == run.outcome {
            return Ok(Compared::Equal);
        }
        match super::differences::explain(self, &real, &run) {
            Some(row) => Ok(Compared::Explained(row)),
            None => Err(format!(
                "unexplained difference\ncase:  {self:?}\n{}{}",
                describe(&real, &run.outcome),
                describe_conversions(&run.conversions)
            )),
        }
    }
}

/// How a case compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compared {
    /// Every outcome equal.
    Equal,
    /// A difference that a row of the table in `REAL_EXT4.md` explains (the row's name).
    Explained(&'static str),
}

/// The model's conversions, one a line (for a difference in the map).
fn describe_conversions(conversions: &[Conversion]) -> String {
    conversions
        .iter()
        .map(|c| {
            format!(
                "model {}: {:?} converted {:?} (i_size, i_disksize before: {:?})\n",
                c.step, c.by, c.converted, c.sizes
            )
        })
        .collect()
}

/// The fields of two outcomes that differ, with the differing sectors as runs.
fn describe(real: &Outcome, model: &Outcome) -> String {
    let mut out = String::new();
    if real.ops != model.ops {
        out += &format!("ops real:  {:?}\nops model: {:?}\n", real.ops, model.ops);
    }
    if real.size != model.size {
        out += &format!("size real {} model {}\n", real.size, model.size);
    }
    if real.map != model.map {
        out += &format!("map real:  {:?}\nmap model: {:?}\n", real.map, model.map);
    }
    let mut runs: Vec<(u64, u64, Sector, Sector)> = Vec::new();
    for (r, m) in real
        .data
        .iter()
        .zip(&model.data)
        .filter(|(r, m)| r.1 != m.1)
    {
        match runs.last_mut() {
            Some(last) if last.1 + 1 == r.0 && (last.2, last.3) == (r.1, m.1) => last.1 = r.0,
            _ => runs.push((r.0, r.0, r.1, m.1)),
        }
    }
    for (first, last, r, m) in runs {
        out += &format!("sectors {first}..={last}: real {r:?}, model {m:?}\n");
    }
    out
}
