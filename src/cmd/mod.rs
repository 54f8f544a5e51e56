//! One module per subcommand.

mod bench;
mod bench_rebuild;
mod bench_web;
mod bundle;
mod demo;
mod docs;
mod gate;
pub mod key;
mod ledger;
mod rebuild;
mod rebuilder;
mod release;
mod revoke;
mod verify;

use crate::Outcome;
use crate::cli::{
    BenchCommand, Cli, Command, KeyCommand, LedgerCommand, RebuilderCommand, ReleaseCommand,
};

/// Runs the parsed command line; `matches` are what it was parsed from (they tell which
/// settings came from the environment). The config file fills in what is still unset first.
pub fn run(mut cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<Outcome> {
    crate::config::resolve(&mut cli, matches)?;
    match cli.command {
        Command::Verify(args) => verify::run(&args),
        Command::Gate(args) => gate::run(&args),
        Command::Bundle(args) => bundle::run(&args),
        Command::Release(ReleaseCommand::Publish(args)) => release::publish(&args),
        Command::Rebuild(args) => rebuild::run(&args),
        Command::Rebuilder(RebuilderCommand::Run(args)) => rebuilder::run(&args),
        Command::Key(KeyCommand::Generate(args)) => key::generate(&args),
        Command::Key(KeyCommand::Revoke(args)) => revoke::run(&args),
        Command::Ledger(cmd) => match cmd {
            LedgerCommand::Init(args) => ledger::init::run(&args),
            LedgerCommand::Serve(args) => ledger::serve::run(&args),
            LedgerCommand::Fsck(args) => ledger::fsck::run(&args),
            LedgerCommand::Audit(args) => ledger::audit::run(&args),
            LedgerCommand::Export(args) => ledger::export::run(&args),
        },
        Command::Demo(args) => demo::run(&args),
        Command::Completions(args) => docs::completions(&args),
        Command::Man => docs::man(),
        Command::Bench(BenchCommand::Ledger(args)) => bench::ledger(&args),
        Command::Bench(BenchCommand::Hash(args)) => bench_rebuild::hash(&args),
        Command::Bench(BenchCommand::Sandbox(args)) => bench_rebuild::sandbox(&args),
        Command::Bench(BenchCommand::Web(args)) => bench_web::run(&args),
    }
}
