//! PCT (Burckhardt et al.) gives a task a random priority when it first appears, as its own
//! definition does for new threads: so a bio created by a writer's step sometimes runs at
//! once and sometimes stays in flight while the other actors run, without a change point.

use std::path::Path;

use model::exec::Task;
use model::state::State;
use sim::engine::{self, Chooser, Pct};

/// PCT executions of the canonical scenario measured.
const SEEDS: u64 = 2_000;

/// Wraps PCT and counts, at each step where a bio first became runnable, whether PCT ran
/// that bio at once.
struct Watch {
    pct: Pct,
    seen: Vec<Task>,
    at_once: u64,
    later: u64,
}

impl Chooser for Watch {
    fn choose(&mut self, state: &State, runnable: &[Task]) -> Task {
        let fresh: Vec<Task> = runnable
            .iter()
            .copied()
            .filter(|t| matches!(t, Task::Bio(_)) && !self.seen.contains(t))
            .collect();
        let task = self.pct.choose(state, runnable);
        let others = runnable.iter().any(|t| matches!(t, Task::Actor(_)));
        if !fresh.is_empty() && others {
            let ran = matches!(task, Task::Bio(_) | Task::BioError(_));
            *if ran {
                &mut self.at_once
            } else {
                &mut self.later
            } += 1;
        }
        self.seen.extend(fresh);
        task
    }
}

#[test]
fn a_new_bio_gets_a_random_priority_not_a_high_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/canonical.toml");
    let scenario = sim::scenario_file::load(Path::new(path)).expect("loads");
    let initial = scenario.build().expect("builds");
    let (mut at_once, mut later) = (0, 0);
    for seed in 0..SEEDS {
        let mut watch = Watch {
            pct: Pct::new(seed, sim::hunt::PCT_DEPTH),
            seen: Vec::new(),
            at_once: 0,
            later: 0,
        };
        engine::execute(&initial, &mut watch, model::exec::step_with, false);
        at_once += watch.at_once;
        later += watch.later;
    }
    // A high priority for every new bio would make `later` zero (it could then stay in flight
    // only past a change point); a random one leaves it in flight about half the time.
    let total = at_once + later;
    assert!(
        total >= SEEDS,
        "the canonical scenario creates bios: {total}"
    );
    assert!(
        later * 4 > total && at_once * 4 > total,
        "a new bio ran at once {at_once} times and later {later} times"
    );
}
