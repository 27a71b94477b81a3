//! Triage of the second patched hunt's 0009 (`durability@aio_complete |
//! aio-dio+bio-error+dsync`): 0018's accepted mechanism, where a failed direct write hides
//! the overwrite that would have covered the loss (as corpus 0044 in its zeros form). The
//! durability oracle judges it exactly: the O_DSYNC AIO's own bio succeeded, so its event
//! carries 1024 (`dio_complete`, fs/direct-io.c:249-254, reads only its own dio's
//! `io_error`), and the failed bio is another direct write's, which gets `-EIO`.

mod common;

use model::ops::OpResult;
use model::state::Data;
use sim::engine::{self, Pct, RandomWalk};
use sim::{Scenario, signature};

/// Seed 155109960266853 of the second hunt of 4.4.121 + all patches, shrunk. a1's O_DSYNC
/// AIO direct write of [4096, 5120) (written block 1) queues its bio and drops `i_mutex`.
/// a0's buffered write of [5120, 6144) reads block 1 whole (`ext4_block_write_begin`,
/// fs/ext4/inode.c:995-998) before that bio lands: the page holds the initial data at 4096.
/// a2's direct write of [1024, 5120) flushes the page (`filemap_write_and_wait_range`,
/// mm/filemap.c:2427), which lands after a1's bio and writes the initial data over it; a2's
/// own bio to 4096 fails, so nothing rewrites the sector before a1's event.
const STALE_PAGE: &str = r#"
patches = ["74dae4278546", "187372a3b9fa", "74c66bcb7eda", "109811c20fb8", "e142d05263a4", "914f82a32d02", "5660e13d2fd6", "332391a9935d", "5e25c269e17d", "45d8ec4d9fd5", "372a03e01853", "57a0da28ced8", "d4f5258eae7b", "e856f93e0fb2"]

[geometry]
blkbits = 12
sector_bits = 10
page_bits = 12
huge_file = true
disk_blocks = 16

[mount]
dioread_nolock = false
sync = false
plug_holds_bios = true
bio_errors = true

[[inodes]]
ino = 12
mapping = "extents"
i_size = 8192
s_sync = false
dio_refused = false
cached_pages = []
extents = [{ lblk = 1, len = 1, pblk = 2, state = "written" }]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 5120, segments = [{ base = 1048576, len = 1024 }], direct = false, aio = false, append = false, sync = "none", largefile = true },
]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 4096, segments = [{ base = 1048576, len = 1024 }], direct = true, aio = true, append = false, sync = "sync", largefile = true },
]

[[actors]]
ops = [
  { op = "write", inode = 0, pos = 1024, segments = [{ base = 1048576, len = 4096 }], direct = true, aio = false, append = false, sync = "none", largefile = true },
]
"#;

const SCHEDULE: &str = "a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a1 a0 a0 a0 a0 a2 a2 a2 a2 b2 b4 a2 a2 a2 a2 a2 a2 a2 a2 a2 a2 b7 b8 w5 w5 w5 w5 w5 w5 w10 w10 w10 w10 e9 a2 a2 a2 a2 a2 w5 w5";

/// The schedule breaks `durability` on a1's event, which carries a1's own success, and a2 gets
/// `-EIO` from its failed bio.
#[test]
fn the_aio_s_event_is_its_own_success_and_the_failed_bio_is_another_write_s() {
    let run = common::replay_toml(STALE_PAGE, SCHEDULE, model::exec::step_with);
    let v = run.violation.as_ref().expect("a1's write is lost");
    assert_eq!(v.oracle.name(), "durability");
    let result = |actor: usize| match run.state.actors[actor].results[0] {
        OpResult::Write { ret, event, .. } => (ret, event),
        ref other => panic!("a write: {other:?}"),
    };
    assert_eq!(
        result(1),
        (-529, Some(1024)),
        "a1: -EIOCBQUEUED, then its event"
    );
    assert_eq!(result(2).0, -5, "a2: -EIO");
    // Sector 8 (p2 at 4096) holds the initial data a0's page carried, not a1's.
    assert_eq!(
        run.state.disk.sectors[8],
        Data::Initial { inode: 0, lblk: 1 }
    );
}

/// Without bio errors the scenario shows only 0010's signature at a1's event: a1's own
/// `generic_write_sync` (fs/direct-io.c:266-269) writes a0's stale page over its data
/// (the merge the first patched hunt's triage 0026 recorded). So the failed bio adds no
/// loss of its own; it only keeps a2's write from covering 0018's.
#[test]
fn without_bio_errors_the_scenario_shows_only_the_aio_s_own_flush() {
    let toml = STALE_PAGE.replace("bio_errors = true", "bio_errors = false");
    let initial = initial_of(&toml);
    let step = model::exec::step_with;
    let mut found = 0;
    for seed in 0..200 {
        for run in [
            engine::execute(&initial, &mut RandomWalk::new(seed), step, false),
            engine::execute(&initial, &mut Pct::new(seed, 3), step, false),
        ] {
            let Some(v) = run.violation.as_ref() else {
                continue;
            };
            assert_eq!(v.oracle.name(), "durability", "{v:?}");
            let sig = signature::of(&initial, &run, step).expect("a signature");
            assert_eq!(sig.to_string(), "durability@aio_complete | aio-dio+dsync");
            found += 1;
        }
    }
    assert!(found > 0, "0018's mechanism at the AIO's own flush");
}

/// The initial state of the scenario text `toml`.
fn initial_of(toml: &str) -> model::state::State {
    Scenario::from_toml(toml)
        .expect("a valid scenario")
        .model()
        .build()
        .expect("it builds")
}

/// The class needs no patch: 4.4.121 alone shows it in the same scenario.
#[test]
fn the_class_shows_on_4_4_121_without_patches() {
    let toml: String = STALE_PAGE
        .lines()
        .filter(|l| !l.starts_with("patches"))
        .collect::<Vec<_>>()
        .join("\n");
    let initial = initial_of(&toml);
    let step = model::exec::step_with;
    let found = (0..200).any(|seed| {
        [
            engine::execute(&initial, &mut RandomWalk::new(seed), step, false),
            engine::execute(&initial, &mut Pct::new(seed, 3), step, false),
        ]
        .iter()
        .any(|run| {
            signature::of(&initial, run, step).is_some_and(|s| {
                s.to_string() == "durability@aio_complete | aio-dio+bio-error+dsync"
            })
        })
    });
    assert!(found, "4.4.121 shows the class");
}
