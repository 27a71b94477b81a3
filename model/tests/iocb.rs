//! `generic_write_checks` (mm/filemap.c) applies the `s_maxbytes` it is given: a value below
//! `MAX_LFS_FILESIZE` refuses and truncates there, and the same offset passes under a larger
//! limit, so the check reads its argument rather than a constant.

use model::include::fs::{FileFlags, Iocb, IovIter, KiFlags, Segment, errno};
use model::limits::{MAX_LFS_FILESIZE, RLIM_INFINITY};
use model::mm::filemap::{WriteChecks, generic_write_checks};

const LARGE: FileFlags = FileFlags {
    o_direct: false,
    o_append: false,
    o_sync: false,
    o_dsync: false,
    o_largefile: true,
};

/// `generic_write_checks` of a 10-byte write at `pos` under `s_maxbytes`: its result and the
/// count left.
fn check(pos: u64, s_maxbytes: u64) -> (WriteChecks, u64) {
    let mut iocb = Iocb {
        ki_flags: KiFlags::from_file(LARGE),
        ki_pos: pos,
        ki_complete: false,
    };
    let mut from = IovIter::new(vec![Segment {
        base: 0x10000,
        len: 10,
    }]);
    let checks = generic_write_checks(&mut iocb, &mut from, 0, LARGE, RLIM_INFINITY, s_maxbytes);
    (checks, from.count())
}

#[test]
fn generic_write_checks_applies_the_s_maxbytes_it_is_given() {
    let limit = 1u64 << 40;
    let efbig = WriteChecks {
        ret: errno::EFBIG,
        sigxfsz: false,
    };
    assert_eq!(check(limit, limit).0, efbig);
    assert_eq!(check(limit - 3, limit).0.ret, 3);
    assert_eq!(
        check(limit - 3, limit).1,
        3,
        "the iter is truncated to the limit"
    );
    assert_eq!(check(limit, limit + 10).0.ret, 10);
    assert_eq!(check(limit, MAX_LFS_FILESIZE).0.ret, 10);
    assert_eq!(check(MAX_LFS_FILESIZE, MAX_LFS_FILESIZE).0, efbig);
}
