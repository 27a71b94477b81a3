//! `writeiter`: the command line of the ext4 write-path harness.
//!
//! `writeiter run FILE [--schedule "a0 a1 b3 ..."] [--exact]` runs a scenario file and prints
//! one line per step. Exit status: 0 the run finished, 1 it got stuck or hit the step limit,
//! 2 bad input (the message names the file, flag or field).

use std::path::PathBuf;
use std::process::ExitCode;

use sim::{engine, report, scenario_file};

const USAGE: &str = "usage: writeiter run FILE [--schedule \"a0 a1 b3 ...\"] [--exact]";

struct RunArgs {
    file: PathBuf,
    schedule: String,
    exact: bool,
}

fn parse_run(args: &[String]) -> Result<RunArgs, String> {
    let mut run = RunArgs {
        file: PathBuf::new(),
        schedule: String::new(),
        exact: false,
    };
    let mut file = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--schedule" => run.schedule = it.next().ok_or("--schedule needs a value")?.clone(),
            "--exact" => run.exact = true,
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            path if file.is_none() => file = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument {extra}")),
        }
    }
    run.file = file.ok_or("missing scenario FILE")?;
    Ok(run)
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let scenario = scenario_file::load(&args.file).map_err(|e| e.to_string())?;
    let schedule =
        model::drive::parse_schedule(&args.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let initial = scenario
        .build()
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    println!(
        "writeiter run {}: ext4_file_write_iter as in Linux 4.1-4.4",
        args.file.display()
    );
    let replayed = engine::replay(&initial, &schedule, model::exec::step)
        .map_err(|(index, e)| format!("--schedule: schedule step {index}: {e}"))?;
    let run = if args.exact || replayed.violation.is_some() {
        replayed
    } else {
        let mut chooser = engine::ScheduleThenFirst::new(schedule);
        engine::execute(&initial, &mut chooser, model::exec::step, true)
    };
    print!("{}", report::trace(&run.trace));
    println!("{}", report::ending(&run.end));
    if let Some(violation) = &run.violation {
        println!("VIOLATION {violation}");
    }
    print!("{}", report::final_state(&run.state));
    let finished = matches!(run.end, model::drive::End::Done | model::drive::End::Paused);
    Ok(if finished && run.violation.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => parse_run(&args[1..]).and_then(run),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other}\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    result.unwrap_or_else(|message| {
        eprintln!("writeiter: {message}");
        ExitCode::from(2)
    })
}
