//! The jbd2 journal in data=ordered mode (fs/jbd2/transaction.c, fs/jbd2/commit.c): one
//! running transaction, at most one being committed by kjournald2, handles counted in
//! `t_updates`.
//!
//! A commit ([`commit_step`], a work item of kjournald2) goes through
//! `jbd2_journal_commit_transaction`'s stages:
//! 1. [`CommitPc::Lock`]: `t_state = T_LOCKED`; a new handle now waits in `start_this_handle`
//!    ([`handle_wait`]), a reserved one may still join.
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
//! `ext4_sync_file`, a forced commit) ask with [`request_commit`] and wait until
//! `j_commit_sequence` reaches their tid.

use crate::notes::Notes;
use crate::ops::CommitPc;
use crate::state::Wait;
use crate::state::{Committed, InodeIx, State, Work};

/// What a crash after the commit record keeps of every inode now.
fn snapshot(state: &State) -> Vec<Committed> {
    state
        .inodes
        .iter()
        .map(|ino| {
            let mut map = ino.map.clone();
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
fn running_has_changes(state: &State) -> bool {
    state.disk.freed_uncommitted.iter().any(|&f| f)
        || state
            .inodes
            .iter()
            .any(|i| i.sync_dirty || i.datasync_dirty || i.ordered)
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

/// `__jbd2_journal_force_commit`'s transaction (fs/jbd2/journal.c:548): the running one if
/// it holds anything (jbd2 creates it at the first handle), else the one being committed,
/// if any.
pub fn force_target(state: &State) -> Option<u32> {
    let j = &state.journal;
    if running_has_changes(state) {
        Some(j.running)
    } else {
        j.committing.as_ref().map(|_| j.running - 1)
    }
}

/// `jbd2_log_start_commit(journal, tid)` (fs/jbd2/journal.c:494, 531): `j_commit_request`
/// moves to `tid` and kjournald2 is woken (a commit work item, unless one runs).
pub fn request_commit(state: &mut State, tid: u32, notes: &mut Notes) {
    let j = &mut state.journal;
    j.requested = j.requested.max(tid);
    let running = state
        .work
        .values()
        .any(|w| matches!(w, Work::Commit { .. }));
    if !running {
        let id = state.new_id();
        state.work.insert(id, Work::Commit { pc: CommitPc::Lock });
        note!(notes, "jbd2_log_start_commit({tid}): kjournald2 w{id}");
    } else {
        note!(notes, "jbd2_log_start_commit({tid})");
    }
}

/// `start_this_handle` → `add_transaction_credits` → `wait_transaction_locked`
/// (fs/jbd2/transaction.c:189): a new handle waits while the running transaction is
/// `T_LOCKED`.
pub fn handle_wait(state: &State) -> Option<Wait> {
    state.journal.locked.then_some(Wait::JournalLocked)
}

/// [`handle_wait`] for a step that starts a handle only when `starts`.
pub fn handle_wait_if(state: &State, starts: bool) -> Option<Wait> {
    if starts { handle_wait(state) } else { None }
}

/// A handle started in one step and stopped in a later one: `t_updates++`.
pub fn handle_start(state: &mut State) {
    assert!(!state.journal.locked, "a new handle waited for T_LOCKED");
    state.journal.t_updates += 1;
}

/// `jbd2_journal_stop` of such a handle: `t_updates--`.
pub fn handle_stop(state: &mut State) {
    assert!(state.journal.t_updates > 0, "t_updates underflow");
    state.journal.t_updates -= 1;
}

/// `jbd2_log_wait_commit(journal, tid)` (fs/jbd2/journal.c:689): the caller waits until
/// `j_commit_sequence` reaches `tid`.
pub fn committed_wait(state: &State, tid: u32) -> Option<Wait> {
    (state.journal.committed < tid).then_some(Wait::Commit)
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
fn switch(state: &mut State, notes: &mut Notes) {
    assert_eq!(state.journal.t_updates, 0, "commit waited for its handles");
    let frees = std::mem::replace(
        &mut state.disk.freed_uncommitted,
        vec![false; state.geometry.disk_blocks as usize],
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
        let bios = crate::mm::filemap::write_mapped_pages(state, inode);
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
    for (free, freed) in state.disk.free.iter_mut().zip(frees) {
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

/// Journal replay at mount, after a crash (`jbd2_journal_recover`, fs/jbd2/recovery.c:248),
/// and orphan cleanup's changes committed at once: a fresh journal with nothing running
/// locked or committing.
pub fn commit_recovered(state: &mut State) {
    state.disk.commit_frees();
    let committed = snapshot(state);
    for (ino, c) in state.inodes.iter_mut().zip(committed) {
        ino.committed = c;
        (ino.sync_dirty, ino.datasync_dirty, ino.ordered) = (false, false, false);
        ino.committing = (false, false, false);
    }
    let j = &mut state.journal;
    let tid = j.committed + 1;
    *j = crate::state::Journal {
        running: tid + 1,
        committed: tid,
        requested: tid,
        ..Default::default()
    };
}
