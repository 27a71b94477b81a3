//! fs/ext4/page-io.c: the io_end. `ext4_init_io_end`, `ext4_put_io_end(_defer)`,
//! `ext4_release_io_end`, `ext4_clear_io_unwritten_flag`, the conversion worker's
//! `ext4_end_io` (`ext4_end_io_rsv_work`), `ext4_end_bio` on a failed writeback bio and the
//! writeback bio's submission; with `ext4_set_io_unwritten_flag` (fs/ext4/ext4.h).

use crate::fs::ext4::extents::{convert_unwritten_extents, has_unwritten};
use crate::kernel::sched::wait::wake_up_all;
use crate::mm::filemap::end_page_writeback;
use crate::notes::Notes;
use crate::patches::Patch;
use crate::state::{Bio, BioOwner, InodeIx, IoEnd, ObjId, PageList, Sectors, Sleep, State, Work};

/// `ext4_init_io_end`: `count = 1`, `i_ioend_count++`.
pub fn new_io_end(state: &mut State, inode: InodeIx) -> ObjId {
    let id = state.new_id();
    let io_end = IoEnd {
        inode,
        count: 1,
        unwritten: false,
        offset: 0,
        size: 0,
        pages: PageList::new(),
        failed: false,
    };
    state.io_ends.insert(id, io_end);
    state.inodes[inode].i_ioend_count += 1;
    id
}

/// `ext4_set_io_unwritten_flag`: `i_unwritten++` only on the first transition.
pub fn flag_io_unwritten(state: &mut State, io_end: ObjId) {
    let end = state
        .io_ends
        .get_mut(&io_end)
        .expect("flagging a live io_end");
    if !end.unwritten {
        end.unwritten = true;
        state.inodes[end.inode].i_unwritten += 1;
    }
}

/// The conversion `ext4_put_io_end` would do now over `(offset, size)`: the io_end's last
/// reference is going, it is flagged unwritten, and the range still has an Unwritten block.
/// Such a put takes `down_write(i_data_sem)`; over a range already written,
/// `ext4_map_blocks(EXT4_GET_BLOCKS_IO_CONVERT_EXT)` finds it in its lookup and takes none.
pub fn put_converts(state: &State, io_end: ObjId, (offset, size): (u64, u64)) -> bool {
    state
        .io_ends
        .get(&io_end)
        .is_some_and(|e| e.count == 1 && e.unwritten)
        && has_unwritten(state, state.io_ends[&io_end].inode, offset, size)
}

/// `atomic_dec_and_test(&io_end->count)`: true when that was the last reference.
fn drop_io_end_ref(state: &mut State, io_end: ObjId) -> bool {
    let end = state
        .io_ends
        .get_mut(&io_end)
        .expect("put of a live io_end");
    assert!(end.count > 0, "io_end count underflow");
    end.count -= 1;
    end.count == 0
}

/// `ext4_put_io_end`: on the last reference, convert if flagged, clear the flag (waking
/// `ext4_unwritten_wait`), release.
pub fn put_io_end(state: &mut State, io_end: ObjId, notes: &mut Notes) {
    if !drop_io_end_ref(state, io_end) {
        return;
    }
    let end = state.io_ends[&io_end].clone();
    if end.unwritten {
        convert_unwritten_extents(state, end.inode, end.offset, end.size, notes);
        clear_io_unwritten_flag(state, io_end, notes);
    }
    release_io_end(state, io_end);
}

/// `ext4_put_io_end_defer` (writeback bios): on the last reference, queue the conversion on
/// `rsv_conversion_wq` if flagged, else release at once.
pub fn put_io_end_defer(state: &mut State, io_end: ObjId) {
    if !drop_io_end_ref(state, io_end) {
        return;
    }
    // `if (!(io_end->flag & EXT4_IO_END_UNWRITTEN) || !io_end->size)` release at once
    // (fs/ext4/page-io.c:281): a flagged io_end of size 0 meets the BUG_ON of
    // ext4_release_io_end, as the model's assertion there.
    let end = &state.io_ends[&io_end];
    if end.unwritten && end.size > 0 {
        let id = state.new_id();
        state.work.insert(id, Work::EndIo { io_end });
    } else {
        release_io_end(state, io_end);
    }
}

/// `ext4_release_io_end`: the deferred `end_page_writeback`s, `i_ioend_count--`.
pub fn release_io_end(state: &mut State, io_end: ObjId) {
    let end = state
        .io_ends
        .remove(&io_end)
        .expect("release of a live io_end");
    assert!(!end.unwritten, "released while flagged unwritten");
    end_page_writeback(state, end.inode, &end.pages);
    let ino = &mut state.inodes[end.inode];
    assert!(ino.i_ioend_count > 0);
    assert!(
        ino.i_private != Some(io_end),
        "released io_end still in i_private"
    );
    ino.i_ioend_count -= 1;
    if ino.i_ioend_count == 0 {
        let bucket = ino.bucket(); // nobody waits for this in 4.4: a spurious wakeup at most
        wake_up_all(state, Sleep::IoendWq(bucket));
    }
}

/// `ext4_clear_io_unwritten_flag`: `atomic_dec_and_test(&i_unwritten)` and `wake_up_all` on
/// the hashed `ioend_wq` at 0.
pub fn clear_io_unwritten_flag(state: &mut State, io_end: ObjId, notes: &mut Notes) {
    let end = state.io_ends.get_mut(&io_end).expect("live io_end");
    assert!(end.unwritten);
    end.unwritten = false;
    let inode = end.inode;
    let ino = &mut state.inodes[inode];
    assert!(ino.i_unwritten > 0, "i_unwritten underflow");
    ino.i_unwritten -= 1;
    if ino.i_unwritten == 0 {
        let bucket = ino.bucket();
        wake_up_all(state, Sleep::IoendWq(bucket));
        note!(notes, "i_unwritten=0 wake_up_all(ioend_wq[{bucket}])");
    }
}

pub(crate) fn submit_writeback_bio(
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
    let data = Sectors::from(&page.data[in_page as usize..in_page as usize + spb]);
    state.io_ends.get_mut(&io_end).expect("io_end").count += 1;
    let bio = Bio {
        inode,
        owner: BioOwner::Writeback(io_end),
        psector: (u64::from(pblk) * g.sectors_per_block()) as u32,
        data,
        zero: false,
        plugged_by: None,
        pages: PageList::from([index]),
    };
    let id = state.new_id();
    state.bios.insert(id, bio);
    id
}

/// `ext4_end_io`: convert the io_end's range, clear the flag, release (which ends the
/// deferred page writeback).
pub(crate) fn end_io_work(state: &mut State, id: ObjId, io_end: ObjId, notes: &mut Notes) {
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
pub(crate) fn io_end_failed(state: &mut State, io_end: ObjId) {
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
pub(crate) fn end_io_skips_conversion(state: &State, end: &crate::state::IoEnd) -> bool {
    state.patched(Patch::FailedWritebackConvertsNothing) && end.failed
}
