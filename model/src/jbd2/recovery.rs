//! fs/jbd2/recovery.c: journal replay at mount after a crash.

use crate::jbd2::commit::snapshot;
use crate::state::State;

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
