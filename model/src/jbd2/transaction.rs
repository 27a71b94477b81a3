//! fs/jbd2/transaction.c: handles. `start_this_handle` waits while the running transaction
//! is locked for a commit; a handle open across steps counts in `t_updates`.

use crate::state::{State, Wait};

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
