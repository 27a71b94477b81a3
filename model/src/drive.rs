//! The sequential driver: runs a state under a schedule (a sequence of tasks) and returns
//! the trace. A schedule that names a blocked, finished or absent task is an error that
//! says what the task waits for, not a panic.

use crate::exec::{self, Event, StepError, Task};
use crate::limits::STEPS_MAX;
use crate::state::{State, Wait};

/// A finished run: the applied steps and how it ended.
#[derive(Clone, Debug)]
pub struct Run {
    /// The steps, in order.
    pub trace: Vec<Event>,
    /// How it ended.
    pub end: End,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// Every actor finished, no I/O in flight, no work queued.
    Done,
    /// Nothing can run but something is unfinished: each stuck task and what it waits on.
    Stuck(Vec<(Task, Wait)>),
    /// `STEPS_MAX` steps were taken without finishing.
    StepLimit,
    /// The schedule ended while tasks could still run.
    Paused,
}

/// A schedule step that could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// Index in the schedule.
    pub index: usize,
    /// Why.
    pub error: StepError,
}

impl std::fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "schedule step {}: {}", self.index, self.error)
    }
}

/// Applies `schedule` exactly, then (with `finish`) keeps taking the first runnable task
/// until nothing can run.
pub fn run(state: &mut State, schedule: &[Task], finish: bool) -> Result<Run, ScheduleError> {
    let mut trace = Vec::new();
    for (index, &task) in schedule.iter().enumerate() {
        let event = exec::step(state, task).map_err(|error| ScheduleError { index, error })?;
        trace.push(event);
    }
    if finish {
        while let Some(&task) = exec::runnable(state).first() {
            if trace.len() >= STEPS_MAX {
                return Ok(Run {
                    trace,
                    end: End::StepLimit,
                });
            }
            trace.push(exec::step(state, task).expect("a runnable task steps"));
        }
    }
    Ok(Run {
        trace,
        end: ending(state),
    })
}

/// How the state stands: done, stuck (with who waits on what), or still runnable.
pub fn ending(state: &State) -> End {
    if exec::all_done(state) {
        return End::Done;
    }
    if !exec::runnable(state).is_empty() {
        return End::Paused;
    }
    let stuck = exec::tasks(state)
        .filter_map(|t| match exec::task_wait(state, t) {
            Ok(Some(Wait::Finished)) => None,
            Ok(Some(wait)) => Some((t, wait)),
            _ => None,
        })
        .collect();
    End::Stuck(stuck)
}

/// Parses a schedule written as tasks separated by spaces or commas: `a0 a1 b3 w5`.
pub fn parse_schedule(text: &str) -> Result<Vec<Task>, String> {
    text.split([' ', ',', '\n', '\t'])
        .filter(|t| !t.is_empty())
        .map(str::parse)
        .collect()
}
