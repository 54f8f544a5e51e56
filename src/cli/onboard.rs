//! Arguments of the commands that start a newcomer off: `reprove init` (a publisher manifest)
//! and `reprove policy init` (a consumer policy).

use std::path::PathBuf;

use clap::Args;

/// Write a commented publisher manifest (`reprove.toml`) for the project in DIR.
///
/// Guesses what it can from DIR (its name; `make` for a Makefile, `cargo build` for a
/// Cargo.toml) and leaves comments for the rest. The source is the directory itself, which
/// `reprove rebuild --manifest reprove.toml` packs reproducibly. An existing manifest is never
/// overwritten (exit 2).
#[derive(Debug, Args)]
#[command(after_help = super::examples::INIT)]
pub struct Init {
    /// The project's directory; the manifest is written there as `reprove.toml`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The project's name [default: DIR's name].
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Write a commented consumer policy that trusts the log at --ledger.
///
/// Fetches the log's checkpoint and verifies it under the log key (--log-key, --log-key-file,
/// REPROVE_LOG_KEY or `log_key` in the config file), so the policy names the key the log
/// really signs with, and takes the log's origin from it. The key itself must come from the
/// log's operator (its `log.pub`): a checkpoint names its signer but does not carry the key,
/// and a key fetched from the log would prove nothing. Without a key, prints who signs the
/// checkpoint and exits 2. An existing file is never overwritten (exit 2).
#[derive(Debug, Args)]
#[command(after_help = super::examples::POLICY_INIT)]
pub struct PolicyInit {
    /// The log's URL, written as the policy's log.url; required, here, in the environment or
    /// as `ledger` in the config file.
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's verifier key (required).
    #[command(flatten)]
    pub log_key: super::LogKeyArgs,
    /// A rebuilder operator to trust, as NAME=VKEY (repeatable; the same NAME again adds a key).
    #[arg(long = "operator", value_name = "NAME=VKEY")]
    pub operators: Vec<String>,
    /// How many distinct operators must have reproduced an artifact [default: 2, or the number
    /// of operators given when fewer].
    #[arg(long, value_name = "N")]
    pub threshold: Option<usize>,
    /// Where to write the policy.
    #[arg(short = 'o', long, value_name = "FILE", default_value = "policy.toml")]
    pub out: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
