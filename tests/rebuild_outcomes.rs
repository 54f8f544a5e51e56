//! Every negative outcome of `reprove rebuild` is signed and logged, with its evidence:
//! `mismatch` with a diff report (the non-reproducible fixture, and the tampered release whose
//! report names the differing file), `inputs-unavailable` for a missing or wrong-digest input,
//! `build-failed` with the build log. Each exits 1 (not reproducible).

use crate::common;
use crate::rb;

use std::path::Path;

use common::{agent, get_ok, text};
use rb::{Ledger, build_artifacts, copy_fixture, pack};
use reprove_verifier::dsse::Envelope;
use reprove_verifier::predicates::{Entry, EntryKind, RebuildAttestation, RebuildResult};

/// The logged attestation at `v["attestation_index"]`.
fn logged(ledger: &Ledger, v: &serde_json::Value) -> RebuildAttestation {
    let at = v["attestation_index"].as_u64().expect("submitted");
    let entry = get_ok(&agent(), &format!("{}/entry/{at}", ledger.server.url));
    let env = Envelope::parse(&entry).unwrap();
    match Entry::parse(env.payload()).unwrap().into_kind() {
        EntryKind::Rebuild(a) => a,
        other => panic!("{other:?}"),
    }
}

/// A blob from the ledger.
fn blob(ledger: &Ledger, sha256: &[u8; 32]) -> String {
    text(&get_ok(
        &agent(),
        &format!("{}/blobs/sha256/{}", ledger.server.url, hex::encode(sha256)),
    ))
}

#[test]
fn the_non_reproducible_fixture_gives_mismatch_with_a_diff_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let (publisher, rebuilder) = (ledger.key("pub.example"), ledger.key("reb.example"));
    let f = copy_fixture(dir, "unreproducible", "stamp-1.0.0");
    build_artifacts(&f, "reprove.toml", &f.join("dist"), &dir.join("pw"));
    ledger.publish(&f.join("reprove.toml"), &publisher, Some(&f.join("dist")));
    let (code, v, _) = ledger.rebuild("stamp@1.0.0", &rebuilder, &dir.join("w"), &["--submit"]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["result"], "mismatch");
    let a = logged(&ledger, &v);
    assert_eq!(a.predicate.result, RebuildResult::Mismatch);
    let report = blob(&ledger, &a.predicate.diff_report.unwrap().sha256);
    assert!(
        report.contains("== artifact stamp-1.0.0.tar.gz"),
        "{report}"
    );
    assert!(
        report.contains("stamp-1.0.0/BUILD_TIME: content differs"),
        "{report}"
    );
    assert!(
        report.contains("stamp-1.0.0/RANDOM: content differs"),
        "{report}"
    );
    assert!(!report.contains("PAYLOAD"), "{report}");
}

#[test]
fn the_tampered_release_gives_mismatch_naming_the_differing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let (publisher, rebuilder) = (ledger.key("pub.example"), ledger.key("reb.example"));
    // The publisher's build machine is compromised: it builds from the backdoored hello.c…
    let f = copy_fixture(dir, "hello-c", "hello-c-1.0.0");
    let evil = dir.join("evil-src");
    std::fs::create_dir_all(&evil).unwrap();
    for e in std::fs::read_dir(f.join("src")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), evil.join(e.file_name())).unwrap();
    }
    std::fs::copy(
        rb::fixtures().join("tampered/hello.c"),
        evil.join("hello.c"),
    )
    .unwrap();
    pack(&evil, "hello-c-1.0.0", &f.join("dist/evil-src.tar.gz"));
    let evil_manifest = std::fs::read_to_string(f.join("reprove.toml"))
        .unwrap()
        .replace("dist/hello-c-1.0.0-src.tar.gz", "dist/evil-src.tar.gz");
    std::fs::write(f.join("evil.toml"), evil_manifest).unwrap();
    let tampered = f.join("dist/tampered");
    build_artifacts(&f, "evil.toml", &tampered, &dir.join("pw"));
    // …and publishes the result under a manifest naming the clean source.
    std::fs::copy(
        rb::fixtures().join("tampered/reprove.toml"),
        f.join("tampered.toml"),
    )
    .unwrap();
    ledger.publish(&f.join("tampered.toml"), &publisher, Some(&tampered));
    let (code, v, _) = ledger.rebuild(
        "hello-c-tampered@1.0.0",
        &rebuilder,
        &dir.join("w"),
        &["--submit"],
    );
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["result"], "mismatch");
    let a = logged(&ledger, &v);
    let report = blob(&ledger, &a.predicate.diff_report.unwrap().sha256);
    assert!(
        report.contains(
            "hello-c-1.0.0.tar.gz (decompressed)/hello-c-1.0.0/bin/hello: content differs"
        ),
        "{report}"
    );
    // The built-in report and diffoscope's section (present when diffoscope is installed)
    // are checked each on its own: diffoscope lists every member of both archives.
    let (builtin, diffoscope) = match report.split_once("\n== diffoscope\n") {
        Some((b, d)) => (b, Some(d)),
        None => (report.as_str(), None),
    };
    assert!(builtin.contains("first difference at offset"), "{builtin}");
    assert!(!builtin.contains("hello-c-1.0.0/README"), "{builtin}");
    let installed = std::process::Command::new("diffoscope")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert_eq!(diffoscope.is_some(), installed, "{report}");
    if let Some(d) = diffoscope {
        assert!(d.contains("bin/hello"), "{d}");
        // It ran in its own sandbox: its inputs are named there, not by the node's paths.
        assert!(d.contains("published/hello-c-1.0.0.tar.gz"), "{d}");
    }
    assert!(
        !report.contains(dir.to_str().unwrap()),
        "the public report names a path on the node: {report}"
    );
}

/// Publishes hello-c, then lets `spoil` damage the published source before rebuilding.
fn inputs_case(spoil: impl FnOnce(&Path), want: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let (publisher, rebuilder) = (ledger.key("pub.example"), ledger.key("reb.example"));
    let f = copy_fixture(dir, "hello-c", "hello-c-1.0.0");
    build_artifacts(&f, "reprove.toml", &f.join("dist"), &dir.join("pw"));
    ledger.publish(&f.join("reprove.toml"), &publisher, None);
    spoil(&f.join("dist/hello-c-1.0.0-src.tar.gz"));
    let work = dir.join("w");
    let (code, v, _) = ledger.rebuild("hello-c@1.0.0", &rebuilder, &work, &["--submit"]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["result"], "inputs-unavailable");
    let a = logged(&ledger, &v);
    assert_eq!(a.predicate.result, RebuildResult::InputsUnavailable);
    assert!(a.predicate.rebuilt.is_empty());
    let detail = a.predicate.detail.unwrap();
    assert!(detail.contains(want), "{detail}");
    // Nothing ran: no build tree was made.
    assert!(!work.join("release-0/build").exists());
}

#[test]
fn a_missing_source_gives_inputs_unavailable() {
    inputs_case(|p| std::fs::remove_file(p).unwrap(), "HTTP 404");
}

#[test]
fn a_source_with_the_wrong_digest_gives_inputs_unavailable() {
    inputs_case(
        |p| std::fs::write(p, b"not the published source").unwrap(),
        "does not have the sha256 the release gives",
    );
}

#[test]
fn a_failing_build_gives_build_failed_with_its_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let (publisher, rebuilder) = (ledger.key("pub.example"), ledger.key("reb.example"));
    let f = copy_fixture(dir, "hello-c", "hello-c-1.0.0");
    build_artifacts(&f, "reprove.toml", &f.join("dist"), &dir.join("pw"));
    // The same artifacts, but a recipe whose build breaks.
    let broken = std::fs::read_to_string(f.join("reprove.toml"))
        .unwrap()
        .replace("project = \"hello-c\"", "project = \"hello-c-broken\"")
        .replace(
            "command = [\"make\", \"dist\"]",
            "command = [\"make\", \"no-such-target\"]",
        );
    std::fs::write(f.join("broken.toml"), broken).unwrap();
    ledger.publish(&f.join("broken.toml"), &publisher, None);
    let (code, v, _) = ledger.rebuild(
        "hello-c-broken@1.0.0",
        &rebuilder,
        &dir.join("w"),
        &["--submit"],
    );
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["result"], "build-failed");
    let a = logged(&ledger, &v);
    assert!(a.predicate.detail.unwrap().contains("exited with status 2"));
    let log = blob(&ledger, &a.predicate.build_log.unwrap().sha256);
    assert!(
        log.contains("No rule to make target 'no-such-target'"),
        "{log}"
    );
    // For people: the last lines of the build log on stderr, the cause among them; none
    // with --quiet.
    for (quiet, work) in [(false, "w2"), (true, "w3")] {
        let extra: &[&str] = if quiet { &["--quiet"] } else { &[] };
        let o = ledger.rebuild_output("hello-c-broken@1.0.0", &rebuilder, &dir.join(work), extra);
        let err = common::text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(
            err.contains("the last") && err.contains("No rule to make target"),
            !quiet,
            "{err}"
        );
    }
}

/// `rebuild --publisher` asks the log for that publisher's manifests only: a stranger's earlier
/// claim to the same NAME@VERSION is not what gets built.
#[test]
fn a_rebuild_for_a_pinned_publisher_builds_its_manifest_not_an_earlier_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let publisher = ledger.key("pub.example");
    let stranger = ledger.key("claim.example");
    let rebuilder = ledger.key("reb.example");
    let f = copy_fixture(dir, "hello-c", "hello-c-1.0.0");
    build_artifacts(&f, "reprove.toml", &f.join("dist"), &dir.join("pw"));
    let claimed = ledger.publish(&f.join("reprove.toml"), &stranger, None);
    let real = ledger.publish(&f.join("reprove.toml"), &publisher, None);
    assert!(claimed < real);
    let vkey_of = |key: &Path| {
        let text = std::fs::read_to_string(key).unwrap();
        reprove_verifier::note::NoteSigner::from_private_key(text.trim())
            .unwrap()
            .verifier()
            .to_string()
    };
    let (_, v, _) = ledger.rebuild(
        "hello-c@1.0.0",
        &rebuilder,
        &dir.join("w1"),
        &["--publisher", &vkey_of(&publisher)],
    );
    assert_eq!(v["release"]["index"], real, "{v}");
    // Without --publisher: the earliest claim, and a warning saying so.
    let (_, v, o) = ledger.rebuild("hello-c@1.0.0", &rebuilder, &dir.join("w2"), &[]);
    assert_eq!(v["release"]["index"], claimed, "{v}");
    assert!(text(&o.stderr).contains("no --publisher given"));
    // A publisher with no manifest of it: nothing is built, exit 2, a clear message.
    let other = ledger.key("other.example");
    let o = ledger.rebuild_output(
        "hello-c@1.0.0",
        &rebuilder,
        &dir.join("w3"),
        &["--publisher", &vkey_of(&other)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr)
            .contains("no release manifest for hello-c@1.0.0 signed by a --publisher key"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.join("w3").join("release-0").exists());
}
