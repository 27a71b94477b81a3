//! # sim: running the ext4 write-path model
//!
//! `writeiter run FILE` reads a scenario file ([`scenario_file`]), runs it under a given or
//! the default schedule with [`model::drive`], and prints the trace in ext4 terms
//! ([`report`]). The engines (our simulator, shuttle, loom) come with the hunt.
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod corpus;
pub mod engine;
pub mod explain;
pub mod hunt;
pub mod oracle;
pub mod report;
pub mod scenario_file;
pub mod shrink;
pub mod swarm;
pub mod sync;
pub mod threaded;
