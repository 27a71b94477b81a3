//! The signature of a finding: what made it, in kernel terms, stable across seeds, shrinking
//! and small changes of the scenario, so that two findings of one mechanism count as one
//! class and a hunt can tell a known class from a new one.
//!
//! A signature has three parts, each read off a replay of the violating schedule:
//! - **the oracle** that broke;
//! - **the observed step**: the kernel function the program point whose step broke it
//!   mirrors (`FUNCTIONS`: `WritePc::DioMapAlloc` is `ext4_ext_map_blocks`, both the
//!   submitter's `ExtPutIoEnd` and the workqueue's `dio_complete:EndIo` are
//!   `ext4_put_io_end`), `at-rest` for an oracle checked when every task has finished, or
//!   `model-step` for a model assertion that fired inside a step;
//! - **the operation** whose step it was, as kinds (buffered, dio, aio-dio, dsync,
//!   truncate, punch, writeback, fsync, commit, crash, read): an actor's current operation;
//!   for a bio or a `dio_complete` work item, the direct write that issued it; for a
//!   writeback bio or an `ext4_end_io` item, writeback. At rest, the writes the
//!   violation's message names (whose data it judges). `bio-error` is added when the
//!   violation needs a failed bio: the same schedule with every failed bio completing
//!   instead no longer shows the oracle (a bio that failed elsewhere in the scenario, and
//!   plays no part, does not split a class); `dsync` counts only for the oracles of sync
//!   promises.
//!
//! Schedule-dependent detail is left out on purpose: which other task stepped last, which
//! other operations happened to overlap, step numbers, object ids and offsets change from
//! one interleaving of the same race to the next, and from one swarm scenario to the next
//! (a first version that took the kinds of every overlapping operation split the class of
//! 0010 in three on the default hunt).
//!
//! The rendering is `oracle@function | kinds`, e.g. `durability@aio_complete |
//! aio-dio+dsync`; the id is the FNV-1a hash (64 bits, implemented here: std's hasher is
//! seeded at random) of that text, in 16 hex digits.

use std::collections::BTreeSet;
use std::fmt;

use model::exec::{Pc, Task, Trace};
use model::ops::Op;
use model::state::{BioOwner, State, Work};

use crate::engine::{self, Execution, Stepper};
use crate::oracle::{Observer, Oracle};

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The kind of a failed bio (`-EIO`) anywhere before the violation.
const BIO_ERROR: &str = "bio-error";
/// The kind of writeback (`ext4_writepages`, its bios and their `ext4_end_io`).
const WRITEBACK: &str = "writeback";
/// The kind of a buffered write.
const BUFFERED: &str = "buffered";
/// The kind of a read or a stat.
const READ: &str = "read";
/// The kind of an `O_SYNC`/`O_DSYNC` write.
const DSYNC: &str = "dsync";

/// How an oracle's message names a write: `write <tag>`.
const WRITE_WORD: &str = "write ";

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
    ("IMutexUnlock", "mutex_unlock(i_mutex)"),
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
    ("QueuedUnwrittenWait", "ext4_unwritten_wait"),
    ("SyncFlush", "generic_write_sync:flush"),
    ("SyncFlushWait", "generic_write_sync:flush"),
    ("SyncCommit", "generic_write_sync:commit"),
    ("SyncCommitWait", "generic_write_sync:commit"),
    ("FinishPlug", "blk_finish_plug"),
    ("AioMutexUnlock", "mutex_unlock(aio_mutex)"),
    ("OutUnlock", "ext4_file_write_iter:out"),
    ("IoSubmitFinishPlug", "do_io_submit:blk_finish_plug"),
    ("ExtRelock", "ext4_ext_direct_IO:relock"),
    ("OrphanAdd", "ext4_orphan_add"),
    ("SetSize", "ext4_setattr"),
    ("DioWait", "inode_dio_wait"),
    ("TruncatePagecache", "truncate_pagecache"),
    ("FreeBlocks", "ext4_truncate"),
    ("Flush", "filemap_write_and_wait_range"),
    ("PunchFlush", "ext4_punch_hole"),
    ("FlushWait", "filemap_write_and_wait_range"),
    ("Commit", "jbd2_complete_transaction"),
    ("CommitWait", "jbd2_complete_transaction"),
    ("ReadPage", "ext4_readpage"),
    ("DioReadBegin", "ext4_ind_direct_IO"),
    ("LockedFlush", "filemap_write_and_wait_range"),
    ("LockedFlushWait", "filemap_write_and_wait_range"),
    ("Stat", "vfs_getattr"),
    ("WritebackRun", "ext4_writepages"),
    ("Crash", "crash+recovery"),
    ("bio_endio", "bio_endio"),
    ("bio_endio -EIO", "bio_endio"),
    ("dio_complete:EndIo", "ext4_put_io_end"),
    ("dio_complete:DioEnd", "inode_dio_end"),
    ("dio_complete:SyncFlush", "generic_write_sync:flush"),
    ("dio_complete:SyncFlushWait", "generic_write_sync:flush"),
    ("dio_complete:SyncCommit", "generic_write_sync:commit"),
    ("dio_complete:SyncCommitWait", "generic_write_sync:commit"),
    ("dio_complete:KiComplete", "aio_complete"),
    ("dio_complete:Invalidate", "invalidate_inode_pages2_range"),
    ("ext4_end_io", "ext4_end_io_rsv_work"),
    (
        "jbd2_commit:Lock",
        "jbd2_journal_commit_transaction:T_LOCKED",
    ),
    (
        "jbd2_commit:Switch",
        "jbd2_journal_commit_transaction:T_FLUSH",
    ),
    ("jbd2_commit:Submit", "journal_submit_data_buffers"),
    (
        "jbd2_commit:Flush",
        "jbd2_journal_commit_transaction:commit_record",
    ),
];

/// Oracles that judge what a sync write promised: only for them does `O_SYNC`/`O_DSYNC`
/// change the mechanism (for the others it only adds a flush after the data is written).
const SYNC_ORACLES: [Oracle; 2] = [Oracle::Durability, Oracle::SizeRules];

/// A finding's signature.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature {
    /// The oracle.
    pub oracle: Oracle,
    /// The kernel function of the observed step (`FUNCTIONS`), or [`AT_REST`].
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

/// The kernel function a step name mirrors (`FUNCTIONS`), else the name itself.
pub fn function_of(step: &str) -> &str {
    FUNCTIONS
        .iter()
        .find(|(name, _)| *name == step)
        .map_or(step, |(_, function)| function)
}

/// The signature of a violating execution `run` of `initial`, from a replay of its
/// schedule; `None` when the schedule does not violate (or no longer applies).
pub fn of(initial: &State, run: &Execution, stepper: Stepper) -> Option<Signature> {
    let mut state = initial.clone();
    let mut observer = Observer::new(initial);
    let mut failed_bio = false;
    for &task in &run.schedule {
        let kinds = stepping_kinds(&state, task);
        failed_bio |= matches!(task, Task::BioError(_));
        let event = match engine::apply(stepper, &mut state, task, Trace::Off) {
            Ok(Ok(event)) => event,
            Ok(Err(_)) => return None,
            Err(violation) => {
                let failed_bio = failed_bio
                    && needs_failed_bio(initial, &run.schedule, violation.oracle, stepper);
                return Some(signature(violation.oracle, MODEL_STEP, kinds, failed_bio));
            }
        };
        if let Err(violation) = observer.after_step(&state, &event) {
            let step = step_name(event.pc);
            let failed_bio =
                failed_bio && needs_failed_bio(initial, &run.schedule, violation.oracle, stepper);
            return Some(signature(violation.oracle, &step, kinds, failed_bio));
        }
    }
    let end = model::drive::ending(&state);
    let violation = observer.at_end(&state, &end).err()?;
    let kinds = named_writes(initial, &violation.message);
    let failed_bio =
        failed_bio && needs_failed_bio(initial, &run.schedule, violation.oracle, stepper);
    Some(signature(violation.oracle, AT_REST, kinds, failed_bio))
}

/// The signature of a model assertion that fired in `task`'s step from `state`, for a search
/// whose path the safety engines cannot replay (the liveness search's renumbered states
/// and next rounds): the kinds of the operation stepping, as [`of`] gives them; whether the
/// finding needs a failed bio is not asked, so `bio-error` is never among them.
pub fn of_model_assertion(state: &State, task: Task) -> Signature {
    signature(
        Oracle::ModelAssertion,
        MODEL_STEP,
        stepping_kinds(state, task),
        false,
    )
}

/// Whether a violation of `oracle` needs the bios that failed in `schedule`: the same
/// interleaving with each `-EIO` completion turned into a successful one
/// (`Task::BioError(b)` as `Task::Bio(b)`), each scheduled task taken while it can still
/// step (a success can change what runs later: a task that no longer can is passed over),
/// then the first runnable task to the end, no longer shows `oracle`.
fn needs_failed_bio(initial: &State, schedule: &[Task], oracle: Oracle, stepper: Stepper) -> bool {
    let succeeded = schedule
        .iter()
        .map(|&task| match task {
            Task::BioError(bio) => Task::Bio(bio),
            task => task,
        })
        .collect();
    let mut chooser = Succeeded {
        schedule: succeeded,
        next: 0,
    };
    let run = engine::execute(initial, &mut chooser, stepper, false);
    run.violation.is_none_or(|v| v.oracle != oracle)
}

/// A schedule followed as far as it applies: a task that cannot step now is passed over;
/// past its end, the first runnable task.
struct Succeeded {
    schedule: Vec<Task>,
    next: usize,
}

impl engine::Chooser for Succeeded {
    fn choose(&mut self, _state: &State, runnable: &[Task]) -> Task {
        while let Some(&task) = self.schedule.get(self.next) {
            self.next += 1;
            if runnable.contains(&task) {
                return task;
            }
        }
        runnable[0]
    }
}

/// The kinds of the operation whose step this is: an actor's current operation; for a bio
/// or a `dio_complete` work item, the direct write that issued it; for a writeback bio or
/// an `ext4_end_io` work item, writeback.
fn stepping_kinds(state: &State, task: Task) -> BTreeSet<&'static str> {
    let op = match task {
        Task::Actor(a) => Some((a, state.actors[a as usize].op)),
        Task::Bio(id) | Task::BioError(id) => match state.bios.get(&id).map(|b| &b.owner) {
            Some(BioOwner::Dio(dio)) => dio_op(state, *dio),
            _ => return BTreeSet::from([WRITEBACK]),
        },
        Task::Work(id) => match state.work.get(&id) {
            Some(Work::DioComplete { dio, .. }) => dio_op(state, *dio),
            _ => return BTreeSet::from([WRITEBACK]),
        },
    };
    op.and_then(|(a, i)| state.actors[a as usize].program.get(i))
        .map_or(Vec::new(), kinds_of)
        .into_iter()
        .collect()
}

/// The write a dio belongs to: its actor and the write's index in the program.
fn dio_op(state: &State, dio: model::state::ObjId) -> Option<(u8, usize)> {
    state.dios.get(&dio).map(|d| (d.owner, d.op))
}

/// The kinds of the writes a violation's message names (`write 2`, by tag): an oracle
/// checked at rest, when everything has finished, judges the data of those writes. (The
/// actors a violation names are too broad: their other writes vary with the scenario.)
fn named_writes(initial: &State, message: &str) -> BTreeSet<&'static str> {
    let tags: Vec<u8> = message
        .split(WRITE_WORD)
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    (initial.actors.iter())
        .flat_map(|actor| actor.program.iter())
        .filter(|op| matches!(op, Op::Write(w) if tags.contains(&w.tag)))
        .flat_map(kinds_of)
        .collect()
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
pub fn step_name(pc: Pc) -> String {
    pc.name()
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
        Op::Writeback { .. } => vec![WRITEBACK],
        Op::Commit => vec!["commit"],
        Op::Crash => vec!["crash"],
    }
}

/// A corpus entry's class, known beforehand: its number, class name and signature.
#[derive(Clone, Debug)]
pub struct KnownEntry {
    /// The entry's number.
    pub id: u32,
    /// Its class (`bug`, `by-design`, `accepted`, `unknown`).
    pub class: &'static str,
    /// The signature of its stored schedule.
    pub signature: Signature,
}

/// The classes a corpus directory gives a hunt ([`corpus_signatures`]).
#[derive(Clone, Debug, Default)]
pub struct CorpusClasses {
    /// The known classes, by entry number: the `violates` entries, and the lasso entries
    /// ([`crate::corpus::LIVENESS_DIR`]) of a model assertion, a class a hunt can meet.
    pub known: Vec<KnownEntry>,
    /// A line for each entry left out because its stored schedule (or path) no longer shows
    /// its violation.
    pub stale: Vec<String>,
    /// The lasso entries of a starvation, by file: no class of a hunt, whose executions are
    /// finite (a starvation is a cycle repeated for ever; `writeiter run FILE --liveness`
    /// searches for them).
    pub starvations: Vec<std::path::PathBuf>,
}

/// The classes of the corpus directory `dir` for a hunt: the signatures of its `violates`
/// entries and of its lasso entries of a model assertion, by entry number; a line for each
/// entry whose stored schedule no longer shows its violation (stale: it is left out); and
/// its lasso entries of a starvation, which are no class of a hunt. A file that does not
/// load is an error.
pub fn corpus_signatures(dir: &std::path::Path, stepper: Stepper) -> Result<CorpusClasses, String> {
    let mut classes = CorpusClasses::default();
    for file in crate::corpus::toml_files(dir)? {
        let loaded = crate::corpus::load(&file).map_err(|e| e.to_string())?;
        let entry = &loaded.entry;
        let Some(class) = entry
            .class
            .filter(|_| entry.verdict == crate::corpus::Verdict::Violates)
        else {
            continue;
        };
        match entry_signature(&loaded, stepper) {
            Some(signature) => classes.known.push(KnownEntry {
                id: entry.id,
                class: class.name(),
                signature,
            }),
            None => classes.stale.push(format!(
                "{}: stale schedule, not a known class",
                file.display()
            )),
        }
    }
    let lassos = dir.join(crate::corpus::LIVENESS_DIR);
    if lassos.is_dir() {
        lasso_classes(&lassos, stepper, &mut classes)?;
    }
    classes.known.sort_by_key(|e| e.id);
    Ok(classes)
}

/// Adds the lasso entries of `dir` (a corpus's [`crate::corpus::LIVENESS_DIR`]) to
/// `classes`, each as [`crate::cli_liveness::hunt_class`] judges it.
fn lasso_classes(
    dir: &std::path::Path,
    stepper: Stepper,
    classes: &mut CorpusClasses,
) -> Result<(), String> {
    use crate::cli_liveness::HuntClass;
    for file in crate::corpus::toml_files(dir)? {
        match crate::cli_liveness::hunt_class(&file, stepper)? {
            HuntClass::Starvation => classes.starvations.push(file),
            HuntClass::Assertion(Some(entry)) => classes.known.push(entry),
            HuntClass::Assertion(None) => classes.stale.push(format!(
                "{}: stale path (its last step no longer panics), not a known class",
                file.display()
            )),
        }
    }
    Ok(())
}

/// The signature of an entry's stored schedule.
pub fn entry_signature(loaded: &crate::corpus::Loaded, stepper: Stepper) -> Option<Signature> {
    let initial = loaded.scenario.build().ok()?;
    let schedule = model::drive::parse_schedule(&loaded.entry.schedule).ok()?;
    let run = engine::replay(&initial, &schedule, stepper).ok()?;
    (run.violation.as_ref()?.oracle.name() == loaded.entry.oracle)
        .then(|| of(&initial, &run, stepper))
        .flatten()
}
