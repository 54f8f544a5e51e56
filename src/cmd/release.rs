//! `reprove release publish`: hash the artifacts, sign the release manifest, append it.

use std::io::Write as _;

use anyhow::Context as _;
use reprove_verifier::checkpoint::WitnessPolicy;
use reprove_verifier::predicates::{Entry, EntryKind};

use crate::Outcome;
use crate::cli::ReleasePublish;
use crate::client::{ClientOptions, LogClient};
use crate::keys::read_signer;
use crate::rebuild::manifest;
use crate::sign::sign_statement;

/// Refuses a release whose inputs rebuilders would not fetch: they take only `https://` (or
/// `http://` to loopback) locations from a logged release, never a path on their own host.
fn fetchable_by_rebuilders(
    p: &reprove_verifier::predicates::ReleasePredicate,
) -> anyhow::Result<()> {
    use crate::rebuild::fetch::{Location, Origin};
    use reprove_verifier::predicates::{Environment, Source};
    let mut named: Vec<(String, &str)> = Vec::new();
    match &p.source {
        Source::Archive { uri, .. } => named.push(("the source archive".into(), uri)),
        Source::Git { uri, .. } => named.push(("the git source".into(), uri)),
    }
    if let Environment::Rootfs { uri: Some(uri), .. } = &p.recipe.environment {
        named.push(("the root filesystem".into(), uri));
    }
    for (name, url) in &p.artifacts {
        named.push((format!("artifact {name}"), url));
    }
    for (what, uri) in named {
        if let Err(e) = Location::parse(uri, Origin::Logged) {
            anyhow::bail!(
                "{what}: {e}. Rebuilders would refuse it. Publish the files at an https:// URL \
                 (the manifest's url, or --artifact-url-prefix, which also sets the source's), \
                 or pass --local-only to log a release only this machine can rebuild"
            );
        }
    }
    Ok(())
}

/// Runs the command.
pub fn publish(args: &ReleasePublish) -> anyhow::Result<Outcome> {
    let signer = read_signer(&args.key)?;
    let log_key = crate::keys::log_key(args.log_key.as_deref(), None)?;
    let client = LogClient::new(&args.ledger, ClientOptions::default())
        .context("--ledger is not a usable URL")?;
    let mut loaded = manifest::load(&args.manifest)?;
    if let Some(prefix) = &args.artifact_url_prefix {
        loaded.fill_urls(prefix)?;
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let release = loaded.resolve(scratch.path(), std::time::Duration::from_secs(600))?;
    if !args.local_only {
        fetchable_by_rebuilders(&release.predicate)?;
    }
    let entry = Entry::new(EntryKind::Release(release.clone()))?;
    let envelope = sign_statement(&signer, &entry.encode())?.encode();
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        out.write_all(&envelope)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    let submitted = client
        .submit(&envelope)
        .context("the ledger did not accept the release")?;
    if let Some(key) = &log_key {
        submitted
            .proof
            .verify(&envelope, key, &WitnessPolicy::none())
            .context("the ledger's proof of the new entry does not verify")?;
    }
    let p = &release.predicate;
    if args.json {
        let subjects: Vec<_> = release
            .subjects
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "sha256": hex::encode(s.digest.sha256)}))
            .collect();
        let v = serde_json::json!({
            "index": submitted.index,
            "duplicate": submitted.duplicate,
            "project": p.project,
            "version": p.version,
            "artifacts": subjects,
            "proof_verified": log_key.is_some(),
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "{}", submitted.index)?;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "published {}@{} at log index {}{} ({} artifact(s))",
            p.project,
            p.version,
            submitted.index,
            if submitted.duplicate {
                " (already logged)"
            } else {
                ""
            },
            release.subjects.len()
        );
    }
    Ok(Outcome::Ok)
}
