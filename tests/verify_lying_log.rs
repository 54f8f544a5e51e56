//! `reprove verify` shown a lying log: a static copy of the read API (checkpoint signed with
//! the real log key, tiles, entry bundles, lookups) that forks, rolls back or tampers with what
//! the consumer sees. Each case asserts the exact reason, and that the state is left untouched.

use crate::common;
use crate::consumer;

use common::envelope;
use consumer::{
    Op, StaticLog, World, attestation, key, outcome, sha256, signed_by, snapshot_state,
};
use reprove_ledger::IndexKey;
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::RebuildResult;

const ART: &[u8] = b"the artifact a consumer holds\n";

struct Setup {
    w: World,
    alice: NoteSigner,
    file: String,
    policy: std::path::PathBuf,
    release_env: Vec<u8>,
}

/// A real ledger with a release of ART (index 0) and alice's `reproduced` (index 1).
fn setup() -> Setup {
    let w = World::new();
    let alice = key("alice.example", 10);
    let arts = [("a.tar.gz", ART)];
    let (ri, renv) = w.release(&key("publisher.example", 1), "a", "1", &arts);
    w.add_signed(
        &alice,
        &attestation(ri, &renv, "a", "1", &arts, RebuildResult::Reproduced),
    );
    let file = w.file("a.tar.gz", ART);
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&alice])]);
    Setup {
        w,
        alice,
        file,
        policy,
        release_env: renv,
    }
}

impl Setup {
    /// Verifies against the real ledger once, so the state holds its checkpoint (size 2).
    fn remember(&self) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
        let (code, out, err) = outcome(&self.w.verify(&self.policy, &[&self.file]));
        assert_eq!(code, 0, "{out}{err}");
        let state = snapshot_state(&self.w);
        let checkpoints = state
            .keys()
            .filter(|p| p.extension().is_none_or(|e| e != "lock"));
        assert_eq!(
            checkpoints.count(),
            1,
            "one checkpoint file: {:?}",
            state.keys()
        );
        state
    }

    fn lying(&self, name: &str, entries: &[Vec<u8>]) -> StaticLog {
        StaticLog::build(&self.w.path(name), &self.w.log_key, entries)
    }

    /// An attestation by `k` that differs from the real log's entry 1.
    fn other_attestation(&self, k: &NoteSigner, result: RebuildResult) -> Vec<u8> {
        envelope(
            k,
            &attestation(0, &self.release_env, "a", "1", &[("a.tar.gz", ART)], result),
        )
    }
}

#[test]
fn an_honest_mirror_of_the_log_verifies() {
    let s = setup();
    let state = s.remember();
    let mirror = s.lying("mirror", &s.w.entries());
    let (code, out, err) = outcome(&s.w.verify_at(mirror.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(snapshot_state(&s.w), state);
}

/// A mirror of the tiles and checkpoint only (as `reprove ledger export` writes) cannot say
/// which entries name the artifact: an error (exit 2) that says so, never "not trusted" or
/// "unknown" from its 404s; the state is left as it was.
#[test]
fn a_mirror_without_lookups_is_an_error_that_says_so() {
    let s = setup();
    let state = s.remember();
    let mirror = s.lying("tiles-only", &s.w.entries());
    std::fs::remove_dir_all(mirror.root.join("lookup")).unwrap();
    mirror.index.lock().unwrap().served = false;
    let (code, out, err) = outcome(&s.w.verify_at(mirror.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("this server serves no proven lookups") && err.contains("--bundle"),
        "{err}"
    );
    assert!(
        !out.contains("NOT TRUSTED") && !out.contains("UNKNOWN"),
        "{out}"
    );
    assert_eq!(snapshot_state(&s.w), state);
}

#[test]
fn a_forked_checkpoint_of_the_same_size_is_a_security_error() {
    let s = setup();
    let state = s.remember();
    let mut entries = s.w.entries();
    entries[1] = s.other_attestation(&s.alice, RebuildResult::Mismatch);
    let fork = s.lying("fork", &entries);
    let (code, out, err) = outcome(&s.w.verify_at(fork.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("SECURITY") && err.contains("fork: two different trees of size 2"),
        "{err}"
    );
    assert!(
        err.contains("checkpoint verified before") && err.contains("checkpoint shown now"),
        "{err}"
    );
    assert_eq!(
        err.matches(common::ORIGIN).count(),
        4,
        "both checkpoints printed: {err}"
    );
    assert_eq!(snapshot_state(&s.w), state, "state untouched");
}

#[test]
fn a_larger_tree_that_does_not_extend_the_old_one_is_a_fork() {
    let s = setup();
    let state = s.remember();
    let mut entries = s.w.entries();
    entries[1] = s.other_attestation(&s.alice, RebuildResult::BuildFailed);
    entries.push(s.other_attestation(&key("bob.example", 20), RebuildResult::Reproduced));
    let fork = s.lying("fork", &entries);
    let (code, out, err) = outcome(&s.w.verify_at(fork.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("SECURITY") && err.contains("fork: tree 3 does not extend tree 2"),
        "{err}"
    );
    assert_eq!(snapshot_state(&s.w), state);
}

#[test]
fn a_rollback_to_a_smaller_tree_is_a_security_error() {
    let s = setup();
    let state = s.remember();
    let entries = s.w.entries();
    let old = s.lying("rollback", &entries[..1]);
    let (code, out, err) = outcome(&s.w.verify_at(old.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(
            "rollback: the log now shows a tree of 1 entries, but a tree of 2 was seen before"
        ),
        "{err}"
    );
    assert_eq!(snapshot_state(&s.w), state);
}

#[test]
fn a_tampered_tile_is_caught_by_the_inclusion_proof() {
    let s = setup();
    let log = s.lying("tampered-tile", &s.w.entries());
    // Flip a bit of the first leaf hash: entry 1's proof uses it.
    log.flip(&log.tile_path(), 63);
    let (code, out, err) = outcome(&s.w.verify_at(log.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("do not prove it under the log's signed checkpoint")
            && err.contains("does not match its signed tree"),
        "{err}"
    );
    assert!(
        snapshot_state(&s.w).is_empty(),
        "nothing stored after a lie"
    );
}

#[test]
fn a_tampered_entry_bundle_is_caught_by_the_inclusion_proof() {
    let s = setup();
    let log = s.lying("tampered-bundle", &s.w.entries());
    // A bit inside the last entry (alice's attestation): the bytes are not the logged ones.
    log.flip(&log.bundle_path(), 30);
    let (code, out, err) = outcome(&s.w.verify_at(log.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("entry 1: the log's tiles and entry bundle do not prove it"),
        "{err}"
    );
    assert!(snapshot_state(&s.w).is_empty());
}

#[test]
fn an_attestation_for_a_different_digest_does_not_count() {
    let s = setup();
    let log = s.lying("wrong-digest", &s.w.entries());
    // The log claims alice's attestation of ART is about other bytes, and signs an index that
    // says so (its proofs hold; only the entry itself gives the lie away).
    let other = sha256(b"some other bytes");
    let alice = s.alice.verifier();
    log.sign_changed_index(|lists| {
        lists.insert(signed_by(IndexKey::Artifact(other), &alice), vec![1]);
    });
    let digest = format!("sha256:{}", hex::encode(other));
    let (code, out, err) = outcome(&s.w.verify_at(log.url(), &s.policy, &["--digest", &digest]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("index 1 (operator alice, key alice.example+"),
        "{out}"
    );
    assert!(
        out.contains("does not attest this artifact's sha256"),
        "{out}"
    );
}

#[test]
fn an_unknown_or_expired_predicate_type_is_rejected_and_said_so() {
    let s = setup();
    let mut entries = s.w.entries();
    // Signed by a trusted key, but of a predicate type this verifier does not know (an old
    // version): a real ledger refuses it, a lying one serves it.
    let statement = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"a.tar.gz","digest":{{"sha256":"{}"}}}}],"predicateType":"https://reprove.dev/rebuild/v0","predicate":{{"result":"reproduced"}}}}"#,
        hex::encode(sha256(ART))
    );
    entries[1] = envelope(&s.alice, statement.as_bytes());
    let log = s.lying("unknown-type", &entries);
    let alice = s.alice.verifier();
    log.sign_changed_index(|lists| {
        lists.insert(signed_by(IndexKey::Artifact(sha256(ART)), &alice), vec![1]);
    });
    let (code, out, err) = outcome(&s.w.verify_at(log.url(), &s.policy, &[&s.file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("rejected:    index 1: entry is not a reprove entry")
            && out.contains("https://reprove.dev/rebuild/v0"),
        "{out}"
    );
    // Nothing else names the bytes for this policy: not trusted, with the reason shown.
    assert!(out.contains("NOT TRUSTED"), "{out}");
}

/// The tile cache keeps only what a proof that verified used, and a cached tile that no longer
/// proves is evicted and fetched again once: one lying mirror cannot make every later run
/// blame the honest log.
#[test]
fn the_tile_cache_holds_only_proven_tiles_and_heals_from_a_bad_one() {
    let s = setup();
    // 256 entries: tile 0 and bundle 0 become full, the kind the disk cache keeps.
    let publisher = key("publisher.example", 1);
    for i in 0..254 {
        s.w.release(&publisher, &format!("filler-{i}"), "1", &[("f", b"f")]);
    }
    assert_eq!(s.w.entries().len(), 256);
    let cache = s.w.path("cache");
    let cached_tile = || {
        walk(&cache).into_iter().find(|p| {
            p.to_string_lossy().contains("/tile/0/000") && !p.to_string_lossy().contains(".p")
        })
    };
    // The honest log: verified, and its tile cached.
    let (code, out, err) = outcome(&s.w.verify(&s.policy, &[&s.file]));
    assert_eq!(code, 0, "{out}{err}");
    let tile = cached_tile().expect("the proven tile is cached");
    let honest = std::fs::read(&tile).unwrap();
    // The cached tile goes bad (as a poisoned cache would): the next run evicts it, fetches it
    // again, verifies, and the cache holds the honest bytes again.
    let mut bad = honest.clone();
    bad[40] ^= 1;
    std::fs::write(&tile, &bad).unwrap();
    let (code, out, err) = outcome(&s.w.verify(&s.policy, &[&s.file]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(std::fs::read(&tile).unwrap(), honest);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
