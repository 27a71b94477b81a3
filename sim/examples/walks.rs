//! A driver for instruction counts (`valgrind --tool=callgrind`): `N` random walks of
//! `examples/canonical.toml` with every oracle on, as `writeiter bench --json`'s sim random
//! row runs them (seeds from `bench::BENCH_SEED`). Prints the steps taken. Run from the
//! repository root: `cargo run --release -p sim --example walks -- 2000`.

use std::path::Path;

use sim::bench::{BENCH_SEED, CANONICAL_SCENARIO};
use sim::engine::{RandomWalk, execute};

/// Walks when no count is given.
const DEFAULT_WALKS: u64 = 2_000;

fn main() {
    let walks = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("a number of walks"))
        .unwrap_or(DEFAULT_WALKS);
    let scenario = sim::scenario_file::load(Path::new(CANONICAL_SCENARIO)).expect("the scenario");
    let initial = scenario.build().expect("it builds");
    let steps: usize = (0..walks)
        .map(|s| {
            let mut walk = RandomWalk::new(BENCH_SEED.wrapping_add(s));
            execute(&initial, &mut walk, model::exec::step_with, false)
                .schedule
                .len()
        })
        .sum();
    println!("{walks} walks, {steps} steps");
}
