//! mm/: the page cache (mm/filemap.c).

pub mod filemap;
