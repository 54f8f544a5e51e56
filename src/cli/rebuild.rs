//! Arguments of the publisher and rebuilder commands.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = super::examples::RELEASE_PUBLISH)]
pub struct ReleasePublish {
    /// The publisher's manifest (TOML): project, version, source, recipe and artifacts. See
    /// `fixtures/hello-c/reprove.toml` for a commented example.
    #[arg(value_name = "MANIFEST.toml")]
    pub manifest: PathBuf,
    /// The publisher's private key (`PRIVATE+KEY+…` file from `reprove key generate`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The ledger's URL prefix (e.g. `http://127.0.0.1:8080`); required, here, in the
    /// environment or as `ledger` in the config file.
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's verifier key: when given, the ledger's answer (checkpoint signature and
    /// inclusion proof) is verified before the index is printed.
    #[command(flatten)]
    pub log_key: LogKeyArgs,
    /// Every artifact without a `url` in the manifest — and the source archive and root
    /// filesystem, when given by path — is published at PREFIX/<file name of its path>: an
    /// `https://` URL (or `http://` on loopback).
    #[arg(long, value_name = "PREFIX")]
    pub artifact_url_prefix: Option<String>,
    /// Allow local paths and `file://` or plain `http://` locations in the release. Rebuilders
    /// refuse such inputs (anyone can log a release; a node fetches only https://), so only
    /// this machine's `rebuild --manifest` can use them.
    #[arg(long)]
    pub local_only: bool,
    /// Publish through the release's set (`reprove release plan`/`upload`): the manifest's
    /// artifacts must be exactly the set's files, each artifact's URL becomes its release URL
    /// on the ledger (`/dl/<name>/<version>/<file>`), and logging the manifest seals the set.
    #[arg(long)]
    pub staged: bool,
    /// Print the signed release manifest instead of submitting it.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = super::examples::REBUILD)]
pub struct Rebuild {
    /// The release to rebuild, as NAME@VERSION (looked up in the log).
    #[arg(
        long,
        value_name = "NAME@VERSION",
        conflicts_with = "manifest",
        required_unless_present = "manifest"
    )]
    pub release: Option<String>,
    /// Build a local publisher manifest instead (no log, no key, nothing attested): the
    /// publisher's way to produce artifacts in the same sandbox rebuilders use, and, with
    /// --variations, to find out why a build is not reproducible before releasing it.
    #[arg(long, value_name = "MANIFEST.toml")]
    pub manifest: Option<PathBuf>,
    /// With --manifest: copy each output into DIR under its artifact name.
    #[arg(long, value_name = "DIR", requires = "manifest")]
    pub out: Option<PathBuf>,
    /// The ledger's URL prefix: needed with --release.
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's verifier key: needed with --release.
    #[command(flatten)]
    pub log_key: LogKeyArgs,
    /// The rebuilder's private key (`PRIVATE+KEY+…`): signs the attestation and blob uploads.
    #[arg(long, value_name = "FILE", required_unless_present = "manifest")]
    pub key: Option<PathBuf>,
    /// Rebuild the release as signed by this publisher key (vkey); repeatable. The log is asked
    /// for this key's manifests only, so nobody else's claim to NAME@VERSION is built. Without
    /// it, the earliest manifest by anyone, with a warning.
    #[arg(long = "publisher", value_name = "VKEY", requires = "release")]
    pub publishers: Vec<String>,
    /// The work directory: inputs, build trees, build logs, diff reports and the signed
    /// attestation of each job (`release-<index>/`).
    #[arg(long, value_name = "DIR", default_value = "reprove-work")]
    pub work: PathBuf,
    /// Append the attestation to the log and upload the build log and diff report it names
    /// to the ledger's blob store (without it, the signed attestation is only written to the
    /// work directory).
    #[arg(long)]
    pub submit: bool,
    /// Also build again with a different build path, clock, locale, time zone, umask,
    /// hostname and directory order, and report which variation changed which output.
    #[arg(long)]
    pub variations: bool,
    /// Sandbox, limits and identity of the build.
    #[command(flatten)]
    pub build: BuildArgs,
    /// Also write a legacy in-toto link (v0.9 `Metablock`, step `rebuild`) of this rebuild to
    /// FILE, signed with the same key, for tools that consume links (as rebuilderd publishes):
    /// materials are the release entry and the source, products the rebuilt outputs.
    #[arg(long, value_name = "FILE", requires = "release")]
    pub in_toto_link: Option<PathBuf>,
    /// No progress on stderr (it is also off when stderr is not a terminal, and with --json).
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchHash {
    /// The file to hash (e.g. 1 GiB: `head -c 1G /dev/urandom > /tmp/big`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Passes per method; the best is reported.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub runs: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchSandbox {
    /// The fixture directory: a `src/` tree and a `reprove.toml` whose recipe is built.
    #[arg(long, value_name = "DIR", default_value = "fixtures/hello-c")]
    pub fixture: PathBuf,
    /// Builds per side (inside and outside bwrap, alternating); medians are compared.
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub runs: usize,
    /// Where to build [default: a temporary directory].
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The log's verifier key, inline or from a file: shared by every command that takes one
/// (`crate::keys` reads it). Giving both flags is an error, found when the key is read: clap
/// cannot tell a `--log-key` flag from `REPROVE_LOG_KEY`, and a `--log-key-file` flag beats the
/// environment.
#[derive(Debug, Args)]
pub struct LogKeyArgs {
    /// The log's verifier key (vkey): every checkpoint must be signed by it, and a release is
    /// trusted only when proven under such a checkpoint [default: `log_key` in the config
    /// file].
    #[arg(long, value_name = "VKEY", env = "REPROVE_LOG_KEY")]
    pub log_key: Option<String>,
    /// A file holding the log's verifier key (such as the ledger's `log.pub`), instead of
    /// --log-key.
    #[arg(long, value_name = "FILE")]
    pub log_key_file: Option<PathBuf>,
}

/// How a rebuilder builds: shared by `reprove rebuild` and `reprove rebuilder run`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// DANGEROUS: build without bubblewrap. The build sees the network and this machine, and
    /// the attestation says `"sandbox": {"kind": "none"}`. Only for machines without bubblewrap.
    #[arg(long)]
    pub insecure_no_sandbox: bool,
    /// Kill a build after this long (it is attested as `build-failed`).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = super::duration)]
    pub timeout: Duration,
    /// Address-space limit of the build's processes, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 8192)]
    pub memory: u64,
    /// Keep at most this many KiB of build log.
    #[arg(long, value_name = "KIB", default_value_t = 4096)]
    pub max_log: usize,
    /// The rust toolchain directory mounted read-only at /opt/rust [default: the output of
    /// `rustc --print sysroot`].
    #[arg(long, value_name = "DIR")]
    pub rust_toolchain: Option<PathBuf>,
    /// The attestations' builder id [default: the key's name].
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,
    /// The host account builds run as: an account NAME or UID:GID, never root. A node running
    /// as root always drops to it [default when root: nobody; give an account of its own].
    #[arg(long, value_name = "USER", env = "REPROVE_BUILD_USER")]
    pub build_user: Option<String>,
    /// Most processes of the build's host account at once (a fork bomb stops here).
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_procs: u64,
    /// Size of the build's /tmp (a tmpfs: memory), in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    pub tmp_size: u64,
    /// Most disk the build tree and home may use, in MiB (also the largest single file).
    #[arg(long, value_name = "MIB", default_value_t = 32768)]
    pub max_disk: u64,
    /// Most files and directories the build tree and home may hold.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_files: u64,
    /// A cgroup v2 directory delegated to this node (systemd: Delegate=yes; `memory` and `pids`
    /// enabled in its cgroup.subtree_control). Each build then runs in a child of it whose
    /// memory.max (--memory, all processes and tmpfs together) and pids.max (--max-procs)
    /// bound the whole build.
    #[arg(long, value_name = "DIR")]
    pub cgroup: Option<PathBuf>,
}
