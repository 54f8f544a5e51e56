//! Step 3: the verdict (see the module docs of `policy`).

use super::revocation::{KeyStanding, key_standing};
use super::*;
use crate::predicates::ReleaseRef;

/// The outcome of applying a policy to the verified entries about one artifact digest.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The artifact's sha256, lowercase hex.
    pub sha256: String,
    /// Whether the policy holds.
    pub trusted: bool,
    /// The policy's threshold of distinct operators.
    pub threshold: usize,
    /// The distinct operators that reproduced these bytes, in name order.
    pub operators: Vec<String>,
    /// Attestations that counted toward the threshold (one per operator).
    pub counted: Vec<Counted>,
    /// Entries that did not count, each with the reason.
    pub not_counted: Vec<NotCounted>,
    /// `mismatch` attestations from trusted, non-revoked operators.
    pub mismatches: Vec<Mismatch>,
    /// Revocation notices that apply to policy keys.
    pub revocations: Vec<AppliedRevocation>,
    /// Revocation notices that were ignored, with the reason.
    pub ignored_revocations: Vec<IgnoredRevocation>,
    /// Things the consumer should know that did not decide the verdict.
    pub warnings: Vec<Warning>,
    /// Whether the policy names the publishers it trusts (`[[publisher]]`). Without, any
    /// logged release listing the artifact can make it trusted.
    pub publisher_pinned: bool,
    /// The unpinned outputs these bytes were counted as (`name@version` of the release, a
    /// space, the output's artifact name): no publisher fixed these bytes, so the count is of
    /// operators whose builds agree. Empty for a published artifact.
    pub unpinned_outputs: Vec<String>,
    /// Why trusted or not, in one line when displayed.
    pub summary: Summary,
}

/// Why a verdict is what it is. Displayed (and serialised) as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Summary {
    /// Enough distinct operators reproduced the bytes, and no mismatch the policy fails on.
    Trusted {
        operators: Vec<String>,
        threshold: usize,
    },
    /// Trusted operators reported a mismatch and the policy fails on one.
    Disputed { operators: Vec<String> },
    /// Too few distinct operators reproduced the bytes.
    TooFew { reproduced: usize, threshold: usize },
    /// The publisher withdrew the release listing the bytes before announcing it.
    Withdrawn {
        release: String,
        index: u64,
        reason: String,
    },
    /// The publisher yanked the release listing the bytes, and the policy fails on a yank.
    Yanked {
        release: String,
        index: u64,
        reason: String,
    },
    /// Too few operators reproduced the bytes, but a trusted publisher announced the release
    /// without reproduction and the policy accepts that (`on_unverified = "warn"`).
    TrustedUnverified {
        release: String,
        index: u64,
        reason: String,
        reproduced: usize,
        threshold: usize,
    },
    /// Enough distinct operators built these exact bytes for an output no publisher pinned,
    /// and no trusted operator built other bytes for it (or the policy only warns).
    Agreed {
        operators: Vec<String>,
        threshold: usize,
    },
    /// Trusted operators built other bytes for the same unpinned output of the same release,
    /// and the policy fails on a mismatch.
    Disagreed { operators: Vec<String> },
    /// Too few distinct operators built these bytes for an unpinned output.
    TooFewAgreed { agreed: usize, threshold: usize },
    /// No entry among those weighed names the bytes: no release manifest lists them and no
    /// attestation is about them. Not "reproduced by 0": nobody claimed anything.
    Unknown,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Summary::Trusted {
                operators,
                threshold,
            } => write!(
                f,
                "trusted: reproduced bit for bit by {} of {threshold} required operator(s): {}",
                operators.len(),
                operators.join(", ")
            ),
            Summary::Disputed { operators } => write!(
                f,
                "not trusted: mismatch reported by trusted operator(s) {}",
                operators.join(", ")
            ),
            Summary::TooFew {
                reproduced,
                threshold,
            } => write!(
                f,
                "not trusted: reproduced by {reproduced} distinct operator(s), the policy requires {threshold}"
            ),
            Summary::Withdrawn {
                release,
                index,
                reason,
            } => write!(
                f,
                "not trusted: {release} was withdrawn by its publisher at index {index}: {reason}"
            ),
            Summary::Yanked {
                release,
                index,
                reason,
            } => write!(
                f,
                "not trusted: {release} was yanked by its publisher at index {index}: {reason} (policy: on_yanked = \"fail\")"
            ),
            Summary::TrustedUnverified {
                release,
                index,
                reason,
                reproduced,
                threshold,
            } => write!(
                f,
                "trusted without reproduction: {release} was announced unverified by its publisher at index {index} ({reason}); reproduced by {reproduced} of {threshold} required operator(s) (policy: on_unverified = \"warn\")"
            ),
            Summary::Agreed {
                operators,
                threshold,
            } => write!(
                f,
                "trusted: no publisher fixed these bytes, and {} of {threshold} required operator(s) built exactly them: {}",
                operators.len(),
                operators.join(", ")
            ),
            Summary::Disagreed { operators } => write!(
                f,
                "not trusted: trusted operator(s) {} built other bytes for the same output of the same release",
                operators.join(", ")
            ),
            Summary::TooFewAgreed { agreed, threshold } => write!(
                f,
                "not trusted: no publisher fixed these bytes, and only {agreed} distinct operator(s) built exactly them; the policy requires {threshold}"
            ),
            Summary::Unknown => f.write_str(
                "not trusted: unknown — no release manifest or rebuild attestation weighed names these bytes",
            ),
        }
    }
}

/// Something the consumer should know that did not decide the verdict. Displayed (and
/// serialised) as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A trusted operator reported a mismatch, and the policy only warns on one.
    MismatchTolerated { operator: String, index: u64 },
    /// A notice names a replacement key for an operator the policy allows no rotation for.
    RotationNotAllowed {
        index: u64,
        replacement: String,
        operator: String,
    },
    /// A notice names a replacement key that does not count.
    ReplacementRefused {
        index: u64,
        replacement: String,
        why: RefusedReplacement,
    },
    /// The publisher yanked the release, and the policy only warns on a yank.
    Yanked {
        release: String,
        index: u64,
        reason: String,
        replacement: Option<String>,
    },
    /// The bytes are trusted only because the publisher announced them unverified.
    AnnouncedUnverified {
        release: String,
        index: u64,
        reason: String,
    },
    /// The file was reproduced as an artifact of releases whose names the file name does not
    /// contain (the consumer named no release).
    FileNotNamedAfterRelease { file: String, releases: Vec<String> },
}

/// Why a replacement key named by a notice does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedReplacement {
    /// The notice is signed by the old key, which was already revoked from `effective`.
    SignerRevoked { signer: String, effective: u64 },
    /// The notice is signed by the old key before it was valid itself.
    SignerNotYetValid { signer: String },
    /// The policy lists the replacement under another operator.
    OtherOperatorsKey,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::MismatchTolerated { operator, index } => write!(
                f,
                "operator {operator} reported a mismatch at index {index} (policy: warn)"
            ),
            Warning::RotationNotAllowed {
                index,
                replacement,
                operator,
            } => write!(
                f,
                "notice at index {index} names replacement key {replacement} for operator {operator}, but the policy does not allow rotation for it"
            ),
            Warning::ReplacementRefused {
                index,
                replacement,
                why,
            } => {
                write!(
                    f,
                    "notice at index {index} names replacement key {replacement}, "
                )?;
                match why {
                    RefusedReplacement::SignerRevoked { signer, effective } => write!(
                        f,
                        "but it is signed by {signer}, which was revoked from index {effective} at that index"
                    ),
                    RefusedReplacement::SignerNotYetValid { signer } => write!(
                        f,
                        "but it is signed by {signer}, which was not yet valid at that index"
                    ),
                    RefusedReplacement::OtherOperatorsKey => {
                        f.write_str("which the policy lists under another operator")
                    }
                }
            }
            Warning::Yanked {
                release,
                index,
                reason,
                replacement,
            } => {
                write!(
                    f,
                    "{release} was yanked by its publisher at index {index}: {reason}"
                )?;
                if let Some(r) = replacement {
                    write!(f, "; use {r} instead")?;
                }
                f.write_str(" (policy: on_yanked = \"warn\")")
            }
            Warning::AnnouncedUnverified {
                release,
                index,
                reason,
            } => write!(
                f,
                "{release} was announced without reproduction at index {index}: {reason}"
            ),
            Warning::FileNotNamedAfterRelease { file, releases } => write!(
                f,
                "{file} was reproduced as an artifact of {}, whose name(s) the file's do not contain: \
                 pass --release NAME@VERSION to require the release you expect",
                releases.join(", ")
            ),
        }
    }
}

/// Findings are written as their sentence: `--json` readers get the words people read.
macro_rules! serialize_as_display {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_as_display!(Summary, Warning, Unbound, IgnoredBecause);

/// An attestation that counted.
#[derive(Debug, Clone, Serialize)]
pub struct Counted {
    pub index: u64,
    pub operator: String,
    /// The key that signed the attestation (reports call every entry's signing key `signer`).
    #[serde(rename = "signer")]
    pub key: String,
}

/// An entry that did not count, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotCounted {
    pub index: u64,
    #[serde(rename = "signer")]
    pub key: String,
    pub operator: Option<String>,
    pub reason: Reason,
}

/// A trusted operator's `mismatch`.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub index: u64,
    pub operator: String,
    #[serde(rename = "signer")]
    pub key: String,
    /// The rebuilt sha256 of this artifact, when the attestation names one.
    pub rebuilt_sha256: Option<String>,
    /// The sha256 of the diff report, when the attestation names one.
    #[serde(rename = "diff_report_sha256")]
    pub diff_report: Option<String>,
    /// For an unpinned output: the output's artifact name, which this attestation gives other
    /// bytes (`rebuilt_sha256`) than the ones weighed. `None`: a `mismatch` result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_bytes_for: Option<String>,
}

/// A revocation notice applied to a policy key.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedRevocation {
    pub index: u64,
    #[serde(rename = "revoked_key")]
    pub key: String,
    pub operator: String,
    pub reason: RevocationReason,
    /// Attestations by the key at this index or later are rejected.
    pub effective_index: u64,
    /// A replacement key accepted for the operator (rotation allowed by the policy).
    #[serde(rename = "replacement_key")]
    pub replacement: Option<String>,
}

/// A revocation notice that was ignored.
#[derive(Debug, Clone, Serialize)]
pub struct IgnoredRevocation {
    pub index: u64,
    #[serde(rename = "revoked_key")]
    pub key: String,
    pub why: IgnoredBecause,
}

/// Why a revocation notice was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoredBecause {
    /// Signed by a key that is neither the revoked key nor its operator's recovery key.
    WrongSigner { signer: String },
    /// The revoked key is not in the policy.
    KeyNotInPolicy,
}

impl fmt::Display for IgnoredBecause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IgnoredBecause::WrongSigner { signer } => write!(
                f,
                "signed by {signer}, which is neither the revoked key nor its operator's recovery key"
            ),
            IgnoredBecause::KeyNotInPolicy => f.write_str("the revoked key is not in the policy"),
        }
    }
}

/// How an attestation's `release` fails to resolve to the logged release manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unbound {
    /// No entry at that index among those seen lists the artifact.
    NotSeen,
    /// The entry at that index is not a release manifest.
    NotARelease,
    /// The manifest's entry digest is not the one the attestation gives.
    OtherDigest,
    /// The manifest's name or version is not the one the attestation gives.
    OtherNameOrVersion,
    /// The manifest does not list the artifact.
    ArtifactNotListed,
    /// The manifest gives the artifact another BLAKE3 than the attestation.
    OtherBlake3,
    /// The artifact is the manifest's source archive, which no build produces.
    NotAnOutput,
}

impl fmt::Display for Unbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unbound::NotSeen => {
                "is not a release manifest listing this artifact among the entries seen"
            }
            Unbound::NotARelease => "is not a release manifest",
            Unbound::OtherDigest => "has another entry digest than the attestation gives",
            Unbound::OtherNameOrVersion => "has another name or version than the attestation gives",
            Unbound::ArtifactNotListed => "does not list this artifact",
            Unbound::OtherBlake3 => "gives this artifact another blake3 than the attestation",
            Unbound::NotAnOutput => "names this artifact as its source, which no build produces",
        })
    }
}

/// Why an entry did not count toward the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// Signed by a key that is not in the policy.
    UntrustedKey,
    /// The key was revoked from `effective_index` on by the notice at `notice_index`.
    KeyRevoked {
        notice_index: u64,
        effective_index: u64,
        reason: RevocationReason,
    },
    /// A replacement key used before the notice that introduced it.
    ReplacementNotYetValid { notice_index: u64 },
    /// The entry is not a rebuild attestation.
    NotAnAttestation { predicate_type: String },
    /// The attestation does not name this artifact's sha256 as a subject.
    DifferentArtifact,
    /// The rebuild did not reproduce the artifact.
    NotReproduced { result: RebuildResult },
    /// Another attestation of the same operator already counted.
    OperatorAlreadyCounted { operator: String },
    /// The attestation's `release` does not resolve to a logged release manifest that lists
    /// this artifact (with the name, version and entry digest the attestation gives).
    ReleaseNotBound { release_index: u64, why: Unbound },
    /// The release is not the one the consumer asked about (`--release`).
    OtherRelease {
        /// The release's project (`project`, as reports name it everywhere).
        #[serde(rename = "project")]
        name: String,
        version: String,
    },
    /// No publisher the policy trusts for the project signed the release.
    PublisherNotTrusted { release_index: u64, project: String },
    /// The policy requires a sandboxed build and this one was not.
    NotSandboxed,
    /// The attestation gives other bytes for the same unpinned output of the same release.
    OtherBytes { output: String, sha256: String },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UntrustedKey => f.write_str("signed by a key the policy does not trust"),
            Reason::KeyRevoked {
                notice_index,
                effective_index,
                reason,
            } => write!(
                f,
                "key revoked ({}) by the notice at index {notice_index}, effective from index {effective_index}",
                reason.as_str()
            ),
            Reason::ReplacementNotYetValid { notice_index } => write!(
                f,
                "replacement key used before the notice at index {notice_index} introduced it"
            ),
            Reason::NotAnAttestation { predicate_type } => {
                write!(f, "not a rebuild attestation ({predicate_type})")
            }
            Reason::DifferentArtifact => f.write_str("does not attest this artifact's sha256"),
            Reason::NotReproduced { result } => write!(f, "result is {result}, not reproduced"),
            Reason::OperatorAlreadyCounted { operator } => {
                write!(f, "operator {operator} already counted once")
            }
            Reason::ReleaseNotBound { release_index, why } => {
                write!(f, "its release (index {release_index}) {why}")
            }
            Reason::OtherRelease { name, version } => {
                write!(f, "attests {name}@{version}, not the release asked about")
            }
            Reason::PublisherNotTrusted {
                release_index,
                project,
            } => write!(
                f,
                "the release at index {release_index} is not signed by a publisher the policy trusts for {project}"
            ),
            Reason::NotSandboxed => f.write_str("built without a sandbox; the policy requires one"),
            Reason::OtherBytes { output, sha256 } => write!(
                f,
                "built other bytes (sha256 {sha256}) for the same unpinned output {output} of the same release"
            ),
        }
    }
}

/// Checks that `att`'s release resolves among `entries` as [`verdict_for`] requires.
fn bound_release(
    policy: &Policy,
    sha256: &[u8; 32],
    expected: Option<(&str, &str)>,
    att: &RebuildAttestation,
    entries: &[LoggedEntry],
) -> Result<(), Reason> {
    let r = &att.predicate.release;
    let unbound = |why: Unbound| Reason::ReleaseNotBound {
        release_index: r.log_index,
        why,
    };
    if let Some((name, version)) = expected
        && (r.name != name || r.version != version)
    {
        return Err(Reason::OtherRelease {
            name: r.name.clone(),
            version: r.version.clone(),
        });
    }
    let Some(logged) = entries.iter().find(|e| e.index == r.log_index) else {
        return Err(unbound(Unbound::NotSeen));
    };
    let EntryKind::Release(manifest) = logged.entry.kind() else {
        return Err(unbound(Unbound::NotARelease));
    };
    let Some(digest) = logged.digest() else {
        return Err(unbound(Unbound::NotARelease));
    };
    if !r.names(logged.index, digest) {
        return Err(unbound(Unbound::OtherDigest));
    }
    if manifest.predicate.project != r.name || manifest.predicate.version != r.version {
        return Err(unbound(Unbound::OtherNameOrVersion));
    }
    let attested = att.subjects.iter().find(|s| s.digest.sha256 == *sha256);
    let listed = manifest
        .subjects
        .iter()
        .find(|s| s.digest.sha256 == *sha256);
    match listed {
        // An unpinned output: bound by its name; its bytes are whatever the builds agree on.
        None if attested.is_some_and(|a| manifest.is_unpinned(&a.name)) => {}
        None => return Err(unbound(Unbound::ArtifactNotListed)),
        Some(l) if !manifest.pinned_subjects().iter().any(|p| p.name == l.name) => {
            return Err(unbound(Unbound::NotAnOutput));
        }
        Some(l) => {
            if let (Some(a), Some(b)) = (l.digest.blake3, attested.and_then(|s| s.digest.blake3))
                && a != b
            {
                return Err(unbound(Unbound::OtherBlake3));
            }
        }
    }
    if !policy.publishers.is_empty() {
        let project = &manifest.predicate.project;
        if !policy.trusts_publisher(project, &logged.signer) {
            return Err(Reason::PublisherNotTrusted {
                release_index: r.log_index,
                project: project.clone(),
            });
        }
    }
    Ok(())
}

/// Applies the policy to every verified entry that concerns the artifact with digest `sha256`.
///
/// `entries` may hold attestations, release manifests and revocation notices in any order;
/// entries about other artifacts are listed as not counting. Revocation notices apply to every
/// attestation by the revoked key at or after the effective index.
pub fn verdict(policy: &Policy, sha256: &[u8; 32], entries: &[LoggedEntry]) -> Verdict {
    verdict_for(policy, sha256, None, entries)
}

/// [`verdict`], counting only attestations of the release `name`@`version` when one is given.
///
/// An attestation counts only when its `release` resolves, among `entries`, to a release
/// manifest: at its log index, with the entry digest, name and version it gives, listing this
/// artifact (blake3 agreeing where both give one), and — when the policy names publishers —
/// signed by a publisher trusted for the project. (A mismatch counts without that: hiding the
/// release must not hide a trusted operator's mismatch.)
pub fn verdict_for(
    policy: &Policy,
    sha256: &[u8; 32],
    release: Option<(&str, &str)>,
    entries: &[LoggedEntry],
) -> Verdict {
    let mut v = Verdict {
        sha256: hex::encode(sha256),
        trusted: false,
        threshold: policy.threshold,
        operators: Vec::new(),
        counted: Vec::new(),
        not_counted: Vec::new(),
        mismatches: Vec::new(),
        revocations: Vec::new(),
        ignored_revocations: Vec::new(),
        warnings: Vec::new(),
        publisher_pinned: !policy.publishers.is_empty(),
        unpinned_outputs: Vec::new(),
        summary: Summary::TooFew {
            reproduced: 0,
            threshold: policy.threshold,
        },
    };
    let standing = key_standing(policy, entries, &mut v);
    let mut sorted: Vec<&LoggedEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.index);
    let mut counted_ops: BTreeSet<String> = BTreeSet::new();
    for e in sorted {
        // Revocations are reported under revocations; releases are what attestations bind to.
        let EntryKind::Rebuild(att) = e.entry.kind() else {
            continue;
        };
        let key = e.signer.to_string();
        let Some(st) = standing.get(&key) else {
            v.not_counted
                .push(not_counted(e, None, Reason::UntrustedKey));
            continue;
        };
        let op = st.operator.as_str();
        let weighed = weigh(policy, sha256, release, entries, st, e, att).and_then(|()| {
            if counted_ops.insert(op.to_owned()) {
                Ok(())
            } else {
                Err(Reason::OperatorAlreadyCounted {
                    operator: op.to_owned(),
                })
            }
        });
        match weighed {
            Ok(()) => v.counted.push(Counted {
                index: e.index,
                operator: op.to_owned(),
                key,
            }),
            Err(reason) => {
                if reason
                    == (Reason::NotReproduced {
                        result: RebuildResult::Mismatch,
                    })
                {
                    v.mismatches.push(mismatch(e, op, att, sha256));
                }
                v.not_counted.push(not_counted(e, Some(op), reason));
            }
        }
    }
    v.operators = counted_ops.into_iter().collect();
    disagreements(&standing, sha256, entries, &mut v);
    conclude(policy, &mut v);
    staged(policy, sha256, release, entries, &mut v);
    if !v.trusted && !entries.iter().any(|e| names_artifact(e, sha256)) {
        v.summary = Summary::Unknown;
    }
    v
}

/// What the publisher's staged-release entries say of the releases listing `sha256` (the
/// rule of [`crate::staging`]): a withdrawal always fails the verdict; a yank fails it or
/// warns (`on_yanked`); an unverified announcement makes too few reproductions enough when the
/// policy names publishers and says `on_unverified = "warn"`.
fn staged(
    policy: &Policy,
    sha256: &[u8; 32],
    expected: Option<(&str, &str)>,
    entries: &[LoggedEntry],
    v: &mut Verdict,
) {
    use crate::staging::{Fact, ProjectState};
    let facts: Vec<Fact<'_>> = entries.iter().map(LoggedEntry::fact).collect();
    let mut projects: BTreeSet<&str> = BTreeSet::new();
    for e in entries {
        if let EntryKind::Release(r) = e.entry.kind()
            && r.subjects.iter().any(|s| s.digest.sha256 == *sha256)
            && expected.is_none_or(|(n, _)| n == r.predicate.project)
        {
            projects.insert(&r.predicate.project);
        }
    }
    let hex = hex::encode(sha256);
    for project in projects {
        let state = ProjectState::derive(project, &facts, policy);
        for version in &state.versions {
            let lists = version.artifacts.iter().any(|a| a.sha256 == hex);
            if !lists || expected.is_some_and(|(_, ver)| ver != version.version) {
                continue;
            }
            let release = format!("{}@{}", version.project, version.version);
            if let Some(w) = &version.withdrawn {
                v.trusted = false;
                v.summary = Summary::Withdrawn {
                    release,
                    index: w.index,
                    reason: w.reason.clone(),
                };
                return;
            }
            if let Some(y) = &version.yanked {
                if policy.on_yanked == OnFinding::Fail {
                    v.trusted = false;
                    v.summary = Summary::Yanked {
                        release,
                        index: y.index,
                        reason: y.reason.clone(),
                    };
                    return;
                }
                v.warnings.push(Warning::Yanked {
                    release: release.clone(),
                    index: y.index,
                    reason: y.reason.clone(),
                    replacement: y.replacement.clone(),
                });
            }
            let unverified = version
                .announced
                .as_ref()
                .and_then(|a| a.unverified.as_ref().map(|r| (a.index, r)));
            if let Some((index, reason)) = unverified
                && !v.trusted
                && matches!(v.summary, Summary::TooFew { .. })
                && policy.on_unverified == OnFinding::Warn
                && !policy.publishers.is_empty()
            {
                v.trusted = true;
                v.warnings.push(Warning::AnnouncedUnverified {
                    release: release.clone(),
                    index,
                    reason: reason.clone(),
                });
                v.summary = Summary::TrustedUnverified {
                    release,
                    index,
                    reason: reason.clone(),
                    reproduced: v.operators.len(),
                    threshold: policy.threshold,
                };
            }
        }
    }
}

/// Whether a release manifest lists `sha256` or an attestation names it as a subject.
fn names_artifact(e: &LoggedEntry, sha256: &[u8; 32]) -> bool {
    match e.entry.kind() {
        EntryKind::Release(_) | EntryKind::Rebuild(_) => e
            .entry
            .subjects()
            .iter()
            .any(|s| s.digest.sha256 == *sha256),
        // A publisher's later word about a release does not make the bytes known on its own.
        EntryKind::Revocation(_)
        | EntryKind::Announcement(_)
        | EntryKind::Withdrawal(_)
        | EntryKind::Yank(_) => false,
    }
}

/// Why the attestation `e` by a key standing as `st` does not count toward this artifact, if it
/// does not: the key's standing at its index, the subject, the result, the sandbox, and the
/// release it binds to — in that order (a mismatch is reported before its release is checked:
/// hiding the release must not hide a trusted operator's mismatch).
fn weigh(
    policy: &Policy,
    sha256: &[u8; 32],
    release: Option<(&str, &str)>,
    entries: &[LoggedEntry],
    st: &KeyStanding,
    e: &LoggedEntry,
    att: &RebuildAttestation,
) -> Result<(), Reason> {
    if let Some(after) = st.valid_after
        && e.index <= after
    {
        return Err(Reason::ReplacementNotYetValid {
            notice_index: after,
        });
    }
    if let Some((notice_index, effective_index, reason)) = st.revoked
        && e.index >= effective_index
    {
        return Err(Reason::KeyRevoked {
            notice_index,
            effective_index,
            reason,
        });
    }
    if !names_sha256(att, sha256) {
        return Err(Reason::DifferentArtifact);
    }
    if att.predicate.result != RebuildResult::Reproduced {
        return Err(Reason::NotReproduced {
            result: att.predicate.result,
        });
    }
    if policy.require_sandbox && att.predicate.sandbox.kind == SandboxKind::None {
        return Err(Reason::NotSandboxed);
    }
    bound_release(policy, sha256, release, att, entries)
}

fn not_counted(e: &LoggedEntry, operator: Option<&str>, reason: Reason) -> NotCounted {
    NotCounted {
        index: e.index,
        key: e.signer.to_string(),
        operator: operator.map(str::to_owned),
        reason,
    }
}

fn mismatch(
    e: &LoggedEntry,
    operator: &str,
    att: &RebuildAttestation,
    sha256: &[u8; 32],
) -> Mismatch {
    Mismatch {
        index: e.index,
        operator: operator.to_owned(),
        key: e.signer.to_string(),
        rebuilt_sha256: rebuilt_sha256_for(att, sha256).map(hex::encode),
        diff_report: att.predicate.diff_report.map(|d| hex::encode(d.sha256)),
        other_bytes_for: None,
    }
}

/// The unpinned outputs the counted attestations gave these bytes for: (release index, the
/// attestation's release reference, output name), from the entries weighed.
fn unpinned_counted<'a>(
    v: &Verdict,
    sha256: &[u8; 32],
    entries: &'a [LoggedEntry],
) -> Vec<(&'a ReleaseRef, String)> {
    let mut found: Vec<(&ReleaseRef, String)> = Vec::new();
    for c in &v.counted {
        let Some(e) = entries.iter().find(|e| e.index == c.index) else {
            continue;
        };
        let EntryKind::Rebuild(att) = e.entry.kind() else {
            continue;
        };
        let r = &att.predicate.release;
        let Some(subject) = att.subjects.iter().find(|s| s.digest.sha256 == *sha256) else {
            continue;
        };
        let unpinned = entries.iter().any(|m| {
            m.index == r.log_index
                && matches!(m.entry.kind(), EntryKind::Release(rel) if rel.is_unpinned(&subject.name))
        });
        if unpinned && !found.iter().any(|(f, n)| f == &r && *n == subject.name) {
            found.push((r, subject.name.clone()));
        }
    }
    found
}

/// For bytes counted as an unpinned output: every attestation of the same release, by a key of
/// a trusted operator in good standing at its index, that gives the same output other bytes
/// (whatever its result) is a mismatch (`other_bytes_for`), and its not-counted reason says so.
fn disagreements(
    standing: &BTreeMap<String, KeyStanding>,
    sha256: &[u8; 32],
    entries: &[LoggedEntry],
    v: &mut Verdict,
) {
    let outputs = unpinned_counted(v, sha256, entries);
    v.unpinned_outputs = outputs
        .iter()
        .map(|(r, n)| format!("{}@{} {n}", r.name, r.version))
        .collect();
    for e in entries {
        let EntryKind::Rebuild(att) = e.entry.kind() else {
            continue;
        };
        let Some(st) = standing.get(&e.signer.to_string()) else {
            continue;
        };
        let in_good_standing = st.valid_after.is_none_or(|after| e.index > after)
            && st
                .revoked
                .is_none_or(|(_, effective, _)| e.index < effective);
        if !in_good_standing {
            continue;
        }
        for (r, name) in &outputs {
            let other = att
                .subjects
                .iter()
                .find(|s| &s.name == name && s.digest.sha256 != *sha256);
            let same_release = att.predicate.release.log_index == r.log_index
                && att.predicate.release.digest.sha256 == r.digest.sha256;
            let Some(other) = other.filter(|_| same_release) else {
                continue;
            };
            let other_hex = hex::encode(other.digest.sha256);
            v.mismatches.push(Mismatch {
                index: e.index,
                operator: st.operator.clone(),
                key: e.signer.to_string(),
                rebuilt_sha256: Some(other_hex.clone()),
                diff_report: None,
                other_bytes_for: Some(name.clone()),
            });
            for n in v.not_counted.iter_mut().filter(|n| n.index == e.index) {
                n.reason = Reason::OtherBytes {
                    output: name.clone(),
                    sha256: other_hex.clone(),
                };
            }
        }
    }
}

/// The decision from what was counted: enough distinct operators, and no mismatch the policy
/// fails on; the warnings and the one-line summary.
fn conclude(policy: &Policy, v: &mut Verdict) {
    let enough = v.operators.len() >= policy.threshold;
    let disputed = !v.mismatches.is_empty();
    if disputed && policy.on_mismatch == OnMismatch::Warn {
        for m in &v.mismatches {
            v.warnings.push(Warning::MismatchTolerated {
                operator: m.operator.clone(),
                index: m.index,
            });
        }
    }
    v.trusted = enough && !(disputed && policy.on_mismatch == OnMismatch::Fail);
    let unpinned = !v.unpinned_outputs.is_empty();
    let operators = v.operators.clone();
    let threshold = policy.threshold;
    v.summary = if v.trusted && unpinned {
        Summary::Agreed {
            operators,
            threshold,
        }
    } else if v.trusted {
        Summary::Trusted {
            operators,
            threshold,
        }
    } else if disputed && policy.on_mismatch == OnMismatch::Fail {
        let ops: BTreeSet<&str> = v.mismatches.iter().map(|m| m.operator.as_str()).collect();
        let operators = ops.into_iter().map(str::to_owned).collect();
        if v.mismatches.iter().all(|m| m.other_bytes_for.is_some()) {
            Summary::Disagreed { operators }
        } else {
            Summary::Disputed { operators }
        }
    } else if unpinned {
        Summary::TooFewAgreed {
            agreed: operators.len(),
            threshold,
        }
    } else {
        Summary::TooFew {
            reproduced: operators.len(),
            threshold,
        }
    };
}

/// Whether the attestation names `sha256` among its subjects (the published artifacts).
fn names_sha256(att: &RebuildAttestation, sha256: &[u8; 32]) -> bool {
    att.subjects.iter().any(|s| s.digest.sha256 == *sha256)
}

/// The rebuilt sha256 of the published artifact with digest `sha256`, if the rebuild produced it.
fn rebuilt_sha256_for(att: &RebuildAttestation, sha256: &[u8; 32]) -> Option<[u8; 32]> {
    let subject = att.subjects.iter().find(|s| s.digest.sha256 == *sha256)?;
    att.predicate
        .rebuilt
        .iter()
        .find(|r| r.name == subject.name)
        .map(|r| r.digest.sha256)
}
