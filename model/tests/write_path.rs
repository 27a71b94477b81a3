//! The write path, one group per kernel function modelled.

mod common;
use common::*;
use model::exec::{self, Task};
use model::ops::{DioPath, Op, WritePc};
use model::state::Data;

mod ext4_file_write_iter {
    use super::*;

    /// The aio_mutex is `ext4_aio_mutex(inode)`, bucket `ino % EXT4_WQ_HASH_SZ`: ino 49 takes
    /// bucket 12 (an ino below 37 would be its own bucket and hide the hash).
    #[test]
    fn o_append_takes_the_aio_mutex_path_for_async_dio_on_extent_files() {
        let mut spec = inode(B, &[(0, 1, 0, Written)]);
        spec.ino = 49;
        let mut s = one_writer(DEFAULT, spec, WriteOpExt::append(aio(0, B)));
        step_to(&mut s, 0, WritePc::AioMutexLock);
        assert_eq!(frame(&s, 0).aio_mutex, Some(12), "bucket = ino 49 mod 37");
        step_to(&mut s, 0, WritePc::IMutexLock);
        assert_eq!(s.aio_mutex.get(&12), Some(&0));
        assert_eq!(s.aio_mutex.get(&49), None);
    }

    #[test]
    fn o_append_takes_no_aio_mutex_for_sync_dio_or_bitmap_files() {
        let mut s = one_writer(DEFAULT, inode(B, &[]), WriteOpExt::append(dio(0, B)));
        step_to(&mut s, 0, WritePc::IMutexLock);
        assert_eq!(frame(&s, 0).aio_mutex, None);
        let mut s = one_writer(DEFAULT, bitmap_inode(B, &[]), WriteOpExt::append(aio(0, B)));
        step_to(&mut s, 0, WritePc::IMutexLock);
        assert_eq!(frame(&s, 0).aio_mutex, None);
    }

    #[test]
    fn unaligned_async_dio_inside_i_size_serializes_but_at_i_size_does_not() {
        let mut s = one_writer(DEFAULT, inode(2 * B, &[(0, 2, 0, Written)]), aio(S, S));
        step_to(&mut s, 0, WritePc::AioMutexLock);
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Written)]), aio(B + S, S));
        step_to(&mut s, 0, WritePc::IMutexLock);
        assert_eq!(
            frame(&s, 0).aio_mutex,
            None,
            "ext4_unaligned_aio returns 0 at or past i_size"
        );
    }

    #[test]
    fn zero_length_write_returns_zero_through_out_and_releases_every_lock() {
        let mut s = one_writer(DEFAULT, inode(B, &[]), WriteOpExt::append(aio(0, 0)));
        let trace = finish(&mut s);
        assert_eq!(
            write_result(&s, 0, 0),
            (0, Some(0)),
            "aio_run_iocb completes it with 0"
        );
        assert!(trace.iter().any(|t| t.ends("OutUnlock")));
        assert!(s.aio_mutex.is_empty() && s.inodes[0].i_mutex.is_none());
    }

    #[test]
    fn bitmap_file_at_s_bitmap_maxbytes_is_efbig_without_sigxfsz() {
        let limit = G.s_bitmap_maxbytes() as u64;
        let mut s = one_writer(DEFAULT, bitmap_inode(0, &[]), buffered(limit, S));
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, model::include::fs::errno::EFBIG);
        assert!(matches!(
            s.actors[0].results[0],
            model::ops::OpResult::Write { sigxfsz: false, .. }
        ));
    }

    #[test]
    fn a_step_of_a_blocked_actor_is_an_error_naming_the_lock() {
        let w = Op::Write(dio(0, B));
        let mut s = state(
            DEFAULT,
            vec![inode(B, &[(0, 1, 0, Written)])],
            vec![vec![w.clone()], vec![w]],
        );
        step_to(&mut s, 0, WritePc::WriteChecks);
        step_to(&mut s, 1, WritePc::IMutexLock);
        let error = exec::step(&mut s, Task::Actor(1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "task a1 cannot step: i_mutex of inode 0 held by a0"
        );
        finish(&mut s);
        let error = exec::step(&mut s, Task::Actor(1)).unwrap_err();
        assert_eq!(error.to_string(), "task a1 cannot step: finished");
        assert!(exec::step(&mut s, Task::Bio(99)).is_err());
    }
}

/// Builder helpers for write flags.
trait WriteOpExt {
    fn append(self) -> Self;
    fn dsync(self) -> Self;
}

impl WriteOpExt for model::ops::WriteOp {
    fn append(mut self) -> Self {
        self.file.o_append = true;
        self
    }
    fn dsync(mut self) -> Self {
        self.file.o_dsync = true;
        self
    }
}

trait Ends {
    fn ends(&self, step: &str) -> bool;
}

impl Ends for String {
    fn ends(&self, step: &str) -> bool {
        self.ends_with(&format!(" {step}"))
    }
}

mod overwrite_detection {
    use super::*;

    fn overwrite(inode: model::scenario::InodeSpec, pos: u64, len: u64) -> bool {
        let mut s = one_writer(NOLOCK, inode, dio(pos, len));
        step_to(&mut s, 0, WritePc::DirectFlush);
        frame(&s, 0).overwrite
    }

    #[test]
    fn one_written_extent_covering_the_range_within_i_size_is_an_overwrite() {
        assert!(overwrite(inode(2 * B, &[(0, 2, 4, Written)]), 0, 2 * B));
        assert!(
            overwrite(inode(2 * B, &[(0, 2, 4, Written)]), S, S),
            "alignment is not required"
        );
    }

    #[test]
    fn two_adjacent_written_extents_are_no_overwrite() {
        assert!(!overwrite(
            inode(2 * B, &[(0, 1, 4, Written), (1, 1, 9, Written)]),
            0,
            2 * B
        ));
    }

    #[test]
    fn unwritten_or_a_hole_is_no_overwrite() {
        assert!(!overwrite(inode(2 * B, &[(0, 2, 4, Unwritten)]), 0, B));
        assert!(!overwrite(inode(2 * B, &[(0, 1, 4, Written)]), 0, 2 * B));
    }

    #[test]
    fn cached_pages_are_no_overwrite() {
        let mut cached = inode(2 * B, &[(0, 2, 4, Written)]);
        cached.cached_pages = vec![1];
        assert!(!overwrite(cached, 0, B));
    }

    #[test]
    fn past_i_size_is_no_overwrite() {
        assert!(!overwrite(inode(B + S, &[(0, 2, 4, Written)]), B, B));
    }

    #[test]
    fn without_dioread_nolock_nothing_is_an_overwrite() {
        let mut s = one_writer(DEFAULT, inode(2 * B, &[(0, 2, 4, Written)]), dio(0, B));
        step_to(&mut s, 0, WritePc::DirectFlush);
        assert!(!frame(&s, 0).overwrite);
    }

    #[test]
    fn an_overwrite_drops_i_mutex_while_its_bios_are_in_flight() {
        let mut s = one_writer(NOLOCK, inode(2 * B, &[(0, 2, 4, Written)]), dio(0, B));
        step_to(&mut s, 0, WritePc::DioDrop);
        assert_eq!(frame(&s, 0).path, Some(DioPath::ExtOverwrite));
        assert_eq!(s.inodes[0].i_mutex, None);
        assert_eq!(s.inodes[0].i_data_sem.readers, 1);
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0), (B as i64, None));
        assert_eq!(s.inodes[0].i_data_sem.readers, 0);
    }
}

mod do_blockdev_direct_io {
    use super::*;

    fn bios(s: &model::state::State) -> Vec<(u32, usize, bool)> {
        s.bios
            .values()
            .map(|b| (b.psector, b.data.len(), b.zero))
            .collect()
    }

    #[test]
    fn a_sub_block_dio_into_a_hole_zeroes_the_rest_of_the_block() {
        // Block 1 is a hole inside i_size; the write covers its second sector.
        let mut s = one_writer(DEFAULT, inode(2 * B, &[(0, 1, 0, Written)]), dio(B + S, S));
        step_to(&mut s, 0, WritePc::DioDrop);
        // Allocated p1 (sectors 4..8): head zero 4+1, data 5+1, tail zero 6+2.
        assert_eq!(bios(&s), vec![(4, 1, true), (5, 1, false), (6, 2, true)]);
        finish(&mut s);
        let block: Vec<Data> = s.disk.sectors[4..8].to_vec();
        assert_eq!(
            block,
            vec![Data::Zero, Data::Write(1), Data::Zero, Data::Zero]
        );
    }

    #[test]
    fn a_sub_block_dio_into_a_written_block_zeroes_nothing() {
        let mut s = one_writer(DEFAULT, inode(2 * B, &[(0, 2, 0, Written)]), dio(B + S, S));
        step_to(&mut s, 0, WritePc::DioDrop);
        assert_eq!(bios(&s), vec![(5, 1, false)]);
    }

    #[test]
    fn a_block_aligned_dio_never_zeroes_even_with_a_misaligned_buffer() {
        let mut w = dio(B, B);
        w.segments[0].base += S;
        let mut s = one_writer(DEFAULT, inode(2 * B, &[(0, 1, 0, Written)]), w);
        step_to(&mut s, 0, WritePc::DioDrop);
        assert!(bios(&s).iter().all(|&(_, _, zero)| !zero));
    }

    #[test]
    fn a_dio_not_even_sector_aligned_fails_einval() {
        let mut s = one_writer(DEFAULT, inode(2 * B, &[(0, 2, 0, Written)]), dio(100, S));
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, model::include::fs::errno::EINVAL);
        assert_eq!(s.inodes[0].i_dio_count, 0);
    }

    #[test]
    fn an_extending_aio_dio_is_synchronous() {
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Written)]), aio(B, B));
        step_to(&mut s, 0, WritePc::DioGetBlock);
        let dio = frame(&s, 0).dio.expect("dio");
        assert!(!s.dios[&dio].is_async);
        assert_eq!(frame(&s, 0).path, Some(DioPath::Ind));
        finish(&mut s);
        assert_eq!(
            write_result(&s, 0, 0),
            (B as i64, Some(B as i64)),
            "bytes returned at once, no -EIOCBQUEUED"
        );
        assert_eq!(s.inodes[0].i_size, 2 * B);
        assert_eq!(s.inodes[0].i_disksize, 2 * B);
    }

    #[test]
    fn a_dio_meeting_a_hole_below_i_size_on_the_indirect_path_goes_short_then_buffered() {
        // Extending write starting in a hole below i_size: create = 0 there → -ENOTBLK.
        let mut s = one_writer(DEFAULT, inode(B, &[]), dio(0, 2 * B));
        let trace = finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, 2 * B as i64);
        assert!(trace.iter().any(|t| t.ends("PerformWrite")), "{trace:?}");
        assert!(trace.iter().any(|t| t.ends("FallbackFlush")));
    }
}

mod dio_complete {
    use super::*;

    #[test]
    fn async_completion_runs_end_io_then_dio_end_then_sync_then_ki_complete() {
        let w = WriteOpExt::dsync(aio(0, B));
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Unwritten)]), w);
        let trace = finish(&mut s);
        let work: Vec<&str> = trace
            .iter()
            .filter(|t| t.starts_with('w'))
            .map(|t| t.split(' ').nth(1).unwrap())
            .collect();
        assert_eq!(
            work,
            [
                "dio_complete:EndIo",
                "dio_complete:DioEnd",
                "dio_complete:SyncFlush",
                "dio_complete:SyncFlushWait",
                "dio_complete:SyncCommit",
                "jbd2_commit:Lock",
                "jbd2_commit:Switch",
                "jbd2_commit:Submit",
                "jbd2_commit:Flush",
                "dio_complete:SyncCommitWait",
                "dio_complete:KiComplete"
            ]
        );
        assert_eq!(
            write_result(&s, 0, 0),
            (model::include::fs::errno::EIOCBQUEUED, Some(B as i64))
        );
        assert_eq!(s.inodes[0].map.extents[0].state, Written);
        assert_eq!(
            s.inodes[0].committed.map.extents[0].state, Written,
            "O_DSYNC committed the conversion"
        );
    }

    #[test]
    fn async_dio_into_unwritten_counts_i_unwritten_until_conversion() {
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Unwritten)]), aio(0, B));
        step_to(&mut s, 0, WritePc::DioZeroTail);
        assert_eq!(s.inodes[0].i_unwritten, 1);
        finish(&mut s);
        assert_eq!(s.inodes[0].i_unwritten, 0);
        assert_eq!(s.inodes[0].i_dio_count, 0);
        assert_eq!(s.inodes[0].map.extents[0].state, Written);
    }
}

mod ext4_ext_direct_io {
    use super::*;

    #[test]
    fn a_sync_dio_into_unwritten_blocks_converts_in_the_submitter() {
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Unwritten)]), dio(0, B));
        step_to(&mut s, 0, WritePc::DioZeroTail);
        assert!(
            s.inodes[0].state_dio_unwritten,
            "sync DIO sets the inode state bit"
        );
        assert_eq!(
            s.inodes[0].i_unwritten, 0,
            "and does not count in i_unwritten"
        );
        let trace = finish(&mut s);
        assert!(
            trace.iter().all(|t| !t.starts_with('w')),
            "no worker: {trace:?}"
        );
        assert!(!s.inodes[0].state_dio_unwritten);
        assert_eq!(s.inodes[0].map.extents[0].state, Written);
        assert_eq!(&s.disk.sectors[0..4], &[Data::Write(1); 4]);
    }
}

mod generic_perform_write {
    use super::*;

    #[test]
    fn a_delalloc_write_raises_i_size_not_i_disksize_until_writeback() {
        let w = Op::Write(buffered(B, B));
        let mut s = state(
            DEFAULT,
            vec![inode(B, &[(0, 1, 0, Written)])],
            vec![vec![w, Op::Writeback { inode: 0 }]],
        );
        finish_op(&mut s, 0);
        assert_eq!((s.inodes[0].i_size, s.inodes[0].i_disksize), (2 * B, B));
        assert!(s.inodes[0].map.delayed.contains(&1));
        finish(&mut s);
        assert_eq!(s.inodes[0].i_disksize, 2 * B);
        assert!(s.inodes[0].map.delayed.is_empty());
        assert_eq!(s.inodes[0].map.extents.len(), 1, "written blocks merge");
    }
}

mod blk_plug {
    use super::*;

    /// An AIO write runs under `io_submit`'s plug (fs/aio.c:1600-1624): ext4's own
    /// `blk_start_plug` is nested and its `blk_finish_plug` dispatches nothing; the bios
    /// leave when `do_io_submit` finishes its plug, after the write returned its locks.
    #[test]
    fn on_a_request_based_device_io_submit_s_plug_holds_aio_bios_past_ext4_s_finish_plug() {
        let mut s = one_writer(PLUGGED, inode(B, &[(0, 1, 0, Unwritten)]), aio(0, B));
        step_to(&mut s, 0, WritePc::FinishPlug);
        let bio = *s.bios.keys().next().expect("queued bio");
        let owner = exec::task_wait(&s, Task::Bio(bio));
        assert_eq!(owner, Ok(Some(exec::Wait::Plugged { owner: 0 })));
        exec::step(&mut s, Task::Actor(0)).expect("ext4's blk_finish_plug");
        assert_eq!(owner, exec::task_wait(&s, Task::Bio(bio)), "still plugged");
        assert_eq!(frame(&s, 0).pc, WritePc::IoSubmitFinishPlug);
        assert_eq!(s.inodes[0].i_mutex, None);
        exec::step(&mut s, Task::Actor(0)).expect("io_submit's blk_finish_plug");
        assert_eq!(exec::task_wait(&s, Task::Bio(bio)), Ok(None));
        finish(&mut s);
    }

    /// A synchronous direct write owns the plug ext4 starts: its `blk_finish_plug` dispatches.
    #[test]
    fn on_a_request_based_device_ext4_s_plug_holds_a_sync_dio_s_bios_until_blk_finish_plug() {
        let mut s = one_writer(PLUGGED, inode(B, &[(0, 1, 0, Written)]), dio(0, B));
        step_to(&mut s, 0, WritePc::DioZeroTail);
        let bio = *s.bios.keys().next().expect("submitted bio");
        assert_eq!(
            exec::task_wait(&s, Task::Bio(bio)),
            Ok(Some(exec::Wait::Plugged { owner: 0 }))
        );
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0), (B as i64, None));
    }

    #[test]
    fn a_sleeping_submitter_dispatches_its_plugged_bios() {
        let mut s = one_writer(PLUGGED, inode(B, &[(0, 1, 0, Written)]), dio(0, B));
        step_to(&mut s, 0, WritePc::DioDrop);
        // dio_await_completion sleeps: schedule() flushed the plug.
        assert!(s.bios.values().all(|b| b.plugged_by.is_none()));
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0), (B as i64, None));
    }

    /// On a bio-based device the bio may finish before `drop_refcount`: the submitter runs
    /// `dio_complete` itself, returns the bytes, and its put of the io_end converts, under
    /// `i_mutex` (fs/ext4/page-io.c, fs/ext4/inode.c).
    #[test]
    fn a_queued_aio_whose_bios_finish_first_completes_and_converts_in_the_submitter() {
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Unwritten)]), aio(0, B));
        step_to(&mut s, 0, WritePc::DioDrop);
        let bio = *s.bios.keys().next().expect("bio");
        exec::step(&mut s, Task::Bio(bio)).expect("bio completes at once");
        step_to(&mut s, 0, WritePc::ExtConvertAndEnd);
        assert_eq!(
            s.inodes[0].map.extents[0].state, Written,
            "the submitter's put converted"
        );
        assert_eq!(s.inodes[0].i_mutex, Some(0));
        let trace = finish(&mut s);
        assert!(
            trace.iter().all(|t| !t.starts_with('w')),
            "no worker: {trace:?}"
        );
        assert_eq!(
            write_result(&s, 0, 0),
            (B as i64, Some(B as i64)),
            "aio_run_iocb completes it"
        );
    }
}
