//! `reprove import crate` against a sparse registry served from 127.0.0.1, with real crates
//! (fortune 0.2.0, a binary crate with a Cargo.lock; cfg-if 1.0.0, the real dependency of a
//! small crate made here) fetched once by `make setup` into a cache outside the clone and
//! pinned by sha256 there. No published binary exists: two rebuilders build the binary in
//! the real sandbox and agree, and `reprove verify` of the built binary is trusted by a policy
//! requiring 2 operators — not with 1 agreeing operator, nor with 2 that disagree. Then every
//! kind of bad input is refused (exit 2, nothing logged).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::common::{self, get_ok, post, reprove, text};
use crate::import_pypi::{Index, tree_size, vkey_of};
use crate::rb::Ledger;

const FORTUNE: &str = "fortune-0.2.0.crate";
const CFG_IF: &str = "cfg-if-1.0.0.crate";
const CFG_IF_SHA256: &str = "baf1de4339761588bc0619e3cbc0120ee582ebb74b53b4efbf79117bd2da40fd";

/// The crates `scripts/setup.sh` caches.
pub(crate) fn cached_crates() -> Option<PathBuf> {
    crate::import_pypi::fixture_cache("crates", &[FORTUNE, CFG_IF])
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(crate::consumer::sha256(bytes))
}

/// One version on the served registry.
struct Version<'a> {
    name: &'a str,
    vers: &'a str,
    bytes: Vec<u8>,
    /// The cksum the index claims (default: the true one).
    claimed: Option<String>,
    yanked: bool,
}

impl<'a> Version<'a> {
    fn new(name: &'a str, vers: &'a str, bytes: Vec<u8>) -> Version<'a> {
        Version {
            name,
            vers,
            bytes,
            claimed: None,
            yanked: false,
        }
    }
}

/// A sparse registry on `index`: `/index/config.json`, `/index/<path>` (one JSON line per
/// version) and `/dl/<name>/<version>/download`.
fn serve(index: &Index, versions: &[Version<'_>]) {
    let config = format!("{{\"dl\":\"{}/dl\",\"api\":null}}", index.url());
    index.route(
        "/index/config.json",
        "application/json",
        config.into_bytes(),
    );
    let mut files: std::collections::BTreeMap<String, String> = Default::default();
    for v in versions {
        index.route(
            &format!("/dl/{}/{}/download", v.name, v.vers),
            "application/octet-stream",
            v.bytes.clone(),
        );
        let line = serde_json::json!({
            "name": v.name, "vers": v.vers, "deps": [], "features": {},
            "cksum": v.claimed.clone().unwrap_or_else(|| sha256_hex(&v.bytes)),
            "yanked": v.yanked,
        });
        let path = format!("/index/{}", reprove::import::crates::index_path(v.name));
        files
            .entry(path)
            .or_default()
            .push_str(&format!("{line}\n"));
    }
    for (path, body) in files {
        index.route(&path, "text/plain", body.into_bytes());
    }
}

pub(crate) fn registry(index: &Index) -> String {
    format!("{}/index", index.url())
}

/// Serves fortune 0.2.0 from the fixture cache.
pub(crate) fn serve_fortune(index: &Index, cache: &Path) {
    let bytes = std::fs::read(cache.join(FORTUNE)).unwrap();
    serve(index, &[Version::new("fortune", "0.2.0", bytes)]);
}

fn import(index: &Index, ledger: &Ledger, key: &Path, spec: &str) -> std::process::Output {
    reprove(&[
        "import",
        "crate",
        spec,
        "--registry",
        &registry(index),
        "--key",
        key.to_str().unwrap(),
        "--ledger",
        &ledger.server.url,
        "--log-key",
        &ledger.vkey,
        "--json",
    ])
}

/// A `.crate` (tar.gz under `name-version/`) of `files`.
fn make_crate(top: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        tar.append_data(&mut h, format!("{top}/{path}"), body.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A small binary crate whose Cargo.lock pins the real cfg-if 1.0.0.
fn usecfg_crate() -> Vec<u8> {
    let lock = format!(
        "version = 3\n\n[[package]]\nname = \"cfg-if\"\nversion = \"1.0.0\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{CFG_IF_SHA256}\"\n\n\
         [[package]]\nname = \"usecfg\"\nversion = \"1.0.0\"\ndependencies = [\n \"cfg-if\",\n]\n"
    );
    make_crate(
        "usecfg-1.0.0",
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"usecfg\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[dependencies]\ncfg-if = \"1\"\n",
            ),
            ("Cargo.lock", &lock),
            (
                "src/main.rs",
                "cfg_if::cfg_if! { if #[cfg(unix)] { const OS: &str = \"unix\"; } else { const OS: &str = \"other\"; } }\nfn main() { println!(\"{OS}\"); }\n",
            ),
        ],
    )
}

/// The policy of a consumer trusting `operators` (name, key) and the importer for `project`.
fn policy(
    dir: &Path,
    file: &str,
    ledger: &Ledger,
    operators: &[(&str, &Path)],
    importer: &Path,
    project: &str,
) -> PathBuf {
    let origin = ledger.vkey.split('+').next().unwrap();
    let mut text = format!(
        "threshold = 2\n\n[log]\norigin = \"{origin}\"\nkey = \"{}\"\nurl = \"{}\"\n",
        ledger.vkey, ledger.server.url
    );
    for (name, key) in operators {
        text.push_str(&format!(
            "\n[[operator]]\nname = \"{name}\"\nkeys = [\"{}\"]\n",
            vkey_of(key)
        ));
    }
    text.push_str(&format!(
        "\n[[publisher]]\nname = \"crates importer\"\nprojects = [\"{project}\"]\nkeys = [\"{}\"]\n",
        vkey_of(importer)
    ));
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn verify(dir: &Path, file: &Path, policy: &Path, state: &str) -> (Option<i32>, serde_json::Value) {
    let o = reprove(&[
        "verify",
        file.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--state",
        dir.join(state).to_str().unwrap(),
        "--json",
    ]);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!(
            "verify printed no JSON: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        )
    });
    (o.status.code(), v)
}

/// The built binary a rebuild left in its job directory.
fn built_binary(job_dir: &str) -> PathBuf {
    let outputs = Path::new(job_dir).join("build/outputs");
    let found: Vec<PathBuf> = std::fs::read_dir(&outputs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

/// Operator `key`'s attestation of the same rebuild as `envelope`, but naming other bytes for
/// the binary (a rebuilder whose build came out different), submitted to the ledger.
fn disagreeing_attestation(ledger: &Ledger, envelope: &[u8], key: &Path) -> u64 {
    let env = reprove_verifier::dsse::Envelope::parse(envelope).unwrap();
    let mut st: serde_json::Value = serde_json::from_slice(env.payload()).unwrap();
    let other = serde_json::json!({"sha256": "ee".repeat(32)});
    st["subject"][0]["digest"] = other.clone();
    st["predicate"]["rebuilt"][0]["digest"] = other;
    let signer = reprove::keys::read_signer(key).unwrap();
    let signed = reprove::sign::sign_statement(&signer, &serde_json::to_vec(&st).unwrap())
        .unwrap()
        .encode();
    let url = format!("{}/add", ledger.server.url);
    let (status, body) = post(&common::agent(), &url, "application/json", &signed).unwrap();
    assert!(status < 300, "{status}: {}", text(&body));
    tree_size(ledger) - 1
}

#[test]
fn a_real_crate_is_imported_built_alike_by_two_rebuilders_and_verified() {
    let Some(cache) = cached_crates() else { return };
    let read = |f: &str| std::fs::read(cache.join(f)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let importer = ledger.key("importer.example");
    let [a, b, c] = [
        "rebuilder-a.example",
        "rebuilder-b.example",
        "rebuilder-c.example",
    ]
    .map(|n| ledger.key(n));
    let index = Index::start();
    serve(&index, &[Version::new("fortune", "0.2.0", read(FORTUNE))]);

    let o = import(&index, &ledger, &importer, "fortune@0.2.0");
    assert!(o.status.success(), "import: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["project"], "fortune");
    assert_eq!(v["binaries"], serde_json::json!(["fortune"]));
    assert_eq!(v["crate_sha256"], sha256_hex(&read(FORTUNE)));
    assert!(v["rustc"].as_str().unwrap().starts_with("rustc "), "{v}");
    assert!(v["proof_verified"].as_bool().unwrap());

    // The logged manifest: a third-party import, the binary unpinned, the rustc pinned.
    let entry = get_ok(
        &common::agent(),
        &format!("{}/entry/{}", ledger.server.url, v["index"]),
    );
    let env = reprove_verifier::dsse::Envelope::parse(&entry).unwrap();
    let st: serde_json::Value = serde_json::from_slice(env.payload()).unwrap();
    let p = &st["predicate"];
    assert_eq!(p["third_party_import"]["ecosystem"], "crates");
    assert_eq!(
        p["third_party_import"]["digest_sources"][FORTUNE],
        format!("{}/fo/rt/fortune", registry(&index))
    );
    assert_eq!(
        p["recipe"]["unpinned_outputs"]["target/release/fortune"],
        "fortune"
    );
    assert_eq!(st["subject"][0]["name"], FORTUNE);
    assert_eq!(p["recipe"]["command"][3], v["rustc"]);

    let mut built = Vec::new();
    for (i, key) in [&a, &b].iter().enumerate() {
        let work = dir.join(format!("node-{i}"));
        let (code, r, o) = ledger.rebuild("fortune@0.2.0", key, &work, &["--submit"]);
        assert_eq!(code, Some(0), "{r}\n{}", text(&o.stderr));
        assert_eq!(r["result"], "reproduced", "{r}");
        built.push((
            r["rebuilt"][0]["sha256"].clone(),
            r["job_dir"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        built[0].0, built[1].0,
        "the two rebuilders built other bytes"
    );
    let binary = built_binary(&built[0].1);
    assert_eq!(sha256_hex(&std::fs::read(&binary).unwrap()), built[0].0);

    // Two operators built exactly these bytes: trusted.
    let both = policy(
        dir,
        "ab.toml",
        &ledger,
        &[("a", &a), ("b", &b)],
        &importer,
        "fortune",
    );
    let (code, out) = verify(dir, &binary, &both, "state-ab");
    assert_eq!(code, Some(0), "{out}");
    let summary = out.to_string();
    assert!(
        summary.contains("no publisher fixed these bytes"),
        "{summary}"
    );

    // One agreeing operator (c has not built it): not trusted, and the reason says so.
    let one = policy(
        dir,
        "ac.toml",
        &ledger,
        &[("a", &a), ("c", &c)],
        &importer,
        "fortune",
    );
    let (code, out) = verify(dir, &binary, &one, "state-ac");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.to_string()
            .contains("only 1 distinct operator(s) built exactly them"),
        "{out}"
    );

    // Two operators that disagree: c's build came out other bytes. Not trusted.
    let envelope = std::fs::read(Path::new(&built[1].1).join("attestation.dsse.json")).unwrap();
    let at = disagreeing_attestation(&ledger, &envelope, &c);
    let (code, out) = verify(dir, &binary, &one, "state-ac2");
    assert_eq!(code, Some(1), "{out}");
    let s = out.to_string();
    assert!(s.contains("built other bytes for the same output"), "{s}");
    assert!(s.contains(&format!("{at}")), "{s}");
    // And with all three, the disagreement still decides (the policy fails on a mismatch).
    let all = policy(
        dir,
        "abc.toml",
        &ledger,
        &[("a", &a), ("b", &b), ("c", &c)],
        &importer,
        "fortune",
    );
    let (code, out) = verify(dir, &binary, &all, "state-abc");
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn a_crate_with_a_registry_dependency_is_built_from_the_vendored_pinned_crate() {
    let Some(cache) = cached_crates() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let importer = ledger.key("importer.example");
    let rebuilder = ledger.key("rebuilder.example");
    let index = Index::start();
    let cfg_if = std::fs::read(cache.join(CFG_IF)).unwrap();
    serve(
        &index,
        &[
            Version::new("usecfg", "1.0.0", usecfg_crate()),
            Version::new("cfg-if", "1.0.0", cfg_if.clone()),
        ],
    );
    let o = import(&index, &ledger, &importer, "usecfg@1.0.0");
    assert!(o.status.success(), "import: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["dependencies"], serde_json::json!(["cfg-if@1.0.0"]));
    let (code, r, o) = ledger.rebuild("usecfg@1.0.0", &rebuilder, &dir.join("node"), &["--submit"]);
    assert_eq!(code, Some(0), "{r}\n{}", text(&o.stderr));
    assert_eq!(r["result"], "reproduced", "{r}");
    // The job keeps a plain copy of each output: run one made executable.
    let exe = dir.join("usecfg");
    std::fs::copy(built_binary(r["job_dir"].as_str().unwrap()), &exe).unwrap();
    std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(&exe).output().unwrap();
    assert_eq!(text(&out.stdout).trim(), "unix");
    let log = std::fs::read_to_string(Path::new(r["job_dir"].as_str().unwrap()).join("build.log"))
        .unwrap();
    assert!(log.contains("Compiling cfg-if v1.0.0"), "{log}");
}

#[test]
fn bad_crate_input_is_refused_and_nothing_is_logged() {
    let Some(cache) = cached_crates() else { return };
    let fortune = std::fs::read(cache.join(FORTUNE)).unwrap();
    let cfg_if = std::fs::read(cache.join(CFG_IF)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(tmp.path());
    let importer = ledger.key("importer.example");
    let index = Index::start();
    let check = |spec: &str, versions: &[Version<'_>], want: &str| {
        serve(&index, versions);
        let o = import(&index, &ledger, &importer, spec);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(want), "{spec}: wanted {want:?} in: {err}");
        assert_eq!(tree_size(&ledger), 0, "{spec}: something was logged");
    };
    let good = || Version::new("fortune", "0.2.0", fortune.clone());
    // An unknown crate, an unknown version.
    check(
        "no-such-crate@1.0.0",
        &[good()],
        "the registry has no crate \"no-such-crate\"",
    );
    check("fortune@9.9.9", &[good()], "no such version");
    // An index that lies about the digest.
    let mut lying = good();
    lying.claimed = Some("ab".repeat(32));
    check(
        "fortune@0.2.0",
        &[lying],
        "the registry and the file disagree",
    );
    // A yanked version.
    let mut yanked = good();
    yanked.yanked = true;
    check("fortune@0.2.0", &[yanked], "is yanked");
    // A crate without a Cargo.lock.
    let no_lock = make_crate(
        "nolock-1.0.0",
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"nolock\"\nversion = \"1.0.0\"\n",
            ),
            ("src/main.rs", "fn main() {}\n"),
        ],
    );
    check(
        "nolock@1.0.0",
        &[Version::new("nolock", "1.0.0", no_lock)],
        "has no Cargo.lock",
    );
    // A library crate: no binary to build.
    check(
        "cfg-if@1.0.0",
        &[Version::new("cfg-if", "1.0.0", cfg_if.clone())],
        "has no binary target",
    );
    // A Cargo.lock checksum the index contradicts.
    let mut dep = Version::new("cfg-if", "1.0.0", cfg_if);
    dep.claimed = Some("cd".repeat(32));
    check(
        "usecfg@1.0.0",
        &[Version::new("usecfg", "1.0.0", usecfg_crate()), dep],
        "they disagree",
    );
    // Not NAME@VERSION.
    let o = import(&index, &ledger, &importer, "fortune==0.2.0");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("NAME@VERSION"),
        "{}",
        text(&o.stderr)
    );
    let _ = std::io::stderr().flush();
}
