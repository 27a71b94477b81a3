//! The oracles: the properties every explored execution must keep, each named, each checked
//! on every run. They share no logic with the model: they read its state and the results of
//! finished operations, keep their own record of what happened ([`history`]), and judge that
//! against what the callers of `write(2)`, `ftruncate(2)`, `fallocate(2)` and `fsync(2)` were
//! promised.
//!
//! | family | oracles | file |
//! |---|---|---|
//! | file contents | `no-spurious-zeros`, `no-stale-exposure`, `completed-writes-converted`, `lost-write`, `page-cache-coherence` | [`contents`] |
//! | blocks | `block-freeing-exclusion` | [`blocks`] |
//! | what a sync and a crash keep | `durability`, `size-rules` | [`durability`] |
//! | the protocol | `locks`, `counter-consistency`, `single-dio-decision`, `limits`, `append-placement` | [`protocol`] |
//! | what the kernel must never do | `sleep-in-atomic`, `use-after-free` (the step's hazard) | [`protocol`] |
//! | the model itself | `model-assertion` (a model assertion fired: reported by the engines) | |
//!
//! **Order.** Operations that overlap in time are unordered: each may land first. An oracle
//! only demands what every order consistent with the operations' start and completion
//! promises. A write completes when it returns, or, for an AIO queued with `-EIOCBQUEUED`,
//! when its event arrives (`ki_complete`); `p` precedes `q` when `p` completed before `q`
//! started ([`history::History::precedes`]). A crash starts a new epoch: what the recovered
//! file holds is its new starting point.

pub mod blocks;
pub mod contents;
pub mod durability;
pub mod history;
pub mod memo;
pub mod protocol;
pub mod rename;

use std::fmt;

use model::drive::End;
use model::exec::Event;
use model::state::State;

pub use contents::visible;
use history::History;
pub use memo::Checking;
use memo::Memo;

/// The oracles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Oracle {
    /// Zeros only where a hole, a truncate or punch, or the prior contents put them.
    NoSpuriousZeros,
    /// Visible contents never show stale disk data, another file's or offset's data, or
    /// data a completed truncate or punch removed; checked after every step.
    NoStaleExposure,
    /// A completed write's block is not left Unwritten at quiescence.
    CompletedWritesConverted,
    /// `i_unwritten`, `i_dio_count`, `i_ioend_count` 0 at quiescence; every sleeper woken.
    CounterConsistency,
    /// No block under an in-flight bio or a pending conversion is freed, reused or rewritten
    /// from a stale page by truncate, punch or a failed write's truncate.
    BlockFreeingExclusion,
    /// A clean cached page holds what the disk holds once writes have completed.
    PageCacheCoherence,
    /// `i_size` covers a returned write; after a crash, the size covers committed DIO data.
    SizeRules,
    /// An O_SYNC/O_DSYNC write's range survives a crash when it returns or its event arrives.
    Durability,
    /// Nothing at or past the size limit; `-EFBIG` and SIGXFSZ as `generic_write_checks` says.
    Limits,
    /// The direct/buffered choice, `iocb->private` and the io_end `get_block` flags agree.
    SingleDioDecision,
    /// Mutual exclusion, lock order, locks released, no deadlock, no endless run.
    Locks,
    /// A completed write's data replaced by data older than it.
    LostWrite,
    /// An O_APPEND write lands at the `i_size` read under `i_mutex`; appends never overlap.
    AppendPlacement,
    /// An assertion inside the model fired: a state the model itself says cannot happen.
    ModelAssertion,
    /// A function that may sleep called in bio-completion (interrupt) context.
    SleepInAtomic,
    /// An object used after it was freed.
    UseAfterFree,
}

impl Oracle {
    /// Every oracle.
    pub const ALL: [Oracle; 16] = [
        Oracle::NoSpuriousZeros,
        Oracle::NoStaleExposure,
        Oracle::CompletedWritesConverted,
        Oracle::CounterConsistency,
        Oracle::BlockFreeingExclusion,
        Oracle::PageCacheCoherence,
        Oracle::SizeRules,
        Oracle::Durability,
        Oracle::Limits,
        Oracle::SingleDioDecision,
        Oracle::Locks,
        Oracle::LostWrite,
        Oracle::AppendPlacement,
        Oracle::ModelAssertion,
        Oracle::SleepInAtomic,
        Oracle::UseAfterFree,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Oracle::NoSpuriousZeros => "no-spurious-zeros",
            Oracle::NoStaleExposure => "no-stale-exposure",
            Oracle::CompletedWritesConverted => "completed-writes-converted",
            Oracle::CounterConsistency => "counter-consistency",
            Oracle::BlockFreeingExclusion => "block-freeing-exclusion",
            Oracle::PageCacheCoherence => "page-cache-coherence",
            Oracle::SizeRules => "size-rules",
            Oracle::Durability => "durability",
            Oracle::Limits => "limits",
            Oracle::SingleDioDecision => "single-dio-decision",
            Oracle::Locks => "locks",
            Oracle::LostWrite => "lost-write",
            Oracle::AppendPlacement => "append-placement",
            Oracle::ModelAssertion => "model-assertion",
            Oracle::SleepInAtomic => "sleep-in-atomic",
            Oracle::UseAfterFree => "use-after-free",
        }
    }

    /// The oracle of a kebab-case name.
    pub fn from_name(name: &str) -> Option<Oracle> {
        Oracle::ALL.into_iter().find(|o| o.name() == name)
    }
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken oracle: which, what was seen, and who was involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The oracle.
    pub oracle: Oracle,
    /// What was seen, in ext4 terms.
    pub message: String,
    /// The actors involved.
    pub actors: Vec<u8>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.oracle, self.message)?;
        if self.actors.is_empty() {
            return Ok(());
        }
        let actors: Vec<String> = self.actors.iter().map(|a| format!("a{a}")).collect();
        write!(f, " (actors {})", actors.join(" "))
    }
}

/// A violation of `oracle` by `actors`.
pub(crate) fn violation(oracle: Oracle, actors: Vec<u8>, message: String) -> Result<(), Violation> {
    Err(Violation {
        oracle,
        message,
        actors,
    })
}

/// Watches one run: records what happens ([`History`]) and checks the oracles.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Observer {
    history: History,
    /// The inputs of the last passing step, to skip checks whose inputs did not change.
    memo: Memo,
}

impl Observer {
    /// An observer for a run starting at `initial`, skipping checks whose inputs did not
    /// change ([`Checking::Incremental`]).
    pub fn new(initial: &State) -> Observer {
        Observer::checking(initial, Checking::default())
    }

    /// An observer for a run starting at `initial` that checks as `checking` says
    /// ([`Checking::Every`]: every check after every step, the slow twin).
    pub fn checking(initial: &State, checking: Checking) -> Observer {
        Observer {
            history: History::new(initial),
            memo: Memo::new(checking),
        }
    }

    /// The record of the run so far (for the twin tests, which compare two observers' records
    /// step by step).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// What the oracles still need of the run so far, with step numbers replaced by their
    /// ranks: two paths to one state with the same order of events look alike (for the
    /// visited set of the breadth-first search).
    pub fn summary(&self) -> impl std::hash::Hash + '_ {
        self.history.summary()
    }

    /// Keeps of the history's step numbers only what the oracles can still read of them
    /// ([`History::forget_unread_order`]; `state` is the state it was judged on): for the
    /// reduced searches' visited key, on a copy.
    pub fn forget_unread_order(&mut self, state: &State) {
        self.history.forget_unread_order(state);
    }

    /// [`Observer::forget_unread_order`] with one rule of the audit left out
    /// ([`History::forget_unread_order_dropping`]): an unsound key, for the tests.
    #[doc(hidden)]
    pub fn forget_unread_order_dropping(&mut self, state: &State, rule: history::OrderRule) {
        self.history.forget_unread_order_dropping(state, rule);
    }

    /// [`Observer::summary`] of this observer's copy with its object identifiers named by
    /// `n` and its order forgotten ([`Observer::forget_unread_order`] on `state`), read in
    /// place ([`History::canonical_summary`]): the symmetry key's history, without the copy.
    /// `n` must keep the identifiers' order, as the symmetry key's ranks do.
    pub fn canonical_summary<'a, N: crate::fingerprint::Naming>(
        &'a self,
        state: &State,
        n: &'a N,
    ) -> history::CanonicalSummary<'a, N> {
        self.history.canonical_summary(state, n)
    }

    /// Forgets the history's order of events entirely ([`History::forget_all_order_for_tests`]):
    /// an unsound key, for the tests.
    pub fn forget_all_order_for_tests(&mut self) {
        self.history.forget_all_order_for_tests();
    }

    /// Checks the oracles after `event` was applied to `state`. Unless the observer checks
    /// everything after every step ([`Checking::Every`]), the exposure and limits checks are
    /// skipped when what they read equals what they read at the last passing step
    /// ([`memo`]): they would pass again. Which parts may differ, the bookkeeping and the
    /// memo learn from the state's change mark ([`model::mark`]): the bookkeeping of an
    /// actor, the bios or the io_ends the step left untouched is skipped, and of the memo's
    /// inputs only the touched parts are compared; the exposure walk is skipped too when only
    /// writes changed whose data it judged nowhere ([`Memo::walk_unaffected`]), and the
    /// check of the blocks under bios and conversions when neither they nor any block map
    /// changed ([`blocks::in_flight_inputs_changed`]). A step that breaks an oracle leaves the
    /// bookkeeping after the broken check undone, so the memo goes cold: an observer used
    /// again after a violation takes every part for touched on its next step.
    pub fn after_step(&mut self, state: &State, event: &Event) -> Result<(), Violation> {
        let verdict = self.check_step(state, event);
        if verdict.is_err() {
            self.memo.go_cold();
        }
        verdict
    }

    /// [`Observer::after_step`]'s checks and bookkeeping, stopping at the first violation.
    fn check_step(&mut self, state: &State, event: &Event) -> Result<(), Violation> {
        let touched = self.memo.touched(state, event);
        let h = &mut self.history;
        h.begin_step();
        let mut noted = h.note_starts(state, touched);
        let ranges = h.note_ranges(state, touched);
        noted |= !ranges.is_empty();
        for tag in ranges {
            protocol::check_range(h, state, tag)?;
        }
        blocks::check_rewrites(h, state, event)?;
        let bios = h.note_bios(state, event, self.memo.checking(), touched);
        noted |= bios.failed;
        h.note_conversions(state, touched);
        let finished = h.note_finished(state, touched);
        noted |= !finished.is_empty();
        for finished in finished {
            self.finished(state, finished)?;
        }
        let events = self.history.note_events(state, touched);
        noted |= !events.is_empty();
        for tag in events {
            self.write_completed(state, tag)?;
        }
        protocol::check_hazard(event)?;
        let h = &self.history;
        let unchanged = self.memo.unchanged(state, h, touched, noted);
        if blocks::in_flight_inputs_changed(state, touched, bios.bios) {
            blocks::check_in_flight(h, state)?;
        }
        match self.memo.checking() {
            Checking::Every => contents::check_exposure_simple(h, state)?,
            _ if unchanged.state && unchanged.history() => {}
            _ => self.memo.check_exposure(h, state, unchanged)?,
        }
        protocol::check_frames(state, event)?;
        if !unchanged.state {
            protocol::check_limits(state)?;
        }
        self.history.end_step(state);
        self.memo.passed(state, &self.history, unchanged, touched);
        Ok(())
    }

    /// Whether the next step compares with the inputs remembered at the last passing step
    /// (false for an observer new, cloned, or used after a violation).
    pub fn is_warm(&self) -> bool {
        self.memo.is_warm()
    }

    /// Checks what must hold when a run ended as `end` (under [`Checking::Every`] with the
    /// quiescence check's slow twin, [`contents::check_at_rest_simple`]).
    pub fn at_end(&self, state: &State, end: &End) -> Result<(), Violation> {
        protocol::check_end(state, end)?;
        if *end == End::Done {
            protocol::check_counters_at_rest(state)?;
            match self.memo.checking() {
                Checking::Every => contents::check_at_rest_simple(&self.history, state)?,
                _ => contents::check_at_rest(&self.history, state)?,
            }
        }
        Ok(())
    }

    /// An operation returned.
    fn finished(&mut self, state: &State, finished: history::Finished) -> Result<(), Violation> {
        protocol::check_locks_released(state, finished.actor)?;
        match finished.what {
            history::FinishedOp::Read { inode, pos } => {
                let data = match &state.actors[finished.actor as usize].results[finished.op] {
                    model::ops::OpResult::Read(data) => data.as_slice(),
                    _ => &[],
                };
                let reader = (finished.actor, finished.start);
                contents::check_read(&self.history, state, reader, (inode, pos), data)
            }
            history::FinishedOp::Write { tag } => {
                protocol::check_write_return(&self.history, state, tag)?;
                if self.history.write(tag).completed.is_some() {
                    self.write_completed(state, tag)?;
                }
                Ok(())
            }
            history::FinishedOp::Crash => {
                durability::check_crash(&self.history, state)?;
                self.history.new_epoch(state);
                Ok(())
            }
            history::FinishedOp::Other => Ok(()),
        }
    }

    /// A write's data is promised from now on (its return, or its AIO event).
    fn write_completed(&mut self, state: &State, tag: u8) -> Result<(), Violation> {
        let h = &self.history;
        let w = h.write(tag);
        if w.done.is_none() {
            return Ok(());
        }
        if w.direct {
            contents::check_coherence_after(h, state, tag)?;
        }
        if w.sync {
            durability::check_durable(h, state, tag)?;
        }
        protocol::check_appends(h, tag)
    }
}

crate::codec::record! {
    Observer { history, memo }
}
