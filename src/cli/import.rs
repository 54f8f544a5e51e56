//! `reprove import …`: release manifests derived from an ecosystem's own metadata.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::LogKeyArgs;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Log a release manifest for a pure-Python wheel on a PyPI simple index, inferred from
    /// the published sdist and wheel, signed by your key as a third-party import.
    ///
    /// Reads the index (PEP 691 JSON, else PEP 503 HTML), downloads the sdist and the
    /// py3-none-any wheel and checks each against the index's sha256, pins the build backend
    /// from the wheel's `*.dist-info/WHEEL` `Generator:` line (and its requires, by date),
    /// and infers SOURCE_DATE_EPOCH from the wheel's zip dates. What cannot be inferred (no
    /// Generator line, a yanked release, a digest the index gets wrong, an unknown backend)
    /// is refused with exit 2 and nothing is logged.
    Pypi(ImportPypi),
    /// Log a release manifest for a binary crate on a crates.io-style sparse registry, built
    /// from its `.crate` with every dependency of its Cargo.lock vendored and checksum-pinned,
    /// signed by your key as a third-party import.
    ///
    /// Reads the registry's sparse index for the version's `cksum`, downloads the `.crate` and
    /// checks it, requires a Cargo.lock and at least one binary target inside, pins each
    /// registry package of the Cargo.lock by URL and checksum (checked against the download
    /// and the index) and the rustc of this machine by version. No published binary exists:
    /// the release names its binaries without digests, and rebuilders must agree with each
    /// other. A yanked or unknown version, a digest the index gets wrong, a crate without
    /// Cargo.lock or binary, a git or path dependency: refused with exit 2, nothing logged.
    Crate(ImportCrate),
    /// Log a release manifest for a Debian source package, from the archive's signed
    /// metadata, signed by your key as a third-party import.
    ///
    /// Fetches the suite's InRelease and checks its OpenPGP signature with Debian's archive
    /// keyring (gpgv), then Sources.xz and Packages.xz by the sha256 InRelease lists; downloads
    /// the .dsc, its files and the binary .debs the source built for the architecture (the
    /// artifacts), each checked against the signed indices. The build root is the .buildinfo's
    /// Installed-Build-Depends (--buildinfo; exact versions the mirror still has, else a
    /// refusal) or the suite's current versions, each .deb pinned by URL and sha256.
    /// SOURCE_DATE_EPOCH is the top debian/changelog entry's date. A bad signature, a digest
    /// the mirror gets wrong or an unknown source or version is refused with exit 2 and nothing
    /// is logged.
    Debian(ImportDebian),
}

#[derive(Debug, Args)]
#[command(after_help = super::examples::IMPORT_CRATE)]
pub struct ImportCrate {
    /// The release, as NAME@VERSION (an exact version).
    #[arg(value_name = "NAME@VERSION")]
    pub spec: String,
    /// The sparse registry's index URL (its `config.json` names the download URL).
    #[arg(long, value_name = "URL", default_value = "https://index.crates.io")]
    pub registry: String,
    /// Who signs, and where the manifest goes.
    #[command(flatten)]
    pub to: ImportTo,
}

#[derive(Debug, Args)]
#[command(after_help = super::examples::IMPORT_DEBIAN)]
pub struct ImportDebian {
    /// The source package, as SOURCE=VERSION (an exact version, e.g. tree=2.1.0-1).
    #[arg(value_name = "SOURCE=VERSION")]
    pub spec: String,
    /// The Debian mirror's base URL.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://deb.debian.org/debian"
    )]
    pub mirror: String,
    /// The suite (codename) to read.
    #[arg(long, value_name = "SUITE", default_value = "bookworm")]
    pub suite: String,
    /// The architecture whose binary packages are the release's artifacts.
    #[arg(long, value_name = "ARCH", default_value = "amd64")]
    pub arch: String,
    /// The published build's .buildinfo: its Installed-Build-Depends become the build root.
    #[arg(long, value_name = "FILE")]
    pub buildinfo: Option<PathBuf>,
    /// The OpenPGP keyring InRelease must verify with.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/usr/share/keyrings/debian-archive-keyring.gpg"
    )]
    pub keyring: PathBuf,
    /// Who signs, and where the manifest goes.
    #[command(flatten)]
    pub to: ImportTo,
}

#[derive(Debug, Args)]
#[command(after_help = super::examples::IMPORT_PYPI)]
pub struct ImportPypi {
    /// The release, as NAME==VERSION (an exact version).
    #[arg(value_name = "NAME==VERSION")]
    pub spec: String,
    /// The simple index's base URL.
    #[arg(long, value_name = "URL", default_value = "https://pypi.org/simple")]
    pub index: String,
    /// Who signs, and where the manifest goes.
    #[command(flatten)]
    pub to: ImportTo,
}

/// What every importer takes: the importer's key, the ledger, the output.
#[derive(Debug, Args)]
pub struct ImportTo {
    /// The importer's private key (`PRIVATE+KEY+…` file from `reprove key generate`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The ledger's URL prefix; required unless --dry-run, here, in the environment or as
    /// `ledger` in the config file.
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's verifier key: when given, the ledger's answer is verified before the index
    /// is printed.
    #[command(flatten)]
    pub log_key: LogKeyArgs,
    /// Print the signed release manifest instead of submitting it.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
