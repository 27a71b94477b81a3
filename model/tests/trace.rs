//! The explicit trace switch of `exec::step_with`: a quiet step writes no name or notes and
//! changes the state exactly as a traced one.

mod common;
use common::*;
use model::exec::{self, Trace};
use model::ops::Op;

/// A buffered and a direct writer on one file, the direct one into an unwritten extent:
/// both write paths, their bios and the conversion work all take steps.
fn two_writers() -> model::state::State {
    state(
        DEFAULT,
        vec![inode(2 * B, &[(0, 1, 0, Written), (1, 1, 1, Unwritten)])],
        vec![vec![Op::Write(buffered(0, B))], vec![Op::Write(dio(B, B))]],
    )
}

#[test]
fn a_quiet_step_writes_nothing_and_leaves_the_state_of_a_traced_one() {
    let (mut quiet, mut traced) = (two_writers(), two_writers());
    let (mut steps, mut noted) = (0, 0);
    while let Some(&task) = exec::runnable(&traced).first() {
        let q = exec::step_with(&mut quiet, task, Trace::Off).expect("steps");
        let t = exec::step_with(&mut traced, task, Trace::On).expect("steps");
        assert!(q.step.is_empty() && q.notes.is_empty(), "{task}: {q:?}");
        assert_eq!(t.step, t.pc.name(), "{task}");
        assert_eq!((q.task, q.pc, &q.hazard), (t.task, t.pc, &t.hazard));
        assert_eq!(quiet, traced, "{task}");
        steps += 1;
        noted += t.notes.len();
    }
    assert!(exec::all_done(&traced), "ran to the end");
    assert!(
        steps > 10 && noted > 10,
        "{steps} steps wrote {noted} notes"
    );
}

#[test]
fn step_is_the_traced_step() {
    let (mut plain, mut traced) = (two_writers(), two_writers());
    while let Some(&task) = exec::runnable(&traced).first() {
        let p = exec::step(&mut plain, task).expect("steps");
        let t = exec::step_with(&mut traced, task, Trace::On).expect("steps");
        assert!(!p.step.is_empty(), "{task}");
        assert_eq!(p, t, "{task}");
    }
}
