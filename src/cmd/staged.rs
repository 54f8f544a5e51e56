//! Staged releases from the publisher's side — `release plan`, `upload`, `announce`,
//! `withdraw`, `yank` — and `reprove latest`, which proves from the log which version is latest
//! and catches a ledger that serves another one.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reprove_ledger::IndexKey;
use reprove_ledger::sets::set_id;
use reprove_verifier::blob::{BlobSignature, HEADER, plan_message, set_file_message};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::{
    Announcement, AnnouncementPredicate, Artifact, Digests, Entry, EntryKind, ReleaseRef,
    Unverified, Withdrawal, WithdrawalPredicate, Yank, YankPredicate,
};
use reprove_verifier::staging::{Fact, ProjectState};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::Outcome;
use crate::cli::{
    Latest, PublisherArgs, ReleaseAnnounce, ReleasePlan, ReleaseUpload, ReleaseWithdraw,
    ReleaseYank,
};
use crate::client::{ClientOptions, LogClient, SendBody};
use crate::cmd::gate::split_release;
use crate::consume::fetch::Online;
use crate::consume::report::LogSeen;
use crate::consume::state::StateDir;
use crate::consume::{Verified, ledger_url, load_policy};
use crate::keys::read_signer;
use crate::sign::sign_statement;

/// The longest `announce --wait`.
const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

/// A publisher talking to a ledger about one release.
struct Publisher {
    client: LogClient,
    signer: NoteSigner,
    name: String,
    version: String,
    id: String,
}

impl Publisher {
    fn new(release: &str, key: &std::path::Path, ledger: &Option<String>) -> anyhow::Result<Self> {
        let (name, version) = split_release(release)?;
        let signer = read_signer(key)?;
        let client = LogClient::new(crate::config::ledger(ledger)?, ClientOptions::default())
            .context("--ledger is not a usable URL")?;
        Ok(Publisher {
            client,
            signer,
            id: set_id(name, version),
            name: name.to_owned(),
            version: version.to_owned(),
        })
    }

    fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The answer's JSON when the status is 2xx; the ledger's message as the error otherwise.
    fn expect(&self, what: &str, answer: (u16, Vec<u8>)) -> anyhow::Result<Value> {
        let (status, body) = answer;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        if (200..300).contains(&status) {
            return json.with_context(|| format!("{what}: the ledger's answer is not JSON"));
        }
        let message = json
            .as_ref()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        bail!("{what}: the ledger refused ({status}): {message}")
    }

    /// The set and its version's state, as the ledger shows them.
    fn set(&self) -> anyhow::Result<Value> {
        let answer = self.client.send(
            "GET",
            &format!("sets/{}", self.id),
            &[],
            SendBody::Bytes(&[]),
        )?;
        if answer.0 == 404 {
            bail!(
                "{} has no set on this ledger: plan it first (`reprove release plan {}`)",
                self.label(),
                self.label()
            );
        }
        self.expect("reading the set", answer)
    }

    /// Signs `kind` and logs it through the set; its log index.
    fn post(&self, kind: EntryKind, what: &str) -> anyhow::Result<u64> {
        let entry = Entry::new(kind).with_context(|| format!("{what} is not valid"))?;
        let envelope = sign_statement(&self.signer, &entry.encode())?.encode();
        let answer = self.client.send(
            "POST",
            &format!("sets/{}/entries", self.id),
            &[("content-type", "application/json".into())],
            SendBody::Bytes(&envelope),
        )?;
        let v = self.expect(what, answer)?;
        v["index"]
            .as_u64()
            .with_context(|| format!("{what}: the ledger's answer names no index"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.client.base())
    }
}

/// What the staged-release commands print.
#[derive(Debug, Serialize)]
struct Staged {
    release: String,
    set_id: String,
    set_url: String,
    release_url: String,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    files: Value,
}

fn staged(p: &Publisher, v: &Value, index: Option<u64>) -> Staged {
    Staged {
        release: p.label(),
        set_id: p.id.clone(),
        set_url: p.url(
            v["set_url"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/'),
        ),
        release_url: p.url(
            v["release_url"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/'),
        ),
        state: v["state"].as_str().unwrap_or("unknown").to_owned(),
        index,
        files: v["files"].clone(),
    }
}

fn print(s: &Staged, json: bool, human: &str) -> anyhow::Result<Outcome> {
    if json {
        println!("{}", crate::report::json(s)?);
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{human}")?;
        writeln!(out, "set URL:     {}<file>", s.set_url)?;
        writeln!(out, "release URL: {}<file>", s.release_url)?;
        writeln!(out, "state:       {}", s.state)?;
    }
    Ok(Outcome::Ok)
}

fn publisher(release: &str, args: &PublisherArgs) -> anyhow::Result<Publisher> {
    Publisher::new(release, &args.key, &args.ledger)
}

/// `reprove release plan`.
pub fn plan(args: &ReleasePlan) -> anyhow::Result<Outcome> {
    let p = publisher(&args.release, &args.publisher)?;
    let body = serde_json::json!({"project": p.name, "version": p.version}).to_string();
    let sig = BlobSignature::sign_message(&p.signer, &plan_message(&p.name, &p.version));
    let answer = p.client.send(
        "POST",
        "sets",
        &[
            ("content-type", "application/json".into()),
            (HEADER, sig.encode()),
        ],
        SendBody::Bytes(body.as_bytes()),
    )?;
    let v = p.expect("planning the set", answer)?;
    let s = staged(&p, &v, None);
    print(&s, args.publisher.json, &format!("planned {}", p.label()))
}

/// `reprove release upload`.
pub fn upload(args: &ReleaseUpload) -> anyhow::Result<Outcome> {
    let p = publisher(&args.release, &args.publisher)?;
    let mut last = Value::Null;
    for path in &args.files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} has no file name", path.display()))?;
        let (sha256, size) = hash_file(path)?;
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let sig =
            BlobSignature::sign_message(&p.signer, &set_file_message(&p.id, name, &sha256, size));
        let answer = p.client.send(
            "PUT",
            &format!("sets/{}/{}", p.id, reprove_ledger::path_segment(name)),
            &[
                (HEADER, sig.encode()),
                (reprove_ledger::http::SHA256_HEADER, hex::encode(sha256)),
                ("content-type", "application/octet-stream".into()),
            ],
            SendBody::File(&file),
        )?;
        last = p.expect(&format!("uploading {name}"), answer)?;
        if !args.publisher.json {
            eprintln!(
                "uploaded {name} ({size} bytes, sha256 {})",
                hex::encode(sha256)
            );
        }
    }
    let s = staged(&p, &last, None);
    print(
        &s,
        args.publisher.json,
        &format!("{} file(s) in the set of {}", args.files.len(), p.label()),
    )
}

/// The SHA-256 and size of a file, read in chunks.
fn hash_file(path: &std::path::Path) -> anyhow::Result<([u8; 32], u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// The release the set's version state names, and its artifacts as subjects.
fn released(p: &Publisher, v: &Value) -> anyhow::Result<(ReleaseRef, Vec<Artifact>)> {
    let state = &v["version_state"];
    let (Some(index), Some(sha)) = (
        state["release_index"].as_u64(),
        state["release_sha256"]
            .as_str()
            .and_then(reprove_verifier::statement::parse_hex32),
    ) else {
        bail!(
            "{} is not released yet: publish it first (`reprove release publish --staged`)",
            p.label()
        );
    };
    let artifacts = state["artifacts"]
        .as_array()
        .map(|a| a.iter().filter_map(artifact_of).collect())
        .unwrap_or_default();
    Ok((
        ReleaseRef {
            log_index: index,
            name: p.name.clone(),
            version: p.version.clone(),
            digest: Digests::sha256(sha),
        },
        artifacts,
    ))
}

fn artifact_of(a: &Value) -> Option<Artifact> {
    let name = a["name"].as_str()?;
    let sha = reprove_verifier::statement::parse_hex32(a["sha256"].as_str()?)?;
    Some(Artifact {
        name: name.to_owned(),
        digest: Digests::sha256(sha),
    })
}

/// `reprove release withdraw`.
pub fn withdraw(args: &ReleaseWithdraw) -> anyhow::Result<Outcome> {
    let p = publisher(&args.release, &args.publisher)?;
    let v = p.set()?;
    let (release, subjects) = if v["version_state"].is_object() {
        let (r, a) = released(&p, &v)?;
        (Some(r), a)
    } else {
        let files = v["files"]
            .as_object()
            .map(|files| {
                files
                    .iter()
                    .filter_map(|(name, f)| {
                        let sha = reprove_verifier::statement::parse_hex32(f["sha256"].as_str()?)?;
                        Some(Artifact {
                            name: name.clone(),
                            digest: Digests::sha256(sha),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        (None, files)
    };
    if subjects.is_empty() {
        bail!(
            "{}: nothing to withdraw — the set holds no files and nothing was released, so \
             nothing is served",
            p.label()
        );
    }
    let kind = EntryKind::Withdrawal(Withdrawal {
        subjects,
        predicate: WithdrawalPredicate {
            project: p.name.clone(),
            version: p.version.clone(),
            release,
            reason: args.reason.clone(),
        },
    });
    let index = p.post(kind, "the withdrawal")?;
    let v = p.set()?;
    print(
        &staged(&p, &v, Some(index)),
        args.publisher.json,
        &format!("withdrew {} at log index {index}", p.label()),
    )
}

/// `reprove release yank`.
pub fn yank(args: &ReleaseYank) -> anyhow::Result<Outcome> {
    let p = publisher(&args.release, &args.publisher)?;
    let v = p.set()?;
    let (release, subjects) = released(&p, &v)?;
    let Some(announcement) = v["version_state"]["announced"]["index"].as_u64() else {
        bail!(
            "{} was never announced: withdraw it instead (`reprove release withdraw`)",
            p.label()
        );
    };
    let kind = EntryKind::Yank(Yank {
        subjects,
        predicate: YankPredicate {
            release,
            announcement,
            reason: args.reason.clone(),
            replacement: args.replacement.clone(),
        },
    });
    let index = p.post(kind, "the yank")?;
    let v = p.set()?;
    print(
        &staged(&p, &v, Some(index)),
        args.publisher.json,
        &format!("yanked {} at log index {index}", p.label()),
    )
}

/// `reprove release announce`.
pub fn announce(args: &ReleaseAnnounce) -> anyhow::Result<Outcome> {
    if args.wait.is_some_and(|w| w > MAX_WAIT) {
        bail!("--wait is longer than the limit of 7 days");
    }
    if args.interval < Duration::from_secs(1) {
        bail!("--interval must be at least 1 second");
    }
    let policy = load_policy(crate::config::policy(&args.consumer)?)?;
    let url = ledger_url(args.consumer.ledger.as_deref(), &policy)?;
    let p = Publisher::new(&args.release, &args.key, &Some(url.clone()))?;
    let v = p.set()?;
    let (release, subjects) = released(&p, &v)?;
    if let Some(i) = v["version_state"]["announced"]["index"].as_u64() {
        bail!("{} is already announced at log index {i}", p.label());
    }
    let (attestations, unverified) = if args.unverified {
        let reason = args.reason.clone().unwrap_or_default();
        (Vec::new(), Some(Unverified { reason }))
    } else {
        match wait_for_gate(args, &policy, &url, &p, &release)? {
            Some(indices) => (indices, None),
            None => {
                if args.json {
                    println!("{}", crate::report::json(&staged(&p, &v, None))?);
                }
                return Ok(Outcome::No);
            }
        }
    };
    let kind = EntryKind::Announcement(Announcement {
        subjects,
        predicate: AnnouncementPredicate {
            release,
            attestations,
            unverified,
        },
    });
    let index = p.post(kind, "the announcement")?;
    let v = p.set()?;
    print(
        &staged(&p, &v, Some(index)),
        args.json,
        &format!("announced {} at log index {index}", p.label()),
    )
}

/// Runs the gate until it passes (the attestations that satisfied the policy, for the
/// release the set names) or `--wait` runs out (`None`, after saying why).
fn wait_for_gate(
    args: &ReleaseAnnounce,
    policy: &reprove_verifier::policy::Policy,
    url: &str,
    p: &Publisher,
    release: &ReleaseRef,
) -> anyhow::Result<Option<Vec<u64>>> {
    let cache = crate::cmd::verify::cache_dir(args.consumer.cache.clone(), &policy.log.origin)?;
    let deadline = Instant::now() + args.wait.unwrap_or(Duration::ZERO);
    loop {
        let state = StateDir::new(args.consumer.state.as_deref())?;
        let checked =
            crate::cmd::gate::check(policy, url, state, cache.clone(), &p.name, &p.version)?;
        let (manifests, reports) = (&checked.0, &checked.1);
        let ours = manifests.iter().any(|m| m.index == release.log_index);
        let trusted = ours && !reports.is_empty() && reports.iter().all(|a| a.trusted);
        if trusted {
            let indices: BTreeSet<u64> = reports
                .iter()
                .flat_map(|r| r.verdict.counted.iter().map(|c| c.index))
                .collect();
            return Ok(Some(indices.into_iter().collect()));
        }
        let now = Instant::now();
        if now >= deadline {
            let mut err = std::io::stderr().lock();
            writeln!(
                err,
                "not announced: {} does not satisfy the policy{}",
                p.label(),
                if ours {
                    ""
                } else {
                    " (the policy does not accept its release manifest's signer)"
                }
            )?;
            for r in reports {
                writeln!(err, "  {}: {}", r.name, r.verdict.summary)?;
            }
            return Ok(None);
        }
        let ok = reports.iter().filter(|a| a.trusted).count();
        eprintln!(
            "announce {}: {ok} of {} artifact(s) trusted; checking again in {}s",
            p.label(),
            reports.len(),
            args.interval.min(deadline - now).as_secs_f32().ceil()
        );
        std::thread::sleep(args.interval.min(deadline - now));
    }
}

/// What `reprove latest` prints.
#[derive(Debug, Serialize)]
struct LatestReport {
    project: String,
    /// The latest version by the log, when one was announced.
    latest: Option<reprove_verifier::staging::VersionState>,
    /// Every released version and what the log says of it.
    versions: Vec<reprove_verifier::staging::VersionState>,
    /// What the ledger serves as latest (its `/latest/<name>`), which must be the same.
    ledger_latest: Option<String>,
    /// The proven lookups the answer rests on: each key's path and its indices.
    proven: Vec<ProvenList>,
    log: LogSeen,
}

#[derive(Debug, Serialize)]
struct ProvenList {
    lookup: String,
    indices: Vec<u64>,
}

/// `reprove latest`.
pub fn latest(args: &Latest) -> anyhow::Result<Outcome> {
    let policy = load_policy(crate::config::policy(&args.consumer)?)?;
    let url = ledger_url(args.consumer.ledger.as_deref(), &policy)?;
    let name = &args.name;
    let keys: Vec<_> = policy
        .publishers
        .iter()
        .filter(|p| p.covers(name))
        .flat_map(|p| p.keys.iter().cloned())
        .collect();
    if keys.is_empty() {
        bail!(
            "the policy names no publisher for {name}: latest is what a project's publisher \
             announced, so name its key under [[publisher]]"
        );
    }
    let cache = crate::cmd::verify::cache_dir(args.consumer.cache.clone(), &policy.log.origin)?;
    let state = StateDir::new(args.consumer.state.as_deref())?;
    let mut online = Online::connect(&policy, &url, state, Some(cache))?;
    let mut proven = Vec::new();
    let mut indices = BTreeSet::new();
    for key in &keys {
        for k in [
            IndexKey::Project(name.clone()),
            IndexKey::Staged(name.clone()),
        ] {
            let scoped = crate::client::signed_by(k, key);
            let found = online.lookup(&scoped)?;
            indices.extend(found.iter().copied());
            proven.push(ProvenList {
                lookup: scoped.proven_path().unwrap_or_default(),
                indices: found,
            });
        }
    }
    let mut entries = Vec::new();
    for index in indices {
        if let Verified::Entry(e) = online.verified(index)? {
            entries.push(*e);
        }
    }
    let facts: Vec<Fact<'_>> = entries.iter().map(|e| e.fact()).collect();
    let project = ProjectState::derive(name, &facts, &policy);
    online.commit()?;
    let ledger_latest = ledger_latest(&url, name)?;
    let report = LatestReport {
        project: name.clone(),
        latest: project.latest().cloned(),
        versions: project.versions.clone(),
        ledger_latest,
        proven,
        log: LogSeen::of(online.checkpoint()),
    };
    let ours = report.latest.as_ref().map(|v| v.version.as_str());
    if ours != report.ledger_latest.as_deref() {
        bail!(
            "the ledger serves {} as the latest {name}, but the log says {} (proven at tree size \
             {}): the ledger's latest is stale or not the log's — do not trust its /dl/{name}/latest/",
            report.ledger_latest.as_deref().unwrap_or("nothing"),
            ours.unwrap_or("nothing is announced"),
            report.log.tree_size
        );
    }
    if args.json {
        println!("{}", crate::report::json(&report)?);
    } else {
        let mut out = std::io::stdout().lock();
        match &report.latest {
            Some(v) => {
                let a = v.announced.as_ref();
                writeln!(out, "{name} {}", v.version)?;
                writeln!(
                    out,
                    "announced at log index {} ({}), release manifest at index {}, signed by {}",
                    a.map_or(0, |a| a.index),
                    match a.and_then(|a| a.unverified.as_ref()) {
                        Some(reason) => format!("unverified: {reason}"),
                        None => format!(
                            "attestations {}",
                            a.map(|a| a
                                .attestations
                                .iter()
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(", "))
                                .unwrap_or_default()
                        ),
                    },
                    v.release_index,
                    v.signer
                )?;
                for a in &v.artifacts {
                    writeln!(out, "  {}  sha256:{}", a.name, a.sha256)?;
                }
            }
            None => writeln!(out, "{name}: no announced version")?,
        }
        writeln!(
            out,
            "proven from {} lookup(s) under {} at tree size {}; the ledger serves the same",
            report.proven.len(),
            report.log.origin,
            report.log.tree_size
        )?;
    }
    Ok(if report.latest.is_some() {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

/// The version the ledger serves as latest (`GET /latest/<name>`), `None` when it serves none.
fn ledger_latest(url: &str, name: &str) -> anyhow::Result<Option<String>> {
    let client = LogClient::new(url, ClientOptions::default())?;
    let (status, body) = client.send(
        "GET",
        &format!("latest/{}", reprove_ledger::path_segment(name)),
        &[],
        SendBody::Bytes(&[]),
    )?;
    match status {
        404 => Ok(None),
        200 => {
            let v: Value =
                serde_json::from_slice(&body).context("the ledger's /latest is not JSON")?;
            Ok(v["latest"]["version"].as_str().map(str::to_owned))
        }
        s => bail!("the ledger's /latest/{name} answered {s}"),
    }
}
