//! The serialization gate's patches, step by step: `372a03e01853` (v5.1), `e142d05263a4`
//! (v4.6), `57a0da28ced8` (v5.2). Each test runs one scenario on 4.4 and on the patched
//! model and shows the changed step.

mod common;
use common::*;
use model::exec::{self, Task};
use model::ops::{Op, WriteOp, WritePc};
use model::patches::{Patch, Patches};
use model::scenario::{InodeSpec, Scenario};
use model::state::{Sleep, State};

/// The initial state of a scenario under `patches`.
fn patched(
    patches: Patches,
    mount: model::fs::ext4::super_::Mount,
    inode: InodeSpec,
    actors: Vec<Vec<Op>>,
) -> State {
    Scenario {
        geometry: G,
        mount,
        inodes: vec![inode],
        actors,
        patches,
    }
    .build()
    .expect("valid scenario")
}

fn with(patch: Patch) -> Patches {
    Patches::NONE.with(patch)
}

/// An O_APPEND `io_submit` direct write.
fn append_aio(len: u64) -> WriteOp {
    let mut w = aio(0, len);
    w.file.o_append = true;
    w
}

/// The step names actor `a` takes until it reaches `pc`.
fn steps_to(s: &mut State, a: u8, pc: WritePc) -> Vec<String> {
    step_to(s, a, pc)
}

/// Two blocks, the second a hole, `i_size` 8192: a0's aligned AIO into the hole allocates it
/// unwritten and is queued (`-EIOCBQUEUED`) with its bio in flight, its io_end flagged
/// (`i_unwritten == 1`); then a1 runs.
fn after_a_queued_aio(patches: Patches, second: WriteOp) -> State {
    let mut s = patched(
        patches,
        DEFAULT,
        inode(2 * B, &[(0, 1, 0, Written)]),
        vec![vec![Op::Write(aio(B, B))], vec![Op::Write(second)]],
    );
    finish_submitter(&mut s, 0);
    assert_eq!(
        s.inodes[0].i_unwritten, 1,
        "a0's io_end is flagged unwritten"
    );
    assert_eq!(
        write_result(&s, 0, 0).0,
        model::include::fs::errno::EIOCBQUEUED
    );
    s
}

/// Steps actor `a` alone to the end of its operation (its bios stay in flight).
fn finish_submitter(s: &mut State, a: u8) {
    let done = s.actors[a as usize].results.len() + 1;
    for _ in 0..200 {
        if s.actors[a as usize].results.len() == done {
            return;
        }
        exec::step(s, Task::Actor(a)).unwrap_or_else(|e| panic!("{e}"));
    }
    panic!("actor {a} did not return");
}

mod unaligned_aio_aligned_eof_372a03e01853 {
    use super::*;

    /// `i_size` 6144 ends inside block 1; a write at 6144 of 1 KiB starts at `i_size` but
    /// inside its block.
    fn write_at_unaligned_eof(patches: Patches) -> State {
        patched(
            patches,
            DEFAULT,
            inode(B + 2 * S, &[(0, 2, 0, Written)]),
            vec![vec![Op::Write(aio(B + 2 * S, S))]],
        )
    }

    #[test]
    fn a_write_at_an_unaligned_i_size_serializes_only_when_patched() {
        let mut s = write_at_unaligned_eof(Patches::NONE);
        exec::step(&mut s, Task::Actor(0)).unwrap();
        assert_eq!(frame(&s, 0).pc, WritePc::IMutexLock, "4.4: pos >= i_size");
        assert_eq!(frame(&s, 0).aio_mutex, None);

        let mut s = write_at_unaligned_eof(with(Patch::UnalignedAioAlignedEof));
        exec::step(&mut s, Task::Actor(0)).unwrap();
        assert_eq!(
            frame(&s, 0).pc,
            WritePc::AioMutexLock,
            "pos < ALIGN(i_size)"
        );
        assert_eq!(frame(&s, 0).aio_mutex, Some(12));
    }
}

mod i_mutex_serializes_unaligned_aio_e142d05263a4 {
    use super::*;

    /// 4.4: an O_APPEND AIO always takes the aio_mutex and waits for every unwritten io_end
    /// of the inode (here a0's), before `i_mutex`. 4.6: no O_APPEND case; at its final `ki_pos`
    /// (`i_size`, judged under `i_mutex`) the write is not unaligned, so it does not wait.
    #[test]
    fn an_o_append_aio_waits_for_unwritten_io_ends_only_in_4_4() {
        let mut s = after_a_queued_aio(Patches::NONE, append_aio(B));
        let names = steps_to(&mut s, 1, WritePc::UnwrittenWait);
        assert_eq!(names, ["Gate", "AioMutexLock"]);
        exec::step(&mut s, Task::Actor(1)).unwrap();
        assert_eq!(s.actors[1].sleeping, Some(Sleep::IoendWq(12)));
        assert_eq!(s.aio_mutex.get(&12), Some(&1));
        assert_eq!(s.inodes[0].i_mutex, None, "4.4 sleeps before i_mutex");

        let mut s = after_a_queued_aio(with(Patch::IMutexSerializesUnalignedAio), append_aio(B));
        let names = steps_to(&mut s, 1, WritePc::OverwriteCheck);
        assert_eq!(names, ["IMutexLock", "WriteChecks", "Gate"]);
        assert_eq!(frame(&s, 1).iocb.ki_pos, 2 * B, "placed at i_size first");
        assert!(!frame(&s, 1).unaligned_aio);
        assert_eq!(s.actors[1].sleeping, None);
        assert!(s.aio_mutex.is_empty(), "no aio_mutex at all");
    }

    /// 4.6: an unaligned AIO inside `i_size` waits for the unwritten io_ends holding
    /// `i_mutex`, and takes no aio_mutex; the overwrite test sees `unaligned_aio`.
    #[test]
    fn an_unaligned_aio_waits_under_i_mutex_with_no_aio_mutex() {
        let patches = with(Patch::IMutexSerializesUnalignedAio);
        let mut s = after_a_queued_aio(patches, aio(S, S));
        let names = steps_to(&mut s, 1, WritePc::UnwrittenWait);
        assert_eq!(names, ["IMutexLock", "WriteChecks", "Gate"]);
        assert!(frame(&s, 1).unaligned_aio);
        exec::step(&mut s, Task::Actor(1)).unwrap();
        assert_eq!(s.actors[1].sleeping, Some(Sleep::IoendWq(12)));
        assert_eq!(s.inodes[0].i_mutex, Some(1), "4.6 sleeps holding i_mutex");
        assert!(s.aio_mutex.is_empty());
        // a0's bio lands, dio_complete converts and wakes a1, which goes on.
        let trace = finish(&mut s);
        assert!(trace.iter().any(|t| t == "a1 OverwriteCheck"), "{trace:?}");
        assert!(!trace.iter().any(|t| t.contains("AioMutex")), "{trace:?}");
        assert_eq!(s.inodes[0].i_unwritten, 0);
    }

    /// A synchronous DIO and a buffered write do not run the gate step under the patch: its
    /// first three terms are false, and they read nothing shared.
    #[test]
    fn sync_and_buffered_writes_skip_the_gate() {
        let patches = with(Patch::IMutexSerializesUnalignedAio);
        for w in [dio(S, S), buffered(S, S)] {
            let mut s = patched(
                patches,
                DEFAULT,
                inode(2 * B, &[(0, 1, 0, Written), (1, 1, 1, Unwritten)]),
                vec![vec![Op::Write(w)]],
            );
            let trace = finish(&mut s);
            assert!(!trace.iter().any(|t| t.ends_with("Gate")), "{trace:?}");
            assert_eq!(trace[0], "a0 IMutexLock");
        }
    }
}

mod unwritten_wait_after_queue_57a0da28ced8 {
    use super::*;

    /// An unaligned AIO into a hole inside `i_size`, on a request-based device (the plug holds
    /// bios until the task sleeps or finishes its plug).
    fn queued_unaligned(patches: Patches) -> State {
        patched(
            patches,
            PLUGGED,
            inode(2 * B, &[(0, 1, 0, Written)]),
            vec![vec![Op::Write(aio(B, S))]],
        )
    }

    /// 4.4 drops `i_mutex` and the aio_mutex with the bios still on `io_submit`'s plug. The
    /// patch sleeps after `-EIOCBQUEUED` holding both (the 4.4 gate's locks); the sleep
    /// dispatches the plugged bios, whose completion converts the io_end and wakes it.
    #[test]
    fn a_queued_unaligned_aio_sleeps_until_its_own_conversion_holding_its_locks() {
        let mut s = queued_unaligned(Patches::NONE);
        step_to(&mut s, 0, WritePc::DirectEnd);
        exec::step(&mut s, Task::Actor(0)).unwrap();
        assert_eq!(frame(&s, 0).pc, WritePc::IMutexUnlock);

        let mut s = queued_unaligned(with(Patch::UnwrittenWaitAfterQueue));
        step_to(&mut s, 0, WritePc::DirectEnd);
        assert!(frame(&s, 0).unaligned_aio);
        assert!(s.bios.values().all(|b| b.plugged_by == Some(0)));
        exec::step(&mut s, Task::Actor(0)).unwrap();
        assert_eq!(frame(&s, 0).pc, WritePc::QueuedUnwrittenWait);
        exec::step(&mut s, Task::Actor(0)).unwrap();
        assert_eq!(s.actors[0].sleeping, Some(Sleep::IoendWq(12)));
        assert_eq!(s.inodes[0].i_mutex, Some(0));
        assert_eq!(s.aio_mutex.get(&12), Some(&0));
        assert_eq!(s.bios.len(), 2, "the data bio and the tail zero bio");
        assert!(
            s.bios.values().all(|b| b.plugged_by.is_none()),
            "blk_schedule_flush_plug"
        );
        let trace = finish(&mut s);
        let woken = trace
            .iter()
            .position(|t| t == "a0 QueuedUnwrittenWait")
            .unwrap();
        let converted = trace
            .iter()
            .position(|t| t.ends_with("dio_complete:EndIo"))
            .unwrap();
        assert!(converted < woken, "{trace:?}");
        assert_eq!(
            write_result(&s, 0, 0).0,
            model::include::fs::errno::EIOCBQUEUED
        );
        assert!(s.inodes[0].i_mutex.is_none() && s.aio_mutex.is_empty());
    }

    /// A queued aligned AIO does not wait: only `unaligned_aio` does.
    #[test]
    fn a_queued_aligned_aio_does_not_wait() {
        let mut s = patched(
            with(Patch::UnwrittenWaitAfterQueue),
            PLUGGED,
            inode(2 * B, &[(0, 1, 0, Written)]),
            vec![vec![Op::Write(aio(B, B))]],
        );
        step_to(&mut s, 0, WritePc::DirectEnd);
        assert!(!frame(&s, 0).unaligned_aio);
        exec::step(&mut s, Task::Actor(0)).unwrap();
        assert_eq!(frame(&s, 0).pc, WritePc::IMutexUnlock);
    }
}
