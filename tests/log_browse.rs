//! `reprove log show|tail` against a real ledger on 127.0.0.1: every listed entry proven and
//! signature-checked, its signer named and whether the policy names it; nothing decided; bad
//! input is exit 2.

use crate::consumer;

use consumer::{Op, World, attestation, key, outcome, run};
use reprove_verifier::predicates::RebuildResult;

const ART: &[u8] = b"the artifact of hello 1.0\n";

/// `reprove log <args…>` in the world, against its ledger, with its state and cache.
fn log(w: &World, policy: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = vec!["log".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    for (flag, value) in [
        ("--policy", policy.display().to_string()),
        ("--ledger", w.url.clone()),
        ("--state", w.state().display().to_string()),
        ("--cache", w.path("cache").display().to_string()),
    ] {
        all.push(flag.into());
        all.push(value);
    }
    outcome(&run(&all, w.dir.path()))
}

#[test]
fn a_release_and_the_newest_entries_are_listed_proven_with_their_signers() {
    let w = World::new();
    let (alice, mallory) = (key("alice.example", 10), key("mallory.example", 66));
    let arts = [("hello-1.0.tar.gz", ART)];
    let (ri, renv) = w.release(&key("publisher.example", 1), "hello", "1.0", &arts);
    for (k, result) in [
        (&alice, RebuildResult::Reproduced),
        (&mallory, RebuildResult::Mismatch),
    ] {
        w.add_signed(k, &attestation(ri, &renv, "hello", "1.0", &arts, result));
    }
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&alice])]);

    let (code, out, err) = log(&w, &policy, &["show", "hello@1.0"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("tree size 3"), "{out}");
    assert!(
        out.contains("#0        release    hello 1.0 (1 artifact)"),
        "{out}"
    );
    assert!(
        out.contains("hello 1.0: reproduced  signed by alice.example+")
            && out.contains("(operator alice)"),
        "{out}"
    );
    assert!(
        out.contains("hello 1.0: mismatch  signed by mallory.example+")
            && out.contains("(not named by the policy)"),
        "{out}"
    );

    let (code, out, err) = log(&w, &policy, &["tail", "-n", "2", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{v}");
    assert_eq!(entries[0]["index"], 1);
    assert_eq!(entries[0]["kind"], "rebuild");
    assert_eq!(entries[0]["policy_names"], "operator alice");
    assert!(entries[1].get("policy_names").is_none(), "{v}");
    assert_eq!(v["log"]["tree_size"], 3);

    // A release the log does not hold: nothing listed, not an error.
    let (code, out, _) = log(&w, &policy, &["show", "absent@9"]);
    assert_eq!(code, 0);
    assert!(out.contains("no entries"), "{out}");
}

#[test]
fn bad_arguments_exit_2_and_say_why() {
    let w = World::new();
    let alice = key("alice.example", 10);
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&alice])]);
    for (args, needle) in [
        (&["show", "no-version"][..], "NAME@VERSION"),
        (&["tail", "-n", "0"][..], "1..=1000"),
        (&["tail", "-n", "1001"][..], "1..=1000"),
    ] {
        let (code, out, err) = log(&w, &policy, args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}
