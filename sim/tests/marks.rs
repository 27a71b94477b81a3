//! The slow twin of the step's change mark ([`model::mark`], [`Event::touched`]): the state
//! before and after each step, compared part by part, changes only in parts the mark
//! reports. Over seeded random walks of every example and corpus entry, and each entry's
//! stored schedule; a planted unreported write (made through the test-only backdoor that
//! skips the mark) must be caught; and the mark must leave parts out on most steps (a mark
//! that reports everything would pass the cover check and save nothing).

mod common;

use model::exec::{self, Event, Task, Trace};
use model::mark::Touched;
use model::state::{Data, State};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Random-walk seeds per example scenario.
const SEEDS_EXAMPLE: u64 = 100;
/// Random-walk seeds per corpus entry.
const SEEDS_ENTRY: u64 = 10;
/// Every how many steps of a walk an unreported write is planted (on a copy).
const PLANT_EVERY: usize = 7;
/// Each planted write must be planted at least this often over all walks.
const PLANTED_MIN: usize = 100;
/// Steps checked over all walks, at least.
const STEPS_MIN: u64 = 50_000;

/// The parts that differ between `before` and `after` and that `touched` does not report.
fn uncovered(before: &State, after: &State, touched: Touched) -> Vec<String> {
    let mut out = Vec::new();
    if before.inodes.len() != after.inodes.len() || before.actors.len() != after.actors.len() {
        return vec!["the number of inodes or actors".to_string()];
    }
    for (ix, (b, a)) in before.inodes.iter().zip(&after.inodes).enumerate() {
        if b.pages != a.pages && !touched.pages(ix) {
            out.push(format!("pages of inode {ix}"));
        }
        if b.map != a.map && !touched.map(ix) {
            out.push(format!("block map of inode {ix}"));
        }
    }
    for (n, (b, a)) in before.actors.iter().zip(&after.actors).enumerate() {
        if b != a && !touched.actor(n as u8) {
            out.push(format!("actor a{n}"));
        }
    }
    let parts = [
        (
            before.disk.sectors == after.disk.sectors,
            touched.sectors(),
            "disk sectors",
        ),
        (before.bios == after.bios, touched.bios(), "bios"),
        (
            before.io_ends == after.io_ends,
            touched.io_ends(),
            "io_ends",
        ),
    ];
    for (same, marked, name) in parts {
        if !same && !marked {
            out.push(name.to_string());
        }
    }
    out
}

/// A write the mark does not see: changes one tracked part of `state` through the backdoor
/// (`false` when the state has nothing to change that way); the part's name in [`uncovered`]
/// and whether a mark reports that part.
type Planted = (&'static str, fn(&mut State) -> bool, fn(Touched) -> bool);

const PLANTED: [Planted; 5] = [
    (
        "disk sectors",
        |s| {
            let sectors = s.disk.sectors.unmarked_for_tests();
            sectors[0] = if sectors[0] == Data::Zero {
                Data::Write(u8::MAX)
            } else {
                Data::Zero
            };
            true
        },
        Touched::sectors,
    ),
    (
        "pages of inode 0",
        |s| {
            let pages = s.inodes[0].pages.unmarked_for_tests();
            let Some(page) = pages.values_mut().next() else {
                return false;
            };
            page.dirty ^= 1;
            true
        },
        |t| t.pages(0),
    ),
    (
        "block map of inode 0",
        |s| {
            let map = s.inodes[0].map.unmarked_for_tests();
            map.delayed.insert(u64::from(u32::MAX));
            true
        },
        |t| t.map(0),
    ),
    (
        "actor a0",
        |s| {
            s.actors[0].unmarked_for_tests().fdatawait.push(u64::MAX);
            true
        },
        |t| t.actor(0),
    ),
    (
        "bios",
        |s| {
            let Some(bio) = s.bios.unmarked_for_tests().values_mut().next() else {
                return false;
            };
            bio.zero = !bio.zero;
            true
        },
        Touched::bios,
    ),
];

/// What the walks saw.
#[derive(Default)]
struct Tally {
    steps: u64,
    /// Steps whose mark left some part out.
    partial: u64,
    planted: [usize; PLANTED.len()],
}

/// One step of `task` from `state`, checked: the mark covers every change, the state still
/// holds it, and every planted unreported write (on copies, every [`PLANT_EVERY`] steps) is
/// caught. `None` when the model panicked (the walk ends there).
fn checked_step(state: &mut State, task: Task, tally: &mut Tally, what: &str) -> Option<Event> {
    let before = state.clone();
    let event = sim::engine::apply(exec::step_with, state, task, Trace::Off)
        .ok()?
        .expect("a runnable task steps");
    let missed = uncovered(&before, state, event.touched);
    assert!(
        missed.is_empty(),
        "{what}: {task} changed {missed:?} unmarked"
    );
    assert_eq!(state.touched(), event.touched, "{what}: the flags stay set");
    tally.steps += 1;
    tally.partial += u64::from(event.touched != before.touched_all());
    if tally.steps.is_multiple_of(PLANT_EVERY as u64) {
        plant(&before, state, event.touched, tally, what);
    }
    Some(event)
}

/// Plants each unreported write into a copy of `after`, as if the step had made it too: where
/// the step's mark does not report that part, the twin must name it.
fn plant(before: &State, after: &State, touched: Touched, tally: &mut Tally, what: &str) {
    for (count, (part, write, marked)) in tally.planted.iter_mut().zip(PLANTED) {
        let mut broken = after.clone();
        if marked(touched) || !write(&mut broken) {
            continue;
        }
        let missed = uncovered(before, &broken, touched);
        assert!(
            missed.iter().any(|p| p == part),
            "{what}: planted write to {part} not caught ({missed:?})"
        );
        *count += 1;
    }
}

/// What a mark of every part of the state holds: the mark of a copy.
trait AllMarked {
    fn touched_all(&self) -> Touched;
}

impl AllMarked for State {
    fn touched_all(&self) -> Touched {
        self.clone().touched()
    }
}

/// A seeded random walk of `initial` to its end.
fn walk(initial: &State, seed: u64, tally: &mut Tally, what: &str) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = initial.clone();
    for _ in 0..model::limits::STEPS_MAX {
        let runnable = exec::runnable(&state);
        if runnable.is_empty() {
            break;
        }
        let task = runnable[rng.random_range(0..runnable.len())];
        if checked_step(&mut state, task, tally, what).is_none() {
            break;
        }
    }
}

/// A corpus entry's stored schedule, step by step.
fn replay(initial: &State, schedule: &[Task], tally: &mut Tally, what: &str) {
    let mut state = initial.clone();
    for &task in schedule {
        if exec::task_wait(&state, task) != Ok(None) {
            break;
        }
        if checked_step(&mut state, task, tally, what).is_none() {
            break;
        }
    }
}

#[test]
fn the_mark_covers_every_change_and_the_twin_catches_unreported_writes() {
    let mut tally = Tally::default();
    for (path, initial, schedule) in common::examples_and_corpus() {
        let what = path.display().to_string();
        if let Some(schedule) = &schedule {
            replay(&initial, schedule, &mut tally, &what);
        }
        let seeds = if schedule.is_some() {
            SEEDS_ENTRY
        } else {
            SEEDS_EXAMPLE
        };
        for seed in 0..seeds {
            walk(&initial, seed, &mut tally, &what);
        }
    }
    eprintln!(
        "{} steps, {} with a partial mark, planted {:?}",
        tally.steps, tally.partial, tally.planted
    );
    assert!(tally.steps >= STEPS_MIN, "{} steps checked", tally.steps);
    assert!(
        tally.partial * 10 >= tally.steps * 9,
        "the mark reports everything on too many steps: {} of {} partial",
        tally.partial,
        tally.steps
    );
    for ((part, _, _), count) in PLANTED.iter().zip(tally.planted) {
        assert!(
            count >= PLANTED_MIN,
            "write to {part} planted {count} times"
        );
    }
}

#[test]
fn a_copy_and_a_plain_write_mark_a_backdoor_write_does_not() {
    let (_, initial, _) = common::examples_and_corpus()
        .into_iter()
        .next()
        .expect("an example");
    let mut state = initial.clone();
    let all = state.touched();
    assert!(
        all.sectors() && all.bios() && all.io_ends() && all.actor(0) && all.pages(0) && all.map(0),
        "a copy starts marked"
    );
    while state.touched().sectors() {
        let task = exec::runnable(&state)[0];
        exec::step_with(&mut state, task, Trace::Off).expect("steps");
    }
    let mut plain = state.clone();
    plain.clear_touched_for_tests();
    state.disk.sectors.unmarked_for_tests()[0] = Data::Write(u8::MAX);
    assert!(!state.touched().sectors(), "the backdoor marks nothing");
    assert!(!plain.touched().sectors());
    plain.disk.sectors[0] = Data::Write(u8::MAX);
    assert!(plain.touched().sectors(), "a plain write marks");
}
