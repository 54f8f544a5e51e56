//! What `verify` and `gate` print: a human summary (which operators counted, which entries did
//! not and why) or JSON for machines. The verdict itself comes from the pure core unchanged.

use std::fmt::Write as _;

use reprove_verifier::policy::{Policy, PolicyCheckpoint};
use reprove_verifier::policy::{Reason, Summary, Verdict, Warning, verdict_for};
use reprove_verifier::predicates::EntryKind;
use serde::Serialize;

use super::{Evidence, NotWeighed, Rejected};

/// The judgement of one artifact.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactReport {
    /// The file, or the artifact's name in a release, or `sha256:<hex>`.
    pub name: String,
    /// The artifact's sha256, lowercase hex.
    pub sha256: String,
    /// Its blake3, when the bytes were hashed here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// Its size, when the bytes were hashed here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Whether the policy holds for it.
    pub trusted: bool,
    /// `trusted`, `not-trusted`, or `unknown`: no entry in the log names these bytes at all
    /// (none weighed, none by other keys, none rejected) — not "reproduced by 0".
    pub status: Standing,
    /// Release manifests that name these bytes.
    pub releases: Vec<ReleaseSeen>,
    /// The pure core's verdict, unchanged.
    pub verdict: Verdict,
    /// Entries found for it that are not valid reprove entries.
    pub rejected: Vec<Rejected>,
    /// Entries the log lists about it by keys the policy does not name: not fetched, not
    /// verified, not weighed (online only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_weighed: Option<NotWeighed>,
}

/// Where an artifact stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    Trusted,
    NotTrusted,
    /// The log has no entry about these bytes: nobody published or rebuilt them there.
    Unknown,
}

impl Standing {
    fn of(v: &Verdict, evidence: &Evidence) -> Standing {
        let unweighed = evidence.not_weighed.map_or(0, |n| n.count);
        if v.trusted {
            Standing::Trusted
        } else if v.summary == Summary::Unknown && unweighed == 0 && evidence.rejected.is_empty() {
            Standing::Unknown
        } else {
            Standing::NotTrusted
        }
    }
}

/// A release manifest naming an artifact.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseSeen {
    pub index: u64,
    pub project: String,
    pub version: String,
    pub signer: String,
}

/// The log state everything was proven under.
pub type LogSeen = crate::report::Log;

impl LogSeen {
    /// From a verified checkpoint.
    pub fn of(cp: &PolicyCheckpoint) -> LogSeen {
        let c = cp.checkpoint();
        LogSeen::new(c.origin(), c.size(), c.root())
    }
}

/// Applies the policy to the evidence about one artifact.
pub fn judge(
    policy: &Policy,
    name: String,
    sha256: &[u8; 32],
    release: Option<(&str, &str)>,
    evidence: &Evidence,
) -> ArtifactReport {
    let mut v = verdict_for(policy, sha256, release, &evidence.entries);
    if release.is_none()
        && let Some(hint) = name_hint(&name, &v, evidence)
    {
        v.warnings.push(hint);
    }
    let releases = evidence
        .entries
        .iter()
        .filter_map(|e| match e.entry().kind() {
            EntryKind::Release(r) if r.subjects.iter().any(|s| s.digest.sha256 == *sha256) => {
                Some(ReleaseSeen {
                    index: e.index(),
                    project: r.predicate.project.clone(),
                    version: r.predicate.version.clone(),
                    signer: e.signer().to_string(),
                })
            }
            _ => None,
        })
        .collect();
    ArtifactReport {
        name,
        sha256: hex::encode(sha256),
        blake3: None,
        size: None,
        trusted: v.trusted,
        status: Standing::of(&v, evidence),
        releases,
        verdict: v,
        rejected: evidence.rejected.clone(),
        not_weighed: evidence.not_weighed,
    }
}

/// The file's name is a hint of the release it comes from, never a rule: when no release was
/// named and the attestations that counted are all of releases whose names the file's name does
/// not contain, say so (the bytes are trusted as *those* releases' artifact).
fn name_hint(file: &str, v: &Verdict, evidence: &Evidence) -> Option<Warning> {
    if file.starts_with("sha256:") || v.counted.is_empty() {
        return None;
    }
    let base = std::path::Path::new(file)
        .file_name()?
        .to_string_lossy()
        .to_lowercase();
    let mut releases: Vec<String> = v
        .counted
        .iter()
        .filter_map(|c| evidence.entries.iter().find(|e| e.index() == c.index))
        .filter_map(|e| match e.entry().kind() {
            EntryKind::Rebuild(a) => Some(format!(
                "{}@{}",
                a.predicate.release.name, a.predicate.release.version
            )),
            _ => None,
        })
        .collect();
    releases.sort();
    releases.dedup();
    let named = releases.iter().any(|r| {
        let project = r.rsplit_once('@').map_or(r.as_str(), |(n, _)| n);
        base.contains(&project.to_lowercase())
    });
    (!named && !releases.is_empty()).then_some(Warning::FileNotNamedAfterRelease {
        file: base,
        releases,
    })
}

/// A key as people read it: `name+keyid`.
fn short(vkey: &str) -> String {
    let mut parts = vkey.splitn(3, '+');
    match (parts.next(), parts.next()) {
        (Some(n), Some(id)) => format!("{n}+{id}"),
        _ => vkey.to_string(),
    }
}

/// The human summary of one artifact.
pub fn human(r: &ArtifactReport) -> String {
    let mut s = String::new();
    let v = &r.verdict;
    let status = match r.status {
        Standing::Trusted => "TRUSTED",
        Standing::NotTrusted => "NOT TRUSTED",
        Standing::Unknown => "UNKNOWN TO THE LOG",
    };
    let _ = writeln!(s, "{}  sha256:{}  {status}", r.name, r.sha256);
    if r.status == Standing::Unknown {
        let _ = writeln!(
            s,
            "  not trusted: unknown to the log — no entry in it names these bytes (nobody \
             published or rebuilt them there)"
        );
    } else {
        let _ = writeln!(s, "  {}", v.summary);
    }
    for rel in &r.releases {
        let _ = writeln!(
            s,
            "  release:     {} {} (index {}, signed by {})",
            rel.project,
            rel.version,
            rel.index,
            short(&rel.signer)
        );
    }
    for c in &v.counted {
        let _ = writeln!(
            s,
            "  counted:     operator {} (index {}, key {})",
            c.operator,
            c.index,
            short(&c.key)
        );
    }
    for n in &v.not_counted {
        if matches!(&n.reason, Reason::NotAnAttestation { predicate_type } if predicate_type.contains("/release/"))
        {
            continue; // listed as a release above
        }
        let who = match &n.operator {
            Some(op) => format!("operator {op}, key {}", short(&n.key)),
            None => format!("key {}", short(&n.key)),
        };
        let _ = writeln!(s, "  not counted: index {} ({who}): {}", n.index, n.reason);
    }
    disputes_and_revocations(&mut s, v);
    for rj in &r.rejected {
        let _ = writeln!(s, "  rejected:    index {}: {}", rj.index, rj.why);
    }
    if let Some(n) = r.not_weighed.filter(|n| n.count > 0) {
        let _ = writeln!(
            s,
            "  not weighed: {}{} more entr{} about these bytes by keys the policy does not name",
            if n.more { "at least " } else { "" },
            n.count,
            if n.count == 1 && !n.more { "y" } else { "ies" }
        );
    }
    for w in &v.warnings {
        let _ = writeln!(s, "  warning:     {w}");
    }
    if !v.publisher_pinned {
        let _ = writeln!(s, "  WARNING:     {UNPINNED}");
    }
    s
}

/// The mismatch, revocation and ignored-notice lines of a verdict.
fn disputes_and_revocations(s: &mut String, v: &Verdict) {
    for m in &v.mismatches {
        let rebuilt = m.rebuilt_sha256.as_deref().unwrap_or("nothing");
        let _ = writeln!(
            *s,
            "  MISMATCH:    operator {} (index {}) rebuilt sha256:{rebuilt}{}",
            m.operator,
            m.index,
            m.diff_report
                .as_deref()
                .map(|d| format!(", diff report sha256:{d}"))
                .unwrap_or_default()
        );
    }
    for rv in &v.revocations {
        let _ = writeln!(
            *s,
            "  revoked:     key {} of operator {} ({}) from index {} (notice at index {}){}",
            short(&rv.key),
            rv.operator,
            rv.reason.as_str(),
            rv.effective_index,
            rv.index,
            rv.replacement
                .as_deref()
                .map(|k| format!(", replaced by {}", short(k)))
                .unwrap_or_default()
        );
    }
    for ig in &v.ignored_revocations {
        let _ = writeln!(
            *s,
            "  ignored revocation notice at index {} for key {}: {}",
            ig.index,
            short(&ig.key),
            ig.why
        );
    }
}

/// What a verdict without `[[publisher]]` in the policy must say.
pub const UNPINNED: &str = "the policy pins no publisher ([[publisher]]): any logged release \
     that lists these bytes can make them trusted, whoever published it";
