//! block/: bios and their completion.

pub mod bio;
