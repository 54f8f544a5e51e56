//! Arguments of the rebuilder node (`reprove rebuilder run`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Follow a log and rebuild every release in it, attesting each outcome.
///
/// The node reads the log from a cursor kept in WORK (verifying every checkpoint under the
/// log key and every entry bundle against it), keeps a durable job table there, rebuilds
/// releases N at a time in a bubblewrap sandbox, uploads build logs and diff reports to the
/// ledger's blob store and appends one signed attestation per release. Restarting resumes
/// where it stopped; a release is never attested twice by the same key. SIGINT/SIGTERM stop
/// taking new jobs and wait for the running ones (a second signal exits at once; interrupted
/// jobs are redone at the next start).
#[derive(Debug, Args)]
#[command(after_help = super::examples::REBUILDER_RUN)]
pub struct RebuilderRun {
    /// The ledger's URL (the prefix of `/checkpoint`, `/tile/…`, `/add`); required, here, in
    /// the environment or as `ledger` in the config file.
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's verifier key, required here: every checkpoint the node follows must be signed
    /// by it.
    #[command(flatten)]
    pub log_key: super::LogKeyArgs,
    /// This node's private key (`reprove key generate`): signs attestations and blob uploads.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The node's work directory: job table, tile cache and one directory per rebuild.
    /// Created if missing; it belongs to one log and one key.
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    /// How many releases to rebuild at once.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Rebuild only releases signed by this publisher key (vkey); repeatable. Without it,
    /// every release in the log is rebuilt. Skipped releases are logged.
    #[arg(long = "publisher", value_name = "VKEY")]
    pub publishers: Vec<String>,
    /// Sandbox, limits and identity of the builds.
    #[command(flatten)]
    pub build: super::BuildArgs,
    /// The time between two checks of the log for new entries.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = super::duration)]
    pub poll_interval: Duration,
    /// Attempts per release when a failure may be transient (an input download failed);
    /// after the last, the outcome is attested as it is.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// The first retry delay; doubled after each failed attempt (at most 1 hour).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::duration)]
    pub retry_delay: Duration,
    /// Stop once the log is read to its end and every job is finished (for scripts, tests
    /// and the demo); without it the node runs until stopped.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Print the final summary as JSON.
    #[arg(long)]
    pub json: bool,
}
