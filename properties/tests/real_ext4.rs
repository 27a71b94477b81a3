//! The model against the real ext4 of the running kernel: sequential cases run through
//! system calls on a loop-mounted image and through the model, outcomes compared
//! (`properties/REAL_EXT4.md`). A libtest-mimic harness, so that each test's name carries
//! the differences it is expected to explain (`fallocate_cases_agree [22 cases, D5 ×2
//! explained]`): a test fails when a case is explained by another row than the one it is
//! pinned to, or by none when it is pinned to one. Without root or `mkfs.ext4` each test reports itself
//! *ignored* with the reason (a failure with `REAL_EXT4_REQUIRED=1`); any other setup error
//! fails it.

mod real;

use std::collections::BTreeMap;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use model::limits::{ext4_max_bitmap_size, ext4_max_size};
use real::Setup;
use real::case::{Case, CaseOp, Compared, Kind, SECTOR};
use real::image::{Flavour, Image};

/// Generated cases per image (`REAL_EXT4_CASES` overrides it, e.g. for a longer search).
const CASES: u32 = 32;
/// The generator's seed (`REAL_EXT4_SEED` overrides it).
const SEED: u64 = 0x4_4e47;
/// Blocks of the file region generated offsets fall in.
const REGION_BLOCKS: u64 = 16;
/// Largest generated write or truncate step, in blocks.
const LEN_BLOCKS: u64 = 8;
/// Operations per generated case (the model runs at most 8, `fsync` included).
const OPS_MAX: usize = 6;
/// 4 KiB.
const B: u64 = 4096;

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

fn w(kind: Kind, pos: u64, len: u64) -> CaseOp {
    CaseOp::Write {
        kind,
        pos,
        len,
        rlimit: None,
    }
}

fn fa(keep_size: bool, off: u64, len: u64) -> CaseOp {
    CaseOp::Fallocate {
        keep_size,
        off,
        len,
    }
}

fn truncate(size: u64) -> CaseOp {
    CaseOp::Truncate { size }
}

fn k4(ops: Vec<CaseOp>) -> Case {
    Case {
        flavour: Flavour::Extent4K,
        ops,
    }
}

fn k1(ops: Vec<CaseOp>) -> Case {
    Case {
        flavour: Flavour::Bitmap1K,
        ops,
    }
}

/// Hand-written edge cases; each compared like a generated one, every outcome equal.
fn fixed_cases() -> Vec<Fixed> {
    use Kind::*;
    let bitmap = ext4_max_bitmap_size(10, true) as u64;
    let s_maxbytes = ext4_max_size(12, true);
    let limited = |kind, pos, len, limit| CaseOp::Write {
        kind,
        pos,
        len,
        rlimit: Some(limit),
    };
    let cases = vec![
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
        k4(vec![truncate(16384), w(Direct, 4608, 512)]),
        k4(vec![truncate(16384), w(Aio, 4608, 512)]),
        k1(vec![truncate(16384), w(Direct, 2560, 512)]),
        // Block-aligned DIO over a buffered write, and a truncate into the middle of a block.
        k4(vec![
            w(Buffered, 0, 8192),
            w(Direct, 4096, 4096),
            truncate(5120),
        ]),
    ];
    cases.into_iter().map(equal).collect()
}

/// Misaligned direct I/O: an offset, a length or a buffer address not a multiple of 512 is
/// `-EINVAL`, before anything is written; the file stays as it was. Where 6.18 differs, the
/// case is pinned to the row that explains it.
fn misaligned_cases() -> Vec<Fixed> {
    use Kind::*;
    let mut cases = Vec::new();
    for flavour in [Flavour::Extent4K, Flavour::Bitmap1K] {
        let case = |ops| Case { flavour, ops };
        let extents = flavour.extents();
        cases.extend([
            equal(case(vec![w(Direct, 100, 512)])),
            equal(case(vec![w(Direct, 0, 1000)])),
            equal(case(vec![w(DirectAt(8), 0, 4096)])),
            equal(case(vec![w(DirectAt(512), 0, 4096)])),
            equal(case(vec![w(Aio, 4096, 4000)])),
            // Pieces of 512 in one page: 6.18 accepts the address (D4); into a hole of a
            // block-mapped file it falls back to a buffered write first (D3).
            explained(
                if extents { "D4" } else { "D3" },
                case(vec![w(AioAt(100), 0, 512)]),
            ),
            equal(case(vec![w(AioAt(4000), 0, 512)])),
            // Below EOF over written data, and into a hole below EOF (6.18 allocates the
            // hole's blocks unwritten before it refuses, D2; a block-mapped file's hole
            // falls back to buffered, D3).
            equal(case(vec![w(Buffered, 0, 8192), w(Direct, 1, 4096)])),
            explained(
                if extents { "D2" } else { "D3" },
                case(vec![truncate(16384), w(DirectAt(4), 4096, 4096)]),
            ),
        ]);
    }
    cases
}

/// Hand-written cases starting with `fallocate` (extent images only).
fn fallocate_cases() -> Vec<Fixed> {
    use Kind::*;
    vec![
        // Nothing written: the extent stays unwritten and reads zeros.
        equal(k4(vec![fa(false, 4096, 16384)])),
        equal(k4(vec![fa(true, 0, 8192)])),
        // DIO into the unwritten extent: whole blocks, and a sub-block write.
        equal(k4(vec![fa(false, 0, 16384), w(Direct, 4096, 4096)])),
        equal(k4(vec![fa(false, 0, 16384), w(Direct, 4608, 512)])),
        // An extending DIO into it: 4.4's ext4_ind_direct_IO zeroes out the extent.
        explained("D5", k4(vec![fa(true, 0, 16384), w(Direct, 8192, 8192)])),
        // Buffered and AIO into it.
        equal(k4(vec![fa(false, 0, 16384), w(Buffered, 4096, 4096)])),
        equal(k4(vec![fa(false, 0, 32768), w(Buffered, 0, 1024)])),
        equal(k4(vec![fa(false, 0, 16384), w(Aio, 4096, 8192)])),
        equal(k4(vec![fa(true, 0, 16384), w(Aio, 0, 512)])),
        // A truncate inside it, then past it.
        equal(k4(vec![fa(false, 0, 16384), truncate(6144)])),
        equal(k4(vec![
            fa(false, 0, 16384),
            w(Direct, 0, 4096),
            truncate(24576),
        ])),
    ]
}

/// Cases that reach `ext4_ext_zeroout` in 4.4: writes into small unwritten extents below,
/// at and around EOF, so that `ext4_ext_convert_to_initialized` zeroes the whole extent, its
/// tail or its head, or splits it. Buffered writes convert at writeback (`fsync`) on the
/// `dioread_lock` mount only: with `dioread_nolock` writeback allocates unwritten and
/// converts the written range at I/O completion, with no zero-out, in 4.4 and 6.18 alike.
/// Extending direct writes convert in 4.4's `ext4_ind_direct_IO` on both mounts.
fn zeroout_cases() -> Vec<Fixed> {
    use Kind::*;
    vec![
        // Whole extent of 4 blocks below EOF (6.18: its tail, then its head: the same map).
        equal(k4(vec![fa(false, 0, 4 * B), w(Buffered, B, B)])),
        equal(k4(vec![fa(false, 0, 4 * B), w(Buffered, B + 512, 512)])),
        // Whole extent of exactly 32 KiB: 6.18 has no whole-extent branch, zeroes the tail.
        explained_locked("D5", k4(vec![fa(false, 0, 8 * B), w(Buffered, B, B)])),
        // The tail (case 3): 8 blocks from the write to the extent's end.
        equal(k4(vec![fa(false, 0, 12 * B), w(Buffered, 4 * B, B)])),
        equal(k4(vec![fa(false, 0, 16 * B), w(Buffered, 10 * B, B)])),
        // The head (case 2): 2 blocks before the write.
        equal(k4(vec![fa(false, 0, 16 * B), w(Buffered, 2 * B, B)])),
        // A split: the extent too large for either; and a head one block too long for
        // case 2 (head plus request exactly 32 KiB).
        equal(k4(vec![fa(false, 0, 32 * B), w(Buffered, 12 * B, B)])),
        equal(k4(vec![fa(false, 0, 16 * B), w(Buffered, 7 * B, B)])),
        // The abut fast path: a direct write converts one end of the extent at completion,
        // then a buffered write next to it moves into that written, contiguous neighbour
        // (no zero-out of the small rest), from the left and from the right.
        equal(k4(vec![
            fa(false, 0, 4 * B),
            w(Direct, 0, B),
            w(Buffered, B, B),
        ])),
        equal(k4(vec![
            fa(false, 0, 4 * B),
            w(Direct, 3 * B, B),
            w(Buffered, 2 * B, B),
        ])),
        // Past EOF (FALLOC_FL_KEEP_SIZE): no zero-out, a split.
        equal(k4(vec![fa(true, 0, 4 * B), w(Buffered, 0, B)])),
        // Around EOF: the extent ending one block past it (split), exactly at it (whole).
        equal(k4(vec![
            fa(true, 0, 4 * B),
            truncate(3 * B),
            w(Buffered, B, B),
        ])),
        equal(k4(vec![
            fa(true, 0, 4 * B),
            truncate(13000),
            w(Buffered, B, B),
        ])),
        // A truncate inside the extent, then a write below the new EOF.
        equal(k4(vec![
            fa(false, 0, 8 * B),
            truncate(5000),
            w(Buffered, 0, 1024),
        ])),
        // Extending buffered writes: 4.4 bounds the zero-out by i_size, 6.18 by the lagging
        // i_disksize, and a request reaching the extent's end gets no head zero-out in 6.18.
        explained_locked(
            "D5",
            k4(vec![fa(true, 0, 4 * B), w(Buffered, 2 * B, 2 * B)]),
        ),
        explained_locked(
            "D5",
            k4(vec![
                fa(true, 0, 4 * B),
                w(Buffered, 3 * B, 1024),
                w(Buffered, B, B),
            ]),
        ),
        // Extending direct writes through 4.4's ext4_ind_direct_IO, whose get_block creates
        // from the block holding i_size on: a whole extent the request reaches the end of is
        // zeroed out (dio_zero_block zeroes the rest of a sub-block write's block); 6.18's
        // direct I/O never zeroes out.
        equal(k4(vec![fa(true, 0, 4 * B), w(Direct, 0, B)])),
        explained("D5", k4(vec![fa(true, 0, 4 * B), w(Aio, 2 * B, 2 * B)])),
        explained(
            "D5",
            k4(vec![fa(true, 0, 4 * B), w(Direct, 3 * B + 512, 512)]),
        ),
        // A direct write starting below i_size in an unwritten block: 4.4 maps it without
        // create (DIO_SKIP_HOLES), gets -ENOTBLK and falls back to a buffered write, which
        // writeback converts: the whole 32 KiB extent without dioread_nolock.
        explained_locked("D5", k4(vec![fa(false, 0, 8 * B), w(Direct, 7 * B, 2 * B)])),
    ]
}

/// A hand-written case and the row of `differences::ROWS` that must explain it on each
/// mount (`None`: every outcome equal). 4 KiB extent cases run on the `dioread_lock` and the
/// `dioread_nolock` image, the others on their own.
#[derive(Clone, Debug)]
struct Fixed {
    case: Case,
    lock: Option<&'static str>,
    nolock: Option<&'static str>,
}

/// A case whose outcomes must all be equal.
fn equal(case: Case) -> Fixed {
    Fixed {
        case,
        lock: None,
        nolock: None,
    }
}

/// A case `row` must explain on every image it runs on.
fn explained(row: &'static str, case: Case) -> Fixed {
    Fixed {
        case,
        lock: Some(row),
        nolock: Some(row),
    }
}

/// A 4 KiB case `row` must explain on the `dioread_lock` image only (equal under
/// `dioread_nolock`).
fn explained_locked(row: &'static str, case: Case) -> Fixed {
    Fixed {
        case,
        lock: Some(row),
        nolock: None,
    }
}

/// Every `(image, case, expected row)` a list of hand-written cases runs.
fn runs(cases: &[Fixed]) -> Vec<(Flavour, Case, Option<&'static str>)> {
    let mut out = Vec::new();
    for fixed in cases {
        out.push((fixed.case.flavour, fixed.case.clone(), fixed.lock));
        if fixed.case.flavour == Flavour::Extent4K {
            let case = Case {
                flavour: Flavour::Extent4KNolock,
                ..fixed.case.clone()
            };
            out.push((Flavour::Extent4KNolock, case, fixed.nolock));
        }
    }
    out
}

/// `D2 ×2, D3 ×2 explained`, or `none explained`.
fn counts_text(counts: &BTreeMap<&str, usize>) -> String {
    if counts.is_empty() {
        return "none explained".into();
    }
    let rows: Vec<String> = counts.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
    format!("{} explained", rows.join(", "))
}

/// The test of a list of hand-written cases, named `base [<expected counts>]`: every case
/// must compare as pinned.
fn hand_written(base: &'static str, cases: Vec<Fixed>) -> Trial {
    let runs = runs(&cases);
    let mut expected = BTreeMap::new();
    for row in runs.iter().filter_map(|r| r.2) {
        *expected.entry(row).or_insert(0) += 1;
    }
    let name = format!("{base} [{} cases, {}]", runs.len(), counts_text(&expected));
    Trial::ignorable_test(name, move || {
        let _serial = real::serial();
        let mut flavours: Vec<Flavour> = runs.iter().map(|r| r.0).collect();
        flavours.dedup();
        let images = match real::images(base, &flavours)? {
            Setup::Run(images) => images,
            Setup::Skip(why) => return Ok(Completion::ignored_with(why)),
        };
        let mut wrong = Vec::new();
        let mut got = BTreeMap::new();
        for (i, (flavour, case, pinned)) in runs.iter().enumerate() {
            let image = images
                .iter()
                .find(|im| im.flavour == *flavour)
                .expect("made");
            let row = match case.check(image, &format!("fixed{i}")) {
                Ok(Compared::Equal) => None,
                Ok(Compared::Explained(row)) => Some(row),
                Err(e) => return Err(Failed::from(format!("case {i} ({flavour:?}): {e}"))),
            };
            if let Some(row) = row {
                *got.entry(row).or_insert(0) += 1;
            }
            if row != *pinned {
                wrong.push(format!(
                    "case {i} ({flavour:?}) {:?}: pinned to {pinned:?}, compared as {row:?}",
                    case.ops
                ));
            }
        }
        if wrong.is_empty() {
            return Ok(Completion::Completed);
        }
        Err(Failed::from(format!(
            "{base}: expected {}, got {}\n{}",
            counts_text(&expected),
            counts_text(&got),
            wrong.join("\n")
        )))
    })
}

/// The generator's configuration: cases, seed, and whether both are the defaults (the
/// explained counts are pinned only then).
fn generator_config() -> (u32, u64, bool) {
    let var = |name| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let (cases, seed) = (var("REAL_EXT4_CASES"), var("REAL_EXT4_SEED"));
    let pinned = cases.is_none() && seed.is_none();
    (
        cases.map_or(CASES, |n| n as u32),
        seed.unwrap_or(SEED),
        pinned,
    )
}

/// `cases` generated cases on one image of `flavour`, each on a new file. With the default
/// seed and count, none may be explained (the name says so); otherwise the counts are
/// printed.
fn generated(base: &'static str, flavour: Flavour) -> Trial {
    let (cases, seed, pinned) = generator_config();
    let name = if pinned {
        format!("{base} [{cases} cases, none explained]")
    } else {
        format!("{base} [{cases} cases, seed {seed}]")
    };
    Trial::ignorable_test(name, move || {
        let _serial = real::serial();
        let image = match real::images(base, &[flavour])? {
            Setup::Run(mut images) => images.remove(0),
            Setup::Skip(why) => return Ok(Completion::ignored_with(why)),
        };
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 256,
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let serial = std::cell::Cell::new(0u32);
        let explained = std::cell::RefCell::new(BTreeMap::new());
        let result = runner.run(&case(flavour), |case| {
            serial.set(serial.get() + 1);
            match case.check(&image, &format!("case{}", serial.get())) {
                Ok(Compared::Equal) => Ok(()),
                Ok(Compared::Explained(row)) => {
                    *explained.borrow_mut().entry(row).or_insert(0) += 1;
                    Ok(())
                }
                Err(e) => Err(TestCaseError::fail(e)),
            }
        });
        result.map_err(|e| Failed::from(format!("{base}: {e}")))?;
        let text = counts_text(&explained.borrow());
        if pinned && !explained.borrow().is_empty() {
            return Err(Failed::from(format!(
                "{base}: the default seed's cases are pinned to none explained, got {text}"
            )));
        }
        if !pinned {
            println!("{base}: {} cases (seed {seed}), {text}", serial.get());
        }
        Ok(Completion::Completed)
    })
}

/// The skip-or-fail decision, and a real setup error: preconditions missing skip (or fail
/// with `REAL_EXT4_REQUIRED=1`); with them met, an image that cannot be made fails, here a
/// mount with a mistyped option.
fn a_setup_error_fails_the_test() -> Trial {
    Trial::ignorable_test("a_setup_error_fails_the_test_and_is_no_skip", || {
        let make_ok = |_: &std::path::Path| Ok(());
        let missing = || Err::<std::path::PathBuf, _>("not root".to_string());
        assert!(matches!(
            real::decide("t", missing(), false, make_ok),
            Ok(Setup::Skip(why)) if why == "not root"
        ));
        let required = real::decide("t", missing(), true, make_ok).expect_err("required");
        assert!(required.contains("REAL_EXT4_REQUIRED=1") && required.contains("not root"));
        for required in [false, true] {
            let met = Ok(std::path::PathBuf::from("/sbin/mkfs.ext4"));
            let failed = real::decide("t", met, required, |_| Err::<(), _>("mount: bad".into()));
            assert_eq!(
                failed.expect_err("a setup error").as_str(),
                "real_ext4::t: setup failed: mount: bad"
            );
        }
        let _serial = real::serial();
        let mistyped = "loop,dioread_nolokc";
        let made = real::decide("t", real::preconditions(), real::required(), |mkfs| {
            Image::with_options(Flavour::Extent4K, mkfs, mistyped)
        });
        match made {
            Ok(Setup::Skip(why)) => Ok(Completion::ignored_with(why)),
            Ok(Setup::Run(_)) => Err(Failed::from(format!("mount -o {mistyped} succeeded"))),
            Err(e) if e.contains("setup failed: mount") && e.contains(mistyped) => {
                Ok(Completion::Completed)
            }
            Err(e) => Err(Failed::from(format!("another error than the mount's: {e}"))),
        }
    })
}

/// The two `ext4_ext_convert_to_initialized` rules D5 rests on, against the shapes the
/// kernel sources and the measurements give (runs without root).
fn zeroout_rules() -> Trial {
    Trial::test("zeroout_rules_give_the_kernels_shapes", || {
        use real::zeroout::checks;
        checks::the_rules_zero_out_as_the_kernels_do();
        checks::the_fast_path_moves_the_request_into_a_contiguous_written_neighbour();
        checks::writeback_converts_run_by_run_with_6_18_bounded_by_i_disksize();
        checks::placement_decides_the_fast_path();
        Ok(())
    })
}

fn main() {
    let args = Arguments::from_args();
    let mut fixed = fixed_cases();
    fixed.extend(misaligned_cases());
    let trials = vec![
        generated(
            "generated_cases_agree_on_a_4k_extent_image",
            Flavour::Extent4K,
        ),
        generated(
            "generated_cases_agree_on_a_4k_dioread_nolock_image",
            Flavour::Extent4KNolock,
        ),
        generated(
            "generated_cases_agree_on_a_1k_bitmap_image",
            Flavour::Bitmap1K,
        ),
        hand_written("fixed_edge_cases_agree", fixed),
        hand_written("fallocate_cases_agree", fallocate_cases()),
        hand_written("ext4_ext_zeroout_cases_agree", zeroout_cases()),
        a_setup_error_fails_the_test(),
        zeroout_rules(),
    ];
    libtest_mimic::run(&args, trials).exit();
}
