//! `reprove gate` (being built).

use crate::Outcome;
use crate::cli::Gate;

/// Runs the command.
pub fn run(_args: &Gate) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
