//! fs/: the VFS entry points of the other actors, the generic direct I/O code
//! (fs/direct-io.c) and ext4 (fs/ext4/).

pub mod direct_io;
pub mod ext4;
pub mod vfs;
