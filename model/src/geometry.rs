//! Superblock geometry and mount options (fs/ext4/super.c, fs/ext4/ext4_jbd2.h). Sizes are
//! real bytes; the simulated disk is small (`disk_blocks`) so that states stay small.

use crate::limits::{self, BLKBITS_MAX, BLKBITS_MIN, PAGE_BITS_MAX, PAGE_BITS_MIN};

/// The filesystem's and block device's sizes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Geometry {
    /// `i_blkbits`: log2 of the fs block size (10 = 1 KiB … 16 = 64 KiB).
    pub blkbits: u32,
    /// log2 of the device's logical sector size (`bdev_logical_block_size`).
    pub sector_bits: u32,
    /// `PAGE_SHIFT`.
    pub page_bits: u32,
    /// The `huge_file` feature (`ext4_has_feature_huge_file`).
    pub huge_file: bool,
    /// Physical blocks of the simulated disk (a model bound, not a kernel value).
    pub disk_blocks: u32,
}

/// Mount options that change the write path (fs/ext4/ext4_jbd2.h).
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
pub struct Mount {
    /// `-o dioread_nolock` (off by default in 4.4; needs block size == page size).
    pub dioread_nolock: bool,
    /// `MS_SYNCHRONOUS`: every inode `IS_SYNC`.
    pub sync: bool,
    /// The device is request-based: bios submitted under a plug stay on the plug list until
    /// the submitter sleeps (`blk_schedule_flush_plug`) or calls `blk_finish_plug`
    /// (block/blk-core.c). Off: a bio-based device (brd, pmem, md) dispatches each bio at
    /// submission, so any bio may complete at once.
    pub plug_holds_bios: bool,
    /// The device may fail any bio with `-EIO` (a completion task `e<n>` beside `b<n>`).
    pub bio_errors: bool,
}

/// A geometry the kernel would refuse (or the model cannot hold), naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeometryError {
    /// The field at fault, as named in a scenario file.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for GeometryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl Geometry {
    /// 4 KiB blocks on 1 KiB sectors (4 sectors a block), 4 KiB pages, 16 disk blocks.
    pub const SMALL: Geometry = Geometry {
        blkbits: 12,
        sector_bits: 10,
        page_bits: 12,
        huge_file: true,
        disk_blocks: 16,
    };

    /// `sb->s_blocksize`.
    pub fn blocksize(&self) -> u64 {
        1 << self.blkbits
    }
    /// The logical sector size.
    pub fn sectorsize(&self) -> u64 {
        1 << self.sector_bits
    }
    /// `PAGE_SIZE`.
    pub fn pagesize(&self) -> u64 {
        1 << self.page_bits
    }
    /// Sectors in one fs block.
    pub fn sectors_per_block(&self) -> u64 {
        1 << (self.blkbits - self.sector_bits)
    }
    /// Sectors in one page.
    pub fn sectors_per_page(&self) -> u64 {
        1 << (self.page_bits - self.sector_bits)
    }
    /// `sb->s_maxbytes` (extent files), fs/ext4/super.c.
    pub fn s_maxbytes(&self) -> u64 {
        limits::ext4_max_size(self.blkbits, self.huge_file)
    }
    /// `sbi->s_bitmap_maxbytes` (block-mapped files), fs/ext4/super.c; `loff_t`.
    pub fn s_bitmap_maxbytes(&self) -> i64 {
        limits::ext4_max_bitmap_size(self.blkbits, self.huge_file)
    }

    /// Checks what mount and the model accept; the error names the field.
    pub fn validate(&self, mount: &Mount) -> Result<(), GeometryError> {
        let error = |field, reason: String| Err(GeometryError { field, reason });
        if !(BLKBITS_MIN..=BLKBITS_MAX).contains(&self.blkbits) {
            return error(
                "blkbits",
                format!("{} is outside 10..=16 (1 KiB to 64 KiB)", self.blkbits),
            );
        }
        if self.sector_bits < limits::SECTOR_BITS_MIN || self.sector_bits > self.blkbits {
            return error(
                "sector_bits",
                format!("{} is outside 9..=blkbits", self.sector_bits),
            );
        }
        if self.sectors_per_block() > u64::from(limits::SECTORS_PER_BLOCK_MAX) {
            return error(
                "sector_bits",
                "more sectors a block than the model holds".into(),
            );
        }
        if !(PAGE_BITS_MIN..=PAGE_BITS_MAX).contains(&self.page_bits)
            || self.page_bits < self.blkbits
        {
            return error(
                "page_bits",
                format!("{} is outside 12..=16 or below blkbits", self.page_bits),
            );
        }
        if self.disk_blocks == 0 || self.disk_blocks > limits::DISK_BLOCKS_MAX {
            return error(
                "disk_blocks",
                format!("{} is outside 1..=64", self.disk_blocks),
            );
        }
        if mount.dioread_nolock && self.blkbits != self.page_bits {
            return error(
                "dioread_nolock",
                "mount refuses it when block size != page size".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_field_of_an_impossible_geometry() {
        let bad = Geometry {
            blkbits: 9,
            ..Geometry::SMALL
        };
        assert_eq!(
            bad.validate(&Mount::default()).unwrap_err().field,
            "blkbits"
        );
        let bad = Geometry {
            sector_bits: 13,
            ..Geometry::SMALL
        };
        assert_eq!(
            bad.validate(&Mount::default()).unwrap_err().field,
            "sector_bits"
        );
        let small = Geometry {
            blkbits: 10,
            sector_bits: 9,
            ..Geometry::SMALL
        };
        let nolock = Mount {
            dioread_nolock: true,
            ..Mount::default()
        };
        assert_eq!(small.validate(&nolock).unwrap_err().field, "dioread_nolock");
        assert!(Geometry::SMALL.validate(&nolock).is_ok());
    }
}
