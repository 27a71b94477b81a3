//! Helper C's patches, each both ways: the 4.4 model shows the corpus entry's class and the
//! patched model does not, exhaustively; and the step the commit changed, on the entry's own
//! schedule.
//!
//! - `e856f93e0fb2` ext4: do not convert the unwritten extents if data writeback fails
//!   (corpus 0016).

mod common;

use common::corpus_file;
use model::extent::ExtentState;
use model::state::State;
use sim::check::Scenario;

/// `e856f93e0fb2`: `Patch::FailedWritebackConvertsNothing`.
const FAILED_WRITEBACK: &str = "e856f93e0fb2";

/// The entry's scenario with `patch` (none: 4.4.121), after its stored schedule.
fn after_schedule(prefix: &str, patch: Option<&str>) -> State {
    let path = corpus_file(prefix);
    let loaded = sim::corpus::load(&path).expect("the entry loads");
    let scenario = Scenario::from_corpus(&path).expect("the entry's scenario");
    let scenario = match patch {
        Some(id) => scenario.with_patch(id),
        None => scenario,
    };
    let mut state = scenario.model().build().expect("the scenario builds");
    let schedule = model::drive::parse_schedule(&loaded.entry.schedule).expect("a schedule");
    model::drive::run(&mut state, &schedule, false).expect("the stored schedule applies");
    state
}

#[test]
fn failed_writeback_converts_nothing_closes_0016() {
    let scenario = Scenario::from_corpus(corpus_file("0016")).unwrap();
    scenario
        .check()
        .exhaustive()
        .assert_violates("no-stale-exposure");
    scenario
        .with_patch(FAILED_WRITEBACK)
        .check()
        .exhaustive()
        .assert_holds();
}

/// 0016's schedule ends with the conversion work (`w3`) after the failed bio (`e2`): 4.4
/// converts the block the bio never wrote; the patched `ext4_end_io_end` leaves it unwritten
/// and still clears the flag and releases the io_end.
#[test]
fn a_failed_io_end_leaves_its_extent_unwritten() {
    let block = |state: &State| state.inodes[0].map.pblk(0).map(|(_, s)| s);
    let v44 = after_schedule("0016", None);
    assert_eq!(block(&v44), Some(ExtentState::Written));
    let patched = after_schedule("0016", Some(FAILED_WRITEBACK));
    assert_eq!(block(&patched), Some(ExtentState::Unwritten));
    assert!(patched.io_ends.is_empty(), "the io_end is released");
    assert_eq!(patched.inodes[0].i_unwritten, 0, "the flag is cleared");
    assert!(patched.inodes[0].as_eio, "the error still reaches AS_EIO");
}
