//! `reprove bench hash` and `reprove bench sandbox` (being built).

use crate::Outcome;
use crate::cli::{BenchHash, BenchSandbox};

/// Runs `reprove bench hash`.
pub fn hash(_args: &BenchHash) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}

/// Runs `reprove bench sandbox`.
pub fn sandbox(_args: &BenchSandbox) -> anyhow::Result<Outcome> {
    anyhow::bail!("this command is not built yet")
}
