//! The `reprove` library: everything the command does, so that it can be read, tested and
//! reused without going through the command line. `main.rs` only parses arguments, runs
//! [`cmd::run`] and maps its [`Outcome`] to an exit code.
//!
//! Modules: `cli/` the arguments (clap); `cmd/` one module per subcommand; `client.rs` the
//! HTTP client of a ledger (the only way the binary reaches one, `reprove ledger …` on the
//! operator's own data directory aside); `consume/` verify, gate, bundle; `rebuild/` the
//! sandboxed rebuild; `rebuilder/` the rebuilder node; `demo/` the fixture story; `keys.rs`
//! reading keys; `config.rs` the config file and environment behind the flags; `sign.rs` signing entries; `hash.rs` file digests; `link.rs` in-toto links;
//! `progress.rs` progress bars; `report.rs` what a command prints (one value, for `--json` and
//! for people).

pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod consume;
pub mod demo;
pub mod hash;
pub mod import;
pub mod keys;
pub mod link;
pub mod progress;
pub mod rebuild;
pub mod rebuilder;
pub mod report;
pub mod sign;

/// What a subcommand concluded, when it ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out (exit 0).
    Ok,
    /// The command worked, and the answer is "no": not trusted, not reproducible (exit 1).
    No,
}
