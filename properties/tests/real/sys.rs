//! The raw system calls the suite needs beyond `std`: Linux native AIO (`io_setup`,
//! `io_submit`, `io_getevents`, `io_destroy`), the FIEMAP and `FS_IOC_GETFLAGS` ioctls,
//! `RLIMIT_FSIZE` and a counting SIGXFSZ handler. The only module of the suite with `unsafe`.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// The current thread's `errno` as a negative value, as the kernel returns it.
fn neg_errno() -> i64 {
    -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// `IOCB_CMD_PWRITE` (include/uapi/linux/aio_abi.h).
const IOCB_CMD_PWRITE: u16 = 1;

/// `struct iocb` of the kernel ABI (include/uapi/linux/aio_abi.h), little-endian 64-bit.
#[repr(C)]
#[derive(Default)]
struct Iocb {
    aio_data: u64,
    aio_key: u32,
    aio_rw_flags: i32,
    aio_lio_opcode: u16,
    aio_reqprio: i16,
    aio_fildes: u32,
    aio_buf: u64,
    aio_nbytes: u64,
    aio_offset: i64,
    aio_reserved2: u64,
    aio_flags: u32,
    aio_resfd: u32,
}

/// `struct io_event` of the kernel ABI.
#[repr(C)]
#[derive(Default)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

/// An AIO context (`aio_context_t`), destroyed on drop.
struct AioContext(libc::c_ulong);

impl Drop for AioContext {
    fn drop(&mut self) {
        // SAFETY: `io_destroy` takes the context by value; it was set up by `io_setup` and
        // is destroyed once.
        unsafe {
            libc::syscall(libc::SYS_io_destroy, self.0);
        }
    }
}

/// One `IOCB_CMD_PWRITE` of `buf` at `pos` through `io_submit`, waited for with
/// `io_getevents`: the event's `res` (bytes or `-errno`), or `-errno` of `io_setup` or
/// `io_submit` if the request was refused before it was queued.
pub fn aio_pwrite(file: &std::fs::File, buf: &[u8], pos: u64) -> i64 {
    let mut ctx = AioContext(0);
    // SAFETY: `io_setup(nr_events, ctxp)` writes one `aio_context_t` to a valid pointer.
    let r = unsafe { libc::syscall(libc::SYS_io_setup, 1 as libc::c_long, &raw mut ctx.0) };
    if r < 0 {
        return neg_errno();
    }
    let mut iocb = Iocb {
        aio_lio_opcode: IOCB_CMD_PWRITE,
        aio_fildes: file.as_raw_fd() as u32,
        aio_buf: buf.as_ptr() as u64,
        aio_nbytes: buf.len() as u64,
        aio_offset: pos as i64,
        ..Iocb::default()
    };
    let mut list = [&raw mut iocb];
    // SAFETY: one valid `struct iocb` pointer; the buffer it names outlives the request,
    // which is waited for below before `buf` and `iocb` go out of scope.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_submit,
            ctx.0,
            1 as libc::c_long,
            list.as_mut_ptr(),
        )
    };
    if r < 0 {
        return neg_errno();
    }
    assert_eq!(r, 1, "io_submit queued {r} iocbs, not 1");
    let mut event = IoEvent::default();
    loop {
        // SAFETY: room for one `io_event`; a null timeout waits until it arrives.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_getevents,
                ctx.0,
                1 as libc::c_long,
                1 as libc::c_long,
                &raw mut event,
                std::ptr::null_mut::<libc::timespec>(),
            )
        };
        if r == 1 {
            return event.res;
        }
        assert!(
            r < 0 && neg_errno() == -i64::from(libc::EINTR),
            "io_getevents: {r}"
        );
    }
}

/// `FS_IOC_FIEMAP` (include/uapi/linux/fs.h).
const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
/// `FIEMAP_FLAG_SYNC`: write the file back before mapping.
const FIEMAP_FLAG_SYNC: u32 = 0x1;
/// `FIEMAP_EXTENT_LAST`.
const FIEMAP_EXTENT_LAST: u32 = 0x1;
/// `FIEMAP_EXTENT_UNWRITTEN`.
const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
/// Extents asked for per call.
const FIEMAP_BATCH: usize = 64;

/// `struct fiemap_extent`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct FiemapExtent {
    fe_logical: u64,
    fe_physical: u64,
    fe_length: u64,
    fe_reserved64: [u64; 2],
    fe_flags: u32,
    fe_reserved: [u32; 3],
}

/// `struct fiemap` followed by room for `FIEMAP_BATCH` extents.
#[repr(C)]
struct Fiemap {
    fm_start: u64,
    fm_length: u64,
    fm_flags: u32,
    fm_mapped_extents: u32,
    fm_extent_count: u32,
    fm_reserved: u32,
    fm_extents: [FiemapExtent; FIEMAP_BATCH],
}

/// A mapped extent as FIEMAP reports it: logical byte offset, byte length, unwritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappedExtent {
    /// `fe_logical`.
    pub logical: u64,
    /// `fe_length`.
    pub length: u64,
    /// `FIEMAP_EXTENT_UNWRITTEN`.
    pub unwritten: bool,
}

/// Every extent of `file` (FIEMAP with `FIEMAP_FLAG_SYNC`), in logical order.
pub fn fiemap(file: &std::fs::File) -> std::io::Result<Vec<MappedExtent>> {
    let mut out = Vec::new();
    let mut start = 0u64;
    loop {
        let mut map = Fiemap {
            fm_start: start,
            fm_length: u64::MAX - start,
            fm_flags: FIEMAP_FLAG_SYNC,
            fm_mapped_extents: 0,
            fm_extent_count: FIEMAP_BATCH as u32,
            fm_reserved: 0,
            fm_extents: [FiemapExtent::default(); FIEMAP_BATCH],
        };
        // SAFETY: `map` is a `struct fiemap` with room for `fm_extent_count` extents.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &raw mut map) };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let got = &map.fm_extents[..map.fm_mapped_extents as usize];
        out.extend(got.iter().map(|e| MappedExtent {
            logical: e.fe_logical,
            length: e.fe_length,
            unwritten: e.fe_flags & FIEMAP_EXTENT_UNWRITTEN != 0,
        }));
        match got.last() {
            Some(e) if e.fe_flags & FIEMAP_EXTENT_LAST == 0 => start = e.fe_logical + e.fe_length,
            _ => return Ok(out),
        }
    }
}

/// `EXT4_EXTENTS_FL` as `FS_IOC_GETFLAGS` reports it (`FS_EXTENT_FL`).
pub const FS_EXTENT_FL: libc::c_long = 0x0008_0000;

/// The inode flags of `file` (`FS_IOC_GETFLAGS`, what `lsattr` shows).
pub fn inode_flags(file: &std::fs::File) -> std::io::Result<libc::c_long> {
    let mut flags: libc::c_long = 0;
    // SAFETY: `FS_IOC_GETFLAGS` writes one `long` (the kernel writes an int's worth).
    let r = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &raw mut flags) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(flags & 0xffff_ffff)
}

/// Whether the process runs as root (effective uid 0): the suite's loop mounts need it.
pub fn is_root() -> bool {
    // SAFETY: `geteuid` takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// SIGXFSZ signals received since the handler was installed.
static SIGXFSZ_COUNT: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_sigxfsz(_signal: libc::c_int) {
    SIGXFSZ_COUNT.fetch_add(1, Ordering::SeqCst);
}

/// Installs a handler that only counts SIGXFSZ (so a write past `RLIMIT_FSIZE` returns
/// `-EFBIG` instead of killing the test), and returns the count so far.
pub fn sigxfsz_count() -> u32 {
    let handler = count_sigxfsz as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches an atomic, which is async-signal-safe.
    let old = unsafe { libc::signal(libc::SIGXFSZ, handler) };
    assert_ne!(old, libc::SIG_ERR, "signal(SIGXFSZ)");
    SIGXFSZ_COUNT.load(Ordering::SeqCst)
}

/// `RLIMIT_FSIZE` set for the life of the guard; the previous limit is restored on drop.
pub struct FsizeLimit(libc::rlimit);

impl FsizeLimit {
    /// Sets the soft `RLIMIT_FSIZE` to `limit` bytes (the hard limit is kept).
    pub fn set(limit: u64) -> FsizeLimit {
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `getrlimit` writes one `struct rlimit`.
        let r = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &raw mut old) };
        assert_eq!(r, 0, "getrlimit(RLIMIT_FSIZE)");
        let new = libc::rlimit {
            rlim_cur: limit,
            rlim_max: old.rlim_max,
        };
        // SAFETY: `setrlimit` reads one `struct rlimit`.
        let r = unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &raw const new) };
        assert_eq!(r, 0, "setrlimit(RLIMIT_FSIZE, {limit})");
        FsizeLimit(old)
    }
}

impl Drop for FsizeLimit {
    fn drop(&mut self) {
        // SAFETY: `setrlimit` reads one `struct rlimit`: the limit saved by `set`.
        let r = unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &raw const self.0) };
        if r != 0 && !std::thread::panicking() {
            panic!("restoring RLIMIT_FSIZE failed");
        }
    }
}

/// `fallocate(fd, mode, off, len)` with mode 0 or `FALLOC_FL_KEEP_SIZE`: 0 or `-errno`.
pub fn fallocate(file: &std::fs::File, keep_size: bool, off: u64, len: u64) -> i64 {
    let mode = if keep_size {
        libc::FALLOC_FL_KEEP_SIZE
    } else {
        0
    };
    // SAFETY: `fallocate` takes a descriptor and three integers; it touches no memory of ours.
    let r = unsafe { libc::fallocate(file.as_raw_fd(), mode, off as i64, len as i64) };
    if r < 0 { neg_errno() } else { 0 }
}
