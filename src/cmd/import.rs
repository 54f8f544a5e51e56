//! `reprove import pypi`, `import crate` and `import debian`: import a release as a third-party
//! release manifest, sign it with the importer's key and append it (or print it with `--dry-run`).

use std::fmt;
use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use reprove_verifier::predicates::{Entry, EntryKind};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{ImportCrate, ImportDebian, ImportPypi, ImportTo};
use crate::client::{ClientOptions, LogClient};
use crate::import::{crates, debian, pypi};
use crate::keys::read_signer;
use crate::sign::sign_statement;

/// Runs `reprove import pypi`.
pub fn pypi(args: &ImportPypi) -> anyhow::Result<Outcome> {
    let signer = read_signer(&args.to.key)?;
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
    let Some((index, duplicate, proof_verified)) = log_import(&signer, release, &args.to)? else {
        return Ok(Outcome::Ok);
    };
    let p = &release.predicate;
    let report = Imported {
        index,
        duplicate,
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
        notes: notes_of(p),
        proof_verified,
    };
    crate::report::print(&report, args.to.json)?;
    if !args.to.json {
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

/// Signs the imported manifest and prints it (`--dry-run`: `None`) or submits it and proves
/// the answer: `(log index, already logged, proof verified)`.
fn log_import(
    signer: &reprove_verifier::note::NoteSigner,
    release: &reprove_verifier::predicates::ReleaseManifest,
    to: &ImportTo,
) -> anyhow::Result<Option<(u64, bool, bool)>> {
    let logged = sign_and_log(release, signer, to.dry_run, &to.ledger, &to.log_key)?;
    Ok(logged.map(|(s, proven)| (s.index, s.duplicate, proven)))
}

/// The importer's notes on how the recipe was inferred.
fn notes_of(p: &reprove_verifier::predicates::ReleasePredicate) -> Vec<String> {
    p.third_party_import
        .as_ref()
        .map(|i| i.notes.clone())
        .unwrap_or_default()
}

/// Runs `reprove import crate`.
pub fn krate(args: &ImportCrate) -> anyhow::Result<Outcome> {
    let signer = read_signer(&args.to.key)?;
    let (name, version) = crates::parse_spec(&args.spec)?;
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let req = crates::Request {
        registry: args.registry.trim_end_matches('/').to_owned(),
        name,
        version,
        timeout: Duration::from_secs(600),
    };
    let imported = crates::import(&req, scratch.path())?;
    let release = &imported.manifest;
    let Some((index, duplicate, proof_verified)) = log_import(&signer, release, &args.to)? else {
        return Ok(Outcome::Ok);
    };
    let p = &release.predicate;
    let report = ImportedCrate {
        index,
        duplicate,
        project: &p.project,
        version: &p.version,
        crate_sha256: release.subjects[0].digest.sha256,
        binaries: p.recipe.unpinned_outputs.values().cloned().collect(),
        rustc: &imported.rustc,
        dependencies: p
            .recipe
            .inputs
            .iter()
            .map(|i| crates::input_label(&i.path))
            .collect(),
        notes: notes_of(p),
        proof_verified,
    };
    crate::report::print(&report, args.to.json)?;
    if !args.to.json {
        let _ = writeln!(
            std::io::stderr().lock(),
            "imported {}@{} at log index {}{}; binaries {} (no published digest: rebuilders must agree); {} vendored dependencies; {}",
            report.project,
            report.version,
            report.index,
            if report.duplicate {
                " (already logged)"
            } else {
                ""
            },
            report.binaries.join(", "),
            report.dependencies.len(),
            report.rustc,
        );
    }
    Ok(Outcome::Ok)
}

/// What `import crate` prints: the manifest's log index (for people), with what was inferred
/// (JSON).
#[derive(Debug, Serialize)]
struct ImportedCrate<'a> {
    index: u64,
    /// The log already held this very manifest.
    duplicate: bool,
    project: &'a str,
    version: &'a str,
    /// The `.crate`'s sha256 (the release's one subject).
    #[serde(serialize_with = "crate::report::as_hex")]
    crate_sha256: [u8; 32],
    /// The binaries the release names, without digests.
    binaries: Vec<String>,
    /// The pinned compiler, as `rustc -V` prints it.
    rustc: &'a str,
    /// Every vendored dependency, `name@version`.
    dependencies: Vec<String>,
    /// How the recipe was inferred.
    notes: Vec<String>,
    /// The log's answer was proven under the log key.
    proof_verified: bool,
}

impl fmt::Display for ImportedCrate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.index)
    }
}

/// Runs `reprove import debian`.
pub fn debian(args: &ImportDebian) -> anyhow::Result<Outcome> {
    let signer = read_signer(&args.to.key)?;
    let (source, version) = debian::parse_spec(&args.spec)?;
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let req = debian::Request {
        mirror: args.mirror.trim_end_matches('/').to_owned(),
        suite: args.suite.clone(),
        source,
        version,
        arch: args.arch.clone(),
        buildinfo: args.buildinfo.clone(),
        keyring: args.keyring.clone(),
        timeout: Duration::from_secs(600),
    };
    let imported = debian::import(&req, scratch.path())?;
    let release = &imported.manifest;
    let Some((index, duplicate, proof_verified)) = log_import(&signer, release, &args.to)? else {
        return Ok(Outcome::Ok);
    };
    let p = &release.predicate;
    let report = ImportedDebian {
        index,
        duplicate,
        source: &p.project,
        version: &p.version,
        debs: release
            .subjects
            .iter()
            .map(|s| DebReport {
                name: &s.name,
                sha256: s.digest.sha256,
            })
            .collect(),
        in_release: &imported.release.url,
        release_date: &imported.release.date,
        signed_by: &imported.release.signers,
        build_root_from: imported.build_root_from,
        build_root: p
            .recipe
            .build_deps
            .iter()
            .map(|d| format!("{}={}", d.name, d.version))
            .collect(),
        source_date_epoch: p.recipe.source_date_epoch,
        build_user: match p.recipe.build_user {
            reprove_verifier::predicates::BuildUser::Builder => "builder",
            reprove_verifier::predicates::BuildUser::Root => "root",
        },
        notes: notes_of(p),
        proof_verified,
    };
    crate::report::print(&report, args.to.json)?;
    if !args.to.json {
        let _ = writeln!(
            std::io::stderr().lock(),
            "imported {}={} ({} .debs) at log index {}{}; build root: {} packages from the {}; SOURCE_DATE_EPOCH {}",
            report.source,
            report.version,
            report.debs.len(),
            report.index,
            if report.duplicate {
                " (already logged)"
            } else {
                ""
            },
            report.build_root.len(),
            if report.build_root_from == "buildinfo" {
                ".buildinfo"
            } else {
                "suite's current versions"
            },
            report
                .source_date_epoch
                .map_or_else(|| "unset".to_owned(), |t| t.to_string()),
        );
    }
    Ok(Outcome::Ok)
}

/// What `import debian` prints: the log index (for people), with what was verified and
/// inferred (JSON).
#[derive(Debug, Serialize)]
struct ImportedDebian<'a> {
    index: u64,
    /// The log already held this very manifest.
    duplicate: bool,
    source: &'a str,
    version: &'a str,
    /// The binary packages (the artifacts).
    debs: Vec<DebReport<'a>>,
    /// The InRelease URL whose signature was checked.
    in_release: &'a str,
    /// Its `Date:` field.
    release_date: &'a str,
    /// The primary-key fingerprints of its good signatures, each with when it signed.
    signed_by: &'a [String],
    /// `buildinfo` or `suite`.
    build_root_from: &'static str,
    /// Every pinned `.deb` of the build root, `name=version`.
    build_root: Vec<String>,
    source_date_epoch: Option<u64>,
    /// `root` or `builder`.
    build_user: &'static str,
    /// How the recipe was inferred.
    notes: Vec<String>,
    /// The log's answer was proven under the log key.
    proof_verified: bool,
}

#[derive(Debug, Serialize)]
struct DebReport<'a> {
    name: &'a str,
    #[serde(serialize_with = "crate::report::as_hex")]
    sha256: [u8; 32],
}

impl fmt::Display for ImportedDebian<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.index)
    }
}

/// Signs `release` with `signer` and prints it (`dry_run`: `None`) or submits it to
/// the ledger: its log index, whether it was there already, and whether the answer was proven
/// under a log key.
fn sign_and_log(
    release: &reprove_verifier::predicates::ReleaseManifest,
    signer: &reprove_verifier::note::NoteSigner,
    dry_run: bool,
    ledger: &Option<String>,
    log_key: &crate::cli::LogKeyArgs,
) -> anyhow::Result<Option<(crate::client::Submitted, bool)>> {
    super::release::fetchable_by_rebuilders(&release.predicate)?;
    let entry = Entry::new(EntryKind::Release(release.clone()))?;
    let envelope = sign_statement(signer, &entry.encode())?.encode();
    if dry_run {
        let mut out = std::io::stdout().lock();
        out.write_all(&envelope)?;
        writeln!(out)?;
        return Ok(None);
    }
    let log_key = log_key.get()?;
    let client = LogClient::new(crate::config::ledger(ledger)?, ClientOptions::default())
        .context("--ledger is not a usable URL")?;
    let p = &release.predicate;
    let what = format!("the imported release {}@{}", p.project, p.version);
    let submitted = super::submit_proven(&client, &envelope, log_key.as_ref(), &what)?;
    Ok(Some((submitted, log_key.is_some())))
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
