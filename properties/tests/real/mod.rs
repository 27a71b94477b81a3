//! The real-ext4 conformance suite's machinery: images ([`image`]), raw system calls
//! ([`sys`]), cases run both ways and compared ([`case`]), explained differences
//! ([`differences`]) and the two `ext4_ext_convert_to_initialized` rules they rest on
//! ([`zeroout`]).

pub mod case;
pub mod differences;
pub mod image;
pub mod sys;
pub mod zeroout;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use image::{Flavour, Image};

/// Set to `1` to make a missing precondition (root, `mkfs.ext4`) fail the test instead of
/// skipping it. `.ci/run` sets it for the test command.
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

/// What a test does about its setup.
#[derive(Debug)]
pub enum Setup<T> {
    /// Run, with this.
    Run(T),
    /// Do not run: a precondition is missing (the reason). The test reports itself
    /// ignored, with the reason, never passed.
    Skip(String),
}

/// The two preconditions whose absence is a skip, not a failure: root (for `mount`) and
/// `mkfs.ext4`. Returns the `mkfs.ext4` to run, or why the suite cannot run here.
pub fn preconditions() -> Result<PathBuf, String> {
    if !sys::is_root() {
        return Err("not root (the loop mounts need it)".into());
    }
    find_mkfs().ok_or_else(|| "mkfs.ext4 is not installed (e2fsprogs)".into())
}

/// `mkfs.ext4` on `PATH`, or in `/sbin` or `/usr/sbin` (a non-login root shell may not have
/// them on `PATH`).
fn find_mkfs() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("mkfs.ext4"))
        .find(|p| p.is_file())
}

/// The decision, apart from the machine: a missing precondition skips, or fails when
/// `required`; with the preconditions met, `make` runs and any error of it (a mount that
/// fails, a mistyped option, a loop device that cannot attach) fails the test.
pub fn decide<T>(
    test: &str,
    preconditions: Result<PathBuf, String>,
    required: bool,
    make: impl FnOnce(&Path) -> Result<T, String>,
) -> Result<Setup<T>, String> {
    match preconditions {
        Ok(mkfs) => make(&mkfs)
            .map(Setup::Run)
            .map_err(|e| format!("real_ext4::{test}: setup failed: {e}")),
        Err(why) if required => Err(format!(
            "real_ext4::{test}: {REQUIRED_VAR}=1 but the suite cannot run: {why}"
        )),
        Err(why) => Ok(Setup::Skip(why)),
    }
}

/// Whether `REAL_EXT4_REQUIRED=1`.
pub fn required() -> bool {
    std::env::var(REQUIRED_VAR).as_deref() == Ok("1")
}

/// Makes and mounts one image of each of `flavours` on this machine, through [`decide`].
pub fn images(test: &str, flavours: &[Flavour]) -> Result<Setup<Vec<Image>>, String> {
    decide(test, preconditions(), required(), |mkfs| {
        flavours.iter().map(|&f| Image::new(f, mkfs)).collect()
    })
}
