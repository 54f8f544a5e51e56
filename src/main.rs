//! The `reprove` command: parses arguments, runs one subcommand, maps the outcome to an exit
//! code (0 ok, 1 not trusted / not reproducible, 2 error). Each subcommand lives in `cmd/`.

use std::io::Write;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches};
use reprove::report::{self, Failure};
use reprove::{Outcome, cli, cmd};

/// mimalloc instead of glibc's malloc: under `POST /add` load, allocation was about a tenth of
/// the ledger server's CPU (README, "Benchmarks", has the before and after).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let json = wants_json(&matches);
    let args = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cmd::run(args, &matches) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::No) => ExitCode::from(1),
        Err(err) => {
            // A closed pipe (`reprove … | head`) is not an error worth reporting.
            if err
                .chain()
                .filter_map(|c| c.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            let failure = Failure::of(&err);
            if json {
                // Machines reading `--json` get the error on stdout too, as one JSON line.
                let _ = report::print(&failure, true);
            }
            let _ = write!(std::io::stderr().lock(), "{failure}");
            ExitCode::from(2)
        }
    }
}

/// Whether the (sub)command given has `--json` set.
fn wants_json(matches: &ArgMatches) -> bool {
    let mut m = matches;
    loop {
        if m.try_get_one::<bool>("json").ok().flatten() == Some(&true) {
            return true;
        }
        match m.subcommand() {
            Some((_, sub)) => m = sub,
            None => return false,
        }
    }
}
