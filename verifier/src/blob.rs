//! Signed blob uploads: the `Reprove-Signature` header that authorizes storing a build log or a
//! diff report in a ledger's content-addressed blob store.
//!
//! Blobs are not log entries: they are referenced by digest from rebuild attestations, and
//! anyone who holds an attestation checks a fetched blob against that digest. The signature
//! only decides who may spend the ledger's disk. It covers a domain-separated message naming
//! the digest and the exact size, so it cannot be replayed for other bytes or confused with a
//! note or DSSE signature by the same key:
//!
//! ```text
//! reprove blob v1\n
//! sha256:<64 lowercase hex>\n
//! <size in bytes, decimal, no leading zeros>\n
//! ```
//!
//! The header value is `<signer vkey> <standard base64 of the 64-byte Ed25519 signature>`,
//! one space between. Only Ed25519 (`0x01`) note keys sign blobs.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer};

use crate::note::{KeyType, NoteSigner, NoteVerifier};

/// The HTTP header that carries a blob signature (lowercase, as HTTP/2 spells it).
pub const HEADER: &str = "reprove-signature";

/// What is wrong with a blob signature header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobAuthError {
    /// Not `<vkey> <base64 signature>`.
    #[error("the signature header must be \"<vkey> <base64 Ed25519 signature>\"")]
    Shape,
    /// The vkey does not parse.
    #[error("the signer key is not a note verifier key: {0}")]
    Key(String),
    /// The key is not an Ed25519 (`0x01`) key.
    #[error("the signer key is not an Ed25519 (0x01) note key")]
    KeyType,
    /// The signature is not canonical base64 of 64 bytes.
    #[error("the signature is not standard base64 of 64 bytes")]
    SignatureEncoding,
    /// The signature does not verify for this digest and size.
    #[error("the signature does not verify for this digest and size under the named key")]
    Invalid,
}

/// A parsed (not yet verified) blob signature: the key it names and the signature bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct BlobSignature {
    key: NoteVerifier,
    signature: [u8; 64],
}

/// The exact bytes a blob signature covers.
pub fn message(sha256: &[u8; 32], size: u64) -> Vec<u8> {
    format!("reprove blob v1\nsha256:{}\n{size}\n", hex::encode(sha256)).into_bytes()
}

/// The exact bytes a staged-release plan request signs: a set for `project`@`version`.
pub fn plan_message(project: &str, version: &str) -> Vec<u8> {
    format!("reprove set plan v1\n{project}\n{version}\n").into_bytes()
}

/// The exact bytes a set upload signs: `size` bytes with digest `sha256`, as `file` of the set
/// `set_id`.
pub fn set_file_message(set_id: &str, file: &str, sha256: &[u8; 32], size: u64) -> Vec<u8> {
    format!(
        "reprove set file v1\n{set_id}\n{file}\nsha256:{}\n{size}\n",
        hex::encode(sha256)
    )
    .into_bytes()
}

impl BlobSignature {
    /// Signs the upload of `size` bytes whose SHA-256 is `sha256`.
    pub fn sign(signer: &NoteSigner, sha256: &[u8; 32], size: u64) -> BlobSignature {
        Self::sign_message(signer, &message(sha256, size))
    }

    /// Signs `message` (one of this module's domain-separated messages).
    pub fn sign_message(signer: &NoteSigner, message: &[u8]) -> BlobSignature {
        let signature = signer.signing_key().sign(message);
        BlobSignature {
            key: signer.verifier(),
            signature: signature.to_bytes(),
        }
    }

    /// Parses a header value. The signature is not checked: see [`BlobSignature::verify`].
    pub fn parse(header: &str) -> Result<BlobSignature, BlobAuthError> {
        let (vkey, sig) = header.split_once(' ').ok_or(BlobAuthError::Shape)?;
        if vkey.is_empty() || sig.is_empty() || sig.contains(' ') {
            return Err(BlobAuthError::Shape);
        }
        let key = NoteVerifier::parse(vkey).map_err(|e| BlobAuthError::Key(e.to_string()))?;
        if key.key_type() != KeyType::Ed25519 {
            return Err(BlobAuthError::KeyType);
        }
        let raw = STANDARD
            .decode(sig)
            .map_err(|_| BlobAuthError::SignatureEncoding)?;
        let signature: [u8; 64] = raw
            .try_into()
            .map_err(|_| BlobAuthError::SignatureEncoding)?;
        Ok(BlobSignature { key, signature })
    }

    /// The header value: `<vkey> <base64 signature>`.
    pub fn encode(&self) -> String {
        format!("{} {}", self.key, STANDARD.encode(self.signature))
    }

    /// The key the header names (unverified until [`BlobSignature::verify`] succeeds).
    pub fn key(&self) -> &NoteVerifier {
        &self.key
    }

    /// Checks the signature over the upload of `size` bytes with digest `sha256`; on success,
    /// the key that signed it.
    pub fn verify(&self, sha256: &[u8; 32], size: u64) -> Result<&NoteVerifier, BlobAuthError> {
        self.verify_message(&message(sha256, size))
    }

    /// Checks the signature over `message`; on success, the key that signed it.
    pub fn verify_message(&self, message: &[u8]) -> Result<&NoteVerifier, BlobAuthError> {
        let signature = Signature::from_bytes(&self.signature);
        if !crate::ed25519::verify_strict(self.key.verifying_key(), message, &signature) {
            return Err(BlobAuthError::Invalid);
        }
        Ok(&self.key)
    }
}

impl fmt::Debug for BlobSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobSignature")
            .field("key", &self.key.to_string())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(seed: u8) -> NoteSigner {
        NoteSigner::from_seed("rebuilder.example.net", &[seed; 32]).unwrap()
    }

    #[test]
    fn message_is_domain_separated_and_exact() {
        let digest = [0xab; 32];
        assert_eq!(
            message(&digest, 1234),
            format!("reprove blob v1\nsha256:{}\n1234\n", "ab".repeat(32)).into_bytes()
        );
    }

    #[test]
    fn round_trip_verifies_only_for_its_digest_and_size() {
        let (digest, other) = ([1; 32], [2; 32]);
        let header = BlobSignature::sign(&signer(7), &digest, 10).encode();
        let parsed = BlobSignature::parse(&header).unwrap();
        assert_eq!(parsed.encode(), header);
        assert_eq!(parsed.verify(&digest, 10).unwrap(), &signer(7).verifier());
        assert_eq!(parsed.verify(&other, 10), Err(BlobAuthError::Invalid));
        assert_eq!(parsed.verify(&digest, 11), Err(BlobAuthError::Invalid));
    }

    #[test]
    fn a_signature_under_another_key_is_refused() {
        let digest = [1; 32];
        let good = BlobSignature::sign(&signer(7), &digest, 10);
        let sig = good.encode().split_once(' ').unwrap().1.to_owned();
        let forged = format!("{} {sig}", signer(8).verifier());
        assert_eq!(
            BlobSignature::parse(&forged).unwrap().verify(&digest, 10),
            Err(BlobAuthError::Invalid)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let vkey = signer(7).verifier().to_string();
        let sig = STANDARD.encode([0u8; 64]);
        let cosig = signer(7).cosignature_verifier().to_string();
        for (header, want) in [
            (String::new(), BlobAuthError::Shape),
            (vkey.clone(), BlobAuthError::Shape),
            (format!("{vkey} "), BlobAuthError::Shape),
            (format!(" {sig}"), BlobAuthError::Shape),
            (format!("{vkey} {sig} extra"), BlobAuthError::Shape),
            (
                format!("{vkey} not-base64!"),
                BlobAuthError::SignatureEncoding,
            ),
            (
                format!("{vkey} {}", STANDARD.encode([0u8; 63])),
                BlobAuthError::SignatureEncoding,
            ),
            (format!("{cosig} {sig}"), BlobAuthError::KeyType),
        ] {
            assert_eq!(BlobSignature::parse(&header), Err(want), "{header:?}");
        }
        assert!(matches!(
            BlobSignature::parse(&format!("nokey {sig}")),
            Err(BlobAuthError::Key(_))
        ));
    }
}
