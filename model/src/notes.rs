//! The notes a step writes for the trace (what happened, in ext4 terms).
//!
//! A search that keeps no trace (every hunt, depth- and breadth-first search) never reads a
//! note or a step's name, so formatting them is wasted work. [`Notes`] discards them when off,
//! and the [`note!`](crate::note) macro does not even evaluate the text then. Whether a step
//! writes them is the caller's choice, passed to [`crate::exec::step_with`] as a
//! [`crate::exec::Trace`] ([`crate::exec::step`] always writes them); nothing here holds
//! that choice. Notes are text only: no step reads them, so a quiet step changes the state
//! exactly as a traced one (`sim/tests/speed_twins.rs` checks it).

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

    use super::Notes;

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
}
