//! The frame checks (`protocol::check_frames`) on planted lock owners and frames: on the
//! passing states of [`WALK_SEEDS`] random walks of `canonical.toml`, each way a writer's frame
//! can disagree with the locks or with its direct-I/O decision is planted in turn, and the
//! check must report that fault, for that writer, with its message. The model itself never
//! lets a frame disagree with the owners, so without a plant no walk reaches these paths.

mod common;

use model::ops::{Frame, WriteFrame, WritePc};
use model::state::State;
use sim::oracle::Oracle;
use sim::oracle::protocol::check_frames;

/// Random-walk seeds of `canonical.toml`.
const WALK_SEEDS: u64 = 20;
/// Steps per walk at most.
const WALK_STEPS_MAX: usize = 400;
/// Planted states of each kind at least (each kind's count is checked).
const PLANTED_MIN: usize = 100;

/// An event of no actor at a pc no check keys on, so only the frames are judged.
fn neutral_event() -> model::exec::Event {
    model::exec::Event {
        task: model::exec::Task::Actor(u8::MAX),
        pc: model::exec::Pc::Write(WritePc::Gate),
        step: String::new(),
        hazard: None,
        notes: Vec::new(),
        touched: model::mark::Touched::ALL,
    }
}

/// Writer `a`'s frame in `state`.
fn frame(state: &mut State, a: u8) -> &mut WriteFrame {
    match &mut state.actors[usize::from(a)].frame {
        Frame::Write(f) => f,
        _ => unreachable!("a writer"),
    }
}

/// The `locks` or `single-dio-decision` violation `check_frames` must report on `wrong`.
fn expect(wrong: &State, oracle: Oracle, a: u8, message: String) {
    let v = check_frames(wrong, &neutral_event()).expect_err("a planted fault breaks");
    assert_eq!((v.oracle, v.actors, v.message), (oracle, vec![a], message));
}

/// Plants every fault writer `a` of `state` admits, checks each, and counts them in `n`
/// (i_mutex, aio_mutex, order, dio decision, i_mutex before aio_mutex).
fn plant_all(state: &State, a: u8, n: &mut [usize; 5]) {
    let f = match &state.actors[usize::from(a)].frame {
        Frame::Write(f) => f.clone(),
        _ => return,
    };
    let owner = state.inodes[f.inode].i_mutex;
    // Flipping whether `a` owns `i_mutex`, unless that takes it from another writer (whose
    // frame, checked first when it comes first, would then disagree too).
    let flip = (f.i_mutex_held || owner.is_none()).then(|| {
        let mut wrong = state.clone();
        wrong.inodes[f.inode].i_mutex = if f.i_mutex_held { None } else { Some(a) };
        wrong
    });
    let i_mutex_message = format!("i_mutex owner disagrees with a{a}'s frame at {}", f.pc);
    if let Some(wrong) = &flip {
        expect(wrong, Oracle::Locks, a, i_mutex_message.clone());
        n[0] += 1;
    }
    let runs_as_owner = !matches!(f.pc, WritePc::Gate | WritePc::AioMutexLock);
    if let Some(bucket) = f.aio_mutex.filter(|_| runs_as_owner) {
        let mut wrong = state.clone();
        wrong.aio_mutex.remove(&bucket);
        let message = format!("a{a} runs as aio_mutex[{bucket}] owner without owning it");
        expect(&wrong, Oracle::Locks, a, message);
        n[1] += 1;
        // Both at once: the i_mutex fault is tested first.
        if let Some(mut both) = flip {
            both.aio_mutex.remove(&bucket);
            expect(&both, Oracle::Locks, a, i_mutex_message);
            n[4] += 1;
        }
    }
    if owner.is_none_or(|o| o == a) {
        let mut wrong = state.clone();
        wrong.inodes[f.inode].i_mutex = Some(a);
        let g = frame(&mut wrong, a);
        (g.pc, g.i_mutex_held) = (WritePc::AioMutexLock, true);
        let message = "aio_mutex taken under i_mutex: lock order".to_string();
        expect(&wrong, Oracle::Locks, a, message);
        n[2] += 1;
    }
    if let Some(path) = f.path {
        let mut wrong = state.clone();
        frame(&mut wrong, a).iocb.ki_flags.direct = false;
        let message = format!(
            "a{a} at {}: IOCB_DIRECT=false path={path} overwrite={} io_end={}",
            f.pc,
            f.overwrite,
            model::state::io_end_name(f.io_end)
        );
        expect(&wrong, Oracle::SingleDioDecision, a, message);
        n[3] += 1;
    }
}

#[test]
fn each_frame_fault_breaks_with_its_message() {
    let initial = common::canonical_state();
    let mut planted = [0; 5];
    for seed in 0..WALK_SEEDS {
        common::each_passing_state(&initial, (seed, WALK_STEPS_MAX), &mut |_, state| {
            assert_eq!(check_frames(state, &neutral_event()), Ok(()));
            for a in 0..state.actors.len() as u8 {
                plant_all(state, a, &mut planted);
            }
        });
    }
    assert!(
        planted.iter().all(|&n| n >= PLANTED_MIN),
        "planted states of each kind (i_mutex, aio_mutex, order, dio decision, both): {planted:?}"
    );
}
