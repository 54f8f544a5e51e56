//! `reprove verify` (being built).

use crate::Outcome;
use crate::cli::Verify;

/// Runs the command.
pub fn run(_args: &Verify) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
