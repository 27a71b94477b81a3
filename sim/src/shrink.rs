//! Shrinking a counterexample: the scenario and the schedule together, every candidate
//! re-checked against the same oracle and, when the [`Target`] names one, the same class
//! (signature). In order: fewer actors, fewer operations, smaller
//! lengths and offsets (towards sector and block boundaries), then the schedule with the
//! fewest preemptions and, among schedules, the shortest a breadth-first search finds. The
//! scenario loop runs to a fixpoint, so removing any one actor or operation of the result
//! makes the violation disappear (1-minimal) as far as the bounded search can tell.

use model::ops::Op;
use model::scenario::Scenario;
use model::state::State;

use crate::engine::{self, Execution, Pct, RandomWalk, Stepper};

/// Random and PCT schedules tried per candidate scenario, each.
pub const CANDIDATE_SCHEDULES: u64 = 400;
/// Executions of the bounded DFS per candidate scenario.
pub const CANDIDATE_DFS: u64 = 2_000;
/// States the breadth-first search of a candidate may visit when the samples and the DFS
/// missed it (a violation that needs one precise interleaving).
pub const CANDIDATE_STATES: u64 = 20_000;
/// Preemption bounds tried, smallest first, for the final schedule.
pub const PREEMPTIONS_MAX: usize = 3;
/// States the final breadth-first search may visit.
pub const FINAL_STATES: u64 = 300_000;

/// Sizes of a counterexample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Actors.
    pub actors: usize,
    /// Operations over all actors.
    pub ops: usize,
    /// Bytes all writes, reads and punches cover.
    pub bytes: u64,
    /// Schedule length.
    pub steps: usize,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} actors, {} operations, {} bytes, {} steps",
            self.actors, self.ops, self.bytes, self.steps
        )
    }
}

/// The size of `scenario` with a schedule of `steps` tasks.
pub fn size(scenario: &Scenario, steps: usize) -> Size {
    let ops = scenario.actors.iter().flatten();
    // Saturating: a size is a figure to compare, and lengths come from files.
    let bytes = ops.clone().map(op_bytes).fold(0, u64::saturating_add);
    Size {
        actors: scenario.actors.len(),
        ops: ops.count(),
        bytes,
        steps,
    }
}

fn op_bytes(op: &Op) -> u64 {
    match op {
        Op::Write(w) => w
            .segments
            .iter()
            .map(|s| s.len)
            .fold(0, u64::saturating_add),
        Op::Read { len, .. } | Op::PunchHole { len, .. } => *len,
        _ => 0,
    }
}

/// A shrunk counterexample.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The scenario.
    pub scenario: Scenario,
    /// Its violating execution.
    pub execution: Execution,
    /// Preemptions of the schedule's search bound (`None`: found by the breadth-first search
    /// only).
    pub preemptions: Option<usize>,
    /// The breadth-first search explored far enough to know this is a shortest schedule.
    pub shortest: bool,
}

/// What shrinking keeps: a violation of the oracle, and when a signature is given, of that
/// class (the signature `writeiter hunt` prints), so a shrunk counterexample stays in the
/// class it was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The oracle's name.
    pub oracle: &'a str,
    /// The class, when it must be kept too.
    pub signature: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A violation of `oracle` of the class `signature`.
    pub fn class(oracle: &'a str, signature: &'a str) -> Target<'a> {
        Target {
            oracle,
            signature: Some(signature),
        }
    }

    /// `run` violates the oracle, in the class when one is kept.
    fn hits(&self, initial: &State, run: &Execution, stepper: Stepper) -> bool {
        run.violation
            .as_ref()
            .is_some_and(|v| v.oracle.name() == self.oracle)
            && self.signature.is_none_or(|wanted| {
                crate::signature::of(initial, run, stepper).is_some_and(|s| s.to_string() == wanted)
            })
    }
}

impl<'a> From<&'a str> for Target<'a> {
    /// Any violation of the oracle named `oracle`.
    fn from(oracle: &'a str) -> Target<'a> {
        Target {
            oracle,
            signature: None,
        }
    }
}

/// A violating execution of `scenario` for `target`, from a bounded search.
pub fn find<'a>(
    scenario: &Scenario,
    target: impl Into<Target<'a>>,
    stepper: Stepper,
) -> Option<Execution> {
    let target = target.into();
    let initial = scenario.build().ok()?;
    let hits = |run: &Execution| target.hits(&initial, run, stepper);
    for seed in 0..CANDIDATE_SCHEDULES {
        for run in [
            engine::execute(&initial, &mut RandomWalk::new(seed), stepper, false),
            engine::execute(&initial, &mut Pct::new(seed, 3), stepper, false),
        ] {
            if hits(&run) {
                return Some(run);
            }
        }
    }
    let oracle = target.oracle;
    let report = engine::dfs_where(&initial, (2, CANDIDATE_DFS), stepper, oracle, &hits);
    if report.found.is_some() {
        return report.found;
    }
    engine::bfs_where(&initial, CANDIDATE_STATES, stepper, oracle, &hits).found
}

/// Shrinks `scenario` for `target` (it must already violate it): every candidate, and the
/// final schedule, keep the oracle and, when the target names one, the class.
pub fn shrink<'a>(
    scenario: &Scenario,
    target: impl Into<Target<'a>>,
    stepper: Stepper,
) -> Option<Shrunk> {
    let target = target.into();
    let mut best = scenario.clone();
    find(&best, target, stepper)?;
    // Every candidate is smaller than the scenario it comes from (fewer actors or
    // operations, a shorter length or a lower offset), so this ends.
    'fixpoint: loop {
        for candidate in candidates(&best) {
            if find(&candidate, target, stepper).is_some() {
                best = candidate;
                continue 'fixpoint;
            }
        }
        break;
    }
    let initial = best.build().expect("a found scenario builds");
    let (execution, preemptions, shortest) = final_schedule(&initial, target, stepper)?;
    Some(Shrunk {
        scenario: best,
        execution,
        preemptions,
        shortest,
    })
}

/// Smaller scenarios, most shrinking first: without an actor, without an operation, with a
/// smaller length or offset.
fn candidates(scenario: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    for a in (0..scenario.actors.len()).rev() {
        let mut s = scenario.clone();
        s.actors.remove(a);
        out.push(s);
    }
    for a in 0..scenario.actors.len() {
        for k in (0..scenario.actors[a].len()).rev() {
            let mut s = scenario.clone();
            s.actors[a].remove(k);
            if !s.actors[a].is_empty() {
                out.push(s);
            }
        }
    }
    for a in 0..scenario.actors.len() {
        for k in 0..scenario.actors[a].len() {
            for op in smaller_ops(scenario, &scenario.actors[a][k]) {
                let mut s = scenario.clone();
                s.actors[a][k] = op;
                out.push(s);
            }
        }
    }
    out
}

/// An operation with a halved length (kept a multiple of the sector) or its offset moved to
/// the block boundary below: a write of one segment, a read, a punch hole.
pub(crate) fn smaller_ops(scenario: &Scenario, op: &Op) -> Vec<Op> {
    let (sector, block) = (
        scenario.geometry.sectorsize(),
        scenario.geometry.blocksize(),
    );
    let shorter =
        |len: u64| (len > sector).then(|| (len / 2).next_multiple_of(sector).min(len - sector));
    let lower = |pos: u64| (!pos.is_multiple_of(block)).then(|| pos - pos % block);
    let mut out = Vec::new();
    if let Op::Write(w) = op
        && let [segment] = w.segments.as_slice()
    {
        if let Some(len) = shorter(segment.len) {
            let mut w2 = w.clone();
            w2.segments[0].len = len;
            out.push(Op::Write(w2));
        }
        if let Some(pos) = lower(w.pos) {
            out.push(Op::Write(model::ops::WriteOp { pos, ..w.clone() }));
        }
    }
    if let Op::Read {
        inode,
        pos,
        len,
        direct,
    } = *op
        && let Some(len) = shorter(len)
    {
        out.push(Op::Read {
            inode,
            pos,
            len,
            direct,
        });
    }
    if let Op::PunchHole { inode, pos, len } = *op {
        if let Some(len) = shorter(len) {
            out.push(Op::PunchHole { inode, pos, len });
        }
        if let Some(pos) = lower(pos) {
            out.push(Op::PunchHole { inode, pos, len });
        }
    }
    out
}

/// The schedule with the fewest preemptions (DFS with bounds 0, 1, …; the breadth-first
/// search's when none is found), and whether it is as short as the shortest schedule the
/// breadth-first search finds.
fn final_schedule(
    initial: &State,
    target: Target<'_>,
    stepper: Stepper,
) -> Option<(Execution, Option<usize>, bool)> {
    let hits = |run: &Execution| target.hits(initial, run, stepper);
    let oracle = target.oracle;
    let fewest = (0..=PREEMPTIONS_MAX).find_map(|bound| {
        let budget = (bound, CANDIDATE_DFS * 10);
        let report = engine::dfs_where(initial, budget, stepper, oracle, &hits);
        report.found.map(|run| (run, bound))
    });
    let shortest = engine::bfs_where(initial, FINAL_STATES, stepper, oracle, &hits).found;
    let shortest_len = shortest.as_ref().map(|r| r.schedule.len());
    let (run, bound) = match (fewest, shortest) {
        (Some((run, bound)), _) => (run, Some(bound)),
        (None, Some(run)) => (run, None),
        (None, None) => return None,
    };
    let as_short = shortest_len.is_some_and(|len| run.schedule.len() <= len);
    Some((run, bound, as_short))
}
