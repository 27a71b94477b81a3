//! block/: bios and their completion.

pub mod bio;
pub mod blk_core;
