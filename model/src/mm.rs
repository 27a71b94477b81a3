//! mm/: the page cache (mm/filemap.c) and dropping pages from it (mm/truncate.c).

pub mod filemap;
pub mod truncate;
