//! Shrinking a lasso entry: the looping scenario, every candidate searched again with the
//! liveness search ([`crate::liveness::search_with`], at most [`LASSO_CANDIDATE_STATES`]
//! states). A starvation's candidate is kept when the search still finds a starvation of the
//! same victim (renumbered when an actor before it goes) blocked on the same wait
//! ([`shrink_lasso`]); a model assertion's, when the first model assertion the search meets
//! is of the same class and panics with the same words ([`shrink_assertion`]). In order:
//! fewer actors, fewer operations, an actor that no longer repeats forever, smaller lengths
//! and offsets of writes, reads and punch holes ([`crate::shrink`]'s), to a fixpoint. The
//! lasso or path stored is the one the search finds for the result: the shortest stem to the
//! cycle's first state, or the shortest path to a panicking step.
//!
//! The stored lasso or path is not a candidate of its own: [`crate::cli_shrink_lasso`]
//! replays it first and refuses an entry that does not show its finding.

use model::state::ActorId;

use crate::engine::Stepper;
use crate::liveness::{self, Assertion, Lasso};
use crate::oracle::Violation;
use crate::scenario_file::Looping;
use crate::signature::Signature;

/// States the liveness search of each candidate may visit (the stored starvation entry's
/// scenario has about 26 000): a candidate whose search is cut without the lasso is not
/// kept.
pub const LASSO_CANDIDATE_STATES: usize = 100_000;

/// What a shrunk lasso keeps: the victim's starvation, blocked on this wait (as the lasso
/// file writes it, [`model::exec::Wait`]'s words).
#[derive(Clone, Copy, Debug)]
pub struct Starving<'a> {
    /// The victim.
    pub victim: ActorId,
    /// What it waits for where the cycle starts.
    pub wait: &'a str,
}

/// A shrunk lasso: the scenario and the lasso its search found.
#[derive(Clone, Debug)]
pub struct ShrunkLasso {
    /// The looping scenario.
    pub looping: Looping,
    /// Its lasso: the victim (renumbered), the shortest stem, the cycle.
    pub lasso: Lasso,
}

/// The lasso the search of `looping` finds within `max_states`, when it starves `target`.
pub fn starves(
    looping: &Looping,
    target: Starving<'_>,
    (max_states, stepper): (usize, Stepper),
) -> Option<Lasso> {
    let report = liveness::search_with(looping, max_states, stepper).ok()?;
    report
        .lasso
        .filter(|l| l.victim == target.victim && l.wait.to_string() == target.wait)
}

/// What a shrunk model assertion's entry keeps: the class of the panicking step
/// ([`crate::signature::of_model_assertion`]: the operation's kinds) and the panic itself,
/// its message with every number masked ([`panic_words`]), since a class alone would let
/// another assertion in an operation of the same kinds take the stored one's place.
#[derive(Clone, Copy, Debug)]
pub struct Asserting<'a> {
    /// The class.
    pub signature: &'a Signature,
    /// The panic's words ([`panic_words`] of the stored violation).
    pub panic: &'a str,
}

/// The panic message of a `model-assertion` violation with every run of digits as `#`: the
/// same assertion in a renumbered or resized scenario gives the same words (which task
/// stepped is left out: removing an actor renumbers it).
pub fn panic_words(violation: &Violation) -> String {
    let text = (violation.message.split_once("'s step panicked: "))
        .map_or(violation.message.as_str(), |(_, text)| text);
    let mut words = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '0'..='9' if words.ends_with('#') => {}
            '0'..='9' => words.push('#'),
            c => words.push(c),
        }
    }
    words
}

/// The first model assertion the search of `looping` meets within `max_states`, when it is
/// the one `target` keeps (its class and its panic's words).
pub fn asserts(
    looping: &Looping,
    target: Asserting<'_>,
    (max_states, stepper): (usize, Stepper),
) -> Option<Assertion> {
    let report = liveness::search_with(looping, max_states, stepper).ok()?;
    report
        .assertion
        .filter(|a| a.signature == *target.signature && panic_words(&a.violation) == target.panic)
}

/// Shrinks `looping` while its search still starves `target` (each candidate searched
/// within [`LASSO_CANDIDATE_STATES`] states); `None` when neither it nor any candidate does.
/// `watch` is told, after each candidate's search, how many were searched and how many kept
/// (for a progress line).
pub fn shrink_lasso(
    looping: &Looping,
    target: Starving<'_>,
    stepper: Stepper,
    watch: &mut dyn FnMut(usize, usize),
) -> Option<ShrunkLasso> {
    let search = (LASSO_CANDIDATE_STATES, stepper);
    let keeps = |candidate: &Looping, victim: Option<ActorId>| {
        let victim = victim?;
        starves(candidate, Starving { victim, ..target }, search)
    };
    let (looping, lasso) = shrink_while(looping, Some(target.victim), &keeps, watch)?;
    Some(ShrunkLasso { looping, lasso })
}

/// Shrinks `looping` while the first model assertion its search meets is still `target`'s
/// (each candidate searched within [`LASSO_CANDIDATE_STATES`] states); `None` when neither
/// it nor any candidate does. Any actor but the last may go. `watch` as for
/// [`shrink_lasso`].
pub fn shrink_assertion(
    looping: &Looping,
    target: Asserting<'_>,
    stepper: Stepper,
    watch: &mut dyn FnMut(usize, usize),
) -> Option<(Looping, Assertion)> {
    let search = (LASSO_CANDIDATE_STATES, stepper);
    let keeps = |candidate: &Looping, _: Option<ActorId>| asserts(candidate, target, search);
    shrink_while(looping, None, &keeps, watch)
}

/// The fixpoint of both shrinks: the first candidate of the best scenario so far that
/// `keeps` keeps becomes the best, until none does. `victim` is the actor no candidate
/// removes (renumbered with the candidates); `keeps` is asked of the scenario itself first.
fn shrink_while<F>(
    looping: &Looping,
    victim: Option<ActorId>,
    keeps: &dyn Fn(&Looping, Option<ActorId>) -> Option<F>,
    watch: &mut dyn FnMut(usize, usize),
) -> Option<(Looping, F)> {
    let (mut best, mut victim) = (looping.clone(), victim);
    let mut found = keeps(&best, victim);
    let (mut searched, mut kept) = (0, 0);
    'fixpoint: loop {
        for (candidate, v) in candidates(&best, victim) {
            let again = keeps(&candidate, v);
            searched += 1;
            kept += usize::from(again.is_some());
            watch(searched, kept);
            if let Some(again) = again {
                (best, victim, found) = (candidate, v, Some(again));
                continue 'fixpoint;
            }
        }
        break;
    }
    Some((best, found?))
}

/// Smaller looping scenarios, most shrinking first, each with the victim's number in it:
/// without an actor (never the victim, nor the last one), without an operation (an actor
/// keeps one), an actor that no longer repeats forever, a smaller length or offset.
fn candidates(looping: &Looping, victim: Option<ActorId>) -> Vec<(Looping, Option<ActorId>)> {
    let actors = looping.scenario.actors.len();
    let mut out = Vec::new();
    let goes = |a: usize| actors > 1 && victim.is_none_or(|v| a != usize::from(v));
    for a in (0..actors).rev().filter(|&a| goes(a)) {
        let mut l = looping.clone();
        l.scenario.actors.remove(a);
        l.forever.remove(a);
        let renumbered = victim.map(|v| v - ActorId::from(a < usize::from(v)));
        out.push((l, renumbered));
    }
    for a in 0..actors {
        let ops = looping.scenario.actors[a].len();
        for k in (0..ops).rev().filter(|_| ops > 1) {
            let mut l = looping.clone();
            l.scenario.actors[a].remove(k);
            out.push((l, victim));
        }
    }
    for a in (0..actors).filter(|&a| looping.forever[a]) {
        let mut l = looping.clone();
        l.forever[a] = false;
        out.push((l, victim));
    }
    for a in 0..actors {
        for k in 0..looping.scenario.actors[a].len() {
            let op = &looping.scenario.actors[a][k];
            for smaller in crate::shrink::smaller_ops(&looping.scenario, op) {
                let mut l = looping.clone();
                l.scenario.actors[a][k] = smaller;
                out.push((l, victim));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three actors, the victim a1 in the middle; a0 repeats forever.
    const SCENARIO: &str = "[[inodes]]\nino = 12\ni_size = 4096\n\n[[actors]]\nrepeat = \"forever\"\nops = [{ op = \"writeback\" }, { op = \"commit\" }]\n\n[[actors]]\nops = [{ op = \"write\", pos = 1024, len = 2048, direct = true, aio = true }]\n\n[[actors]]\nops = [{ op = \"commit\" }]\n";

    #[test]
    fn candidates_keep_the_victim_and_renumber_it() {
        let looping = crate::scenario_file::parse_looping(SCENARIO).expect("a scenario");
        let all = candidates(&looping, Some(1));
        // Without a2, then without a0 (the victim is never removed, and becomes a0).
        assert_eq!(all[0].0.scenario.actors.len(), 2);
        assert_eq!(
            (all[0].1, all[0].0.forever.clone()),
            (Some(1), vec![true, false])
        );
        assert_eq!(
            (all[1].1, all[1].0.forever.clone()),
            (Some(0), vec![false, false])
        );
        let victim_ops = |(l, v): &(Looping, Option<ActorId>)| {
            l.scenario.actors[usize::from(v.expect("a victim"))].len()
        };
        assert!(all.iter().all(|c| victim_ops(c) == 1), "its one op kept");
        // a0's two operations one at a time, its repeat, then the write's smaller forms.
        assert_eq!(all[2].0.scenario.actors[0].len(), 1);
        assert_eq!(all[3].0.scenario.actors[0].len(), 1);
        assert_eq!(all[4].0.forever, vec![false, false, false]);
        assert!(
            all[5..]
                .iter()
                .all(|(l, v)| *v == Some(1) && l.scenario.actors != looping.scenario.actors)
        );
        assert_eq!(
            all.len(),
            7,
            "a shorter write and a write at the block below"
        );
    }

    /// A punch hole shrinks as a write does: half its length (a multiple of the sector),
    /// and its offset down to the block boundary.
    #[test]
    fn a_punch_hole_is_shortened_and_moved_down() {
        let text = SCENARIO.replace(
            "ops = [{ op = \"commit\" }]",
            "ops = [{ op = \"punch_hole\", pos = 5120, len = 4096 }]",
        );
        let looping = crate::scenario_file::parse_looping(&text).expect("a scenario");
        let punches: Vec<(u64, u64)> = candidates(&looping, Some(1))
            .iter()
            .filter_map(|(l, _)| match l.scenario.actors.get(2)?.as_slice() {
                [model::ops::Op::PunchHole { pos, len, .. }] => Some((*pos, *len)),
                _ => None,
            })
            .filter(|&p| p != (5120, 4096))
            .collect();
        assert_eq!(punches, vec![(5120, 2048), (4096, 4096)]);
    }
}
