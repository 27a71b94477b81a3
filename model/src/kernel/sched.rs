//! kernel/sched/: wait queues.

pub mod wait;
