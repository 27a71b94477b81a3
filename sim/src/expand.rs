//! The parallel half of the compact breadth-first search ([`crate::frontier::bfs`]): a batch
//! of queued records, each decoded, its successors stepped, checked by the oracles,
//! fingerprinted and (when new) encoded, on a pool of `jobs` threads started once per
//! search ([`Pool`]). Nothing here writes the search's stores: the visited set is only
//! read, to skip encoding a successor visited before the batch; the merge
//! ([`crate::frontier`]) takes the results in queue order and alone inserts, links and
//! queues, so the search is the same whatever the number of threads. Of successors with one
//! fingerprint, the merge queues the first in queue order; that one is always encoded, and a
//! thread skips encoding the others it meets in its own share of the batch.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use model::drive::ending;
use model::exec::{self, Task, Trace};
use model::state::State;

use crate::codec::Codec;
use crate::engine::{Stepper, apply};
use crate::fingerprint::{IncrementalKey, Parts, Visited};
use crate::frontier::{FingerprintSet, append_body, restore, restore_into, strip_programs};
use crate::oracle::{Observer, Violation};

/// Queued states taken and expanded together: the batch the threads share. Fixed, not a
/// multiple of the threads, so the batches (and so everything) are the same for any `jobs`.
pub const BATCH_STATES: usize = 256;
/// Successors an expanded state needs before its parent's parts are hashed for the
/// incremental fingerprint ([`Parts::fingerprint_after`]): a single successor is cheaper to
/// hash whole than its parent's parts and then its own marked ones.
const INCREMENTAL_MIN_SUCCESSORS: usize = 2;
/// Records a thread takes from the batch at a time (a grain).
const GRAIN: usize = 16;
/// Bytes reserved for each successor's encoding (a guess that saves regrowing the buffer:
/// the canonical scenario's states encode to about 580).
const BODY_BYTES_HINT: usize = 768;

/// A batch of queued records ([`crate::frontier::Frontier::peek`]'s buffers) and how many
/// of them it holds.
pub type Batch = (Vec<Vec<u8>>, usize);

/// One successor of an expanded state.
#[derive(Debug)]
pub enum Successor {
    /// The step broke an oracle.
    Broken(Violation),
    /// Its fingerprint, visited before the batch or met earlier in the thread's share.
    Known(u64),
    /// Its fingerprint and, in [`Expanded::bytes`], its
    /// [`crate::frontier::append_body`] bytes.
    Fresh(u64, Range<usize>),
}

/// One queued state expanded.
#[derive(Debug)]
pub struct Expanded {
    /// Its index (its link).
    pub id: u32,
    /// The state, kept when the search shows its steps to a probe.
    pub state: Option<State>,
    /// Its runnable tasks, in order.
    pub runnable: Vec<Task>,
    /// When nothing can run: the oracles' verdict at the end, if broken.
    pub end: Option<Violation>,
    /// Per runnable task, its successor.
    pub successors: Vec<Successor>,
    /// The fresh successors' encodings, one after the other.
    pub bytes: Vec<u8>,
}

/// What every expansion of a search shares.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The actors' programs, which records leave out.
    pub programs: &'a [Arc<[model::ops::Op]>],
    /// The step function.
    pub stepper: Stepper,
    /// The visited-set key ([`crate::frontier::Key`]).
    pub key: crate::frontier::Key,
    /// The key's incremental form, when it has one
    /// ([`crate::fingerprint::incremental_key`]): each successor's key is computed from its
    /// parent's parts ([`Parts::fingerprint_after`]).
    pub incremental: Option<IncrementalKey>,
    /// Whether to keep each state for a probe.
    pub keep: bool,
}

/// What one thread reuses from record to record: the fingerprints it encoded so far in the
/// batch, and two scratch states with their observers whose buffers each record's decoding
/// and each successor's copy write over instead of allocating anew.
#[derive(Default)]
struct Worker {
    met: Visited,
    /// The state being expanded, decoded over the one before ([`restore_into`]).
    parent: Option<(State, Observer)>,
    /// The successor being stepped, copied over the one before ([`Codec::copy_from`], or
    /// [`Codec::copy_marked_from`] when `child_of_parent`).
    child: Option<(State, Observer)>,
    /// Whether `child` is a successor of the present `parent` (stepped from a copy of it), so
    /// the next copy may skip its unmarked parts ([`Codec::copy_marked_from`]).
    child_of_parent: bool,
}

/// Whether [`expand`] decodes and copies each state anew ([`expand_fresh`], the slow twin)
/// instead of over the thread's scratch states. Process-wide: a test that sets it runs alone
/// in its test binary.
static FRESH_STATES: AtomicBool = AtomicBool::new(false);

/// Makes every expansion from now on decode and clone fresh states (`true`, the slow twin)
/// or reuse the thread's scratch states (`false`, the default): only for the twin tests,
/// with no search running.
#[doc(hidden)]
pub fn use_fresh_states_for_tests(fresh: bool) {
    FRESH_STATES.store(fresh, Ordering::Relaxed);
}

/// Decodes `raw` over the thread's scratch parent and expands it as [`expand_fresh`] does
/// (the same steps, checks, fingerprints and bytes, in the same order): each successor but
/// the last is copied over the scratch child, the last is stepped in place on the parent
/// (unless the state is kept for a probe).
fn expand(raw: &[u8], cx: Context<'_>, visited: &FingerprintSet, w: &mut Worker) -> Expanded {
    if FRESH_STATES.load(Ordering::Relaxed) {
        return expand_fresh(raw, cx, visited, w);
    }
    let Worker {
        met,
        parent,
        child,
        child_of_parent,
    } = w;
    *child_of_parent = false;
    let id = match parent {
        Some(p) => restore_into(raw, cx.programs, p),
        None => {
            let (id, state, observer) = restore(raw, cx.programs);
            *parent = Some((state, observer));
            id
        }
    };
    let parent = parent.as_mut().expect("decoded above");
    let mut out = start(id, &parent.0, &parent.1);
    let parts = (cx.incremental.is_some() && out.runnable.len() >= INCREMENTAL_MIN_SUCCESSORS)
        .then(|| Parts::of(&parent.0));
    let n = out.runnable.len();
    for i in 0..n {
        let pair = if i + 1 == n && !cx.keep {
            &mut *parent
        } else {
            copy_over(child, parent, std::mem::replace(child_of_parent, true))
        };
        let stepped = Stepped {
            task: out.runnable[i],
            parts: parts.as_ref(),
        };
        let successor = step(cx, pair, stepped, (visited, met), &mut out.bytes);
        out.successors.push(successor);
    }
    out.state = cx.keep.then(|| parent.0.clone());
    out
}

/// `parent` copied over `child` (cloned the first time); the copy. When `child` is a
/// successor of `parent` (`stepped_from`), its state's unmarked parts, which no step wrote
/// since it was copied from `parent`, are left as they are ([`Codec::copy_marked_from`]).
fn copy_over<'c>(
    child: &'c mut Option<(State, Observer)>,
    parent: &(State, Observer),
    stepped_from: bool,
) -> &'c mut (State, Observer) {
    match child {
        Some(c) => {
            if stepped_from {
                c.0.copy_marked_from(&parent.0);
            } else {
                c.0.copy_from(&parent.0);
            }
            c.1.copy_from(&parent.1);
            c
        }
        None => child.insert(parent.clone()),
    }
}

/// An expansion of state `id` before its successors: its runnable tasks and, when none,
/// its end verdict.
fn start(id: u32, state: &State, observer: &Observer) -> Expanded {
    let runnable = exec::runnable(state);
    let runnable_len = runnable.len();
    let end = runnable
        .is_empty()
        .then(|| observer.at_end(state, &ending(state)).err())
        .flatten();
    Expanded {
        id,
        state: None,
        successors: Vec::with_capacity(runnable_len),
        runnable,
        end,
        bytes: Vec::with_capacity(runnable_len * BODY_BYTES_HINT),
    }
}

/// The step taken for one successor: its task, and the parent's parts when the key is
/// incremental.
struct Stepped<'p> {
    task: Task,
    parts: Option<&'p Parts>,
}

/// Steps `next` (with its observer) by the task, checks it, and fingerprints it; a fresh
/// one (not in `visited`, not yet `met`) is encoded at the end of `bytes`, its programs
/// stripped first.
fn step(
    cx: Context<'_>,
    (next, watch): &mut (State, Observer),
    stepped: Stepped<'_>,
    (visited, met): (&FingerprintSet, &mut Visited),
    bytes: &mut Vec<u8>,
) -> Successor {
    let checked = apply(cx.stepper, next, stepped.task, Trace::Off)
        .and_then(|event| watch.after_step(next, &event.expect("runnable")));
    match checked {
        Err(v) => Successor::Broken(v),
        Ok(()) => {
            let fp = key(cx, stepped.parts, next, watch);
            if visited.contains(fp) || !met.insert(fp) {
                Successor::Known(fp)
            } else {
                strip_programs(next);
                let from = bytes.len();
                *bytes = append_body(next, watch, std::mem::take(bytes));
                Successor::Fresh(fp, from..bytes.len())
            }
        }
    }
}

/// [`expand`]'s slow twin, decoding and cloning fresh states. Decodes `raw` and expands it:
/// its end verdict, and each runnable task's successor. A successor is encoded unless
/// `visited` (before the batch) holds it or it was already met (in `w.met`, the fingerprints
/// this thread encoded earlier in the batch, which the merge meets, and inserts, before this
/// one). The same steps and checks as the one-state-at-a-time search's expansion, in the
/// same order. Under a key with an incremental form (the unreduced one and the symmetry
/// one), a parent with [`INCREMENTAL_MIN_SUCCESSORS`] or more successors has its parts hashed
/// once and each successor's key rehashes only what its step marked (and, under symmetry,
/// what holds an identifier).
fn expand_fresh(raw: &[u8], cx: Context<'_>, visited: &FingerprintSet, w: &mut Worker) -> Expanded {
    let (id, state, observer) = restore(raw, cx.programs);
    let mut out = start(id, &state, &observer);
    let runnable_len = out.runnable.len();
    let incremental = cx.incremental.is_some() && runnable_len >= INCREMENTAL_MIN_SUCCESSORS;
    let parts = incremental.then(|| Parts::of(&state));
    let mut pair = Some((state, observer));
    for i in 0..out.runnable.len() {
        let last = i + 1 == out.runnable.len() && !cx.keep;
        let (mut next, mut watch) = if last {
            pair.take().expect("the last task takes it")
        } else {
            let (state, observer) = pair.as_ref().expect("kept until the last task");
            (state.clone(), observer.clone())
        };
        let task = out.runnable[i];
        let checked = apply(cx.stepper, &mut next, task, Trace::Off)
            .and_then(|event| watch.after_step(&next, &event.expect("runnable")));
        let successor = match checked {
            Err(v) => Successor::Broken(v),
            Ok(()) => {
                let fp = key(cx, parts.as_ref(), &next, &watch);
                if visited.contains(fp) || !w.met.insert(fp) {
                    Successor::Known(fp)
                } else {
                    strip_programs(&mut next);
                    let from = out.bytes.len();
                    out.bytes = append_body(&next, &watch, std::mem::take(&mut out.bytes));
                    Successor::Fresh(fp, from..out.bytes.len())
                }
            }
        };
        out.successors.push(successor);
    }
    out.state = pair.map(|(state, _)| state).filter(|_| cx.keep);
    out
}

/// The visited-set key of `next`: from its parent's `parts` and the step's mark when given
/// (by the key's incremental form, the same value as `cx.key`), else `cx.key`.
fn key(cx: Context<'_>, parts: Option<&Parts>, next: &State, watch: &Observer) -> u64 {
    match (parts, cx.incremental) {
        (Some(parts), Some(after)) => after(parts, next, watch, next.touched()),
        _ => (cx.key)(next, watch),
    }
}

/// One batch handed to the pool: its records, the visited set before it (read only, given
/// back with the batch), and the next grain to take.
struct Job<'a> {
    batch: Batch,
    visited: FingerprintSet,
    cx: Context<'a>,
    next: AtomicUsize,
}

/// Grains of `job` expanded by one thread ([`expand`]), taken one at a time until none is
/// left: per grain, its position and its records expanded in order.
fn work(job: &Job<'_>, w: &mut Worker) -> Vec<(usize, Vec<Expanded>)> {
    let mut done = Vec::new();
    // A thread takes its grains in queue order, so what it encoded in an earlier grain of
    // the batch the merge meets first: the met fingerprints last the whole batch.
    w.met.clear();
    loop {
        let grain = job.next.fetch_add(1, Ordering::Relaxed);
        let from = grain * GRAIN;
        let (raws, n) = &job.batch;
        if from >= *n {
            return done;
        }
        let expanded = raws[from..(from + GRAIN).min(*n)]
            .iter()
            .map(|raw| expand(raw, job.cx, &job.visited, w))
            .collect();
        done.push((grain, expanded));
    }
}

/// The threads of one search: `jobs - 1` helpers, started once and fed batch after batch,
/// and the calling thread, which expands its share of each batch too.
pub struct Pool<'a> {
    helpers: Vec<Sender<Arc<Job<'a>>>>,
    results: Receiver<Vec<(usize, Vec<Expanded>)>>,
    own: Worker,
}

impl<'a> Pool<'a> {
    /// Starts `jobs - 1` helper threads in `scope`; they end when the pool is dropped.
    pub fn start<'scope>(scope: &'scope std::thread::Scope<'scope, '_>, jobs: usize) -> Pool<'a>
    where
        'a: 'scope,
    {
        let (done, results) = channel();
        let helpers = (1..jobs.max(1))
            .map(|_| {
                let (feed, jobs) = channel::<Arc<Job<'a>>>();
                let done = done.clone();
                scope.spawn(move || {
                    let mut w = Worker::default();
                    for job in jobs {
                        let expanded = work(&job, &mut w);
                        // The batch goes back to the caller only once every thread let go.
                        drop(job);
                        if done.send(expanded).is_err() {
                            return;
                        }
                    }
                });
                feed
            })
            .collect();
        Pool {
            helpers,
            results,
            own: Worker::default(),
        }
    }

    /// Expands every record of `batch` (`expand`) on the pool's threads; the results in
    /// the batch's order, and the batch and `visited` given back.
    pub fn expand(
        &mut self,
        batch: Batch,
        visited: FingerprintSet,
        cx: Context<'a>,
    ) -> (Vec<Expanded>, Batch, FingerprintSet) {
        let grains = batch.1.div_ceil(GRAIN);
        let job = Arc::new(Job {
            batch,
            visited,
            cx,
            next: AtomicUsize::new(0),
        });
        let helpers = if grains > 1 {
            self.helpers.as_slice()
        } else {
            &[]
        };
        for helper in helpers {
            helper.send(Arc::clone(&job)).expect("a helper thread");
        }
        let mut slots: Vec<Vec<Expanded>> = (0..grains).map(|_| Vec::new()).collect();
        let mut place = |done: Vec<(usize, Vec<Expanded>)>| {
            for (at, expanded) in done {
                slots[at] = expanded;
            }
        };
        place(work(&job, &mut self.own));
        for _ in helpers {
            place(self.results.recv().expect("an expanding thread"));
        }
        let job = Arc::into_inner(job).expect("every helper let go of the batch");
        let expanded = slots.into_iter().flatten().collect();
        (expanded, job.batch, job.visited)
    }
}

/// Threads when `--jobs` is not given: as many as the machine has cores. The hunt, coverage,
/// matrix and search commands all take this one default.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
