//! Opening a logged entry: the one way reprove reads an entry's bytes — the ledger at `/add`,
//! its fsck and web pages, rebuilder nodes, and consumers.
//!
//! An entry is a DSSE envelope of an in-toto statement whose predicate is a reprove entry.
//! Opening it checks, in this order (each failure its own [`OpenError`]):
//!
//! 1. the bytes are a DSSE envelope, with payload type `application/vnd.in-toto+json`;
//! 2. at most [`MAX_SIGNATURES`] signatures (an entry has one author, perhaps a co-signer or
//!    two), so opening costs at most that many Ed25519 verifications;
//! 3. some signature names its signer: reprove's `keyid` is the signer's Ed25519 (`0x01`) note
//!    verifier key (vkey), parsed into its one spelling;
//! 4. with an allow-list ([`Options::allow`]), some named key is on it — before any
//!    verification, so a stranger's entry costs nothing;
//! 5. each signature verifies (RFC 8032 strict rules) under the key its `keyid` names and no
//!    other; each key counts once, whatever number of signatures name it. When none does,
//!    [`Options::fallback`] keys are tried against signatures whose `keyid` is not a vkey (a
//!    consumer's own policy keys: DSSE makes `keyid` an optional hint);
//! 6. with an allow-list, some *verified* signer is on it;
//! 7. the payload is an in-toto statement and a reprove entry.
//!
//! Only [`SignedEntry::open`] and [`SignedEntry::open_with`] create a [`SignedEntry`], so
//! holding one means all of that was checked.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::dsse::Envelope;
use crate::note::{KeyType, NoteVerifier};
use crate::predicates::{Entry, PredicateError};
use crate::statement::{PAYLOAD_TYPE, Statement, StatementError};

/// The most signatures an entry may carry.
pub const MAX_SIGNATURES: usize = 8;

/// An entry whose envelope, signatures and statement have been checked.
#[derive(Debug, Clone)]
pub struct SignedEntry {
    entry: Entry,
    signers: Vec<NoteVerifier>,
    signatures: usize,
}

/// Why an entry's bytes do not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("not a DSSE envelope: {0}")]
    Envelope(String),
    #[error("payloadType {0:?} is not supported: entries are in-toto statements, {PAYLOAD_TYPE}")]
    PayloadType(String),
    #[error("the entry carries {0} signatures; at most {MAX_SIGNATURES} are accepted")]
    TooManySignatures(usize),
    #[error(
        "no signature names its signer: each signature's keyid must be the signer's Ed25519 note verifier key (<name>+<hex key ID>+<base64 key>)"
    )]
    NoNamedSigner,
    #[error("no key that signed this entry is on the allow-list")]
    NotAllowed,
    #[error("no signature verifies under the key its keyid names")]
    NoValidSignature,
    #[error("the payload is not an in-toto statement: {0}")]
    Statement(StatementError),
    #[error("the payload is not a reprove entry: {0}")]
    Predicate(PredicateError),
}

/// How to open an entry. The default: any self-described signer, no key cache.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Parsed keys by vkey text, shared across many entries.
    pub cache: Option<&'a KeyCache>,
    /// Only entries that one of these keys verifiably signed open ([`OpenError::NotAllowed`]).
    pub allow: Option<&'a [NoteVerifier]>,
    /// Keys tried against signatures whose `keyid` is not a vkey, when no named key verifies.
    pub fallback: &'a [NoteVerifier],
}

impl SignedEntry {
    /// Opens `bytes` with the default [`Options`].
    pub fn open(bytes: &[u8]) -> Result<SignedEntry, OpenError> {
        Self::open_with(bytes, Options::default())
    }

    /// Opens `bytes` (see the module docs for the checks and their order).
    pub fn open_with(bytes: &[u8], options: Options<'_>) -> Result<SignedEntry, OpenError> {
        let envelope = Envelope::parse(bytes).map_err(|e| OpenError::Envelope(e.to_string()))?;
        if envelope.payload_type() != PAYLOAD_TYPE {
            return Err(OpenError::PayloadType(envelope.payload_type().to_owned()));
        }
        let count = envelope.signatures().len();
        if count > MAX_SIGNATURES {
            return Err(OpenError::TooManySignatures(count));
        }
        let named: Vec<(Option<NoteVerifier>, &[u8])> = envelope
            .signatures()
            .iter()
            .map(|s| {
                let key = match options.cache {
                    Some(cache) => cache.parse(&s.keyid),
                    None => NoteVerifier::parse(&s.keyid).ok(),
                }
                .filter(|k| k.key_type() == KeyType::Ed25519);
                (key, s.sig.as_slice())
            })
            .collect();
        let any_named = named.iter().any(|(k, _)| k.is_some());
        if !any_named && options.fallback.is_empty() {
            return Err(OpenError::NoNamedSigner);
        }
        if let Some(allow) = options.allow
            && !named
                .iter()
                .any(|(k, _)| k.as_ref().is_some_and(|k| allow.contains(k)))
        {
            return Err(OpenError::NotAllowed);
        }
        let message = envelope.pae();
        let verifies = |key: &NoteVerifier, sig: &[u8]| {
            ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|sig| crate::ed25519::verify_strict(key.verifying_key(), &message, &sig))
        };
        let mut signers: Vec<NoteVerifier> = Vec::new();
        for (key, sig) in &named {
            if let Some(key) = key
                && !signers.contains(key)
                && verifies(key, sig)
            {
                signers.push(key.clone());
            }
        }
        if signers.is_empty() {
            for (_, sig) in named.iter().filter(|(k, _)| k.is_none()) {
                if let Some(key) = options.fallback.iter().find(|k| verifies(k, sig))
                    && !signers.contains(key)
                {
                    signers.push(key.clone());
                }
            }
        }
        if signers.is_empty() {
            return Err(if any_named {
                OpenError::NoValidSignature
            } else {
                OpenError::NoNamedSigner
            });
        }
        if let Some(allow) = options.allow
            && !signers.iter().any(|k| allow.contains(k))
        {
            return Err(OpenError::NotAllowed);
        }
        let statement = Statement::parse(envelope.payload()).map_err(OpenError::Statement)?;
        let entry = Entry::from_statement(statement).map_err(OpenError::Predicate)?;
        Ok(SignedEntry {
            entry,
            signers,
            signatures: count,
        })
    }

    /// The entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The entry, taken out.
    pub fn into_entry(self) -> Entry {
        self.entry
    }

    /// The keys whose signatures verified, each once, in signature order.
    pub fn signers(&self) -> &[NoteVerifier] {
        &self.signers
    }

    /// Whether `key` verifiably signed the entry.
    pub fn signed_by(&self, key: &NoteVerifier) -> bool {
        self.signers.contains(key)
    }

    /// How many signatures the envelope carries (verified or not).
    pub fn signatures(&self) -> usize {
        self.signatures
    }
}

/// Parsed signer keys by their vkey text. Decompressing an Ed25519 key costs a third of a
/// verification, and rebuilders and publishers sign many entries each. Bounded: when full it is
/// emptied and refills with the keys in use (a flood of one-off keys only costs the parse it
/// would have cost anyway). Only keys that parse are kept.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, NoteVerifier>>,
}

impl KeyCache {
    const CAPACITY: usize = 4096;

    /// The key `vkey` names, parsed once.
    pub fn parse(&self, vkey: &str) -> Option<NoteVerifier> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = keys.get(vkey) {
            return Some(key.clone());
        }
        let key = NoteVerifier::parse(vkey).ok()?;
        if keys.len() >= Self::CAPACITY {
            keys.clear();
        }
        keys.insert(vkey.to_owned(), key.clone());
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSigner;
    use crate::predicates::{EntryKind, RevocationNotice, RevocationReason};

    fn key(name: &str, seed: u8) -> (NoteSigner, ed25519_dalek::SigningKey) {
        (
            NoteSigner::from_seed(name, &[seed; 32]).unwrap(),
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
        )
    }

    fn payload() -> Vec<u8> {
        let (k, _) = key("revoked.example", 9);
        Entry::new(EntryKind::Revocation(RevocationNotice {
            revoked_key: k.verifier().to_string(),
            reason: RevocationReason::Retired,
            effective_index: None,
            replacement: None,
            comment: None,
        }))
        .unwrap()
        .encode()
    }

    fn signed(signers: &[(&str, &ed25519_dalek::SigningKey)]) -> Vec<u8> {
        Envelope::sign(PAYLOAD_TYPE, &payload(), signers)
            .unwrap()
            .encode()
    }

    #[test]
    fn each_signature_is_checked_against_the_key_it_names_and_counts_once() {
        let (a, ad) = key("a.example", 1);
        let (b, bd) = key("b.example", 2);
        let (av, bv) = (a.verifier().to_string(), b.verifier().to_string());
        let e = SignedEntry::open(&signed(&[(&av, &ad), (&bv, &bd), (&av, &ad)])).unwrap();
        assert_eq!(e.signers(), [a.verifier(), b.verifier()]);
        assert_eq!(e.signatures(), 3);
        // b's signature relabelled as a's: it verifies under no key it names.
        let e = SignedEntry::open(&signed(&[(&av, &bd), (&bv, &bd)])).unwrap();
        assert_eq!(e.signers(), [b.verifier()]);
        assert!(matches!(
            SignedEntry::open(&signed(&[(&av, &bd)])),
            Err(OpenError::NoValidSignature)
        ));
    }

    #[test]
    fn every_refusal_in_its_order() {
        let (a, ad) = key("a.example", 1);
        let av = a.verifier().to_string();
        assert!(matches!(
            SignedEntry::open(b"{}"),
            Err(OpenError::Envelope(_))
        ));
        let other = Envelope::sign("text/plain", b"x", &[(&av, &ad)])
            .unwrap()
            .encode();
        assert!(matches!(
            SignedEntry::open(&other),
            Err(OpenError::PayloadType(_))
        ));
        let nine: Vec<(&str, &ed25519_dalek::SigningKey)> =
            (0..9).map(|_| (av.as_str(), &ad)).collect();
        assert!(matches!(
            SignedEntry::open(&signed(&nine)),
            Err(OpenError::TooManySignatures(9))
        ));
        assert!(matches!(
            SignedEntry::open(&signed(&[("not a key", &ad)])),
            Err(OpenError::NoNamedSigner)
        ));
        let (b, _) = key("b.example", 2);
        let allow = [b.verifier()];
        let only_b = Options {
            allow: Some(&allow),
            ..Options::default()
        };
        assert!(matches!(
            SignedEntry::open_with(&signed(&[(&av, &ad)]), only_b),
            Err(OpenError::NotAllowed)
        ));
        let not_json = Envelope::sign(PAYLOAD_TYPE, b"[]", &[(&av, &ad)])
            .unwrap()
            .encode();
        assert!(matches!(
            SignedEntry::open(&not_json),
            Err(OpenError::Statement(_))
        ));
    }

    #[test]
    fn fallback_keys_are_tried_only_for_signatures_without_a_vkey() {
        let (a, ad) = key("a.example", 1);
        let bytes = signed(&[("", &ad)]);
        assert!(matches!(
            SignedEntry::open(&bytes),
            Err(OpenError::NoNamedSigner)
        ));
        let fallback = [a.verifier()];
        let e = SignedEntry::open_with(
            &bytes,
            Options {
                fallback: &fallback,
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(e.signers(), [a.verifier()]);
    }

    #[test]
    fn the_key_cache_parses_once_and_stays_bounded() {
        let cache = KeyCache::default();
        let (a, ad) = key("a.example", 1);
        let av = a.verifier().to_string();
        let options = Options {
            cache: Some(&cache),
            ..Options::default()
        };
        for _ in 0..3 {
            SignedEntry::open_with(&signed(&[(&av, &ad)]), options).unwrap();
        }
        assert_eq!(cache.keys.lock().unwrap().len(), 1);
        assert!(cache.parse("garbage").is_none());
        assert_eq!(cache.keys.lock().unwrap().len(), 1);
    }
}
