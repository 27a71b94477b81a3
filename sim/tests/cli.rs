//! `writeiter run`: the example runs, bad input exits 2 naming the file and the field.

mod common;
use common::{stderr, stdout, writeiter};
use std::process::Output;

/// Writes `text` to a scenario file of its own and runs `writeiter run` on it.
fn run_text(name: &str, text: &str, extra: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("writeiter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("scenario written");
    let mut args = vec!["run", path.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    writeiter(&args)
}

#[test]
fn run_prints_the_trace_in_ext4_terms_and_exits_0() {
    let out = writeiter(&["run", "examples/unaligned-aio.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // Each line is what 4.4 does for a0's write in examples/unaligned-aio.toml (a 1 KiB AIO
    // at 5120 into a hole, 4 KiB blocks, ino 12), not a copy of the model's output:
    for expected in [
        // unaligned AIO below i_size: ext4_unaligned_aio is true, so the hashed
        // ext4__aio_mutex[ino % 37 = 12] is taken (fs/ext4/file.c:102-113);
        "aio_mutex[12] taken",
        // a new block under a sub-block DIO: dio_zero_block zeroes the block's head (file
        // bytes 4096..5120), the first 1 KiB sector of p1, the first free block: sector 4
        // (fs/direct-io.c:861-894);
        "submit zero bio sectors 4+1",
        // an async, non-extending DIO with bios in flight is queued (fs/direct-io.c:1309-1318);
        "-EIOCBQUEUED",
        // its event carries the 1024 bytes written (dio_complete → ki_complete);
        "ki_complete a0 ret=1024",
        "done:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn an_exact_schedule_runs_only_its_steps() {
    let out = writeiter(&[
        "run",
        "examples/unaligned-aio.toml",
        "--schedule",
        "a0 a0 a1",
        "--exact",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("   2 a1   Gate"), "{text}");
    assert!(!text.contains("   3 "), "{text}");
    assert!(text.contains("paused:"), "{text}");
}

#[test]
fn a_schedule_naming_a_blocked_actor_exits_2_saying_what_it_waits_on() {
    let schedule = "a0 a0 a1 a1";
    let out = writeiter(&["run", "examples/unaligned-aio.toml", "--schedule", schedule]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("schedule step 3: task a1 cannot step: aio_mutex[12] held by a0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_malformed_schedule_exits_2_naming_the_flag() {
    let out = writeiter(&["run", "examples/unaligned-aio.toml", "--schedule", "a0 x9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--schedule: `x9` is not a task"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_field_exits_2_naming_the_file_line_and_field() {
    let out = run_text(
        "unknown.toml",
        "[[inodes]]\ni_size = 4096\nsizee = 3\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("unknown.toml") && message.contains("sizee") && message.contains("line 3"),
        "{message}"
    );
}

#[test]
fn an_impossible_geometry_exits_2_naming_the_field() {
    let out = run_text(
        "geometry.toml",
        "[geometry]\nblkbits = 9\n[[inodes]]\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("geometry.toml") && message.contains("blkbits"),
        "{message}"
    );
    let nolock =
        "[geometry]\nblkbits = 10\nsector_bits = 9\n[mount]\ndioread_nolock = true\n[[inodes]]\n";
    let out = run_text("nolock.toml", nolock, &[]);
    assert!(
        stderr(&out).contains("dioread_nolock: mount refuses it"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_operation_field_exits_2_naming_its_path() {
    let text = "[[inodes]]\n[[actors]]\nops = [{ op = \"stat\", inode = 3 }]\n";
    let out = run_text("inode.toml", text, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("actors[0].ops[0].inode: no inode 3"),
        "{}",
        stderr(&out)
    );
    let both = "[[inodes]]\n[[actors]]\nops = [{ op = \"write\", pos = 0 }]\n";
    let out = run_text("len.toml", both, &[]);
    assert!(
        stderr(&out).contains("actors[0].ops[0]: give exactly one of `len` and `segments`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_file_and_a_bad_flag_exit_2() {
    let out = writeiter(&["run", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no/such/file.toml: cannot read"),
        "{}",
        stderr(&out)
    );
    let out = writeiter(&["run", "examples/unaligned-aio.toml", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unexpected argument '--bogus'"),
        "{}",
        stderr(&out)
    );
    assert_eq!(writeiter(&[]).status.code(), Some(2));
}

#[test]
fn the_overwrite_truncate_example_ends_with_i_size_raised_over_no_blocks() {
    let schedule = format!("{}a1", "a0 ".repeat(14));
    let out = writeiter(&[
        "run",
        "examples/overwrite-truncate.toml",
        "--schedule",
        &schedule,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // ext4_ext_direct_IO's overwrite path: down_read(i_data_sem), then mutex_unlock(i_mutex)
    // (fs/ext4/inode.c:3234-3237), which lets the truncate in.
    assert!(
        text.contains("i_data_sem read, i_mutex(12) released"),
        "{text}"
    );
    // The truncate to 0 freed the blocks; generic_file_direct_write then raises i_size to
    // the write's end (mm/filemap.c), and nothing raises i_disksize.
    assert!(
        text.contains("inode 0 (ino 12): i_size=4096 i_disksize=0"),
        "{text}"
    );
    assert!(!text.contains("  extent "), "no blocks left: {text}");
}

/// Inode texts with a value 4.4's types cannot hold: the text, the line and the message.
fn out_of_type_inodes() -> Vec<(String, usize, &'static str)> {
    let extent = |e: &str| format!("[[inodes]]\ni_size = 4096\nextents = [{e}]\n");
    let max = u64::MAX;
    vec![
        (
            extent(&format!(
                "{{ lblk = 0, len = {max}, pblk = 3, state = \"written\" }}"
            )),
            3,
            "inodes[0].extents[0].lblk: lblk + len is past EXT_MAX_BLOCKS",
        ),
        (
            extent("{ lblk = 4294967290, len = 8, pblk = 0, state = \"written\" }"),
            3,
            "inodes[0].extents[0].lblk",
        ),
        (
            extent(&format!(
                "{{ lblk = 0, len = 2, pblk = {}, state = \"written\" }}",
                u32::MAX
            )),
            3,
            "inodes[0].extents[0].pblk: outside the disk",
        ),
        (
            "[[inodes]]\ncached_pages = [18446744073709551615]\n".to_string(),
            2,
            "inodes[0].cached_pages[0]: page 18446744073709551615 lies past EOF",
        ),
    ]
}

/// Operation texts with a value 4.4's types cannot hold: the text, the line and the message.
fn out_of_type_ops() -> Vec<(String, usize, &'static str)> {
    let op = |o: &str| format!("[[inodes]]\ni_size = 4096\n[[actors]]\nops = [\n  {o},\n]\n");
    let (max, half) = (u64::MAX, 1u64 << 62);
    let cases = [
        (
            format!("{{ op = \"read\", pos = {max}, len = 4096 }}"),
            "actors[0].ops[0].pos: 18446744073709551615 is past loff_t",
        ),
        (
            format!("{{ op = \"read\", pos = {}, len = 4096 }}", i64::MAX),
            "actors[0].ops[0].len: pos + len is past loff_t",
        ),
        (
            format!("{{ op = \"punch_hole\", pos = {}, len = 2 }}", i64::MAX),
            "actors[0].ops[0].len: pos + len is past loff_t",
        ),
        (
            "{ op = \"punch_hole\", pos = 0, len = 0 }".to_string(),
            "actors[0].ops[0].len: 0: vfs_fallocate returns -EINVAL",
        ),
        (
            format!("{{ op = \"write\", pos = {}, len = 1 }}", 1u64 << 63),
            "actors[0].ops[0].pos: 9223372036854775808 is past loff_t",
        ),
        (
            format!("{{ op = \"write\", pos = 0, segments = [{{ base = 0, len = {max} }}] }}"),
            "actors[0].ops[0].segments[0].len: 18446744073709551615 is past ssize_t",
        ),
        (
            format!(
                "{{ op = \"write\", pos = 0, segments = [{{ base = 0, len = {half} }}, {{ base = 0, len = {half} }}] }}"
            ),
            "actors[0].ops[0].segments: more than 16 blocks",
        ),
        (
            format!("{{ op = \"truncate\", size = {max} }}"),
            "actors[0].ops[0].size: 18446744073709551615 is past loff_t",
        ),
    ];
    cases.into_iter().map(|(o, m)| (op(&o), 5, m)).collect()
}

#[test]
fn values_4_4_s_types_cannot_hold_are_refused_naming_the_file_line_and_field() {
    for (text, line, expected) in out_of_type_inodes().into_iter().chain(out_of_type_ops()) {
        let out = run_text("types.toml", &text, &[]);
        assert_eq!(out.status.code(), Some(2), "{text}\n{}", stderr(&out));
        let message = stderr(&out);
        assert!(
            message.contains("types.toml: ")
                && message.contains(&format!("line {line}: "))
                && message.contains(expected),
            "{text}\nwanted line {line} and {expected:?} in: {message}"
        );
    }
}

/// The trace and the final state speak kernel terms: no `Some(..)`, `None`, `Written`,
/// `Initial { .. }` or `[(3, 1)]` from Rust's debug formatting.
#[test]
fn run_output_has_no_rust_debug_formatting() {
    let mut seen_path = false;
    for example in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).unwrap() {
        let path = example.unwrap().path();
        let out = writeiter(&["run", path.to_str().unwrap()]);
        let text = stdout(&out);
        for debug in [
            "Some(",
            "None",
            "{ ",
            "Written:",
            "Unwritten:",
            "(Written)",
            "(Unwritten)",
            "Initial",
            "[(",
            "bios [",
        ] {
            assert!(
                !text.contains(debug),
                "{}: {debug:?} in\n{text}",
                path.display()
            );
        }
        seen_path |= text.contains("path=ext4_ext_direct_IO");
    }
    assert!(seen_path, "a direct write names its ->direct_IO");
}

/// `writeiter help`, `--help` on every command (`replay --help` is help, not a file name),
/// `--version`: exit 0 on standard output.
#[test]
fn help_and_version_exit_0_for_every_command() {
    let out = writeiter(&["help"]);
    assert_eq!(out.status.code(), Some(0));
    for command in [
        "run", "hunt", "replay", "shrink", "explain", "bench", "patches", "matrix", "help",
    ] {
        assert!(
            stdout(&out).contains(&format!("  {command} ")),
            "{}",
            stdout(&out)
        );
    }
    for command in [
        "run", "hunt", "replay", "shrink", "explain", "bench", "patches", "matrix",
    ] {
        for args in [
            vec![command, "--help"],
            vec!["help", command],
            vec![command, "-h"],
        ] {
            let out = writeiter(&args);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
            assert!(
                stdout(&out).contains(&format!("Usage: writeiter {command}")),
                "{args:?}: {}",
                stdout(&out)
            );
        }
    }
    let out = writeiter(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out).trim(),
        format!("writeiter {}", env!("CARGO_PKG_VERSION"))
    );
}

/// `--flag=value` works; conflicting and repeated flags exit 2 saying so.
#[test]
fn flags_take_their_value_with_equals_and_conflicts_exit_2() {
    let out = writeiter(&[
        "run",
        "examples/unaligned-aio.toml",
        "--schedule=a0 a0 a1",
        "--exact",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("   2 a1   Gate"), "{}", stdout(&out));
    for (args, expected) in [
        (
            vec!["run", "examples/unaligned-aio.toml", "--swarm", "3"],
            "cannot be used with",
        ),
        (
            vec!["run", "--actors-max", "3", "examples/unaligned-aio.toml"],
            "--swarm",
        ),
        (
            vec!["run", "examples/unaligned-aio.toml", "--exact", "--exact"],
            "cannot be used multiple times",
        ),
        (
            vec!["run", "--swarm=1", "--schedule", "a0", "--schedule=a1"],
            "cannot be used multiple times",
        ),
        (vec!["run"], "required"),
        (
            vec!["explain", "a.toml", "b.toml"],
            "unexpected argument 'b.toml'",
        ),
        (
            vec!["bench", "--seeds", "0"],
            "invalid value '0' for '--seeds",
        ),
        (vec!["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ] {
        let out = writeiter(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
}

/// An error quoting a line of the file quotes at most its first 200 characters, whatever
/// the line's length (here a megabyte).
#[test]
fn an_error_quotes_at_most_200_characters_of_a_huge_line() {
    let huge = "x".repeat(1 << 20);
    for text in [
        format!("[[inodes]]\nbogus = \"{huge}\"\n"),
        format!("[[inodes]]\ni_size = {huge}\n"),
        format!("[[inodes]]\n{huge}\n"),
    ] {
        let out = run_text("huge.toml", &text, &[]);
        assert_eq!(out.status.code(), Some(2));
        let message = stderr(&out);
        assert!(
            message.contains("huge.toml"),
            "{}",
            &message[..message.len().min(500)]
        );
        assert!(message.len() < 2_000, "{} bytes of error", message.len());
        assert!(
            message.lines().all(|l| l.chars().count() <= 260),
            "{message}"
        );
        assert!(message.contains("more characters"), "{message}");
    }
}
