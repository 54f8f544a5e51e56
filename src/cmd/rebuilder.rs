//! `reprove rebuilder` (being built).

use crate::Outcome;
use crate::cli::RebuilderRun;

/// Runs the command.
pub fn run(_args: &RebuilderRun) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
