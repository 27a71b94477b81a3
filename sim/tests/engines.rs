//! Shuttle and loom on the model (`sim::threaded`): a planted bug is found by each engine, the
//! schedule it reports replays on our simulator (and shuttle's own string on shuttle), the
//! correct model passes, and loom refuses a scenario with more actors than it has threads.
//! Every bound is a count (iterations, a preemption bound), never a time.

mod common;
use model::exec::{self, Event, StepError, Task, Trace};
use model::fs::ext4::super_::{Geometry, Mount};
use model::include::fs::{FileFlags, Segment};
use model::limits::RLIM_INFINITY;
use model::ops::{DioPath, Frame, Op, WriteOp};
use model::scenario::Scenario;
use model::state::{Sleep, State};
use sim::engine::{self, Stepper};
use sim::threaded::{self, ThreadedFailure};

/// Shuttle executions for the correct model.
const SHUTTLE_ITERATIONS: usize = 300;

/// The planted bug: when an extending direct write (`ext4_ind_direct_IO`, the path 4.4 takes
/// for writes past `i_size`) leaves `generic_file_direct_write` ending at EOF, `i_size` (and
/// `i_disksize` with it, to keep the model's invariants) comes out one sector short.
fn lose_last_sector(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    let Task::Actor(a) = task else {
        return Ok(event);
    };
    let actor = &state.actors[a as usize];
    let (Some(Op::Write(w)), Frame::Write(f)) = (actor.program.get(actor.op), &actor.frame) else {
        return Ok(event);
    };
    let extending = f.path == Some(DioPath::Ind) && f.written > 0;
    let sector = state.geometry.sectorsize();
    let inode = &mut state.inodes[w.inode];
    if event.pc.name() == "DirectEnd" && extending && inode.i_size == f.iocb.ki_pos {
        inode.i_size -= sector;
        inode.i_disksize = inode.i_disksize.min(inode.i_size);
    }
    Ok(event)
}

const BROKEN: Stepper = lose_last_sector;
const CORRECT: Stepper = exec::step_with;

/// The same bug, but only while actor 1 has not started yet: some interleavings miss it.
fn lose_last_sector_before_a1(
    state: &mut State,
    task: Task,
    trace: Trace,
) -> Result<Event, StepError> {
    let a1 = &state.actors[1];
    if a1.op > 0 || !matches!(a1.frame, Frame::Idle) {
        return exec::step_with(state, task, trace);
    }
    lose_last_sector(state, task, trace)
}

/// A lost wakeup: actor 1, if it has not started when actor 0 takes its first step, goes to
/// sleep on `ioend_wq[12]` and nobody ever wakes it. The model gets stuck.
fn put_a1_to_sleep(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    let a1 = &mut state.actors[1];
    if event.pc.name() == "Gate" && a1.op == 0 && matches!(a1.frame, Frame::Idle) {
        a1.sleeping = Some(Sleep::IoendWq(12));
    }
    Ok(event)
}

/// One inode (ino 12) of one written block, `i_size` 4096, and these actors.
fn scenario(actors: Vec<Vec<Op>>) -> State {
    let inode = common::one_block_inode();
    Scenario {
        geometry: Geometry::SMALL,
        mount: Mount::default(),
        inodes: vec![inode],
        actors,
        patches: model::patches::Patches::NONE,
    }
    .build()
    .expect("the scenario builds")
}

/// A synchronous (not AIO) O_DIRECT write of 4096 bytes at 4096: it extends the file.
fn extending_write() -> Op {
    Op::Write(WriteOp {
        inode: 0,
        pos: 4096,
        segments: vec![Segment {
            base: 0x10_0000,
            len: 4096,
        }],
        file: FileFlags {
            o_direct: true,
            o_append: false,
            o_sync: false,
            o_dsync: false,
            o_largefile: true,
        },
        aio: false,
        rlimit_fsize: RLIM_INFINITY,
        tag: 0,
    })
}

/// The extending writer (a0) and a `stat` (a1).
fn writer_and_stat() -> State {
    scenario(vec![vec![extending_write()], vec![Op::Stat { inode: 0 }]])
}

/// The failure is `size-rules`, and its engine-independent schedule replays to the same
/// oracle on our simulator.
fn assert_size_rules_replays(initial: &State, failure: &ThreadedFailure) {
    assert_eq!(failure.oracle, "size-rules", "{}", failure.message);
    assert!(!failure.schedule.is_empty(), "{}", failure.message);
    let replayed =
        engine::replay(initial, &failure.schedule, BROKEN).expect("the schedule applies");
    let violation = replayed.violation.expect("the replay breaks an oracle");
    assert_eq!(violation.oracle.name(), "size-rules");
}

#[test]
fn shuttle_random_finds_the_planted_bug_and_both_schedules_replay() {
    let initial = writer_and_stat();
    let failure = threaded::shuttle_random(&initial, BROKEN, 7, SHUTTLE_ITERATIONS)
        .expect("shuttle finds the lost sector");
    assert_size_rules_replays(&initial, &failure);
    let string = failure
        .shuttle_schedule
        .as_deref()
        .expect("shuttle's schedule");
    let again = threaded::shuttle_replay(&initial, BROKEN, string).expect("the replay fails");
    assert_eq!(again.oracle, "size-rules");
    assert_eq!(again.schedule, failure.schedule);
}

#[test]
fn shuttle_pct_finds_the_planted_bug_and_both_schedules_replay() {
    let initial = writer_and_stat();
    let failure = threaded::shuttle_pct(&initial, BROKEN, 11, 3, SHUTTLE_ITERATIONS)
        .expect("PCT finds the lost sector");
    assert_size_rules_replays(&initial, &failure);
    let string = failure
        .shuttle_schedule
        .as_deref()
        .expect("shuttle's schedule");
    let again = threaded::shuttle_replay(&initial, BROKEN, string).expect("the replay fails");
    assert_eq!(again.schedule, failure.schedule);
}

#[test]
fn loom_finds_the_planted_bug_and_its_schedule_replays() {
    let initial = writer_and_stat();
    let failure = threaded::loom_check(&initial, BROKEN, Some(2))
        .expect("three actors at most")
        .expect("loom finds the lost sector");
    assert_size_rules_replays(&initial, &failure);
    // The failure is the planted bug's: the same schedule on the correct model breaks nothing.
    let correct = engine::replay(&initial, &failure.schedule, CORRECT).expect("applies");
    assert_eq!(correct.violation.map(|v| v.oracle.name()), None);
}

/// PCT and loom only: shuttle's random scheduler rarely keeps a1 off the CPU for the whole
/// write (every lock, wait and notify is a scheduling point where it may pick a1); with
/// seed 7 it needs more than 10,000 executions.
#[test]
fn a_bug_only_some_interleavings_hit_is_found_by_pct_and_loom_and_replays() {
    let initial = writer_and_stat();
    let stepper: Stepper = lose_last_sector_before_a1;
    let found = [
        (
            "pct",
            threaded::shuttle_pct(&initial, stepper, 11, 3, SHUTTLE_ITERATIONS),
        ),
        (
            "loom",
            threaded::loom_check(&initial, stepper, Some(2)).expect("two actors"),
        ),
    ];
    for (engine, failure) in found {
        let failure = failure.unwrap_or_else(|| panic!("{engine} misses it"));
        assert_eq!(failure.oracle, "size-rules", "{}", failure.message);
        let replayed = engine::replay(&initial, &failure.schedule, stepper).expect("applies");
        assert_eq!(
            replayed.violation.map(|v| v.oracle.name()),
            Some("size-rules")
        );
    }
}

/// A lost wakeup leaves a sleeper nobody wakes: the model is stuck, and the engines report it
/// under `counter-consistency` with the wait queue, not as their own deadlock.
#[test]
fn a_stuck_sleeper_is_a_counter_consistency_violation_not_a_checker_deadlock() {
    let initial = writer_and_stat();
    let stepper: Stepper = put_a1_to_sleep;
    let found = [
        threaded::shuttle_random(&initial, stepper, 7, SHUTTLE_ITERATIONS),
        threaded::loom_check(&initial, stepper, Some(2)).expect("two actors"),
    ];
    for failure in found {
        let failure = failure.expect("every engine finds it");
        assert_eq!(failure.oracle, "counter-consistency", "{}", failure.message);
        assert!(
            failure
                .message
                .contains("a1 waits on asleep on ioend_wq[12]")
                && failure.message.contains("i_unwritten=0"),
            "{}",
            failure.message
        );
        let replayed = engine::replay(&initial, &failure.schedule, stepper).expect("applies");
        assert_eq!(
            replayed.violation.map(|v| v.oracle.name()),
            Some("counter-consistency")
        );
    }
}

#[test]
fn the_correct_model_passes_shuttle() {
    let initial = writer_and_stat();
    let random = threaded::shuttle_random(&initial, CORRECT, 7, SHUTTLE_ITERATIONS);
    assert_eq!(random, None);
    let pct = threaded::shuttle_pct(&initial, CORRECT, 11, 3, SHUTTLE_ITERATIONS);
    assert_eq!(pct, None);
}

#[test]
fn the_correct_model_passes_loom() {
    let initial = writer_and_stat();
    assert_eq!(threaded::loom_check(&initial, CORRECT, Some(2)), Ok(None));
}

/// OS threads (no checker): 20 runs of the correct model end without a report (a violation,
/// a stuck model or a model assertion panics with its oracle), and the planted bug, which
/// every interleaving hits, is reported in every run with its oracle and a schedule that
/// replays: a clean run on this backend means something.
#[test]
fn the_correct_model_passes_on_std_threads_and_the_planted_bug_fails_there() {
    let initial = writer_and_stat();
    for _ in 0..20 {
        threaded::run::<sim::sync::Std>(&initial, CORRECT);
        let broken = std::panic::catch_unwind(|| threaded::run::<sim::sync::Std>(&initial, BROKEN));
        let payload = broken.expect_err("the planted bug fails on std threads");
        let message = sim::sync::payload_text(&*payload);
        let (oracle, schedule) = threaded::parse_failure(&message).expect("a failure message");
        assert_eq!(oracle, "size-rules", "{message}");
        let replayed = engine::replay(&initial, &schedule, BROKEN).expect("applies");
        assert_eq!(
            replayed.violation.map(|v| v.oracle.name()),
            Some("size-rules")
        );
    }
}

#[test]
fn loom_refuses_four_actors() {
    let stat = || vec![Op::Stat { inode: 0 }];
    let initial = scenario(vec![stat(), stat(), stat(), stat()]);
    let error = threaded::loom_check(&initial, CORRECT, None).expect_err("four actors");
    assert!(error.contains("at most 3 actors"), "{error}");
}

#[test]
fn failure_messages_parse() {
    let message =
        "ORACLE locks: no task can run: a0 waits on finished (actors a0)\nSCHEDULE: a0 b3 w4 e5";
    let (oracle, schedule) = threaded::parse_failure(message).expect("parses");
    assert_eq!(oracle, "locks");
    assert_eq!(
        schedule,
        vec![
            Task::Actor(0),
            Task::Bio(3),
            Task::Work(4),
            Task::BioError(5)
        ]
    );
    assert_eq!(threaded::parse_failure("ORACLE x: y\nSCHEDULE: q1"), None);
    assert_eq!(threaded::parse_failure("assertion failed"), None);
}

/// A shuttle hunt that finds violations with both of shuttle's schedulers prints none of
/// shuttle's own banners (`test panicked in task …`, the failing seed and
/// `SHUTTLE_RANDOM_SEED`): a failure is reported without a panic in a shuttle task.
#[test]
fn shuttle_s_own_failure_banners_never_reach_the_user() {
    for strategy in ["random", "pct"] {
        let out = common::writeiter(&[
            "hunt",
            "--engine",
            "shuttle",
            "--strategy",
            strategy,
            "--jobs",
            "1",
            "--schedules",
            "2000",
            "--known",
            "none",
        ]);
        let (stdout, stderr) = (common::stdout(&out), common::stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{strategy}: {stdout}{stderr}");
        assert!(stdout.contains("VIOLATION "), "{strategy}: {stdout}");
        for banner in ["SHUTTLE_RANDOM_SEED", "test panicked", "failing seed"] {
            assert!(
                !stdout.contains(banner) && !stderr.contains(banner),
                "{strategy}: {banner:?} in\n{stdout}\n{stderr}"
            );
        }
    }
}
