//! `writeiter matrix`: every corpus entry judged under 4.4.121, under each upstream fix
//! ([`model::patches`]) alone, and under all of them, so a user sees which fix closes which
//! race and whether one opens another.
//!
//! A cell asks of the entry's scenario, with the column's patches applied: does the entry's
//! class (its `signature`) still show? The stored schedule is tried first; then a
//! breadth-first search for that class. When the class is gone, a breadth-first search for any
//! violation says whether the scenario now holds or shows another class.

use std::path::Path;

use model::patches::{Patch, Patches};

use crate::corpus::{Loaded, Verdict};
use crate::engine::{self, Execution, Pct, RandomWalk};
use crate::signature;

/// States a cell's breadth-first searches may visit, each.
pub const MATRIX_STATES: u64 = 500_000;
/// Random and PCT schedules a cell tries, each, when its breadth-first search stops at
/// [`MATRIX_STATES`] without finding the class.
pub const MATRIX_SCHEDULES: u64 = 2_000;

/// How an entry came out under one set of patches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// The entry's class shows (for a `holds` entry: never used).
    Violates,
    /// A breadth-first search explored every reachable state: no violation of any oracle.
    Holds,
    /// The class did not show within [`MATRIX_STATES`] states and [`MATRIX_SCHEDULES`]
    /// schedules, and no other violation did; not exhaustive.
    HoldsBounded(u64),
    /// The entry's class is gone (for a `violates` entry), but this other class shows.
    Other(String),
}

impl Cell {
    /// The cell as the table prints it: `violates`, `holds`, `holds≤N`, `other`.
    pub fn word(&self) -> String {
        match self {
            Cell::Violates => "violates".to_string(),
            Cell::Holds => "holds".to_string(),
            Cell::HoldsBounded(states) => format!("holds≤{states}"),
            Cell::Other(_) => "other".to_string(),
        }
    }

    /// The entry's own class no longer shows.
    pub fn class_gone(&self) -> bool {
        !matches!(self, Cell::Violates)
    }
}

/// The matrix's columns: 4.4.121, each patch alone (with the patches it requires), all.
pub fn columns() -> Vec<(String, Patches)> {
    let mut columns = vec![("4.4".to_string(), Patches::NONE)];
    for patch in Patch::ALL {
        columns.push((patch.upstream().id.to_string(), Patches::NONE.with(patch)));
    }
    columns.push(("all".to_string(), Patches::all()));
    columns
}

/// The patch an entry's `fixed_by` names (`"<id> <title> (<version>)"`), if the model has it.
pub fn fixed_by(loaded: &Loaded) -> Option<Patch> {
    let id = loaded.entry.fixed_by.as_deref()?.split(' ').next()?;
    Patch::from_id(id)
}

/// The entry under `patches` (beside any its scenario names).
pub fn judge(loaded: &Loaded, patches: Patches) -> Cell {
    let mut scenario = loaded.scenario.clone();
    scenario.patches = scenario.patches.union(patches);
    let initial = scenario
        .build()
        .expect("patches do not change a scenario's checks");
    let entry = &loaded.entry;
    if entry.verdict == Verdict::Violates && shows_class(loaded, &initial) {
        return Cell::Violates;
    }
    let any = engine::bfs(&initial, MATRIX_STATES, model::exec::step_with);
    match any.found {
        Some(run) => Cell::Other(class_of(&initial, &run)),
        None if any.exhausted => Cell::Holds,
        None => Cell::HoldsBounded(any.states),
    }
}

/// The entry's class shows in `initial`: its stored schedule, a breadth-first search for it,
/// and, when that search is not exhaustive, random and PCT schedules.
fn shows_class(loaded: &Loaded, initial: &model::state::State) -> bool {
    let entry = &loaded.entry;
    let is_class = |run: &Execution| {
        run.violation
            .as_ref()
            .is_some_and(|v| v.oracle.name() == entry.oracle)
            && entry
                .signature
                .as_ref()
                .is_none_or(|s| *s == class_of(initial, run))
    };
    let schedule = model::drive::parse_schedule(&entry.schedule).expect("checked on load");
    if engine::replay(initial, &schedule, model::exec::step_with).is_ok_and(|run| is_class(&run)) {
        return true;
    }
    let report = engine::bfs_where(
        initial,
        MATRIX_STATES,
        model::exec::step_with,
        &entry.oracle,
        &is_class,
    );
    if report.found.is_some() {
        return true;
    }
    !report.exhausted
        && (0..MATRIX_SCHEDULES).any(|seed| {
            let step = model::exec::step_with;
            is_class(&engine::execute(
                initial,
                &mut RandomWalk::new(seed),
                step,
                false,
            )) || is_class(&engine::execute(
                initial,
                &mut Pct::new(seed, 3),
                step,
                false,
            ))
        })
}

/// The class (signature) an execution's violation is of, as the corpus spells it.
fn class_of(initial: &model::state::State, run: &Execution) -> String {
    signature::of(initial, run, model::exec::step_with)
        .map_or_else(|| "no class".to_string(), |s| s.to_string())
}

/// One row: an entry and its cells, column by column.
#[derive(Clone, Debug)]
pub struct Row {
    /// The corpus file.
    pub file: String,
    /// The entry.
    pub loaded: Loaded,
    /// Its cells, in [`columns`] order.
    pub cells: Vec<Cell>,
}

/// Every entry of `dir` under every column, on `jobs` threads; the result does not depend on
/// `jobs`. `judged` is called after each cell, with the cells judged and the cells in all
/// (for a progress line).
pub fn matrix(
    dir: &Path,
    jobs: usize,
    judged: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for file in crate::corpus::toml_files(dir)? {
        let loaded = crate::corpus::load(&file).map_err(|e| e.to_string())?;
        rows.push(Row {
            file: file.display().to_string(),
            loaded,
            cells: Vec::new(),
        });
    }
    let columns = columns();
    let jobs_list: Vec<(usize, usize)> = (0..rows.len())
        .flat_map(|r| (0..columns.len()).map(move |c| (r, c)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(vec![None; jobs_list.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(r, c)) = jobs_list.get(k) else {
                        break;
                    };
                    let cell = judge(&rows[r].loaded, columns[c].1);
                    let mut done = done.lock().expect("no worker panics");
                    done[k] = Some(cell);
                    judged(done.iter().filter(|c| c.is_some()).count(), done.len());
                }
            });
        }
    });
    let mut cells = done.into_inner().expect("no worker panics").into_iter();
    for row in &mut rows {
        row.cells = (0..columns.len())
            .map(|_| cells.next().flatten().expect("every cell judged"))
            .collect();
    }
    Ok(rows)
}
