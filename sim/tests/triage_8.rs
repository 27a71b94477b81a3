//! Triage of the patched hunt's classes (helper 8): writeback's conversion of an unwritten
//! extent without dioread_nolock puts the inode on the transaction's ordered list, both ways.

use model::exec::{self, Event, StepError, Task, Trace};
use model::state::State;
use sim::Scenario;
use sim::engine;

const ALL: &str = r#"patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]"#;

/// Seed 96179942234654 of the hunt of 4.4.121 + all patches (triage file 0025): an O_DSYNC
/// buffered append of 5120 bytes into preallocated (unwritten) blocks, without
/// dioread_nolock; its sync flush converts blocks 0 and 1 to written
/// (`ext4_ext_convert_to_initialized`) and submits both pages; a commit and a crash.
const CONVERTED: &str = r#"
[geometry]
blkbits = 12
sector_bits = 10
page_bits = 12
disk_blocks = 16
[mount]
dioread_nolock = false
plug_holds_bios = true
[[inodes]]
i_size = 0
extents = [{ lblk = 0, len = 1, pblk = 2, state = "unwritten" }, { lblk = 1, len = 1, pblk = 4, state = "unwritten" }, { lblk = 2, len = 1, pblk = 5, state = "unwritten" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 5120, append = true, sync = "dsync" }]
[[actors]]
ops = [{ op = "commit" }, { op = "crash" }]
"#;

/// The hunt's schedule: the commit record is written while page 1's bio (b3) is in flight.
const SCHEDULE: &str = "a0 a0 a0 a0 a0 a0 a1 b2 w4 w4 w4 w4 a1 a1";

fn scenario(patched: bool) -> Scenario {
    let text = if patched {
        format!("{ALL}\n{CONVERTED}")
    } else {
        CONVERTED.to_string()
    };
    Scenario::from_toml(&text).expect("a valid scenario")
}

fn replay(schedule: &str, stepper: engine::Stepper) -> Result<engine::Execution, usize> {
    let state = scenario(true).model().build().expect("it builds");
    let schedule = model::drive::parse_schedule(schedule).expect("a schedule");
    engine::replay(&state, &schedule, stepper).map_err(|(index, _)| index)
}

/// The 4.4 model before the fix: writeback's conversion left the inode off the ordered list.
fn unordered_conversion(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    state.inodes[0].ordered = false;
    Ok(event)
}

/// The rule: `ext4_ext_handle_unwritten_extents` sets `EXT4_MAP_NEW` after converting
/// (fs/ext4/extents.c:4102-4111), so `ext4_map_blocks` files the inode on the ordered list
/// (fs/ext4/inode.c:667-673): the commit that holds the conversion waits for the data
/// (`journal_finish_inode_data_buffers`). The hunt's schedule no longer applies: the commit
/// waits for b3 at its `Flush` stage.
#[test]
fn writeback_conversion_orders_the_data_before_the_commit() {
    let flushed = replay("a0 a0 a0 a0 a0 a0", exec::step_with).expect("the flush applies");
    assert!(
        flushed.state.inodes[0].ordered,
        "the converting writeback files the inode"
    );
    assert!(flushed.violation.is_none(), "{:?}", flushed.violation);
    let at = replay(SCHEDULE, exec::step_with).expect_err("the commit waits for b3");
    assert_eq!(at, 11, "the commit record (w4's Flush stage) waits");
}

/// The other way: with the conversion left off the ordered list (the old model), the same
/// schedule commits the written extent before its data and `no-stale-exposure` fires after
/// the crash.
#[test]
fn no_stale_exposure_fires_when_the_conversion_is_not_ordered() {
    let planted = replay(SCHEDULE, unordered_conversion).expect("the schedule applies");
    let v = planted.violation.expect("block p4 is exposed stale");
    assert_eq!(v.oracle.name(), "no-stale-exposure");
}

/// The legal side: exhaustive searches of the scenario, with every patch and without,
/// find no violation of any oracle.
#[test]
fn exhaustive_searches_of_the_converting_flush_find_nothing() {
    scenario(true).check().exhaustive().assert_holds();
    scenario(false).check().exhaustive().assert_holds();
}
