//! Command-line arguments, as typed values. No I/O here: `cmd/` resolves them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod consume;
mod duration;
mod examples;
mod import;
mod log;
mod onboard;
mod rebuild;
mod rebuilder;
mod staged;
mod web;

pub use consume::{Bundle, ConsumerArgs, Gate, KeyRevoke, RevokeReason, Verify};
pub use duration::{duration, duration_ms};
pub use import::{ImportCommand, ImportCrate, ImportDebian, ImportPypi, ImportTo};
pub use log::{LogCommand, LogShow, LogTail};
pub use onboard::{Init, PolicyInit};
pub use rebuild::{BenchHash, BenchSandbox, BuildArgs, LogKeyArgs, Rebuild, ReleasePublish};
pub use rebuilder::RebuilderRun;
pub use staged::{
    Latest, PublisherArgs, ReleaseAnnounce, ReleaseInstaller, ReleasePlan, ReleaseUpload,
    ReleaseWithdraw, ReleaseYank,
};
pub use web::BenchWeb;

/// reprove: check that a released binary really comes from its source.
///
/// Publishers record releases in an append-only transparency log; independent rebuilders
/// rebuild them and log signed attestations; consumers verify artifacts against their own
/// policy. Exit codes: 0 ok, 1 not trusted / not reproducible, 2 error.
///
/// The ledger's URL, the log's key and the consumer policy need not be retyped: each comes from
/// its flag (--ledger, --log-key or --log-key-file, --policy), else from the environment
/// (REPROVE_LEDGER, REPROVE_LOG_KEY, REPROVE_POLICY), else from the config file
/// ($REPROVE_CONFIG, else $XDG_CONFIG_HOME/reprove/config.toml, else
/// ~/.config/reprove/config.toml; TOML with the keys ledger, log_key and policy), else from
/// the built-in default. A flag beats the environment, which beats the config file.
///
/// Durations are written 500ms, 90s, 15m, 1h or 2d; a bare number is seconds.
#[derive(Debug, Parser)]
#[command(
    name = "reprove",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a project: write a commented publisher manifest (reprove.toml) for a directory.
    Init(Init),
    /// Consumer policies: `policy init` writes one that trusts a log.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Verify artifacts against your policy: proofs, signatures, revocations, threshold.
    Verify(Verify),
    /// Exit 0 only when every artifact of a release satisfies the policy (a release gate).
    Gate(Gate),
    /// Write a self-contained bundle for verifying a release offline.
    Bundle(Bundle),
    /// Browse the log from the command line: a release's entries, the newest entries.
    #[command(subcommand)]
    Log(LogCommand),
    /// Publish releases: plan, upload, publish, announce, withdraw, yank.
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Which version of a project is latest, proven from the log.
    Latest(Latest),
    /// Import a release from an ecosystem's own metadata (PyPI) as a third-party manifest.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Rebuild one release in a sandbox, compare bit for bit, and attest the outcome.
    Rebuild(Rebuild),
    /// Run a rebuilder node that follows the log and rebuilds every release.
    #[command(subcommand)]
    Rebuilder(RebuilderCommand),
    /// Manage signing keys (Ed25519, c2sp signed-note format) and revoke them.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Run and check a transparency log: init, serve, fsck, audit, export.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// The whole story on this machine: a ledger, a publisher, three rebuilders, a consumer.
    Demo(Demo),
    /// Print shell completions for SHELL to stdout.
    Completions(Completions),
    /// Print the man page (roff) to stdout.
    Man,
    /// Load generators and throughput measurements (loopback only unless told otherwise).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Write a commented consumer policy trusting the log at --ledger, under its verified key.
    Init(PolicyInit),
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Plan a release: its artifact set and URLs, fixed before anything is built.
    Plan(ReleasePlan),
    /// Upload files into a planned release's set (the preview at the set URL).
    Upload(ReleaseUpload),
    /// Hash the artifacts, sign a release manifest and append it to the log; prints its index.
    /// With --staged, seals the release's set (the release URLs serve its files).
    Publish(ReleasePublish),
    /// Announce a release once it satisfies the policy: moves "latest".
    Announce(ReleaseAnnounce),
    /// Withdraw a release that was not announced: its URLs answer 410.
    Withdraw(ReleaseWithdraw),
    /// Yank an announced release: latest moves back; downloads carry a warning.
    Yank(ReleaseYank),
    /// Write a POSIX shell installer that checks what it downloads.
    Installer(ReleaseInstaller),
}

#[derive(Debug, Subcommand)]
pub enum RebuilderCommand {
    /// Follow the log and rebuild every release, with a durable job table (the long-running node).
    Run(RebuilderRun),
}

#[derive(Debug, Args)]
#[command(after_help = examples::DEMO)]
pub struct Demo {
    /// Keep everything (ledger data, keys, policy, work directories) in this directory.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Stop as soon as the story is told instead of serving the ledger until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
}

#[derive(Debug, Args)]
#[command(after_help = examples::COMPLETIONS)]
pub struct Completions {
    /// The shell to generate completions for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a new key pair: NAME.key (private, mode 0600) and NAME.pub (the verifier key).
    ///
    /// The private key is written in the `PRIVATE+KEY+<name>+<id>+<key>` format used by Go's
    /// golang.org/x/mod/sumdb/note and the C2SP tools; the public key is a vkey line
    /// `<name>+<id>+<key>`. Existing files are never overwritten. Characters of NAME that are not
    /// safe in a file name (such as `/`) are replaced by `_` in the file names only.
    Generate(KeyGenerate),
    /// Append a signed revocation notice for a key to the log.
    Revoke(KeyRevoke),
}

#[derive(Debug, Args)]
#[command(after_help = examples::KEY_GENERATE)]
pub struct KeyGenerate {
    /// The key name, e.g. `rebuilder.example.org` or, for a log, its origin
    /// (`log.example.org/reprove`). No whitespace and no `+`.
    #[arg(long)]
    pub name: String,
    /// Directory to write the key files into (created if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create a new, empty log in DIR and sign its first checkpoint.
    ///
    /// DIR must not exist or be empty: init never touches an existing log. Without --key a
    /// fresh Ed25519 log key named ORIGIN is generated and written to DIR/log.key (mode 0600);
    /// with --key the given key is used and nothing secret is written. Either way the log's
    /// verifier key (vkey) is written to DIR/log.pub and printed on stdout: it is what
    /// auditors, witnesses and verifiers trust.
    Init(LedgerInit),
    /// Serve a log over HTTP: the tlog-tiles read API, lookups and POST /add.
    ///
    /// Refuses a directory that is not an initialized log, and a log whose stored tree does
    /// not match its last signed checkpoint. Prints `listening on http://ADDR` once bound.
    /// SIGINT or SIGTERM stops accepting connections, answers every submission already
    /// accepted (finishing the round in flight) and exits 0. Logs go to stderr (RUST_LOG).
    Serve(LedgerServe),
    /// Re-check a stopped log from its entries: every hash, tile, dedup and index record and
    /// signed checkpoint. Exit 0 clean, 1 problems found, 2 error.
    Fsck(LedgerFsck),
    /// Audit a log from outside, through its public read API only: verify the checkpoint,
    /// fetch every tile and entry bundle, recompute every hash and the root.
    /// Exit 0 clean, 1 problems found, 2 error (such as the log being unreachable).
    Audit(LedgerAudit),
    /// Write the read API of a log (checkpoint, tiles, entry bundles) as static files that
    /// any web server can serve unchanged, at the same paths.
    ///
    /// OUT may hold an earlier export of the same log: full tiles and bundles are immutable and
    /// kept (and checked to be unchanged), partial ones are added, and the checkpoint is
    /// written last, so a web server serving OUT always serves a complete tree.
    Export(LedgerExport),
}

#[derive(Debug, Args)]
#[command(after_help = examples::LEDGER_INIT)]
pub struct LedgerInit {
    /// The log's data directory (created; must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The log's origin: a schema-less URL such as `log.example.org/reprove`. The log key's
    /// name must be this origin.
    #[arg(long)]
    pub origin: String,
    /// Use this private key (a `PRIVATE+KEY+…` file, e.g. from `reprove key generate`)
    /// instead of generating one. Its name must equal ORIGIN.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = examples::LEDGER_SERVE)]
pub struct LedgerServe {
    /// The log's data directory (made by `reprove ledger init`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The log's private key [default: DIR/log.key].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Accept submissions only from these signers: a file with one vkey per line (`#` starts a
    /// comment). Without it any validly self-signed envelope is accepted.
    #[arg(long, value_name = "FILE")]
    pub allow_keys: Option<PathBuf>,
    /// A sequencing round runs at the latest this long after its oldest submission arrived
    /// (a bare number is milliseconds here, as it always was).
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = duration_ms)]
    pub batch_max_age: std::time::Duration,
    /// A round runs as soon as this many submissions wait, and takes at most this many.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub batch_max_size: usize,
    /// How many submissions may wait at once; more are refused with 503 + Retry-After.
    #[arg(long, value_name = "N", default_value_t = 16_384)]
    pub pool_capacity: usize,
    /// The largest blob (build log, diff report) `PUT /blobs/sha256/<hex>` stores, in bytes;
    /// larger uploads are refused with 413 before their body is read.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub max_blob_bytes: usize,
    /// The most blob uploads streamed at once; more are answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_blob_uploads: usize,
    /// The most blob bytes one key may store in all (its attestations' build logs and diff
    /// reports); past it, uploads are refused with 403.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 30)]
    pub max_blob_bytes_per_key: u64,
    /// The largest file a staged release's set takes (`reprove release upload`); larger
    /// uploads are refused with 413 before a byte is read.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 30)]
    pub max_artifact_bytes: u64,
    /// NAME=VKEY: a key that may plan, upload, publish, announce, withdraw and yank the
    /// project NAME's releases here (repeatable). A project named here is owned by these keys
    /// only; any other project is owned by the key that plans its first set.
    #[arg(long = "project-key", value_name = "NAME=VKEY")]
    pub project_keys: Vec<String>,
}

/// The log key of a log in a data directory (`ledger fsck`, `ledger export`): by default its
/// own `log.pub`, never REPROVE_LOG_KEY — the log is the one in the directory.
#[derive(Debug, Args)]
pub struct DataDirLogKey {
    /// The log's verifier key (not read from REPROVE_LOG_KEY: this log is the one in DIR)
    /// [default: DIR/log.pub].
    #[arg(long, value_name = "VKEY", conflicts_with = "log_key_file")]
    pub log_key: Option<String>,
    /// A file holding the log's verifier key, instead of --log-key.
    #[arg(long, value_name = "FILE")]
    pub log_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = examples::LEDGER_FSCK)]
pub struct LedgerFsck {
    /// The log's data directory. Stop the server first: fsck checks a still log.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    #[command(flatten)]
    pub key: DataDirLogKey,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = examples::LEDGER_AUDIT)]
pub struct LedgerAudit {
    /// The log's URL prefix (e.g. `http://127.0.0.1:8080`); `<URL>/checkpoint` is fetched.
    /// The same as --ledger URL.
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// The log's URL prefix, as every other command takes it (URL, when given, wins).
    #[arg(long, value_name = "URL", env = "REPROVE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's verifier key (required); the checkpoint must be signed by it.
    #[command(flatten)]
    pub log_key: LogKeyArgs,
    /// Also check that every entry is a well-formed DSSE envelope.
    #[arg(long)]
    pub dsse: bool,
    /// Keep full tiles and bundles in this directory and reuse them on the next run (they
    /// are immutable, and re-verified on every use).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub parallel: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(after_help = examples::LEDGER_EXPORT)]
pub struct LedgerExport {
    /// The log's data directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Where to write the static files (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub key: DataDirLogKey,
    /// Print a summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Load a running ledger: writers POST signed envelopes, readers fetch tiles. Reports
    /// sustained appends/s, submit-to-durable-answer latency and tiles/s.
    ///
    /// Envelopes are signed before the clock starts, so signing is not measured. Every answer's
    /// inclusion proof is checked against its checkpoint's root; the run stops at --seconds or
    /// --max-requests. Closed loop: each writer waits for its answer (about one batch age plus
    /// one round), so keeping a 2-core server busy at the default 50 ms batch age takes about
    /// 1,500 writers. Writers are tasks on one thread, so thousands cost little; plain http://
    /// only.
    Ledger(BenchLedger),
    /// Hash a file with sha256 alone, blake3 alone, and both in one pass; report throughput.
    Hash(BenchHash),
    /// Time the same fixture build inside and outside the sandbox; report the overhead ratio.
    Sandbox(BenchSandbox),
    /// Load the web pages of a running ledger; report median and p99 page times.
    Web(BenchWeb),
}

#[derive(Debug, Args)]
pub struct BenchLedger {
    /// The ledger's URL prefix. Must be a loopback address unless --allow-remote. Not read
    /// from REPROVE_LEDGER: a load generator is aimed by hand.
    #[arg(long = "ledger", alias = "url", value_name = "URL")]
    pub url: String,
    /// Concurrent writers, each with its own keep-alive connection, submitting back to back.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub writers: usize,
    /// Reader threads fetching random full tiles and entry bundles.
    #[arg(long, value_name = "M", default_value_t = 2)]
    pub readers: usize,
    /// How long to run.
    #[arg(long, alias = "seconds", value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub duration: std::time::Duration,
    /// Stop after this many requests in all (writes and reads).
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    pub max_requests: u64,
    /// Sign envelopes with these private keys (round robin); needed when the server has an
    /// allow-list. Without it one throwaway key is generated.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub key: Vec<PathBuf>,
    /// Share of submissions that repeat an envelope already submitted (exercises dedup).
    #[arg(long, value_name = "R", default_value_t = 0.05)]
    pub dedup_ratio: f64,
    /// Envelopes to sign up front; writers stop early if they run out.
    #[arg(long, value_name = "N")]
    pub pool: Option<usize>,
    /// Allow a non-loopback URL (you are about to load someone's server).
    #[arg(long)]
    pub allow_remote: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renamed flags keep their old spellings, and durations their old bare numbers.
    #[test]
    fn old_spellings_still_parse() {
        let parse = |args: &str| Cli::try_parse_from(args.split(' ')).map(|c| c.command);
        let Ok(Command::Bench(BenchCommand::Ledger(b))) =
            parse("reprove bench ledger --url http://127.0.0.1:1 --seconds 7")
        else {
            panic!("bench ledger --url --seconds");
        };
        assert_eq!(
            (b.url.as_str(), b.duration.as_secs()),
            ("http://127.0.0.1:1", 7)
        );
        let Ok(Command::Ledger(LedgerCommand::Serve(s))) =
            parse("reprove ledger serve --data d --batch-max-age 50")
        else {
            panic!("ledger serve");
        };
        assert_eq!(s.batch_max_age.as_millis(), 50);
        let Ok(Command::Rebuilder(RebuilderCommand::Run(r))) = parse(
            "reprove rebuilder run --ledger http://x --log-key k --key k --work w \
             --poll-interval 0.2 --timeout 90",
        ) else {
            panic!("rebuilder run");
        };
        assert_eq!(r.poll_interval.as_millis(), 200);
        assert_eq!(r.build.timeout.as_secs(), 90);
        assert!(parse("reprove gate a@1 --wait 5y").is_err());
    }
}
