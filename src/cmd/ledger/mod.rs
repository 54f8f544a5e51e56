//! `reprove ledger …`: one file per subcommand, and the few things they share (where a log's
//! key files live, reading keys, explaining why a log will not open).

pub mod audit;
pub mod export;
pub mod fsck;
pub mod init;
pub mod serve;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use reprove_ledger::{Error, ErrorKind};
use reprove_verifier::note::NoteVerifier;

/// The private log key `init` generates, inside the data directory (mode 0600).
pub const KEY_FILE: &str = "log.key";

/// The log's verifier key, written by `init` inside the data directory.
pub const PUB_FILE: &str = "log.pub";

pub use crate::keys::read_signer;

/// The log key given on the command line (`--log-key` or `--log-key-file`), else the one in
/// `DIR/log.pub`.
pub fn log_key(
    data: &Path,
    given: Option<&str>,
    file: Option<&Path>,
) -> anyhow::Result<NoteVerifier> {
    if let Some(key) = crate::keys::log_key(given, file)? {
        return Ok(key);
    }
    let path = data.join(PUB_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading the log's verifier key {} (or give it with --log-key)",
            path.display()
        )
    })?;
    NoteVerifier::parse(text.trim())
        .with_context(|| format!("{} is not a verifier key", path.display()))
}

/// The private key for `serve`: `--key`, else `DIR/log.key`.
pub fn key_path(data: &Path, given: Option<&PathBuf>) -> PathBuf {
    given.cloned().unwrap_or_else(|| data.join(KEY_FILE))
}

/// Explains why a log did not open, in the operator's terms.
pub fn open_error(data: &Path, e: Error) -> anyhow::Error {
    let hint = match e.kind() {
        ErrorKind::Integrity => format!(
            "refusing to use {}: its stored tree does not match its last signed checkpoint \
             (wrong log key, or damaged storage; run `reprove ledger fsck --data {}`)",
            data.display(),
            data.display()
        ),
        ErrorKind::Conflict => format!("refusing to use {}", data.display()),
        _ => format!("opening the log in {}", data.display()),
    };
    anyhow::Error::new(e).context(hint)
}

/// The problems listed, how many more there were, and the conclusion: the end of both the
/// inside (`fsck`) and the outside (`audit`) check's text.
fn write_problems(
    f: &mut fmt::Formatter<'_>,
    problems: &[String],
    problem_count: u64,
) -> fmt::Result {
    for p in problems {
        writeln!(f, "problem: {p}")?;
    }
    if problem_count > problems.len() as u64 {
        writeln!(
            f,
            "… and {} more problems",
            problem_count - problems.len() as u64
        )?;
    }
    if problem_count == 0 {
        writeln!(f, "clean")
    } else {
        writeln!(f, "{problem_count} problems found")
    }
}
