//! Copying a parent over its own successor, skipping the parts the successor's step left
//! unmarked ([`Codec::copy_marked_from`], the breadth-first search's scratch child), against
//! its slow twin, a clone of the parent.
//!
//! - Every state along [`WALK_SEEDS`] random walks of every example and corpus entry is the
//!   parent: one scratch copy of it is stepped by each runnable task in turn (its programs
//!   stripped after every other step, as a fresh successor's are) and the parent copied back
//!   over it before the next. Each copy equals a clone of the parent in value, in `Debug`
//!   form, in its bytes and in its marks ([`State::touched`], all set, as a clone's are).
//! - A planted fault, a copy that takes every part for unwritten (the successor's flags
//!   cleared before it), fails that comparison.
//! - A child whose actors are one more or one fewer than the parent's (every flag cleared,
//!   so a walk item by item would trust every cell it meets) is copied whole: the no-step
//!   path of a sequence whose length changed, which no model step takes.

mod common;

use std::sync::Arc;

use model::exec::{self, Trace};
use model::state::State;
use sim::codec::Codec;

/// Random walks per scenario.
const WALK_SEEDS: u64 = 3;
/// Copies over a stepped successor the comparison must see, at least.
const COPIES_MIN: usize = 5_000;
/// Copies on which the planted fault must be caught, at least.
const CAUGHT_MIN: usize = 1_000;

/// What differs between `got` and a clone of `parent`, if anything.
fn differs(got: &State, parent: &State) -> Option<String> {
    let want = parent.clone();
    let bytes = |s: &State| {
        let mut out = Vec::new();
        s.put(&mut out);
        out
    };
    if *got != want || format!("{got:?}") != format!("{want:?}") {
        return Some(format!("the state differs: {got:?}"));
    }
    if got.touched() != want.touched() {
        return Some(format!(
            "marks {:?}, not {:?}",
            got.touched(),
            want.touched()
        ));
    }
    (bytes(got) != bytes(&want)).then(|| "the bytes differ".to_string())
}

/// Steps a copy of `parent` by each runnable task in turn, copying `parent` back over it
/// after each ([`Codec::copy_marked_from`]); per copy, what differs from a clone, if
/// anything. `forget_marks` plants the fault.
fn copies_over_successors(parent: &State, forget_marks: bool) -> Vec<Option<String>> {
    let mut child = parent.clone();
    let runnable = exec::runnable(parent);
    let mut found = Vec::with_capacity(runnable.len());
    for (i, &task) in runnable.iter().enumerate() {
        let stepped = sim::engine::apply(exec::step_with, &mut child, task, Trace::Off);
        // A broken step's successor is copied over too, as the search does.
        drop(stepped);
        if i % 2 == 1 {
            for actor in &mut child.actors {
                actor.program = Arc::from([]);
            }
        }
        if forget_marks {
            child.clear_touched_for_tests();
        }
        child.copy_marked_from(parent);
        found.push(differs(&child, parent));
    }
    found
}

/// Every walked state of every scenario, `visit`ed as a parent.
fn each_parent(visit: &mut dyn FnMut(&State)) {
    for (_, initial, _) in common::examples_and_corpus() {
        for seed in 0..WALK_SEEDS {
            for (state, _) in common::walk_pairs(&initial, seed) {
                visit(&state);
            }
        }
    }
}

#[test]
fn copying_a_parent_over_its_successors_equals_a_clone() {
    let mut copies = 0;
    each_parent(&mut |parent| {
        for (i, found) in copies_over_successors(parent, false)
            .into_iter()
            .enumerate()
        {
            if let Some(e) = found {
                panic!("task {i} of {parent:?}: {e}");
            }
            copies += 1;
        }
    });
    assert!(copies >= COPIES_MIN, "{copies} copies");
}

#[test]
fn a_copy_that_forgets_the_marks_fails_the_comparison() {
    let mut caught = 0;
    each_parent(&mut |parent| {
        let found = copies_over_successors(parent, true);
        caught += found.iter().filter(|f| f.is_some()).count();
    });
    assert!(caught >= CAUGHT_MIN, "caught {caught}");
}

#[test]
fn a_child_with_more_or_fewer_actors_is_copied_whole() {
    let mut copies = 0;
    each_parent(&mut |parent| {
        for grow in [true, false] {
            let mut child = parent.clone();
            child.clear_touched_for_tests();
            if grow {
                let first = (*child.actors[0]).clone();
                child.actors.push(model::mark::Tracked::new(first));
            } else {
                child.actors.pop();
            }
            child.clear_touched_for_tests();
            child.copy_marked_from(parent);
            if let Some(e) = differs(&child, parent) {
                panic!("grow {grow}, {parent:?}: {e}");
            }
            copies += 1;
        }
    });
    assert!(copies >= COPIES_MIN, "{copies} copies");
}
