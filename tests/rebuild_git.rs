//! A release whose source is a git repository at a full commit ID: the publisher builds and
//! publishes it, a rebuilder fetches that exact commit (git checks the object hashes), rebuilds
//! and reproduces it; a commit the repository does not have is `inputs-unavailable`.

use crate::common;
use crate::rb;

use std::path::Path;
use std::process::Command;

use common::text;
use rb::{Ledger, build_artifacts};

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.test")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.test")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
    text(&o.stdout).trim().to_owned()
}

fn manifest(repo: &str, commit: &str, version: &str) -> String {
    format!(
        "project = \"hello-git\"\nversion = \"{version}\"\n[source]\ngit = \"{}\"\n\
         commit = \"{commit}\"\n[recipe]\ncommand = [\"make\", \"dist\"]\n\
         source_date_epoch = 1700000000\n[recipe.env]\nCC = \"gcc\"\n[recipe.outputs]\n\
         \"out/hello-c-1.0.0.tar.gz\" = \"hello-git.tar.gz\"\n[[artifact]]\n\
         name = \"hello-git.tar.gz\"\npath = \"dist/hello-git.tar.gz\"\n",
        repo
    )
}

#[test]
fn a_git_source_at_a_commit_is_rebuilt_and_reproduced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    for f in ["Makefile", "README", "hello.c"] {
        std::fs::copy(rb::fixtures().join("hello-c/src").join(f), repo.join(f)).unwrap();
    }
    git(&repo, &["init", "--quiet"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "hello"]);
    let commit = git(&repo, &["rev-parse", "HEAD"]);
    // A later commit on the branch must not leak into the build of the named one.
    std::fs::write(repo.join("hello.c"), "int main(void) { return 1; }\n").unwrap();
    git(&repo, &["commit", "--quiet", "-am", "later"]);

    let publisher_dir = dir.join("pub");
    std::fs::create_dir_all(&publisher_dir).unwrap();
    // The publisher builds from its local clone (its own manifest may name local paths)...
    let local = repo.to_str().unwrap();
    std::fs::write(
        publisher_dir.join("reprove.toml"),
        manifest(local, &commit, "1.0.0"),
    )
    .unwrap();
    let dist = publisher_dir.join("dist");
    build_artifacts(&publisher_dir, "reprove.toml", &dist, &dir.join("pub-work"));
    // ...and logs the repository where rebuilders can fetch it: over HTTP (git's "dumb"
    // protocol, static files on 127.0.0.1). A logged release never names a local path.
    let served = dir.join("served");
    std::fs::create_dir_all(&served).unwrap();
    git(
        dir,
        &[
            "clone",
            "--quiet",
            "--bare",
            local,
            served.join("repo.git").to_str().unwrap(),
        ],
    );
    git(&served.join("repo.git"), &["update-server-info"]);
    let url = format!("{}/repo.git", common::serve_dir(&served));
    std::fs::write(
        publisher_dir.join("reprove.toml"),
        manifest(&url, &commit, "1.0.0"),
    )
    .unwrap();

    let ledger = Ledger::start(dir);
    let publisher = ledger.key("publisher.example");
    let rebuilder = ledger.key("rebuilder.example");
    ledger.publish(&publisher_dir.join("reprove.toml"), &publisher, Some(&dist));
    let (code, v, o) = ledger.rebuild(
        "hello-git@1.0.0",
        &rebuilder,
        &dir.join("w1"),
        &["--submit"],
    );
    assert_eq!(code, Some(0), "{v}\n{}", text(&o.stderr));
    assert_eq!(v["result"], "reproduced", "{v}");

    // A commit the repository does not have: inputs-unavailable, attested, exit 1.
    let missing = "0123456789abcdef0123456789abcdef01234567";
    std::fs::write(
        publisher_dir.join("missing.toml"),
        manifest(&url, missing, "1.0.1"),
    )
    .unwrap();
    ledger.publish(&publisher_dir.join("missing.toml"), &publisher, Some(&dist));
    let (code, v, o) = ledger.rebuild(
        "hello-git@1.0.1",
        &rebuilder,
        &dir.join("w2"),
        &["--submit"],
    );
    assert_eq!(code, Some(1), "{v}\n{}", text(&o.stderr));
    assert_eq!(v["result"], "inputs-unavailable", "{v}");
    assert!(v["attestation_index"].as_u64().is_some(), "{v}");
}

#[test]
fn a_logged_git_source_on_this_host_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("README"), "x").unwrap();
    git(&repo, &["init", "--quiet"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "x"]);
    let commit = git(&repo, &["rev-parse", "HEAD"]);
    let publisher_dir = dir.join("pub");
    std::fs::create_dir_all(publisher_dir.join("dist")).unwrap();
    std::fs::write(publisher_dir.join("dist/hello-git.tar.gz"), b"x").unwrap();
    let ledger = Ledger::start(dir);
    let publisher = ledger.key("publisher.example");
    let rebuilder = ledger.key("rebuilder.example");
    for (i, uri) in [
        repo.to_str().unwrap().to_owned(),
        format!("file://{}", repo.display()),
        "ext::false".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let version = format!("1.0.{i}");
        std::fs::write(
            publisher_dir.join("reprove.toml"),
            manifest(uri, &commit, &version),
        )
        .unwrap();
        // Publishing it is refused unless told it stays local...
        let m = publisher_dir.join("reprove.toml");
        let o = common::reprove(&[
            "release",
            "publish",
            m.to_str().unwrap(),
            "--key",
            publisher.to_str().unwrap(),
            "--ledger",
            &ledger.server.url,
        ]);
        assert_eq!(o.status.code(), Some(2), "{uri}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("Rebuilders would refuse it"),
            "{}",
            text(&o.stderr)
        );
        let o = common::reprove(&[
            "release",
            "publish",
            m.to_str().unwrap(),
            "--key",
            publisher.to_str().unwrap(),
            "--ledger",
            &ledger.server.url,
            "--local-only",
        ]);
        assert!(o.status.success(), "{uri}: {}", text(&o.stderr));
        // ...and a rebuilder refuses it: an inputs-unavailable attestation, nothing fetched.
        let (code, v, o) = ledger.rebuild(
            &format!("hello-git@{version}"),
            &rebuilder,
            &dir.join(format!("w{i}")),
            &["--submit"],
        );
        assert_eq!(code, Some(1), "{v}\n{}", text(&o.stderr));
        assert_eq!(v["result"], "inputs-unavailable", "{v}");
        assert!(
            v["detail"].as_str().unwrap().contains("only https://"),
            "{v}"
        );
    }
}
