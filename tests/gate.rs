//! `reprove gate NAME@VERSION`: exit 0 only when every artifact of the release satisfies the
//! policy; with --wait, poll (bounded) until rebuilders catch up.

use crate::common;
use crate::consumer;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use consumer::{Op, World, attestation, key, outcome, run};
use reprove_verifier::predicates::RebuildResult;

const ARTS: [(&str, &[u8]); 2] = [
    ("g.tar.gz", b"gate source\n"),
    ("g-linux", b"gate binary\n"),
];

fn gate_args(w: &World, policy: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "gate",
        "g@3.1",
        "--policy",
        policy.to_str().unwrap(),
        "--ledger",
        &w.url,
        "--state",
        w.state().to_str().unwrap(),
        "--cache",
        w.path("cache").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn the_gate_passes_only_when_every_artifact_is_reproduced() {
    let w = World::new();
    let (alice, bob) = (key("alice.example", 10), key("bob.example", 20));
    let policy = w.policy(
        "p.toml",
        2,
        "fail",
        &[Op::new("alice", &[&alice]), Op::new("bob", &[&bob])],
    );
    // No release yet: not passed, and said so.
    let (code, out, err) = outcome(&run(&gate_args(&w, &policy, &[]), w.dir.path()));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("no release manifest for it"), "{out}");

    let (ri, renv) = w.release(&key("publisher.example", 1), "g", "3.1", &ARTS);
    w.add_signed(
        &alice,
        &attestation(ri, &renv, "g", "3.1", &ARTS, RebuildResult::Reproduced),
    );
    // bob reproduced only the source tarball.
    w.add_signed(
        &bob,
        &attestation(ri, &renv, "g", "3.1", &ARTS[..1], RebuildResult::Reproduced),
    );
    let (code, out, err) = outcome(&run(&gate_args(&w, &policy, &[]), w.dir.path()));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("g.tar.gz  sha256:") && out.contains("g-linux  sha256:"),
        "{out}"
    );
    assert!(
        out.contains("gate g@3.1: NOT PASSED (1 of 2 artifact(s) trusted"),
        "{out}"
    );

    w.add_signed(
        &bob,
        &attestation(ri, &renv, "g", "3.1", &ARTS, RebuildResult::Reproduced),
    );
    let (code, out, err) = outcome(&run(&gate_args(&w, &policy, &["--json"]), w.dir.path()));
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["trusted"], true);
    assert_eq!(v["artifacts"].as_array().unwrap().len(), 2);
    assert_eq!(v["manifests"][0]["index"], ri);

    // Bad input: not NAME@VERSION, a bad --wait.
    let mut bad = gate_args(&w, &policy, &[]);
    bad[1] = "no-version".into();
    let (code, _, err) = outcome(&run(&bad, w.dir.path()));
    assert_eq!(code, 2);
    assert!(err.contains("is not NAME@VERSION"), "{err}");
    let (code, _, err) = outcome(&run(
        &gate_args(&w, &policy, &["--wait", "5 days"]),
        w.dir.path(),
    ));
    assert_eq!(code, 2);
    assert!(err.contains("is not a duration"), "{err}");
}

#[test]
fn the_gate_waits_for_rebuilders_to_catch_up() {
    let w = World::new();
    let (alice, bob) = (key("alice.example", 10), key("bob.example", 20));
    let policy = w.policy(
        "p.toml",
        2,
        "fail",
        &[Op::new("alice", &[&alice]), Op::new("bob", &[&bob])],
    );
    let (ri, renv) = w.release(&key("publisher.example", 1), "g", "3.1", &ARTS);
    w.add_signed(
        &alice,
        &attestation(ri, &renv, "g", "3.1", &ARTS, RebuildResult::Reproduced),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_reprove"))
        .args(gate_args(
            &w,
            &policy,
            &["--wait", "120s", "--interval", "1", "--json"],
        ))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the gate must still be waiting"
    );
    w.add_signed(
        &bob,
        &attestation(ri, &renv, "g", "3.1", &ARTS, RebuildResult::Reproduced),
    );
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < common::WAIT, "the gate did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
    let (code, out, err) = outcome(&o);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["checks"].as_u64().unwrap() >= 2, "{out}");
    assert!(
        err.contains("gate g@3.1: 0 of 2 artifact(s) trusted; checking again"),
        "{err}"
    );
}
