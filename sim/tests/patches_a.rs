//! The serialization gate's upstream fixes as patches of the model (helper A's patches):
//! `372a03e01853` (v5.1), `e142d05263a4` (v4.6) and `57a0da28ced8` (v5.2). Each test shows
//! the 4.4 model with the race and the patched model without it, exhaustively (breadth-first
//! over every reachable state, bounded by a state count).

use model::patches::{Patch, Patches};
use sim::check::{Inode, Scenario, op};
use sim::matrix::{Cell, judge};

/// The corpus file of entry `name` (relative to the `sim` crate, as `cargo test` runs).
fn corpus(name: &str) -> String {
    format!("{}/../corpus/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// 0007: an unaligned AIO starting at an unaligned `i_size` zeroes a queued unaligned AIO's
/// data in the same block.
const UNALIGNED_PAST_EOF: &str = "0007-extending-unaligned-aio-zeroes-a-queued-aios-data.toml";

#[test]
fn unaligned_aio_aligned_eof_closes_0007_exhaustively() {
    let scenario = Scenario::from_corpus(corpus(UNALIGNED_PAST_EOF)).expect("0007 loads");
    scenario
        .check()
        .exhaustive()
        .assert_violates("no-spurious-zeros");
    assert_gone(&scenario.with_patch("372a03e01853"), "no-spurious-zeros");
    // The matrix's cell: the class is gone; what remains is 0013's class (an extending DIO's
    // written allocation exposed before its zero bio lands, fixed by 914f82a32d02), which
    // the 4.4 model shows in this scenario too.
    scenario
        .check()
        .exhaustive()
        .assert_class(STALE_EXTENDING_DIO);
    let loaded =
        sim::corpus::load(std::path::Path::new(&corpus(UNALIGNED_PAST_EOF))).expect("0007 loads");
    assert_eq!(judge(&loaded, Patches::NONE), Cell::Violates);
    assert_eq!(
        judge(&loaded, Patches::NONE.with(Patch::UnalignedAioAlignedEof)),
        Cell::Other(STALE_EXTENDING_DIO.to_string())
    );
}

/// 0013's race (an extending DIO's written allocation read before its zero bio lands), here
/// by an extending AIO, which `do_blockdev_direct_IO` runs synchronously.
const STALE_EXTENDING_DIO: &str = "no-stale-exposure@ext4_ext_map_blocks | aio-dio";

/// A breadth-first search of every reachable state of `scenario` (up to the exhaustive
/// bound) finds no violation of `oracle`, and it explored everything.
#[track_caller]
fn assert_gone(scenario: &Scenario, oracle: &str) {
    let initial = scenario.model().build().expect("builds");
    let report = sim::engine::bfs_for(
        &initial,
        sim::check::EXHAUSTIVE_STATES,
        model::exec::step_with,
        oracle,
    );
    assert!(
        report.found.is_none(),
        "{oracle} still shows: {:?}",
        report.found.and_then(|run| run.violation)
    );
    assert!(report.exhausted, "stopped at {} states", report.states);
}

/// 4.4's gate reads `i_size` before `i_mutex`. Block 2 is a hole past `i_size` 8192. a0's
/// unaligned AIO at 8192 and a1's at 10240 both pass the gate while they start at or past
/// `i_size`, so neither serializes; then a truncate grows the file to 16384. Now both are
/// inside `i_size` and asynchronous: a0 fills block 2 with an unwritten extent and queues
/// its data and tail zero bios, and a1, which never waited for a0's conversion, maps the
/// same unwritten block as new and zeroes its head, a0's data. With `e142d05263a4` each
/// gate runs under `i_mutex` after `generic_write_checks` and sees the `i_size` its write
/// runs under: no violation of any oracle, in every reachable state.
fn stale_i_size_at_the_gate() -> Scenario {
    Scenario::builder()
        .inode(Inode::new().i_size(8192).written(0, 2, 0))
        .actor([op::write(8192, 1024).direct().aio()])
        .actor([op::write(10240, 1024).direct().aio()])
        .actor([op::truncate(16384)])
        .build()
        .expect("a valid scenario")
}

#[test]
fn i_mutex_gate_closes_the_stale_i_size_race() {
    let scenario = stale_i_size_at_the_gate();
    let run = scenario
        .check()
        .exhaustive()
        .assert_violates("no-spurious-zeros");
    let gates: Vec<String> = run
        .trace
        .iter()
        .filter(|e| e.step == "Gate")
        .flat_map(|e| e.notes.clone())
        .collect();
    assert_eq!(
        gates,
        [
            "i_size_read=8192 serialize=false",
            "i_size_read=8192 serialize=false"
        ]
    );
    scenario
        .with_patch("e142d05263a4")
        .check()
        .exhaustive()
        .assert_holds();
}

/// The commit message's case: "if a unaligned AIO is followed by overlapping aligned AIO we
/// can still end up corrupting data". Block 1 is a hole inside `i_size`. The unaligned AIO
/// (1 KiB at 4096) allocates it unwritten and NEW and is queued with its data bio and a
/// `dio_zero_block` tail bio over [5120, 8192); the aligned AIO over the whole block is not
/// serialized, and its data can land before that zero bio.
fn unaligned_then_aligned(builder: sim::check::ScenarioBuilder, one_submitter: bool) -> Scenario {
    let unaligned = op::write(4096, 1024).direct().aio();
    let aligned = op::write(4096, 4096).direct().aio();
    let builder = builder.inode(Inode::new().i_size(8192).written(0, 1, 0));
    let builder = if one_submitter {
        builder.actor([unaligned, aligned])
    } else {
        builder.actor([unaligned]).actor([aligned])
    };
    builder.build().expect("a valid scenario")
}

/// One task submits the unaligned AIO, then the aligned one: 57a0da28ced8 alone (on the 4.4
/// gate) closes it, with bio-based and with request-based (plugging) devices. With the plug,
/// the unaligned AIO's bios sit on `io_submit`'s plug when it goes to sleep in
/// `ext4_unwritten_wait`; the sleep flushes them (`blk_schedule_flush_plug`), so the wait
/// ends: the exhaustive check would report a sleeper never woken otherwise.
#[test]
fn unwritten_wait_after_queue_closes_unaligned_then_aligned_aio() {
    for builder in [Scenario::builder(), Scenario::builder().plug_holds_bios()] {
        let scenario = unaligned_then_aligned(builder, true);
        let run = scenario
            .check()
            .exhaustive()
            .assert_violates("no-spurious-zeros");
        assert_eq!(
            run.violation.expect("violates").message,
            "inode 0 at 5120 reads zeros, but write 2 (a0) completed last there"
        );
        scenario
            .with_patch("57a0da28ced8")
            .check()
            .exhaustive()
            .assert_holds();
        assert!(
            scenario
                .with_patch("e142d05263a4")
                .check()
                .exhaustive()
                .run()
                .violation()
                .is_some(),
            "e142d05263a4 alone waits before the I/O, not after it"
        );
    }
}

/// Two tasks: the aligned AIO may also go first. Then 4.4's unaligned AIO waits for
/// unwritten extents before it has `i_mutex` (nothing is unwritten yet), and the aligned AIO
/// queues its bio in between: 57a0da28ced8 alone does not close that order, because on the
/// 4.4 gate the wait before the I/O is not under `i_mutex`. 5.2 has e142d05263a4 beneath it;
/// with both, every reachable state holds.
#[test]
fn unwritten_wait_after_queue_with_the_i_mutex_gate_closes_both_orders() {
    let scenario = unaligned_then_aligned(Scenario::builder(), false);
    scenario
        .check()
        .exhaustive()
        .assert_violates("no-spurious-zeros");
    for alone in ["57a0da28ced8", "e142d05263a4"] {
        let run = scenario
            .with_patch(alone)
            .check()
            .exhaustive()
            .assert_violates("no-spurious-zeros");
        let first_queued = run
            .trace
            .iter()
            .find(|e| e.step == "DioDrop" && e.notes.iter().any(|n| n.contains("-EIOCBQUEUED")))
            .map(|e| e.task.to_string());
        // Under 57a0da28ced8 the aligned write (a1) is queued first; under e142d05263a4 the
        // unaligned one (a0), as in 4.4.
        let expected = if alone == "57a0da28ced8" { "a1" } else { "a0" };
        assert_eq!(first_queued.as_deref(), Some(expected), "{alone}");
    }
    scenario
        .with_patch("57a0da28ced8")
        .with_patch("e142d05263a4")
        .check()
        .exhaustive()
        .assert_holds();
}

/// 0008: an O_SYNC buffered write caches a page an AIO then overwrites on disk
/// (page-cache-coherence, fixed by 332391a9935d).
const OSYNC_BUFFERED_BESIDE_AIO: &str =
    "0008-osync-buffered-write-caches-a-page-an-aio-overwrites.toml";

/// The matrix cells of 57a0da28ced8's column that differ from 4.4: 0007 (its class gone,
/// 0013's race left) and 0008, which holds in every reachable state. 0008's AIO is
/// unaligned (2 KiB), so under the patch it keeps `i_mutex` until its own conversion and
/// the buffered write cannot run while its bios are in flight. That is the patch at work on
/// this scenario, not a fix of 0008's class: with an aligned (4 KiB) AIO in its place the
/// class shows under the patch as in 4.4.
#[test]
fn unwritten_wait_after_queue_matrix_cells() {
    let load = |name: &str| {
        sim::corpus::load(std::path::Path::new(&corpus(name))).expect("the entry loads")
    };
    let patch = Patches::NONE.with(Patch::UnwrittenWaitAfterQueue);
    assert_eq!(
        judge(&load(UNALIGNED_PAST_EOF), patch),
        Cell::Other(STALE_EXTENDING_DIO.to_string())
    );
    assert_eq!(judge(&load(OSYNC_BUFFERED_BESIDE_AIO), patch), Cell::Holds);
    // 0008's scenario with both writes of the whole block 0.
    let aligned = Scenario::builder()
        .sector_bits(11)
        .disk_blocks(16)
        .inode(
            Inode::new()
                .i_size(12288)
                .cached_pages([0])
                .unwritten(0, 1, 1)
                .written(2, 1, 2),
        )
        .actor([op::write(0, 4096).direct().aio()])
        .actor([op::write(0, 4096).sync()])
        .build()
        .expect("a valid scenario");
    for scenario in [aligned.clone(), aligned.with_patch("57a0da28ced8")] {
        scenario
            .check()
            .exhaustive()
            .assert_class("page-cache-coherence@aio_complete | aio-dio");
    }
}
