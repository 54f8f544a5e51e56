//! `reprove release publish` and `reprove rebuild` end to end, against a real ledger on
//! 127.0.0.1, in the real bubblewrap sandbox: two rebuilders with different keys rebuild the C
//! and Rust fixtures, both report `reproduced` with identical digests, and both attestations
//! are in the log with valid inclusion proofs (and their build logs in the blob store).

use crate::common;
use crate::rb;

use common::{agent, get, get_ok, text};
use rb::{Ledger, build_artifacts, copy_fixture};
use reprove_verifier::checkpoint::WitnessPolicy;
use reprove_verifier::dsse::Envelope;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::{Entry, EntryKind, RebuildResult, SandboxKind};
use reprove_verifier::proof::TlogProof;

#[test]
fn two_rebuilders_reproduce_the_c_and_rust_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let log_key = NoteVerifier::parse(&ledger.vkey).unwrap();
    let publisher = ledger.key("publisher.example");
    let rebuilders = [
        ledger.key("rebuilder-a.example"),
        ledger.key("rebuilder-b.example"),
    ];
    let http = agent();

    for (fixture, top, release) in [
        ("hello-c", "hello-c-1.0.0", "hello-c@1.0.0"),
        ("hello-rust", "hello-rust-0.1.0", "hello-rust@0.1.0"),
    ] {
        let f = copy_fixture(dir, fixture, top);
        let dist = f.join("dist");
        build_artifacts(&f, "reprove.toml", &dist, &dir.join("publisher-work"));
        let index = ledger.publish(&f.join("reprove.toml"), &publisher, Some(&dist));

        let mut rebuilt = Vec::new();
        for (i, key) in rebuilders.iter().enumerate() {
            let work = dir.join(format!("work-{fixture}-{i}"));
            let (code, v, o) = ledger.rebuild(release, key, &work, &["--submit"]);
            assert_eq!(code, Some(0), "{v}\n{}", text(&o.stderr));
            assert_eq!(v["result"], "reproduced", "{v}");
            assert_eq!(v["release"]["index"], index);
            rebuilt.push(v["rebuilt"].clone());

            // The attestation is in the log, proven under a checkpoint the log key signed.
            let at = v["attestation_index"].as_u64().unwrap();
            let entry = get_ok(&http, &format!("{}/entry/{at}", ledger.server.url));
            let proof = get_ok(&http, &format!("{}/proof/{at}", ledger.server.url));
            TlogProof::parse(&proof)
                .unwrap()
                .verify(&entry, &log_key, &WitnessPolicy::none())
                .unwrap();
            let env = Envelope::parse(&entry).unwrap();
            assert!(env.signatures()[0].keyid.starts_with(if i == 0 {
                "rebuilder-a.example+"
            } else {
                "rebuilder-b.example+"
            }));
            let EntryKind::Rebuild(att) = Entry::parse(env.payload()).unwrap().into_kind() else {
                panic!("entry {at} is not a rebuild attestation");
            };
            let p = &att.predicate;
            assert_eq!(p.result, RebuildResult::Reproduced);
            assert_eq!(p.release.log_index, index);
            assert_eq!(p.sandbox.kind, SandboxKind::Bubblewrap);
            let details = p.sandbox.details.as_deref().unwrap();
            assert!(details.contains("bubblewrap"), "{details}");
            if fixture == "hello-rust" {
                assert!(details.contains("rustc 1."), "{details}");
            }
            // The build log is in the blob store under the digest the attestation names.
            let log = p.build_log.unwrap();
            let blob = get_ok(
                &http,
                &format!(
                    "{}/blobs/sha256/{}",
                    ledger.server.url,
                    hex::encode(log.sha256)
                ),
            );
            assert!(text(&blob).contains(&format!("rebuild of {fixture}")));
            // The published artifacts find the attestation by digest.
            for s in &att.subjects {
                let (status, body) = get(
                    &http,
                    &format!(
                        "{}/lookup/sha256/{}",
                        ledger.server.url,
                        hex::encode(s.digest.sha256)
                    ),
                );
                assert_eq!(status, 200);
                assert!(text(&body).contains(&at.to_string()), "{}", text(&body));
            }
        }
        assert_eq!(rebuilt[0], rebuilt[1], "the two rebuilders disagree");
    }
}

#[test]
fn without_submit_nothing_is_logged_and_the_attestation_is_kept_locally() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let publisher = ledger.key("publisher.example");
    let rebuilder = ledger.key("rebuilder.example");
    let f = copy_fixture(dir, "hello-c", "hello-c-1.0.0");
    build_artifacts(&f, "reprove.toml", &f.join("dist"), &dir.join("pw"));
    let index = ledger.publish(&f.join("reprove.toml"), &publisher, None);
    let work = dir.join("work");
    let (code, v, _) = ledger.rebuild("hello-c@1.0.0", &rebuilder, &work, &[]);
    assert_eq!(code, Some(0), "{v}");
    assert!(v["attestation_index"].is_null());
    let job = work.join(format!("release-{index}"));
    let env = std::fs::read(job.join("attestation.dsse.json")).unwrap();
    Envelope::parse(&env).unwrap();
    assert!(job.join("build.log").is_file());
    // Only the release is in the log.
    let cp = get_ok(&agent(), &format!("{}/checkpoint", ledger.server.url));
    assert_eq!(text(&cp).lines().nth(1), Some("1"), "{}", text(&cp));
}
