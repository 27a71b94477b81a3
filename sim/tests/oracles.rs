//! Every oracle shown both ways. It reports a planted bug by its name: a deliberately broken
//! copy of one model step, here in the test, found by an exhaustive breadth-first search of a
//! small scenario. And the same scenario, on the correct model, is legal: the search explores
//! every reachable state and finds no violation at all.

use model::exec::{self, Event, Pc, StepError, Task, Trace};
use model::fs::ext4::extents::ExtentState;
use model::ops::{CommitPc, Frame, OtherPc, WritePc};
use model::state::{Data, State};
use sim::Scenario;
use sim::engine::{self, Stepper};

/// States a search may visit: every scenario here is far smaller.
const STATES: u64 = 200_000;

fn scenario(toml: &str) -> Scenario {
    Scenario::from_toml(toml).expect("a valid scenario")
}

fn state(toml: &str) -> State {
    scenario(toml).model().build().expect("it builds")
}

/// The oracle a breadth-first search of `toml` under `stepper` breaks first.
fn found(toml: &str, stepper: Stepper) -> String {
    let check = scenario(toml).check().bfs(STATES).stepper(stepper);
    let first = check.run().violation().cloned();
    let first = first.expect("the planted bug is found");
    // A check for that oracle finds it, and its schedule reproduces it.
    let run = check.assert_violates(first.oracle.name());
    let again = engine::replay(&state(toml), &run.schedule, stepper).expect("applies");
    assert_eq!(again.violation.as_ref(), Some(&first));
    first.oracle.name().to_string()
}

/// A breadth-first search of `toml` on the correct model explores everything, finds nothing.
fn legal(toml: &str) {
    let outcome = scenario(toml).check().bfs(STATES).assert_holds();
    assert!(
        outcome.report.states > 5,
        "the scenario has something to explore"
    );
}

/// The step that ran at `pc` for actor `a`.
fn ran(event: &Event, pc: WritePc) -> bool {
    event.pc == Pc::Write(pc)
}

const ONE_BLOCK: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
"#;

// ---------------------------------------------------------------- file contents

const DIO_OVERWRITE: &str = r#"
[[actors]]
ops = [{ op = "write", pos = 0, len = 4096, direct = true }]
"#;

/// `dio_complete` in the submitter zeroes the first sector the write put on disk.
fn zero_after_dio(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::DioDrop) {
        state.disk.sectors[0] = Data::Zero;
    }
    Ok(event)
}

/// `dio_complete` in the submitter puts the old data back in the write's first sector.
fn old_data_after_dio(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::DioDrop) {
        state.disk.sectors[0] = Data::Initial { inode: 0, lblk: 0 };
    }
    Ok(event)
}

#[test]
fn no_spurious_zeros_and_lost_write() {
    let scenario = format!("{ONE_BLOCK}{DIO_OVERWRITE}");
    assert_eq!(found(&scenario, zero_after_dio), "no-spurious-zeros");
    assert_eq!(found(&scenario, old_data_after_dio), "lost-write");
    legal(&scenario);
}

const DIO_INTO_HOLE: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 8192
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 4096, direct = true }]
[[actors]]
ops = [{ op = "read", pos = 4096, len = 4096, direct = true }]
"#;

/// The sync conversion of `ext4_ext_direct_IO` is undone: the block stays unwritten.
fn no_sync_conversion(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::ExtConvertAndEnd) {
        state.inodes[0]
            .map
            .set_state(1, 1, ExtentState::Unwritten, false);
    }
    Ok(event)
}

/// `ext4_ext_map_blocks` maps a hole it allocates written, before the data lands.
fn allocate_written(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::DioMapAlloc) {
        state.inodes[0]
            .map
            .set_state(1, 1, ExtentState::Written, false);
    }
    Ok(event)
}

#[test]
fn completed_writes_converted_and_no_stale_exposure() {
    assert_eq!(
        found(DIO_INTO_HOLE, no_sync_conversion),
        "completed-writes-converted"
    );
    assert_eq!(found(DIO_INTO_HOLE, allocate_written), "no-stale-exposure");
    legal(DIO_INTO_HOLE);
}

const DIO_OVER_CACHED_PAGE: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 4096
cached_pages = [0]
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 4096, direct = true }]
"#;

/// `generic_file_direct_write` invalidates nothing: the pages it dropped come back.
fn no_invalidation(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let before = state.inodes[0].pages.clone();
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::DirectInvalidate) || ran(&event, WritePc::DirectEnd) {
        state.inodes[0].pages = before;
    }
    Ok(event)
}

#[test]
fn page_cache_coherence() {
    assert_eq!(
        found(DIO_OVER_CACHED_PAGE, no_invalidation),
        "page-cache-coherence"
    );
    legal(DIO_OVER_CACHED_PAGE);
}

// ---------------------------------------------------------------- blocks

const AIO_AND_TRUNCATE: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 8192
extents = [{ lblk = 0, len = 2, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 4096, direct = true, aio = true }]
[[actors]]
ops = [{ op = "truncate", size = 0 }]
"#;

/// A shrinking truncate does not sleep in `inode_dio_wait`: it goes on at once.
fn no_dio_wait(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if let (Pc::Other(OtherPc::DioWait), Task::Actor(a)) = (event.pc, task) {
        let actor = &mut state.actors[a as usize];
        actor.sleeping = None;
        if let Frame::Other(f) = &mut actor.frame {
            f.pc = OtherPc::TruncatePagecache;
        }
    }
    Ok(event)
}

const WRITEBACK_INTO_UNWRITTEN: &str = r#"
[geometry]
sector_bits = 10
[mount]
dioread_nolock = true
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "unwritten" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 4096 }, { op = "fsync" }]
"#;

/// Writeback's bio completion frees its block while the conversion is still queued.
fn free_before_conversion(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if event.pc == (Pc::BioEnd { failed: false }) && !state.work.is_empty() {
        for (pblk, len) in state.inodes[0].map.remove(0, 1) {
            state.disk.release(pblk, len);
        }
    }
    Ok(event)
}

#[test]
fn block_freeing_exclusion_under_a_bio_and_a_pending_conversion() {
    assert_eq!(
        found(AIO_AND_TRUNCATE, no_dio_wait),
        "block-freeing-exclusion"
    );
    legal(AIO_AND_TRUNCATE);
    assert_eq!(
        found(WRITEBACK_INTO_UNWRITTEN, free_before_conversion),
        "block-freeing-exclusion"
    );
    legal(WRITEBACK_INTO_UNWRITTEN);
}

// ---------------------------------------------------------------- sync and crash

const ODSYNC_DIO_INTO_HOLE: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 8192
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 4096, direct = true, sync = "dsync" }]
"#;

/// The commit record `generic_write_sync` waits for commits nothing.
fn no_sync_commit(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let committed = state.inodes[0].committed.clone();
    let event = exec::step_with(state, task, trace)?;
    if event.pc == Pc::Commit(CommitPc::Flush) {
        state.inodes[0].committed = committed;
    }
    Ok(event)
}

const EXTENDING_DIO_COMMIT_CRASH: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 4096, direct = true }, { op = "commit" }, { op = "crash" }]
"#;

/// The commit and the crash race the extending write: a commit may switch between the
/// write's `get_block` and its size update, so the write's size is in a later transaction
/// than its block. Legal: the orphan entry (in the first) truncates the block at recovery.
const EXTENDING_DIO_BESIDE_COMMIT_CRASH: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 4096, direct = true }]
[[actors]]
ops = [{ op = "commit" }, { op = "crash" }]
"#;

/// `ext4_ind_direct_IO` raises `i_size` but not `i_disksize` past the old size.
fn no_disksize_update(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::IndEnd) {
        state.inodes[0].i_disksize = 4096;
    }
    Ok(event)
}

#[test]
fn durability_and_the_size_after_a_crash() {
    assert_eq!(found(ODSYNC_DIO_INTO_HOLE, no_sync_commit), "durability");
    legal(ODSYNC_DIO_INTO_HOLE);
    assert_eq!(
        found(EXTENDING_DIO_COMMIT_CRASH, no_disksize_update),
        "size-rules"
    );
    legal(EXTENDING_DIO_COMMIT_CRASH);
    legal(EXTENDING_DIO_BESIDE_COMMIT_CRASH);
}

// ---------------------------------------------------------------- the protocol

const WRITE_PAST_RLIMIT: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 8192, rlimit_fsize = 6144 }]
"#;

/// `generic_write_checks` forgets to truncate the iterator to `RLIMIT_FSIZE`.
fn ignore_rlimit(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    let model::ops::Op::Write(w) = &state.actors[0].program[0] else {
        unreachable!("the scenario's one write")
    };
    let segments = w.segments.clone();
    if ran(&event, WritePc::WriteChecks)
        && let Frame::Write(f) = &mut state.actors[0].frame
    {
        f.iter = model::include::fs::IovIter::new(segments);
    }
    Ok(event)
}

#[test]
fn limits() {
    assert_eq!(found(WRITE_PAST_RLIMIT, ignore_rlimit), "limits");
    legal(WRITE_PAST_RLIMIT);
}

const AIO_INTO_UNWRITTEN: &str = r#"
[geometry]
sector_bits = 10
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "unwritten" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 4096, direct = true, aio = true }]
"#;

/// The io_end an AIO just put in `i_private` is gone by its `get_block`.
fn lose_i_private(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::DioStart) {
        state.inodes[0].i_private = None;
    }
    Ok(event)
}

#[test]
fn single_dio_decision() {
    assert_eq!(
        found(AIO_INTO_UNWRITTEN, lose_i_private),
        "single-dio-decision"
    );
    legal(AIO_INTO_UNWRITTEN);
}

const BUFFERED_WRITE: &str = r#"
[[actors]]
ops = [{ op = "write", pos = 0, len = 1024 }, { op = "stat" }]
"#;

/// `mutex_unlock(&inode->i_mutex)` after `__generic_file_write_iter` is lost.
fn keep_i_mutex(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::IMutexUnlock)
        && let Task::Actor(a) = task
    {
        state.inodes[0].i_mutex = Some(a);
    }
    Ok(event)
}

/// An `i_dio_count` reference leaks.
fn leak_dio_count(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::IMutexUnlock) {
        state.inodes[0].i_dio_count += 1;
    }
    Ok(event)
}

#[test]
fn locks_and_counter_consistency() {
    let scenario = format!("{ONE_BLOCK}{BUFFERED_WRITE}");
    assert_eq!(found(&scenario, keep_i_mutex), "locks");
    assert_eq!(found(&scenario, leak_dio_count), "counter-consistency");
    legal(&scenario);
}

const TWO_APPENDERS: &str = r#"
[[actors]]
ops = [{ op = "write", pos = 0, len = 1024, append = true }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 1024, append = true }]
"#;

/// O_APPEND takes the `i_size` read at the gate, without `i_mutex` (kept, for this broken
/// copy, in a frame field a buffered write does not use).
fn append_at_unlocked_i_size(
    state: &mut State,
    task: Task,
    trace: Trace,
) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    let Task::Actor(a) = task else {
        return Ok(event);
    };
    let i_size = state.inodes[0].i_size;
    if let Frame::Write(f) = &mut state.actors[a as usize].frame {
        if ran(&event, WritePc::Gate) {
            f.dio_end = i_size;
        }
        if ran(&event, WritePc::WriteChecks) {
            f.iocb.ki_pos = f.dio_end;
        }
    }
    Ok(event)
}

#[test]
fn append_placement() {
    let scenario = format!("{ONE_BLOCK}{TWO_APPENDERS}");
    assert_eq!(
        found(&scenario, append_at_unlocked_i_size),
        "append-placement"
    );
    legal(&scenario);
}

/// A counter goes wrong: the model's own assertion (`assert_invariants`) fires on the next
/// step, and the engines report it as a finding with its schedule instead of crashing.
fn corrupt_i_unwritten(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if ran(&event, WritePc::IMutexLock) {
        state.inodes[0].i_unwritten += 1;
    }
    Ok(event)
}

#[test]
fn a_model_assertion_is_a_finding() {
    let scenario = format!("{ONE_BLOCK}{BUFFERED_WRITE}");
    assert_eq!(found(&scenario, corrupt_i_unwritten), "model-assertion");
    let run = engine::execute(
        &state(&scenario),
        &mut engine::RandomWalk::new(1),
        corrupt_i_unwritten,
        true,
    );
    let violation = run.violation.expect("the assertion is reported");
    assert!(
        violation.message.contains("i_unwritten of inode 0"),
        "{violation}"
    );
    // Shrunk like any finding: the stat is not needed.
    let scenario = sim::scenario_file::parse(&scenario).unwrap();
    let shrunk = sim::shrink::shrink(&scenario, "model-assertion", corrupt_i_unwritten)
        .expect("still found");
    assert_eq!(shrunk.scenario.actors[0].len(), 1);
}

/// The limits oracle computes `s_maxbytes` and `s_bitmap_maxbytes` itself: 4.4's values on a
/// 64-bit kernel, the negative bitmap limits included, and the same as the model's for every
/// block size.
#[test]
fn the_limits_oracle_computes_4_4_s_size_limits_itself() {
    use sim::oracle::protocol::{s_bitmap_maxbytes, s_maxbytes};
    let table = [
        (10, true, 4_398_046_510_080, 17_247_252_480),
        (10, false, 2_199_023_254_528, 17_247_252_480),
        (12, true, 17_592_186_040_320, 4_402_345_721_856),
        (12, false, 2_199_023_251_456, 2_194_719_883_264),
    ];
    for (bits, huge, maxbytes, bitmap) in table {
        assert_eq!(s_maxbytes(bits, huge), maxbytes, "{bits} {huge}");
        assert_eq!(s_bitmap_maxbytes(bits, huge), bitmap, "{bits} {huge}");
    }
    // Negative: 64 KiB blocks, and 32 KiB blocks without huge_file.
    assert!(s_bitmap_maxbytes(16, true) < 0 && s_bitmap_maxbytes(16, false) < 0);
    assert!(s_bitmap_maxbytes(15, false) < 0 && s_bitmap_maxbytes(15, true) > 0);
    for bits in 10..=16 {
        for huge in [false, true] {
            assert_eq!(
                s_maxbytes(bits, huge) as u64,
                model::limits::ext4_max_size(bits, huge)
            );
            assert_eq!(
                s_bitmap_maxbytes(bits, huge),
                model::limits::ext4_max_bitmap_size(bits, huge)
            );
        }
    }
}

const AIO_BESIDE_NOLOCK_WRITEBACK: &str = r#"
[geometry]
sector_bits = 10
[mount]
dioread_nolock = true
[[inodes]]
i_size = 8192
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 1024, direct = true, aio = true }]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 4096 }, { op = "writeback" }]
"#;

/// Two 4.4 bugs of the inode-wide `i_private` io_end, found in the model as it is (no
/// planted bug): writeback under dioread_nolock flags the io_end an AIO left in `i_private`
/// after the AIO's `get_block` decided not to defer its completion, which then converts in
/// bio-completion context (`sleep-in-atomic`); and writeback reads that io_end before
/// `ext4_mb_new_blocks` and flags it after the AIO freed it (`use-after-free`).
#[test]
fn sleep_in_atomic_and_use_after_free_of_the_i_private_io_end() {
    let initial = state(AIO_BESIDE_NOLOCK_WRITEBACK);
    for oracle in ["sleep-in-atomic", "use-after-free"] {
        let report = engine::bfs_for(&initial, STATES, exec::step_with, oracle);
        let run = report
            .found
            .unwrap_or_else(|| panic!("{oracle} is reachable"));
        assert_eq!(run.violation.map(|v| v.oracle.name()), Some(oracle));
    }
    // Without dioread_nolock writeback neither reads nor flags i_private: both go.
    let without = AIO_BESIDE_NOLOCK_WRITEBACK.replace("dioread_nolock = true", "");
    legal(&without);
}
