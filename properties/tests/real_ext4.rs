//! The model against the real ext4 of the running kernel: sequential cases run through
//! system calls on a loop-mounted image and through the model, outcomes compared
//! (`properties/REAL_EXT4.md`). Needs root, `mkfs.ext4` and a loop device; without them each
//! test prints one line saying why it did not run and passes.

mod real;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use model::limits::{ext4_max_bitmap_size, ext4_max_size};
use real::case::{Case, CaseOp, Compared, Kind, SECTOR};
use real::image::{Flavour, Image};

/// Generated cases per image (`REAL_EXT4_CASES` overrides it, e.g. for a longer search).
const CASES: u32 = 32;
/// Blocks of the file region generated offsets fall in.
const REGION_BLOCKS: u64 = 16;
/// Largest generated write or truncate step, in blocks.
const LEN_BLOCKS: u64 = 8;
/// Operations per generated case (the model runs at most 8, `fsync` included).
const OPS_MAX: usize = 6;

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Buffered),
        1 => Just(Kind::Append),
        2 => Just(Kind::Direct),
        2 => Just(Kind::Aio),
    ]
}

/// A sector-aligned offset in the region, block-aligned half the time.
fn offset(flavour: Flavour, blocks: u64) -> impl Strategy<Value = u64> {
    let bs = flavour.blocksize();
    prop_oneof![
        (0..=blocks).prop_map(move |b| b * bs),
        (0..=blocks * bs / SECTOR).prop_map(|s| s * SECTOR),
    ]
}

fn write(flavour: Flavour) -> impl Strategy<Value = CaseOp> {
    let sectors = LEN_BLOCKS * flavour.blocksize() / SECTOR;
    let len = prop_oneof![
        offset(flavour, LEN_BLOCKS),
        (1..=sectors).prop_map(|s| s * SECTOR)
    ];
    let limit = prop_oneof![4 => Just(None), 1 => offset(flavour, REGION_BLOCKS).prop_map(Some)];
    (kind(), offset(flavour, REGION_BLOCKS), len, limit).prop_map(|(kind, pos, len, rlimit)| {
        // io_submit of a zero-length write is not a case of the write path.
        let len = if kind.aio() { len.max(SECTOR) } else { len };
        CaseOp::Write {
            kind,
            pos,
            len,
            rlimit,
        }
    })
}

/// A leading `fallocate` (a third of the cases on an extent image): block-aligned, in the
/// region, mode 0 or `FALLOC_FL_KEEP_SIZE`.
fn fallocate(flavour: Flavour) -> impl Strategy<Value = Option<CaseOp>> {
    let bs = flavour.blocksize();
    let op = (any::<bool>(), 0..REGION_BLOCKS, 1..=LEN_BLOCKS).prop_map(move |(keep, b, n)| {
        Some(CaseOp::Fallocate {
            keep_size: keep,
            off: b * bs,
            len: n * bs,
        })
    });
    let weight = if flavour.extents() { 1 } else { 0 };
    prop_oneof![2 => Just(None), weight => op]
}

fn case(flavour: Flavour) -> impl Strategy<Value = Case> {
    let truncate =
        offset(flavour, REGION_BLOCKS + LEN_BLOCKS).prop_map(|size| CaseOp::Truncate { size });
    let op = prop_oneof![4 => write(flavour), 1 => truncate];
    let ops = proptest::collection::vec(op, 1..=OPS_MAX);
    (fallocate(flavour), ops).prop_map(move |(first, ops)| Case {
        flavour,
        ops: first.into_iter().chain(ops).collect(),
    })
}

/// Runs `CASES` generated cases on one image of `flavour`, each on a new file.
fn generated(test: &str, flavour: Flavour) {
    let _serial = real::serial();
    let Some(image) = real::image_or_skip(test, flavour) else {
        return;
    };
    let config = Config {
        cases: std::env::var("REAL_EXT4_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        max_shrink_iters: 256,
        rng_seed: RngSeed::Fixed(
            std::env::var("REAL_EXT4_SEED")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0x4_4e47),
        ),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let serial = std::cell::Cell::new(0u32);
    let explained = std::cell::RefCell::new(Vec::new());
    let result = runner.run(&case(flavour), |case| {
        serial.set(serial.get() + 1);
        match case.check(&image, &format!("case{}", serial.get())) {
            Ok(Compared::Equal) => Ok(()),
            Ok(Compared::Explained(row)) => {
                explained.borrow_mut().push(row);
                Ok(())
            }
            Err(e) => Err(TestCaseError::fail(e)),
        }
    });
    if let Err(e) = result {
        panic!("{test}: {e}");
    }
    println!(
        "{test}: {} cases, explained differences: {:?}",
        serial.get(),
        explained.borrow()
    );
}

#[test]
fn generated_cases_agree_on_a_4k_extent_image() {
    generated(
        "generated_cases_agree_on_a_4k_extent_image",
        Flavour::Extent4K,
    );
}

#[test]
fn generated_cases_agree_on_a_4k_dioread_nolock_image() {
    generated(
        "generated_cases_agree_on_a_4k_dioread_nolock_image",
        Flavour::Extent4KNolock,
    );
}

#[test]
fn generated_cases_agree_on_a_1k_bitmap_image() {
    generated(
        "generated_cases_agree_on_a_1k_bitmap_image",
        Flavour::Bitmap1K,
    );
}

fn w(kind: Kind, pos: u64, len: u64) -> CaseOp {
    CaseOp::Write {
        kind,
        pos,
        len,
        rlimit: None,
    }
}

/// Hand-written edge cases; each compared like a generated one.
fn fixed_cases() -> Vec<Case> {
    use Kind::*;
    let bitmap = ext4_max_bitmap_size(10, true) as u64;
    let s_maxbytes = ext4_max_size(12, true);
    let limited = |kind, pos, len, limit| CaseOp::Write {
        kind,
        pos,
        len,
        rlimit: Some(limit),
    };
    let k4 = |ops| Case {
        flavour: Flavour::Extent4K,
        ops,
    };
    let k1 = |ops| Case {
        flavour: Flavour::Bitmap1K,
        ops,
    };
    vec![
        // s_bitmap_maxbytes: at the limit EFBIG (no signal), below it truncated to it.
        k1(vec![
            w(Buffered, bitmap, 1024),
            w(Buffered, bitmap - 1024, 4096),
        ]),
        k1(vec![
            w(Direct, bitmap, 1024),
            w(Direct, bitmap - 1024, 4096),
        ]),
        // s_maxbytes of an extent file, the same two ways.
        k4(vec![
            w(Buffered, s_maxbytes, 4096),
            w(Buffered, s_maxbytes - 512, 4096),
        ]),
        // RLIMIT_FSIZE: EFBIG with SIGXFSZ at the limit, a short write below it.
        k4(vec![
            limited(Buffered, 8192, 512, 8192),
            limited(Buffered, 4096, 8192, 8192),
        ]),
        k1(vec![
            limited(Direct, 8192, 512, 8192),
            limited(Aio, 4096, 8192, 8192),
        ]),
        k4(vec![w(Buffered, 0, 5000), limited(Append, 0, 4096, 4096)]),
        // O_APPEND: zero length leaves the position; a write moves it to the new EOF.
        k4(vec![
            w(Buffered, 0, 3072),
            w(Append, 512, 0),
            w(Append, 512, 1024),
        ]),
        k1(vec![
            w(Buffered, 0, 3072),
            w(Append, 512, 0),
            w(Append, 512, 1024),
        ]),
        // Sub-block DIO into a hole past EOF and below it: the rest of the block is zeroed.
        k4(vec![w(Direct, 1024, 512)]),
        k4(vec![CaseOp::Truncate { size: 16384 }, w(Direct, 4608, 512)]),
        k4(vec![CaseOp::Truncate { size: 16384 }, w(Aio, 4608, 512)]),
        k1(vec![CaseOp::Truncate { size: 16384 }, w(Direct, 2560, 512)]),
        // Block-aligned DIO over a buffered write, and a truncate into the middle of a block.
        k4(vec![
            w(Buffered, 0, 8192),
            w(Direct, 4096, 4096),
            CaseOp::Truncate { size: 5120 },
        ]),
    ]
}

/// Misaligned direct I/O: an offset, a length or a buffer address not a multiple of 512 is
/// `-EINVAL`, before anything is written; the file stays as it was.
fn misaligned_cases() -> Vec<Case> {
    use Kind::*;
    let mut cases = Vec::new();
    for flavour in [Flavour::Extent4K, Flavour::Bitmap1K] {
        let case = |ops| Case { flavour, ops };
        cases.extend([
            case(vec![w(Direct, 100, 512)]),
            case(vec![w(Direct, 0, 1000)]),
            case(vec![w(DirectAt(8), 0, 4096)]),
            case(vec![w(DirectAt(512), 0, 4096)]),
            case(vec![w(Aio, 4096, 4000)]),
            case(vec![w(AioAt(100), 0, 512)]),
            case(vec![w(AioAt(4000), 0, 512)]),
            // Below EOF over written data, and into a hole below EOF.
            case(vec![w(Buffered, 0, 8192), w(Direct, 1, 4096)]),
            case(vec![
                CaseOp::Truncate { size: 16384 },
                w(DirectAt(4), 4096, 4096),
            ]),
        ]);
    }
    cases
}

/// Hand-written cases starting with `fallocate` (extent images only).
fn fallocate_cases() -> Vec<Case> {
    use Kind::*;
    let fa = |keep_size, off, len| CaseOp::Fallocate {
        keep_size,
        off,
        len,
    };
    let k4 = |ops| Case {
        flavour: Flavour::Extent4K,
        ops,
    };
    vec![
        // Nothing written: the extent stays unwritten and reads zeros.
        k4(vec![fa(false, 4096, 16384)]),
        k4(vec![fa(true, 0, 8192)]),
        // DIO into the unwritten extent: whole blocks, and a sub-block write.
        k4(vec![fa(false, 0, 16384), w(Direct, 4096, 4096)]),
        k4(vec![fa(false, 0, 16384), w(Direct, 4608, 512)]),
        k4(vec![fa(true, 0, 16384), w(Direct, 8192, 8192)]),
        // Buffered and AIO into it.
        k4(vec![fa(false, 0, 16384), w(Buffered, 4096, 4096)]),
        k4(vec![fa(false, 0, 32768), w(Buffered, 0, 1024)]),
        k4(vec![fa(false, 0, 16384), w(Aio, 4096, 8192)]),
        k4(vec![fa(true, 0, 16384), w(Aio, 0, 512)]),
        // A truncate inside it, then past it.
        k4(vec![fa(false, 0, 16384), CaseOp::Truncate { size: 6144 }]),
        k4(vec![
            fa(false, 0, 16384),
            w(Direct, 0, 4096),
            CaseOp::Truncate { size: 24576 },
        ]),
    ]
}

/// Runs the hand-written cases of `flavour` (the 4 KiB ones also on the `dioread_nolock`
/// image).
fn run_fixed(flavour: Flavour, image: &Image, cases: &[Case]) {
    for (i, case) in cases.iter().enumerate() {
        let mut case = case.clone();
        if flavour == Flavour::Extent4KNolock && case.flavour == Flavour::Extent4K {
            case.flavour = flavour;
        }
        if case.flavour != flavour {
            continue;
        }
        match case.check(image, &format!("fixed{i}")) {
            Ok(Compared::Equal) => {}
            Ok(Compared::Explained(row)) => println!("fixed case {i}: explained: {row}"),
            Err(e) => panic!("fixed case {i}: {e}"),
        }
    }
}

#[test]
fn fixed_edge_cases_agree() {
    let _serial = real::serial();
    for flavour in [
        Flavour::Extent4K,
        Flavour::Extent4KNolock,
        Flavour::Bitmap1K,
    ] {
        let Some(image) = real::image_or_skip("fixed_edge_cases_agree", flavour) else {
            return;
        };
        let mut cases = fixed_cases();
        cases.extend(misaligned_cases());
        run_fixed(flavour, &image, &cases);
    }
}

#[test]
fn fallocate_cases_agree() {
    let _serial = real::serial();
    for flavour in [Flavour::Extent4K, Flavour::Extent4KNolock] {
        let Some(image) = real::image_or_skip("fallocate_cases_agree", flavour) else {
            return;
        };
        run_fixed(flavour, &image, &fallocate_cases());
    }
}
