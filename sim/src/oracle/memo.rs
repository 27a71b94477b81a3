//! Skipping a per-step check whose inputs did not change. A check is a function of what it
//! reads; after a step that passed every check, the observer remembers those inputs, and on a
//! later step a check whose inputs are equal to the remembered ones would pass again, so it
//! is skipped. Nothing here knows the model's steps: the inputs are compared field by field,
//! never guessed from what a step did.
//!
//! Two checks are skipped this way, both reading only [`StateInputs`] and, for the exposure
//! check, [`HistoryInputs`]:
//! - `no-stale-exposure` after a step ([`super::contents::check_exposure`]): the page cache,
//!   the block maps, the disk's sectors, `i_size`, the locks a read waits for, and the
//!   history's writes, truncates and punches, failed bios and prior contents;
//! - `limits` ([`super::protocol::check_limits`]): the geometry, and each inode's `i_size`,
//!   extent flag and block map.
//!
//! [`Checking::Every`] keeps the simple path, every check after every step, as the slow twin
//! (`sim/tests/oracle_twins.rs` runs both and demands the same verdicts at the same steps).

use std::collections::{BTreeMap, BTreeSet};

use model::extent::{ExtentMap, ExtentState};
use model::geometry::{Geometry, Mount};
use model::state::{Data, Inode, InodeIx, Page, State};

use super::history::{History, Step, WriteRecord, ZeroMaker};

/// How an observer runs its per-step checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Checking {
    /// Every check after every step: the simple reference, the slow twin.
    Every,
    /// A check is skipped when its inputs equal those of its last pass (this module).
    #[default]
    Incremental,
    /// Wrong on purpose, for the differential test to show it can fail: as
    /// [`Checking::Incremental`], but the exposure and limits checks are skipped whenever
    /// the block maps are unchanged, forgetting the page cache, the disk, `i_size` and the
    /// history they read too.
    #[doc(hidden)]
    WrongSkipForTests,
}

/// What the exposure and limits checks read of the state.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StateInputs {
    geometry: Geometry,
    mount: Mount,
    inodes: Vec<InodeInputs>,
}

/// What the exposure and limits checks read of one inode: the disk only through its written
/// extents ([`super::contents::on_disk`]), so only their sectors, in extent order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct InodeInputs {
    i_size: u64,
    extents: bool,
    state_dioread_lock: bool,
    i_mutex_held: bool,
    invalidate_writer: bool,
    map: ExtentMap,
    pages: BTreeMap<u64, Page>,
    written: Vec<Data>,
}

/// The disk sectors of each written extent of `ino`, in extent order (`None` for an extent
/// off the disk: then nothing is remembered or matched).
fn written_sectors<'s>(
    state: &'s State,
    ino: &'s Inode,
) -> impl Iterator<Item = Option<&'s [Data]>> + 's {
    let spb = state.geometry.sectors_per_block() as usize;
    ino.map
        .extents
        .iter()
        .filter(|e| e.state == ExtentState::Written)
        .map(move |e| {
            let from = e.pblk as usize * spb;
            state.disk.sectors.get(from..from + e.len as usize * spb)
        })
}

impl InodeInputs {
    fn remember(&mut self, state: &State, ino: &Inode) {
        self.i_size = ino.i_size;
        self.extents = ino.extents;
        self.state_dioread_lock = ino.state_dioread_lock;
        self.i_mutex_held = ino.i_mutex.is_some();
        self.invalidate_writer = ino.invalidate_lock.writer;
        self.map.extents.clone_from(&ino.map.extents);
        self.map.delayed.clone_from(&ino.map.delayed);
        if self.pages != ino.pages {
            self.pages.clone_from(&ino.pages);
        }
        self.written.clear();
        for chunk in written_sectors(state, ino) {
            self.written.extend_from_slice(chunk.unwrap_or_default());
        }
    }

    fn matches(&self, state: &State, ino: &Inode, full: bool) -> bool {
        if !full {
            return self.map == ino.map;
        }
        let same = self.i_size == ino.i_size
            && self.extents == ino.extents
            && self.state_dioread_lock == ino.state_dioread_lock
            && self.i_mutex_held == ino.i_mutex.is_some()
            && self.invalidate_writer == ino.invalidate_lock.writer
            && self.map == ino.map
            && self.pages == ino.pages;
        if !same {
            return false;
        }
        let mut at = 0;
        for chunk in written_sectors(state, ino) {
            let Some(chunk) = chunk else { return false };
            if self.written.get(at..at + chunk.len()) != Some(chunk) {
                return false;
            }
            at += chunk.len();
        }
        at == self.written.len()
    }
}

impl StateInputs {
    fn remember(&mut self, state: &State) {
        self.geometry = state.geometry;
        self.mount = state.mount;
        self.inodes
            .resize_with(state.inodes.len(), InodeInputs::default);
        for (memo, ino) in self.inodes.iter_mut().zip(&state.inodes) {
            memo.remember(state, ino);
        }
    }

    /// The state's inputs are as remembered (`full`: all of them; the wrong skip of
    /// [`Checking::WrongSkipForTests`] looks at the block maps alone).
    fn matches(&self, state: &State, full: bool) -> bool {
        self.geometry == state.geometry
            && self.mount == state.mount
            && self.inodes.len() == state.inodes.len()
            && self
                .inodes
                .iter()
                .zip(&state.inodes)
                .all(|(i, s)| i.matches(state, s, full))
    }
}

/// What the exposure check reads of the history. The prior contents are not compared: they
/// are replaced only when a crash starts a new epoch, which moves `epoch` to that step (at
/// most one crash returns a step), so an equal `epoch` means the same prior contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HistoryInputs {
    block_bits: u32,
    epoch: Step,
    writes: BTreeMap<u8, WriteRecord>,
    zero_makers: Vec<ZeroMaker>,
    failed: BTreeMap<(InodeIx, u64), BTreeSet<Data>>,
}

impl HistoryInputs {
    fn remember(&mut self, h: &History) {
        self.block_bits = h.block_bits;
        self.epoch = h.epoch;
        if self.writes != h.writes {
            self.writes.clone_from(&h.writes);
        }
        self.zero_makers.clone_from(&h.zero_makers);
        if self.failed != h.failed {
            self.failed.clone_from(&h.failed);
        }
    }

    fn matches(&self, h: &History) -> bool {
        self.block_bits == h.block_bits
            && self.epoch == h.epoch
            && self.writes == h.writes
            && self.zero_makers == h.zero_makers
            && self.failed == h.failed
    }
}

/// The inputs of the last passing step, and which checks this step may skip.
#[derive(Debug, Default)]
pub struct Memo {
    checking: Checking,
    /// The observer has passed a step since it was made or cloned: only then is it worth
    /// remembering inputs (a breadth-first search clones an observer for every step it
    /// takes, and a memo there would cost memory and never be used).
    warm: bool,
    state: Option<Box<StateInputs>>,
    history: Option<Box<HistoryInputs>>,
}

/// A clone starts cold: it keeps the way of checking, not the remembered inputs.
impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::new(self.checking)
    }
}

/// Which checks a step may skip: their inputs equal those of the last passing step.
#[derive(Clone, Copy, Debug)]
pub struct Unchanged {
    /// [`StateInputs`] are as remembered.
    pub state: bool,
    /// [`HistoryInputs`] are as remembered.
    pub history: bool,
}

impl Memo {
    /// A cold memo for `checking`.
    pub fn new(checking: Checking) -> Memo {
        Memo {
            checking,
            warm: false,
            state: None,
            history: None,
        }
    }

    /// How the observer checks.
    pub fn checking(&self) -> Checking {
        self.checking
    }

    /// What is unchanged since the last passing step (nothing under [`Checking::Every`]).
    pub fn unchanged(&self, state: &State, h: &History) -> Unchanged {
        let full = self.checking != Checking::WrongSkipForTests;
        let state_same = self.state.as_ref().is_some_and(|s| s.matches(state, full));
        let history_same = match self.checking {
            Checking::WrongSkipForTests => true,
            _ => self.history.as_ref().is_some_and(|m| m.matches(h)),
        };
        Unchanged {
            state: state_same,
            history: history_same,
        }
    }

    /// The step passed every check: remember its inputs (what changed of them) for the next.
    pub fn passed(&mut self, state: &State, h: &History, unchanged: Unchanged) {
        if self.checking == Checking::Every {
            return;
        }
        if !self.warm {
            self.warm = true;
            return;
        }
        if !unchanged.state {
            let memo = self.state.get_or_insert_with(|| {
                Box::new(StateInputs {
                    geometry: state.geometry,
                    mount: state.mount,
                    inodes: Vec::new(),
                })
            });
            memo.remember(state);
        }
        if !unchanged.history || self.history.is_none() {
            let memo = self.history.get_or_insert_with(Box::default);
            memo.remember(h);
        }
    }
}
