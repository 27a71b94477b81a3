//! Triage of the second patched hunt's classes (helper t2-2): a punch zeroes the partial
//! block of a cached page whose buffer is mapped, whatever the extent's state, both ways.

mod common;

use model::exec::{self, Event, StepError, Task, Trace};
use model::state::State;
use sim::Scenario;
use sim::engine;

/// Seed 94199582396216 of the hunt of 4.4.121 + all patches (triage file 0011 of
/// `triage/patched-hunt-2`): a2's writeback allocates block 2 unwritten (dioread_nolock) for
/// a3's buffered write at 9216 and maps page 2's buffer; its bio fails, so the extent stays
/// unwritten. a1 redirties page 2, then a3's punch of [8192, 10240) zeroes the partial
/// block in the page.
const PUNCH: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]

[geometry]
blkbits = 12
sector_bits = 10
page_bits = 12
huge_file = true
disk_blocks = 16

[mount]
dioread_nolock = true
sync = false
plug_holds_bios = false
bio_errors = true

[[inodes]]
ino = 12
mapping = "extents"
i_size = 9216
s_sync = false
dio_refused = false
cached_pages = []
extents = [{ lblk = 0, len = 1, pblk = 1, state = "written" }, { lblk = 1, len = 1, pblk = 3, state = "unwritten" }]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 4096, segments = [{ base = 1048576, len = 1024 }], direct = false, aio = false, append = false, sync = "sync", largefile = true },
]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 11264, segments = [{ base = 1048576, len = 1024 }], direct = false, aio = false, append = false, sync = "sync", largefile = true },
]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 0, segments = [{ base = 1048576, len = 1024 }], direct = true, aio = false, append = false, sync = "none", largefile = true },
  { op = "writeback", inode = 0 },
]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 9216, segments = [{ base = 1048576, len = 1024 }], direct = false, aio = false, append = false, sync = "none", largefile = true },
  { op = "punch_hole", inode = 0, pos = 8192, len = 2048 },
]
"#;

const SCHEDULE: &str = "a0 a0 a0 a0 a2 a0 a0 b2 w3 a0 a0 a2 w4 w4 w4 w4 a2 a2 a0 a2 a2 a2 a2 a2 a2 a2 e6 a2 a2 a2 a2 a2 a3 a2 a3 a3 a2 a2 e8 w9 a3 a3 a1 a1 a1 a1 a3 a1 a3 a3 a1 b11 a3 w12 a1 a3";

fn replay(stepper: engine::Stepper) -> engine::Execution {
    common::replay_toml(PUNCH, SCHEDULE, stepper)
}

/// The old model: `zero_block_range` skipped any block whose extent was not Written, so
/// the punch left page 2 as it was.
fn skip_unwritten_zeroing(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let pages = state.inodes[0].pages.clone();
    let event = exec::step_with(state, task, trace)?;
    if event
        .notes
        .iter()
        .any(|n| n.contains("zero 8192..10240 in page 2"))
    {
        state.inodes[0].pages = pages;
    }
    Ok(event)
}

/// The rule: `__ext4_block_zero_page_range` looks the block up only for a buffer not
/// already mapped (4.4.121 fs/ext4/inode.c:3500-3508); page 2's buffer was mapped by the
/// failed writeback (whose `ext4_end_io` skipped the conversion), so the punch zeroes
/// [8192, 10240) in the page although the extent is still unwritten, and a read there
/// returns zeros, not the punched write's data.
#[test]
fn punch_zeroes_a_mapped_buffer_over_an_unwritten_extent() {
    let done = replay(exec::step_with);
    assert!(done.violation.is_none(), "{:?}", done.violation);
    let ino = &done.state.inodes[0];
    let page = ino.pages.get(&2).expect("page 2 stays cached");
    assert!(
        page.data[..2]
            .iter()
            .all(|d| *d == model::state::Data::Zero),
        "the hole reads zeros: {:?}",
        page.data
    );
}

/// The other way: without the zeroing (the old model), `no-stale-exposure` fires on the
/// punched write's data at 9216.
#[test]
fn no_stale_exposure_fires_when_the_punch_skips_the_mapped_buffer() {
    let planted = replay(skip_unwritten_zeroing);
    let v = planted.violation.expect("the punched data comes back");
    assert_eq!(v.oracle.name(), "no-stale-exposure");
}

/// The legal side: an exhaustive search (within 150,000 states) of a punch of a partial
/// block racing a buffered write, a writeback whose bio may fail and a redirtying write
/// finds nothing with every patch (4.4.121 alone converts the extent of a failed bio, corpus
/// 0016, which `e856f93e0fb2` fixes).
const RACE: &str = r#"
[geometry]
blkbits = 12
sector_bits = 10
page_bits = 12
disk_blocks = 16
[mount]
dioread_nolock = true
bio_errors = true
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 1, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 5120, len = 1024 }, { op = "writeback" }]
[[actors]]
ops = [{ op = "write", pos = 7168, len = 1024 }]
[[actors]]
ops = [{ op = "punch_hole", pos = 4096, len = 2048 }]
"#;

#[test]
fn searches_of_a_partial_punch_beside_a_failing_writeback_find_nothing() {
    let all = r#"patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]"#;
    let scenario = Scenario::from_toml(&format!("{all}\n{RACE}")).expect("a valid scenario");
    scenario.check().bfs(150_000).assert_holds();
}
