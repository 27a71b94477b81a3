//! What a sync and a crash keep.
//!
//! - `durability`: when an O_SYNC/O_DSYNC (or `IS_SYNC`) write returns `n > 0`, or its AIO
//!   event arrives with `n > 0`, a crash at that moment keeps its range `[final - n, final)`:
//!   the committed block map maps it written, the committed `i_disksize` covers it, and the
//!   disk holds its data there, or the data of a write, or the zeros of a truncate or punch,
//!   that this write did not precede.
//! - `size-rules`, crash clause: after a commit and a crash, the recovered size covers every
//!   sector of a direct write that completed before that commit and whose data survived.

use model::fs::ext4::extents::ExtentState;
use model::state::{Data, State};

use super::contents::{describe, visible};
use super::history::History;
use super::{Oracle, Violation, violation};

/// A crash now: what sector `offset` of `inode` would read after journal replay.
fn after_crash(state: &State, inode: usize, offset: u64) -> Data {
    let g = state.geometry;
    let committed = &state.inodes[inode].committed;
    match committed.map.pblk(offset >> g.blkbits) {
        Some((pblk, ExtentState::Written)) if offset < committed.i_disksize => {
            state.disk.sectors[state.psector(pblk, offset) as usize]
        }
        _ => Data::Zero,
    }
}

/// `durability` for sync write `tag`, which just completed.
pub fn check_durable(h: &History, state: &State, tag: u8) -> Result<(), Violation> {
    let w = h.write(tag);
    let (from, to) = w.done.expect("completed with bytes");
    let start = w.start.expect("started");
    let sector = state.geometry.sectorsize();
    for offset in (from & !(sector - 1)..to).step_by(sector as usize) {
        let survives = after_crash(state, w.inode, offset);
        let unordered_write = |t: u8| {
            let o = h.write(t);
            o.start.is_some() && !History::precedes(o.completed, start)
        };
        let unordered_remover = h.zero_makers.iter().any(|m| {
            m.inode == w.inode
                && m.from <= offset
                && offset < m.to
                && !History::precedes(m.end, start)
        });
        let ok = survives == Data::Write(tag)
            || matches!(survives, Data::Write(t) if unordered_write(t))
            || unordered_remover;
        if !ok {
            let committed = &state.inodes[w.inode].committed;
            let msg = format!(
                "sync write {tag} completed, but a crash now leaves {} at {offset} (committed i_disksize {})",
                describe(survives),
                committed.i_disksize
            );
            return violation(Oracle::Durability, vec![w.actor], msg);
        }
    }
    Ok(())
}

/// `size-rules` right after a crash (`state` is the recovered state): a direct write whose
/// transaction (the one running when it completed) was committed, and whose data survived (through the page cache, which
/// orphan cleanup may have zeroed) with no truncate or punch after it, is inside the
/// recovered size: that commit had its blocks, so it must have had the size covering them.
pub fn check_crash(h: &History, state: &State) -> Result<(), Violation> {
    let sector = state.geometry.sectorsize();
    for (tag, w) in h.epoch_writes().filter(|(_, w)| w.direct) {
        let Some((from, to)) = w.done.filter(|_| h.tid >= w.completed_tid) else {
            continue;
        };
        let start = w.start.expect("started");
        let i_size = state.inodes[w.inode].i_size;
        let removed_later = |offset: u64| {
            h.zero_makers.iter().any(|m| {
                m.inode == w.inode
                    && m.from <= offset
                    && offset < m.to
                    && !History::precedes(m.end, start)
            })
        };
        for offset in (from & !(sector - 1)..to).step_by(sector as usize) {
            let survived = visible(state, w.inode, offset) == Data::Write(tag);
            if offset >= i_size && survived && !removed_later(offset) {
                let msg = format!(
                    "direct write {tag} completed before the last commit and its data survived the crash at {offset}, but the recovered i_size is {i_size}"
                );
                return violation(Oracle::SizeRules, vec![w.actor], msg);
            }
        }
    }
    Ok(())
}
