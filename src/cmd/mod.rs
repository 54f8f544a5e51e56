//! One module per subcommand.

mod key;

use crate::Outcome;
use crate::cli::{Cli, Command, KeyCommand};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Key(KeyCommand::Generate(args)) => key::generate(&args),
    }
}
