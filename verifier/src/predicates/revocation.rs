//! Revocation notices: `https://reprove.dev/revocation/v1`, and the private check of verifier
//! key strings.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::checks::check_text;
use super::{Artifact, Digests, PredicateError, VkeyProblem};
use crate::note::{KeyType, NoteError, NoteVerifier};

/// A revocation notice ([`REVOCATION_PREDICATE_TYPE`](super::REVOCATION_PREDICATE_TYPE)):
/// from `effective_index` on, signatures by `revoked_key` are not trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationNotice {
    /// The revoked key, as an Ed25519 note verifier key string.
    pub revoked_key: String,
    /// Why.
    pub reason: RevocationReason,
    /// The first log index at which the key is no longer trusted. When absent, the policy
    /// uses the notice's own log index (for every reason, `compromised` included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_index: Option<u64>,
    /// The key that takes over, as a verifier key string. Required for `superseded`, optional
    /// otherwise; never the revoked key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// Free text, informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Why a key is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The private key leaked or may have.
    Compromised,
    /// The key is no longer used.
    Retired,
    /// Replaced by `replacement`.
    Superseded,
}

impl RevocationReason {
    /// The reason as the predicate spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Compromised => "compromised",
            RevocationReason::Retired => "retired",
            RevocationReason::Superseded => "superseded",
        }
    }
}

impl RevocationNotice {
    /// The first log index from which the notice, logged at `notice_index`, takes its key's
    /// trust away: `effective_index`, or the notice's own index when absent. A `compromised`
    /// notice never takes effect after its own index: a compromise is not scheduled, and the
    /// thief holding the key could push it into the future.
    pub fn effective_from(&self, notice_index: u64) -> u64 {
        let effective = self.effective_index.unwrap_or(notice_index);
        match self.reason {
            RevocationReason::Compromised => effective.min(notice_index),
            RevocationReason::Retired | RevocationReason::Superseded => effective,
        }
    }

    /// Checks the key strings, the replacement rules and the comment.
    pub fn validate(&self) -> Result<(), PredicateError> {
        let revoked =
            parse_vkey(&self.revoked_key).map_err(|problem| PredicateError::InvalidVkey {
                field: "revoked_key",
                problem,
            })?;
        match &self.replacement {
            Some(r) => {
                let replacement = parse_vkey(r).map_err(|problem| PredicateError::InvalidVkey {
                    field: "replacement",
                    problem,
                })?;
                if replacement.public_key() == revoked.public_key() {
                    return Err(PredicateError::ReplacementIsRevokedKey);
                }
            }
            None if self.reason == RevocationReason::Superseded => {
                return Err(PredicateError::SupersededWithoutReplacement);
            }
            None => {}
        }
        if let Some(comment) = &self.comment {
            check_text("comment", comment)?;
        }
        Ok(())
    }

    /// The one subject a revocation statement carries: name = the revoked key's name, digest =
    /// `{"sha256": SHA-256(0x01 || 32-byte public key)}`, i.e. the SHA-256 of the bytes the
    /// vkey's third field decodes to. Lets the ledger index revocations by key like artifacts.
    pub fn subject(&self) -> Result<Artifact, PredicateError> {
        let key = parse_vkey(&self.revoked_key).map_err(|problem| PredicateError::InvalidVkey {
            field: "revoked_key",
            problem,
        })?;
        let mut material = [0x01u8; 33];
        material[1..].copy_from_slice(&key.public_key());
        Ok(Artifact {
            name: key.name().to_owned(),
            digest: Digests::sha256(Sha256::digest(material).into()),
        })
    }
}

/// A verifier key string as an entry may name one: parsed by the one vkey parser
/// ([`NoteVerifier::parse_of_type`]), Ed25519 only, with the problem named as the
/// predicates' errors name it.
pub(super) fn parse_vkey(s: &str) -> Result<NoteVerifier, VkeyProblem> {
    NoteVerifier::parse_of_type(s, KeyType::Ed25519).map_err(|e| match e {
        NoteError::MalformedVerifierKey => VkeyProblem::Shape,
        NoteError::InvalidKeyName { .. } => VkeyProblem::Name,
        NoteError::InvalidKeyId { .. } => VkeyProblem::KeyIdFormat,
        NoteError::InvalidKeyEncoding => VkeyProblem::Base64,
        NoteError::UnsupportedKeyType { type_byte } => VkeyProblem::KeyType { byte: type_byte },
        NoteError::WrongKeyLength { len, .. } => VkeyProblem::Length { len },
        NoteError::KeyIdMismatch { .. } => VkeyProblem::KeyIdMismatch,
        _ => VkeyProblem::NotAPoint,
    })
}
