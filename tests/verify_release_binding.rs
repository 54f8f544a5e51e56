//! An attestation counts only for the release it names, as the consumer expects it: logged at
//! its index with its entry digest, name and version, listing the artifact, signed by a
//! publisher the policy trusts for the project (`[[publisher]]`), and the release asked about
//! (`--release`). Real ledgers on 127.0.0.1, the real `reprove verify`.

use crate::common;
use crate::consumer;

use consumer::{Op, World, attestation, key, outcome};
use reprove_verifier::predicates::RebuildResult;

const GOOD: &[u8] = b"hello 1.2.0, as its publisher built it\n";
const TROJAN: &[u8] = b"hello 1.2.0 with a backdoor\n";

/// Appends a `[[publisher]]` trusting `vkey` for `projects` to the policy file.
fn pin(policy: &std::path::Path, projects: &str, vkey: &str) {
    let mut text = std::fs::read_to_string(policy).unwrap();
    text.push_str(&format!(
        "\n[[publisher]]\nname = \"hello team\"\nprojects = [{projects}]\nkeys = [\"{vkey}\"]\n"
    ));
    std::fs::write(policy, text).unwrap();
}

#[test]
fn bytes_reproduced_from_an_unrelated_release_are_not_trusted_as_the_expected_one() {
    let w = World::new();
    let (a, b) = (key("alice.example", 10), key("bob.example", 20));
    let publisher = key("publisher.example", 1);
    let mallory = key("mallory.example", 66);
    // The real release, reproduced by both operators.
    let good = [("hello-1.2.0.tar.gz", GOOD)];
    let (gi, genv) = w.release(&publisher, "hello", "1.2.0", &good);
    for k in [&a, &b] {
        w.add_signed(
            k,
            &attestation(
                gi,
                &genv,
                "hello",
                "1.2.0",
                &good,
                RebuildResult::Reproduced,
            ),
        );
    }
    // Mallory logs an unrelated release whose source holds the trojan and whose recipe copies
    // it: honest, sandboxed nodes reproduce it.
    let evil = [("hello-1.2.0.tar.gz", TROJAN)];
    let (ei, eenv) = w.release(&mallory, "totally-unrelated", "6.6.6", &evil);
    for k in [&a, &b] {
        w.add_signed(
            k,
            &attestation(
                ei,
                &eenv,
                "totally-unrelated",
                "6.6.6",
                &evil,
                RebuildResult::Reproduced,
            ),
        );
    }
    let file = w.file("hello-1.2.0.tar.gz", TROJAN);
    let ops = [Op::new("alice", &[&a]), Op::new("bob", &[&b])];

    // No publisher pinned: trusted, but loudly not what a consumer should rely on.
    let open = w.policy("open.toml", 2, "fail", &ops);
    let (code, out, err) = outcome(&w.verify(&open, &[&file]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("WARNING:     the policy pins no publisher"),
        "{out}"
    );
    assert!(
        out.contains("reproduced as an artifact of totally-unrelated@6.6.6")
            && out.contains("pass --release NAME@VERSION"),
        "the file's name is a hint: {out}"
    );
    let (_, out, _) = outcome(&w.verify(&open, &[&file, "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["artifacts"][0]["verdict"]["publisher_pinned"], false,
        "{v}"
    );

    // The consumer says which release it downloaded: the trojan is not it.
    let (code, out, err) = outcome(&w.verify(&open, &[&file, "--release", "hello@1.2.0"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("NOT TRUSTED"), "{out}");
    assert!(
        out.contains("attests totally-unrelated@6.6.6, not the release asked about"),
        "{out}"
    );

    // The policy says who publishes hello: mallory's release does not count.
    let pinned = w.policy("pinned.toml", 2, "fail", &ops);
    pin(
        &pinned,
        "\"hello\", \"hello-*\"",
        &publisher.verifier().to_string(),
    );
    let (code, out, err) = outcome(&w.verify(&pinned, &[&file]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("not signed by a publisher the policy trusts for totally-unrelated"),
        "{out}"
    );
    assert!(!out.contains("pins no publisher"), "{out}");
    // ...while the real release is trusted under the same policy, named or not.
    let real = w.file("real-hello-1.2.0.tar.gz", GOOD);
    for extra in [&[][..], &["--release", "hello@1.2.0"][..]] {
        let mut args = vec![real.as_str()];
        args.extend_from_slice(extra);
        let (code, out, err) = outcome(&w.verify(&pinned, &args));
        assert_eq!(code, 0, "{extra:?}: {out}{err}");
    }
}

#[test]
fn an_attestation_whose_release_does_not_resolve_does_not_count() {
    let w = World::new();
    let a = key("alice.example", 10);
    let publisher = key("publisher.example", 1);
    let arts = [("hello-1.0.tar.gz", GOOD)];
    let (ri, renv) = w.release(&publisher, "hello", "1.0", &arts);
    let other = [("other.tar.gz", TROJAN)];
    let (oi, _) = w.release(&publisher, "other", "1.0", &other);
    // Wrong index (a release that does not list the artifact), wrong digest, a name that is
    // not the release's, an index beyond the tree.
    let cases = [
        attestation(oi, &renv, "hello", "1.0", &arts, RebuildResult::Reproduced),
        attestation(
            ri,
            b"some other bytes",
            "hello",
            "1.0",
            &arts,
            RebuildResult::Reproduced,
        ),
        attestation(ri, &renv, "hello", "1.1", &arts, RebuildResult::Reproduced),
        attestation(
            1 << 40,
            &renv,
            "hello",
            "1.0",
            &arts,
            RebuildResult::Reproduced,
        ),
    ];
    for statement in &cases {
        w.add_signed(&a, statement);
    }
    let file = w.file("hello-1.0.tar.gz", GOOD);
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        out.matches("not counted: index").count(),
        cases.len(),
        "{out}"
    );
    assert!(
        out.contains("has another entry digest than the attestation gives"),
        "{out}"
    );
    assert!(out.contains("has another name or version"), "{out}");
    assert!(out.contains("among the entries seen"), "{out}");

    // Replayed verbatim into another log, an honest attestation names a release that is not
    // there (the index holds other bytes): it does not count.
    let y = World::new();
    let filler = [("filler.tar.gz", TROJAN)];
    y.release(&publisher, "filler", "1.0", &filler);
    let (yi, _) = y.release(&publisher, "hello", "1.0", &arts);
    assert_eq!(yi, 1);
    let honest = attestation(ri, &renv, "hello", "1.0", &arts, RebuildResult::Reproduced);
    w.add_signed(&a, &honest);
    let replayed = common::envelope(&a, &honest);
    y.add(&replayed);
    let (code, out, _) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 0, "the honest one counts in its own log: {out}");
    let policy_y = y.policy("p.toml", 1, "fail", &[Op::new("alice", &[&a])]);
    let file_y = y.file("hello-1.0.tar.gz", GOOD);
    let (code, out, err) = outcome(&y.verify(&policy_y, &[&file_y]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("has another entry digest") || out.contains("among the entries seen"),
        "{out}"
    );
}
