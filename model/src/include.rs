//! include/linux/: the types the write path passes around.

pub mod fs;
