//! A real browser on the log's pages: the real `reprove ledger serve` with a log of crafted
//! signed entries, and headless Debian `chromium` loading the home page, searching for an
//! artifact, following the link to its release and from there to an entry. Each step is
//! rendered by the browser (`--dump-dom` for the text, `--screenshot` for a PNG under
//! `target/`); the test asserts on the rendered text and that every screenshot is a PNG.
//!
//! Without chromium it prints SKIPPED and passes, except under `CI=true` (where
//! `make setup` installs it), where it fails.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, agent, envelope, init_log, post, signer};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::{
    Artifact, Builder, Comparison, Digests, Entry, EntryKind, Environment, RebuildAttestation,
    RebuildPredicate, RebuildResult, Recipe, ReleaseManifest, ReleasePredicate, ReleaseRef,
    Sandbox, SandboxKind, Source,
};
use sha2::{Digest, Sha256};

/// The longest one browser run may take.
const BROWSER_WAIT: Duration = Duration::from_secs(90);

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Runs headless chromium on `url` with `args`, bounded in time; returns stdout.
fn browse(bin: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1100,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > BROWSER_WAIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish {url} within {BROWSER_WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The rendered DOM of `url`, and a screenshot of it saved as `shot`.
fn render(bin: &Path, profile: &Path, url: &str, shot: &Path) -> String {
    let dom = browse(bin, profile, &["--dump-dom".to_owned()], url);
    browse(
        bin,
        profile,
        &[format!("--screenshot={}", shot.display())],
        url,
    );
    let png = std::fs::read(shot).unwrap_or_default();
    assert!(png.len() > 1000, "screenshot {} is empty", shot.display());
    assert_eq!(
        &png[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        shot.display()
    );
    dom
}

/// The text of the page as a reader sees it: tags dropped, entities of the fixture decoded.
fn visible_text(dom: &str) -> String {
    let body = dom.split("<main>").nth(1).unwrap_or(dom);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `href` in `dom` starting with `prefix`.
fn link(dom: &str, prefix: &str) -> String {
    let needle = format!("href=\"{prefix}");
    let at = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("no link to {prefix}… in {dom}"));
    let rest = &dom[at + 6..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

fn release_statement(digest: [u8; 32]) -> Entry {
    let name = "hello-2.1.tar.gz".to_owned();
    Entry::new(EntryKind::Release(ReleaseManifest {
        subjects: vec![Artifact {
            name: name.clone(),
            digest: Digests::sha256(digest),
        }],
        predicate: ReleasePredicate {
            project: "hello-browser".into(),
            version: "2.1".into(),
            artifacts: BTreeMap::from([(name.clone(), format!("https://example.org/{name}"))]),
            source: Source::Git {
                uri: "https://example.org/hello.git".into(),
                commit: "c".repeat(40),
            },
            recipe: Recipe {
                command: vec!["make".into()],
                environment: Environment::Host {},
                source_date_epoch: 1_700_000_000,
                env: BTreeMap::new(),
                outputs: BTreeMap::from([(format!("out/{name}"), name)]),
            },
        },
    }))
    .unwrap()
}

fn rebuild_statement(digest: [u8; 32], index: u64, release_bytes: &[u8]) -> Entry {
    let subjects = vec![Artifact {
        name: "hello-2.1.tar.gz".into(),
        digest: Digests::sha256(digest),
    }];
    Entry::new(EntryKind::Rebuild(RebuildAttestation {
        subjects: subjects.clone(),
        predicate: RebuildPredicate {
            release: ReleaseRef {
                log_index: index,
                name: "hello-browser".into(),
                version: "2.1".into(),
                digest: Digests::sha256(Sha256::digest(release_bytes).into()),
            },
            result: RebuildResult::Reproduced,
            comparison: Comparison::BitIdentical,
            rebuilt: subjects,
            build_log: None,
            diff_report: None,
            sandbox: Sandbox {
                kind: SandboxKind::Bubblewrap,
                details: None,
            },
            builder: Builder {
                id: "https://rebuilder.example.org".into(),
                version: "0.1.0".into(),
            },
            started_on: "2026-01-01T00:00:00Z".into(),
            finished_on: "2026-01-01T00:01:00Z".into(),
            invocation_id: None,
            detail: None,
            variations: Vec::new(),
        },
    }))
    .unwrap()
}

fn submit(url: &str, key: &NoteSigner, entry: &Entry) -> (u64, Vec<u8>) {
    let bytes = envelope(key, &entry.encode());
    let (status, body) = post(&agent(), &format!("{url}/add"), "application/json", &bytes).unwrap();
    assert_eq!(status, 200, "{}", common::text(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (v["index"].as_u64().unwrap(), bytes)
}

#[test]
fn a_browser_searches_an_artifact_and_follows_it_to_its_release_and_an_entry() {
    let Some(bin) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is not installed; `make setup` installs it (CI=true)");
        }
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    init_log(&data);
    let server = Server::start(&data, &[]);
    let url = server.url.trim_end_matches('/').to_owned();

    let publisher = signer("publisher.example.org", 11);
    let rebuilder = signer("rebuilder.example.org", 12);
    let digest: [u8; 32] = Sha256::digest(b"hello-2.1 bytes").into();
    let (release_index, release_bytes) = submit(&url, &publisher, &release_statement(digest));
    let (rebuild_index, _) = submit(
        &url,
        &rebuilder,
        &rebuild_statement(digest, release_index, &release_bytes),
    );

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = dir.path().join("chromium-profile");

    // 1. The home page.
    let dom = render(
        &bin,
        &profile,
        &format!("{url}/"),
        &shots.join("1-home.png"),
    );
    let text = visible_text(&dom);
    assert!(text.contains("log.example.test/reprove"), "{text}");
    assert!(text.contains("Tree size 2 entries"), "{text}");
    assert!(text.contains("hello-browser 2.1 reproduced by 1"), "{text}");

    // 2. Searching for the artifact's digest (what the search form submits) lands on its page.
    let hex = hex::encode(digest);
    let dom = render(
        &bin,
        &profile,
        &format!("{url}/search?q={hex}"),
        &shots.join("2-artifact.png"),
    );
    let text = visible_text(&dom);
    assert!(text.contains(&format!("Artifact sha256 {hex}")), "{text}");
    assert!(text.contains("release hello-browser 2.1"), "{text}");
    assert!(
        text.contains("rebuild of hello-browser 2.1 : ✓ reproduced"),
        "{text}"
    );

    // 3. Its release.
    let release = link(&dom, "/release/");
    assert_eq!(release, "/release/hello-browser/2.1");
    let dom = render(
        &bin,
        &profile,
        &format!("{url}{release}"),
        &shots.join("3-release.png"),
    );
    let text = visible_text(&dom);
    assert!(text.contains("Status reproduced by 1"), "{text}");
    assert!(text.contains("rebuilder.example.org"), "{text}");
    assert!(text.contains(&format!("#{rebuild_index}")), "{text}");

    // 4. The rebuild attestation's entry.
    let entry = link(&dom, &format!("/entry/{rebuild_index}"));
    let dom = render(
        &bin,
        &profile,
        &format!("{url}{entry}"),
        &shots.join("4-entry.png"),
    );
    let text = visible_text(&dom);
    assert!(text.contains(&format!("Entry #{rebuild_index}")), "{text}");
    assert!(text.contains("✓ verifies against the checkpoint"), "{text}");
    assert!(text.contains("every signature verifies"), "{text}");
    assert!(text.contains("https://reprove.dev/rebuild/v1"), "{text}");
    eprintln!("screenshots in {}", shots.display());
    assert_eq!(server.terminate(), Some(0));
}
