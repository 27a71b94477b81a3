//! # model: the Linux 4.4 ext4 write path as a pure state machine
//!
//! `ext4_file_write_iter` (fs/ext4/file.c) as it stands in Linux 4.1–4.4, with everything it
//! calls, and the actors that race with it, as data plus step functions: no threads, no
//! clocks, no randomness, no I/O. The function is byte-identical in 4.1.15, 4.2.8 and
//! 4.4.121; every item cites the kernel file and function it mirrors.
//! **The model mirrors the kernel, bugs included**: where 4.4 reads state without a lock,
//! races or skips a wait, so does the model.
//!
//! ## Reading order
//!
//! The crate root holds the engine's side (what is not kernel code); the kernel's side is laid
//! out as the kernel source tree, one module per kernel file, each function in the module of
//! the file that holds it in 4.4.121.
//!
//! 1. [`limits`]: every constant and bound; [`fs::ext4::super_`]: block, sector, page sizes,
//!    mount.
//! 2. [`include::fs`]: the request (`ki_flags`, `ki_pos`, the iovec).
//! 3. [`state`]: inodes, disk, page cache, bios, dios, io_ends, `aio_mutex[37]`, actors.
//!    Its small maps are [`vec_map::VecMap`]s: sorted vectors that behave as `BTreeMap`s.
//! 4. [`ops`]: what actors do; each program-counter variant is one interleaving point.
//! 5. [`fs::ext4::file`]: the write path's control flow in one function
//!    ([`fs::ext4::file::after`]). What it calls, by kernel file: [`mm::filemap`] (page
//!    cache, `generic_write_checks`, `__generic_file_write_iter`), [`fs::ext4::inode`]
//!    (`ext4_direct_IO`, `get_block`, delalloc write, writeback, truncate, punch),
//!    [`fs::direct_io`] (`do_blockdev_direct_IO`, `dio_complete`), [`fs::ext4::indirect`],
//!    [`fs::ext4::extents`] (the extent map, conversions), [`fs::ext4::page_io`] (io_end),
//!    [`fs::ext4::fsync`], [`mm::truncate`], [`block`] (bios, the plug), [`jbd2`] (handles,
//!    commit, recovery), [`kernel`] (wait queues, work items).
//! 6. [`fs::vfs`]: the other actors' operations (read, truncate, punch, fsync, stat, flusher,
//!    commit, crash).
//! 7. [`exec`]: tasks (actors, bios, work items), what blocks them, one step at a time;
//!    [`drive`]: run a schedule.
//!
//! ## An example: a race the 4.4 code has
//!
//! An overwrite DIO (dioread_nolock, one written extent within `i_size`) drops `i_mutex`
//! while its bio is in flight. A truncate to 0 takes `i_mutex`, waits for the DIO's
//! `i_data_sem` and `i_dio_count`, frees the blocks. Then `generic_file_direct_write`
//! raises `i_size` back to the end of the write: the file claims 4096 bytes and has no
//! blocks (mm/filemap.c).
//!
//! ```
//! use model::fs::ext4::extents::{Extent, ExtentState};
//! use model::fs::ext4::super_::{Geometry, Mount};
//! use model::include::fs::{FileFlags, Segment};
//! use model::ops::{Op, WriteOp};
//! use model::scenario::{InodeSpec, Scenario};
//!
//! let file = FileFlags { o_direct: true, o_largefile: true, ..FileFlags::default() };
//! let write = WriteOp {
//!     inode: 0, pos: 0, segments: vec![Segment { base: 0x10_0000, len: 4096 }],
//!     file, aio: false, rlimit_fsize: model::limits::RLIM_INFINITY, tag: 0,
//! };
//! let inode = InodeSpec {
//!     ino: 12, extents: true, s_sync: false, dio_refused: false, i_size: 8192,
//!     extents_at_start: vec![Extent { lblk: 0, len: 2, pblk: 4, state: ExtentState::Written }],
//!     cached_pages: vec![],
//! };
//! let scenario = Scenario {
//!     geometry: Geometry::SMALL,
//!     mount: Mount { dioread_nolock: true, ..Mount::default() },
//!     inodes: vec![inode],
//!     actors: vec![vec![Op::Write(write)], vec![Op::Truncate { inode: 0, size: 0 }]],
//!     patches: model::patches::Patches::NONE,
//! };
//! let mut state = scenario.build().expect("a valid scenario");
//! // The writer takes 14 steps, up to waiting for its bio with i_mutex dropped; the
//! // truncate takes i_mutex; the default schedule (first runnable task) does the rest.
//! let schedule = model::drive::parse_schedule(&format!("{}a1", "a0 ".repeat(14))).unwrap();
//! let run = model::drive::run(&mut state, &schedule, true).expect("the schedule applies");
//! assert_eq!(run.end, model::drive::End::Done);
//! for event in &run.trace {
//!     println!("{event}"); // e.g. "a0   ExtOverwriteUnlock   i_data_sem read, i_mutex(12) released"
//! }
//! assert_eq!(state.inodes[0].i_size, 4096);
//! assert!(state.inodes[0].map.extents.is_empty());
//! ```
//!
//! `writeiter run FILE --schedule "a0 a1 ..."` (crate `sim`) prints the same trace from a
//! scenario file; the schedule is the replay.
//!
//! ## What the model cannot show
//!
//! Only modelled steps interleave: a race inside one atomic step (for example within one
//! `get_block` call, or a writeback pass) is invisible. Memory ordering is sequentially
//! consistent. Bios fail only with `bio_errors`; the device has no volatile cache. DAX,
//! data=journal, nodelalloc, inline data, encryption (beyond "`ext4_direct_IO` returns 0"), mmap
//! and timestamps are left out; `ext4_ext_zeroout` only as `ext4_ext_convert_to_initialized` calls
//! it. The README lists every simplification.

// First: its `note!` macro is used by the modules after it.
#[macro_use]
pub mod notes;

// The engine interface: not kernel code.
pub mod drive;
pub mod exec;
pub mod footprint;
pub mod inline_vec;
pub mod limits;
pub mod mark;
pub mod ops;
pub mod patches;
pub mod scenario;
pub mod state;
pub mod vec_map;

// The kernel, laid out as its source tree.
pub mod block;
pub mod fs;
pub mod include;
pub mod jbd2;
pub mod kernel;
pub mod mm;
