//! Valid reprove entries in DSSE envelopes, signed the way reprove signs them: the shared
//! builders of `reprove-testkit`, and the variants only the ledger's tests need.

pub use reprove_testkit::{
    Key, digest, publisher, rebuild, rebuilder, release, revocation, sign_twice, stranger,
};
use reprove_testkit::{artifacts, entry, rebuild_attestation, release_ref, revocation_notice};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::{Digests, Entry, EntryKind, RebuildResult, RevocationReason};

/// A `build-failed` rebuild attestation whose build log is the blob `blob`.
pub fn rebuild_with_log(blob: [u8; 32]) -> Entry {
    let release = release_ref("blobbed", "1.0", 0, digest(0));
    let mut att = rebuild_attestation(release, artifacts("blobbed", &[digest(1)]));
    att.predicate.result = RebuildResult::BuildFailed;
    att.predicate.rebuilt = Vec::new();
    att.predicate.build_log = Some(Digests::sha256(blob));
    entry(EntryKind::Rebuild(att))
}

/// A notice revoking `key` for `reason`, effective from the notice.
pub fn revocation_with(key: &NoteVerifier, reason: RevocationReason) -> Entry {
    entry(EntryKind::Revocation(revocation_notice(key, reason)))
}

/// A notice retiring `key` from index `effective`.
pub fn revocation_effective(key: &NoteVerifier, effective: u64) -> Entry {
    let mut notice = revocation_notice(key, RevocationReason::Retired);
    notice.effective_index = Some(effective);
    entry(EntryKind::Revocation(notice))
}
