//! The signature of a finding: what made it, in kernel terms, stable across seeds, shrinking
//! and small changes of the scenario, so that two findings of one mechanism count as one
//! class and a hunt can tell a known class from a new one.
//!
//! A signature has three parts, each read off a replay of the violating schedule:
//! - **the oracle** that broke;
//! - **the observed step**: the program point whose step broke it (`WritePc::DioGetBlock`,
//!   `dio_complete:SyncCommit`, `bio_endio -EIO`, …) with the kernel function it mirrors, or
//!   `at-rest` for an oracle checked when every task has finished;
//! - **the cause**: the operation kinds (buffered, dio, aio-dio, dsync, truncate, punch,
//!   writeback, fsync, commit, crash, read, bio-error) of the operations that were *in
//!   flight* when the violation was observed: started and not yet returned, or queued
//!   AIOs whose event has not arrived, plus `bio-error` when a bio failed.
//!
//! Schedule-dependent detail (which other task stepped last, step numbers, object ids,
//! offsets) is left out on purpose: it changes from one interleaving of the same race to
//! the next. The rendering is `oracle@step (function) | kinds`; the id is the FNV-1a hash
//! (64-bit, implemented here, no randomized hasher) of that text, in 16 hex digits.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use model::exec::{Pc, Task};
use model::ops::Op;
use model::state::State;

use crate::engine::{self, Execution, Stepper};
use crate::oracle::{Observer, Oracle};

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The kind of a failed bio (`-EIO`) anywhere before the violation.
const BIO_ERROR: &str = "bio-error";
/// The kind of a buffered write.
const BUFFERED: &str = "buffered";
/// The kind of a read or a stat.
const READ: &str = "read";
/// The kind of an `O_SYNC`/`O_DSYNC` write.
const DSYNC: &str = "dsync";

/// The observed "step" of a model assertion that fired inside a step.
pub const MODEL_STEP: &str = "model-step";

/// The observed step of an oracle checked when the run ended.
pub const AT_REST: &str = "at-rest";

/// The kernel function (or point in one) each program point mirrors, by the step's name as
/// the trace prints it. Steps that do the same kernel work share one name, so that one race
/// seen through two paths is one class: the submitter's `ext4_put_io_end` of a sync DIO and
/// `ext4_end_io_dio` on the workqueue both drop the io_end's last reference and convert.
/// A step not listed is named by its step name.
const FUNCTIONS: &[(&str, &str)] = &[
    ("Gate", "ext4_unaligned_aio"),
    ("AioMutexLock", "mutex_lock(aio_mutex)"),
    ("UnwrittenWait", "ext4_unwritten_wait"),
    ("IMutexLock", "mutex_lock(i_mutex)"),
    ("WriteChecks", "generic_write_checks"),
    ("OverwriteCheck", "ext4_file_write_iter:overwrite"),
    ("DirectFlush", "filemap_write_and_wait_range"),
    ("DirectFlushWait", "filemap_write_and_wait_range"),
    ("DirectInvalidate", "invalidate_inode_pages2_range"),
    ("DirectIo", "ext4_direct_IO"),
    ("ExtBegin", "ext4_ext_direct_IO"),
    ("ExtOverwriteUnlock", "ext4_ext_direct_IO"),
    ("ExtSetPrivate", "ext4_inode_aio_set"),
    ("ExtInitIoEnd", "ext4_init_io_end"),
    ("IndBegin", "ext4_ind_direct_IO"),
    ("DioStart", "do_blockdev_direct_IO"),
    ("DioGetBlock", "_ext4_get_block"),
    ("DioMapAlloc", "ext4_ext_map_blocks"),
    ("DioZeroTail", "dio_zero_block"),
    ("DioDrop", "dio_complete"),
    ("ExtPutIoEnd", "ext4_put_io_end"),
    ("ExtConvertAndEnd", "ext4_convert_unwritten_extents"),
    ("IndEnd", "ext4_ind_direct_IO:end"),
    ("DirectEnd", "generic_file_direct_write:end"),
    ("PerformWrite", "generic_perform_write"),
    ("FallbackFlush", "filemap_write_and_wait_range"),
    ("FallbackFlushWait", "filemap_write_and_wait_range"),
    ("SyncFlush", "generic_write_sync:flush"),
    ("SyncFlushWait", "generic_write_sync:flush"),
    ("SyncCommit", "generic_write_sync:commit"),
    ("OrphanAdd", "ext4_orphan_add"),
    ("SetSize", "ext4_setattr"),
    ("DioWait", "inode_dio_wait"),
    ("TruncatePagecache", "truncate_pagecache"),
    ("FreeBlocks", "ext4_truncate"),
    ("Flush", "filemap_write_and_wait_range"),
    ("PunchFlush", "ext4_punch_hole"),
    ("FlushWait", "filemap_write_and_wait_range"),
    ("Commit", "jbd2_complete_transaction"),
    ("ReadPage", "ext4_readpage"),
    ("DioReadBegin", "ext4_ind_direct_IO"),
    ("WritebackRun", "ext4_writepages"),
    ("Crash", "crash+recovery"),
    ("bio_endio", "bio_endio"),
    ("bio_endio -EIO", "bio_endio"),
    ("dio_complete:EndIo", "ext4_put_io_end"),
    ("dio_complete:DioEnd", "inode_dio_end"),
    ("dio_complete:SyncFlush", "generic_write_sync:flush"),
    ("dio_complete:SyncFlushWait", "generic_write_sync:flush"),
    ("dio_complete:SyncCommit", "generic_write_sync:commit"),
    ("dio_complete:KiComplete", "aio_complete"),
    ("ext4_end_io", "ext4_end_io_rsv_work"),
];

/// Kinds that, in an operation other than the stepping one, only set the stage (a dirty or
/// cached page) and count for the race only when they step into the violation themselves:
/// whether they overlap the race in time depends on the schedule.
const SETUP_KINDS: [&str; 2] = [BUFFERED, READ];

/// Oracles that judge what a sync write promised: only for them does `O_SYNC`/`O_DSYNC`
/// change the mechanism (for the others it only adds a flush after the data is written).
const SYNC_ORACLES: [Oracle; 2] = [Oracle::Durability, Oracle::SizeRules];

/// A finding's signature.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature {
    /// The oracle.
    pub oracle: Oracle,
    /// The kernel function of the observed step ([`FUNCTIONS`]), or [`AT_REST`].
    pub function: String,
    /// The kinds of the operations in flight, sorted.
    pub kinds: BTreeSet<&'static str>,
}

impl Signature {
    /// The stable short id: FNV-1a of the rendering, 16 hex digits.
    pub fn id(&self) -> String {
        format!("{:016x}", fnv1a(self.to_string().as_bytes()))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<&str> = self.kinds.iter().copied().collect();
        write!(f, "{}@{} | {}", self.oracle, self.function, kinds.join("+"))
    }
}

/// FNV-1a, 64 bits.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    })
}

/// The kernel function a step name mirrors ([`FUNCTIONS`]), else the name itself.
pub fn function_of(step: &str) -> &str {
    FUNCTIONS
        .iter()
        .find(|(name, _)| *name == step)
        .map_or(step, |(_, function)| function)
}

/// An operation: its actor and its index in the actor's program.
type OpRef = (u8, usize);

/// The signature of a violating execution `run` of `initial`, from a replay of its
/// schedule; `None` when the schedule does not violate (or no longer applies).
pub fn of(initial: &State, run: &Execution, stepper: Stepper) -> Option<Signature> {
    let mut state = initial.clone();
    let mut observer = Observer::new(initial);
    let mut window = Window::default();
    for (index, &task) in run.schedule.iter().enumerate() {
        window.before_step(&state, task, index);
        let event = match engine::apply(stepper, &mut state, task) {
            Ok(Ok(event)) => event,
            Ok(Err(_)) => return None,
            Err(violation) => {
                let kinds = window.kinds(initial, &state, task);
                return Some(signature(
                    violation.oracle,
                    MODEL_STEP,
                    kinds,
                    window.failed_bio,
                ));
            }
        };
        if let Err(violation) = observer.after_step(&state, &event) {
            let (step, kinds) = (step_name(event.pc), window.kinds(initial, &state, task));
            return Some(signature(violation.oracle, &step, kinds, window.failed_bio));
        }
    }
    let end = model::drive::ending(&state);
    let violation = observer.at_end(&state, &end).err()?;
    let kinds = actors_kinds(initial, &violation.actors);
    Some(signature(
        violation.oracle,
        AT_REST,
        kinds,
        window.failed_bio,
    ))
}

/// What a replay remembers for the kinds: when each operation took its first step, and
/// which operations were in flight at each step.
#[derive(Default)]
struct Window {
    /// The step each operation started at.
    started: BTreeMap<OpRef, usize>,
    /// Per step: the operations in flight before it, and the one that steps.
    flying: Vec<BTreeSet<OpRef>>,
    /// A bio failed (`-EIO`) so far.
    failed_bio: bool,
}

impl Window {
    fn before_step(&mut self, state: &State, task: Task, index: usize) {
        let mut ops = in_flight(state);
        if let Task::Actor(a) = task {
            let op = (a, state.actors[a as usize].op);
            self.started.entry(op).or_insert(index);
            ops.insert(op);
        }
        self.failed_bio |= matches!(task, Task::BioError(_));
        self.flying.push(ops);
    }

    /// The kinds of the race: the stepping actor's operation, and every other operation in
    /// flight at some step since the earliest start of the operations in flight at the
    /// violation (what overlapped the race, however the schedule ordered its steps), less
    /// the [`SETUP_KINDS`] of those others.
    fn kinds(&self, initial: &State, after: &State, task: Task) -> BTreeSet<&'static str> {
        let last = self.flying.len() - 1;
        let mut now = in_flight(after);
        now.extend(&self.flying[last]);
        let start = now
            .iter()
            .filter_map(|op| self.started.get(op))
            .min()
            .copied()
            .unwrap_or(last);
        let kinds_at = |&(a, i): &OpRef| {
            let op = initial.actors[a as usize].program.get(i);
            op.map_or(Vec::new(), kinds_of)
        };
        let mut kinds: BTreeSet<&'static str> = (self.flying[start..].iter().flatten())
            .chain(&now)
            .flat_map(kinds_at)
            .filter(|kind| !SETUP_KINDS.contains(kind))
            .collect();
        if let Task::Actor(a) = task {
            let stepping = self.flying[last].iter().find(|(actor, _)| *actor == a);
            kinds.extend(stepping.map_or(Vec::new(), kinds_at));
        }
        kinds
    }
}

fn signature(
    oracle: Oracle,
    step: &str,
    mut kinds: BTreeSet<&'static str>,
    failed_bio: bool,
) -> Signature {
    if failed_bio {
        kinds.insert(BIO_ERROR);
    }
    if !SYNC_ORACLES.contains(&oracle) {
        kinds.remove(DSYNC);
    }
    Signature {
        oracle,
        function: function_of(step).to_string(),
        kinds,
    }
}

/// A step's name as the trace prints it, without object ids.
fn step_name(pc: Pc) -> String {
    match pc {
        Pc::Write(p) => p.to_string(),
        Pc::Other(p) => p.to_string(),
        Pc::BioEnd { failed: false } => "bio_endio".to_string(),
        Pc::BioEnd { failed: true } => "bio_endio -EIO".to_string(),
        Pc::DioComplete(p) => format!("dio_complete:{p}"),
        Pc::EndIo => "ext4_end_io".to_string(),
    }
}

/// The kinds of every operation of the actors a violation names (of all actors when it
/// names none): an oracle checked at rest, when everything has finished.
fn actors_kinds(initial: &State, actors: &[u8]) -> BTreeSet<&'static str> {
    initial
        .actors
        .iter()
        .enumerate()
        .filter(|(a, _)| actors.is_empty() || actors.contains(&(*a as u8)))
        .flat_map(|(_, actor)| actor.program.iter())
        .flat_map(kinds_of)
        .collect()
}

/// The operations started and not finished: an actor's current operation (past its first
/// step), and queued AIOs whose event has not arrived.
fn in_flight(state: &State) -> BTreeSet<OpRef> {
    let mut ops = BTreeSet::new();
    for (a, actor) in state.actors.iter().enumerate() {
        if !matches!(actor.frame, model::ops::Frame::Idle) {
            ops.insert((a as u8, actor.op));
        }
        let queued = (0..actor.op.min(actor.results.len())).filter(|&i| aio_pending(actor, i));
        ops.extend(queued.map(|i| (a as u8, i)));
    }
    ops
}

/// An AIO that returned `-EIOCBQUEUED` and has no event yet.
fn aio_pending(actor: &model::state::Actor, index: usize) -> bool {
    matches!(
        actor.results.get(index),
        Some(model::ops::OpResult::Write { event: None, ret, .. }) if *ret == model::iocb::errno::EIOCBQUEUED
    )
}

/// An operation's kinds.
pub fn kinds_of(op: &Op) -> Vec<&'static str> {
    match op {
        Op::Write(w) => {
            let mode = match (w.file.o_direct, w.aio) {
                (false, _) => BUFFERED,
                (true, false) => "dio",
                (true, true) => "aio-dio",
            };
            let sync = w.file.o_sync || w.file.o_dsync;
            if sync { vec![mode, DSYNC] } else { vec![mode] }
        }
        Op::Read { .. } | Op::Stat { .. } => vec![READ],
        Op::Truncate { .. } => vec!["truncate"],
        Op::PunchHole { .. } => vec!["punch"],
        Op::Fsync { .. } => vec!["fsync"],
        Op::Writeback { .. } => vec!["writeback"],
        Op::Commit => vec!["commit"],
        Op::Crash => vec!["crash"],
    }
}
