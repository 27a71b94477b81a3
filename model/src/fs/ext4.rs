//! fs/ext4/: the ext4 filesystem, one module per kernel file.

pub mod extents;
pub mod file;
pub mod fsync;
pub mod indirect;
pub mod inode;
pub mod page_io;
// `super` is a keyword: the module is `super_`, its file `super.rs` as the kernel's super.c.
#[path = "ext4/super.rs"]
pub mod super_;
