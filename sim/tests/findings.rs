//! Expected violations: 4.4 behaviour the hunt found in the faithful model, each replayed
//! from its schedule and checked to break its oracle. Every case was read against the spec and
//! the trace (README, "What the hunt finds"); the counterexample issue moves them to
//! `corpus/`, shrunk. A change that makes one of them pass is either a modelling error or a
//! model more correct than 4.4: both are wrong.

use model::exec::Task;

/// Replays `schedule` on `initial` and returns the oracle it breaks.
fn oracle_of(initial: &model::state::State, schedule: &str) -> String {
    let tasks: Vec<Task> = model::drive::parse_schedule(schedule).expect("a schedule");
    let run =
        sim::engine::replay(initial, &tasks, model::exec::step).expect("the schedule applies");
    run.violation
        .map_or("none".to_string(), |v| v.oracle.name().to_string())
}

fn swarm(seed: u64) -> model::state::State {
    sim::swarm::generate(seed).0.build().expect("valid")
}

/// AS_EIO reported to the wrong task (durability, swarm seed 4). A writeback bio of an O_SYNC writer's page fails; a punch hole's `filemap_write_and_wait_range` takes `AS_EIO` first (`filemap_check_errors` clears it), so the writer's own `ext4_sync_file` returns success over lost data (spec §2.11, §4.4; errseq_t arrived in 4.13).
#[test]
fn seed_4_as_eio_reported_to_the_wrong_task() {
    let schedule = "a1 a0 a0 a1 a1 a1 a0 a0 a0 a0 a0 a1 a1 a1 a1 a1 a0 e2 a0 a1 a1";
    assert_eq!(oracle_of(&swarm(4), schedule), "durability");
}

/// buffered read caches old data around a DIO (page-cache-coherence, swarm seed 26). A buffered read between `generic_file_direct_write`'s invalidations (for AIO, after the second) caches the disk's old contents; the DIO's data lands under a clean stale page (spec §2.10).
#[test]
fn seed_26_buffered_read_caches_old_data_around_a_dio() {
    let schedule = "a1 a1 a2 a1 a1 a0 a1 a1 a3 a3 a3 b2 a1 a3 a2 a3 a2 a2 a0 a1 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a0 a0 a2 a3 a3 a0 b5 a3 a3 a3 a3 a3 w6 w6 w6 w6 a3 a3 a3 w6 a3 b8 w6";
    assert_eq!(oracle_of(&swarm(26), schedule), "page-cache-coherence");
}

/// an overwrite DIO clears another AIO's i_private (completed-writes-converted, swarm seed 63). The overwrite path writes `i_private` after dropping `i_mutex`: its `ext4_inode_aio_set(inode, NULL)` wipes the io_end a concurrent non-overwrite AIO just set, whose unwritten allocation then sets `EXT4_STATE_DIO_UNWRITTEN` instead of flagging its io_end; the AIO completes and its block stays unwritten (spec §2.3, §2.9 steps 5 and 9).
#[test]
fn seed_63_an_overwrite_dio_clears_another_aios_i_private() {
    let schedule = "a0 a2 a0 a0 a1 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 b2 b3 b4 a0 a0 a0 a0 a1 a0 a0 a1 a0 a1 a1 a1 a0 a1 a1 a1 a1 a1 a2 a2 a1 a2 a1 a2 a1 b6 a1 a1 a2 a1 a2 a2 a2 a2 a1 a1 a2 a1 a1 a1 a2 a1 a1 a2 a1 a1 a1 a2 a1 a2 a1 a1 a2 a1 a1 a1 a1 a2 a1 a2 b9 w12 a1 w12 w12 a1 w12 a1 w12 w12 a1 a1 a1 a1 a1 a1 b13 a1 a2 b15 a2 a2 b14 a2 a2";
    assert_eq!(
        oracle_of(&swarm(63), schedule),
        "completed-writes-converted"
    );
}

/// AS_EIO reported to the wrong task (fsync) (durability, swarm seed 321). The flusher's writeback bio of an O_SYNC buffered write fails; another task's fsync takes `AS_EIO`; the O_SYNC write's own sync returns success (spec §2.11).
#[test]
fn seed_321_as_eio_reported_to_the_wrong_task_fsync() {
    let schedule = "a0 a0 a0 a0 a0 a0 a1 a1 a2 a2 a2 a2 a2 a3 b2 a2 e4 a1 a2 a2";
    assert_eq!(oracle_of(&swarm(321), schedule), "durability");
}

/// ext4_truncate with DIO in flight (block-freeing-exclusion, swarm seed 451). A truncate to the current size has `shrink` (`<=`) but no orphan, so no `inode_dio_wait`, and runs `ext4_truncate` while an AIO DIO is queued (spec §4.4).
#[test]
fn seed_451_ext4_truncate_with_dio_in_flight() {
    let schedule = "a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a0 a0 a0";
    assert_eq!(oracle_of(&swarm(451), schedule), "block-freeing-exclusion");
}

/// ext4_truncate with DIO in flight (blocks freed) (block-freeing-exclusion, swarm seed 702). As above; the blocks `ext4_truncate` frees lie past EOF, not under the queued AIO.
#[test]
fn seed_702_ext4_truncate_with_dio_in_flight_blocks_freed() {
    let schedule = "a0 a0 a0 a0 a0 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a2 a2 a2";
    assert_eq!(oracle_of(&swarm(702), schedule), "block-freeing-exclusion");
}

/// a sub-block AIO's zero bio lands on a sync DIO's data (no-spurious-zeros, swarm seed 2037). An unaligned AIO's tail `dio_zero_block` bio is still in flight when an extending sync DIO (which takes no aio_mutex) writes and completes in the same block; the zeros land last (spec §2.1, §4.6).
#[test]
fn seed_2037_a_sub_block_aios_zero_bio_lands_on_a_sync_dios_data() {
    let schedule = "a1 a1 a1 a1 a1 a2 b2 w3 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 a3 a3 a3 a3 a3 a3 a3 a3 a3 a3 a3 a3 a3 a0 a0 a1 a1 a1 a3 a3 a3 a3 a3 a3 a3 a3 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 b9 b10 b11 a0 a0 a0 a0 a0 a0 a0 a0 a3 b7 b6 w12 w12 w12 a3 a3 a3 a3 a3 a3 a3 b14 w15 a3 a3";
    assert_eq!(oracle_of(&swarm(2037), schedule), "no-spurious-zeros");
}

/// buffered read caches old data around a DIO (AIO) (page-cache-coherence, swarm seed 286). As seed 26, with an AIO: the read after the second invalidation caches zeros of the unwritten block (spec §2.10).
#[test]
fn seed_286_buffered_read_caches_old_data_around_a_dio_aio() {
    let schedule = "a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a0 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 b5 a1 a1 b3 w6 w6 w6";
    assert_eq!(oracle_of(&swarm(286), schedule), "page-cache-coherence");
}

/// a failed zero bio leaves stale data in a new written block (no-stale-exposure, swarm seed 1029). An extending DIO on the indirect path allocates written blocks (CREATE); its head `dio_zero_block` bio fails with -EIO, the write fails, `ext4_truncate_failed_write` keeps the block holding `i_size`, and its unzeroed head reads stale data (spec §2.9).
#[test]
fn seed_1029_a_failed_zero_bio_leaves_stale_data_in_a_new_written_block() {
    let schedule = "a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 e2 e4 a1 b3 e5 a1 a1 a1 a1 a1";
    assert_eq!(oracle_of(&swarm(1029), schedule), "no-stale-exposure");
}

/// The O_DSYNC AIO event before a durable conversion (durability, `examples/unaligned-aio.toml`):
/// the AIO's bios finish after it queued; the worker's `ext4_end_io_dio` is not the last put,
/// so `dio_complete` syncs (nothing to commit) and sends the event while the conversion waits
/// for the submitter's put, uncommitted: a crash reads zeros (spec §2.3).
#[test]
fn o_dsync_aio_event_before_its_conversion_is_durable() {
    let scenario = sim::scenario_file::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/unaligned-aio.toml"
    )));
    let initial = scenario.expect("example loads").build().expect("valid");
    let schedule = format!("{}b3 b4 b5 w6 w6 w6 w6 w6 a1 w6", "a1 ".repeat(17));
    assert_eq!(oracle_of(&initial, &schedule), "durability");
}
