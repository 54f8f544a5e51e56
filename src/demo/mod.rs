//! `reprove demo`: the whole story on one machine, narrated, with every outcome checked.
//!
//! Everything runs for real: a RocksDB ledger served on 127.0.0.1, keys made by `reprove key
//! generate`, releases published with `reprove release publish`, three `reprove rebuilder run`
//! nodes rebuilding in bubblewrap sandboxes, `reprove verify` / `gate` / `key revoke` as a
//! consumer and a key owner would run them. Each step states what the story expects and checks
//! it; a different outcome stops the demo with exit 1 (an error of the machinery: exit 2).

mod files;
mod procs;
mod story;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::Outcome;
use procs::Procs;

/// How the demo runs.
#[derive(Debug)]
pub struct DemoOptions {
    /// Where everything is kept; `None` means a temporary directory removed at the end.
    pub data: Option<PathBuf>,
    /// Stop when the story is told instead of serving the ledger until Ctrl-C.
    pub exit: bool,
}

/// An outcome that differs from the story: the demo fails with exit 1 and says which.
#[derive(Debug)]
pub struct StoryBroken(pub String);

impl std::fmt::Display for StoryBroken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the demo's story did not happen as told: {}", self.0)
    }
}

impl std::error::Error for StoryBroken {}

/// Runs the demo.
pub fn run(options: &DemoOptions) -> anyhow::Result<Outcome> {
    let temp;
    let dir: &Path = match &options.data {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                anyhow::bail!(
                    "{} is not empty: the demo starts from nothing (choose a new directory)",
                    dir.display()
                );
            }
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::Builder::new().prefix("reprove-demo-").tempdir()?;
            temp.path()
        }
    };
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let mut procs = Procs::new(&dir.join("logs"))?;
    match story::tell(&dir, &mut procs, options) {
        Ok(()) => Ok(Outcome::Ok),
        Err(e) => match e.downcast_ref::<StoryBroken>() {
            Some(broken) => {
                eprintln!("error: {broken}");
                eprintln!("  everything is kept in {} for a look", dir.display());
                if options.data.is_none() {
                    // Keep the evidence: the temporary directory would vanish with us.
                    let kept = std::env::temp_dir()
                        .join(format!("reprove-demo-failed-{}", std::process::id()));
                    drop(procs);
                    let _ = copy_dir(&dir, &kept);
                    eprintln!("  (copied to {})", kept.display());
                }
                Ok(Outcome::No)
            }
            None => Err(e),
        },
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
