//! Rebuild attestations: `https://reprove.dev/rebuild/v1`, and their SLSA Provenance v1 view.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::checks::{check_ident, check_text, check_timestamp, check_uri};
use super::{
    Artifact, Digests, PredicateError, REBUILD_BUILD_TYPE, RELEASE_PREDICATE_TYPE,
    SLSA_PROVENANCE_V1_TYPE, check_artifacts, check_artifacts_named, null_as_default,
};
use crate::statement::Statement;

/// A rebuild attestation: a rebuilder's signed report of one rebuild of a logged release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildAttestation {
    /// The *published* artifacts, with the digests the release claimed (not the rebuilt ones),
    /// so a consumer finds the attestation by the digest of the file it holds.
    pub subjects: Vec<Artifact>,
    /// The predicate.
    pub predicate: RebuildPredicate,
}

/// The predicate of a rebuild attestation
/// ([`REBUILD_PREDICATE_TYPE`](super::REBUILD_PREDICATE_TYPE)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebuildPredicate {
    /// The release manifest this rebuild followed.
    pub release: ReleaseRef,
    /// The outcome.
    pub result: RebuildResult,
    /// How outputs were compared with the published artifacts.
    pub comparison: Comparison,
    /// The digests of what the rebuild produced, one per artifact name. Every published
    /// artifact for `reproduced`; a subset for `mismatch` (a missing one is a difference);
    /// empty (absent) for `build-failed` and `inputs-unavailable`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rebuilt: Vec<Artifact>,
    /// Digest of the build log blob, if kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_log: Option<Digests>,
    /// Digest of the diff report blob: required for `mismatch`, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_report: Option<Digests>,
    /// The sandbox the build ran in.
    pub sandbox: Sandbox,
    /// Who rebuilt it.
    pub builder: Builder,
    /// When the rebuild started, RFC 3339 (checked syntactically only).
    pub started_on: String,
    /// When the rebuild finished, RFC 3339 (checked syntactically only).
    pub finished_on: String,
    /// The rebuilder's own identifier for this job, if it has one (URI-like, no whitespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// A short human-readable note (why the build failed, which input was unavailable).
    /// Informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Environment variations deliberately applied to this build (e.g. `build_path`,
    /// `time`, `locale`, `timezone`, `umask`, `hostname`, `directory_order`), unique.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub variations: Vec<String>,
}

/// Which release a rebuild followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRef {
    /// The release entry's index in the log.
    pub log_index: u64,
    /// The release's `project`.
    pub name: String,
    /// The release's `version`.
    pub version: String,
    /// Digest of the release entry's logged bytes (the whole DSSE envelope as logged).
    pub digest: Digests,
}

impl ReleaseRef {
    /// Whether this names the logged entry at `index` whose bytes have `digest`: the same
    /// index and SHA-256, and the same BLAKE3 when this gives one.
    pub fn names(&self, index: u64, digest: &Digests) -> bool {
        self.log_index == index
            && self.digest.sha256 == digest.sha256
            && self.digest.blake3.is_none_or(|b| digest.blake3 == Some(b))
    }
}

/// The outcome of a rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebuildResult {
    /// Every published artifact was rebuilt bit for bit.
    Reproduced,
    /// The build ran but at least one artifact differs or is missing.
    Mismatch,
    /// The build itself failed.
    BuildFailed,
    /// The source, toolchain or published artifacts could not be fetched or did not match
    /// their digests.
    InputsUnavailable,
}

/// How outputs are compared. Only `bit-identical` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// Equal SHA-256 digests of the whole files.
    BitIdentical,
}

/// The sandbox of a rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    /// Which sandbox.
    pub kind: SandboxKind,
    /// Free text (tool version, flags), informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// Which sandbox a rebuild ran in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxKind {
    /// bubblewrap, no network, fixed environment.
    Bubblewrap,
    /// No sandbox (`--insecure-no-sandbox`): the build could see the network and the host.
    None,
}

/// The rebuilder that produced an attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Builder {
    /// The rebuilder's identity, a URI (no whitespace).
    pub id: String,
    /// The rebuilder software's version (identifier rules).
    pub version: String,
}

impl RebuildResult {
    /// The JSON spelling (`reproduced`, `mismatch`, `build-failed`, `inputs-unavailable`).
    pub fn as_str(self) -> &'static str {
        match self {
            RebuildResult::Reproduced => "reproduced",
            RebuildResult::Mismatch => "mismatch",
            RebuildResult::BuildFailed => "build-failed",
            RebuildResult::InputsUnavailable => "inputs-unavailable",
        }
    }
}

impl std::fmt::Display for RebuildResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RebuildAttestation {
    /// Checks every rule in the field docs, and that `result`, `rebuilt` and `diff_report`
    /// agree:
    ///
    /// - `reproduced`: every subject rebuilt, each with the subject's SHA-256 (and BLAKE3
    ///   when both sides give one); no diff report.
    /// - `mismatch`: at least one subject not rebuilt or rebuilt with another digest; a diff
    ///   report.
    /// - `build-failed`, `inputs-unavailable`: nothing rebuilt; no diff report.
    pub fn validate(&self) -> Result<(), PredicateError> {
        check_artifacts(&self.subjects)?;
        let p = &self.predicate;
        check_ident("release.name", &p.release.name)?;
        check_ident("release.version", &p.release.version)?;
        check_artifacts_named(&p.rebuilt, "rebuilt artifact name")?;
        self.check_result()?;
        p.check_descriptive_fields()?;
        check_variations(&p.variations)
    }

    /// `result`, `rebuilt` and `diff_report` agree (the rules of [`Self::validate`]).
    fn check_result(&self) -> Result<(), PredicateError> {
        let p = &self.predicate;
        let rebuilt: BTreeMap<&str, &Digests> = p
            .rebuilt
            .iter()
            .map(|a| (a.name.as_str(), &a.digest))
            .collect();
        if let Some(extra) = rebuilt
            .keys()
            .find(|n| !self.subjects.iter().any(|s| s.name == **n))
        {
            return Err(PredicateError::RebuiltUnknownArtifact {
                artifact: (*extra).to_owned(),
            });
        }
        let differs = |s: &Artifact| {
            rebuilt
                .get(s.name.as_str())
                .is_none_or(|d| !same_artifact(&s.digest, d))
        };
        match p.result {
            RebuildResult::Reproduced => {
                if let Some(s) = self.subjects.iter().find(|s| differs(s)) {
                    return Err(PredicateError::NotReproduced {
                        artifact: s.name.clone(),
                    });
                }
            }
            RebuildResult::Mismatch => {
                if !self.subjects.iter().any(differs) {
                    return Err(PredicateError::NoDifference);
                }
            }
            RebuildResult::BuildFailed | RebuildResult::InputsUnavailable => {
                if !p.rebuilt.is_empty() {
                    return Err(PredicateError::RebuiltWithoutBuild { result: p.result });
                }
            }
        }
        match (p.result, &p.diff_report) {
            (RebuildResult::Mismatch, None) => Err(PredicateError::MissingDiffReport),
            (RebuildResult::Mismatch, Some(_)) | (_, None) => Ok(()),
            (result, Some(_)) => Err(PredicateError::UnexpectedDiffReport { result }),
        }
    }

    /// Whether this attestation is about exactly the artifacts `release` publishes: the same
    /// set of SHA-256 digests, and no BLAKE3 on which the two disagree.
    pub fn covers(&self, release: &[Artifact]) -> bool {
        let set = |l: &[Artifact]| l.iter().map(|x| x.digest.sha256).collect::<BTreeSet<_>>();
        let blake3_agrees = self.subjects.iter().all(|x| {
            release
                .iter()
                .filter(|y| y.digest.sha256 == x.digest.sha256)
                .all(|y| match (x.digest.blake3, y.digest.blake3) {
                    (Some(p), Some(q)) => p == q,
                    _ => true,
                })
        });
        set(&self.subjects) == set(release) && blake3_agrees
    }

    /// Whether this attestation is about exactly what `release` publishes and builds: for a
    /// release without unpinned outputs, [`Self::covers`] of its subjects; otherwise its
    /// pinned subjects (same digests) and one subject per unpinned output name, nothing else.
    pub fn covers_release(&self, release: &super::ReleaseManifest) -> bool {
        if release.predicate.recipe.unpinned_outputs.is_empty() {
            return self.covers(&release.subjects);
        }
        let pinned = release.pinned_subjects();
        let unpinned: BTreeSet<&str> = release
            .predicate
            .recipe
            .unpinned_outputs
            .values()
            .map(String::as_str)
            .collect();
        let named: BTreeSet<&str> = self.subjects.iter().map(|s| s.name.as_str()).collect();
        let expected: BTreeSet<&str> = pinned
            .iter()
            .map(|s| s.name.as_str())
            .chain(unpinned.iter().copied())
            .collect();
        named == expected
            && self.subjects.iter().all(|s| {
                unpinned.contains(s.name.as_str())
                    || pinned
                        .iter()
                        .any(|p| p.name == s.name && same_artifact(&p.digest, &s.digest))
            })
    }

    /// The rebuild as an in-toto Statement with a SLSA Provenance v1 predicate
    /// ([`RebuildPredicate::to_slsa_provenance_v1`]) whose subjects are the *rebuilt*
    /// artifacts (what this build produced). `None` when nothing was rebuilt.
    pub fn to_slsa_statement(&self) -> Option<Statement> {
        if self.predicate.rebuilt.is_empty() {
            return None;
        }
        let subjects = self
            .predicate
            .rebuilt
            .iter()
            .map(Artifact::to_subject)
            .collect();
        Some(Statement::from_checked_parts(
            subjects,
            SLSA_PROVENANCE_V1_TYPE,
            self.predicate.to_slsa_provenance_v1(),
        ))
    }
}

/// Variation names: lowercase ASCII letters, digits, `_` and `-`, starting with a letter or
/// digit, at most 64 bytes, each at most once.
fn check_variations(variations: &[String]) -> Result<(), PredicateError> {
    let mut seen = BTreeSet::new();
    for v in variations {
        let ok = v.len() <= 64
            && v.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(PredicateError::InvalidVariation { name: v.clone() });
        }
        if !seen.insert(v.as_str()) {
            return Err(PredicateError::Duplicate {
                field: "variation",
                value: v.clone(),
            });
        }
    }
    Ok(())
}

impl RebuildPredicate {
    /// The fields that describe the build rather than its outcome: sandbox details, builder,
    /// times, invocation ID and detail text.
    fn check_descriptive_fields(&self) -> Result<(), PredicateError> {
        if let Some(details) = &self.sandbox.details {
            check_text("sandbox.details", details)?;
        }
        check_uri("builder.id", &self.builder.id)?;
        check_ident("builder.version", &self.builder.version)?;
        check_timestamp("started_on", &self.started_on)?;
        check_timestamp("finished_on", &self.finished_on)?;
        if let Some(id) = &self.invocation_id {
            check_uri("invocation_id", id)?;
        }
        if let Some(detail) = &self.detail {
            check_text("detail", detail)?;
        }
        Ok(())
    }

    /// This rebuild as a SLSA Provenance v1 predicate (`https://slsa.dev/provenance/v1`):
    ///
    /// - `buildDefinition.buildType`: [`REBUILD_BUILD_TYPE`];
    /// - `externalParameters.release`: the [`ReleaseRef`] (the logged release is the input
    ///   that fully determines the build);
    /// - `internalParameters`: `sandbox`, `comparison`, `variations`;
    /// - `resolvedDependencies`: the release manifest entry, by digest;
    /// - `runDetails.builder`: `id`, `version.reprove`;
    /// - `runDetails.metadata`: `invocationId` (when known), `startedOn`, `finishedOn`;
    /// - `runDetails.byproducts`: the build log and diff report, by digest, when present.
    ///
    /// The verdict itself (`result`) is not provenance and is not included.
    pub fn to_slsa_provenance_v1(&self) -> Value {
        let release = &self.release;
        let mut internal = json!({ "sandbox": self.sandbox, "comparison": self.comparison });
        if !self.variations.is_empty() {
            internal["variations"] = json!(self.variations);
        }
        let mut metadata = json!({ "startedOn": self.started_on, "finishedOn": self.finished_on });
        if let Some(id) = &self.invocation_id {
            metadata["invocationId"] = json!(id);
        }
        let mut run_details = json!({
            "builder": { "id": self.builder.id, "version": { "reprove": self.builder.version } },
            "metadata": metadata,
        });
        let byproducts: Vec<Value> = [
            ("build-log", &self.build_log),
            ("diff-report", &self.diff_report),
        ]
        .into_iter()
        .filter_map(|(name, d)| d.as_ref().map(|d| json!({ "name": name, "digest": d })))
        .collect();
        if !byproducts.is_empty() {
            run_details["byproducts"] = json!(byproducts);
        }
        json!({
            "buildDefinition": {
                "buildType": REBUILD_BUILD_TYPE,
                "externalParameters": { "release": release },
                "internalParameters": internal,
                "resolvedDependencies": [{
                    "name": format!("{}@{}", release.name, release.version),
                    "digest": release.digest,
                    "annotations": {
                        "log_index": release.log_index,
                        "predicateType": RELEASE_PREDICATE_TYPE,
                    },
                }],
            },
            "runDetails": run_details,
        })
    }
}

/// Same SHA-256, and same BLAKE3 when both sides have one.
fn same_artifact(published: &Digests, rebuilt: &Digests) -> bool {
    published.sha256 == rebuilt.sha256
        && match (published.blake3, rebuilt.blake3) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
}
