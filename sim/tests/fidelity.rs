//! The contents oracles' failed-bio rules (a write stays lost while its last bio failed; per
//! io_end under e856f93e0fb2) excuse only a page newer than the disk: a page cache page older
//! than what a successful bio put on disk is still a finding. Planted bugs as in
//! `oracles.rs`: a broken copy of one model step, found by an exhaustive breadth-first
//! search.

use model::exec::{self, Event, Pc, StepError, Task, Trace};
use model::ops::WritePc;
use model::state::{BioOwner, State};
use sim::Scenario;
use sim::engine::{self, Stepper};

/// States a search may visit: the scenarios here are far smaller.
const STATES: u64 = 200_000;

/// A buffered write whose writeback bio may fail (`bio_errors`), then a direct overwrite of
/// the same block, whose bio may fail or land: the cached page holds the buffered data.
const FAILED_WRITEBACK_THEN_DIO: &str = r#"
[geometry]
sector_bits = 10
[mount]
bio_errors = true
[[inodes]]
i_size = 4096
extents = [{ lblk = 0, len = 1, pblk = 0, state = "written" }]
[[actors]]
ops = [
  { op = "write", pos = 0, len = 4096 },
  { op = "fsync", inode = 0, datasync = false },
  { op = "write", pos = 0, len = 4096, direct = true },
]
"#;

fn scenario(toml: &str) -> Scenario {
    Scenario::from_toml(toml).expect("a valid scenario")
}

/// `generic_file_direct_write` invalidates nothing: the page the buffered write left (its
/// data possibly on a failed bio) stays, older than the direct write's data once its bio
/// lands.
fn no_invalidation(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    let before = state.inodes[0].pages.clone();
    let event = exec::step_with(state, task, trace)?;
    if event.pc == Pc::Write(WritePc::DirectInvalidate) || event.pc == Pc::Write(WritePc::DirectEnd)
    {
        state.inodes[0].pages = before;
    }
    Ok(event)
}

/// [`no_invalidation`], and every writeback bio fails (`-EIO`): the page's data is on a
/// failed bio when the direct write's bio lands over it.
fn failed_writeback_no_invalidation(
    state: &mut State,
    task: Task,
    trace: Trace,
) -> Result<Event, StepError> {
    let task = match task {
        Task::Bio(n)
            if state
                .bios
                .get(&n)
                .is_some_and(|b| matches!(b.owner, BioOwner::Writeback(_))) =>
        {
            Task::BioError(n)
        }
        other => other,
    };
    no_invalidation(state, task, trace)
}

/// The oracle a breadth-first search of `toml` under `stepper` breaks first, checked to
/// replay.
fn found(toml: &str, stepper: Stepper) -> String {
    let check = scenario(toml).check().bfs(STATES).stepper(stepper);
    let first = check.run().violation().cloned();
    let first = first.expect("the planted bug is found");
    let run = check.assert_violates(first.oracle.name());
    let state = scenario(toml).model().build().expect("it builds");
    let again = engine::replay(&state, &run.schedule, stepper).expect("applies");
    assert_eq!(again.violation.as_ref(), Some(&first));
    first.oracle.name().to_string()
}

#[test]
fn a_page_older_than_a_successful_bio_is_incoherent_after_a_failed_one() {
    assert_eq!(
        found(FAILED_WRITEBACK_THEN_DIO, no_invalidation),
        "page-cache-coherence"
    );
    let patched = format!("patches = [\"e856f93e0fb2\"]\n{FAILED_WRITEBACK_THEN_DIO}");
    assert_eq!(found(&patched, no_invalidation), "page-cache-coherence");
    for toml in [FAILED_WRITEBACK_THEN_DIO, &patched] {
        assert_eq!(
            found(toml, failed_writeback_no_invalidation),
            "page-cache-coherence",
            "the failed writeback bio excuses the page only until a bio lands"
        );
    }
}

#[test]
fn the_scenario_is_legal_on_the_model() {
    for toml in [
        FAILED_WRITEBACK_THEN_DIO.to_string(),
        format!("patches = [\"e856f93e0fb2\"]\n{FAILED_WRITEBACK_THEN_DIO}"),
    ] {
        let outcome = scenario(&toml).check().bfs(STATES).assert_holds();
        assert!(outcome.report.states > 5);
    }
}
