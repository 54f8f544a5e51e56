//! `reprove bench_web` (being built).

use crate::Outcome;
use crate::cli::BenchWeb;

/// Runs the command.
pub fn run(_args: &BenchWeb) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
