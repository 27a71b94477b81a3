//! `Touched::actors`, the iterator over a change mark's actor bits that the history's
//! bookkeeping walks instead of testing every actor, against its simple twin: every actor
//! index filtered by `Touched::actor`. Every subset of the first `ACTORS_MAX` actors with
//! every other part of the mark set, the empty and the full mark, and actor counts from
//! none to past the limit (whose extra actors always count as touched).

use model::limits::ACTORS_MAX;
use model::mark::Touched;
use model::state::ActorId;

/// Actor counts past `ACTORS_MAX` tried.
const EXTRA_ACTORS: usize = 3;

/// The mark with exactly the actors of `subset` (a bit each) among its actor parts and
/// every other part set (the parts the iterator must not mistake for actors).
fn mark(subset: u32) -> Touched {
    let mut t = Touched::ALL.only_actor_for_tests(None);
    for a in (0..ACTORS_MAX).filter(|a| subset & (1 << a) != 0) {
        t = t.union(Touched::ALL.only_actor_for_tests(Some(a as ActorId)));
    }
    t
}

/// The simple twin: each actor tested in turn.
fn simple(t: Touched, count: usize) -> Vec<ActorId> {
    (0..count)
        .map(|a| a as ActorId)
        .filter(|&a| t.actor(a))
        .collect()
}

#[test]
fn touched_actors_match_testing_each_actor() {
    let marks = (0..(1u32 << ACTORS_MAX)).map(mark);
    let mut checked = 0;
    for t in marks.chain([Touched::default(), Touched::ALL]) {
        for count in 0..=ACTORS_MAX + EXTRA_ACTORS {
            let fast: Vec<ActorId> = t.actors(count).collect();
            assert_eq!(fast, simple(t, count), "mark {t:?}, {count} actors");
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        ((1 << ACTORS_MAX) + 2) * (ACTORS_MAX + EXTRA_ACTORS + 1)
    );
}
