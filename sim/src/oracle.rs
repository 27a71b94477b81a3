//! The oracles: the eleven properties of spec §4.5, each named after its title, checked on
//! every run. They share no logic with the model: they read its state and the results of
//! finished operations, and judge them against what the caller of `write(2)` was promised.
//!
//! Safety properties are checked after every step ([`Observer::after_step`]); the others at
//! quiescence ([`Observer::at_end`]), where a run that cannot finish is a `locks` violation
//! naming every stuck task and what it waits on.

use std::collections::BTreeMap;
use std::fmt;

use model::drive::End;
use model::exec::{Event, Task};
use model::extent::ExtentState;
use model::iocb::errno;
use model::ops::{DioPath, Frame, Op, OpResult, WriteFrame, WritePc};
use model::state::{Data, InodeIx, State};

/// The eleven oracles of spec §4.5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Oracle {
    /// 1. Zeros only where a hole, a truncate or a write of zeros put them.
    NoSpuriousZeros,
    /// 2. A read never returns data no write to this file at that offset produced.
    NoStaleExposure,
    /// 3. After a write completed and quiescence, it reads back and nothing it wrote is
    ///    Unwritten.
    CompletedWritesConverted,
    /// 4. `i_unwritten`, `i_dio_count` consistent and 0 at quiescence; every waiter woken.
    CounterConsistency,
    /// 5. No bio targets a freed block; blocks are freed only with `i_dio_count == 0`.
    BlockFreeingExclusion,
    /// 6. After a DIO write completes, no clean cached page in its range holds other data.
    PageCacheCoherence,
    /// 7. A sync write returning n at p leaves `i_size >= p`; committed DIO extents are
    ///    covered by the on-disk size.
    SizeRules,
    /// 8. An O_SYNC/O_DSYNC write's range survives a crash when it returns.
    Durability,
    /// 9. Nothing at or past the size limit; `-EFBIG` and SIGXFSZ as §2.5 and §2.0 say.
    Limits,
    /// 10. The direct/buffered choice and `iocb->private` agree across the layers.
    SingleDioDecision,
    /// 11. Mutual exclusion, lock order, locks released, no deadlock, no endless wait.
    Locks,
}

impl Oracle {
    /// Every oracle, in spec order.
    pub const ALL: [Oracle; 11] = [
        Oracle::NoSpuriousZeros,
        Oracle::NoStaleExposure,
        Oracle::CompletedWritesConverted,
        Oracle::CounterConsistency,
        Oracle::BlockFreeingExclusion,
        Oracle::PageCacheCoherence,
        Oracle::SizeRules,
        Oracle::Durability,
        Oracle::Limits,
        Oracle::SingleDioDecision,
        Oracle::Locks,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Oracle::NoSpuriousZeros => "no-spurious-zeros",
            Oracle::NoStaleExposure => "no-stale-exposure",
            Oracle::CompletedWritesConverted => "completed-writes-converted",
            Oracle::CounterConsistency => "counter-consistency",
            Oracle::BlockFreeingExclusion => "block-freeing-exclusion",
            Oracle::PageCacheCoherence => "page-cache-coherence",
            Oracle::SizeRules => "size-rules",
            Oracle::Durability => "durability",
            Oracle::Limits => "limits",
            Oracle::SingleDioDecision => "single-dio-decision",
            Oracle::Locks => "locks",
        }
    }

    /// The oracle of a kebab-case name.
    pub fn from_name(name: &str) -> Option<Oracle> {
        Oracle::ALL.into_iter().find(|o| o.name() == name)
    }
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken oracle: which, what was seen, and who was involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The oracle.
    pub oracle: Oracle,
    /// What was seen, in ext4 terms.
    pub message: String,
    /// The actors involved.
    pub actors: Vec<u8>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actors: Vec<String> = self.actors.iter().map(|a| format!("a{a}")).collect();
        write!(
            f,
            "{}: {} (actors {})",
            self.oracle,
            self.message,
            actors.join(" ")
        )
    }
}

fn violation(oracle: Oracle, actors: Vec<u8>, message: String) -> Result<(), Violation> {
    Err(Violation {
        oracle,
        message,
        actors,
    })
}

/// What the observer knows about one write.
#[derive(Clone, Debug)]
struct WriteRecord {
    actor: u8,
    op: usize,
    inode: InodeIx,
    start: usize,
    /// `[ki_pos, ki_pos + count)` after `generic_write_checks`.
    range: Option<(u64, u64)>,
    end: Option<usize>,
    /// Bytes written and where, once it completed successfully.
    done: Option<(u64, u64)>,
    sync: bool,
    direct: bool,
}

/// An operation that may zero data: truncate, punch, crash; `[from, to)` of an inode (all
/// inodes for a crash).
#[derive(Clone, Debug)]
struct ZeroMaker {
    /// The actor running it (`u8::MAX` for a crash).
    actor: u8,
    inode: Option<InodeIx>,
    from: u64,
    to: u64,
    start: usize,
    end: Option<usize>,
}

/// Watches one run and checks the oracles.
#[derive(Clone, Debug)]
pub struct Observer {
    step: usize,
    writes: BTreeMap<u8, WriteRecord>,
    zero_makers: Vec<ZeroMaker>,
    op_start: Vec<Option<usize>>,
    results_seen: Vec<usize>,
}

impl Observer {
    /// An observer for a run starting at `initial`.
    pub fn new(initial: &State) -> Observer {
        let mut writes = BTreeMap::new();
        for (a, actor) in initial.actors.iter().enumerate() {
            for (op, what) in actor.program.iter().enumerate() {
                if let Op::Write(w) = what {
                    let sync = w.file.o_sync || w.file.o_dsync || initial.is_sync(w.inode);
                    let record = WriteRecord {
                        actor: a as u8,
                        op,
                        inode: w.inode,
                        start: usize::MAX,
                        range: None,
                        end: None,
                        done: None,
                        sync,
                        direct: w.file.o_direct,
                    };
                    writes.insert(w.tag, record);
                }
            }
        }
        let actors = initial.actors.len();
        Observer {
            step: 0,
            writes,
            zero_makers: Vec::new(),
            op_start: vec![None; actors],
            results_seen: vec![0; actors],
        }
    }

    /// The history the oracles still use, with step numbers replaced by their ranks: two
    /// paths to one state with the same order of events look alike (for the visited set of
    /// the breadth-first search).
    pub fn summary(&self) -> Vec<(u64, u64, u64, u64)> {
        let mut steps: Vec<usize> = self
            .writes
            .values()
            .flat_map(|w| [w.start, w.end.unwrap_or(usize::MAX)])
            .collect();
        steps.extend(
            self.zero_makers
                .iter()
                .flat_map(|m| [m.start, m.end.unwrap_or(usize::MAX)]),
        );
        steps.extend(self.op_start.iter().map(|s| s.unwrap_or(usize::MAX)));
        steps.sort_unstable();
        steps.dedup();
        let rank = |s: usize| steps.binary_search(&s).expect("collected") as u64;
        let mut out: Vec<(u64, u64, u64, u64)> = Vec::new();
        for (&tag, w) in &self.writes {
            let (from, to) = w.done.unwrap_or((u64::MAX, 0));
            out.push((
                u64::from(tag),
                rank(w.start),
                rank(w.end.unwrap_or(usize::MAX)),
                from ^ (to << 32),
            ));
        }
        for m in &self.zero_makers {
            out.push((
                u64::MAX,
                rank(m.start),
                rank(m.end.unwrap_or(usize::MAX)),
                m.from,
            ));
        }
        out.extend(
            self.op_start
                .iter()
                .map(|s| (u64::MAX - 1, rank(s.unwrap_or(usize::MAX)), 0, 0)),
        );
        out
    }

    /// Checks the safety oracles after `event` was applied.
    pub fn after_step(&mut self, state: &State, event: &Event) -> Result<(), Violation> {
        self.step += 1;
        if event.step == "FreeBlocks" {
            check_free_blocks(state, event.task)?;
        }
        self.track_starts(state);
        self.track_write_ranges(state)?;
        self.track_completions(state)?;
        check_bios_target_live_blocks(state)?;
        check_limits(state)?;
        check_frames(state)?;
        Ok(())
    }

    /// Checks the quiescence oracles when a run ended.
    pub fn at_end(&self, state: &State, end: &End) -> Result<(), Violation> {
        match end {
            End::Stuck(waits) => {
                let who: Vec<String> = waits
                    .iter()
                    .map(|(t, w)| format!("{t} waits on {w}"))
                    .collect();
                let actors = waits.iter().filter_map(|(t, _)| actor_of(*t)).collect();
                return violation(
                    Oracle::Locks,
                    actors,
                    format!("no task can run: {}", who.join(", ")),
                );
            }
            End::StepLimit => {
                return violation(
                    Oracle::Locks,
                    Vec::new(),
                    "step bound reached: a task waits forever".into(),
                );
            }
            End::Done | End::Paused => {}
        }
        if *end == End::Done {
            check_counters_at_rest(state)?;
            self.check_completed_writes(state)?;
        }
        check_visible_contents(state, self)
    }

    /// Records when each actor's current operation started; truncates, punches and crashes
    /// become zero-makers.
    fn track_starts(&mut self, state: &State) {
        for (a, actor) in state.actors.iter().enumerate() {
            let running = !matches!(actor.frame, Frame::Idle);
            if running && self.op_start[a].is_none() {
                self.op_start[a] = Some(self.step);
                self.op_started(state, a, actor.op);
            }
        }
    }

    fn op_started(&mut self, state: &State, a: usize, op: usize) {
        let maker = |inode, from, to| ZeroMaker {
            actor: a as u8,
            inode: Some(inode),
            from,
            to,
            start: self.step,
            end: None,
        };
        match &state.actors[a].program[op] {
            Op::Write(w) => self.writes.get_mut(&w.tag).expect("write known").start = self.step,
            Op::Truncate { inode, size } => self.zero_makers.push(maker(*inode, *size, u64::MAX)),
            Op::PunchHole { inode, pos, len } => {
                self.zero_makers.push(maker(*inode, *pos, pos + len))
            }
            _ => {}
        }
    }

    /// After `generic_write_checks` a write's range is known; checks `-EFBIG` and SIGXFSZ
    /// against an independent reading of spec §2.5 and §2.0 step 4.
    fn track_write_ranges(&mut self, state: &State) -> Result<(), Violation> {
        for (a, actor) in state.actors.iter().enumerate() {
            let Frame::Write(f) = &actor.frame else {
                continue;
            };
            let Op::Write(w) = &actor.program[actor.op] else {
                continue;
            };
            let record = self.writes.get_mut(&w.tag).expect("write known");
            if record.range.is_none() && f.pc != WritePc::Gate && past_checks(f) {
                record.range = Some((f.iocb.ki_pos, f.iocb.ki_pos + f.iter.count()));
                check_write_limits(state, a as u8, w, f)?;
            }
        }
        Ok(())
    }

    /// Operations that finished in this step, and AIO events that arrived.
    fn track_completions(&mut self, state: &State) -> Result<(), Violation> {
        for (a, actor) in state.actors.iter().enumerate() {
            while self.results_seen[a] < actor.results.len() {
                let op = self.results_seen[a];
                self.results_seen[a] += 1;
                self.op_start[a] = None;
                self.op_finished(state, a, op)?;
            }
        }
        self.track_aio_events(state)
    }

    /// An AIO event of a queued write arrives (`ki_complete`): its data is promised from now
    /// on, whether the submitter has returned yet or not.
    fn track_aio_events(&mut self, state: &State) -> Result<(), Violation> {
        let pending: Vec<u8> = self
            .writes
            .iter()
            .filter(|(_, w)| w.done.is_none() && w.start != usize::MAX)
            .map(|(t, _)| *t)
            .collect();
        for tag in pending {
            let w = &self.writes[&tag];
            let actor = &state.actors[w.actor as usize];
            let arrived = match (&actor.frame, actor.results.get(w.op)) {
                (
                    _,
                    Some(OpResult::Write {
                        ret,
                        event: Some(e),
                        ki_pos,
                        ..
                    }),
                ) if *ret == errno::EIOCBQUEUED => Some((*ki_pos, *e)),
                (Frame::Write(f), None) if actor.op == w.op => f.event.map(|e| (f.iocb.ki_pos, e)),
                _ => None,
            };
            if let Some((ki_pos, event)) = arrived.filter(|&(_, e)| e > 0) {
                self.write_completed(state, tag, (ki_pos, ki_pos + event as u64))?;
            }
        }
        Ok(())
    }

    fn op_finished(&mut self, state: &State, a: usize, op: usize) -> Result<(), Violation> {
        check_locks_released(state, a as u8)?;
        let result = &state.actors[a].results[op];
        if let OpResult::Read(data) = result {
            let Op::Read { inode, pos, .. } = state.actors[a].program[op] else {
                unreachable!()
            };
            return self.check_read(state, a as u8, inode, pos, data);
        }
        let step = self.step;
        for maker in self
            .zero_makers
            .iter_mut()
            .filter(|m| m.end.is_none() && m.actor == a as u8)
        {
            maker.end = Some(step);
        }
        if matches!(state.actors[a].program[op], Op::Crash) {
            self.zero_makers.push(ZeroMaker {
                actor: u8::MAX,
                inode: None,
                from: 0,
                to: u64::MAX,
                start: 0,
                end: Some(self.step),
            });
        }
        let Op::Write(w) = &state.actors[a].program[op] else {
            return Ok(());
        };
        let OpResult::Write {
            ret,
            sigxfsz,
            ki_pos,
            ..
        } = *result
        else {
            return Ok(());
        };
        if sigxfsz && ret != errno::EFBIG {
            return violation(
                Oracle::Limits,
                vec![a as u8],
                format!("SIGXFSZ with ret={ret}, not -EFBIG"),
            );
        }
        self.writes.get_mut(&w.tag).expect("write known").end = Some(self.step);
        if ret > 0 {
            self.write_completed(state, w.tag, (ki_pos - ret as u64, ki_pos))?;
            let truncated = self.zeroed_since(w.inode, ki_pos - 1, self.writes[&w.tag].start);
            if state.inodes[w.inode].i_size < ki_pos && !truncated {
                let size = state.inodes[w.inode].i_size;
                return violation(
                    Oracle::SizeRules,
                    vec![a as u8],
                    format!("write returned {ret} at {ki_pos} but i_size={size}"),
                );
            }
        }
        Ok(())
    }

    /// A write's data is promised: `[from, to)` holds it (durability for sync writes, page
    /// cache coherence for direct ones).
    fn write_completed(
        &mut self,
        state: &State,
        tag: u8,
        range: (u64, u64),
    ) -> Result<(), Violation> {
        let record = self.writes.get_mut(&tag).expect("write known");
        record.done = Some(range);
        let record = record.clone();
        if record.direct {
            check_page_cache_coherence(state, &record, range)?;
        }
        if record.sync {
            check_durable(state, self, tag, &record, range)?;
        }
        Ok(())
    }

    fn check_read(
        &self,
        state: &State,
        a: u8,
        inode: InodeIx,
        pos: u64,
        data: &[Data],
    ) -> Result<(), Violation> {
        let sector = state.geometry.sectorsize();
        for (k, value) in data.iter().enumerate() {
            let offset = (pos & !(sector - 1)) + k as u64 * sector;
            if let Some(why) = self.foreign(state, inode, offset, *value) {
                let actors = self.actors_of(*value, a);
                return violation(
                    Oracle::NoStaleExposure,
                    actors,
                    format!("read of inode {inode} at {offset} returned {why}"),
                );
            }
        }
        Ok(())
    }

    /// Why `value` cannot be the content of `offset` of `inode`, if it cannot.
    fn foreign(&self, state: &State, inode: InodeIx, offset: u64, value: Data) -> Option<String> {
        let lblk = offset >> state.geometry.blkbits;
        match value {
            Data::Zero => None,
            Data::Stale(p) => Some(format!("stale disk contents of block p{p}")),
            Data::Initial { inode: i, lblk: l } if i as usize == inode && u64::from(l) == lblk => {
                None
            }
            Data::Initial { inode: i, lblk: l } => {
                Some(format!("initial data of inode {i} block {l}"))
            }
            Data::Write(t) => {
                let w = &self.writes[&t];
                let covered = w
                    .range
                    .is_some_and(|(from, to)| from <= offset && offset < to);
                (w.inode != inode || !covered)
                    .then(|| format!("data of write {t} (a{}) from elsewhere", w.actor))
            }
        }
    }

    fn actors_of(&self, value: Data, reader: u8) -> Vec<u8> {
        match value {
            Data::Write(t) => vec![reader, self.writes[&t].actor],
            _ => vec![reader],
        }
    }

    /// Completed writes: nothing they wrote is left Unwritten, and a write that strictly
    /// followed every other write and zeroing of a sector is what the sector holds.
    fn check_completed_writes(&self, state: &State) -> Result<(), Violation> {
        let g = state.geometry;
        for (&tag, w) in &self.writes {
            let Some((from, to)) = w.done else { continue };
            if self.crashed_since(w.start) {
                continue; // a crash after it started: only durability still holds for it
            }
            let ino = &state.inodes[w.inode];
            for lblk in (from >> g.blkbits)..to.div_ceil(g.blocksize()) {
                // A cached page serves reads: its data is not lost by an unwritten block yet.
                let cached = ino.pages.contains_key(&(lblk << g.blkbits >> g.page_bits));
                let unwritten = ino
                    .map
                    .pblk(lblk)
                    .is_some_and(|(_, s)| s == ExtentState::Unwritten);
                if unwritten && !cached {
                    let msg = format!(
                        "write {tag} completed but block {lblk} of inode {} is still unwritten",
                        w.inode
                    );
                    return violation(Oracle::CompletedWritesConverted, vec![w.actor], msg);
                }
            }
            for offset in (from..to.min(ino.i_size)).step_by(g.sectorsize() as usize) {
                self.check_last_writer(state, tag, w, offset)?;
            }
        }
        Ok(())
    }

    fn check_last_writer(
        &self,
        state: &State,
        tag: u8,
        w: &WriteRecord,
        offset: u64,
    ) -> Result<(), Violation> {
        let covers = |o: &WriteRecord| {
            o.inode == w.inode && o.range.is_some_and(|(f, t)| f <= offset && offset < t)
        };
        let others_before = self
            .writes
            .iter()
            .filter(|(t, o)| **t != tag && covers(o) && o.start != usize::MAX);
        let strictly_last = others_before
            .clone()
            .all(|(_, o)| o.end.is_some_and(|e| e < w.start))
            && !self.zeroed_since(w.inode, offset, w.start);
        if !strictly_last {
            return Ok(());
        }
        let seen = visible(state, w.inode, offset);
        if seen != Data::Write(tag) {
            let oracle = if seen == Data::Zero {
                Oracle::NoSpuriousZeros
            } else {
                Oracle::CompletedWritesConverted
            };
            let msg = format!(
                "write {tag} completed last at offset {offset} of inode {} but it reads {seen:?}",
                w.inode
            );
            return violation(oracle, vec![w.actor], msg);
        }
        Ok(())
    }

    /// A crash happened at or after step `since`.
    fn crashed_since(&self, since: usize) -> bool {
        self.zero_makers
            .iter()
            .any(|m| m.inode.is_none() && m.end.is_some_and(|e| e >= since))
    }

    /// A zero-maker covering `offset` of `inode` was still running at or after `since`.
    fn zeroed_since(&self, inode: InodeIx, offset: u64, since: usize) -> bool {
        self.zero_makers.iter().any(|m| {
            m.inode.is_none_or(|i| i == inode)
                && m.from <= offset
                && offset < m.to
                && m.end.is_none_or(|e| e >= since)
        })
    }
}

fn actor_of(task: Task) -> Option<u8> {
    match task {
        Task::Actor(a) => Some(a),
        _ => None,
    }
}

/// A writer frame is past `generic_write_checks` with data to write.
fn past_checks(f: &WriteFrame) -> bool {
    !matches!(
        f.pc,
        WritePc::Gate
            | WritePc::AioMutexLock
            | WritePc::UnwrittenWait
            | WritePc::IMutexLock
            | WritePc::WriteChecks
    ) && f.ret > 0
}

/// What a read of `offset` would return now: the page cache, else the disk through the
/// extent tree (Unwritten and holes read as zeros).
pub fn visible(state: &State, inode: InodeIx, offset: u64) -> Data {
    let g = state.geometry;
    let ino = &state.inodes[inode];
    if let Some(page) = ino.pages.get(&(offset >> g.page_bits)) {
        return page.data[((offset & (g.pagesize() - 1)) >> g.sector_bits) as usize];
    }
    match ino.map.pblk(offset >> g.blkbits) {
        Some((pblk, ExtentState::Written)) => {
            let sector = u64::from(pblk) * g.sectors_per_block()
                + ((offset & (g.blocksize() - 1)) >> g.sector_bits);
            state.disk.sectors[sector as usize]
        }
        _ => Data::Zero,
    }
}

fn check_free_blocks(state: &State, task: Task) -> Result<(), Violation> {
    let Task::Actor(a) = task else { return Ok(()) };
    let actor = &state.actors[a as usize];
    let index = actor.results.len().min(actor.program.len() - 1);
    let inode = match actor.program[index] {
        Op::Truncate { inode, .. } | Op::PunchHole { inode, .. } => inode,
        _ => return Ok(()),
    };
    let count = state.inodes[inode].i_dio_count;
    if count != 0 {
        return violation(
            Oracle::BlockFreeingExclusion,
            vec![a],
            format!("blocks of inode {inode} freed with i_dio_count={count}"),
        );
    }
    Ok(())
}

fn check_bios_target_live_blocks(state: &State) -> Result<(), Violation> {
    let spb = state.geometry.sectors_per_block();
    for (id, bio) in &state.bios {
        let pblk = (u64::from(bio.psector) / spb) as u32;
        let owned = state.inodes[bio.inode]
            .map
            .extents
            .iter()
            .any(|e| e.pblk <= pblk && u64::from(pblk) < u64::from(e.pblk) + e.len);
        if !owned {
            let free = if state.disk.free[pblk as usize] {
                "free"
            } else {
                "owned by someone else"
            };
            return violation(
                Oracle::BlockFreeingExclusion,
                Vec::new(),
                format!(
                    "bio b{id} of inode {} targets block p{pblk}, now {free}",
                    bio.inode
                ),
            );
        }
    }
    Ok(())
}

/// The size limit of an inode (`s_maxbytes`, or `s_bitmap_maxbytes` for bitmap files).
fn size_limit(state: &State, inode: InodeIx) -> u64 {
    let g = state.geometry;
    if state.inodes[inode].extents {
        g.s_maxbytes()
    } else {
        g.s_bitmap_maxbytes().max(0) as u64
    }
}

fn check_limits(state: &State) -> Result<(), Violation> {
    for (i, ino) in state.inodes.iter().enumerate() {
        let limit = size_limit(state, i);
        let beyond = ino.map.extents.iter().find(|e| {
            e.end() << state.geometry.blkbits > limit.next_multiple_of(state.geometry.blocksize())
        });
        if ino.i_size > limit || beyond.is_some() {
            return violation(
                Oracle::Limits,
                Vec::new(),
                format!("inode {i} has data at or past its limit {limit}"),
            );
        }
    }
    Ok(())
}

/// `generic_write_checks` and the bitmap limit, read again from spec §2.5 and §2.0 step 4.
fn check_write_limits(
    state: &State,
    a: u8,
    w: &model::ops::WriteOp,
    f: &WriteFrame,
) -> Result<(), Violation> {
    let pos = f.iocb.ki_pos;
    let end = pos + f.iter.count();
    let limit = size_limit(state, w.inode);
    let lfs = if w.file.o_largefile {
        u64::MAX
    } else {
        model::limits::MAX_NON_LFS
    };
    if end > w.rlimit_fsize || end > lfs || end > limit {
        let msg = format!(
            "write at {pos} of {} bytes passes a limit (rlimit {}, limit {limit})",
            f.iter.count(),
            w.rlimit_fsize
        );
        return violation(Oracle::Limits, vec![a], msg);
    }
    Ok(())
}

/// Mutual exclusion and lock order across the layers, checked on every step.
fn check_frames(state: &State) -> Result<(), Violation> {
    for (a, actor) in state.actors.iter().enumerate() {
        let Frame::Write(f) = &actor.frame else {
            continue;
        };
        check_dio_decision(a as u8, f, state)?;
        let holds = state.inodes[f.inode].i_mutex == Some(a as u8);
        if holds != f.i_mutex_held {
            return violation(
                Oracle::Locks,
                vec![a as u8],
                format!("i_mutex owner disagrees with a{a}'s frame at {:?}", f.pc),
            );
        }
        if let Some(bucket) = f.aio_mutex
            && !matches!(f.pc, WritePc::Gate | WritePc::AioMutexLock)
            && state.aio_mutex.get(&bucket) != Some(&(a as u8))
        {
            return violation(
                Oracle::Locks,
                vec![a as u8],
                format!("a{a} runs as aio_mutex[{bucket}] owner without owning it"),
            );
        }
        let waiting_aio = f.pc == WritePc::AioMutexLock;
        if waiting_aio && f.i_mutex_held {
            return violation(
                Oracle::Locks,
                vec![a as u8],
                "aio_mutex taken under i_mutex: lock order".into(),
            );
        }
    }
    Ok(())
}

/// Single DIO decision: the layers agree on direct or buffered and on `iocb->private`.
fn check_dio_decision(a: u8, f: &WriteFrame, state: &State) -> Result<(), Violation> {
    let direct_step = f.path.is_some() || f.dio.is_some();
    let overwrite_path = f.path == Some(DioPath::ExtOverwrite);
    let bad = (direct_step && !f.iocb.ki_flags.direct)
        || (overwrite_path != f.overwrite && f.path.is_some() && f.path != Some(DioPath::Ind))
        || (f.overwrite && (f.aio_mutex.is_some() || !state.should_dioread_nolock(f.inode)))
        || (f.io_end.is_some() && f.iocb.is_sync_kiocb());
    if bad {
        let msg = format!(
            "a{a} at {:?}: direct={} path={:?} overwrite={} io_end={:?}",
            f.pc, f.iocb.ki_flags.direct, f.path, f.overwrite, f.io_end
        );
        return violation(Oracle::SingleDioDecision, vec![a], msg);
    }
    Ok(())
}

fn check_locks_released(state: &State, a: u8) -> Result<(), Violation> {
    let held_inode = state.inodes.iter().position(|i| i.i_mutex == Some(a));
    let held_aio = state.aio_mutex.iter().find(|(_, owner)| **owner == a);
    if held_inode.is_some() || held_aio.is_some() {
        return violation(
            Oracle::Locks,
            vec![a],
            format!("a{a} finished an operation still holding a lock"),
        );
    }
    Ok(())
}

fn check_counters_at_rest(state: &State) -> Result<(), Violation> {
    for (i, ino) in state.inodes.iter().enumerate() {
        let counts = (ino.i_unwritten, ino.i_dio_count, ino.i_ioend_count);
        if counts != (0, 0, 0) || ino.i_data_sem.readers > 0 || ino.i_data_sem.writer {
            let msg = format!(
                "inode {i} at rest with i_unwritten={} i_dio_count={} i_ioend_count={}",
                counts.0, counts.1, counts.2
            );
            return violation(Oracle::CounterConsistency, Vec::new(), msg);
        }
    }
    if let Some(a) = state.actors.iter().position(|a| a.sleeping.is_some()) {
        return violation(
            Oracle::CounterConsistency,
            vec![a as u8],
            format!("a{a} never woken"),
        );
    }
    Ok(())
}

/// Every sector below `i_size` reads data of this file at this offset (no stale exposure).
fn check_visible_contents(state: &State, observer: &Observer) -> Result<(), Violation> {
    let g = state.geometry;
    for (i, ino) in state.inodes.iter().enumerate() {
        for offset in (0..ino.i_size.min(64 << g.blkbits)).step_by(g.sectorsize() as usize) {
            let seen = visible(state, i, offset);
            if let Some(why) = observer.foreign(state, i, offset, seen) {
                let actors = observer
                    .actors_of(seen, u8::MAX)
                    .into_iter()
                    .filter(|&a| a != u8::MAX)
                    .collect();
                return violation(
                    Oracle::NoStaleExposure,
                    actors,
                    format!("inode {i} at {offset} reads {why}"),
                );
            }
        }
    }
    Ok(())
}

/// After a direct write completed, clean cached pages of its range hold what the disk holds.
fn check_page_cache_coherence(
    state: &State,
    w: &WriteRecord,
    (from, to): (u64, u64),
) -> Result<(), Violation> {
    let g = state.geometry;
    let ino = &state.inodes[w.inode];
    for offset in (from..to).step_by(g.sectorsize() as usize) {
        let Some(page) = ino.pages.get(&(offset >> g.page_bits)) else {
            continue;
        };
        if page.dirty != 0 || page.writeback > 0 {
            continue;
        }
        let cached = page.data[((offset & (g.pagesize() - 1)) >> g.sector_bits) as usize];
        let on_disk = match ino.map.pblk(offset >> g.blkbits) {
            Some((pblk, ExtentState::Written)) => {
                state.disk.sectors[state.psector(pblk, offset) as usize]
            }
            _ => Data::Zero,
        };
        if cached != on_disk {
            let msg = format!(
                "after direct write {} completed, a clean page caches {cached:?} at {offset}, disk has {on_disk:?}",
                w.op
            );
            return violation(Oracle::PageCacheCoherence, vec![w.actor], msg);
        }
    }
    Ok(())
}

/// A sync write's range as a crash now would leave it: committed extents, committed size.
fn check_durable(
    state: &State,
    observer: &Observer,
    tag: u8,
    w: &WriteRecord,
    (from, to): (u64, u64),
) -> Result<(), Violation> {
    let g = state.geometry;
    let committed = &state.inodes[w.inode].committed;
    for offset in (from..to).step_by(g.sectorsize() as usize) {
        let survives = match committed.map.pblk(offset >> g.blkbits) {
            Some((pblk, ExtentState::Written)) if offset < committed.i_disksize => {
                state.disk.sectors[state.psector(pblk, offset) as usize]
            }
            _ => Data::Zero,
        };
        // A write that had not finished when this one started may land on top of it.
        let concurrent = |t: u8| {
            let o = &observer.writes[&t];
            o.start != usize::MAX && o.end.is_none_or(|e| e >= w.start)
        };
        let ok = survives == Data::Write(tag)
            || matches!(survives, Data::Write(t) if concurrent(t))
            || observer.zeroed_since(w.inode, offset, w.start);
        if !ok {
            let msg = format!(
                "sync write {tag} returned, but a crash now leaves {survives:?} at {offset} (committed i_disksize {})",
                committed.i_disksize
            );
            return violation(Oracle::Durability, vec![w.actor], msg);
        }
    }
    Ok(())
}
