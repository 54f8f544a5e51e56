//! Reprove's entry kinds: release manifests, rebuild attestations, revocation notices, and the
//! staged-release entries (announcements, withdrawals, yanks).
//!
//! Every ledger entry is a DSSE envelope (payload type [`crate::statement::PAYLOAD_TYPE`]) around an
//! in-toto Statement v1 whose predicate type is one of:
//!
//! | predicate type | struct | subjects |
//! | --- | --- | --- |
//! | [`RELEASE_PREDICATE_TYPE`] | [`ReleaseManifest`] | the published artifacts |
//! | [`REBUILD_PREDICATE_TYPE`] | [`RebuildAttestation`] | the *published* artifacts the release claimed |
//! | [`REVOCATION_PREDICATE_TYPE`] | [`RevocationNotice`] | the revoked key (see [`RevocationNotice::subject`]) |
//! | [`ANNOUNCEMENT_PREDICATE_TYPE`] | [`Announcement`] | the announced release's artifacts |
//! | [`WITHDRAWAL_PREDICATE_TYPE`] | [`Withdrawal`] | the withdrawn release's (or set's) artifacts |
//! | [`YANK_PREDICATE_TYPE`] | [`Yank`] | the yanked release's artifacts |
//!
//! [`Entry`] is a parsed statement of one of these kinds that passed every shape check
//! below; it is the only way from a [`Statement`] to a typed entry, and every `Entry` is valid.
//! The kind structs themselves are plain data with public fields, so producers can build them;
//! `validate` on each (run by [`Entry::new`] and [`Entry::from_statement`]) states the rules.
//!
//! JSON field names are snake_case and stable. Unlike the in-toto default, unknown fields
//! *inside a reprove predicate* are rejected: a typo must not silently drop a field, and a new
//! field means a new predicate version. Unknown fields of the statement and unknown digest
//! algorithms in subjects are still ignored, as in-toto requires.
//!
//! What is checked here is the shape of one entry on its own. Everything that needs another
//! entry or a policy (does a rebuild's `release` reference a logged release with these
//! subjects; is the signer allowed; which index a revocation takes effect at when
//! `effective_index` is unset) is the policy code's job.
//!
//! Key strings (`revoked_key`, `replacement`) are c2sp signed-note verifier keys. This module
//! checks them completely but privately (name, key ID format, base64 of `0x01 || 32-byte
//! Ed25519 point`, and that the key ID is the one the name and key imply); the `note` module
//! is the place that turns them into usable keys.
//!
//! `docs/formats.md` describes the three formats for outside implementers, with examples that a
//! test in this module parses.

mod checks;
mod rebuild;
mod release;
mod revocation;
mod staging;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::statement::{DigestSet, Statement, StatementError, Subject, parse_hex32};

pub use rebuild::{
    Builder, Comparison, RebuildAttestation, RebuildPredicate, RebuildResult, ReleaseRef, Sandbox,
    SandboxKind,
};
pub use release::{
    BuildDep, BuildUser, DepKind, Environment, Import, Input, Recipe, ReleaseManifest,
    ReleasePredicate, Source,
};
pub use revocation::{RevocationNotice, RevocationReason};
pub use staging::{
    Announcement, AnnouncementPredicate, Unverified, Withdrawal, WithdrawalPredicate, Yank,
    YankPredicate,
};

use checks::check_ident;

/// Predicate type of a release manifest.
pub const RELEASE_PREDICATE_TYPE: &str = "https://reprove.dev/release/v1";

/// Predicate type of a rebuild attestation.
pub const REBUILD_PREDICATE_TYPE: &str = "https://reprove.dev/rebuild/v1";

/// Predicate type of a revocation notice.
pub const REVOCATION_PREDICATE_TYPE: &str = "https://reprove.dev/revocation/v1";

/// Predicate type of a release announcement (staged releases).
pub const ANNOUNCEMENT_PREDICATE_TYPE: &str = "https://reprove.dev/announcement/v1";

/// Predicate type of a withdrawal (a version abandoned before its announcement).
pub const WITHDRAWAL_PREDICATE_TYPE: &str = "https://reprove.dev/withdrawal/v1";

/// Predicate type of a yank (an announced version taken back).
pub const YANK_PREDICATE_TYPE: &str = "https://reprove.dev/yank/v1";

/// Every predicate type reprove logs.
pub const PREDICATE_TYPES: [&str; 6] = [
    RELEASE_PREDICATE_TYPE,
    REBUILD_PREDICATE_TYPE,
    REVOCATION_PREDICATE_TYPE,
    ANNOUNCEMENT_PREDICATE_TYPE,
    WITHDRAWAL_PREDICATE_TYPE,
    YANK_PREDICATE_TYPE,
];

/// Predicate type of SLSA Provenance v1, which [`RebuildAttestation::to_slsa_statement`] emits.
pub const SLSA_PROVENANCE_V1_TYPE: &str = "https://slsa.dev/provenance/v1";

/// The SLSA `buildType` of a reprove rebuild.
pub const REBUILD_BUILD_TYPE: &str = "https://reprove.dev/buildtypes/rebuild/v1";

/// The longest identifier (artifact, project and key names, versions), in bytes.
pub const MAX_IDENT_BYTES: usize = 256;

/// The longest URI, in bytes.
pub const MAX_URI_BYTES: usize = 2048;

/// The longest free-text field (`details`, `detail`, `comment`), in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Errors from checking or converting a reprove entry.
#[derive(Debug, thiserror::Error)]
pub enum PredicateError {
    /// The payload is not a valid in-toto statement.
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// The predicate type is none of reprove's.
    #[error(
        "unknown predicate type {predicate_type:?}: reprove entries are {RELEASE_PREDICATE_TYPE}, {REBUILD_PREDICATE_TYPE}, {REVOCATION_PREDICATE_TYPE}, {ANNOUNCEMENT_PREDICATE_TYPE}, {WITHDRAWAL_PREDICATE_TYPE} or {YANK_PREDICATE_TYPE}"
    )]
    UnknownPredicateType { predicate_type: String },
    /// The predicate does not have the JSON shape of its type (missing, unknown or mistyped
    /// field, bad enum value, digest not 64 lowercase hex).
    #[error("{predicate_type} predicate has the wrong shape: {source}")]
    Shape {
        predicate_type: &'static str,
        source: serde_json::Error,
    },
    /// An entry without subjects.
    #[error("entry has no subjects")]
    NoSubjects,
    /// A subject of a reprove entry has no `sha256`.
    #[error("subject {index} has no sha256 digest")]
    SubjectWithoutSha256 { index: usize },
    /// A subject's `blake3` is not 64 lowercase hex characters.
    #[error("subject {index} has a malformed blake3 digest")]
    MalformedBlake3 { index: usize },
    /// A text field breaks its rule.
    #[error("{field} {value:?} is invalid: {problem}")]
    InvalidText {
        field: &'static str,
        value: String,
        problem: TextProblem,
    },
    /// A name that must be unique appears twice.
    #[error("duplicate {field} {value:?}")]
    Duplicate { field: &'static str, value: String },
    /// An output path is absolute, empty or climbs out of the build tree.
    #[error("output path {path:?} is not a plain relative path inside the build tree")]
    UnsafeOutputPath { path: String },
    /// An output names an artifact that is not a subject.
    #[error("output {path:?} names {artifact:?}, which is not a subject")]
    OutputForUnknownArtifact { path: String, artifact: String },
    /// A subject is produced by no output of the recipe.
    #[error("subject {artifact:?} is produced by no recipe output")]
    ArtifactWithoutOutput { artifact: String },
    /// A release whose outputs are all unpinned does not name its source archive as its one
    /// subject.
    #[error(
        "a release whose outputs are all unpinned must have exactly one subject: its source archive, with the source's digest"
    )]
    UnpinnedReleaseSubject,
    /// A download URL is given for an artifact that is not a subject.
    #[error("a URL is given for {artifact:?}, which is not a subject")]
    UrlForUnknownArtifact { artifact: String },
    /// An environment variable name is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error("environment variable name {name:?} is not [A-Za-z_][A-Za-z0-9_]*")]
    InvalidEnvName { name: String },
    /// The recipe's `env` sets a variable that has its own field.
    #[error("environment variable {name} is set by its own recipe field, not by env")]
    ReservedEnvName { name: String },
    /// The build command is empty or its program is empty.
    #[error("the build command is empty")]
    EmptyCommand,
    /// A git commit is not 40 or 64 lowercase hex characters.
    #[error("git commit {commit:?} is not 40 or 64 lowercase hex characters")]
    InvalidGitCommit { commit: String },
    /// A time is not an RFC 3339 date-time.
    #[error(
        "{field} {value:?} is not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM))"
    )]
    InvalidTimestamp { field: &'static str, value: String },
    /// A rebuilt artifact is not one of the subjects.
    #[error("rebuilt artifact {artifact:?} is not a subject")]
    RebuiltUnknownArtifact { artifact: String },
    /// The result is `reproduced` but an artifact was not rebuilt bit for bit.
    #[error("result is reproduced but {artifact:?} was not rebuilt with the published digest")]
    NotReproduced { artifact: String },
    /// The result is `mismatch` but every artifact was rebuilt bit for bit.
    #[error("result is mismatch but every artifact was rebuilt with the published digest")]
    NoDifference,
    /// A build that produced nothing lists rebuilt artifacts.
    #[error("result {result} lists rebuilt artifacts")]
    RebuiltWithoutBuild { result: RebuildResult },
    /// A `mismatch` without a diff report.
    #[error("result is mismatch but there is no diff_report")]
    MissingDiffReport,
    /// A diff report on a result other than `mismatch`.
    #[error("result {result} has a diff_report, which only a mismatch may have")]
    UnexpectedDiffReport { result: RebuildResult },
    /// A variation name is not `[a-z0-9][a-z0-9_-]*` (at most 64 bytes).
    #[error("variation {name:?} is not [a-z0-9][a-z0-9_-]* of at most 64 bytes")]
    InvalidVariation { name: String },
    /// A key string is not a valid Ed25519 note verifier key.
    #[error("{field} is not an Ed25519 note verifier key: {problem}")]
    InvalidVkey {
        field: &'static str,
        problem: VkeyProblem,
    },
    /// A `superseded` notice without a replacement key.
    #[error("reason superseded requires a replacement key")]
    SupersededWithoutReplacement,
    /// The replacement is the revoked key itself.
    #[error("the replacement is the revoked key")]
    ReplacementIsRevokedKey,
    /// A revocation notice's subjects are not exactly the one subject naming its key.
    #[error(
        "a revocation notice has exactly one subject: {{name: {name:?}, digest: {{sha256: {sha256}}}}}"
    )]
    RevocationSubject { name: String, sha256: String },
    /// An announcement, withdrawal or yank breaks one of its rules.
    #[error("{0}")]
    Staging(&'static str),
}

/// Why a text field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextProblem {
    /// The field is empty.
    #[error("empty")]
    Empty,
    /// The field is too long.
    #[error("{len} bytes, the limit is {max}")]
    TooLong { len: usize, max: usize },
    /// The field holds a character its rule forbids (whitespace or a control character).
    #[error("forbidden character {ch:?}")]
    ForbiddenCharacter { ch: char },
}

/// Why a verifier key string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VkeyProblem {
    /// Not three `+`-separated fields.
    #[error("not of the form <name>+<hex key ID>+<base64 key>")]
    Shape,
    /// The key name is empty or holds whitespace or control characters.
    #[error("invalid key name")]
    Name,
    /// The key ID is not 8 lowercase hex characters.
    #[error("key ID is not 8 lowercase hex characters")]
    KeyIdFormat,
    /// The key is not standard padded base64.
    #[error("key is not standard base64")]
    Base64,
    /// The decoded key is not 33 bytes.
    #[error("decoded key is {len} bytes, an Ed25519 key is 33 (type byte and 32-byte key)")]
    Length { len: usize },
    /// The type byte is not `0x01` (Ed25519).
    #[error("key type byte is {byte:#04x}, Ed25519 is 0x01")]
    KeyType { byte: u8 },
    /// The 32 bytes are not an Ed25519 point, or one of small order (with which anyone could
    /// forge signatures; no honest key is one).
    #[error("the public key is not a valid Ed25519 point")]
    NotAPoint,
    /// The key ID is not the one the name and key imply.
    #[error("key ID does not match SHA-256(name || 0x0A || 0x01 || key)")]
    KeyIdMismatch,
}

/// A digest pair as reprove emits it: SHA-256 always, BLAKE3 optionally. JSON:
/// `{"sha256": "<64 lowercase hex>", "blake3": "<64 lowercase hex>"}` (`blake3` may be absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Digests {
    /// SHA-256, the digest every match uses.
    #[serde(with = "hex32")]
    pub sha256: [u8; 32],
    /// BLAKE3, an optional extra; never matched on alone.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex32")]
    pub blake3: Option<[u8; 32]>,
}

/// A named artifact with its digests: a subject of a release or rebuild, or a rebuilt output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// The artifact's file name: non-empty, at most [`MAX_IDENT_BYTES`], no whitespace or
    /// control characters, unique within its list.
    pub name: String,
    /// Its digests.
    pub digest: Digests,
}

/// A valid reprove entry of one of its kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    kind: EntryKind,
}

/// The kind and content of an [`Entry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A release manifest.
    Release(ReleaseManifest),
    /// A rebuild attestation.
    Rebuild(RebuildAttestation),
    /// A revocation notice.
    Revocation(RevocationNotice),
    /// A release announcement (staged releases).
    Announcement(Announcement),
    /// A withdrawal of a version before its announcement.
    Withdrawal(Withdrawal),
    /// A yank of an announced version.
    Yank(Yank),
}

impl EntryKind {
    /// The kind's one-word name, as pages and reports show it: `release`, `rebuild`,
    /// `revocation`, `announcement`, `withdrawal` or `yank`.
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::Release(_) => "release",
            EntryKind::Rebuild(_) => "rebuild",
            EntryKind::Revocation(_) => "revocation",
            EntryKind::Announcement(_) => "announcement",
            EntryKind::Withdrawal(_) => "withdrawal",
            EntryKind::Yank(_) => "yank",
        }
    }
}

impl Digests {
    /// Just a SHA-256 digest.
    pub fn sha256(sha256: [u8; 32]) -> Self {
        Digests {
            sha256,
            blake3: None,
        }
    }

    /// As an in-toto digest set (`sha256`, and `blake3` when known).
    pub fn to_digest_set(&self) -> DigestSet {
        let set = DigestSet::from_sha256(&self.sha256);
        match &self.blake3 {
            Some(b) => set.with_blake3(b),
            None => set,
        }
    }
}

impl Artifact {
    /// As an in-toto subject.
    pub fn to_subject(&self) -> Subject {
        Subject {
            name: self.name.clone(),
            digest: self.digest.to_digest_set(),
        }
    }
}

impl Entry {
    /// Makes an entry of a kind, if it passes its `validate`.
    pub fn new(kind: EntryKind) -> Result<Entry, PredicateError> {
        match &kind {
            EntryKind::Release(r) => r.validate()?,
            EntryKind::Rebuild(r) => r.validate()?,
            EntryKind::Revocation(r) => r.validate()?,
            EntryKind::Announcement(a) => a.validate()?,
            EntryKind::Withdrawal(w) => w.validate()?,
            EntryKind::Yank(y) => y.validate()?,
        }
        Ok(Entry { kind })
    }

    /// Parses a DSSE payload: an in-toto statement, then [`Entry::from_statement`].
    pub fn parse(payload: &[u8]) -> Result<Entry, PredicateError> {
        Entry::from_statement(Statement::parse(payload)?)
    }

    /// Reads a statement of one of the three kinds, checking its shape.
    pub fn from_statement(statement: Statement) -> Result<Entry, PredicateError> {
        let (subjects, predicate_type, predicate) = statement.into_parts();
        let kind = match predicate_type.as_str() {
            RELEASE_PREDICATE_TYPE => EntryKind::Release(ReleaseManifest {
                subjects: artifacts_from_subjects(&subjects)?,
                predicate: from_predicate(RELEASE_PREDICATE_TYPE, predicate)?,
            }),
            REBUILD_PREDICATE_TYPE => EntryKind::Rebuild(RebuildAttestation {
                subjects: artifacts_from_subjects(&subjects)?,
                predicate: from_predicate(REBUILD_PREDICATE_TYPE, predicate)?,
            }),
            REVOCATION_PREDICATE_TYPE => {
                let notice: RevocationNotice =
                    from_predicate(REVOCATION_PREDICATE_TYPE, predicate)?;
                let want = notice.subject()?;
                let got = artifacts_from_subjects(&subjects)?;
                if got != [want.clone()] {
                    return Err(PredicateError::RevocationSubject {
                        name: want.name,
                        sha256: hex::encode(want.digest.sha256),
                    });
                }
                EntryKind::Revocation(notice)
            }
            ANNOUNCEMENT_PREDICATE_TYPE => EntryKind::Announcement(Announcement {
                subjects: artifacts_from_subjects(&subjects)?,
                predicate: from_predicate(ANNOUNCEMENT_PREDICATE_TYPE, predicate)?,
            }),
            WITHDRAWAL_PREDICATE_TYPE => EntryKind::Withdrawal(Withdrawal {
                subjects: artifacts_from_subjects(&subjects)?,
                predicate: from_predicate(WITHDRAWAL_PREDICATE_TYPE, predicate)?,
            }),
            YANK_PREDICATE_TYPE => EntryKind::Yank(Yank {
                subjects: artifacts_from_subjects(&subjects)?,
                predicate: from_predicate(YANK_PREDICATE_TYPE, predicate)?,
            }),
            _ => return Err(PredicateError::UnknownPredicateType { predicate_type }),
        };
        Entry::new(kind)
    }

    /// The entry as an in-toto statement.
    pub fn to_statement(&self) -> Statement {
        let subjects = self.subjects().iter().map(Artifact::to_subject).collect();
        let predicate = match &self.kind {
            EntryKind::Release(r) => to_object(&r.predicate),
            EntryKind::Rebuild(r) => to_object(&r.predicate),
            EntryKind::Revocation(r) => to_object(r),
            EntryKind::Announcement(a) => to_object(&a.predicate),
            EntryKind::Withdrawal(w) => to_object(&w.predicate),
            EntryKind::Yank(y) => to_object(&y.predicate),
        };
        Statement::from_checked_parts(subjects, self.predicate_type(), predicate)
    }

    /// The DSSE payload: the statement's canonical encoding ([`Statement::encode`]).
    pub fn encode(&self) -> Vec<u8> {
        self.to_statement().encode_unchecked()
    }

    /// The predicate type URI of this entry's kind.
    pub fn predicate_type(&self) -> &'static str {
        match &self.kind {
            EntryKind::Release(_) => RELEASE_PREDICATE_TYPE,
            EntryKind::Rebuild(_) => REBUILD_PREDICATE_TYPE,
            EntryKind::Revocation(_) => REVOCATION_PREDICATE_TYPE,
            EntryKind::Announcement(_) => ANNOUNCEMENT_PREDICATE_TYPE,
            EntryKind::Withdrawal(_) => WITHDRAWAL_PREDICATE_TYPE,
            EntryKind::Yank(_) => YANK_PREDICATE_TYPE,
        }
    }

    /// The statement's subjects (for a revocation, [`RevocationNotice::subject`]).
    pub fn subjects(&self) -> Vec<Artifact> {
        match &self.kind {
            EntryKind::Release(r) => r.subjects.clone(),
            EntryKind::Rebuild(r) => r.subjects.clone(),
            // Validated at construction, so the key parses.
            EntryKind::Revocation(r) => r.subject().into_iter().collect(),
            EntryKind::Announcement(a) => a.subjects.clone(),
            EntryKind::Withdrawal(w) => w.subjects.clone(),
            EntryKind::Yank(y) => y.subjects.clone(),
        }
    }

    /// The kind and content.
    pub fn kind(&self) -> &EntryKind {
        &self.kind
    }

    /// Consumes the entry, returning its kind and content.
    pub fn into_kind(self) -> EntryKind {
        self.kind
    }
}

fn from_predicate<T: serde::de::DeserializeOwned>(
    predicate_type: &'static str,
    predicate: Value,
) -> Result<T, PredicateError> {
    serde_json::from_value(predicate).map_err(|source| PredicateError::Shape {
        predicate_type,
        source,
    })
}

fn to_object<T: Serialize>(v: &T) -> Value {
    // Our predicate types are strings, integers, sequences and string-keyed maps, which
    // serde_json always serialises.
    serde_json::to_value(v).expect("reprove predicates serialize to JSON")
}

/// Typed artifacts from statement subjects: each needs `sha256`; `blake3`, when present, must
/// be well-formed; other algorithms are ignored. Names are checked by `validate`.
fn artifacts_from_subjects(subjects: &[Subject]) -> Result<Vec<Artifact>, PredicateError> {
    subjects
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let sha256 = s
                .digest
                .sha256()
                .ok_or(PredicateError::SubjectWithoutSha256 { index })?;
            let blake3 = match s.digest.get("blake3") {
                None => None,
                Some(v) => Some(parse_hex32(v).ok_or(PredicateError::MalformedBlake3 { index })?),
            };
            Ok(Artifact {
                name: s.name.clone(),
                digest: Digests { sha256, blake3 },
            })
        })
        .collect()
}

/// Subjects: at least one, names valid and unique. Returns the names.
fn check_artifacts(subjects: &[Artifact]) -> Result<BTreeSet<&str>, PredicateError> {
    if subjects.is_empty() {
        return Err(PredicateError::NoSubjects);
    }
    check_artifacts_named(subjects, "subject name")
}

fn check_artifacts_named<'a>(
    artifacts: &'a [Artifact],
    field: &'static str,
) -> Result<BTreeSet<&'a str>, PredicateError> {
    let mut names = BTreeSet::new();
    for a in artifacts {
        check_ident(field, &a.name)?;
        if !names.insert(a.name.as_str()) {
            return Err(PredicateError::Duplicate {
                field,
                value: a.name.clone(),
            });
        }
    }
    Ok(names)
}

/// Serde helpers for a `[u8; 32]` as 64 lowercase hex characters.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        crate::statement::parse_hex32(&s).ok_or_else(|| {
            de::Error::custom(format_args!(
                "digest {s:?} is not 64 lowercase hex characters"
            ))
        })
    }
}

/// Serde helpers for an optional `[u8; 32]` as 64 lowercase hex characters.
mod opt_hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&hex::encode(v)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<[u8; 32]>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => crate::statement::parse_hex32(&s).map(Some).ok_or_else(|| {
                de::Error::custom(format_args!(
                    "digest {s:?} is not 64 lowercase hex characters"
                ))
            }),
        }
    }
}

/// Deserialises `null` as the type's default, for optional lists and maps (in-toto reads an
/// unset, `null` or empty field the same way).
fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
