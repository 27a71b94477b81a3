//! The real-ext4 conformance suite's machinery: images ([`image`]), raw system calls
//! ([`sys`]), cases run both ways and compared ([`case`]), explained differences
//! ([`differences`]).

pub mod case;
pub mod differences;
pub mod image;
pub mod sys;

use std::sync::{Mutex, MutexGuard};

use image::{Flavour, Image};

/// Set to `1` to make a missing precondition (root, `mkfs.ext4`, a loop device) fail the
/// test instead of skipping it.
pub const REQUIRED_VAR: &str = "REAL_EXT4_REQUIRED";

/// `RLIMIT_FSIZE` and the SIGXFSZ handler are per process: the tests of this binary run one
/// at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the suite's lock (a test that panicked while holding it does not poison the rest).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes and mounts an image, or prints one line saying why the test does not run and
/// returns `None` (a panic instead when `REAL_EXT4_REQUIRED=1`).
pub fn image_or_skip(test: &str, flavour: Flavour) -> Option<Image> {
    match Image::new(flavour) {
        Ok(image) => Some(image),
        Err(why) if std::env::var(REQUIRED_VAR).as_deref() != Ok("1") => {
            // Straight to stderr: libtest's capture would hide a println! of a passing test.
            let line = format!("real_ext4::{test}: did not run: {why}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            None
        }
        Err(why) => panic!("real_ext4::{test}: {REQUIRED_VAR}=1 but: {why}"),
    }
}
