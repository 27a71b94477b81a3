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

    /// `ext4_ext_truncate` sets `i_disksize = i_size`: a truncate to the current size after a
    /// buffered extending write keeps that size across a commit and a crash.
    #[test]
    fn a_truncate_to_the_same_size_commits_i_size_as_i_disksize() {
        let program = vec![
            Op::Write(buffered(B, S)),
            Op::Truncate {
                inode: 0,
                size: B + S,
            },
            Op::Commit,
            Op::Crash,
            Op::Stat { inode: 0 },
        ];
        let mut s = state(
            DEFAULT,
            vec![inode(B, &[(0, 1, 0, Written)])],
            vec![program],
        );
        finish(&mut s);
        assert_eq!(s.actors[0].results[4], OpResult::Stat(B + S));
    }

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
        let g = model::fs::ext4::super_::Geometry {
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
            patches: model::patches::Patches::NONE,
        };
        let mut s = scenario.build().expect("valid scenario");
        let mut through_truncate = s.clone();
        through_truncate.actors[0].program = s.actors[0].program[..2].into();
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
            vec![inode(B + S, &[(0, 2, 2, Written), (2, 2, 4, Unwritten)])],
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

    /// `ext4_update_disksize_before_punch`: a punch finds nothing dirty and skips its flush;
    /// then a buffered write extends the file (`i_disksize` waits for writeback) and the
    /// punch, to EOF, drops that page, so it raises `i_disksize` to `i_size` itself. After a
    /// commit and a crash the file keeps its size.
    #[test]
    fn a_punch_to_eof_commits_the_size_writeback_would_have_raised() {
        let punch = vec![
            Op::PunchHole {
                inode: 0,
                pos: B,
                len: B,
            },
            Op::Commit,
            Op::Crash,
            Op::Stat { inode: 0 },
        ];
        let actors = vec![punch, vec![Op::Write(buffered(B, B))]];
        let mut s = state(DEFAULT, vec![inode(B, &[(0, 1, 0, Written)])], actors);
        exec::step(&mut s, Task::Actor(0)).expect("the punch's pre-lock flush check");
        finish_op(&mut s, 1);
        assert_eq!(s.inodes[0].i_disksize, B, "delalloc: i_disksize waits");
        finish(&mut s);
        assert_eq!(s.actors[0].results[3], OpResult::Stat(2 * B));
    }

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
        // Nothing is dirty: no flush before i_mutex (fs/ext4/inode.c:3712).
        assert_eq!(
            other_steps(&trace, "a0")[..6],
            [
                "PunchFlush",
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
            ["PunchFlush", "IMutexLock", "IMutexUnlock"]
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
        exec::step(&mut s, Task::Actor(0)).expect("enters ext4_ext_map_blocks");
        exec::step(&mut s, Task::Actor(0)).expect("allocates block 1, stops its handle");
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

    /// Two O_APPEND AIO writers on two inodes; actor 0 holds its aio_mutex.
    fn two_appenders(inos: (u32, u32)) -> model::state::State {
        let (mut first, mut other) = (
            inode(B, &[(0, 1, 0, Written)]),
            inode(B, &[(0, 1, 8, Written)]),
        );
        (first.ino, other.ino) = inos;
        let mut w1 = aio(0, B);
        w1.file.o_append = true;
        let mut w2 = w1.clone();
        w2.inode = 1;
        let mut s = state(
            DEFAULT,
            vec![first, other],
            vec![vec![Op::Write(w1)], vec![Op::Write(w2)]],
        );
        step_to(&mut s, 0, WritePc::IMutexLock);
        step_to(&mut s, 1, WritePc::AioMutexLock);
        s
    }

    /// ino 49 and ino 86 are both bucket 12 (`ino % 37`), neither equal to its bucket: the
    /// second writer waits on the first's aio_mutex.
    #[test]
    fn two_inodes_in_one_bucket_share_the_aio_mutex() {
        let mut s = two_appenders((49, 86));
        assert_eq!(
            exec::task_wait(&s, Task::Actor(1)),
            Ok(Some(Wait::AioMutex {
                bucket: 12,
                owner: 0
            }))
        );
        finish(&mut s);
    }

    /// ino 49 (bucket 12) and ino 50 (bucket 13) do not share it.
    #[test]
    fn two_inodes_in_two_buckets_do_not_share_the_aio_mutex() {
        let mut s = two_appenders((49, 50));
        assert_eq!(exec::task_wait(&s, Task::Actor(1)), Ok(None));
        exec::step(&mut s, Task::Actor(1)).expect("takes bucket 13");
        assert_eq!(
            (s.aio_mutex.get(&12), s.aio_mutex.get(&13)),
            (Some(&0), Some(&1))
        );
        finish(&mut s);
    }
}

mod direct_read {
    use super::*;

    fn read_steps(mount: model::fs::ext4::super_::Mount) -> Vec<String> {
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

    /// The unlocked (dioread_nolock) direct read holds an `i_dio_count` reference from its
    /// `DIOREAD_LOCK` check to the end of its I/O: a shrinking truncate sleeps in
    /// `inode_dio_wait` until the read is done.
    #[test]
    fn a_shrinking_truncate_waits_for_an_unlocked_direct_read() {
        let actors = vec![
            vec![Op::Read {
                inode: 0,
                pos: 0,
                len: B,
                direct: true,
            }],
            vec![Op::Truncate { inode: 0, size: 0 }],
        ];
        let mut s = state(NOLOCK, vec![inode(B, &[(0, 1, 0, Written)])], actors);
        for _ in 0..3 {
            exec::step(&mut s, Task::Actor(0)).expect("read up to DioReadBegin");
        }
        assert_eq!(s.inodes[0].i_dio_count, 1);
        while exec::task_wait(&s, Task::Actor(1)) == Ok(None) {
            exec::step(&mut s, Task::Actor(1)).expect("truncate steps");
        }
        assert_eq!(
            exec::task_wait(&s, Task::Actor(1)),
            Ok(Some(Wait::Asleep(Sleep::DioWait(0))))
        );
        finish(&mut s);
        // The read ran after the truncate set the new size (in 4.4 a direct read may see
        // it, as a direct write may): it read nothing.
        assert_eq!(s.actors[0].results[0], OpResult::Read(vec![]));
        assert_eq!(s.inodes[0].i_dio_count, 0);
        assert_eq!(s.actors[1].results[0], OpResult::Done);
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
        let g = model::fs::ext4::super_::Geometry {
            blkbits: 10,
            sector_bits: 9,
            ..G
        };
        let scenario = model::scenario::Scenario {
            geometry: g,
            mount: DEFAULT,
            inodes: vec![inode(0, &[])],
            actors: vec![vec![Op::Write(buffered(0, B)), Op::Writeback { inode: 0 }]],
            patches: model::patches::Patches::NONE,
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
        let g = model::fs::ext4::super_::Geometry {
            disk_blocks: blocks,
            ..G
        };
        model::scenario::Scenario {
            geometry: g,
            mount: DEFAULT,
            inodes,
            actors,
            patches: model::patches::Patches::NONE,
        }
        .build()
        .expect("valid")
    }

    #[test]
    fn a_buffered_write_without_a_block_to_reserve_fails_enospc_after_what_it_copied() {
        let program = vec![Op::Write(buffered(0, 3 * B))];
        // The only other block is taken by a preallocated (unwritten) extent.
        let mut s = small_disk(2, vec![inode(0, &[(0, 1, 0, Unwritten)])], vec![program]);
        finish(&mut s);
        assert_eq!(
            write_result(&s, 0, 0).0,
            2 * B as i64,
            "two pages copied, the third has no block"
        );
        let program = vec![Op::Write(buffered(0, B))];
        let mut s = small_disk(
            1,
            vec![inode(B, &[]), inode(0, &[(0, 1, 0, Unwritten)])],
            vec![program],
        );
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, model::include::fs::errno::ENOSPC);
    }

    /// `ext4_da_write_begin` fails past `i_size`: `ext4_truncate_failed_write` frees the
    /// preallocated block past EOF and sets `i_disksize = i_size` (fs/ext4/inode.c:2825).
    #[test]
    fn a_failed_write_begin_past_eof_truncates_to_i_size() {
        let program = vec![Op::Write(buffered(0, 3 * B))];
        // Two blocks: a KEEP_SIZE preallocation at lblk 3 holds one, the first page takes
        // the other, the second page has none.
        let mut s = small_disk(2, vec![inode(0, &[(3, 1, 0, Unwritten)])], vec![program]);
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, B as i64, "one page copied");
        let ino = &s.inodes[0];
        assert_eq!(ino.i_size, B);
        assert_eq!(
            ino.map.pblk(3),
            None,
            "ext4_truncate freed the block past EOF"
        );
        assert_eq!(ino.i_disksize, B, "ext4_truncate set i_disksize = i_size");
        assert!(
            ino.map.delayed.contains(&0),
            "the copied page stays delayed"
        );
    }

    #[test]
    fn a_dio_allocation_leaves_delalloc_reservations_alone() {
        let actors = vec![vec![Op::Write(buffered(B, B)), Op::Write(dio(0, B))]];
        let mut s = small_disk(2, vec![inode(2 * B, &[(3, 1, 0, Unwritten)])], actors);
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 1).0, model::include::fs::errno::ENOSPC);
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
        finish_op(&mut s, 1); // the commit
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
        assert_eq!(write_result(&s, 0, 0).0, model::include::fs::errno::EIO);
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
                model::include::fs::errno::EIOCBQUEUED,
                Some(model::include::fs::errno::EIO)
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
            OpResult::Failed(model::include::fs::errno::EIO)
        );
        assert_eq!(s.actors[0].results[3], OpResult::Done);
    }

    /// `ext4_punch_hole` flushes only `if (mapping_tagged(mapping, PAGECACHE_TAG_DIRTY))`
    /// (fs/ext4/inode.c:3712): an O_DSYNC buffered write's writeback fails while no page is
    /// dirty; the punch neither flushes nor takes `AS_EIO`, and the write's own sync reports
    /// `-EIO`.
    #[test]
    fn a_punch_with_no_dirty_page_leaves_as_eio_to_the_writer() {
        let mut write = buffered(0, B);
        write.file.o_dsync = true;
        let actors = vec![
            vec![Op::Write(write)],
            vec![Op::PunchHole {
                inode: 0,
                pos: B,
                len: B,
            }],
        ];
        let mut s = state(FAILING, vec![inode(2 * B, &[(0, 2, 0, Written)])], actors);
        step_to(&mut s, 0, WritePc::SyncFlushWait);
        let bio = first_bio(&s);
        exec::step(&mut s, Task::BioError(bio)).expect("the device fails the bio");
        finish_op(&mut s, 1);
        assert_eq!(s.actors[1].results[0], OpResult::Done, "the punch succeeds");
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, model::include::fs::errno::EIO);
    }

    /// `PG_error` beside `AS_EIO` (mm/filemap.c:384-445): an O_DSYNC write's flush found its
    /// page under writeback; the bio fails; a direct write to another page takes `AS_EIO`
    /// first (its range held no page under writeback). The O_DSYNC write still gets `-EIO`
    /// from `TestClearPageError` on its page.
    #[test]
    fn a_waiter_on_a_failed_page_reports_eio_after_another_took_as_eio() {
        let mut write = buffered(0, B);
        write.file.o_dsync = true;
        let actors = vec![vec![Op::Write(write)], vec![Op::Write(dio(B, B))]];
        let mut s = state(FAILING, vec![inode(2 * B, &[(0, 2, 0, Written)])], actors);
        step_to(&mut s, 0, WritePc::SyncFlushWait);
        let bio = first_bio(&s);
        exec::step(&mut s, Task::BioError(bio)).expect("the device fails the bio");
        assert!(s.inodes[0].pages[&0].error, "ext4_finish_bio: SetPageError");
        finish_op(&mut s, 1);
        assert_eq!(
            write_result(&s, 1, 0).0,
            model::include::fs::errno::EIO,
            "AS_EIO"
        );
        finish(&mut s);
        assert_eq!(
            write_result(&s, 0, 0).0,
            model::include::fs::errno::EIO,
            "PG_error"
        );
        assert!(
            !s.inodes[0].pages[&0].error,
            "TestClearPageError cleared it"
        );
    }

    /// A direct write that wrote nothing directly (a hole of a block-mapped file: `-ENOTBLK`)
    /// falls back to buffered; its fallback flush fails; `__generic_file_write_iter` returns
    /// `written ? written : err` (mm/filemap.c:2681): `-EIO`, not 0.
    #[test]
    fn a_fallback_whose_flush_fails_with_nothing_written_directly_returns_eio() {
        let mut s = one_writer(
            FAILING,
            bitmap_inode(2 * B, &[(1, 1, 0, Written)]),
            dio(0, B),
        );
        step_to(&mut s, 0, WritePc::FallbackFlushWait);
        let bio = first_bio(&s);
        exec::step(&mut s, Task::BioError(bio)).expect("the device fails the bio");
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, model::include::fs::errno::EIO);
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
        let g = model::fs::ext4::super_::Geometry {
            disk_blocks: 3,
            ..G
        };
        let inode = inode(2 * B, &[(1, 1, 0, Written)]);
        let scenario = model::scenario::Scenario {
            geometry: g,
            mount: DEFAULT,
            inodes: vec![inode],
            actors: vec![program],
            patches: model::patches::Patches::NONE,
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
    use model::fs::ext4::extents::ExtentState;
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

/// The initial states a scenario may start from are states 4.4 can reach: the load refuses
/// the others, naming the field.
mod reachable_initial_state {
    use super::*;
    use model::fs::ext4::super_::Geometry;
    use model::scenario::Scenario;

    fn build(geometry: Geometry, inode: model::scenario::InodeSpec) -> Result<(), String> {
        let scenario = Scenario {
            geometry,
            mount: DEFAULT,
            inodes: vec![inode],
            actors: vec![vec![Op::Stat { inode: 0 }]],
            patches: model::patches::Patches::NONE,
        };
        scenario.build().map(drop).map_err(|e| e.to_string())
    }

    /// On 32 and 64 KiB blocks `ext4_max_bitmap_size` is negative in 4.4's `loff_t`
    /// arithmetic: every write to a block-mapped file fails `-EFBIG`, so none has data.
    #[test]
    fn a_block_mapped_file_with_data_past_a_negative_s_bitmap_maxbytes_is_refused() {
        let g = Geometry {
            blkbits: 16,
            sector_bits: 12,
            page_bits: 16,
            huge_file: true,
            disk_blocks: 4,
        };
        assert!(g.s_bitmap_maxbytes() < 0);
        let error = build(g, bitmap_inode(65536, &[(0, 1, 0, Written)])).unwrap_err();
        assert!(
            error.contains("inodes[0].i_size") && error.contains("s_bitmap_maxbytes"),
            "{error}"
        );
        assert_eq!(build(g, bitmap_inode(0, &[])), Ok(()));
        let g = Geometry { blkbits: 12, ..G };
        assert_eq!(build(g, bitmap_inode(65536, &[(0, 1, 0, Written)])), Ok(()));
    }

    /// No written block lies past the one holding EOF (`ext4_truncate` and a failed write's
    /// truncate free them, writeback maps nothing there); an unwritten one may
    /// (`fallocate(FALLOC_FL_KEEP_SIZE)`). No page past EOF is cached.
    #[test]
    fn written_blocks_and_cached_pages_past_eof_are_refused() {
        let error = build(G, inode(B + S, &[(0, 3, 0, Written)])).unwrap_err();
        assert!(
            error.contains("inodes[0].extents[0].lblk")
                && error.contains("past the block holding EOF"),
            "{error}"
        );
        assert_eq!(
            build(G, inode(B + S, &[(0, 2, 0, Written), (2, 1, 2, Unwritten)])),
            Ok(())
        );
        let mut cached = inode(B, &[(0, 1, 0, Written)]);
        cached.cached_pages = vec![1];
        let error = build(G, cached).unwrap_err();
        assert!(error.contains("inodes[0].cached_pages[0]"), "{error}");
    }

    /// The tail of the block holding EOF reads zeros on disk, as `ext4_block_truncate_page`
    /// and `dio_zero_block` leave it.
    #[test]
    fn the_tail_of_the_eof_block_is_zeros() {
        let s = state(DEFAULT, vec![inode(B + S, &[(0, 2, 0, Written)])], vec![]);
        let spb = (B / S) as usize;
        assert_eq!(s.disk.sectors[spb], init(1));
        assert!(
            s.disk.sectors[spb + 1..2 * spb]
                .iter()
                .all(|&d| d == Data::Zero)
        );
    }
}

/// The io_end's last references and the conversion workqueue (fs/ext4/page-io.c).
mod io_end_puts {
    use super::*;
    use model::state::Work;

    /// Two writeback runs under dioread_nolock, each with its io_end flagged unwritten:
    /// `rsv_conversion_wq` (max_active 1, per-inode FIFO lists) converts them one at a time
    /// in the order queued.
    #[test]
    fn writeback_conversions_run_one_at_a_time_in_order() {
        let program = vec![
            Op::Write(buffered(0, B)),
            Op::Write(buffered(2 * B, B)),
            Op::Writeback { inode: 0 },
        ];
        let extents = [(0, 1, 0, Unwritten), (2, 1, 4, Unwritten)];
        let mut s = state(NOLOCK, vec![inode(3 * B, &extents)], vec![program]);
        finish_op(&mut s, 0);
        finish_op(&mut s, 0);
        finish_op(&mut s, 0);
        let bios: Vec<u16> = s.bios.keys().copied().collect();
        for bio in bios.into_iter().rev() {
            exec::step(&mut s, Task::Bio(bio)).expect("bio completes");
        }
        let works: Vec<u16> = s.work.keys().copied().collect();
        assert_eq!(works.len(), 2, "two conversions queued");
        assert_eq!(
            exec::task_wait(&s, Task::Work(works[1])),
            Ok(Some(Wait::WorkQueue { before: works[0] }))
        );
        exec::step(&mut s, Task::Work(works[0])).expect("the first runs");
        assert_eq!(exec::task_wait(&s, Task::Work(works[1])), Ok(None));
    }

    /// The last put of a flagged io_end whose range is already written converts nothing:
    /// `ext4_map_blocks(EXT4_GET_BLOCKS_IO_CONVERT_EXT)` finds the range written in its
    /// lookup and never takes `down_write(i_data_sem)`, so it does not wait for a reader.
    #[test]
    fn a_put_over_a_written_range_does_not_wait_for_i_data_sem() {
        let mut write = aio(0, B);
        write.file.o_dsync = true; // deferred: dio_complete runs on the worker
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Unwritten)]), write);
        finish_op(&mut s, 0);
        let bio = *s.bios.keys().next().expect("queued bio");
        exec::step(&mut s, Task::Bio(bio)).expect("the bio lands");
        let (&work, _) = s
            .work
            .iter()
            .find(|(_, w)| matches!(w, Work::DioComplete { .. }))
            .expect("dio_complete deferred");
        s.inodes[0].i_data_sem.readers = 1; // a reader holds it
        assert_eq!(
            exec::task_wait(&s, Task::Work(work)),
            Ok(Some(Wait::DataSem { inode: 0 })),
            "an unwritten range needs down_write"
        );
        s.inodes[0].map.set_state(0, 1, Written, false); // converted meanwhile
        assert_eq!(exec::task_wait(&s, Task::Work(work)), Ok(None));
    }

    /// `ext4_put_io_end_defer` releases an io_end flagged unwritten with size 0 at once
    /// (`|| !io_end->size`), and `ext4_release_io_end`'s `BUG_ON(io_end->flag &
    /// EXT4_IO_END_UNWRITTEN)` fires: the model's assertion.
    #[test]
    #[should_panic(expected = "released while flagged unwritten")]
    fn a_flagged_io_end_of_size_0_meets_the_release_bug_on() {
        let mut s = state(DEFAULT, vec![inode(B, &[(0, 1, 0, Unwritten)])], vec![]);
        let io_end = model::fs::ext4::page_io::new_io_end(&mut s, 0);
        model::fs::ext4::page_io::flag_io_unwritten(&mut s, io_end);
        model::fs::ext4::page_io::put_io_end_defer(&mut s, io_end);
    }
}

mod jbd2_journal {
    use super::*;
    use model::state::{BioOwner, Work};

    /// Steps the commit work item once (it must be runnable).
    fn commit_stage(s: &mut model::state::State) -> String {
        let task = commit_work(s);
        exec::step(s, task).expect("the commit stage runs").step
    }

    /// `_ext4_get_block` starts a handle for every create call (fs/ext4/inode.c:724-736),
    /// even one that finds its block written and allocates nothing: a direct write (not an
    /// overwrite without dioread_nolock) into a written block waits while `T_LOCKED`.
    #[test]
    fn a_dio_get_block_into_a_written_block_still_starts_a_handle() {
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Written)]), dio(0, B));
        step_to(&mut s, 0, WritePc::DioGetBlock);
        assert_eq!(frame(&s, 0).path, Some(model::ops::DioPath::Ext));
        s.journal.locked = true;
        assert_eq!(
            exec::task_wait(&s, Task::Actor(0)),
            Ok(Some(Wait::JournalLocked))
        );
        s.journal.locked = false;
        finish(&mut s);
        assert_eq!(write_result(&s, 0, 0).0, B as i64);
    }

    /// `file_update_time`'s handle comes only after the checks pass: a write refused by
    /// them (here `RLIMIT_FSIZE`) returns without waiting for a `T_LOCKED` transaction.
    #[test]
    fn a_write_its_checks_refuse_starts_no_handle() {
        let mut w = buffered(B, B);
        w.rlimit_fsize = B;
        let mut s = one_writer(DEFAULT, inode(B, &[(0, 1, 0, Written)]), w);
        step_to(&mut s, 0, WritePc::WriteChecks);
        s.journal.locked = true;
        assert_eq!(exec::task_wait(&s, Task::Actor(0)), Ok(None));
        finish_op(&mut s, 0);
        assert_eq!(write_result(&s, 0, 0).0, model::include::fs::errno::EFBIG);
        s.journal.locked = false;
    }

    /// `start_this_handle` waits while the running transaction is `T_LOCKED`: a buffered
    /// write's `ext4_da_write_begin` sleeps from the commit's lock to its switch.
    #[test]
    fn a_new_handle_waits_while_the_transaction_is_locked() {
        let actors = vec![vec![Op::Write(buffered(0, B))], vec![Op::Commit]];
        let mut s = state(DEFAULT, vec![inode(B, &[(0, 1, 0, Written)])], actors);
        step_to(&mut s, 0, WritePc::PerformWrite);
        exec::step(&mut s, Task::Actor(1)).expect("jbd2_log_start_commit");
        assert_eq!(commit_stage(&mut s), "jbd2_commit:Lock");
        assert_eq!(
            exec::task_wait(&s, Task::Actor(0)),
            Ok(Some(Wait::JournalLocked))
        );
        assert_eq!(commit_stage(&mut s), "jbd2_commit:Switch");
        assert_eq!(exec::task_wait(&s, Task::Actor(0)), Ok(None));
        assert_eq!(s.journal.running, 2);
        finish(&mut s);
        assert_eq!(s.journal.committed, 1);
    }

    /// The commit's switch waits for `t_updates` to reach 0: a direct write's `get_block`
    /// holds its handle across `ext4_mb_new_blocks`.
    #[test]
    fn the_switch_waits_for_a_handle_held_across_ext4_ext_map_blocks() {
        let actors = vec![vec![Op::Write(dio(B, B))], vec![Op::Commit]];
        let mut s = state(DEFAULT, vec![inode(2 * B, &[(0, 1, 0, Written)])], actors);
        step_to(&mut s, 0, WritePc::DioGetBlock);
        exec::step(&mut s, Task::Actor(0)).expect("enters ext4_ext_map_blocks");
        assert_eq!(s.journal.t_updates, 1);
        exec::step(&mut s, Task::Actor(1)).expect("jbd2_log_start_commit");
        assert_eq!(commit_stage(&mut s), "jbd2_commit:Lock");
        let commit = commit_work(&s);
        assert_eq!(exec::task_wait(&s, commit), Ok(Some(Wait::Handles)));
        exec::step(&mut s, Task::Actor(0)).expect("allocates, stops its handle");
        assert_eq!(s.journal.t_updates, 0);
        assert_eq!(commit_stage(&mut s), "jbd2_commit:Switch");
        finish(&mut s);
    }

    /// data=ordered: a truncate's zeroed partial block puts the inode on the ordered list;
    /// the commit writes the dirty mapped page (`journal_submit_data_buffers`) and its commit
    /// record waits for that writeback.
    #[test]
    fn the_commit_writes_ordered_data_and_waits_for_it() {
        let actors = vec![
            vec![Op::Truncate {
                inode: 0,
                size: B / 2,
            }],
            vec![Op::Commit],
        ];
        let mut s = state(DEFAULT, vec![inode(B, &[(0, 1, 0, Written)])], actors);
        finish_op(&mut s, 0);
        assert!(s.inodes[0].ordered && s.inodes[0].pages[&0].dirty != 0);
        exec::step(&mut s, Task::Actor(1)).expect("jbd2_log_start_commit");
        assert_eq!(commit_stage(&mut s), "jbd2_commit:Lock");
        assert_eq!(commit_stage(&mut s), "jbd2_commit:Switch");
        assert!(
            !s.journal.locked,
            "T_FLUSH: new handles run before the data is written"
        );
        assert!(s.bios.is_empty());
        assert_eq!(commit_stage(&mut s), "jbd2_commit:Submit");
        let bios: Vec<_> = s.bios.iter().map(|(&id, b)| (id, b.owner)).collect();
        assert!(
            matches!(bios[..], [(_, BioOwner::Writeback(_))]),
            "{bios:?}"
        );
        assert_eq!(s.inodes[0].pages[&0].dirty, 0);
        let commit = commit_work(&s);
        assert_eq!(
            exec::task_wait(&s, commit),
            Ok(Some(Wait::Writeback { inode: 0 }))
        );
        exec::step(&mut s, Task::Bio(bios[0].0)).expect("the ordered data lands");
        assert_eq!(commit_stage(&mut s), "jbd2_commit:Flush");
        assert_eq!(s.journal.committed, 1);
        assert!(!s.work.values().any(|w| matches!(w, Work::Commit { .. })));
    }

    /// A crash between the switch and the commit record loses the transaction.
    #[test]
    fn a_crash_before_the_commit_record_loses_the_transaction() {
        let actors = vec![
            vec![Op::Write(dio(B, B))],
            vec![Op::Commit],
            vec![Op::Crash],
        ];
        let mut s = state(DEFAULT, vec![inode(B, &[(0, 1, 0, Written)])], actors);
        finish_op(&mut s, 0);
        assert_eq!(s.inodes[0].i_disksize, 2 * B);
        exec::step(&mut s, Task::Actor(1)).expect("jbd2_log_start_commit");
        commit_stage(&mut s);
        commit_stage(&mut s);
        assert!(s.journal.committing.is_some());
        exec::step(&mut s, Task::Actor(2)).expect("crash");
        assert_eq!(s.inodes[0].i_size, B, "the extending write's size is lost");
        assert_eq!(s.inodes[0].map.extents.len(), 1);
        assert_eq!((s.journal.t_updates, s.journal.locked), (0, false));
        assert!(s.journal.committing.is_none());
    }
}
