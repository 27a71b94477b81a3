//! Upstream fixes as patches of the model.
//!
//! The model is 4.4.121, bugs included. A [`Patch`] is one later upstream commit applied to
//! it: at each step the commit changed, the step asks [`crate::state::State::patched`] and
//! takes the new behaviour, under a doc comment that quotes the upstream lines it mirrors.
//! Only the lines a commit changed move; everything around them stays 4.4's. A scenario names
//! its patches ([`crate::scenario::Scenario::patches`]); with none, nothing changes.
//!
//! A patch that only makes sense on top of another one ([`Upstream::requires`]) brings that
//! one in: applying `5e25c269e17d` applies `332391a9935d` too.

use std::fmt;

/// One upstream commit the model can apply. Each variant's doc names the step it changes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Patch {
    /// `74dae4278546`: an overwrite DIO allocates no io_end and leaves `i_private` alone
    /// (`ext4_ext_direct_IO`).
    OverwriteDioLeavesIPrivate,
    /// `187372a3b9fa`: `dio_complete` calls `->end_io` whatever the result.
    DioAlwaysCallsEndIo,
    /// `74c66bcb7eda`: `ext4_end_io_dio` clears the io_end's unwritten flag on error.
    FailedAioDioConvertsNothing,
    /// `109811c20fb8`: the io_end travels in `bh->b_private`, not in the inode's `i_private`.
    IoEndInBPrivate,
    /// `e142d05263a4`: unaligned AIO DIO is serialized by `i_mutex`, with no `aio_mutex`.
    IMutexSerializesUnalignedAio,
    /// `914f82a32d02`: extent-file DIO writes inside the EOF block use unwritten extents.
    DioRefactor,
    /// `5660e13d2fd6`: `fsync` reports writeback errors through the file's `errseq_t`.
    Errseq,
    /// `332391a9935d`: AIO DIO completion invalidates the page cache in process context.
    DioCompleteInvalidates,
    /// `5e25c269e17d`: that invalidation comes after `->end_io`.
    InvalidateAfterEndIo,
    /// `45d8ec4d9fd5`: a direct write past `i_disksize` updates `i_disksize`.
    DioUpdatesDisksize,
    /// `372a03e01853`: `ext4_unaligned_aio` compares with the block-aligned `i_size`.
    UnalignedAioAlignedEof,
    /// `57a0da28ced8`: an unaligned AIO waits for unwritten extents after it is queued.
    UnwrittenWaitAfterQueue,
    /// `d4f5258eae7b`: `mapping->invalidate_lock` keeps reads out while a punch removes blocks.
    InvalidateLock,
    /// `e856f93e0fb2`: a failed data writeback converts no unwritten extent.
    FailedWritebackConvertsNothing,
}

/// The upstream commit a [`Patch`] mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// The commit's first 12 hex digits.
    pub id: &'static str,
    /// Its subject line.
    pub title: &'static str,
    /// The first mainline release that had it (`v4.6`).
    pub version: &'static str,
    /// Patches it builds on; applying it applies them.
    pub requires: &'static [Patch],
    /// What it changes in the model, in kernel terms.
    pub changes: &'static str,
}

impl Patch {
    /// Every patch, in the order of the kernel release that took it.
    pub const ALL: [Patch; 14] = [
        Patch::OverwriteDioLeavesIPrivate,
        Patch::DioAlwaysCallsEndIo,
        Patch::FailedAioDioConvertsNothing,
        Patch::IoEndInBPrivate,
        Patch::IMutexSerializesUnalignedAio,
        Patch::DioRefactor,
        Patch::Errseq,
        Patch::DioCompleteInvalidates,
        Patch::InvalidateAfterEndIo,
        Patch::DioUpdatesDisksize,
        Patch::UnalignedAioAlignedEof,
        Patch::UnwrittenWaitAfterQueue,
        Patch::InvalidateLock,
        Patch::FailedWritebackConvertsNothing,
    ];

    /// The commit this patch mirrors.
    #[allow(clippy::too_many_lines)] // one table row per patch
    pub fn upstream(self) -> Upstream {
        use Patch::*;
        let (id, title, version, requires, changes): (_, _, _, &'static [Patch], _) = match self {
            OverwriteDioLeavesIPrivate => (
                "74dae4278546",
                "ext4: fix crashes in dioread_nolock mode",
                "v4.5",
                &[],
                "ext4_ext_direct_IO: an overwrite neither clears nor sets i_private",
            ),
            DioAlwaysCallsEndIo => (
                "187372a3b9fa",
                "direct-io: always call ->end_io if non-NULL",
                "v4.6",
                &[],
                "dio_complete: ->end_io runs on error and on zero bytes, and gets the result",
            ),
            FailedAioDioConvertsNothing => (
                "74c66bcb7eda",
                "ext4: Fix data exposure after failed AIO DIO",
                "v4.6",
                &[DioAlwaysCallsEndIo],
                "ext4_end_io_dio: size <= 0 clears the io_end's unwritten flag",
            ),
            IoEndInBPrivate => (
                "109811c20fb8",
                "ext4: simplify io_end handling for AIO DIO",
                "v4.6",
                &[],
                "AIO DIO: the io_end is made by get_block for an unwritten extent, travels in \
                 b_private, and ->end_io holds its only reference; no i_private",
            ),
            IMutexSerializesUnalignedAio => (
                "e142d05263a4",
                "ext4: use i_mutex to serialize unaligned AIO DIO",
                "v4.6",
                &[],
                "ext4_file_write_iter: no aio_mutex; ext4_unwritten_wait under i_mutex after \
                 generic_write_checks, with no O_APPEND case",
            ),
            DioRefactor => (
                "914f82a32d02",
                "ext4: refactor direct IO code",
                "v4.7",
                &[],
                "ext4_direct_IO_write: an extent-file write whose first block is not past EOF \
                 allocates unwritten extents and converts them only on success",
            ),
            Errseq => (
                "5660e13d2fd6",
                "fs: new infrastructure for writeback error handling and reporting",
                "v4.13",
                &[],
                "mapping_set_error bumps mapping->wb_err; ext4_sync_file reports it to every \
                 file that has not seen it (file_check_and_advance_wb_err)",
            ),
            DioCompleteInvalidates => (
                "332391a9935d",
                "fs: Fix page cache inconsistency when mixing buffered and AIO DIO",
                "v4.14",
                &[],
                "dio_complete: an AIO write with cached pages completes in process context and \
                 invalidates its range before ->end_io",
            ),
            InvalidateAfterEndIo => (
                "5e25c269e17d",
                "fs: invalidate page cache after end_io() in dio completion",
                "v4.14",
                &[DioCompleteInvalidates],
                "dio_complete: the invalidation moves after ->end_io",
            ),
            DioUpdatesDisksize => (
                "45d8ec4d9fd5",
                "ext4: update i_disksize if direct write past ondisk size",
                "v4.17",
                &[],
                "ext4_direct_IO: a write past i_disksize (not only past i_size) takes the \
                 extending path and sets i_disksize",
            ),
            UnalignedAioAlignedEof => (
                "372a03e01853",
                "ext4: fix data corruption caused by unaligned direct AIO",
                "v5.1",
                &[],
                "ext4_unaligned_aio: pos >= ALIGN(i_size, blocksize) is not serialized",
            ),
            UnwrittenWaitAfterQueue => (
                "57a0da28ced8",
                "ext4: fix data corruption caused by overlapping unaligned and aligned IO",
                "v5.2",
                &[],
                "ext4_file_write_iter: -EIOCBQUEUED && unaligned_aio waits in \
                 ext4_unwritten_wait before dropping i_mutex",
            ),
            InvalidateLock => (
                "d4f5258eae7b",
                "ext4: Convert to use mapping->invalidate_lock",
                "v5.15",
                &[],
                "ext4_punch_hole holds invalidate_lock from the page-cache truncation until the \
                 blocks are removed; a read that fills the page cache takes it shared",
            ),
            FailedWritebackConvertsNothing => (
                "e856f93e0fb2",
                "ext4: do not convert the unwritten extents if data writeback fails",
                "v6.15",
                &[],
                "ext4_end_io_end: an io_end with an I/O error converts nothing",
            ),
        };
        Upstream {
            id,
            title,
            version,
            requires,
            changes,
        }
    }

    /// The patch whose upstream id starts with `id` (at least 7 hex digits, as git abbreviates).
    pub fn from_id(id: &str) -> Option<Patch> {
        let id = id.to_ascii_lowercase();
        if id.len() < PATCH_ID_MIN_DIGITS {
            return None;
        }
        Patch::ALL
            .into_iter()
            .find(|p| p.upstream().id.starts_with(&id) || id.starts_with(p.upstream().id))
    }

    fn bit(self) -> u16 {
        1 << Patch::ALL.iter().position(|&p| p == self).expect("in ALL")
    }
}

/// The shortest commit id [`Patch::from_id`] accepts.
pub const PATCH_ID_MIN_DIGITS: usize = 7;

impl fmt::Display for Patch {
    /// `74dae4278546 ext4: fix crashes in dioread_nolock mode (v4.5)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = self.upstream();
        write!(f, "{} {} ({})", u.id, u.title, u.version)
    }
}

/// A set of patches.
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
pub struct Patches(u16);

impl Patches {
    /// 4.4.121 as released.
    pub const NONE: Patches = Patches(0);

    /// Every patch.
    pub fn all() -> Patches {
        Patch::ALL.into_iter().fold(Patches::NONE, Patches::with)
    }

    /// This set and `patch`, with the patches `patch` requires.
    pub fn with(self, patch: Patch) -> Patches {
        let with = Patches(self.0 | patch.bit());
        patch
            .upstream()
            .requires
            .iter()
            .fold(with, |s, &p| s.with(p))
    }

    /// `patch` is applied.
    pub fn has(self, patch: Patch) -> bool {
        self.0 & patch.bit() != 0
    }

    /// No patch is applied.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The applied patches, in [`Patch::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Patch> {
        Patch::ALL.into_iter().filter(move |&p| self.has(p))
    }

    /// The set named by `ids`: commit ids, or `all`. An error names the id no patch has.
    pub fn parse<S: AsRef<str>>(ids: &[S]) -> Result<Patches, String> {
        let mut set = Patches::NONE;
        for id in ids {
            let id = id.as_ref();
            set = match id {
                "all" => Patches::all(),
                _ => match Patch::from_id(id) {
                    Some(p) => set.with(p),
                    None => return Err(format!("`{id}` is no patch's commit id ({})", KNOWN)),
                },
            }
            .union(set);
        }
        Ok(set)
    }

    /// Both sets.
    pub fn union(self, other: Patches) -> Patches {
        Patches(self.0 | other.0)
    }

    /// The ids, as a scenario file lists them.
    pub fn ids(self) -> Vec<&'static str> {
        self.iter().map(|p| p.upstream().id).collect()
    }
}

impl fmt::Display for Patches {
    /// `4.4.121`, or `4.4.121 + 74dae4278546 + 109811c20fb8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("4.4.121")?;
        self.iter()
            .try_for_each(|p| write!(f, " + {}", p.upstream().id))
    }
}

/// Where an unknown id's error sends the user.
const KNOWN: &str = "`writeiter patches` lists the ids; `all` applies every patch";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_twelve_lowercase_hex_digits_and_unique() {
        let mut ids: Vec<&str> = Patch::ALL.iter().map(|p| p.upstream().id).collect();
        for id in &ids {
            assert_eq!(id.len(), 12, "{id}");
            assert!(
                id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                "{id}"
            );
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Patch::ALL.len());
    }

    #[test]
    fn a_patch_brings_the_patches_it_requires() {
        let set = Patches::NONE.with(Patch::InvalidateAfterEndIo);
        assert!(set.has(Patch::DioCompleteInvalidates));
        assert!(!set.has(Patch::Errseq));
        assert_eq!(set.iter().count(), 2);
    }

    #[test]
    fn ids_parse_abbreviated_and_all_and_unknown_ones_are_refused() {
        let set = Patches::parse(&["74dae42", "109811c20fb8"]).unwrap();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Patch::OverwriteDioLeavesIPrivate, Patch::IoEndInBPrivate]
        );
        assert_eq!(Patches::parse(&["all"]).unwrap(), Patches::all());
        assert_eq!(Patches::all().iter().count(), Patch::ALL.len());
        let error = Patches::parse(&["deadbeef0000"]).unwrap_err();
        assert!(error.contains("`deadbeef0000`"), "{error}");
        assert!(
            Patches::parse(&["74da"]).is_err(),
            "too short to name a commit"
        );
        assert_eq!(set.to_string(), "4.4.121 + 74dae4278546 + 109811c20fb8");
    }
}
