//! `writeiter explain`: the timeline in ext4 terms with the breaking step marked, the sector
//! that lost its data and the bio that overwrote it; the same as SVG and HTML.

mod common;
use common::{stdout, writeiter};

#[test]
fn explain_shows_lanes_the_breaking_step_and_the_bio_that_overwrote_the_data() {
    let dir = std::env::temp_dir().join(format!("writeiter-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg, html) = (dir.join("t.svg"), dir.join("t.html"));
    let corpus = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus")).unwrap();
    let file = corpus
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("0007-"))
        .expect("entry 7");
    let out = writeiter(&[
        "explain",
        file.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("VIOLATION no-spurious-zeros"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("step")
        && l.contains("a0")
        && l.contains("block layer")
        && l.contains("workqueues")));
    assert!(
        text.lines().any(|l| l.starts_with(">>")),
        "the breaking step is marked"
    );
    assert!(
        text.contains("aio_mutex[12] taken") && text.contains("zeros on sectors"),
        "{text}"
    );
    let lost = text
        .lines()
        .find(|l| l.starts_with("!!"))
        .expect("a sector that lost its data");
    assert!(
        lost.contains("zeros") && lost.contains("completed: write") && lost.contains("(zeros)"),
        "{lost}"
    );
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("#ffd6d6") && svg.trim_end().ends_with("</svg>")
    );
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(
        html.contains("<svg")
            && html.contains("class=\"bad\"")
            && html.contains("no-spurious-zeros")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn explain_of_a_bad_file_exits_2() {
    let out = writeiter(&["explain", "no/such.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A stale schedule (one that no longer breaks the oracle, or names a task that cannot
/// step) is re-found by the same search `writeiter replay` uses, said on standard error,
/// and the found schedule is explained.
#[test]
fn explain_re_finds_a_stale_schedule_as_replay_does() {
    let dir = std::env::temp_dir().join(format!("writeiter-explain-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus")).unwrap();
    let file = corpus
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("0010-"))
        .expect("entry 10");
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("schedule = "))
        .expect("a schedule line")
        .to_string();
    for stale in ["a0 a0 a0", "b9"] {
        let path = dir.join("stale.toml");
        std::fs::write(
            &path,
            text.replace(&line, &format!("schedule = \"{stale}\"")),
        )
        .unwrap();
        let out = writeiter(&["explain", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stale}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains("schedule stale, violation re-found at"),
            "{stale}: {}",
            common::stderr(&out)
        );
        assert!(
            stdout(&out).contains("VIOLATION durability"),
            "{}",
            stdout(&out)
        );
        let replay = writeiter(&["replay", path.to_str().unwrap()]);
        assert_eq!(replay.status.code(), Some(1), "a stale entry fails replay");
        assert!(stdout(&replay).contains("a search found it at"));
    }
    std::fs::remove_dir_all(&dir).ok();
}
