//! `reprove bench_hash` (being built).

use crate::Outcome;
use crate::cli::BenchHash;

/// Runs the command.
pub fn run(_args: &BenchHash) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
