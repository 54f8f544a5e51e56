//! `reprove revoke` (being built).

use crate::Outcome;
use crate::cli::KeyRevoke;

/// Runs the command.
pub fn run(_args: &KeyRevoke) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
