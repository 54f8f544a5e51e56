//! Step 2: one log entry, verified (see the module docs of `policy`).

use super::*;

/// One log entry whose inclusion, checkpoint signature and DSSE signature have been verified.
///
/// Only [`verify_logged_entry`] creates one.
#[derive(Debug, Clone)]
pub struct LoggedEntry {
    pub(super) index: u64,
    pub(super) leaf_hash: Hash,
    pub(super) digest: Option<crate::predicates::Digests>,
    pub(super) signer: NoteVerifier,
    pub(super) entry: Entry,
    pub(super) checkpoint: VerifiedCheckpoint,
}

impl LoggedEntry {
    /// The replacement key this entry introduces for `key`, if it can: a revocation notice
    /// about `key`, signed by `key` itself or by one of the `recovery` keys, naming a valid
    /// replacement. Anyone else's notices name whatever keys they like; following them would
    /// let strangers steer (and exhaust) whoever follows replacements.
    pub fn replacement_for(
        &self,
        key: &NoteVerifier,
        recovery: &[NoteVerifier],
    ) -> Option<NoteVerifier> {
        let crate::predicates::EntryKind::Revocation(n) = self.entry.kind() else {
            return None;
        };
        let about = NoteVerifier::parse(&n.revoked_key).is_ok_and(|k| &k == key);
        let by = &self.signer == key || recovery.contains(&self.signer);
        if !(about && by) {
            return None;
        }
        NoteVerifier::parse(n.replacement.as_deref()?).ok()
    }

    /// The entry as the staged-release rule ([`crate::staging`]) reads it.
    pub fn fact(&self) -> crate::staging::Fact<'_> {
        crate::staging::Fact {
            index: self.index,
            signer: &self.signer,
            digest: self.digest.as_ref(),
            entry: &self.entry,
        }
    }

    /// The entry's index in the log.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// The entry's RFC 6962 leaf hash.
    pub fn leaf_hash(&self) -> &Hash {
        &self.leaf_hash
    }
    /// For a release manifest, the sha256 and blake3 of the logged bytes (what an
    /// attestation's `release.digest` names); computed for release manifests only, since no
    /// other entry is ever named by digest.
    pub fn digest(&self) -> Option<&crate::predicates::Digests> {
        self.digest.as_ref()
    }
    /// The Ed25519 key whose DSSE signature over the entry verified. It may or may not be a key
    /// the policy trusts: that is for [`verdict`] to decide.
    pub fn signer(&self) -> &NoteVerifier {
        &self.signer
    }
    /// The decoded entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
    /// The checkpoint the inclusion proof was verified against.
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }
}

/// Why a log entry could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("inclusion proof: {0}")]
    Proof(#[from] crate::proof::ProofFileError),
    #[error("entry is not a DSSE envelope: {0}")]
    Envelope(String),
    #[error("entry payload type is {0:?}, not an in-toto statement")]
    PayloadType(String),
    #[error("no signature on the entry verifies with the key it names or with any policy key")]
    NoValidSignature,
    #[error("the entry carries {0} signatures; at most {max} are accepted", max = crate::signed::MAX_SIGNATURES)]
    TooManySignatures(usize),
    #[error("entry payload is not an in-toto statement: {0}")]
    Statement(crate::statement::StatementError),
    #[error("entry is not a reprove entry: {0}")]
    Predicate(crate::predicates::PredicateError),
}

impl From<OpenError> for EntryError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Envelope(why) => EntryError::Envelope(why),
            OpenError::PayloadType(t) => EntryError::PayloadType(t),
            OpenError::TooManySignatures(n) => EntryError::TooManySignatures(n),
            OpenError::NoNamedSigner | OpenError::NotAllowed | OpenError::NoValidSignature => {
                EntryError::NoValidSignature
            }
            OpenError::Statement(e) => EntryError::Statement(e),
            OpenError::Predicate(e) => EntryError::Predicate(e),
        }
    }
}

/// Verifies one entry of the policy's log: inclusion proof and checkpoint (log key and witness
/// quorum from the policy), the DSSE signature, and the statement's shape.
///
/// The signer is taken from the signature's `keyid` when it is a vkey (reprove's convention: a
/// self-described key, verified here, trusted only if the policy says so in [`verdict`]), and
/// otherwise looked up among the policy's keys.
pub fn verify_logged_entry(
    policy: &Policy,
    entry: &[u8],
    proof: &TlogProof,
) -> Result<LoggedEntry, EntryError> {
    let inclusion = proof.verify(entry, &policy.log.key, &policy.witnesses)?;
    logged_entry(policy, entry, inclusion)
}

/// A checkpoint verified under a policy's log key and witness quorum. Only
/// [`Policy::verify_checkpoint`] creates one.
#[derive(Debug, Clone)]
pub struct PolicyCheckpoint {
    checkpoint: VerifiedCheckpoint,
}

impl PolicyCheckpoint {
    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }
}

impl Policy {
    /// Verifies a signed checkpoint note as this policy requires: the log key's signature, the
    /// origin, and the witness quorum.
    pub fn verify_checkpoint(
        &self,
        signed_note: &[u8],
    ) -> Result<PolicyCheckpoint, crate::checkpoint::CheckpointError> {
        let checkpoint =
            crate::checkpoint::verify_checkpoint(signed_note, &self.log.key, &self.witnesses)?;
        Ok(PolicyCheckpoint { checkpoint })
    }
}

/// [`verify_logged_entry`] for many entries proven under one checkpoint: when `proof`'s
/// checkpoint is `checkpoint` byte for byte, its signatures are not checked again (they were,
/// under this policy, when `checkpoint` was made); otherwise the proof is verified in full.
/// The result is the same either way.
pub fn verify_logged_entry_at(
    policy: &Policy,
    entry: &[u8],
    proof: &TlogProof,
    checkpoint: &PolicyCheckpoint,
) -> Result<LoggedEntry, EntryError> {
    let inclusion = if proof.checkpoint() == checkpoint.checkpoint.signed_note() {
        proof.verify_under(entry, &checkpoint.checkpoint)?
    } else {
        proof.verify(entry, &policy.log.key, &policy.witnesses)?
    };
    logged_entry(policy, entry, inclusion)
}

/// The signature and statement checks of [`verify_logged_entry`], after the inclusion: the
/// entry is opened ([`SignedEntry::open_with`]) with the policy's keys as the fallback for
/// signatures that name no vkey.
fn logged_entry(
    policy: &Policy,
    entry: &[u8],
    inclusion: crate::proof::VerifiedInclusion,
) -> Result<LoggedEntry, EntryError> {
    let policy_keys: Vec<NoteVerifier> = policy
        .operators
        .iter()
        .flat_map(|o| o.keys.iter().chain(o.recovery_key.iter()))
        .chain(policy.publishers.iter().flat_map(|p| p.keys.iter()))
        .cloned()
        .collect();
    let opened = SignedEntry::open_with(
        entry,
        Options {
            fallback: &policy_keys,
            ..Options::default()
        },
    )?;
    // Several keys may have signed. The signer reported is one the policy knows when there is
    // one, so a stranger's co-signature cannot hide a trusted key's.
    let signer = opened
        .signers()
        .iter()
        .find(|k| policy_keys.contains(k))
        .or(opened.signers().first())
        .cloned()
        .ok_or(EntryError::NoValidSignature)?;
    let entry_value = opened.into_entry();
    Ok(LoggedEntry {
        index: inclusion.index(),
        leaf_hash: crate::merkle::leaf_hash(entry),
        digest: matches!(entry_value.kind(), EntryKind::Release(_)).then(|| {
            crate::predicates::Digests {
                sha256: <sha2::Sha256 as sha2::Digest>::digest(entry).into(),
                blake3: Some(*blake3::hash(entry).as_bytes()),
            }
        }),
        signer,
        entry: entry_value,
        checkpoint: inclusion.checkpoint().clone(),
    })
}
