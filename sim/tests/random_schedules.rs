//! Smoke test of the model under many interleavings: every example scenario, run under
//! seeded random schedules (one ChaCha8 stream per seed), must never break the model's
//! internal assertions and must end with every actor finished. A violation prints the seed
//! and the schedule that replays it with `writeiter run FILE --schedule ... --exact`. Each
//! file of `examples/` is a test of its own (`examples::bio-errors`, …; libtest-mimic).

use libtest_mimic::{Arguments, Trial};
use model::drive::{End, ending};
use model::exec::{self, Task};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Schedules per example file.
const SCHEDULES: u64 = 2_000;

fn random_run(file: &str, seed: u64) -> (Vec<Task>, End) {
    // An actor that repeats forever (a liveness example) runs its program once here.
    let looping = sim::scenario_file::load_looping(std::path::Path::new(file));
    let scenario = looping.expect("example loads").scenario;
    let mut state = scenario.build().expect("example builds");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut schedule = Vec::new();
    loop {
        let runnable = exec::runnable(&state);
        if runnable.is_empty() || schedule.len() >= model::limits::STEPS_MAX {
            return (schedule, ending(&state));
        }
        let task = runnable[rng.random_range(0..runnable.len())];
        schedule.push(task);
        let replay = || {
            schedule
                .iter()
                .map(Task::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            exec::step(&mut state, task)
        }));
        match step {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!(
                "seed {seed}: runnable task refused: {e}\nreplay: --schedule \"{}\"",
                replay()
            ),
            Err(_) => panic!(
                "seed {seed}: model assertion failed\nreplay: writeiter run {file} --schedule \"{}\" --exact",
                replay()
            ),
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root)
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let count = files.len();
    let mut trials = vec![Trial::test("examples::there_are_examples", move || {
        assert!(count > 0, "examples/ holds scenario files");
        Ok(())
    })];
    trials.extend(files.into_iter().map(|path| {
        let stem = path.file_stem().expect("a file").to_string_lossy();
        Trial::test(format!("examples::{stem}"), move || {
            survives_random_schedules(&path.display().to_string());
            Ok(())
        })
    }));
    libtest_mimic::run(&args, trials).exit();
}

/// `SCHEDULES` random schedules of the example `file`, seeds 0, 1, …, each to its end.
fn survives_random_schedules(file: &str) {
    for seed in 0..SCHEDULES {
        let (schedule, end) = random_run(file, seed);
        assert_eq!(
            end,
            End::Done,
            "{file} seed {seed}: {} steps",
            schedule.len()
        );
    }
}
