//! What the oracles remember of a run, kept by the observer itself from the states it sees:
//! when each operation started and completed, the range each write got past
//! `generic_write_checks`, what truncates and punches removed, the bios in flight with the
//! blocks they target, the pending conversions, the data lost to failed bios, and what the
//! file held when the current epoch (the run, or the time since the last crash) began.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use model::exec::{Event, Task};
use model::fs::ext4::extents::ExtentState;
use model::include::fs::errno;
use model::mark::Touched;
use model::ops::{Frame, Op, OpResult};
use model::patches::Patch;
use model::state::{BioOwner, Data, InodeIx, ObjId, State};
use model::vec_map::VecMap;

use super::contents::{on_disk, sectors_of_interest, visible};
use super::memo::Checking;

/// A step number: 0 is the initial state, the first step is 1.
pub type Step = u32;

/// What the oracles know of one write.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct WriteRecord {
    /// Its actor.
    pub actor: u8,
    /// Its index in the actor's program.
    pub op: usize,
    /// The file.
    pub inode: InodeIx,
    /// The step of its first step.
    pub start: Option<Step>,
    /// `[ki_pos, ki_pos + count)` after `generic_write_checks` (and the bitmap limit).
    pub range: Option<(u64, u64)>,
    /// When `ext4_file_write_iter` returned.
    pub returned: Option<Step>,
    /// It returned `-EIOCBQUEUED`.
    pub queued: bool,
    /// When it completed: its return, or for a queued AIO its event.
    pub completed: Option<Step>,
    /// The running transaction's tid when it completed: every metadata change the write made
    /// before completing is in that transaction or an earlier one, so it is committed once
    /// `j_commit_sequence` reaches this tid (a transaction already committing when the write
    /// completed may not hold it).
    pub completed_tid: u32,
    /// The bytes it reported written, `[from, to)`, once it completed with `ret > 0`.
    pub done: Option<(u64, u64)>,
    /// O_SYNC, O_DSYNC or `IS_SYNC`.
    pub sync: bool,
    /// O_DIRECT.
    pub direct: bool,
    /// O_APPEND.
    pub append: bool,
}

/// A truncate or punch hole: what it removes, `[from, to)` of an inode.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ZeroMaker {
    /// Its actor.
    pub actor: u8,
    /// The file.
    pub inode: InodeIx,
    /// First byte removed.
    pub from: u64,
    /// One past the last byte removed.
    pub to: u64,
    /// What it removes is not known yet: it depends on `i_size` under `i_mutex`.
    pub pending: Option<Removal>,
    /// When it started.
    pub start: Step,
    /// When it returned.
    pub end: Option<Step>,
}

/// What a truncate or punch asks for, before it reads `i_size` under `i_mutex`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Removal {
    /// `ftruncate(size)`.
    Truncate {
        /// The new size.
        size: u64,
    },
    /// `fallocate(FALLOC_FL_PUNCH_HOLE, pos, len)`.
    Punch {
        /// Offset.
        pos: u64,
        /// Length.
        len: u64,
    },
}

/// A bio in flight as the observer first saw it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BioRecord {
    /// The file.
    pub inode: InodeIx,
    /// A direct I/O bio (data or `dio_zero_block` zeros); else writeback.
    pub dio: bool,
    /// Each block it targets: the logical block that mapped it then (`None`: unmapped) and
    /// the physical block.
    pub blocks: Vec<(Option<u64>, u32)>,
    /// Each sector: its file offset (when mapped) and what it carries.
    pub sectors: Vec<(Option<u64>, Data)>,
    /// A writeback bio's io_end.
    pub io_end: Option<ObjId>,
    /// The buffered writes whose data a writeback bio's page data replaced in the page cache
    /// before it was built and which the disk does not hold there: should the bio fail, the
    /// disk keeps what it held, and their data is lost with the page's.
    pub superseded: Vec<Landed>,
}

/// A sector a bio landed (`(inode, offset)`) and the data it put there.
pub type Landed = ((InodeIx, u64), Data);

/// A pending conversion: a flagged io_end's range and the blocks it mapped when first seen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Conversion {
    /// The file.
    pub inode: InodeIx,
    /// `(lblk, pblk)` of every mapped block of the range.
    pub blocks: Vec<(u64, u32)>,
}

/// What the file held when an epoch began (the run's start, or right after a crash).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Prior {
    /// `i_size` of each inode then.
    pub i_size: Vec<u64>,
    /// What a read returned then, below `i_size` (zeros are not stored).
    pub below: BTreeMap<(InodeIx, u64), Data>,
    /// What the disk held then at and past `i_size`, through the block map (zeros not
    /// stored): growing the file may show it.
    pub above: BTreeMap<(InodeIx, u64), Data>,
    /// `(inode, lblk, pblk)` of every block mapped written then.
    pub written: BTreeSet<(InodeIx, u64, u32)>,
}

impl Prior {
    /// The contents of every inode as `state` holds them.
    pub fn snapshot(state: &State) -> Prior {
        let mut prior = Prior {
            i_size: state.inodes.iter().map(|i| i.i_size).collect(),
            ..Prior::default()
        };
        for (inode, ino) in state.inodes.iter().enumerate() {
            for e in ino
                .map
                .extents
                .iter()
                .filter(|e| e.state == ExtentState::Written)
            {
                prior
                    .written
                    .extend((0..e.len).map(|k| (inode, e.lblk + k, e.pblk + k as u32)));
            }
            for s in sectors_of_interest(state, inode) {
                let (value, map) = if s < ino.i_size {
                    (visible(state, inode, s), &mut prior.below)
                } else {
                    (on_disk(state, inode, s), &mut prior.above)
                };
                if value != Data::Zero {
                    map.insert((inode, s), value);
                }
            }
        }
        prior
    }

    /// `value` at `offset` of `inode` is what the epoch started with.
    pub fn allows(&self, inode: InodeIx, offset: u64, value: Data) -> bool {
        let key = (inode, offset);
        if offset < self.i_size[inode] {
            self.below.get(&key).copied().unwrap_or(Data::Zero) == value
        } else {
            value == Data::Zero || self.above.get(&key) == Some(&value)
        }
    }
}

/// What [`History::note_bios`] may have changed.
#[derive(Clone, Copy, Debug)]
pub struct BiosNoted {
    /// The bios recorded in flight (some came or went).
    pub bios: bool,
    /// Where failed data did not land (the keys of `failed`).
    pub failed: bool,
}

/// An operation that returned in this step.
#[derive(Clone, Copy, Debug)]
pub struct Finished {
    /// Its actor.
    pub actor: u8,
    /// Its index in the program.
    pub op: usize,
    /// When it started.
    pub start: Step,
    /// What it was.
    pub what: FinishedOp,
}

/// The kind of a finished operation, as far as the oracles care.
#[derive(Clone, Copy, Debug)]
pub enum FinishedOp {
    /// A write.
    Write {
        /// The write's tag.
        tag: u8,
    },
    /// A read of `inode` from `pos`.
    Read {
        /// The file.
        inode: InodeIx,
        /// Offset.
        pos: u64,
    },
    /// A crash (journal replay and orphan cleanup done).
    Crash,
    /// Anything else.
    Other,
}

/// The observer's record of a run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// Steps taken.
    pub step: Step,
    /// `blkbits` of the file system.
    pub block_bits: u32,
    /// The step the current epoch began at (0, or the last crash).
    pub epoch: Step,
    /// `j_commit_sequence` after the previous step.
    pub tid: u32,
    /// Every write of every program, by tag.
    pub writes: VecMap<u8, WriteRecord>,
    /// Truncates and punches of the current epoch.
    pub zero_makers: Vec<ZeroMaker>,
    /// Per actor: when its current operation started.
    op_start: Vec<Option<Step>>,
    /// Per actor: results already handled.
    results_seen: Vec<usize>,
    /// Bios in flight, as first seen.
    pub bios: VecMap<ObjId, BioRecord>,
    /// Flagged io_ends with a known range, as first seen.
    pub conversions: VecMap<ObjId, Conversion>,
    /// What the bios to `(inode, offset)` that failed (`-EIO`) since the last one that landed
    /// there carried: the disk got none of it. A later bio that lands there clears it.
    pub failed: BTreeMap<(InodeIx, u64), BTreeSet<Data>>,
    /// `(inode, offset, data)` whose last bio failed (`-EIO`): the disk never got that data
    /// there, whatever later bios of other data did.
    pub lost: BTreeSet<(InodeIx, u64, Data)>,
    /// Under e856f93e0fb2, per writeback io_end flagged unwritten: the sectors its bios
    /// landed (each the last bio to land there). Should the io_end fail, its blocks stay
    /// unwritten and that data is lost like a failed bio's.
    pub landed: BTreeMap<ObjId, Vec<Landed>>,
    /// Likewise, the buffered writes those sectors' page data superseded
    /// ([`BioRecord::superseded`]): lost with it should the io_end fail.
    pub landed_superseded: BTreeMap<ObjId, Vec<Landed>>,
    /// The contents at the start of the epoch. Shared, never changed in place: a new epoch
    /// puts a new one, so the copies of a history the searches make share it instead of
    /// copying (and later freeing) its maps.
    pub prior: Arc<Prior>,
    /// Blocks under an in-flight direct I/O bio whose page was dirty after the last step.
    pub dirty_under_dio: BTreeSet<(InodeIx, u64)>,
}

impl History {
    /// The record of a run starting at `initial`.
    pub fn new(initial: &State) -> History {
        let mut writes = VecMap::new();
        for (a, actor) in initial.actors.iter().enumerate() {
            for (op, what) in actor.program.iter().enumerate() {
                if let Op::Write(w) = what {
                    let record = WriteRecord {
                        actor: a as u8,
                        op,
                        inode: w.inode,
                        start: None,
                        range: None,
                        returned: None,
                        queued: false,
                        completed: None,
                        completed_tid: 0,
                        done: None,
                        sync: w.file.o_sync || w.file.o_dsync || initial.is_sync(w.inode),
                        direct: w.file.o_direct,
                        append: w.file.o_append,
                    };
                    writes.insert(w.tag, record);
                }
            }
        }
        let actors = initial.actors.len();
        History {
            step: 0,
            block_bits: initial.geometry.blkbits,
            epoch: 0,
            tid: initial.journal.committed,
            writes,
            zero_makers: Vec::new(),
            op_start: vec![None; actors],
            results_seen: vec![0; actors],
            bios: VecMap::new(),
            conversions: VecMap::new(),
            failed: BTreeMap::new(),
            lost: BTreeSet::new(),
            landed: BTreeMap::new(),
            landed_superseded: BTreeMap::new(),
            prior: Arc::new(Prior::snapshot(initial)),
            dirty_under_dio: BTreeSet::new(),
        }
    }

    /// Write `tag`'s data at `offset` of `inode` went last to a bio that failed.
    pub fn lost(&self, inode: InodeIx, offset: u64, tag: u8) -> bool {
        self.lost.contains(&(inode, offset, Data::Write(tag)))
    }

    /// A bio that failed carried `data` to `offset` of `inode`, and none landed there since.
    pub fn failed_since_landing(&self, inode: InodeIx, offset: u64, data: Data) -> bool {
        self.failed
            .get(&(inode, offset))
            .is_some_and(|d| d.contains(&data))
    }

    /// `data` did not reach `offset` of `inode`.
    fn fail(&mut self, at: (InodeIx, u64), data: Data) {
        self.failed.entry(at).or_default().insert(data);
        self.lost.insert((at.0, at.1, data));
    }

    /// `data` landed at `offset` of `inode`.
    fn land(&mut self, at: (InodeIx, u64), data: Data) {
        self.failed.remove(&at);
        self.lost.remove(&(at.0, at.1, data));
        for sectors in self.landed.values_mut() {
            sectors.retain(|&(s, _)| s != at);
        }
        for sectors in self.landed_superseded.values_mut() {
            sectors.retain(|&(s, _)| s != at);
        }
    }

    /// The write tagged `tag`.
    pub fn write(&self, tag: u8) -> &WriteRecord {
        &self.writes[&tag]
    }

    /// A new step is being judged.
    pub fn begin_step(&mut self) {
        self.step += 1;
    }

    /// The index in the trace of step `step` (the trace counts from 0, the history from 1:
    /// step 0 of the history is the initial state).
    pub fn trace_step(step: Step) -> Step {
        step - 1
    }

    /// Operation `p` (which completed at `completed`) precedes an operation that started at
    /// `start`: `p` completed first. An operation that has not completed precedes nothing.
    pub fn precedes(completed: Option<Step>, start: Step) -> bool {
        completed.is_some_and(|c| c < start)
    }

    /// The writes of the current epoch.
    pub fn epoch_writes(&self) -> impl Iterator<Item = (u8, &WriteRecord)> {
        self.writes
            .iter()
            .filter(|(_, w)| w.start.is_some_and(|s| s > self.epoch))
            .map(|(&t, w)| (t, w))
    }

    /// Records the operations that started in this step (only a touched actor starts one);
    /// whether it may have changed what the exposure check reads of the history (an
    /// operation started, or a truncate's or punch's range was pending).
    #[inline]
    pub fn note_starts(&mut self, state: &State, touched: Touched) -> bool {
        let mut noted = false;
        for a in touched.actors(state.actors.len()) {
            let actor = &state.actors[a as usize];
            let a = a as usize;
            let running = !matches!(actor.frame, Frame::Idle);
            if running && self.op_start[a].is_none() {
                self.op_start[a] = Some(self.step);
                self.started(a as u8, &actor.program[actor.op]);
                noted = true;
            }
        }
        if self.zero_makers.iter().any(|m| m.pending.is_some()) {
            noted = true;
            self.note_punch_ranges(state);
        }
        noted
    }

    fn started(&mut self, actor: u8, op: &Op) {
        let step = self.step;
        let maker = |inode, from, to, pending| ZeroMaker {
            actor,
            inode,
            from,
            to,
            pending,
            start: step,
            end: None,
        };
        match *op {
            Op::Write(ref w) => self.writes.get_mut(&w.tag).expect("known").start = Some(step),
            Op::Truncate { inode, size } => {
                self.zero_makers
                    .push(maker(inode, size, size, Some(Removal::Truncate { size })));
            }
            Op::PunchHole { inode, pos, len } => {
                self.zero_makers
                    .push(maker(inode, pos, pos, Some(Removal::Punch { pos, len })));
            }
            _ => {}
        }
    }

    /// What a truncate or punch removes depends on `i_size` under `i_mutex`
    /// (`ext4_setattr`, `ext4_punch_hole`): a truncate to at most `i_size` removes everything
    /// from the new size on (`ext4_truncate`), a larger one removes nothing; a punch removes
    /// nothing at or past `i_size`, and a hole past it ends after the page holding `i_size`.
    fn note_punch_ranges(&mut self, state: &State) {
        let page = state.geometry.pagesize();
        for m in self.zero_makers.iter_mut().filter(|m| m.pending.is_some()) {
            let ino = &state.inodes[m.inode];
            if ino.i_mutex != Some(m.actor) {
                continue;
            }
            let i_size = ino.i_size;
            (m.from, m.to) = match m.pending.take().expect("pending") {
                Removal::Truncate { size } if size <= i_size => (size, u64::MAX),
                Removal::Truncate { size } => (size, size),
                Removal::Punch { pos, len } if pos < i_size && len > 0 => {
                    let end = if pos.saturating_add(len) > i_size {
                        i_size + page - (i_size & (page - 1))
                    } else {
                        pos + len
                    };
                    (pos, end)
                }
                Removal::Punch { pos, .. } => (pos, pos),
            };
        }
    }

    /// A truncate or punch of actor `a` that returns without ever having held `i_mutex`
    /// removed nothing: everything it removes, it removes under `i_mutex`, and
    /// `ext4_punch_hole` returns its flush's error before taking it (4.4.121
    /// fs/ext4/inode.c:ext4_punch_hole:3712-3719: `filemap_write_and_wait_range`, whose
    /// `filemap_fdatawait_range` ends in `filemap_check_errors`, which reports any failed
    /// writeback of the file: mm/filemap.c:529-548, 435-441, 304-315). Its range stays
    /// empty rather than be read from `i_size` when the actor's next operation takes
    /// `i_mutex`.
    fn note_removals_without_i_mutex(&mut self, a: u8) {
        for m in self.zero_makers.iter_mut() {
            if m.actor == a && m.end.is_none() && m.pending.is_some() {
                m.pending = None;
                m.to = m.from;
            }
        }
    }

    /// Records the ranges writes got past `generic_write_checks` in this step; returns their
    /// tags. An actor the step left untouched has nothing new.
    #[inline]
    pub fn note_ranges(&mut self, state: &State, touched: Touched) -> Vec<u8> {
        let mut new = Vec::new();
        for a in touched.actors(state.actors.len()) {
            let actor = &state.actors[a as usize];
            let (Frame::Write(f), Some(Op::Write(w))) = (&actor.frame, actor.program.get(actor.op))
            else {
                continue;
            };
            let record = write_mut(&mut self.writes, w.tag);
            if record.range.is_none() && past_checks(f) {
                record.range = Some((f.iocb.ki_pos, f.iocb.ki_pos + f.iter.count()));
                new.push(w.tag);
            }
        }
        new
    }

    /// Records new bios and forgets finished ones, noting where a failed bio's data did not
    /// reach the disk. When the bios in flight are the ones recorded (the same ids: a bio's
    /// record is made once, when first seen), nothing is new or gone and only what reads the
    /// io_ends and the page cache is brought up to date.
    /// Under [`Checking::Every`] every bio is looked at and the set of dirty blocks under
    /// direct I/O rebuilt after every step (the slow twin). Otherwise bios the step left
    /// untouched are the recorded ones; io_ends left untouched keep what landed under them;
    /// with neither the bios nor a page cache touched, the dirty set is still what it was.
    /// Returns whether the recorded bios may have changed, and whether where failed data did
    /// not land (the keys of `failed`) may have: bios came or went while some data had
    /// failed to land, or some now has.
    #[inline]
    pub fn note_bios(
        &mut self,
        state: &State,
        event: &Event,
        checking: Checking,
        touched: Touched,
    ) -> BiosNoted {
        let same_bios = match checking {
            Checking::Every => false,
            Checking::WrongBioSkipForTests => self.bios.keys().next() == state.bios.keys().next(),
            _ => !touched.bios() || self.bios.keys().eq(state.bios.keys()),
        };
        let failed_before = !self.failed.is_empty();
        if !same_bios {
            self.note_bios_in_flight(state, event);
        }
        // (`retain` and `clear` on an empty map still walk its iterator machinery.)
        if touched.io_ends() && !self.landed.is_empty() {
            self.landed.retain(|io, _| state.io_ends.contains_key(io));
        }
        if touched.io_ends() && !self.landed_superseded.is_empty() {
            self.landed_superseded
                .retain(|io, _| state.io_ends.contains_key(io));
        }
        if !self.bios.values().any(|b| b.dio) {
            // What `dio_blocks_dirty` gives without a direct I/O bio, without building a set.
            if !self.dirty_under_dio.is_empty() {
                self.dirty_under_dio.clear();
            }
        } else if (touched.bios() || touched.any_pages())
            && !self.dirty_under_dio_current(state, checking)
        {
            self.dirty_under_dio = self.dio_blocks_dirty(state);
        }
        BiosNoted {
            bios: !same_bios,
            failed: !same_bios && (failed_before || !self.failed.is_empty()),
        }
    }

    /// [`History::note_bios`] when bios came or went: the finished ones' data landed or
    /// failed, the new ones are recorded.
    fn note_bios_in_flight(&mut self, state: &State, event: &Event) {
        let failed = match event.task {
            Task::BioError(id) => Some(id),
            _ => None,
        };
        let gone: Vec<ObjId> = self
            .bios
            .keys()
            .filter(|id| !state.bios.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            let record = self.bios.remove(&id).expect("known bio");
            // e856f93e0fb2: the io_end of a writeback bio, when it is flagged unwritten (its
            // conversion is what a failure skips). 4.4 never flags an io_end failed.
            let io_end = record
                .io_end
                .filter(|_| state.patched(Patch::FailedWritebackConvertsNothing))
                .and_then(|io| state.io_ends.get(&io).map(|e| (io, e)))
                .filter(|(_, e)| e.unwritten);
            if let (true, Some((io, _))) = (failed == Some(id), io_end) {
                for (at, data) in self.landed.remove(&io).unwrap_or_default() {
                    self.fail(at, data);
                }
                let superseded = self.landed_superseded.remove(&io).unwrap_or_default();
                self.lost
                    .extend(superseded.iter().map(|&((i, o), d)| (i, o, d)));
            }
            if failed == Some(id) {
                self.lost
                    .extend(record.superseded.iter().map(|&((i, o), d)| (i, o, d)));
            }
            for (offset, data) in record.sectors {
                let Some(offset) = offset else { continue };
                let at = (record.inode, offset);
                if failed == Some(id) {
                    self.fail(at, data);
                    continue;
                }
                self.land(at, data);
                let superseded = record.superseded.iter().filter(|&&(s, _)| s == at);
                match io_end {
                    Some((_, e)) if e.failed => {
                        self.fail(at, data);
                        self.lost.extend(superseded.map(|&((i, o), d)| (i, o, d)));
                    }
                    Some((io, _)) => {
                        self.landed.entry(io).or_default().push((at, data));
                        let entry = self.landed_superseded.entry(io).or_default();
                        entry.extend(superseded.copied());
                    }
                    None => {}
                }
            }
        }
        for (&id, bio) in &state.bios {
            if !self.bios.contains_key(&id) {
                let mut record = bio_record(state, bio);
                record.superseded = self.superseded(state, &record);
                self.bios.insert(id, record);
            }
        }
    }

    /// `dirty_under_dio` already holds what [`History::dio_blocks_dirty`] would give: every
    /// dirty block under a direct I/O bio is in it, and everything in it is such a block
    /// (checked without building the set). Under [`Checking::Every`] never: the set is
    /// rebuilt after every step.
    fn dirty_under_dio_current(&self, state: &State, checking: Checking) -> bool {
        match checking {
            Checking::Every => return false,
            Checking::WrongDirtySkipForTests => return true,
            _ => {}
        }
        let under_dio = || {
            self.bios.values().filter(|b| b.dio).flat_map(|b| {
                b.blocks
                    .iter()
                    .filter_map(move |(l, _)| l.map(|l| (b.inode, l)))
            })
        };
        let dirty = |&(inode, lblk): &(InodeIx, u64)| block_dirty(state, inode, lblk);
        under_dio()
            .filter(dirty)
            .all(|k| self.dirty_under_dio.contains(&k))
            && (self.dirty_under_dio.iter()).all(|k| dirty(k) && under_dio().any(|u| u == *k))
    }

    /// The buffered writes of the epoch whose data writeback bio `record`'s page data
    /// replaced: each copied its data to a sector before the bio was built (its done range
    /// covers it), the bio carries other data there, and the disk does not hold it there.
    /// The page cache is the only place their data was: a failed writeback bio
    /// (`ext4_finish_bio` sets `PageError` and ends writeback, fs/ext4/page-io.c:62-123;
    /// `ext4_end_bio` sets `AS_EIO`, 321-331: nothing rewrites the page's sectors)
    /// leaves the disk as it was, so they are lost with the bio's own data.
    fn superseded(&self, state: &State, record: &BioRecord) -> Vec<Landed> {
        if record.dio {
            return Vec::new();
        }
        let covers = |r: Option<(u64, u64)>, o: u64| r.is_some_and(|(f, t)| f <= o && o < t);
        let g = state.geometry;
        let map = &state.inodes[record.inode].map;
        let mut out = Vec::new();
        for &(offset, data) in &record.sectors {
            let Some(offset) = offset else { continue };
            let disk = map
                .pblk(offset >> g.blkbits)
                .map(|(pblk, _)| state.disk.sectors[state.psector(pblk, offset) as usize]);
            for (tag, w) in self.epoch_writes() {
                let t = Data::Write(tag);
                if w.inode == record.inode
                    && !w.direct
                    && covers(w.done, offset)
                    && t != data
                    && disk != Some(t)
                {
                    out.push(((record.inode, offset), t));
                }
            }
        }
        out
    }

    /// Blocks under in-flight direct I/O bios whose page is dirty now.
    pub fn dio_blocks_dirty(&self, state: &State) -> BTreeSet<(InodeIx, u64)> {
        self.bios
            .values()
            .filter(|b| b.dio)
            .flat_map(|b| {
                b.blocks
                    .iter()
                    .filter_map(move |(l, _)| l.map(|l| (b.inode, l)))
            })
            .filter(|&(inode, lblk)| block_dirty(state, inode, lblk))
            .collect()
    }

    /// Records the ranges of flagged io_ends once known; forgets converted ones. Nothing to
    /// do when the step left the io_ends untouched.
    #[inline]
    pub fn note_conversions(&mut self, state: &State, touched: Touched) {
        if !touched.io_ends() {
            return;
        }
        self.conversions.retain(|id, _| {
            state
                .io_ends
                .get(id)
                .is_some_and(|e| e.unwritten && e.size > 0)
        });
        let g = state.geometry;
        for (&id, end) in &state.io_ends {
            if !end.unwritten || end.size == 0 || self.conversions.contains_key(&id) {
                continue;
            }
            let map = &state.inodes[end.inode].map;
            let first = end.offset >> g.blkbits;
            let last = (end.offset + end.size).div_ceil(g.blocksize());
            let blocks = (first..last)
                .filter_map(|l| map.pblk(l).map(|(p, _)| (l, p)))
                .collect();
            self.conversions.insert(
                id,
                Conversion {
                    inode: end.inode,
                    blocks,
                },
            );
        }
    }

    /// The operation actor `a` ran its last step in (before [`History::note_finished`]
    /// handles this step).
    pub fn op_of_step<'s>(&self, state: &'s State, a: u8) -> &'s Op {
        let actor = &state.actors[a as usize];
        let index = if actor.results.len() > self.results_seen[a as usize] {
            self.results_seen[a as usize]
        } else {
            actor.op
        };
        &actor.program[index.min(actor.program.len() - 1)]
    }

    /// Records the operations that returned in this step (only a touched actor has a new
    /// result).
    #[inline]
    pub fn note_finished(&mut self, state: &State, touched: Touched) -> Vec<Finished> {
        let mut finished = Vec::new();
        for a in touched.actors(state.actors.len()) {
            let actor = &state.actors[a as usize];
            let a = a as usize;
            while self.results_seen[a] < actor.results.len() {
                let op = self.results_seen[a];
                self.results_seen[a] += 1;
                let start = self.op_start[a].take().unwrap_or(self.step);
                let what = self.returned(state, a as u8, op);
                finished.push(Finished {
                    actor: a as u8,
                    op,
                    start,
                    what,
                });
            }
        }
        finished
    }

    fn returned(&mut self, state: &State, a: u8, op: usize) -> FinishedOp {
        let step = self.step;
        self.note_removals_without_i_mutex(a);
        for m in self.zero_makers.iter_mut() {
            if m.actor == a && m.end.is_none() {
                m.end = Some(step);
            }
        }
        let actor = &state.actors[a as usize];
        let result = &actor.results[op];
        match (&actor.program[op], result) {
            (_, OpResult::Crashed) => FinishedOp::Other,
            (Op::Write(w), &OpResult::Write { ret, ki_pos, .. }) => {
                let record = self.writes.get_mut(&w.tag).expect("known");
                record.start.get_or_insert(step);
                record.returned = Some(step);
                record.queued = ret == errno::EIOCBQUEUED;
                if !record.queued {
                    record.completed = Some(step);
                    record.completed_tid = state.journal.running;
                    if ret > 0 {
                        record.done = Some((ki_pos - ret as u64, ki_pos));
                    }
                }
                FinishedOp::Write { tag: w.tag }
            }
            (&Op::Read { inode, pos, .. }, OpResult::Read(_)) => FinishedOp::Read { inode, pos },
            (Op::Crash, _) => FinishedOp::Crash,
            _ => FinishedOp::Other,
        }
    }

    /// Records the AIO events that arrived in this step; returns the writes they completed.
    /// An event arrives in its actor's frame or results: only a touched actor has one.
    #[inline]
    pub fn note_events(&mut self, state: &State, touched: Touched) -> Vec<u8> {
        let mut completed = Vec::new();
        for (&tag, w) in self.writes.iter_mut() {
            if w.completed.is_some() || w.start.is_none() || !touched.actor(w.actor) {
                continue;
            }
            let actor = &state.actors[w.actor as usize];
            let event = match (&actor.frame, actor.results.get(w.op)) {
                (_, Some(OpResult::Write { event, .. })) => *event,
                (Frame::Write(f), None) if actor.op == w.op => f.event,
                _ => None,
            };
            let Some(event) = event else { continue };
            w.completed = Some(self.step);
            w.completed_tid = state.journal.running;
            if event > 0 {
                let from = w.range.expect("a queued write has its range").0;
                w.done = Some((from, from + event as u64));
            }
            completed.push(tag);
        }
        completed
    }

    /// The step is judged: remember the journal's commit sequence after it.
    pub fn end_step(&mut self, state: &State) {
        self.tid = state.journal.committed;
    }

    /// A crash happened: the recovered state starts a new epoch.
    pub fn new_epoch(&mut self, state: &State) {
        self.epoch = self.step;
        self.zero_makers.clear();
        self.bios.clear();
        self.conversions.clear();
        self.failed.clear();
        self.lost.clear();
        self.landed.clear();
        self.landed_superseded.clear();
        self.dirty_under_dio.clear();
        self.prior = Arc::new(Prior::snapshot(state));
    }

    /// What the oracles still need of the history, with step numbers replaced by their
    /// ranks (see [`super::Observer::summary`]). The recorded steps are gathered, sorted and
    /// deduplicated in place, inline up to [`SUMMARY_STEPS_INLINE`] of them: no heap
    /// allocation for the visited set's key. [`History::summary_slow`] is its slow twin.
    pub fn summary(&self) -> Summary<'_> {
        let mut steps = SummarySteps::new();
        steps.push(self.epoch);
        for w in self.writes.values() {
            for s in [w.start, w.returned, w.completed].into_iter().flatten() {
                steps.push(s);
            }
        }
        for m in &self.zero_makers {
            steps.push(m.start);
            if let Some(end) = m.end {
                steps.push(end);
            }
        }
        for s in self.op_start.iter().flatten() {
            steps.push(*s);
        }
        steps.sort_unstable();
        let kept = dedup_sorted(&mut steps);
        steps.truncate(kept);
        Summary {
            history: self,
            steps,
        }
    }

    /// [`History::summary`]'s slow twin: the recorded steps gathered in a `Vec`, sorted and
    /// deduplicated by the standard library (the summary before the inline one), for
    /// `sim/tests/summary_twins.rs`, which hashes both on every state of bounded searches.
    #[doc(hidden)]
    pub fn summary_slow(&self) -> Summary<'_> {
        let mut steps: Vec<Step> = vec![self.epoch];
        for w in self.writes.values() {
            steps.extend([w.start, w.returned, w.completed].into_iter().flatten());
        }
        for m in &self.zero_makers {
            steps.extend(std::iter::once(m.start).chain(m.end));
        }
        steps.extend(self.op_start.iter().flatten());
        steps.sort_unstable();
        steps.dedup();
        Summary {
            history: self,
            steps: SummarySteps::from(steps),
        }
    }
}

/// Recorded step numbers a [`Summary`] holds inline (more go to the heap): the canonical
/// scenario records at most 13 (the epoch, three per write, one per actor).
pub const SUMMARY_STEPS_INLINE: usize = 16;

/// The sorted distinct step numbers of a [`Summary`].
type SummarySteps = model::inline_vec::InlineVec<Step, SUMMARY_STEPS_INLINE>;

/// Moves the distinct values of sorted `steps` to its front, in order; how many there are.
fn dedup_sorted(steps: &mut [Step]) -> usize {
    let mut kept = 0;
    for i in 0..steps.len() {
        if kept == 0 || steps[kept - 1] != steps[i] {
            steps[kept] = steps[i];
            kept += 1;
        }
    }
    kept
}

impl History {
    /// Replaces every recorded step number by one that keeps only what the oracles can still
    /// learn from it, so that two runs whose events interleaved differently but alike to
    /// the oracles get one history (for the reduced searches' visited key,
    /// `crate::symmetry::canonical_fingerprint`). `state` is the state this history was
    /// judged on (it tells which operation each actor runs).
    ///
    /// The oracles read a step number only to ask whether an end (a write's `completed`, a
    /// remover's `end`, the `epoch`) came strictly before a start (a write's `start`, a
    /// remover's `start`, an actor's `op_start`), or whether it is set
    /// ([`History::order_read`] lists every such read and when it can still happen). A
    /// step still to come is later than every recorded one, so a comparison with it is
    /// decided by which events are set. What the future can read of the recorded order is
    /// therefore the outcome of `end < start` for the pairs [`History::order_read`] keeps,
    /// and this keeps exactly those outcomes and which events are set: the write's
    /// `returned` is read only for being set, and becomes 0.
    ///
    /// How: each kept outcome is a constraint between the two new numbers (`end < start`:
    /// the start's at least the end's plus one; else the end's at least the start's), and
    /// every event gets the least numbers that meet them all (longest paths from 0; the real
    /// steps meet them, so no cycle gains). These numbers depend only on the kept outcomes,
    /// and compared with each other they give the same outcomes: the visited set, which
    /// keeps only the numbers' order ([`Summary`]), tells apart exactly the histories that
    /// differ in a kept outcome or in which events are set. An event no kept pair reads
    /// becomes 0.
    pub fn forget_unread_order(&mut self, state: &State) {
        self.forget_order_but(state, None);
    }

    /// [`History::forget_unread_order`] with one rule of [`History::order_read`] left out:
    /// a key that may be unsound, for the tests that show what the rule decides.
    #[doc(hidden)]
    pub fn forget_unread_order_dropping(&mut self, state: &State, rule: OrderRule) {
        self.forget_order_but(state, Some(rule));
    }

    /// [`History::forget_unread_order`], keeping the pairs [`History::order_read`] keeps
    /// but for those only `dropped` keeps.
    fn forget_order_but(&mut self, state: &State, dropped: Option<OrderRule>) {
        let most = 1 + 2 * (self.writes.len() + self.zero_makers.len()) + self.op_start.len();
        let mut moments = Vec::with_capacity(most);
        self.each_moment(&mut |m, s| moments.push((m, s)));
        let constraints = self.read_constraints(state, &moments, dropped);
        let numbers = least_numbers(moments.len(), &constraints);
        let mut next = numbers.into_iter();
        self.visit_moments(&mut |_, s| *s = next.next().expect("one number a moment"));
        for w in self.writes.values_mut() {
            w.returned = w.returned.map(|_| 0);
        }
    }

    /// The constraints on the new numbers of `moments` (indices into it, with the least
    /// difference): for each recorded end and start whose order [`History::order_read`]
    /// keeps, the end before the start (`+1`) or the start no later than the end (`+0`).
    fn read_constraints(
        &self,
        state: &State,
        moments: &[(Moment, Step)],
        dropped: Option<OrderRule>,
    ) -> Vec<Constraint> {
        let ends = moments.iter().filter(|(m, _)| matches!(m, Moment::End(_)));
        let ends = ends.count();
        let mut out = Vec::with_capacity(ends * (moments.len() - ends));
        for (i, &(end, e)) in moments.iter().enumerate() {
            let Moment::End(end) = end else { continue };
            for (j, &(start, s)) in moments.iter().enumerate() {
                let Moment::Start(start) = start else {
                    continue;
                };
                if self.order_read_but(state, end, start, dropped) {
                    out.push(if e < s { (i, j, 1) } else { (j, i, 0) });
                }
            }
        }
        out
    }

    /// The slow twin of [`History::forget_unread_order`]'s key: for every end (the epoch,
    /// each write's completion by tag, each remover's end) and every start (each write's start
    /// by tag, each remover's start, each actor's `op_start`), in that order, whether the end
    /// came strictly before the start, when both are set and [`History::order_read`] keeps
    /// their order (else `None`). Two histories alike but for their step numbers have one key
    /// exactly when these agree.
    pub fn read_order_outcomes(&self, state: &State) -> Vec<Option<bool>> {
        let mut ends = vec![(EndOf::Epoch, Some(self.epoch))];
        ends.extend(
            self.writes
                .iter()
                .map(|(&t, w)| (EndOf::Write(t), w.completed)),
        );
        let removers = self.zero_makers.iter().enumerate();
        ends.extend(removers.map(|(k, m)| (EndOf::Remover(k), m.end)));
        let mut starts: Vec<_> = self
            .writes
            .iter()
            .map(|(&t, w)| (StartOf::Write(t), w.start))
            .collect();
        let removers = self.zero_makers.iter().enumerate();
        starts.extend(removers.map(|(k, m)| (StartOf::Remover(k), Some(m.start))));
        let ops = self.op_start.iter().enumerate();
        starts.extend(ops.map(|(a, &s)| (StartOf::Op(a), s)));
        let before = |(end, e): (EndOf, Option<Step>), (start, s): (StartOf, Option<Step>)| {
            let read = self.order_read(state, end, start);
            e.zip(s).filter(|_| read).map(|(e, s)| e < s)
        };
        ends.iter()
            .flat_map(|&e| starts.iter().map(move |&s| before(e, s)))
            .collect()
    }

    /// Sets every recorded step number to 0, keeping only whether each is set: a key that
    /// forgets too much (whether an end came before a start), for the tests that show the
    /// reduction tests catch one.
    pub fn forget_all_order_for_tests(&mut self) {
        self.visit_moments(&mut |_, s| *s = 0);
        for w in self.writes.values_mut() {
            w.returned = w.returned.map(|_| 0);
        }
    }

    /// Visits every recorded step number but `returned`, the epoch first, with what it is.
    fn visit_moments(&mut self, f: &mut impl FnMut(Moment, &mut Step)) {
        f(Moment::End(EndOf::Epoch), &mut self.epoch);
        for (&tag, w) in self.writes.iter_mut() {
            w.start
                .iter_mut()
                .for_each(|s| f(Moment::Start(StartOf::Write(tag)), s));
            w.completed
                .iter_mut()
                .for_each(|s| f(Moment::End(EndOf::Write(tag)), s));
        }
        for (k, m) in self.zero_makers.iter_mut().enumerate() {
            f(Moment::Start(StartOf::Remover(k)), &mut m.start);
            m.end
                .iter_mut()
                .for_each(|s| f(Moment::End(EndOf::Remover(k)), s));
        }
        for (a, s) in self.op_start.iter_mut().enumerate() {
            s.iter_mut()
                .for_each(|s| f(Moment::Start(StartOf::Op(a)), s));
        }
    }
}

/// The history as the breadth-first search's visited set sees it: every step number as its
/// rank among the steps recorded.
pub struct Summary<'a> {
    history: &'a History,
    steps: SummarySteps,
}

impl Summary<'_> {
    fn rank(&self, step: Option<Step>) -> Option<usize> {
        step.map(|s| self.steps.binary_search(&s).expect("collected"))
    }
}

impl Hash for Summary<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let rank = |s| self.rank(s);
        let mut moment = rank;
        self.history
            .hash_summary(state, &mut moment, rank, &crate::fingerprint::AsIs);
    }
}

/// Moments (recorded step numbers but `returned`) [`CanonicalSummary`] holds inline (more
/// go to the heap): the canonical scenario records at most 13.
pub const MOMENTS_INLINE: usize = 32;

/// Per moment, in [`History::visit_moments`] order, something of it.
type PerMoment<T> = model::inline_vec::InlineVec<T, MOMENTS_INLINE>;

/// Bits of [`History::forgotten_numbers`]'s sort key below a moment's step: whether it is
/// an end, and its index.
const MOMENT_KEY_BITS: u32 = 32;
/// Bits of the sort key below the end bit: the moment's index, which fits (a history has
/// two moments per write and remover and one per actor, far fewer than 2^31).
const MOMENT_INDEX_BITS: u32 = 31;

/// The moment's index in a sort key of [`History::forgotten_numbers`].
fn moment_index(key: u64) -> usize {
    (key & ((1 << MOMENT_INDEX_BITS) - 1)) as usize
}

/// [`History::forgotten_numbers`]'s lists: each moment with its step, and their sort keys.
type MomentLists = (Vec<(Moment, Step)>, Vec<u64>);

std::thread_local! {
    /// [`History::forgotten_numbers`]'s moments and their order, kept between calls on one
    /// thread so that they allocate once (their contents never outlive a call).
    static MOMENTS: std::cell::RefCell<MomentLists> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

impl Default for Moment {
    fn default() -> Moment {
        Moment::End(EndOf::Epoch)
    }
}

/// The history as the symmetry key sees it, read in place: the [`Summary`] of its copy
/// with every object identifier named by a [`crate::fingerprint::Naming`] and its order
/// forgotten ([`History::forget_unread_order`]), hashing as that copy's summary would
/// (`sim/tests/symmetry_twins.rs` holds the keys built on each equal).
pub struct CanonicalSummary<'a, N> {
    history: &'a History,
    /// The forgotten order's number of each moment, in [`History::visit_moments`] order.
    numbers: PerMoment<Step>,
    /// The distinct numbers of the copy (the moments', and 0 for a set `returned`), sorted.
    steps: SummarySteps,
    naming: &'a N,
}

impl<N: crate::fingerprint::Naming> Hash for CanonicalSummary<'_, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let rank = |s: Option<Step>| s.map(|s| self.steps.binary_search(&s).expect("collected"));
        let mut next = self.numbers.iter();
        let mut moment = |s: Option<Step>| rank(s.map(|_| *next.next().expect("a number")));
        let returned = |s: Option<Step>| rank(s.map(|_| 0));
        self.history
            .hash_summary(state, &mut moment, returned, self.naming);
    }
}

impl History {
    /// [`History::summary`] of this history's copy renamed by `n` with its order forgotten
    /// ([`History::forget_unread_order`] on `state`), without the copy: the new numbers come
    /// from `forgotten_numbers` (the moments sorted by step, each numbered from its earlier
    /// constraints), the identifiers are named as they are hashed. `n` must keep the
    /// identifiers' order (as the symmetry key's ranks do): the renamed maps are hashed in
    /// their present key order, which is the copy's only then.
    pub fn canonical_summary<'a, N: crate::fingerprint::Naming>(
        &'a self,
        state: &State,
        n: &'a N,
    ) -> CanonicalSummary<'a, N> {
        let numbers = self.forgotten_numbers(state);
        let mut steps = SummarySteps::new();
        steps.extend_from_slice(&numbers);
        if self.writes.values().any(|w| w.returned.is_some()) {
            steps.push(0);
        }
        steps.sort_unstable();
        let kept = dedup_sorted(&mut steps);
        steps.truncate(kept);
        CanonicalSummary {
            history: self,
            numbers,
            steps,
            naming: n,
        }
    }

    /// The numbers [`History::forget_unread_order`] gives the moments, in
    /// [`History::visit_moments`] order, in one pass: every constraint goes from a moment
    /// to one at a later step, or at the same step from a start to an end, so taken in
    /// that order (starts before ends at one step) each moment's least number is the
    /// greatest its earlier constraints ask (longest paths in a graph without cycles),
    /// which is what [`least_numbers`] iterates to.
    fn forgotten_numbers(&self, state: &State) -> PerMoment<Step> {
        MOMENTS.with_borrow_mut(|(moments, order)| {
            moments.clear();
            self.each_moment(&mut |m, s| moments.push((m, s)));
            debug_assert!(
                moments.len() < 1 << MOMENT_INDEX_BITS,
                "indices fit the key"
            );
            order.clear();
            order.extend(moments.iter().enumerate().map(|(i, &(m, s))| {
                let end = matches!(m, Moment::End(_));
                (u64::from(s) << MOMENT_KEY_BITS) | (u64::from(end) << MOMENT_INDEX_BITS) | i as u64
            }));
            order.sort_unstable();
            let mut numbers = PerMoment::from_elem(0, moments.len());
            for (pos, &key) in order.iter().enumerate() {
                let j = moment_index(key);
                let (to, at) = moments[j];
                let mut least = 0;
                for &earlier in &order[..pos] {
                    let i = moment_index(earlier);
                    let (from, was) = moments[i];
                    let gap = match (from, to) {
                        (Moment::End(e), Moment::Start(s)) if was < at => {
                            self.order_read(state, e, s).then_some(1)
                        }
                        (Moment::Start(s), Moment::End(e)) if was <= at => {
                            self.order_read(state, e, s).then_some(0)
                        }
                        _ => None,
                    };
                    if let Some(gap) = gap {
                        least = least.max(numbers[i] + gap);
                    }
                }
                numbers[j] = least;
            }
            numbers
        })
    }

    /// [`History::visit_moments`] reading: every recorded step number but `returned`, the
    /// epoch first, with what it is. The same walk in the same order (the two are kept
    /// together: one by reference, one by `&mut`, which one body cannot serve).
    fn each_moment(&self, f: &mut impl FnMut(Moment, Step)) {
        f(Moment::End(EndOf::Epoch), self.epoch);
        for (&tag, w) in &self.writes {
            w.start
                .into_iter()
                .for_each(|s| f(Moment::Start(StartOf::Write(tag)), s));
            w.completed
                .into_iter()
                .for_each(|s| f(Moment::End(EndOf::Write(tag)), s));
        }
        for (k, m) in self.zero_makers.iter().enumerate() {
            f(Moment::Start(StartOf::Remover(k)), m.start);
            m.end
                .into_iter()
                .for_each(|s| f(Moment::End(EndOf::Remover(k)), s));
        }
        for (a, &s) in self.op_start.iter().enumerate() {
            s.into_iter()
                .for_each(|s| f(Moment::Start(StartOf::Op(a)), s));
        }
    }

    /// Hashes what [`Summary`] hashes: each moment's step by `moment` (called once per
    /// moment field, set or not, in [`History::visit_moments`] order), each `returned` by
    /// `returned`, the object identifiers named by `n` (the maps hashed as their renamed
    /// copies would be, or as they stand when `n` renames nothing).
    fn hash_summary<H: Hasher>(
        &self,
        state: &mut H,
        moment: &mut impl FnMut(Option<Step>) -> Option<usize>,
        returned: impl Fn(Option<Step>) -> Option<usize>,
        n: &impl crate::fingerprint::Naming,
    ) {
        (moment(Some(self.epoch)), self.tid).hash(state);
        for (tag, w) in &self.writes {
            let start = moment(w.start);
            (tag, start, w.range, returned(w.returned)).hash(state);
            (w.queued, moment(w.completed), w.completed_tid, w.done).hash(state);
        }
        for m in &self.zero_makers {
            (m.actor, m.inode, m.from, m.to, m.pending).hash(state);
            let start = moment(Some(m.start));
            (start, moment(m.end)).hash(state);
        }
        for s in &self.op_start {
            moment(*s).hash(state);
        }
        self.hash_named_ids(state, n);
    }

    /// Hashes the maps from the bios on, as [`Summary`] does, with the object identifiers
    /// of the bios, conversions and landed sectors named by `n`.
    fn hash_named_ids<H: Hasher>(&self, state: &mut H, n: &impl crate::fingerprint::Naming) {
        if n.renames() {
            state.write_usize(self.bios.len());
            for (&id, record) in &self.bios {
                n.name(id).hash(state);
                let BioRecord {
                    inode,
                    dio,
                    blocks,
                    sectors,
                    io_end,
                    superseded,
                } = record;
                let io_end = io_end.map(|id| n.name(id));
                (inode, dio, blocks, sectors, io_end, superseded).hash(state);
            }
            hash_renamed(self.conversions.len(), &self.conversions, n, state);
        } else {
            self.bios.hash(state);
            self.conversions.hash(state);
        }
        self.failed.hash(state);
        self.lost.hash(state);
        if n.renames() {
            hash_renamed(self.landed.len(), &self.landed, n, state);
            hash_renamed(
                self.landed_superseded.len(),
                &self.landed_superseded,
                n,
                state,
            );
        } else {
            self.landed.hash(state);
            self.landed_superseded.hash(state);
        }
        self.prior.hash(state);
        self.dirty_under_dio.hash(state);
    }
}

/// Hashes a map of `len` entries keyed by object identifier as its copy with every key
/// named by `n` would (the naming keeps the keys' order): the length, then each key and
/// value, as `VecMap`'s and `BTreeMap`'s `Hash` feed them.
fn hash_renamed<'a, V: Hash + 'a, H: Hasher>(
    len: usize,
    entries: impl IntoIterator<Item = (&'a ObjId, &'a V)>,
    n: &impl crate::fingerprint::Naming,
    state: &mut H,
) {
    state.write_usize(len);
    let mut last = None;
    for (&id, v) in entries {
        let named = n.name(id);
        debug_assert!(last < Some(named), "a naming that keeps the keys' order");
        last = Some(named);
        named.hash(state);
        v.hash(state);
    }
}

/// Writes up to which [`write_mut`] looks a tag up by walking the entries in order (a
/// few compares) rather than by binary search.
const WRITES_SCANNED: usize = 8;

/// The record of write `tag` (which must be known), to change: up to [`WRITES_SCANNED`]
/// writes by a walk over the entries, beyond by [`VecMap::get_mut`] (the unit test
/// `write_mut_finds_what_get_mut_finds` holds the two to one answer).
fn write_mut(writes: &mut VecMap<u8, WriteRecord>, tag: u8) -> &mut WriteRecord {
    if writes.len() <= WRITES_SCANNED {
        let found = writes.iter_mut().find(|(t, _)| **t == tag);
        return found.expect("known").1;
    }
    writes.get_mut(&tag).expect("known")
}

/// A writer frame is past `generic_write_checks` with something to write. The gate and its
/// wait come before `i_mutex` in 4.4, after the checks (under `i_mutex`) with
/// `e142d05263a4`.
fn past_checks(f: &model::ops::WriteFrame) -> bool {
    use model::ops::WritePc::*;
    let before = match f.pc {
        Gate | AioMutexLock | UnwrittenWait => !f.i_mutex_held,
        IMutexLock | WriteChecks | OutUnlock | Done => true,
        _ => false,
    };
    !before && f.ret > 0
}

/// The record of a bio as it stands now.
fn bio_record(state: &State, bio: &model::state::Bio) -> BioRecord {
    let g = state.geometry;
    let spb = g.sectors_per_block() as u32;
    let map = &state.inodes[bio.inode].map;
    let lblk_of = |pblk: u32| {
        map.extents
            .iter()
            .find(|e| e.pblk <= pblk && u64::from(pblk - e.pblk) < e.len)
            .map(|e| e.lblk + u64::from(pblk - e.pblk))
    };
    let mut blocks: Vec<(Option<u64>, u32)> = Vec::new();
    let mut sectors = Vec::new();
    for (k, &data) in bio.data.iter().enumerate() {
        let psector = bio.psector + k as u32;
        let pblk = psector / spb;
        let lblk = lblk_of(pblk);
        if blocks.last().is_none_or(|&(_, p)| p != pblk) {
            blocks.push((lblk, pblk));
        }
        let offset = lblk.map(|l| (l << g.blkbits) + (u64::from(psector % spb) << g.sector_bits));
        sectors.push((offset, data));
    }
    BioRecord {
        inode: bio.inode,
        dio: matches!(bio.owner, BioOwner::Dio(_)),
        blocks,
        sectors,
        io_end: match bio.owner {
            BioOwner::Writeback(io) => Some(io),
            BioOwner::Dio(_) => None,
        },
        superseded: Vec::new(),
    }
}

/// Logical block `lblk` of `inode` has dirty buffers in the page cache.
pub fn block_dirty(state: &State, inode: InodeIx, lblk: u64) -> bool {
    let g = state.geometry;
    let per_page = g.page_bits - g.blkbits;
    state.inodes[inode]
        .pages
        .get(&(lblk >> per_page))
        .is_some_and(|p| p.dirty & (1 << (lblk & ((1 << per_page) - 1))) != 0)
}

/// A rule of [`History::order_read`]'s audit that a test may leave out
/// ([`History::forget_unread_order_dropping`]), to show whether the reduced searches'
/// verdicts depend on it (`sim/tests/reduction.rs`, "Rules of the history key").
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRule {
    /// `check_durable`: an end against a sync write's start while it is not completed.
    Sync,
    /// `check_write_return`: a remover's end against a write's start until it returns.
    Return,
    /// `check_appends`: a remover's end against an append's start beside a running append.
    Append,
    /// `allowed`: a remover's end against a remover's start.
    RemoverRemover,
    /// `exposure`'s `m.end < since`: a remover's end against a reader's `op_start`.
    Read,
}

/// A recorded end in the history's order: what a start can come after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndOf {
    /// The step the epoch began at (the last crash, or 0).
    Epoch,
    /// A write's completion, by tag.
    Write(u8),
    /// A truncate's or punch's return, by its index in `zero_makers`.
    Remover(usize),
}

/// A recorded start in the history's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartOf {
    /// A write's start, by tag.
    Write(u8),
    /// A truncate's or punch's start, by its index in `zero_makers`.
    Remover(usize),
    /// The start of an actor's current operation (`op_start`), by actor.
    Op(usize),
}

/// A recorded step number as the oracles see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moment {
    End(EndOf),
    Start(StartOf),
}

/// `(from, to, d)`: the new number of moment `to` is at least that of `from` plus `d`.
type Constraint = (usize, usize, Step);

/// The least numbers from 0 of `n` moments that meet `constraints` (longest paths). They
/// exist when some numbers meet them, as the real steps do.
fn least_numbers(n: usize, constraints: &[Constraint]) -> Vec<Step> {
    let mut numbers = vec![0; n];
    let mut changed = true;
    while changed {
        changed = false;
        for &(from, to, d) in constraints {
            if numbers[to] < numbers[from] + d {
                numbers[to] = numbers[from] + d;
                changed = true;
            }
        }
    }
    numbers
}

/// The bytes of an inode a write or a truncate/punch may put its data or zeros in, now or
/// later: `(inode, from, to)`, empty when `from >= to`.
type Reach = (InodeIx, u64, u64);

impl History {
    /// Whether an oracle can still compare `end` with `start` (`end < start`): the audit of
    /// every read of a step number's order in `sim/src/oracle/`, by the pair it reads. A pair
    /// it answers `false` for is never read again, whatever the run does next: each reason
    /// below, once gone, stays gone (ranges only narrow, completions and returns only come,
    /// the epoch only moves on).
    /// - The epoch against a write's start (`History::epoch_writes`, `exposure`'s `in_epoch`:
    ///   `w.start > epoch`): always. Against anything else: never (the removers are the
    ///   epoch's: a crash clears them, `History::new_epoch`).
    /// - A write's completion against another write's start: `check_durable`
    ///   (`durability.rs`, `unordered_write`, any write against the sync write that
    ///   completes) while the start's write is sync and not completed; `allowed`
    ///   (`contents.rs`, quiescence: a producer's completion against a definite producer's
    ///   start, both of one offset, a producer against itself too) while both are the
    ///   epoch's and may cover a common byte (`History::write_reach`).
    /// - A write's completion against a remover's start: `exposure` (`contents.rs`,
    ///   `History::precedes(completed, m.start)` for a value of the write at an offset of the
    ///   remover) and `allowed`: while the write is the epoch's and both may cover a common
    ///   byte.
    /// - A remover's end against a write's start, on one inode: `check_durable`
    ///   (`unordered_remover`) while the write is sync and not completed;
    ///   `check_write_return` (`protocol.rs`, any remover from below `ki_pos`) while it has not
    ///   returned; `check_appends` (`protocol.rs`, the earlier of two appends' starts, `e <
    ///   min(a, b)` being `e < a && e < b`) while it is an append and some append to the inode
    ///   has not completed; `allowed` and `check_crash` (`durability.rs`, at a crash) while
    ///   the write is the epoch's and both may cover a common byte.
    /// - A remover's end against a remover's start: `allowed` (itself too), while both may
    ///   cover a common byte.
    /// - A remover's end against an actor's `op_start`: `exposure`'s `m.end < since` for the
    ///   read that returns (`check_read`, `Finished::start` of a `FinishedOp::Read`), while
    ///   the actor's current operation is a read of the remover's inode. `op_start` is read
    ///   for nothing else but being set (`History::note_starts`): every other `since` is
    ///   `Step::MAX` or the current step, and `Finished::start` of other operations is unread.
    /// - A write's completion against an `op_start`: never.
    ///
    /// `memo.rs` compares step numbers only for equality, to skip a check that would pass
    /// again: it decides no verdict, and a clone (the search's copy) starts afresh;
    /// `trace_step` only names steps in messages. The sync, return, append,
    /// remover-against-remover and read reads decide no verdict of the model on their own
    /// (another rule or another check settles each first): `sim/tests/reduction.rs`, "Rules
    /// of the history key", says why; they are kept all the same.
    pub fn order_read(&self, state: &State, end: EndOf, start: StartOf) -> bool {
        self.order_read_but(state, end, start, None)
    }

    /// [`History::order_read`] without the reads of rule `dropped` (none: the audit itself).
    fn order_read_but(
        &self,
        state: &State,
        end: EndOf,
        start: StartOf,
        dropped: Option<OrderRule>,
    ) -> bool {
        let keeps = |rule| dropped != Some(rule);
        match (end, start) {
            (EndOf::Epoch, StartOf::Write(_)) => true,
            (EndOf::Epoch, _) | (EndOf::Write(_), StartOf::Op(_)) => false,
            (EndOf::Write(o), StartOf::Write(w)) => {
                let overlap = reach_meets(self.write_reach(o), self.write_reach(w));
                (keeps(OrderRule::Sync) && self.sync_pending(w)) || overlap
            }
            (EndOf::Write(o), StartOf::Remover(m)) => {
                reach_meets(self.write_reach(o), Some(self.remover_reach(m)))
            }
            (EndOf::Remover(m), StartOf::Write(w)) => self.remover_before_write_read(m, w, dropped),
            (EndOf::Remover(m), StartOf::Remover(n)) => {
                let (a, b) = (self.remover_reach(m), self.remover_reach(n));
                keeps(OrderRule::RemoverRemover) && reach_meets(Some(a), Some(b))
            }
            (EndOf::Remover(m), StartOf::Op(a)) => {
                let actor = &state.actors[a];
                let read = |op: &Op| matches!(*op, Op::Read { inode, .. } if inode == self.zero_makers[m].inode);
                keeps(OrderRule::Read) && actor.program.get(actor.op).is_some_and(read)
            }
        }
    }

    /// A remover's end against a write's start ([`History::order_read`]), without the
    /// reads of rule `dropped`.
    fn remover_before_write_read(&self, m: usize, tag: u8, dropped: Option<OrderRule>) -> bool {
        let keeps = |rule| dropped != Some(rule);
        let (remover, w) = (&self.zero_makers[m], self.write(tag));
        let appends_pending = || {
            self.writes
                .values()
                .any(|o| o.append && o.inode == w.inode && o.completed.is_none())
        };
        let overlap = reach_meets(Some(self.remover_reach(m)), self.write_reach(tag));
        remover.inode == w.inode
            && ((keeps(OrderRule::Sync) && self.sync_pending(tag))
                || (keeps(OrderRule::Return) && w.returned.is_none())
                || (keeps(OrderRule::Append) && w.append && appends_pending())
                || overlap)
    }

    /// Write `tag` is sync and has not completed: its completion's `check_durable` is to come.
    fn sync_pending(&self, tag: u8) -> bool {
        let w = self.write(tag);
        w.sync && w.completed.is_none()
    }

    /// What write `tag` may cover, when it is the epoch's (started after the epoch began):
    /// its range past `generic_write_checks`; before that, the whole inode, unless it
    /// completed without one (then nothing).
    fn write_reach(&self, tag: u8) -> Option<Reach> {
        let w = self.write(tag);
        let range = match (w.range, w.completed) {
            (Some(r), _) => r,
            (None, None) => (0, u64::MAX),
            (None, Some(_)) => (0, 0),
        };
        let of_epoch = w.start.is_some_and(|s| s > self.epoch);
        of_epoch.then_some((w.inode, range.0, range.1))
    }

    /// What remover `k` may cover: `[from, to)`, or the whole inode while what it removes
    /// is pending.
    fn remover_reach(&self, k: usize) -> Reach {
        let m = &self.zero_makers[k];
        match m.pending {
            Some(_) => (m.inode, 0, u64::MAX),
            None => (m.inode, m.from, m.to),
        }
    }
}

/// Two reaches of the epoch share a byte of one inode.
fn reach_meets(a: Option<Reach>, b: Option<Reach>) -> bool {
    a.zip(b)
        .is_some_and(|((i, f, t), (j, g, u))| i == j && f < u && g < t && f < t && g < u)
}

crate::codec::record! {
    History {
        step, block_bits, epoch, tid, writes, zero_makers, op_start, results_seen, bios,
        conversions, failed, lost, landed, landed_superseded, prior, dirty_under_dio,
    }
    WriteRecord {
        actor, op, inode, start, range, returned, queued, completed, completed_tid, done, sync,
        direct, append,
    }
    ZeroMaker { actor, inode, from, to, pending, start, end }
    BioRecord { inode, dio, blocks, sectors, io_end, superseded }
    Conversion { inode, blocks }
    Prior { i_size, below, above, written }
}

/// As the shared value: postcard writes an `Arc` as what it points to. Most records of a
/// search hold one prior (it changes only at a crash), so each thread keeps the last one it
/// wrote or read with its bytes (`PRIOR_CACHE`): writing that very `Arc` copies the bytes,
/// and a record that starts with them reads back that `Arc` without decoding (the bytes
/// of a whole value decode to it whatever follows them). [`share_priors_for_tests`] turns
/// this off: each prior then goes through [`Prior`]'s own codec, the slow twin.
impl crate::codec::Codec for Arc<Prior> {
    fn put(&self, out: &mut Vec<u8>) {
        if !PRIOR_SHARING.load(Ordering::Relaxed) {
            return (**self).put(out);
        }
        PRIOR_CACHE.with_borrow_mut(|cache| match cache {
            Some((last, bytes)) if Arc::ptr_eq(last, self) => out.extend_from_slice(bytes),
            _ => {
                let from = out.len();
                (**self).put(out);
                *cache = Some((Arc::clone(self), out[from..].to_vec()));
            }
        });
    }
    fn take(input: &mut &[u8]) -> Arc<Prior> {
        if !PRIOR_SHARING.load(Ordering::Relaxed) {
            return Arc::new(Prior::take(input));
        }
        PRIOR_CACHE.with_borrow_mut(|cache| match cache {
            Some((last, bytes)) if input.starts_with(bytes) => {
                *input = &input[bytes.len()..];
                Arc::clone(last)
            }
            _ => {
                let before = *input;
                let prior = Arc::new(Prior::take(input));
                let used = &before[..before.len() - input.len()];
                *cache = Some((Arc::clone(&prior), used.to_vec()));
                prior
            }
        })
    }
}

std::thread_local! {
    /// The last prior this thread's codec wrote or read, and its bytes. An `Arc` held here
    /// is never changed in place (`Arc::get_mut` fails on a shared one), so one pointer is
    /// one value.
    static PRIOR_CACHE: std::cell::RefCell<Option<(Arc<Prior>, Vec<u8>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether the codec shares priors through [`PRIOR_CACHE`] (the default).
static PRIOR_SHARING: AtomicBool = AtomicBool::new(true);

/// Makes the codec share priors through its cache (`true`, the default) or encode and
/// decode each one whole (`false`, the slow twin): only for the twin tests.
#[doc(hidden)]
pub fn share_priors_for_tests(share: bool) {
    PRIOR_SHARING.store(share, Ordering::Relaxed);
}

/// A tag byte, then the variant's fields in order.
impl crate::codec::Codec for Removal {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Removal::Truncate { size } => {
                out.push(0);
                size.put(out);
            }
            Removal::Punch { pos, len } => {
                out.push(1);
                pos.put(out);
                len.put(out);
            }
        }
    }
    fn take(input: &mut &[u8]) -> Removal {
        match u8::take(input) {
            0 => Removal::Truncate {
                size: u64::take(input),
            },
            1 => {
                let pos = u64::take(input);
                Removal::Punch {
                    pos,
                    len: u64::take(input),
                }
            }
            _ => panic!("{}", crate::codec::MALFORMED),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Seeded histories the one-pass numbers are checked on.
    const HISTORIES: u64 = 20_000;
    /// Recorded steps are drawn below this: few enough that starts and ends often share one.
    const STEPS: Step = 4;
    /// Truncates and punches a history records, at most.
    const REMOVERS: usize = 3;
    /// Byte offsets of ranges are drawn below this (two blocks of the scenario).
    const BYTES: u64 = 8192;

    /// Two files; writes of every kind (sync, append, direct), reads of either file (which the
    /// rule on a remover's end against a reader's `op_start` reads), a truncate and a punch.
    const SCENARIO: &str = r#"
[geometry]
blkbits = 12
sector_bits = 10
page_bits = 12
huge_file = true
disk_blocks = 16

[[inodes]]
ino = 12
i_size = 8192

[[inodes]]
ino = 13
i_size = 4096

[[actors]]
ops = [{ op = "write", pos = 0, len = 4096, direct = true, aio = true, sync = "dsync" }, { op = "read", pos = 0, len = 8192 }]

[[actors]]
ops = [{ op = "write", pos = 0, len = 1024, append = true }, { op = "read", inode = 1, pos = 0, len = 4096 }]

[[actors]]
ops = [{ op = "write", inode = 1, pos = 1024, len = 1024 }, { op = "truncate", size = 1024 }]

[[actors]]
ops = [{ op = "write", pos = 2048, len = 2048, sync = "dsync" }, { op = "punch_hole", inode = 1, pos = 0, len = 4096 }]
"#;

    /// A step, or none (one time in three).
    fn maybe_step(rng: &mut ChaCha8Rng) -> Option<Step> {
        (rng.random_range(0..3) != 0).then(|| rng.random_range(0..STEPS))
    }

    /// `[from, to)`, possibly empty.
    fn range(rng: &mut ChaCha8Rng) -> (u64, u64) {
        let from = rng.random_range(0..BYTES);
        (from, from + rng.random_range(0..BYTES / 2))
    }

    /// `history` with every recorded step, range, flag and remover drawn at random, and
    /// each actor of `state` at a random operation of its program.
    fn scramble(rng: &mut ChaCha8Rng, state: &mut State, history: &mut History) {
        history.epoch = rng.random_range(0..STEPS);
        for w in history.writes.values_mut() {
            w.start = maybe_step(rng);
            w.completed = maybe_step(rng);
            w.returned = maybe_step(rng);
            w.range = (rng.random_range(0..3) != 0).then(|| range(rng));
            w.sync = rng.random_range(0..2) == 0;
            w.append = rng.random_range(0..2) == 0;
        }
        history.zero_makers = (0..rng.random_range(0..=REMOVERS))
            .map(|_| {
                let (from, to) = range(rng);
                let pending =
                    (rng.random_range(0..3) == 0).then_some(Removal::Truncate { size: from });
                ZeroMaker {
                    actor: rng.random_range(0..state.actors.len()) as u8,
                    inode: rng.random_range(0..state.inodes.len()),
                    from,
                    to,
                    pending,
                    start: rng.random_range(0..STEPS),
                    end: maybe_step(rng),
                }
            })
            .collect();
        for s in history.op_start.iter_mut() {
            *s = maybe_step(rng);
        }
        for actor in &mut state.actors {
            actor.op = rng.random_range(0..actor.program.len());
        }
    }

    /// Seeded maps of writes [`write_mut`] is checked on.
    const WRITE_MAPS: u64 = 2_000;

    /// A write record told apart by `op`.
    fn record(op: usize) -> WriteRecord {
        WriteRecord {
            actor: 0,
            op,
            inode: 0,
            start: None,
            range: None,
            returned: None,
            queued: false,
            completed: None,
            completed_tid: 0,
            done: None,
            sync: false,
            direct: false,
            append: false,
        }
    }

    /// [`write_mut`] (a walk over the entries up to [`WRITES_SCANNED`] writes) finds the
    /// record [`VecMap::get_mut`] finds, for every tag of seeded maps of sizes on both sides
    /// of that limit.
    #[test]
    fn write_mut_finds_what_get_mut_finds() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..WRITE_MAPS {
            let size = rng.random_range(1..=3 * WRITES_SCANNED);
            let mut writes = VecMap::new();
            while writes.len() < size {
                let tag = rng.random_range(0..=u8::MAX);
                writes.insert(tag, record(usize::from(tag)));
            }
            let tags: Vec<u8> = writes.keys().copied().collect();
            for tag in tags {
                let fast = write_mut(&mut writes, tag).op;
                assert_eq!(
                    Some(fast),
                    writes.get_mut(&tag).map(|w| w.op),
                    "{tag} in {size}"
                );
            }
        }
    }

    /// What [`History::forget_order_but`] computes: the constraints of every kept pair,
    /// iterated to their least numbers.
    fn slow_numbers(history: &History, state: &State) -> Vec<Step> {
        let mut moments = Vec::new();
        history.each_moment(&mut |m, s| moments.push((m, s)));
        let constraints = history.read_constraints(state, &moments, None);
        least_numbers(moments.len(), &constraints)
    }

    /// [`History::forgotten_numbers`] (one pass in step order) against [`least_numbers`] on
    /// the constraints [`History::read_constraints`] lists, over seeded histories whose
    /// steps are drawn from a few, so that a start and an end often share a step (the
    /// start-before-end constraint at one step, which the searches' twins never reach).
    #[test]
    fn forgotten_numbers_are_the_least_numbers() {
        let scenario = crate::scenario_file::parse(SCENARIO).expect("valid scenario");
        let initial = scenario.build().expect("builds");
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut same_step_pairs = 0;
        for _ in 0..HISTORIES {
            let mut state = initial.clone();
            let mut history = History::new(&state);
            scramble(&mut rng, &mut state, &mut history);
            let fast = history.forgotten_numbers(&state);
            let slow = slow_numbers(&history, &state);
            assert_eq!(fast.as_slice(), slow.as_slice(), "{history:?}");
            let mut moments = Vec::new();
            history.each_moment(&mut |m, s| moments.push((m, s)));
            let constraints = history.read_constraints(&state, &moments, None);
            same_step_pairs += constraints
                .iter()
                .filter(|&&(from, to, _)| from != to && moments[from].1 == moments[to].1)
                .filter(|&&(from, _, _)| matches!(moments[from].0, Moment::Start(_)))
                .count();
        }
        assert!(
            same_step_pairs > 0,
            "no start and end at one step were compared"
        );
    }
}
