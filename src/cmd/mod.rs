//! One module per subcommand.

mod bench;
mod bench_rebuild;
mod bench_web;
mod bundle;
mod demo;
mod docs;
mod gate;
mod import;
mod init;
mod installer;
pub mod key;
mod ledger;
mod log;
mod policy;
mod rebuild;
mod rebuilder;
mod release;
mod revoke;
mod staged;
mod verify;

use crate::Outcome;
use crate::cli::{
    BenchCommand, Cli, Command, ImportCommand, KeyCommand, LedgerCommand, LogCommand,
    PolicyCommand, RebuilderCommand, ReleaseCommand,
};
use anyhow::Context as _;

/// The error when the log accepted an entry but its answer does not prove it under the log key
/// given: the entry IS in the log (submitting it again only finds it there), and what failed
/// is the proof, so the key given is not this log's, or the log misbehaves.
pub(crate) fn logged_but_not_proven(
    what: &str,
    index: u64,
    key: &reprove_verifier::note::NoteVerifier,
    err: impl std::error::Error + Send + Sync + 'static,
) -> anyhow::Error {
    anyhow::Error::new(err).context(format!(
        "{what} WAS logged, at index {index}, but the log's proof of it did not verify under \
         the log key given ({key}). Either that key is not this log's (check --log-key, \
         REPROVE_LOG_KEY or log_key in the config file) or the log misbehaves (`reprove ledger \
         audit` checks it); publishing again will not log it twice"
    ))
}

/// Submits `envelope` and, when the log key is known, checks the log's proof of it under that
/// key: an answer that does not prove it is [`logged_but_not_proven`] (`what` names it).
pub(crate) fn submit_proven(
    client: &crate::client::LogClient,
    envelope: &[u8],
    log_key: Option<&reprove_verifier::note::NoteVerifier>,
    what: &str,
) -> anyhow::Result<crate::client::Submitted> {
    let submitted = client
        .submit(envelope)
        .with_context(|| format!("the ledger did not accept {what}"))?;
    proven_submission(submitted, envelope, log_key, what)
}

/// Checks the log's proof of a submission under the log key, when known (see
/// [`submit_proven`]).
pub(crate) fn proven_submission(
    submitted: crate::client::Submitted,
    envelope: &[u8],
    log_key: Option<&reprove_verifier::note::NoteVerifier>,
    what: &str,
) -> anyhow::Result<crate::client::Submitted> {
    if let Some(key) = log_key {
        submitted
            .proof
            .verify(
                envelope,
                key,
                &reprove_verifier::checkpoint::WitnessPolicy::none(),
            )
            .map_err(|e| logged_but_not_proven(what, submitted.index, key, e))?;
    }
    Ok(submitted)
}

/// Runs the parsed command line; `matches` are what it was parsed from (they tell which
/// settings came from the environment). The config file fills in what is still unset first.
pub fn run(mut cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<Outcome> {
    crate::config::resolve(&mut cli, matches)?;
    match cli.command {
        Command::Init(args) => init::run(&args),
        Command::Policy(PolicyCommand::Init(args)) => policy::init(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Gate(args) => gate::run(&args),
        Command::Bundle(args) => bundle::run(&args),
        Command::Log(LogCommand::Show(args)) => log::show(&args),
        Command::Log(LogCommand::Tail(args)) => log::tail(&args),
        Command::Release(cmd) => match cmd {
            ReleaseCommand::Plan(args) => staged::plan(&args),
            ReleaseCommand::Upload(args) => staged::upload(&args),
            ReleaseCommand::Publish(args) => release::publish(&args),
            ReleaseCommand::Announce(args) => staged::announce(&args),
            ReleaseCommand::Withdraw(args) => staged::withdraw(&args),
            ReleaseCommand::Yank(args) => staged::yank(&args),
            ReleaseCommand::Installer(args) => installer::run(&args),
        },
        Command::Latest(args) => staged::latest(&args),
        Command::Import(ImportCommand::Pypi(args)) => import::pypi(&args),
        Command::Import(ImportCommand::Crate(args)) => import::krate(&args),
        Command::Import(ImportCommand::Debian(args)) => import::debian(&args),
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
