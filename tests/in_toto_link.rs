//! `reprove rebuild --in-toto-link FILE`: the legacy in-toto link of a rebuild, checked by the
//! `in-toto` crate as an independent verifier (signature under the rebuilder's key, products
//! equal to the attested rebuilt digests, materials naming the source).

use crate::common;
use crate::rb;

use in_toto::crypto::{HashAlgorithm, PublicKey};
use in_toto::models::{Metablock, MetadataWrapper, VirtualTargetPath};
use rb::{Ledger, build_artifacts, copy_fixture};
use reprove_verifier::note::NoteVerifier;

#[test]
fn a_rebuild_writes_a_link_the_in_toto_crate_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let publisher = ledger.key("publisher.example");
    let rebuilder = ledger.key("rebuilder.example");
    let f = copy_fixture(dir, "hello-c", "hello-c-1.0.0");
    let dist = f.join("dist");
    build_artifacts(&f, "reprove.toml", &dist, &dir.join("publisher-work"));
    ledger.publish(&f.join("reprove.toml"), &publisher, Some(&dist));

    let link = dir.join("rebuild.link");
    let (code, v, o) = ledger.rebuild(
        "hello-c@1.0.0",
        &rebuilder,
        &dir.join("work"),
        &["--in-toto-link", link.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{v}\n{}", common::text(&o.stderr));

    let vkey = std::fs::read_to_string(rebuilder.with_extension("pub")).unwrap();
    let vkey = NoteVerifier::parse(vkey.trim()).unwrap();
    let public = PublicKey::from_ed25519(vkey.verifying_key().as_bytes().to_vec()).unwrap();
    let metablock: Metablock = serde_json::from_slice(&std::fs::read(&link).unwrap()).unwrap();
    let MetadataWrapper::Link(l) = metablock.verify(1, [&public]).unwrap() else {
        panic!("not a link");
    };
    assert_eq!(l.name, "rebuild");
    assert_eq!(l.command.as_ref(), ["make", "dist"]);
    // Products: exactly the rebuilt outputs the attestation reports.
    let rebuilt = v["rebuilt"].as_array().unwrap();
    assert_eq!(l.products.len(), rebuilt.len());
    for a in rebuilt {
        let name = a["name"].as_str().unwrap().to_owned();
        let got = &l.products[&VirtualTargetPath::new(name).unwrap()];
        assert_eq!(
            hex::encode(got[&HashAlgorithm::Sha256].value()),
            a["sha256"].as_str().unwrap()
        );
    }
    // Materials: the release entry and the source tarball.
    let names: Vec<&str> = l.materials.keys().map(|p| p.value()).collect();
    assert!(
        names.contains(&"hello-c-1.0.0-src.tar.gz"),
        "materials: {names:?}"
    );
    assert!(
        names.contains(&"hello-c-1.0.0.release.dsse.json"),
        "materials: {names:?}"
    );

    // Another key does not verify it.
    let other = ledger.key("someone-else.example");
    let other = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other = NoteVerifier::parse(other.trim()).unwrap();
    let other = PublicKey::from_ed25519(other.verifying_key().as_bytes().to_vec()).unwrap();
    assert!(metablock.verify(1, [&other]).is_err());
}

#[test]
fn a_link_needs_a_logged_release() {
    let o = common::reprove(&[
        "rebuild",
        "--manifest",
        "fixtures/hello-c/reprove.toml",
        "--in-toto-link",
        "/tmp/never-written.link",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        common::text(&o.stderr).contains("--release"),
        "{}",
        common::text(&o.stderr)
    );
    assert!(!std::path::Path::new("/tmp/never-written.link").exists());
}
