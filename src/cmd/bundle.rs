//! `reprove bundle` (being built).

use crate::Outcome;
use crate::cli::Bundle;

/// Runs the command.
pub fn run(_args: &Bundle) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
