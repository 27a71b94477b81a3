//! The other actors: truncate, punch hole, writeback, fsync, crash, hashing.

mod common;
use common::*;
use model::exec::{self, Task, Wait};
use model::ops::{Op, OpResult, WritePc};
use model::state::{Data, Sleep};

fn other_steps(trace: &[String], actor: &str) -> Vec<String> {
    trace
        .iter()
        .filter(|t| t.starts_with(actor))
        .map(|t| t.split(' ').nth(1).unwrap().to_string())
        .collect()
}

mod ext4_setattr {
    use super::*;

    #[test]
    fn a_shrinking_truncate_runs_in_ext4_setattr_order_and_frees_blocks() {
        let truncate = Op::Truncate {
            inode: 0,
            size: B + S,
        };
        let mut s = state(
            DEFAULT,
            vec![inode(4 * B, &[(0, 4, 2, Written)])],
            vec![vec![truncate]],
        );
        let trace = finish(&mut s);
        let steps = other_steps(&trace, "a0");
        assert_eq!(
            steps,
            [
                "IMutexLock",
                "OrphanAdd",
                "SetSize",
                "DioWait",
                "TruncatePagecache",
                "FreeBlocks",
                "IMutexUnlock"
            ]
        );
        let ino = &s.inodes[0];
        assert_eq!(
            (ino.i_size, ino.i_disksize, ino.orphan),
            (B + S, B + S, false)
        );
        assert_eq!(ino.map.extents.len(), 1);
        assert_eq!(ino.map.extents[0].len, 2);
        let freed = &s.disk.freed_uncommitted;
        assert!(
            freed[4] && freed[5] && !freed[3] && !s.disk.free[4],
            "free only at the next commit"
        );
        let page = &ino.pages[&1];
        assert_eq!(
            page.data,
            vec![init(1), Data::Zero, Data::Zero, Data::Zero],
            "tail of the block zeroed"
        );
    }

    /// `truncate_inode_pages_range` → `ext4_da_invalidatepage` → `block_invalidatepage`
    /// discards the buffers wholly past the new size in the page it cuts: with 1 KiB blocks
    /// in 4 KiB pages, blocks 2 and 3 of the page lose their dirty bits, so a later
    /// extension and writeback leave them holes (found by the real-ext4 suite, row M1).
    #[test]
    fn a_truncate_inside_a_page_discards_the_dirty_buffers_past_it() {
        let g = model::geometry::Geometry {
            blkbits: 10,
            sector_bits: 9,
            page_bits: 12,
            huge_file: true,
            disk_blocks: 64,
        };
        let truncate = Op::Truncate {
            inode: 0,
            size: B / 4 + B / 8,
        };
        let program = vec![
            Op::Write(buffered(0, B)),
            truncate,
            Op::Write(buffered(2 * B, B / 4)),
            Op::Writeback { inode: 0 },
        ];
        let scenario = model::scenario::Scenario {
            geometry: g,
            mount: DEFAULT,
            inodes: vec![inode(0, &[])],
            actors: vec![program],
        };
        let mut s = scenario.build().expect("valid scenario");
        let mut through_truncate = s.clone();
        through_truncate.actors[0].program.truncate(2);
        finish(&mut through_truncate);
        assert_eq!(
            through_truncate.inodes[0].pages[&0].dirty, 0b0011,
            "blocks 2 and 3 discarded"
        );
        finish(&mut s);
        let mapped = |b: u64| {
            s.inodes[0]
                .map
                .extents
                .iter()
                .any(|e| e.lblk <= b && b < e.lblk + e.len)
        };
        assert!(mapped(0) && mapped(1) && mapped(8), "written back");
        assert!(!mapped(2) && !mapped(3), "discarded blocks stay holes");
    }

    /// `shrink = size <= i_size`: a truncate to the current size changes no size, takes no
    /// orphan and no `inode_dio_wait`, yet runs `ext4_truncate`: the partial block's tail is
    /// zeroed and the blocks past EOF are freed.
    #[test]
    fn a_truncate_to_the_same_size_still_runs_ext4_truncate() {
        let truncate = Op::Truncate {
            inode: 0,
            size: B + S,
        };
        let mut s = state(
            DEFAULT,
            vec![inode(B + S, &[(0, 4, 2, Written)])],
            vec![vec![truncate]],
        );
        let trace = finish(&mut s);
        assert_eq!(
            other_steps(&trace, "a0"),
            [
                "IMutexLock",
                "TruncatePagecache",
                "FreeBlocks",
                "IMutexUnlock"
            ]
        );
        assert_eq!(s.inodes[0].map.extents[0].len, 2);
        assert_eq!(
            s.inodes[0].pages[&1].data,
            vec![init(1), Data::Zero, Data::Zero, Data::Zero]
        );
    }

    /// `generic_file_direct_write` (mm/filemap.c) raising `i_size`: the truncate runs while the
    /// overwrite DIO is between dropping and retaking i_mutex; `generic_file_direct_write` then
    /// raises `i_size` back to the end of the write, while the blocks the truncate freed stay freed
    /// and `i_disksize` stays 0.
    #[test]
    fn truncate_waits_for_an_overwrite_dio_then_gets_its_i_size_raised_back_as_in_4_4() {
        let actors = vec![
            vec![Op::Write(dio(0, B))],
            vec![Op::Truncate { inode: 0, size: 0 }],
        ];
        let mut s = state(NOLOCK, vec![inode(2 * B, &[(0, 2, 4, Written)])], actors);
        step_to(&mut s, 0, WritePc::DioDrop);
        exec::step(&mut s, Task::Actor(1)).expect("i_mutex is free: the overwrite dropped it");
        exec::step(&mut s, Task::Actor(1)).expect("ext4_orphan_add");
        assert_eq!(
            exec::task_wait(&s, Task::Actor(1)),
            Ok(Some(Wait::DataSem { inode: 0 }))
        );
        finish(&mut s);
        let ino = &s.inodes[0];
        assert_eq!((ino.i_size, ino.i_disksize), (B, 0));
        assert!(ino.map.extents.is_empty(), "the blocks stay freed");
    }

    #[test]
    fn inode_dio_wait_sleeps_until_a_queued_aio_ends() {
        let actors = vec![
            vec![Op::Write(aio(0, B))],
            vec![Op::Truncate { inode: 0, size: 0 }],
        ];
        let mut s = state(DEFAULT, vec![inode(2 * B, &[(0, 2, 4, Written)])], actors);
        finish_op(&mut s, 0);
        assert_eq!(
            s.inodes[0].i_dio_count, 1,
            "queued AIO holds its dio's reference"
        );
        for _ in 0..4 {
            exec::step(&mut s, Task::Actor(1)).expect("lock, orphan, set size, wait");
        }
        assert_eq!(s.actors[1].sleeping, Some(Sleep::DioWait(0)));
        let bio = *s.bios.keys().next().expect("the AIO's bio");
        exec::step(&mut s, Task::Bio(bio)).expect("bio completes, the dio with it");
        assert_eq!(
            s.actors[1].sleeping, None,
            "inode_dio_end woke the truncate"
        );
        finish(&mut s);
    }
}

mod ext4_punch_hole {
    use super::*;

    #[test]
    fn punch_frees_whole_blocks_and_zeroes_partial_ones() {
        let punch = Op::PunchHole {
            inode: 0,
            pos: S,
            len: 2 * B,
        };
        let mut s = state(
            DEFAULT,
            vec![inode(4 * B, &[(0, 4, 0, Written)])],
            vec![vec![punch, Op::Writeback { inode: 0 }]],
        );
        let trace = finish(&mut s);
        assert_eq!(
            other_steps(&trace, "a0")[..7],
            [
                "Flush",
                "FlushWait",
                "IMutexLock",
                "DioWait",
                "TruncatePagecache",
                "FreeBlocks",
                "IMutexUnlock"
            ]
        );
        let extents: Vec<(u64, u64)> = s.inodes[0]
            .map
            .extents
            .iter()
            .map(|e| (e.lblk, e.len))
            .collect();
        assert_eq!(extents, [(0, 1), (2, 2)], "block 1 removed");
        assert_eq!(
            &s.disk.sectors[0..4],
            &[init(0), Data::Zero, Data::Zero, Data::Zero]
        );
        assert_eq!(
            &s.disk.sectors[8..12],
            &[Data::Zero, init(2), init(2), init(2)]
        );
    }

    #[test]
    fn punch_at_or_past_i_size_does_nothing() {
        let punch = Op::PunchHole {
            inode: 0,
            pos: 4 * B,
            len: B,
        };
        let mut s = state(
            DEFAULT,
            vec![inode(4 * B, &[(0, 4, 0, Written)])],
            vec![vec![punch]],
        );
        let trace = finish(&mut s);
        assert_eq!(
            other_steps(&trace, "a0"),
            ["Flush", "FlushWait", "IMutexLock", "IMutexUnlock"]
        );
    }

    /// `ext4_get_block(create = 0)` leaves an unwritten block's buffer unmapped, so
    /// `ext4_zero_partial_blocks` skips it like a hole: nothing is read from disk.
    #[test]
    fn a_partial_block_zeroing_leaves_an_unwritten_block_alone() {
        let punch = Op::PunchHole {
            inode: 0,
            pos: 0,
            len: S,
        };
        let read = Op::Read {
            inode: 0,
            pos: 0,
            len: B,
            direct: false,
        };
        let mut s = state(
            DEFAULT,
            vec![inode(B, &[(0, 1, 3, Unwritten)])],
            vec![vec![punch, read]],
        );
        finish(&mut s);
        let OpResult::Read(data) = &s.actors[0].results[1] else {
            panic!("read result")
        };
        assert_eq!(data, &[Data::Zero; 4]);
        assert!(s.inodes[0].pages[&0].dirty == 0, "no buffer was dirtied");
    }
}

mod ext4_writepages {
    use super::*;

    #[test]
    fn writeback_under_dioread_nolock_flags_the_io_end_in_i_private() {
        let actors = vec![
            vec![Op::Write(aio(0, B))],
            vec![Op::Write(buffered(B, B)), Op::Writeback { inode: 0 }],
        ];
        let mut s = state(NOLOCK, vec![inode(2 * B, &[(0, 1, 4, Written)])], actors);
        finish_op(&mut s, 1);
        step_to(&mut s, 0, WritePc::DioStart);
        let aio_io_end = s.inodes[0].i_private.expect("async DIO set i_private");
        assert!(!s.io_ends[&aio_io_end].unwritten);
        finish_op(&mut s, 1);
        assert!(
            s.io_ends[&aio_io_end].unwritten,
            "(a): the DIO's io_end is flagged by writeback"
        );
        assert_eq!(s.inodes[0].i_unwritten, 2, "writeback's own io_end too (c)");
        finish(&mut s);
        assert_eq!(s.inodes[0].i_unwritten, 0);
        assert!(s.inodes[0].map.extents.iter().all(|e| e.state == Written));
    }

    #[test]
    fn writeback_allocates_written_blocks_without_dioread_nolock() {
        let w = Op::Write(buffered(0, 2 * B));
        let mut s = state(
            DEFAULT,
            vec![inode(0, &[])],
            vec![vec![w, Op::Writeback { inode: 0 }]],
        );
        finish(&mut s);
        let e = s.inodes[0].map.extents[0];
        assert_eq!((e.lblk, e.len, e.state), (0, 2, Written));
        assert_eq!(s.inodes[0].i_disksize, 2 * B);
        assert_eq!(s.inodes[0].nrpages(), 2);
        assert!(
            s.inodes[0]
                .pages
                .values()
                .all(|p| p.dirty == 0 && p.writeback == 0)
        );
    }
}

mod ext4_sync_file_and_crash {
    use super::*;

    #[test]
    fn fsync_commits_what_a_crash_then_keeps() {
        let program = vec![
            Op::Write(buffered(0, B)),
            Op::Fsync {
                inode: 0,
                datasync: true,
            },
            Op::Crash,
            Op::Read {
                inode: 0,
                pos: 0,
                len: B,
                direct: false,
            },
        ];
        let mut s = state(DEFAULT, vec![inode(0, &[])], vec![program]);
        finish(&mut s);
        assert_eq!(s.inodes[0].i_size, B);
        let OpResult::Read(data) = &s.actors[0].results[3] else {
            panic!("read")
        };
        assert_eq!(data, &[Data::Write(1); 4]);
    }

    #[test]
    fn without_a_commit_a_crash_loses_the_write() {
        let program = vec![
            Op::Write(buffered(0, B)),
            Op::Writeback { inode: 0 },
            Op::Crash,
            Op::Stat { inode: 0 },
        ];
        let mut s = state(DEFAULT, vec![inode(0, &[])], vec![program]);
        finish(&mut s);
        assert_eq!(s.actors[0].results[3], OpResult::Stat(0));
        assert!(s.inodes[0].map.extents.is_empty());
        assert!(
            s.disk.free.iter().all(|&f| f),
            "the uncommitted allocation is gone"
        );
    }

    #[test]
    fn a_crash_kills_the_other_actors_and_orphan_cleanup_truncates() {
        let actors = vec![vec![Op::Write(dio(B, B))], vec![Op::Commit, Op::Crash]];
        let mut s = state(DEFAULT, vec![inode(B, &[(0, 1, 0, Written)])], actors);
        step_to(&mut s, 0, WritePc::DioGetBlock);
        assert!(s.inodes[0].orphan, "extending DIO is on the orphan list");
        exec::step(&mut s, Task::Actor(0)).expect("allocates block 1");
        finish_op(&mut s, 1);
        finish_op(&mut s, 1);
        assert_eq!(s.actors[0].results, vec![OpResult::Crashed]);
        assert_eq!(
            s.inodes[0].map.extents.len(),
            1,
            "the orphan's block past i_disksize is gone"
        );
        assert_eq!(s.inodes[0].i_size, B);
        assert!(s.crashed);
        finish(&mut s);
    }
}

mod ext4_aio_mutex_hashing {
    use super::*;

    #[test]
    fn two_inodes_in_one_bucket_share_the_aio_mutex() {
        let mut other = inode(B, &[(0, 1, 8, Written)]);
        other.ino = 12 + 37;
        let mut w1 = aio(0, B);
        w1.file.o_append = true;
        let mut w2 = w1.clone();
        w2.inode = 1;
        let mut s = state(
            DEFAULT,
            vec![inode(B, &[(0, 1, 0, Written)]), other],
            vec![vec![Op::Write(w1)], vec![Op::Write(w2)]],
        );
        step_to(&mut s, 0, WritePc::IMutexLock);
        step_to(&mut s, 1, WritePc::AioMutexLock);
        assert_eq!(
            exec::task_wait(&s, Task::Actor(1)),
            Ok(Some(Wait::AioMutex {
                bucket: 12,
                owner: 0
            }))
        );
        finish(&mut s);
    }
}

mod direct_read {
    use super::*;

    fn read_steps(mount: model::geometry::Mount) -> Vec<String> {
        let read = Op::Read {
            inode: 0,
            pos: 0,
            len: B,
            direct: true,
        };
        let mut s = state(
            mount,
            vec![inode(B, &[(0, 1, 0, Written)])],
            vec![vec![read]],
        );
        let trace = finish(&mut s);
        assert_eq!(s.actors[0].results[0], OpResult::Read(vec![init(0); 4]));
        other_steps(&trace, "a0")
    }

    #[test]
    fn a_direct_read_takes_i_mutex_without_dioread_nolock_and_not_with_it() {
        assert_eq!(
            read_steps(DEFAULT),
            [
                "Flush",
                "FlushWait",
                "DioReadBegin",
                "IMutexLock",
                "LockedFlush",
                "LockedFlushWait",
                "ReadPage",
                "IMutexUnlock"
            ]
        );
        assert_eq!(
            read_steps(NOLOCK),
            ["Flush", "FlushWait", "DioReadBegin", "ReadPage"]
        );
    }

    #[test]
    fn a_direct_read_during_a_punch_takes_the_locked_path() {
        let actors = vec![
            vec![Op::PunchHole {
                inode: 0,
                pos: 0,
                len: B,
            }],
            vec![Op::Read {
                inode: 0,
                pos: 0,
                len: B,
                direct: true,
            }],
        ];
        let mut s = state(NOLOCK, vec![inode(2 * B, &[(0, 2, 0, Written)])], actors);
        for _ in 0..4 {
            exec::step(&mut s, Task::Actor(0)).expect("punch up to its inode_dio_wait");
        }
        assert!(s.inodes[0].state_dioread_lock);
        for _ in 0..3 {
            exec::step(&mut s, Task::Actor(1)).expect("read up to DioReadBegin");
        }
        assert_eq!(
            exec::task_wait(&s, Task::Actor(1)),
            Ok(Some(Wait::IMutex { inode: 0, owner: 0 }))
        );
        finish(&mut s);
        assert_eq!(s.actors[1].results[0], OpResult::Read(vec![Data::Zero; 4]));
    }
}

mod mpage_prepare_extent_to_map {
    use super::*;

    /// A page dirtied again while under writeback: the flusher (`WB_SYNC_NONE`) skips it, an
    /// integrity flush (`WB_SYNC_ALL`, fsync) waits for its writeback before writing it.
    #[test]
    fn a_redirtied_page_under_writeback_is_skipped_by_the_flusher_and_waited_for_by_fsync() {
        let program = vec![
            Op::Write(buffered(0, B)),
            Op::Writeback { inode: 0 },
            Op::Write(buffered(0, B)),
            Op::Writeback { inode: 0 },
            Op::Fsync {
                inode: 0,
                datasync: false,
            },
        ];
        let mut s = state(DEFAULT, vec![inode(0, &[])], vec![program]);
        for _ in 0..4 {
            finish_op(&mut s, 0);
        }
        assert_eq!(
            s.bios.len(),
            1,
            "the flusher skipped the page under writeback"
        );
        let page = &s.inodes[0].pages[&0];
        assert!(page.dirty != 0 && page.writeback == 1);
        exec::step(&mut s, Task::Actor(0)).expect_err("fsync's flush waits");
        assert_eq!(
            exec::task_wait(&s, Task::Actor(0)),
            Ok(Some(Wait::Writeback { inode: 0 }))
        );
        finish(&mut s);
        assert_eq!(&s.disk.sectors[0..4], &[Data::Write(2); 4]);
    }

    /// 1 KiB blocks in 4 KiB pages: the page leaves writeback when its last block write ends.
    #[test]
    fn a_page_of_several_blocks_leaves_writeback_after_all_its_bios() {
        let g = model::geometry::Geometry {
            blkbits: 10,
            sector_bits: 9,
            ..G
        };
        let scenario = model::scenario::Scenario {
            geometry: g,
            mount: DEFAULT,
            inodes: vec![inode(0, &[])],
            actors: vec![vec![Op::Write(buffered(0, B)), Op::Writeback { inode: 0 }]],
        };
        let mut s = scenario.build().expect("valid");
        finish_op(&mut s, 0);
        finish_op(&mut s, 0);
        let bios: Vec<u16> = s.bios.keys().copied().collect();
        assert_eq!(bios.len(), 4);
        for (done, bio) in bios.iter().rev().enumerate() {
            assert_eq!(s.inodes[0].pages[&0].writeback as usize, 4 - done);
            exec::step(&mut s, Task::Bio(*bio)).expect("bio completes");
        }
        assert_eq!(s.inodes[0].pages[&0].writeback, 0);
    }
}

mod ext4_da_reserve_space {
    use super::*;

    fn small_disk(
        blocks: u32,
        inodes: Vec<model::scenario::InodeSpec>,
        actors: Vec<Vec<Op>>,
    ) -> model::state::State {
        let g = model::geometry::Geometry {
            disk_blocks: blocks,
            ..G
        };
        model::scenario::Scenario {
            geometry: g,
            mount: DEFAULT,
            inodes,
            actors,
        }
        .build()
        .expect("valid")
    }

    #[test]
    fn a_buffered_write_without_a_block_to_reserve_fails_enospc_after_what_it_copied() {
        let program = vec![Op::Write(buffered(0, 3 * B))];
        let mut s = small_disk(2, vec![inode(0, &[(0, 1, 0, Written)])], vec![program]);
        finish(&mut s);
        assert_eq!(
            write_result(&s, 0, 0).0,
            2 * B as i64,
            "two pages copied, the third has no block"
        );
        let program = vec![Op::Write(buffered(0, B))];
        let mut s = small_disk(
            1,
            vec![inode(B, &[]), inode(0, &[(0, 1, 0, Written)])],
            vec![program],
        );
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, model::iocb::errno::ENOSPC);
    }

    #[test]
    fn a_dio_allocation_leaves_delalloc_reservations_alone() {
        let actors = vec![vec![Op::Write(buffered(B, B)), Op::Write(dio(0, B))]];
        let mut s = small_disk(2, vec![inode(2 * B, &[(3, 1, 0, Written)])], actors);
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 1).0, model::iocb::errno::ENOSPC);
        assert_eq!(
            s.reserved_blocks(),
            1,
            "the delayed block keeps its reservation"
        );
    }
}

mod ext4_orphan_cleanup {
    use super::*;

    /// A crash after a committed shrinking truncate set the sizes but before it freed the
    /// blocks: orphan cleanup runs `ext4_truncate`, tail zeroing included.
    #[test]
    fn orphan_cleanup_truncates_and_zeroes_the_partial_block() {
        let actors = vec![
            vec![Op::Truncate {
                inode: 0,
                size: B + S,
            }],
            vec![
                Op::Commit,
                Op::Crash,
                Op::Read {
                    inode: 0,
                    pos: 0,
                    len: 4 * B,
                    direct: false,
                },
            ],
        ];
        let mut s = state(DEFAULT, vec![inode(4 * B, &[(0, 4, 0, Written)])], actors);
        for _ in 0..3 {
            exec::step(&mut s, Task::Actor(0)).expect("lock, orphan add, set size");
        }
        exec::step(&mut s, Task::Actor(1)).expect("commit");
        exec::step(&mut s, Task::Actor(1)).expect("crash");
        assert_eq!(s.actors[0].results, vec![OpResult::Crashed]);
        finish(&mut s);
        let OpResult::Read(data) = &s.actors[1].results[2] else {
            panic!("read")
        };
        assert_eq!(
            data,
            &[init(0), init(0), init(0), init(0), init(1)],
            "i_size is B + S after recovery"
        );
        let page = &s.inodes[0].pages[&1];
        assert_eq!(
            page.data,
            [init(1), Data::Zero, Data::Zero, Data::Zero],
            "tail zeroed"
        );
        assert_ne!(page.dirty, 0);
        assert_eq!(s.inodes[0].map.extents[0].len, 2);
        assert!(!s.inodes[0].orphan);
    }
}

mod bio_errors {
    use super::*;

    fn first_bio(s: &model::state::State) -> u16 {
        *s.bios.keys().next().expect("a bio in flight")
    }

    /// A failed bio of a sync DIO into an unwritten extent: `dio_complete` returns `-EIO`,
    /// so `ext4_ext_direct_IO` skips its sync conversion and `EXT4_STATE_DIO_UNWRITTEN`
    /// stays set (fs/ext4/inode.c).
    #[test]
    fn a_failed_sync_dio_returns_eio_and_leaves_the_state_bit_set() {
        let mut s = one_writer(FAILING, inode(B, &[(0, 1, 0, Unwritten)]), dio(0, B));
        step_to(&mut s, 0, WritePc::DioDrop);
        let bio = first_bio(&s);
        exec::step(&mut s, Task::BioError(bio)).expect("the device fails the bio");
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, model::iocb::errno::EIO);
        assert!(s.inodes[0].state_dio_unwritten);
        assert_eq!(s.inodes[0].map.extents[0].state, Unwritten);
        assert_eq!(&s.disk.sectors[0..4], &[Data::Stale(0); 4]);
    }

    /// `ext4_end_io_dio` converts even after a failed bio; the AIO event carries `-EIO`.
    #[test]
    fn a_failed_aio_is_converted_all_the_same_and_its_event_is_eio() {
        let mut s = one_writer(FAILING, inode(B, &[(0, 1, 0, Unwritten)]), aio(0, B));
        finish_op(&mut s, 0);
        let bio = first_bio(&s);
        exec::step(&mut s, Task::BioError(bio)).expect("the device fails the bio");
        finish(&mut s);
        assert_eq!(
            write_result(&s, 0, 0),
            (
                model::iocb::errno::EIOCBQUEUED,
                Some(model::iocb::errno::EIO)
            )
        );
        assert_eq!(
            s.inodes[0].map.extents[0].state, Written,
            "stale data now readable"
        );
    }

    /// `AS_EIO` is reported once: the first fsync after a failed writeback gets `-EIO`, the
    /// next one 0 (`filemap_check_errors` clears it).
    #[test]
    fn a_writeback_error_is_reported_by_the_next_fsync_only() {
        let program = vec![
            Op::Write(buffered(0, B)),
            Op::Writeback { inode: 0 },
            Op::Fsync {
                inode: 0,
                datasync: true,
            },
            Op::Fsync {
                inode: 0,
                datasync: true,
            },
        ];
        let mut s = state(FAILING, vec![inode(0, &[])], vec![program]);
        finish_op(&mut s, 0);
        finish_op(&mut s, 0);
        let bio = first_bio(&s);
        exec::step(&mut s, Task::BioError(bio)).expect("the device fails the bio");
        finish(&mut s);
        assert_eq!(
            s.actors[0].results[2],
            OpResult::Failed(model::iocb::errno::EIO)
        );
        assert_eq!(s.actors[0].results[3], OpResult::Done);
    }

    #[test]
    fn without_bio_errors_there_is_no_failing_completion() {
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Written)]), dio(0, B));
        step_to(&mut s, 0, WritePc::DioDrop);
        let bio = first_bio(&s);
        assert!(exec::step(&mut s, Task::BioError(bio)).is_err());
        assert!(!exec::runnable(&s).contains(&Task::BioError(bio)));
    }
}

mod locked_direct_read {
    use super::*;

    /// Found by the hunt (swarm seed 207): the locked path's second flush must wait for its
    /// writeback before the read maps blocks, or it reads a block before its data landed.
    #[test]
    fn the_locked_flush_waits_for_its_writeback() {
        let read = vec![Op::Read {
            inode: 0,
            pos: 0,
            len: B,
            direct: true,
        }];
        let write = vec![Op::Write(buffered(0, B))];
        let mut s = state(DEFAULT, vec![inode(0, &[])], vec![read, write]);
        for _ in 0..3 {
            exec::step(&mut s, Task::Actor(0)).expect("flush, wait, begin: nothing dirty yet");
        }
        finish_op(&mut s, 1);
        exec::step(&mut s, Task::Actor(0)).expect("i_mutex");
        exec::step(&mut s, Task::Actor(0)).expect("locked flush starts writeback");
        exec::step(&mut s, Task::Actor(0)).expect_err("the wait waits");
        assert_eq!(
            exec::task_wait(&s, Task::Actor(0)),
            Ok(Some(Wait::Writeback { inode: 0 }))
        );
        finish(&mut s);
        assert_eq!(
            s.actors[0].results[0],
            OpResult::Read(vec![Data::Write(1); 4])
        );
    }
}

mod ext4_free_blocks {
    use super::*;

    /// Found by the hunt (swarm seed 1286): a block freed by a truncate was reused by a DIO
    /// before the truncate committed; a crash then replayed the old mapping over the DIO's
    /// data. In data=ordered 4.4 frees data blocks through `ext4_mb_free_metadata`: they are
    /// reusable only after the freeing transaction commits.
    #[test]
    fn a_freed_block_is_reused_only_after_the_commit() {
        let program = vec![
            Op::Truncate { inode: 0, size: B },
            Op::Write(dio(0, B)),
            Op::Commit,
            Op::Write(dio(2 * B, B)),
        ];
        let g = model::geometry::Geometry {
            disk_blocks: 3,
            ..G
        };
        let inode = inode(2 * B, &[(1, 1, 0, Written)]);
        let scenario = model::scenario::Scenario {
            geometry: g,
            mount: DEFAULT,
            inodes: vec![inode],
            actors: vec![program],
        };
        let mut s = scenario.build().expect("valid");
        finish_op(&mut s, 0);
        step_to(&mut s, 0, WritePc::DioDrop);
        assert_eq!(
            s.inodes[0].map.pblk(0).map(|(p, _)| p),
            Some(1),
            "p0 waits for the commit"
        );
        finish(&mut s);
        assert_eq!(
            s.inodes[0].map.pblk(2).map(|(p, _)| p),
            Some(0),
            "reused after the commit"
        );
    }
}

/// `ext4_ext_convert_to_initialized` (fs/ext4/extents.c): a buffered write into an unwritten
/// extent, written back without dioread_nolock.
mod ext4_ext_convert_to_initialized {
    use super::*;
    use model::extent::ExtentState;
    use model::state::State;

    /// Writes block `lblk` of an inode of `i_size` holding `extent` and writes it back;
    /// returns the extent states as `(lblk, len, state)` and the state.
    fn write_back(
        i_size: u64,
        extent: (u64, u64),
        lblk: u64,
    ) -> (Vec<(u64, u64, ExtentState)>, State) {
        let (first, len) = extent;
        let program = vec![Op::Write(buffered(lblk * B, B)), Op::Writeback { inode: 0 }];
        let mut s = state(
            DEFAULT,
            vec![inode(i_size, &[(first, len, 2, Unwritten)])],
            vec![program],
        );
        finish(&mut s);
        let map = s.inodes[0]
            .map
            .extents
            .iter()
            .map(|e| (e.lblk, e.len, e.state))
            .collect();
        (map, s)
    }

    /// The disk contents of the extent's physical block `k` (it started at pblk 2).
    fn disk_block(s: &State, k: u64) -> &[Data] {
        let spb = (B / S) as usize;
        let at = (2 + k as usize) * spb;
        &s.disk.sectors[at..at + spb]
    }

    #[test]
    fn a_small_extent_within_i_size_is_zeroed_out_whole() {
        let (map, s) = write_back(4 * B, (0, 4), 1);
        assert_eq!(map, [(0, 4, Written)]);
        assert!(
            disk_block(&s, 0).iter().all(|&d| d == Data::Zero),
            "zeroed on disk"
        );
        assert!(
            disk_block(&s, 3).iter().all(|&d| d == Data::Zero),
            "zeroed on disk"
        );
    }

    #[test]
    fn an_extent_past_i_size_is_split_not_zeroed() {
        let (map, s) = write_back(2 * B, (0, 4), 1);
        assert_eq!(map, [(0, 1, Unwritten), (1, 1, Written), (2, 2, Unwritten)]);
        assert!(
            disk_block(&s, 0)
                .iter()
                .all(|d| matches!(d, Data::Stale(_))),
            "stale, not zeroed"
        );
    }

    /// The fast path comes first: a write at the start of an unwritten extent whose written
    /// left neighbour is contiguous moves the block over, with no zero-out.
    #[test]
    fn a_written_left_neighbour_takes_the_block_without_a_zero_out() {
        let extents = [(0, 2, 2, Written), (2, 4, 4, Unwritten)];
        let program = vec![Op::Write(buffered(2 * B, B)), Op::Writeback { inode: 0 }];
        let mut s = state(DEFAULT, vec![inode(6 * B, &extents)], vec![program]);
        finish(&mut s);
        let map: Vec<_> = s.inodes[0]
            .map
            .extents
            .iter()
            .map(|e| (e.lblk, e.len, e.state))
            .collect();
        assert_eq!(map, [(0, 3, Written), (3, 3, Unwritten)]);
    }

    #[test]
    fn a_large_extent_zeroes_its_head_or_its_tail_when_small_enough() {
        let (head, _) = write_back(12 * B, (0, 12), 1);
        assert_eq!(
            head,
            [(0, 2, Written), (2, 10, Unwritten)],
            "case 2: head zeroed"
        );
        let (tail, _) = write_back(12 * B, (0, 12), 8);
        assert_eq!(
            tail,
            [(0, 8, Unwritten), (8, 4, Written)],
            "case 3: tail zeroed"
        );
    }
}
