//! block/bio.c: a bio in flight reaches the disk (`bio_endio`): what its completion waits
//! for and which end_io it calls (`dio_bio_end_io`/`dio_bio_end_aio` in
//! [`crate::fs::direct_io`], `ext4_end_bio` in [`crate::fs::ext4::page_io`], or the page
//! writeback's own).

use crate::fs::direct_io::dio_bio_end;
use crate::fs::ext4::page_io::{io_end_failed, put_io_end_defer};
use crate::mm::filemap::end_page_writeback;
use crate::notes::Notes;
use crate::state::{BioOwner, ObjId, State, Wait};

/// What completing bio `id` waits for: dispatch from its submitter's plug (see
/// [`crate::block::blk_core::flush_plugs_of_sleepers`]). A bio completion runs in interrupt context and waits for
/// nothing else: a conversion its `dio_complete` would run there is a hazard, not a wait
/// (`dio_bio_end` in [`crate::fs::direct_io`]).
pub fn bio_wait(state: &State, id: ObjId) -> Option<Wait> {
    wait_of(&state.bios[&id])
}

/// [`bio_wait`] of `bio`, looked up already.
#[inline]
pub fn wait_of(bio: &crate::state::Bio) -> Option<Wait> {
    bio.plugged_by.map(|owner| Wait::Plugged { owner })
}

/// The bio reaches the disk; its owner is told.
/// With `failed`, nothing reaches the disk: a dio records `io_error`, writeback sets
/// `AS_EIO` on the mapping (`ext4_finish_bio`).
pub fn complete_bio(state: &mut State, id: ObjId, failed: bool, notes: &mut Notes) {
    let bio = state.bios.remove(&id).expect("in-flight bio");
    let start = bio.psector as usize;
    let block = bio.psector as u64 / state.geometry.sectors_per_block();
    let what = if bio.zero { "zeros" } else { "data" };
    let sectors = bio.data.len();
    if failed {
        note!(
            notes,
            "-EIO: {what} lost for sectors {start}+{sectors} (p{block})"
        );
        match bio.owner {
            BioOwner::Dio(dio) => state.dios.get_mut(&dio).expect("dio").io_error = true,
            BioOwner::Writeback(io_end) => {
                // ext4_end_bio: mapping_set_error; ext4_finish_bio: SetPageError (run
                // later for an unwritten io_end, but before its end_page_writeback).
                state.inodes[bio.inode].as_eio = true;
                crate::mm::filemap::filemap_set_wb_err(state, bio.inode);
                io_end_failed(state, io_end);
                for index in &bio.pages {
                    let page = state.inodes[bio.inode].pages.get_mut(index);
                    page.expect("a page under writeback stays cached").error = true;
                }
            }
        }
    } else {
        state.disk.sectors[start..start + sectors].copy_from_slice(&bio.data);
        note!(notes, "{what} on sectors {start}+{sectors} (p{block})");
    }
    match bio.owner {
        BioOwner::Dio(dio) => dio_bio_end(state, dio, notes),
        BioOwner::Writeback(io_end) => {
            if state.io_ends[&io_end].unwritten {
                state
                    .io_ends
                    .get_mut(&io_end)
                    .expect("io_end")
                    .pages
                    .extend_from_slice(&bio.pages);
            } else {
                end_page_writeback(state, bio.inode, &bio.pages);
            }
            put_io_end_defer(state, io_end);
        }
    }
}
