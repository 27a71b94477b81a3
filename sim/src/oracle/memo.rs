//! Skipping a per-step check whose inputs did not change. A check is a function of what it
//! reads; after a step that passed every check, the observer remembers those inputs, and on a
//! later step a check whose inputs are equal to the remembered ones would pass again, so it
//! is skipped. Nothing here knows the model's steps: which inputs may have changed comes from
//! the state's change mark ([`model::mark`], set where the state is written, never guessed
//! from what a step did), and of those parts the inputs are compared field by field; a part
//! the mark leaves out is as remembered. The history's inputs are compared only when this
//! step's bookkeeping recorded something that may change them.
//!
//! Two checks are skipped this way, both reading only `StateInputs` and, for the exposure
//! check, `HistoryInputs`:
//! - `no-stale-exposure` after a step ([`super::contents::check_exposure`]): the page cache,
//!   the block maps, the disk's sectors, `i_size`, the locks a read waits for, and the
//!   history's writes, truncates and punches, failed bios and prior contents;
//! - `limits` ([`super::protocol::check_limits`]): the geometry, and each inode's `i_size`,
//!   extent flag and block map.
//!
//! The history's bio bookkeeping (`History::note_bios`) skips the same way: when the bios in
//! flight are the recorded ones (the same ids) nothing is new or gone, and the set of dirty
//! blocks under direct I/O is rebuilt only when it no longer holds what a rebuild would give.
//!
//! When the exposure check does run, it skips the offsets whose values passed under equal
//! history inputs ([`super::contents::PassedOffsets`], kept beside the remembered history
//! inputs, [`Memo::passed_offsets`]): all of them while those inputs are as remembered, those
//! judged on no write's data when only the writes changed, none otherwise.
//!
//! [`Checking::Every`] keeps the simple path, every check after every step, as the slow twin
//! (`sim/tests/oracle_twins.rs` runs both and demands the same verdicts at the same steps).

use model::exec::{Event, Task};
use model::fs::ext4::extents::{ExtentState, Extents};
use model::fs::ext4::super_::{Geometry, Mount};
use model::mark::Touched;
use model::state::{Data, Inode, InodeIx, Page, Sectors, State};

use super::Violation;
use super::contents::{PassedOffsets, Reads, TagMask, check_exposure_cached, tag_bit};
use super::history::{History, Step, WriteRecord, ZeroMaker};
use crate::codec::Codec;

/// How an observer runs its per-step checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Wrong on purpose: as [`Checking::Incremental`], but the history takes the bios in
    /// flight for the recorded ones whenever the oldest bio in flight is the same, missing
    /// bios submitted after it.
    #[doc(hidden)]
    WrongBioSkipForTests,
    /// Wrong on purpose: as [`Checking::Incremental`], but the history never rebuilds its set
    /// of dirty blocks under direct I/O while a direct I/O bio stays in flight.
    #[doc(hidden)]
    WrongDirtySkipForTests,
    /// Wrong on purpose: as [`Checking::Incremental`], but of the actors' parts of the change
    /// mark only the stepping actor's is believed, as if no other task could write an actor
    /// (a completion delivering an AIO event to its submitter does).
    #[doc(hidden)]
    WrongMarkSkipForTests,
    /// Wrong on purpose: as [`Checking::Incremental`], but the exposure walk is skipped
    /// whenever the state's inputs are as remembered, whatever changed in the history (the
    /// truncates and punches, the writes whose data the last walk judged).
    #[doc(hidden)]
    WrongWalkSkipForTests,
}

/// What the exposure and limits checks read of the state.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StateInputs {
    geometry: Geometry,
    mount: Mount,
    inodes: Vec<InodeInputs>,
}

/// What the exposure and limits checks read of one inode: of its locks and flags only what
/// decides which reads run now ([`Reads`]: whether `i_mutex` is held matters only while
/// `invalidate_lock` is held for write, so a lock or unlock of `i_mutex` alone leaves the
/// inputs as they were), the block map's extents
/// (`ExtentMap::pblk` answers from them alone), the disk only through the written extents
/// ([`super::contents::on_disk`]), so only their sectors, in extent order, and of each cached
/// page its index, its data and whether it is dirty or under writeback
/// ([`super::contents::direct_view`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct InodeInputs {
    i_size: u64,
    extents: bool,
    reads: Reads,
    map: Extents,
    pages: Vec<PageInputs>,
    written: Vec<Data>,
}

/// What the exposure check reads of a cached page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PageInputs {
    index: u64,
    busy: bool,
    data: Sectors,
}

impl PageInputs {
    fn matches(&self, index: u64, page: &Page) -> bool {
        self.index == index && self.busy == busy(page) && self.data == page.data
    }
}

/// A direct read flushes or waits for the page rather than read the disk under it.
fn busy(page: &Page) -> bool {
    page.dirty != 0 || page.writeback > 0
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

/// Which of an inode's inputs may have changed since they were remembered: its block map,
/// its page cache, the disk sectors under its written extents (the mark's parts).
#[derive(Clone, Copy, Debug)]
struct Parts {
    map: bool,
    pages: bool,
    written: bool,
}

impl Parts {
    /// Inode `ix`'s parts the mark reports touched (the written sectors move with the disk's
    /// sectors and with the block map).
    fn of(touched: Touched, ix: InodeIx) -> Parts {
        Parts {
            map: touched.map(ix),
            pages: touched.pages(ix),
            written: touched.sectors() || touched.map(ix),
        }
    }
}

impl InodeInputs {
    /// Remembers the scalars and the parts in `parts` (the others are as remembered).
    fn remember(&mut self, state: &State, ix: InodeIx, parts: Parts) {
        let ino = &state.inodes[ix];
        self.i_size = ino.i_size;
        self.extents = ino.extents;
        self.reads = Reads::of(state, ix);
        if parts.map {
            self.map = ino.map.extents.clone();
        }
        if parts.pages {
            self.pages.resize_with(ino.pages.len(), PageInputs::default);
            for (memo, (&index, page)) in self.pages.iter_mut().zip(&ino.pages) {
                memo.index = index;
                memo.busy = busy(page);
                memo.data = page.data.clone();
            }
        }
        if parts.written {
            self.written.clear();
            for chunk in written_sectors(state, ino) {
                self.written.extend_from_slice(chunk.unwrap_or_default());
            }
        }
    }

    /// The inode's inputs are as remembered: the scalars compared, and of the parts only
    /// those in `parts` (the others are unchanged since remembered).
    fn matches(&self, state: &State, ix: InodeIx, full: bool, parts: Parts) -> bool {
        let ino = &state.inodes[ix];
        if !full {
            return self.map == ino.map.extents;
        }
        let same = self.i_size == ino.i_size
            && self.extents == ino.extents
            && self.reads == Reads::of(state, ix)
            && (!parts.map || self.map == ino.map.extents)
            && (!parts.pages || self.pages_match(ino));
        if !same {
            return false;
        }
        !parts.written || self.written_match(state, ino)
    }

    fn pages_match(&self, ino: &Inode) -> bool {
        self.pages.len() == ino.pages.len()
            && (self.pages.iter().zip(&ino.pages)).all(|(m, (&i, p))| m.matches(i, p))
    }

    fn written_match(&self, state: &State, ino: &Inode) -> bool {
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
    /// Remembers the inputs the mark says may have changed (all of them for inodes not
    /// remembered before).
    fn remember(&mut self, state: &State, touched: Touched) {
        self.geometry = state.geometry;
        self.mount = state.mount;
        let touched = match self.inodes.len() == state.inodes.len() {
            true => touched,
            false => Touched::ALL,
        };
        self.inodes
            .resize_with(state.inodes.len(), InodeInputs::default);
        for (ix, memo) in self.inodes.iter_mut().enumerate() {
            memo.remember(state, ix, Parts::of(touched, ix));
        }
    }

    /// The state's inputs are as remembered (`full`: all of them; the wrong skip of
    /// [`Checking::WrongSkipForTests`] looks at the block maps alone), given that only the
    /// parts `touched` reports may differ.
    fn matches(&self, state: &State, full: bool, touched: Touched) -> bool {
        self.geometry == state.geometry
            && self.mount == state.mount
            && self.inodes.len() == state.inodes.len()
            && (self.inodes.iter().enumerate())
                .all(|(ix, i)| i.matches(state, ix, full, Parts::of(touched, ix)))
    }
}

/// What the exposure check reads of the history: of each write its tag, file, whether it
/// belongs to the epoch, and of an epoch write its range and, while there are truncates or
/// punches (only they read it), its completion; the truncates and punches; where a failed
/// bio's data did not land (the keys of `failed`). The prior contents are not compared: they
/// are replaced only when a crash starts a new epoch, which moves `epoch` to that step (at
/// most one crash returns a step), so an equal `epoch` means the same prior contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HistoryInputs {
    block_bits: u32,
    epoch: Step,
    writes: Vec<WriteInputs>,
    zero_makers: Vec<ZeroMaker>,
    failed: Vec<(InodeIx, u64)>,
}

/// What the exposure check reads of a write: its tag, file, whether it started in the
/// epoch, and if so its range and (only read against a truncate or punch) its completion.
type WriteInputs = (u8, InodeIx, bool, Option<(u64, u64)>, Option<Step>);

/// [`WriteInputs`] of write `tag` of `h` (`exposure` reads nothing else of it: the actor
/// only for a message, the start only against the epoch).
fn write_inputs(h: &History, (&tag, w): (&u8, &WriteRecord)) -> WriteInputs {
    let in_epoch = w.start.is_some_and(|s| s > h.epoch);
    let removers = !h.zero_makers.is_empty();
    let range = w.range.filter(|_| in_epoch);
    let completed = w.completed.filter(|_| in_epoch && removers);
    (tag, w.inode, in_epoch, range, completed)
}

impl HistoryInputs {
    fn remember(&mut self, h: &History) {
        self.block_bits = h.block_bits;
        self.epoch = h.epoch;
        self.writes.clear();
        self.writes
            .extend(h.writes.iter().map(|w| write_inputs(h, w)));
        self.zero_makers.clone_from(&h.zero_makers);
        self.failed.clear();
        self.failed.extend(h.failed.keys().copied());
    }

    /// How `h` differs from what is remembered.
    fn diff(&self, h: &History) -> HistoryDiff {
        if !self.matches_but_writes(h) || self.writes.len() != h.writes.len() {
            return HistoryDiff::Other;
        }
        let mut tags = 0;
        for (m, w) in self.writes.iter().zip(h.writes.iter()) {
            if *m != write_inputs(h, w) {
                tags |= tag_bit(m.0) | tag_bit(*w.0);
            }
        }
        match tags {
            0 => HistoryDiff::Same,
            tags => HistoryDiff::Writes(tags),
        }
    }

    /// As remembered in all but the writes: what the exposure check reads of the history
    /// for a value that is not a write's data (the epoch's prior contents, the truncates and
    /// punches, the failed bios).
    fn matches_but_writes(&self, h: &History) -> bool {
        self.block_bits == h.block_bits
            && self.epoch == h.epoch
            && self.zero_makers == h.zero_makers
            && self.failed.len() == h.failed.len()
            && self.failed.iter().zip(h.failed.keys()).all(|(m, k)| m == k)
    }
}

/// How the history's inputs to the exposure check differ from the remembered ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryDiff {
    /// Not at all.
    Same,
    /// Only in the writes of these tags ([`TagMask`]).
    Writes(TagMask),
    /// Elsewhere too, or nothing is remembered.
    Other,
}

/// The inputs of the last passing step, and which checks this step may skip. Encoded (for
/// the breadth-first search's queue) it keeps only the way of checking, as a clone does.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Memo {
    checking: Checking,
    /// The observer has passed a step since it was made or cloned: only then is it worth
    /// remembering inputs (a breadth-first search clones an observer for every step it
    /// takes, and a memo there would cost memory and never be used).
    #[serde(skip)]
    warm: bool,
    #[serde(skip)]
    state: Option<Box<StateInputs>>,
    #[serde(skip)]
    history: Option<Box<HistoryMemo>>,
}

/// The history's remembered inputs, and the offsets that passed the exposure check under
/// them.
#[derive(Debug, Default)]
struct HistoryMemo {
    inputs: HistoryInputs,
    passed: PassedOffsets,
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
    /// `StateInputs` are as remembered.
    pub state: bool,
    /// How `HistoryInputs` differ from the remembered ones.
    pub diff: HistoryDiff,
}

impl Unchanged {
    /// `HistoryInputs` are as remembered.
    pub fn history(self) -> bool {
        self.diff == HistoryDiff::Same
    }
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

    /// Forgets what the observer saw, as a clone does: its next step takes every part for
    /// touched and compares nothing with remembered inputs.
    pub fn go_cold(&mut self) {
        *self = Memo::new(self.checking);
    }

    /// Whether the next step compares with remembered inputs (the memo has passed a step
    /// since it was made, cloned or went cold).
    pub fn is_warm(&self) -> bool {
        self.warm
    }

    /// How the observer checks.
    pub fn checking(&self) -> Checking {
        self.checking
    }

    /// The parts of `state` that may differ from those the observer saw before `event`:
    /// the state's change mark ([`State::touched`]: the step's and whatever was written after
    /// it), or everything under [`Checking::Every`] and for an observer new or cloned (it may
    /// not have seen the state before this step).
    pub fn touched(&self, state: &State, event: &Event) -> Touched {
        match self.checking {
            Checking::Every => Touched::ALL,
            _ if !self.warm => Touched::ALL,
            Checking::WrongMarkSkipForTests => {
                let actor = match event.task {
                    Task::Actor(a) => Some(a),
                    _ => None,
                };
                state.touched().only_actor_for_tests(actor)
            }
            _ => state.touched(),
        }
    }

    /// What is unchanged since the last passing step (nothing under [`Checking::Every`]),
    /// comparing only what `touched` reports may have changed. `noted`: the history's
    /// bookkeeping of this step recorded something that may change the history's inputs (an
    /// operation started, got its range, returned or got its event; where failed data did
    /// not land; a truncate's or punch's range was pending); else they are as at the last step, so as
    /// remembered. (Anything else that changes a history does so on a copy, whose memo
    /// starts cold.)
    pub fn unchanged(
        &self,
        state: &State,
        h: &History,
        touched: Touched,
        noted: bool,
    ) -> Unchanged {
        let full = self.checking != Checking::WrongSkipForTests;
        let state_same = (self.state.as_ref()).is_some_and(|s| s.matches(state, full, touched));
        let diff = match (self.checking, self.history.as_ref()) {
            (Checking::WrongSkipForTests, _) => HistoryDiff::Same,
            (_, None) => HistoryDiff::Other,
            (_, Some(_)) if !noted => HistoryDiff::Same,
            (_, Some(m)) => m.inputs.diff(h),
        };
        Unchanged {
            state: state_same,
            diff,
        }
    }

    /// The offsets that passed the exposure check and would pass again under the history
    /// `unchanged` was judged on: all of them when the history's inputs are as remembered
    /// (those of the last passing step, under which the offsets held were judged); when
    /// only some writes differ, those judged on values none of which is the data of one of
    /// them (a verdict on a write's data reads that write alone of the writes); none
    /// otherwise. None while nothing is remembered, and under
    /// [`Checking::WrongSkipForTests`], whose unchanged history is assumed, not compared.
    pub fn passed_offsets(&mut self, unchanged: Unchanged) -> Option<&mut PassedOffsets> {
        if self.checking == Checking::WrongSkipForTests {
            return None;
        }
        let memo = self.history.as_mut()?;
        match unchanged.diff {
            HistoryDiff::Same => {}
            HistoryDiff::Writes(tags) => memo.passed.forget_tags(tags),
            HistoryDiff::Other => memo.passed.clear(),
        }
        Some(&mut memo.passed)
    }

    /// `no-stale-exposure` after a step whose inputs to it are not all `unchanged`: taking
    /// as judged the offsets that passed under equal inputs, and no walk at all when it would
    /// judge nothing anew ([`Memo::walk_unaffected`]).
    pub fn check_exposure(
        &mut self,
        h: &History,
        state: &State,
        unchanged: Unchanged,
    ) -> Result<(), Violation> {
        let checking = self.checking;
        let passed = self.passed_offsets(unchanged);
        if let Some(p) = &passed
            && Memo::walk_unaffected(checking, p, unchanged)
        {
            return Ok(());
        }
        check_exposure_cached(h, state, passed)
    }

    /// The exposure check would pass again without a walk: the state's inputs are as
    /// remembered, so a walk would judge the very offsets and values of the last walk (made
    /// with `offsets`: every walk is, once the history is remembered), and of the history's
    /// inputs at most writes changed whose data that walk judged nowhere; each verdict reads
    /// of the writes only its value's own. ([`Checking::WrongWalkSkipForTests`] ignores the
    /// history here.)
    pub fn walk_unaffected(
        checking: Checking,
        offsets: &PassedOffsets,
        unchanged: Unchanged,
    ) -> bool {
        unchanged.state
            && match (checking, unchanged.diff) {
                (Checking::WrongWalkSkipForTests, _) | (_, HistoryDiff::Same) => true,
                (_, HistoryDiff::Writes(tags)) => offsets.walked().is_some_and(|w| w & tags == 0),
                (_, HistoryDiff::Other) => false,
            }
    }

    /// The step passed every check: remember its inputs (what changed of them) for the next.
    pub fn passed(&mut self, state: &State, h: &History, unchanged: Unchanged, touched: Touched) {
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
            memo.remember(state, touched);
        }
        if !unchanged.history() || self.history.is_none() {
            let memo = self.history.get_or_insert_with(Box::default);
            memo.inputs.remember(h);
        }
    }
}

/// Only the way of checking, as serde writes it: a decoded memo is cold, as a clone is.
impl Codec for Memo {
    fn put(&self, out: &mut Vec<u8>) {
        let Memo {
            checking,
            warm: _,
            state: _,
            history: _,
        } = self;
        checking.put(out);
    }
    fn take(input: &mut &[u8]) -> Memo {
        Memo::new(Checking::take(input))
    }
}

/// One byte.
impl Codec for Checking {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(match self {
            Checking::Every => 0,
            Checking::Incremental => 1,
            Checking::WrongSkipForTests => 2,
            Checking::WrongBioSkipForTests => 3,
            Checking::WrongDirtySkipForTests => 4,
            Checking::WrongMarkSkipForTests => 5,
            Checking::WrongWalkSkipForTests => 6,
        });
    }
    fn take(input: &mut &[u8]) -> Checking {
        match u8::take(input) {
            0 => Checking::Every,
            1 => Checking::Incremental,
            2 => Checking::WrongSkipForTests,
            3 => Checking::WrongBioSkipForTests,
            4 => Checking::WrongDirtySkipForTests,
            5 => Checking::WrongMarkSkipForTests,
            6 => Checking::WrongWalkSkipForTests,
            _ => panic!("{}", crate::codec::MALFORMED),
        }
    }
}
