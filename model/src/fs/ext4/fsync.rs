//! fs/ext4/fsync.c: `ext4_sync_file`: its wait for the data and its error check, and the
//! transaction it asks jbd2 to commit.

use crate::mm::filemap::{fdatawait_errors, file_check_and_advance_wb_err};
use crate::notes::Notes;
use crate::ops::Op;
use crate::patches::Patch;
use crate::state::{InodeIx, State};

/// The transaction fsync's `jbd2_complete_transaction` or the forced commit waits for.
pub(crate) fn commit_target(state: &State, op: &Op) -> Option<u32> {
    match *op {
        Op::Fsync { inode, datasync } => sync_target(state, inode, datasync),
        _ => crate::jbd2::journal::force_target(state),
    }
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

/// The transaction `jbd2_complete_transaction` must see committed for `inode`
/// (`ext4_sync_file`, fs/ext4/fsync.c:137: `commit_tid = datasync ? i_datasync_tid :
/// i_sync_tid`), if not committed yet (fs/jbd2/journal.c:724-737: an old tid returns at once).
pub fn sync_target(state: &State, inode: InodeIx, datasync: bool) -> Option<u32> {
    let ino = &state.inodes[inode];
    let (running, committing) = if datasync {
        (ino.datasync_dirty, ino.committing.1)
    } else {
        (
            ino.sync_dirty || ino.datasync_dirty,
            ino.committing.0 || ino.committing.1,
        )
    };
    let j = &state.journal;
    if running {
        Some(j.running)
    } else if committing {
        Some(j.running - 1)
    } else {
        None
    }
}
