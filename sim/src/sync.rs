//! The synchronization backends: the only module that names `std::thread`, shuttle or loom.
//!
//! [`Backend`] is implemented by three zero-sized markers, [`Std`] (real OS threads),
//! [`Shuttle`] (randomized and PCT schedulers, replayable schedules) and [`Loom`] (exhaustive
//! exploration bounded by preemptions). Code written once against `B: Backend`
//! ([`crate::threaded`]) runs under all three. Operations are associated functions
//! (`B::lock(&m)`), containers are generic associated types; every function is
//! `#[track_caller]` so that `LOOM_LOCATION=1` names the caller, and mutex poisoning is
//! ignored (a panic in one checker thread must stay the reported failure, not a later
//! `PoisonError` in another).
//!
//! The checker drivers live here too: [`run_shuttle`] and [`run_loom`] run a closure under a
//! checker and return its first failure as a [`CheckerPanic`] (the panic's text and, for
//! shuttle, the failing schedule string that `shuttle::replay` takes). While they run, the
//! panic hook is silent on the calling thread only ([`catch_quietly`]); other threads keep
//! the hook they had.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ops::DerefMut;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Once, PoisonError};

use shuttle::rand::Rng as _;
use shuttle::scheduler::{
    PctScheduler, RandomScheduler, ReplayScheduler, RoundRobinScheduler, Schedule, Scheduler,
    Task as ShuttleTask, TaskId,
};

/// Threads, a mutex, a condition variable and a source of data nondeterminism.
pub trait Backend: Sized + Send + Sync + 'static {
    /// A mutex holding a `T`.
    type Mutex<T: Send + 'static>: Send + Sync + 'static;
    /// The guard of a locked [`Backend::Mutex`].
    type Guard<'a, T: Send + 'static>: DerefMut<Target = T>;
    /// A condition variable.
    type Condvar: Send + Sync + 'static;
    /// A spawned thread, to join.
    type JoinHandle<T: Send + 'static>;

    /// A new mutex.
    fn mutex<T: Send + 'static>(value: T) -> Self::Mutex<T>;
    /// Locks `m` (never poisoned).
    fn lock<T: Send + 'static>(m: &Self::Mutex<T>) -> Self::Guard<'_, T>;
    /// A new condition variable.
    fn condvar() -> Self::Condvar;
    /// Releases `guard`, sleeps until `cv` is notified, locks again.
    fn wait<'a, T: Send + 'static>(
        cv: &Self::Condvar,
        guard: Self::Guard<'a, T>,
    ) -> Self::Guard<'a, T>;
    /// Wakes every waiter of `cv`.
    fn notify_all(cv: &Self::Condvar);
    /// Starts a thread.
    fn spawn<F, T>(f: F) -> Self::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;
    /// Waits for a thread; its panic goes on unwinding in the caller.
    fn join<T: Send + 'static>(handle: Self::JoinHandle<T>) -> T;
    /// A number in `0..n` (`n >= 1`): data nondeterminism the checker controls. Shuttle draws
    /// it from its own replayable random source; loom and std always return 0.
    fn choose(n: usize) -> usize;
    /// Reports the run's failure from a checker thread, which then leaves. Loom and std
    /// panic with `message`. Shuttle records it and returns: the run stops at its next
    /// scheduling decision ([`run_shuttle`]) with no panic in a shuttle task, so shuttle
    /// prints nothing of its own (no "test panicked in task", no failing seed).
    fn fail(message: String);
}

/// Real OS threads (`std::thread`, `std::sync`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Std;

/// Shuttle's threads and primitives (coroutines on the calling thread).
#[derive(Clone, Copy, Debug, Default)]
pub struct Shuttle;

/// Loom's threads and primitives (at most [`LOOM_MAX_THREADS`], counting the main thread).
#[derive(Clone, Copy, Debug, Default)]
pub struct Loom;

/// Loom models at most this many threads, counting the main thread.
pub const LOOM_MAX_THREADS: usize = loom::MAX_THREADS;

/// Implements [`Backend`] for a marker whose crate follows `std`'s API under these paths.
macro_rules! backend {
    (
        $marker:ident, $($sync:ident)::+, $($thread:ident)::+,
        choose($n:ident) $choose:block, fail($m:ident) $fail:block
    ) => {
        impl Backend for $marker {
            type Mutex<T: Send + 'static> = $($sync)::+::Mutex<T>;
            type Guard<'a, T: Send + 'static> = $($sync)::+::MutexGuard<'a, T>;
            type Condvar = $($sync)::+::Condvar;
            type JoinHandle<T: Send + 'static> = $($thread)::+::JoinHandle<T>;

            fn mutex<T: Send + 'static>(value: T) -> Self::Mutex<T> {
                $($sync)::+::Mutex::new(value)
            }
            #[track_caller]
            fn lock<T: Send + 'static>(m: &Self::Mutex<T>) -> Self::Guard<'_, T> {
                m.lock().unwrap_or_else(PoisonError::into_inner)
            }
            fn condvar() -> Self::Condvar {
                $($sync)::+::Condvar::new()
            }
            #[track_caller]
            fn wait<'a, T: Send + 'static>(
                cv: &Self::Condvar,
                guard: Self::Guard<'a, T>,
            ) -> Self::Guard<'a, T> {
                cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
            }
            #[track_caller]
            fn notify_all(cv: &Self::Condvar) {
                cv.notify_all();
            }
            #[track_caller]
            fn spawn<F, T>(f: F) -> Self::JoinHandle<T>
            where
                F: FnOnce() -> T + Send + 'static,
                T: Send + 'static,
            {
                $($thread)::+::spawn(f)
            }
            #[track_caller]
            fn join<T: Send + 'static>(handle: Self::JoinHandle<T>) -> T {
                handle
                    .join()
                    .unwrap_or_else(|payload| panic::resume_unwind(payload))
            }
            #[track_caller]
            fn choose($n: usize) -> usize $choose
            fn fail($m: String) $fail
        }
    };
}

backend!(Std, std::sync, std::thread, choose(_n) { 0 }, fail(message) {
    panic::panic_any(message)
});
backend!(Loom, loom::sync, loom::thread, choose(_n) { 0 }, fail(message) {
    panic::panic_any(message)
});
backend!(Shuttle, shuttle::sync, shuttle::thread, choose(n) {
    match n {
        0 | 1 => 0,
        // Shuttle's generator (rand 0.8's API): a recorded step of the schedule, replayed.
        n => shuttle::rand::thread_rng().gen_range(0..n),
    }
}, fail(message) {
    SHUTTLE_FAILURE.with_borrow_mut(|failure| {
        failure.get_or_insert(message);
    });
});

std::thread_local! {
    /// The failure a shuttle task reported ([`Backend::fail`]). Shuttle runs every task on
    /// the OS thread that called [`run_shuttle`], so the task and the scheduler see this one.
    static SHUTTLE_FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A failure was reported in the shuttle run on this thread.
fn shuttle_failed() -> bool {
    SHUTTLE_FAILURE.with_borrow(Option::is_some)
}

/// The first failure of a checker run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckerPanic {
    /// The panic's text.
    pub message: String,
    /// Shuttle's failing schedule, in the string form `shuttle::replay` takes.
    pub shuttle_schedule: Option<String>,
}

/// How shuttle explores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShuttleExploration {
    /// Uniformly random scheduling (`RandomScheduler::new_from_seed`).
    Random {
        /// The seed.
        seed: u64,
        /// Executions.
        iterations: usize,
    },
    /// PCT (`PctScheduler::new_from_seed`).
    Pct {
        /// The seed.
        seed: u64,
        /// Priority change points plus one.
        depth: usize,
        /// Executions.
        iterations: usize,
    },
    /// One execution along a schedule string shuttle printed (or [`CheckerPanic`] holds).
    Replay(String),
}

impl ShuttleExploration {
    fn scheduler(&self) -> Box<dyn Scheduler + Send> {
        match self {
            ShuttleExploration::Random { seed, iterations } => {
                Box::new(RandomScheduler::new_from_seed(*seed, *iterations))
            }
            ShuttleExploration::Pct {
                seed,
                depth,
                iterations,
            } => Box::new(PctScheduler::new_from_seed(*seed, *depth, *iterations)),
            ShuttleExploration::Replay(text) => Box::new(ReplayScheduler::new_from_encoded(text)),
        }
    }
}

/// Runs `f` under shuttle until the exploration ends or an execution fails.
pub fn run_shuttle<F>(f: F, exploration: &ShuttleExploration) -> Result<(), CheckerPanic>
where
    F: Fn() + Send + Sync + 'static,
{
    let log = Rc::new(RefCell::new(Recorded::default()));
    let recorder_log = Rc::clone(&log);
    SHUTTLE_FAILURE.set(None);
    let outcome = catch_quietly(move || {
        // Inside the catch: a malformed replay string makes shuttle panic.
        let recorder = Recording {
            inner: exploration.scheduler(),
            log: recorder_log,
        };
        shuttle::Runner::new(recorder, shuttle_config()).run(f);
    });
    let reported = SHUTTLE_FAILURE.take();
    match (outcome, reported) {
        (_, Some(message)) | (Err(message), None) => Err(CheckerPanic {
            message,
            shuttle_schedule: log.borrow().serialize(),
        }),
        (Ok(()), None) => Ok(()),
    }
}

/// Runs `f` under loom with at most `preemption_bound` preemptions, unless the environment
/// sets `LOOM_MAX_PREEMPTIONS` (setting the bound in code would override it).
pub fn run_loom<F>(f: F, preemption_bound: usize) -> Result<(), CheckerPanic>
where
    F: Fn() + Send + Sync + 'static,
{
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(preemption_bound);
    }
    catch_quietly(move || builder.check(f)).map_err(|message| CheckerPanic {
        message,
        shuttle_schedule: None,
    })
}

fn shuttle_config() -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.silence_warnings = true;
    // The schedule is recorded by `Recording`; nothing to print or write.
    config.failure_persistence = shuttle::FailurePersistence::None;
    config
}

std::thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic as its text. While `f` runs, panics on this OS thread (where
/// shuttle and loom run every model thread) print nothing; other threads are unaffected.
pub fn catch_quietly(f: impl FnOnce()) -> Result<(), String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // Shuttle installs its own hook once, at its first execution. Its hook prints "Task
        // failed" and a schedule for every panic, shuttle's or not (a test's failed assertion
        // too); ours stands in for it: quiet while a checker runs (where every shuttle task
        // runs), the hook from before shuttle's elsewhere.
        let previous = panic::take_hook();
        shuttle::Runner::new(RoundRobinScheduler::new(1), shuttle::Config::new()).run(|| {});
        drop(panic::take_hook());
        panic::set_hook(Box::new(move |info| {
            if !QUIET.get() {
                previous(info);
            }
        }));
    });
    let was = QUIET.replace(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.set(was);
    result.map_err(|payload| payload_text(&*payload))
}

/// The text of a panic payload (`String` or `&str`; anything else is named as such).
pub fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else {
        "a panic with a payload that is not text".to_string()
    }
}

/// The current execution's schedule as shuttle records it: the seed of its data source and,
/// per step, the task scheduled (`Some`) or a random draw (`None`).
#[derive(Debug, Default)]
struct Recorded {
    seed: u64,
    steps: Vec<Option<usize>>,
    /// The scheduler started from steps we cannot read; no string then.
    opaque: bool,
}

/// Wraps a scheduler and records what it decides, as shuttle's own `CurrentSchedule` does.
/// Once a task reported a failure ([`Backend::fail`]) it schedules nothing more: the
/// execution stops there, and so does the run, keeping the failing execution's log.
struct Recording {
    inner: Box<dyn Scheduler + Send>,
    log: Rc<RefCell<Recorded>>,
}

impl Drop for Recording {
    /// Lets the inner scheduler run out of executions, so that it ends as after a passing
    /// run (shuttle's random scheduler otherwise prints its failing seed when dropped).
    fn drop(&mut self) {
        while self.inner.new_execution().is_some() {}
    }
}

impl Scheduler for Recording {
    fn new_execution(&mut self) -> Option<Schedule> {
        if shuttle_failed() {
            return None;
        }
        let schedule = self.inner.new_execution()?;
        *self.log.borrow_mut() = Recorded {
            seed: schedule.seed,
            steps: Vec::new(),
            opaque: !schedule.is_empty(),
        };
        Some(schedule)
    }

    fn next_task(
        &mut self,
        runnable: &[&ShuttleTask],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        if shuttle_failed() {
            return None;
        }
        let next = self.inner.next_task(runnable, current, is_yielding);
        if let Some(task) = next {
            self.log.borrow_mut().steps.push(Some(usize::from(task)));
        }
        next
    }

    fn next_u64(&mut self) -> u64 {
        self.log.borrow_mut().steps.push(None);
        self.inner.next_u64()
    }
}

impl Recorded {
    /// Shuttle 0.9's schedule string: hex of `0x91`, varints (task-id bit width, steps,
    /// seed), then the steps packed least significant bit first (a 0 bit and the task id, or
    /// a 1 bit for a random draw), wrapped at 76 columns.
    fn serialize(&self) -> Option<String> {
        if self.opaque {
            return None;
        }
        let max = self.steps.iter().flatten().max().copied().unwrap_or(0);
        let bits = ((usize::BITS - max.leading_zeros()) as usize).max(1);
        let mut packed = vec![0u8; (self.steps.len() * (1 + bits)).div_ceil(8)];
        let mut set = |bit: usize| packed[bit / 8] |= 1 << (bit % 8);
        let mut offset = 0;
        for step in &self.steps {
            match step {
                Some(task) => {
                    (0..bits)
                        .filter(|k| task >> k & 1 == 1)
                        .for_each(|k| set(offset + 1 + k));
                    offset += 1 + bits;
                }
                None => {
                    set(offset);
                    offset += 1;
                }
            }
        }
        let mut bytes = vec![0x91];
        for value in [bits as u64, self.steps.len() as u64, self.seed] {
            push_varint(&mut bytes, value);
        }
        bytes.extend(packed);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let lines: Vec<&str> = hex
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).expect("hex is ASCII"))
            .collect();
        Some(lines.join("\n"))
    }
}

fn push_varint(bytes: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}
