//! Builders shared by the model's tests.
#![allow(dead_code)]

use model::exec::{self, Task};
use model::fs::ext4::extents::{Extent, ExtentState};
use model::fs::ext4::super_::{Geometry, Mount};
use model::include::fs::{FileFlags, Segment};
use model::limits::RLIM_INFINITY;
use model::ops::{Frame, Op, WriteFrame, WriteOp, WritePc};
use model::scenario::{InodeSpec, Scenario};
use model::state::{Data, State};

pub use ExtentState::{Unwritten, Written};

/// 4 KiB blocks and pages on 1 KiB sectors: 4 sectors a block, sub-block DIO possible.
pub const G: Geometry = Geometry::SMALL;
pub const B: u64 = 4096;
pub const S: u64 = 1024;

/// Mounted `-o dioread_nolock` on a bio-based device.
pub const NOLOCK: Mount = Mount {
    dioread_nolock: true,
    ..DEFAULT
};
/// Default mount options on a bio-based device (bios dispatch at submission).
pub const DEFAULT: Mount = Mount {
    dioread_nolock: false,
    sync: false,
    plug_holds_bios: false,
    bio_errors: false,
};
/// Default mount options on a request-based device: the plug holds bios.
pub const PLUGGED: Mount = Mount {
    plug_holds_bios: true,
    ..DEFAULT
};
/// A device that may fail bios.
pub const FAILING: Mount = Mount {
    bio_errors: true,
    ..DEFAULT
};

/// An extent-mapped inode of `i_size` bytes with `extents` as `(lblk, len, pblk, state)`.
pub fn inode(i_size: u64, extents: &[(u64, u64, u32, ExtentState)]) -> InodeSpec {
    InodeSpec {
        ino: 12,
        extents: true,
        s_sync: false,
        dio_refused: false,
        i_size,
        extents_at_start: extents
            .iter()
            .map(|&(lblk, len, pblk, state)| Extent {
                lblk,
                len,
                pblk,
                state,
            })
            .collect(),
        cached_pages: Vec::new(),
    }
}

/// A block-mapped ("bitmap") inode.
pub fn bitmap_inode(i_size: u64, extents: &[(u64, u64, u32, ExtentState)]) -> InodeSpec {
    InodeSpec {
        extents: false,
        ..inode(i_size, extents)
    }
}

/// O_LARGEFILE and nothing else: a plain 64-bit `open`.
pub const LARGE: FileFlags = FileFlags {
    o_direct: false,
    o_append: false,
    o_sync: false,
    o_dsync: false,
    o_largefile: true,
};

/// A buffered `pwrite(pos, len)` on inode 0 from one aligned buffer.
pub fn buffered(pos: u64, len: u64) -> WriteOp {
    WriteOp {
        inode: 0,
        pos,
        segments: vec![Segment {
            base: 0x100000,
            len,
        }],
        file: LARGE,
        aio: false,
        rlimit_fsize: RLIM_INFINITY,
        tag: 0,
    }
}

/// A synchronous O_DIRECT `pwrite(pos, len)`.
pub fn dio(pos: u64, len: u64) -> WriteOp {
    let mut w = buffered(pos, len);
    w.file.o_direct = true;
    w
}

/// An `io_submit` O_DIRECT write.
pub fn aio(pos: u64, len: u64) -> WriteOp {
    WriteOp {
        aio: true,
        ..dio(pos, len)
    }
}

/// The initial state of one scenario.
pub fn state(mount: Mount, inodes: Vec<InodeSpec>, actors: Vec<Vec<Op>>) -> State {
    Scenario {
        geometry: G,
        mount,
        inodes,
        actors,
        patches: model::patches::Patches::NONE,
    }
    .build()
    .expect("valid scenario")
}

/// One writer `w` on one inode.
pub fn one_writer(mount: Mount, inode: InodeSpec, w: WriteOp) -> State {
    state(mount, vec![inode], vec![vec![Op::Write(w)]])
}

/// Actor `a`'s write frame.
pub fn frame(state: &State, a: u8) -> &WriteFrame {
    match &state.actors[a as usize].frame {
        Frame::Write(f) => f,
        other => panic!("actor {a} is not writing: {other:?}"),
    }
}

/// Steps actor `a` alone until its program counter is `pc` (panics if it cannot step).
pub fn step_to(state: &mut State, a: u8, pc: WritePc) -> Vec<String> {
    let mut names = Vec::new();
    for _ in 0..200 {
        if matches!(&state.actors[a as usize].frame, Frame::Write(f) if f.pc == pc) {
            return names;
        }
        let event =
            exec::step(state, Task::Actor(a)).unwrap_or_else(|e| panic!("{e} (after {names:?})"));
        names.push(event.step);
    }
    panic!("actor {a} never reached {pc:?}: {names:?}");
}

/// Runs every task, first runnable first, to the end; returns the step names with tasks.
pub fn finish(state: &mut State) -> Vec<String> {
    let run = model::drive::run(state, &[], true).expect("default schedule");
    assert_eq!(run.end, model::drive::End::Done, "run did not finish");
    run.trace
        .iter()
        .map(|e| format!("{} {}", e.task, e.step))
        .collect()
}

/// The write result of actor `a`'s operation `op`.
pub fn write_result(state: &State, a: usize, op: usize) -> (i64, Option<i64>) {
    match &state.actors[a].results[op] {
        model::ops::OpResult::Write { ret, event, .. } => (*ret, *event),
        other => panic!("not a write result: {other:?}"),
    }
}

/// Steps actor `a` until its current operation finished, with the commit work and the bios
/// it waits for.
pub fn finish_op(state: &mut State, a: u8) {
    let done = state.actors[a as usize].results.len() + 1;
    for _ in 0..200 {
        if state.actors[a as usize].results.len() == done {
            return;
        }
        let task = match exec::task_wait(state, Task::Actor(a)) {
            Ok(Some(exec::Wait::Commit)) => commit_work(state),
            Ok(Some(exec::Wait::DioBios { .. })) => {
                Task::Bio(*state.bios.keys().next().expect("a bio in flight"))
            }
            _ => Task::Actor(a),
        };
        exec::step(state, task).unwrap_or_else(|e| panic!("{e}"));
    }
    panic!("actor {a} did not finish its operation");
}

/// kjournald2's commit work item (a commit was requested).
pub fn commit_work(state: &State) -> Task {
    let id = state
        .work
        .iter()
        .find(|(_, w)| matches!(w, model::state::Work::Commit { .. }))
        .map(|(&id, _)| id)
        .expect("a commit was requested");
    Task::Work(id)
}

/// Initial data of logical block `lblk` of inode 0.
pub fn init(lblk: u32) -> Data {
    Data::Initial { inode: 0, lblk }
}
