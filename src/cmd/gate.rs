//! `reprove gate NAME@VERSION`: exit 0 only when every artifact of the release satisfies the
//! policy, optionally waiting (bounded) for rebuilders to catch up.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use reprove_verifier::policy::Policy;
use reprove_verifier::predicates::EntryKind;
use serde::Serialize;

use crate::Outcome;
use crate::cli::Gate;
use crate::client::{release_key, signed_by};
use crate::cmd::verify::cache_dir;
use crate::consume::fetch::Online;
use crate::consume::report::{self, ArtifactReport, LogSeen};
use crate::consume::state::StateDir;
use crate::consume::{Verified, ledger_url, load_policy};
use reprove_verifier::note::NoteVerifier;

/// The longest --wait accepted.
const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Serialize)]
struct Output {
    release: String,
    trusted: bool,
    log: LogSeen,
    /// The release manifests found, with their indices and signers.
    manifests: Vec<Manifest>,
    artifacts: Vec<ArtifactReport>,
    /// How many times the log was checked.
    checks: u32,
    /// Whether the policy pins publishers (without, anyone's manifest makes the release).
    publisher_pinned: bool,
}

#[derive(Serialize, Clone)]
pub(crate) struct Manifest {
    pub(crate) index: u64,
    pub(crate) signer: String,
}

/// Runs the command.
pub fn run(args: &Gate) -> anyhow::Result<Outcome> {
    let policy = load_policy(crate::config::policy(&args.consumer)?)?;
    let (name, version) = split_release(&args.release)?;
    let wait = args.wait;
    if wait.is_some_and(|w| w > MAX_WAIT) {
        anyhow::bail!(
            "--wait {:?} is longer than the limit of 7 days",
            args.wait.unwrap()
        );
    }
    if args.interval < Duration::from_secs(1) {
        anyhow::bail!("--interval must be at least 1 second");
    }
    let url = ledger_url(args.consumer.ledger.as_deref(), &policy)?;
    let cache = cache_dir(args.consumer.cache.clone(), &policy.log.origin)?;
    let start = Instant::now();
    let deadline = start + wait.unwrap_or(Duration::ZERO);
    let mut checks = 0u32;
    loop {
        checks += 1;
        let state = StateDir::new(args.consumer.state.as_deref())?;
        let (manifests, artifacts, log) =
            check(&policy, &url, state, cache.clone(), name, version)?;
        let trusted = !artifacts.is_empty() && artifacts.iter().all(|a| a.trusted);
        let now = Instant::now();
        if trusted || now >= deadline {
            print(
                args,
                &manifests,
                &artifacts,
                log,
                trusted,
                checks,
                !policy.publishers.is_empty(),
            )?;
            return Ok(if trusted { Outcome::Ok } else { Outcome::No });
        }
        let pause = args.interval.min(deadline - now);
        let ok = artifacts.iter().filter(|a| a.trusted).count();
        eprintln!(
            "gate {}: {ok} of {} artifact(s) trusted; checking again in {}s ({}s left)",
            args.release,
            artifacts.len(),
            pause.as_secs_f32().ceil(),
            (deadline - now).as_secs()
        );
        std::thread::sleep(pause);
    }
}

/// One look at the log: the release's manifests and a verdict for each of their artifacts.
pub(crate) fn check(
    policy: &Policy,
    url: &str,
    state: StateDir,
    cache: std::path::PathBuf,
    name: &str,
    version: &str,
) -> anyhow::Result<(Vec<Manifest>, Vec<ArtifactReport>, LogSeen)> {
    let mut online = Online::connect(policy, url, state, Some(cache))?;
    let release = release_key(name, version);
    // With publishers pinned, only their manifests make the release (lookups scoped to their
    // keys: nobody else's manifests can crowd them out); without, anyone's, as the warning says.
    let publisher_keys: Vec<&NoteVerifier> = policy
        .publishers
        .iter()
        .filter(|p| p.covers(name))
        .flat_map(|p| p.keys.iter())
        .collect();
    let mut found: BTreeSet<u64> = BTreeSet::new();
    if policy.publishers.is_empty() {
        found.extend(online.lookup(&release)?);
    }
    for key in publisher_keys {
        found.extend(online.lookup(&signed_by(release.clone(), key))?);
    }
    let mut manifests = Vec::new();
    let mut artifacts: Vec<(String, [u8; 32])> = Vec::new();
    let mut seen: BTreeSet<[u8; 32]> = BTreeSet::new();
    for index in found {
        let Verified::Entry(e) = online.verified(index)? else {
            continue;
        };
        let EntryKind::Release(r) = e.entry().kind() else {
            continue;
        };
        if r.predicate.project != name || r.predicate.version != version {
            continue;
        }
        if !policy.publishers.is_empty() && !policy.trusts_publisher(name, e.signer()) {
            continue;
        }
        manifests.push(Manifest {
            index,
            signer: e.signer().to_string(),
        });
        for s in &r.subjects {
            if seen.insert(s.digest.sha256) {
                artifacts.push((s.name.clone(), s.digest.sha256));
            }
        }
    }
    let mut reports = Vec::with_capacity(artifacts.len());
    for (artifact, sha256) in &artifacts {
        let evidence = online
            .evidence(sha256)
            .with_context(|| format!("gathering evidence about {artifact}"))?;
        reports.push(report::judge(
            policy,
            artifact.clone(),
            sha256,
            Some((name, version)),
            &evidence,
        ));
    }
    online.commit()?;
    Ok((manifests, reports, LogSeen::of(online.checkpoint())))
}

fn print(
    args: &Gate,
    manifests: &[Manifest],
    artifacts: &[ArtifactReport],
    log: LogSeen,
    trusted: bool,
    checks: u32,
    publisher_pinned: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let o = Output {
            release: args.release.clone(),
            trusted,
            log,
            manifests: manifests.to_vec(),
            artifacts: artifacts.to_vec(),
            checks,
            publisher_pinned,
        };
        return crate::report::print_pretty(&o);
    }
    if manifests.is_empty() {
        writeln!(
            out,
            "gate {}: NOT PASSED: no release manifest for it{} in the log at tree size {}",
            args.release,
            if publisher_pinned {
                " signed by a publisher the policy trusts for it"
            } else {
                ""
            },
            log.tree_size
        )?;
        return Ok(());
    }
    for m in manifests {
        writeln!(
            out,
            "release manifest at index {} signed by {}",
            m.index, m.signer
        )?;
    }
    for a in artifacts {
        write!(out, "{}", report::human(a))?;
    }
    let ok = artifacts.iter().filter(|a| a.trusted).count();
    writeln!(
        out,
        "gate {}: {} ({ok} of {} artifact(s) trusted; log {} at tree size {})",
        args.release,
        if trusted { "PASSED" } else { "NOT PASSED" },
        artifacts.len(),
        log.origin,
        log.tree_size
    )?;
    Ok(())
}

/// Splits `NAME@VERSION` at its last `@`.
pub fn split_release(s: &str) -> anyhow::Result<(&str, &str)> {
    match s.rsplit_once('@') {
        Some((n, v)) if !n.is_empty() && !v.is_empty() => Ok((n, v)),
        _ => anyhow::bail!("{s:?} is not NAME@VERSION"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases() {
        assert_eq!(split_release("a@b@1.0").unwrap(), ("a@b", "1.0"));
        for bad in ["a", "@1", "a@"] {
            assert!(split_release(bad).is_err(), "{bad}");
        }
    }
}
