//! The policy and the verdict, end to end in the pure core: entries are signed DSSE envelopes
//! appended to an in-memory RFC 6962 log, proven with tlog-proofs against signed checkpoints,
//! verified with `verify_logged_entry`, then judged by `verdict`.

use std::collections::BTreeMap;
use std::convert::Infallible;

use ed25519_dalek::SigningKey;
use reprove_verifier::checkpoint::{self, Checkpoint};
use reprove_verifier::dsse::Envelope;
use reprove_verifier::merkle::{self, Hash, HashReader, NodeId};
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::policy::{
    EntryError, LoggedEntry, OnMismatch, Policy, PolicyError, Reason, verdict, verify_logged_entry,
};
use reprove_verifier::predicates::{
    Artifact, Builder, Comparison, Digests, Entry, EntryKind, Environment, RebuildAttestation,
    RebuildPredicate, RebuildResult, Recipe, ReleaseManifest, ReleasePredicate, ReleaseRef,
    RevocationNotice, RevocationReason, Sandbox, SandboxKind, Source,
};
use reprove_verifier::proof::TlogProof;
use reprove_verifier::statement::PAYLOAD_TYPE;

const ORIGIN: &str = "log.example.org/reprove";
const ARTIFACT: [u8; 32] = [0xaa; 32];
const OTHER: [u8; 32] = [0xbb; 32];

/// A key usable both as a note signer (for its vkey) and as a DSSE signer.
struct Key {
    note: NoteSigner,
    dsse: SigningKey,
}

impl Key {
    fn new(name: &str, seed: u8) -> Key {
        let seed = [seed; 32];
        Key {
            note: NoteSigner::from_seed(name, &seed).unwrap(),
            dsse: SigningKey::from_bytes(&seed),
        }
    }
    fn vkey(&self) -> String {
        self.note.verifier().to_string()
    }
    fn sign(&self, entry: &Entry) -> Vec<u8> {
        let vkey = self.vkey();
        Envelope::sign(
            PAYLOAD_TYPE,
            &entry.encode(),
            &[(vkey.as_str(), &self.dsse)],
        )
        .unwrap()
        .encode()
    }
}

/// An in-memory log: entries, their leaf hashes, and a log key.
struct Log {
    key: NoteSigner,
    entries: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
}

impl HashReader for Log {
    type Error = Infallible;
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Infallible> {
        Ok(ids.iter().map(|id| self.node(id.level, id.index)).collect())
    }
}

impl Log {
    fn new() -> Log {
        Log {
            key: NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap(),
            entries: vec![],
            leaves: vec![],
        }
    }
    fn node(&self, level: u8, index: u64) -> Hash {
        if level == 0 {
            return self.leaves[index as usize];
        }
        merkle::node_hash(
            &self.node(level - 1, 2 * index),
            &self.node(level - 1, 2 * index + 1),
        )
    }
    fn append(&mut self, entry: Vec<u8>) -> u64 {
        self.leaves.push(merkle::leaf_hash(&entry));
        self.entries.push(entry);
        self.entries.len() as u64 - 1
    }
    fn size(&self) -> u64 {
        self.entries.len() as u64
    }
    fn signed_checkpoint(&self) -> Vec<u8> {
        let root = merkle::root_from_reader(self, self.size()).unwrap();
        checkpoint::sign(
            &Checkpoint::new(ORIGIN, self.size(), root).unwrap(),
            &self.key,
        )
        .unwrap()
    }
    fn proof(&self, index: u64) -> TlogProof {
        let hashes = merkle::inclusion_proof(self, index, self.size()).unwrap();
        TlogProof::new(None, index, hashes, self.signed_checkpoint()).unwrap()
    }
    /// Every entry, verified under `policy`, and the release they attest
    /// ([`release_logged`]).
    fn verified(&self, policy: &Policy) -> Vec<LoggedEntry> {
        let mut v: Vec<LoggedEntry> = (0..self.size())
            .map(|i| {
                verify_logged_entry(policy, &self.entries[i as usize], &self.proof(i)).unwrap()
            })
            .collect();
        v.push(release_logged(policy));
        v
    }
}

/// Where the release every attestation of these tests names is logged: past any index the
/// tests use, so their entries keep their indices.
const RELEASE_INDEX: u64 = 64;

/// The publisher of that release.
fn publisher() -> Key {
    Key::new("publisher.example", 50)
}

/// hello@1.0, listing ARTIFACT and OTHER, signed by [`publisher`]: the logged bytes.
fn release_entry() -> Vec<u8> {
    let subject = |name: &str, d| Artifact {
        name: name.into(),
        digest: Digests::sha256(d),
    };
    let manifest = ReleaseManifest {
        subjects: vec![
            subject("hello-1.0.tar.gz", ARTIFACT),
            subject("other.bin", OTHER),
        ],
        predicate: ReleasePredicate {
            third_party_import: None,
            project: "hello".into(),
            version: "1.0".into(),
            artifacts: BTreeMap::new(),
            source: Source::Archive {
                uri: "https://example.org/hello-1.0-src.tar.gz".into(),
                digest: Digests::sha256([0x55; 32]),
            },
            recipe: Recipe {
                unpinned_outputs: Default::default(),
                inputs: Vec::new(),
                build_deps: Vec::new(),
                build_user: Default::default(),
                command: vec!["make".into()],
                environment: Environment::Host {},
                source_date_epoch: Some(1_700_000_000),
                env: BTreeMap::new(),
                outputs: BTreeMap::from([
                    ("out/a".to_owned(), "hello-1.0.tar.gz".to_owned()),
                    ("out/b".to_owned(), "other.bin".to_owned()),
                ]),
            },
        },
    };
    publisher().sign(&Entry::new(EntryKind::Release(manifest)).unwrap())
}

/// The digests of [`release_entry`], as an attestation names them.
fn release_digest() -> Digests {
    use sha2::Digest as _;
    let bytes = release_entry();
    Digests {
        sha256: sha2::Sha256::digest(&bytes).into(),
        blake3: Some(*blake3::hash(&bytes).as_bytes()),
    }
}

/// [`release_entry`] at [`RELEASE_INDEX`] of a log of filler entries, verified.
fn release_logged(policy: &Policy) -> LoggedEntry {
    let mut side = Log::new();
    for i in 0..RELEASE_INDEX {
        side.append(vec![i as u8]);
    }
    let at = side.append(release_entry());
    side.append(b"after".to_vec());
    verify_logged_entry(policy, &side.entries[at as usize], &side.proof(at)).unwrap()
}

fn attestation(result: RebuildResult, subject: [u8; 32]) -> Entry {
    attestation_of(result, subject, release_ref(), SandboxKind::Bubblewrap)
}

/// The reference to [`release_entry`] an honest attestation gives.
fn release_ref() -> ReleaseRef {
    ReleaseRef {
        log_index: RELEASE_INDEX,
        name: "hello".into(),
        version: "1.0".into(),
        digest: release_digest(),
    }
}

fn attestation_of(
    result: RebuildResult,
    subject: [u8; 32],
    release: ReleaseRef,
    sandbox: SandboxKind,
) -> Entry {
    let subjects = vec![Artifact {
        name: "hello-1.0.tar.gz".into(),
        digest: Digests::sha256(subject),
    }];
    let (rebuilt, diff_report) = match result {
        RebuildResult::Reproduced => (subjects.clone(), None),
        RebuildResult::Mismatch => (
            vec![Artifact {
                name: "hello-1.0.tar.gz".into(),
                digest: Digests::sha256([0xcc; 32]),
            }],
            Some(Digests::sha256([0xdd; 32])),
        ),
        _ => (vec![], None),
    };
    Entry::new(EntryKind::Rebuild(RebuildAttestation {
        subjects,
        predicate: RebuildPredicate {
            release,
            result,
            comparison: Comparison::BitIdentical,
            rebuilt,
            build_log: None,
            diff_report,
            sandbox: Sandbox {
                kind: sandbox,
                details: None,
            },
            builder: Builder {
                id: "https://rebuilder.example/node".into(),
                version: "0.1.0".into(),
            },
            started_on: "2026-11-21T10:00:00Z".into(),
            finished_on: "2026-11-21T10:01:00Z".into(),
            invocation_id: None,
            detail: None,
            variations: vec![],
        },
    }))
    .unwrap()
}

fn revocation(
    revoked: &Key,
    reason: RevocationReason,
    effective: Option<u64>,
    replacement: Option<&Key>,
) -> Entry {
    Entry::new(EntryKind::Revocation(RevocationNotice {
        revoked_key: revoked.vkey(),
        reason,
        effective_index: effective,
        replacement: replacement.map(Key::vkey),
        comment: None,
    }))
    .unwrap()
}

/// Operators: alice (keys a1, a2; recovery ar; rotation allowed), bob (b1), carol (c1).
struct World {
    a1: Key,
    a2: Key,
    ar: Key,
    b1: Key,
    c1: Key,
    stranger: Key,
    log: Log,
}

fn world() -> World {
    World {
        a1: Key::new("alice-1", 10),
        a2: Key::new("alice-2", 11),
        ar: Key::new("alice-recovery", 12),
        b1: Key::new("bob-1", 20),
        c1: Key::new("carol-1", 30),
        stranger: Key::new("mallory", 99),
        log: Log::new(),
    }
}

fn policy_text(w: &World, threshold: usize, on_mismatch: &str) -> String {
    format!(
        r#"
threshold = {threshold}
on_mismatch = "{on_mismatch}"

[log]
origin = "{ORIGIN}"
key = "{log}"
url = "http://127.0.0.1:8080"

[[operator]]
name = "alice"
keys = ["{a1}", "{a2}"]
recovery_key = "{ar}"
allow_rotation = true

[[operator]]
name = "bob"
keys = ["{b1}"]

[[operator]]
name = "carol"
keys = ["{c1}"]
"#,
        log = w.log.key.verifier(),
        a1 = w.a1.vkey(),
        a2 = w.a2.vkey(),
        ar = w.ar.vkey(),
        b1 = w.b1.vkey(),
        c1 = w.c1.vkey(),
    )
}

fn policy(w: &World, threshold: usize) -> Policy {
    Policy::parse(policy_text(w, threshold, "fail").as_bytes()).unwrap()
}

fn judge(w: &World, p: &Policy) -> reprove_verifier::policy::Verdict {
    verdict(p, &ARTIFACT, &w.log.verified(p))
}

fn reasons(v: &reprove_verifier::policy::Verdict) -> BTreeMap<u64, Reason> {
    v.not_counted
        .iter()
        .map(|n| (n.index, n.reason.clone()))
        .collect()
}

#[test]
fn two_distinct_operators_meet_a_threshold_of_two() {
    let mut w = world();
    w.log
        .append(w.a1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let v = judge(&w, &policy(&w, 2));
    assert!(v.trusted, "{}", v.summary);
    assert_eq!(v.operators, ["alice", "bob"]);
    assert!(v.summary.to_string().contains("2 of 2"), "{}", v.summary);
}

#[test]
fn two_keys_of_one_operator_count_once() {
    let mut w = world();
    w.log
        .append(w.a1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log
        .append(w.a2.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let v = judge(&w, &policy(&w, 2));
    assert!(!v.trusted);
    assert_eq!(v.operators, ["alice"]);
    assert_eq!(
        reasons(&v)[&1],
        Reason::OperatorAlreadyCounted {
            operator: "alice".into()
        }
    );
    assert!(
        v.summary
            .to_string()
            .contains("reproduced by 1 distinct operator(s), the policy requires 2")
    );
}

#[test]
fn untrusted_keys_are_listed_and_ignored() {
    let mut w = world();
    w.log.append(
        w.stranger
            .sign(&attestation(RebuildResult::Reproduced, ARTIFACT)),
    );
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let v = judge(&w, &policy(&w, 1));
    assert!(v.trusted);
    assert_eq!(reasons(&v)[&0], Reason::UntrustedKey);
    assert_eq!(v.not_counted[0].key, w.stranger.vkey());
    let v = judge(&w, &policy(&w, 2));
    assert!(!v.trusted, "a stranger must not make up the threshold");
}

#[test]
fn an_attestation_for_another_digest_does_not_count() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, OTHER)));
    let v = judge(&w, &policy(&w, 1));
    assert!(!v.trusted);
    assert_eq!(reasons(&v)[&0], Reason::DifferentArtifact);
}

#[test]
fn failed_and_unavailable_builds_do_not_count() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::BuildFailed, ARTIFACT)));
    w.log
        .append(w.c1.sign(&attestation(RebuildResult::InputsUnavailable, ARTIFACT)));
    let v = judge(&w, &policy(&w, 1));
    assert!(!v.trusted);
    assert_eq!(
        reasons(&v)[&0],
        Reason::NotReproduced {
            result: RebuildResult::BuildFailed
        }
    );
    assert_eq!(
        reasons(&v)[&1],
        Reason::NotReproduced {
            result: RebuildResult::InputsUnavailable
        }
    );
    assert!(v.mismatches.is_empty(), "a failed build is not a mismatch");
}

#[test]
fn a_trusted_mismatch_fails_by_default_and_warns_when_asked() {
    let mut w = world();
    w.log
        .append(w.a1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log
        .append(w.c1.sign(&attestation(RebuildResult::Mismatch, ARTIFACT)));
    let v = judge(&w, &policy(&w, 2));
    assert!(!v.trusted, "fail mode: one trusted mismatch vetoes");
    assert_eq!(v.mismatches.len(), 1);
    assert_eq!(v.mismatches[0].operator, "carol");
    assert_eq!(
        v.mismatches[0].rebuilt_sha256.as_deref(),
        Some(hex::encode([0xcc; 32]).as_str())
    );
    assert_eq!(
        v.mismatches[0].diff_report.as_deref(),
        Some(hex::encode([0xdd; 32]).as_str())
    );
    assert!(
        v.summary
            .to_string()
            .contains("mismatch reported by trusted operator(s) carol"),
        "{}",
        v.summary
    );

    let warn = Policy::parse(policy_text(&w, 2, "warn").as_bytes()).unwrap();
    assert_eq!(warn.on_mismatch, OnMismatch::Warn);
    let v = judge(&w, &warn);
    assert!(v.trusted, "warn mode: the threshold decides");
    assert_eq!(v.warnings.len(), 1);
    assert!(v.warnings[0].to_string().contains("carol"));
}

#[test]
fn an_untrusted_mismatch_changes_nothing() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log.append(
        w.stranger
            .sign(&attestation(RebuildResult::Mismatch, ARTIFACT)),
    );
    let v = judge(&w, &policy(&w, 1));
    assert!(v.trusted);
    assert!(v.mismatches.is_empty());
}

#[test]
fn a_compromised_key_counts_before_the_notice_and_not_after() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT))); // 0: before
    w.log.append(w.b1.sign(&revocation(
        &w.b1,
        RevocationReason::Compromised,
        None,
        None,
    ))); // 1
    let p = policy(&w, 1);
    let v = judge(&w, &p);
    assert!(
        v.trusted,
        "an attestation logged before the notice stays valid: {}",
        v.summary
    );
    assert_eq!(v.revocations.len(), 1);
    assert_eq!(
        v.revocations[0].effective_index, 1,
        "compromised defaults to the notice's index"
    );

    let mut w = world();
    w.log.append(w.b1.sign(&revocation(
        &w.b1,
        RevocationReason::Compromised,
        None,
        None,
    ))); // 0
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT))); // 1: after
    let v = judge(&w, &policy(&w, 1));
    assert!(!v.trusted);
    assert_eq!(
        reasons(&v)[&1],
        Reason::KeyRevoked {
            notice_index: 0,
            effective_index: 0,
            reason: RevocationReason::Compromised
        }
    );
}

#[test]
fn an_explicit_effective_index_reaches_back_but_a_compromise_is_never_scheduled_late() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT))); // 0
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT))); // 1
    w.log.append(w.b1.sign(&revocation(
        &w.b1,
        RevocationReason::Compromised,
        Some(1),
        None,
    ))); // 2
    let v = judge(&w, &policy(&w, 1));
    assert!(v.trusted, "index 0 predates the effective index");
    assert!(matches!(
        reasons(&v)[&1],
        Reason::KeyRevoked {
            effective_index: 1,
            ..
        }
    ));

    // A notice at index 1 that claims the compromise starts at 100 takes effect at 1.
    let mut w = world();
    w.log
        .append(w.c1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT))); // 0
    w.log.append(w.b1.sign(&revocation(
        &w.b1,
        RevocationReason::Compromised,
        Some(100),
        None,
    ))); // 1
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT))); // 2
    let v = judge(&w, &policy(&w, 2));
    assert_eq!(v.revocations[0].effective_index, 1);
    assert!(!v.trusted);
}

/// Who may revoke a key: the key itself or its own operator's recovery key. Each case is
/// (signer of a `compromised` notice effective from 0, the key it revokes, whether the notice
/// applies); the revoked key then attests, under a policy of threshold 1.
#[test]
fn only_the_key_or_its_operators_recovery_key_can_revoke_it() {
    type Pick = fn(&World) -> &Key;
    let cases: [(&str, Pick, Pick, bool); 4] = [
        ("a stranger", |w| &w.stranger, |w| &w.b1, false),
        (
            "another operator's recovery key",
            |w| &w.ar,
            |w| &w.b1,
            false,
        ),
        ("the operator's recovery key", |w| &w.ar, |w| &w.a1, true),
        ("the key itself", |w| &w.b1, |w| &w.b1, true),
    ];
    for (who, signer, revoked, applies) in cases {
        let mut w = world();
        let notice = revocation(revoked(&w), RevocationReason::Compromised, Some(0), None);
        let attestation = attestation(RebuildResult::Reproduced, ARTIFACT);
        let (notice, attestation) = (signer(&w).sign(&notice), revoked(&w).sign(&attestation));
        w.log.append(notice);
        w.log.append(attestation);
        let v = judge(&w, &policy(&w, 1));
        assert_eq!(v.trusted, !applies, "{who}: {}", v.summary);
        assert_eq!(v.revocations.len(), usize::from(applies), "{who}");
        assert_eq!(v.ignored_revocations.len(), usize::from(!applies), "{who}");
        if applies {
            assert!(
                matches!(reasons(&v)[&1], Reason::KeyRevoked { .. }),
                "{who}"
            );
        } else {
            assert!(
                v.ignored_revocations[0]
                    .why
                    .to_string()
                    .contains("neither the revoked key nor its operator's recovery key"),
                "{who}"
            );
        }
    }
    // The operator is named with the revocation its recovery key signed.
    let mut w = world();
    let notice = revocation(&w.a1, RevocationReason::Compromised, Some(0), None);
    let notice = w.ar.sign(&notice);
    w.log.append(notice);
    let v = judge(&w, &policy(&w, 1));
    assert_eq!(v.revocations[0].operator, "alice");
}

#[test]
fn rotation_accepts_the_replacement_only_after_the_notice_and_only_when_allowed() {
    let mut w = world();
    let a3 = Key::new("alice-3", 13);
    w.log
        .append(a3.sign(&attestation(RebuildResult::Reproduced, ARTIFACT))); // 0: too early
    w.log.append(w.a1.sign(&revocation(
        &w.a1,
        RevocationReason::Superseded,
        None,
        Some(&a3),
    ))); // 1
    w.log
        .append(a3.sign(&attestation(RebuildResult::Reproduced, ARTIFACT))); // 2
    let v = judge(&w, &policy(&w, 1));
    assert!(v.trusted, "{}", v.summary);
    assert_eq!(v.counted[0].index, 2);
    assert_eq!(v.counted[0].operator, "alice");
    assert_eq!(
        reasons(&v)[&0],
        Reason::ReplacementNotYetValid { notice_index: 1 }
    );
    assert_eq!(
        v.revocations[0].replacement.as_deref(),
        Some(a3.vkey().as_str())
    );

    // bob's operator does not allow rotation: a replacement named for bob stays untrusted.
    let mut w = world();
    let b2 = Key::new("bob-2", 21);
    w.log.append(w.b1.sign(&revocation(
        &w.b1,
        RevocationReason::Superseded,
        None,
        Some(&b2),
    )));
    w.log
        .append(b2.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let v = judge(&w, &policy(&w, 1));
    assert!(!v.trusted);
    assert_eq!(reasons(&v)[&1], Reason::UntrustedKey);
    assert!(
        v.warnings
            .iter()
            .any(|w| w.to_string().contains("does not allow rotation")),
        "{:?}",
        v.warnings
    );
}

#[test]
fn release_manifests_and_revocations_are_not_attestations() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&revocation(&w.c1, RevocationReason::Retired, None, None)));
    let v = judge(&w, &policy(&w, 1));
    assert!(
        v.not_counted.is_empty(),
        "revocations are reported under revocations"
    );
    assert_eq!(v.ignored_revocations.len(), 1);
}

#[test]
fn verdicts_serialize_for_json_output() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log.append(
        w.stranger
            .sign(&attestation(RebuildResult::Reproduced, ARTIFACT)),
    );
    let v = serde_json::to_value(judge(&w, &policy(&w, 1))).unwrap();
    assert_eq!(v["trusted"], true);
    assert_eq!(v["sha256"], hex::encode(ARTIFACT));
    assert_eq!(v["not_counted"][0]["reason"]["kind"], "untrusted-key");
}

// --- verify_logged_entry: what cannot become a LoggedEntry -------------------------------

#[test]
fn entries_under_the_wrong_log_key_are_rejected() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let mut other = world();
    other.log.key = NoteSigner::from_seed(ORIGIN, &[2; 32]).unwrap(); // same origin, other key
    let p = policy(&other, 1);
    let err = verify_logged_entry(&p, &w.log.entries[0], &w.log.proof(0)).unwrap_err();
    assert!(matches!(err, EntryError::Proof(_)), "{err}");
}

#[test]
fn a_tampered_entry_or_a_proof_for_another_index_is_rejected() {
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log
        .append(w.c1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let p = policy(&w, 1);
    let mut tampered = w.log.entries[0].clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    assert!(matches!(
        verify_logged_entry(&p, &tampered, &w.log.proof(0)),
        Err(EntryError::Proof(_))
    ));
    assert!(matches!(
        verify_logged_entry(&p, &w.log.entries[0], &w.log.proof(1)),
        Err(EntryError::Proof(_))
    ));
}

#[test]
fn a_logged_entry_whose_signature_does_not_verify_is_rejected() {
    let mut w = world();
    // Logged bytes whose signature is by b1's DSSE key but claims c1's vkey and is corrupted.
    let entry = attestation(RebuildResult::Reproduced, ARTIFACT);
    let c1 = w.c1.vkey();
    let env = Envelope::sign(
        PAYLOAD_TYPE,
        &entry.encode(),
        &[(c1.as_str(), &w.stranger.dsse)],
    )
    .unwrap();
    w.log.append(env.encode());
    let p = policy(&w, 1);
    let err = verify_logged_entry(&p, &w.log.entries[0], &w.log.proof(0)).unwrap_err();
    assert!(matches!(err, EntryError::NoValidSignature), "{err}");
}

#[test]
fn a_strangers_co_signature_does_not_hide_a_trusted_signer() {
    let mut w = world();
    let payload = attestation(RebuildResult::Reproduced, ARTIFACT).encode();
    let (sv, bv) = (w.stranger.vkey(), w.b1.vkey());
    let env = Envelope::sign(
        PAYLOAD_TYPE,
        &payload,
        &[(sv.as_str(), &w.stranger.dsse), (bv.as_str(), &w.b1.dsse)],
    )
    .unwrap();
    w.log.append(env.encode());
    let p = policy(&w, 1);
    let e = verify_logged_entry(&p, &w.log.entries[0], &w.log.proof(0)).unwrap();
    assert_eq!(e.signer().to_string(), bv);
    assert!(verdict(&p, &ARTIFACT, &[e, release_logged(&p)]).trusted);
}

#[test]
fn a_logged_entry_that_is_not_a_reprove_entry_is_rejected() {
    let mut w = world();
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}],"predicateType":"https://example.com/unknown/v1","predicate":{}}"#;
    let vkey = w.b1.vkey();
    let env = Envelope::sign(PAYLOAD_TYPE, payload, &[(vkey.as_str(), &w.b1.dsse)]).unwrap();
    w.log.append(env.encode());
    let p = policy(&w, 1);
    let err = verify_logged_entry(&p, &w.log.entries[0], &w.log.proof(0)).unwrap_err();
    assert!(matches!(err, EntryError::Predicate(_)), "{err}");
    assert!(
        err.to_string().contains("https://example.com/unknown/v1"),
        "{err}"
    );
}

// --- the policy file ------------------------------------------------------------------------

#[test]
fn a_policy_round_trips_through_encode() {
    let w = world();
    let p = policy(&w, 2);
    let again = Policy::parse(p.encode().as_bytes()).unwrap();
    assert_eq!(again.encode(), p.encode());
    assert_eq!(again.threshold, 2);
    assert_eq!(again.operators.len(), 3);
    assert_eq!(
        again.operators[0]
            .recovery_key
            .as_ref()
            .unwrap()
            .to_string(),
        w.ar.vkey()
    );
    assert!(again.operators[0].allow_rotation);
    assert_eq!(again.log.url.as_deref(), Some("http://127.0.0.1:8080"));
}

/// `vkey`'s public key under another name (a valid vkey: its key ID is computed anew).
fn relabelled(vkey: &str, name: &str) -> String {
    let k = NoteVerifier::parse(vkey).unwrap();
    NoteVerifier::new(name, k.key_type(), &k.public_key())
        .unwrap()
        .to_string()
}

/// Every malformed policy is refused with an error that names the problem.
#[test]
fn malformed_policies_are_refused_with_a_clear_error() {
    let w = world();
    let good = policy_text(&w, 2, "fail");
    let witness = NoteSigner::from_seed("witness.example", &[7; 32]).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("threshold = 2", "threshold = 0"),
            "threshold must be at least 1",
        ),
        (
            good.replace("threshold = 2", "threshold = 4"),
            "can never be met",
        ),
        (
            good.replace("threshold = 2", "treshold = 2"),
            "unknown field",
        ),
        (
            good.replace("on_mismatch = \"fail\"", "on_mismatch = \"ignore\""),
            "unknown variant",
        ),
        (
            good.replace("name = \"bob\"", "name = \"alice\""),
            "used twice",
        ),
        (
            good.replace(&w.b1.vkey(), &w.a1.vkey()),
            "listed under both",
        ),
        (
            good.replace(&w.c1.vkey(), "carol+00000000+AAAA"),
            "operator[2].keys[0]",
        ),
        // bob's public key again, under another name, as carol's: one signature by bob could
        // be relabelled with the other key ID and counted for two operators.
        (
            good.replace(&w.c1.vkey(), &relabelled(&w.b1.vkey(), "carol-1")),
            "same public key",
        ),
        // ...or as a recovery key, or a witness.
        (
            good.replace(&w.ar.vkey(), &relabelled(&w.c1.vkey(), "alice-recovery")),
            "same public key",
        ),
        (
            good.replace(
                &format!("origin = \"{ORIGIN}\""),
                "origin = \"other.example\"",
            ),
            "a log's key name is its origin",
        ),
        (good.replace("keys = [\"", "keys = [] #"), "has no keys"),
        (
            format!(
                "{good}\n[witnesses]\nquorum = 1\nkeys = [\"{}\"]\n",
                witness.verifier()
            ),
            "cosignature key",
        ),
        (
            format!(
                "{good}\n[witnesses]\nquorum = 2\nkeys = [\"{}\"]\n",
                witness.cosignature_verifier()
            ),
            "can never be met",
        ),
        ("threshold = 1\n".to_string(), "missing field"),
        ("\u{0}\u{1}not toml".to_string(), "not valid"),
    ];
    for (text, want) in cases {
        let err = Policy::parse(text.as_bytes()).expect_err(want);
        assert!(err.to_string().contains(want), "want {want:?}, got {err}");
    }
    assert!(matches!(
        Policy::parse(&[0xff, 0xfe]),
        Err(PolicyError::NotUtf8)
    ));
    assert!(matches!(
        Policy::parse(&vec![b' '; 2 << 20]),
        Err(PolicyError::TooLarge(_))
    ));

    // Two witnesses with one public key would meet a quorum of 2 with one cosignature.
    let twin = NoteVerifier::new(
        "witness-twin.example",
        witness.cosignature_verifier().key_type(),
        &witness.cosignature_verifier().public_key(),
    )
    .unwrap();
    let err = Policy::parse(
        format!(
            "{good}\n[witnesses]\nquorum = 2\nkeys = [\"{}\", \"{twin}\"]\n",
            witness.cosignature_verifier()
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");

    // A witness quorum that can be met is accepted.
    let ok = format!(
        "{good}\n[witnesses]\nquorum = 1\nkeys = [\"{}\"]\n",
        witness.cosignature_verifier()
    );
    let p = Policy::parse(ok.as_bytes()).unwrap();
    assert_eq!(p.witnesses.quorum(), 1);
    let _ = NoteVerifier::parse(&w.a1.vkey()).unwrap();
}

// --- verify_logged_entry_at: many entries under one verified checkpoint ---------------------

#[test]
fn entries_under_one_policy_checkpoint_verify_as_they_would_alone() {
    use reprove_verifier::policy::verify_logged_entry_at;
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log
        .append(w.c1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let p = policy(&w, 2);
    let cp = p.verify_checkpoint(&w.log.signed_checkpoint()).unwrap();
    let mut entries: Vec<LoggedEntry> = (0..2)
        .map(|i| verify_logged_entry_at(&p, &w.log.entries[i], &w.log.proof(i as u64), &cp))
        .collect::<Result<_, _>>()
        .unwrap();
    entries.push(release_logged(&p));
    assert!(verdict(&p, &ARTIFACT, &entries).trusted);
    // A proof for another index, or a tampered entry, still fails under the shared checkpoint.
    assert!(matches!(
        verify_logged_entry_at(&p, &w.log.entries[0], &w.log.proof(1), &cp),
        Err(EntryError::Proof(_))
    ));
    // A proof under another checkpoint is verified in full: here, a checkpoint of a log key
    // the policy does not trust.
    let older = w.log.signed_checkpoint();
    w.log.key = NoteSigner::from_seed(ORIGIN, &[2; 32]).unwrap();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Mismatch, ARTIFACT)));
    assert!(matches!(
        verify_logged_entry_at(&p, &w.log.entries[2], &w.log.proof(2), &cp),
        Err(EntryError::Proof(_))
    ));
    // And a checkpoint signed by another key is refused by the policy.
    assert!(p.verify_checkpoint(&w.log.signed_checkpoint()).is_err());
    assert!(p.verify_checkpoint(&older).is_ok());
}

// --- what an attestation is bound to --------------------------------------------------------

/// The reason bob's attestation (index 0) did not count, or `None` if it counted.
fn bob_counts(
    w: &mut World,
    policy: &Policy,
    entry: Entry,
    release: Option<(&str, &str)>,
) -> Option<Reason> {
    w.log.append(w.b1.sign(&entry));
    let v =
        reprove_verifier::policy::verdict_for(policy, &ARTIFACT, release, &w.log.verified(policy));
    assert_eq!(v.trusted, v.counted.len() == 1, "{v:?}");
    v.not_counted
        .iter()
        .find(|n| n.index == 0)
        .map(|n| n.reason.clone())
}

#[test]
fn an_attestation_counts_only_for_the_release_it_is_bound_to() {
    let honest = || attestation(RebuildResult::Reproduced, ARTIFACT);
    let p = |w: &World| policy(w, 1);
    let mut w = world();
    assert_eq!(bob_counts(&mut w, &p(&world()), honest(), None), None);
    let unbound = |r: ReleaseRef| {
        attestation_of(
            RebuildResult::Reproduced,
            ARTIFACT,
            r,
            SandboxKind::Bubblewrap,
        )
    };
    let cases: Vec<(&str, ReleaseRef)> = vec![
        (
            "is not a release manifest",
            ReleaseRef {
                log_index: 0,
                ..release_ref()
            },
        ),
        (
            "among the entries seen",
            ReleaseRef {
                log_index: 63,
                ..release_ref()
            },
        ),
        (
            "among the entries seen",
            ReleaseRef {
                log_index: 1 << 40,
                ..release_ref()
            },
        ),
        (
            "another entry digest",
            ReleaseRef {
                digest: Digests::sha256([0x11; 32]),
                ..release_ref()
            },
        ),
        (
            "another entry digest",
            ReleaseRef {
                digest: Digests {
                    blake3: Some([9; 32]),
                    ..release_digest()
                },
                ..release_ref()
            },
        ),
        (
            "another name or version",
            ReleaseRef {
                name: "hellO".into(),
                ..release_ref()
            },
        ),
        (
            "another name or version",
            ReleaseRef {
                version: "1.1".into(),
                ..release_ref()
            },
        ),
    ];
    for (want, r) in cases {
        let mut w = world();
        let pol = p(&w);
        let why = bob_counts(&mut w, &pol, unbound(r.clone()), None);
        match why {
            Some(Reason::ReleaseNotBound { why, .. }) => {
                assert!(why.to_string().contains(want), "{r:?}: {why}")
            }
            other => panic!("{r:?}: {other:?}"),
        }
    }
    // The release lists ARTIFACT without blake3; an attestation naming another artifact that
    // the release does not list does not count for it.
    let mut w = world();
    let other = attestation_of(
        RebuildResult::Reproduced,
        [0xcc; 32],
        release_ref(),
        SandboxKind::Bubblewrap,
    );
    w.log.append(w.b1.sign(&other));
    let v = verdict(&p(&w), &[0xcc; 32], &w.log.verified(&p(&w)));
    assert!(!v.trusted);
    assert!(
        matches!(&v.not_counted[0].reason, Reason::ReleaseNotBound { why, .. } if why.to_string().contains("does not list")),
        "{v:?}"
    );
}

#[test]
fn the_consumer_names_the_release_and_the_policy_its_publishers_and_the_sandbox() {
    // --release: another release's attestation does not count.
    let mut w = world();
    let why = bob_counts(
        &mut w,
        &policy(&world(), 1),
        attestation(RebuildResult::Reproduced, ARTIFACT),
        Some(("hello", "2.0")),
    );
    assert!(matches!(why, Some(Reason::OtherRelease { .. })), "{why:?}");
    let mut w = world();
    assert_eq!(
        bob_counts(
            &mut w,
            &policy(&world(), 1),
            attestation(RebuildResult::Reproduced, ARTIFACT),
            Some(("hello", "1.0"))
        ),
        None
    );

    // [[publisher]]: the release must be signed by a publisher trusted for the project.
    let pinned = |projects: &str, key: &str| {
        let text = format!(
            "{}\n[[publisher]]\nname = \"hello team\"\nprojects = [{projects}]\nkeys = [\"{key}\"]\n",
            policy_text(&world(), 1, "fail")
        );
        Policy::parse(text.as_bytes()).unwrap()
    };
    let publisher_vkey = publisher().vkey();
    for projects in ["\"hello\"", "\"hel*\"", "\"*\"", "\"other\", \"h*o\""] {
        let mut w = world();
        let p = pinned(projects, &publisher_vkey);
        assert_eq!(
            bob_counts(
                &mut w,
                &p,
                attestation(RebuildResult::Reproduced, ARTIFACT),
                None
            ),
            None,
            "{projects}"
        );
        let v = verdict(&p, &ARTIFACT, &w.log.verified(&p));
        assert!(v.publisher_pinned);
    }
    for (projects, key) in [
        ("\"hello-*\"", publisher_vkey.clone()),
        ("\"hello\"", world().stranger.vkey()),
    ] {
        let mut w = world();
        let p = pinned(projects, &key);
        let why = bob_counts(
            &mut w,
            &p,
            attestation(RebuildResult::Reproduced, ARTIFACT),
            None,
        );
        assert!(
            matches!(why, Some(Reason::PublisherNotTrusted { .. })),
            "{projects}: {why:?}"
        );
    }
    // Without [[publisher]] the verdict says so.
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    assert!(!judge(&w, &policy(&w, 1)).publisher_pinned);

    // require_sandbox: an unsandboxed build does not count.
    let strict = Policy::parse(
        policy_text(&world(), 1, "fail")
            .replace("threshold = 1", "threshold = 1\nrequire_sandbox = true")
            .as_bytes(),
    )
    .unwrap();
    assert!(strict.require_sandbox);
    let mut w = world();
    let bare = attestation_of(
        RebuildResult::Reproduced,
        ARTIFACT,
        release_ref(),
        SandboxKind::None,
    );
    assert_eq!(
        bob_counts(&mut w, &strict, bare.clone(), None),
        Some(Reason::NotSandboxed)
    );
    let mut w = world();
    assert_eq!(bob_counts(&mut w, &policy(&world(), 1), bare, None), None);
    // Policies with these fields round-trip.
    let again = Policy::parse(strict.encode().as_bytes()).unwrap();
    assert!(again.require_sandbox);
    let p = pinned("\"hel*\"", &publisher_vkey);
    let again = Policy::parse(p.encode().as_bytes()).unwrap();
    assert_eq!(again.publishers[0].projects, ["hel*"]);
}

#[test]
fn a_mismatch_counts_even_when_its_release_is_not_shown() {
    // Whoever serves the evidence must not silence a trusted mismatch by leaving out the release.
    let mut w = world();
    w.log
        .append(w.c1.sign(&attestation(RebuildResult::Mismatch, ARTIFACT)));
    let p = policy(&w, 1);
    let entries: Vec<LoggedEntry> = w
        .log
        .verified(&p)
        .into_iter()
        .filter(|e| e.index() != RELEASE_INDEX)
        .collect();
    let v = verdict(&p, &ARTIFACT, &entries);
    assert_eq!(v.mismatches.len(), 1);
}

// --- revocation by validity, not by order -----------------------------------------------------

/// Whether an attestation by `k` appended last counts for alice (threshold 1, alice only
/// trusted through the keys the notices leave her).
fn counts_for_alice(w: &mut World, k: &Key) -> bool {
    let at = w
        .log
        .append(k.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let v = judge(w, &policy(w, 1));
    v.counted
        .iter()
        .any(|c| c.index == at && c.operator == "alice")
}

#[test]
fn a_thief_cannot_rotate_a_revoked_key_to_their_own() {
    // The recovery key revokes a1 as compromised; the thief, holding a1, then rotates a1 to
    // their own key, and after that is revoked too, rotates again.
    let thief = Key::new("thief-1", 77);
    let thief2 = Key::new("thief-2", 78);
    let mut w = world();
    w.log.append(w.ar.sign(&revocation(
        &w.a1,
        RevocationReason::Compromised,
        None,
        None,
    )));
    w.log.append(w.a1.sign(&revocation(
        &w.a1,
        RevocationReason::Superseded,
        None,
        Some(&thief),
    )));
    assert!(
        !counts_for_alice(&mut w, &thief),
        "a revoked key introduced a replacement"
    );
    let v = judge(&w, &policy(&w, 1));
    assert!(
        v.warnings
            .iter()
            .any(|m| m.to_string().contains("which was revoked from index 0")),
        "{:?}",
        v.warnings
    );
    w.log.append(thief.sign(&revocation(
        &thief,
        RevocationReason::Superseded,
        None,
        Some(&thief2),
    )));
    assert!(!counts_for_alice(&mut w, &thief2));

    // The same thief rotation logged *before* the recovery key's notice, which back-dates the
    // compromise to before it: the rotation is void too, whatever the order in the log.
    let mut w = world();
    w.log.append(w.a1.sign(&revocation(
        &w.a1,
        RevocationReason::Superseded,
        None,
        Some(&thief),
    )));
    w.log.append(w.ar.sign(&revocation(
        &w.a1,
        RevocationReason::Compromised,
        Some(0),
        None,
    )));
    assert!(!counts_for_alice(&mut w, &thief));
}

#[test]
fn a_back_dated_compromise_voids_later_rotations_transitively() {
    let k2 = Key::new("alice-new", 13);
    let k3 = Key::new("alice-newer", 14);
    let mut w = world();
    // a1 -> k2 at index 1, k2 -> k3 at index 2: both rotations valid so far.
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, OTHER)));
    w.log.append(w.a1.sign(&revocation(
        &w.a1,
        RevocationReason::Superseded,
        None,
        Some(&k2),
    )));
    w.log.append(k2.sign(&revocation(
        &k2,
        RevocationReason::Superseded,
        None,
        Some(&k3),
    )));
    assert!(counts_for_alice(&mut w, &k3));
    // Then the recovery key says a1 was compromised from index 1: the rotation a1 signed at
    // index 1 is void, and with it k2 and everything k2 introduced.
    w.log.append(w.ar.sign(&revocation(
        &w.a1,
        RevocationReason::Compromised,
        Some(1),
        None,
    )));
    assert!(!counts_for_alice(&mut w, &k3));
    assert!(!counts_for_alice(&mut w, &k2));
    // A compromise from index 2 leaves the rotation at index 1 standing.
    let mut w = world();
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, OTHER)));
    w.log.append(w.a1.sign(&revocation(
        &w.a1,
        RevocationReason::Superseded,
        None,
        Some(&k2),
    )));
    w.log.append(w.ar.sign(&revocation(
        &w.a1,
        RevocationReason::Compromised,
        Some(2),
        None,
    )));
    assert!(counts_for_alice(&mut w, &k2));
}

#[test]
fn standings_do_not_depend_on_the_order_notices_are_given_in() {
    // The same log, its verified entries handed to the verdict in every order.
    let k2 = Key::new("alice-new", 13);
    let thief = Key::new("thief-1", 77);
    let mut w = world();
    w.log.append(w.a1.sign(&revocation(
        &w.a1,
        RevocationReason::Superseded,
        None,
        Some(&k2),
    )));
    w.log.append(w.ar.sign(&revocation(
        &w.a1,
        RevocationReason::Compromised,
        Some(0),
        None,
    )));
    w.log.append(w.a1.sign(&revocation(
        &w.a1,
        RevocationReason::Superseded,
        None,
        Some(&thief),
    )));
    w.log
        .append(k2.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log
        .append(thief.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    w.log
        .append(w.b1.sign(&attestation(RebuildResult::Reproduced, ARTIFACT)));
    let p = policy(&w, 1);
    let entries = w.log.verified(&p);
    let first = verdict(&p, &ARTIFACT, &entries);
    let key = |v: &reprove_verifier::policy::Verdict| {
        (
            v.trusted,
            v.operators.clone(),
            reasons(v),
            v.revocations.len(),
        )
    };
    // Rotations and reversals of the order (all 7! orders of the first entries is too many
    // to matter more than these).
    let n = entries.len();
    for shift in 0..n {
        for reverse in [false, true] {
            let mut e = entries.clone();
            e.rotate_left(shift);
            if reverse {
                e.reverse();
            }
            assert_eq!(
                key(&verdict(&p, &ARTIFACT, &e)),
                key(&first),
                "shift {shift} reverse {reverse}"
            );
        }
    }
    // And the outcome is the one the rules give: only bob counts.
    assert_eq!(first.operators, ["bob"]);
}

/// Where [`unpinned_release_logged`] sits (beside the other release).
const UNPINNED_INDEX: u64 = RELEASE_INDEX + 1000;

/// tool@1.0: its one output `tool` unpinned, its `.crate` its one subject.
fn unpinned_release_entry() -> Vec<u8> {
    let crate_digest = Digests::sha256([0x77; 32]);
    let manifest = ReleaseManifest {
        subjects: vec![Artifact {
            name: "tool-1.0.crate".into(),
            digest: crate_digest,
        }],
        predicate: ReleasePredicate {
            third_party_import: None,
            project: "tool".into(),
            version: "1.0".into(),
            artifacts: BTreeMap::new(),
            source: Source::Archive {
                uri: "https://example.org/tool-1.0.crate".into(),
                digest: crate_digest,
            },
            recipe: Recipe {
                unpinned_outputs: BTreeMap::from([("target/release/tool".into(), "tool".into())]),
                inputs: Vec::new(),
                build_deps: Vec::new(),
                build_user: Default::default(),
                command: vec!["cargo".into()],
                environment: Environment::Host {},
                source_date_epoch: None,
                env: BTreeMap::new(),
                outputs: BTreeMap::new(),
            },
        },
    };
    publisher().sign(&Entry::new(EntryKind::Release(manifest)).unwrap())
}

fn unpinned_release_logged(policy: &Policy) -> (LoggedEntry, ReleaseRef) {
    use sha2::Digest as _;
    let mut side = Log::new();
    for i in 0..UNPINNED_INDEX {
        side.append(vec![(i % 251) as u8, (i / 251) as u8]);
    }
    let bytes = unpinned_release_entry();
    let at = side.append(bytes.clone());
    let logged = verify_logged_entry(policy, &side.entries[at as usize], &side.proof(at)).unwrap();
    let r = ReleaseRef {
        log_index: at,
        name: "tool".into(),
        version: "1.0".into(),
        digest: Digests {
            sha256: sha2::Sha256::digest(&bytes).into(),
            blake3: Some(*blake3::hash(&bytes).as_bytes()),
        },
    };
    (logged, r)
}

/// An attestation that `tool` built as `bytes`.
fn built(release: &ReleaseRef, bytes: [u8; 32]) -> Entry {
    let mut e = attestation_of(
        RebuildResult::Reproduced,
        bytes,
        release.clone(),
        SandboxKind::Bubblewrap,
    );
    if let EntryKind::Rebuild(a) = e.kind() {
        let mut a = a.clone();
        for s in a.subjects.iter_mut().chain(a.predicate.rebuilt.iter_mut()) {
            s.name = "tool".into();
        }
        e = Entry::new(EntryKind::Rebuild(a)).unwrap();
    }
    e
}

#[test]
fn unpinned_bytes_count_distinct_operators_that_agree_and_fail_on_one_that_does_not() {
    let mut w = world();
    let p = policy(&w, 2);
    let (release, r) = unpinned_release_logged(&p);
    // Two keys of one operator built ARTIFACT: one operator.
    w.log.append(w.a1.sign(&built(&r, ARTIFACT)));
    w.log.append(w.a2.sign(&built(&r, ARTIFACT)));
    let entries = |w: &World| {
        let mut v = w.log.verified(&p);
        v.push(release.clone());
        v
    };
    let v = verdict(&p, &ARTIFACT, &entries(&w));
    assert!(!v.trusted, "{}", v.summary);
    assert_eq!(v.operators, ["alice"]);
    assert_eq!(v.unpinned_outputs, ["tool@1.0 tool"]);
    assert!(
        v.summary.to_string().contains("only 1 distinct operator"),
        "{}",
        v.summary
    );
    // A second operator: trusted.
    w.log.append(w.b1.sign(&built(&r, ARTIFACT)));
    let v = verdict(&p, &ARTIFACT, &entries(&w));
    assert!(v.trusted, "{}", v.summary);
    assert!(
        v.summary
            .to_string()
            .contains("no publisher fixed these bytes")
    );
    // A third that built other bytes for the same output: a disagreement, not trusted.
    let at = w.log.append(w.c1.sign(&built(&r, OTHER)));
    let v = verdict(&p, &ARTIFACT, &entries(&w));
    assert!(!v.trusted, "{}", v.summary);
    assert_eq!(v.mismatches.len(), 1);
    assert_eq!(v.mismatches[0].other_bytes_for.as_deref(), Some("tool"));
    assert!(
        matches!(reasons(&v)[&at], Reason::OtherBytes { .. }),
        "{v:?}"
    );
    // A stranger's other bytes change nothing; the `.crate` itself is never "reproduced".
    let mut w2 = world();
    w2.log.append(w2.a1.sign(&built(&r, ARTIFACT)));
    w2.log.append(w2.b1.sign(&built(&r, ARTIFACT)));
    w2.log.append(w2.stranger.sign(&built(&r, OTHER)));
    let v = verdict(&p, &ARTIFACT, &{
        let mut v = w2.log.verified(&p);
        v.push(release.clone());
        v
    });
    assert!(v.trusted, "{}", v.summary);
    let v = verdict(&p, &[0x77; 32], &{
        let mut v = w2.log.verified(&p);
        v.push(release);
        v
    });
    assert!(!v.trusted);
}
