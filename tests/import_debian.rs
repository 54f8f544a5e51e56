//! `reprove import debian` against a Debian mirror served from 127.0.0.1, with the real archive
//! files of bookworm 12.15 (its signed InRelease, Sources.xz, Packages.xz) and the real source
//! package tree 2.1.0-1 with its amd64 .deb, fetched once by `make setup` into a cache outside
//! the clone and pinned by sha256 there. The InRelease is checked with the host's real Debian
//! archive keyring. Then every kind of bad input is refused (exit 2, nothing logged): an
//! unknown source or version, an InRelease whose signed text was changed, a Sources.xz or a
//! source file that is not what the signed metadata says, a .buildinfo whose versions the
//! mirror no longer has.

use std::path::{Path, PathBuf};

use crate::common::{self, get_ok, reprove, text};
use crate::import_pypi::Index;
use crate::rb::Ledger;

const FILES: [&str; 7] = [
    "InRelease",
    "Sources.xz",
    "Packages.xz",
    "tree_2.1.0-1.dsc",
    "tree_2.1.0.orig.tar.gz",
    "tree_2.1.0-1.debian.tar.xz",
    "tree_2.1.0-1_amd64.deb",
];
const DEB: &str = "tree_2.1.0-1_amd64.deb";
/// The primary key of "Debian Stable Release Key (12/bookworm)".
const BOOKWORM_RELEASE_KEY: &str = "4D64FEC119C2029067D6E791F8D2585B8783D481";

/// The cache `scripts/setup.sh` fills; `None` (skipped, loudly) when incomplete, except
/// under `CI=true`, where that fails.
pub(crate) fn cached_files() -> Option<PathBuf> {
    let dir = crate::import_pypi::cache_root().join("debian");
    if FILES.iter().all(|f| dir.join(f).is_file()) {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the Debian fixture cache {} is incomplete: run `make setup` (scripts/setup.sh) first",
        dir.display()
    );
    eprintln!(
        "SKIPPED: the Debian fixture cache {} is incomplete; run `make setup`",
        dir.display()
    );
    None
}

/// A file the mirror serves altered: its path and what changes its bytes.
pub(crate) type Change<'a> = (&'a str, &'a dyn Fn(Vec<u8>) -> Vec<u8>);

/// Serves the cached files as a mirror at `<index>/debian`, with `change` applied to one
/// file's bytes first.
pub(crate) fn mirror(cache: &Path, change: Option<Change<'_>>) -> Index {
    let index = Index::start();
    for f in FILES {
        let mut bytes = std::fs::read(cache.join(f)).unwrap();
        if let Some((name, edit)) = &change
            && *name == f
        {
            bytes = edit(bytes);
        }
        let path = match f {
            "InRelease" => "/debian/dists/bookworm/InRelease".to_owned(),
            "Sources.xz" => "/debian/dists/bookworm/main/source/Sources.xz".to_owned(),
            "Packages.xz" => "/debian/dists/bookworm/main/binary-amd64/Packages.xz".to_owned(),
            _ => format!("/debian/pool/main/t/tree/{f}"),
        };
        index.serve(&path, bytes);
    }
    index
}

fn import(
    index: &Index,
    ledger: &Ledger,
    key: &Path,
    spec: &str,
    extra: &[&str],
) -> std::process::Output {
    let mirror = format!("{}/debian", index.base());
    let mut args = vec![
        "import",
        "debian",
        spec,
        "--mirror",
        &mirror,
        "--key",
        key.to_str().unwrap(),
        "--ledger",
        &ledger.server.url,
        "--log-key",
        &ledger.vkey,
        "--json",
    ];
    args.extend_from_slice(extra);
    reprove(&args)
}

fn tree_size(ledger: &Ledger) -> u64 {
    let cp = get_ok(
        &common::agent(),
        &format!("{}/checkpoint", ledger.server.url),
    );
    text(&cp).lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_real_debian_source_package_is_imported_from_signed_archive_metadata() {
    let Some(cache) = cached_files() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(tmp.path());
    let importer = ledger.key("importer.example");
    let index = mirror(&cache, None);

    let o = import(&index, &ledger, &importer, "tree=2.1.0-1", &[]);
    assert!(o.status.success(), "import: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"], "tree");
    assert_eq!(v["version"], "2.1.0-1");
    assert_eq!(v["debs"][0]["name"], DEB);
    let deb = std::fs::read(cache.join(DEB)).unwrap();
    assert_eq!(
        v["debs"][0]["sha256"],
        hex::encode(crate::consumer::sha256(&deb))
    );
    assert!(
        v["signed_by"].to_string().contains(BOOKWORM_RELEASE_KEY),
        "{v}"
    );
    assert_eq!(v["release_date"], "Sat, 11 Jul 2026 10:16:37 UTC");
    // The top changelog entry: Thu, 29 Dec 2022 16:08:49 +0100.
    assert_eq!(v["source_date_epoch"], 1_672_326_529);
    // debian/control says Rules-Requires-Root: no.
    assert_eq!(v["build_user"], "builder");
    assert_eq!(v["build_root_from"], "suite");
    let root: Vec<String> = serde_json::from_value(v["build_root"].clone()).unwrap();
    for want in [
        "debhelper=13.11.4",
        "dpkg-dev=",
        "gcc-12=",
        "libc6=",
        "bash=",
        "build-essential=",
    ] {
        assert!(
            root.iter().any(|p| p.starts_with(want)),
            "{want} missing from {root:?}"
        );
    }
    assert!(v["proof_verified"].as_bool().unwrap());

    // The logged manifest: a third-party import naming where every digest came from.
    let entry = get_ok(
        &common::agent(),
        &format!("{}/entry/{}", ledger.server.url, v["index"]),
    );
    let env = reprove_verifier::dsse::Envelope::parse(&entry).unwrap();
    let st: serde_json::Value = serde_json::from_slice(env.payload()).unwrap();
    let p = &st["predicate"];
    let imp = &p["third_party_import"];
    let mirror_url = format!("{}/debian", index.base());
    assert_eq!(imp["ecosystem"], "debian");
    assert_eq!(imp["index"], mirror_url);
    let sources = format!("{mirror_url}/dists/bookworm/main/source/Sources.xz");
    let packages = format!("{mirror_url}/dists/bookworm/main/binary-amd64/Packages.xz");
    assert_eq!(imp["digest_sources"]["tree_2.1.0-1.dsc"], sources);
    assert_eq!(imp["digest_sources"][DEB], packages);
    assert_eq!(imp["digest_sources"]["build_deps"], packages);
    assert_eq!(
        imp["digest_sources"]["main/source/Sources.xz"],
        format!("{mirror_url}/dists/bookworm/InRelease")
    );
    assert!(
        imp["notes"][0]
            .as_str()
            .unwrap()
            .contains("gpgv: good signatures by"),
        "{imp}"
    );
    let inputs: Vec<&str> = p["recipe"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        [
            "reprove-dsc/tree_2.1.0-1.dsc",
            "reprove-dsc/tree_2.1.0.orig.tar.gz",
            "reprove-dsc/tree_2.1.0-1.debian.tar.xz"
        ]
    );
    assert_eq!(p["recipe"]["outputs"][DEB], DEB);
    assert_eq!(p["recipe"]["build_deps"][0]["kind"], "debian-deb");
    assert_eq!(
        p["source"]["uri"],
        format!("{mirror_url}/pool/main/t/tree/tree_2.1.0.orig.tar.gz")
    );

    // The same import again is the same manifest: already logged.
    let again = import(&index, &ledger, &importer, "tree=2.1.0-1", &[]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["index"], v["index"]);
    assert_eq!(again["duplicate"], true);

    // A .buildinfo's Installed-Build-Depends become the build root, exactly.
    let bi = tmp.path().join("tree.buildinfo");
    let info = |deps: &str| {
        format!(
            "Format: 1.0\nSource: tree\nBinary: tree\nArchitecture: amd64\nVersion: 2.1.0-1\nBuild-Architecture: amd64\nInstalled-Build-Depends:\n {deps}\nEnvironment:\n DEB_BUILD_OPTIONS=\"parallel=4\"\n LANG=\"C.UTF-8\"\n SOURCE_DATE_EPOCH=\"1672326529\"\n"
        )
    };
    std::fs::write(&bi, info("debhelper (= 13.11.4),\n dpkg-dev (= 1.21.23)")).unwrap();
    let o = import(
        &index,
        &ledger,
        &importer,
        "tree=2.1.0-1",
        &["--buildinfo", bi.to_str().unwrap(), "--dry-run"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let env = reprove_verifier::dsse::Envelope::parse(text(&o.stdout).trim().as_bytes()).unwrap();
    let st: serde_json::Value = serde_json::from_slice(env.payload()).unwrap();
    let deps = st["predicate"]["recipe"]["build_deps"].as_array().unwrap();
    let names: Vec<&str> = deps.iter().map(|d| d["name"].as_str().unwrap()).collect();
    // Exactly the .buildinfo's versions, plus fakeroot and usr-is-merged (and what they need).
    assert!(
        names.contains(&"debhelper") && names.contains(&"dpkg-dev"),
        "{names:?}"
    );
    assert!(
        names.contains(&"fakeroot") && names.contains(&"usr-is-merged"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"gcc-12") && !names.contains(&"bash"),
        "{names:?}"
    );
    assert_eq!(st["predicate"]["recipe"]["env"]["LANG"], "C.UTF-8");
    assert!(
        st["predicate"]["recipe"]["env"]
            .get("DEB_BUILD_OPTIONS")
            .is_none()
    );
}

/// Serves every cached build-root `.deb` at the path its pin names.
fn serve_root(index: &Index, cache: &Path, build_deps: &[serde_json::Value]) {
    for d in build_deps {
        let uri = d["uri"].as_str().unwrap();
        let path = uri.strip_prefix(index.base()).unwrap();
        let file = cache.join("debs").join(uri.rsplit('/').next().unwrap());
        let bytes = std::fs::read(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (run `make setup`)", file.display()));
        index.serve(path, bytes);
    }
}

#[test]
fn a_real_debian_package_is_rebuilt_in_a_root_of_its_pinned_debs_and_the_mismatch_explained() {
    let Some(cache) = cached_files() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let importer = ledger.key("importer.example");
    let rebuilder = ledger.key("rebuilder.example");
    let index = mirror(&cache, None);
    let o = import(&index, &ledger, &importer, "tree=2.1.0-1", &[]);
    assert!(o.status.success(), "import: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entry = get_ok(
        &common::agent(),
        &format!("{}/entry/{}", ledger.server.url, v["index"]),
    );
    let env = reprove_verifier::dsse::Envelope::parse(&entry).unwrap();
    let st: serde_json::Value = serde_json::from_slice(env.payload()).unwrap();
    serve_root(
        &index,
        &cache,
        st["predicate"]["recipe"]["build_deps"].as_array().unwrap(),
    );

    let work = dir.join("node");
    let (code, r, o) = ledger.rebuild("tree@2.1.0-1", &rebuilder, &work, &["--submit"]);
    // Built in the current bookworm toolchain, not the one of December 2022: the binary's
    // ELF build ID differs, and the report says so first. (Were it ever reproduced, this test
    // would say so, and the README with it.)
    assert_eq!(r["result"], "mismatch", "{r}\n{}", text(&o.stderr));
    assert_eq!(code, Some(1), "{r}");
    let published = hex::encode(crate::consumer::sha256(
        &std::fs::read(cache.join(DEB)).unwrap(),
    ));
    assert_ne!(r["rebuilt"][0]["sha256"], published);
    let job = r["job_dir"].as_str().unwrap();
    let report = std::fs::read_to_string(Path::new(job).join("diff-report.txt")).unwrap();
    let head: Vec<&str> = report.lines().take(3).collect();
    assert_eq!(head[1], "likely causes:", "{report}");
    assert!(
        head[2].starts_with("- build-id: the ELF build IDs differ"),
        "{report}"
    );
    assert!(report.contains("./usr/bin/tree"), "{report}");

    // The root is cached by the digest of its pins: configured once, shared by the next build.
    let roots: Vec<_> = std::fs::read_dir(work.join("toolchains"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(roots.len(), 1, "{roots:?}");
    let status = std::fs::read_to_string(roots[0].join("var/lib/dpkg/status")).unwrap();
    let count = |p: &str| status.lines().filter(|l| l.starts_with(p)).count();
    assert_eq!(count("Package: "), 156, "every pin is in dpkg's database");
    assert_eq!(count("Package: "), count("Status: install ok installed"));
    assert!(roots[0].join("usr/bin/dpkg-buildpackage").is_file());
}

#[test]
fn bad_debian_input_is_refused_and_nothing_is_logged() {
    let Some(cache) = cached_files() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(tmp.path());
    let importer = ledger.key("importer.example");
    let before = tree_size(&ledger);
    let refused = |index: &Index, spec: &str, extra: &[&str], want: &str| {
        let o = import(index, &ledger, &importer, spec, extra);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(want), "{spec}: wanted {want:?} in {err}");
    };
    let good = mirror(&cache, None);
    refused(
        &good,
        "no-such-source=1.0-1",
        &[],
        "has no source package \"no-such-source\"",
    );
    refused(
        &good,
        "tree=9.9-1",
        &[],
        "has no version 9.9-1 of the source package tree (it has 2.1.0-1)",
    );
    refused(&good, "tree", &[], "is not SOURCE=VERSION");
    refused(
        &good,
        "tree=2.1.0-1",
        &["--suite", "nosuch"],
        "cannot read the suite \"nosuch\"",
    );

    // The signed text changed (a Sources.xz digest rewritten): the signature does not verify.
    let forged = |b: Vec<u8>| {
        let s = String::from_utf8(b).unwrap();
        s.replacen(
            "92d11a035571df011f06f28c61cb9825130ef1d92abb2f2e0525e8674dc44af8",
            "0000000000000000000000000000000000000000000000000000000000000000",
            1,
        )
        .into_bytes()
    };
    let m = mirror(&cache, Some(("InRelease", &forged)));
    refused(
        &m,
        "tree=2.1.0-1",
        &[],
        "the OpenPGP signature does not verify",
    );

    // Sources.xz is not the file the signed InRelease lists.
    let other = |_: Vec<u8>| std::fs::read(cache.join("Packages.xz")).unwrap();
    let m = mirror(&cache, Some(("Sources.xz", &other)));
    refused(
        &m,
        "tree=2.1.0-1",
        &[],
        "but the signed InRelease says 92d11a03",
    );

    // A source file that is not the one Sources lists.
    let flip = |mut b: Vec<u8>| {
        let n = b.len() / 2;
        b[n] ^= 1;
        b
    };
    let m = mirror(&cache, Some(("tree_2.1.0-1.debian.tar.xz", &flip)));
    refused(
        &m,
        "tree=2.1.0-1",
        &[],
        "but the signed Sources stanza of tree says 0ae973a2",
    );
    let m = mirror(&cache, Some((DEB, &flip)));
    refused(
        &m,
        "tree=2.1.0-1",
        &[],
        "the mirror and its signed metadata disagree",
    );

    // A keyring without Debian's keys.
    let empty = tmp.path().join("empty.gpg");
    std::fs::write(&empty, b"").unwrap();
    refused(
        &good,
        "tree=2.1.0-1",
        &["--keyring", empty.to_str().unwrap()],
        "does not verify with the keyring",
    );

    // A .buildinfo naming versions the mirror no longer has, or of another package.
    let bi = tmp.path().join("old.buildinfo");
    std::fs::write(
        &bi,
        "Format: 1.0\nSource: tree\nVersion: 2.1.0-1\nBuild-Architecture: amd64\nInstalled-Build-Depends:\n debhelper (= 13.11.3),\n dpkg-dev (= 1.21.23)\n",
    )
    .unwrap();
    refused(
        &good,
        "tree=2.1.0-1",
        &["--buildinfo", bi.to_str().unwrap()],
        "inputs unavailable: the suite no longer has 1 of the exact versions",
    );
    std::fs::write(
        &bi,
        "Format: 1.0\nSource: hello\nVersion: 2.10-3\nInstalled-Build-Depends:\n a (= 1)\n",
    )
    .unwrap();
    refused(
        &good,
        "tree=2.1.0-1",
        &["--buildinfo", bi.to_str().unwrap()],
        "the .buildinfo is of hello 2.10-3",
    );

    assert_eq!(tree_size(&ledger), before, "nothing was logged");
}
