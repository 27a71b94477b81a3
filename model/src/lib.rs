//! # model: the Linux 4.4 ext4 write path as a pure state machine
//!
//! (Tutorial to come with the engines; see the README.)
#![warn(missing_docs)]

pub mod background;
pub mod dio;
pub mod drive;
pub mod exec;
pub mod extent;
pub mod geometry;
pub mod io;
pub mod iocb;
pub mod limits;
pub mod ops;
pub mod other;
pub mod pagecache;
pub mod scenario;
pub mod state;
pub mod truncate;
pub mod write;
