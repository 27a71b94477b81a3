//! Triage of the patched hunt's classes (helper 10): the rule each fix encodes, both ways.

mod common;

use model::exec::{self, Event, Pc, StepError, Task, Trace};
use model::ops::CompletePc;
use model::ops::OpResult;
use model::state::State;
use sim::Scenario;
use sim::engine;

/// Seed 25963 of the hunt of 4.4.121 + all patches, shrunk (triage file 0031): a1's AIO of
/// [10240, 16384) queues two bios and returns; a2's buffered read caches page 2 (write 1,
/// a0's, at 10240) before they are dispatched. The bio at 10240 lands, the other fails: the
/// AIO's event is -EIO, so its `dio_complete` does not invalidate (`ret > 0` only,
/// 332391a9935d). At rest the clean page holds write 1, the disk write 2.
const FAILED_AIO: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]

[geometry]
blkbits = 12
sector_bits = 11
page_bits = 12
huge_file = true
disk_blocks = 16

[mount]
dioread_nolock = true
sync = false
plug_holds_bios = true
bio_errors = true

[[inodes]]
ino = 12
mapping = "extents"
i_size = 8192
s_sync = false
dio_refused = false
cached_pages = []
extents = [{ lblk = 0, len = 1, pblk = 1, state = "written" }, { lblk = 2, len = 1, pblk = 3, state = "unwritten" }]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 8192, segments = [{ base = 1048576, len = 6144 }], direct = true, aio = true, append = true, sync = "sync", largefile = true },
  { op = "punch_hole", inode = 0, pos = 0, len = 4096 },
]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 10240, segments = [{ base = 1048576, len = 6144 }], direct = true, aio = true, append = false, sync = "sync", largefile = true },
  { op = "read", inode = 0, pos = 4096, len = 4096, direct = true },
]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 10240, segments = [{ base = 1048576, len = 4096 }], direct = true, aio = true, append = true, sync = "none", largefile = true },
  { op = "read", inode = 0, pos = 8192, len = 4096, direct = false },
]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 4096, segments = [{ base = 1048576, len = 2048 }], direct = true, aio = true, append = true, sync = "none", largefile = true },
]
"#;

const FAILED_AIO_SCHEDULE: &str = "a3 a3 a3 a3 a3 a3 a3 a3 a3 a3 a3 a3 a3 b2 b3 a3 a3 a3 a3 a3 a3 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 b7 b5 a0 a0 a0 a0 a0 a0 a0 a0 w8 w8 w8 w8 a0 a0 a0 a0 a0 a0 a0 a0 a0 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 e13 a2 a2 a2 a2 a2 a2 a2 a1 a1 e11 b10 w14 w14 w14 w14 w14 w14 w15 w15 w15 w15 w14 w14 a1 a1 a1 a1";

fn run_failed_aio(stepper: engine::Stepper) -> engine::Execution {
    common::replay_toml(FAILED_AIO, FAILED_AIO_SCHEDULE, stepper)
}

/// Planted: a1's AIO event reports all its bytes, as if no bio of it had failed (the
/// disk is unchanged): its completion then should have dropped the page.
fn aio_reports_success(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if event.pc == Pc::DioComplete(CompletePc::KiComplete)
        && let OpResult::Write { event: Some(e), .. } = &mut state.actors[1].results[0]
    {
        *e = 6144;
    }
    Ok(event)
}

/// `page-cache-coherence` leaves alone a sector whose disk data is that of a queued AIO
/// direct write whose event reported an error: nothing invalidates after a failed direct
/// write. The same run with the AIO reporting success is a violation.
#[test]
fn coherence_excuses_the_landed_data_of_a_failed_aio() {
    let failed = run_failed_aio(exec::step_with);
    assert!(failed.violation.is_none(), "{:?}", failed.violation);
    let planted = run_failed_aio(aio_reports_success);
    let v = planted
        .violation
        .expect("a successful AIO leaves no stale page");
    assert_eq!(v.oracle.name(), "page-cache-coherence");
}

/// A legal scenario of the rule: an AIO of two blocks (two bios, either may fail) beside a
/// buffered read of both, with every patch.
const LEGAL: &str = r#"
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
i_size = 8192
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }, { lblk = 1, len = 1, pblk = 3, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 2048, len = 4096, direct = true, aio = true }]
[[actors]]
ops = [{ op = "read", pos = 0, len = 8192 }]
"#;

/// The legal side: an exhaustive search finds no violation of any oracle.
#[test]
fn exhaustive_search_of_a_failed_aio_beside_a_read_holds() {
    Scenario::from_toml(LEGAL)
        .expect("a valid scenario")
        .check()
        .exhaustive()
        .assert_holds();
}
