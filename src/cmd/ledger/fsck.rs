//! `reprove ledger fsck`: the core's fsck, as a report.

use std::fmt;
use std::path::Path;

use anyhow::Context;

use reprove_ledger::{FsckOptions, fsck};
use serde::Serialize;

use super::{log_key, write_problems};
use crate::Outcome;
use crate::cli::LedgerFsck;
use crate::report::Log;

/// Runs fsck on a stopped log; `No` when it found problems.
pub fn run(args: &LedgerFsck) -> anyhow::Result<Outcome> {
    let key = log_key(
        &args.data,
        args.key.log_key.as_deref(),
        args.key.log_key_file.as_deref(),
    )?;
    // By default fsck re-derives every entry's index keys as `POST /add` does, so it checks
    // that each entry has exactly the index records the log should have written for it.
    let report = fsck(&args.data, &key, &FsckOptions::default())
        .with_context(|| format!("checking the log in {}", args.data.display()))?;
    let checked = Checked {
        data: &args.data,
        log: Log::new(key.name(), report.size, &report.root),
        clean: report.is_clean(),
        checkpoints: report.checkpoints,
        index_records: report.index_records,
        index_root: report.index_root,
        index_pending: report.index_pending,
        index_behind: report.index_behind,
        problem_count: report.problem_count,
        problems: report.problems.iter().map(ToString::to_string).collect(),
    };
    crate::report::print(&checked, args.json)?;
    Ok(if checked.clean {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

/// What `ledger fsck` prints: what it checked, and the problems it found.
#[derive(Debug, Serialize)]
struct Checked<'a> {
    data: &'a Path,
    log: Log,
    /// No problems at all.
    clean: bool,
    checkpoints: u64,
    index_records: u64,
    /// The verifiable index's root re-derived from the entries.
    #[serde(serialize_with = "crate::report::as_hex")]
    index_root: [u8; 32],
    /// The log's records are of an earlier version: its verifiable index is derived when it
    /// is next served, and was not compared.
    index_pending: bool,
    /// The tree size the verifiable index covers when a crash left it a round behind the
    /// head: it is the entries' index at that size, and the rest is derived when the log is
    /// next opened for writing.
    #[serde(skip_serializing_if = "Option::is_none")]
    index_behind: Option<u64>,
    /// How many problems there were in all.
    problem_count: u64,
    /// The first problems, in the order found.
    problems: Vec<String>,
}

impl fmt::Display for Checked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: tree size {}, root {}, {} signed checkpoints, {} index records, index root {}",
            self.log.origin,
            self.log.tree_size,
            self.log.root,
            self.checkpoints,
            self.index_records,
            hex::encode(self.index_root)
        )?;
        if self.index_pending {
            writeln!(
                f,
                "the log's index records are of an earlier version: `reprove ledger serve` \
                 derives them and the verifiable index when it next starts"
            )?;
        }
        if let Some(size) = self.index_behind {
            writeln!(
                f,
                "the verifiable index covers tree size {size}, behind the head (a crash before \
                 the last round's index was stored); it is the entries' index at that size, and \
                 `reprove ledger serve` derives the rest when it next starts"
            )?;
        }
        write_problems(f, &self.problems, self.problem_count)
    }
}
