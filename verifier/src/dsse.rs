//! DSSE v1 envelopes (secure-systems-lab/dsse): the signed wrapper around every ledger entry.
//!
//! ```text
//! PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body    (LEN = decimal byte length)
//! envelope        = {"payload": b64(body), "payloadType": type, "signatures": [{"keyid": hint, "sig": b64}]}
//! ```
//!
//! - [`Envelope::parse`] reads the JSON envelope. It accepts standard and URL-safe base64,
//!   padded or not (the DSSE spec says verifiers MUST accept either alphabet), ignores
//!   unrecognised fields (as the envelope spec requires), treats a missing `keyid` as empty,
//!   and rejects a missing `payload`, `payloadType`, `signatures` or `sig`, an empty signature
//!   list, trailing garbage and anything over the size caps below.
//! - [`Envelope::encode`] writes compact JSON with a stable field order (`payload`,
//!   `payloadType`, `signatures`; in each signature `keyid`, `sig`) and standard padded base64.
//! - [`Envelope::verify`] checks the payload type, then the signatures over the PAE against the
//!   caller's trusted keys, and returns a [`VerifiedEnvelope`], the only way to get at a payload
//!   that is known to be signed. Signatures that verify under no trusted key are skipped, as the
//!   DSSE multi-signature protocol says (anyone can add or strip a signature, so an unknown or
//!   bad one proves nothing either way). The threshold counts *unique* trusted public keys.
//!
//! # The `keyid` convention
//!
//! `keyid` is an unauthenticated hint and is never trusted here: it only orders the search
//! (trusted keys whose id equals the hint are tried first, then all the others). Reprove's
//! signers set it to their c2sp signed-note verifier key string (vkey),
//! `<name>+<8 hex key ID>+<base64(0x01 || 32-byte Ed25519 public key)>`, and reprove policies
//! use the same string as the [`TrustedKey::id`]. So a log can check a *self-described*
//! signature (parse the vkey from `keyid`, verify with it, then consult its allow-list), while a
//! verifier still only trusts keys from its own policy. Parsing the vkey into a [`TrustedKey`]
//! is the caller's job (the `note` module owns that format); pass it to [`Envelope::verify`]
//! with a threshold of 1.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::note::NoteSigner;
use serde::{Deserialize, Serialize};

/// The largest envelope [`Envelope::parse`] reads, in bytes of JSON. Ledger entries are far
/// smaller (at most 64 KiB); the cap only bounds the work an attacker can cause.
pub const MAX_ENVELOPE_BYTES: usize = 1 << 20;

/// The most signatures an envelope may carry.
pub const MAX_SIGNATURES: usize = 64;

/// The longest accepted `payloadType`, in bytes.
pub const MAX_PAYLOAD_TYPE_BYTES: usize = 256;

/// The longest accepted `keyid`, in bytes (a vkey is about 100 bytes).
pub const MAX_KEYID_BYTES: usize = 1024;

/// The longest accepted decoded signature, in bytes (an Ed25519 signature is 64 bytes; other
/// algorithms may appear in envelopes signed by several parties and are skipped by `verify`).
pub const MAX_SIG_BYTES: usize = 1024;

/// Errors from DSSE parsing, signing and verification.
///
/// Grouped by whose fault they are: malformed untrusted input, verification failure of
/// well-formed input, and caller misuse.
#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    // --- malformed input ---
    /// The envelope is larger than [`MAX_ENVELOPE_BYTES`].
    #[error("envelope is {len} bytes, the limit is {max}")]
    TooLarge { len: usize, max: usize },
    /// The envelope is not JSON of the expected shape (missing or mistyped field, trailing data).
    #[error("envelope is not a valid DSSE JSON envelope: {0}")]
    Json(#[source] serde_json::Error),
    /// A base64 field decodes in neither the standard nor the URL-safe alphabet.
    #[error("field {field} is not valid base64")]
    Base64 { field: Field },
    /// The envelope carries no signature at all.
    #[error("envelope has no signatures")]
    NoSignatures,
    /// The envelope carries more than [`MAX_SIGNATURES`] signatures.
    #[error("envelope has {count} signatures, the limit is {max}")]
    TooManySignatures { count: usize, max: usize },
    /// A field exceeds its length cap.
    #[error("field {field} is {len} bytes, the limit is {max}")]
    FieldTooLong {
        field: Field,
        len: usize,
        max: usize,
    },

    // --- verification failures ---
    /// The payload type is not one the caller supports (checked before any signature).
    #[error("unsupported payload type {payload_type:?}")]
    UnsupportedPayloadType { payload_type: String },
    /// Fewer unique trusted keys signed the PAE than the threshold asks for.
    #[error("{verified} unique trusted keys signed the envelope, {threshold} required")]
    ThresholdNotMet { verified: usize, threshold: usize },

    // --- caller misuse ---
    /// A threshold of zero would accept unsigned envelopes.
    #[error("a signature threshold of 0 is not allowed")]
    ZeroThreshold,
    /// The threshold can never be met with this many distinct trusted keys.
    #[error("threshold {threshold} exceeds the {keys} distinct trusted keys")]
    ThresholdExceedsKeys { threshold: usize, keys: usize },
    /// [`Envelope::sign`] was called without signers.
    #[error("signing needs at least one signer")]
    NoSigners,
}

/// Names a field of the envelope in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `payload`.
    Payload,
    /// `payloadType`.
    PayloadType,
    /// `signatures[index].keyid`.
    KeyId { index: usize },
    /// `signatures[index].sig`.
    Sig { index: usize },
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Payload => f.write_str("payload"),
            Field::PayloadType => f.write_str("payloadType"),
            Field::KeyId { index } => write!(f, "signatures[{index}].keyid"),
            Field::Sig { index } => write!(f, "signatures[{index}].sig"),
        }
    }
}

/// The pre-authentication encoding: the exact bytes a DSSE signature covers.
///
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where LEN is the decimal *byte*
/// length (so a non-ASCII type counts its UTF-8 bytes).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + payload_type.len() + payload.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Unauthenticated hint naming the signing key; empty when unset. Reprove emits the
    /// signer's vkey here (see the module docs). Never used for a trust decision.
    pub keyid: String,
    /// The raw signature bytes (64 bytes for Ed25519).
    pub sig: Vec<u8>,
}

/// A parsed, *unverified* DSSE envelope.
///
/// Fields are private so every value is within the caps and has at least one signature:
/// `parse(encode(e)) == e` for every envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    payload: Vec<u8>,
    payload_type: String,
    signatures: Vec<Signature>,
}

/// A trusted Ed25519 key, as the caller's policy names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The policy's name for the key (reprove uses the vkey string). Reported back in
    /// [`VerifiedEnvelope::key_ids`] and compared with the `keyid` hint to order the search.
    pub id: String,
    /// The public key.
    pub key: VerifyingKey,
}

/// An envelope whose signatures met the caller's threshold. Only [`Envelope::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    payload_type: String,
    payload: Vec<u8>,
    key_ids: Vec<String>,
}

impl Envelope {
    /// Parses a JSON envelope. See the module docs for what is accepted.
    pub fn parse(bytes: &[u8]) -> Result<Self, DsseError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(DsseError::TooLarge {
                len: bytes.len(),
                max: MAX_ENVELOPE_BYTES,
            });
        }
        let raw: RawEnvelope = serde_json::from_slice(bytes).map_err(DsseError::Json)?;
        check_len(
            Field::PayloadType,
            raw.payload_type.len(),
            MAX_PAYLOAD_TYPE_BYTES,
        )?;
        let payload = decode_b64(&raw.payload).ok_or(DsseError::Base64 {
            field: Field::Payload,
        })?;
        if raw.signatures.is_empty() {
            return Err(DsseError::NoSignatures);
        }
        check_signature_count(raw.signatures.len())?;
        let mut signatures = Vec::with_capacity(raw.signatures.len());
        for (index, s) in raw.signatures.into_iter().enumerate() {
            let keyid = s.keyid.unwrap_or_default();
            check_len(Field::KeyId { index }, keyid.len(), MAX_KEYID_BYTES)?;
            let sig = decode_b64(&s.sig).ok_or(DsseError::Base64 {
                field: Field::Sig { index },
            })?;
            check_len(Field::Sig { index }, sig.len(), MAX_SIG_BYTES)?;
            signatures.push(Signature { keyid, sig });
        }
        Ok(Envelope {
            payload,
            payload_type: raw.payload_type,
            signatures,
        })
    }

    /// Encodes the envelope as compact JSON: fields in the order `payload`, `payloadType`,
    /// `signatures` (each `keyid`, `sig`), standard base64 with padding.
    pub fn encode(&self) -> Vec<u8> {
        let raw = RawEnvelopeOut {
            payload: STANDARD.encode(&self.payload),
            payload_type: &self.payload_type,
            signatures: self
                .signatures
                .iter()
                .map(|s| RawSignatureOut {
                    keyid: &s.keyid,
                    sig: STANDARD.encode(&s.sig),
                })
                .collect(),
        };
        // Serialising plain strings and vectors into memory cannot fail.
        serde_json::to_vec(&raw).unwrap_or_default()
    }

    /// Signs `payload` as `payload_type` with every signer, in order. Each signer is
    /// `(keyid, key)`; reprove passes the signer's vkey as `keyid`.
    ///
    /// Fails on caller misuse only: no signers, or a result that [`Envelope::parse`] would
    /// refuse (a field or the whole envelope over its cap).
    pub fn sign(
        payload_type: &str,
        payload: &[u8],
        signers: &[(&str, &SigningKey)],
    ) -> Result<Envelope, DsseError> {
        if signers.is_empty() {
            return Err(DsseError::NoSigners);
        }
        check_len(
            Field::PayloadType,
            payload_type.len(),
            MAX_PAYLOAD_TYPE_BYTES,
        )?;
        check_signature_count(signers.len())?;
        let message = pae(payload_type, payload);
        let mut signatures = Vec::with_capacity(signers.len());
        for (index, (keyid, key)) in signers.iter().enumerate() {
            check_len(Field::KeyId { index }, keyid.len(), MAX_KEYID_BYTES)?;
            let sig = key.sign(&message).to_bytes().to_vec();
            signatures.push(Signature {
                keyid: (*keyid).to_owned(),
                sig,
            });
        }
        let env = Envelope {
            payload: payload.to_vec(),
            payload_type: payload_type.to_owned(),
            signatures,
        };
        let len = env.encode().len();
        if len > MAX_ENVELOPE_BYTES {
            return Err(DsseError::TooLarge {
                len,
                max: MAX_ENVELOPE_BYTES,
            });
        }
        Ok(env)
    }

    /// Signs `payload` with note keys, as reprove does: each signature's `keyid` is the
    /// signer's vkey, so a log can check the self-described signature and a verifier can pick
    /// the matching policy key first.
    pub fn sign_with_note_keys(
        payload_type: &str,
        payload: &[u8],
        signers: &[&NoteSigner],
    ) -> Result<Envelope, DsseError> {
        let ids: Vec<String> = signers.iter().map(|s| s.verifier().to_string()).collect();
        let pairs: Vec<(&str, &SigningKey)> = ids
            .iter()
            .zip(signers)
            .map(|(id, s)| (id.as_str(), s.signing_key()))
            .collect();
        Envelope::sign(payload_type, payload, &pairs)
    }

    /// Verifies the envelope against the caller's trusted keys.
    ///
    /// In order: `threshold` must be at least 1 and at most the number of distinct trusted
    /// public keys (else caller misuse); the payload type must be in `supported_types`; then
    /// every signature is checked (Ed25519, strict verification) over the PAE, first against
    /// trusted keys whose id equals its `keyid` hint, then against all other trusted keys. A
    /// signature that verifies under no trusted key is skipped. The envelope is accepted when
    /// at least `threshold` distinct trusted public keys verified; a key listed twice (under
    /// two ids) or signing twice counts once.
    pub fn verify(
        &self,
        trusted: &[TrustedKey],
        threshold: usize,
        supported_types: &[&str],
    ) -> Result<VerifiedEnvelope, DsseError> {
        if threshold == 0 {
            return Err(DsseError::ZeroThreshold);
        }
        // One candidate per distinct public key, under the first id the policy gives it.
        let mut seen = BTreeSet::new();
        let keys: Vec<&TrustedKey> = trusted
            .iter()
            .filter(|t| seen.insert(t.key.to_bytes()))
            .collect();
        if threshold > keys.len() {
            return Err(DsseError::ThresholdExceedsKeys {
                threshold,
                keys: keys.len(),
            });
        }
        if !supported_types.contains(&self.payload_type.as_str()) {
            return Err(DsseError::UnsupportedPayloadType {
                payload_type: self.payload_type.clone(),
            });
        }
        let message = self.pae();
        let mut accepted = vec![false; keys.len()];
        for s in &self.signatures {
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&s.sig) else {
                continue; // not an Ed25519 signature: cannot be from a trusted key
            };
            // Keys named by the hint first, then the rest; the hint only orders the search.
            let hinted = (0..keys.len()).filter(|&i| keys[i].id == s.keyid);
            let others = (0..keys.len()).filter(|&i| keys[i].id != s.keyid);
            for i in hinted.chain(others) {
                if !accepted[i] && crate::ed25519::verify_strict(&keys[i].key, &message, &sig) {
                    accepted[i] = true;
                    break;
                }
            }
        }
        let key_ids: Vec<String> = keys
            .iter()
            .zip(&accepted)
            .filter(|(_, a)| **a)
            .map(|(k, _)| k.id.clone())
            .collect();
        if key_ids.len() < threshold {
            return Err(DsseError::ThresholdNotMet {
                verified: key_ids.len(),
                threshold,
            });
        }
        Ok(VerifiedEnvelope {
            payload_type: self.payload_type.clone(),
            payload: self.payload.clone(),
            key_ids,
        })
    }

    /// The payload bytes (unverified).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload type (unverified).
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The signatures, at least one.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The PAE of this envelope's payload type and payload: the bytes each signature covers.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

impl VerifiedEnvelope {
    /// The payload type, which was in the caller's supported list.
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The signed payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Consumes the value, returning the signed payload bytes.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// The [`TrustedKey::id`]s of the distinct trusted keys whose signatures verified, in the
    /// order of the caller's trusted list (at least `threshold` of them).
    pub fn key_ids(&self) -> &[String] {
        &self.key_ids
    }
}

/// Standard alphabet, padding optional (but correct when present).
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe alphabet, padding optional (but correct when present).
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes standard or URL-safe base64 (one alphabet per string, not a mix).
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    STANDARD_LENIENT
        .decode(s)
        .or_else(|_| URL_SAFE_LENIENT.decode(s))
        .ok()
}

fn check_len(field: Field, len: usize, max: usize) -> Result<(), DsseError> {
    if len > max {
        return Err(DsseError::FieldTooLong { field, len, max });
    }
    Ok(())
}

fn check_signature_count(count: usize) -> Result<(), DsseError> {
    if count > MAX_SIGNATURES {
        return Err(DsseError::TooManySignatures {
            count,
            max: MAX_SIGNATURES,
        });
    }
    Ok(())
}

/// The envelope as read: unknown fields are ignored, duplicate known fields are an error.
#[derive(Deserialize)]
struct RawEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    #[serde(default)]
    keyid: Option<String>,
    sig: String,
}

#[derive(Serialize)]
struct RawEnvelopeOut<'a> {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: &'a str,
    signatures: Vec<RawSignatureOut<'a>>,
}

#[derive(Serialize)]
struct RawSignatureOut<'a> {
    keyid: &'a str,
    sig: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "application/vnd.in-toto+json";

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn trusted(id: &str, n: u8) -> TrustedKey {
        TrustedKey {
            id: id.to_owned(),
            key: key(n).verifying_key(),
        }
    }

    fn envelope_json(payload: &str, sigs: &[(&str, &str)]) -> Vec<u8> {
        let sigs: Vec<_> = sigs
            .iter()
            .map(|(k, s)| serde_json::json!({"keyid": k, "sig": s}))
            .collect();
        serde_json::to_vec(
            &serde_json::json!({"payload": payload, "payloadType": TYPE, "signatures": sigs}),
        )
        .unwrap()
    }

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn sign_encode_parse_verify_round_trip() {
        let (a, b) = (key(1), key(2));
        let env = Envelope::sign(TYPE, b"{}", &[("a", &a), ("b", &b)]).unwrap();
        let bytes = env.encode();
        assert!(bytes.starts_with(br#"{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"a","sig":""#));
        let parsed = Envelope::parse(&bytes).unwrap();
        assert_eq!(parsed, env);
        let v = parsed
            .verify(&[trusted("a", 1), trusted("b", 2)], 2, &[TYPE])
            .unwrap();
        assert_eq!(v.payload(), b"{}");
        assert_eq!(v.payload_type(), TYPE);
        assert_eq!(v.key_ids(), ["a", "b"]);
    }

    #[test]
    fn keyid_hint_is_never_trusted() {
        let env = Envelope::sign(TYPE, b"x", &[("b", &key(1))]).unwrap();
        // The hint names key b, but key a signed: a verifies (fallback), b is not credited.
        let v = env
            .verify(&[trusted("a", 1), trusted("b", 2)], 1, &[TYPE])
            .unwrap();
        assert_eq!(v.key_ids(), ["a"]);
        // A hint naming no trusted key still finds the signer.
        let env = Envelope::sign(TYPE, b"x", &[("nobody", &key(2))]).unwrap();
        let v = env
            .verify(&[trusted("a", 1), trusted("b", 2)], 1, &[TYPE])
            .unwrap();
        assert_eq!(v.key_ids(), ["b"]);
    }

    #[test]
    fn threshold_counts_unique_public_keys() {
        let env = Envelope::sign(TYPE, b"x", &[("a", &key(1)), ("a2", &key(1))]).unwrap();
        // The same key under two ids is one key: two ids but only one distinct key.
        let policy = [trusted("a", 1), trusted("a2", 1), trusted("b", 2)];
        let err = env.verify(&policy, 2, &[TYPE]).unwrap_err();
        assert!(
            matches!(
                err,
                DsseError::ThresholdNotMet {
                    verified: 1,
                    threshold: 2
                }
            ),
            "{err}"
        );
        assert_eq!(env.verify(&policy, 1, &[TYPE]).unwrap().key_ids(), ["a"]);
        let err = env
            .verify(&[trusted("a", 1), trusted("a2", 1)], 2, &[TYPE])
            .unwrap_err();
        assert!(
            matches!(
                err,
                DsseError::ThresholdExceedsKeys {
                    threshold: 2,
                    keys: 1
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn untrusted_and_bad_signatures_are_skipped() {
        let mut env = Envelope::sign(TYPE, b"x", &[("a", &key(1)), ("c", &key(3))]).unwrap();
        env.signatures.push(Signature {
            keyid: "a".into(),
            sig: vec![0; 64],
        });
        env.signatures.push(Signature {
            keyid: "a".into(),
            sig: vec![1; 7],
        });
        let v = env
            .verify(&[trusted("a", 1), trusted("b", 2)], 1, &[TYPE])
            .unwrap();
        assert_eq!(v.key_ids(), ["a"]);
        let err = env.verify(&[trusted("b", 2)], 1, &[TYPE]).unwrap_err();
        assert!(
            matches!(
                err,
                DsseError::ThresholdNotMet {
                    verified: 0,
                    threshold: 1
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn signature_over_other_payload_or_type_fails() {
        let env = Envelope::sign(TYPE, b"x", &[("a", &key(1))]).unwrap();
        let mut tampered = env.clone();
        tampered.payload = b"y".to_vec();
        assert!(matches!(
            tampered.verify(&[trusted("a", 1)], 1, &[TYPE]),
            Err(DsseError::ThresholdNotMet { .. })
        ));
        let mut retyped = env.clone();
        retyped.payload_type = "text/plain".into();
        assert!(matches!(
            retyped.verify(&[trusted("a", 1)], 1, &[TYPE, "text/plain"]),
            Err(DsseError::ThresholdNotMet { .. })
        ));
    }

    #[test]
    fn unsupported_type_and_misuse_are_errors() {
        let env = Envelope::sign(TYPE, b"x", &[("a", &key(1))]).unwrap();
        assert!(matches!(
            env.verify(&[trusted("a", 1)], 1, &["text/plain"]),
            Err(DsseError::UnsupportedPayloadType { .. })
        ));
        assert!(matches!(
            env.verify(&[trusted("a", 1)], 1, &[]),
            Err(DsseError::UnsupportedPayloadType { .. })
        ));
        assert!(matches!(
            env.verify(&[trusted("a", 1)], 0, &[TYPE]),
            Err(DsseError::ZeroThreshold)
        ));
        assert!(matches!(
            env.verify(&[], 1, &[TYPE]),
            Err(DsseError::ThresholdExceedsKeys {
                threshold: 1,
                keys: 0
            })
        ));
        assert!(matches!(
            Envelope::sign(TYPE, b"x", &[]),
            Err(DsseError::NoSigners)
        ));
        let long = "t".repeat(MAX_PAYLOAD_TYPE_BYTES + 1);
        assert!(matches!(
            Envelope::sign(&long, b"x", &[("a", &key(1))]),
            Err(DsseError::FieldTooLong {
                field: Field::PayloadType,
                ..
            })
        ));
        let big = vec![0u8; MAX_ENVELOPE_BYTES];
        assert!(matches!(
            Envelope::sign(TYPE, &big, &[("a", &key(1))]),
            Err(DsseError::TooLarge { .. })
        ));
    }

    #[test]
    fn parse_accepts_both_alphabets_with_or_without_padding() {
        let sig = STANDARD.encode([0xfbu8; 64]);
        for payload in ["+/+/Pj8=", "+/+/Pj8", "-_-_Pj8=", "-_-_Pj8"] {
            let env = Envelope::parse(&envelope_json(payload, &[("k", &sig)])).unwrap();
            assert_eq!(env.payload(), [0xfb, 0xff, 0xbf, 0x3e, 0x3f], "{payload}");
        }
        let url_sig = sig
            .replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_owned();
        let env = Envelope::parse(&envelope_json("", &[("k", &url_sig)])).unwrap();
        assert_eq!(env.signatures()[0].sig, [0xfb; 64]);
    }

    #[test]
    fn parse_treats_missing_keyid_as_empty_and_ignores_unknown_fields() {
        let json = br#"{"payload":"","payloadType":"t","signatures":[{"sig":"AA=="}],"extension":{"x":1}}"#;
        let env = Envelope::parse(json).unwrap();
        assert_eq!(
            env.signatures(),
            [Signature {
                keyid: String::new(),
                sig: vec![0]
            }]
        );
        assert_eq!(
            env.encode(),
            br#"{"payload":"","payloadType":"t","signatures":[{"keyid":"","sig":"AA=="}]}"#
        );
        assert_eq!(Envelope::parse(&env.encode()).unwrap(), env);
    }

    #[test]
    fn parse_rejects_malformed_envelopes() {
        let ok_sig = r#"{"keyid":"k","sig":"AA=="}"#;
        let cases: Vec<(String, &str)> = vec![
            (
                format!(r#"{{"payloadType":"t","signatures":[{ok_sig}]}}"#),
                "missing payload",
            ),
            (
                format!(r#"{{"payload":"","signatures":[{ok_sig}]}}"#),
                "missing payloadType",
            ),
            (
                r#"{"payload":"","payloadType":"t"}"#.into(),
                "missing signatures",
            ),
            (
                r#"{"payload":"","payloadType":"t","signatures":[{"keyid":"k"}]}"#.into(),
                "missing sig",
            ),
            (
                r#"{"payload":"","payloadType":"t","signatures":[]}"#.into(),
                "empty signatures",
            ),
            (
                format!(r#"{{"payload":null,"payloadType":"t","signatures":[{ok_sig}]}}"#),
                "null payload",
            ),
            (
                format!(r#"{{"payload":"","payloadType":7,"signatures":[{ok_sig}]}}"#),
                "numeric type",
            ),
            (
                format!(r#"{{"payload":"%%%","payloadType":"t","signatures":[{ok_sig}]}}"#),
                "bad base64",
            ),
            (
                format!(r#"{{"payload":"+-8=","payloadType":"t","signatures":[{ok_sig}]}}"#),
                "mixed alphabets",
            ),
            (
                format!(r#"{{"payload":"AB==","payloadType":"t","signatures":[{ok_sig}]}}"#),
                "non-canonical trailing bits",
            ),
            (
                format!(r#"{{"payload":"A","payloadType":"t","signatures":[{ok_sig}]}}"#),
                "truncated base64",
            ),
            (
                format!(
                    r#"{{"payload":"","payload":"","payloadType":"t","signatures":[{ok_sig}]}}"#
                ),
                "duplicate field",
            ),
            (
                format!(r#"{{"payload":"","payloadType":"t","signatures":[{ok_sig}]}} x"#),
                "trailing garbage",
            ),
            (
                format!(r#"{{"payload":"","payloadType":"t","signatures":[{ok_sig}]}}{{}}"#),
                "two objects",
            ),
            (r#"[]"#.into(), "not an object"),
            (String::new(), "empty input"),
        ];
        for (json, what) in cases {
            assert!(
                Envelope::parse(json.as_bytes()).is_err(),
                "accepted: {what}"
            );
        }
        let trailing_ws = format!(
            r#"{{"payload":"","payloadType":"t","signatures":[{ok_sig}]}}  {}"#,
            "\n"
        );
        assert!(Envelope::parse(trailing_ws.as_bytes()).is_ok());
    }

    #[test]
    fn parse_enforces_caps() {
        let sig = STANDARD.encode([0u8; 64]);
        let many: Vec<(&str, &str)> = vec![("k", sig.as_str()); MAX_SIGNATURES + 1];
        assert!(matches!(
            Envelope::parse(&envelope_json("", &many)),
            Err(DsseError::TooManySignatures { .. })
        ));
        let long_id = "k".repeat(MAX_KEYID_BYTES + 1);
        assert!(matches!(
            Envelope::parse(&envelope_json("", &[(&long_id, &sig)])),
            Err(DsseError::FieldTooLong {
                field: Field::KeyId { index: 0 },
                ..
            })
        ));
        let long_sig = STANDARD.encode(vec![0u8; MAX_SIG_BYTES + 1]);
        assert!(matches!(
            Envelope::parse(&envelope_json("", &[("k", &long_sig)])),
            Err(DsseError::FieldTooLong {
                field: Field::Sig { index: 0 },
                ..
            })
        ));
        let huge = vec![b' '; MAX_ENVELOPE_BYTES + 1];
        assert!(matches!(
            Envelope::parse(&huge),
            Err(DsseError::TooLarge { .. })
        ));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn encode_parse_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..300), ty in "[ -~]{0,40}", id in "\\PC{0,20}") {
                let env = Envelope::sign(&ty, &payload, &[(&id, &key(9))]).unwrap();
                prop_assert_eq!(Envelope::parse(&env.encode()).unwrap(), env);
            }

            #[test]
            fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let _ = Envelope::parse(&bytes);
            }
        }
    }

    #[test]
    fn note_keys_sign_with_their_vkey_as_keyid() {
        let a = NoteSigner::from_seed("rebuilder.example", &[3; 32]).unwrap();
        let b = NoteSigner::from_seed("other.example", &[4; 32]).unwrap();
        let env =
            Envelope::sign_with_note_keys("t", b"payload without newline", &[&a, &b]).unwrap();
        let ids: Vec<&str> = env.signatures().iter().map(|s| s.keyid.as_str()).collect();
        assert_eq!(ids, [a.verifier().to_string(), b.verifier().to_string()]);
        let trusted = |s: &NoteSigner| TrustedKey {
            id: s.verifier().to_string(),
            key: *s.verifier().verifying_key(),
        };
        let v = env.verify(&[trusted(&a), trusted(&b)], 2, &["t"]).unwrap();
        assert_eq!(v.key_ids().len(), 2);
        let stranger = NoteSigner::from_seed("rebuilder.example", &[5; 32]).unwrap();
        assert!(env.verify(&[trusted(&stranger)], 1, &["t"]).is_err());
        assert!(Envelope::sign_with_note_keys("t", b"x", &[]).is_err());
    }
}
