//! # sim: running the ext4 write-path model
//!
//! `writeiter run FILE` reads a scenario file ([`scenario_file`]), runs it under a given or
//! the default schedule with [`model::drive`], and prints the trace in ext4 terms
//! ([`report`]). The engines (our simulator, shuttle, loom) come with the hunt.
//!
//! ## Checking a scenario in `cargo test`
//!
//! [`check`] is the API for a test of your own: a [`Scenario`] from a file, TOML text or code,
//! a [`Check`] of it by one engine and strategy with a budget in counts, and an assertion.
//! A failing assertion panics with the report `writeiter hunt` prints for a finding (the
//! engine, strategy and seed, a `writeiter run … --schedule … --exact` line that replays it,
//! the violation, the trace's tail); with `WRITEITER_CORPUS_DIR` set it also writes the shrunk
//! counterexample there as a corpus file.
//!
//! ```
//! use sim::{Inode, Scenario, op};
//!
//! // Corpus 0003: under dioread_nolock an AIO overwrite drops i_mutex and clears i_private,
//! // where another AIO's io_end was waiting for its get_block (fixed upstream in v4.5 by
//! // 74dae4278546 "ext4: fix crashes in dioread_nolock mode").
//! let s = Scenario::builder()
//!     .dioread_nolock()
//!     .inode(Inode::new().i_size(8192).unwritten(0, 1, 0).written(1, 1, 2))
//!     .actor([op::write(0, 1024).direct().aio()])
//!     .actor([op::write(4096, 4096).direct().aio()])
//!     .build()
//!     .unwrap();
//! let run = s.check().exhaustive().assert_violates("single-dio-decision");
//! assert!(run.schedule.len() > 10);
//! s.check().random(2_000).seed(7).assert_violates("single-dio-decision");
//! // Its class, as `writeiter hunt` prints it: the oracle, the kernel function of the step
//! // where it broke, the kinds of the operation that took that step.
//! s.check()
//!     .exhaustive()
//!     .assert_class("single-dio-decision@ext4_ext_map_blocks | aio-dio");
//! // The upstream fix as a patch of the model (`writeiter patches` lists them): every
//! // reachable state of the patched model is free of violations.
//! s.with_patch("74dae4278546").check().exhaustive().assert_holds();
//!
//! // Corpus 0019: two aligned AIO overwrites of one block; every order of their bios is
//! // legal, and a breadth-first search of every reachable state finds no violation.
//! let s = Scenario::from_toml(
//!     r#"
//!     [geometry]
//!     sector_bits = 10
//!     [[inodes]]
//!     i_size = 4096
//!     extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
//!     [[actors]]
//!     ops = [{ op = "write", pos = 0, len = 4096, direct = true, aio = true }]
//!     [[actors]]
//!     ops = [{ op = "write", pos = 0, len = 4096, direct = true, aio = true }]
//!     "#,
//! )
//! .unwrap();
//! s.check().exhaustive().assert_holds();
//! ```
#![warn(missing_docs)]

pub mod bench;
pub mod check;
pub mod cli;
pub mod cli_coverage;
pub mod cli_liveness;
pub mod cli_search;
pub mod cli_shrink_lasso;
pub mod codec;
pub mod corpus;
pub mod coverage;
pub mod engine;
pub mod expand;
pub mod explain;
pub mod fingerprint;
pub mod frontier;
pub mod guide;
pub mod hunt;
pub mod liveness;
pub mod matrix;
pub mod oracle;
pub mod pack;
pub mod persistent;
pub mod reduce;
pub mod report;
pub mod scenario_file;
pub mod shrink;
pub mod shrink_lasso;
pub mod signature;
pub mod swarm;
pub mod symmetry;
pub mod sync;
pub mod threaded;

pub use check::{Check, Inode, Operation, Scenario, ScenarioBuilder, Search, assert_entry, op};
