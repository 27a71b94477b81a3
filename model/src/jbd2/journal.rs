//! fs/jbd2/journal.c: asking kjournald2 for a commit (`jbd2_log_start_commit`), the
//! transaction a forced commit waits for, and waiting for a commit (`jbd2_log_wait_commit`).

use crate::jbd2::commit::running_has_changes;
use crate::notes::Notes;
use crate::ops::CommitPc;
use crate::state::{State, Wait, Work};

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

/// `jbd2_log_wait_commit(journal, tid)` (fs/jbd2/journal.c:689): the caller waits until
/// `j_commit_sequence` reaches `tid`.
pub fn committed_wait(state: &State, tid: u32) -> Option<Wait> {
    (state.journal.committed < tid).then_some(Wait::Commit)
}
