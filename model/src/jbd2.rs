//! fs/jbd2/: the journal (kept at the crate root as `jbd2`, as the kernel's own name for it).

pub mod commit;
pub mod journal;
pub mod recovery;
pub mod transaction;
