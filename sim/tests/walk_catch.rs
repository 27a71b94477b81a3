//! [`engine::execute`] catches panics once per execution, not once per step: a panic inside a
//! step is still the `model-assertion` finding of that step, exactly as the per-step catch
//! of [`engine::apply`] (which [`engine::replay`] uses) reports it; a panic outside a step
//! (a chooser's) is not the model's and goes on. And the model's own step, which the walk
//! runs without asking again what the chosen task waits for ([`exec::step_listed`]), against
//! the same step through any other stepper (which asks): the same executions.

mod common;

use model::exec::{self, Event, StepError, Task, Trace};
use model::state::State;
use sim::engine::{self, Chooser, Pct, RandomWalk};

/// Random-walk seeds per scenario.
const SEEDS: u64 = 300;

/// `step_with`, panicking inside a bio's completion once the bio is done (after the model
/// changed the state, as a model assertion does).
fn panics_in_bio_completion(
    state: &mut State,
    task: Task,
    trace: Trace,
) -> Result<Event, StepError> {
    let event = exec::step_with(state, task, trace)?;
    assert!(!matches!(task, Task::Bio(_)), "planted panic after {task}");
    Ok(event)
}

#[test]
fn a_step_panic_is_the_model_assertion_of_that_step_as_per_step_catching_reports_it() {
    let mut found = 0;
    for (path, initial, _) in common::examples_and_corpus() {
        for seed in 0..SEEDS {
            let run = engine::execute(
                &initial,
                &mut RandomWalk::new(seed),
                panics_in_bio_completion,
                false,
            );
            let Some(violation) = &run.violation else {
                continue;
            };
            let replayed = engine::replay(&initial, &run.schedule, panics_in_bio_completion)
                .expect("the schedule applies");
            let what = format!("{} seed {seed}", path.display());
            assert_eq!(Some(violation), replayed.violation.as_ref(), "{what}");
            assert_eq!(run.schedule, replayed.schedule, "{what}");
            assert_eq!(
                (&run.end, &run.state),
                (&replayed.end, &replayed.state),
                "{what}"
            );
            if violation.oracle == sim::oracle::Oracle::ModelAssertion {
                let last = run.schedule.last().expect("a step ran");
                assert!(matches!(last, Task::Bio(_)), "{what}: {last}");
                let expected = format!("{last}'s step panicked: planted panic after {last}");
                assert_eq!(violation.message, expected, "{what}");
                found += 1;
            }
        }
    }
    assert!(found > 1_000, "{found} planted panics found");
}

/// Panics at its third choice.
struct GivesUp(usize);

impl Chooser for GivesUp {
    fn choose(&mut self, _state: &State, runnable: &[Task]) -> Task {
        self.0 += 1;
        assert!(self.0 < 3, "the chooser gives up");
        runnable[0]
    }
}

#[test]
#[should_panic(expected = "the chooser gives up")]
fn a_panic_outside_a_step_is_not_a_finding() {
    let (_, initial, _) = common::examples_and_corpus().swap_remove(0);
    engine::execute(&initial, &mut GivesUp(0), exec::step_with, false);
}

/// A chooser of a seed.
type NewChooser = fn(u64) -> Box<dyn Chooser>;

/// [`exec::step_with`] under another address: the walk runs it as a stepper like any other,
/// asking what each chosen task waits for.
fn step_with_asking(state: &mut State, task: Task, trace: Trace) -> Result<Event, StepError> {
    exec::step_with(state, task, trace)
}

#[test]
fn walks_stepping_listed_tasks_match_walks_asking_each_wait() {
    // The two must be told apart by address, or both walks would take the short way.
    let (asking, listed): (engine::Stepper, engine::Stepper) = (step_with_asking, exec::step_with);
    assert!(!std::ptr::fn_addr_eq(asking, listed), "one address");
    let mut steps = 0;
    for (path, initial, _) in common::examples_and_corpus() {
        for seed in 0..SEEDS {
            let choosers: [(&str, NewChooser); 2] = [
                ("random", |seed| Box::new(RandomWalk::new(seed))),
                ("pct", |seed| Box::new(Pct::new(seed, 3))),
            ];
            for (name, chooser) in choosers {
                let listed = engine::execute(&initial, &mut *chooser(seed), exec::step_with, true);
                let asking = engine::execute(&initial, &mut *chooser(seed), step_with_asking, true);
                let what = format!("{} {name} seed {seed}", path.display());
                assert_eq!(listed.schedule, asking.schedule, "{what}");
                assert_eq!(listed.trace, asking.trace, "{what}");
                assert_eq!(listed.violation, asking.violation, "{what}");
                assert_eq!(
                    (&listed.end, &listed.state),
                    (&asking.end, &asking.state),
                    "{what}"
                );
                steps += listed.schedule.len();
            }
        }
    }
    assert!(steps > 100_000, "{steps} steps compared");
}
