//! The io_end patches (helper B's): `74dae4278546`, `187372a3b9fa` with `74c66bcb7eda`, and
//! `109811c20fb8`. Each is tested both ways: the corpus entry it fixes shows its class on
//! 4.4.121 and, under a breadth-first search of every reachable state, not under the patch;
//! and the step it changes does what the upstream lines do. Every search is bounded by a
//! state count.

mod common;

use common::corpus_file;
use model::patches::{Patch, Patches};
use sim::corpus::{self, Loaded};
use sim::engine;
use sim::matrix::{self, Cell};

/// States a search for an entry's class may visit: far more than any of these scenarios has
/// (the searches below must exhaust them).
const CLASS_STATES: u64 = 2_000_000;

/// The corpus entry whose file name starts with `prefix`.
fn entry(prefix: &str) -> Loaded {
    corpus::load(&corpus_file(prefix)).expect("the corpus entry loads")
}

/// Searches every reachable state of the entry's scenario under `patches` for a violation of
/// the entry's class (its oracle and signature); panics when the search is not exhaustive.
fn class_found(loaded: &Loaded, patches: Patches) -> bool {
    let mut scenario = loaded.scenario.clone();
    scenario.patches = patches;
    let initial = scenario.build().expect("the scenario builds");
    let signature = loaded
        .entry
        .signature
        .clone()
        .expect("a violates entry's class");
    let is_class = |run: &engine::Execution| {
        sim::signature::of(&initial, run, model::exec::step_with).map(|s| s.to_string())
            == Some(signature.clone())
    };
    let report = engine::bfs_where(
        &initial,
        CLASS_STATES,
        model::exec::step_with,
        &loaded.entry.oracle,
        &is_class,
    );
    assert!(
        report.found.is_some() || report.exhausted,
        "the search stopped at {} states before exploring every reachable state",
        report.states
    );
    report.found.is_some()
}

/// The entry shows its class on 4.4.121 and, exhaustively, not under `patch` (with the
/// patches it requires).
fn fixed_by(prefix: &str, patch: Patch) {
    let loaded = entry(prefix);
    assert_eq!(
        matrix::judge(&loaded, Patches::NONE),
        Cell::Violates,
        "{prefix} on 4.4.121"
    );
    assert!(class_found(&loaded, Patches::NONE), "{prefix} on 4.4.121");
    assert!(
        !class_found(&loaded, Patches::NONE.with(patch)),
        "{prefix} under {patch}"
    );
}

#[test]
fn overwrite_dio_leaves_i_private_fixes_0003() {
    fixed_by("0003", Patch::OverwriteDioLeavesIPrivate);
}

/// Steps a task may take in a model-level test before its condition must hold.
const STEP_BOUND: usize = 64;

/// The writer's program counter of actor `a`, if it is inside a write.
fn write_pc(state: &model::state::State, a: u8) -> Option<model::ops::WritePc> {
    match &state.actors[a as usize].frame {
        model::ops::Frame::Write(f) => Some(f.pc),
        _ => None,
    }
}

/// Steps actor `a` until `done` holds (panics past [`STEP_BOUND`] steps).
fn step_until(state: &mut model::state::State, a: u8, done: impl Fn(&model::state::State) -> bool) {
    for _ in 0..STEP_BOUND {
        if done(state) {
            return;
        }
        model::exec::step(state, model::exec::Task::Actor(a)).expect("the actor can step");
    }
    panic!("a{a} did not get there in {STEP_BOUND} steps");
}

/// Corpus 0003's scenario under `patches`, with a1 (the overwrite AIO) at
/// `ExtSetPrivate`, `i_mutex` dropped, and a0 (the unaligned AIO into the unwritten extent)
/// past `ExtInitIoEnd` with its io_end in `i_private`; returns that io_end.
fn overwrite_before_set_private(patches: Patches) -> (model::state::State, u16) {
    let mut scenario = entry("0003").scenario;
    scenario.patches = patches;
    let mut state = scenario.build().expect("the scenario builds");
    use model::ops::WritePc::{DioStart, ExtSetPrivate};
    step_until(&mut state, 1, |s| write_pc(s, 1) == Some(ExtSetPrivate));
    step_until(&mut state, 0, |s| write_pc(s, 0) == Some(DioStart));
    let io_end = state.inodes[0].i_private.expect("a0's io_end in i_private");
    (state, io_end)
}

#[test]
fn an_overwrite_leaves_another_writers_io_end_in_i_private() {
    let step_a1 = |state: &mut model::state::State| {
        model::exec::step(state, model::exec::Task::Actor(1)).expect("a1 steps")
    };
    // 4.4.121: ext4_inode_aio_set(inode, NULL) wipes a0's io_end.
    let (mut state, _) = overwrite_before_set_private(Patches::NONE);
    step_a1(&mut state);
    assert_eq!(state.inodes[0].i_private, None);
    assert_eq!(write_pc(&state, 1), Some(model::ops::WritePc::ExtInitIoEnd));
    // 74dae4278546: the overwrite neither clears i_private nor allocates an io_end.
    let patched = Patches::NONE.with(Patch::OverwriteDioLeavesIPrivate);
    let (mut state, io_end) = overwrite_before_set_private(patched);
    let ends = state.io_ends.len();
    step_a1(&mut state);
    assert_eq!(state.inodes[0].i_private, Some(io_end));
    assert_eq!(write_pc(&state, 1), Some(model::ops::WritePc::DioStart));
    step_a1(&mut state);
    assert_eq!(state.io_ends.len(), ends, "no io_end for the overwrite");
}

#[test]
fn failed_aio_dio_converts_nothing_fixes_0024() {
    fixed_by("0024", Patch::FailedAioDioConvertsNothing);
}

/// Corpus 0024's stored schedule (its data bio fails, its completion runs on the worker)
/// under `patches`, run to the end.
fn failed_aio_dio(patches: Patches) -> model::state::State {
    let loaded = entry("0024");
    let mut scenario = loaded.scenario;
    scenario.patches = patches;
    let mut state = scenario.build().expect("the scenario builds");
    let schedule = model::drive::parse_schedule(&loaded.entry.schedule).expect("a schedule");
    let run = model::drive::run(&mut state, &schedule, true).expect("the schedule applies");
    assert_eq!(run.end, model::drive::End::Done);
    state
}

#[test]
fn a_failed_aio_dio_converts_only_before_74c66bcb7eda() {
    use model::fs::ext4::extents::ExtentState::{Unwritten, Written};
    let block = |state: &model::state::State| state.block_state(0, 0);
    let live_io_ends = |state: &model::state::State| state.inodes[0].i_ioend_count;
    // 4.4.121: end_io is called with the bytes mapped and converts the failed range.
    let state = failed_aio_dio(Patches::NONE);
    assert_eq!(block(&state), Some(Written));
    assert_eq!(live_io_ends(&state), 0);
    // 187372a3b9fa alone: ext4_end_io_dio gets -EIO and returns at once: nothing converts,
    // and the io_end keeps iocb->private's reference for good.
    let state = failed_aio_dio(Patches::NONE.with(Patch::DioAlwaysCallsEndIo));
    assert_eq!(block(&state), Some(Unwritten));
    assert_eq!(live_io_ends(&state), 1);
    assert_eq!(state.inodes[0].i_unwritten, 1);
    // With 74c66bcb7eda: the flag is cleared and the io_end released, unconverted.
    let state = failed_aio_dio(Patches::NONE.with(Patch::FailedAioDioConvertsNothing));
    assert_eq!(block(&state), Some(Unwritten));
    assert_eq!(live_io_ends(&state), 0);
    assert_eq!(state.inodes[0].i_unwritten, 0);
}

#[test]
fn dio_always_calls_end_io_alone_leaks_the_io_end_of_0024() {
    let loaded = entry("0024");
    assert!(!class_found(
        &loaded,
        Patches::NONE.with(Patch::DioAlwaysCallsEndIo)
    ));
    match matrix::judge(&loaded, Patches::NONE.with(Patch::DioAlwaysCallsEndIo)) {
        Cell::Other(class) => assert!(class.starts_with("counter-consistency@"), "{class}"),
        cell => panic!("0024 under 187372a3b9fa alone: {cell:?}"),
    }
}

/// 0010 (`durability`), 0025 (`sleep-in-atomic`), 0026 (`use-after-free`): every class
/// gone under this patch alone; 0003 too (no `i_private` left to wipe).
#[test]
fn io_end_in_b_private_fixes_0010_0025_0026_and_0003() {
    for prefix in ["0010", "0025", "0026", "0003"] {
        fixed_by(prefix, Patch::IoEndInBPrivate);
    }
}

/// Corpus 0010's writer (an O_DSYNC AIO into a hole inside `i_size`) under `patches`, stepped
/// through its `get_block`: its dio's io_end, `i_private`, and whether the completion is
/// deferred.
fn odsync_aio_after_get_block(patches: Patches) -> (Option<u16>, Option<u16>, bool, bool) {
    let mut scenario = entry("0010").scenario;
    scenario.patches = patches;
    let mut state = scenario.build().expect("the scenario builds");
    step_until(&mut state, 0, |s| {
        write_pc(s, 0) == Some(model::ops::WritePc::DioZeroTail)
    });
    let (_, dio) = state.dios.iter().next().expect("the dio");
    let f = match &state.actors[0].frame {
        model::ops::Frame::Write(f) => f.io_end,
        _ => unreachable!("a0 writes"),
    };
    let flagged = dio.private.is_some_and(|e| state.io_ends[&e].unwritten);
    (
        dio.private,
        state.inodes[0].i_private.or(f),
        dio.defer_completion,
        flagged,
    )
}

#[test]
fn the_async_get_block_makes_a_flagged_io_end_in_b_private() {
    // 4.4.121: the io_end was made before the I/O, with a reference of the submitter's, and
    // hangs in i_private, where ext4_ext_map_blocks found and flagged it.
    let (private, inode_io_end, deferred, flagged) = odsync_aio_after_get_block(Patches::NONE);
    assert!(private.is_some() && inode_io_end == private && deferred && flagged);
    // 109811c20fb8: get_block makes it for the unwritten buffer, flags it, defers; the
    // inode and ext4_ext_direct_IO hold nothing.
    let patched = Patches::NONE.with(Patch::IoEndInBPrivate);
    let (private, inode_io_end, deferred, flagged) = odsync_aio_after_get_block(patched);
    assert!(private.is_some() && deferred && flagged);
    assert_eq!(inode_io_end, None);
}
