//! `reprove verify` against a real ledger on 127.0.0.1: the policy decides (distinct operators,
//! threshold, untrusted keys, mismatches), and bad input is a clear error with exit 2.

use crate::common;
use crate::consumer;

use consumer::{Op, World, attestation, key, outcome, sha256, snapshot_state};
use reprove_verifier::predicates::RebuildResult;

const ART: &[u8] = b"hello world, the release artifact\n";

/// A release of `hello-1.0.tar.gz` (= ART) and attestations by `(key, result)`.
fn world_with(
    attesters: &[(&reprove_verifier::note::NoteSigner, RebuildResult)],
) -> (World, String) {
    let w = World::new();
    let publisher = key("publisher.example", 1);
    let arts = [("hello-1.0.tar.gz", ART)];
    let (ri, renv) = w.release(&publisher, "hello", "1.0", &arts);
    for (k, result) in attesters {
        w.add_signed(k, &attestation(ri, &renv, "hello", "1.0", &arts, *result));
    }
    let file = w.file("hello-1.0.tar.gz", ART);
    (w, file)
}

#[test]
fn two_distinct_operators_meet_a_threshold_of_two() {
    let (a, b) = (key("alice.example", 10), key("bob.example", 20));
    let (w, file) = world_with(&[
        (&a, RebuildResult::Reproduced),
        (&b, RebuildResult::Reproduced),
    ]);
    let policy = w.policy(
        "p.toml",
        2,
        "fail",
        &[Op::new("alice", &[&a]), Op::new("bob", &[&b])],
    );
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("TRUSTED"), "{out}");
    assert!(out.contains("counted:     operator alice"), "{out}");
    assert!(out.contains("counted:     operator bob"), "{out}");
    assert!(out.contains("release:     hello 1.0 (index 0"), "{out}");

    // The same by digest, as JSON.
    let digest = format!("sha256:{}", hex::encode(sha256(ART)));
    let (code, out, err) = outcome(&w.verify(&policy, &["--digest", &digest, "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["trusted"], true);
    assert_eq!(
        v["artifacts"][0]["verdict"]["operators"],
        serde_json::json!(["alice", "bob"])
    );
    assert_eq!(v["log"]["tree_size"], 3);
}

#[test]
fn two_keys_of_one_operator_count_once() {
    let (a1, a2, b) = (
        key("alice-1.example", 10),
        key("alice-2.example", 11),
        key("bob.example", 20),
    );
    let (w, file) = world_with(&[
        (&a1, RebuildResult::Reproduced),
        (&a2, RebuildResult::Reproduced),
    ]);
    let policy = w.policy(
        "p.toml",
        2,
        "fail",
        &[Op::new("alice", &[&a1, &a2]), Op::new("bob", &[&b])],
    );
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("NOT TRUSTED"), "{out}");
    assert!(out.contains("operator alice already counted once"), "{out}");
    assert!(
        out.contains("reproduced by 1 distinct operator(s), the policy requires 2"),
        "{out}"
    );
}

#[test]
fn threshold_not_met_is_exit_1_and_says_so() {
    let (a, b) = (key("alice.example", 10), key("bob.example", 20));
    let (w, file) = world_with(&[
        (&a, RebuildResult::Reproduced),
        (&b, RebuildResult::BuildFailed),
    ]);
    let policy = w.policy(
        "p.toml",
        2,
        "fail",
        &[Op::new("alice", &[&a]), Op::new("bob", &[&b])],
    );
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("result is build-failed, not reproduced"),
        "{out}"
    );
    assert!(out.contains("the policy requires 2"), "{out}");
}

/// Bytes no entry of the log names are "unknown to the log" (exit 1, a status of their own),
/// not "reproduced by 0 operators"; bytes only strangers wrote about are "not trusted".
#[test]
fn bytes_the_log_never_saw_are_unknown_to_it_not_reproduced_by_zero() {
    let (a, mallory) = (key("alice.example", 10), key("mallory.example", 66));
    let (w, _) = world_with(&[(&a, RebuildResult::Reproduced)]);
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    let stray = w.file("stray-1.0.tar.gz", b"bytes nobody published\n");
    let (code, out, err) = outcome(&w.verify(&policy, &[&stray]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("UNKNOWN TO THE LOG"), "{out}");
    assert!(out.contains("no entry in it names these bytes"), "{out}");
    assert!(!out.contains("reproduced by 0"), "{out}");
    let (code, out, _) = outcome(&w.verify(&policy, &[&stray, "--json"]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["artifacts"][0]["status"], "unknown", "{v}");
    assert_eq!(v["artifacts"][0]["trusted"], false, "{v}");

    // Known to the log, but only through a stranger's entries: not trusted, not unknown.
    let (w, file) = world_with(&[(&mallory, RebuildResult::Reproduced)]);
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    let (code, out, _) = outcome(&w.verify(&policy, &[&file, "--json"]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["artifacts"][0]["status"], "not-trusted", "{v}");
    // Trusted bytes say so too.
    let (w, file) = world_with(&[(&a, RebuildResult::Reproduced)]);
    let (code, out, _) = outcome(&w.verify(&policy_of(&w, &a), &[&file, "--json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["artifacts"][0]["status"], "trusted", "{v}");
}

fn policy_of(w: &World, a: &reprove_verifier::note::NoteSigner) -> std::path::PathBuf {
    w.policy("p.toml", 1, "fail", &[Op::new("alice", &[a])])
}

/// An attestation by a key the policy does not name is not fetched (lookups are scoped to the
/// policy's keys); the report says such entries exist.
#[test]
fn a_signature_by_an_untrusted_key_is_not_weighed_and_counted() {
    let (a, mallory) = (key("alice.example", 10), key("mallory.example", 66));
    let (w, file) = world_with(&[(&mallory, RebuildResult::Reproduced)]);
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        !out.contains("mallory.example")
            // Mallory's attestation, and the release no operator's attestation led to.
            && out.contains("not weighed: 2 more entries about these bytes by keys the policy does not name"),
        "{out}"
    );
}

#[test]
fn a_mismatch_from_a_trusted_operator_fails_by_default() {
    let (a, b) = (key("alice.example", 10), key("bob.example", 20));
    let (w, file) = world_with(&[
        (&a, RebuildResult::Reproduced),
        (&b, RebuildResult::Mismatch),
    ]);
    let policy = w.policy(
        "p.toml",
        1,
        "fail",
        &[Op::new("alice", &[&a]), Op::new("bob", &[&b])],
    );
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("not trusted: mismatch reported by trusted operator(s) bob"),
        "{out}"
    );
    assert!(
        out.contains("MISMATCH:    operator bob (index 2) rebuilt sha256:eeee"),
        "{out}"
    );
}

#[test]
fn a_mismatch_only_warns_when_the_policy_says_warn() {
    let (a, b) = (key("alice.example", 10), key("bob.example", 20));
    let (w, file) = world_with(&[
        (&a, RebuildResult::Reproduced),
        (&b, RebuildResult::Mismatch),
    ]);
    let policy = w.policy(
        "p.toml",
        1,
        "warn",
        &[Op::new("alice", &[&a]), Op::new("bob", &[&b])],
    );
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("warning:     operator bob reported a mismatch at index 2 (policy: warn)"),
        "{out}"
    );
}

#[test]
fn a_checkpoint_under_the_wrong_log_key_is_an_error() {
    let a = key("alice.example", 10);
    let (w, file) = world_with(&[(&a, RebuildResult::Reproduced)]);
    // Same origin, another key.
    let other = reprove_verifier::note::NoteSigner::from_seed(common::ORIGIN, &[77; 32]).unwrap();
    let text = consumer::policy_text(
        &other.verifier().to_string(),
        &w.url,
        1,
        "fail",
        &[Op::new("alice", &[&a])],
    );
    let policy = w.path("wrong.toml");
    std::fs::write(&policy, text).unwrap();
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("does not verify under the policy"), "{err}");
    assert!(snapshot_state(&w).is_empty(), "nothing may be stored");
}

#[test]
fn a_malformed_policy_is_a_clear_error_and_writes_nothing() {
    let a = key("alice.example", 10);
    let (w, file) = world_with(&[(&a, RebuildResult::Reproduced)]);
    let cases: [(&str, &str); 4] = [
        ("threshold = \"two\"\n", "is not valid"),
        ("this is not toml", "is not valid"),
        (
            &format!(
                "threshold = 1\n[log]\norigin = \"{}\"\nkey = \"not-a-key\"\n",
                common::ORIGIN
            ),
            "log.key: not a valid key",
        ),
        (
            &format!(
                "threshold = 3\n[log]\norigin = \"{}\"\nkey = \"{}\"\n[[operator]]\nname = \"a\"\nkeys = [\"{}\"]\n",
                common::ORIGIN,
                w.log_vkey,
                a.verifier()
            ),
            "threshold 3 can never be met",
        ),
    ];
    for (text, want) in cases {
        let policy = w.path("bad.toml");
        std::fs::write(&policy, text).unwrap();
        let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
        assert_eq!(code, 2, "{text}: {out}{err}");
        assert!(
            err.contains("bad.toml is not valid") && err.contains(want),
            "{text}: {err}"
        );
        assert!(snapshot_state(&w).is_empty());
    }
    // A missing policy file, a missing artifact, a bad digest, an unreachable ledger.
    let good = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    let missing = w.path("nope.toml");
    let (code, _, err) = outcome(&w.verify(&missing, &[&file]));
    assert_eq!(code, 2);
    assert!(err.contains("reading the policy"), "{err}");
    let (code, _, err) = outcome(&w.verify(&good, &["/nonexistent/file"]));
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/file"), "{err}");
    let (code, _, err) = outcome(&w.verify(&good, &["--digest", "sha256:xyz"]));
    assert_eq!(code, 2);
    assert!(err.contains("is not a digest"), "{err}");
    let (code, _, err) = outcome(&w.verify_at("http://127.0.0.1:9", &good, &[&file]));
    assert_eq!(code, 2);
    assert!(err.contains("fetching the checkpoint"), "{err}");
    assert!(snapshot_state(&w).is_empty());
}

/// With `--json`, an error (exit 2) is also one JSON line on stdout: `error` and `causes`.
#[test]
fn with_json_an_error_is_json_on_stdout_too() {
    let w = World::new();
    let missing = w.path("no-such-policy.toml");
    let file = w.file("a.tar.gz", ART);
    let (code, out, err) = outcome(&w.verify(&missing, &[&file, "--json"]));
    assert_eq!(code, 2, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON line on stdout");
    let text = format!("{} {}", v["error"], v["causes"]);
    assert!(text.contains("no-such-policy.toml"), "{v}");
    assert!(v["causes"].is_array(), "{v}");
    assert!(err.starts_with("error: "), "{err}");
    // Without --json, stdout stays empty.
    let (code, out, _) = outcome(&w.verify(&missing, &[&file]));
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
}
