//! Provable lookups: a log (or a bundle) cannot hide a mismatch or a revocation from a
//! consumer. The real ledger answers `/proven/…` with proofs under its verifiable index; a
//! lying copy of it (`StaticLog`, signed with the real log key) leaves an index out of an
//! answer, serves a stale index, or signs an index its entries do not give — each refused by
//! `reprove verify` (exit 2, the reason) and caught by `reprove ledger audit`. Bundles carry the
//! same proofs: one that drops a mismatch or a revocation is refused.

use crate::common;
use crate::consumer;

use common::{agent, get};
use consumer::{
    Op, StaticLog, World, attestation, key, outcome, revocation, run, sha256, signed_by,
    snapshot_state,
};
use reprove_ledger::IndexKey;
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::predicates::{RebuildResult, RevocationReason};
use reprove_verifier::vindex::ProvenAnswer;

const ART: &[u8] = b"an artifact someone would like to hide a mismatch of\n";
const ARTS: [(&str, &[u8]); 1] = [("h.tar.gz", ART)];

struct Setup {
    w: World,
    alice: NoteSigner,
    bob: NoteSigner,
    file: String,
    policy: std::path::PathBuf,
}

/// A release (0), alice reproduces it (1), bob reports a mismatch (2); the policy counts both
/// and fails on a mismatch, so the honest answer is NOT TRUSTED.
fn setup() -> Setup {
    let w = World::new();
    let (alice, bob) = (key("alice.example", 10), key("bob.example", 20));
    let (ri, renv) = w.release(&key("publisher.example", 1), "h", "1.0", &ARTS);
    w.add_signed(
        &alice,
        &attestation(ri, &renv, "h", "1.0", &ARTS, RebuildResult::Reproduced),
    );
    w.add_signed(
        &bob,
        &attestation(ri, &renv, "h", "1.0", &ARTS, RebuildResult::Mismatch),
    );
    let file = w.file("h.tar.gz", ART);
    let policy = w.policy(
        "p.toml",
        1,
        "fail",
        &[Op::new("alice", &[&alice]), Op::new("bob", &[&bob])],
    );
    Setup {
        w,
        alice,
        bob,
        file,
        policy,
    }
}

impl Setup {
    fn lying(&self, name: &str) -> StaticLog {
        StaticLog::build(&self.w.path(name), &self.w.log_key, &self.w.entries())
    }

    fn bob_artifact(&self) -> IndexKey {
        signed_by(IndexKey::Artifact(sha256(ART)), &self.bob.verifier())
    }

    fn audit(&self, url: &str) -> (i32, String, String) {
        let args: Vec<String> = [
            "ledger",
            "audit",
            "--ledger",
            url,
            "--log-key",
            &self.w.log_vkey,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        outcome(&run(&args, self.w.dir.path()))
    }
}

#[test]
fn the_honest_log_and_an_honest_copy_show_the_mismatch() {
    let s = setup();
    let (code, out, err) = outcome(&s.w.verify(&s.policy, &[&s.file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("MISMATCH"), "{out}");
    let copy = s.lying("honest");
    let (code, out, err) = outcome(&s.w.verify_at(copy.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("MISMATCH"), "{out}");
    // Both audits re-derive the index from the entries and find it as signed.
    for url in [s.w.url.as_str(), copy.url()] {
        let (code, out, err) = s.audit(url);
        assert_eq!(code, 0, "{url}: {out}{err}");
        assert!(
            out.contains("verifiable index at tree size 3: re-derived from the entries"),
            "{out}"
        );
    }
}

#[test]
fn an_answer_with_an_index_left_out_is_refused() {
    let s = setup();
    let log = s.lying("omits");
    let target = s.bob_artifact();
    log.index.lock().unwrap().tamper = Some(Box::new(move |key, answer: &mut ProvenAnswer| {
        if *key == target {
            answer.indices.clear();
        }
    }));
    let before = snapshot_state(&s.w);
    let (code, out, err) = outcome(&s.w.verify_at(log.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("the lookup's proof fails")
            && err.contains("claims the key is absent")
            && err.contains("/proven/sha256/"),
        "{err}"
    );
    assert!(!out.contains("TRUSTED"), "{out}");
    assert_eq!(snapshot_state(&s.w), before, "nothing recorded");
    // One index of a longer list left out (the artifact's release manifest and alice's and
    // bob's attestations): the proof no longer leads to the signed root.
    let all = IndexKey::Artifact(sha256(ART));
    let log = s.lying("omits-one");
    log.index.lock().unwrap().tamper = Some(Box::new(move |key, answer: &mut ProvenAnswer| {
        if *key == all {
            answer.indices.retain(|&i| i != 2);
        }
    }));
    let a = agent();
    let (status, body) = get(
        &a,
        &format!(
            "{}/{}",
            log.url(),
            IndexKey::Artifact(sha256(ART)).proven_path().unwrap()
        ),
    );
    assert_eq!(status, 200);
    let answer: ProvenAnswer = serde_json::from_slice(&body).unwrap();
    let log_key = NoteVerifier::parse(&s.w.log_vkey).unwrap();
    let err = answer
        .verify(&log_key, &IndexKey::Artifact(sha256(ART)).encoding())
        .unwrap_err();
    assert!(
        err.to_string().contains("does not lead to the index root"),
        "{err}"
    );
}

#[test]
fn a_stale_index_is_refused() {
    let s = setup();
    let log = s.lying("stale");
    // The index of the tree before bob's mismatch, honestly signed for that tree.
    let entries = s.w.entries();
    *log.index.lock().unwrap() = consumer::ProvenIndex::derive(&s.w.log_key, &entries, 2);
    let (code, out, err) = outcome(&s.w.verify_at(log.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("index of tree size 2, older than the checkpoint of size 3")
            && err.contains("stale index"),
        "{err}"
    );
}

#[test]
fn an_index_that_disagrees_with_the_entries_is_caught() {
    let s = setup();
    // The log signs an index without bob's mismatch, and proves its answers under it.
    let log = s.lying("rewritten");
    log.sign_changed_index(|lists| {
        for list in lists.values_mut() {
            list.retain(|&i| i != 2);
        }
        lists.retain(|_, l| !l.is_empty());
    });
    // verify downloads the bundle holding the mismatch anyway (to prove alice's entry), and
    // checks it against the lists it was given.
    let (code, out, err) = outcome(&s.w.verify_at(log.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("leaves entry 2 out of the lookup")
            && err.contains("does not match its entries"),
        "{err}"
    );
    // The audit re-derives the whole index and says which root is wrong.
    let (code, out, err) = s.audit(log.url());
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("signs index root") && out.contains("the entries give"),
        "{out}"
    );
    // A note whose root matches no proof the log serves: every answer fails.
    let log = s.lying("wrong-root");
    {
        let mut index = log.index.lock().unwrap();
        let honest = index.note.clone();
        index.lists.remove(&s.bob_artifact());
        index.resign();
        // The lists shrink back to the honest ones, the signed root stays the changed one.
        let lists = consumer::ProvenIndex::derive(&s.w.log_key, &s.w.entries(), 3).lists;
        index.lists = lists;
        assert_ne!(index.note, honest);
    }
    let (code, out, err) = outcome(&s.w.verify_at(log.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("the lookup's proof fails"), "{err}");
}

#[test]
fn the_ledger_proves_lists_and_absence_and_refuses_what_it_cannot_prove() {
    let s = setup();
    let a = agent();
    let log_key = NoteVerifier::parse(&s.w.log_vkey).unwrap();
    let proven = |key: &IndexKey| -> ProvenAnswer {
        let path = key.proven_path().unwrap();
        let (status, body) = get(&a, &format!("{}/{path}", s.w.url));
        assert_eq!(status, 200, "{path}: {}", common::text(&body));
        let answer: ProvenAnswer = serde_json::from_slice(&body).unwrap();
        let note = answer.verify(&log_key, &key.encoding()).unwrap();
        assert_eq!(note.size, 3);
        answer
    };
    assert_eq!(proven(&s.bob_artifact()).indices, [2]);
    assert_eq!(proven(&IndexKey::Artifact(sha256(ART))).indices, [0, 1, 2]);
    assert_eq!(
        proven(&IndexKey::Release {
            name: "h".into(),
            version: "1.0".into()
        })
        .indices,
        [0, 1, 2]
    );
    assert_eq!(
        proven(&IndexKey::Signer(s.alice.verifier().to_string())).indices,
        [1]
    );
    assert_eq!(proven(&IndexKey::Project("h".into())).indices, [0]);
    // Absent keys: a proof of absence, never a 404.
    let nobody = IndexKey::Artifact(sha256(b"never logged"));
    assert!(proven(&nobody).indices.is_empty());
    let revoked = IndexKey::RevokedKey(s.alice.verifier().to_string());
    assert!(proven(&revoked).indices.is_empty());
    // What cannot be proven is a 400 with the reason.
    let id = format!("{:08x}", s.alice.verifier().key_id());
    for (path, why) in [
        (format!("proven/key/{id}"), "not proven"),
        ("proven/sha256/00".to_owned(), "not a sha256 digest"),
        (
            format!("proven/sha256/{}?limit=5", hex::encode(sha256(ART))),
            "limit",
        ),
        (
            format!("proven/sha256/{}?signer={id}", hex::encode(sha256(ART))),
            "not a key ID",
        ),
    ] {
        let (status, body) = get(&a, &format!("{}/{path}", s.w.url));
        let body = common::text(&body);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(why), "{path}: {body}");
    }
    // The index note verifies and covers the head.
    let (status, note) = get(&a, &format!("{}/index-note", s.w.url));
    assert_eq!(status, 200);
    let note = reprove_verifier::vindex::IndexNote::verify(&note, &log_key).unwrap();
    assert_eq!(note.size, 3);
}

/// A bundle of the release, made against the real ledger.
fn make_bundle(s: &Setup, name: &str) -> std::path::PathBuf {
    let out = s.w.path(name);
    let args: Vec<String> = [
        "bundle",
        "h@1.0",
        "--policy",
        s.policy.to_str().unwrap(),
        "--ledger",
        &s.w.url,
        "-o",
        out.to_str().unwrap(),
        "--state",
        s.w.path("maker-state").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, stdout, err) = outcome(&run(&args, s.w.dir.path()));
    assert_eq!(code, 0, "{stdout}{err}");
    out
}

fn verify_bundle(s: &Setup, bundle: &std::path::Path) -> (i32, String, String) {
    let args: Vec<String> = [
        "verify",
        &s.file,
        "--policy",
        s.policy.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "--state",
        s.w.state().to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    outcome(&run(&args, s.w.dir.path()))
}

fn edit(path: &std::path::Path, to: &std::path::Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(to, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn a_bundle_that_drops_a_mismatch_or_a_revocation_is_refused() {
    let s = setup();
    // bob revokes his own key too (index 3): a bundle must carry that as well.
    s.w.add_signed(
        &s.bob,
        &revocation(&s.bob, RevocationReason::Retired, None, None),
    );
    let bundle = make_bundle(&s, "h.bundle");
    let (code, out, err) = verify_bundle(&s, &bundle);
    assert_eq!(code, 1, "the honest bundle shows the mismatch: {out}{err}");
    assert!(out.contains("MISMATCH"), "{out}");

    for (drop, name) in [(2u64, "no-mismatch.bundle"), (3, "no-revocation.bundle")] {
        let cut = s.w.path(name);
        edit(&bundle, &cut, |v| {
            v["entries"]
                .as_array_mut()
                .unwrap()
                .retain(|e| e["index"] != drop);
        });
        let (code, out, err) = verify_bundle(&s, &cut);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(
            err.contains(&format!("the bundle leaves out entry {drop}")),
            "{name}: {err}"
        );
    }
    // Dropping the lists too: the bundle no longer proves what the policy needs.
    let bare = s.w.path("bare.bundle");
    edit(&bundle, &bare, |v| {
        v["entries"]
            .as_array_mut()
            .unwrap()
            .retain(|e| e["index"] != 2);
        v["lookups"] = serde_json::json!([]);
    });
    let (code, out, err) = verify_bundle(&s, &bare);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("the bundle does not prove"), "{err}");
    // An answer changed inside the bundle fails its proof.
    let forged = s.w.path("forged.bundle");
    edit(&bundle, &forged, |v| {
        for l in v["lookups"].as_array_mut().unwrap() {
            if let Some(list) = l["answer"]["indices"].as_array_mut() {
                list.retain(|i| i != 2);
            }
        }
    });
    let (code, out, err) = verify_bundle(&s, &forged);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("does not lead to the index root"), "{err}");
    // A bundle of the old format carries no proofs: refused, saying why.
    let v1 = s.w.path("v1.bundle");
    edit(&bundle, &v1, |v| {
        v["format"] = "https://reprove.dev/bundle/v1".into();
        v.as_object_mut().unwrap().remove("lookups");
    });
    let (code, out, err) = verify_bundle(&s, &v1);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("carries no lookup proofs"), "{err}");
}
