//! The file-contents oracles: what a read may return.
//!
//! - `no-stale-exposure`, after every step and on every read: what a buffered or a direct
//!   read would return below `i_size` is never stale disk data, data of another file or
//!   offset, or data that a truncate or punch which completed after it removed (it may not
//!   come back).
//! - At quiescence, every sector below `i_size` holds a value some order of the operations
//!   allows: the data of a write that nothing completed later overwrote, zeros of a truncate or
//!   punch likewise, or the epoch's prior contents when nothing definitely replaced them.
//!   Otherwise: zeros in an Unwritten block are `completed-writes-converted`, other zeros are
//!   `no-spurious-zeros`, older data is `lost-write`. A write whose data a failed bio carried
//!   replaced nothing: its loss is the error path's, which `durability` judges.
//! - `page-cache-coherence`, when a direct write completes and at quiescence: below `i_size`,
//!   a clean cached page holds what the disk holds, unless the page is the newer (its data's bio failed) or
//!   the sector is still unsettled (a bio in flight, a conversion pending).

use model::fs::ext4::extents::{Extent, ExtentState};
use model::inline_vec::InlineVec;
use model::state::{Data, InodeIx, Page, State};

use super::history::{History, Step, WriteRecord, ZeroMaker};
use super::{Oracle, Violation, violation};

/// What a read of `offset` returns now: the page cache, else the disk through the block map
/// (Unwritten blocks and holes read as zeros).
pub fn visible(state: &State, inode: InodeIx, offset: u64) -> Data {
    let g = state.geometry;
    let ino = &state.inodes[inode];
    match ino.pages.get(&(offset >> g.page_bits)) {
        Some(page) => page.data[((offset & (g.pagesize() - 1)) >> g.sector_bits) as usize],
        None => on_disk(state, inode, offset),
    }
}

/// What the disk holds for `offset` through the block map: a direct read's view.
pub fn on_disk(state: &State, inode: InodeIx, offset: u64) -> Data {
    let g = state.geometry;
    match state.inodes[inode].map.pblk(offset >> g.blkbits) {
        Some((pblk, ExtentState::Written)) => {
            state.disk.sectors[state.psector(pblk, offset) as usize]
        }
        _ => Data::Zero,
    }
}

/// Sector offsets of `inode` that can hold anything but zeros: its mapped blocks and its
/// cached pages (an offset may come twice).
pub fn sectors_of_interest(state: &State, inode: InodeIx) -> impl Iterator<Item = u64> + '_ {
    let g = state.geometry;
    let ino = &state.inodes[inode];
    let sector = g.sectorsize() as usize;
    let blocks = ino
        .map
        .extents
        .iter()
        .flat_map(move |e| (e.lblk << g.blkbits..e.end() << g.blkbits).step_by(sector));
    let pages = ino
        .pages
        .keys()
        .flat_map(move |&index| (index << g.page_bits..(index + 1) << g.page_bits).step_by(sector));
    blocks.chain(pages)
}

/// Why `value` may not show at `offset` of `inode` for a read that started at `since`
/// (`since` past every step: now), if it may not.
fn exposure(h: &History, inode: InodeIx, offset: u64, value: Data, since: Step) -> Option<String> {
    let lblk = offset >> h.block_bits;
    let from_prior = match value {
        Data::Zero => return None,
        Data::Stale(p) => return Some(format!("stale disk contents of block p{p}")),
        Data::Initial { inode: i, lblk: l } if (i as usize, u64::from(l)) != (inode, lblk) => {
            return Some(format!("initial data of inode {i} block {l}"));
        }
        Data::Initial { .. } => None,
        Data::Write(t) => {
            let w = h.write(t);
            let in_epoch = w.start.is_some_and(|s| s > h.epoch);
            let covers = w.range.is_some_and(|(f, to)| f <= offset && offset < to);
            if w.inode != inode || (in_epoch && !covers) {
                return Some(format!("data of write {t} (a{}) from elsewhere", w.actor));
            }
            in_epoch.then_some(w.completed)
        }
    };
    // `from_prior`: None for the epoch's prior contents, Some(completed) for a write.
    if from_prior.is_none() && !h.prior.allows(inode, offset, value) {
        return Some(format!(
            "{} which the file did not hold when the epoch began (a freed block's old contents)",
            describe(value)
        ));
    }
    let remover = h.zero_makers.iter().find(|m| {
        m.inode == inode
            && m.from <= offset
            && offset < m.to
            && m.end.is_some_and(|e| e < since)
            && !zeros_lost(h, m, offset)
            && from_prior.is_none_or(|completed| History::precedes(completed, m.start))
    })?;
    Some(format!(
        "{} which the truncate or punch of a{} (trace steps {}..={}) removed",
        describe(value),
        remover.actor,
        History::trace_step(remover.start),
        History::trace_step(remover.end.expect("completed"))
    ))
}

/// Whether the zeros `m` put at `offset` never reached the disk: the block stayed mapped (a
/// truncate or punch frees only whole blocks and zeroes a partial one through the page
/// cache: 4.4.121 fs/ext4/inode.c:ext4_zero_partial_blocks:3604 and
/// ext4_block_truncate_page:3586 -> ext4_block_zero_page_range:3560 ->
/// __ext4_block_zero_page_range: zero_user, mark_buffer_dirty, 3535-3545; upstream still), and
/// the last bio to the sector failed (`-EIO`), so the disk keeps what the block held before
/// the page's zeros and anything written over them. Like a write whose data a failed bio
/// carried, the removal replaced nothing there: its loss is the error path's.
fn zeros_lost(h: &History, m: &ZeroMaker, offset: u64) -> bool {
    let bs = 1u64 << h.block_bits;
    let block = offset & !(bs - 1);
    let whole_block_removed = m.from <= block && block + bs <= m.to;
    !whole_block_removed && h.failed.contains_key(&(m.inode, offset))
}

/// A sector value in words.
pub fn describe(value: Data) -> String {
    match value {
        Data::Zero => "zeros".to_string(),
        Data::Stale(p) => format!("stale data of block p{p}"),
        Data::Initial { inode, lblk } => format!("initial data of inode {inode} block {lblk}"),
        Data::Write(t) => format!("data of write {t}"),
    }
}

/// What an `O_DIRECT` read of `offset` returns now: the disk through the block map, except
/// under a dirty page or one under writeback, which it flushes or waits for first and so
/// reads the page's data.
pub fn direct_view(state: &State, inode: InodeIx, offset: u64) -> Data {
    let g = state.geometry;
    match state.inodes[inode].pages.get(&(offset >> g.page_bits)) {
        Some(page) if page.dirty != 0 || page.writeback > 0 => visible(state, inode, offset),
        _ => on_disk(state, inode, offset),
    }
}

/// Which reads can run now at `offset`: `(buffered, direct)`. While a punch or a truncate
/// holds `mapping->invalidate_lock` for write (only with `d4f5258eae7b`), a buffered read
/// that must bring the page in waits for it (`filemap_create_folio`), and the holder holds
/// `i_mutex`, which a direct read taking the locked path (no dioread_nolock, or
/// `EXT4_STATE_DIOREAD_LOCK` set: fs/ext4/indirect.c:681-693, fs/direct-io.c:1155-1161)
/// waits for: neither returns anything before the lock is released.
fn reads_now(state: &State, inode: InodeIx, offset: u64) -> (bool, bool) {
    let ino = &state.inodes[inode];
    if !ino.invalidate_lock.writer {
        return (true, true);
    }
    let cached = ino
        .pages
        .contains_key(&(offset >> state.geometry.page_bits));
    let locked_path = !state.should_dioread_nolock(inode) || ino.state_dioread_lock;
    (cached, !(locked_path && ino.i_mutex.is_some()))
}

/// `no-stale-exposure` over everything a buffered or a direct read would return now. As
/// [`check_exposure_simple`], offset after offset in the same order (mapped blocks, then
/// cached pages), but each offset once (an offset that comes again has the same verdict,
/// which already passed), a direct view the same as the buffered view just judged is not
/// judged again (`exposure` depends on the value, not on who reads it), zeros not judged at
/// all (they are never exposure), the disk read a block at a time through the extent being
/// walked (no block-map lookup an offset), each page looked up once a run of offsets in it,
/// and whether a cached page's block is mapped asked once a block. The first violation is
/// the same, with the same message.
pub fn check_exposure(h: &History, state: &State) -> Result<(), Violation> {
    check_exposure_cached(h, state, None)
}

/// [`check_exposure`], taking the offsets `passed` holds as judged (with the same values to
/// judge) and adding to it those that pass. `passed` must hold only offsets judged under a
/// history whose inputs to the exposure check equal `h`'s: the verdict of a value reads
/// nothing of the state but the value, so it would pass again.
pub fn check_exposure_cached(
    h: &History,
    state: &State,
    mut passed: Option<&mut PassedOffsets>,
) -> Result<(), Violation> {
    if let Some(p) = passed.as_deref_mut() {
        p.walked = Some(0);
    }
    for inode in 0..state.inodes.len() {
        let mut walk = InodeWalk::of(h, state, inode, passed.as_deref_mut());
        for e in &state.inodes[inode].map.extents {
            walk.extent(e)?;
        }
        walk.unmapped_pages()?;
    }
    Ok(())
}

/// One inode's walk of [`check_exposure`], with what is constant over its offsets.
struct InodeWalk<'s, 'p> {
    h: &'s History,
    state: &'s State,
    inode: InodeIx,
    ino: &'s model::state::Inode,
    reads: Reads,
    passed: Option<&'p mut PassedOffsets>,
}

impl<'s, 'p> InodeWalk<'s, 'p> {
    fn of(
        h: &'s History,
        state: &'s State,
        inode: InodeIx,
        passed: Option<&'p mut PassedOffsets>,
    ) -> InodeWalk<'s, 'p> {
        InodeWalk {
            h,
            state,
            inode,
            ino: &state.inodes[inode],
            reads: Reads::of(state, inode),
            passed,
        }
    }

    /// The offsets of extent `e` below `i_size`, a block at a time: a Written block's
    /// sectors read from the disk at once, an Unwritten block's as zeros.
    fn extent(&mut self, e: &Extent) -> Result<(), Violation> {
        let (state, ino) = (self.state, self.ino);
        let g = state.geometry;
        let spb = g.sectors_per_block() as usize;
        let mut pages = PageCursor::default();
        for lblk in e.lblk..e.end() {
            let disk: &[Data] = match e.state {
                ExtentState::Written => {
                    let from = (e.pblk + (lblk - e.lblk) as u32) as usize * spb;
                    &state.disk.sectors[from..from + spb]
                }
                ExtentState::Unwritten => &[],
            };
            let block = lblk << g.blkbits;
            let offsets = (block..block + g.blocksize()).step_by(g.sectorsize() as usize);
            for (k, offset) in offsets.enumerate() {
                if offset >= ino.i_size {
                    return Ok(());
                }
                let on_disk = disk.get(k).copied().unwrap_or(Data::Zero);
                let page = pages.get(ino, offset >> g.page_bits);
                self.offset(offset, page, on_disk)?;
            }
        }
        Ok(())
    }

    /// The offsets below `i_size` of cached pages whose blocks are not mapped (holes and
    /// delayed blocks: the disk view is zeros).
    fn unmapped_pages(&mut self) -> Result<(), Violation> {
        let (g, ino) = (self.state.geometry, self.ino);
        let mut mapped = MappedCursor::default();
        for (&index, page) in ino.pages.iter() {
            let range = index << g.page_bits..(index + 1) << g.page_bits;
            for offset in range.step_by(g.sectorsize() as usize) {
                if offset >= ino.i_size {
                    break;
                }
                if !mapped.get(ino, offset >> g.blkbits) {
                    self.offset(offset, Some(page), Data::Zero)?;
                }
            }
        }
        Ok(())
    }

    /// [`check_exposure`] at one offset of interest below `i_size`, whose cached page is
    /// `page` and whose disk contents through the block map are `disk`.
    fn offset(&mut self, offset: u64, page: Option<&Page>, disk: Data) -> Result<(), Violation> {
        // `visible` and `direct_view`: a direct read differs from a buffered one only at a
        // clean cached page, where it reads the disk.
        let g = self.state.geometry;
        let buffered = match page {
            Some(page) => page.data[((offset & (g.pagesize() - 1)) >> g.sector_bits) as usize],
            None => disk,
        };
        let direct = match page {
            Some(page) if page.dirty == 0 && page.writeback == 0 => disk,
            _ => buffered,
        };
        let (buffered_runs, direct_runs) = self.reads.now(page.is_some());
        let judged = Judged {
            buffered: if buffered_runs { buffered } else { Data::Zero },
            direct: match direct_runs && !(buffered_runs && direct == buffered) {
                true => direct,
                false => Data::Zero,
            },
        };
        if judged == Judged::NOTHING {
            return Ok(());
        }
        let sector = offset >> g.sector_bits;
        let key = (self.inode, offset, judged);
        if let Some(p) = self.passed.as_mut() {
            let bits = data_bit(judged.buffered) | data_bit(judged.direct);
            p.walked = Some(p.walked.unwrap_or(0) | bits);
            if p.holds(sector, key) {
                return Ok(());
            }
        }
        self.judge(offset, judged.buffered, "a read")?;
        self.judge(offset, judged.direct, "a direct read")?;
        if let Some(p) = self.passed.as_mut() {
            p.insert(sector, key);
        }
        Ok(())
    }

    /// `no-stale-exposure` of `value`, which `read` would return now at `offset` (zeros are
    /// never exposure).
    fn judge(&self, offset: u64, value: Data, read: &str) -> Result<(), Violation> {
        if value == Data::Zero {
            return Ok(());
        }
        match exposure(self.h, self.inode, offset, value, Step::MAX) {
            None => Ok(()),
            Some(why) => self.exposed(offset, value, read, why),
        }
    }

    /// The `no-stale-exposure` violation of [`InodeWalk::judge`] (kept out of the walk's
    /// loop: only a failing walk builds a message).
    #[cold]
    #[inline(never)]
    fn exposed(&self, offset: u64, value: Data, read: &str, why: String) -> Result<(), Violation> {
        violation(
            Oracle::NoStaleExposure,
            actors_of(self.h, value),
            format!(
                "{read} of inode {} at {offset} now returns {why}",
                self.inode
            ),
        )
    }
}

/// The values the exposure check judges at an offset: what a buffered read returns, if one
/// runs now, and what a direct read returns, if one runs now and it differs from the
/// buffered view (zeros: nothing to judge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Judged {
    buffered: Data,
    direct: Data,
}

impl Judged {
    const NOTHING: Judged = Judged {
        buffered: Data::Zero,
        direct: Data::Zero,
    };
}

/// Offsets whose values passed the exposure check (at `Step::MAX`), as
/// `(inode, offset, values judged)`, all under histories whose inputs to it are equal: its
/// owner empties it when they change. Direct-mapped on the sector number: a slot taken by
/// another key is a miss, and the offset is judged again.
#[derive(Clone, Debug)]
pub struct PassedOffsets {
    slots: Vec<Option<(InodeIx, u64, Judged)>>,
    /// The writes whose data the last walk with these offsets judged at some offset (whether
    /// it took the verdict from a slot or judged it), as a [`TagMask`]; `None` before such a
    /// walk.
    walked: Option<TagMask>,
}

/// A set of write tags, each as bit `tag % 64`: a tag's bit set may stand for another tag
/// too, so a mask holds at least the tags it was given (enough for an emptiness test of
/// the intersection of two such sets, which is all it is used for).
pub type TagMask = u64;

/// The bit of write `tag` in a [`TagMask`].
pub fn tag_bit(tag: u8) -> TagMask {
    1 << (tag % 64)
}

/// The bit of `value`'s write, if it is a write's data.
fn data_bit(value: Data) -> TagMask {
    match value {
        Data::Write(t) => tag_bit(t),
        _ => 0,
    }
}

/// Slots of a [`PassedOffsets`].
const PASSED_OFFSET_SLOTS: usize = 32;
/// How far apart in a [`PassedOffsets`] the slots of two inodes' same offset are.
const INODE_SLOT_STRIDE: usize = 17;

impl Default for PassedOffsets {
    fn default() -> PassedOffsets {
        PassedOffsets {
            slots: vec![None; PASSED_OFFSET_SLOTS],
            walked: None,
        }
    }
}

impl PassedOffsets {
    /// Forgets every offset (the history's inputs changed).
    pub fn clear(&mut self) {
        self.slots.fill(None);
    }

    /// Forgets the offsets where the data of a write in `tags` was judged (only those
    /// writes of the history's inputs changed).
    pub fn forget_tags(&mut self, tags: TagMask) {
        for slot in &mut self.slots {
            if slot.is_some_and(|(_, _, j)| (data_bit(j.buffered) | data_bit(j.direct)) & tags != 0)
            {
                *slot = None;
            }
        }
    }

    /// The writes whose data the last walk with these offsets judged somewhere (`None`:
    /// no walk yet).
    pub fn walked(&self) -> Option<TagMask> {
        self.walked
    }

    /// The slot of an offset in sector number `sector` of `inode`.
    fn slot(sector: u64, inode: InodeIx) -> usize {
        (sector as usize).wrapping_add(inode * INODE_SLOT_STRIDE) % PASSED_OFFSET_SLOTS
    }

    fn holds(&self, sector: u64, key: (InodeIx, u64, Judged)) -> bool {
        self.slots[Self::slot(sector, key.0)] == Some(key)
    }

    fn insert(&mut self, sector: u64, key: (InodeIx, u64, Judged)) {
        self.slots[Self::slot(sector, key.0)] = Some(key);
    }
}

/// What [`reads_now`] reads of an inode, once for all its offsets: all the exposure check
/// reads of its locks and flags, so the memo compares this rather than the fields it comes
/// from ([`super::memo`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Reads {
    /// `mapping->invalidate_lock` is held for write.
    invalidate_writer: bool,
    /// A direct read waits for `i_mutex`, which is held, and `invalidate_writer` (else
    /// nothing waits, and whether `i_mutex` is held does not matter: false).
    direct_waits: bool,
}

impl Reads {
    /// What the reads of `inode` wait for now.
    pub(crate) fn of(state: &State, inode: InodeIx) -> Reads {
        let ino = &state.inodes[inode];
        let writer = ino.invalidate_lock.writer;
        let locked_path = !state.should_dioread_nolock(inode) || ino.state_dioread_lock;
        Reads {
            invalidate_writer: writer,
            direct_waits: writer && locked_path && ino.i_mutex.is_some(),
        }
    }

    /// [`reads_now`] at an offset whose page is `cached` or not.
    fn now(self, cached: bool) -> (bool, bool) {
        if !self.invalidate_writer {
            return (true, true);
        }
        (cached, !self.direct_waits)
    }
}

/// The page of the offsets walked in order: looked up again only when the page index moves.
#[derive(Default)]
struct PageCursor<'s> {
    index: Option<u64>,
    page: Option<&'s Page>,
}

impl<'s> PageCursor<'s> {
    fn get(&mut self, ino: &'s model::state::Inode, index: u64) -> Option<&'s Page> {
        if self.index != Some(index) {
            self.index = Some(index);
            self.page = ino.pages.get(&index);
        }
        self.page
    }
}

/// Whether the block of the offsets walked in order is mapped: the extents searched again
/// only when the block moves.
#[derive(Default)]
struct MappedCursor {
    lblk: Option<u64>,
    mapped: bool,
}

impl MappedCursor {
    fn get(&mut self, ino: &model::state::Inode, lblk: u64) -> bool {
        if self.lblk != Some(lblk) {
            self.lblk = Some(lblk);
            self.mapped = (ino.map.extents.iter()).any(|e| e.lblk <= lblk && lblk < e.end());
        }
        self.mapped
    }
}

/// `no-stale-exposure` over everything a buffered or a direct read would return now: the
/// simple form, the slow twin of [`check_exposure`] (an offset of interest may come twice,
/// and both views are judged even when they hold the same value).
pub fn check_exposure_simple(h: &History, state: &State) -> Result<(), Violation> {
    for (inode, ino) in state.inodes.iter().enumerate() {
        for offset in sectors_of_interest(state, inode).filter(|&s| s < ino.i_size) {
            let buffered = visible(state, inode, offset);
            let direct = direct_view(state, inode, offset);
            let (buffered_runs, direct_runs) = reads_now(state, inode, offset);
            let views = [
                (buffered, "a read", buffered_runs),
                (direct, "a direct read", direct_runs),
            ];
            for (value, read) in views
                .into_iter()
                .filter(|v| v.2)
                .map(|(value, read, _)| (value, read))
            {
                if let Some(why) = exposure(h, inode, offset, value, Step::MAX) {
                    return violation(
                        Oracle::NoStaleExposure,
                        actors_of(h, value),
                        format!("{read} of inode {inode} at {offset} now returns {why}"),
                    );
                }
            }
        }
    }
    Ok(())
}

/// `no-stale-exposure` for what a read that started at its operation's start returned.
pub fn check_read(
    h: &History,
    state: &State,
    (reader, since): (u8, Step),
    (inode, pos): (InodeIx, u64),
    data: &[Data],
) -> Result<(), Violation> {
    let sector = state.geometry.sectorsize();
    for (k, &value) in data.iter().enumerate() {
        let offset = (pos & !(sector - 1)) + k as u64 * sector;
        if let Some(why) = exposure(h, inode, offset, value, since) {
            let mut actors = vec![reader];
            actors.extend(actors_of(h, value));
            return violation(
                Oracle::NoStaleExposure,
                actors,
                format!("a read of inode {inode} at {offset} returned {why}"),
            );
        }
    }
    Ok(())
}

fn actors_of(h: &History, value: Data) -> Vec<u8> {
    match value {
        Data::Write(t) => vec![h.write(t).actor],
        _ => Vec::new(),
    }
}

/// An operation that may put a value at a sector: a write (its tag) or a truncate/punch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Producer {
    Write(u8),
    Remover(usize),
}

/// Only to fill the unused slots of an inline list ([`InlineVec`] needs a default).
impl Default for Producer {
    fn default() -> Producer {
        Producer::Write(0)
    }
}

/// Producers of one sector kept inline by the quiescence check before it spills to the
/// heap (the canonical scenarios have at most a handful).
pub const AT_REST_PRODUCERS_INLINE: usize = 8;
/// Offsets of one inode kept inline by the quiescence check before it spills to the heap.
pub const AT_REST_OFFSETS_INLINE: usize = 64;

/// An operation covering a sector: who, when it started, when it completed, and whether it
/// definitely put its value there.
type Covering = (Producer, Step, Option<Step>, bool);

/// The values a sector may hold at quiescence, and the operations that must have put
/// theirs there when exactly one is left. Inline lists: the quiescence check allocates
/// nothing for them ([`allowed_simple`] is the `Vec` twin).
struct Allowed {
    values: InlineVec<Data, AT_REST_PRODUCERS_INLINE>,
    /// The completed operations no other completed operation followed.
    last: InlineVec<Producer, AT_REST_PRODUCERS_INLINE>,
}

/// The operations of the epoch covering `offset` of `inode`, with when each started and
/// completed, and whether it definitely put its value there.
fn producers<O: Default + Extend<Covering>>(h: &History, inode: InodeIx, offset: u64) -> O {
    let covers = |r: Option<(u64, u64)>| r.is_some_and(|(f, t)| f <= offset && offset < t);
    let mut out = O::default();
    for (tag, w) in h.epoch_writes() {
        if w.inode == inode && covers(w.range) {
            let definite = covers(w.done) && !h.lost(inode, offset, tag);
            out.extend([(Producer::Write(tag), start_of(w), w.completed, definite)]);
        }
    }
    for (k, m) in h.zero_makers.iter().enumerate() {
        if m.inode == inode && m.from <= offset && offset < m.to {
            let definite = m.end.is_some() && !zeros_lost(h, m, offset);
            out.extend([(Producer::Remover(k), m.start, m.end, definite)]);
        }
    }
    out
}

fn start_of(w: &WriteRecord) -> Step {
    w.start.expect("an epoch write started")
}

/// What `offset` of `inode` may hold at quiescence: the value of every covering operation
/// that no covering operation which definitely put its value there followed.
fn allowed(h: &History, inode: InodeIx, offset: u64) -> Allowed {
    let ops: InlineVec<Covering, AT_REST_PRODUCERS_INLINE> = producers(h, inode, offset);
    let followed = |&(_, _, completed, _): &Covering| {
        ops.iter().any(|d| d.3 && History::precedes(completed, d.1))
    };
    let mut allowed = Allowed {
        values: InlineVec::new(),
        last: InlineVec::new(),
    };
    for op in ops.iter().filter(|o| !followed(o)) {
        allowed.values.push(value_of(op.0));
        if op.3 {
            allowed.last.push(op.0);
        }
    }
    allowed
}

/// The value a producer puts at a sector.
fn value_of(p: Producer) -> Data {
    match p {
        Producer::Write(t) => Data::Write(t),
        Producer::Remover(_) => Data::Zero,
    }
}

/// [`allowed`] as it was first written, with heap lists: the slow twin of the quiescence
/// check ([`check_at_rest_simple`]).
fn allowed_simple(h: &History, inode: InodeIx, offset: u64) -> Allowed {
    let ops: Vec<Covering> = producers(h, inode, offset);
    let definite: Vec<_> = ops.iter().filter(|o| o.3).collect();
    let followed = |(_, _, completed, _): &Covering| {
        definite.iter().any(|d| History::precedes(*completed, d.1))
    };
    let mut values = Vec::new();
    let mut last = Vec::new();
    for op in ops.iter().filter(|o| !followed(o)) {
        values.push(value_of(op.0));
        if op.3 {
            last.push(op.0);
        }
    }
    Allowed {
        values: InlineVec::from(values),
        last: InlineVec::from(last),
    }
}

/// The quiescence checks: every sector below `i_size` holds a value some order allows, and
/// clean cached pages hold what the disk holds.
/// Allocates nothing while the lists fit inline ([`AT_REST_OFFSETS_INLINE`],
/// [`AT_REST_PRODUCERS_INLINE`]); [`check_at_rest_simple`] is its slow twin.
pub fn check_at_rest(h: &History, state: &State) -> Result<(), Violation> {
    for (inode, ino) in state.inodes.iter().enumerate() {
        let mut offsets: InlineVec<u64, AT_REST_OFFSETS_INLINE> = InlineVec::new();
        offsets.extend(sectors_of_interest(state, inode));
        offsets.extend(done_sectors(h, state, inode));
        offsets.sort_unstable();
        let unique = dedup_sorted(&mut offsets);
        offsets.truncate(unique);
        for &offset in offsets.iter().filter(|&&s| s < ino.i_size) {
            check_sector(h, state, inode, offset, allowed)?;
        }
        for &offset in offsets.iter().filter(|&&s| s < ino.i_size) {
            check_page(h, state, inode, offset, None)?;
        }
    }
    Ok(())
}

/// The sectors of `inode` that the epoch's completed writes returned as done.
fn done_sectors<'s>(
    h: &'s History,
    state: &State,
    inode: InodeIx,
) -> impl Iterator<Item = u64> + 's {
    let sector = state.geometry.sectorsize();
    h.epoch_writes()
        .filter(move |(_, w)| w.inode == inode)
        .filter_map(|(_, w)| w.done)
        .flat_map(move |(from, to)| (from & !(sector - 1)..to).step_by(sector as usize))
}

/// Moves the distinct items of sorted `items` to its front; returns how many there are.
fn dedup_sorted(items: &mut [u64]) -> usize {
    let mut kept = 0;
    for i in 0..items.len() {
        if kept == 0 || items[i] != items[kept - 1] {
            items[kept] = items[i];
            kept += 1;
        }
    }
    kept
}

/// [`check_at_rest`] as it was first written, with heap lists: its slow twin, which
/// [`Checking::Every`](super::Checking::Every) observers run (`sim/tests/oracle_twins.rs`
/// compares their verdicts).
pub fn check_at_rest_simple(h: &History, state: &State) -> Result<(), Violation> {
    for (inode, ino) in state.inodes.iter().enumerate() {
        let mut offsets: Vec<u64> = sectors_of_interest(state, inode).collect();
        for (_, w) in h.epoch_writes().filter(|(_, w)| w.inode == inode) {
            if let Some((from, to)) = w.done {
                let sector = state.geometry.sectorsize();
                offsets.extend((from & !(sector - 1)..to).step_by(sector as usize));
            }
        }
        offsets.sort_unstable();
        offsets.dedup();
        for &offset in offsets.iter().filter(|&&s| s < ino.i_size) {
            check_sector(h, state, inode, offset, allowed_simple)?;
        }
        for &offset in offsets.iter().filter(|&&s| s < ino.i_size) {
            check_page(h, state, inode, offset, None)?;
        }
    }
    Ok(())
}

/// One sector at quiescence, judged with `allowed` (the fast lists or their twin).
fn check_sector(
    h: &History,
    state: &State,
    inode: InodeIx,
    offset: u64,
    allowed: fn(&History, InodeIx, u64) -> Allowed,
) -> Result<(), Violation> {
    let value = visible(state, inode, offset);
    if let Some(why) = exposure(h, inode, offset, value, Step::MAX) {
        return violation(
            Oracle::NoStaleExposure,
            actors_of(h, value),
            format!("at rest, inode {inode} at {offset} shows {why}"),
        );
    }
    let allowed = allowed(h, inode, offset);
    let prior_allowed = allowed.last.is_empty() && h.prior.allows(inode, offset, value);
    if allowed.values.contains(&value) || prior_allowed {
        return Ok(());
    }
    let expected: Vec<String> = allowed
        .last
        .iter()
        .map(|p| match *p {
            Producer::Write(t) => format!("write {t} (a{})", h.write(t).actor),
            Producer::Remover(k) => format!("the truncate or punch of a{}", h.zero_makers[k].actor),
        })
        .collect();
    let expected = if expected.is_empty() {
        "the contents it started with".to_string()
    } else {
        expected.join(" or ")
    };
    let writers = allowed.last.iter().filter_map(|p| match *p {
        Producer::Write(t) => Some(h.write(t).actor),
        Producer::Remover(_) => None,
    });
    let mut actors: Vec<u8> = writers.collect();
    actors.extend(actors_of(h, value));
    let unwritten = state.block_state(inode, offset) == Some(ExtentState::Unwritten);
    let oracle = match value {
        Data::Zero if unwritten && !allowed.last.is_empty() => Oracle::CompletedWritesConverted,
        Data::Zero => Oracle::NoSpuriousZeros,
        _ => Oracle::LostWrite,
    };
    let block = if unwritten {
        " (its block is still unwritten)"
    } else {
        ""
    };
    violation(
        oracle,
        actors,
        format!(
            "inode {inode} at {offset} reads {}{block}, but {expected} completed last there",
            describe(value)
        ),
    )
}

/// `page-cache-coherence` over the range of direct write `tag`, which just completed, below
/// `i_size` (as at rest): a read returns nothing at or past `i_size`, so a page there is no
/// read's answer. Such pages only exist while a shrinking truncate, which set `i_size` first
/// (`ext4_setattr`), waits in `inode_dio_wait` for this very write under `i_mutex`; its
/// `truncate_pagecache` then drops them.
pub fn check_coherence_after(h: &History, state: &State, tag: u8) -> Result<(), Violation> {
    let w = h.write(tag);
    let (from, to) = w.done.expect("completed with bytes");
    let sector = state.geometry.sectorsize();
    let to = to.min(state.inodes[w.inode].i_size);
    for offset in (from & !(sector - 1)..to).step_by(sector as usize) {
        check_page(h, state, w.inode, offset, Some(tag))?;
    }
    Ok(())
}

/// A clean cached page at `offset` holds what the disk holds, unless the sector is unsettled
/// (a bio in flight to its block, its block still Unwritten while `after` is being checked)
/// or the page holds what the last bio there carried and failed to write (the page is the
/// newer: the I/O error was reported through the error path).
fn check_page(
    h: &History,
    state: &State,
    inode: InodeIx,
    offset: u64,
    after: Option<u8>,
) -> Result<(), Violation> {
    let g = state.geometry;
    let Some(page) = state.inodes[inode].pages.get(&(offset >> g.page_bits)) else {
        return Ok(());
    };
    if page.dirty != 0 || page.writeback > 0 {
        return Ok(());
    }
    let cached = visible(state, inode, offset);
    let disk = on_disk(state, inode, offset);
    if cached == disk {
        return Ok(());
    }
    if h.failed_since_landing(inode, offset, cached) || failed_aio_landed(h, disk) {
        return Ok(());
    }
    if let Some(tag) = after
        && (unsettled(h, state, inode, offset) || in_direct_write(h, state, inode, offset, tag))
    {
        return Ok(());
    }
    let when = match after {
        Some(t) => format!("after direct write {t} completed"),
        None => "at rest".to_string(),
    };
    let mut actors: Vec<u8> = after.map(|t| h.write(t).actor).into_iter().collect();
    actors.extend(actors_of(h, cached));
    violation(
        Oracle::PageCacheCoherence,
        actors,
        format!(
            "{when}, a clean page of inode {inode} caches {} at {offset} but the disk holds {}",
            describe(cached),
            describe(disk)
        ),
    )
}

/// Another direct write of `inode` than `tag` covers `offset` and has not completed: a page
/// cached while its I/O is under way is dropped by its own invalidation after
/// `->direct_IO` (mm/filemap.c:generic_file_direct_write:2462-2465) or, queued, at its
/// completion (332391a9935d); its own completion (and quiescence) judges the sector.
fn in_direct_write(h: &History, state: &State, inode: InodeIx, offset: u64, tag: u8) -> bool {
    let sector = state.geometry.sectorsize();
    h.epoch_writes().any(|(t, w)| {
        t != tag
            && w.direct
            && w.inode == inode
            && w.completed.is_none()
            && w.range
                .is_some_and(|(from, to)| from < offset + sector && offset < to)
    })
}

/// Some bio in flight targets the block of `offset`, or the block is Unwritten (a
/// conversion may be pending).
fn unsettled(h: &History, state: &State, inode: InodeIx, offset: u64) -> bool {
    let lblk = offset >> state.geometry.blkbits;
    let in_flight = h
        .bios
        .values()
        .any(|b| b.inode == inode && b.blocks.iter().any(|&(l, _)| l == Some(lblk)));
    in_flight || state.block_state(inode, offset) == Some(ExtentState::Unwritten)
}

/// The disk holds data of a queued AIO direct write whose event reported an error (a bio of
/// it failed; this one landed): a page cached while it was in flight stays. Nothing drops
/// it: `generic_file_direct_write` invalidated right after submission
/// (mm/filemap.c:2462-2465), and `dio_complete` invalidates after a write with `ret > 0` only
/// (332391a9935d; fs/direct-io.c:dio_complete in 4.14.0, 287-294; `iomap_dio_complete`
/// later tests `!dio->error`), while 4.4's (fs/direct-io.c:227-277) never does. A failed
/// write's range holds old or new data; its error was reported.
fn failed_aio_landed(h: &History, disk: Data) -> bool {
    let Data::Write(tag) = disk else {
        return false;
    };
    h.epoch_writes()
        .any(|(t, w)| t == tag && w.direct && w.queued && w.completed.is_some() && w.done.is_none())
}
