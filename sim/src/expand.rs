//! The parallel half of the compact breadth-first search ([`crate::frontier::bfs`]): a batch
//! of queued records, each decoded, its successors stepped, checked by the oracles,
//! fingerprinted and (when new) encoded, on `jobs` threads. Nothing here writes the search's
//! stores: the visited set is only read, to skip encoding a successor visited before the
//! batch; the merge ([`crate::frontier`]) takes the results in queue order and alone inserts,
//! links and queues, so the search is the same whatever the number of threads. Of successors
//! with one fingerprint, the merge queues the first in queue order; that one is always
//! encoded, and a thread skips encoding the others it meets in its own run of records.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use model::drive::ending;
use model::exec::{self, Task, Trace};
use model::state::State;

use crate::engine::{Stepper, apply};
use crate::fingerprint::Visited;
use crate::frontier::{FingerprintSet, append_body, restore, strip_programs};
use crate::oracle::Violation;

/// Queued states taken and expanded together: the batch the threads share. Fixed, not a
/// multiple of the threads, so the batches (and so everything) are the same for any `jobs`.
pub const BATCH_STATES: usize = 256;
/// Bytes reserved for each successor's encoding (a guess that saves regrowing the buffer:
/// the canonical scenario's states encode to about 540).
const BODY_BYTES_HINT: usize = 768;
/// Records a thread takes from the batch at a time.
const GRAIN: usize = 32;

/// One successor of an expanded state.
#[derive(Debug)]
pub enum Successor {
    /// The step broke an oracle.
    Broken(Violation),
    /// Its fingerprint, visited before the batch or met earlier in it.
    Known(u64),
    /// Its fingerprint and, in [`Expanded::bytes`], its [`append_body`] bytes.
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
    /// The visited fingerprints before the batch (read only).
    pub visited: &'a FingerprintSet,
    /// The step function.
    pub stepper: Stepper,
    /// The visited-set key ([`crate::frontier::Key`]).
    pub key: crate::frontier::Key,
    /// Whether to keep each state for a probe.
    pub keep: bool,
}

/// Decodes `raw` and expands it: its end verdict, and each runnable task's successor. A
/// successor is encoded unless visited before the batch or already `met` (in `met`, the
/// fingerprints of the successors encoded earlier in the same run of records, which the
/// merge meets, and inserts, before this one). The same steps and checks as the
/// one-state-at-a-time search's expansion, in the same order.
pub fn expand(raw: &[u8], cx: Context<'_>, met: &mut Visited) -> Expanded {
    let (id, state, observer) = restore(raw, cx.programs);
    let runnable = exec::runnable(&state);
    let runnable_len = runnable.len();
    let end = runnable
        .is_empty()
        .then(|| observer.at_end(&state, &ending(&state)).err())
        .flatten();
    let mut out = Expanded {
        id,
        state: None,
        runnable,
        end,
        successors: Vec::new(),
        bytes: Vec::with_capacity(runnable_len * BODY_BYTES_HINT),
    };
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
                let fp = (cx.key)(&next, &watch);
                if cx.visited.contains(fp) || !met.insert(fp) {
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

/// The expansion of a batch of records ([`expand`]), in their order, on `jobs` threads;
/// each run of records a thread takes shares one set of met fingerprints.
pub fn expand_all(raws: &[Vec<u8>], cx: Context<'_>, jobs: usize) -> Vec<Expanded> {
    map_ordered((0..raws.len()).collect(), jobs, |run: Vec<usize>| {
        let mut met = Visited::default();
        run.into_iter()
            .map(|i| expand(&raws[i], cx, &mut met))
            .collect()
    })
}

/// `f` of `items`, in their order, on `jobs` threads (the calling one among them): `f` maps
/// a run of consecutive items to as many results; one thread takes all the items, else
/// each thread takes `GRAIN` at a time and the results go back by position.
pub fn map_ordered<T: Send, R: Send>(
    items: Vec<T>,
    jobs: usize,
    f: impl Fn(Vec<T>) -> Vec<R> + Sync,
) -> Vec<R> {
    if jobs <= 1 || items.len() <= GRAIN {
        return f(items);
    }
    let mut grains: Vec<Mutex<Vec<T>>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        grains.push(Mutex::new(items.by_ref().take(GRAIN).collect()));
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let at = next.fetch_add(1, Ordering::Relaxed);
            let Some(grain) = grains.get(at) else {
                return done;
            };
            let taken = std::mem::take(&mut *grain.lock().expect("a grain"));
            done.push((at, f(taken)));
        }
    };
    let mut slots: Vec<Vec<R>> = (0..grains.len()).map(|_| Vec::new()).collect();
    let mut place = |done: Vec<(usize, Vec<R>)>| {
        for (at, results) in done {
            slots[at] = results;
        }
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..jobs).map(|_| scope.spawn(work)).collect();
        place(work());
        for helper in helpers {
            place(helper.join().expect("an expanding thread"));
        }
    });
    slots.into_iter().flatten().collect()
}

/// Threads when `--jobs` is not given: as many as the machine has cores. The hunt, coverage,
/// matrix and search commands all take this one default.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
