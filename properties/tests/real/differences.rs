//! The differences between the running kernel's ext4 and the 4.4 model that are explained
//! (the table in `properties/REAL_EXT4.md` and the README, rows named by their ids). A
//! difference no row explains fails the test. Each row must match narrowly: it says whether
//! it explains exactly this difference, and the rest must be equal.
//!
//! The table is empty: no difference from a later kernel change has been found in what the
//! suite compares. Row M1 (the model kept the dirty bits of buffers a truncate cut inside a
//! page) was a model error, fixed in `model/src/truncate.rs` (`discard_buffers`) and tested
//! in `model/tests/other_actors.rs`.

use super::case::{Case, Outcome};

/// A row: its id and description, and whether it explains how `real` differs from `model`.
type Row = (&'static str, fn(&Case, &Outcome, &Outcome) -> bool);

/// The explained differences.
const ROWS: &[Row] = &[];

/// The row of the table that explains how `real` differs from `model` for `case`, if any.
pub fn explain(case: &Case, real: &Outcome, model: &Outcome) -> Option<&'static str> {
    ROWS.iter()
        .find(|(_, explains)| explains(case, real, model))
        .map(|&(id, _)| id)
}
