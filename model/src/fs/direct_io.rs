//! fs/direct-io.c: `do_blockdev_direct_IO` (`get_more_blocks`, `dio_zero_block`, the bios,
//! `drop_refcount`), `dio_complete` in the submitter and, deferred, in `dio_aio_complete_work`,
//! and the bio completions `dio_bio_end_io`/`dio_bio_end_aio`. [`wait`] and [`run`] are the
//! waits and effects of the writer's DIO steps, whose control flow is in
//! [`crate::fs::ext4::file::after`]; the ext4 side of those steps (`ext4_ext_direct_IO`, the
//! `get_block` variants, `ext4_end_io_dio`) is in [`crate::fs::ext4::inode`] and
//! [`crate::fs::ext4::indirect`].

use crate::fs::ext4::indirect::{extends, failed_write_truncates, ind_begin, ind_end};
use crate::fs::ext4::inode::{
    data_sem_free, defer_if_unwritten_io_end, dio_end_io, dio_get_block_unwritten, end_io_converts,
    end_io_put, ext_convert_and_end, ext_put_io_end, get_block_allocates, init_io_end, map_enter,
    map_for_dio, overwrite_unlock, puts_convert, set_private, start_writeback, sync_conversion,
};
use crate::fs::ext4::page_io::{clear_io_unwritten_flag, put_io_end};
use crate::include::fs::{errno, inode_dio_begin, inode_dio_end};
use crate::jbd2::transaction::handle_wait_if;
use crate::mm::filemap::{page_range, writeback_pending};
use crate::notes::Notes;
use crate::ops::{CompletePc, DioPath, Frame, IocbPrivate, OpResult, WriteFrame, WriteOp, WritePc};
use crate::patches::Patch;
use crate::state::{
    Actor, ActorId, Bio, BioOwner, Data, Dio, ObjId, PageList, Sectors, State, Wait, Work,
};

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
            let invalidate = || invalidate_wait(state, dio, ret);
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
        fdatawait: PageList::new(),
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
pub(crate) fn block_request(state: &State, f: &WriteFrame) -> (u64, u64, bool) {
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

/// `get_more_blocks` → `get_block` (fs/direct-io.c, fs/ext4/inode.c), the head `dio_zero_block`, and the
/// data bio of the mapping.
fn get_block(state: &mut State, a: ActorId, f: &mut WriteFrame, op: &WriteOp, notes: &mut Notes) {
    let (lblk, want, create) = block_request(state, f);
    let mapped = map_for_dio(state, f, (lblk, want, create), notes);
    if std::mem::take(&mut f.gb_io_pending) {
        state.inodes[f.inode].i_data_sem.writer = false;
        crate::jbd2::transaction::handle_stop(state);
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
            Sectors::from_elem(Data::Zero, sectors as usize),
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
        Sectors::from_elem(Data::Write(op.tag), sectors as usize),
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

/// Submits a bio of `data` at the physical block `pblk` holding file byte `pos`.
fn submit(
    state: &mut State,
    a: ActorId,
    f: &WriteFrame,
    (pblk, pos): (u32, u64),
    data: Sectors,
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
        pages: PageList::new(),
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
            Sectors::from_elem(Data::Zero, sectors as usize),
            notes,
        );
    }
}

/// `-EIOCBQUEUED` is possible: async, no error, everything mapped.
fn queue_candidate(f: &WriteFrame, dio: &Dio) -> bool {
    dio.is_async && f.dio_ret == 0 && dio.result > 0 && dio.result == f.dio_end - dio.offset
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
    sync_complete_invalidate(state, id, (ret, true), notes);
    end_io_call(state, id, ret, notes);
    sync_complete_invalidate(state, id, (ret, false), notes);
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

/// `dio->end_io` as `dio_complete` calls it with `ret` ([`end_io_put`]).
pub(crate) fn end_io_call(state: &mut State, id: ObjId, ret: i64, notes: &mut Notes) {
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

/// `dio_bio_end_io` / `dio_bio_end_aio`: a sync submitter is woken by the count reaching 0;
/// the last bio of a queued async dio completes it, on `s_dio_done_wq` when deferred.
pub(crate) fn dio_bio_end(state: &mut State, id: ObjId, notes: &mut Notes) {
    let dio = state.dios.get_mut(&id).expect("dio of a bio");
    assert!(dio.bios > 0, "dio d{id}: a bio ended that it did not count");
    dio.bios -= 1;
    if dio.bios > 0 || dio.submitter_ref {
        return;
    }
    if defers_completion(state, id) {
        let pc = first_complete_pc(state);
        let work = state.new_id();
        state.work.insert(
            work,
            Work::DioComplete {
                dio: id,
                pc,
                wb_map: None,
                tid: None,
            },
        );
        note!(notes, "dio d{id} complete deferred to w{work}");
        return;
    }
    // dio_bio_end_aio runs dio_complete here, in bio-completion (interrupt) context
    // (fs/direct-io.c:306-314): its end_io may drop the io_end's last reference.
    let d = &state.dios[&id];
    let converts_here = crate::fs::ext4::inode::end_io_put(state, d, dio_result(d)).is_some_and(
        |(e, _, clears)| !clears && state.io_ends[&e].count == 1 && state.io_ends[&e].unwritten,
    );
    if converts_here {
        state.hazard = Some(crate::state::Hazard::SleepInAtomic(format!(
            "dio d{id} completes in bio-completion (interrupt) context without \
             defer_completion, and its ext4_end_io_dio drops the last reference of a flagged \
             io_end: ext4_convert_unwritten_extents starts a jbd2 handle and takes \
             down_write(i_data_sem)"
        )));
    }
    dio_end_io(state, id, notes);
    let dio = state.dios.remove(&id).expect("dio");
    inode_dio_end(state, dio.inode);
    ki_complete(state, &dio, dio_result(&dio), notes);
}

/// `ki_complete` (`aio_complete`): the AIO event of the dio's write.
pub(crate) fn ki_complete(state: &mut State, dio: &Dio, ret: i64, notes: &mut Notes) {
    let actor: &mut Actor = &mut state.actors[dio.owner as usize];
    match (&mut actor.frame, actor.op == dio.op) {
        (Frame::Write(f), true) => {
            assert!(f.event.is_none(), "aio_complete twice for a{}", dio.owner);
            f.event = Some(ret);
        }
        _ => match &mut actor.results[dio.op] {
            OpResult::Write { event, .. } => {
                assert!(event.is_none(), "aio_complete twice for a{}", dio.owner);
                *event = Some(ret);
            }
            other => unreachable!("ki_complete for {other:?}"),
        },
    }
    note!(notes, "ki_complete a{} ret={ret}", dio.owner);
}

/// One step of `dio_complete(dio, offset, 0, is_async = true)`; returns the next point, or
/// `None` once `ki_complete` ran.
pub(crate) fn dio_complete_step(
    state: &mut State,
    id: ObjId,
    (pc, wb_map, tid): (CompletePc, &mut crate::state::MapEntry, &mut Option<u32>),
    notes: &mut Notes,
) -> Option<CompletePc> {
    let d = state.dios[&id].clone();
    let dsync = d.file.o_dsync || d.file.o_sync || state.is_sync(d.inode);
    let pages = page_range(state, d.offset, d.offset + d.result - 1);
    match pc {
        CompletePc::EndIo => {
            dio_end_io(state, id, notes);
            Some(after_end_io(state))
        }
        CompletePc::Invalidate => {
            dio_complete_invalidate(state, &d, dio_result(&d), notes);
            Some(after_invalidate(state))
        }
        CompletePc::DioEnd => {
            assert!(d.holds_dio_count, "dio d{id}: inode_dio_end twice");
            state.dios.get_mut(&id).expect("dio").holds_dio_count = false;
            inode_dio_end(state, d.inode);
            note!(
                notes,
                "inode_dio_end i_dio_count={}",
                state.inodes[d.inode].i_dio_count
            );
            Some(if dsync {
                CompletePc::SyncFlush
            } else {
                CompletePc::KiComplete
            })
        }
        CompletePc::SyncFlush => {
            let mode = crate::mm::filemap::SyncMode::All;
            start_writeback(state, d.inode, pages.clone(), mode, wb_map);
            if wb_map.is_none() {
                let found = crate::mm::filemap::under_writeback(state, d.inode, pages);
                state.dios.get_mut(&id).expect("dio").fdatawait = found;
            }
            Some(if wb_map.is_some() {
                CompletePc::SyncFlush
            } else {
                CompletePc::SyncFlushWait
            })
        }
        CompletePc::SyncFlushWait => {
            // ext4_sync_file returns the flush's error at once, before any commit.
            let found = std::mem::take(&mut state.dios.get_mut(&id).expect("dio").fdatawait);
            if crate::fs::ext4::fsync::sync_file_wait(state, d.owner, d.inode, &found, notes) {
                state.dios.get_mut(&id).expect("dio").sync_error = true;
                return Some(CompletePc::KiComplete);
            }
            Some(CompletePc::SyncCommit)
        }
        CompletePc::SyncCommit => {
            // ext4_sync_file's datasync is generic_write_sync's `!(file->f_flags & __O_SYNC)`.
            *tid = crate::fs::ext4::fsync::sync_target(state, d.inode, !d.file.o_sync);
            match *tid {
                Some(t) => crate::jbd2::journal::request_commit(state, t, notes),
                None => note!(notes, "tid committed: no commit"),
            }
            Some(CompletePc::SyncCommitWait)
        }
        CompletePc::SyncCommitWait => Some(CompletePc::KiComplete),
        CompletePc::KiComplete => {
            state.dios.remove(&id);
            let ret = dio_result(&d);
            // "if (err < 0 && ret > 0) ret = err": the sync error replaces a positive result.
            let ret = if d.sync_error && ret > 0 {
                crate::include::fs::errno::EIO
            } else {
                ret
            };
            ki_complete(state, &d, ret, notes);
            None
        }
    }
}

/// `dio_bio_end_aio` (the last bio of a queued async dio) defers `dio_complete` to
/// `s_dio_done_wq`. 4.4 (fs/direct-io.c:306): `if (dio->result && dio->defer_completion)`.
/// Under [`Patch::DioCompleteInvalidates`] (332391a9935d, Linux 4.14; fs/direct-io.c:
/// dio_bio_end_aio in 4.14.0, 353-356) an AIO write with cached pages is deferred as well, so
/// that its completion may invalidate them in process context:
///
/// ```c
///         if (dio->result)
///             defer_completion = dio->defer_completion ||
///                        (dio->op == REQ_OP_WRITE &&
///                         dio->inode->i_mapping->nrpages);
/// ```
///
/// (Every dio of the model is a write.) `nrpages` is read when the last bio completes.
fn defers_completion(state: &State, id: ObjId) -> bool {
    let dio = &state.dios[&id];
    if state.patched(Patch::DioCompleteInvalidates) {
        dio.result > 0 && (dio.defer_completion || state.inodes[dio.inode].nrpages() > 0)
    } else {
        dio.defer_completion && dio.result > 0
    }
}

/// The first step of a deferred `dio_complete`: `EndIo` (4.4), or under 332391a9935d alone
/// the invalidation it put before `dio->end_io` (5e25c269e17d: "Commit 332391a9935d ...
/// moved page cache invalidation ... but before the dio->end_io() call").
fn first_complete_pc(state: &State) -> CompletePc {
    if state.patched(Patch::DioCompleteInvalidates) && !state.patched(Patch::InvalidateAfterEndIo) {
        CompletePc::Invalidate
    } else {
        CompletePc::EndIo
    }
}

/// After `dio->end_io`: `inode_dio_end` (4.4, 332391a9935d), or under 5e25c269e17d the
/// invalidation, which that commit moved after `end_io` (fs/direct-io.c:dio_complete in
/// 4.14.0, 268-294):
///
/// ```c
///      * And this page cache invalidation has to be after dio->end_io(), as
///      * some filesystems convert unwritten extents to real allocations in
///      * end_io() when necessary, otherwise a racing buffer read would cache
///      * zeros from unwritten extents.
/// ```
fn after_end_io(state: &State) -> CompletePc {
    if state.patched(Patch::InvalidateAfterEndIo) {
        CompletePc::Invalidate
    } else {
        CompletePc::DioEnd
    }
}

/// After the invalidation: `dio->end_io` under 332391a9935d alone, `inode_dio_end` under
/// 5e25c269e17d.
fn after_invalidate(state: &State) -> CompletePc {
    if state.patched(Patch::InvalidateAfterEndIo) {
        CompletePc::DioEnd
    } else {
        CompletePc::EndIo
    }
}

/// Whether `dio_complete` with result `ret` invalidates, under [`Patch::DioCompleteInvalidates`]
/// (fs/direct-io.c:dio_complete in 4.14.0, 287-294; the `DIO_COMPLETE_INVALIDATE` flag there is
/// a later 4.14 change that keeps it out of the interrupt-context completion, where `nrpages`
/// was just found 0 anyway):
///
/// ```c
///     if (flags & DIO_COMPLETE_INVALIDATE &&
///         ret > 0 && dio->op == REQ_OP_WRITE &&
///         dio->inode->i_mapping->nrpages) {
///         err = invalidate_inode_pages2_range(dio->inode->i_mapping,
///                     offset >> PAGE_SHIFT,
///                     (offset + ret - 1) >> PAGE_SHIFT);
///         WARN_ON_ONCE(err);
///     }
/// ```
///
/// 4.4's `dio_complete` (fs/direct-io.c:227-277) invalidates nothing: only
/// `generic_file_direct_write` does, before the I/O and right after submission.
pub(crate) fn invalidates(state: &State, dio: &Dio, ret: i64) -> bool {
    state.patched(Patch::DioCompleteInvalidates) && ret > 0 && state.inodes[dio.inode].nrpages() > 0
}

/// What that invalidation waits for: `invalidate_inode_pages2_range` waits for the
/// writeback of each page (`wait_on_page_writeback`, mm/truncate.c:599 in 4.4).
pub fn invalidate_wait(state: &State, dio: &Dio, ret: i64) -> Option<Wait> {
    let inode = dio.inode;
    let pages = page_range(state, dio.offset, dio.offset + dio.result.max(1) - 1);
    (invalidates(state, dio, ret) && writeback_pending(state, inode, pages))
        .then_some(Wait::Writeback { inode })
}

/// The invalidation itself: clean pages of the range are dropped, dirty ones stay (`-EBUSY`,
/// `WARN_ON_ONCE`).
pub fn dio_complete_invalidate(state: &mut State, dio: &Dio, ret: i64, notes: &mut Notes) {
    if !invalidates(state, dio, ret) {
        return;
    }
    let pages = page_range(state, dio.offset, dio.offset + dio.result - 1);
    let clean = crate::mm::truncate::invalidate_pages2(state, dio.inode, pages.clone());
    note!(
        notes,
        "invalidate_inode_pages2_range({}..={}){}",
        pages.start(),
        pages.end(),
        if clean { "" } else { ": -EBUSY" }
    );
}

/// The submitter's `dio_complete` (fs/direct-io.c:1316, `drop_refcount` returned 0) invalidates
/// too under [`Patch::DioCompleteInvalidates`]: before `end_io` (`before_end_io`) under
/// 332391a9935d alone, after it under 5e25c269e17d. Called at both places.
pub fn sync_complete_invalidate(
    state: &mut State,
    id: ObjId,
    (ret, before_end_io): (i64, bool),
    notes: &mut Notes,
) {
    if before_end_io != state.patched(Patch::InvalidateAfterEndIo) {
        let dio = state.dios[&id].clone();
        dio_complete_invalidate(state, &dio, ret, notes);
    }
}
