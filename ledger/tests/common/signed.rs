//! Valid reprove entries in DSSE envelopes, signed the way reprove signs them: Ed25519 keys
//! from `NoteSigner::from_seed`, each signature's `keyid` the signer's vkey.

use std::collections::BTreeMap;

use reprove_verifier::dsse::Envelope;
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::predicates::{
    Artifact, Builder, Comparison, Digests, Entry, EntryKind, Environment, RebuildAttestation,
    RebuildPredicate, RebuildResult, Recipe, ReleaseManifest, ReleasePredicate, ReleaseRef,
    RevocationNotice, RevocationReason, Sandbox, SandboxKind, Source,
};
use reprove_verifier::statement::PAYLOAD_TYPE;

/// A signing key: its seed and the note signer made from it.
pub struct Key {
    seed: [u8; 32],
    pub note: NoteSigner,
}

impl Key {
    pub fn new(name: &str, seed: u8) -> Key {
        let seed = [seed; 32];
        Key {
            seed,
            note: NoteSigner::from_seed(name, &seed).unwrap(),
        }
    }

    /// The vkey: what reprove puts in `keyid`.
    pub fn vkey(&self) -> String {
        self.note.verifier().to_string()
    }

    pub fn verifier(&self) -> NoteVerifier {
        self.note.verifier()
    }

    /// The envelope bytes of `payload` as `payload_type`, signed with `keyid` as the hint.
    pub fn sign_as(&self, keyid: &str, payload_type: &str, payload: &[u8]) -> Vec<u8> {
        // The ledger has no direct Ed25519 dependency: the signing key type is inferred from
        // `Envelope::sign`'s signature.
        let key = TryFrom::try_from(&self.seed[..]).unwrap();
        Envelope::sign(payload_type, payload, &[(keyid, &key)])
            .unwrap()
            .encode()
    }

    /// The envelope bytes of `entry`, signed as reprove does.
    pub fn sign(&self, entry: &Entry) -> Vec<u8> {
        self.sign_as(&self.vkey(), PAYLOAD_TYPE, &entry.encode())
    }
}

/// Both keys sign `entry`, in this order.
pub fn sign_twice(a: &Key, b: &Key, entry: &Entry) -> Vec<u8> {
    let ka = TryFrom::try_from(&a.seed[..]).unwrap();
    let kb = TryFrom::try_from(&b.seed[..]).unwrap();
    let (va, vb) = (a.vkey(), b.vkey());
    Envelope::sign(
        PAYLOAD_TYPE,
        &entry.encode(),
        &[(va.as_str(), &ka), (vb.as_str(), &kb)],
    )
    .unwrap()
    .encode()
}

pub fn publisher() -> Key {
    Key::new("example.com/publisher", 1)
}

pub fn rebuilder() -> Key {
    Key::new("rebuilder.example.org", 2)
}

pub fn stranger() -> Key {
    Key::new("stranger.example.net", 3)
}

/// A digest named by a number.
pub fn digest(n: u64) -> [u8; 32] {
    let mut d = [0xd1; 32];
    d[..8].copy_from_slice(&n.to_be_bytes());
    d
}

fn artifacts(project: &str, digests: &[[u8; 32]]) -> Vec<Artifact> {
    digests
        .iter()
        .enumerate()
        .map(|(i, d)| Artifact {
            name: format!("{project}-{i}.tar.gz"),
            digest: Digests::sha256(*d),
        })
        .collect()
}

/// A release manifest of `project` `version` publishing one artifact per digest.
pub fn release(project: &str, version: &str, digests: &[[u8; 32]]) -> Entry {
    let subjects = artifacts(project, digests);
    let outputs = subjects
        .iter()
        .map(|a| (format!("dist/{}", a.name), a.name.clone()))
        .collect();
    Entry::new(EntryKind::Release(ReleaseManifest {
        subjects,
        predicate: ReleasePredicate {
            project: project.into(),
            version: version.into(),
            artifacts: BTreeMap::new(),
            source: Source::Git {
                uri: format!("https://example.com/{project}.git"),
                commit: "a".repeat(40),
            },
            recipe: Recipe {
                command: vec!["make".into(), "dist".into()],
                environment: Environment::Host {},
                source_date_epoch: 1_700_000_000,
                env: BTreeMap::new(),
                outputs,
            },
        },
    }))
    .unwrap()
}

/// A `build-failed` rebuild attestation whose build log is the blob `blob`.
pub fn rebuild_with_log(blob: [u8; 32]) -> Entry {
    let mut entry = rebuild("blobbed", "1.0", 0, &[digest(1)]);
    if let EntryKind::Rebuild(r) = entry.kind() {
        let mut r = r.clone();
        r.predicate.result = RebuildResult::BuildFailed;
        r.predicate.rebuilt = Vec::new();
        r.predicate.build_log = Some(Digests::sha256(blob));
        entry = Entry::new(EntryKind::Rebuild(r)).unwrap();
    }
    entry
}

/// A `reproduced` rebuild attestation of the release `project` `version` at `log_index`.
pub fn rebuild(project: &str, version: &str, log_index: u64, digests: &[[u8; 32]]) -> Entry {
    let subjects = artifacts(project, digests);
    Entry::new(EntryKind::Rebuild(RebuildAttestation {
        subjects: subjects.clone(),
        predicate: RebuildPredicate {
            release: ReleaseRef {
                log_index,
                name: project.into(),
                version: version.into(),
                digest: Digests::sha256(digest(log_index)),
            },
            result: RebuildResult::Reproduced,
            comparison: Comparison::BitIdentical,
            rebuilt: subjects,
            build_log: None,
            diff_report: None,
            sandbox: Sandbox {
                kind: SandboxKind::Bubblewrap,
                details: None,
            },
            builder: Builder {
                id: "https://rebuilder.example.org".into(),
                version: "0.1.0".into(),
            },
            started_on: "2026-01-01T00:00:00Z".into(),
            finished_on: "2026-01-01T00:01:00Z".into(),
            invocation_id: None,
            detail: None,
            variations: Vec::new(),
        },
    }))
    .unwrap()
}

/// A notice revoking `key` for `reason`, effective from the notice.
pub fn revocation_with(key: &NoteVerifier, reason: RevocationReason) -> Entry {
    Entry::new(EntryKind::Revocation(RevocationNotice {
        revoked_key: key.to_string(),
        reason,
        effective_index: None,
        replacement: None,
        comment: None,
    }))
    .unwrap()
}

/// A notice retiring `key` from index `effective`.
pub fn revocation_effective(key: &NoteVerifier, effective: u64) -> Entry {
    Entry::new(EntryKind::Revocation(RevocationNotice {
        revoked_key: key.to_string(),
        reason: RevocationReason::Retired,
        effective_index: Some(effective),
        replacement: None,
        comment: None,
    }))
    .unwrap()
}

/// A notice retiring `key`.
pub fn revocation(key: &NoteVerifier) -> Entry {
    Entry::new(EntryKind::Revocation(RevocationNotice {
        revoked_key: key.to_string(),
        reason: RevocationReason::Retired,
        effective_index: None,
        replacement: None,
        comment: None,
    }))
    .unwrap()
}
