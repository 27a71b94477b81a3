//! Triage of the second patched hunt's classes (helper u1): a buffered write whose data a
//! later write replaced in the page cache is lost with that page when its writeback bio
//! fails, both ways.

use model::exec::{self, Event, StepError, Task, Trace};
use model::state::{Data, State};
use sim::Scenario;
use sim::engine;

/// The second hunt of 4.4.121 + all patches (triage/patched-hunt-2 0001, 0003, 0007): a
/// buffered write (no sync) copies its data to a page, a later buffered write covers the
/// same sectors, and the writeback bio carrying the page fails (0001: its io_end fails,
/// e856f93e0fb2, after the bio of the sector landed). `ext4_finish_bio` sets `PageError`
/// and ends writeback (fs/ext4/page-io.c:62-123), `ext4_end_bio` sets `AS_EIO` (321-331):
/// the disk keeps what it held, and the first write's data, only ever in the page, is lost
/// with the page's. The contents oracles took it for a write the disk must still show.
#[test]
fn a_write_replaced_in_the_page_is_lost_with_the_pages_failed_bio() {
    for n in ["0001", "0003", "0007"] {
        let file = format!(
            "{}/tests/data/allhunt2-{n}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&file).expect("the entry");
        let schedule = text
            .lines()
            .find_map(|l| l.strip_prefix("schedule = \""))
            .and_then(|l| l.strip_suffix('"'))
            .expect("its schedule");
        let state = Scenario::from_corpus(&file)
            .expect("the entry loads")
            .model()
            .build()
            .expect("it builds");
        let schedule = model::drive::parse_schedule(schedule).expect("a schedule");
        let run = engine::replay(&state, &schedule, exec::step_with).expect("the schedule applies");
        assert!(run.violation.is_none(), "{n}: {:?}", run.violation);
    }
}

/// a0 copies [0, 4096) to the page (no sync); a1's O_DSYNC write replaces [0, 2048) and
/// flushes the page; a2's direct write of [2048, 4096) drops the page
/// (`invalidate_inode_pages2_range`), so what the disk holds shows.
const REPLACED: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]
[geometry]
blkbits = 12
sector_bits = 11
page_bits = 12
disk_blocks = 8
[mount]
dioread_nolock = true
bio_errors = true
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 4096 }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 2048, sync = "dsync" }]
[[actors]]
ops = [{ op = "write", pos = 2048, len = 2048, direct = true }]
"#;

/// The legal side: every order of the two writes, with every bio failing or not, leaves
/// no violation of any oracle.
#[test]
fn an_exhaustive_search_of_a_replaced_write_finds_no_violation() {
    Scenario::from_toml(REPLACED)
        .expect("a valid scenario")
        .check()
        .exhaustive()
        .assert_holds();
}

/// a0's O_DSYNC write of [0, 4096) lands (bio 2); a1's O_DSYNC write replaces [0, 2048) in
/// the page and its bio (4) fails: the disk keeps write 1 at 0.
const LANDED: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]
[geometry]
blkbits = 12
sector_bits = 11
page_bits = 12
disk_blocks = 8
[mount]
dioread_nolock = true
bio_errors = true
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 4096, sync = "dsync" }]
[[actors]]
ops = [{ op = "write", pos = 0, len = 2048, sync = "dsync" }]
"#;

const LANDED_SCHEDULE: &str = "a0 a0 a0 a0 a0 b2 a0 a0 a0 a1 a1 a1 a1 a1 e4 a1";

/// Planted: the failed bio takes the disk back to the file's first contents, losing what
/// write 1's own bio landed, and the (clean) page is evicted, so a read sees the disk.
fn failure_loses_landed_data(
    state: &mut State,
    task: Task,
    trace: Trace,
) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    if matches!(task, Task::BioError(_)) {
        state.disk.sectors[0] = Data::Initial { inode: 0, lblk: 0 };
        state.inodes[0].pages.clear();
    }
    Ok(event)
}

/// The oracle still fires: a write whose own bio landed is not lost because a later
/// write's bio to the page failed; the disk must still hold it.
#[test]
fn a_landed_write_is_not_lost_to_a_later_failed_bio() {
    let run = |stepper: engine::Stepper| {
        let state = Scenario::from_toml(LANDED)
            .expect("a valid scenario")
            .model()
            .build()
            .expect("it builds");
        let schedule = model::drive::parse_schedule(LANDED_SCHEDULE).expect("a schedule");
        engine::replay(&state, &schedule, stepper).expect("the schedule applies")
    };
    let legal = run(exec::step_with);
    assert!(legal.violation.is_none(), "{:?}", legal.violation);
    let planted = run(failure_loses_landed_data);
    let v = planted.violation.expect("write 1 is gone from the disk");
    assert_eq!(v.oracle.name(), "lost-write");
}
