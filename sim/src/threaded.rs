//! The scenario on real (checker) threads: shuttle and loom explore the same model that our
//! simulator ([`crate::engine`]) steps, through the [`Backend`] of [`crate::sync`].
//!
//! # How a scenario becomes threads
//!
//! One mutex guards the whole run, `Shared { state, observer, schedule }`, with one condition
//! variable beside it. Each scenario actor gets a thread that loops: lock; if its actor has
//! finished its program, wake everyone and exit; if the model says the actor can step
//! (`task_wait(&state, Task::Actor(a))` is `Ok(None)`), apply the step, append it to
//! `schedule`, run the oracles' `after_step` and wake everyone if the step made another
//! task runnable; otherwise wait on the condition variable. (Waking only then keeps loom
//! from spending its preemptions on threads that wake, find nothing to do and sleep again:
//! it cut loom's executions 4–8× on the examples, with the same model-level
//! interleavings. A waiting thread's task can only become runnable through someone's step,
//! and the thread that took the last step always looks again itself.)
//!
//! Every step is one critical section, so shuttle and loom explore at
//! **model-step granularity**: they choose which thread takes the mutex next, which is which
//! task steps next, exactly the choice our simulator's schedulers make. The
//! engine-independent schedule (`a0 a0 b3 a1 ...`) is the order in which the steps were
//! applied, and [`crate::engine::replay`] replays it on the pure model.
//!
//! Bios and work items are not threads. **One background thread** plays the block layer and
//! the workqueues: it steps one of the runnable non-actor tasks, picked with
//! [`Backend::choose`], waits when none is runnable and exits when everything is done
//! (`model::exec::all_done`). That is how a scenario fits loom's limit of
//! [`sync::LOOM_MAX_THREADS`] threads counting the main thread: main, the background thread
//! and at most [`LOOM_ACTORS_MAX`] actors (a scenario with more is refused by
//! [`loom_check`]). Under loom `choose` is always 0, so the background thread completes the
//! *first* runnable bio or work item: loom explores every interleaving of the actors against
//! the block layer (within its preemption bound) but not the order among bios. Shuttle draws
//! `choose` from its own random source (recorded in its schedule, so replays repeat it), and
//! our simulator treats every bio as its own task; both explore that order too.
//!
//! # Failures
//!
//! A broken oracle reports two lines ([`Backend::fail`]; loom and std panic with them),
//! parsed back by [`parse_failure`]:
//!
//! ```text
//! ORACLE size-rules: write returned 4096 at 8192 but i_size=7168 (actors a0)
//! SCHEDULE: a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a1 b2 a0 a0 a0 a0 a0
//! ```
//!
//! A thread that finds nothing runnable while the run is not done reports the model's stuck
//! state (a `locks` violation: every stuck task and what it waits on) instead of leaving the
//! checker to find a thread deadlock; the main thread checks the quiescence oracles after
//! joining everyone. A panic inside the model's step (its internal assertions) is reported
//! the same way under the name [`MODEL_ASSERTION`]; any other panic (a deadlock or step bound
//! the checker found, a replay string that does not fit) comes back as [`CHECKER`].
//!
//! # Reproducing
//!
//! ```text
//! writeiter run FILE --schedule "<SCHEDULE line>" --exact     # any engine
//! shuttle_replay(&initial, stepper, &failure.shuttle_schedule.unwrap())
//! LOOM_CHECKPOINT_FILE=f.json LOOM_CHECKPOINT_INTERVAL=1 LOOM_LOG=trace LOOM_LOCATION=1
//! ```
//!
//! Shuttle and loom replays are tied to this exact code (each mutex acquisition is a
//! scheduling point); the engine-independent schedule is tied only to the model.
//!
//! # Cost (release, one core)
//!
//! Shuttle runs roughly 10–35 k executions a second on these scenarios. Loom's cost grows
//! fast with actors and steps: the two-actor scenario of `tests/engines.rs` takes 2.8 k
//! executions (0.2 s) at bound 2; the three-actor examples take 0.1–0.5 s at bound 1 but
//! 17–100 s at bound 2 (`examples/bitmap-file.toml`: 0.9 M executions, 103 s).
//!
//! While a checker runs, the panic hook is silenced on its thread
//! ([`sync::catch_quietly`]). Under shuttle a failure is not a panic at all
//! ([`Backend::fail`]: the run stops at its next scheduling decision), so shuttle prints none
//! of its own `test panicked in task '…'` or failing-seed banners.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use model::drive::{End, ending, parse_schedule};
use model::exec::{self, Task, Trace, Wait};
use model::limits::STEPS_MAX;
use model::state::{ActorId, State};

use crate::engine::Stepper;
use crate::oracle::{Observer, Violation};
use crate::sync::{self, Backend, CheckerPanic, Loom, Shuttle, ShuttleExploration};

/// Executions and model steps the threaded engines ran in this process: figures for
/// `writeiter bench` (`sim/src/bench.rs`), never an input to a result.
pub static EXECUTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Model steps the threaded engines applied in this process.
pub static STEPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Loom's preemption bound when none is given (and `LOOM_MAX_PREEMPTIONS` is not set).
pub const LOOM_PREEMPTION_BOUND: usize = 2;
/// Actors loom can run: its thread limit less the main and the background thread.
pub const LOOM_ACTORS_MAX: usize = sync::LOOM_MAX_THREADS - 2;
/// The name reported when the model's step panicked (an internal assertion).
pub const MODEL_ASSERTION: &str = "model-assertion";
/// The name reported for a panic that is not ours: the checker's own failure.
pub const CHECKER: &str = "checker";

/// The first failure a checker found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadedFailure {
    /// The oracle's kebab-case name, [`MODEL_ASSERTION`] or [`CHECKER`].
    pub oracle: String,
    /// The engine-independent schedule up to the failure (empty for [`CHECKER`]).
    pub schedule: Vec<Task>,
    /// Shuttle's own failing schedule, for [`shuttle_replay`].
    pub shuttle_schedule: Option<String>,
    /// The whole panic message.
    pub message: String,
    /// Which execution of the check failed, from 1 (the executions it ran).
    pub execution: u64,
}

/// What a check in measurement mode ran: executions and model steps. A violation ends its
/// execution but not the check ([`shuttle_random_measured`], [`shuttle_pct_measured`],
/// [`loom_measured`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    /// Executions run.
    pub executions: u64,
    /// Model steps applied.
    pub steps: u64,
}

/// Shuttle with uniformly random scheduling, `iterations` executions from `seed`.
pub fn shuttle_random(
    initial: &State,
    stepper: Stepper,
    seed: u64,
    iterations: usize,
) -> Option<ThreadedFailure> {
    shuttle(
        initial,
        stepper,
        ShuttleExploration::Random { seed, iterations },
    )
}

/// Shuttle with PCT of `depth`, `iterations` executions from `seed`.
pub fn shuttle_pct(
    initial: &State,
    stepper: Stepper,
    seed: u64,
    depth: usize,
    iterations: usize,
) -> Option<ThreadedFailure> {
    let exploration = ShuttleExploration::Pct {
        seed,
        depth,
        iterations,
    };
    shuttle(initial, stepper, exploration)
}

/// One shuttle execution along `shuttle_schedule` ([`ThreadedFailure::shuttle_schedule`]).
pub fn shuttle_replay(
    initial: &State,
    stepper: Stepper,
    shuttle_schedule: &str,
) -> Option<ThreadedFailure> {
    let exploration = ShuttleExploration::Replay(shuttle_schedule.to_string());
    shuttle(initial, stepper, exploration)
}

/// Loom's exhaustive search within `preemption_bound` preemptions (default
/// [`LOOM_PREEMPTION_BOUND`]; `LOOM_MAX_PREEMPTIONS` in the environment wins over both). A
/// scenario with more than [`LOOM_ACTORS_MAX`] actors is an error.
pub fn loom_check(
    initial: &State,
    stepper: Stepper,
    preemption_bound: Option<usize>,
) -> Result<Option<ThreadedFailure>, String> {
    let actors = initial.actors.len();
    if actors > LOOM_ACTORS_MAX {
        return Err(format!(
            "loom runs at most {LOOM_ACTORS_MAX} actors ({} threads counting main and the \
             background thread); this scenario has {actors}: use shuttle or the simulator",
            sync::LOOM_MAX_THREADS
        ));
    }
    let bound = preemption_bound.unwrap_or(LOOM_PREEMPTION_BOUND);
    let (execution, counter) = counted::<Loom>(initial, stepper, false);
    let outcome = sync::run_loom(execution, bound);
    Ok(outcome.err().map(|p| failure(p, &counter)))
}

/// [`loom_check`] in measurement mode: every execution within the bound runs, a violation
/// ending only its own execution.
pub fn loom_measured(
    initial: &State,
    stepper: Stepper,
    preemption_bound: usize,
) -> Result<Measured, String> {
    if initial.actors.len() > LOOM_ACTORS_MAX {
        return Err(format!("loom runs at most {LOOM_ACTORS_MAX} actors"));
    }
    let (execution, counter) = counted::<Loom>(initial, stepper, true);
    measured(sync::run_loom(execution, preemption_bound), &counter)
}

/// Shuttle's random scheduling in measurement mode: `iterations` executions from `seed`,
/// a violation ending only its own execution.
pub fn shuttle_random_measured(
    initial: &State,
    stepper: Stepper,
    seed: u64,
    iterations: usize,
) -> Result<Measured, String> {
    shuttle_measured(
        initial,
        stepper,
        ShuttleExploration::Random { seed, iterations },
    )
}

/// Shuttle's PCT of `depth` in measurement mode (see [`shuttle_random_measured`]).
pub fn shuttle_pct_measured(
    initial: &State,
    stepper: Stepper,
    seed: u64,
    depth: usize,
    iterations: usize,
) -> Result<Measured, String> {
    let exploration = ShuttleExploration::Pct {
        seed,
        depth,
        iterations,
    };
    shuttle_measured(initial, stepper, exploration)
}

fn shuttle_measured(
    initial: &State,
    stepper: Stepper,
    exploration: ShuttleExploration,
) -> Result<Measured, String> {
    let (execution, counter) = counted::<Shuttle>(initial, stepper, true);
    measured(sync::run_shuttle(execution, &exploration), &counter)
}

/// One execution of `initial` on `B`'s threads that counts itself in the returned
/// [`Counter`]; with `measure`, in measurement mode (its steps counted too).
fn counted<B: Backend>(
    initial: &State,
    stepper: Stepper,
    measure: bool,
) -> (impl Fn() + Send + Sync + 'static, Counter) {
    let initial = Arc::new(initial.clone());
    let counter = Counter::default();
    let count = counter.clone();
    let execution = move || {
        count
            .executions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        run_with::<B>(&initial, stepper, measure.then_some(&*count.steps));
    };
    (execution, counter)
}

/// A measurement-mode check's figures, or the checker's own failure.
fn measured(outcome: Result<(), CheckerPanic>, counter: &Counter) -> Result<Measured, String> {
    match outcome {
        Ok(()) => Ok(counter.measured()),
        Err(panic) => Err(panic.message),
    }
}

/// Executions and steps of one check, its own (not the process-wide [`EXECUTIONS`]), so
/// a failure's execution number does not depend on other threads.
#[derive(Clone, Default)]
struct Counter {
    executions: Arc<std::sync::atomic::AtomicU64>,
    steps: Arc<std::sync::atomic::AtomicU64>,
}

impl Counter {
    fn measured(&self) -> Measured {
        Measured {
            executions: self.executions.load(std::sync::atomic::Ordering::Relaxed),
            steps: self.steps.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

fn shuttle(
    initial: &State,
    stepper: Stepper,
    exploration: ShuttleExploration,
) -> Option<ThreadedFailure> {
    let (execution, counter) = counted::<Shuttle>(initial, stepper, false);
    let outcome = sync::run_shuttle(execution, &exploration);
    outcome.err().map(|p| failure(p, &counter))
}

fn failure(panic: CheckerPanic, counter: &Counter) -> ThreadedFailure {
    let (oracle, schedule) =
        parse_failure(&panic.message).unwrap_or_else(|| (CHECKER.to_string(), Vec::new()));
    ThreadedFailure {
        oracle,
        schedule,
        shuttle_schedule: panic.shuttle_schedule,
        message: panic.message,
        execution: counter.measured().executions,
    }
}

/// Parses a failure message: the name after `ORACLE ` on one line, the schedule after
/// `SCHEDULE:` on the next.
pub fn parse_failure(message: &str) -> Option<(String, Vec<Task>)> {
    let mut lines = message.lines();
    let first = lines.find_map(|line| line.strip_prefix("ORACLE "))?;
    let (oracle, _) = first.split_once(':')?;
    let schedule = lines.next()?.strip_prefix("SCHEDULE:")?;
    Some((oracle.to_string(), parse_schedule(schedule).ok()?))
}

/// The failure message: `ORACLE <name>: <text>` and `SCHEDULE: <tasks>`.
fn failure_message(oracle: &str, text: &str, schedule: &[Task]) -> String {
    let tasks: Vec<String> = schedule.iter().map(Task::to_string).collect();
    let text = text.replace('\n', " ");
    format!("ORACLE {oracle}: {text}\nSCHEDULE: {}", tasks.join(" "))
}

/// One execution of `initial` on `B`'s threads: the actors, the background thread, then the
/// quiescence oracles. Panics with a failure message ([`parse_failure`]) on a violation.
pub fn run<B: Backend>(initial: &State, stepper: Stepper) {
    run_with::<B>(initial, stepper, None);
}

/// [`run`]; with `measure`, in measurement mode: a violation ends this execution quietly
/// (no failure reported to the checker) and the steps applied are added to `measure`.
fn run_with<B: Backend>(
    initial: &State,
    stepper: Stepper,
    measure: Option<&std::sync::atomic::AtomicU64>,
) {
    EXECUTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let world = Arc::new(World::<B> {
        shared: B::mutex(Shared {
            state: initial.clone(),
            observer: Observer::new(initial),
            schedule: Vec::new(),
            failed: false,
        }),
        changed: B::condvar(),
        stepper,
        quiet: measure.is_some(),
    });
    let mut threads = Vec::new();
    for a in 0..initial.actors.len() as ActorId {
        let world = Arc::clone(&world);
        threads.push(B::spawn(move || world.actor(a)));
    }
    let background = Arc::clone(&world);
    threads.push(B::spawn(move || background.background()));
    for thread in threads {
        B::join(thread);
    }
    let mut shared = B::lock(&world.shared);
    if let Some(steps) = measure {
        steps.fetch_add(
            shared.schedule.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    if shared.failed {
        return;
    }
    let end = ending(&shared.state);
    // A failure is already reported; nothing is left to do either way.
    let _ = world.check_end(&mut shared, &end);
}

/// A failure was reported ([`Backend::fail`]): the thread leaves.
struct Failed;

/// What the threads share under the one mutex.
struct Shared {
    state: State,
    observer: Observer,
    /// The engine-independent schedule so far.
    schedule: Vec<Task>,
    /// A thread reported a failure: the others leave.
    failed: bool,
}

struct World<B: Backend> {
    shared: B::Mutex<Shared>,
    changed: B::Condvar,
    stepper: Stepper,
    /// Measurement mode: a failure ends the execution without reporting it.
    quiet: bool,
}

impl<B: Backend> World<B> {
    /// Actor `a`'s thread: one step per critical section until its program is done.
    fn actor(&self, a: ActorId) {
        let task = Task::Actor(a);
        let mut shared = B::lock(&self.shared);
        loop {
            if shared.failed {
                return;
            }
            match exec::task_wait(&shared.state, task) {
                Ok(None) => {
                    if self.apply(&mut shared, task).is_err() {
                        return;
                    }
                    drop(shared);
                    shared = B::lock(&self.shared);
                }
                Ok(Some(Wait::Finished)) | Err(_) => {
                    B::notify_all(&self.changed);
                    return;
                }
                Ok(Some(_)) => {
                    if self.check_stuck(&mut shared).is_err() {
                        return;
                    }
                    shared = B::wait(&self.changed, shared);
                }
            }
        }
    }

    /// The block layer and the workqueues: completes one runnable bio or runs one work item
    /// per critical section, chosen with [`Backend::choose`], until everything is done.
    fn background(&self) {
        let mut shared = B::lock(&self.shared);
        loop {
            if shared.failed {
                return;
            }
            if exec::all_done(&shared.state) {
                B::notify_all(&self.changed);
                return;
            }
            let tasks: Vec<Task> = exec::runnable(&shared.state)
                .into_iter()
                .filter(|t| !matches!(t, Task::Actor(_)))
                .collect();
            if tasks.is_empty() {
                if self.check_stuck(&mut shared).is_err() {
                    return;
                }
                shared = B::wait(&self.changed, shared);
            } else {
                let task = tasks[B::choose(tasks.len())];
                if self.apply(&mut shared, task).is_err() {
                    return;
                }
                drop(shared);
                shared = B::lock(&self.shared);
            }
        }
    }

    /// Applies `task`'s step (the caller saw it runnable), records it, checks the safety
    /// oracles and wakes every thread if another task became runnable.
    fn apply(&self, shared: &mut Shared, task: Task) -> Result<(), Failed> {
        let before = exec::runnable(&shared.state);
        let state = &mut shared.state;
        // Untraced, as our own engines step when they keep no trace: the event only feeds
        // the oracles, and a finding's trace comes from replaying its schedule.
        let stepped =
            panic::catch_unwind(AssertUnwindSafe(|| (self.stepper)(state, task, Trace::Off)));
        shared.schedule.push(task);
        STEPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let event = match stepped {
            Ok(Ok(event)) => event,
            Ok(Err(error)) => {
                let text = format!("a runnable task refused its step: {error}");
                return Err(self.fail(shared, MODEL_ASSERTION, &text));
            }
            Err(payload) => {
                let text = sync::payload_text(&*payload);
                return Err(self.fail(shared, MODEL_ASSERTION, &text));
            }
        };
        if let Err(violation) = shared.observer.after_step(&shared.state, &event) {
            return Err(self.fail_with(shared, &violation));
        }
        if shared.schedule.len() >= STEPS_MAX {
            self.check_end(shared, &End::StepLimit)?;
        }
        let after = exec::runnable(&shared.state);
        if after.iter().any(|t| *t != task && !before.contains(t)) {
            B::notify_all(&self.changed);
        }
        Ok(())
    }

    /// Nothing at all can run: the model is stuck (a `locks` violation), which the threads
    /// report themselves rather than leave to the checker as a thread deadlock.
    fn check_stuck(&self, shared: &mut Shared) -> Result<(), Failed> {
        if exec::runnable(&shared.state).is_empty() {
            let end = ending(&shared.state);
            self.check_end(shared, &end)?;
        }
        Ok(())
    }

    /// The quiescence oracles for a run that ended as `end`.
    fn check_end(&self, shared: &mut Shared, end: &End) -> Result<(), Failed> {
        match shared.observer.at_end(&shared.state, end) {
            Ok(()) => Ok(()),
            Err(violation) => Err(self.fail_with(shared, &violation)),
        }
    }

    /// Reports a broken oracle.
    fn fail_with(&self, shared: &mut Shared, violation: &Violation) -> Failed {
        // `Violation`'s text without its leading `<oracle>: `.
        let text = violation.to_string();
        let prefix = format!("{}: ", violation.oracle);
        let text = text.strip_prefix(&prefix).unwrap_or(&text);
        self.fail(shared, violation.oracle.name(), text)
    }

    /// Reports a failure ([`Backend::fail`]: a panic under loom and std); the other
    /// threads are told to leave, and so does this one.
    fn fail(&self, shared: &mut Shared, oracle: &str, text: &str) -> Failed {
        shared.failed = true;
        B::notify_all(&self.changed);
        if !self.quiet {
            B::fail(failure_message(oracle, text, &shared.schedule));
        }
        Failed
    }
}
