//! What a command prints on stdout: one value, serialised for `--json` and displayed for
//! people, so that the two cannot say different things. Each command's report type lives next
//! to its command (`cmd/…`); hints and notes for people still go to stderr, outside the report.
//! `verify` and `gate` print their own, richer reports (`consume::report`).

use std::fmt::Display;
use std::io::Write as _;

use serde::{Serialize, Serializer};

/// What a command prints: one value, serialised for `--json` and displayed for people. The
/// text is whole lines, each ending in a newline.
pub trait Report: Serialize + Display {}

impl<T: Serialize + Display> Report for T {}

/// Prints `report` on stdout: as one line of JSON with `--json`, otherwise as its text.
///
/// The JSON goes through a [`serde_json::Value`], whose objects keep their keys sorted: the
/// order `--json` output has always had, whatever the order of a report's fields.
pub fn print(report: &impl Report, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::to_value(report)?;
        writeln!(out, "{v}")?;
    } else {
        write!(out, "{report}")?;
    }
    Ok(())
}

/// A command that failed (exit 2), as `--json` readers get it on stdout: `{"error": "…",
/// "causes": ["…", …]}`, the outermost message first. People read the same on stderr.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub error: String,
    pub causes: Vec<String>,
}

impl Failure {
    pub fn of(err: &anyhow::Error) -> Failure {
        Failure {
            error: err.to_string(),
            causes: err.chain().skip(1).map(ToString::to_string).collect(),
        }
    }
}

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error: {}", self.error)?;
        for cause in &self.causes {
            write!(f, "\n  caused by: {cause}")?;
        }
        writeln!(f)
    }
}

/// Serialises a digest as lowercase hex, as reports spell every hash (`serialize_with`).
pub fn as_hex<S: Serializer>(digest: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(digest))
}

/// Serialises an optional digest as lowercase hex, or `null` (`serialize_with`).
pub fn as_hex_opt<S: Serializer>(digest: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    match digest {
        Some(d) => as_hex(d, s),
        None => s.serialize_none(),
    }
}
