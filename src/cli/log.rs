//! `reprove log …`: browse a log from the command line, every entry proven.

use clap::{Args, Subcommand};

use super::ConsumerArgs;

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Show a release's entries: its manifests and every rebuild attestation, each proven in
    /// the log and signature-checked; who signed them, and whether the policy names them.
    ///
    /// Nothing is decided here (`reprove verify` does that): the listing shows what the log
    /// holds, including entries by keys the policy does not trust.
    Show(LogShow),
    /// Show the newest entries of the log, each proven and signature-checked.
    Tail(LogTail),
}

#[derive(Debug, Args)]
#[command(after_help = super::examples::LOG_SHOW)]
pub struct LogShow {
    /// The release, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = super::examples::LOG_TAIL)]
pub struct LogTail {
    /// How many of the newest entries (1 to 1000).
    #[arg(short = 'n', long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub count: u64,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}
