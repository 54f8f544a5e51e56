//! `reprove import pypi`: import a PyPI release as a third-party release manifest, sign it
//! with the importer's key and append it (or print it with `--dry-run`).

use std::fmt;
use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use reprove_verifier::predicates::{Entry, EntryKind};
use serde::Serialize;

use crate::Outcome;
use crate::cli::ImportPypi;
use crate::client::{ClientOptions, LogClient};
use crate::import::pypi;
use crate::keys::read_signer;
use crate::sign::sign_statement;

/// Runs `reprove import pypi`.
pub fn pypi(args: &ImportPypi) -> anyhow::Result<Outcome> {
    let signer = read_signer(&args.key)?;
    let (name, version) = pypi::parse_spec(&args.spec)?;
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let req = pypi::Request {
        index: args.index.trim_end_matches('/').to_owned(),
        name,
        version,
        timeout: Duration::from_secs(600),
    };
    let imported = pypi::import(&req, scratch.path())?;
    let release = &imported.manifest;
    super::release::fetchable_by_rebuilders(&release.predicate)?;
    let entry = Entry::new(EntryKind::Release(release.clone()))?;
    let envelope = sign_statement(&signer, &entry.encode())?.encode();
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        out.write_all(&envelope)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    let log_key = args.log_key.get()?;
    let client = LogClient::new(
        crate::config::ledger(&args.ledger)?,
        ClientOptions::default(),
    )
    .context("--ledger is not a usable URL")?;
    let p = &release.predicate;
    let what = format!("the imported release {}@{}", p.project, p.version);
    let submitted = super::submit_proven(&client, &envelope, log_key.as_ref(), &what)?;
    let report = Imported {
        index: submitted.index,
        duplicate: submitted.duplicate,
        project: &p.project,
        version: &p.version,
        wheel: &imported.wheel,
        wheel_sha256: release.subjects[0].digest.sha256,
        backend: &imported.backend,
        source_date_epoch: p.recipe.source_date_epoch,
        build_deps: p
            .recipe
            .build_deps
            .iter()
            .map(|d| format!("{}=={}", d.name, d.version))
            .collect(),
        notes: p
            .third_party_import
            .as_ref()
            .map(|i| i.notes.clone())
            .unwrap_or_default(),
        proof_verified: log_key.is_some(),
    };
    crate::report::print(&report, args.json)?;
    if !args.json {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "imported {}@{} ({}) at log index {}{}; backend {}; SOURCE_DATE_EPOCH {}",
            report.project,
            report.version,
            report.wheel,
            report.index,
            if report.duplicate {
                " (already logged)"
            } else {
                ""
            },
            report.backend,
            report
                .source_date_epoch
                .map_or_else(|| "unset".to_owned(), |t| t.to_string()),
        );
    }
    Ok(Outcome::Ok)
}

/// What `import pypi` prints: the manifest's log index (for people), with what was inferred
/// (JSON).
#[derive(Debug, Serialize)]
struct Imported<'a> {
    index: u64,
    /// The log already held this very manifest.
    duplicate: bool,
    project: &'a str,
    version: &'a str,
    wheel: &'a str,
    #[serde(serialize_with = "crate::report::as_hex")]
    wheel_sha256: [u8; 32],
    /// The pinned build backend, `name==version`.
    backend: &'a str,
    /// `null`: unset.
    source_date_epoch: Option<u64>,
    /// Every pinned build dependency, `name==version`.
    build_deps: Vec<String>,
    /// How the recipe was inferred.
    notes: Vec<String>,
    /// The log's answer was proven under the log key.
    proof_verified: bool,
}

impl fmt::Display for Imported<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.index)
    }
}
