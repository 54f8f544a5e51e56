//! Fetching the inputs of a build — source archives, git commits, root filesystems, published
//! artifacts — and checking their digests before anything runs (fail closed).
//!
//! A location is an `http://` or `https://` URL, a `file://` URL, or an absolute path. Every
//! failure says whether it may be transient ([`Unavailable::retryable`]: a transport error
//! talking to a server), so a daemon knows what to retry.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use reprove_verifier::predicates::Digests;

use crate::hash::{FileDigests, hash_file};

/// The largest input fetched over HTTP (source archives, root filesystems, artifacts).
pub const MAX_DOWNLOAD: u64 = 8 << 30;

/// Why an input could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// What went wrong, for the attestation's `detail` and the user.
    pub reason: String,
    /// Whether trying again later may help (a transport error, a 5xx).
    pub retryable: bool,
}

impl Unavailable {
    fn permanent(reason: String) -> Unavailable {
        Unavailable {
            reason,
            retryable: false,
        }
    }

    fn transient(reason: String) -> Unavailable {
        Unavailable {
            reason,
            retryable: true,
        }
    }
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Where a location points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An http(s) URL.
    Http(String),
    /// A local file.
    File(PathBuf),
}

impl Location {
    /// Reads a location: http(s) URL, `file://` URL or absolute path.
    pub fn parse(uri: &str) -> Result<Location, String> {
        if uri.starts_with("http://") || uri.starts_with("https://") {
            return Ok(Location::Http(uri.to_owned()));
        }
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        if path.starts_with('/') {
            return Ok(Location::File(PathBuf::from(path)));
        }
        Err(format!(
            "{uri:?} is neither an http(s) URL, a file:// URL nor an absolute path"
        ))
    }
}

/// Fetches `uri` to `dest` and returns its digests; fails unless its sha256 (and blake3, when
/// `expected` gives one) are the expected ones. `what` names the input in messages.
pub fn fetch_checked(
    what: &str,
    uri: &str,
    expected: &Digests,
    dest: &Path,
    timeout: Duration,
) -> Result<FileDigests, Unavailable> {
    let got = fetch(what, uri, dest, timeout)?;
    check_digests(what, uri, expected, &got)?;
    Ok(got)
}

/// Fails unless `got` has the `expected` sha256 (and blake3 when given).
pub fn check_digests(
    what: &str,
    uri: &str,
    expected: &Digests,
    got: &FileDigests,
) -> Result<(), Unavailable> {
    if got.sha256 != expected.sha256 {
        return Err(Unavailable::permanent(format!(
            "{what} {uri} has sha256 {}, the release says {}",
            got.sha256_hex(),
            hex::encode(expected.sha256)
        )));
    }
    if let Some(b) = expected.blake3
        && b != got.blake3
    {
        return Err(Unavailable::permanent(format!(
            "{what} {uri} has blake3 {}, the release says {}",
            got.blake3_hex(),
            hex::encode(b)
        )));
    }
    Ok(())
}

/// Fetches `uri` to `dest` (any bytes) and hashes them.
pub fn fetch(
    what: &str,
    uri: &str,
    dest: &Path,
    timeout: Duration,
) -> Result<FileDigests, Unavailable> {
    let location = Location::parse(uri).map_err(Unavailable::permanent)?;
    let local = |e: io::Error| {
        Unavailable::permanent(format!("{what}: cannot write {}: {e}", dest.display()))
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(local)?;
    }
    match location {
        Location::File(path) => {
            std::fs::copy(&path, dest)
                .map_err(|e| Unavailable::permanent(format!("{what} {}: {e}", path.display())))?;
        }
        Location::Http(url) => download(what, &url, dest, timeout)?,
    }
    hash_file(dest, |_| {}).map_err(local)
}

fn download(what: &str, url: &str, dest: &Path, timeout: Duration) -> Result<(), Unavailable> {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("reprove/", env!("CARGO_PKG_VERSION")));
    if crate::client::is_loopback_url(url).unwrap_or(false) {
        config = config.proxy(None);
    }
    let agent: ureq::Agent = config.build().into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| Unavailable::transient(format!("{what} {url}: {e}")))?;
    let status = resp.status().as_u16();
    if status != 200 {
        let msg = format!("{what} {url}: HTTP {status}");
        return Err(if status >= 500 || status == 429 {
            Unavailable::transient(msg)
        } else {
            Unavailable::permanent(msg)
        });
    }
    let mut body = resp.body_mut().with_config().limit(MAX_DOWNLOAD).reader();
    let mut file = File::create(dest).map_err(|e| {
        Unavailable::permanent(format!("{what}: cannot write {}: {e}", dest.display()))
    })?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Unavailable::transient(format!("{what} {url}: {e}"))),
        };
        file.write_all(&buf[..n]).map_err(|e| {
            Unavailable::permanent(format!("{what}: cannot write {}: {e}", dest.display()))
        })?;
    }
    file.sync_all()
        .map_err(|e| Unavailable::permanent(format!("{what}: {e}")))
}

/// Checks out `commit` of the git repository at `uri` as a plain tree (no `.git`) in `dest`,
/// via `git archive`: git itself checks that the objects hash to the commit ID.
pub fn git_tree(uri: &str, commit: &str, scratch: &Path, dest: &Path) -> Result<(), Unavailable> {
    let repo = scratch.join("git");
    let _ = std::fs::remove_dir_all(&repo);
    let remote = !uri.starts_with('/') && !uri.starts_with("file://");
    let fail = |step: &str, detail: String| {
        let msg = format!("git source {uri} at {commit}: {step}: {detail}");
        if remote && step == "clone" {
            Unavailable::transient(msg)
        } else {
            Unavailable::permanent(msg)
        }
    };
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => Ok(o.stdout),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
            Err(e) => Err(format!("cannot run git: {e}")),
        }
    };
    let repo_s = repo.to_string_lossy().into_owned();
    git(&["clone", "--quiet", "--no-checkout", "--", uri, &repo_s])
        .map_err(|e| fail("clone", e))?;
    let resolved = git(&[
        "-C",
        &repo_s,
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{commit}^{{commit}}"),
    ])
    .map_err(|e| fail("no such commit", e))?;
    if String::from_utf8_lossy(&resolved).trim() != commit {
        return Err(fail(
            "no such commit",
            "it resolves to another object".into(),
        ));
    }
    let tar =
        git(&["-C", &repo_s, "archive", "--format=tar", commit]).map_err(|e| fail("archive", e))?;
    std::fs::create_dir_all(dest).map_err(|e| fail("extract", e.to_string()))?;
    tar::Archive::new(&tar[..])
        .unpack(dest)
        .map_err(|e| fail("extract", e.to_string()))?;
    let _ = std::fs::remove_dir_all(&repo);
    Ok(())
}

/// Extracts a tar or gzip-compressed tar archive into `dest` (created). When everything in the
/// archive is under one top-level directory (the usual `name-version/`), that directory's
/// contents become `dest`. Paths that would leave `dest` are refused by the tar crate.
pub fn extract_archive(archive: &Path, dest: &Path) -> Result<(), String> {
    let staging = dest.with_extension("extract");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 2];
    let mut f = File::open(archive).map_err(|e| e.to_string())?;
    let gz = f.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let f = File::open(archive).map_err(|e| e.to_string())?;
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_mtime(true);
    ar.set_preserve_permissions(true);
    for entry in ar
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("corrupt archive: {e}"))?;
        entry
            .unpack_in(&staging)
            .map_err(|e| format!("cannot extract: {e}"))?;
    }
    let tops: Vec<_> = std::fs::read_dir(&staging)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .collect();
    let single_dir = match tops.as_slice() {
        [only] => only
            .file_type()
            .is_ok_and(|t| t.is_dir())
            .then(|| only.path()),
        _ => None,
    };
    let _ = std::fs::remove_dir_all(dest);
    match single_dir {
        Some(dir) => {
            std::fs::rename(&dir, dest).map_err(|e| e.to_string())?;
            std::fs::remove_dir_all(&staging).map_err(|e| e.to_string())?;
        }
        None => std::fs::rename(&staging, dest).map_err(|e| e.to_string())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("https://x.org/a").unwrap(),
            Location::Http("https://x.org/a".into())
        );
        assert_eq!(
            Location::parse("file:///srv/a.tgz").unwrap(),
            Location::File("/srv/a.tgz".into())
        );
        assert_eq!(
            Location::parse("/srv/a.tgz").unwrap(),
            Location::File("/srv/a.tgz".into())
        );
        for bad in ["a.tgz", "ftp://x/a", "file://rel/a", ""] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_wrong_digest_is_refused_and_a_missing_file_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a");
        std::fs::write(&src, b"hello").unwrap();
        let dest = dir.path().join("out/a");
        let good = crate::hash::hash_bytes(b"hello");
        let t = Duration::from_secs(5);
        let uri = src.to_str().unwrap();
        fetch_checked("source", uri, &Digests::sha256(good.sha256), &dest, t).unwrap();
        let err = fetch_checked("source", uri, &Digests::sha256([0; 32]), &dest, t).unwrap_err();
        assert!(err.reason.contains("has sha256"), "{err}");
        assert!(!err.retryable);
        let missing = dir.path().join("nope");
        let err = fetch("source", missing.to_str().unwrap(), &dest, t).unwrap_err();
        assert!(!err.retryable, "{err}");
    }
}
