//! The scenario file: TOML read with serde into a [`model::scenario::Scenario`]. The format
//! is documented in the README ("Scenario files"). Every error names the file and the field.

use std::path::Path;

use model::fs::ext4::extents::{Extent, ExtentState};
use model::fs::ext4::super_::{Geometry, Mount};
use model::include::fs::{FileFlags, Segment};
use model::limits::{OPS_PER_ACTOR_MAX, RLIM_INFINITY};
use model::ops::{Op, WriteOp};
use model::patches::Patches;
use model::scenario::{InodeSpec, Scenario};
use serde::Deserialize;

/// Address of the default user buffer (page aligned).
pub const DEFAULT_BUFFER: u64 = 0x10_0000;

/// The file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// `[geometry]`; defaults to 4 KiB blocks and pages on 1 KiB sectors, 16 disk blocks.
    #[serde(default)]
    pub geometry: GeometryFile,
    /// `[mount]`.
    #[serde(default)]
    pub mount: MountFile,
    /// `[[inodes]]`.
    pub inodes: Vec<InodeFile>,
    /// `[[actors]]`.
    #[serde(default)]
    pub actors: Vec<ActorFile>,
    /// `patches = ["74dae4278546", ...]`: upstream fixes applied to the 4.4.121 model
    /// (`writeiter patches` lists them; `"all"` applies every one).
    #[serde(default)]
    pub patches: Vec<String>,
}

/// `[geometry]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeometryFile {
    /// log2 of the fs block size.
    pub blkbits: u32,
    /// log2 of the logical sector size.
    pub sector_bits: u32,
    /// log2 of the page size.
    pub page_bits: u32,
    /// The huge_file feature.
    pub huge_file: bool,
    /// Blocks on the simulated disk.
    pub disk_blocks: u32,
}

impl Default for GeometryFile {
    fn default() -> Self {
        let g = Geometry::SMALL;
        GeometryFile {
            blkbits: g.blkbits,
            sector_bits: g.sector_bits,
            page_bits: g.page_bits,
            huge_file: g.huge_file,
            disk_blocks: g.disk_blocks,
        }
    }
}

/// `[mount]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MountFile {
    /// `-o dioread_nolock`.
    pub dioread_nolock: bool,
    /// `-o sync` (`MS_SYNCHRONOUS`).
    pub sync: bool,
    /// A request-based device whose plug holds bios until the submitter sleeps or unplugs.
    pub plug_holds_bios: bool,
    /// The device may fail any bio with `-EIO`.
    pub bio_errors: bool,
}

/// How an inode maps its blocks.
#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// `EXT4_INODE_EXTENTS`.
    #[default]
    Extents,
    /// Block-mapped (indirect blocks, "bitmap" in the kernel's comments).
    Bitmap,
}

/// `[[inodes]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InodeFile {
    /// Inode address (bucket = ino % 37).
    #[serde(default = "default_ino")]
    pub ino: u32,
    /// `extents` or `bitmap`.
    #[serde(default)]
    pub mapping: Mapping,
    /// `i_size` (and `i_disksize`).
    #[serde(default)]
    pub i_size: u64,
    /// `S_SYNC`.
    #[serde(default)]
    pub s_sync: bool,
    /// `ext4_direct_IO` returns 0 (encrypted or inline data).
    #[serde(default)]
    pub dio_refused: bool,
    /// Extents at the start.
    #[serde(default)]
    pub extents: Vec<ExtentFile>,
    /// Pages cached (clean) at the start.
    #[serde(default)]
    pub cached_pages: Vec<u64>,
}

fn default_ino() -> u32 {
    12
}

/// One extent.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtentFile {
    /// First logical block.
    pub lblk: u64,
    /// Blocks.
    pub len: u64,
    /// First physical block.
    pub pblk: u32,
    /// `written` or `unwritten`.
    pub state: StateFile,
}

/// Extent state as written in the file.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum StateFile {
    /// Written.
    Written,
    /// Unwritten.
    Unwritten,
}

/// `[[actors]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorFile {
    /// The operations in order.
    pub ops: Vec<OpFile>,
    /// `repeat = N` (the program written out N times) or `repeat = "forever"` (rounds
    /// without end, for the liveness search only: [`crate::liveness`]); absent: once.
    #[serde(default)]
    pub repeat: Option<toml::Value>,
}

/// How often an actor runs its program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// `repeat = N`: the program written out N times (N = 1 when absent).
    Times(usize),
    /// `repeat = "forever"`: a new round once the last one's AIO events have all arrived.
    Forever,
}

impl Repeat {
    /// The `repeat` field of `actors[a]`, checked.
    fn read(value: Option<&toml::Value>, a: usize) -> Result<Repeat, (String, String)> {
        let bad = |reason: String| Err((format!("actors[{a}].repeat"), reason));
        match value {
            None => Ok(Repeat::Times(1)),
            Some(toml::Value::String(s)) if s == "forever" => Ok(Repeat::Forever),
            Some(toml::Value::Integer(n)) if (1..=OPS_PER_ACTOR_MAX as i64).contains(n) => {
                Ok(Repeat::Times(*n as usize))
            }
            Some(toml::Value::Integer(n)) => bad(format!(
                "{n} rounds; give 1..={OPS_PER_ACTOR_MAX} or \"forever\""
            )),
            Some(other) => bad(format!(
                "`{other}` is not a count of rounds; give 1..={OPS_PER_ACTOR_MAX} or \"forever\""
            )),
        }
    }
}

/// A scenario whose actors may repeat their programs forever: the liveness search's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Looping {
    /// The scenario, each program written out once (or N times for `repeat = N`).
    pub scenario: Scenario,
    /// By actor: `repeat = "forever"`.
    pub forever: Vec<bool>,
}

/// `O_SYNC` / `O_DSYNC`.
#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SyncFile {
    /// Neither.
    #[default]
    None,
    /// `O_DSYNC`.
    Dsync,
    /// `O_SYNC`.
    Sync,
}

/// One operation.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpFile {
    /// A write.
    Write {
        /// Inode index.
        #[serde(default)]
        inode: usize,
        /// Offset as passed (O_APPEND moves it).
        pos: u64,
        /// Length, for one buffer at `DEFAULT_BUFFER` (or give `segments`).
        len: Option<u64>,
        /// The iovec, `{ base, len }` each.
        segments: Option<Vec<SegmentFile>>,
        /// `O_DIRECT`.
        #[serde(default)]
        direct: bool,
        /// Submitted with `io_submit`.
        #[serde(default)]
        aio: bool,
        /// `O_APPEND`.
        #[serde(default)]
        append: bool,
        /// `none`, `dsync` or `sync`.
        #[serde(default)]
        sync: SyncFile,
        /// `O_LARGEFILE` (a 64-bit `open` sets it).
        #[serde(default = "yes")]
        largefile: bool,
        /// `RLIMIT_FSIZE` (none when absent).
        rlimit_fsize: Option<u64>,
    },
    /// A read.
    Read {
        /// Inode index.
        #[serde(default)]
        inode: usize,
        /// Offset.
        pos: u64,
        /// Length.
        len: u64,
        /// `O_DIRECT`.
        #[serde(default)]
        direct: bool,
    },
    /// `stat`.
    Stat {
        /// Inode index.
        #[serde(default)]
        inode: usize,
    },
    /// `ftruncate`.
    Truncate {
        /// Inode index.
        #[serde(default)]
        inode: usize,
        /// New size.
        size: u64,
    },
    /// `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`.
    PunchHole {
        /// Inode index.
        #[serde(default)]
        inode: usize,
        /// Offset.
        pos: u64,
        /// Length.
        len: u64,
    },
    /// `fsync` / `fdatasync`.
    Fsync {
        /// Inode index.
        #[serde(default)]
        inode: usize,
        /// `fdatasync`.
        #[serde(default)]
        datasync: bool,
    },
    /// A flusher pass.
    Writeback {
        /// Inode index.
        #[serde(default)]
        inode: usize,
    },
    /// A journal commit.
    Commit,
    /// A crash and recovery.
    Crash,
}

fn yes() -> bool {
    true
}

/// One iovec segment.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct SegmentFile {
    /// `iov_base`.
    pub base: u64,
    /// `iov_len`.
    pub len: u64,
}

/// A scenario file that cannot be used: the file and what is wrong with it.
#[derive(Debug)]
pub struct LoadError {
    /// The file.
    pub path: String,
    /// What is wrong (naming the field, and the line where TOML knows it).
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Reads and checks a scenario file.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    load_with(path, parse)
}

/// Reads and checks a scenario file whose actors may repeat forever (the liveness search).
pub fn load_looping(path: &Path) -> Result<Looping, LoadError> {
    load_with(path, parse_looping)
}

/// Reads `path` and checks its text with `parse`; either failure names the file.
fn load_with<T>(path: &Path, parse: fn(&str) -> Result<T, String>) -> Result<T, LoadError> {
    let error = |message: String| LoadError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read: {e}")))?;
    parse(&text).map_err(|e| error(clip_lines(&e)))
}

/// Parses and checks scenario text whose actors may repeat forever.
pub fn parse_looping(text: &str) -> Result<Looping, String> {
    let file: ScenarioFile =
        toml::from_str(text).map_err(|e| clip_lines(e.to_string().trim_end()))?;
    file.checked_looping().map_err(|(field, reason)| {
        let line = line_of(text, "", &field).map_or(String::new(), |line| format!("line {line}: "));
        format!("{line}{field}: {reason}")
    })
}

/// Parses and checks scenario text.
pub fn parse(text: &str) -> Result<Scenario, String> {
    let file: ScenarioFile =
        toml::from_str(text).map_err(|e| clip_lines(e.to_string().trim_end()))?;
    file.checked_in(text, "")
}

/// Characters of one line an error message quotes at most (TOML's errors quote the line
/// at fault, and a file may have a line of a megabyte).
pub const QUOTED_LINE_MAX: usize = 200;

/// `text` with every line cut to [`QUOTED_LINE_MAX`] characters, saying how much was cut.
pub fn clip_lines(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.char_indices().nth(QUOTED_LINE_MAX) {
            Some((cut, _)) => format!(
                "{}… ({} more characters)",
                &line[..cut],
                line[cut..].chars().count()
            ),
            None => line.to_string(),
        })
        .collect();
    lines.join("\n")
}

/// The line (from 1) of the value at `field` (`actors[0].ops[1].pos`, under `prefix`, e.g.
/// `scenario.`) in the TOML `text`; the line of the nearest enclosing value TOML knows when
/// the field itself is absent (a default).
pub fn line_of(text: &str, prefix: &str, field: &str) -> Option<usize> {
    let table = toml::de::DeTable::parse(text).ok()?;
    let root = toml::de::DeValue::Table(table.into_inner());
    let mut path: Vec<String> = prefix
        .split('.')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    // The geometry's and the mount's own checks name their fields bare.
    let bare = match field {
        "blkbits" | "sector_bits" | "page_bits" | "huge_file" | "disk_blocks" => "geometry.",
        "dioread_nolock" | "sync" | "plug_holds_bios" | "bio_errors" => "mount.",
        _ => "",
    };
    path.extend(
        format!("{bare}{field}")
            .split('.')
            .map(str::to_string)
            .collect::<Vec<_>>(),
    );
    let mut value = &root;
    let mut span = None;
    for part in &path {
        let (name, indexes) = part.split_once('[').unwrap_or((part, ""));
        let mut next = value.get(name);
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            let index: usize = index.trim_end_matches(']').parse().ok()?;
            next = next.and_then(|v| v.get_ref().get(index));
        }
        let Some(found) = next else { break };
        span = Some(found.span());
        value = found.get_ref();
    }
    let start = span?.start;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

impl ScenarioFile {
    /// The scenario, checked by building its initial state.
    pub fn checked(self) -> Result<Scenario, String> {
        self.checked_fields()
            .map_err(|(field, reason)| format!("{field}: {reason}"))
    }

    /// The scenario, checked; an error names the field and the line of `text` (the file's
    /// text, the scenario's tables under `prefix`) it is on.
    pub fn checked_in(self, text: &str, prefix: &str) -> Result<Scenario, String> {
        self.checked_fields().map_err(|(field, reason)| {
            let line = line_of(text, prefix, &field)
                .map_or(String::new(), |line| format!("line {line}: "));
            format!("{line}{field}: {reason}")
        })
    }

    fn checked_fields(self) -> Result<Scenario, (String, String)> {
        let looping = self.checked_looping()?;
        if let Some(a) = looping.forever.iter().position(|&f| f) {
            return Err((
                format!("actors[{a}].repeat"),
                "\"forever\" runs only in the liveness search (writeiter run FILE --liveness)"
                    .to_string(),
            ));
        }
        Ok(looping.scenario)
    }

    /// The scenario with its `repeat = "forever"` actors, checked by building its initial
    /// state.
    pub fn checked_looping(self) -> Result<Looping, (String, String)> {
        let looping = self.into_scenario()?;
        looping.scenario.build().map_err(|e| (e.field, e.reason))?;
        Ok(looping)
    }

    fn into_scenario(self) -> Result<Looping, (String, String)> {
        let g = &self.geometry;
        let geometry = Geometry {
            blkbits: g.blkbits,
            sector_bits: g.sector_bits,
            page_bits: g.page_bits,
            huge_file: g.huge_file,
            disk_blocks: g.disk_blocks,
        };
        let mount = Mount {
            dioread_nolock: self.mount.dioread_nolock,
            sync: self.mount.sync,
            plug_holds_bios: self.mount.plug_holds_bios,
            bio_errors: self.mount.bio_errors,
        };
        let inodes = self.inodes.into_iter().map(InodeFile::into_spec).collect();
        let (mut actors, mut forever) = (Vec::new(), Vec::new());
        for (a, actor) in self.actors.into_iter().enumerate() {
            let repeat = Repeat::read(actor.repeat.as_ref(), a)?;
            let ops = actor
                .ops
                .into_iter()
                .enumerate()
                .map(|(k, op)| op.into_op(&format!("actors[{a}].ops[{k}]")));
            let program = ops.collect::<Result<Vec<Op>, (String, String)>>()?;
            actors.push(written_out(program, repeat, a)?);
            forever.push(repeat == Repeat::Forever);
        }
        let mut patches = Patches::NONE;
        for (k, id) in self.patches.iter().enumerate() {
            patches = Patches::parse(&[id])
                .map_err(|reason| (format!("patches[{k}]"), reason))?
                .union(patches);
        }
        let scenario = Scenario {
            geometry,
            mount,
            inodes,
            actors,
            patches,
        };
        Ok(Looping { scenario, forever })
    }
}

/// The program as the model runs it: written out N times for `repeat = N`, once for
/// `"forever"` (the liveness search starts each next round).
fn written_out(program: Vec<Op>, repeat: Repeat, a: usize) -> Result<Vec<Op>, (String, String)> {
    match repeat {
        Repeat::Forever if program.is_empty() => Err((
            format!("actors[{a}].repeat"),
            "an actor with no operations has no round to repeat".to_string(),
        )),
        Repeat::Forever | Repeat::Times(1) => Ok(program),
        Repeat::Times(n) if program.len() * n > OPS_PER_ACTOR_MAX => Err((
            format!("actors[{a}].repeat"),
            format!(
                "{n} rounds of {} operations are more than {OPS_PER_ACTOR_MAX} operations",
                program.len()
            ),
        )),
        Repeat::Times(n) => Ok((0..n).flat_map(|_| program.iter().cloned()).collect()),
    }
}

impl InodeFile {
    fn into_spec(self) -> InodeSpec {
        let extents_at_start = self
            .extents
            .iter()
            .map(|e| Extent {
                lblk: e.lblk,
                len: e.len,
                pblk: e.pblk,
                state: match e.state {
                    StateFile::Written => ExtentState::Written,
                    StateFile::Unwritten => ExtentState::Unwritten,
                },
            })
            .collect();
        InodeSpec {
            ino: self.ino,
            extents: self.mapping == Mapping::Extents,
            s_sync: self.s_sync,
            dio_refused: self.dio_refused,
            i_size: self.i_size,
            extents_at_start,
            cached_pages: self.cached_pages,
        }
    }
}

impl OpFile {
    fn into_op(self, field: &str) -> Result<Op, (String, String)> {
        Ok(match self {
            OpFile::Write {
                inode,
                pos,
                len,
                segments,
                direct,
                aio,
                append,
                sync,
                largefile,
                rlimit_fsize,
            } => {
                let segments = match (len, segments) {
                    (Some(len), None) => vec![Segment {
                        base: DEFAULT_BUFFER,
                        len,
                    }],
                    (None, Some(s)) => s
                        .iter()
                        .map(|s| Segment {
                            base: s.base,
                            len: s.len,
                        })
                        .collect(),
                    _ => {
                        let reason = "give exactly one of `len` and `segments`";
                        return Err((field.to_string(), reason.to_string()));
                    }
                };
                let file = FileFlags {
                    o_direct: direct,
                    o_append: append,
                    o_sync: sync == SyncFile::Sync,
                    o_dsync: sync != SyncFile::None,
                    o_largefile: largefile,
                };
                let rlimit_fsize = rlimit_fsize.unwrap_or(RLIM_INFINITY);
                Op::Write(WriteOp {
                    inode,
                    pos,
                    segments,
                    file,
                    aio,
                    rlimit_fsize,
                    tag: 0,
                })
            }
            OpFile::Read {
                inode,
                pos,
                len,
                direct,
            } => Op::Read {
                inode,
                pos,
                len,
                direct,
            },
            OpFile::Stat { inode } => Op::Stat { inode },
            OpFile::Truncate { inode, size } => Op::Truncate { inode, size },
            OpFile::PunchHole { inode, pos, len } => Op::PunchHole { inode, pos, len },
            OpFile::Fsync { inode, datasync } => Op::Fsync { inode, datasync },
            OpFile::Writeback { inode } => Op::Writeback { inode },
            OpFile::Commit => Op::Commit,
            OpFile::Crash => Op::Crash,
        })
    }
}

/// The scenario as a scenario file (what [`parse`] reads back to the same scenario).
pub fn to_toml(scenario: &Scenario) -> String {
    to_toml_under(scenario, "")
}

/// A looping scenario as a scenario file (what [`parse_looping`] reads back to the same):
/// [`to_toml`]'s, with `repeat = "forever"` in the table of each actor that repeats
/// forever (a `repeat = N` program is written out N times).
pub fn looping_to_toml(looping: &Looping) -> String {
    const ACTOR: &str = "\n[[actors]]\n";
    let text = to_toml(&looping.scenario);
    let mut pieces = text.split(ACTOR);
    let mut out = pieces.next().unwrap_or_default().to_string();
    for (piece, forever) in pieces.zip(&looping.forever) {
        out += ACTOR;
        if *forever {
            out += "repeat = \"forever\"\n";
        }
        out += piece;
    }
    out
}

/// The scenario's tables under `prefix` (`"scenario."` inside a corpus file).
pub fn to_toml_under(scenario: &Scenario, prefix: &str) -> String {
    let g = &scenario.geometry;
    let m = &scenario.mount;
    let mut out = String::new();
    if !scenario.patches.is_empty() {
        let ids: Vec<String> = scenario
            .patches
            .ids()
            .iter()
            .map(|id| format!("\"{id}\""))
            .collect();
        let table = prefix
            .strip_suffix('.')
            .map(|t| format!("[{t}]\n"))
            .unwrap_or_default();
        out += &format!("{table}patches = [{}]\n\n", ids.join(", "));
    }
    out += &format!(
        "[{prefix}geometry]\nblkbits = {}\nsector_bits = {}\npage_bits = {}\nhuge_file = {}\ndisk_blocks = {}\n\n",
        g.blkbits, g.sector_bits, g.page_bits, g.huge_file, g.disk_blocks
    );
    out += &format!(
        "[{prefix}mount]\ndioread_nolock = {}\nsync = {}\nplug_holds_bios = {}\nbio_errors = {}\n",
        m.dioread_nolock, m.sync, m.plug_holds_bios, m.bio_errors
    );
    for inode in &scenario.inodes {
        out += &format!("\n[[{prefix}inodes]]\n{}", inode_toml(inode));
    }
    for program in &scenario.actors {
        let ops: Vec<String> = program.iter().map(op_toml).collect();
        out += &format!(
            "\n[[{prefix}actors]]\nops = [\n  {},\n]\n",
            ops.join(",\n  ")
        );
    }
    out
}

fn inode_toml(inode: &InodeSpec) -> String {
    let extents: Vec<String> = inode
        .extents_at_start
        .iter()
        .map(|e| {
            let state = if e.state == ExtentState::Written {
                "written"
            } else {
                "unwritten"
            };
            format!(
                "{{ lblk = {}, len = {}, pblk = {}, state = \"{state}\" }}",
                e.lblk, e.len, e.pblk
            )
        })
        .collect();
    let mapping = if inode.extents { "extents" } else { "bitmap" };
    format!(
        "ino = {}\nmapping = \"{mapping}\"\ni_size = {}\ns_sync = {}\ndio_refused = {}\ncached_pages = {:?}\nextents = [{}]\n",
        inode.ino,
        inode.i_size,
        inode.s_sync,
        inode.dio_refused,
        inode.cached_pages,
        extents.join(", ")
    )
}

fn op_toml(op: &Op) -> String {
    match op {
        Op::Write(w) => write_toml(w),
        Op::Read {
            inode,
            pos,
            len,
            direct,
        } => {
            format!(
                "{{ op = \"read\", inode = {inode}, pos = {pos}, len = {len}, direct = {direct} }}"
            )
        }
        Op::Stat { inode } => format!("{{ op = \"stat\", inode = {inode} }}"),
        Op::Truncate { inode, size } => {
            format!("{{ op = \"truncate\", inode = {inode}, size = {size} }}")
        }
        Op::PunchHole { inode, pos, len } => {
            format!("{{ op = \"punch_hole\", inode = {inode}, pos = {pos}, len = {len} }}")
        }
        Op::Fsync { inode, datasync } => {
            format!("{{ op = \"fsync\", inode = {inode}, datasync = {datasync} }}")
        }
        Op::Writeback { inode } => format!("{{ op = \"writeback\", inode = {inode} }}"),
        Op::Commit => "{ op = \"commit\" }".to_string(),
        Op::Crash => "{ op = \"crash\" }".to_string(),
    }
}

fn write_toml(w: &WriteOp) -> String {
    let segments: Vec<String> = w
        .segments
        .iter()
        .map(|s| format!("{{ base = {}, len = {} }}", s.base, s.len))
        .collect();
    let sync = match (w.file.o_sync, w.file.o_dsync) {
        (true, _) => "sync",
        (false, true) => "dsync",
        (false, false) => "none",
    };
    let rlimit = if w.rlimit_fsize == RLIM_INFINITY {
        String::new()
    } else {
        format!(", rlimit_fsize = {}", w.rlimit_fsize)
    };
    format!(
        "{{ op = \"write\", inode = {}, pos = {}, segments = [{}], direct = {}, aio = {}, append = {}, sync = \"{sync}\", largefile = {}{rlimit} }}",
        w.inode,
        w.pos,
        segments.join(", "),
        w.file.o_direct,
        w.aio,
        w.file.o_append,
        w.file.o_largefile
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looping_to_toml_reads_back_to_the_same_looping_scenario() {
        let text = "[[inodes]]\nino = 12\ni_size = 4096\n\n[[actors]]\nops = [{ op = \"commit\" }]\n\n[[actors]]\nrepeat = \"forever\"\nops = [{ op = \"writeback\" }, { op = \"commit\" }]\n";
        let looping = parse_looping(text).expect("a looping scenario");
        assert_eq!(looping.forever, [false, true]);
        let written = looping_to_toml(&looping);
        let back = parse_looping(&written).unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(back, looping, "{written}");
    }

    #[test]
    fn to_toml_reads_back_to_the_same_scenario() {
        for seed in 0..100 {
            let (scenario, _) = crate::swarm::generate(seed);
            let text = to_toml(&scenario);
            let back = parse(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
            assert_eq!(back, scenario, "seed {seed}");
        }
    }
}
