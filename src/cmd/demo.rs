//! `reprove demo` (being built).

use crate::Outcome;
use crate::cli::Demo;

/// Runs the command.
pub fn run(_args: &Demo) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
