//! `reprove rebuild` (being built).

use crate::Outcome;
use crate::cli::Rebuild;

/// Runs the command.
pub fn run(_args: &Rebuild) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
