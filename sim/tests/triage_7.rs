//! Triage of the patched hunt's classes (helper 7): a truncate or punch that returns without
//! having held `i_mutex` removed nothing (`ext4_punch_hole` returns its flush's error before
//! taking it), both ways.

use model::exec::{self, Event, StepError, Task, Trace};
use model::ops::OpResult;
use model::state::{Data, State};
use sim::Scenario;
use sim::engine;

/// Triage file 0017 of the hunt of 4.4.121 + all patches, shrunk: a0 punches [0, 2048) then
/// appends; a1's O_SYNC buffered write dirties page 1. The punch's
/// `filemap_write_and_wait_range` writes page 1 (a1's), the bio fails and the punch returns
/// `-EIO` before `i_mutex`: block 0 keeps its data.
const FAILED_FLUSH: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]
[geometry]
blkbits = 12
sector_bits = 11
page_bits = 12
disk_blocks = 16
[mount]
dioread_nolock = true
bio_errors = true
[[inodes]]
i_size = 10240
cached_pages = [2]
extents = [{ lblk = 0, len = 1, pblk = 1, state = "written" }, { lblk = 2, len = 1, pblk = 2, state = "written" }]
[[actors]]
ops = [
  { op = "punch_hole", pos = 0, len = 2048 },
  { op = "write", pos = 8192, len = 2048, append = true, sync = "dsync" },
]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 2048, sync = "sync" }]
"#;

/// The stored schedule: a1's writeback bio fails (`e2`), the punch's wait reports it, and
/// a0's append takes `i_mutex`.
const FAILED: &str = "a1 a1 a1 a0 a1 a1 a1 e2 a0 a0";
/// The same with the bio landing: the punch takes `i_mutex` and zeroes [0, 2048).
const LANDED: &str = "a1 a1 a1 a0 a1 a1 a1 b2 a0 a0";

fn run(schedule: &str, exact: bool, stepper: engine::Stepper) -> engine::Execution {
    let state = Scenario::from_toml(FAILED_FLUSH)
        .expect("a valid scenario")
        .model()
        .build()
        .expect("it builds");
    let schedule = model::drive::parse_schedule(schedule).expect("a schedule");
    let replayed = engine::replay(&state, &schedule, stepper).expect("the schedule applies");
    if exact || replayed.violation.is_some() {
        return replayed;
    }
    // Then the first runnable task, to the end.
    let mut chooser = engine::ScheduleThenFirst::new(schedule);
    engine::execute(&state, &mut chooser, stepper, false)
}

/// After the punch returned, page 0 holds block 0's initial data again (a punch whose zeros
/// a later step undid).
fn restore_initial(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if !state.actors[0].results.is_empty()
        && let Some(page) = state.inodes[0].pages.get_mut(&0)
    {
        page.data[0] = Data::Initial { inode: 0, lblk: 0 };
    }
    Ok(event)
}

/// A punch whose flush failed returned `-EIO` before taking `i_mutex` and removed nothing:
/// block 0's data showing afterwards is no violation. A punch that took `i_mutex` and
/// returned still removed its range: the same data back after it is one.
#[test]
fn a_punch_failing_before_i_mutex_removes_nothing() {
    let failed = run(FAILED, true, exec::step_with);
    assert_eq!(failed.state.actors[0].results[0], OpResult::Failed(-5));
    assert!(failed.violation.is_none(), "{:?}", failed.violation);

    let landed = run(LANDED, false, exec::step_with);
    assert_eq!(landed.state.actors[0].results[0], OpResult::Done);
    assert!(landed.violation.is_none(), "{:?}", landed.violation);

    let planted = run(LANDED, false, restore_initial);
    let v = planted
        .violation
        .expect("block 0's data is back after the punch");
    assert_eq!(v.oracle.name(), "no-stale-exposure");
    assert!(v.message.contains("removed"), "{}", v.message);
}

/// The legal side: an exhaustive search of the scenario (every patch, bio errors on) finds
/// no violation of any oracle.
#[test]
fn an_exhaustive_search_of_the_failed_flush_scenario_finds_no_violation() {
    Scenario::from_toml(FAILED_FLUSH)
        .expect("a valid scenario")
        .check()
        .exhaustive()
        .assert_holds();
}

/// Triage file 0032, shrunk: a1's punch of [4096, 10240) flushes a0's buffered write of
/// page 2, whose bio fails; it returns `-EIO` before `i_mutex`, and a1's O_DSYNC direct
/// write follows.
const FAILED_FLUSH_DIO: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]
[geometry]
blkbits = 12
sector_bits = 11
page_bits = 12
disk_blocks = 16
[mount]
dioread_nolock = true
plug_holds_bios = true
bio_errors = true
[[inodes]]
i_size = 12288
extents = [{ lblk = 0, len = 1, pblk = 1, state = "written" }, { lblk = 1, len = 1, pblk = 2, state = "written" }, { lblk = 2, len = 1, pblk = 4, state = "unwritten" }]
[[actors]]
ops = [{ op = "write", pos = 8192, len = 2048 }]
[[actors]]
ops = [
  { op = "punch_hole", pos = 4096, len = 6144 },
  { op = "write", pos = 0, len = 6144, direct = true, sync = "dsync" },
]
"#;

/// The stored schedule of triage file 0032 no longer breaks an oracle, and an exhaustive
/// search of its scenario finds no violation.
#[test]
fn an_exhaustive_search_of_the_failed_flush_dio_scenario_finds_no_violation() {
    let scenario = Scenario::from_toml(FAILED_FLUSH_DIO).expect("a valid scenario");
    let state = scenario.model().build().expect("it builds");
    let schedule =
        model::drive::parse_schedule("a0 a0 a0 a0 a1 a1 e2 w3 a1 a1").expect("a schedule");
    let stored = engine::replay(&state, &schedule, exec::step_with).expect("the schedule applies");
    assert_eq!(stored.state.actors[1].results[0], OpResult::Failed(-5));
    assert!(stored.violation.is_none(), "{:?}", stored.violation);
    scenario.check().exhaustive().assert_holds();
}
