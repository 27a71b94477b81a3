//! The other actors' system calls on their way into ext4: `read` (fs/read_write.c),
//! `ftruncate` (fs/open.c, into `ext4_setattr`), the punch of `fallocate` (fs/open.c),
//! `fsync` (fs/sync.c), `stat` (fs/stat.c), with a flusher pass, a forced journal commit and
//! a crash. [`after`] holds their control flow, [`wait`] their waits, [`run`] their effects;
//! the effects call the kernel files that do the work.

use crate::fs::ext4;
use crate::fs::ext4::fsync::commit_target;
use crate::fs::ext4::indirect::dio_read_begin;
use crate::fs::ext4::inode::{data_sem_free, writeback_needs_map};
use crate::include::fs::errno;
use crate::jbd2::journal;
use crate::jbd2::transaction::{handle_wait, handle_wait_if};
use crate::mm::filemap::{self, page_range, read_step, writeback_pending};
use crate::notes::Notes;
use crate::ops::{Op, OtherFrame, OtherPc};
use crate::state::{ActorId, InodeIx, State, Wait};
use OtherPc::*;

/// The first step of `op`.
pub fn first(op: &Op) -> OtherPc {
    match op {
        Op::Read { direct: false, .. } => ReadPage,
        Op::Read { direct: true, .. } | Op::Fsync { .. } => Flush,
        Op::PunchHole { .. } => PunchFlush,
        Op::Stat { .. } => Stat,
        Op::Truncate { .. } => IMutexLock,
        Op::Writeback { .. } => WritebackRun,
        Op::Commit => Commit,
        Op::Crash => Crash,
        Op::Write(_) => unreachable!("writes run in crate::fs::ext4::file"),
    }
}

/// The control flow: where the operation goes after the step at `pc` ran.
pub fn after(state: &State, op: &Op, f: &OtherFrame) -> OtherPc {
    let (pos, flag) = (f.pos, f.flag);
    match (op, f.pc) {
        (_, FlushWait | LockedFlushWait) if f.error < 0 => Done,
        (
            Op::Read {
                inode,
                pos: start,
                len,
                direct: false,
            },
            ReadPage,
        ) => {
            if pos < (start + len).min(state.inodes[*inode].i_size) {
                ReadPage
            } else {
                Done
            }
        }
        (Op::Read { .. }, Flush) => FlushWait,
        (Op::Read { .. }, FlushWait) => DioReadBegin,
        (Op::Read { .. }, DioReadBegin) if flag => IMutexLock,
        (Op::Read { .. }, DioReadBegin | LockedFlushWait) => ReadPage,
        (Op::Read { .. }, IMutexLock) => LockedFlush,
        (Op::Read { .. }, LockedFlush) => LockedFlushWait,
        (Op::Read { direct: true, .. }, ReadPage) if flag => IMutexUnlock,
        (Op::Fsync { .. }, Flush) => FlushWait,
        (Op::Fsync { .. }, FlushWait) => Commit,
        (_, Commit) => CommitWait,
        (Op::Truncate { inode, size }, IMutexLock) if *size != state.inodes[*inode].i_size => {
            if flag {
                OrphanAdd
            } else {
                SetSize
            }
        }
        (Op::Truncate { .. }, IMutexLock) => TruncatePagecache,
        (Op::Truncate { .. }, OrphanAdd) => SetSize,
        (Op::Truncate { .. }, SetSize) if f.orphan => DioWait,
        (Op::Truncate { .. }, SetSize | DioWait) => TruncatePagecache,
        (Op::Truncate { .. }, TruncatePagecache) if flag => FreeBlocks,
        (Op::Truncate { .. }, TruncatePagecache | FreeBlocks) => IMutexUnlock,
        (Op::PunchHole { .. }, PunchFlush) if flag => FlushWait,
        (Op::PunchHole { .. }, PunchFlush) => IMutexLock,
        (Op::PunchHole { .. }, FlushWait) => IMutexLock,
        (Op::PunchHole { .. }, IMutexLock) if flag => DioWait,
        (Op::PunchHole { .. }, IMutexLock | FreeBlocks) => IMutexUnlock,
        (Op::PunchHole { .. }, DioWait) => TruncatePagecache,
        (Op::PunchHole { .. }, TruncatePagecache) => FreeBlocks,
        _ => Done,
    }
}

/// The byte range an operation's flush or page walk covers (saturating: the range is the
/// model's bookkeeping, and a scenario's ranges fit `loff_t` anyway).
fn op_pages(state: &State, op: &Op) -> (InodeIx, std::ops::RangeInclusive<u64>) {
    match *op {
        Op::Read {
            inode, pos, len, ..
        } => (
            inode,
            page_range(state, pos, pos.saturating_add(len.max(1) - 1)),
        ),
        Op::Fsync { inode, .. } | Op::Writeback { inode } => {
            (inode, 0..=u64::MAX >> state.geometry.page_bits)
        }
        Op::Truncate { inode, size } => {
            let page_bits = state.geometry.page_bits;
            (inode, (size >> page_bits)..=u64::MAX >> page_bits)
        }
        Op::PunchHole { inode, pos, len } => (
            inode,
            page_range(state, pos, pos.saturating_add(len.max(1) - 1)),
        ),
        Op::Stat { inode } => (inode, 0..=0),
        Op::Write(_) | Op::Commit | Op::Crash => (0, 0..=0),
    }
}

/// What the step at `pc` waits for.
pub fn wait(state: &State, op: &Op, (pc, tid): (OtherPc, Option<u32>)) -> Option<Wait> {
    let (inode, pages) = op_pages(state, op);
    let busy = || !data_sem_free(state, inode);
    match pc {
        IMutexLock => state.inodes[inode]
            .i_mutex
            .map(|owner| Wait::IMutex { inode, owner }),
        // ext4_setattr's handle (fs/ext4/inode.c:4908) for the orphan and the sizes.
        OrphanAdd => handle_wait(state),
        // ext4_setattr, ext4_truncate (fs/ext4/inode.c:3923), ext4_punch_hole
        // (fs/ext4/inode.c:3772): the handle, then down_write(i_data_sem).
        SetSize | FreeBlocks => handle_wait(state).or(busy().then_some(Wait::DataSem { inode })),
        ReadPage => state.inodes[inode]
            .i_data_sem
            .writer
            .then_some(Wait::DataSem { inode }),
        Flush | LockedFlush | PunchFlush => crate::mm::filemap::flush_wait(state, inode, pages),
        WritebackRun => crate::fs::ext4::inode::writepages_handle_wait(state, inode)
            .or((writeback_needs_map(state, inode, pages) && busy())
                .then_some(Wait::DataSem { inode })),
        FlushWait | LockedFlushWait => {
            writeback_pending(state, inode, pages).then_some(Wait::Writeback { inode })
        }
        // truncate_pagecache(_range) waits for writeback; ext4_punch_hole then starts its
        // handle (fs/ext4/inode.c:3772) for ext4_zero_partial_blocks.
        TruncatePagecache => writeback_pending(state, inode, pages)
            .then_some(Wait::Writeback { inode })
            .or_else(|| handle_wait_if(state, matches!(op, Op::PunchHole { .. }))),
        CommitWait => tid.and_then(|tid| crate::jbd2::journal::committed_wait(state, tid)),
        _ => None,
    }
}

/// Applies the step at `f.pc`.
pub fn run(state: &mut State, a: ActorId, op: &Op, f: &mut OtherFrame, notes: &mut Notes) {
    let (inode, pages) = op_pages(state, op);
    match (op, f.pc) {
        (Op::Read { .. }, ReadPage) => read_step(state, op, f, notes),
        (Op::Read { .. }, DioReadBegin) => dio_read_begin(state, inode, f, notes),
        (Op::Read { .. }, IMutexLock) => ext4::inode::lock_i_mutex(state, a, inode, notes),
        (Op::Read { .. }, IMutexUnlock) => ext4::inode::unlock_i_mutex(state, a, inode, notes),
        (_, Flush | LockedFlush) => {
            filemap::writeback_by(state, a, (inode, pages), filemap::SyncMode::All, notes);
        }
        (Op::PunchHole { .. }, PunchFlush) => {
            f.flag = state.inodes[inode].pages.values().any(|p| p.dirty != 0);
            if f.flag {
                let mode = filemap::SyncMode::All;
                filemap::writeback_by(state, a, (inode, pages), mode, notes);
            } else {
                note!(notes, "no page tagged dirty: no flush");
            }
        }
        (_, WritebackRun) => {
            filemap::writeback_by(state, a, (inode, pages), filemap::SyncMode::None, notes);
        }
        (Op::Read { .. }, LockedFlushWait) => {
            // The locked path drops i_mutex before returning the error.
            if filemap::fdatawait_by(state, a, inode, notes) {
                f.error = errno::EIO;
                ext4::inode::unlock_i_mutex(state, a, inode, notes);
            }
        }
        // fsync is ext4_sync_file: its wait reports through the file under Errseq.
        (Op::Fsync { .. }, FlushWait) => {
            if ext4::fsync::sync_file_wait_by(state, a, inode, notes) {
                f.error = errno::EIO;
            }
        }
        (_, FlushWait) => {
            if filemap::fdatawait_by(state, a, inode, notes) {
                f.error = errno::EIO;
            }
        }
        (_, Done) => {}
        (_, Commit) => {
            f.tid = commit_target(state, op);
            match f.tid {
                Some(tid) => journal::request_commit(state, tid, notes),
                None => note!(notes, "nothing to commit"),
            }
        }
        (_, CommitWait) => {
            let committed = state.journal.committed;
            assert!(
                f.tid.is_none_or(|tid| committed >= tid),
                "woken before its commit"
            );
            note!(notes, "transaction committed");
        }
        (_, Stat) => {
            f.pos = state.inodes[inode].i_size;
            note!(notes, "i_size={}", f.pos);
        }
        (Op::Truncate { size, .. }, _) => ext4::inode::run(state, a, inode, *size, f, notes),
        (Op::PunchHole { pos, len, .. }, _) => {
            ext4::inode::punch(state, a, inode, (*pos, *len), f, notes)
        }
        (_, Crash) => ext4::super_::crash(state, a, notes),
        (op, pc) => unreachable!("{pc:?} is not a step of {op:?}"),
    }
}
