//! Helpers shared by the `sim` integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};

use model::extent::{Extent, ExtentState};
use model::scenario::InodeSpec;

/// Runs the `writeiter` binary from the repository root.
pub fn writeiter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writeiter"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("writeiter runs")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The corpus file whose name starts with `prefix` (`"0003"`).
pub fn corpus_file(prefix: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .expect("entry")
}

/// Inode 0 (ino 12): one written block at p0, `i_size` 4096.
pub fn one_block_inode() -> InodeSpec {
    InodeSpec {
        ino: 12,
        extents: true,
        s_sync: false,
        dio_refused: false,
        i_size: 4096,
        extents_at_start: vec![Extent {
            lblk: 0,
            len: 1,
            pblk: 0,
            state: ExtentState::Written,
        }],
        cached_pages: Vec::new(),
    }
}
