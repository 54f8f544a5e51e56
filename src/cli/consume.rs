//! Arguments of the consumer commands: verify, gate, bundle, key revoke.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, ValueEnum};

/// Verify artifacts against your policy.
///
/// Hashes each FILE (sha256 and blake3 in one pass), finds the log entries about it, proves
/// each one from the log's tiles under a checkpoint signed by the policy's log key (and its
/// witnesses), checks that checkpoint extends the last one this consumer verified (a fork or a
/// rollback is a security error, exit 2), verifies signatures, applies revocation notices, and
/// counts distinct operators that reproduced these exact bytes.
///
/// Exit 0 when every artifact is trusted, 1 when one is not, 2 on any error.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).multiple(true).args(["files", "digest"])))]
#[command(after_help = super::examples::VERIFY)]
pub struct Verify {
    /// The files to verify.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Verify an artifact that is not on disk, by its digest (`sha256:<64 hex>`); repeatable.
    #[arg(long, value_name = "sha256:HEX")]
    pub digest: Vec<String>,
    /// The policy, and where the log is read and its checkpoints and tiles kept.
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// The release the files must come from: only attestations of NAME@VERSION count (without
    /// it, any logged release that lists the bytes — from a publisher the policy accepts —
    /// does).
    #[arg(long, value_name = "NAME@VERSION")]
    pub release: Option<String>,
    /// Verify offline from a bundle written by `reprove bundle` (no network at all, unless the
    /// policy sets require_online_recheck: --ledger is then used for that re-check only).
    #[arg(long, value_name = "BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A release gate: exit 0 only when every artifact of a release satisfies the policy.
///
/// Looks up the release manifests logged for NAME@VERSION (every manifest under that name and
/// version counts: a gate fails closed), then judges each artifact as `verify` does and prints
/// one status line per artifact. With --wait it polls until every artifact is trusted or the
/// time is up, so a pipeline can refuse to announce a release until independent rebuilders
/// have reproduced it. Exit 0 all trusted, 1 not (yet), 2 error.
#[derive(Debug, Args)]
#[command(after_help = super::examples::GATE)]
pub struct Gate {
    /// The release, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    /// The policy, and where the log is read and its checkpoints and tiles kept.
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Keep checking until every artifact is trusted, for at most this long (e.g. `90s`,
    /// `15m`, `1h`; a bare number is seconds; at most 7 days).
    #[arg(long, value_name = "DURATION", value_parser = super::duration)]
    pub wait: Option<Duration>,
    /// The time between two checks while waiting (at least 1s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = super::duration)]
    pub interval: Duration,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Write a self-contained bundle for verifying a release offline.
///
/// Collects, at the log's current checkpoint, the release manifests and rebuild attestations of
/// NAME@VERSION and every revocation notice about the policy's keys and the attestations'
/// signers, each with its tlog-proof built from the log's tiles. `reprove verify FILE --bundle
/// OUT --policy P` then needs no network.
#[derive(Debug, Args)]
#[command(after_help = super::examples::BUNDLE)]
pub struct Bundle {
    /// The release, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    /// The policy (its log key and the keys whose revocation notices to include), and where
    /// the log is read and its checkpoints and tiles kept.
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Where to write the bundle (replaced atomically).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,
    /// Print a summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What every consumer command (verify, gate, bundle) is given: the policy it judges by, the
/// log it reads, and where it keeps what it learnt of the log between runs.
#[derive(Debug, Args)]
pub struct ConsumerArgs {
    /// The consumer policy (TOML): trusted log, witnesses, operators and their keys, threshold.
    /// Required: here, in the environment or as `policy` in the config file.
    #[arg(long, value_name = "POLICY.toml", env = "REPROVE_POLICY")]
    pub policy: Option<PathBuf>,
    /// The log's URL [default: `ledger` in the config file, else the policy's log.url].
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// Whether --ledger was given on the command line rather than by the environment or the
    /// config file (set by `crate::config::resolve`).
    #[arg(skip)]
    pub ledger_on_command_line: bool,
    /// Where the last verified checkpoint of each log is kept
    /// [default: $XDG_STATE_HOME/reprove, else ~/.local/state/reprove].
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Where full tiles and entry bundles are cached (immutable, re-proven on every use)
    /// [default: $XDG_CACHE_HOME/reprove/tiles, else ~/.cache/reprove/tiles].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

/// Why a key is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RevokeReason {
    /// The private key leaked or may have: attestations from the effective index on (by
    /// default, the notice's own index) are rejected.
    Compromised,
    /// The key is no longer used.
    Retired,
    /// The key is replaced by --replacement.
    Superseded,
}

/// Append a signed revocation notice for a key to the log.
///
/// The notice is signed by the revoked key itself (--key is its private key file), or by the
/// operator's recovery key named in consumers' policies (--recovery-key; --key is then the
/// revoked key's vkey, or a file holding it, so a key that is lost can still be revoked).
/// Attestations logged before the effective index stay valid; later ones are rejected.
#[derive(Debug, Args)]
#[command(after_help = super::examples::KEY_REVOKE)]
pub struct KeyRevoke {
    /// The key to revoke: its private key file (`PRIVATE+KEY+…`), or, with --recovery-key,
    /// its vkey (`name+id+key`) or a file holding it (such as NAME.pub).
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// Why.
    #[arg(long, value_enum)]
    pub reason: RevokeReason,
    /// The first log index from which the key is no longer trusted [default: the notice's own
    /// index]. A compromise never takes effect later than the notice itself.
    #[arg(long, value_name = "N")]
    pub effective_index: Option<u64>,
    /// The key that takes over (a vkey or a file holding one); required for `superseded`.
    #[arg(long, value_name = "VKEY")]
    pub replacement: Option<String>,
    /// Sign with this recovery key (private key file) instead of the revoked key.
    #[arg(long, value_name = "FILE")]
    pub recovery_key: Option<PathBuf>,
    /// A short note for humans.
    #[arg(long)]
    pub comment: Option<String>,
    /// The log's URL (required: here, in the environment or as `ledger` in the config file).
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's verifier key: when given, the log's answer (checkpoint and inclusion proof)
    /// is verified under it.
    #[command(flatten)]
    pub log_key: super::LogKeyArgs,
    /// Revoke without asking. On a terminal, `key revoke` shows the notice and asks before
    /// appending it (the log keeps it forever); without a terminal it never asks.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
