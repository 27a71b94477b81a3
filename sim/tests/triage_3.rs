//! Triage of the patched hunt's classes (helper 3): the rule each fix encodes, both ways.

use model::exec::{self, Event, Pc, StepError, Task};
use model::ops::CompletePc;
use model::state::State;
use sim::Scenario;
use sim::engine;

/// Seed 1037 of the hunt of 4.4.121 + all patches, shrunk: an O_SYNC AIO (a0) overwrites
/// [4096, 5120); a buffered write (a1) dirties pages 0 and 1, then a truncate to 0 sets
/// `i_size` and sleeps in `inode_dio_wait`. The AIO's completion cannot drop the dirty page
/// 1 (`-EBUSY`); its `generic_write_sync` cleans it, writing no block past `i_size`. At
/// `ki_complete` a clean page past `i_size` holds a1's data over a0's on disk.
const PAST_EOF: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]
[geometry]
blkbits = 12
sector_bits = 10
page_bits = 12
disk_blocks = 16
[mount]
dioread_nolock = true
[[inodes]]
i_size = 9216
extents = [{ lblk = 1, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 4096, len = 1024, direct = true, aio = true, sync = "sync" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 5120 }, { op = "truncate", size = 0 }]
"#;

const PAST_EOF_SCHEDULE: &str = "a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a1 a1 a1 a1 a1 a1 a1 a1 a1 b2 w3 w3 w3 w3 w3 w3 w4 w4 w4 w4 w3 w3";

fn run(stepper: engine::Stepper) -> engine::Execution {
    let state = Scenario::from_toml(PAST_EOF)
        .expect("a valid scenario")
        .model()
        .build()
        .expect("it builds");
    let schedule = model::drive::parse_schedule(PAST_EOF_SCHEDULE).expect("a schedule");
    engine::replay(&state, &schedule, stepper).expect("the schedule applies")
}

/// Just before the AIO's `ki_complete`, `i_size` is back at its first value: page 1 is
/// below it.
fn restore_i_size(state: &mut State, task: Task) -> Result<Event, StepError> {
    let event = exec::step(state, task)?;
    if event.pc == Pc::DioComplete(CompletePc::SyncCommitWait) {
        state.inodes[0].i_size = 9216;
    }
    Ok(event)
}

/// `page-cache-coherence` after a direct write judges what a read can return: below
/// `i_size`. Past it (a shrinking truncate waiting for this write) a stale clean page is no
/// violation; the same page below `i_size` is one.
#[test]
fn coherence_after_a_direct_write_judges_below_i_size() {
    let past = run(exec::step);
    assert_eq!(past.state.inodes[0].i_size, 0);
    assert!(past.violation.is_none(), "{:?}", past.violation);
    let below = run(restore_i_size);
    let v = below.violation.expect("the stale page is below i_size");
    assert_eq!(v.oracle.name(), "page-cache-coherence");
}
