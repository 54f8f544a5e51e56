//! Test support shared by reprove's crates (a dev-dependency only): signing keys the way
//! reprove signs, and valid entries of every kind with plain defaults that a test changes
//! where it matters — the builders written once instead of in every crate's tests.
//!
//! The root crate's consumer tests also write statements as JSON text on purpose (an encoding
//! independent of the verifier's types); they do not use these builders.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use reprove_verifier::dsse::Envelope;
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::predicates::{
    Artifact, Builder, Comparison, Digests, Entry, EntryKind, Environment, RebuildAttestation,
    RebuildPredicate, RebuildResult, Recipe, ReleaseManifest, ReleasePredicate, ReleaseRef,
    RevocationNotice, RevocationReason, Sandbox, SandboxKind, Source,
};
use reprove_verifier::statement::PAYLOAD_TYPE;
use sha2::{Digest as _, Sha256};

/// A signing key: its seed and the note signer made from it.
#[derive(Debug)]
pub struct Key {
    seed: [u8; 32],
    pub note: NoteSigner,
}

impl Key {
    /// The key named `name` whose seed is 32 times `seed`.
    pub fn new(name: &str, seed: u8) -> Key {
        let seed = [seed; 32];
        Key {
            seed,
            note: NoteSigner::from_seed(name, &seed).expect("a valid key name"),
        }
    }

    /// The vkey: what reprove puts in `keyid`.
    pub fn vkey(&self) -> String {
        self.note.verifier().to_string()
    }

    pub fn verifier(&self) -> NoteVerifier {
        self.note.verifier()
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.seed)
    }

    /// The envelope bytes of `payload` as `payload_type`, signed with `keyid` as the hint.
    pub fn sign_as(&self, keyid: &str, payload_type: &str, payload: &[u8]) -> Vec<u8> {
        Envelope::sign(payload_type, payload, &[(keyid, &self.signing_key())])
            .expect("signing")
            .encode()
    }

    /// The envelope bytes of `entry`, signed as reprove signs.
    pub fn sign(&self, entry: &Entry) -> Vec<u8> {
        self.sign_as(&self.vkey(), PAYLOAD_TYPE, &entry.encode())
    }
}

/// Both keys sign `entry`, in this order.
pub fn sign_twice(a: &Key, b: &Key, entry: &Entry) -> Vec<u8> {
    let (va, vb) = (a.vkey(), b.vkey());
    let (ka, kb) = (a.signing_key(), b.signing_key());
    Envelope::sign(
        PAYLOAD_TYPE,
        &entry.encode(),
        &[(va.as_str(), &ka), (vb.as_str(), &kb)],
    )
    .expect("signing")
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

/// The SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// One artifact per digest, named `<prefix>-<i>.tar.gz`.
pub fn artifacts(prefix: &str, digests: &[[u8; 32]]) -> Vec<Artifact> {
    digests
        .iter()
        .enumerate()
        .map(|(i, d)| Artifact {
            name: format!("{prefix}-{i}.tar.gz"),
            digest: Digests::sha256(*d),
        })
        .collect()
}

/// A release manifest of `project` `version` publishing `subjects`: built by `make dist` on
/// the host from a git commit, each artifact the output `dist/<name>`, no download URLs.
pub fn release_manifest(project: &str, version: &str, subjects: Vec<Artifact>) -> ReleaseManifest {
    let outputs = subjects
        .iter()
        .map(|a| (format!("dist/{}", a.name), a.name.clone()))
        .collect();
    ReleaseManifest {
        subjects,
        predicate: ReleasePredicate {
            third_party_import: None,
            project: project.into(),
            version: version.into(),
            artifacts: BTreeMap::new(),
            source: Source::Git {
                uri: format!("https://example.com/{project}.git"),
                commit: "a".repeat(40),
            },
            recipe: Recipe {
                inputs: Vec::new(),
                build_deps: Vec::new(),
                unpinned_outputs: Default::default(),
                build_user: Default::default(),
                command: vec!["make".into(), "dist".into()],
                environment: Environment::Host {},
                source_date_epoch: Some(1_700_000_000),
                env: BTreeMap::new(),
                outputs,
            },
        },
    }
}

/// What a rebuild attestation names its release by: the release `project` `version` logged
/// at `log_index` as the entry bytes whose SHA-256 is `entry_sha256`.
pub fn release_ref(
    project: &str,
    version: &str,
    log_index: u64,
    entry_sha256: [u8; 32],
) -> ReleaseRef {
    ReleaseRef {
        log_index,
        name: project.into(),
        version: version.into(),
        digest: Digests::sha256(entry_sha256),
    }
}

/// A `reproduced`, bit-identical rebuild of `release` whose artifacts are `subjects`, every
/// one rebuilt; in bubblewrap, on 2026-01-01, with no logs.
pub fn rebuild_attestation(release: ReleaseRef, subjects: Vec<Artifact>) -> RebuildAttestation {
    RebuildAttestation {
        subjects: subjects.clone(),
        predicate: RebuildPredicate {
            release,
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
    }
}

/// A notice revoking `key` for `reason`, effective from the notice itself.
pub fn revocation_notice(key: &NoteVerifier, reason: RevocationReason) -> RevocationNotice {
    RevocationNotice {
        revoked_key: key.to_string(),
        reason,
        effective_index: None,
        replacement: None,
        comment: None,
    }
}

/// `kind` as an entry; panics if it is not valid (a test's builder is wrong).
pub fn entry(kind: EntryKind) -> Entry {
    Entry::new(kind).expect("a valid entry")
}

/// A release manifest of `project` `version` publishing one artifact per digest.
pub fn release(project: &str, version: &str, digests: &[[u8; 32]]) -> Entry {
    entry(EntryKind::Release(release_manifest(
        project,
        version,
        artifacts(project, digests),
    )))
}

/// A `reproduced` rebuild of the release `project` `version` at `log_index` (whose entry
/// digest stands in as `digest(log_index)`).
pub fn rebuild(project: &str, version: &str, log_index: u64, digests: &[[u8; 32]]) -> Entry {
    let release = release_ref(project, version, log_index, digest(log_index));
    entry(EntryKind::Rebuild(rebuild_attestation(
        release,
        artifacts(project, digests),
    )))
}

/// A notice retiring `key`.
pub fn revocation(key: &NoteVerifier) -> Entry {
    entry(EntryKind::Revocation(revocation_notice(
        key,
        RevocationReason::Retired,
    )))
}
