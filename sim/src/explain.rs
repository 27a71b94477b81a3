//! `writeiter explain`: a counterexample as a timeline a kernel engineer reads in a minute.
//! One lane per actor, one for the block layer (bio completions) and one for the workqueues;
//! each step in ext4 terms (locks, waits, bios with their sectors, sizes, extent states); the
//! step where the oracle broke marked; then the final contents of each sector against the
//! writes that completed over it, and the last bio that wrote it. The same as plain text, an
//! SVG picture and an HTML page.

use std::fmt::Write as _;

use model::exec::{Event, Task};
use model::ops::OpResult;
use model::state::{Data, State};

use crate::engine::Execution;
use crate::oracle::visible;

/// Characters of a step's text in one lane of the text timeline.
pub const LANE_WIDTH: usize = 44;

/// A lane of the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    /// An actor.
    Actor(u8),
    /// The block layer: bio completions.
    Block,
    /// The workqueues: `dio_complete`, conversions.
    Work,
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lane::Actor(a) => write!(f, "a{a}"),
            Lane::Block => f.write_str("block layer"),
            Lane::Work => f.write_str("workqueues"),
        }
    }
}

fn lane_of(task: Task) -> Lane {
    match task {
        Task::Actor(a) => Lane::Actor(a),
        Task::Bio(_) | Task::BioError(_) => Lane::Block,
        Task::Work(_) => Lane::Work,
    }
}

/// The lanes of a run: its actors, then the block layer and the workqueues.
pub fn lanes(state: &State) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = (0..state.actors.len() as u8).map(Lane::Actor).collect();
    lanes.extend([Lane::Block, Lane::Work]);
    lanes
}

/// One sector's story at the end.
#[derive(Clone, Debug)]
pub struct SectorLine {
    /// File offset.
    pub offset: u64,
    /// What a read returns now.
    pub now: Data,
    /// Writes that completed over it (tag, actor).
    pub completed: Vec<(u8, u8)>,
    /// The last bio that wrote the sector's physical place: task and what it carried.
    pub last_bio: Option<(Task, bool)>,
    /// It does not hold the data of the last write that completed over it.
    pub suspicious: bool,
}

impl SectorLine {
    /// The completed writes, as `write 2 (a1), write 3 (a0)`; empty for none.
    fn writes_text(&self) -> String {
        let writes: Vec<String> = self
            .completed
            .iter()
            .map(|(t, a)| format!("write {t} (a{a})"))
            .collect();
        writes.join(", ")
    }

    /// The last bio, as `b3 (zeros)`; empty for none.
    fn bio_text(&self) -> String {
        self.last_bio.map_or(String::new(), |(t, z)| {
            format!("{t}{}", if z { " (zeros)" } else { "" })
        })
    }
}

/// The final contents of inode 0 below `i_size`, sector by sector.
pub fn sectors(execution: &Execution) -> Vec<SectorLine> {
    let state = &execution.state;
    let g = state.geometry;
    let last_bios = last_bio_per_sector(&execution.trace);
    let completed = completed_writes(state);
    let size = state.inodes[0].i_size.min(64 << g.blkbits);
    (0..size)
        .step_by(g.sectorsize() as usize)
        .map(|offset| {
            let now = visible(state, 0, offset);
            let covering: Vec<(u8, u8)> = completed
                .iter()
                .filter(|(_, _, from, to)| *from <= offset && offset < *to)
                .map(|&(t, a, _, _)| (t, a))
                .collect();
            let psector = state.inodes[0]
                .map
                .pblk(offset >> g.blkbits)
                .map(|(p, _)| state.psector(p, offset));
            let last_bio = psector.and_then(|p| {
                last_bios
                    .iter()
                    .rev()
                    .find(|(s, n, _, _)| *s <= p && p < s + n)
                    .map(|&(_, _, t, z)| (t, z))
            });
            let suspicious = covering.last().is_some_and(|&(t, _)| now != Data::Write(t));
            SectorLine {
                offset,
                now,
                completed: covering,
                last_bio,
                suspicious,
            }
        })
        .collect()
}

/// Writes that completed with bytes: (tag, actor, from, to).
fn completed_writes(state: &State) -> Vec<(u8, u8, u64, u64)> {
    let mut out = Vec::new();
    for (a, actor) in state.actors.iter().enumerate() {
        for (op, result) in actor.results.iter().enumerate() {
            let (
                model::ops::Op::Write(w),
                OpResult::Write {
                    ret, ki_pos, event, ..
                },
            ) = (&actor.program[op], result)
            else {
                continue;
            };
            let bytes = if *ret > 0 { *ret } else { event.unwrap_or(0) };
            if bytes > 0 {
                let from = if *ret > 0 {
                    ki_pos - bytes as u64
                } else {
                    *ki_pos
                };
                out.push((w.tag, a as u8, from, from + bytes as u64));
            }
        }
    }
    out
}

/// Bio completions from the trace notes "… on sectors S+N …": (start, count, task, zeros).
fn last_bio_per_sector(trace: &[Event]) -> Vec<(u32, u32, Task, bool)> {
    let mut out = Vec::new();
    for event in trace.iter().filter(|e| matches!(e.task, Task::Bio(_))) {
        for note in &event.notes {
            let Some(rest) = note.split("on sectors ").nth(1) else {
                continue;
            };
            let range = rest.split_whitespace().next().unwrap_or("");
            if let Some((start, count)) = range.split_once('+')
                && let (Ok(start), Ok(count)) = (start.parse(), count.parse())
            {
                out.push((start, count, event.task, note.starts_with("zeros")));
            }
        }
    }
    out
}

fn data_text(data: Data) -> String {
    match data {
        Data::Zero => "zeros".into(),
        Data::Initial { .. } => "initial".into(),
        Data::Stale(p) => format!("stale p{p}"),
        Data::Write(t) => format!("write {t}"),
    }
}

fn fit(text: &str, width: usize) -> String {
    let text: String = text.chars().take(width).collect();
    format!("{text:<width$}")
}

/// The plain-text timeline and the sector table.
pub fn text(title: &str, execution: &Execution) -> String {
    let lanes = lanes(&execution.state);
    let mut out = format!("{title}\n");
    if let Some(v) = &execution.violation {
        let _ = writeln!(out, "VIOLATION {v}");
    }
    let header: Vec<String> = lanes
        .iter()
        .map(|l| fit(&l.to_string(), LANE_WIDTH))
        .collect();
    let _ = writeln!(out, "step  {}", header.join(" | "));
    let last = execution.trace.len().saturating_sub(1);
    for (i, event) in execution.trace.iter().enumerate() {
        let lane = lane_of(event.task);
        let cells: Vec<String> = lanes
            .iter()
            .map(|l| {
                if *l == lane {
                    fit(
                        &format!("{} {}", event.step, event.notes.join("; ")),
                        LANE_WIDTH,
                    )
                } else {
                    " ".repeat(LANE_WIDTH)
                }
            })
            .collect();
        let mark = if i == last && execution.violation.is_some() {
            ">>"
        } else {
            "  "
        };
        let _ = writeln!(out, "{mark}{i:>3} {}", cells.join(" | ").trim_end());
    }
    out + &sector_text(execution)
}

fn sector_text(execution: &Execution) -> String {
    let mut out = String::from("\nfinal contents of inode 0 (per sector):\n");
    for s in sectors(execution) {
        let bio = s
            .last_bio
            .map_or(String::new(), |_| format!(", last bio {}", s.bio_text()));
        let mark = if s.suspicious { "!!" } else { "  " };
        let done = if s.completed.is_empty() {
            "none".to_string()
        } else {
            s.writes_text()
        };
        let _ = writeln!(
            out,
            "{mark} {:>6}: {:<10} completed: {done}{bio}",
            s.offset,
            data_text(s.now)
        );
    }
    out
}

/// Escapes text for SVG and HTML.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The timeline as an SVG picture: lanes as columns, steps as rows, the breaking step red.
pub fn svg(title: &str, execution: &Execution) -> String {
    let lanes = lanes(&execution.state);
    let height = SVG_TOP + execution.trace.len() * SVG_ROW + 20;
    let width = SVG_LEFT + lanes.len() * SVG_COL + 10;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"monospace\" font-size=\"11\">\n"
    );
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    if let Some(v) = &execution.violation {
        let _ = writeln!(
            out,
            "<text x=\"10\" y=\"40\" fill=\"#b00\">VIOLATION {}</text>",
            escape(&v.to_string())
        );
    }
    for (k, lane) in lanes.iter().enumerate() {
        let x = SVG_LEFT + k * SVG_COL;
        let shade = if k % 2 == 0 { "#f4f6fa" } else { "#ffffff" };
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{shade}\"/>",
            SVG_TOP - 18,
            SVG_COL - 4,
            height - SVG_TOP
        );
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text>",
            x + 4,
            SVG_TOP - 6,
            escape(&lane.to_string())
        );
    }
    let last = execution.trace.len().saturating_sub(1);
    for (i, event) in execution.trace.iter().enumerate() {
        let k = lanes
            .iter()
            .position(|l| *l == lane_of(event.task))
            .unwrap_or(0);
        let broke = i == last && execution.violation.is_some();
        out += &svg_step(i, event, SVG_LEFT + k * SVG_COL, broke);
    }
    out + "</svg>\n"
}

/// Column width, row height, top of the first row and left of the first lane, in pixels.
const SVG_COL: usize = 330;
const SVG_ROW: usize = 18;
const SVG_TOP: usize = 78;
const SVG_LEFT: usize = 50;

/// One step's box: red where the oracle broke, yellow for zeros, blue otherwise; the whole
/// text in a tooltip.
fn svg_step(i: usize, event: &Event, x: usize, broke: bool) -> String {
    let y = SVG_TOP + i * SVG_ROW;
    let zeros = event.notes.iter().any(|n| n.contains("zeros"));
    let fill = if broke {
        "#ffd6d6"
    } else if zeros {
        "#fff3cd"
    } else {
        "#dde8ff"
    };
    let text = format!("{} {}", event.step, event.notes.join("; "));
    let label: String = text.chars().take(46).collect();
    format!(
        "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"{fill}\"/>\n<text x=\"10\" y=\"{t}\">{i}</text><text x=\"{}\" y=\"{t}\"><title>{}</title>{}</text>\n",
        SVG_COL - 8,
        SVG_ROW - 3,
        x + 4,
        escape(&text),
        escape(&label),
        t = y + 11
    )
}

/// An HTML page: the title, the violation, the SVG timeline and the sector table.
pub fn html(title: &str, execution: &Execution) -> String {
    let violation = execution
        .violation
        .as_ref()
        .map_or("no violation".to_string(), ToString::to_string);
    let mut rows = String::new();
    for s in sectors(execution) {
        let class = if s.suspicious { " class=\"bad\"" } else { "" };
        let _ = writeln!(
            rows,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.offset,
            escape(&data_text(s.now)),
            escape(&s.writes_text()),
            escape(&s.bio_text())
        );
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title><style>body{{font-family:sans-serif;margin:2em}} .v{{color:#b00;font-weight:bold}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 8px;font-family:monospace}} tr.bad{{background:#ffd6d6}}</style></head><body>\n<h1>{t}</h1>\n<p class=\"v\">{v}</p>\n{svg}<h2>Final contents of inode 0</h2>\n<table><tr><th>offset</th><th>reads</th><th>completed writes over it</th><th>last bio</th></tr>\n{rows}</table>\n</body></html>\n",
        t = escape(title),
        v = escape(&violation),
        svg = svg(title, execution),
    )
}
