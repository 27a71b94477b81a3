//! The DIO path choice, `i_disksize` and punch hole's upstream fixes as patches of the model
//! (helper D's patches): `914f82a32d02` (v4.7), `45d8ec4d9fd5` (v4.17) and `d4f5258eae7b`
//! (v5.15). Each corpus test shows the 4.4 model with the race and the patched model without
//! it, exhaustively (breadth-first over every reachable state, bounded by a state count); the
//! model-level tests step the changed steps one at a time.

use model::fs::ext4::extents::ExtentState;
use model::ops::{DioPath, Frame, WritePc};
use model::patches::{Patch, Patches};
use model::state::State;
use sim::check::Scenario;
use sim::matrix::{Cell, judge};

/// The corpus file of entry `name` (relative to the `sim` crate, as `cargo test` runs).
fn corpus(name: &str) -> String {
    format!("{}/../corpus/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// 0009: an extending sub-block DIO into a preallocated unwritten block converts it at once.
const EXTENDING_INTO_UNWRITTEN: &str =
    "0009-extending-dio-converts-unwritten-before-its-zero-bio-lands.toml";
/// 0013: an extending sub-block DIO into a hole below `i_size` allocates it written.
const EXTENDING_INTO_HOLE: &str =
    "0013-extending-dio-allocates-written-before-its-zero-bio-lands.toml";

/// The entry's class, judged by the matrix, under 4.4 and under `patch` alone.
fn matrix_cells(name: &str, patch: Patch) -> (Cell, Cell) {
    let loaded = sim::corpus::load(std::path::Path::new(&corpus(name))).expect("entry loads");
    (
        judge(&loaded, Patches::NONE),
        judge(&loaded, Patches::NONE.with(patch)),
    )
}

/// Entry `name` shows `oracle` under 4.4 and holds under the patch `id` (exhaustively), and
/// the matrix's cells say the same.
fn assert_closed_by(name: &str, oracle: &str, patch: Patch) -> Scenario {
    let scenario = Scenario::from_corpus(corpus(name)).expect("entry loads");
    scenario.check().exhaustive().assert_violates(oracle);
    scenario
        .with_patch(patch.upstream().id)
        .check()
        .exhaustive()
        .assert_holds();
    assert_eq!(matrix_cells(name, patch), (Cell::Violates, Cell::Holds));
    scenario
}

#[test]
fn dio_refactor_closes_0009_exhaustively() {
    assert_closed_by(
        EXTENDING_INTO_UNWRITTEN,
        "no-stale-exposure",
        Patch::DioRefactor,
    );
}

#[test]
fn dio_refactor_closes_0013_exhaustively() {
    // i_size 2048 ends inside block 0: round_down(2048, 4096) = 0 < i_size, so 4.7 takes
    // ext4_dio_get_block_unwritten_sync for this write, not ext4_dio_get_block.
    assert_closed_by(EXTENDING_INTO_HOLE, "no-stale-exposure", Patch::DioRefactor);
}

/// The initial state of corpus entry `name` with `patches`.
fn build(name: &str, patches: Patches) -> State {
    let scenario = Scenario::from_corpus(corpus(name)).expect("entry loads");
    let mut model = scenario.model().clone();
    model.patches = patches;
    model.build().expect("a valid scenario")
}

/// The initial state of a one-inode, one-actor scenario: the inode's TOML keys and the
/// actor's one operation, with `patches`.
fn build_toml(inode: &str, op: &str, patches: Patches) -> State {
    let text = format!("[[inodes]]\n{inode}\n\n[[actors]]\nops = [{op}]\n");
    let scenario = Scenario::from_toml(&text).expect("a valid scenario");
    let mut model = scenario.model().clone();
    model.patches = patches;
    model.build().expect("builds")
}

/// The write frame of actor `a`.
fn frame(state: &State, a: usize) -> &model::ops::WriteFrame {
    match &state.actors[a].frame {
        Frame::Write(f) => f,
        other => panic!("a{a} runs no write: {other:?}"),
    }
}

/// Steps actor 0, or the first runnable task while it waits (its bios), until its program
/// counter is `pc` (at most `STEPS_MAX` steps).
fn step_to(state: &mut State, pc: WritePc) {
    for _ in 0..model::limits::STEPS_MAX {
        if matches!(&state.actors[0].frame, Frame::Write(f) if f.pc == pc) {
            return;
        }
        let runnable = model::exec::runnable(state);
        let a0 = model::exec::Task::Actor(0);
        let task = if runnable.contains(&a0) {
            a0
        } else {
            *runnable.first().expect("something can step")
        };
        model::exec::step(state, task).expect("a runnable task steps");
    }
    panic!("a0 never reached {pc:?}");
}

#[test]
fn dio_refactor_maps_the_eof_block_unwritten_and_converts_it_after_the_io() {
    // 0013's write: 1 KiB at i_size 2048, block 0 a hole.
    let mut s = build(EXTENDING_INTO_HOLE, Patches::NONE.with(Patch::DioRefactor));
    step_to(&mut s, WritePc::IndBegin);
    assert_eq!(
        frame(&s, 0).path,
        Some(DioPath::Ext),
        "ext4_ext_direct_IO's steps"
    );
    step_to(&mut s, WritePc::ExtBegin);
    assert!(s.inodes[0].orphan, "ext4_orphan_add ran first");
    step_to(&mut s, WritePc::DioZeroTail);
    assert_eq!(
        s.inodes[0].map.pblk(0).map(|(_, state)| state),
        Some(ExtentState::Unwritten),
        "ext4_dio_get_block_unwritten_sync maps the EOF block unwritten"
    );
    step_to(&mut s, WritePc::IndEnd);
    assert_eq!(
        s.inodes[0].map.pblk(0).map(|(_, state)| state),
        Some(ExtentState::Written),
        "converted after the I/O (ret > 0)"
    );
    step_to(&mut s, WritePc::DirectEnd);
    assert!(!s.inodes[0].orphan, "ext4_orphan_del");
    assert_eq!((s.inodes[0].i_size, s.inodes[0].i_disksize), (3072, 3072));

    // 4.4: ext4_ind_direct_IO's ext4_get_block allocates the block written.
    let mut s = build(EXTENDING_INTO_HOLE, Patches::NONE);
    step_to(&mut s, WritePc::IndBegin);
    assert_eq!(frame(&s, 0).path, Some(DioPath::Ind));
    step_to(&mut s, WritePc::DioZeroTail);
    assert_eq!(
        s.inodes[0].map.pblk(0).map(|(_, state)| state),
        Some(ExtentState::Written)
    );
}

#[test]
fn dio_refactor_keeps_written_allocation_for_a_write_wholly_past_eof() {
    // round_down(offset, blocksize) >= i_size: ext4_dio_get_block, as 4.4's
    // ext4_ind_direct_IO, allocates written blocks in 4.7 too.
    let mut s = build_toml(
        "i_size = 4096\nextents = [{ lblk = 0, len = 1, pblk = 0, state = \"written\" }]",
        r#"{ op = "write", pos = 4096, len = 4096, direct = true }"#,
        Patches::NONE.with(Patch::DioRefactor),
    );
    step_to(&mut s, WritePc::IndBegin);
    assert_eq!(frame(&s, 0).path, Some(DioPath::Ind));
    step_to(&mut s, WritePc::DioZeroTail);
    assert_eq!(
        s.inodes[0].map.pblk(1).map(|(_, state)| state),
        Some(ExtentState::Written)
    );
}

#[test]
fn dio_refactor_extending_aio_converts_through_its_io_end() {
    // An extending AIO is synchronous (do_blockdev_direct_IO: is_async false past i_size);
    // with 914f82a32d02 it maps unwritten and its io_end converts the block when the last
    // reference goes, before the size is raised.
    let scenario = Scenario::from_corpus(corpus(EXTENDING_INTO_HOLE)).expect("0013 loads");
    let mut model = scenario.model().clone();
    let model::ops::Op::Write(w) = &mut model.actors[0][0] else {
        panic!("0013's actor writes")
    };
    w.aio = true;
    model.patches = Patches::NONE.with(Patch::DioRefactor);
    let mut s = model.build().expect("builds");
    step_to(&mut s, WritePc::ExtInitIoEnd);
    step_to(&mut s, WritePc::DioZeroTail);
    assert_eq!(
        s.inodes[0].map.pblk(0).map(|(_, state)| state),
        Some(ExtentState::Unwritten)
    );
    step_to(&mut s, WritePc::IndEnd);
    assert_eq!(
        s.inodes[0].map.pblk(0).map(|(_, state)| state),
        Some(ExtentState::Written)
    );
    let aio = Scenario::from_model(model).expect("valid");
    aio.check().exhaustive().assert_holds();
}

/// 0017: a direct write inside `i_size` but past `i_disksize` is committed without the size.
const PAST_DISKSIZE: &str = "0017-dio-inside-i-size-past-i-disksize-lost-at-crash.toml";

#[test]
fn dio_updates_disksize_closes_0017_exhaustively() {
    let scenario = assert_closed_by(PAST_DISKSIZE, "size-rules", Patch::DioUpdatesDisksize);
    // With 914f82a32d02 too (4.17's ext4_direct_IO_write has both): the write maps its block
    // unwritten instead of falling back, and still holds.
    scenario
        .with_patch("45d8ec4d9fd5")
        .with_patch("914f82a32d02")
        .check()
        .exhaustive()
        .assert_holds();
}

/// Runs 0017's buffered write (its first operation) to the end, then steps the direct write
/// to `DirectIo`.
fn past_disksize_at_direct_io(patches: Patches) -> State {
    let mut s = build(PAST_DISKSIZE, patches);
    for _ in 0..model::limits::STEPS_MAX {
        if s.actors[0].op == 1 && matches!(&s.actors[0].frame, Frame::Write(_)) {
            break;
        }
        model::exec::step(&mut s, model::exec::Task::Actor(0)).expect("a0 steps");
    }
    step_to(&mut s, WritePc::DirectIo);
    assert_eq!(
        (s.inodes[0].i_size, s.inodes[0].i_disksize),
        (17408, 0),
        "delalloc: i_disksize waits for writeback"
    );
    s
}

#[test]
fn dio_updates_disksize_sends_a_write_past_i_disksize_through_the_orphan_path() {
    // 4.4: final_size 5120 <= i_size, so ext4_ext_direct_IO; i_disksize stays 0.
    let mut s = past_disksize_at_direct_io(Patches::NONE);
    step_to(&mut s, WritePc::ExtBegin);
    assert_eq!(frame(&s, 0).path, Some(DioPath::Ext));
    step_to(&mut s, WritePc::DirectEnd);
    assert_eq!(s.inodes[0].i_disksize, 0);

    // 45d8ec4d9fd5 in 4.4's shape: final_size > i_disksize sends it to ext4_ind_direct_IO
    // (fs/ext4/inode.c:3218), whose orphan step sets i_disksize = i_size (indirect.c:662-675);
    // its DIO_SKIP_HOLES get_block finds a hole below i_size: -ENOTBLK, buffered fallback.
    let mut s = past_disksize_at_direct_io(Patches::NONE.with(Patch::DioUpdatesDisksize));
    step_to(&mut s, WritePc::IndBegin);
    assert_eq!(frame(&s, 0).path, Some(DioPath::Ind));
    step_to(&mut s, WritePc::DioStart);
    assert!(s.inodes[0].orphan);
    assert_eq!(s.inodes[0].i_disksize, 17408);
    step_to(&mut s, WritePc::DirectEnd);
    assert!(!s.inodes[0].orphan, "ext4_orphan_del");
    assert_eq!(
        frame(&s, 0).dio_ret,
        0,
        "-ENOTBLK: nothing written directly"
    );

    // With 914f82a32d02 as well: ext4_ext_direct_IO's unwritten get_block between the orphan
    // step and the end; the block is allocated, converted, and i_size stays.
    let both = Patches::NONE
        .with(Patch::DioUpdatesDisksize)
        .with(Patch::DioRefactor);
    let mut s = past_disksize_at_direct_io(both);
    step_to(&mut s, WritePc::IndBegin);
    assert_eq!(frame(&s, 0).path, Some(DioPath::Ext));
    step_to(&mut s, WritePc::DirectEnd);
    assert_eq!(
        s.inodes[0].map.pblk(1).map(|(_, state)| state),
        Some(ExtentState::Written)
    );
    assert_eq!((s.inodes[0].i_size, s.inodes[0].i_disksize), (17408, 17408));
    assert!(!s.inodes[0].orphan);
}

/// 0014: a punch drops another punch's zeroed dirty page; until it removes the block a read
/// fills the page cache from the block's old contents.
const PUNCH_REFILL: &str = "0014-punch-drops-a-zeroed-dirty-page-before-removing-the-block.toml";

#[test]
fn invalidate_lock_closes_0014_exhaustively() {
    assert_closed_by(PUNCH_REFILL, "no-stale-exposure", Patch::InvalidateLock);
}

/// 0014's scenario with a third actor: a buffered read of the first `len` bytes.
fn punch_with_reader(len: u64) -> model::scenario::Scenario {
    let scenario = Scenario::from_corpus(corpus(PUNCH_REFILL)).expect("0014 loads");
    let mut model = scenario.model().clone();
    model.actors.push(vec![model::ops::Op::Read {
        inode: 0,
        pos: 0,
        len,
        direct: false,
    }]);
    model
}

/// 0014 with a third actor, a buffered read of the first KiB, after the stored schedule
/// (a1 has just run `truncate_pagecache_range`; its block removal is next).
fn punch_window_with_reader(patches: Patches) -> State {
    let mut model = punch_with_reader(1024);
    model.patches = patches;
    let mut s = model.build().expect("builds");
    let schedule = model::drive::parse_schedule("a0 a0 a0 a1 a0 a0 a0 a1 a1 a1").expect("parses");
    model::drive::run(&mut s, &schedule, false).expect("0014's schedule applies");
    assert!(
        s.inodes[0].pages.is_empty(),
        "the zeroed dirty page was dropped"
    );
    s
}

/// The data actor a2's read returned.
fn read_result(s: &State) -> Vec<model::state::Data> {
    match s.actors[2].results.first() {
        Some(model::ops::OpResult::Read(data)) => data.clone(),
        other => panic!("a2's read did not return: {other:?}"),
    }
}

#[test]
fn invalidate_lock_keeps_a_read_from_refilling_the_page_before_the_blocks_go() {
    use model::exec::{Task, Wait};
    // 4.4: the read runs in the window and caches the block's old contents, which a0's
    // completed punch had zeroed.
    let mut s = punch_window_with_reader(Patches::NONE);
    assert_eq!(model::exec::actor_wait(&s, 2), None);
    model::exec::step(&mut s, Task::Actor(2)).expect("the read steps");
    assert_ne!(read_result(&s)[0], model::state::Data::Zero);

    // d4f5258eae7b: a1 holds invalidate_lock until its blocks are removed; the read, which
    // must bring the page in, waits for it and then reads the hole's zeros.
    let mut s = punch_window_with_reader(Patches::NONE.with(Patch::InvalidateLock));
    assert!(s.inodes[0].invalidate_lock.writer);
    assert_eq!(
        model::exec::actor_wait(&s, 2),
        Some(Wait::InvalidateLock { inode: 0 })
    );
    model::exec::step(&mut s, Task::Actor(1)).expect("a1 removes the blocks");
    assert!(
        !s.inodes[0].invalidate_lock.writer,
        "released after the removal"
    );
    model::exec::step(&mut s, Task::Actor(2)).expect("the read steps");
    assert_eq!(read_result(&s)[0], model::state::Data::Zero);
}

#[test]
fn invalidate_lock_with_a_reader_holds_exhaustively() {
    let with_reader = Scenario::from_model(punch_with_reader(4096)).expect("valid");
    with_reader
        .check()
        .exhaustive()
        .assert_violates("no-stale-exposure");
    with_reader
        .with_patch("d4f5258eae7b")
        .check()
        .exhaustive()
        .assert_holds();
}

#[test]
fn invalidate_lock_is_held_by_a_shrinking_truncate_until_its_blocks_go() {
    let mut s = build_toml(
        "i_size = 8192\nextents = [{ lblk = 0, len = 2, pblk = 0, state = \"written\" }]",
        r#"{ op = "truncate", size = 2048 }"#,
        Patches::NONE.with(Patch::InvalidateLock),
    );
    let mut held_at = Vec::new();
    while let Some(&task) = model::exec::runnable(&s).first() {
        let event = model::exec::step(&mut s, task).expect("steps");
        held_at.push((event.step.clone(), s.inodes[0].invalidate_lock.writer));
    }
    let held: Vec<&str> = held_at
        .iter()
        .filter(|(_, held)| *held)
        .map(|(step, _)| step.as_str())
        .collect();
    assert_eq!(held, ["TruncatePagecache"], "{held_at:?}");
}
