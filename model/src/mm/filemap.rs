//! The page cache and buffered I/O: `ext4_da_write_begin/end` (delalloc), `ext4_readpage`,
//! `ext4_writepages` (writeback, with unwritten extents under dioread_nolock), page
//! invalidation. Helpers here compute and mutate; they do not pick steps (mm/filemap.c).

use crate::convert::ext4_ext_convert_to_initialized;
use crate::fs::ext4::extents::{Extent, ExtentState};
use crate::fs::ext4::page_io::{flag_io_unwritten, new_io_end, put_io_end_defer};
use crate::limits::{ERRSEQ_CTR_INC, ERRSEQ_SEEN, MAX_ERRNO};
use crate::notes::Notes;
use crate::patches::Patch;
use crate::state::Wait;
use crate::state::{Bio, BioOwner, Data, InodeIx, Page, State};

/// Page indexes overlapping the byte range `[start, end]` (inclusive end, as the kernel's).
pub fn page_range(state: &State, start: u64, end: u64) -> std::ops::RangeInclusive<u64> {
    (start >> state.geometry.page_bits)..=(end >> state.geometry.page_bits)
}

/// Some page in `pages` is under writeback (`wait_on_page_writeback` would sleep).
pub fn writeback_pending(
    state: &State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
) -> bool {
    state.inodes[inode]
        .pages
        .range(pages)
        .any(|(_, p)| p.writeback > 0)
}

/// What a sector of the file reads as from disk: its data if the block is Written, zeros
/// for a hole, a delayed or an Unwritten block.
pub fn read_disk_sector(state: &State, inode: InodeIx, sector_pos: u64) -> Data {
    match state.inodes[inode]
        .map
        .pblk(sector_pos >> state.geometry.blkbits)
    {
        Some((pblk, ExtentState::Written)) => {
            state.disk.sectors[state.psector(pblk, sector_pos) as usize]
        }
        _ => Data::Zero,
    }
}

/// A page read from disk (`ext4_readpage`, or `__block_write_begin` filling the parts a
/// write does not cover). Simplification: the whole page is filled at once.
/// Blocks at or past the block holding EOF read as zeros (`ext4_mpage_readpages`).
pub fn page_from_disk(state: &State, inode: InodeIx, index: u64) -> Page {
    let g = &state.geometry;
    let eof = state.inodes[inode].i_size.div_ceil(g.blocksize()) << g.blkbits;
    let sector = |s: u64| (index << g.page_bits) + (s << g.sector_bits);
    let data = (0..g.sectors_per_page())
        .map(|s| {
            if sector(s) >= eof {
                Data::Zero
            } else {
                read_disk_sector(state, inode, sector(s))
            }
        })
        .collect();
    Page {
        dirty: 0,
        writeback: 0,
        error: false,
        data,
        bh_mapped: 0,
        bh_delay: 0,
        bh_unwritten: 0,
    }
}

/// The buffer_head invariants of a page: `BH_Delay` and `BH_Unwritten` only on mapped
/// buffers and never both (`ext4_da_get_block_prep` sets one or neither), a dirty block's
/// buffer mapped (`__block_write_begin` maps it before the copy, fs/buffer.c).
pub fn assert_buffers(page: &Page) {
    assert_eq!(
        page.bh_delay & !page.bh_mapped,
        0,
        "BH_Delay without BH_Mapped"
    );
    assert_eq!(
        page.bh_unwritten & !page.bh_mapped,
        0,
        "BH_Unwritten without BH_Mapped"
    );
    assert_eq!(
        page.bh_delay & page.bh_unwritten,
        0,
        "BH_Delay with BH_Unwritten"
    );
    assert_eq!(
        page.dirty & !page.bh_mapped,
        0,
        "a dirty block with an unmapped buffer"
    );
}

/// The bit of block `lblk` in the per-block masks of page `index`.
fn block_bit(g: &crate::fs::ext4::super_::Geometry, index: u64, lblk: u64) -> u64 {
    let shift = g.page_bits - g.blkbits;
    debug_assert_eq!(lblk >> shift, index, "block {lblk} outside page {index}");
    1 << (lblk - (index << shift))
}

/// `(BH_Delay, BH_Unwritten)` of block `lblk`'s buffer once `ext4_da_write_begin` has been
/// through it: an unmapped buffer gets `ext4_da_get_block_prep` (`__block_write_begin` calls
/// `get_block` only `if (!buffer_mapped(bh))`, fs/buffer.c), which maps it by the extent
/// found (`ext4_da_map_blocks`, fs/ext4/inode.c:1561-1686): a hole or a delayed block gets
/// `map_bh(invalid_block)` + `set_buffer_delay` (inode.c:1595-1597, 1660-1662), an unwritten
/// one `EXT4_MAP_UNWRITTEN` → `BH_Unwritten` + `BH_Mapped` (inode.c:1722-1733), a written
/// one `map_bh` alone. A mapped buffer keeps its flags.
fn da_buffer_flags(state: &State, inode: InodeIx, lblk: u64) -> (bool, bool) {
    let g = &state.geometry;
    let index = lblk >> (g.page_bits - g.blkbits);
    let bit = block_bit(g, index, lblk);
    if let Some(page) = state.inodes[inode].pages.get(&index)
        && page.bh_mapped & bit != 0
    {
        return (page.bh_delay & bit != 0, page.bh_unwritten & bit != 0);
    }
    match state.inodes[inode].map.pblk(lblk) {
        None => (true, false),
        Some((_, ExtentState::Unwritten)) => (false, true),
        Some((_, ExtentState::Written)) => (false, false),
    }
}

/// `ext4_da_should_update_i_disksize(page, end)` (fs/ext4/inode.c:2844-2861) for a write
/// ending at `new_end`, once `ext4_da_write_begin` has mapped its buffers: the buffer of the
/// block holding the last byte is mapped, neither delayed nor unwritten. A buffer that
/// writeback submitted has lost `BH_Unwritten` (inode.c:2162) while its extent stays
/// unwritten until `ext4_end_io`: 4.4 then raises `i_disksize`.
fn da_should_update_i_disksize(state: &State, inode: InodeIx, new_end: u64) -> bool {
    let (delay, unwritten) = da_buffer_flags(state, inode, (new_end - 1) >> state.geometry.blkbits);
    !delay && !unwritten
}

/// `ext4_da_write_begin` + copy + `ext4_da_write_end` for the part of a buffered write that
/// falls in one page; returns the bytes copied. Holes become delayed blocks
/// (`ext4_da_map_blocks`); `generic_write_end` raises `i_size`; `i_disksize` moves only when
/// `ext4_da_should_update_i_disksize` (the last block is allocated and not unwritten).
///
/// A hole needs a delalloc reservation (`ext4_da_reserve_space`): without a claimable block
/// the write fails `-ENOSPC` before touching anything (`ext4_should_retry_alloc`'s forced
/// commit frees nothing here).
pub fn da_write_page(
    state: &mut State,
    inode: InodeIx,
    pos: u64,
    count: u64,
    tag: u8,
) -> Result<u64, i64> {
    let g = state.geometry;
    let index = pos >> g.page_bits;
    let in_page = pos & (g.pagesize() - 1);
    let bytes = da_write_len(state, pos, count);
    assert!(bytes > 0);
    if da_reserve_fails(state, inode, pos, count) {
        return Err(crate::include::fs::errno::ENOSPC);
    }
    if !state.inodes[inode].pages.contains_key(&index) {
        let page = page_from_disk(state, inode, index);
        state.inodes[inode].pages.insert(index, page);
    }
    let mut dirty = 0u64;
    let (mut delay, mut unwritten) = (0u64, 0u64);
    for lblk in (pos >> g.blkbits)..=((pos + bytes - 1) >> g.blkbits) {
        let (d, u) = da_buffer_flags(state, inode, lblk);
        let bit = block_bit(&g, index, lblk);
        if d {
            delay |= bit;
        }
        if u {
            unwritten |= bit;
        }
        let map = &mut state.inodes[inode].map;
        if map.pblk(lblk).is_none() {
            map.delayed.insert(lblk);
        }
        dirty |= bit;
    }
    let first = in_page >> g.sector_bits;
    let last = (in_page + bytes - 1) >> g.sector_bits;
    let page = state.inodes[inode]
        .pages
        .get_mut(&index)
        .expect("page just inserted");
    page.data[first as usize..=last as usize].fill(Data::Write(tag));
    // The buffers `__block_write_begin` mapped (`da_buffer_flags`); mapped ones keep theirs.
    let unmapped = dirty & !page.bh_mapped;
    page.bh_mapped |= dirty;
    page.bh_delay |= delay & unmapped;
    page.bh_unwritten |= unwritten & unmapped;
    debug_assert_eq!(
        (page.bh_delay & dirty, page.bh_unwritten & dirty),
        (delay, unwritten),
        "a mapped buffer's flags are what da_buffer_flags read"
    );
    page.dirty |= dirty;
    assert_buffers(page);
    da_write_end_sizes(state, inode, pos + bytes);
    Ok(bytes)
}

/// The `len` that `generic_perform_write` passes to `ext4_da_write_begin` for a write of
/// `count` bytes at `pos`: the part inside `pos`'s page.
pub fn da_write_len(state: &State, pos: u64, count: u64) -> u64 {
    let pagesize = state.geometry.pagesize();
    count.min(pagesize - (pos & (pagesize - 1)))
}

/// `ext4_da_reserve_space` fails (`-ENOSPC`) for some hole of the page's part of the write:
/// more holes than claimable blocks.
pub fn da_reserve_fails(state: &State, inode: InodeIx, pos: u64, count: u64) -> bool {
    let g = state.geometry;
    let end = pos + da_write_len(state, pos, count) - 1;
    let map = &state.inodes[inode].map;
    let holes = ((pos >> g.blkbits)..=(end >> g.blkbits))
        .filter(|&b| map.pblk(b).is_none() && !map.delayed.contains(&b))
        .count() as u64;
    holes > state.claimable_blocks()
}

/// `ext4_da_write_end` will call `ext4_update_i_disksize` (which takes
/// `down_write(i_data_sem)`) for a write of `bytes` at `pos`
/// ([`da_should_update_i_disksize`] of the buffers `ext4_da_write_begin` will have mapped).
pub fn da_write_updates_disksize(state: &State, inode: InodeIx, pos: u64, bytes: u64) -> bool {
    let g = state.geometry;
    let in_page = (g.pagesize() - (pos & (g.pagesize() - 1))).min(bytes);
    let new_end = pos + in_page;
    new_end > state.inodes[inode].i_disksize && da_should_update_i_disksize(state, inode, new_end)
}

fn da_write_end_sizes(state: &mut State, inode: InodeIx, new_end: u64) {
    let update = da_should_update_i_disksize(state, inode, new_end);
    let ino = &mut state.inodes[inode];
    if new_end > ino.i_size {
        ino.i_size = new_end;
    }
    if new_end > ino.i_disksize && update {
        ino.i_disksize = new_end;
        ino.datasync_dirty = true;
        ino.sync_dirty = true;
    }
}

/// One page of a buffered read (`generic_file_buffered_read` → `ext4_readpage` on a miss):
/// the sectors of `[pos, pos + len)` within that page and `i_size`. Returns them.
pub fn read_page(state: &mut State, inode: InodeIx, pos: u64, len: u64) -> Vec<Data> {
    let g = state.geometry;
    let index = pos >> g.page_bits;
    if !state.inodes[inode].pages.contains_key(&index) {
        let page = page_from_disk(state, inode, index);
        state.inodes[inode].pages.insert(index, page);
    }
    let page = &state.inodes[inode].pages[&index];
    let first = (pos & (g.pagesize() - 1)) >> g.sector_bits;
    let last = ((pos & (g.pagesize() - 1)) + len - 1) >> g.sector_bits;
    page.data[first as usize..=last as usize].to_vec()
}

/// Dirty pages in `pages` need blocks allocated or converted, so writing them back takes
/// `down_write(i_data_sem)`.
pub fn writeback_needs_map(
    state: &State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
) -> bool {
    let ino = &state.inodes[inode];
    ino.pages.range(pages).any(|(&index, page)| {
        dirty_blocks(&state.geometry, index, page.dirty).any(|b| {
            ino.map
                .pblk(b)
                .is_none_or(|(_, s)| s == ExtentState::Unwritten)
        })
    })
}

/// Logical blocks of page `index` whose bit is set in `dirty`.
fn dirty_blocks(
    g: &crate::fs::ext4::super_::Geometry,
    index: u64,
    dirty: u64,
) -> impl Iterator<Item = u64> {
    let shift = g.page_bits - g.blkbits;
    (0..1u64 << shift)
        .filter(move |i| dirty & (1 << i) != 0)
        .map(move |i| (index << shift) + i)
}

/// How a writeback pass treats a dirty page already under writeback
/// (`mpage_prepare_extent_to_map`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// `WB_SYNC_ALL` (`filemap_write_and_wait_range`, fsync): waits for it, then writes.
    All,
    /// `WB_SYNC_NONE` (the flusher): skips it, leaving it dirty.
    None,
}

/// What a `WB_SYNC_ALL` pass over `pages` waits for first: a dirty page still under
/// writeback, then `i_data_sem` if blocks must be allocated or converted.
pub fn flush_wait(
    state: &State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
) -> Option<Wait> {
    let ino = &state.inodes[inode];
    if ino
        .pages
        .range(pages.clone())
        .any(|(_, p)| p.dirty != 0 && p.writeback > 0)
    {
        return Some(Wait::Writeback { inode });
    }
    let busy = !crate::fs::ext4::page_io::data_sem_free(state, inode);
    writepages_handle_wait(state, inode)
        .or((busy && writeback_needs_map(state, inode, pages)).then_some(Wait::DataSem { inode }))
}

/// `ext4_writepages` with a page tagged dirty starts a handle
/// (`ext4_journal_start_with_reserve`, fs/ext4/inode.c:2601) before
/// `mpage_prepare_extent_to_map`.
pub fn writepages_handle_wait(state: &State, inode: InodeIx) -> Option<Wait> {
    let dirty = state.inodes[inode].pages.values().any(|p| p.dirty != 0);
    crate::jbd2::journal::handle_wait_if(state, dirty)
}

/// The dirty blocks a writeback pass over `pages` would write: `(page, lblk)` below EOF,
/// skipping (for the flusher) pages still under writeback.
fn writeback_blocks(
    state: &State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
    mode: SyncMode,
) -> Vec<(u64, u64)> {
    let g = state.geometry;
    let eof_block = state.inodes[inode].i_size.div_ceil(g.blocksize());
    let mut blocks = Vec::new();
    for (&index, page) in state.inodes[inode].pages.range(pages) {
        if page.dirty == 0 || (page.writeback > 0 && mode == SyncMode::None) {
            continue;
        }
        blocks.extend(
            dirty_blocks(&g, index, page.dirty)
                .filter(|&b| b < eof_block)
                .map(|b| (index, b)),
        );
    }
    blocks
}

/// `ext4_writepages` over the dirty blocks of `pages` below EOF: one io_end per run of
/// logically contiguous blocks (`mpd->map`, its `offset`/`size` the run), each block
/// allocated if delayed (unwritten through the io_end under dioread_nolock, else written),
/// one bio a block holding a writeback reference on its page, then
/// `ext4_wb_update_i_disksize` to the end of the run's last page (capped at `i_size`) and the
/// submitter's `ext4_put_io_end_defer`. Returns the bios.
///
/// Under dioread_nolock a pass that must allocate or convert first only enters
/// `ext4_ext_map_blocks` ([`crate::state::MapEntry`]): `down_write(i_data_sem)`, `io` read
/// from `i_private`, and returns no bio; `entry` keeps `io` for the task's next step, whose
/// pass flags that `io` (a freed one is a use after free) and releases `i_data_sem`.
pub fn start_writeback(
    state: &mut State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
    mode: SyncMode,
    entry: &mut crate::state::MapEntry,
) -> Vec<u16> {
    let g = state.geometry;
    let blocks = writeback_blocks(state, inode, pages.clone(), mode);
    let maps = |&(_, b): &(u64, u64)| {
        state.inodes[inode]
            .map
            .pblk(b)
            .is_none_or(|(_, s)| s == ExtentState::Unwritten)
    };
    if entry.is_none() && state.should_dioread_nolock(inode) && blocks.iter().any(maps) {
        let ino = &mut state.inodes[inode];
        assert!(!ino.i_data_sem.writer && ino.i_data_sem.readers == 0);
        ino.i_data_sem.writer = true;
        *entry = Some(ino.i_private);
        crate::jbd2::journal::handle_start(state);
        return Vec::new();
    }
    let mut io = entry.take().inspect(|_| {
        state.inodes[inode].i_data_sem.writer = false;
        crate::jbd2::journal::handle_stop(state);
    });
    for (_, page) in state.inodes[inode].pages.range_mut(pages) {
        if page.dirty == 0 || (page.writeback > 0 && mode == SyncMode::None) {
            continue;
        }
        assert_eq!(
            page.writeback, 0,
            "WB_SYNC_ALL waited for the page's writeback"
        );
        page.dirty = 0;
    }
    for &(index, lblk) in &blocks {
        let bit = block_bit(&g, index, lblk);
        let page = state.inodes[inode]
            .pages
            .get_mut(&index)
            .expect("dirty page");
        page.writeback += 1;
        page.error = false; // ext4_bio_write_page: ClearPageError
        submit_buffer(page, bit);
    }
    let mut bios = Vec::new();
    for run in blocks.chunk_by(|x, y| x.1 + 1 == y.1) {
        let io_end = new_io_end(state, inode);
        let (first, last) = (run[0].1, run[run.len() - 1].1);
        let end = state.io_ends.get_mut(&io_end).expect("new io_end");
        (end.offset, end.size) = (first << g.blkbits, (last + 1 - first) << g.blkbits);
        for (k, &(index, lblk)) in run.iter().enumerate() {
            let left = (run.len() - k) as u64;
            let pblk = writeback_map_block(state, inode, (lblk, left), (io_end, &mut io));
            bios.push(submit_writeback_bio(
                state,
                inode,
                (lblk, pblk),
                io_end,
                index,
            ));
        }
        let ino = &mut state.inodes[inode];
        let last_page_end = (run[run.len() - 1].0 + 1) << g.page_bits;
        let new_disksize = last_page_end.min(ino.i_size);
        if new_disksize > ino.i_disksize {
            ino.i_disksize = new_disksize;
            ino.datasync_dirty = true;
            ino.sync_dirty = true;
        }
        put_io_end_defer(state, io_end);
    }
    bios
}

/// `mpage_map_and_submit_buffers` (fs/ext4/inode.c:2158-2162) on a block it mapped, a dirty
/// delayed or unwritten buffer (`mpage_add_bh_to_extent`, inode.c:2011-2013):
/// `clear_buffer_delay`, `clear_buffer_unwritten`. A no-op on a buffer mapped written.
fn submit_buffer(page: &mut Page, bit: u64) {
    assert_ne!(page.bh_mapped & bit, 0, "writeback of an unmapped buffer");
    page.bh_delay &= !bit;
    page.bh_unwritten &= !bit;
    assert_buffers(page);
}

/// `journal_submit_inode_data_buffers` (fs/jbd2/commit.c:193): `generic_writepages` with
/// `WB_SYNC_ALL` up to `i_size`, each dirty page through `ext4_writepage`
/// (fs/ext4/inode.c:1876), which allocates nothing: its dirty blocks mapped written below
/// EOF go out under one io_end (`ext4_bio_write_page`), delayed and unwritten ones stay
/// dirty (`redirty_page_for_writepage`, fs/ext4/inode.c:1912-1914). No `i_disksize` update,
/// no io_end flagged. Returns the bios.
pub fn write_mapped_pages(state: &mut State, inode: InodeIx) -> Vec<u16> {
    let g = state.geometry;
    let ino = &state.inodes[inode];
    let last = ino.i_size >> g.page_bits;
    let indexes: Vec<u64> = ino
        .pages
        .range(0..=last)
        .filter(|(_, p)| p.dirty != 0)
        .map(|(&i, _)| i)
        .collect();
    let mut bios = Vec::new();
    for index in indexes {
        bios.extend(ext4_writepage(state, inode, index));
    }
    bios
}

/// The dirty blocks of page `index` that `ext4_bio_write_page` writes: mapped written,
/// below EOF.
///
/// `ext4_writepage` first looks at the buffer_heads, not the extents: a dirty delayed or
/// unwritten buffer below EOF (`ext4_bh_delay_or_unwritten`, fs/ext4/inode.c:1550-1553,
/// 1912-1913) redirties the page, and with one block a page nothing is written
/// (inode.c:1914-1926); otherwise `ext4_bio_write_page` skips those buffers
/// (fs/ext4/page-io.c:468-475). A buffer keeps `BH_Unwritten` after its extent became
/// written by another path (a neighbour's conversion zeroing it out, `ext4_ext_convert_to_initialized`).
fn mapped_dirty_blocks(state: &State, inode: InodeIx, index: u64) -> Vec<u64> {
    let g = state.geometry;
    let ino = &state.inodes[inode];
    let written = |b: &u64| {
        ino.map
            .pblk(*b)
            .is_some_and(|(_, s)| s == ExtentState::Written)
    };
    let blocks: Vec<u64> = writeback_blocks(state, inode, index..=index, SyncMode::All)
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    let page = &ino.pages[&index];
    let delay_or_unwritten =
        |b: &u64| (page.bh_delay | page.bh_unwritten) & block_bit(&g, index, *b) != 0;
    if g.page_bits == g.blkbits && blocks.iter().any(delay_or_unwritten) {
        return Vec::new();
    }
    blocks
        .into_iter()
        .filter(|b| !delay_or_unwritten(b))
        .filter(written)
        .collect()
}

/// `ext4_writepage` of one dirty page (its writeback was waited for): an io_end, one bio
/// per mapped dirty block, `ext4_put_io_end_defer`.
fn ext4_writepage(state: &mut State, inode: InodeIx, index: u64) -> Vec<u16> {
    let g = state.geometry;
    let blocks = mapped_dirty_blocks(state, inode, index);
    if blocks.is_empty() {
        return Vec::new();
    }
    let shift = g.page_bits - g.blkbits;
    let page = state.inodes[inode]
        .pages
        .get_mut(&index)
        .expect("dirty page");
    assert_eq!(
        page.writeback, 0,
        "WB_SYNC_ALL waited for the page's writeback"
    );
    for &b in &blocks {
        page.dirty &= !(1 << (b - (index << shift)));
    }
    page.writeback += blocks.len() as u8;
    page.error = false; // ext4_bio_write_page: ClearPageError (fs/ext4/page-io.c:440)
    let io_end = new_io_end(state, inode);
    let mut bios = Vec::new();
    for lblk in blocks {
        let (pblk, _) = state.inodes[inode].map.pblk(lblk).expect("mapped");
        bios.push(submit_writeback_bio(
            state,
            inode,
            (lblk, pblk),
            io_end,
            index,
        ));
    }
    put_io_end_defer(state, io_end);
    bios
}

/// A writeback pass run by actor `a` ([`start_writeback`] with the actor's
/// [`crate::state::MapEntry`]); a note says what it did.
pub fn writeback_by(
    state: &mut State,
    a: crate::state::ActorId,
    (inode, pages): (InodeIx, std::ops::RangeInclusive<u64>),
    mode: SyncMode,
    notes: &mut Notes,
) -> Vec<u16> {
    let mut entry = state.actors[a as usize].wb_map.take();
    let bios = start_writeback(state, inode, pages.clone(), mode, &mut entry);
    if entry.is_none() {
        state.actors[a as usize].fdatawait = under_writeback(state, inode, pages);
    }
    match entry {
        Some(_) if state.patched(crate::patches::Patch::IoEndInBPrivate) => {
            note!(
                notes,
                "ext4_ext_map_blocks: down_write(i_data_sem), ext4_mb_new_blocks"
            );
        }
        Some(io) => note!(
            notes,
            "ext4_ext_map_blocks: down_write(i_data_sem), io = i_private = {}, ext4_mb_new_blocks",
            crate::state::io_end_name(io)
        ),
        None if !bios.is_empty() => {
            note!(notes, "writeback bios {}", crate::state::bio_names(&bios));
        }
        None => {}
    }
    state.actors[a as usize].wb_map = entry;
    bios
}

/// `mpage_map_one_extent` for one block: allocate a delayed block or a hole; with
/// dioread_nolock as unwritten (`EXT4_GET_BLOCKS_IO_CREATE_EXT`: flag `i_private`'s io_end or
/// set `EXT4_STATE_DIO_UNWRITTEN`, then flag writeback's own io_end), else written; an
/// existing unwritten block is flagged likewise, or converted at once without dioread_nolock
/// (`ext4_ext_convert_to_initialized` with `m_len` the unwritten blocks from `lblk` on in
/// the run, as `mpage_map_one_extent` maps them in one `ext4_map_blocks`).
fn writeback_map_block(
    state: &mut State,
    inode: InodeIx,
    (lblk, run_left): (u64, u64),
    (io_end, io): (u16, &mut crate::state::MapEntry),
) -> u32 {
    let nolock = state.should_dioread_nolock(inode);
    state.inodes[inode].map.delayed.remove(&lblk);
    let existing = state.inodes[inode].map.pblk(lblk);
    let pblk = match existing {
        Some((pblk, ExtentState::Written)) => return pblk,
        Some((pblk, ExtentState::Unwritten)) if !nolock => {
            // `mpage_add_bh_to_extent` only joins buffers in the same state: `m_len` is the
            // unwritten blocks from `lblk` on in this run.
            let map = &state.inodes[inode].map;
            let m_len = (0..run_left)
                .take_while(|&k| {
                    map.pblk(lblk + k)
                        .is_some_and(|(_, s)| s == ExtentState::Unwritten)
                })
                .count() as u64;
            let mut notes = Notes::new(false);
            ext4_ext_convert_to_initialized(state, inode, lblk, m_len, &mut notes);
            // ext4_ext_handle_unwritten_extents sets EXT4_MAP_NEW after the conversion
            // (fs/ext4/extents.c:4102-4111), so ext4_map_blocks puts the inode on the
            // transaction's ordered list (fs/ext4/inode.c:667-673, data=ordered): the commit
            // of the conversion waits for this data.
            state.inodes[inode].ordered = true;
            return pblk;
        }
        Some((pblk, ExtentState::Unwritten)) => {
            state.inodes[inode].map.split(lblk, 1);
            pblk
        }
        None => {
            let (pblk, _) = state
                .disk
                .allocate(1)
                .expect("a delayed block has its reservation");
            let state_of = if nolock {
                ExtentState::Unwritten
            } else {
                ExtentState::Written
            };
            let extent = Extent {
                lblk,
                len: 1,
                pblk,
                state: state_of,
            };
            let merge_unwritten = unwritten_merge_allowed(state, inode);
            state.inodes[inode]
                .map
                .insert(extent, !nolock, merge_unwritten);
            let ino = &mut state.inodes[inode];
            ino.sync_dirty = true;
            if nolock {
                return finish_unwritten_map(state, inode, (io_end, io), pblk);
            }
            ino.datasync_dirty = true;
            ino.ordered = true;
            return pblk;
        }
    };
    finish_unwritten_map(state, inode, (io_end, io), pblk)
}

/// `ext4_ext_map_blocks` flags the `io` it read on entry (the pass's first mapping: the one
/// read before `ext4_mb_new_blocks`; later ones read `i_private` now) or sets
/// `EXT4_STATE_DIO_UNWRITTEN`; `mpage_map_one_extent` flags writeback's own io_end.
fn finish_unwritten_map(
    state: &mut State,
    inode: InodeIx,
    (io_end, io): (u16, &mut crate::state::MapEntry),
    pblk: u32,
) -> u32 {
    let read = io.take().unwrap_or(state.inodes[inode].i_private);
    if state.patched(crate::patches::Patch::IoEndInBPrivate) {
        // 109811c20fb8: ext4_ext_map_blocks neither reads ext4_inode_aio(inode) nor sets
        // EXT4_STATE_DIO_UNWRITTEN; a PRE_IO allocation only returns EXT4_MAP_UNWRITTEN, and
        // mpage_map_one_extent flags writeback's own io_end (4.6.2 fs/ext4/inode.c:2332-2339).
        flag_io_unwritten(state, io_end);
        return pblk;
    }
    match read {
        Some(aio) if !state.io_ends.contains_key(&aio) => {
            state.hazard = Some(crate::state::Hazard::UseAfterFree(format!(
                "writeback's ext4_set_io_unwritten_flag on io_end e{aio}, which \
                 ext4_ext_map_blocks read from i_private before ext4_mb_new_blocks and which \
                 its direct write freed since"
            )));
        }
        Some(aio) => flag_io_unwritten(state, aio),
        None => state.inodes[inode].state_dio_unwritten = true,
    }
    flag_io_unwritten(state, io_end);
    pblk
}

/// The extra condition `ext4_can_extents_be_merged` puts on unwritten extents.
pub fn unwritten_merge_allowed(state: &State, inode: InodeIx) -> bool {
    let ino = &state.inodes[inode];
    !ino.state_dio_unwritten && ino.i_unwritten == 0
}

fn submit_writeback_bio(
    state: &mut State,
    inode: InodeIx,
    (lblk, pblk): (u64, u32),
    io_end: u16,
    index: u64,
) -> u16 {
    let g = state.geometry;
    let spb = g.sectors_per_block() as usize;
    let in_page = ((lblk << g.blkbits) & (g.pagesize() - 1)) >> g.sector_bits;
    let page = &state.inodes[inode].pages[&index];
    let data = page.data[in_page as usize..in_page as usize + spb].to_vec();
    state.io_ends.get_mut(&io_end).expect("io_end").count += 1;
    let bio = Bio {
        inode,
        owner: BioOwner::Writeback(io_end),
        psector: (u64::from(pblk) * g.sectors_per_block()) as u32,
        data,
        zero: false,
        plugged_by: None,
        pages: vec![index],
    };
    let id = state.new_id();
    state.bios.insert(id, bio);
    id
}

/// The pages `__filemap_fdatawait_range` finds tagged writeback in `pages`
/// (`pagevec_lookup_tag(PAGECACHE_TAG_WRITEBACK)`, mm/filemap.c:397-400). Simplification: the
/// lookup is taken when the flush that precedes the wait ends.
pub fn under_writeback(
    state: &State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
) -> Vec<u64> {
    let ino = &state.inodes[inode];
    let found = ino.pages.range(pages).filter(|(_, p)| p.writeback > 0);
    found.map(|(&i, _)| i).collect()
}

/// `filemap_fdatawait_range` once the pages `found` left writeback (mm/filemap.c:384-445):
/// `TestClearPageError` on each (`ret = -EIO`), then `filemap_check_errors`, which clears
/// `AS_EIO` whatever `ret` is. True when either saw `-EIO`. A page truncated meanwhile is
/// not looked at (the kernel's waiter holds a reference to it; not modelled).
pub fn fdatawait_errors(
    state: &mut State,
    inode: InodeIx,
    found: &[u64],
    notes: &mut Notes,
) -> bool {
    let mut page_error = false;
    for index in found {
        let page = state.inodes[inode].pages.get_mut(index);
        if page.is_some_and(|p| std::mem::take(&mut p.error)) {
            note!(notes, "TestClearPageError(page {index}): -EIO");
            page_error = true;
        }
    }
    let mapping_error = filemap_check_errors(state, inode, notes);
    page_error || mapping_error
}

/// [`fdatawait_errors`] for actor `a`'s flush ([`crate::state::Actor::fdatawait`]).
pub fn fdatawait_by(
    state: &mut State,
    a: crate::state::ActorId,
    inode: InodeIx,
    notes: &mut Notes,
) -> bool {
    let found = std::mem::take(&mut state.actors[a as usize].fdatawait);
    fdatawait_errors(state, inode, &found, notes)
}

/// `ext4_sync_file`'s wait for the pages `found` and its error check, by the open file of
/// actor `a`: in 4.4 `filemap_write_and_wait_range` ([`fdatawait_errors`]: `PG_error`, then
/// `AS_EIO`, both consumed). Under [`Patch::Errseq`] (5660e13d2fd6 with "ext4: use errseq_t
/// based error handling for reporting data writeback errors", Linux 4.13), fs/ext4/fsync.c:
///
/// ```c
/// -    ret = filemap_write_and_wait_range(inode->i_mapping, start, end);
/// +    ret = file_write_and_wait_range(file, start, end);
/// ```
///
/// and `file_write_and_wait_range` (mm/filemap.c:654-671 in 4.13.4) waits with
/// `__filemap_fdatawait_range`, which only runs `ClearPageError` on each page (mm/filemap.c:449),
/// then returns `file_check_and_advance_wb_err(file)` ([`file_check_and_advance_wb_err`]).
/// `AS_EIO` is neither tested nor cleared: it stays for the callers of
/// `filemap_write_and_wait_range`.
pub fn sync_file_wait(
    state: &mut State,
    a: crate::state::ActorId,
    inode: InodeIx,
    found: &[u64],
    notes: &mut Notes,
) -> bool {
    if !state.patched(Patch::Errseq) {
        return fdatawait_errors(state, inode, found, notes);
    }
    for index in found {
        if let Some(page) = state.inodes[inode].pages.get_mut(index) {
            page.error = false; // ClearPageError(page)
        }
    }
    file_check_and_advance_wb_err(state, a, inode, notes)
}

/// [`sync_file_wait`] for actor `a`'s flush ([`crate::state::Actor::fdatawait`]).
pub fn sync_file_wait_by(
    state: &mut State,
    a: crate::state::ActorId,
    inode: InodeIx,
    notes: &mut Notes,
) -> bool {
    let found = std::mem::take(&mut state.actors[a as usize].fdatawait);
    sync_file_wait(state, a, inode, &found, notes)
}

/// `file_check_and_advance_wb_err(file)` (mm/filemap.c:620-637 in 4.13.4) for actor `a`'s
/// file of `inode`: when `mapping->wb_err` differs from `f_wb_err`,
/// `errseq_check_and_advance` (lib/errseq.c) sets `ERRSEQ_SEEN` in the mapping's value,
/// stores it in `f_wb_err` and returns its error (`-EIO`): true. Every file that has not seen
/// an error reports it once.
pub fn file_check_and_advance_wb_err(
    state: &mut State,
    a: crate::state::ActorId,
    inode: InodeIx,
    notes: &mut Notes,
) -> bool {
    let old = state.inodes[inode].wb_err;
    let since = &mut state.actors[a as usize].f_wb_err[inode];
    if old == *since {
        return false;
    }
    let new = old | ERRSEQ_SEEN;
    state.inodes[inode].wb_err = new;
    *since = new;
    note!(
        notes,
        "file_check_and_advance_wb_err: -EIO (wb_err {new:#x})"
    );
    new & MAX_ERRNO != 0
}

/// `mapping_set_error(mapping, -EIO)` also records the error in `mapping->wb_err` under
/// [`Patch::Errseq`] (include/linux/pagemap.h in 4.13.4, "mm: set both AS_EIO/AS_ENOSPC and
/// errseq_t in mapping_set_error", same series):
///
/// ```c
/// +    /* Record in wb_err for checkers using errseq_t based tracking */
/// +    filemap_set_wb_err(mapping, error);
/// ```
///
/// `__errseq_set` (lib/errseq.c): the error field becomes `EIO`, `ERRSEQ_SEEN` is cleared,
/// and the counter moves only if the old value had been seen; an unseen error is not
/// recorded twice. 4.4 sets `AS_EIO` only (the caller does that either way).
pub fn filemap_set_wb_err(state: &mut State, inode: InodeIx) {
    if !state.patched(Patch::Errseq) {
        return;
    }
    let old = state.inodes[inode].wb_err;
    let eio = crate::include::fs::errno::EIO.unsigned_abs() as u32;
    let mut new = (old & !(MAX_ERRNO | ERRSEQ_SEEN)) | eio;
    if old & ERRSEQ_SEEN != 0 {
        new = new.wrapping_add(ERRSEQ_CTR_INC);
    }
    state.inodes[inode].wb_err = new;
}

/// `filemap_check_errors`: test and clear `AS_EIO`; true when it was set (the caller's
/// `filemap_write_and_wait_range` returns `-EIO`).
pub fn filemap_check_errors(state: &mut State, inode: InodeIx, notes: &mut Notes) -> bool {
    let failed = std::mem::take(&mut state.inodes[inode].as_eio);
    if failed {
        note!(notes, "filemap_check_errors: -EIO");
    }
    failed
}

/// One block write of each page in `pages` ended; `end_page_writeback` when it was the
/// page's last.
pub fn end_page_writeback(state: &mut State, inode: InodeIx, pages: &[u64]) {
    for index in pages {
        if let Some(page) = state.inodes[inode].pages.get_mut(index) {
            assert!(
                page.writeback > 0,
                "end_page_writeback on a page not under writeback"
            );
            page.writeback -= 1;
        }
    }
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
