//! A scenario in code. The builder fills in the scenario file's own structures
//! ([`crate::scenario_file::ScenarioFile`]) and checks them with the loader
//! ([`crate::scenario_file::ScenarioFile::checked`]), so a scenario built here is refused for
//! exactly what a scenario file is refused for, with the same field names; every field left
//! out takes the file format's default.

use serde::de::DeserializeOwned;

use super::{Error, Scenario};
use crate::scenario_file::{
    ActorFile, ExtentFile, GeometryFile, InodeFile, Mapping, MountFile, OpFile, ScenarioFile,
    SegmentFile, StateFile, SyncFile,
};

/// How [`Error::origin`] names a scenario built in code.
const ORIGIN: &str = "Scenario::builder()";

/// The file format's defaults for a table holding only `fields`.
fn defaults<T: DeserializeOwned>(fields: toml::Table) -> T {
    toml::Value::Table(fields)
        .try_into()
        .expect("the scenario file has a default for every field left out here")
}

/// Builds a [`Scenario`] in code: the geometry and mount options (`[geometry]`, `[mount]`),
/// the inodes and the actors, in order.
///
/// ```
/// use sim::check::{Inode, Scenario, op};
///
/// let s = Scenario::builder()
///     .sector_bits(9)
///     .inode(Inode::new().i_size(8192).written(0, 2, 0).cached_pages([1]))
///     .actor([op::write(512, 512).direct().aio(), op::fsync().datasync()])
///     .actor([op::truncate(4096), op::read(0, 4096)])
///     .build()
///     .unwrap();
/// assert_eq!(s.model().actors.len(), 2);
/// let error = Scenario::builder().inode(Inode::new().written(0, 1, 99)).build().unwrap_err();
/// assert!(error.message.starts_with("inodes[0].extents[0].pblk"), "{error}");
/// ```
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    file: ScenarioFile,
    actors: Vec<Vec<Operation>>,
}

impl Default for ScenarioBuilder {
    fn default() -> Self {
        ScenarioBuilder {
            file: ScenarioFile {
                geometry: GeometryFile::default(),
                mount: MountFile::default(),
                inodes: Vec::new(),
                actors: Vec::new(),
                patches: Vec::new(),
            },
            actors: Vec::new(),
        }
    }
}

impl ScenarioBuilder {
    /// `[geometry] blkbits`: log2 of the block size.
    pub fn blkbits(mut self, bits: u32) -> Self {
        self.file.geometry.blkbits = bits;
        self
    }

    /// `[geometry] sector_bits`: log2 of the logical sector size.
    pub fn sector_bits(mut self, bits: u32) -> Self {
        self.file.geometry.sector_bits = bits;
        self
    }

    /// `[geometry] page_bits`: log2 of the page size.
    pub fn page_bits(mut self, bits: u32) -> Self {
        self.file.geometry.page_bits = bits;
        self
    }

    /// `[geometry] huge_file`.
    pub fn huge_file(mut self, on: bool) -> Self {
        self.file.geometry.huge_file = on;
        self
    }

    /// `[geometry] disk_blocks`: blocks of the simulated disk.
    pub fn disk_blocks(mut self, blocks: u32) -> Self {
        self.file.geometry.disk_blocks = blocks;
        self
    }

    /// `[mount] dioread_nolock`.
    pub fn dioread_nolock(mut self) -> Self {
        self.file.mount.dioread_nolock = true;
        self
    }

    /// `[mount] sync`: `-o sync`.
    pub fn sync(mut self) -> Self {
        self.file.mount.sync = true;
        self
    }

    /// `[mount] plug_holds_bios`: a request-based device.
    pub fn plug_holds_bios(mut self) -> Self {
        self.file.mount.plug_holds_bios = true;
        self
    }

    /// `[mount] bio_errors`: the device may fail any bio with `-EIO`.
    pub fn bio_errors(mut self) -> Self {
        self.file.mount.bio_errors = true;
        self
    }

    /// `patches`: apply the upstream fix with this commit id (or `all`) to the model; the
    /// build refuses an id no patch has (`writeiter patches` lists them).
    pub fn patch(mut self, id: &str) -> Self {
        self.file.patches.push(id.to_string());
        self
    }

    /// The next inode (`inodes[0]`, `inodes[1]`, …).
    pub fn inode(mut self, inode: Inode) -> Self {
        self.file.inodes.push(inode.0);
        self
    }

    /// The next actor (`a0`, `a1`, …) with its operations in order.
    pub fn actor(mut self, ops: impl IntoIterator<Item = Operation>) -> Self {
        self.actors.push(ops.into_iter().collect());
        self
    }

    /// The scenario, checked as a scenario file is; the error names the field.
    pub fn build(self) -> Result<Scenario, Error> {
        let error = |message: String| Error {
            origin: ORIGIN.to_string(),
            message,
        };
        let mut file = self.file;
        for (a, ops) in self.actors.into_iter().enumerate() {
            let mut actor = Vec::new();
            for (k, op) in ops.into_iter().enumerate() {
                if let Some(field) = op.misused {
                    let what = op_name(&op.op);
                    return Err(error(format!(
                        "actors[{a}].ops[{k}].{field}: a `{what}` has no `{field}`"
                    )));
                }
                actor.push(op.op);
            }
            file.actors.push(ActorFile {
                ops: actor,
                repeat: None,
            });
        }
        let model = file.checked().map_err(error)?;
        Ok(Scenario { model, file: None })
    }
}

/// One inode at the start (`[[inodes]]`): by default extent-mapped, ino 12, empty.
#[derive(Clone, Debug)]
pub struct Inode(InodeFile);

impl Default for Inode {
    fn default() -> Self {
        Inode(defaults(toml::Table::new()))
    }
}

impl Inode {
    /// An empty extent-mapped inode, ino 12 (the file format's defaults).
    pub fn new() -> Inode {
        Inode::default()
    }

    /// `ino`: its address (`ino % 37` is its aio_mutex and ioend_wq bucket).
    pub fn ino(mut self, ino: u32) -> Self {
        self.0.ino = ino;
        self
    }

    /// `mapping = "bitmap"`: block-mapped (indirect blocks).
    pub fn bitmap(mut self) -> Self {
        self.0.mapping = Mapping::Bitmap;
        self
    }

    /// `i_size` (and `i_disksize`).
    pub fn i_size(mut self, bytes: u64) -> Self {
        self.0.i_size = bytes;
        self
    }

    /// `s_sync`: `S_SYNC` on the inode.
    pub fn s_sync(mut self) -> Self {
        self.0.s_sync = true;
        self
    }

    /// `dio_refused`: `ext4_direct_IO` returns 0 (encrypted or inline data).
    pub fn dio_refused(mut self) -> Self {
        self.0.dio_refused = true;
        self
    }

    /// `cached_pages`: these page indexes are cached (clean) at the start.
    pub fn cached_pages(mut self, pages: impl IntoIterator<Item = u64>) -> Self {
        self.0.cached_pages.extend(pages);
        self
    }

    /// A written extent of `len` blocks from logical block `lblk` at physical block `pblk`.
    pub fn written(self, lblk: u64, len: u64, pblk: u32) -> Self {
        self.extent(lblk, len, pblk, StateFile::Written)
    }

    /// An unwritten extent (as `fallocate` leaves it).
    pub fn unwritten(self, lblk: u64, len: u64, pblk: u32) -> Self {
        self.extent(lblk, len, pblk, StateFile::Unwritten)
    }

    fn extent(mut self, lblk: u64, len: u64, pblk: u32, state: StateFile) -> Self {
        self.0.extents.push(ExtentFile {
            lblk,
            len,
            pblk,
            state,
        });
        self
    }
}

/// One operation of an actor, made by the functions of [`op`] and refined by its methods. A
/// method that does not apply to the operation (`read(..).aio()`) makes
/// [`ScenarioBuilder::build`] fail naming the field, as an unknown field in a file does.
#[derive(Clone, Debug)]
pub struct Operation {
    op: OpFile,
    /// The first method that did not apply.
    misused: Option<&'static str>,
}

/// The operations an actor runs (README, "Scenario files"), on inode 0 unless
/// [`Operation::inode`] says otherwise.
pub mod op {
    use super::{Operation, defaults};

    /// The operation `name` with the file format's defaults, its `required` fields 0 (the
    /// caller sets them).
    fn make(name: &str, required: &[&str]) -> Operation {
        let mut table = toml::Table::new();
        table.insert("op".to_string(), name.into());
        for &field in required {
            table.insert(field.to_string(), 0.into());
        }
        Operation {
            op: defaults(table),
            misused: None,
        }
    }

    /// `write(2)` of `len` bytes at `pos` from one buffer (buffered, synchronous; see the
    /// methods of [`Operation`] for `O_DIRECT`, AIO, `O_APPEND`, `O_SYNC`, segments, rlimit).
    pub fn write(pos: u64, len: u64) -> Operation {
        let mut op = make("write", &["pos", "len"]);
        if let super::OpFile::Write { pos: p, len: l, .. } = &mut op.op {
            (*p, *l) = (pos, Some(len));
        }
        op
    }

    /// `read(2)` of `len` bytes at `pos` (buffered unless [`Operation::direct`]).
    pub fn read(pos: u64, len: u64) -> Operation {
        let mut op = make("read", &["pos", "len"]);
        if let super::OpFile::Read { pos: p, len: l, .. } = &mut op.op {
            (*p, *l) = (pos, len);
        }
        op
    }

    /// `stat(2)`: reads `i_size`.
    pub fn stat() -> Operation {
        make("stat", &[])
    }

    /// `ftruncate(2)` to `size`.
    pub fn truncate(size: u64) -> Operation {
        let mut op = make("truncate", &["size"]);
        if let super::OpFile::Truncate { size: s, .. } = &mut op.op {
            *s = size;
        }
        op
    }

    /// `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)` over `len` bytes at `pos`.
    pub fn punch_hole(pos: u64, len: u64) -> Operation {
        let mut op = make("punch_hole", &["pos", "len"]);
        if let super::OpFile::PunchHole { pos: p, len: l, .. } = &mut op.op {
            (*p, *l) = (pos, len);
        }
        op
    }

    /// `fsync(2)` (`fdatasync` with [`Operation::datasync`]).
    pub fn fsync() -> Operation {
        make("fsync", &[])
    }

    /// A flusher pass over the inode (`ext4_writepages`).
    pub fn writeback() -> Operation {
        make("writeback", &[])
    }

    /// A journal commit.
    pub fn commit() -> Operation {
        make("commit", &[])
    }

    /// A crash and recovery.
    pub fn crash() -> Operation {
        make("crash", &[])
    }
}

/// The operation's name in the file format.
fn op_name(op: &OpFile) -> &'static str {
    match op {
        OpFile::Write { .. } => "write",
        OpFile::Read { .. } => "read",
        OpFile::Stat { .. } => "stat",
        OpFile::Truncate { .. } => "truncate",
        OpFile::PunchHole { .. } => "punch_hole",
        OpFile::Fsync { .. } => "fsync",
        OpFile::Writeback { .. } => "writeback",
        OpFile::Commit => "commit",
        OpFile::Crash => "crash",
    }
}

impl Operation {
    /// Records that `field` does not apply, unless an earlier method did not either.
    fn misuse(mut self, field: &'static str) -> Self {
        self.misused.get_or_insert(field);
        self
    }

    /// `set` applied to a write, or `field` recorded as misused.
    fn write_op(mut self, field: &'static str, set: impl FnOnce(&mut OpFile)) -> Self {
        if matches!(self.op, OpFile::Write { .. }) {
            set(&mut self.op);
            return self;
        }
        self.misuse(field)
    }

    /// `inode`: the inode (index into the scenario's inodes) it works on.
    pub fn inode(mut self, index: usize) -> Self {
        match &mut self.op {
            OpFile::Write { inode, .. }
            | OpFile::Read { inode, .. }
            | OpFile::Stat { inode }
            | OpFile::Truncate { inode, .. }
            | OpFile::PunchHole { inode, .. }
            | OpFile::Fsync { inode, .. }
            | OpFile::Writeback { inode } => *inode = index,
            OpFile::Commit | OpFile::Crash => return self.misuse("inode"),
        }
        self
    }

    /// `direct`: `O_DIRECT` (a write or a read).
    pub fn direct(mut self) -> Self {
        if let OpFile::Read { direct, .. } = &mut self.op {
            *direct = true;
            return self;
        }
        self.write_op("direct", |op| {
            if let OpFile::Write { direct, .. } = op {
                *direct = true;
            }
        })
    }

    /// `aio`: a write submitted with `io_submit`.
    pub fn aio(self) -> Self {
        self.write_op("aio", |op| {
            if let OpFile::Write { aio, .. } = op {
                *aio = true;
            }
        })
    }

    /// `append`: `O_APPEND`.
    pub fn append(self) -> Self {
        self.write_op("append", |op| {
            if let OpFile::Write { append, .. } = op {
                *append = true;
            }
        })
    }

    /// `sync = "dsync"`: `O_DSYNC`.
    pub fn dsync(self) -> Self {
        self.write_op("sync", |op| {
            if let OpFile::Write { sync, .. } = op {
                *sync = SyncFile::Dsync;
            }
        })
    }

    /// `sync = "sync"`: `O_SYNC`.
    pub fn sync(self) -> Self {
        self.write_op("sync", |op| {
            if let OpFile::Write { sync, .. } = op {
                *sync = SyncFile::Sync;
            }
        })
    }

    /// `largefile`: `O_LARGEFILE` (on by default, as a 64-bit `open` sets it).
    pub fn largefile(self, on: bool) -> Self {
        self.write_op("largefile", |op| {
            if let OpFile::Write { largefile, .. } = op {
                *largefile = on;
            }
        })
    }

    /// `rlimit_fsize`: the writer's `RLIMIT_FSIZE` in bytes.
    pub fn rlimit_fsize(self, bytes: u64) -> Self {
        self.write_op("rlimit_fsize", |op| {
            if let OpFile::Write { rlimit_fsize, .. } = op {
                *rlimit_fsize = Some(bytes);
            }
        })
    }

    /// `segments`: the iovec as `(iov_base, iov_len)` pairs, in place of one buffer.
    pub fn segments(self, segments: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let segments: Vec<SegmentFile> = segments
            .into_iter()
            .map(|(base, len)| SegmentFile { base, len })
            .collect();
        self.write_op("segments", |op| {
            if let OpFile::Write {
                len, segments: s, ..
            } = op
            {
                (*len, *s) = (None, Some(segments));
            }
        })
    }

    /// `datasync`: an `fsync` that is `fdatasync`.
    pub fn datasync(mut self) -> Self {
        if let OpFile::Fsync { datasync, .. } = &mut self.op {
            *datasync = true;
            return self;
        }
        self.misuse("datasync")
    }
}
