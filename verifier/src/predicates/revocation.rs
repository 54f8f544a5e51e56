//! Revocation notices: `https://reprove.dev/revocation/v1`, and the private check of verifier
//! key strings.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::checks::check_text;
use super::{Artifact, Digests, PredicateError, VkeyProblem};

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

impl RevocationNotice {
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
                if replacement.material == revoked.material {
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
        Ok(Artifact {
            name: key.name.to_owned(),
            digest: Digests::sha256(Sha256::digest(key.material).into()),
        })
    }
}

/// The parts of a verifier key string this module needs.
pub(super) struct Vkey<'a> {
    pub(super) name: &'a str,
    /// `0x01 || public key`, as the third field decodes.
    pub(super) material: [u8; 33],
}

/// Checks `<name>+<8 lowercase hex>+<base64(0x01 || Ed25519 public key)>` completely.
pub(super) fn parse_vkey(s: &str) -> Result<Vkey<'_>, VkeyProblem> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(VkeyProblem::Shape);
    };
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(VkeyProblem::Name);
    }
    let mut id_bytes = [0u8; 4];
    if id.len() != 8
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        || hex::decode_to_slice(id, &mut id_bytes).is_err()
    {
        return Err(VkeyProblem::KeyIdFormat);
    }
    let decoded = STANDARD.decode(key).map_err(|_| VkeyProblem::Base64)?;
    let material: [u8; 33] = decoded
        .try_into()
        .map_err(|v: Vec<u8>| VkeyProblem::Length { len: v.len() })?;
    if material[0] != 0x01 {
        return Err(VkeyProblem::KeyType { byte: material[0] });
    }
    let mut public = [0u8; 32];
    public.copy_from_slice(&material[1..]);
    if ed25519_dalek::VerifyingKey::from_bytes(&public).is_err() {
        return Err(VkeyProblem::NotAPoint);
    }
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(material);
    if h.finalize()[..4] != id_bytes {
        return Err(VkeyProblem::KeyIdMismatch);
    }
    Ok(Vkey { name, material })
}
