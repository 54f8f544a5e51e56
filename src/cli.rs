//! Command-line arguments, as typed values. No I/O here: `cmd/` resolves them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// reprove: check that a released binary really comes from its source.
///
/// Publishers record releases in an append-only transparency log; independent rebuilders
/// rebuild them and log signed attestations; consumers verify artifacts against their own
/// policy. Exit codes: 0 ok, 1 not trusted / not reproducible, 2 error.
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
    /// Manage signing keys (Ed25519, c2sp signed-note format).
    #[command(subcommand)]
    Key(KeyCommand),
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
}

#[derive(Debug, Args)]
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
