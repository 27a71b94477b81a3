//! fs/ext4/file.c: the writer, `ext4_file_write_iter` (byte-identical in 4.1–4.4), step by
//! step, with the checks it makes at its head (the bitmap-file limit, `ext4_unaligned_aio`).
//!
//! Three functions hold a writer's whole control flow: [`after`] says where a writer goes
//! once the step at its program counter ran (the function read top to bottom), [`wait`] says
//! what a step waits for, and [`run`] applies the step through helpers that compute and do
//! not decide. The helpers live where the kernel keeps the code they mirror: the steps of
//! `__generic_file_write_iter` in [`crate::mm::filemap`], `ext4_direct_IO` and the delalloc
//! write in [`crate::fs::ext4::inode`], and the DIO steps' waits and effects in
//! [`crate::fs::direct_io`].

use crate::fs::ext4::inode::{direct_io, write_begin_failure_truncates};
use crate::include::fs::{IovIter, errno};
use crate::jbd2::transaction::{handle_wait, handle_wait_if};
use crate::mm::filemap::{
    direct_end, direct_end_raises_size, direct_invalidate, fallback_done, flush,
    generic_write_checks, page_range, perform_write, writeback_pending,
};
use crate::notes::Notes;
use crate::ops::{DioPath, IocbPrivate, Op, WriteFrame, WriteOp, WritePc};
use crate::patches::Patch;
use crate::state::{ActorId, State, Wait};
use WritePc::*;

/// Where a writer starts: 4.4's gate, before `i_mutex`; with `e142d05263a4` (v4.6),
/// `inode_lock(inode)` first (4.6.2 fs/ext4/file.c:102), the gate coming after
/// `generic_write_checks`.
pub fn first(state: &State) -> WritePc {
    if state.patched(Patch::IMutexSerializesUnalignedAio) {
        IMutexLock
    } else {
        Gate
    }
}

/// The control flow: where a writer at `f.pc` goes after that step ran.
pub fn after(state: &State, f: &WriteFrame) -> WritePc {
    // e142d05263a4: the gate and its wait under i_mutex, after generic_write_checks.
    let i_mutex_gate = state.patched(Patch::IMutexSerializesUnalignedAio);
    match f.pc {
        Gate if i_mutex_gate && f.unaligned_aio => UnwrittenWait,
        Gate if i_mutex_gate => OverwriteCheck,
        Gate if f.aio_mutex.is_some() => AioMutexLock,
        Gate => IMutexLock,
        AioMutexLock => UnwrittenWait,
        UnwrittenWait if i_mutex_gate => OverwriteCheck,
        UnwrittenWait => IMutexLock,
        IMutexLock => WriteChecks,
        WriteChecks if f.ret <= 0 => OutUnlock,
        WriteChecks if i_mutex_gate && aio_dio_on_extents(state, f) => Gate,
        WriteChecks if f.iocb.ki_flags.direct => OverwriteCheck,
        WriteChecks => PerformWrite,
        OverwriteCheck => DirectFlush,
        DirectFlush => DirectFlushWait,
        DirectFlushWait if f.written < 0 => IMutexUnlock,
        DirectFlushWait => DirectInvalidate,
        DirectInvalidate if f.dio_ret == errno::EBUSY => PerformWrite,
        DirectInvalidate => DirectIo,
        // 914f82a32d02: an extending write on the unwritten path runs the orphan step first.
        DirectIo if crate::fs::ext4::inode::ext_orphan_first(state, f) => IndBegin,
        DirectIo => match f.path {
            None => DirectEnd,
            Some(DioPath::Ind) => IndBegin,
            Some(_) => ExtBegin,
        },
        ExtBegin if f.overwrite => ExtOverwriteUnlock,
        ExtBegin | ExtOverwriteUnlock => ExtSetPrivate,
        IndBegin if f.path != Some(DioPath::Ind) => ExtBegin,
        ExtSetPrivate if crate::fs::ext4::inode::inits_io_end(state, f) => ExtInitIoEnd,
        ExtSetPrivate | ExtInitIoEnd | IndBegin => DioStart,
        DioStart if f.dio.is_none() => after_dio(state, f),
        DioStart => DioGetBlock,
        DioGetBlock if f.gb_io_pending => DioMapAlloc,
        DioGetBlock | DioMapAlloc if f.dio_ret < 0 || f.dio_next >= f.dio_end => DioZeroTail,
        DioGetBlock | DioMapAlloc => DioGetBlock,
        DioZeroTail => DioDrop,
        DioDrop => after_dio(state, f),
        ExtPutIoEnd => ExtConvertAndEnd,
        ExtConvertAndEnd if f.path == Some(DioPath::ExtOverwrite) => ExtRelock,
        // 914f82a32d02: then ext4_direct_IO_write's end (4.4's ext4_ind_direct_IO end).
        ExtConvertAndEnd | ExtRelock if f.orphan => IndEnd,
        ExtConvertAndEnd | ExtRelock | IndEnd => DirectEnd,
        DirectEnd if unwritten_wait_after_queue(state, f) => QueuedUnwrittenWait,
        QueuedUnwrittenWait => IMutexUnlock,
        DirectEnd if f.written < 0 || f.iter.count() == 0 => IMutexUnlock,
        DirectEnd => PerformWrite,
        PerformWrite if f.iter.count() > 0 && f.perform_error == 0 => PerformWrite,
        PerformWrite if f.fallback && f.status > 0 => FallbackFlush,
        PerformWrite => IMutexUnlock,
        FallbackFlush => FallbackFlushWait,
        FallbackFlushWait => IMutexUnlock,
        IMutexUnlock if f.ret > 0 && sync_needed(state, f) => SyncFlush,
        IMutexUnlock | SyncCommitWait => after_sync(f),
        SyncFlush => SyncFlushWait,
        SyncFlushWait if f.ret < 0 => after_sync(f),
        SyncFlushWait => SyncCommit,
        SyncCommit => SyncCommitWait,
        FinishPlug if f.aio_mutex.is_some() => AioMutexUnlock,
        FinishPlug | AioMutexUnlock | OutUnlock if !f.iocb.is_sync_kiocb() => IoSubmitFinishPlug,
        FinishPlug | AioMutexUnlock | OutUnlock | IoSubmitFinishPlug | Done => Done,
    }
}

/// Back in the `->direct_IO` implementation after `do_blockdev_direct_IO` returned.
fn after_dio(state: &State, f: &WriteFrame) -> WritePc {
    if f.path == Some(DioPath::Ind) {
        IndEnd
    } else if crate::fs::ext4::inode::puts_own_io_end(state) {
        ExtPutIoEnd
    } else {
        ExtConvertAndEnd
    }
}

/// `57a0da28ced8` ("ext4: fix data corruption caused by overlapping unaligned and aligned
/// IO", v5.2): a queued unaligned AIO waits for the inode's unwritten io_ends, its own
/// included, before it drops `i_mutex`, so that no overlapping write starts while its bios
/// (and its `dio_zero_block` bios) are in flight. 5.2.1 fs/ext4/file.c:266-274:
///
/// ```text
/// ret = __generic_file_write_iter(iocb, from);
/// /*
///  * Unaligned direct AIO must be the only IO in flight. Otherwise
///  * overlapping aligned IO after unaligned might result in data
///  * corruption.
///  */
/// if (ret == -EIOCBQUEUED && unaligned_aio)
///         ext4_unwritten_wait(inode);
/// inode_unlock(inode);
/// ```
///
/// `-EIOCBQUEUED` leaves `__generic_file_write_iter` only through the direct part
/// (`DirectEnd` with `written < 0`).
fn unwritten_wait_after_queue(state: &State, f: &WriteFrame) -> bool {
    state.patched(Patch::UnwrittenWaitAfterQueue)
        && f.written == errno::EIOCBQUEUED
        && f.unaligned_aio
}

/// The first three terms of the gate, `o_direct && ext4_test_inode_flag(inode,
/// EXTENTS) && !is_sync_kiocb(iocb)`: local to the writer. With `e142d05263a4` only such a
/// write runs the gate step (the others skip a test that reads nothing shared).
fn aio_dio_on_extents(state: &State, f: &WriteFrame) -> bool {
    f.iocb.ki_flags.direct && state.inodes[f.inode].extents && !f.iocb.is_sync_kiocb()
}

/// After `generic_write_sync`: `blk_finish_plug` for `o_direct`, then the aio_mutex.
fn after_sync(f: &WriteFrame) -> WritePc {
    match (f.iocb.ki_flags.direct, f.aio_mutex) {
        (true, _) => FinishPlug,
        (false, Some(_)) => AioMutexUnlock,
        (false, None) if !f.iocb.is_sync_kiocb() => IoSubmitFinishPlug,
        (false, None) => Done,
    }
}

/// `generic_write_sync` does anything: `O_DSYNC` (which `O_SYNC` includes) or `IS_SYNC`.
pub fn sync_needed(state: &State, f: &WriteFrame) -> bool {
    f.file.o_dsync || f.file.o_sync || state.is_sync(f.inode)
}

/// What the step at `f.pc` waits for, if it cannot run now.
pub fn wait(state: &State, a: ActorId, f: &WriteFrame) -> Option<Wait> {
    let inode = f.inode;
    let ino = &state.inodes[inode];
    let range = || {
        page_range(
            state,
            f.iocb.ki_pos,
            f.iocb.ki_pos + f.iter.count().max(1) - 1,
        )
    };
    match f.pc {
        AioMutexLock => {
            let bucket = ino.bucket();
            state
                .aio_mutex
                .get(&bucket)
                .map(|&owner| Wait::AioMutex { bucket, owner })
        }
        IMutexLock | ExtRelock => ino.i_mutex.map(|owner| Wait::IMutex { inode, owner }),
        ExtOverwriteUnlock => ino.i_data_sem.writer.then_some(Wait::DataSem { inode }),
        // file_update_time → ext4_dirty_inode (fs/ext4/inode.c:5279) starts a handle, in
        // __generic_file_write_iter: only when the checks pass (`ret > 0`).
        WriteChecks => {
            let Some(Op::Write(op)) = state.actors[a as usize]
                .program
                .get(state.actors[a as usize].op)
            else {
                unreachable!("a write frame runs a write")
            };
            handle_wait_if(state, write_checks_result(state, f, op).0.ret > 0)
        }
        // ext4_da_write_begin (fs/ext4/inode.c:2793) starts its handle before
        // ext4_da_write_end takes i_data_sem.
        PerformWrite => {
            let pos = f.buffered_pos + f.status;
            let disksize = crate::fs::ext4::inode::da_write_updates_disksize(
                state,
                inode,
                pos,
                f.iter.count(),
            );
            // ext4_truncate_failed_write: truncate_inode_pages waits for the EOF page's
            // writeback (mm/truncate.c:298), ext4_truncate takes down_write(i_data_sem).
            let truncates = write_begin_failure_truncates(state, f);
            let eof_page = ino.i_size >> state.geometry.page_bits;
            let busy =
                ino.i_data_sem.writer || ((disksize || truncates) && ino.i_data_sem.readers > 0);
            handle_wait(state)
                .or(busy.then_some(Wait::DataSem { inode }))
                .or_else(|| {
                    (truncates && writeback_pending(state, inode, eof_page..=eof_page))
                        .then_some(Wait::Writeback { inode })
                })
        }
        DirectFlush => crate::mm::filemap::flush_wait(state, inode, range()),
        DirectFlushWait | DirectInvalidate => (ino.nrpages() > 0
            && writeback_pending(state, inode, range()))
        .then_some(Wait::Writeback { inode }),
        // The invalidation waits for writeback, then raising i_size marks the inode dirty
        // (ext4_dirty_inode's handle).
        DirectEnd => (ino.nrpages() > 0 && writeback_pending(state, inode, range()))
            .then_some(Wait::Writeback { inode })
            .or_else(|| handle_wait_if(state, direct_end_raises_size(state, f))),
        FallbackFlush => crate::mm::filemap::flush_wait(state, inode, buffered_range(state, f)),
        FallbackFlushWait => writeback_pending(state, inode, buffered_range(state, f))
            .then_some(Wait::Writeback { inode }),
        SyncFlush => crate::mm::filemap::flush_wait(state, inode, sync_range(state, f)),
        SyncFlushWait => writeback_pending(state, inode, sync_range(state, f))
            .then_some(Wait::Writeback { inode }),
        SyncCommitWait => f
            .commit_tid
            .and_then(|tid| crate::jbd2::journal::committed_wait(state, tid)),
        DioGetBlock | DioDrop | ExtPutIoEnd | ExtConvertAndEnd | IndBegin | IndEnd => {
            crate::fs::direct_io::wait(state, a, f)
        }
        _ => None,
    }
}

pub(crate) fn buffered_range(state: &State, f: &WriteFrame) -> std::ops::RangeInclusive<u64> {
    page_range(state, f.buffered_pos, f.buffered_pos + f.status.max(1) - 1)
}

/// `[ki_pos - ret, ki_pos - 1]`, the range `generic_write_sync` covers.
fn sync_range(state: &State, f: &WriteFrame) -> std::ops::RangeInclusive<u64> {
    let ret = f.ret.max(1) as u64;
    page_range(state, f.iocb.ki_pos - ret, f.iocb.ki_pos - 1)
}

/// Applies the step at `f.pc`; `notes` gets what happened, in ext4 terms.
pub fn run(state: &mut State, a: ActorId, f: &mut WriteFrame, op: &WriteOp, notes: &mut Notes) {
    match f.pc {
        Gate => gate(state, f, notes),
        AioMutexLock => lock_aio_mutex(state, a, f, notes),
        UnwrittenWait | QueuedUnwrittenWait => unwritten_wait(state, a, f, notes),
        IMutexLock | ExtRelock => lock_i_mutex(state, a, f, notes),
        WriteChecks => write_checks(state, f, op, notes),
        OverwriteCheck => overwrite_check(state, f, notes),
        DirectFlush => flush(state, a, f.inode, range_of(state, f), notes),
        DirectFlushWait => {
            // generic_file_direct_write: "if (written) goto out".
            if crate::mm::filemap::fdatawait_by(state, a, f.inode, notes) {
                f.written = errno::EIO;
            }
        }
        SyncFlushWait => {
            // ext4_sync_file returns the error before the commit; it replaces ret.
            if crate::fs::ext4::fsync::sync_file_wait_by(state, a, f.inode, notes) {
                f.ret = errno::EIO;
            }
        }
        FallbackFlushWait => fallback_done(state, a, f, notes),
        DirectInvalidate => direct_invalidate(state, f, notes),
        DirectIo => direct_io(state, f, notes),
        DirectEnd => direct_end(state, f, notes),
        PerformWrite => perform_write(state, f, op, notes),
        FallbackFlush => flush(state, a, f.inode, buffered_range(state, f), notes),
        IMutexUnlock | OutUnlock => unlock_i_mutex(state, a, f, notes),
        SyncFlush => flush(state, a, f.inode, sync_range(state, f), notes),
        SyncCommit => sync_commit(state, f, notes),
        SyncCommitWait => note!(notes, "transaction committed"),
        FinishPlug if !f.iocb.is_sync_kiocb() => {
            note!(notes, "nested under io_submit's plug: dispatches nothing");
        }
        FinishPlug | IoSubmitFinishPlug => finish_plug(state, a, f, notes),
        AioMutexUnlock => unlock_aio_mutex(state, a, f, notes),
        Done => unreachable!("a finished write takes no step"),
        _ => crate::fs::direct_io::run(state, a, f, op, notes),
    }
    if f.pc == OutUnlock && f.aio_mutex.is_some() {
        unlock_aio_mutex(state, a, f, notes);
    }
}

pub(crate) fn range_of(state: &State, f: &WriteFrame) -> std::ops::RangeInclusive<u64> {
    page_range(
        state,
        f.iocb.ki_pos,
        f.iocb.ki_pos + f.iter.count().max(1) - 1,
    )
}

/// The serialization gate (fs/ext4/file.c), `i_size` read unlocked.
fn gate(state: &State, f: &mut WriteFrame, notes: &mut Notes) {
    if state.patched(Patch::IMutexSerializesUnalignedAio) {
        return gate_under_i_mutex(state, f, notes);
    }
    let ino = &state.inodes[f.inode];
    let unaligned = || unaligned_aio(state, f);
    let serialize = f.iocb.ki_flags.direct
        && ino.extents
        && !f.iocb.is_sync_kiocb()
        && (f.iocb.ki_flags.append || unaligned());
    if serialize {
        f.aio_mutex = Some(ino.bucket());
    }
    if state.patched(Patch::UnwrittenWaitAfterQueue) {
        // 57a0da28ced8's `unaligned_aio` in the 4.4 shape: the gate serialized because
        // ext4_unaligned_aio said so. An O_APPEND write (which 4.4 serializes without asking
        // it) extends the file, so do_blockdev_direct_IO runs it synchronously: never queued.
        f.unaligned_aio = serialize && !f.iocb.ki_flags.append;
    }
    note!(notes, "i_size_read={} serialize={serialize}", ino.i_size);
}

/// The gate as `e142d05263a4` ("ext4: use i_mutex to serialize unaligned AIO DIO", v4.6)
/// left it: after `inode_lock` and `generic_write_checks`, so `i_size` is read under
/// `i_mutex` and an O_APPEND write is judged at its final `ki_pos`; no `aio_mutex` (the
/// commit deletes `ext4__aio_mutex`). 4.6.2 fs/ext4/file.c:113-117:
///
/// ```text
/// if (o_direct && ext4_test_inode_flag(inode, EXT4_INODE_EXTENTS) &&
///     !is_sync_kiocb(iocb) &&
///     ext4_unaligned_aio(inode, from, iocb->ki_pos)) {
///         unaligned_aio = 1;
///         ext4_unwritten_wait(inode);
/// }
/// ```
fn gate_under_i_mutex(state: &State, f: &mut WriteFrame, notes: &mut Notes) {
    f.unaligned_aio = aio_dio_on_extents(state, f) && unaligned_aio(state, f);
    note!(
        notes,
        "i_size_read={} unaligned_aio={}",
        state.inodes[f.inode].i_size,
        f.unaligned_aio
    );
}

/// `ext4_unaligned_aio(inode, from, iocb->ki_pos)` with the `i_size` read now.
fn unaligned_aio(state: &State, f: &WriteFrame) -> bool {
    let (i_size, blocksize) = (state.inodes[f.inode].i_size, state.geometry.blocksize());
    if state.patched(Patch::UnalignedAioAlignedEof) {
        // 372a03e01853: "if (pos >= ALIGN(i_size_read(inode), sb->s_blocksize)) return 0;"
        ext4_unaligned_aio_aligned_eof(i_size, &f.iter, f.iocb.ki_pos, blocksize)
    } else {
        ext4_unaligned_aio(i_size, &f.iter, f.iocb.ki_pos, blocksize)
    }
}

fn lock_aio_mutex(state: &mut State, a: ActorId, f: &WriteFrame, notes: &mut Notes) {
    let bucket = f.aio_mutex.expect("gate chose the aio_mutex");
    assert!(
        state.aio_mutex.insert(bucket, a).is_none(),
        "aio_mutex[{bucket}] taken twice"
    );
    note!(notes, "aio_mutex[{bucket}] taken");
}

fn unlock_aio_mutex(state: &mut State, a: ActorId, f: &mut WriteFrame, notes: &mut Notes) {
    let bucket = f.aio_mutex.take().expect("aio_mutex held");
    assert_eq!(
        state.aio_mutex.remove(&bucket),
        Some(a),
        "aio_mutex[{bucket}] owner"
    );
    note!(notes, "aio_mutex[{bucket}] released");
}

/// `ext4_unwritten_wait`: sleeps on the hashed queue while `i_unwritten != 0`.
fn unwritten_wait(state: &mut State, a: ActorId, f: &WriteFrame, notes: &mut Notes) {
    let ino = &state.inodes[f.inode];
    if ino.i_unwritten != 0 {
        let bucket = ino.bucket();
        note!(
            notes,
            "i_unwritten={} sleep on ioend_wq[{bucket}]",
            ino.i_unwritten
        );
        state.actors[a as usize].sleeping = Some(crate::state::Sleep::IoendWq(bucket));
    } else {
        note!(notes, "i_unwritten=0");
    }
}

fn lock_i_mutex(state: &mut State, a: ActorId, f: &mut WriteFrame, notes: &mut Notes) {
    assert!(!f.i_mutex_held);
    crate::fs::ext4::inode::lock_i_mutex(state, a, f.inode, notes);
    f.i_mutex_held = true;
}

fn unlock_i_mutex(state: &mut State, a: ActorId, f: &mut WriteFrame, notes: &mut Notes) {
    assert!(f.i_mutex_held);
    crate::fs::ext4::inode::unlock_i_mutex(state, a, f.inode, notes);
    f.i_mutex_held = false;
    if f.pc == IMutexUnlock {
        f.ret = f.written;
    }
    note!(notes, "ret={}", f.ret);
}

/// `generic_write_checks`, the bitmap-file check, `iocb->private = &overwrite`, the plug.
/// `generic_write_checks` and the bitmap-file check (fs/ext4/file.c:125-133) on copies of
/// the write's iocb and iterator: what `ext4_file_write_iter` gets back, and the two after.
fn write_checks_result(
    state: &State,
    f: &WriteFrame,
    op: &WriteOp,
) -> (
    crate::mm::filemap::WriteChecks,
    crate::include::fs::Iocb,
    crate::include::fs::IovIter,
) {
    let ino = &state.inodes[f.inode];
    let g = &state.geometry;
    let (mut iocb, mut iter) = (f.iocb.clone(), f.iter.clone());
    let mut checks = generic_write_checks(
        &mut iocb,
        &mut iter,
        ino.i_size,
        op.file,
        op.rlimit_fsize,
        g.s_maxbytes(),
    );
    if checks.ret > 0
        && !ino.extents
        && let Some(error) = bitmap_file_check(iocb.ki_pos, &mut iter, g.s_bitmap_maxbytes())
    {
        checks.ret = error;
    }
    (checks, iocb, iter)
}

fn write_checks(state: &mut State, f: &mut WriteFrame, op: &WriteOp, notes: &mut Notes) {
    let (checks, iocb, iter) = write_checks_result(state, f, op);
    (f.ret, f.sigxfsz, f.iocb, f.iter) = (checks.ret, checks.sigxfsz, iocb, iter);
    note!(
        notes,
        "ki_pos={} count={} ret={} sigxfsz={}",
        f.iocb.ki_pos,
        f.iter.count(),
        f.ret,
        f.sigxfsz
    );
    if f.ret <= 0 {
        return;
    }
    f.iocb_private = IocbPrivate::Overwrite;
    f.plugged |= f.iocb.ki_flags.direct;
    // file_update_time in __generic_file_write_iter dirties the inode: i_sync_tid moves.
    state.inodes[f.inode].sync_dirty = true;
    f.buffered_pos = f.iocb.ki_pos;
}

/// The overwrite test of `ext4_file_write_iter` (`nrpages` and `i_size` read here).
fn overwrite_check(state: &State, f: &mut WriteFrame, notes: &mut Notes) {
    let ino = &state.inodes[f.inode];
    let (pos, length) = (f.iocb.ki_pos, f.iter.count());
    let blkbits = state.geometry.blkbits;
    // e142d05263a4: "if (ext4_should_dioread_nolock(inode) && !unaligned_aio &&"
    let serialized = if state.patched(Patch::IMutexSerializesUnalignedAio) {
        f.unaligned_aio
    } else {
        f.aio_mutex.is_some()
    };
    if state.should_dioread_nolock(f.inode)
        && !serialized
        && ino.nrpages() == 0
        && pos + length <= ino.i_size
    {
        let m_lblk = pos >> blkbits;
        let m_len = (pos + length).div_ceil(state.geometry.blocksize()) - m_lblk;
        let map = ino.map.lookup(m_lblk, m_len);
        f.overwrite = map.len == m_len && map.mapped();
    }
    note!(notes, "overwrite={}", f.overwrite);
}

/// `jbd2_complete_transaction` in `ext4_sync_file`: `generic_write_sync` passes
/// `datasync = !O_SYNC` (include/linux/fs.h:2465), so O_DSYNC and IS_SYNC wait for
/// `i_datasync_tid`, O_SYNC for `i_sync_tid`.
fn sync_commit(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    f.commit_tid = crate::fs::ext4::fsync::sync_target(state, f.inode, !f.file.o_sync);
    match f.commit_tid {
        Some(tid) => crate::jbd2::journal::request_commit(state, tid, notes),
        None => note!(notes, "tid committed: no commit"),
    }
}

/// `blk_finish_plug`: this task's plugged bios are dispatched.
fn finish_plug(state: &mut State, a: ActorId, f: &mut WriteFrame, notes: &mut Notes) {
    let mut dispatched = Vec::new();
    for (id, bio) in state
        .bios
        .iter_mut()
        .filter(|(_, b)| b.plugged_by == Some(a))
    {
        bio.plugged_by = None;
        dispatched.push(*id);
    }
    f.plugged = false;
    note!(notes, "unplug {}", crate::state::bio_names(&dispatched));
}

/// The bitmap-file check of `ext4_file_write_iter` (fs/ext4/file.c): for a file without
/// `EXT4_INODE_EXTENTS`, `-EFBIG` at or past `s_bitmap_maxbytes`, else truncate to it.
/// Returns the error, if any.
/// The comparison is in `loff_t`, as in the kernel (`s_bitmap_maxbytes` may be negative).
pub fn bitmap_file_check(ki_pos: u64, from: &mut IovIter, s_bitmap_maxbytes: i64) -> Option<i64> {
    let pos = ki_pos as i64;
    if pos >= s_bitmap_maxbytes {
        return Some(errno::EFBIG);
    }
    from.truncate((s_bitmap_maxbytes - pos) as u64);
    None
}

/// `ext4_unaligned_aio(inode, from, pos)` (fs/ext4/file.c), with `i_size` the value
/// `i_size_read` returned (unlocked). The early return at or past `i_size` is kept as written.
pub fn ext4_unaligned_aio(i_size: u64, from: &IovIter, pos: u64, blocksize: u64) -> bool {
    let blockmask = blocksize - 1;
    if pos >= i_size {
        return false;
    }
    (pos | from.alignment()) & blockmask != 0
}

/// `ext4_unaligned_aio` as `372a03e01853` ("ext4: fix data corruption caused by unaligned
/// direct AIO", v5.1) left it: the early return compares `pos` with `i_size` rounded up to a
/// block, so a write that starts past `i_size` but inside the block holding it is judged by
/// its alignment too. The commit changed the one line (fs/ext4/file.c:ext4_unaligned_aio,
/// 5.1.15 and 5.2.1 line 128):
///
/// ```text
/// -    if (pos >= i_size_read(inode))
/// +    if (pos >= ALIGN(i_size_read(inode), sb->s_blocksize))
///              return 0;
/// ```
pub fn ext4_unaligned_aio_aligned_eof(
    i_size: u64,
    from: &IovIter,
    pos: u64,
    blocksize: u64,
) -> bool {
    // ALIGN(x, a) (include/linux/kernel.h): x rounded up to a multiple of the power of two a.
    let aligned_eof = (i_size + blocksize - 1) & !(blocksize - 1);
    ext4_unaligned_aio(aligned_eof, from, pos, blocksize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::include::fs::Segment;
    use crate::include::fs::tests::iter;

    #[test]
    fn bitmap_file_check_refuses_at_the_limit_without_a_signal_and_truncates_below() {
        let limit = crate::limits::ext4_max_bitmap_size(10, true);
        assert_eq!(
            bitmap_file_check(limit as u64, &mut iter(1), limit),
            Some(errno::EFBIG)
        );
        let mut from = iter(4096);
        assert_eq!(
            bitmap_file_check(limit as u64 - 100, &mut from, limit),
            None
        );
        assert_eq!(from.count(), 100);
    }

    #[test]
    fn ext4_unaligned_aio_returns_aligned_at_or_past_i_size_as_written() {
        let unaligned = iter(512);
        assert!(!ext4_unaligned_aio(4096, &unaligned, 4096, 4096));
        assert!(!ext4_unaligned_aio(4096, &unaligned, 8192 + 512, 4096));
        assert!(ext4_unaligned_aio(8192, &unaligned, 512, 4096));
        assert!(!ext4_unaligned_aio(8192, &iter(4096), 4096, 4096));
    }

    #[test]
    fn ext4_unaligned_aio_aligned_eof_judges_a_write_past_i_size_inside_its_block() {
        let unaligned = iter(2048);
        // 0007's second write: at i_size 10240, inside the block [8192, 12288).
        assert!(!ext4_unaligned_aio(10240, &unaligned, 10240, 4096));
        assert!(ext4_unaligned_aio_aligned_eof(
            10240, &unaligned, 10240, 4096
        ));
        // Past the block holding i_size, and at an aligned i_size, nothing changes.
        assert!(!ext4_unaligned_aio_aligned_eof(
            10240, &unaligned, 12288, 4096
        ));
        assert!(!ext4_unaligned_aio_aligned_eof(
            8192,
            &unaligned,
            8192 + 512,
            4096
        ));
        assert!(!ext4_unaligned_aio_aligned_eof(
            10240,
            &iter(4096),
            4096,
            4096
        ));
    }

    #[test]
    fn ext4_unaligned_aio_sees_a_misaligned_buffer_address_or_segment_length() {
        let address = IovIter::new(vec![Segment {
            base: 0x10200,
            len: 4096,
        }]);
        assert!(ext4_unaligned_aio(1 << 20, &address, 0, 4096));
        let lengths = IovIter::new(vec![
            Segment {
                base: 0x10000,
                len: 2048,
            },
            Segment {
                base: 0x20000,
                len: 2048,
            },
        ]);
        assert!(ext4_unaligned_aio(1 << 20, &lengths, 0, 4096));
    }
}
