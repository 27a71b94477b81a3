//! `ext4_da_should_update_i_disksize` (fs/ext4/inode.c:2844-2861) tests the buffer_head of
//! the block holding the new EOF, not its extent.

#[allow(unused_imports)]
mod common;
use common::*;
use model::mm::filemap::SyncMode;
use model::state::State;

/// An empty extent file under dioread_nolock, its first `S` bytes written buffered and
/// submitted by writeback: block 0 allocated unwritten, its bio in flight.
fn submitted_eof_block() -> State {
    let mut s = state(NOLOCK, vec![inode(0, &[])], vec![]);
    assert_eq!(
        model::fs::ext4::inode::da_write_page(&mut s, 0, 0, S, 1),
        Ok(S)
    );
    assert_eq!(s.inodes[0].i_disksize, 0, "a delayed buffer: no update");
    let mut entry = None;
    let bios = model::fs::ext4::inode::start_writeback(&mut s, 0, 0..=0, SyncMode::All, &mut entry);
    assert!(
        bios.is_empty() && entry.is_some(),
        "dioread_nolock maps first"
    );
    let bios = model::fs::ext4::inode::start_writeback(&mut s, 0, 0..=0, SyncMode::All, &mut entry);
    assert_eq!(bios.len(), 1);
    assert_eq!(s.inodes[0].i_disksize, S, "ext4_wb_update_i_disksize");
    assert_eq!(s.inodes[0].map.pblk(0).map(|(_, st)| st), Some(Unwritten));
    let page = &s.inodes[0].pages[&0];
    assert_eq!(
        (page.bh_mapped, page.bh_delay, page.bh_unwritten),
        (1, 0, 0),
        "mpage_map_and_submit_buffers cleared BH_Delay and BH_Unwritten"
    );
    s
}

/// Writeback submitted the EOF block's page, its extent still unwritten (no `ext4_end_io`
/// yet): the buffer is mapped without `BH_Unwritten`, so an extending write into that block
/// raises `i_disksize` in 4.4 (the model tested the extent and left it at `S`).
#[test]
fn an_extending_write_into_a_submitted_unwritten_block_raises_i_disksize() {
    let mut s = submitted_eof_block();
    assert!(model::fs::ext4::inode::da_write_updates_disksize(
        &s, 0, S, S
    ));
    assert_eq!(
        model::fs::ext4::inode::da_write_page(&mut s, 0, S, S, 2),
        Ok(S)
    );
    assert_eq!(s.inodes[0].i_size, 2 * S);
    assert_eq!(
        s.inodes[0].i_disksize,
        2 * S,
        "ext4_da_should_update_i_disksize: mapped, not delayed, not unwritten"
    );
    assert_eq!(s.inodes[0].map.pblk(0).map(|(_, st)| st), Some(Unwritten));
}

/// The buffer's state goes with its page: once the page left the cache, `ext4_da_write_begin`
/// maps a new buffer from the still-unwritten extent (`BH_Unwritten`), and `i_disksize`
/// stays.
#[test]
fn a_page_read_again_maps_its_buffer_from_the_unwritten_extent() {
    let mut s = submitted_eof_block();
    model::mm::filemap::end_page_writeback(&mut s, 0, &[0]);
    model::mm::truncate::invalidate_mapping_pages(&mut s, 0, 0..=0);
    assert!(s.inodes[0].pages.is_empty());
    assert!(!model::fs::ext4::inode::da_write_updates_disksize(
        &s, 0, S, S
    ));
    assert_eq!(
        model::fs::ext4::inode::da_write_page(&mut s, 0, S, S, 2),
        Ok(S)
    );
    assert_eq!(s.inodes[0].i_disksize, S);
    let page = &s.inodes[0].pages[&0];
    assert_eq!((page.bh_mapped, page.bh_unwritten), (1, 1));
}
