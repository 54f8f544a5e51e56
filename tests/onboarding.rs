//! A newcomer's first hour with only the binary: `reprove init` writes a manifest for a source
//! directory, `reprove rebuild --manifest` packs that directory reproducibly and builds it, and
//! `reprove policy init` writes a policy trusting a log under its verified key. Neither init
//! overwrites anything (exit 2, the file untouched).

use std::path::Path;
use std::process::Output;

use crate::common::{ORIGIN, reprove, signer, text};
use crate::rb::{Ledger, fixtures};

fn explain(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// A copy of the C fixture's source tree at `dir/hello`, as a project checked out.
fn project(dir: &Path) -> std::path::PathBuf {
    let to = dir.join("hello");
    std::fs::create_dir_all(&to).unwrap();
    for f in ["Makefile", "README", "hello.c"] {
        std::fs::copy(fixtures().join("hello-c/src").join(f), to.join(f)).unwrap();
    }
    to
}

/// `rebuild --manifest` of `manifest`: the sha256 of `out/hello`.
fn build(manifest: &Path, work: &Path, out: &Path) -> String {
    let o = reprove(&[
        "rebuild",
        "--manifest",
        manifest.to_str().unwrap(),
        "--work",
        work.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outputs"][0]["name"], "hello", "{v}");
    v["outputs"][0]["sha256"].as_str().unwrap().to_owned()
}

#[test]
fn init_then_rebuild_a_source_directory() {
    let dir = tempfile::tempdir().unwrap();
    let src = project(dir.path());
    let o = reprove(&["init", "--dir", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    let manifest = src.join("reprove.toml");
    let written = std::fs::read_to_string(&manifest).unwrap();
    assert!(written.contains("project = \"hello\""), "{written}");
    assert!(written.contains("command = [\"make\"]"), "{written}");
    assert!(written.contains("path = \".\""), "{written}");

    // The work and output directories inside the source are left out of its archive, so a
    // second build (with both now there) packs the same source and builds the same bytes.
    let (work, out) = (src.join("reprove-work"), src.join("dist"));
    let first = build(&manifest, &work, &out);
    assert!(out.join("hello").is_file());
    let second = build(&manifest, &work, &out);
    assert_eq!(first, second);
    // A second copy of the tree elsewhere packs to the same archive.
    let other = project(&dir.path().join("elsewhere"));
    std::fs::copy(&manifest, other.join("reprove.toml")).unwrap();
    let elsewhere = build(
        &other.join("reprove.toml"),
        &dir.path().join("w2"),
        &dir.path().join("o2"),
    );
    assert_eq!(first, elsewhere);
    let archive = |work: &Path| {
        let job = std::fs::read_dir(work)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("local-")
            })
            .unwrap();
        std::fs::read(job.join("hello-0.1.0-src.tar.gz")).unwrap()
    };
    assert_eq!(archive(&work), archive(&dir.path().join("w2")));

    // init again: refused, the manifest untouched.
    let o = reprove(&["init", "--dir", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", explain(&o));
    assert!(
        text(&o.stderr).contains("already exists"),
        "{}",
        explain(&o)
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), written);
    // Bad input: no such directory.
    let o = reprove(&["init", "--dir", dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", explain(&o));
    assert!(!dir.path().join("nope").exists());
}

#[test]
fn publishing_a_source_directory_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(dir.path());
    let key = ledger.key("publisher.example");
    let src = project(dir.path());
    let o = reprove(&["init", "--dir", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", explain(&o));
    let manifest = src.join("reprove.toml");
    let mut m = std::fs::read_to_string(&manifest).unwrap();
    m.push_str("[[artifact]]\nname = \"hello\"\npath = \"README\"\n");
    std::fs::write(&manifest, m).unwrap();
    let o = reprove(&[
        "release",
        "publish",
        manifest.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--ledger",
        &ledger.server.url,
        "--local-only",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", explain(&o));
    assert!(
        text(&o.stderr).contains("is a directory"),
        "{}",
        explain(&o)
    );
}

#[test]
fn policy_init_trusts_the_log_under_its_verified_key() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(dir.path());
    let url = ledger.server.url.as_str();
    let policy = dir.path().join("policy.toml");
    let p = policy.to_str().unwrap();
    let alpha = signer("rebuilder.alpha.example", 5).verifier().to_string();
    let operator = format!("alpha={alpha}");

    // No key: exit 2, nothing written, and the error says who signs and where keys come from.
    let o = reprove(&["policy", "init", "--ledger", url, "-o", p]);
    assert_eq!(o.status.code(), Some(2), "{}", explain(&o));
    let err = text(&o.stderr);
    assert!(err.contains(ORIGIN) && err.contains("log.pub"), "{err}");
    assert!(!policy.exists());
    // The wrong key: the checkpoint does not verify; nothing written.
    let wrong = signer(ORIGIN, 98).verifier().to_string();
    let o = reprove(&[
        "policy",
        "init",
        "--ledger",
        url,
        "--log-key",
        &wrong,
        "-o",
        p,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", explain(&o));
    assert!(!policy.exists());
    // A bad operator: nothing written.
    let o = reprove(&[
        "policy",
        "init",
        "--ledger",
        url,
        "--log-key",
        &ledger.vkey,
        "--operator",
        "alpha",
        "-o",
        p,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", explain(&o));
    assert!(!policy.exists());

    let o = reprove(&[
        "policy",
        "init",
        "--ledger",
        url,
        "--log-key",
        &ledger.vkey,
        "--operator",
        &operator,
        "-o",
        p,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", explain(&o));
    assert!(text(&o.stdout).contains(&ledger.vkey), "{}", explain(&o));
    let written = std::fs::read_to_string(&policy).unwrap();
    assert!(written.contains(&format!("url = \"{url}\"")), "{written}");
    assert!(written.contains("threshold = 1"), "{written}");
    // It is a policy verify uses: an unknown artifact is judged (not trusted), not an error.
    let digest = format!("sha256:{}", "cd".repeat(32));
    let o = crate::consumer::run(
        &[
            "verify".into(),
            "--digest".into(),
            digest,
            "--policy".into(),
            p.into(),
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", explain(&o));

    // Again: refused, the policy untouched.
    let o = reprove(&[
        "policy",
        "init",
        "--ledger",
        url,
        "--log-key",
        &ledger.vkey,
        "-o",
        p,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", explain(&o));
    assert!(
        text(&o.stderr).contains("already exists"),
        "{}",
        explain(&o)
    );
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), written);
}
