//! The frame checks (`protocol::check_frames`) on planted lock owners: on the passing states
//! of [`WALK_SEEDS`] random walks of `canonical.toml`, giving a writer's inode's `i_mutex` to
//! it when its frame does not hold it (or taking it away when it does) breaks `locks` with
//! the message naming that writer and its frame's pc. The model itself never lets a frame
//! disagree with the owners, so without a plant no walk reaches this path.

mod common;

use model::ops::Frame;
use sim::oracle::Oracle;
use sim::oracle::protocol::check_frames;

/// Random-walk seeds of `canonical.toml`.
const WALK_SEEDS: u64 = 20;
/// Steps per walk at most.
const WALK_STEPS_MAX: usize = 400;

#[test]
fn a_frame_disagreeing_with_i_mutex_breaks_locks() {
    let initial = common::canonical_state();
    let mut planted = 0;
    for seed in 0..WALK_SEEDS {
        common::each_passing_state(&initial, (seed, WALK_STEPS_MAX), &mut |_, state| {
            let event = model::exec::Event {
                task: model::exec::Task::Actor(u8::MAX),
                pc: model::exec::Pc::Write(model::ops::WritePc::Gate),
                step: String::new(),
                hazard: None,
                notes: Vec::new(),
                touched: model::mark::Touched::ALL,
            };
            assert_eq!(check_frames(state, &event), Ok(()));
            let writer =
                state
                    .actors
                    .iter()
                    .enumerate()
                    .find_map(|(a, actor)| match &actor.frame {
                        Frame::Write(f) => Some((a as u8, f.inode, f.i_mutex_held, f.pc)),
                        _ => None,
                    });
            let Some((a, inode, held, pc)) = writer else {
                return;
            };
            let mut wrong = state.clone();
            wrong.inodes[inode].i_mutex = if held { None } else { Some(a) };
            let v = check_frames(&wrong, &event).expect_err("locks breaks");
            assert_eq!(v.oracle, Oracle::Locks);
            assert_eq!(v.actors, vec![a]);
            assert_eq!(
                v.message,
                format!("i_mutex owner disagrees with a{a}'s frame at {pc}")
            );
            planted += 1;
        });
    }
    assert!(planted > 500, "{planted} planted states");
}
