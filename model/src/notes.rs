//! The notes a step writes for the trace (what happened, in ext4 terms), and whether a step
//! writes them at all.
//!
//! A search that keeps no trace (every hunt, depth- and breadth-first search) never reads a
//! note or a step's name, so formatting them is wasted work. [`Notes`] discards them when off,
//! and the [`note!`](crate::note) macro does not even evaluate the text then.
//! [`crate::exec::step`] writes them when the calling thread is tracing ([`traced`]), the
//! default; [`with_trace`] turns tracing off (or on) for the duration of a closure. Notes are
//! text only: no step reads them, so a quiet step changes the state exactly as a traced one
//! (`sim/tests/speed_twins.rs` checks it).

use std::cell::Cell;

thread_local! {
    /// Whether steps on this thread write their notes and names.
    static TRACED: Cell<bool> = const { Cell::new(true) };
}

/// Whether steps on this thread write their notes and names (true unless inside
/// [`with_trace`]`(false, …)`).
pub fn traced() -> bool {
    TRACED.with(Cell::get)
}

/// Puts the previous tracing back when dropped, also when the closure panics (a model
/// assertion caught by the engine).
struct Restore(bool);

impl Drop for Restore {
    fn drop(&mut self) {
        TRACED.with(|t| t.set(self.0));
    }
}

/// Runs `f` with steps writing their notes and names (`on`) or not, then restores the
/// previous setting.
pub fn with_trace<R>(on: bool, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(TRACED.with(|t| t.replace(on)));
    f()
}

/// The notes of one step: kept when on, discarded (never formatted) when off.
#[derive(Debug, Default)]
pub struct Notes {
    on: bool,
    lines: Vec<String>,
}

impl Notes {
    /// Notes that keep what is written (`on`) or discard it.
    pub fn new(on: bool) -> Notes {
        Notes {
            on,
            lines: Vec::new(),
        }
    }

    /// Whether notes are kept (the [`note!`](crate::note) macro formats only then).
    pub fn on(&self) -> bool {
        self.on
    }

    /// Keeps `line` (when on).
    pub fn push(&mut self, line: String) {
        if self.on {
            self.lines.push(line);
        }
    }

    /// The notes kept, in order.
    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }
}

/// Writes a note, `format!`-style, to a [`Notes`]: the text is formatted only when the notes
/// are on.
#[macro_export]
macro_rules! note {
    ($notes:expr, $($text:tt)+) => {
        if $notes.on() {
            $notes.push(format!($($text)+));
        }
    };
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::{Notes, traced, with_trace};

    /// Formats a note whose argument counts its own evaluations.
    fn write(notes: &mut Notes, evaluated: &Cell<u32>) {
        note!(notes, "note {}", {
            evaluated.set(evaluated.get() + 1);
            evaluated.get()
        });
    }

    #[test]
    fn notes_off_never_evaluate_their_text_and_on_keep_it() {
        let evaluated = Cell::new(0);
        let mut off = Notes::new(false);
        write(&mut off, &evaluated);
        assert_eq!(evaluated.get(), 0);
        assert!(off.into_lines().is_empty());
        let mut on = Notes::new(true);
        write(&mut on, &evaluated);
        assert_eq!(on.into_lines(), vec!["note 1".to_string()]);
    }

    #[test]
    fn with_trace_sets_and_restores_also_after_a_panic() {
        assert!(traced(), "tracing is the default");
        assert!(!with_trace(false, traced));
        assert!(with_trace(false, || with_trace(true, traced)));
        let panicked = std::panic::catch_unwind(|| with_trace(false, || panic!("inside")));
        assert!(panicked.is_err());
        assert!(traced(), "restored after the panic");
    }
}
