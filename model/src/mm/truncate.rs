//! mm/truncate.c: dropping pages from the page cache (`truncate_pagecache`,
//! `truncate_inode_pages_range`, `invalidate_inode_pages2_range`, `invalidate_mapping_pages`)
//! and, for the partial pages, `block_invalidatepage` (fs/buffer.c).

use crate::fs::ext4::super_::Geometry;
use crate::notes::Notes;
use crate::state::{Data, InodeIx, Page, State};

/// `truncate_pagecache(inode, size)`: drop the pages wholly past `size`, zero the tail of
/// the page holding it (the caller waited for their writeback).
pub(crate) fn truncate_pagecache(state: &mut State, inode: InodeIx, size: u64, notes: &mut Notes) {
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
        let offset = size & (g.pagesize() - 1);
        let first_sector = offset.div_ceil(g.sectorsize());
        page.data[first_sector as usize..].fill(Data::Zero);
        discard_buffers(page, g, offset, g.pagesize());
    }
    note!(
        notes,
        "truncate_pagecache dropped {} pages",
        before - ino.pages.len()
    );
}

/// `truncate_inode_pages_range(start, last)`: drops the pages wholly inside, zeroes the part
/// inside of the others.
pub(crate) fn truncate_pagecache_range(state: &mut State, inode: InodeIx, start: u64, last: u64) {
    let g = state.geometry;
    let ino = &mut state.inodes[inode];
    let indexes: Vec<u64> = ino
        .pages
        .range(start >> g.page_bits..=last >> g.page_bits)
        .map(|(&i, _)| i)
        .collect();
    for index in indexes {
        let (page_start, page_last) = (index << g.page_bits, ((index + 1) << g.page_bits) - 1);
        if start <= page_start && page_last <= last {
            ino.pages.remove(&index);
            continue;
        }
        let from = (start.max(page_start) - page_start) >> g.sector_bits;
        let to = (last.min(page_last) - page_start + 1) >> g.sector_bits;
        let page = ino.pages.get_mut(&index).expect("cached page");
        page.data[from as usize..to as usize].fill(Data::Zero);
        discard_buffers(page, g, from << g.sector_bits, to << g.sector_bits);
    }
}

/// `block_invalidatepage(page, offset, length)` (via `ext4_da_invalidatepage`) on the part
/// `[from, to)` of a page that stays cached: each buffer wholly inside is discarded
/// (`discard_buffer` clears its dirty bit), so writeback never writes those blocks.
fn discard_buffers(page: &mut Page, g: Geometry, from: u64, to: u64) {
    let first = from.div_ceil(g.blocksize());
    let end = to >> g.blkbits;
    for block in first..end {
        page.dirty &= !(1 << block);
        // discard_buffer: BUFFER_FLAGS_DISCARD (fs/buffer.c:1495-1512).
        page.bh_mapped &= !(1 << block);
        page.bh_delay &= !(1 << block);
        page.bh_unwritten &= !(1 << block);
    }
    crate::mm::filemap::assert_buffers(page);
}

/// `invalidate_inode_pages2_range` (the caller waited for writeback): drops clean pages,
/// leaves dirty ones; returns false (`-EBUSY`) if any was left.
pub fn invalidate_pages2(
    state: &mut State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
) -> bool {
    let ino = &mut state.inodes[inode];
    let indexes: Vec<u64> = ino.pages.range(pages).map(|(&i, _)| i).collect();
    let mut clean = true;
    for index in indexes {
        if ino.pages[&index].dirty != 0 {
            clean = false;
        } else {
            ino.pages.remove(&index);
        }
    }
    clean
}

/// `invalidate_mapping_pages`: best effort, skips dirty and under-writeback pages.
pub fn invalidate_mapping_pages(
    state: &mut State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
) {
    state.inodes[inode]
        .pages
        .retain(|i, p| !pages.contains(i) || p.dirty != 0 || p.writeback > 0);
}
