//! Direct I/O writes: `ext4_ext_direct_IO`, `ext4_ind_direct_IO` (fs/ext4/inode.c,
//! indirect.c) and `do_blockdev_direct_IO` with `dio_zero_block` and `dio_complete`
//! (fs/direct-io.c), fs/ext4/inode.c. The writer's control flow is in [`crate::fs::ext4::file::after`];
//! here are the waits and the effects of the DIO steps.

use crate::convert::ext4_ext_convert_to_initialized;
use crate::fs::ext4::extents::{Extent, ExtentState};
use crate::fs::ext4::page_io::{
    clear_io_unwritten_flag, convert_unwritten_extents, data_sem_free, flag_io_unwritten,
    inode_dio_begin, inode_dio_end, new_io_end, put_converts, put_io_end,
};
use crate::include::fs::errno;
use crate::jbd2::journal::handle_wait_if;
use crate::mm::filemap::unwritten_merge_allowed;
use crate::notes::Notes;
use crate::ops::{DioPath, IocbPrivate, WriteFrame, WriteOp, WritePc};
use crate::patches::Patch;
use crate::state::Wait;
use crate::state::{ActorId, Bio, BioOwner, Data, Dio, InodeIx, ObjId, State};

/// What a DIO step waits for.
pub fn wait(state: &State, _a: ActorId, f: &WriteFrame) -> Option<Wait> {
    let inode = f.inode;
    let sem_busy = !data_sem_free(state, inode);
    // A step that starts a handle waits in start_this_handle first, then for i_data_sem.
    let handle_then_sem = |starts: bool| {
        handle_wait_if(state, starts).or((starts && sem_busy).then_some(Wait::DataSem { inode }))
    };
    match f.pc {
        // _ext4_get_block (fs/ext4/inode.c:724-736): any call with flags and no
        // EXT4_GET_BLOCKS_NO_LOCK (every create call but the overwrite's) starts a handle
        // before ext4_map_blocks, whether or not it will allocate.
        WritePc::DioGetBlock => {
            let create = block_request(state, f).2;
            let allocates = get_block_allocates(state, f);
            handle_wait_if(state, create)
                .or((allocates && sem_busy).then_some(Wait::DataSem { inode }))
        }
        WritePc::DioDrop => {
            let id = f.dio.expect("dio started");
            let dio = &state.dios[&id];
            if !queue_candidate(f, dio) && dio.bios > 0 {
                return Some(Wait::DioBios { dio: id });
            }
            let completes = dio.bios == 0;
            let ret = complete_ret(
                dio,
                if queue_candidate(f, dio) {
                    0
                } else {
                    f.dio_ret
                },
            );
            let invalidate = || crate::block::bio::invalidate_wait(state, dio, ret);
            handle_then_sem(completes && end_io_converts(state, dio, ret))
                .or_else(|| completes.then(invalidate).flatten())
        }
        // ext4_convert_unwritten_extents(NULL, ...) starts its handle (fs/ext4/extents.c:5074).
        WritePc::ExtPutIoEnd => handle_then_sem(puts_convert(state, f)),
        WritePc::ExtConvertAndEnd => handle_then_sem(sync_conversion(state, f)),
        // ext4_ind_direct_IO: ext4_truncate_failed_write, or ext4_journal_start for the
        // orphan delete (fs/ext4/indirect.c:727).
        WritePc::IndEnd => handle_wait_if(state, f.orphan || failed_write_truncates(state, f))
            .or((failed_write_truncates(state, f) && sem_busy).then_some(Wait::DataSem { inode })),
        // ext4_ind_direct_IO, extending: ext4_journal_start for ext4_orphan_add
        // (fs/ext4/indirect.c:664).
        WritePc::IndBegin => handle_wait_if(state, extends(state, f)),
        _ => None,
    }
}

/// Applies a DIO step.
pub fn run(state: &mut State, a: ActorId, f: &mut WriteFrame, op: &WriteOp, notes: &mut Notes) {
    match f.pc {
        WritePc::ExtBegin => {
            assert_ne!(
                f.iocb_private,
                IocbPrivate::Null,
                "BUG_ON(iocb->private == NULL)"
            );
            inode_dio_begin(state, f.inode);
            note!(
                notes,
                "inode_dio_begin i_dio_count={}",
                state.inodes[f.inode].i_dio_count
            );
        }
        WritePc::ExtOverwriteUnlock => overwrite_unlock(state, a, f, notes),
        WritePc::ExtSetPrivate => set_private(state, f, notes),
        WritePc::ExtInitIoEnd => init_io_end(state, f, notes),
        WritePc::IndBegin => ind_begin(state, f, notes),
        WritePc::DioStart => dio_start(state, a, f, notes),
        WritePc::DioGetBlock if get_block_allocates(state, f) => map_enter(state, f, notes),
        WritePc::DioGetBlock | WritePc::DioMapAlloc => get_block(state, a, f, op, notes),
        WritePc::DioZeroTail => zero_tail(state, a, f, notes),
        WritePc::DioDrop => drop_refcount(state, f, notes),
        WritePc::ExtPutIoEnd => ext_put_io_end(state, f, notes),
        WritePc::ExtConvertAndEnd => ext_convert_and_end(state, f, notes),
        WritePc::IndEnd => ind_end(state, f, notes),
        pc => unreachable!("{pc:?} is not a DIO step"),
    }
}

/// `down_read(&EXT4_I(inode)->i_data_sem); mutex_unlock(&inode->i_mutex);`
fn overwrite_unlock(state: &mut State, a: ActorId, f: &mut WriteFrame, notes: &mut Notes) {
    let ino = &mut state.inodes[f.inode];
    assert!(!ino.i_data_sem.writer && ino.i_mutex == Some(a));
    ino.i_data_sem.readers += 1;
    ino.i_mutex = None;
    f.i_mutex_held = false;
    note!(notes, "i_data_sem read, i_mutex({}) released", ino.ino);
}

/// `iocb->private = NULL; ext4_inode_aio_set(inode, NULL);` (fs/ext4/inode.c:3258-3259),
/// after `i_mutex` was dropped for an overwrite.
fn set_private(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    f.iocb_private = IocbPrivate::Null;
    if leaves_i_private(state, f) {
        note!(notes, "iocb->private=NULL (i_private left alone)");
        return;
    }
    state.inodes[f.inode].i_private = None;
    note!(notes, "iocb->private=NULL i_private=NULL");
}

/// `74dae4278546` (v4.5, 4.5.0 fs/ext4/inode.c:ext4_ext_direct_IO:3287-3310): an overwrite
/// takes neither `ext4_inode_aio_set` nor an io_end, only the non-overwrite branch does:
///
/// ```c
///     iocb->private = NULL;
///     if (overwrite) {
///         get_block_func = ext4_get_block_overwrite;
///     } else {
///         ext4_inode_aio_set(inode, NULL);
///         if (!is_sync_kiocb(iocb)) {
///             io_end = ext4_init_io_end(inode, GFP_NOFS);
/// ```
///
/// In 4.4 (fs/ext4/inode.c:3258-3277) both run for every write, an overwrite too.
fn overwrite_skips_io_end(state: &State, f: &WriteFrame) -> bool {
    if state.patched(Patch::OverwriteDioLeavesIPrivate) {
        f.path == Some(DioPath::ExtOverwrite)
    } else {
        false
    }
}

/// `109811c20fb8` (v4.6): `ext4_ext_direct_IO` neither allocates an io_end nor touches
/// `i_private` (`ext4_inode_aio_set` is gone); it only picks the `get_block` (4.6.2
/// fs/ext4/inode.c:3395-3404):
///
/// ```c
///     iocb->private = NULL;
///     if (overwrite)
///         get_block_func = ext4_dio_get_block_overwrite;
///     else if (is_sync_kiocb(iocb)) {
///         get_block_func = ext4_dio_get_block_unwritten_sync;
///         dio_flags = DIO_LOCKING;
///     } else {
///         get_block_func = ext4_dio_get_block_unwritten_async;
///         dio_flags = DIO_LOCKING;
///     }
/// ```
fn no_submission_io_end(state: &State) -> bool {
    state.patched(Patch::IoEndInBPrivate)
}

/// `ext4_ext_direct_IO` leaves `i_private` alone at [`WritePc::ExtSetPrivate`].
fn leaves_i_private(state: &State, f: &WriteFrame) -> bool {
    overwrite_skips_io_end(state, f) || no_submission_io_end(state)
}

/// `ext4_ext_direct_IO` allocates an io_end ([`WritePc::ExtInitIoEnd`]): in 4.4 every
/// asynchronous write does (`if (!is_sync_kiocb(iocb))`, fs/ext4/inode.c:3260).
pub fn inits_io_end(state: &State, f: &WriteFrame) -> bool {
    !f.iocb.is_sync_kiocb() && !overwrite_skips_io_end(state, f) && !no_submission_io_end(state)
}

/// After `__blockdev_direct_IO`, `ext4_ext_direct_IO` has an io_end of its own to put
/// ([`WritePc::ExtPutIoEnd`]); with `109811c20fb8` it has none, and the lines are gone
/// (4.6.2 fs/ext4/inode.c:3412-3417 go on with the sync conversion).
pub fn puts_own_io_end(state: &State) -> bool {
    !no_submission_io_end(state)
}

/// `ext4_init_io_end` with two references: `iocb->private` and `i_private`.
fn init_io_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let io_end = new_io_end(state, f.inode);
    state.io_ends.get_mut(&io_end).expect("new io_end").count += 1;
    f.iocb_private = IocbPrivate::IoEnd(io_end);
    f.io_end = Some(io_end);
    state.inodes[f.inode].i_private = Some(io_end);
    note!(notes, "io_end e{io_end} in iocb->private and i_private");
}

/// `ext4_ind_direct_IO`'s `final_size > inode->i_size` (fs/ext4/indirect.c:662; also
/// `ext4_ext_direct_IO`'s test at fs/ext4/inode.c:3218): an extending write.
pub(crate) fn extends(state: &State, f: &WriteFrame) -> bool {
    let ino = &state.inodes[f.inode];
    let final_size = f.iocb.ki_pos + f.iter.count();
    if state.patched(crate::patches::Patch::DioUpdatesDisksize) {
        // 45d8ec4d9fd5 ("ext4: update i_disksize if direct write past ondisk size", v4.17),
        // ext4_direct_IO_write (fs/ext4/inode.c, 4.17.0:3674): a write past the on-disk
        // size takes the orphan-and-size path too.
        //     +    if (final_size > inode->i_size || final_size > ei->i_disksize) {
        final_size > ino.i_size || final_size > ino.i_disksize
    } else {
        final_size > ino.i_size
    }
}

/// `914f82a32d02` ("ext4: refactor direct IO code", v4.7): `ext4_direct_IO_write` keeps
/// `ext4_dio_get_block` (written blocks, `DIO_SKIP_HOLES`: 4.4's `ext4_ind_direct_IO`) only
/// for block-mapped files and for writes whose first block lies wholly at or past EOF; every
/// other extent-file write, extending ones included, maps unwritten extents
/// (`ext4_dio_get_block_unwritten_sync` / `_async`: 4.4's `ext4_get_block_write`) and converts
/// them once the I/O succeeded (fs/ext4/inode.c at 914f82a32d02, 4.7.4 lines 3441-3450):
///
/// ```text
/// +    else if (!ext4_test_inode_flag(inode, EXT4_INODE_EXTENTS) ||
/// +         round_down(offset, 1 << inode->i_blkbits) >= inode->i_size) {
/// +        get_block_func = ext4_dio_get_block;
/// +        dio_flags = DIO_LOCKING | DIO_SKIP_HOLES;
/// +    } else if (is_sync_kiocb(iocb)) {
/// +        get_block_func = ext4_dio_get_block_unwritten_sync;
/// ```
///
/// Here: an extending extent-file write whose first block is not wholly past EOF takes
/// `ext4_ext_direct_IO`'s steps between `ext4_ind_direct_IO`'s orphan step and its end
/// (the order of 4.7's `ext4_direct_IO_write`): see [`crate::fs::ext4::file::after`].
pub(crate) fn dio_refactor_unwritten(state: &State, f: &WriteFrame) -> bool {
    let ino = &state.inodes[f.inode];
    let blocksize = state.geometry.blocksize();
    state.patched(crate::patches::Patch::DioRefactor)
        && ino.extents
        && f.iocb.ki_pos & !(blocksize - 1) < ino.i_size
}

/// `914f82a32d02`: an `ext4_ext_direct_IO` write (unwritten extents) that extends the file
/// first runs `ext4_direct_IO_write`'s orphan step, 4.4's `ext4_ind_direct_IO` head:
///
/// ```text
/// +    if (final_size > inode->i_size) {
/// +        /* Credits for sb + inode write */
/// +        handle = ext4_journal_start(inode, EXT4_HT_INODE, 2);
/// ```
///
/// (In 4.4 no extending write reaches `ext4_ext_direct_IO`: this is never true unpatched.)
pub(crate) fn ext_orphan_first(state: &State, f: &WriteFrame) -> bool {
    matches!(f.path, Some(DioPath::Ext | DioPath::ExtOverwrite)) && extends(state, f)
}

/// `ext4_ind_direct_IO`, extending write: `ext4_orphan_add`, `i_disksize = i_size`.
fn ind_begin(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let extends = extends(state, f);
    let ino = &mut state.inodes[f.inode];
    if extends {
        ino.orphan = true;
        ino.i_disksize = ino.i_size;
        ino.sync_dirty = true;
        ino.datasync_dirty = true;
        f.orphan = true;
        note!(notes, "orphan_add i_disksize={}", ino.i_disksize);
    }
}

/// `do_blockdev_direct_IO` up to `do_direct_IO`: alignment, `is_async`, defer, the dio.
fn dio_start(state: &mut State, a: ActorId, f: &mut WriteFrame, notes: &mut Notes) {
    let g = state.geometry;
    let (pos, count) = (f.iocb.ki_pos, f.iter.count());
    let align = pos | f.iter.alignment();
    f.dio_blkbits = if align & (g.blocksize() - 1) == 0 {
        g.blkbits
    } else if align & (g.sectorsize() - 1) == 0 {
        g.sector_bits
    } else {
        f.dio_ret = errno::EINVAL;
        note!(notes, "misaligned: -EINVAL");
        return;
    };
    let i_size = state.inodes[f.inode].i_size;
    let is_async = !f.iocb.is_sync_kiocb() && pos + count <= i_size;
    let dsync = f.file.o_dsync || f.file.o_sync || state.is_sync(f.inode);
    let private = match f.iocb_private {
        IocbPrivate::IoEnd(io_end) => Some(io_end),
        _ => None,
    };
    let dio = Dio {
        inode: f.inode,
        owner: a,
        is_async,
        defer_completion: is_async && dsync,
        bios: 0,
        submitter_ref: true,
        holds_dio_count: true,
        io_error: false,
        sync_error: false,
        fdatawait: Vec::new(),
        result: 0,
        offset: pos,
        private,
        end_io: f.path != Some(DioPath::Ind),
        file: f.file,
        op: state.actors[a as usize].op,
    };
    inode_dio_begin(state, f.inode);
    let id = state.new_id();
    state.dios.insert(id, dio);
    (f.dio, f.dio_next, f.dio_end, f.dio_ret, f.last_new) = (Some(id), pos, pos + count, 0, false);
    note!(
        notes,
        "dio d{id} blkfactor={} is_async={is_async} i_size={i_size}",
        g.blkbits - f.dio_blkbits
    );
}

/// The block range `get_more_blocks` asks for and whether `get_block` would create.
fn block_request(state: &State, f: &WriteFrame) -> (u64, u64, bool) {
    let g = state.geometry;
    let lblk = f.dio_next >> g.blkbits;
    let want = f.dio_end.div_ceil(g.blocksize()) - lblk;
    // DIO_SKIP_HOLES: no create while the DIO unit lies wholly below i_size.
    let i_size = state.inodes[f.inode].i_size;
    let create = match f.path {
        Some(DioPath::Ind) => (f.dio_next >> f.dio_blkbits) >= (i_size >> f.dio_blkbits),
        Some(DioPath::Ext) => true,
        _ => false,
    };
    (lblk, want, create)
}

/// This `get_block` call takes `down_write(i_data_sem)`: the lookup found no Written
/// mapping and the call creates.
fn get_block_allocates(state: &State, f: &WriteFrame) -> bool {
    let (lblk, want, create) = block_request(state, f);
    create && !state.inodes[f.inode].map.lookup(lblk, want).mapped()
}

/// `ext4_map_blocks` with CREATE finds no written mapping: `down_write(i_data_sem)`, and
/// `ext4_ext_map_blocks` reads `io = ext4_inode_aio(inode)` on entry, before
/// `ext4_mb_new_blocks` (which may sleep) allocates.
fn map_enter(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let patched = state.patched(Patch::IoEndInBPrivate);
    let ino = &mut state.inodes[f.inode];
    assert!(!ino.i_data_sem.writer && ino.i_data_sem.readers == 0);
    ino.i_data_sem.writer = true;
    f.gb_io_pending = true;
    if patched {
        // 109811c20fb8: ext4_ext_map_blocks no longer reads ext4_inode_aio(inode).
        f.gb_io = None;
        crate::jbd2::journal::handle_start(state);
        note!(notes, "down_write(i_data_sem)");
        return;
    }
    f.gb_io = ino.i_private;
    crate::jbd2::journal::handle_start(state);
    note!(
        notes,
        "down_write(i_data_sem), io = i_private = {}",
        crate::state::io_end_name(f.gb_io)
    );
}

/// `get_more_blocks` → `get_block` (fs/direct-io.c, fs/ext4/inode.c), the head `dio_zero_block`, and the
/// data bio of the mapping.
fn get_block(state: &mut State, a: ActorId, f: &mut WriteFrame, op: &WriteOp, notes: &mut Notes) {
    let (lblk, want, create) = block_request(state, f);
    let mapped = map_for_dio(state, f, (lblk, want, create), notes);
    if std::mem::take(&mut f.gb_io_pending) {
        state.inodes[f.inode].i_data_sem.writer = false;
        crate::jbd2::journal::handle_stop(state);
    }
    let Some((len, pblk, new)) = mapped else {
        f.last_new = false;
        return;
    };
    if state.patched(Patch::IoEndInBPrivate) {
        dio_get_block_unwritten(state, f, notes);
    } else {
        defer_if_unwritten_io_end(state, f);
    }
    let g = state.geometry;
    let first = f.dio_next == state.dios[&f.dio.expect("dio")].offset;
    let blkfactor = g.blkbits > f.dio_blkbits;
    let block_start = f.dio_next & !(g.blocksize() - 1);
    if first && blkfactor && new && f.dio_next != block_start {
        let sectors = (f.dio_next - block_start) >> g.sector_bits;
        submit(
            state,
            a,
            f,
            (pblk, block_start),
            vec![Data::Zero; sectors as usize],
            notes,
        );
    }
    let end = f.dio_end.min((lblk + len) << g.blkbits);
    let sectors = (end - f.dio_next).div_ceil(g.sectorsize());
    submit(
        state,
        a,
        f,
        (pblk, f.dio_next),
        vec![Data::Write(op.tag); sectors as usize],
        notes,
    );
    state
        .dios
        .get_mut(&f.dio.expect("dio"))
        .expect("dio")
        .result += end - f.dio_next;
    f.last_pblk = pblk + ((end - 1) >> g.blkbits).saturating_sub(lblk) as u32;
    f.dio_next = end;
    f.last_new = new;
}

/// The mapping `get_block` returns for the DIO path: `(blocks, pblk, buffer_new)`, or
/// `None` when the block stays unmapped (`-ENOTBLK`) or allocation fails (`-ENOSPC`).
fn map_for_dio(
    state: &mut State,
    f: &mut WriteFrame,
    (lblk, want, create): (u64, u64, bool),
    notes: &mut Notes,
) -> Option<(u64, u32, bool)> {
    let found = state.inodes[f.inode].map.lookup(lblk, want);
    let hole = state.inodes[f.inode].map.hole_len(lblk, want);
    let result = match (f.path, found.state) {
        (_, Some(ExtentState::Written)) => Some((found.len, found.pblk, false)),
        (Some(DioPath::Ext), Some(ExtentState::Unwritten)) => {
            state.inodes[f.inode].map.split(lblk, found.len);
            flag_pre_io(state, f.inode, f.gb_io);
            Some((found.len, found.pblk, true))
        }
        (Some(DioPath::Ext), None) => {
            allocate(state, f.inode, (lblk, hole), ExtentState::Unwritten).inspect(|_| {
                flag_pre_io(state, f.inode, f.gb_io);
            })
        }
        (Some(DioPath::Ind), Some(ExtentState::Unwritten)) if create => {
            ext4_ext_convert_to_initialized(state, f.inode, lblk, want, notes);
            Some((found.len, found.pblk, true))
        }
        (Some(DioPath::Ind), None) if create => {
            allocate(state, f.inode, (lblk, hole), ExtentState::Written)
        }
        _ => {
            f.dio_ret = errno::ENOTBLK;
            note!(notes, "block {lblk} unmapped: -ENOTBLK");
            return None;
        }
    };
    match result {
        Some((len, pblk, new)) => {
            note!(notes, "get_block {lblk}+{len} -> p{pblk} new={new}")
        }
        None => {
            f.dio_ret = errno::ENOSPC;
            note!(notes, "allocation failed: -ENOSPC");
        }
    }
    result
}

/// A new extent over a hole (`ext4_ext_map_blocks` with CREATE): unwritten for
/// `EXT4_GET_BLOCKS_IO_CREATE_EXT` (PRE_IO: no merge, flag the io_end), else written.
fn allocate(
    state: &mut State,
    inode: InodeIx,
    (lblk, len): (u64, u64),
    kind: ExtentState,
) -> Option<(u64, u32, bool)> {
    let claimable = state.claimable_blocks();
    if claimable == 0 {
        return None;
    }
    let (pblk, got) = state.disk.allocate(len.min(claimable))?;
    let unwritten = kind == ExtentState::Unwritten;
    let merge_unwritten = unwritten_merge_allowed(state, inode);
    let ino = &mut state.inodes[inode];
    (lblk..lblk + got).for_each(|b| {
        ino.map.delayed.remove(&b);
    });
    ino.map.insert(
        Extent {
            lblk,
            len: got,
            pblk,
            state: kind,
        },
        !unwritten,
        merge_unwritten,
    );
    ino.sync_dirty = true;
    ino.datasync_dirty |= !unwritten;
    // ext4_map_blocks (fs/ext4/inode.c:665-671): EXT4_MAP_NEW and not unwritten,
    // data=ordered: ext4_jbd2_file_inode.
    ino.ordered |= !unwritten;
    Some((got, pblk, true))
}

/// `ext4_set_io_unwritten_flag(inode, ext4_inode_aio(inode))` or, with `i_private` NULL,
/// `EXT4_STATE_DIO_UNWRITTEN` (fs/ext4/extents.c:4512-4517).
fn flag_pre_io(state: &mut State, inode: InodeIx, io: Option<ObjId>) {
    if state.patched(Patch::IoEndInBPrivate) {
        // 109811c20fb8 removed the flagging from ext4_ext_map_blocks (and from
        // ext4_ext_handle_unwritten_extents): a PRE_IO mapping only reports
        // `map->m_flags |= EXT4_MAP_UNWRITTEN` (4.6.2 fs/ext4/extents.c:4043-4049); the
        // get_block flags after it ([`dio_get_block_unwritten`]).
        return;
    }
    match io {
        Some(io_end) if !state.io_ends.contains_key(&io_end) => {
            // The io_end read from i_private before ext4_mb_new_blocks was freed since.
            state.hazard = Some(crate::state::Hazard::UseAfterFree(format!(
                "ext4_set_io_unwritten_flag on io_end e{io_end}, which ext4_ext_map_blocks \
                 read from i_private before ext4_mb_new_blocks and which was freed since"
            )));
        }
        Some(io_end) => flag_io_unwritten(state, io_end),
        None => state.inodes[inode].state_dio_unwritten = true,
    }
}

/// `_ext4_get_block`: `set_buffer_defer_completion` when `i_private`'s io_end is flagged.
fn defer_if_unwritten_io_end(state: &mut State, f: &WriteFrame) {
    let flagged = state.inodes[f.inode]
        .i_private
        .is_some_and(|e| state.io_ends[&e].unwritten);
    if flagged {
        state
            .dios
            .get_mut(&f.dio.expect("dio"))
            .expect("dio")
            .defer_completion = true;
    }
}

/// `109811c20fb8`: after the mapping, `ext4_dio_get_block_unwritten_async` makes the io_end
/// on the first unwritten buffer, keeps it in `b_private` (which `get_more_blocks` copies to
/// `dio->private` and `dio_complete` passes to `ext4_end_io_dio`) and always defers the
/// completion (4.6.2 fs/ext4/inode.c:847-858):
///
/// ```c
///     if (!ret && buffer_unwritten(bh_result)) {
///         if (!bh_result->b_private) {
///             ext4_io_end_t *io_end;
///
///             io_end = ext4_init_io_end(inode, GFP_KERNEL);
///             if (!io_end)
///                 return -ENOMEM;
///             bh_result->b_private = io_end;
///             ext4_set_io_unwritten_flag(inode, io_end);
///         }
///         set_buffer_defer_completion(bh_result);
///     }
/// ```
///
/// and `ext4_dio_get_block_unwritten_sync` marks the inode (4.6.2 884-885):
/// `if (!ret && buffer_unwritten(bh_result)) ext4_set_inode_state(inode,
/// EXT4_STATE_DIO_UNWRITTEN);`. The overwrite's and the indirect path's `get_block` do
/// neither.
fn dio_get_block_unwritten(state: &mut State, f: &WriteFrame, notes: &mut Notes) {
    let unwritten = state.block_state(f.inode, f.dio_next) == Some(ExtentState::Unwritten);
    if f.path != Some(DioPath::Ext) || !unwritten {
        return;
    }
    if f.iocb.is_sync_kiocb() {
        state.inodes[f.inode].state_dio_unwritten = true;
        return;
    }
    let id = f.dio.expect("dio");
    let io_end = match state.dios[&id].private {
        Some(io_end) => io_end,
        None => {
            let io_end = new_io_end(state, f.inode);
            flag_io_unwritten(state, io_end);
            state.dios.get_mut(&id).expect("dio").private = Some(io_end);
            note!(notes, "io_end e{io_end} in b_private, unwritten");
            io_end
        }
    };
    let dio = state.dios.get_mut(&id).expect("dio");
    dio.defer_completion = true;
    debug_assert_eq!(dio.private, Some(io_end));
}

/// Submits a bio of `data` at the physical block `pblk` holding file byte `pos`.
fn submit(
    state: &mut State,
    a: ActorId,
    f: &WriteFrame,
    (pblk, pos): (u32, u64),
    data: Vec<Data>,
    notes: &mut Notes,
) {
    let dio = f.dio.expect("dio");
    let zero = data.first() == Some(&Data::Zero);
    let psector = state.psector(pblk, pos);
    note!(
        notes,
        "submit {}bio sectors {psector}+{}",
        if zero { "zero " } else { "" },
        data.len()
    );
    let bio = Bio {
        inode: f.inode,
        owner: BioOwner::Dio(dio),
        psector,
        data,
        zero,
        plugged_by: (f.plugged && state.mount.plug_holds_bios).then_some(a),
        pages: Vec::new(),
    };
    let id = state.new_id();
    state.bios.insert(id, bio);
    state.dios.get_mut(&dio).expect("dio").bios += 1;
}

/// `dio_zero_block(end = 1)` after `do_direct_IO`; `-ENOTBLK` becomes `retval = 0`.
fn zero_tail(state: &mut State, a: ActorId, f: &mut WriteFrame, notes: &mut Notes) {
    if f.dio_ret == errno::ENOTBLK {
        f.dio_ret = 0;
    }
    let g = state.geometry;
    let in_block = f.dio_next & (g.blocksize() - 1);
    if g.blkbits > f.dio_blkbits && f.last_new && in_block != 0 {
        let sectors = (g.blocksize() - in_block) >> g.sector_bits;
        submit(
            state,
            a,
            f,
            (f.last_pblk, f.dio_next),
            vec![Data::Zero; sectors as usize],
            notes,
        );
    }
}

/// `-EIOCBQUEUED` is possible: async, no error, everything mapped.
fn queue_candidate(f: &WriteFrame, dio: &Dio) -> bool {
    dio.is_async && f.dio_ret == 0 && dio.result > 0 && dio.result == f.dio_end - dio.offset
}

/// `dio->end_io` (`ext4_end_io_dio`), called with `ret`, would drop the io_end's last
/// reference and convert.
pub fn end_io_converts(state: &State, dio: &Dio, ret: i64) -> bool {
    end_io_put(state, dio, ret).is_some_and(|(io_end, size, clears)| {
        !clears && put_converts(state, io_end, (dio.offset, size))
    })
}

/// What `dio_complete` does with `dio->end_io` when it computed `ret`, and what
/// `ext4_end_io_dio` then does: `Some((io_end, size, clears))` when it reaches its
/// `iocb->private = NULL` and `ext4_put_io_end(io_end)`, recording `size` and, first,
/// clearing the io_end's unwritten flag when `clears`; `None` when it is not called or returns
/// before.
pub fn end_io_put(state: &State, dio: &Dio, ret: i64) -> Option<(ObjId, u64, bool)> {
    if !dio.end_io {
        return None;
    }
    let size = if state.patched(Patch::DioAlwaysCallsEndIo) {
        // 187372a3b9fa (fs/direct-io.c:dio_complete, 4.6.2 fs/direct-io.c:256-262):
        //     if (dio->end_io) {
        //         int err;
        //
        //         err = dio->end_io(dio->iocb, offset, ret, dio->private);
        ret
    } else {
        // 4.4: `if (dio->end_io && dio->result) dio->end_io(dio->iocb, offset, transferred,
        // dio->private);` (fs/direct-io.c:256-257).
        if dio.result == 0 {
            return None;
        }
        dio.result as i64
    };
    let failed = size <= 0;
    if failed && !state.patched(Patch::FailedAioDioConvertsNothing) {
        // 187372a3b9fa's ext4_end_io_dio (fs/ext4/inode.c, at that commit), before anything:
        //     if (size <= 0)
        //         return 0;
        return None;
    }
    // `if (!io_end) return;` (fs/ext4/inode.c:3171-3172).
    let io_end = dio.private?;
    // 74c66bcb7eda replaced that early return (fs/ext4/inode.c:ext4_end_io_dio, 4.6.2
    // 3309-3316):
    //     /*
    //      * Error during AIO DIO. We cannot convert unwritten extents as the
    //      * data was not written. Just clear the unwritten flag and drop io_end.
    //      */
    //     if (size <= 0) {
    //         ext4_clear_io_unwritten_flag(io_end);
    //         size = 0;
    //     }
    Some((io_end, size.max(0) as u64, failed))
}

/// `ret` as `dio_complete` computes it from its argument: `-EIOCBQUEUED` is 0, then 0 becomes
/// `io_error`, else the bytes transferred (fs/direct-io.c:238-254).
fn complete_ret(dio: &Dio, ret: i64) -> i64 {
    if ret == 0 || ret == errno::EIOCBQUEUED {
        dio_result(dio)
    } else {
        ret
    }
}

/// `drop_refcount` in the submitter: queue, or `dio_complete(..., is_async = false)`.
fn drop_refcount(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let id = f.dio.expect("dio");
    let dio = state.dios.get_mut(&id).expect("dio");
    dio.submitter_ref = false;
    let queue = queue_candidate(f, dio);
    if queue && dio.bios > 0 {
        f.dio_ret = errno::EIOCBQUEUED;
        note!(notes, "-EIOCBQUEUED, {} bios in flight", dio.bios);
        return;
    }
    assert_eq!(dio.bios, 0, "dio_await_completion");
    let ret = if queue { 0 } else { f.dio_ret };
    let dio = &state.dios[&id];
    let clears_private = end_io_put(state, dio, complete_ret(dio, ret)).is_some();
    f.dio_ret = dio_complete_sync(state, id, ret, notes);
    if clears_private {
        f.iocb_private = IocbPrivate::Null;
    }
    f.dio = None;
}

/// `dio_complete(dio, offset, ret, false)` in the submitter: `end_io`, `inode_dio_end`; no
/// sync, no `ki_complete`. Returns the byte count or the error.
fn dio_complete_sync(state: &mut State, id: ObjId, ret: i64, notes: &mut Notes) -> i64 {
    let ret = complete_ret(&state.dios[&id], ret);
    crate::block::bio::sync_complete_invalidate(state, id, (ret, true), notes);
    end_io_call(state, id, ret, notes);
    crate::block::bio::sync_complete_invalidate(state, id, (ret, false), notes);
    let dio = state.dios.remove(&id).expect("dio");
    inode_dio_end(state, dio.inode);
    note!(notes, "dio_complete (sync) ret={ret}");
    ret
}

/// What `dio_complete` returns when nothing failed before it: `-EIO` after a bio error,
/// else the bytes transferred.
pub fn dio_result(dio: &Dio) -> i64 {
    if dio.io_error {
        crate::include::fs::errno::EIO
    } else {
        dio.result as i64
    }
}

/// `dio->end_io` = `ext4_end_io_dio` when `dio->result`: record the range in the io_end,
/// clear `iocb->private`, put (converting if last). For an async completion, whose
/// `dio_complete` gets `ret = 0` (fs/direct-io.c:283, 312).
pub fn dio_end_io(state: &mut State, id: ObjId, notes: &mut Notes) {
    let ret = dio_result(&state.dios[&id]);
    end_io_call(state, id, ret, notes);
}

/// `dio->end_io` as `dio_complete` calls it with `ret` ([`end_io_put`]).
fn end_io_call(state: &mut State, id: ObjId, ret: i64, notes: &mut Notes) {
    let dio = &state.dios[&id];
    let Some((io_end, size, clears)) = end_io_put(state, dio, ret) else {
        if dio.end_io && dio.private.is_some() && state.patched(Patch::DioAlwaysCallsEndIo) {
            note!(
                notes,
                "ext4_end_io_dio: size={ret} <= 0, return 0: {} keeps iocb->private's reference",
                crate::state::io_end_name(dio.private)
            );
        }
        return;
    };
    let offset = dio.offset;
    state.dios.get_mut(&id).expect("dio").private = None;
    if clears {
        note!(
            notes,
            "ext4_end_io_dio: size={ret} <= 0, ext4_clear_io_unwritten_flag"
        );
        // 74c66bcb7eda's ext4_clear_io_unwritten_flag (fs/ext4/ext4.h, 4.6.2 3321-3331)
        // only acts on a flagged io_end: `if (io_end->flag & EXT4_IO_END_UNWRITTEN) {`.
        if state.io_ends[&io_end].unwritten {
            clear_io_unwritten_flag(state, io_end, notes);
        }
    }
    let end = state.io_ends.get_mut(&io_end).expect("io_end of a dio");
    end.offset = offset;
    end.size = size;
    let (count, unwritten) = (end.count, end.unwritten);
    note!(
        notes,
        "ext4_end_io_dio: {} offset={offset} size={size}{}, ext4_put_io_end ({count} -> {})",
        crate::state::io_end_name(Some(io_end)),
        if unwritten { " unwritten" } else { "" },
        count - 1
    );
    put_io_end(state, io_end, notes);
}

/// Both puts of the epilogue would convert: the last reference of a flagged io_end.
fn puts_convert(state: &State, f: &WriteFrame) -> bool {
    let Some(io_end) = f.io_end else { return false };
    let Some(end) = state.io_ends.get(&io_end) else {
        return false;
    };
    let refs = 1 + u8::from(extra_put(state, f));
    end.unwritten
        && end.count == refs
        && crate::fs::ext4::page_io::has_unwritten(state, end.inode, end.offset, end.size)
}

/// "When no IO was submitted ext4_end_io_dio() was not called so we have to put iocb's
/// reference": `ret <= 0 && ret != -EIOCBQUEUED && iocb->private`.
///
/// 74c66bcb7eda removed these lines (fs/ext4/inode.c:3307-3316), `->end_io` being called
/// for every dio since 187372a3b9fa:
///
/// ```c
/// -        /*
/// -         * When no IO was submitted ext4_end_io_dio() was not
/// -         * called so we have to put iocb's reference.
/// -         */
/// -        if (ret <= 0 && ret != -EIOCBQUEUED && iocb->private) {
/// ```
fn extra_put(state: &State, f: &WriteFrame) -> bool {
    if state.patched(Patch::FailedAioDioConvertsNothing) {
        return false;
    }
    f.dio_ret <= 0
        && f.dio_ret != errno::EIOCBQUEUED
        && matches!(f.iocb_private, IocbPrivate::IoEnd(_))
}

/// `ext4_ext_direct_IO` after the I/O: `ext4_inode_aio_set(inode, NULL)`, put, extra put.
fn ext_put_io_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let Some(io_end) = f.io_end.take() else {
        return;
    };
    state.inodes[f.inode].i_private = None;
    let extra = extra_put(state, f);
    put_io_end(state, io_end, notes);
    if extra {
        put_io_end(state, io_end, notes);
        f.iocb_private = IocbPrivate::Null;
    }
    note!(
        notes,
        "i_private=NULL put io_end{}",
        if extra { " twice" } else { "" }
    );
}

/// The sync conversion of `ext4_ext_direct_IO` runs: `ret > 0 && !overwrite &&
/// EXT4_STATE_DIO_UNWRITTEN`.
fn sync_conversion(state: &State, f: &WriteFrame) -> bool {
    f.dio_ret > 0
        && f.path != Some(DioPath::ExtOverwrite)
        && state.inodes[f.inode].state_dio_unwritten
}

/// Sync conversion, `inode_dio_end`, and for overwrite `up_read(i_data_sem)`.
fn ext_convert_and_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    if sync_conversion(state, f) {
        convert_unwritten_extents(state, f.inode, f.iocb.ki_pos, f.dio_ret as u64, notes);
        state.inodes[f.inode].state_dio_unwritten = false;
    }
    inode_dio_end(state, f.inode);
    if f.path == Some(DioPath::ExtOverwrite) {
        let sem = &mut state.inodes[f.inode].i_data_sem;
        assert!(sem.readers > 0);
        sem.readers -= 1;
        note!(notes, "i_data_sem read released");
    }
}

/// A failed write past `i_size` (`ret < 0 && offset + count > i_size_read`) gets
/// `ext4_truncate_failed_write`, which takes `down_write(i_data_sem)`.
fn failed_write_truncates(state: &State, f: &WriteFrame) -> bool {
    f.dio_ret < 0 && f.iocb.ki_pos + f.iter.count() > state.inodes[f.inode].i_size
}

/// `ext4_ind_direct_IO` after the I/O: failed-write truncate, orphan delete, size update.
fn ind_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let (offset, ret) = (f.iocb.ki_pos, f.dio_ret);
    if failed_write_truncates(state, f) {
        // ext4_truncate_failed_write: truncate_inode_pages(i_size), ext4_truncate.
        let i_size = state.inodes[f.inode].i_size;
        crate::fs::ext4::inode::truncate_pagecache(state, f.inode, i_size, notes);
        crate::fs::ext4::inode::ext4_truncate(state, f.inode, i_size, notes);
        note!(notes, "ext4_truncate_failed_write");
    }
    let ino = &mut state.inodes[f.inode];
    if f.orphan {
        ino.orphan = false;
        f.orphan = false;
        let end = offset + ret.max(0) as u64;
        // 45d8ec4d9fd5 (4.17.0 fs/ext4/inode.c:3794-3797): the size update covers an end
        // past i_disksize too, and i_size moves only when the end is past it.
        //     +            if (end > inode->i_size || end > ei->i_disksize) {
        //     +                if (end > inode->i_size)
        //     +                    i_size_write(inode, end);
        let past_disksize =
            state.patches.has(crate::patches::Patch::DioUpdatesDisksize) && end > ino.i_disksize;
        if ret > 0 && (end > ino.i_size || past_disksize) {
            ino.i_disksize = end;
            ino.i_size = ino.i_size.max(end);
            ino.datasync_dirty = true;
            ino.sync_dirty = true;
        }
        note!(
            notes,
            "orphan_del i_size={} i_disksize={}",
            ino.i_size,
            ino.i_disksize
        );
    }
}
