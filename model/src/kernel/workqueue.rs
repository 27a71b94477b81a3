//! kernel/workqueue.c: the work items that run beside the actors (the DIO completion on
//! `s_dio_done_wq`, the conversion on `rsv_conversion_wq`, kjournald2's commit): what each
//! waits for and one step of each.

use crate::fs::direct_io::{dio_complete_step, invalidate_wait};
use crate::fs::ext4::inode::data_sem_free;
use crate::fs::ext4::page_io::{end_io_skips_conversion, end_io_work};
use crate::mm::filemap::{page_range, writeback_pending};
use crate::notes::Notes;
use crate::ops::CompletePc;
use crate::state::{ObjId, State, Wait, Work};

/// What a work item waits for.
pub fn work_wait(state: &State, id: ObjId) -> Option<Wait> {
    wait_of(state, id, &state.work[&id])
}

/// [`work_wait`] of `work`, work item `id` of `state`, looked up already.
pub fn wait_of(state: &State, id: ObjId, work: &Work) -> Option<Wait> {
    match work {
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
                crate::fs::ext4::extents::has_unwritten(state, end.inode, end.offset, end.size)
                    && !end_io_skips_conversion(state, end);
            let inode = end.inode;
            (converts && !data_sem_free(state, inode)).then_some(Wait::DataSem { inode })
        }
        Work::Commit { pc } => crate::jbd2::commit::commit_wait(state, *pc),
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
                    let converts = crate::fs::ext4::inode::end_io_converts(
                        state,
                        d,
                        crate::fs::direct_io::dio_result(d),
                    );
                    // ext4_convert_unwritten_extents(NULL, ...) starts its handle
                    // (fs/ext4/extents.c:5074) before down_write(i_data_sem).
                    crate::jbd2::transaction::handle_wait_if(state, converts)
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
        Work::Commit { pc } => match crate::jbd2::commit::commit_step(state, pc, notes) {
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
