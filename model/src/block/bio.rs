//! The background actors: the block layer completing any in-flight bio
//! (`dio_bio_end_io`/`dio_bio_end_aio`, `ext4_end_bio`), the DIO completion worker
//! (`dio_aio_complete_work` on `s_dio_done_wq`: `dio_complete` in its order) and the
//! conversion worker (`ext4_end_io_rsv_work` on `rsv_conversion_wq`).

use crate::fs::direct_io::dio_end_io;
use crate::fs::ext4::page_io::{
    clear_io_unwritten_flag, convert_unwritten_extents, data_sem_free, inode_dio_end,
    put_io_end_defer, release_io_end,
};
use crate::mm::filemap::{end_page_writeback, page_range, start_writeback, writeback_pending};
use crate::notes::Notes;
use crate::ops::{CompletePc, Frame, OpResult};
use crate::patches::Patch;
use crate::state::Wait;
use crate::state::{BioOwner, Dio, ObjId, State, Work};

/// What completing bio `id` waits for: dispatch from its submitter's plug (see
/// [`flush_plugs_of_sleepers`]). A bio completion runs in interrupt context and waits for
/// nothing else: a conversion its `dio_complete` would run there is a hazard, not a wait
/// ([`dio_bio_end`]).
pub fn bio_wait(state: &State, id: ObjId) -> Option<Wait> {
    let bio = &state.bios[&id];
    bio.plugged_by.map(|owner| Wait::Plugged { owner })
}

/// The bio reaches the disk; its owner is told.
/// With `failed`, nothing reaches the disk: a dio records `io_error`, writeback sets
/// `AS_EIO` on the mapping (`ext4_finish_bio`).
pub fn complete_bio(state: &mut State, id: ObjId, failed: bool, notes: &mut Notes) {
    let bio = state.bios.remove(&id).expect("in-flight bio");
    let start = bio.psector as usize;
    let block = bio.psector as u64 / state.geometry.sectors_per_block();
    let what = if bio.zero { "zeros" } else { "data" };
    let sectors = bio.data.len();
    if failed {
        note!(
            notes,
            "-EIO: {what} lost for sectors {start}+{sectors} (p{block})"
        );
        match bio.owner {
            BioOwner::Dio(dio) => state.dios.get_mut(&dio).expect("dio").io_error = true,
            BioOwner::Writeback(io_end) => {
                // ext4_end_bio: mapping_set_error; ext4_finish_bio: SetPageError (run
                // later for an unwritten io_end, but before its end_page_writeback).
                state.inodes[bio.inode].as_eio = true;
                crate::mm::filemap::filemap_set_wb_err(state, bio.inode);
                io_end_failed(state, io_end);
                for index in &bio.pages {
                    let page = state.inodes[bio.inode].pages.get_mut(index);
                    page.expect("a page under writeback stays cached").error = true;
                }
            }
        }
    } else {
        state.disk.sectors[start..start + sectors].copy_from_slice(&bio.data);
        note!(notes, "{what} on sectors {start}+{sectors} (p{block})");
    }
    match bio.owner {
        BioOwner::Dio(dio) => dio_bio_end(state, dio, notes),
        BioOwner::Writeback(io_end) => {
            if state.io_ends[&io_end].unwritten {
                state
                    .io_ends
                    .get_mut(&io_end)
                    .expect("io_end")
                    .pages
                    .extend(bio.pages);
            } else {
                end_page_writeback(state, bio.inode, &bio.pages);
            }
            put_io_end_defer(state, io_end);
        }
    }
}

/// `dio_bio_end_io` / `dio_bio_end_aio`: a sync submitter is woken by the count reaching 0;
/// the last bio of a queued async dio completes it, on `s_dio_done_wq` when deferred.
fn dio_bio_end(state: &mut State, id: ObjId, notes: &mut Notes) {
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
    let converts_here =
        crate::fs::direct_io::end_io_put(state, d, crate::fs::direct_io::dio_result(d))
            .is_some_and(|(e, _, clears)| {
                !clears && state.io_ends[&e].count == 1 && state.io_ends[&e].unwritten
            });
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
    ki_complete(state, &dio, crate::fs::direct_io::dio_result(&dio), notes);
}

/// `ki_complete` (`aio_complete`): the AIO event of the dio's write.
fn ki_complete(state: &mut State, dio: &Dio, ret: i64, notes: &mut Notes) {
    let actor = &mut state.actors[dio.owner as usize];
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

/// What a work item waits for.
pub fn work_wait(state: &State, id: ObjId) -> Option<Wait> {
    match &state.work[&id] {
        Work::EndIo { io_end } => {
            // rsv_conversion_wq runs one work at a time, in the order queued (max_active 1,
            // per-inode FIFO lists: ext4_add_complete_io, fs/ext4/page-io.c:215-231).
            let first = state
                .work
                .iter()
                .find(|(_, w)| matches!(w, Work::EndIo { .. }))
                .map(|(&first, _)| first);
            if first != Some(id) {
                return first.map(|w| Wait::WorkQueue { before: w });
            }
            let end = &state.io_ends[io_end];
            let converts =
                crate::fs::ext4::page_io::has_unwritten(state, end.inode, end.offset, end.size)
                    && !end_io_skips_conversion(state, end);
            let inode = end.inode;
            (converts && !data_sem_free(state, inode)).then_some(Wait::DataSem { inode })
        }
        Work::Commit { pc } => crate::jbd2::journal::commit_wait(state, *pc),
        Work::DioComplete {
            wb_map: Some(_), ..
        } => None,
        Work::DioComplete {
            pc: CompletePc::SyncCommitWait,
            tid,
            ..
        } => tid.and_then(|tid| crate::jbd2::journal::committed_wait(state, tid)),
        Work::DioComplete { dio, pc, .. } => {
            let d = &state.dios[dio];
            let inode = d.inode;
            let pages = page_range(state, d.offset, d.offset + d.result - 1);
            let busy = !data_sem_free(state, inode);
            match pc {
                CompletePc::EndIo => {
                    let converts = crate::fs::direct_io::end_io_converts(
                        state,
                        d,
                        crate::fs::direct_io::dio_result(d),
                    );
                    // ext4_convert_unwritten_extents(NULL, ...) starts its handle
                    // (fs/ext4/extents.c:5074) before down_write(i_data_sem).
                    crate::jbd2::journal::handle_wait_if(state, converts)
                        .or((converts && busy).then_some(Wait::DataSem { inode }))
                }
                CompletePc::SyncFlush => crate::mm::filemap::flush_wait(state, inode, pages),
                CompletePc::SyncFlushWait => {
                    writeback_pending(state, inode, pages).then_some(Wait::Writeback { inode })
                }
                CompletePc::Invalidate => {
                    invalidate_wait(state, d, crate::fs::direct_io::dio_result(d))
                }
                CompletePc::DioEnd
                | CompletePc::SyncCommit
                | CompletePc::SyncCommitWait
                | CompletePc::KiComplete => None,
            }
        }
    }
}

/// Runs one step of work item `id`.
pub fn run_work(state: &mut State, id: ObjId, notes: &mut Notes) {
    match state.work[&id].clone() {
        Work::EndIo { io_end } => end_io_work(state, id, io_end, notes),
        Work::Commit { pc } => match crate::jbd2::journal::commit_step(state, pc, notes) {
            Some(pc) => {
                state.work.insert(id, Work::Commit { pc });
            }
            None => {
                state.work.remove(&id);
            }
        },
        Work::DioComplete {
            dio,
            pc,
            wb_map,
            tid,
        } => {
            let (mut wb_map, mut tid) = (wb_map, tid);
            let next = dio_complete_step(state, dio, (pc, &mut wb_map, &mut tid), notes);
            match next {
                Some(pc) => {
                    let work = Work::DioComplete {
                        dio,
                        pc,
                        wb_map,
                        tid,
                    };
                    state.work.insert(id, work);
                }
                None => {
                    state.work.remove(&id);
                }
            }
        }
    }
}

/// `ext4_end_io`: convert the io_end's range, clear the flag, release (which ends the
/// deferred page writeback).
fn end_io_work(state: &mut State, id: ObjId, io_end: ObjId, notes: &mut Notes) {
    state.work.remove(&id);
    let end = state.io_ends[&io_end].clone();
    // ext4_do_flush_completed_IO: BUG_ON(!(io->flag & EXT4_IO_END_UNWRITTEN)) (page-io.c:246);
    // only the last put queues it.
    assert!(
        end.unwritten,
        "io_end e{io_end} queued for conversion but not unwritten"
    );
    assert_eq!(end.count, 0, "io_end e{io_end} queued with references left");
    if end_io_skips_conversion(state, &end) {
        note!(notes, "EXT4_IO_END_FAILED: no conversion, -EIO");
    } else {
        convert_unwritten_extents(state, end.inode, end.offset, end.size, notes);
    }
    clear_io_unwritten_flag(state, io_end, notes);
    release_io_end(state, io_end);
}

/// `ext4_end_bio` on a failed writeback bio, under e856f93e0fb2 ("ext4: do not convert the
/// unwritten extents if data writeback fails", v6.15), fs/ext4/page-io.c:ext4_end_bio:
///
/// ```c
/// +        io_end->flag |= EXT4_IO_END_FAILED;
///          mapping_set_error(inode->i_mapping,
///                  blk_status_to_errno(bio->bi_status));
/// ```
///
/// 4.4 has no such flag (fs/ext4/page-io.c:ext4_end_bio:321-332 only warns and calls
/// `mapping_set_error`).
fn io_end_failed(state: &mut State, io_end: ObjId) {
    if state.patched(Patch::FailedWritebackConvertsNothing) {
        state.io_ends.get_mut(&io_end).expect("io_end").failed = true;
    }
}

/// `ext4_end_io_end` converts nothing for a failed io_end, under e856f93e0fb2,
/// fs/ext4/page-io.c:ext4_end_io_end:
///
/// ```c
/// +    if (unlikely(io_end->flag & EXT4_IO_END_FAILED)) {
/// +        ret = -EIO;
/// +        if (handle)
/// +            jbd2_journal_free_reserved(handle);
/// +    } else {
/// +        ret = ext4_convert_unwritten_io_end_vec(handle, io_end);
/// +    }
/// ```
///
/// In 4.4, `ext4_end_io` (fs/ext4/page-io.c:162-186) converts whatever happened to the bios
/// (line 175). The flag clearing and the release that follow are unchanged.
fn end_io_skips_conversion(state: &State, end: &crate::state::IoEnd) -> bool {
    state.patched(Patch::FailedWritebackConvertsNothing) && end.failed
}

/// One step of `dio_complete(dio, offset, 0, is_async = true)`; returns the next point, or
/// `None` once `ki_complete` ran.
fn dio_complete_step(
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
            dio_complete_invalidate(state, &d, crate::fs::direct_io::dio_result(&d), notes);
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
            if crate::mm::filemap::sync_file_wait(state, d.owner, d.inode, &found, notes) {
                state.dios.get_mut(&id).expect("dio").sync_error = true;
                return Some(CompletePc::KiComplete);
            }
            Some(CompletePc::SyncCommit)
        }
        CompletePc::SyncCommit => {
            // ext4_sync_file's datasync is generic_write_sync's `!(file->f_flags & __O_SYNC)`.
            *tid = crate::jbd2::journal::sync_target(state, d.inode, !d.file.o_sync);
            match *tid {
                Some(t) => crate::jbd2::journal::request_commit(state, t, notes),
                None => note!(notes, "tid committed: no commit"),
            }
            Some(CompletePc::SyncCommitWait)
        }
        CompletePc::SyncCommitWait => Some(CompletePc::KiComplete),
        CompletePc::KiComplete => {
            state.dios.remove(&id);
            let ret = crate::fs::direct_io::dio_result(&d);
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
fn invalidates(state: &State, dio: &Dio, ret: i64) -> bool {
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
    let clean = crate::mm::filemap::invalidate_pages2(state, dio.inode, pages.clone());
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

/// `blk_schedule_flush_plug` from `schedule()`: an actor that cannot go on sleeps, and its
/// plugged bios are dispatched for good.
pub fn flush_plugs_of_sleepers(state: &mut State) {
    let sleepers: Vec<u8> = state
        .bios
        .values()
        .filter_map(|b| b.plugged_by)
        .filter(|&owner| crate::exec::actor_wait(state, owner).is_some())
        .collect();
    for bio in state.bios.values_mut() {
        if bio
            .plugged_by
            .is_some_and(|owner| sleepers.contains(&owner))
        {
            bio.plugged_by = None;
        }
    }
}
