//! `writeiter`: the command line of the ext4 write-path harness (see `sim::cli`).
//!
//! `writeiter run (FILE | --swarm SEED) [--schedule "a0 a1 b3 ..."] [--exact]` runs a
//! scenario and prints one line per step with every oracle checked; `writeiter hunt` searches
//! for violations. Exit status: 0 clean, 1 a violation (or a run that could not finish),
//! 2 bad input (the message names the file, flag or field).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    sim::cli::main(&args)
}
