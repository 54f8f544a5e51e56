//! Staged releases: `release plan`, `upload`, `announce`, `withdraw`, `yank`, `installer`,
//! and `reprove latest`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{ConsumerArgs, LogKeyArgs};

/// Where a publisher's staged-release command talks to, and who it is.
#[derive(Debug, Args)]
pub struct PublisherArgs {
    /// The publisher's private key (`PRIVATE+KEY+…` file from `reprove key generate`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The ledger's URL prefix (e.g. `http://127.0.0.1:8080`); required, here, in the
    /// environment or as `ledger` in the config file.
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Plan a release: create its artifact set, whose URLs are fixed from now on.
///
/// Prints the set URL (`/sets/<id>/<file>`: the preview, live as soon as a file is uploaded)
/// and the release URL (`/dl/<name>/<version>/<file>`: live once the release is published),
/// so installers can embed them before anything is built. Planning again is harmless.
#[derive(Debug, Args)]
#[command(after_help = super::examples::RELEASE_PLAN)]
pub struct ReleasePlan {
    /// The release, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    #[command(flatten)]
    pub publisher: PublisherArgs,
}

/// Upload files into a planned release's set (streamed; each signed by the publisher key).
#[derive(Debug, Args)]
#[command(after_help = super::examples::RELEASE_UPLOAD)]
pub struct ReleaseUpload {
    /// The release, as NAME@VERSION (planned with `reprove release plan`).
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    /// The files; each is stored under its file name.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub publisher: PublisherArgs,
}

/// Announce a published release: only when every artifact satisfies the policy (the gate)
/// is an announcement logged, and only an announcement moves "latest".
#[derive(Debug, Args)]
#[command(after_help = super::examples::RELEASE_ANNOUNCE)]
pub struct ReleaseAnnounce {
    /// The release, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    /// The publisher's private key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The policy the release must satisfy, and where the log is read.
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Keep checking until the gate passes, for at most this long.
    #[arg(long, value_name = "DURATION", value_parser = super::duration)]
    pub wait: Option<Duration>,
    /// The time between two checks while waiting (at least 1s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = super::duration)]
    pub interval: Duration,
    /// Announce without reproduction (a security fix cannot always wait): logged as such, and
    /// each consumer's policy decides (`on_unverified`). Needs --reason.
    #[arg(long, requires = "reason")]
    pub unverified: bool,
    /// Why the release is announced without reproduction.
    #[arg(long, value_name = "TEXT", requires = "unverified")]
    pub reason: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Withdraw a release before its announcement: its URLs stop serving (410 with the reason).
#[derive(Debug, Args)]
#[command(after_help = super::examples::RELEASE_WITHDRAW)]
pub struct ReleaseWithdraw {
    /// The release, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    /// Why (shown with the 410 and in the log).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    #[command(flatten)]
    pub publisher: PublisherArgs,
}

/// Yank an announced release: latest moves back to the previous announced version; the bytes
/// stay downloadable with a warning; `reprove verify` reports it (`on_yanked`).
#[derive(Debug, Args)]
#[command(after_help = super::examples::RELEASE_YANK)]
pub struct ReleaseYank {
    /// The release, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    /// Why.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The version to use instead.
    #[arg(long, value_name = "VERSION")]
    pub replacement: Option<String>,
    #[command(flatten)]
    pub publisher: PublisherArgs,
}

/// Write a POSIX shell installer for a published release.
///
/// The installer holds the release URLs, the SHA-256 of each artifact and the log's origin and
/// key. It fails closed: without `sha256sum`, `shasum` or `openssl` it refuses; a file with
/// another digest is refused; when `reprove` is on the PATH it also runs `reprove verify` and
/// refuses what is not trusted. Files land in $INSTALL_DIR (default ./NAME-VERSION) only when
/// all of them passed.
#[derive(Debug, Args)]
#[command(after_help = super::examples::RELEASE_INSTALLER)]
pub struct ReleaseInstaller {
    /// The release, as NAME@VERSION.
    #[arg(value_name = "NAME@VERSION")]
    pub release: String,
    /// Where to write the installer.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,
    /// The ledger's URL prefix.
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's key: the release manifest is proven under it before anything is baked in.
    #[command(flatten)]
    pub log_key: LogKeyArgs,
    /// Print a summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Which version of a project is latest, derived from the log and proven: the newest
/// announcement by a publisher the policy trusts for it that was not withdrawn or yanked.
/// A ledger that serves another one as `/dl/<name>/latest/` is caught (exit 2).
#[derive(Debug, Args)]
#[command(after_help = super::examples::LATEST)]
pub struct Latest {
    /// The project.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The policy (its publishers for NAME speak for it), and where the log is read.
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
