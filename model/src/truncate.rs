//! Truncate in `ext4_setattr` order (fs/ext4/inode.c, spec §4.4) and a crash followed by
//! journal replay and `ext4_orphan_cleanup`.

use crate::extent::ExtentState;
use crate::ops::{Frame, OpResult, OtherFrame, OtherPc};
use crate::pagecache::page_from_disk;
use crate::state::{ActorId, Data, Disk, InodeIx, Sleep, State};

/// One step of `ftruncate(size)`.
pub fn run(
    state: &mut State,
    a: ActorId,
    inode: InodeIx,
    size: u64,
    f: &mut OtherFrame,
    notes: &mut Vec<String>,
) {
    let ino = &mut state.inodes[inode];
    match f.pc {
        OtherPc::IMutexLock => {
            assert!(ino.i_mutex.is_none());
            ino.i_mutex = Some(a);
            notes.push(format!("i_mutex({}) taken", ino.ino));
        }
        OtherPc::SetSize => {
            f.shrink = size < ino.i_size;
            if f.shrink {
                ino.orphan = true;
            }
            ino.i_disksize = size;
            ino.i_size = size;
            ino.sync_dirty = true;
            ino.datasync_dirty = true;
            notes.push(format!(
                "orphan={} i_disksize=i_size={size} under i_data_sem",
                ino.orphan
            ));
        }
        OtherPc::DioWait => {
            if ino.i_dio_count != 0 {
                notes.push(format!(
                    "inode_dio_wait: i_dio_count={} sleep",
                    ino.i_dio_count
                ));
                state.actors[a as usize].sleeping = Some(Sleep::DioWait(inode));
            }
        }
        OtherPc::TruncatePagecache => truncate_pagecache(state, inode, size, notes),
        OtherPc::FreeBlocks => ext4_truncate(state, inode, size, notes),
        OtherPc::IMutexUnlock => {
            assert_eq!(ino.i_mutex, Some(a));
            ino.i_mutex = None;
            notes.push(format!("i_mutex({}) released", ino.ino));
        }
        pc => unreachable!("{pc:?} is not a truncate step"),
    }
}

/// `truncate_pagecache(inode, size)`: drop the pages wholly past `size`, zero the tail of
/// the page holding it (the caller waited for their writeback).
fn truncate_pagecache(state: &mut State, inode: InodeIx, size: u64, notes: &mut Vec<String>) {
    let g = state.geometry;
    let ino = &mut state.inodes[inode];
    let first_whole = size.div_ceil(g.pagesize());
    let before = ino.pages.len();
    ino.pages.retain(|&i, _| i < first_whole);
    if let Some(page) = ino
        .pages
        .get_mut(&(size >> g.page_bits))
        .filter(|_| !size.is_multiple_of(g.pagesize()))
    {
        let first_sector = (size & (g.pagesize() - 1)).div_ceil(g.sectorsize());
        page.data[first_sector as usize..].fill(Data::Zero);
    }
    notes.push(format!(
        "truncate_pagecache dropped {} pages",
        before - ino.pages.len()
    ));
}

/// `ext4_truncate`: `ext4_block_truncate_page` zeroes the partial block's tail in the page
/// cache (reading it if the block is written), the blocks past `size` are freed, the orphan
/// entry goes.
fn ext4_truncate(state: &mut State, inode: InodeIx, size: u64, notes: &mut Vec<String>) {
    let g = state.geometry;
    if !size.is_multiple_of(g.blocksize())
        && state.block_state(inode, size) == Some(ExtentState::Written)
    {
        let index = size >> g.page_bits;
        if !state.inodes[inode].pages.contains_key(&index) {
            let page = page_from_disk(state, inode, index);
            state.inodes[inode].pages.insert(index, page);
        }
        let page = state.inodes[inode].pages.get_mut(&index).expect("page");
        let block_end = (size | (g.blocksize() - 1)) + 1;
        let from = (size & (g.pagesize() - 1)).div_ceil(g.sectorsize()) as usize;
        let to = (((block_end - 1) & (g.pagesize() - 1)) >> g.sector_bits) as usize;
        page.data[from..=to].fill(Data::Zero);
        page.dirty |= 1 << ((size >> g.blkbits) - (index << (g.page_bits - g.blkbits)));
    }
    let first = size.div_ceil(g.blocksize());
    let freed = state.inodes[inode].map.remove(first, u64::MAX);
    for &(pblk, len) in &freed {
        state.disk.release(pblk, len);
    }
    let ino = &mut state.inodes[inode];
    ino.orphan = false;
    notes.push(format!("ext4_truncate freed {freed:?}, orphan_del"));
}

/// Power failure: what the committed journal and the disk hold survives (spec §4.4); journal
/// replay, then `ext4_orphan_cleanup` truncates orphans to their on-disk size. Every other
/// actor dies; the crashing actor goes on with its program on the recovered state.
pub fn crash(state: &mut State, a: ActorId, notes: &mut Vec<String>) {
    let g = state.geometry;
    for ino in &mut state.inodes {
        let committed = ino.committed.clone();
        ino.map = committed.map;
        ino.i_size = committed.i_disksize;
        ino.i_disksize = committed.i_disksize;
        if committed.orphan {
            let first = committed.i_disksize.div_ceil(g.blocksize());
            ino.map.remove(first, u64::MAX);
        }
        ino.orphan = false;
        ino.pages.clear();
        (ino.i_mutex, ino.i_private, ino.state_dio_unwritten) = (None, None, false);
        (ino.i_dio_count, ino.i_unwritten, ino.i_ioend_count) = (0, 0, 0);
        ino.i_data_sem = Default::default();
        (ino.sync_dirty, ino.datasync_dirty, ino.ordered) = (false, false, false);
    }
    let mut disk = Disk {
        sectors: state.disk.sectors.clone(),
        free: vec![true; g.disk_blocks as usize],
    };
    for e in state.inodes.iter().flat_map(|i| i.map.extents.iter()) {
        disk.free[e.pblk as usize..(e.pblk as u64 + e.len) as usize].fill(false);
    }
    state.disk = disk;
    crate::io::commit(state);
    state.bios.clear();
    state.dios.clear();
    state.io_ends.clear();
    state.work.clear();
    state.aio_mutex.clear();
    state.crashed = true;
    kill_others(state, a);
    notes.push("crash: journal replayed, orphans truncated".into());
}

fn kill_others(state: &mut State, a: ActorId) {
    for (id, actor) in state.actors.iter_mut().enumerate() {
        actor.sleeping = None;
        if id == a as usize || actor.op >= actor.program.len() {
            continue;
        }
        if !matches!(actor.frame, Frame::Idle) {
            actor.results.push(OpResult::Crashed);
            actor.op += 1;
        }
        while actor.op < actor.program.len() {
            actor.results.push(OpResult::Crashed);
            actor.op += 1;
        }
        actor.frame = Frame::Idle;
    }
}
