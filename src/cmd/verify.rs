//! `reprove verify`: judge artifacts against the consumer's policy, from a live log or from an
//! offline bundle.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use reprove_verifier::policy::Policy;

use crate::Outcome;
use crate::cli::Verify;
use crate::consume::bundle::{Bundle, Offline};
use crate::consume::fetch::Online;
use crate::consume::report::{self, ArtifactReport, LogSeen};
use crate::consume::state::{StateDir, default_dir};
use crate::consume::{ledger_url, load_policy, parse_digest};
use crate::hash::hash_file;
use crate::progress;

/// One artifact to judge.
struct Subject {
    name: String,
    sha256: [u8; 32],
    blake3: Option<[u8; 32]>,
    size: Option<u64>,
}

#[derive(Serialize)]
struct Output<'a> {
    trusted: bool,
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<LogSeen>,
    artifacts: &'a [ArtifactReport],
    /// Lookup results logged after the checkpoint (seen on the next run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    newer_entries: Vec<u64>,
    /// Offline: the tree size the bundle is as of: its lookups are proven complete up to that
    /// tree, not past it.
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle_tree_size: Option<u64>,
}

/// What was judged, and against which log state.
struct Judged {
    reports: Vec<ArtifactReport>,
    log: Option<LogSeen>,
    newer: Vec<u64>,
    mode: &'static str,
    bundle_as_of: Option<u64>,
}

/// Runs the command.
pub fn run(args: &Verify) -> anyhow::Result<Outcome> {
    let policy = load_policy(crate::config::policy(&args.consumer)?)?;
    let release = args
        .release
        .as_deref()
        .map(crate::cmd::gate::split_release)
        .transpose()?;
    let subjects = subjects(args)?;
    let judged = match &args.bundle {
        Some(path) => from_bundle(args, &policy, path, &subjects, release)?,
        None => online(args, &policy, &subjects, release)?,
    };
    let trusted = judged.reports.iter().all(|r| r.trusted);
    print(args, &policy, &judged, trusted)?;
    Ok(if trusted { Outcome::Ok } else { Outcome::No })
}

/// The artifacts to judge: `--digest`s, then files (hashed here).
fn subjects(args: &Verify) -> anyhow::Result<Vec<Subject>> {
    let mut subjects = Vec::new();
    for d in &args.digest {
        let sha256 = parse_digest(d)?;
        subjects.push(Subject {
            name: format!("sha256:{}", hex::encode(sha256)),
            sha256,
            blake3: None,
            size: None,
        });
    }
    for path in &args.files {
        subjects.push(hash(path)?);
    }
    Ok(subjects)
}

/// Judges from an offline bundle — and, when the policy requires it, from the live log too.
fn from_bundle(
    args: &Verify,
    policy: &Policy,
    path: &std::path::Path,
    subjects: &[Subject],
    release: Option<(&str, &str)>,
) -> anyhow::Result<Judged> {
    let state = StateDir::new(args.consumer.state.as_deref())?;
    if args.consumer.ledger_on_command_line && !policy.require_online_recheck {
        anyhow::bail!(
            "--ledger has no use with --bundle: a bundle is verified offline unless the \
             policy sets require_online_recheck"
        );
    }
    let bundle = Bundle::read(path)?;
    let offline = Offline::verify(policy, &bundle, &state)?;
    // The policy may require the live log as well: what a bundle left out (a mismatch, a
    // revocation) is then found there. No log reachable: no verdict.
    let mut online =
        if policy.require_online_recheck {
            let url = ledger_url(args.consumer.ledger.as_deref(), policy).context(
                "the policy requires an online re-check of bundles (require_online_recheck)",
            )?;
            let cache = cache_dir(args.consumer.cache.clone(), &policy.log.origin)?;
            let state = StateDir::new(args.consumer.state.as_deref())?;
            Some(Online::connect(policy, &url, state, Some(cache)).with_context(|| {
            format!(
                "the policy requires an online re-check of bundles (require_online_recheck) \
                 and the log at {url} could not be checked"
            )
        })?)
        } else {
            None
        };
    let mut reports = Vec::with_capacity(subjects.len());
    for s in subjects {
        let mut evidence = offline
            .proven_evidence(policy, &s.sha256)
            .with_context(|| format!("the bundle's evidence about {}", s.name))?;
        if let Some(online) = online.as_mut() {
            let live = online
                .evidence(&s.sha256)
                .with_context(|| format!("re-checking {} online", s.name))?;
            evidence.merge(live);
        }
        reports.push(finish(
            s,
            report::judge(policy, s.name.clone(), &s.sha256, release, &evidence),
        ));
    }
    let log = match online {
        Some(online) => {
            online.commit()?;
            Some(LogSeen::of(online.checkpoint()))
        }
        None => None,
    };
    let mode = if log.is_some() {
        "bundle, re-checked online"
    } else {
        "bundle"
    };
    Ok(Judged {
        reports,
        log,
        newer: Vec::new(),
        mode,
        bundle_as_of: offline.size(),
    })
}

/// Judges from the live log, proving every entry from its tiles.
fn online(
    args: &Verify,
    policy: &Policy,
    subjects: &[Subject],
    release: Option<(&str, &str)>,
) -> anyhow::Result<Judged> {
    let state = StateDir::new(args.consumer.state.as_deref())?;
    let url = ledger_url(args.consumer.ledger.as_deref(), policy)?;
    let cache = cache_dir(args.consumer.cache.clone(), &policy.log.origin)?;
    let mut online = Online::connect(policy, &url, state, Some(cache))?;
    let mut reports = Vec::with_capacity(subjects.len());
    for s in subjects {
        let evidence = online
            .evidence(&s.sha256)
            .with_context(|| format!("gathering evidence about {}", s.name))?;
        reports.push(finish(
            s,
            report::judge(policy, s.name.clone(), &s.sha256, release, &evidence),
        ));
    }
    online.commit()?;
    Ok(Judged {
        reports,
        log: Some(LogSeen::of(online.checkpoint())),
        newer: online.newer.iter().copied().collect(),
        mode: "online",
        bundle_as_of: None,
    })
}

/// The reports, as JSON or for people.
fn print(args: &Verify, policy: &Policy, judged: &Judged, trusted: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let o = Output {
            trusted,
            mode: judged.mode,
            log: judged.log.clone(),
            artifacts: &judged.reports,
            newer_entries: judged.newer.clone(),
            bundle_tree_size: judged.bundle_as_of,
        };
        return crate::report::print_pretty(&o);
    }
    for r in &judged.reports {
        write!(out, "{}", report::human(r))?;
    }
    match &judged.log {
        Some(l) => writeln!(out, "log: {} at tree size {}", l.origin, l.tree_size)?,
        None => writeln!(
            out,
            "log: {} (offline bundle, as of tree size {}: proven complete up to that tree; \
             what was logged since, only the log can show)",
            policy.log.origin,
            judged.bundle_as_of.unwrap_or(0)
        )?,
    }
    if !judged.newer.is_empty() {
        writeln!(
            out,
            "note: {} entries were logged after this checkpoint and were not considered",
            judged.newer.len()
        )?;
    }
    Ok(())
}

fn finish(s: &Subject, mut r: ArtifactReport) -> ArtifactReport {
    r.blake3 = s.blake3.map(hex::encode);
    r.size = s.size;
    r
}

/// Hashes a file with a progress bar (drawn only on a terminal).
fn hash(path: &PathBuf) -> anyhow::Result<Subject> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let bar = progress::bytes_bar(len, &format!("hashing {}", path.display()));
    let d =
        hash_file(path, |n| bar.inc(n)).with_context(|| format!("hashing {}", path.display()))?;
    bar.finish_and_clear();
    Ok(Subject {
        name: path.display().to_string(),
        sha256: d.sha256,
        blake3: Some(d.blake3),
        size: Some(d.size),
    })
}

/// The tile cache directory of the log `origin`: under the given directory, else under
/// `$XDG_CACHE_HOME/reprove/tiles`, one subdirectory per log (tile paths are the same in
/// every log).
pub fn cache_dir(given: Option<PathBuf>, origin: &str) -> anyhow::Result<PathBuf> {
    let root = match given {
        Some(d) => d,
        None => default_dir("XDG_CACHE_HOME", ".cache")?.join("tiles"),
    };
    let tag = StateDir::new(Some(&root))?.file(origin);
    Ok(root.join(tag.file_name().expect("a state file has a name")))
}
