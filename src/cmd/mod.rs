//! One module per subcommand.

mod bench;
pub mod key;
mod ledger;

use crate::Outcome;
use crate::cli::{BenchCommand, Cli, Command, KeyCommand, LedgerCommand};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Key(KeyCommand::Generate(args)) => key::generate(&args),
        Command::Ledger(cmd) => match cmd {
            LedgerCommand::Init(args) => ledger::init::run(&args),
            LedgerCommand::Serve(args) => ledger::serve::run(&args),
            LedgerCommand::Fsck(args) => ledger::fsck::run(&args),
            LedgerCommand::Audit(args) => ledger::audit::run(&args),
            LedgerCommand::Export(args) => ledger::export::run(&args),
        },
        Command::Bench(BenchCommand::Ledger(args)) => bench::ledger(&args),
    }
}
