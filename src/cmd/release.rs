//! `reprove release` (being built).

use crate::Outcome;
use crate::cli::ReleasePublish;

/// Runs the command.
pub fn publish(_args: &ReleasePublish) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
