//! Offline verification: `reprove bundle` collects a release's entries with their tlog-proofs,
//! and `reprove verify --bundle` needs no network. A bundle that lies is an error.

use crate::consumer;

use consumer::{Op, World, attestation, key, outcome, revocation, run};
use reprove_verifier::predicates::{RebuildResult, RevocationReason};

const ART: &[u8] = b"offline artifact\n";
const ARTS: [(&str, &[u8]); 1] = [("o.tar.gz", ART)];

/// A release (0), alice and bob reproduce it (1, 2), carol's notice (3), and a bundle of it.
fn setup() -> (World, std::path::PathBuf, String, std::path::PathBuf) {
    let w = World::new();
    let (alice, bob, carol) = (
        key("alice.example", 10),
        key("bob.example", 20),
        key("carol.example", 30),
    );
    let (ri, renv) = w.release(&key("publisher.example", 1), "o", "2.0", &ARTS);
    w.add_signed(
        &alice,
        &attestation(ri, &renv, "o", "2.0", &ARTS, RebuildResult::Reproduced),
    );
    w.add_signed(
        &bob,
        &attestation(ri, &renv, "o", "2.0", &ARTS, RebuildResult::Reproduced),
    );
    w.add_signed(
        &carol,
        &revocation(&carol, RevocationReason::Retired, None, None),
    );
    let policy = w.policy(
        "p.toml",
        2,
        "fail",
        &[
            Op::new("alice", &[&alice]),
            Op::new("bob", &[&bob]),
            Op::new("carol", &[&carol]),
        ],
    );
    let out = w.path("o.bundle");
    let args: Vec<String> = [
        "bundle",
        "o@2.0",
        "--policy",
        policy.to_str().unwrap(),
        "--ledger",
        &w.url,
        "-o",
        out.to_str().unwrap(),
        "--state",
        w.state().to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, stdout, err) = outcome(&run(&args, w.dir.path()));
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains("4 entries") && stdout.contains("at tree size 4"),
        "{stdout}"
    );
    let file = w.file("o.tar.gz", ART);
    (w, policy, file, out)
}

fn verify_offline(
    w: &World,
    policy: &std::path::Path,
    file: &str,
    bundle: &std::path::Path,
) -> (i32, String, String) {
    let args: Vec<String> = [
        "verify",
        file,
        "--policy",
        policy.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "--state",
        w.state().to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    outcome(&run(&args, w.dir.path()))
}

#[test]
fn a_bundle_verifies_with_the_network_unreachable() {
    let (mut w, policy, file, bundle) = setup();
    w.server.take().unwrap().kill(); // the log is gone
    let (code, out, err) = verify_offline(&w, &policy, &file, &bundle);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("counted:     operator alice") && out.contains("counted:     operator bob"),
        "{out}"
    );
    assert!(
        out.contains("revoked:     key carol.example+"),
        "the notice travels in the bundle: {out}"
    );
    assert!(out.contains("(offline bundle, as of tree size 4"), "{out}");
    // And online, against the dead log, it is an error: the offline run used no network.
    let (code, _, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 2);
    assert!(err.contains("fetching the checkpoint"), "{err}");
}

#[test]
fn a_bundle_with_a_proof_for_another_index_is_refused() {
    let (w, policy, file, bundle) = setup();
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    // Swap the proofs of entries 1 and 2.
    let p1 = v["entries"][1]["proof"].clone();
    v["entries"][1]["proof"] = v["entries"][2]["proof"].clone();
    v["entries"][2]["proof"] = p1;
    let swapped = w.path("swapped.bundle");
    std::fs::write(&swapped, serde_json::to_vec(&v).unwrap()).unwrap();
    let (code, out, err) = verify_offline(&w, &policy, &file, &swapped);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("the proof is for index 2, the entry is at 1"),
        "{err}"
    );

    // Claim entry 2's bytes are entry 1: its inclusion proof fails.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    v["entries"][1]["entry"] = v["entries"][2]["entry"].clone();
    let moved = w.path("moved.bundle");
    std::fs::write(&moved, serde_json::to_vec(&v).unwrap()).unwrap();
    let (code, out, err) = verify_offline(&w, &policy, &file, &moved);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("entry 1: its proof does not verify") && err.contains("inclusion proof"),
        "{err}"
    );

    // Not a bundle at all, or another version of the format.
    let junk = w.path("junk.bundle");
    std::fs::write(
        &junk,
        br#"{"format":"https://reprove.dev/bundle/v9","entries":[],"lookups":[]}"#,
    )
    .unwrap();
    let (code, _, err) = verify_offline(&w, &policy, &file, &junk);
    assert_eq!(code, 2);
    assert!(
        err.contains("bundle format \"https://reprove.dev/bundle/v9\" is not supported"),
        "{err}"
    );
}

#[test]
fn a_bundle_is_one_checkpoint_and_not_older_than_what_the_consumer_saw() {
    let (w, policy, file, bundle) = setup();
    // Later, carol's replacement... no: bob reports a mismatch, and a second bundle is made.
    let bob = key("bob.example", 20);
    let (ri, renv) = (0, w.entries()[0].clone());
    w.add_signed(
        &bob,
        &attestation(ri, &renv, "o", "2.0", &ARTS, RebuildResult::Mismatch),
    );
    let newer = w.path("newer.bundle");
    let args: Vec<String> = [
        "bundle",
        "o@2.0",
        "--policy",
        policy.to_str().unwrap(),
        "--ledger",
        &w.url,
        "-o",
        newer.to_str().unwrap(),
        "--state",
        w.path("other-state").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, out, err) = outcome(&run(&args, w.dir.path()));
    assert_eq!(code, 0, "{out}{err}");
    // Entries picked from both bundles, proven under two trees: refused.
    let old: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let mut mixed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&newer).unwrap()).unwrap();
    mixed["entries"][0] = old["entries"][0].clone();
    let mixed_path = w.path("mixed.bundle");
    std::fs::write(&mixed_path, serde_json::to_vec(&mixed).unwrap()).unwrap();
    let (code, out, err) = verify_offline(&w, &policy, &file, &mixed_path);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("proven under 2 different checkpoints"),
        "{err}"
    );
    // The newer bundle says what it is as of, and carries the mismatch.
    let (code, out, err) = verify_offline(&w, &policy, &file, &newer);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("MISMATCH"), "{out}");
    assert!(
        out.contains("as of tree size 5: proven complete up to that tree"),
        "{out}"
    );
    // Once this consumer has seen the log at size 5 (online), the old bundle — made before the
    // mismatch — is refused instead of trusted.
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 1, "{out}{err}");
    let (code, out, err) = verify_offline(&w, &policy, &file, &bundle);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("older than the checkpoint this consumer already verified"),
        "{err}"
    );
}

/// `--ledger` with `--bundle` is refused (it would be unused), but a ledger that comes from
/// `REPROVE_LEDGER` or the config file is only a default: an offline verify still works.
#[test]
fn a_ledger_from_the_environment_does_not_stop_an_offline_verify() {
    let (w, policy, file, bundle) = setup();
    let home = w.dir.path();
    let config = w.path("config.toml");
    std::fs::write(&config, format!("ledger = \"{}\"\n", w.url)).unwrap();
    let verify = |extra: &[&str], env: &[(&str, &str)]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_reprove"))
            .args(["verify", &file, "--policy", policy.to_str().unwrap()])
            .args(["--bundle", bundle.to_str().unwrap()])
            .args(["--state", w.state().to_str().unwrap()])
            .args(extra)
            .env("NO_COLOR", "1")
            .env("HOME", home)
            .env("XDG_CACHE_HOME", home.join("xdg-cache"))
            .env_remove("REPROVE_LEDGER")
            .env("REPROVE_CONFIG", home.join("no-config.toml"))
            .envs(env.iter().copied())
            .output()
            .unwrap();
        outcome(&o)
    };
    let (code, out, err) = verify(&[], &[("REPROVE_LEDGER", w.url.as_str())]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = verify(&[], &[("REPROVE_CONFIG", config.to_str().unwrap())]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = verify(&["--ledger", &w.url], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--ledger has no use with --bundle"), "{err}");
}
