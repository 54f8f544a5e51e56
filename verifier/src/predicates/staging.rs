//! The staged-release entries a publisher logs after its release manifest:
//! announcements (`https://reprove.dev/announcement/v1`), withdrawals
//! (`https://reprove.dev/withdrawal/v1`) and yanks (`https://reprove.dev/yank/v1`).
//!
//! Each names the release it is about by a [`ReleaseRef`] (index, project, version and the
//! digest of the logged manifest), and its subjects are that release's artifacts, so a consumer
//! holding a file finds the announcement, withdrawal or yank of its release by the file's
//! SHA-256, like every other entry about it. What "latest" is follows from these entries alone
//! ([`crate::staging`]).

use serde::{Deserialize, Serialize};

use super::checks::{check_ident, check_text};
use super::{Artifact, PredicateError, ReleaseRef, check_artifacts};

/// A publisher's announcement of a logged release: it satisfied the publisher's policy (the
/// rebuild attestations at `attestations`), or is announced without reproduction
/// (`unverified`). Only announcements move a project's "latest".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The release's artifacts (the statement's subjects), exactly its subjects.
    pub subjects: Vec<Artifact>,
    /// The predicate.
    pub predicate: AnnouncementPredicate,
}

/// The predicate of an [`Announcement`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementPredicate {
    /// The release manifest announced.
    pub release: ReleaseRef,
    /// Log indices of the rebuild attestations that satisfied the publisher's policy,
    /// strictly increasing, all before the announcement; empty exactly when `unverified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<u64>,
    /// Present when the release is announced without reproduction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified: Option<Unverified>,
}

/// Why a release was announced without reproduction ([`AnnouncementPredicate::unverified`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unverified {
    /// The publisher's reason; *text*.
    pub reason: String,
}

/// A publisher abandons a version before announcing it: its URLs stop serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// The release's artifacts, or the files uploaded to its set when no release was logged.
    pub subjects: Vec<Artifact>,
    /// The predicate.
    pub predicate: WithdrawalPredicate,
}

/// The predicate of a [`Withdrawal`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalPredicate {
    /// The project; *identifier*.
    pub project: String,
    /// The version withdrawn; *identifier*.
    pub version: String,
    /// The logged release manifest, when the version was published before it was withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseRef>,
    /// Why; *text*.
    pub reason: String,
}

/// A publisher takes back an announced version: "latest" moves back, the bytes stay
/// downloadable with a warning, and consumers' policies decide (`on_yanked`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yank {
    /// The release's artifacts, exactly its subjects.
    pub subjects: Vec<Artifact>,
    /// The predicate.
    pub predicate: YankPredicate,
}

/// The predicate of a [`Yank`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YankPredicate {
    /// The release manifest yanked.
    pub release: ReleaseRef,
    /// The log index of the announcement it takes back.
    pub announcement: u64,
    /// Why; *text*.
    pub reason: String,
    /// The version to use instead; *identifier*.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

fn check_release(release: &ReleaseRef) -> Result<(), PredicateError> {
    check_ident("release.name", &release.name)?;
    check_ident("release.version", &release.version)
}

impl Announcement {
    /// The subject and field rules (docs/formats.md §8).
    pub fn validate(&self) -> Result<(), PredicateError> {
        check_artifacts(&self.subjects)?;
        let p = &self.predicate;
        check_release(&p.release)?;
        if !p.attestations.windows(2).all(|w| w[0] < w[1]) {
            return Err(PredicateError::Staging(
                "attestations must be strictly increasing log indices",
            ));
        }
        if p.attestations.iter().any(|&a| a <= p.release.log_index) {
            return Err(PredicateError::Staging(
                "an attestation of a release is logged after the release",
            ));
        }
        match &p.unverified {
            Some(u) => {
                check_text("unverified.reason", &u.reason)?;
                if !p.attestations.is_empty() {
                    return Err(PredicateError::Staging(
                        "an unverified announcement names no attestations",
                    ));
                }
            }
            None if p.attestations.is_empty() => {
                return Err(PredicateError::Staging(
                    "an announcement names the attestations that satisfied the policy, or is \
                     unverified with a reason",
                ));
            }
            None => {}
        }
        Ok(())
    }
}

impl Withdrawal {
    /// The subject and field rules (docs/formats.md §8).
    pub fn validate(&self) -> Result<(), PredicateError> {
        check_artifacts(&self.subjects)?;
        let p = &self.predicate;
        check_ident("project", &p.project)?;
        check_ident("version", &p.version)?;
        check_text("reason", &p.reason)?;
        if let Some(r) = &p.release {
            check_release(r)?;
            if r.name != p.project || r.version != p.version {
                return Err(PredicateError::Staging(
                    "a withdrawal's release is the project and version it withdraws",
                ));
            }
        }
        Ok(())
    }
}

impl Yank {
    /// The subject and field rules (docs/formats.md §8).
    pub fn validate(&self) -> Result<(), PredicateError> {
        check_artifacts(&self.subjects)?;
        let p = &self.predicate;
        check_release(&p.release)?;
        check_text("reason", &p.reason)?;
        if p.announcement <= p.release.log_index {
            return Err(PredicateError::Staging(
                "a release is announced after it is logged",
            ));
        }
        if let Some(r) = &p.replacement {
            check_ident("replacement", r)?;
            if *r == p.release.version {
                return Err(PredicateError::Staging(
                    "a yanked version is not its own replacement",
                ));
            }
        }
        Ok(())
    }
}
