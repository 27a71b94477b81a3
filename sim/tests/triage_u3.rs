//! Triage of the second patched hunt (helper u3): `ext4_writepage` under
//! `journal_submit_data_buffers` judges a page by its buffer_heads, both ways.

mod common;

use model::exec::{self, Event, Pc, StepError, Task, Trace};
use model::ops::CommitPc;
use model::state::State;
use sim::Scenario;
use sim::engine;

/// Seed 274794397892687 of the second hunt of 4.4.121 + all patches, shrunk: a1's O_SYNC
/// write of [4096, 10240) maps page 2's buffer `BH_Unwritten` (lblk 2 is an unwritten
/// extent); a0's O_SYNC write of [0, 6144) flushes pages 0-1, and writeback's conversion of
/// lblk 1 zeroes out lblk 2 and marks it written (`ext4_ext_convert_to_initialized`). The
/// commit a0 starts then meets page 2: its dirty buffer is still `BH_Unwritten`, so
/// `ext4_writepage` redirties it (fs/ext4/inode.c:1912-1926) and a1's own flush writes it
/// through `ext4_writepages`, which raises `i_disksize` to 10240 in transaction 2.
const ZEROED_NEIGHBOUR: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]
[geometry]
blkbits = 12
sector_bits = 11
page_bits = 12
disk_blocks = 16
[[inodes]]
i_size = 0
extents = [{ lblk = 1, len = 1, pblk = 0, state = "unwritten" }, { lblk = 2, len = 1, pblk = 1, state = "unwritten" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 6144, sync = "sync" }]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 6144, sync = "sync" }]
"#;

const SCHEDULE: &str = "a1 a1 a1 a1 a1 a0 a0 a0 a0 a0 a0 b3 b2 a0 a0 w4 w4 w4 a1 b6 a1 a1 w4 a0";

fn run(schedule: &str, stepper: engine::Stepper) -> engine::Execution {
    common::replay_toml(ZEROED_NEIGHBOUR, schedule, stepper)
}

/// Planted: page 2's buffer loses `BH_Unwritten` once its extent is written, as if
/// `ext4_writepage` judged the extent.
fn clear_bh_unwritten(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if event.pc == Pc::Commit(CommitPc::Switch) {
        state.inodes[0]
            .pages
            .get_mut(&2)
            .expect("page 2")
            .bh_unwritten = 0;
    }
    Ok(event)
}

/// The commit's `ext4_writepage` skips the page whose dirty buffer is unwritten: a1's flush
/// writes it and raises `i_disksize`; with the buffer flag planted away the commit writes
/// the page, a1's flush finds it clean, and its O_SYNC write is not durable.
#[test]
fn the_commit_does_not_write_a_page_with_an_unwritten_buffer() {
    let fixed = run(SCHEDULE, exec::step_with);
    assert!(fixed.violation.is_none(), "{:?}", fixed.violation);
    // The hunt's schedule: a1 then waits for transaction 1, which its flush did not touch.
    let planted = run(&format!("{SCHEDULE} a1"), clear_bh_unwritten);
    let v = planted.violation.expect("i_disksize stays at 8192");
    assert_eq!(v.oracle.name(), "durability");
}

/// Every schedule of the scenario holds.
#[test]
fn exhaustive_search_of_the_zeroed_neighbour_finds_nothing() {
    Scenario::from_toml(ZEROED_NEIGHBOUR)
        .expect("a valid scenario")
        .check()
        .exhaustive()
        .assert_holds();
}
