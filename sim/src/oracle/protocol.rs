//! The protocol oracles: locks, counters, the single direct-I/O decision, the size limits,
//! and where O_APPEND writes land.
//!
//! - `locks`: each writer's frame agrees with the owners of `i_mutex` and `aio_mutex`;
//!   `aio_mutex` is never taken under `i_mutex`; no operation returns holding a lock; a run
//!   where nothing can run and nobody sleeps on a wait queue is a deadlock; the step bound.
//! - `counter-consistency`: at quiescence `i_unwritten`, `i_dio_count`, `i_ioend_count` are 0
//!   and `i_data_sem` is free; a run that stops with a task asleep on a wait queue
//!   (`ext4_unwritten_wait`'s `ioend_wq`, `inode_dio_wait`) left a sleeper no one will wake.
//! - `single-dio-decision`: the direct/buffered choice, the `->direct_IO` path, the overwrite
//!   flag, `iocb->private` agree; and when a direct write's `get_block` flags a new unwritten
//!   mapping through `i_private`, `i_private` holds that write's own io_end (NULL for a
//!   synchronous one).
//! - `limits`: nothing at or past `s_maxbytes` (extent files) or `s_bitmap_maxbytes`
//!   (block-mapped files), both computed here again in 4.4's `loff_t` arithmetic, where
//!   `s_bitmap_maxbytes` is negative for 64 KiB blocks and for 32 KiB blocks without
//!   huge_file; no write range past its
//!   `RLIMIT_FSIZE`, LFS or size limit; SIGXFSZ only with `-EFBIG`.
//! - `append-placement`: an O_APPEND write gets past `generic_write_checks` holding `i_mutex`
//!   at the `i_size` of that moment; completed appends to one file never overlap unless a
//!   truncate or punch ran between them.
//! - `sleep-in-atomic`, `use-after-free`: the model reports, with the step, that it called
//!   a function that may sleep in bio-completion context, or used a freed object.
//! - `size-rules`, return clause: a write returning `n > 0` at `p` leaves `i_size >= p`
//!   unless a truncate or punch overlapped it.

use model::drive::End;
use model::exec::{Event, Pc, Task, Wait};
use model::include::fs::errno;
use model::ops::{DioPath, Frame, Op, OpResult, WriteFrame, WritePc};
use model::state::{Hazard, State};

use super::history::History;
use super::{Oracle, Violation, violation};

/// `ext4_max_size` (fs/ext4/super.c, 4.4) on a 64-bit kernel: 2^32 - 1 blocks, capped by
/// what `i_blocks` counts without huge_file.
pub fn s_maxbytes(blkbits: u32, huge_file: bool) -> i64 {
    let res = ((1i64 << 32) - 1) << blkbits;
    let upper = if huge_file {
        i64::MAX
    } else {
        (((1i64 << 32) - 1) >> (blkbits - 9)) << blkbits
    };
    res.min(upper)
}

/// `ext4_max_bitmap_size` (fs/ext4/super.c, 4.4) in `loff_t` arithmetic: the shift of the
/// `i_blocks` limit overflows for 64 KiB blocks, and for 32 KiB blocks without huge_file,
/// and the result goes negative.
pub fn s_bitmap_maxbytes(blkbits: u32, huge_file: bool) -> i64 {
    let per = |k: u32| 1i64 << (k * (blkbits - 2));
    let mut upper: i64 = if huge_file {
        (1 << 48) - 1
    } else {
        ((1i64 << 32) - 1) >> (blkbits - 9)
    };
    let meta = 1 + (1 + per(1)) + (1 + per(1) + per(2));
    upper = (upper - meta).wrapping_shl(blkbits);
    let res = (12 + per(1) + per(2) + per(3)).wrapping_shl(blkbits);
    res.min(upper)
}

fn size_limit(state: &State, inode: usize) -> i64 {
    let g = state.geometry;
    if state.inodes[inode].extents {
        s_maxbytes(g.blkbits, g.huge_file)
    } else {
        s_bitmap_maxbytes(g.blkbits, g.huge_file)
    }
}

/// Nothing of any inode lies at or past its size limit.
pub fn check_limits(state: &State) -> Result<(), Violation> {
    let g = state.geometry;
    for (i, ino) in state.inodes.iter().enumerate() {
        let limit = i128::from(size_limit(state, i));
        let block = i128::from(g.blocksize());
        let last_block_end = (limit + block - 1).div_euclid(block) * block;
        let beyond = ino
            .map
            .extents
            .iter()
            .any(|e| i128::from(e.end() << g.blkbits) > last_block_end);
        if (ino.i_size > 0 && i128::from(ino.i_size) > limit) || beyond {
            let msg = format!("inode {i} has data at or past its size limit {limit}");
            return violation(Oracle::Limits, Vec::new(), msg);
        }
    }
    Ok(())
}

/// A write just got past `generic_write_checks`: its range is within its limits, and an
/// O_APPEND write sits at `i_size` under `i_mutex`.
pub fn check_range(h: &History, state: &State, tag: u8) -> Result<(), Violation> {
    let w = h.write(tag);
    let (pos, end) = w.range.expect("just recorded");
    let actor = &state.actors[w.actor as usize];
    let Op::Write(op) = &actor.program[w.op] else {
        unreachable!("a write record names a write")
    };
    let lfs = if op.file.o_largefile {
        u64::MAX
    } else {
        model::limits::MAX_NON_LFS
    };
    let limit = size_limit(state, w.inode);
    if end > op.rlimit_fsize || end > lfs || i128::from(end) > i128::from(limit) {
        let msg = format!(
            "write {tag} at {pos} of {} bytes passes a limit (rlimit {}, size limit {limit})",
            end - pos,
            op.rlimit_fsize
        );
        return violation(Oracle::Limits, vec![w.actor], msg);
    }
    let ino = &state.inodes[w.inode];
    if w.append && (ino.i_mutex != Some(w.actor) || pos != ino.i_size) {
        let msg = format!(
            "O_APPEND write {tag} placed at {pos} while i_size is {} (i_mutex held by {})",
            ino.i_size,
            ino.i_mutex
                .map_or("nobody".to_string(), |a| format!("a{a}"))
        );
        return violation(Oracle::AppendPlacement, vec![w.actor], msg);
    }
    Ok(())
}

/// O_APPEND write `tag` completed: it overlaps no other completed append to its file
/// unless a truncate or punch of that file ran between them.
pub fn check_appends(h: &History, tag: u8) -> Result<(), Violation> {
    let w = h.write(tag);
    let Some((from, to)) = w.done.filter(|_| w.append) else {
        return Ok(());
    };
    for (other, o) in h.epoch_writes() {
        let Some((f, t)) = o
            .done
            .filter(|_| o.append && other != tag && o.inode == w.inode)
        else {
            continue;
        };
        let first = o.start.min(w.start).expect("started");
        let truncated = h
            .zero_makers
            .iter()
            .any(|m| m.inode == w.inode && !History::precedes(m.end, first));
        if f < to && from < t && !truncated {
            let msg =
                format!("O_APPEND writes {other} ({f}..{t}) and {tag} ({from}..{to}) overlap",);
            return violation(Oracle::AppendPlacement, vec![o.actor, w.actor], msg);
        }
    }
    Ok(())
}

/// A write returned: SIGXFSZ only with `-EFBIG`; `i_size` covers what it returned.
pub fn check_write_return(h: &History, state: &State, tag: u8) -> Result<(), Violation> {
    let w = h.write(tag);
    let OpResult::Write {
        ret,
        sigxfsz,
        ki_pos,
        ..
    } = state.actors[w.actor as usize].results[w.op]
    else {
        return Ok(());
    };
    if sigxfsz && ret != errno::EFBIG {
        let msg = format!("write {tag}: SIGXFSZ with ret={ret}, not -EFBIG");
        return violation(Oracle::Limits, vec![w.actor], msg);
    }
    let start = w.start.expect("started");
    let truncated = h
        .zero_makers
        .iter()
        .any(|m| m.inode == w.inode && m.from < ki_pos && !History::precedes(m.end, start));
    let size = state.inodes[w.inode].i_size;
    if ret > 0 && size < ki_pos && !truncated {
        let msg = format!("write {tag} returned {ret} at {ki_pos} but i_size={size}");
        return violation(Oracle::SizeRules, vec![w.actor], msg);
    }
    Ok(())
}

/// Mutual exclusion, lock order and the single DIO decision, on every step. The tests are
/// kept apart from the messages (`dio_decision_bad`, `lock_fault`; the messages in cold
/// functions), so the loop over the frames stays small.
pub fn check_frames(state: &State, event: &Event) -> Result<(), Violation> {
    for (a, actor) in state.actors.iter().enumerate() {
        let Frame::Write(f) = &actor.frame else {
            continue;
        };
        let a = a as u8;
        if dio_decision_bad(f, state) {
            return dio_decision_violation(a, f);
        }
        if event.task == Task::Actor(a) && event.pc == Pc::Write(WritePc::DioMapAlloc) {
            check_get_block_io_end(a, f, state)?;
        }
        if let Some(fault) = lock_fault(a, f, state) {
            return lock_violation(a, f, fault);
        }
    }
    Ok(())
}

/// How a writer's frame disagrees with the locks, in the order they are tested.
#[derive(Clone, Copy)]
enum LockFault {
    /// The frame's `i_mutex_held` is not whether it owns its inode's `i_mutex`.
    IMutex,
    /// It runs as the owner of `aio_mutex[bucket]` without owning it.
    AioMutex(u8),
    /// It takes `aio_mutex` holding `i_mutex`.
    Order,
}

/// The first way writer `a`'s frame `f` disagrees with the lock owners or the lock order.
fn lock_fault(a: u8, f: &WriteFrame, state: &State) -> Option<LockFault> {
    let holds = state.inodes[f.inode].i_mutex == Some(a);
    if holds != f.i_mutex_held {
        return Some(LockFault::IMutex);
    }
    if let Some(bucket) = f.aio_mutex
        && !matches!(f.pc, WritePc::Gate | WritePc::AioMutexLock)
        && state.aio_mutex.get(&bucket) != Some(&a)
    {
        return Some(LockFault::AioMutex(bucket));
    }
    if f.pc == WritePc::AioMutexLock && f.i_mutex_held {
        return Some(LockFault::Order);
    }
    None
}

/// The `locks` violation of `fault` by writer `a` at frame `f`.
#[cold]
#[inline(never)]
fn lock_violation(a: u8, f: &WriteFrame, fault: LockFault) -> Result<(), Violation> {
    let msg = match fault {
        LockFault::IMutex => format!("i_mutex owner disagrees with a{a}'s frame at {}", f.pc),
        LockFault::AioMutex(bucket) => {
            format!("a{a} runs as aio_mutex[{bucket}] owner without owning it")
        }
        LockFault::Order => "aio_mutex taken under i_mutex: lock order".to_string(),
    };
    violation(Oracle::Locks, vec![a], msg)
}

/// The layers disagree on direct or buffered, the path or `iocb->private`.
fn dio_decision_bad(f: &WriteFrame, state: &State) -> bool {
    let direct_step = f.path.is_some() || f.dio.is_some();
    let overwrite_path = f.path == Some(DioPath::ExtOverwrite);
    (direct_step && !f.iocb.ki_flags.direct)
        || (overwrite_path != f.overwrite && f.path.is_some() && f.path != Some(DioPath::Ind))
        || (f.overwrite
            && (f.aio_mutex.is_some() || f.unaligned_aio || !state.should_dioread_nolock(f.inode)))
        || (f.io_end.is_some() && f.iocb.is_sync_kiocb())
}

/// The `single-dio-decision` violation of writer `a` at frame `f` ([`dio_decision_bad`]).
#[cold]
#[inline(never)]
fn dio_decision_violation(a: u8, f: &WriteFrame) -> Result<(), Violation> {
    let msg = format!(
        "a{a} at {}: IOCB_DIRECT={} path={} overwrite={} io_end={}",
        f.pc,
        f.iocb.ki_flags.direct,
        f.path.map_or("none".to_string(), |p| p.to_string()),
        f.overwrite,
        model::state::io_end_name(f.io_end)
    );
    violation(Oracle::SingleDioDecision, vec![a], msg)
}

/// `ext4_ext_map_blocks`, for `ext4_ext_direct_IO`'s `get_block`, just made a new
/// (unwritten) mapping: the io_end it flagged, the one it read from `i_private`
/// (`ext4_inode_aio`) on entry, is the caller's own, or none for a synchronous direct write.
fn check_get_block_io_end(a: u8, f: &WriteFrame, state: &State) -> Result<(), Violation> {
    if f.path != Some(DioPath::Ext) || !f.last_new {
        return Ok(());
    }
    let private = f.gb_io;
    if private == f.io_end {
        return Ok(());
    }
    let owner = |io_end: Option<u16>| {
        io_end.and_then(|e| {
            let by = state
                .actors
                .iter()
                .position(|actor| matches!(&actor.frame, Frame::Write(g) if g.io_end == Some(e)));
            by.map(|b| (e, b as u8))
        })
    };
    let words = |io_end: Option<u16>| match (io_end, owner(io_end)) {
        (None, _) => "NULL".to_string(),
        (Some(e), Some((_, b))) => format!("io_end e{e} of a{b}"),
        (Some(e), None) => format!("io_end e{e}"),
    };
    let mut actors = vec![a];
    actors.extend(owner(private).map(|(_, b)| b));
    let msg = format!(
        "a{a}'s get_block mapped a new unwritten block with i_private = {}, not its own {}",
        words(private),
        words(f.io_end)
    );
    violation(Oracle::SingleDioDecision, actors, msg)
}

/// `sleep-in-atomic` and `use-after-free`: the step did something the kernel must never do
/// (the model reports it with the step, [`model::state::Hazard`]).
pub fn check_hazard(event: &Event) -> Result<(), Violation> {
    if event.hazard.is_none() {
        return Ok(());
    }
    let actors = match event.task {
        Task::Actor(a) => vec![a],
        _ => Vec::new(),
    };
    match &event.hazard {
        None => Ok(()),
        Some(Hazard::SleepInAtomic(what)) => violation(
            Oracle::SleepInAtomic,
            actors,
            format!("{}: {what}", event.task),
        ),
        Some(Hazard::UseAfterFree(what)) => violation(
            Oracle::UseAfterFree,
            actors,
            format!("{}: {what}", event.task),
        ),
    }
}

/// Actor `a` finished an operation holding no lock.
pub fn check_locks_released(state: &State, a: u8) -> Result<(), Violation> {
    let held_inode = state.inodes.iter().any(|i| i.i_mutex == Some(a));
    let held_aio = state.aio_mutex.values().any(|&owner| owner == a);
    if held_inode || held_aio {
        let msg = format!("a{a} finished an operation still holding a lock");
        return violation(Oracle::Locks, vec![a], msg);
    }
    Ok(())
}

/// How a run ended: stuck with a sleeper (`counter-consistency`), stuck on locks or the
/// step bound (`locks`).
pub fn check_end(state: &State, end: &End) -> Result<(), Violation> {
    match end {
        End::Stuck(waits) => {
            let who: Vec<String> = waits
                .iter()
                .map(|(t, w)| format!("{t} waits on {w}"))
                .collect();
            let actors = waits
                .iter()
                .filter_map(|(t, _)| match t {
                    Task::Actor(a) => Some(*a),
                    _ => None,
                })
                .collect();
            let sleeper = waits.iter().find_map(|(_, w)| match w {
                Wait::Asleep(sleep) => Some(*sleep),
                _ => None,
            });
            let (oracle, what) = match sleeper {
                Some(sleep) => (
                    Oracle::CounterConsistency,
                    format!("a sleeper is never woken ({})", counters(state, sleep)),
                ),
                None => (Oracle::Locks, "no task can run".to_string()),
            };
            violation(oracle, actors, format!("{what}: {}", who.join(", ")))
        }
        End::StepLimit => violation(
            Oracle::Locks,
            Vec::new(),
            "step bound reached: a task waits forever".into(),
        ),
        End::Done | End::Paused => Ok(()),
    }
}

fn counters(state: &State, sleep: model::state::Sleep) -> String {
    match sleep {
        model::state::Sleep::IoendWq(bucket) => {
            let inodes: Vec<String> = state
                .inodes
                .iter()
                .filter(|i| i.bucket() == bucket)
                .map(|i| format!("inode {} i_unwritten={}", i.ino, i.i_unwritten))
                .collect();
            format!("ioend_wq[{bucket}]: {}", inodes.join(", "))
        }
        model::state::Sleep::DioWait(i) => {
            format!(
                "inode_dio_wait: i_dio_count={}",
                state.inodes[i].i_dio_count
            )
        }
    }
}

/// At quiescence the counters are 0 and `i_data_sem` is free.
pub fn check_counters_at_rest(state: &State) -> Result<(), Violation> {
    for (i, ino) in state.inodes.iter().enumerate() {
        let counts = (ino.i_unwritten, ino.i_dio_count, ino.i_ioend_count);
        if counts != (0, 0, 0) || ino.i_data_sem.readers > 0 || ino.i_data_sem.writer {
            let msg = format!(
                "inode {i} at rest with i_unwritten={} i_dio_count={} i_ioend_count={}",
                counts.0, counts.1, counts.2
            );
            return violation(Oracle::CounterConsistency, Vec::new(), msg);
        }
    }
    Ok(())
}
