//! Text for people: the trace one line per step, the final state, what a run ended on.

use model::drive::End;
use model::exec::Event;
use model::ops::OpResult;
use model::state::{Data, State};

/// Steps of a trace a violation report shows.
pub const TRACE_TAIL: usize = 30;

/// Trace lines numbered from `first`.
pub fn trace_from(trace: &[Event], first: usize) -> String {
    trace
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{:>4} {e}\n", first + i))
        .collect()
}

/// The trace, one numbered line per step.
pub fn trace(trace: &[Event]) -> String {
    trace
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{i:>4} {e}\n"))
        .collect()
}

/// How the run ended, in one line.
pub fn ending(end: &End) -> String {
    match end {
        End::Done => "done: every actor finished, no I/O in flight".to_string(),
        End::Paused => "paused: the schedule ended with tasks still runnable".to_string(),
        End::StepLimit => format!(
            "step limit: {} steps without finishing",
            model::limits::STEPS_MAX
        ),
        End::Stuck(waits) => {
            let who: Vec<String> = waits
                .iter()
                .map(|(t, w)| format!("{t} waits on {w}"))
                .collect();
            format!("stuck: {}", who.join(", "))
        }
    }
}

/// The final state: per inode sizes, extents, disk contents of mapped blocks; per actor results.
pub fn final_state(state: &State) -> String {
    let mut out = String::new();
    let spb = state.geometry.sectors_per_block() as usize;
    for (i, ino) in state.inodes.iter().enumerate() {
        out += &format!(
            "inode {i} (ino {}): i_size={} i_disksize={} i_unwritten={} i_dio_count={} nrpages={}\n",
            ino.ino,
            ino.i_size,
            ino.i_disksize,
            ino.i_unwritten,
            ino.i_dio_count,
            ino.nrpages()
        );
        for e in &ino.map.extents {
            let sectors = &state.disk.sectors
                [e.pblk as usize * spb..(e.pblk as usize + e.len as usize) * spb];
            out += &format!(
                "  extent {}+{} -> p{} {}: {}\n",
                e.lblk,
                e.len,
                e.pblk,
                e.state,
                data(sectors)
            );
        }
    }
    for (a, actor) in state.actors.iter().enumerate() {
        let results: Vec<String> = actor.results.iter().map(result).collect();
        out += &format!("actor a{a}: {}\n", results.join(", "));
    }
    out
}

fn result(r: &OpResult) -> String {
    match r {
        OpResult::Write {
            ret,
            sigxfsz,
            ki_pos,
            event,
        } => {
            let event = event.map_or(String::new(), |e| format!(" event={e}"));
            let signal = if *sigxfsz { " SIGXFSZ" } else { "" };
            format!("write ret={ret} ki_pos={ki_pos}{signal}{event}")
        }
        OpResult::Read(d) => format!("read [{}]", data(d)),
        OpResult::Stat(size) => format!("stat i_size={size}"),
        OpResult::Done => "done".to_string(),
        OpResult::Failed(e) => format!("failed {e}"),
        OpResult::Crashed => "crashed".to_string(),
    }
}

/// Sector contents, compactly: `W1` write 1, `0` zeros, `I` initial, `S3` stale from p3.
pub fn data(sectors: &[Data]) -> String {
    let tag = |d: &Data| match d {
        Data::Zero => "0".to_string(),
        Data::Initial { .. } => "I".to_string(),
        Data::Stale(p) => format!("S{p}"),
        Data::Write(w) => format!("W{w}"),
    };
    sectors.iter().map(tag).collect::<Vec<_>>().join(" ")
}

/// The scenario in kernel terms: geometry and mount, each inode, each actor's operations.
pub fn scenario(scenario: &model::scenario::Scenario) -> String {
    let g = &scenario.geometry;
    let m = &scenario.mount;
    let mut mount = Vec::new();
    for (set, name) in [
        (m.dioread_nolock, "dioread_nolock"),
        (m.sync, "sync"),
        (
            m.plug_holds_bios,
            "request-based device (the plug holds bios)",
        ),
        (m.bio_errors, "bios may fail with -EIO"),
    ] {
        if set {
            mount.push(name);
        }
    }
    let mount = if mount.is_empty() {
        String::new()
    } else {
        format!(", {}", mount.join(", "))
    };
    let mut out = format!(
        "scenario: {}-byte blocks, {}-byte sectors, {}-byte pages, {} disk blocks{mount}\n",
        g.blocksize(),
        g.sectorsize(),
        g.pagesize(),
        g.disk_blocks
    );
    for (i, inode) in scenario.inodes.iter().enumerate() {
        let mapping = if inode.extents {
            "extents"
        } else {
            "block-mapped"
        };
        let extents: Vec<String> = inode
            .extents_at_start
            .iter()
            .map(|e| format!("{}+{} -> p{} {}", e.lblk, e.len, e.pblk, e.state))
            .collect();
        let extents = if extents.is_empty() {
            "no blocks".to_string()
        } else {
            extents.join(", ")
        };
        out += &format!(
            "  inode {i} (ino {}, {mapping}): i_size={}, {extents}\n",
            inode.ino, inode.i_size
        );
    }
    for (a, program) in scenario.actors.iter().enumerate() {
        let ops: Vec<String> = program.iter().map(ToString::to_string).collect();
        out += &format!("  a{a}: {}\n", ops.join("; "));
    }
    out
}
