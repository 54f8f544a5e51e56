//! What a command prints on stdout: one value, serialised for `--json` and displayed for
//! people, so that the two cannot say different things. Each command's report type lives next
//! to its command (`cmd/…`); hints and notes for people still go to stderr, outside the report.
//! `verify` and `gate` print their own, richer reports (`consume::report`), through [`json`] too.
//!
//! Every `--json` object carries `"schema": "reprove/v1"` ([`SCHEMA`]), and every field name
//! means one thing in every command: `docs/json.md` lists them all, and a test checks each
//! command's output against that list.

use std::fmt::Display;
use std::io::Write as _;

use serde::{Serialize, Serializer};

/// What a command prints: one value, serialised for `--json` and displayed for people. The
/// text is whole lines, each ending in a newline.
pub trait Report: Serialize + Display {}

impl<T: Serialize + Display> Report for T {}

/// The version of the `--json` schema, in every object a command prints. A string that names
/// its producer, so a line of JSON says what it is; not `version`, which in reports is a
/// release's version. It changes when a field is renamed, removed or changes meaning; new
/// fields do not change it (readers ignore fields they do not know).
pub const SCHEMA: &str = "reprove/v1";

/// A report as `--json` prints it: its fields and `"schema": SCHEMA`.
///
/// The JSON goes through a [`serde_json::Value`], whose objects keep their keys sorted: the
/// order `--json` output has always had, whatever the order of a report's fields.
pub fn json(report: &impl Serialize) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(report)?;
    let serde_json::Value::Object(fields) = &mut v else {
        anyhow::bail!("a report must serialise as a JSON object");
    };
    fields.insert("schema".to_owned(), SCHEMA.into());
    Ok(v)
}

/// Prints `report` on stdout: as one line of JSON with `--json`, otherwise as its text.
pub fn print(report: &impl Report, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", self::json(report)?)?;
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

/// Prints `report` as indented JSON (`verify` and `gate`, whose reports people read too).
pub fn print_pretty(report: &impl Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &json(report)?)?;
    writeln!(out)?;
    Ok(())
}

/// The signed checkpoint a command saw or wrote, as every report names it:
/// `"log": {"origin": …, "tree_size": …, "root": …}`.
#[derive(Debug, Clone, Serialize)]
pub struct Log {
    pub origin: String,
    /// The number of entries in the tree.
    pub tree_size: u64,
    /// The tree's root hash, lowercase hex.
    pub root: String,
}

impl Log {
    pub fn new(origin: &str, tree_size: u64, root: &[u8; 32]) -> Log {
        Log {
            origin: origin.to_owned(),
            tree_size,
            root: hex::encode(root),
        }
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
