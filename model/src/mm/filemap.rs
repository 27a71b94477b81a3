//! mm/filemap.c: the page cache and buffered I/O. Reads (`do_generic_file_read`, a page from
//! disk), `generic_write_checks`, the steps of `__generic_file_write_iter`
//! (`generic_file_direct_write`, `generic_perform_write`, the buffered fallback), writeback
//! passes and waits (`filemap_fdatawrite_range`, `filemap_fdatawait_range`), the errors they
//! report (`filemap_check_errors`, `errseq`) and `end_page_writeback`. Helpers here compute
//! and mutate; they do not pick steps.

use crate::fs::ext4::extents::ExtentState;
use crate::fs::ext4::file::{buffered_range, range_of};
use crate::fs::ext4::inode::{
    start_writeback, truncate_failed_write, write_begin_failure_truncates, writeback_needs_map,
    writepages_handle_wait,
};
use crate::include::fs::{FileFlags, Iocb, IovIter, errno};
use crate::limits::{ERRSEQ_CTR_INC, ERRSEQ_SEEN, MAX_ERRNO, MAX_NON_LFS, RLIM_INFINITY};
use crate::notes::Notes;
use crate::ops::{Op, OtherFrame, OtherPc, WriteFrame, WriteOp};
use crate::patches::Patch;
use crate::state::{ActorId, Data, InodeIx, Page, PageList, State, Wait};
use OtherPc::*;

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
pub(crate) fn block_bit(g: &crate::fs::ext4::super_::Geometry, index: u64, lblk: u64) -> u64 {
    let shift = g.page_bits - g.blkbits;
    debug_assert_eq!(lblk >> shift, index, "block {lblk} outside page {index}");
    1 << (lblk - (index << shift))
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
    let busy = !crate::fs::ext4::inode::data_sem_free(state, inode);
    writepages_handle_wait(state, inode)
        .or((busy && writeback_needs_map(state, inode, pages)).then_some(Wait::DataSem { inode }))
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

/// The pages `__filemap_fdatawait_range` finds tagged writeback in `pages`
/// (`pagevec_lookup_tag(PAGECACHE_TAG_WRITEBACK)`, mm/filemap.c:397-400). Simplification: the
/// lookup is taken when the flush that precedes the wait ends.
pub fn under_writeback(
    state: &State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
) -> PageList {
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

/// d4f5258eae7b ("ext4: Convert to use mapping->invalidate_lock", v5.15) with its mm half,
/// 730633f0b7f9 ("mm: Protect operations adding pages to page cache with invalidate_lock"):
/// a buffered read that must bring a page into the page cache takes
/// `mapping->invalidate_lock` shared first, so it waits while a punch or a truncate holds it
/// for write (mm/filemap.c, 6.8.1 `filemap_create_folio`:2446 and `filemap_update_page`:2376;
/// mm/readahead.c `page_cache_ra_unbounded`:225):
///
/// ```text
/// +    filemap_invalidate_lock_shared(mapping);
///      error = filemap_add_folio(mapping, folio, index,
/// ```
///
/// A page already cached is copied out with no lock. 4.4's `do_generic_file_read` takes no
/// lock at all.
pub fn invalidate_lock_wait(state: &State, op: &Op, f: &OtherFrame) -> Option<Wait> {
    let Op::Read {
        inode,
        pos: start,
        direct: false,
        ..
    } = *op
    else {
        return None;
    };
    let ino = &state.inodes[inode];
    let index = f.pos.max(start) >> state.geometry.page_bits;
    (state.patched(crate::patches::Patch::InvalidateLock)
        && f.pc == ReadPage
        && ino.invalidate_lock.writer
        && !ino.pages.contains_key(&index))
    .then_some(Wait::InvalidateLock { inode })
}

/// One page of a buffered read, or the whole of a direct read (read from disk as mapped now).
pub(crate) fn read_step(state: &mut State, op: &Op, f: &mut OtherFrame, notes: &mut Notes) {
    let Op::Read {
        inode,
        pos: start,
        len,
        direct,
    } = *op
    else {
        unreachable!()
    };
    let g = state.geometry;
    if direct && !f.flag {
        // The unlocked read's I/O is done in this step: its inode_dio_end.
        crate::include::fs::inode_dio_end(state, inode);
    }
    let end = start.saturating_add(len).min(state.inodes[inode].i_size);
    let pos = f.pos.max(start);
    if pos >= end {
        f.pos = end.max(pos);
        return;
    }
    if direct {
        let sectors = (pos..end).step_by(g.sectorsize() as usize);
        f.read
            .extend(sectors.map(|p| read_disk_sector(state, inode, p)));
        f.pos = end;
    } else {
        let chunk = (g.pagesize() - (pos & (g.pagesize() - 1))).min(end - pos);
        let data = read_page(state, inode, pos, chunk);
        f.read.extend(data);
        f.pos = pos + chunk;
    }
    note!(notes, "read up to {} ({} sectors)", f.pos, f.read.len());
}

/// What `generic_write_checks` did: the value it returns and whether it raised SIGXFSZ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteChecks {
    /// The return value: the bytes left to write (> 0), 0, or `-EFBIG`.
    pub ret: i64,
    /// `send_sig(SIGXFSZ, current, 0)` was called.
    pub sigxfsz: bool,
}

/// `generic_write_checks(iocb, from)` (mm/filemap.c, 4.1–4.4), caller holds
/// `i_mutex`. Moves `ki_pos` to `i_size` for `IOCB_APPEND` and truncates `from`.
pub fn generic_write_checks(
    iocb: &mut Iocb,
    from: &mut IovIter,
    i_size: u64,
    file: FileFlags,
    rlimit_fsize: u64,
    s_maxbytes: u64,
) -> WriteChecks {
    let efbig = |sigxfsz| WriteChecks {
        ret: crate::include::fs::errno::EFBIG,
        sigxfsz,
    };
    if from.count() == 0 {
        return WriteChecks {
            ret: 0,
            sigxfsz: false,
        };
    }
    if iocb.ki_flags.append {
        iocb.ki_pos = i_size;
    }
    let pos = iocb.ki_pos;
    if rlimit_fsize != RLIM_INFINITY {
        if pos >= rlimit_fsize {
            return efbig(true);
        }
        from.truncate(rlimit_fsize - pos);
    }
    if !file.o_largefile && pos + from.count() > MAX_NON_LFS {
        if pos >= MAX_NON_LFS {
            return efbig(false);
        }
        from.truncate(MAX_NON_LFS - pos);
    }
    if pos >= s_maxbytes {
        return efbig(false);
    }
    from.truncate(s_maxbytes - pos);
    WriteChecks {
        ret: from.count() as i64,
        sigxfsz: false,
    }
}

/// `filemap_write_and_wait_range`, first half: writeback starts over the range.
pub(crate) fn flush(
    state: &mut State,
    a: ActorId,
    inode: usize,
    pages: std::ops::RangeInclusive<u64>,
    notes: &mut Notes,
) {
    writeback_by(state, a, (inode, pages), SyncMode::All, notes);
}

/// `invalidate_inode_pages2_range` before the direct I/O; `-EBUSY` → all buffered.
pub(crate) fn direct_invalidate(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    if state.inodes[f.inode].nrpages() == 0 {
        return;
    }
    if !crate::mm::truncate::invalidate_pages2(state, f.inode, range_of(state, f)) {
        note!(notes, "invalidate -EBUSY: written=0, buffered fallback");
        f.dio_ret = errno::EBUSY;
        f.written = 0;
        f.fallback = true;
        f.buffered_pos = f.iocb.ki_pos;
    }
}

/// `generic_file_direct_write` raises `i_size` (`i_size_write`, `mark_inode_dirty`).
pub(crate) fn direct_end_raises_size(state: &State, f: &WriteFrame) -> bool {
    f.dio_ret > 0 && f.iocb.ki_pos + f.dio_ret as u64 > state.inodes[f.inode].i_size
}

/// The tail of `generic_file_direct_write` (mm/filemap.c).
pub(crate) fn direct_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    if state.inodes[f.inode].nrpages() > 0 {
        crate::mm::truncate::invalidate_pages2(state, f.inode, range_of(state, f));
    }
    let written = f.dio_ret;
    if written > 0 {
        let pos = f.iocb.ki_pos + written as u64;
        f.iter.advance(written as u64);
        let ino = &mut state.inodes[f.inode];
        if pos > ino.i_size {
            ino.i_size = pos;
            ino.sync_dirty = true; // mark_inode_dirty
            note!(notes, "i_size={pos}");
        }
        f.iocb.ki_pos = pos;
    }
    f.written = written;
    f.fallback = written >= 0 && f.iter.count() > 0;
    f.buffered_pos = f.iocb.ki_pos;
    note!(notes, "written={written} ki_pos={}", f.iocb.ki_pos);
}

/// One page of `generic_perform_write`.
/// On `-ENOSPC` the loop stops: `generic_perform_write` returns the bytes copied, or the
/// error when none were.
pub(crate) fn perform_write(
    state: &mut State,
    f: &mut WriteFrame,
    op: &WriteOp,
    notes: &mut Notes,
) {
    let pos = f.buffered_pos + f.status;
    let bytes =
        match crate::fs::ext4::inode::da_write_page(state, f.inode, pos, f.iter.count(), op.tag) {
            Ok(bytes) => bytes,
            Err(error) => {
                f.perform_error = error;
                note!(notes, "ext4_da_write_begin {error}");
                if write_begin_failure_truncates(state, f) {
                    truncate_failed_write(state, f.inode, notes);
                }
                if !f.fallback {
                    f.iocb.ki_pos += f.status;
                    f.written = if f.status > 0 { f.status as i64 } else { error };
                } else if f.status == 0 && f.written == 0 {
                    f.written = error;
                }
                return;
            }
        };
    f.iter.advance(bytes);
    f.status += bytes;
    let ino = &state.inodes[f.inode];
    note!(
        notes,
        "page {} +{bytes} i_size={} i_disksize={}",
        pos >> state.geometry.page_bits,
        ino.i_size,
        ino.i_disksize
    );
    if f.iter.count() == 0 && !f.fallback {
        f.iocb.ki_pos += f.status;
        f.written = f.status as i64;
    }
}

/// The fallback's flush finished: `ki_pos = endbyte + 1`, `written += status`,
/// `invalidate_mapping_pages`.
/// On a flush error "we don't know how much we wrote, so just return the number of bytes
/// which were direct-written": `ki_pos` stays after the direct part.
pub(crate) fn fallback_done(state: &mut State, a: ActorId, f: &mut WriteFrame, notes: &mut Notes) {
    if fdatawait_by(state, a, f.inode, notes) {
        // `return written ? written : err` (mm/filemap.c:2681): with nothing written
        // directly, the flush's error.
        if f.written == 0 {
            f.written = errno::EIO;
        }
        return;
    }
    f.iocb.ki_pos = f.buffered_pos + f.status;
    f.written += f.status as i64;
    crate::mm::truncate::invalidate_mapping_pages(state, f.inode, buffered_range(state, f));
    note!(
        notes,
        "fallback written={} ki_pos={}",
        f.written,
        f.iocb.ki_pos
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::include::fs::tests::{LARGE, iocb, iter};

    #[test]
    fn generic_write_checks_zero_count_returns_zero_and_keeps_pos_even_for_append() {
        let (mut iocb, mut from) = (iocb(7, true), iter(0));
        let checks =
            generic_write_checks(&mut iocb, &mut from, 4096, LARGE, RLIM_INFINITY, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: 0,
                sigxfsz: false
            }
        );
        assert_eq!(iocb.ki_pos, 7);
    }

    #[test]
    fn generic_write_checks_append_moves_pos_to_i_size() {
        let (mut iocb, mut from) = (iocb(0, true), iter(100));
        let checks =
            generic_write_checks(&mut iocb, &mut from, 5000, LARGE, RLIM_INFINITY, 1 << 40);
        assert_eq!((checks.ret, iocb.ki_pos), (100, 5000));
    }

    #[test]
    fn generic_write_checks_rlimit_fsize_signals_at_the_limit_and_truncates_below() {
        let (mut at, mut from) = (iocb(1000, false), iter(10));
        let checks = generic_write_checks(&mut at, &mut from, 0, LARGE, 1000, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: errno::EFBIG,
                sigxfsz: true
            }
        );
        let (mut below, mut from) = (iocb(990, false), iter(100));
        let checks = generic_write_checks(&mut below, &mut from, 0, LARGE, 1000, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: 10,
                sigxfsz: false
            }
        );
        // O_APPEND is checked against its final position.
        let (mut append, mut from) = (iocb(0, true), iter(10));
        let checks = generic_write_checks(&mut append, &mut from, 1000, LARGE, 1000, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: errno::EFBIG,
                sigxfsz: true
            }
        );
    }

    #[test]
    fn generic_write_checks_lfs_limit_applies_only_without_o_largefile() {
        let small = FileFlags {
            o_largefile: false,
            ..LARGE
        };
        let (mut at, mut from) = (iocb(MAX_NON_LFS, false), iter(10));
        let checks = generic_write_checks(&mut at, &mut from, 0, small, RLIM_INFINITY, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: errno::EFBIG,
                sigxfsz: false
            }
        );
        let (mut below, mut from) = (iocb(MAX_NON_LFS - 4, false), iter(10));
        let checks = generic_write_checks(&mut below, &mut from, 0, small, RLIM_INFINITY, 1 << 40);
        assert_eq!(checks.ret, 4);
        let (mut large, mut from) = (iocb(MAX_NON_LFS, false), iter(10));
        let checks = generic_write_checks(&mut large, &mut from, 0, LARGE, RLIM_INFINITY, 1 << 40);
        assert_eq!(checks.ret, 10);
    }

    #[test]
    fn generic_write_checks_s_maxbytes_refuses_at_and_truncates_below() {
        let max = crate::limits::ext4_max_size(12, false);
        let (mut at, mut from) = (iocb(max, false), iter(10));
        let checks = generic_write_checks(&mut at, &mut from, 0, LARGE, RLIM_INFINITY, max);
        assert_eq!(
            checks,
            WriteChecks {
                ret: errno::EFBIG,
                sigxfsz: false
            }
        );
        let (mut below, mut from) = (iocb(max - 3, false), iter(10));
        let checks = generic_write_checks(&mut below, &mut from, 0, LARGE, RLIM_INFINITY, max);
        assert_eq!(checks.ret, 3);
    }
}
