//! The whole model state: inodes, disk, page cache, in-flight I/O objects,
//! the hashed `aio_mutex` buckets and the actors. Pure data: `Clone + Eq + Hash`, so engines
//! can store and compare states.

use crate::fs::ext4::extents::{ExtentMap, ExtentState};
use crate::fs::ext4::super_::{Geometry, Mount};
use crate::include::fs::FileFlags;
use crate::inline_vec::InlineVec;
use crate::limits::{DISK_BLOCKS_MAX, EXT4_WQ_HASH_SZ, INODES_MAX};
use crate::mark::Tracked;
use crate::ops::{Frame, Op, OpResult};
use crate::vec_map::VecMap;

/// Sectors of a page's or a bio's contents kept inline ([`Sectors`]): a 4 KiB page of
/// 512-byte sectors (the canonical geometry has 4 KiB pages of 1 KiB sectors, 4 a page; a
/// bio of one block or page fits too). More (64 KiB pages, a long direct bio) spill to the
/// heap.
pub const SECTORS_INLINE: usize = 8;
/// Page indexes kept inline in a list of pages ([`PageList`]): a bio or io_end ends
/// writeback on a page or two, a flush finds a page or two under writeback (the canonical
/// file has 2 pages).
pub const PAGES_INLINE: usize = 4;
/// Per-block flags of the disk kept inline ([`BlockFlags`]): every disk the model accepts
/// ([`DISK_BLOCKS_MAX`]), so these never spill.
pub const BLOCKS_INLINE: usize = DISK_BLOCKS_MAX as usize;

/// Contents per sector of a page, a bio or a read.
pub type Sectors = InlineVec<Data, SECTORS_INLINE>;
/// Page indexes of a file.
pub type PageList = InlineVec<u64, PAGES_INLINE>;
/// One flag per physical block of the disk.
pub type BlockFlags = InlineVec<bool, BLOCKS_INLINE>;

/// Index of an actor (a task that runs a program of operations).
pub type ActorId = u8;
/// Index of an inode in [`State::inodes`].
pub type InodeIx = usize;
/// Identifier of a bio, dio, io_end or work item (one counter for all).
pub type ObjId = u16;

/// What one sector holds: the tag of whoever wrote it.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Data {
    /// Zeros (from `dio_zero_block`, a hole, or a truncated tail). The default only so that
    /// [`Sectors`] can fill its unused inline slots.
    #[default]
    Zero,
    /// Garbage left in a free disk block from before (`Stale(pblk)`): must never be read.
    Stale(u32),
    /// The file's contents when the scenario starts: inode index and logical block.
    Initial {
        /// The inode.
        inode: u8,
        /// Its logical block.
        lblk: u32,
    },
    /// Data of write number `n` (see [`crate::ops::WriteOp::tag`]).
    Write(u8),
}

impl std::fmt::Display for Data {
    /// In words, for messages: `zeros`, `stale data of p5`, `initial data of inode 0 block 3`,
    /// `data of write 2`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Data::Zero => f.write_str("zeros"),
            Data::Stale(p) => write!(f, "stale data of p{p}"),
            Data::Initial { inode, lblk } => {
                write!(f, "initial data of inode {inode} block {lblk}")
            }
            Data::Write(n) => write!(f, "data of write {n}"),
        }
    }
}

/// Bios by their task names, `b2 b5` (`none` for an empty list), for trace notes.
pub fn bio_names(ids: &[ObjId]) -> String {
    if ids.is_empty() {
        return "none".to_string();
    }
    let names: Vec<String> = ids.iter().map(|id| format!("b{id}")).collect();
    names.join(" ")
}

/// An io_end pointer as the trace names it: `e<id>`, or `NULL`.
pub fn io_end_name(io_end: Option<ObjId>) -> String {
    io_end.map_or_else(|| "NULL".to_string(), |e| format!("e{e}"))
}

/// The simulated block device: sector contents and the block allocator.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Disk {
    /// Contents per physical sector.
    pub sectors: Tracked<Vec<Data>>,
    /// Per physical block: free for allocation.
    pub free: BlockFlags,
    /// Per physical block: freed in the running transaction. In data=ordered `ext4_free_blocks`
    /// hands freed data blocks to `ext4_mb_free_metadata`: they become free only when the
    /// transaction that freed them commits, so they are never reused before.
    pub freed_uncommitted: BlockFlags,
}

impl Disk {
    /// A disk whose every block is free and holds stale garbage.
    pub fn new(geometry: &Geometry) -> Disk {
        let spb = geometry.sectors_per_block() as usize;
        let sectors = (0..geometry.disk_blocks)
            .flat_map(|b| vec![Data::Stale(b); spb])
            .collect();
        let blocks = geometry.disk_blocks as usize;
        Disk {
            sectors: Tracked::new(sectors),
            free: BlockFlags::from_elem(true, blocks),
            freed_uncommitted: BlockFlags::from_elem(false, blocks),
        }
    }

    /// The block allocator (`ext4_mb_new_blocks`, first fit): up to `len` contiguous free
    /// blocks at the lowest free block. `None` when the disk is full (`-ENOSPC`).
    pub fn allocate(&mut self, len: u64) -> Option<(u32, u64)> {
        let start = self.free.iter().position(|&f| f)?;
        let run = self.free[start..]
            .iter()
            .take(len as usize)
            .take_while(|&&f| f)
            .count();
        self.free[start..start + run]
            .iter_mut()
            .for_each(|f| *f = false);
        Some((start as u32, run as u64))
    }

    /// Free blocks.
    pub fn free_blocks(&self) -> u64 {
        self.free.iter().filter(|&&f| f).count() as u64
    }

    /// `free_blocks() >= n`, counting only up to `n` (nothing when `n` is 0, as it mostly
    /// is: no delalloc reservation).
    pub fn free_blocks_at_least(&self, n: u64) -> bool {
        let n = n as usize;
        n == 0 || self.free.iter().filter(|&&f| f).nth(n - 1).is_some()
    }

    /// `ext4_free_blocks`: the blocks become free at the next commit ([`Disk::commit_frees`]);
    /// their contents stay on disk.
    pub fn release(&mut self, pblk: u32, len: u64) {
        for b in pblk as usize..pblk as usize + len as usize {
            assert!(
                !self.free[b] && !self.freed_uncommitted[b],
                "double free of block {b}"
            );
            self.freed_uncommitted[b] = true;
        }
    }

    /// `ext4_free_data_callback` at commit: blocks freed in the transaction become free.
    pub fn commit_frees(&mut self) {
        for (free, pending) in self.free.iter_mut().zip(self.freed_uncommitted.iter_mut()) {
            *free |= std::mem::take(pending);
        }
    }
}

/// One page of the page cache with sector-granular contents. `PG_dirty` and
/// `PG_writeback` are separate bits: a page under writeback can be dirtied again.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Page {
    /// `PG_dirty`, per block of the page (bit `i`: block `i` of the page has dirty buffers).
    pub dirty: u64,
    /// `PG_writeback`, as the count of the page's block writes not yet ended (the page
    /// leaves writeback when the last ends: `ext4_finish_bio` checks every buffer).
    pub writeback: u8,
    /// `PG_error`: set by `ext4_finish_bio` for a failed write (fs/ext4/page-io.c:91-93),
    /// cleared when the page's writeback starts again (`ext4_bio_write_page`, page-io.c:440)
    /// or by a waiter's `TestClearPageError` (mm/filemap.c:411).
    pub error: bool,
    /// Contents per sector of the page.
    pub data: Sectors,
    /// `BH_Mapped` of the page's buffer_heads, per block as `dirty`. A new page has no
    /// buffers (`create_empty_buffers` makes them unmapped); `ext4_da_get_block_prep`
    /// (fs/ext4/inode.c:1595, 1660, 1722, 1733) and `ext4_get_block` (inode.c:742) map them;
    /// `discard_buffer` (fs/buffer.c:1495-1512) unmaps. Dropped with the page.
    pub bh_mapped: u64,
    /// `BH_Delay`: set with the mapping of a hole or delayed block by `ext4_da_map_blocks`
    /// (fs/ext4/inode.c:1597, 1662), cleared when writeback maps it
    /// (`mpage_map_and_submit_buffers`, inode.c:2158-2159) or by `discard_buffer`.
    pub bh_delay: u64,
    /// `BH_Unwritten`: set by `ext4_da_get_block_prep` from an unwritten extent
    /// (`ext4_update_bh_state(bh, EXT4_MAP_UNWRITTEN)`, inode.c:1723), cleared when writeback
    /// submits the block (`clear_buffer_unwritten`, inode.c:2162) while the extent stays
    /// unwritten until `ext4_end_io`, or by `discard_buffer`.
    pub bh_unwritten: u64,
}

/// A sleeping mutex (`struct mutex`): its owner. Not FIFO in 4.4: any contender
/// may win once it is free, so waiters are not recorded.
pub type Mutex = Option<ActorId>;

/// `i_data_sem`, a read-write semaphore.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct RwSem {
    /// Readers holding it.
    pub readers: u8,
    /// A writer holds it.
    pub writer: bool,
}

/// What the journal has committed for an inode: what survives a crash.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Committed {
    /// The extent tree at the last commit.
    pub map: ExtentMap,
    /// `i_disksize` at the last commit.
    pub i_disksize: u64,
    /// On the orphan list at the last commit.
    pub orphan: bool,
}

/// The jbd2 journal (fs/jbd2/): one running transaction, at most one committing.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Journal {
    /// `j_running_transaction->t_tid`.
    pub running: u32,
    /// `j_commit_sequence`: the last transaction committed.
    pub committed: u32,
    /// `j_commit_request`: the newest transaction a caller asked kjournald2 to commit.
    pub requested: u32,
    /// The running transaction is `T_LOCKED`: its commit waits for its handles to stop, and a
    /// new (not reserved) handle waits in `start_this_handle`.
    pub locked: bool,
    /// `t_updates` of the running transaction: handles started and not stopped.
    pub t_updates: u8,
    /// The transaction being committed, from `T_FLUSH` to its commit record: what it will
    /// make survive a crash, and the blocks it freed.
    pub committing: Option<(Vec<Committed>, BlockFlags)>,
}

impl Journal {
    /// A journal whose transaction 1 is running and nothing committed.
    pub fn new() -> Journal {
        Journal {
            running: 1,
            ..Journal::default()
        }
    }
}

/// Per-inode state.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Inode {
    /// The inode's address, the key of `ext4_aio_mutex` / `ext4_ioend_wq` (mod 37).
    pub ino: u32,
    /// `EXT4_INODE_EXTENTS`: extent-mapped (else block-mapped, "bitmap").
    pub extents: bool,
    /// `S_SYNC`.
    pub s_sync: bool,
    /// Encrypted or inline data: `ext4_direct_IO` returns 0 (fs/ext4/inode.c). (A journalled-data
    /// inode needs nodelalloc, which is not modelled.)
    pub dio_refused: bool,
    /// `EXT4_STATE_DIO_UNWRITTEN`.
    pub state_dio_unwritten: bool,
    /// `EXT4_STATE_DIOREAD_LOCK` (`ext4_inode_block_unlocked_dio`): direct reads lock.
    pub state_dioread_lock: bool,
    /// `AS_EIO` on the mapping: a writeback bio failed; the next
    /// `filemap_write_and_wait_range` reports it once and clears it (`filemap_check_errors`).
    pub as_eio: bool,
    /// `mapping->wb_err`, the `errseq_t` of writeback errors (Linux 4.13, 5660e13d2fd6):
    /// advanced by `mapping_set_error` only under [`crate::patches::Patch::Errseq`], so 0 (no
    /// error ever) in 4.4. Laid out as the kernel's ([`crate::limits::ERRSEQ_SEEN`]).
    pub wb_err: u32,
    /// `i_size`.
    pub i_size: u64,
    /// `i_disksize`.
    pub i_disksize: u64,
    /// On the orphan list.
    pub orphan: bool,
    /// `i_mutex`.
    pub i_mutex: Mutex,
    /// `i_data_sem`.
    pub i_data_sem: RwSem,
    /// `mapping->invalidate_lock` (d4f5258eae7b, v5.15; 4.4's `i_mmap_sem` kept only page
    /// faults out): held for write by a punch or a shrinking truncate from the page-cache
    /// truncation until the blocks are gone. Never taken unless `Patch::InvalidateLock` is
    /// applied; readers take it shared within one step (they never hold it across steps).
    pub invalidate_lock: RwSem,
    /// `i_dio_count`.
    pub i_dio_count: u32,
    /// `i_unwritten`: io_ends flagged `EXT4_IO_END_UNWRITTEN`.
    pub i_unwritten: u32,
    /// `i_ioend_count`: live io_ends.
    pub i_ioend_count: u32,
    /// `i_private`: the current AIO io_end (`ext4_inode_aio`).
    pub i_private: Option<ObjId>,
    /// The extent tree and delayed blocks.
    pub map: Tracked<ExtentMap>,
    /// The page cache, by page index; `nrpages` is its length.
    pub pages: Tracked<VecMap<u64, Page>>,
    /// The journal's view.
    pub committed: Committed,
    /// `i_sync_tid` is the running transaction: some metadata changed in it.
    pub sync_dirty: bool,
    /// `i_datasync_tid` is the running transaction (allocation of written extents,
    /// conversion, a size change).
    pub datasync_dirty: bool,
    /// On the running transaction's ordered-data list (`ext4_jbd2_file_inode`: a new written
    /// mapping, a partial block zeroed by truncate or punch): its commit writes the inode's
    /// dirty mapped pages and waits for them (data=ordered).
    pub ordered: bool,
    /// As `sync_dirty`, `datasync_dirty`, `ordered`, for the transaction being committed.
    pub committing: (bool, bool, bool),
}

impl Inode {
    /// `mapping->nrpages`.
    pub fn nrpages(&self) -> usize {
        self.pages.len()
    }
    /// The hash bucket of `ext4_aio_mutex(inode)` and `ext4_ioend_wq(inode)`.
    pub fn bucket(&self) -> u8 {
        (self.ino % EXT4_WQ_HASH_SZ) as u8
    }
}

/// `struct dio` (fs/direct-io.c) and the ext4 state hung on it.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Dio {
    /// The inode.
    pub inode: InodeIx,
    /// The submitting actor.
    pub owner: ActorId,
    /// `dio->is_async`.
    pub is_async: bool,
    /// `dio->defer_completion`: complete on `s_dio_done_wq`.
    pub defer_completion: bool,
    /// Bios in flight (the refcount beyond the submitter's).
    pub bios: u16,
    /// The submitter still holds its reference.
    pub submitter_ref: bool,
    /// The dio still holds its `i_dio_count` reference (`inode_dio_end` not yet called).
    pub holds_dio_count: bool,
    /// `dio->result`: bytes mapped and submitted.
    pub result: u64,
    /// `dio->io_error`: a bio failed.
    pub io_error: bool,
    /// The `generic_write_sync` of an async completion failed.
    pub sync_error: bool,
    /// The pages that sync's flush found under writeback (as [`Actor::fdatawait`]).
    pub fdatawait: PageList,
    /// File offset of the request (`offset` of `dio_complete`).
    pub offset: u64,
    /// `dio->private`: the io_end (async `ext4_ext_direct_IO` only).
    pub private: Option<ObjId>,
    /// `dio->end_io` is `ext4_end_io_dio` (extent path); none on the indirect path.
    pub end_io: bool,
    /// The file's flags (for `generic_write_sync` in `dio_complete`).
    pub file: FileFlags,
    /// Index of the write in the owner's program (where `ki_complete` reports).
    pub op: usize,
}

/// `ext4_io_end_t` (fs/ext4/page-io.c).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct IoEnd {
    /// The inode.
    pub inode: InodeIx,
    /// `count`: references.
    pub count: u8,
    /// `EXT4_IO_END_UNWRITTEN`.
    pub unwritten: bool,
    /// `offset` of the range to convert.
    pub offset: u64,
    /// `size` of the range to convert.
    pub size: u64,
    /// Writeback pages whose `end_page_writeback` waits for the conversion.
    pub pages: PageList,
    /// `EXT4_IO_END_FAILED`: a writeback bio of this io_end failed. Only set under
    /// [`crate::patches::Patch::FailedWritebackConvertsNothing`] (4.4 has no such flag).
    pub failed: bool,
}

/// Who a bio reports to when it completes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum BioOwner {
    /// A direct I/O (`dio_bio_end_io` / `dio_bio_end_aio`).
    Dio(ObjId),
    /// Buffered writeback (`ext4_end_bio`), with its io_end.
    Writeback(ObjId),
}

/// A bio in flight: where it writes, what, and for whom.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Bio {
    /// The inode whose data it carries.
    pub inode: InodeIx,
    /// Who completes it.
    pub owner: BioOwner,
    /// First physical sector.
    pub psector: u32,
    /// Contents, one per sector.
    pub data: Sectors,
    /// A `dio_zero_block` zero bio.
    pub zero: bool,
    /// Still on this actor's plug list (not dispatched).
    pub plugged_by: Option<ActorId>,
    /// Pages a writeback bio ends writeback on.
    pub pages: PageList,
}

/// A queued work item.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Work {
    /// `dio_aio_complete_work` on `s_dio_done_wq`, at a point of `dio_complete`.
    DioComplete {
        /// The dio.
        dio: ObjId,
        /// Where in `dio_complete` the worker is.
        pc: crate::ops::CompletePc,
        /// Its writeback is inside `ext4_ext_map_blocks` ([`MapEntry`]).
        wb_map: MapEntry,
        /// The transaction `jbd2_complete_transaction` of its `generic_write_sync` waits
        /// for.
        tid: Option<u32>,
    },
    /// `ext4_end_io_rsv_work` on `rsv_conversion_wq`: convert a writeback io_end.
    EndIo {
        /// The io_end.
        io_end: ObjId,
    },
    /// kjournald2 committing the running transaction ([`crate::jbd2::journal`]).
    Commit {
        /// Where in `jbd2_journal_commit_transaction` it is.
        pc: crate::ops::CommitPc,
    },
}

/// An actor: a task running its program of operations.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Actor {
    /// The operations, in order. Shared: no step changes a program, so a clone of the state
    /// (each state a search queues) and a step share it instead of copying it.
    pub program: std::sync::Arc<[Op]>,
    /// Index of the current operation (`program.len()` when finished).
    pub op: usize,
    /// The current operation's local state.
    pub frame: Frame,
    /// Asleep on a wait queue, until woken.
    pub sleeping: Option<Sleep>,
    /// Results of finished operations.
    pub results: Vec<OpResult>,
    /// Its writeback is inside `ext4_ext_map_blocks` ([`MapEntry`]).
    pub wb_map: MapEntry,
    /// The pages its last flush found under writeback: the ones whose `PG_error` its
    /// `filemap_fdatawait_range` tests ([`crate::mm::filemap::fdatawait_errors`]).
    pub fdatawait: PageList,
    /// `file->f_wb_err` of the actor's open file of each inode (by inode index): the
    /// `mapping->wb_err` its `file_check_and_advance_wb_err` last saw, sampled at open
    /// (scenario start: 0, no error yet). Used only under [`crate::patches::Patch::Errseq`].
    pub f_wb_err: InlineVec<u32, INODES_MAX>,
}

/// A writeback pass under dioread_nolock that must allocate (or convert) is inside
/// `ext4_ext_map_blocks` (via `mpage_map_one_extent`): it holds `down_write(i_data_sem)`
/// and has read `io = ext4_inode_aio(inode)` on entry (fs/ext4/extents.c:4294), and
/// `ext4_mb_new_blocks`, which may sleep, runs before it flags `io` (extents.c:4512).
/// `Some(io)` from that read to the task's next step, which finishes the pass.
pub type MapEntry = Option<Option<ObjId>>;

impl Actor {
    /// The step just run finished its program point: the actor neither went to sleep nor
    /// stopped inside `ext4_ext_map_blocks` ([`MapEntry`]).
    pub fn goes_on(&self) -> bool {
        self.sleeping.is_none() && self.wb_map.is_none()
    }
}

/// A wait queue an actor sleeps on (`wait_event`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Sleep {
    /// `ext4_ioend_wq[bucket]` in `ext4_unwritten_wait`.
    IoendWq(u8),
    /// `inode_dio_wait` on this inode.
    DioWait(InodeIx),
}

/// The model state.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct State {
    /// Superblock geometry.
    pub geometry: Geometry,
    /// Mount options.
    pub mount: Mount,
    /// Inodes.
    pub inodes: Vec<Inode>,
    /// The block device.
    pub disk: Disk,
    /// `ext4__aio_mutex[37]`: owner per bucket (only non-free buckets are kept).
    pub aio_mutex: VecMap<u8, ActorId>,
    /// In-flight bios.
    pub bios: Tracked<VecMap<ObjId, Bio>>,
    /// Live dios.
    pub dios: VecMap<ObjId, Dio>,
    /// Live io_ends.
    pub io_ends: Tracked<VecMap<ObjId, IoEnd>>,
    /// Queued work items.
    pub work: VecMap<ObjId, Work>,
    /// The actors.
    pub actors: Vec<Tracked<Actor>>,
    /// Next identifier for a bio, dio, io_end or work item.
    pub next_id: ObjId,
    /// A crash happened; the state is the one journal replay recovered.
    pub crashed: bool,
    /// The jbd2 journal.
    pub journal: Journal,
    /// What the step being applied did that the kernel must never do (it would crash or
    /// corrupt memory there); [`crate::exec::step`] moves it into the step's event, so it is
    /// `None` between steps.
    pub hazard: Option<Hazard>,
    /// The upstream fixes applied ([`crate::patches`]); none for 4.4.121 as released.
    pub patches: crate::patches::Patches,
}

/// Something 4.4 does that must never happen: the model carries on as the kernel would
/// try to, and reports it with the step.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Hazard {
    /// A function that may sleep (a jbd2 handle, `down_write`, a mutex, a wait queue) called
    /// in bio-completion (interrupt) context: "sleeping function called from invalid
    /// context", "scheduling while atomic".
    SleepInAtomic(String),
    /// An object used after its last reference was dropped and it was freed.
    UseAfterFree(String),
}

impl State {
    /// The upstream fix `patch` is applied: the step asking takes the patched behaviour.
    pub fn patched(&self, patch: crate::patches::Patch) -> bool {
        self.patches.has(patch)
    }

    /// A fresh identifier.
    pub fn new_id(&mut self) -> ObjId {
        self.next_id += 1;
        self.next_id
    }

    /// Blocks reserved for delayed allocation (`s_dirtyclusters_counter`): one per delayed
    /// block of every inode.
    pub fn reserved_blocks(&self) -> u64 {
        self.inodes.iter().map(|i| i.map.delayed.len() as u64).sum()
    }

    /// Blocks a new allocation may take without eating delalloc reservations
    /// (`ext4_claim_free_clusters`).
    pub fn claimable_blocks(&self) -> u64 {
        self.disk.free_blocks() - self.reserved_blocks()
    }

    /// `IS_SYNC(inode)`: `S_SYNC` or a `MS_SYNCHRONOUS` mount.
    pub fn is_sync(&self, inode: InodeIx) -> bool {
        self.inodes[inode].s_sync || self.mount.sync
    }

    /// `ext4_should_dioread_nolock(inode)` (fs/ext4/ext4_jbd2.h; data=journal is not modelled).
    pub fn should_dioread_nolock(&self, inode: InodeIx) -> bool {
        self.mount.dioread_nolock && self.inodes[inode].extents
    }

    /// Internal consistency (not the oracles): lock owners exist, counters match the
    /// objects, extent trees are well formed, every mapped block is allocated. The full
    /// check, each inode's counters recounted over every object: the slow twin of
    /// [`State::assert_step_invariants`], which the step runs.
    pub fn assert_invariants(&self) {
        for (ix, inode) in self.inodes.iter().enumerate() {
            self.assert_inode(ix, inode, self.inode_counts(ix), true);
        }
        let booked = self.reserved_blocks();
        assert!(self.disk.free_blocks() >= booked, "{OVERBOOKED}");
        self.assert_shared();
    }

    /// [`State::assert_invariants`]'s checks, in its order and with its messages, with the
    /// io_ends and dios walked once for every inode's counters at a time (up to
    /// [`INODES_MAX`] inodes; more take the full check), free blocks counted only up to
    /// the delalloc reservations, and an extent tree's shape ([`ExtentMap::assert_well_formed`],
    /// which reads the tree alone) checked only when its mark says it was written since the
    /// flags were cleared ([`crate::mark`]): what every step checks, on a state whose steps
    /// before were checked alike (a tree unwritten since is as well formed as it was then).
    pub fn assert_step_invariants(&self) {
        let Some(counts) = self.all_inode_counts() else {
            return self.assert_invariants();
        };
        for (ix, inode) in self.inodes.iter().enumerate() {
            self.assert_inode(ix, inode, counts[ix], inode.map.marked());
        }
        let booked = self.reserved_blocks();
        assert!(self.disk.free_blocks_at_least(booked), "{OVERBOOKED}");
        self.assert_shared();
    }

    /// What inode `ix`'s counters must match, counted over every io_end and dio.
    fn inode_counts(&self, ix: InodeIx) -> InodeCounts {
        let ends = self.io_ends.values().filter(|e| e.inode == ix);
        InodeCounts {
            unwritten: ends.clone().filter(|e| e.unwritten).count(),
            io_ends: ends.count(),
            dios: self
                .dios
                .values()
                .filter(|d| d.inode == ix && d.holds_dio_count)
                .count(),
        }
    }

    /// [`State::inode_counts`] of every inode in one walk of the io_ends and the dios;
    /// `None` past [`INODES_MAX`] inodes.
    fn all_inode_counts(&self) -> Option<[InodeCounts; INODES_MAX]> {
        if self.inodes.len() > INODES_MAX {
            return None;
        }
        let mut counts = [InodeCounts::default(); INODES_MAX];
        for e in self.io_ends.values() {
            if let Some(c) = counts.get_mut(e.inode) {
                c.io_ends += 1;
                c.unwritten += usize::from(e.unwritten);
            }
        }
        for d in self.dios.values().filter(|d| d.holds_dio_count) {
            if let Some(c) = counts.get_mut(d.inode) {
                c.dios += 1;
            }
        }
        Some(counts)
    }

    /// One inode's invariants, its counters against `counts`; its extent tree's shape only
    /// when `shape` (else it is known well formed).
    fn assert_inode(&self, ix: InodeIx, inode: &Inode, counts: InodeCounts, shape: bool) {
        if shape {
            inode.map.assert_well_formed(self.geometry.disk_blocks);
        }
        if let Some(owner) = inode.i_mutex {
            assert!((owner as usize) < self.actors.len(), "i_mutex owner");
        }
        assert!(
            !(inode.i_data_sem.writer && inode.i_data_sem.readers > 0),
            "i_data_sem"
        );
        assert_eq!(
            inode.i_unwritten as usize, counts.unwritten,
            "i_unwritten of inode {ix}"
        );
        assert_eq!(
            inode.i_ioend_count as usize, counts.io_ends,
            "i_ioend_count of inode {ix}"
        );
        for e in &inode.map.extents {
            let blocks = e.pblk as usize..e.pblk as usize + e.len as usize;
            let live = |b: usize| !self.disk.free[b] && !self.disk.freed_uncommitted[b];
            assert!(blocks.clone().all(live), "mapped block is free");
        }
        if let Some(io_end) = inode.i_private {
            assert!(self.io_ends.contains_key(&io_end), "i_private dangles");
        }
        assert!(
            inode.i_disksize <= inode.i_size,
            "i_disksize past i_size in inode {ix}"
        );
        assert!(
            inode.i_dio_count as usize >= counts.dios,
            "a dio's i_dio_count reference is gone"
        );
    }

    /// The invariants not of one inode but the reservations: `ext4__aio_mutex`, dios' bio
    /// counts, `t_updates`.
    fn assert_shared(&self) {
        for (&bucket, &owner) in &self.aio_mutex {
            assert!(u32::from(bucket) < EXT4_WQ_HASH_SZ && (owner as usize) < self.actors.len());
        }
        for (&id, dio) in &self.dios {
            let bios = self
                .bios
                .values()
                .filter(|b| b.owner == BioOwner::Dio(id))
                .count();
            assert_eq!(dio.bios as usize, bios, "dio {id} bio count");
        }
        assert_eq!(
            self.journal.t_updates as usize,
            self.handles_held(),
            "t_updates counts the handles held across steps"
        );
    }

    /// Handles started in one step and not stopped yet: a `get_block` or a writeback pass
    /// inside `ext4_ext_map_blocks`.
    fn handles_held(&self) -> usize {
        let writers = self.actors.iter().filter(|a| {
            a.wb_map.is_some() || matches!(&a.frame, Frame::Write(f) if f.gb_io_pending)
        });
        let workers = self.work.values().filter(|w| {
            matches!(
                w,
                Work::DioComplete {
                    wb_map: Some(_),
                    ..
                }
            )
        });
        writers.count() + workers.count()
    }

    /// Physical sector of byte `pos` of a file, given the physical block of its block.
    pub fn psector(&self, pblk: u32, pos: u64) -> u32 {
        let g = &self.geometry;
        let in_block = (pos & (g.blocksize() - 1)) >> g.sector_bits;
        (u64::from(pblk) * g.sectors_per_block() + in_block) as u32
    }

    /// Extent state of the block holding byte `pos` of `inode`.
    pub fn block_state(&self, inode: InodeIx, pos: u64) -> Option<ExtentState> {
        self.inodes[inode]
            .map
            .pblk(pos >> self.geometry.blkbits)
            .map(|(_, s)| s)
    }
}

/// Delalloc reservations (`s_dirtyclusters_counter`) beyond the free blocks: what
/// `ext4_claim_free_clusters` must never let happen.
const OVERBOOKED: &str = "delalloc reservations exceed free blocks";

/// What an inode's counters must match: its io_ends (`i_ioend_count`), those flagged
/// unwritten (`i_unwritten`), the dios holding an `i_dio_count` reference (at most
/// `i_dio_count`).
#[derive(Clone, Copy, Debug, Default)]
struct InodeCounts {
    unwritten: usize,
    io_ends: usize,
    dios: usize,
}

/// Why a task cannot take its step now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Wait {
    /// `ext4__aio_mutex[bucket]` is held.
    AioMutex {
        /// The bucket.
        bucket: u8,
        /// Its owner.
        owner: ActorId,
    },
    /// `i_mutex` is held.
    IMutex {
        /// The inode.
        inode: InodeIx,
        /// Its owner.
        owner: ActorId,
    },
    /// `i_data_sem` is held in a conflicting mode.
    DataSem {
        /// The inode.
        inode: InodeIx,
    },
    /// `filemap_invalidate_lock_shared` (d4f5258eae7b, v5.15): a punch or truncate holds
    /// `mapping->invalidate_lock` for write.
    InvalidateLock {
        /// The inode.
        inode: InodeIx,
    },
    /// `dio_await_completion`: the dio's bios are in flight.
    DioBios {
        /// The dio.
        dio: ObjId,
    },
    /// `wait_on_page_writeback` on some page of the range.
    Writeback {
        /// The inode.
        inode: InodeIx,
    },
    /// `jbd2_log_wait_commit`: the transaction is not committed yet.
    Commit,
    /// `start_this_handle` → `wait_transaction_locked` (fs/jbd2/transaction.c:149-163,
    /// 189-192): the running transaction is `T_LOCKED`, a new handle waits for the commit to
    /// switch transactions.
    JournalLocked,
    /// `jbd2_journal_commit_transaction` waits for `t_updates` to reach 0 (handles running).
    Handles,
    /// Asleep on a wait queue until woken.
    Asleep(Sleep),
    /// A serial workqueue (`rsv_conversion_wq`) runs an earlier work item first.
    WorkQueue {
        /// The work item queued before.
        before: ObjId,
    },
    /// The bio is on its submitter's plug list.
    Plugged {
        /// The submitter.
        owner: ActorId,
    },
    /// The actor has finished its program.
    Finished,
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wait::AioMutex { bucket, owner } => write!(f, "aio_mutex[{bucket}] held by a{owner}"),
            Wait::IMutex { inode, owner } => write!(f, "i_mutex of inode {inode} held by a{owner}"),
            Wait::DataSem { inode } => write!(f, "i_data_sem of inode {inode}"),
            Wait::InvalidateLock { inode } => write!(f, "invalidate_lock of inode {inode}"),
            Wait::DioBios { dio } => write!(f, "bios of dio d{dio}"),
            Wait::Writeback { inode } => write!(f, "page writeback of inode {inode}"),
            Wait::Commit => write!(f, "jbd2_log_wait_commit: transaction not committed"),
            Wait::JournalLocked => write!(f, "start_this_handle: running transaction T_LOCKED"),
            Wait::Handles => write!(f, "commit waits for t_updates to reach 0"),
            Wait::Asleep(Sleep::IoendWq(b)) => write!(f, "asleep on ioend_wq[{b}]"),
            Wait::Asleep(Sleep::DioWait(i)) => write!(f, "asleep in inode_dio_wait of inode {i}"),
            Wait::WorkQueue { before } => write!(f, "rsv_conversion_wq runs w{before} first"),
            Wait::Plugged { owner } => write!(f, "on the plug of a{owner}"),
            Wait::Finished => write!(f, "finished"),
        }
    }
}
