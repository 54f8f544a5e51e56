//! `reprove ledger fsck`: the core's fsck, as a report.

use std::io::Write;

use anyhow::Context;

use reprove_ledger::{FsckOptions, fsck};

use super::log_key;
use crate::Outcome;
use crate::cli::LedgerFsck;

/// Runs fsck on a stopped log; `No` when it found problems.
pub fn run(args: &LedgerFsck) -> anyhow::Result<Outcome> {
    let key = log_key(&args.data, args.log_key.as_deref())?;
    // By default fsck re-derives every entry's index keys as `POST /add` does, so it checks
    // that each entry has exactly the index records the log should have written for it.
    let report = fsck(&args.data, &key, &FsckOptions::default())
        .with_context(|| format!("checking the log in {}", args.data.display()))?;
    let mut out = std::io::stdout().lock();
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    if args.json {
        let v = serde_json::json!({
            "data": args.data,
            "origin": key.name(),
            "clean": report.is_clean(),
            "size": report.size,
            "root": hex::encode(report.root),
            "checkpoints": report.checkpoints,
            "index_records": report.index_records,
            "problem_count": report.problem_count,
            "problems": problems,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "{}: tree size {}, root {}, {} signed checkpoints, {} index records",
            key.name(),
            report.size,
            hex::encode(report.root),
            report.checkpoints,
            report.index_records
        )?;
        for p in &problems {
            writeln!(out, "problem: {p}")?;
        }
        if report.problem_count > problems.len() as u64 {
            writeln!(
                out,
                "… and {} more problems",
                report.problem_count - problems.len() as u64
            )?;
        }
        if report.is_clean() {
            writeln!(out, "clean")?;
        } else {
            writeln!(out, "{} problems found", report.problem_count)?;
        }
    }
    Ok(if report.is_clean() {
        Outcome::Ok
    } else {
        Outcome::No
    })
}
