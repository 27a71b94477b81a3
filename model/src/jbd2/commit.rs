//! fs/jbd2/commit.c: the commit. The jbd2 journal runs in data=ordered mode: one
//! running transaction, at most one being committed by kjournald2, handles counted in
//! `t_updates`.
//!
//! A commit ([`commit_step`], a work item of kjournald2) goes through
//! `jbd2_journal_commit_transaction`'s stages:
//! 1. [`CommitPc::Lock`]: `t_state = T_LOCKED`; a new handle now waits in `start_this_handle`
//!    ([`crate::jbd2::transaction::handle_wait`]), a reserved one may still join.
//! 2. [`CommitPc::Switch`]: once `t_updates` is 0 (every handle stopped), `T_FLUSH`: the
//!    transaction's metadata is what will be committed, and a new transaction runs.
//! 3. [`CommitPc::Submit`]: `journal_submit_data_buffers` writes the dirty pages of the
//!    inodes on its ordered list whose blocks are mapped (`generic_writepages`: no
//!    allocation), new handles running meanwhile.
//! 4. [`CommitPc::Flush`]: `journal_finish_inode_data_buffers` waits for that data (and any
//!    other writeback of those inodes), then the commit record: a crash from now on keeps
//!    the transaction.
//!
//! Callers that need a transaction committed (`jbd2_complete_transaction` in
//! `ext4_sync_file`, a forced commit) ask with [`crate::jbd2::journal::request_commit`] and wait until
//! `j_commit_sequence` reaches their tid.

use crate::fs::ext4::inode::ext4_writepage;
use crate::notes::Notes;
use crate::ops::CommitPc;
use crate::state::{BlockFlags, Committed, InodeIx, State, Wait};

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

/// What a crash after the commit record keeps of every inode now.
pub(crate) fn snapshot(state: &State) -> Vec<Committed> {
    state
        .inodes
        .iter()
        .map(|ino| {
            let mut map = crate::fs::ext4::extents::ExtentMap::clone(&ino.map);
            map.delayed.clear();
            Committed {
                map,
                i_disksize: ino.i_disksize,
                orphan: ino.orphan,
            }
        })
        .collect()
}

/// The running transaction holds something: a metadata change or a freed block.
pub(crate) fn running_has_changes(state: &State) -> bool {
    state.disk.freed_uncommitted.iter().any(|&f| f)
        || state
            .inodes
            .iter()
            .any(|i| i.sync_dirty || i.datasync_dirty || i.ordered)
}

/// The inodes on the committing transaction's ordered-data list.
fn ordered_inodes(state: &State) -> impl Iterator<Item = InodeIx> + '_ {
    state
        .inodes
        .iter()
        .enumerate()
        .filter(|(_, i)| i.committing.2)
        .map(|(k, _)| k)
}

/// What a commit stage waits for.
pub fn commit_wait(state: &State, pc: CommitPc) -> Option<Wait> {
    match pc {
        CommitPc::Lock => None,
        CommitPc::Switch => (state.journal.t_updates > 0).then_some(Wait::Handles),
        CommitPc::Submit => ordered_inodes(state)
            .find(|&k| {
                let pages = state.inodes[k].pages.values();
                pages.into_iter().any(|p| p.dirty != 0 && p.writeback > 0)
            })
            .map(|inode| Wait::Writeback { inode }),
        CommitPc::Flush => ordered_inodes(state)
            .find(|&k| state.inodes[k].pages.values().any(|p| p.writeback > 0))
            .map(|inode| Wait::Writeback { inode }),
    }
}

/// One stage of kjournald2's `jbd2_journal_commit_transaction` (fs/jbd2/commit.c:368); the
/// next stage, or `None` when it is done (kjournald2 commits again while
/// `j_commit_request` is past `j_commit_sequence`, fs/jbd2/journal.c:219).
pub fn commit_step(state: &mut State, pc: CommitPc, notes: &mut Notes) -> Option<CommitPc> {
    match pc {
        CommitPc::Lock if !running_has_changes(state) => {
            note!(notes, "nothing to commit");
            None
        }
        CommitPc::Lock => {
            state.journal.locked = true;
            note!(notes, "transaction {} T_LOCKED", state.journal.running);
            Some(CommitPc::Switch)
        }
        CommitPc::Switch => {
            switch(state, notes);
            Some(CommitPc::Submit)
        }
        CommitPc::Submit => {
            submit_data_buffers(state, notes);
            Some(CommitPc::Flush)
        }
        CommitPc::Flush => {
            commit_record(state, notes);
            let j = &state.journal;
            (j.requested > j.committed && running_has_changes(state)).then_some(CommitPc::Lock)
        }
    }
}

/// `T_FLUSH`: the committed metadata is fixed, a new transaction runs.
pub(crate) fn switch(state: &mut State, notes: &mut Notes) {
    assert_eq!(state.journal.t_updates, 0, "commit waited for its handles");
    let frees = std::mem::replace(
        &mut state.disk.freed_uncommitted,
        BlockFlags::from_elem(false, state.geometry.disk_blocks as usize),
    );
    state.journal.committing = Some((snapshot(state), frees));
    for ino in &mut state.inodes {
        ino.committing = (ino.sync_dirty, ino.datasync_dirty, ino.ordered);
        (ino.sync_dirty, ino.datasync_dirty, ino.ordered) = (false, false, false);
    }
    let j = &mut state.journal;
    j.locked = false;
    j.running += 1;
    note!(notes, "T_FLUSH: transaction {} runs", j.running);
}

/// `journal_submit_data_buffers`: the ordered inodes' mapped dirty pages are written.
fn submit_data_buffers(state: &mut State, notes: &mut Notes) {
    let ordered: Vec<InodeIx> = ordered_inodes(state).collect();
    for inode in ordered {
        let bios = write_mapped_pages(state, inode);
        note!(
            notes,
            "journal_submit_data_buffers inode {inode}: {}",
            crate::state::bio_names(&bios)
        );
    }
}

/// The commit record: what the transaction fixed survives a crash; its freed blocks may be
/// allocated again (`ext4_free_data_callback`).
fn commit_record(state: &mut State, notes: &mut Notes) {
    let (committed, frees) = state
        .journal
        .committing
        .take()
        .expect("a transaction being committed");
    for (ino, c) in state.inodes.iter_mut().zip(committed) {
        ino.committed = c;
        ino.committing = (false, false, false);
    }
    for (free, freed) in state.disk.free.iter_mut().zip(frees.iter().copied()) {
        *free |= freed;
    }
    let j = &mut state.journal;
    j.committed = j.running - 1;
    note!(
        notes,
        "commit record: transaction {} committed",
        j.committed
    );
}
