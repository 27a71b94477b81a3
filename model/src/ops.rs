//! What actors do: their operations (`Op`), the local state of the operation in progress
//! (`Frame`) with its program counter, and what each operation returned (`OpResult`).
//! Each program-counter variant is one interleaving point and names the kernel
//! code it mirrors.

use crate::include::fs::{FileFlags, Iocb, IovIter, Segment};
use crate::state::{Data, InodeIx, ObjId};

/// One `write`/`pwrite`/`io_submit` of a write.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct WriteOp {
    /// The file.
    pub inode: InodeIx,
    /// `ki_pos` as the caller passes it (ignored in effect by `O_APPEND`).
    pub pos: u64,
    /// The iovec.
    pub segments: Vec<Segment>,
    /// The open file's flags.
    pub file: FileFlags,
    /// Submitted with `io_submit` (`ki_complete` set): asynchronous.
    pub aio: bool,
    /// The caller's `RLIMIT_FSIZE` (`RLIM_INFINITY` for none).
    pub rlimit_fsize: u64,
    /// The data tag every byte of this write carries.
    pub tag: u8,
}

/// An operation of an actor's program.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Op {
    /// `ext4_file_write_iter`.
    Write(WriteOp),
    /// A buffered read (`generic_file_read_iter` → `ext4_readpage`), or with `direct` an
    /// `O_DIRECT` read.
    Read {
        /// The file.
        inode: InodeIx,
        /// Offset.
        pos: u64,
        /// Length.
        len: u64,
        /// `O_DIRECT`.
        direct: bool,
    },
    /// `stat`: reads `i_size`.
    Stat {
        /// The file.
        inode: InodeIx,
    },
    /// `ftruncate` → `ext4_setattr`.
    Truncate {
        /// The file.
        inode: InodeIx,
        /// New size.
        size: u64,
    },
    /// `fallocate(FALLOC_FL_PUNCH_HOLE)` → `ext4_punch_hole`.
    PunchHole {
        /// The file.
        inode: InodeIx,
        /// Offset.
        pos: u64,
        /// Length.
        len: u64,
    },
    /// `fsync`/`fdatasync` → `ext4_sync_file` over the whole file.
    Fsync {
        /// The file.
        inode: InodeIx,
        /// `fdatasync`.
        datasync: bool,
    },
    /// One flusher pass over the inode's dirty pages (`ext4_writepages`).
    Writeback {
        /// The file.
        inode: InodeIx,
    },
    /// A forced jbd2 commit (`jbd2_journal_force_commit`, as `sync(2)` or the commit timer
    /// would ask kjournald2): the running transaction if it holds anything, else the one
    /// being committed; the caller waits for it.
    Commit,
    /// Power failure, then journal replay and orphan cleanup at mount.
    Crash,
}

/// Program counter of a writer in `ext4_file_write_iter` and its callees.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum WritePc {
    /// The serialization gate: `o_direct && EXTENTS && !is_sync_kiocb && (APPEND ||
    /// ext4_unaligned_aio(...))`; `ext4_unaligned_aio` reads `i_size` without a lock.
    /// With `e142d05263a4` (v4.6) it runs under `i_mutex` after `generic_write_checks`, for
    /// an AIO DIO on an extent file only, without the APPEND case: `unaligned_aio = 1` and
    /// [`WritePc::UnwrittenWait`] when `ext4_unaligned_aio` says so.
    Gate,
    /// `mutex_lock(aio_mutex)` on `ext4__aio_mutex[inode % 37]`.
    AioMutexLock,
    /// `ext4_unwritten_wait`: `wait_event(ioend_wq, i_unwritten == 0)` (with `e142d05263a4`,
    /// under `i_mutex`).
    UnwrittenWait,
    /// `mutex_lock(&inode->i_mutex)`.
    IMutexLock,
    /// `generic_write_checks`, the bitmap-file check, `iocb->private = &overwrite` and, for
    /// `o_direct`, `blk_start_plug`.
    WriteChecks,
    /// The overwrite test: `ext4_should_dioread_nolock && !aio_mutex && !nrpages &&
    /// pos + length <= i_size` then `ext4_map_blocks(create = 0)`; reads `nrpages` unlocked.
    OverwriteCheck,
    /// `generic_file_direct_write`: `filemap_write_and_wait_range` starts writeback.
    DirectFlush,
    /// `generic_file_direct_write`: waits for that writeback.
    DirectFlushWait,
    /// `invalidate_inode_pages2_range` before the I/O (`-EBUSY` → whole write buffered).
    DirectInvalidate,
    /// `ext4_direct_IO`: 0 for a refused inode, else `ext4_ext_direct_IO` or
    /// `ext4_ind_direct_IO`; `ext4_ext_direct_IO` sends extending writes to the latter.
    DirectIo,
    /// `ext4_ext_direct_IO`: `inode_dio_begin`, read `overwrite`.
    ExtBegin,
    /// `ext4_ext_direct_IO` (overwrite): `down_read(i_data_sem)`, `mutex_unlock(i_mutex)`.
    ExtOverwriteUnlock,
    /// `ext4_ext_direct_IO`: `iocb->private = NULL`, `ext4_inode_aio_set(inode, NULL)`.
    ExtSetPrivate,
    /// `ext4_ext_direct_IO`, async: `ext4_init_io_end` (may sleep: a separate step),
    /// `iocb->private = ext4_get_io_end(io_end)`, `ext4_inode_aio_set(inode, io_end)`.
    ExtInitIoEnd,
    /// `ext4_ind_direct_IO`: for an extending write, `ext4_orphan_add` and
    /// `i_disksize = i_size`.
    IndBegin,
    /// `do_blockdev_direct_IO`: alignment (`blkfactor`), `is_async`, defer on O_DSYNC,
    /// `inode_dio_begin`.
    DioStart,
    /// `do_direct_IO` → `get_more_blocks` → `get_block` (`_ext4_get_block`,
    /// fs/ext4/inode.c:710). A written mapping is looked up and used at once: the data bio
    /// (after the head `dio_zero_block` of the first mapping when NEW). One that allocates or
    /// converts takes `down_write(i_data_sem)` and `ext4_ext_map_blocks` reads `io =
    /// ext4_inode_aio(inode)` on entry; then [`WritePc::DioMapAlloc`].
    DioGetBlock,
    /// `ext4_ext_map_blocks` after `ext4_mb_new_blocks`, which may sleep: insert the extent,
    /// flag the io_end read on entry (or set `EXT4_STATE_DIO_UNWRITTEN`), `up_write`; back in
    /// `_ext4_get_block`, `ext4_inode_aio(inode)` is read again for the deferral check
    /// (fs/ext4/inode.c:740, 754-755); then the bios of the mapping.
    DioMapAlloc,
    /// `dio_zero_block(end = 1)`: the tail zero bio; `-ENOTBLK` becomes a short write.
    DioZeroTail,
    /// `drop_refcount`: `-EIOCBQUEUED` if queued with bios in flight, else
    /// `dio_await_completion` and `dio_complete(..., is_async = false)` in the submitter.
    DioDrop,
    /// `ext4_ext_direct_IO`: `ext4_inode_aio_set(inode, NULL)`, `ext4_put_io_end` (converts
    /// if last) and the extra put when nothing was queued.
    ExtPutIoEnd,
    /// `ext4_ext_direct_IO`: sync conversion if `ret > 0 && !overwrite &&
    /// EXT4_STATE_DIO_UNWRITTEN`; then `inode_dio_end` and, for overwrite, `up_read`.
    ExtConvertAndEnd,
    /// `ext4_ext_direct_IO` (overwrite): `mutex_lock(i_mutex)` again.
    ExtRelock,
    /// `ext4_ind_direct_IO`: orphan delete and, past `i_size`, `i_disksize = i_size = end`.
    IndEnd,
    /// `generic_file_direct_write`: second invalidation, `i_size` raise, `ki_pos = pos`.
    DirectEnd,
    /// `generic_perform_write`: one page through `ext4_da_write_begin` / `ext4_da_write_end`.
    PerformWrite,
    /// `__generic_file_write_iter` fallback: `filemap_write_and_wait_range` starts writeback.
    FallbackFlush,
    /// Waits for it, then `ki_pos = endbyte + 1`, `invalidate_mapping_pages`.
    FallbackFlushWait,
    /// `57a0da28ced8` (v5.2): `if (ret == -EIOCBQUEUED && unaligned_aio)
    /// ext4_unwritten_wait(inode);` after `__generic_file_write_iter`, before the unlock:
    /// sleeps on `ioend_wq[hash]` while `i_unwritten != 0`, holding `i_mutex` (and, in the
    /// 4.4 shape, the aio_mutex); re-runs when woken.
    QueuedUnwrittenWait,
    /// `mutex_unlock(&inode->i_mutex)` after `__generic_file_write_iter`.
    IMutexUnlock,
    /// `generic_write_sync` → `ext4_sync_file`: `filemap_write_and_wait_range` starts.
    SyncFlush,
    /// Waits for that writeback.
    SyncFlushWait,
    /// `jbd2_complete_transaction` in `ext4_sync_file` (fs/ext4/fsync.c:141): the inode's
    /// `i_datasync_tid` (`!O_SYNC`) or `i_sync_tid`, if not committed, is asked for
    /// (`jbd2_log_start_commit`).
    SyncCommit,
    /// `jbd2_log_wait_commit` (fs/jbd2/journal.c:689): sleeps until that transaction is
    /// committed.
    SyncCommitWait,
    /// `blk_finish_plug` (fs/ext4/file.c:182). For an AIO write this plug is nested under
    /// `io_submit`'s (`blk_start_plug` only installs the outermost): it dispatches nothing.
    FinishPlug,
    /// `mutex_unlock(aio_mutex)`, last.
    AioMutexUnlock,
    /// `out:` for `ret <= 0` or `-EFBIG`: `mutex_unlock(i_mutex)`, then the aio_mutex.
    OutUnlock,
    /// AIO only: back in `do_io_submit` (fs/aio.c:1624), `blk_finish_plug` of the plug
    /// `io_submit` started before the write (fs/aio.c:1600) dispatches the write's plugged
    /// bios, after `i_mutex` and `aio_mutex` were released.
    IoSubmitFinishPlug,
    /// Returned.
    Done,
}

/// What `iocb->private` points to.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum IocbPrivate {
    /// `NULL`.
    #[default]
    Null,
    /// `&overwrite`, the stack int of `ext4_file_write_iter`.
    Overwrite,
    /// An io_end reference (`ext4_get_io_end`).
    IoEnd(ObjId),
}

/// Which `->direct_IO` implementation runs the request.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum DioPath {
    /// `ext4_ext_direct_IO` with `ext4_get_block_write` (unwritten allocation).
    Ext,
    /// `ext4_ext_direct_IO` overwrite with `ext4_get_block_write_nolock`.
    ExtOverwrite,
    /// `ext4_ind_direct_IO` with `ext4_get_block` (`DIO_SKIP_HOLES`).
    Ind,
}

/// A writer's local variables in `ext4_file_write_iter` and its callees.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct WriteFrame {
    /// Where it is.
    pub pc: WritePc,
    /// The file written.
    pub inode: InodeIx,
    /// The open file's flags.
    pub file: FileFlags,
    /// The iocb.
    pub iocb: Iocb,
    /// `from`.
    pub iter: IovIter,
    /// The aio_mutex bucket taken (`aio_mutex != NULL`).
    pub aio_mutex: Option<u8>,
    /// `unaligned_aio`, the local of `ext4_file_write_iter` from 4.6 on: with `e142d05263a4`
    /// the gate under `i_mutex` found an AIO DIO unaligned and waited in
    /// `ext4_unwritten_wait`; with `57a0da28ced8` in the 4.4 shape, the gate serialized
    /// because `ext4_unaligned_aio` said so (not for O_APPEND). Always false in 4.4.
    pub unaligned_aio: bool,
    /// `i_mutex` is held by this writer.
    pub i_mutex_held: bool,
    /// `overwrite` (the stack int `iocb->private` points to).
    pub overwrite: bool,
    /// `iocb->private`.
    pub iocb_private: IocbPrivate,
    /// `ret` of `ext4_file_write_iter`.
    pub ret: i64,
    /// SIGXFSZ was raised.
    pub sigxfsz: bool,
    /// Bios go to this task's plug list: `io_submit`'s plug for an AIO write (from the
    /// start), ext4's own for a synchronous direct write (from `blk_start_plug`).
    pub plugged: bool,
    /// The `->direct_IO` implementation chosen.
    pub path: Option<DioPath>,
    /// The io_end of an async `ext4_ext_direct_IO`.
    pub io_end: Option<ObjId>,
    /// The dio of `do_blockdev_direct_IO`.
    pub dio: Option<ObjId>,
    /// `io = ext4_inode_aio(inode)` as `ext4_ext_map_blocks` read it on entry
    /// (fs/ext4/extents.c:4294), before `ext4_mb_new_blocks`; it flags this one.
    pub gb_io: Option<ObjId>,
    /// A `get_block` is inside `ext4_ext_map_blocks`, holding `i_data_sem` for write across
    /// `ext4_mb_new_blocks`.
    pub gb_io_pending: bool,
    /// `ext4_ind_direct_IO` put the inode on the orphan list.
    pub orphan: bool,
    /// DIO unit bits (`sdio.blkbits`): fs block or, with `blkfactor > 0`, sector.
    pub dio_blkbits: u32,
    /// Next byte `do_direct_IO` maps.
    pub dio_next: u64,
    /// End of the direct request.
    pub dio_end: u64,
    /// The last mapping was `buffer_new`.
    pub last_new: bool,
    /// Physical block of the block holding `dio_next` in the last mapping.
    pub last_pblk: u32,
    /// `retval` of `do_blockdev_direct_IO` (`-ENOTBLK`, `-EINVAL`, `-EIOCBQUEUED`, bytes).
    pub dio_ret: i64,
    /// `written` of `__generic_file_write_iter` (direct part).
    pub written: i64,
    /// Start of the buffered part and bytes copied (`generic_perform_write`).
    pub buffered_pos: u64,
    /// Bytes `generic_perform_write` copied.
    pub status: u64,
    /// The error that stopped `generic_perform_write` (0: none).
    pub perform_error: i64,
    /// The buffered part is a DIO fallback.
    pub fallback: bool,
    /// AIO event result, once `ki_complete` ran.
    pub event: Option<i64>,
    /// The transaction `jbd2_complete_transaction` waits for.
    pub commit_tid: Option<u32>,
}

/// Program counter of the `dio_complete` work of an async dio (fs/ext4/inode.c).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum CompletePc {
    /// `dio->end_io`: `ext4_end_io_dio` puts the io_end, converting if it was the last ref.
    EndIo,
    /// `inode_dio_end`.
    DioEnd,
    /// `generic_write_sync(file, offset, transferred)`: writeback of the range starts.
    SyncFlush,
    /// Waits for that writeback.
    SyncFlushWait,
    /// `jbd2_complete_transaction` in `ext4_sync_file` (fs/ext4/fsync.c:141): the inode's
    /// `i_datasync_tid` (datasync) or `i_sync_tid`, if not committed, is asked for
    /// (`jbd2_log_start_commit`).
    SyncCommit,
    /// `jbd2_log_wait_commit` (fs/jbd2/journal.c:689): sleeps until that transaction is
    /// committed.
    SyncCommitWait,
    /// `ki_complete`: the AIO event.
    KiComplete,
    /// Linux 4.14 only ([`crate::patches::Patch::DioCompleteInvalidates`]):
    /// `invalidate_inode_pages2_range` over the written pages when `ret > 0` and the inode
    /// has cached pages (fs/direct-io.c:dio_complete in 4.14.0, 287-294); before `EndIo`
    /// under 332391a9935d, after it under 5e25c269e17d. Waits for the pages' writeback.
    Invalidate,
}

/// Program counter of kjournald2's commit (`jbd2_journal_commit_transaction`,
/// fs/jbd2/commit.c), see [`crate::jbd2::journal`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum CommitPc {
    /// `jbd2_journal_commit_transaction` (fs/jbd2/commit.c:438): `t_state = T_LOCKED`; with
    /// nothing in the running transaction, no commit (`jbd2_journal_commit_transaction` is
    /// only called for a transaction that exists, `__jbd2_log_start_commit`).
    Lock,
    /// Waits until `t_updates == 0` (fs/jbd2/commit.c:452), then `T_FLUSH` (fs/jbd2/commit.c:538-543):
    /// the committed metadata is fixed, `j_running_transaction = NULL` and
    /// `wake_up(&journal->j_wait_transaction_locked)`: new handles start the next transaction.
    Switch,
    /// `journal_submit_data_buffers` (fs/jbd2/commit.c:187-233, called at 552) writes the
    /// ordered inodes' mapped dirty pages (`generic_writepages` with `WB_SYNC_ALL`, which
    /// first waits for a dirty page already under writeback), with new handles running.
    Submit,
    /// `journal_finish_inode_data_buffers` (fs/jbd2/commit.c:252, 752) waits for that data,
    /// then the commit record (`j_commit_sequence = tid`, fs/jbd2/commit.c:1106).
    Flush,
}

/// Program counter of the other actors' operations.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum OtherPc {
    /// `mutex_lock(&inode->i_mutex)` (truncate, punch hole; punch returns at or past
    /// `i_size`).
    IMutexLock,
    /// `ext4_setattr`: `ext4_orphan_add` in a journal handle (the size shrinks).
    OrphanAdd,
    /// `ext4_setattr`: under `down_write(i_data_sem)`, `i_disksize` and `i_size` set
    /// together (only when the size changes).
    SetSize,
    /// `ext4_inode_block_unlocked_dio` + `inode_dio_wait` (shrinking truncate with an
    /// orphan entry; punch hole).
    DioWait,
    /// `truncate_pagecache` (wait for writeback, drop pages past the size), or for punch
    /// `truncate_pagecache_range` and `ext4_zero_partial_blocks`.
    TruncatePagecache,
    /// `ext4_truncate` (zero the partial block's tail, free blocks past the size, orphan
    /// del), or for punch `ext4_ext_remove_space` under `down_write(i_data_sem)`.
    FreeBlocks,
    /// `mutex_unlock(&inode->i_mutex)`.
    IMutexUnlock,
    /// `filemap_write_and_wait_range` starts writeback (fsync, direct read).
    Flush,
    /// `ext4_punch_hole` (fs/ext4/inode.c:3712): `if (mapping_tagged(mapping,
    /// PAGECACHE_TAG_DIRTY))` `filemap_write_and_wait_range` starts writeback of the hole;
    /// with no dirty page anywhere in the file it neither flushes, nor waits, nor looks at
    /// `AS_EIO`.
    PunchFlush,
    /// Waits for it.
    FlushWait,
    /// `jbd2_complete_transaction` (fsync, fs/ext4/fsync.c:141: the inode's `i_sync_tid` or
    /// `i_datasync_tid`, if not committed) or `jbd2_journal_force_commit` (the running
    /// transaction if it holds anything, else the committing one): `jbd2_log_start_commit`.
    Commit,
    /// `jbd2_log_wait_commit` (fs/jbd2/journal.c:689): sleeps until that transaction is
    /// committed.
    CommitWait,
    /// One page of a buffered read, or the whole of a direct read (mapped and read in one
    /// step).
    ReadPage,
    /// Direct read, `ext4_ind_direct_IO`: with dioread_nolock, `inode_dio_begin` and the
    /// `EXT4_STATE_DIOREAD_LOCK` check (set: the locked path); without, the locked path.
    DioReadBegin,
    /// Direct read, locked path (`DIO_LOCKING`): `filemap_write_and_wait_range` again under
    /// `i_mutex`, starting writeback.
    LockedFlush,
    /// Waits for it.
    LockedFlushWait,
    /// `ext4_writepages`: map (allocate) and submit the next run of dirty pages.
    WritebackRun,
    /// `stat`: `i_size_read`.
    Stat,
    /// Power failure, journal replay, orphan cleanup.
    Crash,
    /// Returned.
    Done,
}

/// The frame of an operation in progress.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Frame {
    /// Between operations.
    #[default]
    Idle,
    /// A write.
    Write(Box<WriteFrame>),
    /// Any other operation.
    Other(OtherFrame),
}

/// Local state of a non-write operation.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct OtherFrame {
    /// Where it is.
    pub pc: OtherPc,
    /// Next byte (reads), or `i_size` seen (stat).
    pub pos: u64,
    /// Data read so far, per sector.
    pub read: Vec<Data>,
    /// Truncate: shrinking (`shrink = size <= i_size` in `ext4_setattr`); punch: the hole
    /// starts inside `i_size`; direct read: it takes the locked path.
    pub flag: bool,
    /// Truncate: `orphan` in `ext4_setattr` (the size shrinks).
    pub orphan: bool,
    /// The error the operation returns (0: none), e.g. `-EIO` from a flush.
    pub error: i64,
    /// The transaction a commit waits for.
    pub tid: Option<u32>,
}

/// What an operation returned.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum OpResult {
    /// A write: `ret`, SIGXFSZ, the final `ki_pos`, and the AIO event once it arrived.
    Write {
        /// The value `ext4_file_write_iter` returned.
        ret: i64,
        /// SIGXFSZ was raised.
        sigxfsz: bool,
        /// `ki_pos` after the call.
        ki_pos: u64,
        /// `ki_complete` result for a queued AIO (filled in when it arrives).
        event: Option<i64>,
    },
    /// A read: the data, per sector.
    Read(Vec<Data>),
    /// `stat`: `i_size`.
    Stat(u64),
    /// Anything else finished.
    Done,
    /// A read, fsync or punch hole failed with this error.
    Failed(i64),
    /// Killed by a crash.
    Crashed,
}

/// A program counter's step name, as the trace prints it: the variant's name (each variant
/// documents the kernel code it stands for).
macro_rules! step_names {
    ($($pc:ident),+) => {$(
        impl std::fmt::Display for $pc {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // Unit variants only: their `Debug` text is exactly the variant's name.
                std::fmt::Debug::fmt(self, f)
            }
        }
    )+};
}
step_names!(WritePc, CompletePc, OtherPc, CommitPc);

/// Every program point of the four kinds of program counter, in declaration order (so
/// `ALL[i] as usize == i`), for coverage reports that list which points a run never reached.
/// `WritePc::Done` and `OtherPc::Done` are where an operation has returned: no step runs there.
macro_rules! program_points {
    ($($pc:ident [$n:literal]: $($v:ident),+;)+) => {$(
        impl $pc {
            /// Every variant, in declaration order.
            pub const ALL: [$pc; $n] = [$($pc::$v),+];
        }
    )+};
}
program_points! {
    WritePc [39]:
        Gate, AioMutexLock, UnwrittenWait, IMutexLock, WriteChecks, OverwriteCheck,
        DirectFlush, DirectFlushWait, DirectInvalidate, DirectIo, ExtBegin,
        ExtOverwriteUnlock, ExtSetPrivate, ExtInitIoEnd, IndBegin, DioStart,
        DioGetBlock, DioMapAlloc, DioZeroTail, DioDrop, ExtPutIoEnd, ExtConvertAndEnd,
        ExtRelock, IndEnd, DirectEnd, PerformWrite, FallbackFlush, FallbackFlushWait,
        QueuedUnwrittenWait, IMutexUnlock, SyncFlush, SyncFlushWait, SyncCommit, SyncCommitWait, FinishPlug,
        AioMutexUnlock, OutUnlock, IoSubmitFinishPlug, Done;
    OtherPc [20]:
        IMutexLock, OrphanAdd, SetSize, DioWait, TruncatePagecache, FreeBlocks,
        IMutexUnlock, Flush, PunchFlush, FlushWait, Commit, CommitWait, ReadPage,
        DioReadBegin, LockedFlush, LockedFlushWait, WritebackRun, Stat, Crash, Done;
    CompletePc [8]:
        EndIo, DioEnd, SyncFlush, SyncFlushWait, SyncCommit, SyncCommitWait, KiComplete,
        Invalidate;
    CommitPc [4]: Lock, Switch, Submit, Flush;
}

impl std::fmt::Display for DioPath {
    /// The `->direct_IO` implementation's kernel name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DioPath::Ext => "ext4_ext_direct_IO",
            DioPath::ExtOverwrite => "ext4_ext_direct_IO (overwrite)",
            DioPath::Ind => "ext4_ind_direct_IO",
        })
    }
}

impl std::fmt::Display for WriteOp {
    /// The system call and its flags: `io_submit pwrite(inode 0, pos 5120, 1024 bytes,
    /// O_DIRECT|O_DSYNC)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let call = match (self.aio, self.segments.len()) {
            (true, 1) => "io_submit pwrite",
            (true, _) => "io_submit pwritev",
            (false, 1) => "pwrite",
            (false, _) => "pwritev",
        };
        let bytes: Vec<String> = self.segments.iter().map(|s| s.len.to_string()).collect();
        let mut flags = Vec::new();
        let fl = &self.file;
        for (set, name) in [
            (fl.o_direct, "O_DIRECT"),
            (fl.o_append, "O_APPEND"),
            (fl.o_sync, "O_SYNC"),
            (fl.o_dsync && !fl.o_sync, "O_DSYNC"),
            (!fl.o_largefile, "no O_LARGEFILE"),
        ] {
            if set {
                flags.push(name);
            }
        }
        write!(
            f,
            "{call}(inode {}, pos {}, {} bytes",
            self.inode,
            self.pos,
            bytes.join("+")
        )?;
        if !flags.is_empty() {
            write!(f, ", {}", flags.join("|"))?;
        }
        if self.rlimit_fsize != crate::limits::RLIM_INFINITY {
            write!(f, ", RLIMIT_FSIZE {}", self.rlimit_fsize)?;
        }
        f.write_str(")")
    }
}

impl std::fmt::Display for Op {
    /// The operation as the system call (or kernel activity) it stands for.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Write(w) => write!(f, "{w}"),
            Op::Read {
                inode,
                pos,
                len,
                direct,
            } => {
                let direct = if *direct { ", O_DIRECT" } else { "" };
                write!(f, "pread(inode {inode}, pos {pos}, {len} bytes{direct})")
            }
            Op::Stat { inode } => write!(f, "stat(inode {inode})"),
            Op::Truncate { inode, size } => write!(f, "ftruncate(inode {inode}, {size})"),
            Op::PunchHole { inode, pos, len } => write!(
                f,
                "fallocate(inode {inode}, PUNCH_HOLE|KEEP_SIZE, pos {pos}, {len} bytes)"
            ),
            Op::Fsync { inode, datasync } => {
                let call = if *datasync { "fdatasync" } else { "fsync" };
                write!(f, "{call}(inode {inode})")
            }
            Op::Writeback { inode } => write!(f, "writeback of inode {inode} (ext4_writepages)"),
            Op::Commit => f.write_str("jbd2 commit"),
            Op::Crash => f.write_str("crash and recovery"),
        }
    }
}
