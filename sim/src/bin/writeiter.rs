//! `writeiter`: the command line of the ext4 write-path harness (see `sim::cli`).
//!
//! `writeiter help` lists the commands (`run`, `hunt`, `replay`, `shrink`, `explain`,
//! `bench`); `writeiter COMMAND --help` gives each one's flags. Exit status: 0 clean, 1 a
//! violation (or a run that could not finish), 2 bad input (the message names the file, flag
//! or field).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    sim::cli::main(&args)
}
