//! kernel/: wait queues (kernel/sched/wait.c) and the workqueues (kernel/workqueue.c).

pub mod sched;
pub mod workqueue;
