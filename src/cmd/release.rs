//! `reprove release publish`: hash the artifacts, sign the release manifest, append it.

use std::fmt;
use std::io::Write as _;

use anyhow::Context as _;
use reprove_verifier::predicates::{Entry, EntryKind};
use serde::Serialize;

use crate::Outcome;
use crate::cli::ReleasePublish;
use crate::client::{ClientOptions, LogClient};
use crate::keys::read_signer;
use crate::rebuild::manifest;
use crate::sign::sign_statement;

/// Refuses a release whose inputs rebuilders would not fetch: they take only `https://` (or
/// `http://` to loopback) locations from a logged release, never a path on their own host.
pub(crate) fn fetchable_by_rebuilders(
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
    for input in &p.recipe.inputs {
        named.push((format!("input {}", input.path), &input.uri));
    }
    for dep in &p.recipe.build_deps {
        named.push((
            format!("build dependency {} {}", dep.name, dep.version),
            &dep.uri,
        ));
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
    let log_key = args.log_key.get()?;
    let client = LogClient::new(
        crate::config::ledger(&args.ledger)?,
        ClientOptions::default(),
    )
    .context("--ledger is not a usable URL")?;
    let mut loaded = manifest::load(&args.manifest)?;
    if let Some(prefix) = &args.artifact_url_prefix {
        loaded.fill_urls(prefix)?;
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let mut release = loaded.resolve(scratch.path(), std::time::Duration::from_secs(600))?;
    let ledger_base = client.base().to_owned();
    if args.staged {
        // Each artifact is served at its release URL once the manifest seals the set.
        let (project, version) = (&release.predicate.project, &release.predicate.version);
        let urls: std::collections::BTreeMap<String, String> = release
            .subjects
            .iter()
            .map(|a| {
                let url = format!(
                    "{ledger_base}/dl/{}/{}/{}",
                    reprove_ledger::path_segment(project),
                    reprove_ledger::path_segment(version),
                    reprove_ledger::path_segment(&a.name)
                );
                (a.name.clone(), url)
            })
            .collect();
        release.predicate.artifacts = urls;
    }
    if !args.local_only {
        fetchable_by_rebuilders(&release.predicate)?;
    }
    let p = &release.predicate;
    let entry = Entry::new(EntryKind::Release(release.clone()))?;
    let envelope = sign_statement(&signer, &entry.encode())?.encode();
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        out.write_all(&envelope)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    let what = format!("the release {}@{}", p.project, p.version);
    let submitted = if args.staged {
        let submitted = submit_to_set(&client, &p.project, &p.version, &envelope, &what)?;
        super::proven_submission(submitted, &envelope, log_key.as_ref(), &what)?
    } else {
        super::submit_proven(&client, &envelope, log_key.as_ref(), &what)?
    };
    let report = Published {
        index: submitted.index,
        duplicate: submitted.duplicate,
        project: &p.project,
        version: &p.version,
        artifacts: release
            .subjects
            .iter()
            .map(|s| PublishedArtifact {
                name: &s.name,
                sha256: s.digest.sha256,
            })
            .collect(),
        proof_verified: log_key.is_some(),
    };
    crate::report::print(&report, args.json)?;
    if !args.json {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "published {}@{} at log index {}{} ({} artifact(s))",
            report.project,
            report.version,
            report.index,
            if report.duplicate {
                " (already logged)"
            } else {
                ""
            },
            report.artifacts.len()
        );
    }
    Ok(Outcome::Ok)
}

/// Logs `envelope` through the set of `project`@`version` (`POST /sets/<id>/entries`): the
/// ledger checks the manifest lists exactly the set's files, then seals the set.
fn submit_to_set(
    client: &LogClient,
    project: &str,
    version: &str,
    envelope: &[u8],
    what: &str,
) -> anyhow::Result<crate::client::Submitted> {
    let id = reprove_ledger::sets::set_id(project, version);
    let (status, body) = client.send(
        "POST",
        &format!("sets/{id}/entries"),
        &[("content-type", "application/json".into())],
        crate::client::SendBody::Bytes(envelope),
    )?;
    if status != 200 {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        anyhow::bail!("the ledger did not accept {what} into its set ({status}): {message}");
    }
    crate::client::parse_submitted(&body)
        .map_err(|reason| anyhow::anyhow!("the ledger's answer to {what}: {reason}"))
}

/// What `release publish` prints: the manifest's log index (for people), with what it names
/// (JSON). The rest of the human summary goes to stderr.
#[derive(Debug, Serialize)]
struct Published<'a> {
    index: u64,
    /// The log already held this very manifest.
    duplicate: bool,
    project: &'a str,
    version: &'a str,
    artifacts: Vec<PublishedArtifact<'a>>,
    /// The log's answer was proven under the log key.
    proof_verified: bool,
}

/// One artifact of a published release.
#[derive(Debug, Serialize)]
struct PublishedArtifact<'a> {
    name: &'a str,
    #[serde(serialize_with = "crate::report::as_hex")]
    sha256: [u8; 32],
}

impl fmt::Display for Published<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.index)
    }
}
