//! Protocol coverage: which program points of each actor kind a hunt reached, and in which
//! lock, wait and extent context.
//!
//! A **program point** is a variant of one of the model's program counters
//! (`model::ops::WritePc::ALL` and its siblings), named by the kernel function it mirrors
//! ([`crate::signature::function_of`]). The actor kinds are the writer
//! (`ext4_file_write_iter`), the other operations (truncate, punch, reads, stat, fsync,
//! writeback, commit, crash), the block layer (`bio_endio`, with or without `-EIO`),
//! `dio_complete` on `s_dio_done_wq`, `ext4_end_io_rsv_work` on `rsv_conversion_wq` and
//! kjournald2's `jbd2_journal_commit_transaction`.
//!
//! A **protocol point** is a step seen in its context, read off the state just before the
//! step runs: the program point; who holds the inode's `i_mutex` and its hashed
//! `aio_mutex` (nobody, the stepping actor, another task) and how `i_data_sem` is held
//! (free, read, write); what the blocked tasks wait on (the set of [`model::exec::Wait`]
//! kinds: a mutex, `i_data_sem`, a dio's bios, page writeback, a commit, `T_LOCKED`,
//! `t_updates`, `ioend_wq`, `inode_dio_wait`, the serial workqueue, a plug); and the extent
//! state of the block the stepping operation is at (hole, delayed, unwritten, written; none
//! for the block layer and the workqueues). Two steps at one program point count once
//! when they see the same locks, the same waits and the same block state.
//!
//! Coverage is collected by a probe that sees every step before it runs
//! ([`crate::engine::Probe`]), so it never changes what a search does. A breadth-first search
//! that exhausts a scenario probes every runnable task of every reachable state: its
//! points are the scenario's reachable total ([`reachable`]), which any exploration of the
//! same scenario can only reach a part of.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use model::exec::{Pc, Task, Wait};
use model::fs::ext4::extents::ExtentState;
use model::ops::{CommitPc, CompletePc, Frame, Op, OtherPc, WritePc};
use model::state::{InodeIx, Sleep, State, Work};

use crate::engine::{self, Stepper};
pub use crate::signature::step_name;

/// States a breadth-first search may visit to compute a scenario's reachable total.
pub const REACHABLE_STATES: u64 = 200_000;

/// An oracle name no violation has: a breadth-first search for it ends every violating path
/// where it breaks and explores everything else.
const NO_ORACLE: &str = "(coverage: no oracle)";

/// The kinds of actor whose program points coverage lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ActorKind {
    /// A writer in `ext4_file_write_iter` ([`WritePc`]).
    Writer,
    /// Truncate, punch, reads, stat, fsync, writeback, commit, crash ([`OtherPc`]).
    Other,
    /// The block layer completing a bio.
    Bio,
    /// `dio_complete` of an AIO on `s_dio_done_wq` ([`CompletePc`]).
    DioComplete,
    /// `ext4_end_io_rsv_work` on `rsv_conversion_wq`.
    EndIo,
    /// kjournald2's commit ([`CommitPc`]).
    Commit,
}

impl ActorKind {
    /// Every kind, in report order.
    pub const ALL: [ActorKind; 6] = [
        ActorKind::Writer,
        ActorKind::Other,
        ActorKind::Bio,
        ActorKind::DioComplete,
        ActorKind::EndIo,
        ActorKind::Commit,
    ];

    /// The kind in kernel terms, as the report heads it.
    pub fn title(self) -> &'static str {
        match self {
            ActorKind::Writer => "writer (ext4_file_write_iter)",
            ActorKind::Other => {
                "other operations (truncate, punch, read, stat, fsync, writeback, commit, crash)"
            }
            ActorKind::Bio => "block layer (bio_endio)",
            ActorKind::DioComplete => "dio_complete on s_dio_done_wq",
            ActorKind::EndIo => "ext4_end_io_rsv_work on rsv_conversion_wq",
            ActorKind::Commit => "kjournald2 (jbd2_journal_commit_transaction)",
        }
    }

    /// A short name (JSON, HTML anchors).
    pub fn name(self) -> &'static str {
        match self {
            ActorKind::Writer => "writer",
            ActorKind::Other => "other",
            ActorKind::Bio => "bio",
            ActorKind::DioComplete => "dio_complete",
            ActorKind::EndIo => "end_io",
            ActorKind::Commit => "commit",
        }
    }
}

/// Every program point a step can run at: the model's program counters without `Done`
/// (an operation that returned takes no step there), in a fixed order.
pub fn program_points() -> Vec<Pc> {
    let writer = WritePc::ALL.into_iter().filter(|&p| p != WritePc::Done);
    let other = OtherPc::ALL.into_iter().filter(|&p| p != OtherPc::Done);
    writer
        .map(Pc::Write)
        .chain(other.map(Pc::Other))
        .chain([false, true].map(|failed| Pc::BioEnd { failed }))
        .chain(CompletePc::ALL.map(Pc::DioComplete))
        .chain([Pc::EndIo])
        .chain(CommitPc::ALL.map(Pc::Commit))
        .collect()
}

/// The actor kind of a program point.
pub fn kind_of(pc: Pc) -> ActorKind {
    match pc {
        Pc::Write(_) => ActorKind::Writer,
        Pc::Other(_) => ActorKind::Other,
        Pc::BioEnd { .. } => ActorKind::Bio,
        Pc::DioComplete(_) => ActorKind::DioComplete,
        Pc::EndIo => ActorKind::EndIo,
        Pc::Commit(_) => ActorKind::Commit,
    }
}

/// A program point's index in [`program_points`]: a small dense number.
fn index_of(pc: Pc) -> u8 {
    const WRITE: usize = WritePc::ALL.len() - 1;
    const OTHER: usize = WRITE + OtherPc::ALL.len() - 1;
    const BIO: usize = OTHER + 2;
    const COMPLETE: usize = BIO + CompletePc::ALL.len();
    let index = match pc {
        Pc::Write(p) => p as usize,
        Pc::Other(p) => WRITE + p as usize,
        Pc::BioEnd { failed } => OTHER + usize::from(failed),
        Pc::DioComplete(p) => BIO + p as usize,
        Pc::EndIo => COMPLETE,
        Pc::Commit(p) => COMPLETE + 1 + p as usize,
    };
    index as u8
}

/// Who holds a lock when a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holder {
    /// Nobody.
    Free,
    /// The stepping actor.
    Mine,
    /// Another task.
    Other,
}

/// The extent state of the block a step is at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BlockState {
    /// The step is at no block of a file (block layer, workqueues, commit, crash).
    None,
    /// A hole.
    Hole,
    /// A delayed (delalloc) block.
    Delayed,
    /// An unwritten extent.
    Unwritten,
    /// A written extent.
    Written,
}

/// One protocol point: a program point in its lock, wait and block context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Point {
    /// The program point ([`program_points`] index).
    pub pc: u8,
    /// `i_mutex` of the inode the step is at.
    pub i_mutex: Holder,
    /// That inode's hashed `aio_mutex`.
    pub aio_mutex: Holder,
    /// `i_data_sem`: 0 free, 1 held for read, 2 for write.
    pub i_data_sem: u8,
    /// What the blocked tasks wait on, one bit per [`Wait`] kind ([`WAIT_NAMES`]).
    pub waits: u16,
    /// The block the step is at.
    pub block: BlockState,
}

/// The [`Wait`] kinds in bit order of [`Point::waits`].
pub const WAIT_NAMES: [&str; 13] = [
    "aio_mutex",
    "i_mutex",
    "i_data_sem",
    "dio bios",
    "page writeback",
    "jbd2_log_wait_commit",
    "T_LOCKED",
    "t_updates",
    "ioend_wq",
    "inode_dio_wait",
    "rsv_conversion_wq",
    "plug",
    "invalidate_lock",
];

fn wait_bit(wait: Wait) -> u16 {
    let bit = match wait {
        Wait::AioMutex { .. } => 0,
        Wait::IMutex { .. } => 1,
        Wait::DataSem { .. } => 2,
        Wait::DioBios { .. } => 3,
        Wait::Writeback { .. } => 4,
        Wait::Commit => 5,
        Wait::JournalLocked => 6,
        Wait::Handles => 7,
        Wait::Asleep(Sleep::IoendWq(_)) => 8,
        Wait::Asleep(Sleep::DioWait(_)) => 9,
        Wait::WorkQueue { .. } => 10,
        Wait::Plugged { .. } => 11,
        Wait::InvalidateLock { .. } => 12,
        Wait::Finished => return 0,
    };
    1 << bit
}

/// The inode an operation works on.
fn op_inode(op: &Op) -> InodeIx {
    match op {
        Op::Write(w) => w.inode,
        Op::Read { inode, .. }
        | Op::Stat { inode }
        | Op::Truncate { inode, .. }
        | Op::PunchHole { inode, .. }
        | Op::Fsync { inode, .. }
        | Op::Writeback { inode } => *inode,
        Op::Commit | Op::Crash => 0,
    }
}

/// The byte an operation is at before its first step, if it works at one.
fn op_byte(op: &Op) -> Option<u64> {
    match op {
        Op::Write(w) => Some(w.pos),
        Op::Read { pos, .. } | Op::PunchHole { pos, .. } => Some(*pos),
        Op::Truncate { size, .. } => Some(*size),
        _ => None,
    }
}

/// The program point `task` steps at in `state`, the inode it works on and the byte it is at.
fn locate(state: &State, task: Task) -> (Pc, InodeIx, Option<u64>) {
    match task {
        Task::Actor(a) => {
            let actor = &state.actors[a as usize];
            let op = &actor.program[actor.op];
            match &actor.frame {
                Frame::Write(f) => {
                    let byte = if f.dio.is_some() {
                        f.dio_next
                    } else if f.pc == WritePc::PerformWrite {
                        f.buffered_pos + f.status
                    } else {
                        f.iocb.ki_pos
                    };
                    (Pc::Write(f.pc), f.inode, Some(byte))
                }
                Frame::Other(f) => {
                    let byte = match op {
                        Op::Read { .. } => Some(f.pos),
                        op => op_byte(op),
                    };
                    (Pc::Other(f.pc), op_inode(op), byte)
                }
                Frame::Idle => {
                    let pc = match op {
                        Op::Write(_) => Pc::Write(WritePc::Gate),
                        op => Pc::Other(model::fs::vfs::first(op)),
                    };
                    (pc, op_inode(op), op_byte(op))
                }
            }
        }
        Task::Bio(_) => (Pc::BioEnd { failed: false }, 0, None),
        Task::BioError(_) => (Pc::BioEnd { failed: true }, 0, None),
        Task::Work(id) => {
            let pc = match &state.work[&id] {
                Work::DioComplete { pc, .. } => Pc::DioComplete(*pc),
                Work::EndIo { .. } => Pc::EndIo,
                Work::Commit { pc } => Pc::Commit(*pc),
            };
            (pc, 0, None)
        }
    }
}

/// The protocol point of `task`'s next step in `state` (`runnable`: the tasks that can step).
pub fn point(state: &State, runnable: &[Task], task: Task) -> Point {
    let (pc, ix, byte) = locate(state, task);
    let inode = &state.inodes[ix.min(state.inodes.len() - 1)];
    let holder = |owner: Option<u8>| match owner {
        None => Holder::Free,
        Some(a) if task == Task::Actor(a) => Holder::Mine,
        Some(_) => Holder::Other,
    };
    let sem = &inode.i_data_sem;
    let waits = model::exec::tasks(state)
        .filter(|t| !runnable.contains(t))
        .filter_map(|t| model::exec::task_wait(state, t).ok().flatten())
        .fold(0, |bits, w| bits | wait_bit(w));
    let block = byte.map_or(BlockState::None, |byte| {
        let lblk = byte >> state.geometry.blkbits;
        let mapping = inode.map.lookup(lblk, 1);
        match mapping.state {
            Some(ExtentState::Written) => BlockState::Written,
            Some(ExtentState::Unwritten) => BlockState::Unwritten,
            None if mapping.delayed => BlockState::Delayed,
            None => BlockState::Hole,
        }
    });
    Point {
        pc: index_of(pc),
        i_mutex: holder(inode.i_mutex),
        aio_mutex: holder(state.aio_mutex.get(&inode.bucket()).copied()),
        i_data_sem: if sem.writer {
            2
        } else {
            u8::from(sem.readers > 0)
        },
        waits,
        block,
    }
}

/// What some exploration reached: protocol points and the steps run at each program point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// Distinct protocol points.
    pub points: BTreeSet<Point>,
    /// Steps taken at each program point, by [`program_points`] index.
    pub steps: Vec<u64>,
}

impl Default for Coverage {
    fn default() -> Coverage {
        Coverage::new()
    }
}

impl Coverage {
    /// Nothing reached yet.
    pub fn new() -> Coverage {
        Coverage {
            points: BTreeSet::new(),
            steps: vec![0; program_points().len()],
        }
    }

    /// Records `task`'s next step in `state`.
    pub fn see(&mut self, state: &State, runnable: &[Task], task: Task) {
        let point = point(state, runnable, task);
        self.steps[point.pc as usize] += 1;
        self.points.insert(point);
    }

    /// Adds `other` in; returns how many of its protocol points were new.
    pub fn merge(&mut self, other: &Coverage) -> u64 {
        for (mine, theirs) in self.steps.iter_mut().zip(&other.steps) {
            *mine += theirs;
        }
        let before = self.points.len();
        self.points.extend(other.points.iter().copied());
        (self.points.len() - before) as u64
    }

    /// Whether any step ran at `pc`.
    pub fn reached(&self, pc: Pc) -> bool {
        self.steps[index_of(pc) as usize] > 0
    }

    /// Protocol points at `pc`.
    pub fn contexts(&self, pc: Pc) -> usize {
        let index = index_of(pc);
        self.points.iter().filter(|p| p.pc == index).count()
    }

    /// Protocol points of actor kind `kind`.
    pub fn points_of(&self, kind: ActorKind) -> usize {
        let pcs = program_points();
        self.points
            .iter()
            .filter(|p| kind_of(pcs[p.pc as usize]) == kind)
            .count()
    }

    /// The program points of `kind` never reached.
    pub fn unreached(&self, kind: ActorKind) -> Vec<Pc> {
        program_points()
            .into_iter()
            .filter(|&pc| kind_of(pc) == kind && !self.reached(pc))
            .collect()
    }
}

/// The reachable total of a scenario: the coverage of a breadth-first search of every
/// reachable state (a violating path ends where it breaks, as in every engine), and whether
/// it finished within `max_states`.
pub fn reachable(initial: &State, max_states: u64, stepper: Stepper) -> (Coverage, bool) {
    let mut coverage = Coverage::new();
    let report = engine::bfs_probed(
        initial,
        max_states,
        stepper,
        NO_ORACLE,
        &mut |state, runnable, task| coverage.see(state, runnable, task),
    );
    (coverage, report.exhausted)
}

/// `part` of `whole` as a percentage with one decimal.
fn percent(part: usize, whole: usize) -> String {
    format!("{:.1}%", part as f64 * 100.0 / whole.max(1) as f64)
}

/// The text report: protocol points, program points reached per actor kind (against the
/// reachable total when given) and, per kind, every program point never reached with its
/// kernel function.
pub fn text(coverage: &Coverage, total: Option<&Coverage>) -> String {
    let mut out = String::new();
    let points = coverage.points.len();
    let _ = match total {
        Some(t) => writeln!(
            out,
            "protocol points: {points} of {} reachable ({})",
            t.points.len(),
            percent(points, t.points.len())
        ),
        None => writeln!(out, "protocol points: {points}"),
    };
    for kind in ActorKind::ALL {
        let all = program_points()
            .into_iter()
            .filter(|&pc| kind_of(pc) == kind)
            .count();
        let unreached = coverage.unreached(kind);
        let (reachable, of_total) = total.map_or((String::new(), String::new()), |t| {
            (
                format!(" ({} reachable)", all - t.unreached(kind).len()),
                format!(" of {}", t.points_of(kind)),
            )
        });
        let _ = writeln!(
            out,
            "{}: {} of {all} program points reached{reachable}; protocol points {}{of_total}",
            kind.title(),
            all - unreached.len(),
            coverage.points_of(kind)
        );
        for pc in unreached {
            let name = step_name(pc);
            let why = match (pc.added_by(), total) {
                (Some(patch), _) => format!(" (a step of --patch {} only)", patch.upstream().id),
                (None, Some(t)) if !t.reached(pc) => " (unreachable in this scenario)".to_string(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  unreached {name:<28} {}{why}",
                crate::signature::function_of(&name)
            );
        }
    }
    out
}

/// The HTML page: one table per actor kind, every program point with its kernel function,
/// the steps run there and its protocol points; unreached points in red.
pub fn html(title: &str, coverage: &Coverage, total: Option<&Coverage>) -> String {
    let escape = crate::explain::escape;
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>body{{font-family:sans-serif}}table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #ccc;padding:2px 8px;font-family:monospace}}tr.unreached td{{background:#fdd}}tr.unreachable td{{background:#eee;color:#777}}</style></head><body>\n<h1>{0}</h1>\n",
        escape(title)
    );
    let summary = text(coverage, total);
    let first = summary.lines().next().unwrap_or_default();
    let _ = writeln!(out, "<p>{}</p>", escape(first));
    for kind in ActorKind::ALL {
        let unreached = coverage.unreached(kind).len();
        let _ = writeln!(
            out,
            "<h2 id=\"{}\">{} &mdash; {unreached} unreached</h2>\n<table><tr><th>program point</th><th>kernel function</th><th>steps</th><th>protocol points</th><th>status</th></tr>",
            kind.name(),
            escape(kind.title())
        );
        for pc in program_points().into_iter().filter(|&p| kind_of(p) == kind) {
            let name = step_name(pc);
            let steps = coverage.steps[index_of(pc) as usize];
            let only = pc
                .added_by()
                .map(|p| format!("unreached: a step of --patch {} only", p.upstream().id));
            let (class, status) = match (steps, total) {
                (0, _) if only.is_some() => ("unreachable", only.as_deref().unwrap_or_default()),
                (0, Some(t)) if !t.reached(pc) => ("unreachable", "unreachable here"),
                (0, _) => ("unreached", "unreached"),
                _ => ("reached", "reached"),
            };
            let _ = writeln!(
                out,
                "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{steps}</td><td>{}</td><td>{status}</td></tr>",
                escape(&name),
                escape(crate::signature::function_of(&name)),
                coverage.contexts(pc)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_point_indexes_are_dense_and_in_order() {
        let pcs = program_points();
        for (i, &pc) in pcs.iter().enumerate() {
            assert_eq!(index_of(pc) as usize, i, "{pc:?}");
        }
        for (i, pc) in WritePc::ALL.iter().enumerate() {
            assert_eq!(*pc as usize, i);
        }
        for (i, pc) in OtherPc::ALL.iter().enumerate() {
            assert_eq!(*pc as usize, i);
        }
        for (i, pc) in CompletePc::ALL.iter().enumerate() {
            assert_eq!(*pc as usize, i);
        }
        for (i, pc) in CommitPc::ALL.iter().enumerate() {
            assert_eq!(*pc as usize, i);
        }
    }
}
