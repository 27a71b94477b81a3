//! Stepping the model: which tasks can run ([`runnable`]), what a blocked task waits for
//! ([`task_wait`]), and applying one task's next step ([`step`]). A task is an actor, an
//! in-flight bio (the block layer may complete any of them next) or a queued work item.
//! Whether a step writes its name and notes for the trace is the caller's choice, a
//! [`Trace`] passed to [`step_with`]; [`step`] is the traced step.

use crate::include::fs::{Iocb, IovIter, KiFlags};
use crate::mark::Touched;
use crate::notes::Notes;
use crate::ops::{
    CommitPc, CompletePc, Frame, IocbPrivate, Op, OpResult, OtherFrame, OtherPc, WriteFrame,
    WriteOp, WritePc,
};
use crate::state::{ActorId, ObjId, State};
use std::fmt;

pub use crate::state::Wait;

/// What can take a step: an actor, an in-flight bio, or a work item. The engine-independent
/// schedule is a sequence of these, printed `a0`, `b12`, `w7`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Task {
    /// Actor `n` takes its next step.
    Actor(ActorId),
    /// The block layer completes bio `n`.
    Bio(ObjId),
    /// A workqueue runs one step of work item `n`.
    Work(ObjId),
    /// The block layer completes bio `n` with `-EIO` (only with `bio_errors`).
    BioError(ObjId),
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Task::Actor(n) => write!(f, "a{n}"),
            Task::Bio(n) => write!(f, "b{n}"),
            Task::Work(n) => write!(f, "w{n}"),
            Task::BioError(n) => write!(f, "e{n}"),
        }
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(text: &str) -> Result<Task, String> {
        let bad = || format!("`{text}` is not a task (expected a<N>, b<N> or w<N>)");
        let (kind, number) = text.split_at_checked(1).ok_or_else(bad)?;
        match kind {
            "a" => number.parse().map(Task::Actor).map_err(|_| bad()),
            "b" => number.parse().map(Task::Bio).map_err(|_| bad()),
            "w" => number.parse().map(Task::Work).map_err(|_| bad()),
            "e" => number.parse().map(Task::BioError).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// Which step ran: the program counter it ran at (structured, for the oracles and tests;
/// [`Event::step`] is its name for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Pc {
    /// A writer's step in `ext4_file_write_iter` and its callees.
    Write(WritePc),
    /// A step of another operation.
    Other(OtherPc),
    /// A bio completed (`bio_endio`), with `-EIO` when `failed`.
    BioEnd {
        /// Completed with `-EIO`.
        failed: bool,
    },
    /// A step of `dio_complete` on `s_dio_done_wq`.
    DioComplete(CompletePc),
    /// `ext4_end_io` on `rsv_conversion_wq`.
    EndIo,
    /// A stage of kjournald2's `jbd2_journal_commit_transaction`.
    Commit(CommitPc),
}

impl Pc {
    /// The upstream fix that adds this program point ([`crate::patches`]): 4.4.121 itself
    /// never steps there. `None` for a point of 4.4.121.
    pub fn added_by(self) -> Option<crate::patches::Patch> {
        use crate::patches::Patch;
        match self {
            Pc::Write(crate::ops::WritePc::QueuedUnwrittenWait) => {
                Some(Patch::UnwrittenWaitAfterQueue)
            }
            Pc::DioComplete(crate::ops::CompletePc::Invalidate) => {
                Some(Patch::DioCompleteInvalidates)
            }
            _ => None,
        }
    }

    /// The step's name in the trace ([`Event::step`]).
    pub fn name(self) -> String {
        match self {
            Pc::Write(pc) => pc.to_string(),
            Pc::Other(pc) => pc.to_string(),
            Pc::BioEnd { failed: false } => "bio_endio".to_string(),
            Pc::BioEnd { failed: true } => "bio_endio -EIO".to_string(),
            Pc::DioComplete(pc) => format!("dio_complete:{pc}"),
            Pc::EndIo => "ext4_end_io".to_string(),
            Pc::Commit(pc) => format!("jbd2_commit:{pc}"),
        }
    }
}

/// One applied step, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Who stepped.
    pub task: Task,
    /// The program counter the step ran at.
    pub pc: Pc,
    /// The step, named after its program counter ([`Pc::name`]; empty when the step ran
    /// untraced, [`Trace::Off`]).
    pub step: String,
    /// What the step did that the kernel must never do, if anything.
    pub hazard: Option<crate::state::Hazard>,
    /// What happened, in ext4 terms (none when the step ran untraced).
    pub notes: Vec<String>,
    /// The parts of the state the step wrote ([`crate::mark`]), set where they were written.
    pub touched: Touched,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<4} {:<20} {}",
            self.task.to_string(),
            self.step,
            self.notes.join("; ")
        )
    }
}

/// A schedule asked for a step the model cannot take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError {
    /// The task does not exist (never created, or already gone).
    NoSuchTask(Task),
    /// The task exists but cannot step now.
    NotRunnable(Task, Wait),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::NoSuchTask(t) => write!(f, "task {t} does not exist now"),
            StepError::NotRunnable(t, w) => write!(f, "task {t} cannot step: {w}"),
        }
    }
}

/// The frame an operation starts with.
fn first_frame(state: &State, op: &Op) -> Frame {
    match op {
        Op::Write(w) => Frame::Write(Box::new(WriteFrame {
            pc: crate::fs::ext4::file::first(state),
            ..first_write_frame(w)
        })),
        _ => Frame::Other(OtherFrame {
            pc: crate::fs::vfs::first(op),
            pos: 0,
            read: Vec::new(),
            flag: false,
            orphan: false,
            error: 0,
            tid: None,
        }),
    }
}

/// The writer's frame at the top of `ext4_file_write_iter`.
pub fn first_write_frame(w: &WriteOp) -> WriteFrame {
    first_write_frame_with(w, &w.segments)
}

/// [`first_write_frame`] iterating over `segments`.
fn first_write_frame_with(w: &WriteOp, segments: &[crate::include::fs::Segment]) -> WriteFrame {
    let iocb = Iocb {
        ki_flags: KiFlags::from_file(w.file),
        ki_pos: w.pos,
        ki_complete: w.aio,
    };
    WriteFrame {
        pc: WritePc::Gate,
        inode: w.inode,
        file: w.file,
        iocb,
        iter: IovIter::new(segments),
        aio_mutex: None,
        unaligned_aio: false,
        i_mutex_held: false,
        overwrite: false,
        iocb_private: IocbPrivate::Null,
        ret: 0,
        sigxfsz: false,
        plugged: w.aio,
        path: None,
        io_end: None,
        dio: None,
        gb_io: None,
        gb_io_pending: false,
        orphan: false,
        dio_blkbits: 0,
        dio_next: 0,
        dio_end: 0,
        last_new: false,
        last_pblk: 0,
        dio_ret: 0,
        written: 0,
        buffered_pos: 0,
        status: 0,
        perform_error: 0,
        fallback: false,
        event: None,
        commit_tid: None,
    }
}

/// What actor `a` waits for; `None` when it can step. An idle actor waits for what the
/// first step of its next operation waits for (`idle_wait`).
pub fn actor_wait(state: &State, a: ActorId) -> Option<Wait> {
    actor_wait_by(state, a, idle_wait)
}

/// The slow twin of [`actor_wait`]: an idle actor's wait from its whole first frame, boxed
/// and with its iovec, as the step builds it (`sim/tests/speed_twins.rs` checks both agree).
pub fn actor_wait_simple(state: &State, a: ActorId) -> Option<Wait> {
    actor_wait_by(state, a, |state, a, op| {
        frame_wait(state, a, op, &first_frame(state, op))
    })
}

/// [`actor_wait`] with `idle` giving an idle actor's wait.
fn actor_wait_by(
    state: &State,
    a: ActorId,
    idle: impl Fn(&State, ActorId, &Op) -> Option<Wait>,
) -> Option<Wait> {
    actor_wait_of(state, a, &state.actors[a as usize], idle)
}

/// [`actor_wait_by`] of `actor`, actor `a` of `state`, looked up already.
#[inline]
fn actor_wait_of(
    state: &State,
    a: ActorId,
    actor: &crate::state::Actor,
    idle: impl Fn(&State, ActorId, &Op) -> Option<Wait>,
) -> Option<Wait> {
    if let Some(sleep) = actor.sleeping {
        return Some(Wait::Asleep(sleep));
    }
    if actor.wb_map.is_some() {
        return None; // inside ext4_ext_map_blocks, holding i_data_sem: it goes on
    }
    let op = actor.program.get(actor.op)?;
    match &actor.frame {
        Frame::Idle => idle(state, a, op),
        frame => frame_wait(state, a, op, frame),
    }
}

/// What the step at `frame` of `op` waits for.
#[inline]
fn frame_wait(state: &State, a: ActorId, op: &Op, frame: &Frame) -> Option<Wait> {
    match frame {
        Frame::Idle => unreachable!("a first frame is never idle"),
        Frame::Write(f) => crate::fs::ext4::file::wait(state, a, f),
        Frame::Other(f) => crate::mm::filemap::invalidate_lock_wait(state, op, f)
            .or_else(|| crate::fs::vfs::wait(state, op, (f.pc, f.tid))),
    }
}

/// What the first step of `op` waits for, without allocating: a write's first frame is built
/// on the stack (not boxed), its iovec with the count but not the segments (a writer's wait
/// reads at most `iov_iter_count`, and at its first program point, `ext4_file_write_iter`'s
/// unaligned-AIO gate or `mutex_lock(&inode->i_mutex)` (fs/ext4/file.c:106-116), only the
/// inode's locks). [`actor_wait_simple`] builds the whole frame. Kept out of line: the
/// frame it builds on the stack would otherwise cost every call of [`actor_wait`] (most of
/// them for a busy actor) a larger stack frame to set up.
#[inline(never)]
fn idle_wait(state: &State, a: ActorId, op: &Op) -> Option<Wait> {
    match op {
        Op::Write(w) => {
            let mut f = first_write_frame_with(w, &[]);
            f.pc = crate::fs::ext4::file::first(state);
            f.iter.count = w.segments.iter().map(|s| s.len).sum();
            crate::fs::ext4::file::wait(state, a, &f)
        }
        _ => frame_wait(state, a, op, &first_frame(state, op)),
    }
}

/// What `task` waits for; `None` when it can step.
pub fn task_wait(state: &State, task: Task) -> Result<Option<Wait>, StepError> {
    match task {
        Task::Actor(a) if (a as usize) < state.actors.len() => {
            let actor = &state.actors[a as usize];
            if actor.op >= actor.program.len() {
                return Ok(Some(Wait::Finished));
            }
            Ok(actor_wait(state, a))
        }
        Task::Bio(id) if state.bios.contains_key(&id) => Ok(crate::block::bio::bio_wait(state, id)),
        Task::BioError(id) if state.mount.bio_errors && state.bios.contains_key(&id) => {
            Ok(crate::block::bio::bio_wait(state, id))
        }
        Task::Work(id) if state.work.contains_key(&id) => {
            Ok(crate::kernel::workqueue::work_wait(state, id))
        }
        _ => Err(StepError::NoSuchTask(task)),
    }
}

/// Every task that exists now, in a fixed order: actors, bios, work items.
pub fn tasks(state: &State) -> impl Iterator<Item = Task> + '_ {
    let actors = (0..state.actors.len() as ActorId).map(Task::Actor);
    let errors = state.mount.bio_errors;
    let bios = state.bios.keys().flat_map(move |&id| {
        std::iter::once(Task::Bio(id)).chain(errors.then_some(Task::BioError(id)))
    });
    actors
        .chain(bios)
        .chain(state.work.keys().map(|&id| Task::Work(id)))
}

/// The tasks that can step now, in a fixed order.
pub fn runnable(state: &State) -> Vec<Task> {
    let mut runnable = Vec::new();
    runnable_into(state, &mut runnable);
    runnable
}

/// [`runnable`] into `out` (cleared first), so that a loop can reuse one buffer. The tasks
/// of [`tasks`], in its order, whose [`task_wait`] is `Ok(None)`, asked per kind without
/// looking each task up again (each actor, bio and work item is asked as the walk over
/// them reaches it; a bio's two completions share its one wait); [`runnable_simple`] is the
/// slow twin.
pub fn runnable_into(state: &State, out: &mut Vec<Task>) {
    out.clear();
    for (a, actor) in state.actors.iter().enumerate() {
        let a = a as ActorId;
        if actor.op < actor.program.len() && actor_wait_of(state, a, actor, idle_wait).is_none() {
            out.push(Task::Actor(a));
        }
    }
    for (&id, bio) in &*state.bios {
        if crate::block::bio::wait_of(bio).is_none() {
            out.push(Task::Bio(id));
            if state.mount.bio_errors {
                out.push(Task::BioError(id));
            }
        }
    }
    for (&id, work) in &state.work {
        if crate::kernel::workqueue::wait_of(state, id, work).is_none() {
            out.push(Task::Work(id));
        }
    }
}

/// The slow twin of [`runnable`]: every task of [`tasks`] through [`task_wait`], idle
/// actors' waits from their whole first frames ([`actor_wait_simple`]).
pub fn runnable_simple(state: &State) -> Vec<Task> {
    let waits = |t: Task| match t {
        Task::Actor(a) => match task_wait(state, t) {
            Ok(Some(Wait::Finished)) => Ok(Some(Wait::Finished)),
            _ => Ok(actor_wait_simple(state, a)),
        },
        t => task_wait(state, t),
    };
    tasks(state)
        .filter(|&t| matches!(waits(t), Ok(None)))
        .collect()
}

/// Everything finished: no actor has work left, no bio is in flight, no work is queued.
pub fn all_done(state: &State) -> bool {
    state.actors.iter().all(|a| a.op >= a.program.len())
        && state.bios.is_empty()
        && state.work.is_empty()
}

/// Whether a step writes its name and notes ([`Event::step`], [`Event::notes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trace {
    /// Written, for a trace someone reads.
    On,
    /// Left empty (the notes are never formatted): for runs that keep no trace.
    Off,
}

/// Applies `task`'s next step and checks the model's internal invariants, writing its name
/// and notes: [`step_with`] under [`Trace::On`].
pub fn step(state: &mut State, task: Task) -> Result<Event, StepError> {
    step_with(state, task, Trace::On)
}

/// Applies `task`'s next step and checks the model's internal invariants. The event's name
/// and notes are written only under [`Trace::On`]; the step is the same either way.
pub fn step_with(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    if let Some(wait) = task_wait(state, task)? {
        return Err(StepError::NotRunnable(task, wait));
    }
    Ok(step_listed(state, task, trace))
}

/// [`step_with`] without asking again what `task` waits for: for a caller that took `task`
/// from [`runnable_into`] of this very state. Any other task is a bug of the caller (the
/// model may then panic or step a blocked task). The marks are cleared before the step and
/// collected after it ([`Event::touched`]); they stay set in the state ([`State::touched`]).
pub fn step_listed(state: &mut State, task: Task, trace: Trace) -> Event {
    state.clear_touched();
    let mut notes = Notes::new(trace == Trace::On);
    let pc = match task {
        Task::Actor(a) => step_actor(state, a, &mut notes),
        Task::Bio(id) => {
            crate::block::bio::complete_bio(state, id, false, &mut notes);
            Pc::BioEnd { failed: false }
        }
        Task::BioError(id) => {
            crate::block::bio::complete_bio(state, id, true, &mut notes);
            Pc::BioEnd { failed: true }
        }
        Task::Work(id) => {
            let pc = work_pc(state, id);
            crate::kernel::workqueue::run_work(state, id, &mut notes);
            pc
        }
    };
    crate::block::blk_core::flush_plugs_of_sleepers(state, |state, a| {
        actor_wait(state, a).is_some()
    });
    let hazard = state.hazard.take();
    state.assert_step_invariants();
    Event {
        task,
        pc,
        step: if notes.on() { pc.name() } else { String::new() },
        hazard,
        notes: notes.into_lines(),
        touched: state.touched(),
    }
}

fn work_pc(state: &State, id: ObjId) -> Pc {
    match &state.work[&id] {
        crate::state::Work::DioComplete { pc, .. } => Pc::DioComplete(*pc),
        crate::state::Work::EndIo { .. } => Pc::EndIo,
        crate::state::Work::Commit { pc } => Pc::Commit(*pc),
    }
}

/// One step of actor `a`: start its next operation if idle, run the step at its program
/// counter, move the counter (unless it went to sleep), finish the operation at `Done`.
fn step_actor(state: &mut State, a: ActorId, notes: &mut Notes) -> Pc {
    let index = state.actors[a as usize].op;
    let program = std::sync::Arc::clone(&state.actors[a as usize].program);
    let op = &program[index];
    if matches!(state.actors[a as usize].frame, Frame::Idle) {
        state.actors[a as usize].frame = first_frame(state, op);
    }
    let mut frame = std::mem::take(&mut state.actors[a as usize].frame);
    let named = match (&mut frame, op) {
        (Frame::Write(f), Op::Write(w)) => {
            let named = Pc::Write(f.pc);
            crate::fs::ext4::file::run(state, a, f, w, notes);
            if state.actors[a as usize].goes_on() {
                f.pc = crate::fs::ext4::file::after(state, f);
            }
            named
        }
        (Frame::Other(f), op) => {
            let named = Pc::Other(f.pc);
            crate::fs::vfs::run(state, a, op, f, notes);
            if state.actors[a as usize].goes_on() {
                f.pc = crate::fs::vfs::after(state, op, f);
            }
            named
        }
        _ => unreachable!("frame and operation disagree"),
    };
    finish_if_done(state, a, frame);
    named
}

/// The AIO event of a write: `aio_run_iocb` completes the iocb at once with `ret` unless it
/// is `-EIOCBQUEUED`, when `ki_complete` brings it later.
fn aio_event(f: &WriteFrame) -> Option<i64> {
    let queued = f.ret == crate::include::fs::errno::EIOCBQUEUED;
    if f.iocb.ki_complete && !queued {
        Some(f.ret)
    } else {
        f.event
    }
}

/// Puts the frame back, or records the result and moves to the next operation.
fn finish_if_done(state: &mut State, a: ActorId, frame: Frame) {
    let actor = &mut state.actors[a as usize];
    let result = match &frame {
        Frame::Write(f) if f.pc == WritePc::Done => Some(OpResult::Write {
            ret: f.ret,
            sigxfsz: f.sigxfsz,
            ki_pos: f.iocb.ki_pos,
            event: aio_event(f),
        }),
        Frame::Other(f) if f.pc == OtherPc::Done && f.error < 0 => Some(OpResult::Failed(f.error)),
        Frame::Other(f) if f.pc == OtherPc::Done => Some(match actor.program[actor.op] {
            Op::Read { .. } => OpResult::Read(f.read.clone()),
            Op::Stat { .. } => OpResult::Stat(f.pos),
            _ => OpResult::Done,
        }),
        _ => None,
    };
    match result {
        Some(result) => {
            actor.results.push(result);
            actor.op += 1;
            actor.frame = Frame::Idle;
        }
        None => actor.frame = frame,
    }
}
