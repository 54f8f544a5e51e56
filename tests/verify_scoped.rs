//! What decides is asked for by signer: strangers' entries under the same artifact, release or
//! key are neither fetched nor weighed, so they cannot crowd out (or stand in for) the ones that
//! decide. Also the policy's `max_checkpoint_age` (witness timestamps) and
//! `require_online_recheck` for bundles. Real ledgers on 127.0.0.1 (and the static test log for
//! cosigned checkpoints), the real `reprove`.

use crate::common;
use crate::consumer;

use std::path::Path;

use common::{agent, get};
use consumer::{Op, StaticLog, World, attestation, key, outcome, revocation, run};
use reprove_verifier::checkpoint::{Checkpoint, add_cosignatures, cosign};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::{RebuildResult, RevocationReason};

const GOOD: &[u8] = b"hello 1.2.0, as its publisher built it\n";

/// Appends a `[[publisher]]` trusting `vkey` for `hello`.
fn pin(policy: &Path, vkey: &str) {
    let mut text = std::fs::read_to_string(policy).unwrap();
    text.push_str(&format!(
        "\n[[publisher]]\nname = \"hello team\"\nprojects = [\"hello\"]\nkeys = [\"{vkey}\"]\n"
    ));
    std::fs::write(policy, text).unwrap();
}

/// Puts top-level `lines` at the start of the policy file (before its first table).
fn prepend(policy: &Path, lines: &str) {
    let text = std::fs::read_to_string(policy).unwrap();
    std::fs::write(policy, format!("{lines}\n{text}")).unwrap();
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn hex_vkey(k: &NoteSigner) -> String {
    hex::encode(k.verifier().to_string())
}

/// The indices `GET url` lists (a lookup page), or its status when not 200.
fn lookup(url: &str) -> Result<Vec<u64>, u16> {
    let (status, body) = get(&agent(), url);
    if status != 200 {
        return Err(status);
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    Ok(v["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect())
}

#[test]
fn strangers_entries_under_an_artifact_or_a_key_are_neither_fetched_nor_weighed() {
    let w = World::new();
    let a = key("alice.example", 10);
    let publisher = key("publisher.example", 1);
    let mallory = key("mallory.example", 66);
    let good = [("hello-1.2.0.tar.gz", GOOD)];
    let (gi, genv) = w.release(&publisher, "hello", "1.2.0", &good);
    let att = attestation(
        gi,
        &genv,
        "hello",
        "1.2.0",
        &good,
        RebuildResult::Reproduced,
    );
    let ai = w.add_signed(&a, &att);
    // Mallory piles entries under the artifact (her own attestations of it) and under alice's
    // key (notices "revoking" it, which only alice or her recovery key could issue).
    for result in [
        RebuildResult::Reproduced,
        RebuildResult::BuildFailed,
        RebuildResult::InputsUnavailable,
    ] {
        w.add_signed(
            &mallory,
            &attestation(gi, &genv, "hello", "1.2.0", &good, result),
        );
    }
    let mut junk_notices = Vec::new();
    for i in 0..3 {
        junk_notices.push(w.add_signed(
            &mallory,
            &revocation(&a, RevocationReason::Compromised, Some(i), None),
        ));
    }
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    pin(&policy, &publisher.verifier().to_string());
    let file = w.file("hello-1.2.0.tar.gz", GOOD);

    let out = w.verify(&policy, &[&file, "--json"]);
    let (code, stdout, err) = outcome(&out);
    assert_eq!(code, 0, "{stdout}{err}");
    let v = json(&out);
    let art = &v["artifacts"][0];
    assert_eq!(art["verdict"]["counted"][0]["index"], ai);
    // Nothing of mallory's was fetched: no ignored notice, no entry not counted.
    assert_eq!(art["verdict"]["ignored_revocations"], serde_json::json!([]));
    assert_eq!(art["verdict"]["not_counted"], serde_json::json!([]));
    // Her attestations are only counted, from the log's word.
    assert_eq!(art["not_weighed"]["count"], 3, "{stdout}");
    let human = outcome(&w.verify(&policy, &[&file])).1;
    assert!(
        human.contains(
            "not weighed: 3 more entries about these bytes by keys the policy does not name"
        ),
        "{human}"
    );

    // The ledger answers the scoped lookups from what verified when each entry was logged.
    let base = format!("{}/lookup/revocations/{}", w.url, hex_vkey(&a));
    assert_eq!(lookup(&base).unwrap(), junk_notices);
    assert_eq!(
        lookup(&format!("{base}?signer={}", hex_vkey(&a))).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        lookup(&format!("{base}?signer={}", hex_vkey(&mallory))).unwrap(),
        junk_notices
    );
    let sha = format!(
        "{}/lookup/sha256/{}",
        w.url,
        hex::encode(consumer::sha256(GOOD))
    );
    assert_eq!(
        lookup(&format!("{sha}?signer={}", hex_vkey(&a))).unwrap(),
        [ai]
    );
    assert_eq!(
        lookup(&format!("{sha}?signer={}", hex_vkey(&publisher))).unwrap(),
        [gi]
    );
    // A key ID is not enough to scope by (four bytes can be ground out), nor is a lookup of
    // another kind scopable.
    let id = format!("{:08x}", a.verifier().key_id());
    assert_eq!(lookup(&format!("{sha}?signer={id}")), Err(400));
    assert_eq!(
        lookup(&format!(
            "{}/lookup/key/{id}?signer={}",
            w.url,
            hex_vkey(&a)
        )),
        Err(400)
    );

    // Alice's own notice is found among them, and decides.
    w.add_signed(
        &a,
        &revocation(&a, RevocationReason::Compromised, Some(ai), None),
    );
    let out = w.verify(&policy, &[&file, "--json"]);
    let (code, stdout, err) = outcome(&out);
    assert_eq!(code, 1, "{stdout}{err}");
    let v = json(&out);
    assert_eq!(
        v["artifacts"][0]["verdict"]["revocations"][0]["operator"],
        "alice"
    );
}

fn gate(w: &World, policy: &Path, release: &str, state: &str) -> std::process::Output {
    let args: Vec<String> = [
        "gate",
        release,
        "--policy",
        policy.to_str().unwrap(),
        "--ledger",
        &w.url,
        "--state",
        w.path(state).to_str().unwrap(),
        "--cache",
        w.path("cache").to_str().unwrap(),
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    run(&args, w.dir.path())
}

#[test]
fn gate_asks_for_the_pinned_publishers_manifests_only() {
    let w = World::new();
    let a = key("alice.example", 10);
    let publisher = key("publisher.example", 1);
    let mallory = key("mallory.example", 66);
    let good = [("hello-1.2.0.tar.gz", GOOD)];
    let (gi, genv) = w.release(&publisher, "hello", "1.2.0", &good);
    w.add_signed(
        &a,
        &attestation(
            gi,
            &genv,
            "hello",
            "1.2.0",
            &good,
            RebuildResult::Reproduced,
        ),
    );
    // Strangers claim the same release with other bytes, nobody reproduces those.
    for i in 0..4u8 {
        let junk = [("hello-1.2.0.tar.gz", &[b'j', i][..])];
        w.release(&mallory, "hello", "1.2.0", &junk);
    }
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    // Unpinned, everyone's manifest makes the release: it does not pass.
    let out = gate(&w, &policy, "hello@1.2.0", "s1");
    let (code, stdout, err) = outcome(&out);
    assert_eq!(code, 1, "{stdout}{err}");
    let v = json(&out);
    assert_eq!(v["manifests"].as_array().unwrap().len(), 5);
    assert_eq!(v["publisher_pinned"], false);
    // Pinned, only the publisher's manifest is asked for, and it passes.
    pin(&policy, &publisher.verifier().to_string());
    let out = gate(&w, &policy, "hello@1.2.0", "s2");
    let (code, stdout, err) = outcome(&out);
    assert_eq!(code, 0, "{stdout}{err}");
    let v = json(&out);
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1, "{stdout}");
    assert_eq!(v["manifests"][0]["index"], gi);
    assert_eq!(v["publisher_pinned"], true);
    // A release nobody trusted published does not pass, and says why.
    let pinned_other = w.policy("q.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    pin(
        &pinned_other,
        &key("someone.example", 3).verifier().to_string(),
    );
    let args: Vec<String> = [
        "gate",
        "hello@1.2.0",
        "--policy",
        pinned_other.to_str().unwrap(),
        "--ledger",
        &w.url,
        "--state",
        w.path("s3").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, stdout, err) = outcome(&run(&args, w.dir.path()));
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(
        stdout.contains("no release manifest for it signed by a publisher the policy trusts"),
        "{stdout}"
    );
}

/// A static copy of the world's log whose checkpoint `witness` cosigned at `timestamp`.
fn cosigned_copy(w: &World, root: &str, witness: &NoteSigner, timestamp: u64) -> StaticLog {
    let log = StaticLog::build(&w.path(root), &w.log_key, &w.entries());
    let note = std::fs::read(log.root.join("checkpoint")).unwrap();
    let text = String::from_utf8(note.clone()).unwrap();
    let body = text.split("\n\n").next().unwrap().to_owned() + "\n";
    let cp = Checkpoint::parse(body.as_bytes()).unwrap();
    let sig = cosign(&cp, witness, timestamp).unwrap();
    std::fs::write(
        log.root.join("checkpoint"),
        add_cosignatures(&note, &[sig]).unwrap(),
    )
    .unwrap();
    log
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_checkpoint_older_than_the_policy_allows_decides_nothing() {
    let w = World::new();
    let a = key("alice.example", 10);
    let witness = key("witness.example", 77);
    let good = [("hello-1.2.0.tar.gz", GOOD)];
    let (gi, genv) = w.release(&key("publisher.example", 1), "hello", "1.2.0", &good);
    w.add_signed(
        &a,
        &attestation(
            gi,
            &genv,
            "hello",
            "1.2.0",
            &good,
            RebuildResult::Reproduced,
        ),
    );
    let file = w.file("hello-1.2.0.tar.gz", GOOD);
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    let base = std::fs::read_to_string(&policy).unwrap();
    let witnesses = format!(
        "\n[witnesses]\nquorum = 1\nkeys = [\"{}\"]\n",
        witness.cosignature_verifier()
    );
    std::fs::write(&policy, format!("{base}{witnesses}")).unwrap();
    prepend(&policy, "max_checkpoint_age = \"36h\"");

    // Cosigned two days ago: too old, whoever serves it.
    let stale = cosigned_copy(&w, "stale", &witness, now() - 2 * 86_400);
    let (code, out, err) = outcome(&w.verify_at(stale.url(), &policy, &[&file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("older than the policy's max_checkpoint_age of 129600 s")
            && err.contains("the newest from 172"),
        "{err}"
    );
    // Cosigned "tomorrow": a witness clock that far ahead does not count either.
    let ahead = cosigned_copy(&w, "ahead", &witness, now() + 86_400);
    let (code, out, err) = outcome(&w.verify_at(ahead.url(), &policy, &[&file]));
    assert_eq!(code, 2, "{out}{err}");
    // Cosigned a minute ago: judged.
    let fresh = cosigned_copy(&w, "fresh", &witness, now() - 60);
    let (code, out, err) = outcome(&w.verify_at(fresh.url(), &policy, &[&file]));
    assert_eq!(code, 0, "{out}{err}");

    // A limit without witnesses, or one that is not a duration, is a policy error.
    for (lines, needle) in [
        ("max_checkpoint_age = \"36h\"", "needs witnesses"),
        ("max_checkpoint_age = \"forever\"", "not a duration"),
        ("max_checkpoint_age = \"0s\"", "not a duration"),
    ] {
        let p = w.policy("bad.toml", 1, "fail", &[Op::new("alice", &[&a])]);
        if !needle.contains("witnesses") {
            let t = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, format!("{t}{witnesses}")).unwrap();
        }
        prepend(&p, lines);
        let (code, out, err) = outcome(&w.verify_at(fresh.url(), &p, &[&file]));
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains(needle), "{lines}: {err}");
    }
}

fn make_bundle(w: &World, policy: &Path, out: &Path) {
    let args: Vec<String> = [
        "bundle",
        "hello@1.2.0",
        "--policy",
        policy.to_str().unwrap(),
        "--ledger",
        &w.url,
        "-o",
        out.to_str().unwrap(),
        "--state",
        w.path("maker-state").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, stdout, err) = outcome(&run(&args, w.dir.path()));
    assert_eq!(code, 0, "{stdout}{err}");
}

#[test]
fn a_policy_can_require_bundles_to_be_rechecked_online() {
    let w = World::new();
    let (a, b) = (key("alice.example", 10), key("bob.example", 20));
    let good = [("hello-1.2.0.tar.gz", GOOD)];
    let (gi, genv) = w.release(&key("publisher.example", 1), "hello", "1.2.0", &good);
    w.add_signed(
        &a,
        &attestation(
            gi,
            &genv,
            "hello",
            "1.2.0",
            &good,
            RebuildResult::Reproduced,
        ),
    );
    let policy = w.policy(
        "p.toml",
        1,
        "fail",
        &[Op::new("alice", &[&a]), Op::new("bob", &[&b])],
    );
    let bundle = w.path("hello.bundle");
    make_bundle(&w, &policy, &bundle);
    // After the bundle was made, bob reports a mismatch.
    w.add_signed(
        &b,
        &attestation(gi, &genv, "hello", "1.2.0", &good, RebuildResult::Mismatch),
    );
    let file = w.file("hello-1.2.0.tar.gz", GOOD);
    let bundle_arg = bundle.to_str().unwrap();
    let offline_in = |state: &str, policy: &Path, extra: &[&str]| {
        let mut args: Vec<String> = [
            "verify",
            &file,
            "--bundle",
            bundle_arg,
            "--policy",
            policy.to_str().unwrap(),
            "--state",
            w.path(state).to_str().unwrap(),
            "--cache",
            w.path("cache").to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        run(&args, w.dir.path())
    };
    let offline = |policy: &Path, extra: &[&str]| offline_in("state", policy, extra);

    // Offline, the bundle cannot know: trusted, as of its tree.
    let (code, out, err) = outcome(&offline(&policy, &[]));
    assert_eq!(code, 0, "{out}{err}");
    // --ledger with a bundle means nothing unless the policy asks for a re-check: exit 2.
    let (code, out, err) = outcome(&offline(&policy, &["--ledger", &w.url]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("--ledger has no use with --bundle"), "{err}");

    // The policy requires the live log too (its log.url): the mismatch is found.
    prepend(&policy, "require_online_recheck = true");
    let out = offline(&policy, &["--json"]);
    let (code, stdout, err) = outcome(&out);
    assert_eq!(code, 1, "{stdout}{err}");
    let v = json(&out);
    assert_eq!(v["mode"], "bundle, re-checked online");
    assert_eq!(
        v["artifacts"][0]["verdict"]["mismatches"][0]["operator"],
        "bob"
    );

    // No log to ask: no verdict. (A consumer that has not seen the log since the bundle: one
    // that has is refused the older bundle before anything else.)
    let (code, out, err) = outcome(&offline_in(
        "fresh-state",
        &policy,
        &["--ledger", "http://127.0.0.1:1"],
    ));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("requires an online re-check"), "{err}");
}
