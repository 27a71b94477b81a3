//! A small ext4 image, made with `mkfs.ext4` in a fresh temporary directory and loop-mounted;
//! dropping the guard (also while a test panics) unmounts it (`umount`, then `umount -l` if
//! busy), detaches its loop devices and removes the directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Size of every image: room for the generated cases, small enough to make in milliseconds.
const IMAGE_BYTES: u64 = 64 << 20;

/// The images the suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// 4 KiB blocks with extents (`mkfs.ext4 -b 4096`): files are extent-mapped.
    Extent4K,
    /// The same image mounted with `dioread_nolock` (model `Mount::dioread_nolock`).
    Extent4KNolock,
    /// 1 KiB blocks without extents (`-O ^extent,^64bit,^flex_bg`): files are block-mapped.
    Bitmap1K,
}

impl Flavour {
    /// log2 of the block size.
    pub fn blkbits(self) -> u32 {
        match self {
            Flavour::Extent4K | Flavour::Extent4KNolock => 12,
            Flavour::Bitmap1K => 10,
        }
    }

    /// The block size in bytes.
    pub fn blocksize(self) -> u64 {
        1 << self.blkbits()
    }

    /// Files on this image carry `EXT4_EXTENTS_FL`.
    pub fn extents(self) -> bool {
        self != Flavour::Bitmap1K
    }

    /// Mounted with `dioread_nolock` (4.4's default and the others: `dioread_lock`).
    pub fn dioread_nolock(self) -> bool {
        self == Flavour::Extent4KNolock
    }

    /// The model's mount options for this image.
    pub fn mount(self) -> model::fs::ext4::super_::Mount {
        model::fs::ext4::super_::Mount {
            dioread_nolock: self.dioread_nolock(),
            ..model::fs::ext4::super_::Mount::default()
        }
    }

    /// The `mount -o` options: `loop` and the flavour's `dioread_*` (`dioread_lock` names
    /// 4.4's default explicitly: 6.18 turns `dioread_nolock` on by default).
    pub fn mount_options(self) -> &'static str {
        if self.dioread_nolock() {
            "loop,dioread_nolock"
        } else {
            "loop,dioread_lock"
        }
    }

    fn mkfs_args(self) -> &'static [&'static str] {
        match self {
            Flavour::Extent4K | Flavour::Extent4KNolock => &["-b", "4096"],
            Flavour::Bitmap1K => &["-b", "1024", "-O", "^extent,^64bit,^flex_bg"],
        }
    }
}

/// A mounted image; see the module documentation for what drop undoes.
#[derive(Debug)]
pub struct Image {
    /// The temporary directory holding `img` and `mnt`.
    dir: PathBuf,
    /// The mounted image is there.
    mounted: bool,
    /// The flavour.
    pub flavour: Flavour,
}

/// Runs a command; `Err` names it with its status and standard error.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{program} {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

impl Image {
    /// Makes an image of `flavour` with the `mkfs.ext4` at `mkfs` and mounts it with the
    /// flavour's options. Every failure is an error naming the command and its output (the
    /// caller has checked root and `mkfs.ext4` already: see `real::setup`); whatever was made
    /// before it is undone.
    pub fn new(flavour: Flavour, mkfs: &Path) -> Result<Image, String> {
        Image::with_options(flavour, mkfs, flavour.mount_options())
    }

    /// As [`Image::new`], mounted with `options` (`-o`) instead of the flavour's: a mistyped
    /// option is how the suite's own test makes a setup error.
    pub fn with_options(flavour: Flavour, mkfs: &Path, options: &str) -> Result<Image, String> {
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "real-ext4-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut image = Image {
            dir,
            mounted: false,
            flavour,
        };
        let (img, mnt) = (image.img(), image.mnt());
        let io = |what: &'static str| move |e: std::io::Error| format!("{what}: {e}");
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(IMAGE_BYTES))
            .map_err(io("creating the image file"))?;
        std::fs::create_dir(&mnt).map_err(io("creating the mount point"))?;
        let (img, mnt) = (path_str(&img)?, path_str(&mnt)?);
        let mut args = vec!["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"];
        args.extend(flavour.mkfs_args());
        args.push(img);
        run(path_str(mkfs)?, &args)?;
        run("mount", &["-t", "ext4", "-o", options, img, mnt])?;
        image.mounted = true;
        Ok(image)
    }

    fn img(&self) -> PathBuf {
        self.dir.join("img")
    }

    /// The mount point.
    pub fn mnt(&self) -> PathBuf {
        self.dir.join("mnt")
    }

    /// The loop devices backed by this image (`losetup -j`).
    fn loop_devices(&self) -> Vec<String> {
        let Ok(out) = Command::new("losetup").arg("-j").arg(self.img()).output() else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(':').next())
            .filter(|d| d.starts_with("/dev/"))
            .map(str::to_owned)
            .collect()
    }
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

impl Drop for Image {
    fn drop(&mut self) {
        let mnt = self.mnt();
        if self.mounted {
            let plain = Command::new("umount").arg(&mnt).status();
            if !plain.is_ok_and(|s| s.success()) {
                let lazy = Command::new("umount").arg("-l").arg(&mnt).status();
                if !lazy.is_ok_and(|s| s.success()) {
                    // Removing the directory now would descend into the mounted image.
                    eprintln!(
                        "real_ext4: could not unmount {}; left in place",
                        mnt.display()
                    );
                    return;
                }
            }
        }
        for device in self.loop_devices() {
            let _ = Command::new("losetup").arg("-d").arg(&device).status();
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("real_ext4: could not remove {}: {e}", self.dir.display());
        }
    }
}
