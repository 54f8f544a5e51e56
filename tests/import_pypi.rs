//! `reprove import pypi` against a PEP 691/503 simple index served from 127.0.0.1, with a real
//! PyPI project's files (tomli 2.2.1: its sdist, its wheel and its backend's wheel, flit_core
//! 3.10.1), fetched once by `make setup` into a cache outside the clone and pinned by sha256
//! there. The import is rebuilt by two rebuilders in the real sandbox, both reproduce the
//! wheel bit for bit, and `reprove verify` trusts the real wheel. Then every kind of bad input
//! is refused (exit 2, nothing logged), and an sdist that does not build is a signed
//! `build-failed`.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::common::{self, get_ok, reprove, text};
use crate::rb::Ledger;

const TOMLI_SDIST: &str = "tomli-2.2.1.tar.gz";
const TOMLI_WHEEL: &str = "tomli-2.2.1-py3-none-any.whl";
const FLIT_WHEEL: &str = "flit_core-3.10.1-py3-none-any.whl";

/// The PyPI files `scripts/setup.sh` caches ([`fixture_cache`]).
pub(crate) fn cached_files() -> Option<PathBuf> {
    fixture_cache("pypi", &[TOMLI_SDIST, TOMLI_WHEEL, FLIT_WHEEL])
}

/// The cache `scripts/setup.sh` fills, `<cache>/reprove/fixtures/<ecosystem>`, when it holds
/// every one of `files`; `None` (the test is skipped, loudly) when it does not, except under
/// `CI=true`, where a missing cache fails.
pub(crate) fn fixture_cache(ecosystem: &str, files: &[&str]) -> Option<PathBuf> {
    let dir = cache_root().join(ecosystem);
    if files.iter().all(|f| dir.join(f).is_file()) {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the {ecosystem} fixture cache {} is incomplete: run `make setup` (scripts/setup.sh) first",
        dir.display()
    );
    eprintln!(
        "SKIPPED: the {ecosystem} fixture cache {} is incomplete; run `make setup`",
        dir.display()
    );
    None
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(crate::consumer::sha256(bytes))
}

/// Serves tomli 2.2.1 and its backend, flit_core 3.10.1, from the fixture cache.
pub(crate) fn serve_tomli(index: &Index, cache: &Path) {
    let read = |f: &str| std::fs::read(cache.join(f)).unwrap();
    index.project(
        "tomli",
        &[
            File::new(TOMLI_SDIST, read(TOMLI_SDIST)),
            File::new(TOMLI_WHEEL, read(TOMLI_WHEEL)),
        ],
        true,
    );
    index.project(
        "flit-core",
        &[File::new(FLIT_WHEEL, read(FLIT_WHEEL))],
        false,
    );
}

/// One file on the served index.
#[derive(Clone)]
struct File {
    name: String,
    bytes: Vec<u8>,
    /// The sha256 the index claims (default: the true one).
    claimed: Option<String>,
    yanked: Option<String>,
}

impl File {
    fn new(name: &str, bytes: Vec<u8>) -> File {
        File {
            name: name.to_owned(),
            bytes,
            claimed: None,
            yanked: None,
        }
    }
}

/// Path → (content type, body).
type Routes = Arc<Mutex<BTreeMap<String, (String, Vec<u8>)>>>;

/// A simple index on 127.0.0.1: `/simple/<project>/` (PEP 691 JSON for projects in `json`,
/// PEP 503 HTML for the others) and `/files/<name>`.
pub(crate) struct Index {
    url: String,
    routes: Routes,
}

impl Index {
    pub(crate) fn start() -> Index {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let routes: Routes = Arc::default();
        let served = routes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let found = served.lock().unwrap().get(&path).cloned();
                let (status, ctype, body) = match found {
                    Some((ctype, body)) => ("200 OK", ctype, body),
                    None => (
                        "404 Not Found",
                        "text/plain".to_owned(),
                        b"not found".to_vec(),
                    ),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        Index { url, routes }
    }

    /// The server's base URL (`http://127.0.0.1:PORT`).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Serves `body` as `ctype` at `path`.
    pub(crate) fn route(&self, path: &str, ctype: &str, body: Vec<u8>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (ctype.to_owned(), body));
    }

    pub(crate) fn base(&self) -> &str {
        &self.url
    }

    /// Serves `bytes` at `path`.
    pub(crate) fn serve(&self, path: &str, bytes: Vec<u8>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), ("application/octet-stream".into(), bytes));
    }

    pub(crate) fn simple(&self) -> String {
        format!("{}/simple", self.url)
    }

    /// Serves `project`'s page listing `files`, as JSON or HTML.
    fn project(&self, project: &str, files: &[File], json: bool) {
        let mut routes = self.routes.lock().unwrap();
        let mut entries = Vec::new();
        let mut links = String::new();
        for f in files {
            routes.insert(
                format!("/files/{}", f.name),
                ("application/octet-stream".into(), f.bytes.clone()),
            );
            let sha = f.claimed.clone().unwrap_or_else(|| sha256_hex(&f.bytes));
            entries.push(serde_json::json!({
                "filename": f.name,
                "url": format!("../../files/{}", f.name),
                "hashes": {"sha256": sha},
                "yanked": f.yanked.clone().map_or(serde_json::json!(false), serde_json::Value::String),
                "upload-time": "2024-11-27T22:38:35.385876Z",
            }));
            let yanked = f
                .yanked
                .as_ref()
                .map(|r| format!(" data-yanked=\"{r}\""))
                .unwrap_or_default();
            links.push_str(&format!(
                "<a href=\"../../files/{0}#sha256={sha}\"{yanked}>{0}</a><br>\n",
                f.name
            ));
        }
        let page = if json {
            (
                "application/vnd.pypi.simple.v1+json".to_owned(),
                serde_json::to_vec(&serde_json::json!({
                    "meta": {"api-version": "1.1"},
                    "name": project,
                    "files": entries,
                }))
                .unwrap(),
            )
        } else {
            (
                "text/html".to_owned(),
                format!("<!DOCTYPE html><html><body>\n{links}</body></html>\n").into_bytes(),
            )
        };
        routes.insert(format!("/simple/{project}/"), page);
    }
}

fn import(index: &Index, ledger: &Ledger, key: &Path, spec: &str) -> std::process::Output {
    reprove(&[
        "import",
        "pypi",
        spec,
        "--index",
        &index.simple(),
        "--key",
        key.to_str().unwrap(),
        "--ledger",
        &ledger.server.url,
        "--log-key",
        &ledger.vkey,
        "--json",
    ])
}

pub(crate) fn tree_size(ledger: &Ledger) -> u64 {
    let cp = get_ok(
        &common::agent(),
        &format!("{}/checkpoint", ledger.server.url),
    );
    text(&cp).lines().nth(1).unwrap().parse().unwrap()
}

pub(crate) fn vkey_of(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn a_real_pypi_wheel_is_imported_reproduced_by_two_rebuilders_and_verified() {
    let Some(cache) = cached_files() else { return };
    let read = |f: &str| std::fs::read(cache.join(f)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let importer = ledger.key("importer.example");
    let rebuilders = [
        ledger.key("rebuilder-a.example"),
        ledger.key("rebuilder-b.example"),
    ];
    let index = Index::start();
    // The project page as PEP 691 JSON, the backend's as PEP 503 HTML: both are read.
    index.project(
        "tomli",
        &[
            File::new(TOMLI_SDIST, read(TOMLI_SDIST)),
            File::new(TOMLI_WHEEL, read(TOMLI_WHEEL)),
        ],
        true,
    );
    index.project(
        "flit-core",
        &[File::new(FLIT_WHEEL, read(FLIT_WHEEL))],
        false,
    );

    let o = import(&index, &ledger, &importer, "tomli==2.2.1");
    assert!(o.status.success(), "import: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["project"], "tomli");
    assert_eq!(v["backend"], "flit_core==3.10.1");
    assert_eq!(v["wheel_sha256"], sha256_hex(&read(TOMLI_WHEEL)));
    assert!(v["source_date_epoch"].is_null(), "{v}");
    assert!(v["proof_verified"].as_bool().unwrap());
    let notes = v["notes"].to_string();
    assert!(notes.contains("2016-01-01"), "{notes}");

    // The logged manifest says it is a third-party import and where each digest came from.
    let entry = get_ok(
        &common::agent(),
        &format!("{}/entry/{}", ledger.server.url, v["index"]),
    );
    let env = reprove_verifier::dsse::Envelope::parse(&entry).unwrap();
    let statement: serde_json::Value = serde_json::from_slice(env.payload()).unwrap();
    let imp = &statement["predicate"]["third_party_import"];
    assert_eq!(imp["ecosystem"], "pypi");
    assert_eq!(
        imp["digest_sources"][TOMLI_WHEEL],
        format!("{}/tomli/", index.simple())
    );
    assert_eq!(
        imp["digest_sources"][FLIT_WHEEL],
        format!("{}/flit-core/", index.simple())
    );
    assert_eq!(
        statement["predicate"]["recipe"]["build_deps"][0]["digest"]["sha256"],
        sha256_hex(&read(FLIT_WHEEL))
    );

    for (i, key) in rebuilders.iter().enumerate() {
        let work = dir.join(format!("node-{i}"));
        let (code, r, o) = ledger.rebuild("tomli@2.2.1", key, &work, &["--submit"]);
        assert_eq!(code, Some(0), "{r}\n{}", text(&o.stderr));
        assert_eq!(r["result"], "reproduced", "{r}");
        assert_eq!(r["rebuilt"][0]["sha256"], sha256_hex(&read(TOMLI_WHEEL)));
        // The toolchain root is cached by the digest of its pins.
        let roots: Vec<_> = std::fs::read_dir(work.join("toolchains"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(roots.len(), 1, "{roots:?}");
        assert!(
            work.join("toolchains")
                .join(&roots[0])
                .join("flit_core/buildapi.py")
                .is_file()
        );
    }

    // A consumer who trusts the two rebuilders (and the importer for tomli) trusts the wheel.
    let origin = ledger.vkey.split('+').next().unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "threshold = 2\n\n[log]\norigin = \"{origin}\"\nkey = \"{}\"\nurl = \"{}\"\n\n\
             [[operator]]\nname = \"a\"\nkeys = [\"{}\"]\n\n[[operator]]\nname = \"b\"\nkeys = [\"{}\"]\n\n\
             [[publisher]]\nname = \"pypi importer\"\nprojects = [\"tomli\"]\nkeys = [\"{}\"]\n",
            ledger.vkey,
            ledger.server.url,
            vkey_of(&rebuilders[0]),
            vkey_of(&rebuilders[1]),
            vkey_of(&importer),
        ),
    )
    .unwrap();
    let o = reprove(&[
        "verify",
        cache.join(TOMLI_WHEEL).to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--state",
        dir.join("state").to_str().unwrap(),
        "--cache",
        dir.join("cache").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "verify: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

const SIX_SDIST: &str = "six-1.17.0.tar.gz";
const SIX_WHEEL: &str = "six-1.17.0-py2.py3-none-any.whl";
const SETUPTOOLS_WHEEL: &str = "setuptools-75.6.0-py3-none-any.whl";

/// six 1.17.0 was built without SOURCE_DATE_EPOCH on a machine whose clock read 2024-12-04
/// 17:35:24 UTC, and its dist-info files carry that date. The import reads the clock back from
/// the wheel into the recipe, and a rebuild in the sandbox — today, with today's clock —
/// reproduces the published wheel bit for bit.
#[test]
fn a_wheel_dated_by_the_publishers_clock_is_rebuilt_at_that_clock() {
    let Some(cache) = fixture_cache("pypi", &[SIX_SDIST, SIX_WHEEL, SETUPTOOLS_WHEEL]) else {
        return;
    };
    let read = |f: &str| std::fs::read(cache.join(f)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let importer = ledger.key("importer.example");
    let rebuilder = ledger.key("rebuilder-a.example");
    let index = Index::start();
    index.project(
        "six",
        &[
            File::new(SIX_SDIST, read(SIX_SDIST)),
            File::new(SIX_WHEEL, read(SIX_WHEEL)),
        ],
        true,
    );
    index.project(
        "setuptools",
        &[File::new(SETUPTOOLS_WHEEL, read(SETUPTOOLS_WHEEL))],
        true,
    );

    let o = import(&index, &ledger, &importer, "six==1.17.0");
    assert!(o.status.success(), "import: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"], "setuptools==75.6.0");
    let notes = v["notes"].to_string();
    assert!(notes.contains("REPROVE_WHEEL_CLOCK=1733333724"), "{notes}");
    assert!(notes.contains("2024-12-04 17:35:24"), "{notes}");
    let entry = get_ok(
        &common::agent(),
        &format!("{}/entry/{}", ledger.server.url, v["index"]),
    );
    let env = reprove_verifier::dsse::Envelope::parse(&entry).unwrap();
    let statement: serde_json::Value = serde_json::from_slice(env.payload()).unwrap();
    let recipe = &statement["predicate"]["recipe"];
    assert_eq!(
        recipe["env"]["REPROVE_WHEEL_CLOCK"], "1733333724",
        "{recipe}"
    );
    assert!(
        recipe["env"].get("REPROVE_WHEEL_UMASK").is_none(),
        "{recipe}"
    );
    assert!(recipe["source_date_epoch"].is_null(), "{recipe}");

    let (code, r, o) = ledger.rebuild("six@1.17.0", &rebuilder, &dir.join("node"), &["--submit"]);
    assert_eq!(code, Some(0), "{r}\n{}", text(&o.stderr));
    assert_eq!(r["result"], "reproduced", "{r}");
    assert_eq!(r["rebuilt"][0]["sha256"], sha256_hex(&read(SIX_WHEEL)));
}

/// A copy of the wheel with its WHEEL file rewritten by `edit`.
fn rewrite_wheel(wheel: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(wheel)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut m = zin.by_index(i).unwrap();
        let name = m.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        m.read_to_end(&mut bytes).unwrap();
        if name.ends_with(".dist-info/WHEEL") {
            bytes = edit(&String::from_utf8(bytes).unwrap()).into_bytes();
        }
        let opts =
            zip::write::SimpleFileOptions::default().last_modified_time(m.last_modified().unwrap());
        out.start_file(name, opts).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn bad_input_is_refused_and_nothing_is_logged() {
    let Some(cache) = cached_files() else { return };
    let read = |f: &str| std::fs::read(cache.join(f)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(tmp.path());
    let importer = ledger.key("importer.example");
    let index = Index::start();
    index.project(
        "flit-core",
        &[File::new(FLIT_WHEEL, read(FLIT_WHEEL))],
        true,
    );
    let sdist = File::new(TOMLI_SDIST, read(TOMLI_SDIST));
    let wheel = File::new(TOMLI_WHEEL, read(TOMLI_WHEEL));

    let check = |spec: &str, files: Option<Vec<File>>, json: bool, want: &str| {
        if let Some(files) = files {
            index.project("tomli", &files, json);
        }
        let o = import(&index, &ledger, &importer, spec);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(want), "{spec}: wanted {want:?} in: {err}");
        assert_eq!(tree_size(&ledger), 0, "{spec}: something was logged");
    };
    // An unknown package, an unknown version.
    check(
        "no-such-package==1.0",
        None,
        true,
        "the index has no project \"no-such-package\"",
    );
    check(
        "tomli==9.9.9",
        Some(vec![sdist.clone(), wheel.clone()]),
        true,
        "no such version",
    );
    // An index that lies about a digest (in HTML and in JSON).
    for json in [false, true] {
        let mut lying = wheel.clone();
        lying.claimed = Some("ab".repeat(32));
        check(
            "tomli==2.2.1",
            Some(vec![sdist.clone(), lying]),
            json,
            "the index and the file disagree",
        );
    }
    // A yanked release.
    let mut yanked = wheel.clone();
    yanked.yanked = Some("broken metadata".into());
    check(
        "tomli==2.2.1",
        Some(vec![sdist.clone(), yanked]),
        true,
        "is yanked",
    );
    // A wheel without a Generator line.
    let bare = File::new(
        TOMLI_WHEEL,
        rewrite_wheel(&wheel.bytes, |w| {
            w.lines()
                .filter(|l| !l.starts_with("Generator:"))
                .map(|l| format!("{l}\n"))
                .collect()
        }),
    );
    check(
        "tomli==2.2.1",
        Some(vec![sdist.clone(), bare]),
        false,
        "has no Generator: line",
    );
    // A backend reprove does not know how to pin.
    let native = File::new(
        TOMLI_WHEEL,
        rewrite_wheel(&wheel.bytes, |w| {
            w.replace("flit 3.10.1", "maturin (1.8.1)")
        }),
    );
    check(
        "tomli==2.2.1",
        Some(vec![sdist, native]),
        true,
        "not a pure-Python build backend",
    );
    // Not NAME==VERSION.
    let o = import(&index, &ledger, &importer, "tomli>=2");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("NAME==VERSION"),
        "{}",
        text(&o.stderr)
    );
}

/// An sdist whose build fails: the import is logged (its facts are true), and a rebuild of it
/// is a signed `build-failed` with the backend's error in the build log.
#[test]
fn an_sdist_that_does_not_build_is_a_signed_build_failed() {
    let Some(cache) = cached_files() else { return };
    let read = |f: &str| std::fs::read(cache.join(f)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ledger = Ledger::start(dir);
    let importer = ledger.key("importer.example");
    let rebuilder = ledger.key("rebuilder.example");
    let index = Index::start();
    index.project(
        "flit-core",
        &[File::new(FLIT_WHEEL, read(FLIT_WHEEL))],
        true,
    );
    // pyproject.toml names flit_core, but the module flit needs is not in the sdist.
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let pyproject = "[build-system]\nrequires = [\"flit_core>=3.2,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\n[project]\nname = \"broken\"\nversion = \"1.0\"\ndescription = \"does not build\"\n";
    for (path, body) in [
        ("broken-1.0/pyproject.toml", pyproject),
        ("broken-1.0/README", "x\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        tar.append_data(&mut h, path, body.as_bytes()).unwrap();
    }
    let sdist = tar.into_inner().unwrap().finish().unwrap();
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let at = zip::DateTime::from_date_and_time(2016, 1, 1, 0, 0, 0).unwrap();
    for (name, body) in [
        ("broken.py", "x = 1\n"),
        (
            "broken-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: flit 3.10.1\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (
            "broken-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n",
        ),
    ] {
        z.start_file(
            name,
            zip::write::SimpleFileOptions::default().last_modified_time(at),
        )
        .unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    let wheel = z.finish().unwrap().into_inner();
    index.project(
        "broken",
        &[
            File::new("broken-1.0.tar.gz", sdist),
            File::new("broken-1.0-py3-none-any.whl", wheel),
        ],
        true,
    );
    let o = import(&index, &ledger, &importer, "broken==1.0");
    assert!(o.status.success(), "import: {}", text(&o.stderr));
    let (code, r, o) = ledger.rebuild("broken@1.0", &rebuilder, &dir.join("node"), &["--submit"]);
    assert_eq!(r["result"], "build-failed", "{r}\n{}", text(&o.stderr));
    assert_ne!(code, Some(0));
    assert!(r["attestation_index"].as_u64().is_some(), "{r}");
    let log = std::fs::read_to_string(Path::new(r["job_dir"].as_str().unwrap()).join("build.log"))
        .unwrap();
    assert!(log.contains("broken"), "{log}");
    assert!(log.contains("Error") || log.contains("error"), "{log}");
}

/// Where `scripts/setup.sh` puts the real-package fixtures (one directory per ecosystem).
pub(crate) fn cache_root() -> PathBuf {
    std::env::var_os("REPROVE_FIXTURE_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("reprove/fixtures"))
        })
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/reprove/fixtures")
        })
}
