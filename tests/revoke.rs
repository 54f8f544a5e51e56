//! Key revocation end to end: `reprove key revoke` appends signed notices to a real ledger,
//! and `reprove verify` applies them (effective index, recovery keys, rotation, strangers).

use crate::consumer;

use consumer::{Op, World, attestation, key, outcome, revocation, run};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::{RebuildResult, RevocationReason};

const ART: &[u8] = b"revocation test artifact\n";
const ARTS: [(&str, &[u8]); 1] = [("r.tar.gz", ART)];

struct Setup {
    w: World,
    release: (u64, Vec<u8>),
    file: String,
}

fn setup() -> Setup {
    let w = World::new();
    let release = w.release(&key("publisher.example", 1), "r", "1", &ARTS);
    let file = w.file("r.tar.gz", ART);
    Setup { w, release, file }
}

impl Setup {
    /// `k` attests `result` (each test uses each (signer, result) once: a repeat would be a
    /// duplicate of the same bytes).
    fn attest(&self, k: &NoteSigner, result: RebuildResult) -> u64 {
        let (ri, renv) = &self.release;
        self.w
            .add_signed(k, &attestation(*ri, renv, "r", "1", &ARTS, result))
    }

    fn key_file(&self, k: &NoteSigner) -> String {
        let p = self.w.path(&format!("{}.key", k.name()));
        std::fs::write(&p, format!("{}\n", k.to_private_key_string())).unwrap();
        p.display().to_string()
    }

    fn revoke(&self, args: &[&str]) -> (i32, String, String) {
        let mut all: Vec<String> = [
            "key",
            "revoke",
            "--ledger",
            &self.w.url,
            "--log-key",
            &self.w.log_vkey,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        all.extend(args.iter().map(|s| s.to_string()));
        outcome(&run(&all, self.w.dir.path()))
    }

    fn verify_json(&self, policy: &std::path::Path) -> (i32, serde_json::Value, String) {
        let (code, out, err) = outcome(&self.w.verify(policy, &[&self.file, "--json"]));
        let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        (code, v, err)
    }
}

#[test]
fn a_compromised_key_counts_before_the_notice_and_not_after() {
    let s = setup();
    let (alice, bob) = (key("alice.example", 10), key("bob.example", 20));
    let a1 = s.attest(&alice, RebuildResult::Reproduced); // before alice's notice: counts
    let (code, out, err) = s.revoke(&["--key", &s.key_file(&alice), "--reason", "compromised"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("logged at index 2") && out.contains("inclusion verified"),
        "{out}"
    );
    let (code, out, err) = s.revoke(&[
        "--key",
        &s.key_file(&bob),
        "--reason",
        "compromised",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let bob_notice: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(bob_notice["index"], 3);
    let b1 = s.attest(&bob, RebuildResult::Reproduced); // after bob's notice: rejected

    let policy = s.w.policy(
        "p.toml",
        2,
        "fail",
        &[Op::new("alice", &[&alice]), Op::new("bob", &[&bob])],
    );
    let (code, v, _) = s.verify_json(&policy);
    assert_eq!(code, 1);
    let verdict = &v["artifacts"][0]["verdict"];
    assert_eq!(verdict["counted"][0]["index"], a1);
    assert_eq!(verdict["counted"][0]["operator"], "alice");
    let nc = &verdict["not_counted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["index"] == b1)
        .unwrap()["reason"];
    assert_eq!(nc["kind"], "key-revoked");
    assert_eq!(nc["notice_index"], 3);
    assert_eq!(nc["effective_index"], 3);
    assert_eq!(verdict["revocations"].as_array().unwrap().len(), 2);
}

#[test]
fn a_later_effective_index_keeps_earlier_attestations_valid_for_retired_keys() {
    let s = setup();
    let alice = key("alice.example", 10);
    // Notice first (index 1), effective from index 5: an attestation at index 2 still counts.
    let (code, out, err) = s.revoke(&[
        "--key",
        &s.key_file(&alice),
        "--reason",
        "retired",
        "--effective-index",
        "5",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    s.attest(&alice, RebuildResult::Reproduced);
    let policy =
        s.w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&alice])]);
    let (code, out, err) = outcome(&s.w.verify(&policy, &[&s.file]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("revoked:     key alice.example+")
            && out.contains("(retired) from index 5 (notice at index 1)"),
        "{out}"
    );
}

/// A stranger's notice about a policy key is not even fetched: revocation lookups are scoped to
/// the key itself and the policy's recovery keys (`?signer=`).
#[test]
fn a_notice_signed_by_a_stranger_is_not_weighed() {
    let s = setup();
    let (alice, mallory) = (key("alice.example", 10), key("mallory.example", 66));
    s.w.add_signed(
        &mallory,
        &revocation(&alice, RevocationReason::Compromised, Some(0), None),
    );
    s.attest(&alice, RebuildResult::Reproduced);
    let policy =
        s.w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&alice])]);
    let (code, out, err) = outcome(&s.w.verify(&policy, &[&s.file]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains("revoked:") && !out.contains("index 1"),
        "{out}"
    );
    let out = s.w.verify(&policy, &[&s.file, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdict = &v["artifacts"][0]["verdict"];
    assert_eq!(verdict["revocations"], serde_json::json!([]));
    assert_eq!(verdict["ignored_revocations"], serde_json::json!([]));
}

#[test]
fn the_operators_recovery_key_revokes_a_key_it_does_not_hold() {
    let s = setup();
    let (alice, recovery) = (key("alice.example", 10), key("alice-recovery.example", 12));
    let alice_pub = alice.verifier().to_string();
    // Without --recovery-key, a vkey is not enough to sign: a clear error, nothing logged.
    let (code, _, err) = s.revoke(&["--key", &alice_pub, "--reason", "compromised"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--key must be the revoked key's private key file"),
        "{err}"
    );
    let (code, out, err) = s.revoke(&[
        "--key",
        &alice_pub,
        "--reason",
        "compromised",
        "--recovery-key",
        &s.key_file(&recovery),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("logged at index 1") && out.contains("signed by alice-recovery.example+"),
        "{out}"
    );
    s.attest(&alice, RebuildResult::Reproduced); // index 2, after the notice
    let mut op = Op::new("alice", &[&alice]);
    op.recovery = Some(&recovery);
    let policy = s.w.policy("p.toml", 1, "fail", &[op]);
    let (code, out, err) = outcome(&s.w.verify(&policy, &[&s.file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("key revoked (compromised) by the notice at index 1, effective from index 1"),
        "{out}"
    );
    // A policy that names no recovery key does not weigh the same notice (nor fetch it).
    let policy =
        s.w.policy("q.toml", 1, "fail", &[Op::new("alice", &[&alice])]);
    let (code, out, _) = outcome(&s.w.verify(&policy, &[&s.file]));
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("revoked:"), "{out}");
}

#[test]
fn a_superseded_key_is_replaced_only_where_the_policy_allows_rotation() {
    let s = setup();
    let (old, new) = (key("alice-old.example", 10), key("alice-new.example", 11));
    let (code, _, err) = s.revoke(&["--key", &s.key_file(&old), "--reason", "superseded"]);
    assert_eq!(code, 2, "superseded needs a replacement");
    assert!(err.contains("the revocation notice is not valid"), "{err}");
    let (code, out, err) = s.revoke(&[
        "--key",
        &s.key_file(&old),
        "--reason",
        "superseded",
        "--replacement",
        &new.verifier().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("logged at index 1"),
        "the refused notice was not logged: {out}"
    );
    s.attest(&new, RebuildResult::Reproduced);
    let mut op = Op::new("alice", &[&old]);
    op.allow_rotation = true;
    let policy = s.w.policy("p.toml", 1, "fail", &[op]);
    let (code, out, err) = outcome(&s.w.verify(&policy, &[&s.file]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("counted:     operator alice (index 2, key alice-new.example+"),
        "{out}"
    );
    assert!(out.contains("replaced by alice-new.example+"), "{out}");

    let policy =
        s.w.policy("q.toml", 1, "fail", &[Op::new("alice", &[&old])]);
    let (code, out, _) = outcome(&s.w.verify(&policy, &[&s.file]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the policy does not allow rotation for it"),
        "{out}"
    );
}

/// On a terminal, `key revoke` shows the notice and asks first: anything but yes appends
/// nothing (exit 2); yes, or `--yes`, appends it. (Without a terminal it never asks: every
/// other test here.) The terminal is `script`'s pseudo-terminal.
#[test]
fn on_a_terminal_revoke_asks_before_appending() {
    let s = setup();
    let alice = key("alice.example", 21);
    let alice_key = s.key_file(&alice);
    let args = [
        "key",
        "revoke",
        "--ledger",
        &s.w.url,
        "--log-key",
        &s.w.log_vkey,
        "--key",
        &alice_key,
        "--reason",
        "retired",
    ];
    let on_a_terminal = |extra: &[&str], typed: &str| {
        let command: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_reprove"))
            .chain(args.iter().copied())
            .chain(extra.iter().copied())
            .map(|a| format!("'{a}'"))
            .collect();
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command.join(" "), "/dev/null"])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(typed.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            crate::common::text(&o.stdout),
            crate::common::text(&o.stderr)
        );
        (o.status.code(), said)
    };
    let before = s.w.entries().len();
    let (code, said) = on_a_terminal(&[], "n\n");
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.contains("[y/N]") && said.contains("alice.example+"),
        "{said}"
    );
    assert!(said.contains("nothing was appended"), "{said}");
    assert_eq!(s.w.entries().len(), before, "declined: nothing logged");

    let (code, said) = on_a_terminal(&[], "y\n");
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("logged at index"), "{said}");
    assert_eq!(s.w.entries().len(), before + 1);

    let (code, said) = on_a_terminal(&["--yes", "--comment", "again"], "");
    assert_eq!(code, Some(0), "{said}");
    assert!(!said.contains("[y/N]"), "{said}");
    assert_eq!(s.w.entries().len(), before + 2);
}
