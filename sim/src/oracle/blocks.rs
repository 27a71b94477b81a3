//! `block-freeing-exclusion`: the blocks freed by `ext4_truncate`, by a failed write's
//! `ext4_truncate_failed_write`, by punch hole or by orphan cleanup, and the blocks those
//! rewrite through the page cache (`ext4_block_truncate_page`, `ext4_zero_partial_blocks`),
//! never meet I/O still in flight:
//!
//! - every block an in-flight bio targets stays mapped, at the logical block of the same
//!   inode it was mapped at when the observer first saw the bio (every block of the bio, so
//!   a block freed, or freed and reused elsewhere, is caught);
//! - every block in the range of a pending conversion (a flagged io_end whose range is
//!   known) stays mapped where it was: a conversion must not land on a freed or reused block;
//! - a truncate, a punch or a failed write's truncate never dirties a block under an
//!   in-flight direct I/O bio: the page it dirtied was read before the bio's data landed, and
//!   writeback would write it over that data. (A writeback bio under such a block is not a
//!   conflict: the page is its source, and the page is what writeback writes again.)

use model::exec::{Event, Pc, Task};
use model::mark::Touched;
use model::ops::{Op, WritePc};
use model::state::{Data, InodeIx, State};

use super::history::{History, block_dirty};
use super::{Oracle, Violation, violation};

/// Whether what [`check_in_flight`] reads may have changed since the last step, which passed
/// it: the bios the history records (`bios`: some came or went), its pending conversions
/// (recorded from the io_ends), or some inode's block map (the mark's parts). The rest it
/// reads (the free blocks, other inodes' maps) only words a violation. An observer new,
/// cloned or used after a violation takes everything for touched, as
/// [`super::Checking::Every`] does: then the check always runs.
pub fn in_flight_inputs_changed(state: &State, touched: Touched, bios: bool) -> bool {
    bios || touched.io_ends() || (0..state.inodes.len()).any(|ix| touched.map(ix))
}

/// Blocks under in-flight bios and pending conversions are still mapped where they were.
pub fn check_in_flight(h: &History, state: &State) -> Result<(), Violation> {
    for (id, bio) in &h.bios {
        let what = || bio_words(bio.sectors.first().map(|s| s.1), bio.dio);
        for &(lblk, pblk) in &bio.blocks {
            let Some(lblk) = lblk else {
                let msg = format!(
                    "bio b{id} ({}) of inode {} targets block p{pblk}, which the inode did not map",
                    what(),
                    bio.inode
                );
                return violation(Oracle::BlockFreeingExclusion, Vec::new(), msg);
            };
            if let Some(now) = moved(state, bio.inode, lblk, pblk) {
                let msg = format!(
                    "bio b{id} ({}) targets block {lblk} (p{pblk}) of inode {}, {now}",
                    what(),
                    bio.inode
                );
                return violation(Oracle::BlockFreeingExclusion, Vec::new(), msg);
            }
        }
    }
    for (id, conversion) in &h.conversions {
        for &(lblk, pblk) in &conversion.blocks {
            if let Some(now) = moved(state, conversion.inode, lblk, pblk) {
                let msg = format!(
                    "the pending conversion of io_end e{id} covers block {lblk} (p{pblk}) of inode {}, {now}",
                    conversion.inode
                );
                return violation(Oracle::BlockFreeingExclusion, Vec::new(), msg);
            }
        }
    }
    Ok(())
}

/// How block `lblk` of `inode`, which mapped `pblk`, stands now, if it moved.
fn moved(state: &State, inode: InodeIx, lblk: u64, pblk: u32) -> Option<String> {
    match state.inodes[inode].map.pblk(lblk) {
        Some((p, _)) if p == pblk => None,
        Some((p, _)) => Some(format!("which now maps p{p}: p{pblk} was freed")),
        None if state.disk.free[pblk as usize] => {
            Some(format!("which was freed (p{pblk} is free for allocation)"))
        }
        None => {
            let owner = state.inodes.iter().enumerate().find_map(|(i, ino)| {
                ino.map
                    .extents
                    .iter()
                    .find(|e| e.pblk <= pblk && u64::from(pblk - e.pblk) < e.len)
                    .map(|e| (i, e.lblk + u64::from(pblk - e.pblk)))
            });
            Some(match owner {
                Some((i, l)) => {
                    format!("which was freed; p{pblk} now holds block {l} of inode {i}")
                }
                None => format!("which was freed (p{pblk} waits for the commit)"),
            })
        }
    }
}

/// A truncate, a punch or a failed write's truncate ran in this step and dirtied a block
/// under a direct I/O bio that was in flight before the step and still is.
pub fn check_rewrites(h: &History, state: &State, event: &Event) -> Result<(), Violation> {
    let Task::Actor(a) = event.task else {
        return Ok(());
    };
    if !h.bios.values().any(|b| b.dio) {
        return Ok(());
    }
    let who = match (h.op_of_step(state, a), event.pc) {
        (Op::Truncate { .. }, _) => "truncate (ext4_block_truncate_page)",
        (Op::PunchHole { .. }, _) => "punch hole (ext4_zero_partial_blocks)",
        (Op::Write(_), Pc::Write(WritePc::IndEnd)) => "failed write (ext4_truncate_failed_write)",
        _ => return Ok(()),
    };
    for (id, bio) in h
        .bios
        .iter()
        .filter(|(id, b)| b.dio && state.bios.contains_key(id))
    {
        for &(lblk, pblk) in &bio.blocks {
            let Some(lblk) = lblk else { continue };
            let before = h.dirty_under_dio.contains(&(bio.inode, lblk));
            if !before && block_dirty(state, bio.inode, lblk) {
                let what = bio_words(bio.sectors.first().map(|s| s.1), true);
                let msg = format!(
                    "a{a}'s {who} dirtied block {lblk} (p{pblk}) of inode {} while bio b{id} ({what}) was in flight: writeback will write the page it read over the bio's data",
                    bio.inode
                );
                let mut actors = vec![a];
                actors.extend(writer_of(h, bio.sectors.iter().map(|s| s.1)));
                return violation(Oracle::BlockFreeingExclusion, actors, msg);
            }
        }
    }
    Ok(())
}

fn bio_words(first: Option<Data>, dio: bool) -> String {
    match (first, dio) {
        (Some(Data::Write(t)), true) => format!("direct I/O data of write {t}"),
        (Some(Data::Zero), true) => "dio_zero_block zeros".to_string(),
        (_, true) => "direct I/O".to_string(),
        (_, false) => "writeback".to_string(),
    }
}

fn writer_of(h: &History, data: impl Iterator<Item = Data>) -> Option<u8> {
    data.into_iter().find_map(|d| match d {
        Data::Write(t) => Some(h.write(t).actor),
        _ => None,
    })
}
