//! The exposure check against its slow twin: `contents::check_exposure` (each offset once,
//! a block at a time, zeros not judged) and `contents::check_exposure_cached` (offsets that
//! passed at earlier states of the walk taken as judged, forgotten when what the check reads
//! of the history changes, or only those judged on a write's data when only the writes
//! change) give the same result as `contents::check_exposure_simple` (`Ok`,
//! or a violation with the same oracle, actors and message, which names the first offending
//! offset) on every state of [`WALK_SEEDS`] random walks of every example scenario and
//! corpus entry, and of each entry's stored schedule. Each walk is judged by an observer
//! that checks everything after every step ([`Checking::Every`]) and stops at its first
//! violation; the state it stops at is compared too, so the states where the exposure check
//! fails (the stale-exposure entries of the corpus reach them) are among those compared,
//! and the test requires some.

mod common;

use model::exec::{Task, Trace};
use model::state::State;
use sim::engine::{Chooser, RandomWalk, ScheduleThenFirst};
use sim::oracle::contents::{
    PassedOffsets, check_exposure, check_exposure_cached, check_exposure_simple, tag_bit,
};
use sim::oracle::history::History;
use sim::oracle::{Checking, Observer};

/// Random-walk seeds per example scenario and corpus entry.
const WALK_SEEDS: u64 = 200;
/// Steps per walk at most (the examples that loop are left out by `examples_and_corpus`).
const WALK_STEPS_MAX: usize = 400;

/// What the exposure check reads of the history, in words: of each write (by tag) its file,
/// actor, start, range and completion; and apart (a verdict on a value that is not a write's
/// data reads only these) the epoch (and with it the prior contents), the truncates and
/// punches, and where a failed bio's data did not land.
fn exposure_inputs(h: &History) -> (Vec<(u8, String)>, String) {
    let writes: Vec<_> = (h.writes.iter())
        .map(|(&t, w)| {
            let inputs = (w.inode, w.actor, w.start, w.range, w.completed);
            (t, format!("{inputs:?}"))
        })
        .collect();
    let failed: Vec<_> = h.failed.keys().collect();
    let rest = format!(
        "{} {} {:?} {failed:?}",
        h.block_bits, h.epoch, h.zero_makers
    );
    (writes, rest)
}

/// The walk's offsets that passed, kept while the history's inputs to the exposure check
/// stay the same, and those judged on no changed write's data while only some writes change
/// (as the observer's memo keeps them).
struct Passed {
    offsets: PassedOffsets,
    inputs: (Vec<(u8, String)>, String),
}

/// The three forms' results on `state` agree; whether the exposure check fails there.
fn compare(h: &History, state: &State, passed: &mut Passed, what: &str) -> bool {
    let simple = check_exposure_simple(h, state);
    assert_eq!(check_exposure(h, state), simple, "{what}");
    let inputs = exposure_inputs(h);
    if inputs.1 != passed.inputs.1 || inputs.0.len() != passed.inputs.0.len() {
        passed.offsets.clear();
    } else {
        let changed = (inputs.0.iter().zip(&passed.inputs.0))
            .filter(|(now, then)| now != then)
            .fold(0, |mask, (now, then)| {
                mask | tag_bit(now.0) | tag_bit(then.0)
            });
        passed.offsets.forget_tags(changed);
    }
    passed.inputs = inputs;
    let cached = check_exposure_cached(h, state, Some(&mut passed.offsets));
    assert_eq!(cached, simple, "{what}, with the walk's passed offsets");
    simple.is_err()
}

/// Walks `initial` with `chooser` under a checking-everything observer, comparing the three
/// forms on every state; `(states compared, states where the check fails)`.
fn walk(initial: &State, chooser: &mut dyn Chooser, what: &str) -> (usize, usize) {
    let mut state = initial.clone();
    let mut observer = Observer::checking(&state, Checking::Every);
    let mut passed = Passed {
        offsets: PassedOffsets::default(),
        inputs: (Vec::new(), String::new()),
    };
    let failed = compare(observer.history(), &state, &mut passed, what);
    let mut counts = (1, usize::from(failed));
    for step in 0..WALK_STEPS_MAX {
        let runnable = model::exec::runnable(&state);
        if runnable.is_empty() {
            break;
        }
        let task = chooser.choose(&state, &runnable);
        let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            model::exec::step_with(&mut state, task, Trace::Off)
        }));
        let Ok(Ok(event)) = stepped else { break };
        let verdict = observer.after_step(&state, &event);
        let at = format!("{what}, step {step}");
        counts.0 += 1;
        counts.1 += usize::from(compare(observer.history(), &state, &mut passed, &at));
        if verdict.is_err() {
            break;
        }
    }
    counts
}

#[test]
fn check_exposure_agrees_with_its_simple_twin() {
    let (mut states, mut failing) = (0, 0);
    for (path, initial, schedule) in common::examples_and_corpus() {
        let name = path.display().to_string();
        let mut choosers: Vec<(String, Box<dyn Chooser>)> = (0..WALK_SEEDS)
            .map(|s| {
                let chooser: Box<dyn Chooser> = Box::new(RandomWalk::new(s));
                (format!("{name}, seed {s}"), chooser)
            })
            .collect();
        if let Some(schedule) = schedule {
            let schedule: Vec<Task> = schedule;
            choosers.push((
                format!("{name}, stored schedule"),
                Box::new(ScheduleThenFirst::new(schedule)),
            ));
        }
        for (what, mut chooser) in choosers {
            let (s, f) = walk(&initial, chooser.as_mut(), &what);
            states += s;
            failing += f;
        }
    }
    assert!(states > 10_000, "{states} states compared");
    assert!(failing > 0, "no state where the exposure check fails");
    println!("{states} states compared, {failing} where the exposure check fails");
}

/// Random walks of `canonical.toml` searched for states showing a write's data.
const PLANT_SEEDS: u64 = 50;

/// Forgetting the offsets judged on a write's data matters: on a state of a walk of
/// `canonical.toml` that passes and shows write `t`'s data, a history in which `t`'s range
/// no longer covers its data (as only the writes changed) fails the check; with the walk's
/// passed offsets after `forget_tags` the cached check says the same as the simple one,
/// and with them kept it would not.
#[test]
fn forgetting_writes_rejudges_their_data() {
    let initial = common::canonical_state();
    let mut planted = 0;
    for seed in 0..PLANT_SEEDS {
        common::each_passing_state(&initial, (seed, WALK_STEPS_MAX), &mut |history, state| {
            planted += usize::from(plant(history, state));
        });
    }
    assert!(planted > 0, "no state showed a write's data");
}

/// The comparison of [`forgetting_writes_rejudges_their_data`] on one state; whether it
/// showed a write's data.
fn plant(h: &History, state: &State) -> bool {
    let g = state.geometry;
    let shown = (0..state.inodes[0].i_size)
        .step_by(g.sectorsize() as usize)
        .find_map(|s| match sim::oracle::visible(state, 0, s) {
            model::state::Data::Write(t) => Some(t),
            _ => None,
        });
    let Some(tag) = shown else { return false };
    let mut passed = PassedOffsets::default();
    assert_eq!(check_exposure_cached(h, state, Some(&mut passed)), Ok(()));
    let mut moved = h.clone();
    moved.writes.get_mut(&tag).expect("the write").range = Some((0, 0));
    let simple = check_exposure_simple(&moved, state);
    assert!(simple.is_err(), "write {tag}'s data from elsewhere passed");
    let mut kept = passed.clone();
    assert_eq!(
        check_exposure_cached(&moved, state, Some(&mut kept)),
        Ok(())
    );
    passed.forget_tags(tag_bit(tag));
    assert_eq!(
        check_exposure_cached(&moved, state, Some(&mut passed)),
        simple
    );
    true
}
