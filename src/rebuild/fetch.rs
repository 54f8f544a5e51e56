//! Fetching the inputs of a build — source archives, git commits, root filesystems, published
//! artifacts — and checking their digests before anything runs (fail closed).
//!
//! Where an input may come from depends on who named it ([`Origin`]). A logged release is
//! written by whoever can log an entry, so a node fetches its inputs only from `https://` (or
//! `http://` on loopback, for tests and local mirrors): a local path or `file://` URL would let
//! a release make the node read its own files and publish their digests in a signed
//! attestation. The operator's own manifest (`reprove rebuild --manifest`) may also name local
//! files. Every fetch has a size cap and a timeout; a local file must be a regular file.
//!
//! Messages name the input and its location as the release gave it, never a path on this
//! machine or a digest observed here: they end up in public attestations. Every failure says
//! whether it may be transient ([`Unavailable::retryable`]: a transport error talking to a
//! server), so a daemon knows what to retry.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use reprove_verifier::predicates::Digests;

use crate::hash::{FileDigests, hash_file};

/// The largest input fetched (source archives, root filesystems, artifacts, git packs).
pub const MAX_DOWNLOAD: u64 = 8 << 30;

/// The most bytes an archive may extract to.
pub const MAX_EXTRACTED: u64 = 32 << 30;

/// The most entries an archive may hold.
pub const MAX_ENTRIES: u64 = 2_000_000;

/// Why an input could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// What went wrong, for the attestation's `detail` and the user.
    pub reason: String,
    /// Whether trying again later may help (a transport error, a 5xx).
    pub retryable: bool,
}

impl Unavailable {
    pub(crate) fn permanent(reason: String) -> Unavailable {
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

/// Who named an input, which decides where it may be fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A logged release (anyone can log one): `https://`, or `http://` to a loopback address.
    Logged,
    /// The operator's own publisher manifest: local paths and `file://` URLs too.
    Operator,
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
    /// Reads a location: an `https://` URL or an `http://` URL to loopback; for
    /// [`Origin::Operator`], also any `http://` URL, a `file://` URL or an absolute path.
    pub fn parse(uri: &str, origin: Origin) -> Result<Location, String> {
        if uri.starts_with("https://") {
            return Ok(Location::Http(uri.to_owned()));
        }
        if uri.starts_with("http://") {
            if origin == Origin::Operator || crate::client::is_loopback_url(uri).unwrap_or(false) {
                return Ok(Location::Http(uri.to_owned()));
            }
            return Err(format!(
                "{uri:?} is a plain http:// URL; a logged release may name only https:// inputs"
            ));
        }
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        match origin {
            Origin::Logged if path.starts_with('/') || uri.starts_with("file://") => Err(format!(
                "{uri:?} is a local path; a logged release may name only https:// inputs"
            )),
            Origin::Operator if path.starts_with('/') => Ok(Location::File(PathBuf::from(path))),
            _ => Err(format!(
                "{uri:?} is neither an https:// URL, an http:// URL, a file:// URL nor an absolute path"
            )),
        }
    }
}

/// Fetches `uri` to `dest` and returns its digests; fails unless its sha256 (and blake3, when
/// `expected` gives one) are the expected ones. `what` names the input in messages.
pub fn fetch_checked(
    what: &str,
    uri: &str,
    origin: Origin,
    expected: &Digests,
    dest: &Path,
    timeout: Duration,
) -> Result<FileDigests, Unavailable> {
    let got = fetch(what, uri, origin, dest, timeout)?;
    check_digests(what, uri, expected, &got)?;
    Ok(got)
}

/// Fails unless `got` has the `expected` sha256 (and blake3 when given). The message does not
/// say what was found: a node must not become an oracle for the digests of what it can reach.
pub fn check_digests(
    what: &str,
    uri: &str,
    expected: &Digests,
    got: &FileDigests,
) -> Result<(), Unavailable> {
    if got.sha256 != expected.sha256 {
        tracing::warn!(%uri, found = %got.sha256_hex(), "{what}: sha256 mismatch");
        return Err(Unavailable::permanent(format!(
            "{what} {uri} does not have the sha256 the release gives ({})",
            hex::encode(expected.sha256)
        )));
    }
    if let Some(b) = expected.blake3
        && b != got.blake3
    {
        return Err(Unavailable::permanent(format!(
            "{what} {uri} does not have the blake3 the release gives ({})",
            hex::encode(b)
        )));
    }
    Ok(())
}

/// Fetches `uri` to `dest` (any bytes, at most [`MAX_DOWNLOAD`], within `timeout`) and hashes
/// them.
pub fn fetch(
    what: &str,
    uri: &str,
    origin: Origin,
    dest: &Path,
    timeout: Duration,
) -> Result<FileDigests, Unavailable> {
    let location =
        Location::parse(uri, origin).map_err(|e| Unavailable::permanent(format!("{what}: {e}")))?;
    let local = |e: io::Error| {
        Unavailable::permanent(format!(
            "{what}: cannot store it on this node: {}",
            e.kind()
        ))
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(local)?;
    }
    match location {
        Location::File(path) => {
            super::hostfs::copy_local_file(&path, dest, MAX_DOWNLOAD, timeout)
                .map_err(|e| Unavailable::permanent(format!("{what} {}: {e}", path.display())))?;
        }
        Location::Http(url) => download(what, &url, dest, timeout)?,
    }
    hash_file(dest, |_| {}).map_err(local)
}

/// The TLS roots of every https download: Mozilla's (webpki-roots), or, when the operator
/// sets `SSL_CERT_FILE` (OpenSSL's variable) to a readable PEM bundle, the certificates in it
/// instead — for hosts whose outgoing https goes through a proxy with its own CA.
pub fn tls_config() -> ureq::tls::TlsConfig {
    static ROOTS: std::sync::OnceLock<Option<ureq::tls::RootCerts>> = std::sync::OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let file = std::env::var_os("SSL_CERT_FILE")?;
        let pem = std::fs::read(file).ok()?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        (!certs.is_empty()).then(|| ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)))
    });
    let builder = ureq::tls::TlsConfig::builder();
    match roots {
        Some(r) => builder.root_certs(r.clone()).build(),
        None => builder.build(),
    }
}

fn download(what: &str, url: &str, dest: &Path, timeout: Duration) -> Result<(), Unavailable> {
    let mut config = ureq::Agent::config_builder()
        .tls_config(tls_config())
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
        Unavailable::permanent(format!(
            "{what}: cannot store it on this node: {}",
            e.kind()
        ))
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
            Unavailable::permanent(format!(
                "{what}: cannot store it on this node: {}",
                e.kind()
            ))
        })?;
    }
    file.sync_all()
        .map_err(|e| Unavailable::permanent(format!("{what}: {e}")))
}

/// Checks out `commit` of the git repository at `uri` as a plain tree (no `.git`) in `dest`,
/// via `git archive`: git itself checks that the objects hash to the commit ID. Only the
/// transports `origin` allows are used (`GIT_ALLOW_PROTOCOL`), the clone runs under `timeout`
/// with no file of it larger than [`MAX_DOWNLOAD`], and the tree is checked like an archive's.
pub fn git_tree(
    uri: &str,
    commit: &str,
    origin: Origin,
    scratch: &Path,
    dest: &Path,
    timeout: Duration,
) -> Result<(), Unavailable> {
    let repo = scratch.join("git");
    let _ = std::fs::remove_dir_all(&repo);
    if let Err(e) = Location::parse(uri, origin) {
        // A git URL may also be host:path or ssh://: only the forms Location accepts are used.
        return Err(Unavailable::permanent(format!("git source: {e}")));
    }
    let checkout = GitCheckout {
        uri,
        commit,
        scratch,
        protocols: match origin {
            Origin::Logged => "https:http",
            Origin::Operator => "https:http:file",
        },
        timeout,
    };
    checkout.clone_at_commit(&repo)?;
    let archive = scratch.join("git.tar");
    let tar = checkout.archive(&repo, &archive);
    let _ = std::fs::remove_dir_all(&repo);
    tar?;
    checkout.extract(&archive, dest)
}

/// What every step of one [`git_tree`] checkout shares.
struct GitCheckout<'a> {
    uri: &'a str,
    commit: &'a str,
    /// The job's scratch directory (its path is kept out of error texts).
    scratch: &'a Path,
    /// The transports git may use (`GIT_ALLOW_PROTOCOL`).
    protocols: &'static str,
    /// The longest the clone, and the archive, may take.
    timeout: Duration,
}

impl GitCheckout<'_> {
    /// Clones the repository into `repo` (no checkout) and checks that `commit` names a commit
    /// there, by its full ID.
    fn clone_at_commit(&self, repo: &Path) -> Result<(), Unavailable> {
        let repo = repo.to_string_lossy();
        self.git(
            &["clone", "--quiet", "--no-checkout", "--", self.uri, &repo],
            self.timeout.as_secs(),
        )
        .map_err(|e| self.fail("clone", e))?;
        let resolved = self
            .git(
                &[
                    "-C",
                    &repo,
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{}^{{commit}}", self.commit),
                ],
                60,
            )
            .map_err(|e| self.fail("no such commit", e))?;
        if String::from_utf8_lossy(&resolved).trim() != self.commit {
            return Err(self.fail("no such commit", "it resolves to another object".into()));
        }
        Ok(())
    }

    /// `git archive` of the commit, as a tar file at `archive`.
    fn archive(&self, repo: &Path, archive: &Path) -> Result<(), Unavailable> {
        self.git(
            &[
                "-C",
                &repo.to_string_lossy(),
                "archive",
                "--format=tar",
                "-o",
                &archive.to_string_lossy(),
                self.commit,
            ],
            self.timeout.as_secs(),
        )
        .map(drop)
        .map_err(|e| self.fail("archive", e))
    }

    /// Unpacks the archive into `dest` through a staging directory, checking the tree like an
    /// archive's; the archive and the staging directory are removed either way.
    fn extract(&self, archive: &Path, dest: &Path) -> Result<(), Unavailable> {
        let staging = dest.with_extension("extract");
        let _ = std::fs::remove_dir_all(&staging);
        let res = unpack(archive, &staging).and_then(|()| {
            super::hostfs::check_links(&staging)?;
            std::fs::rename(&staging, dest).map_err(|e| e.to_string())
        });
        let _ = std::fs::remove_file(archive);
        let _ = std::fs::remove_dir_all(&staging);
        res.map_err(|e| self.fail("extract", neutral_git_error(&e, self.scratch)))
    }

    /// Runs git with `args` under the time limit `secs` and the file size limit, without the
    /// system's or the user's git config and never prompting; its stdout, or why it failed.
    fn git(&self, args: &[&str], secs: u64) -> Result<Vec<u8>, String> {
        let out = Command::new("prlimit")
            .arg(format!("--fsize={MAX_DOWNLOAD}"))
            .args([
                "--",
                "timeout",
                "--kill-after=10",
                &secs.max(1).to_string(),
                "git",
            ])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ALLOW_PROTOCOL", self.protocols)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.code() == Some(124) => {
                Err(format!("stopped after the time limit of {secs} s"))
            }
            Ok(o) if o.status.success() => Ok(o.stdout),
            Ok(o) => Err(neutral_git_error(
                &String::from_utf8_lossy(&o.stderr),
                self.scratch,
            )),
            Err(e) => Err(format!("cannot run git: {e}")),
        }
    }

    /// A failed `step`: transient only when cloning from the network failed.
    fn fail(&self, step: &str, detail: String) -> Unavailable {
        let msg = format!(
            "git source {} at {}: {step}: {detail}",
            self.uri, self.commit
        );
        let remote = self.uri.starts_with("https://") || self.uri.starts_with("http://");
        if remote && step == "clone" {
            Unavailable::transient(msg)
        } else {
            Unavailable::permanent(msg)
        }
    }
}

/// git's error text without this machine's paths.
fn neutral_git_error(stderr: &str, scratch: &Path) -> String {
    let parent = scratch.parent().unwrap_or(scratch);
    let mut text = stderr.trim().replace(&*parent.to_string_lossy(), "<work>");
    text.truncate(1000);
    text
}

/// Extracts a tar or gzip-compressed tar archive into `dest` (created). When everything in the
/// archive is under one top-level directory (the usual `name-version/`), that directory's
/// contents become `dest`. Paths that would leave `dest` are refused by the tar crate; for a
/// `source` tree, a symlink that points outside the tree is refused too (a root filesystem's
/// absolute links are its own business: it is only ever seen from inside a sandbox); setuid,
/// setgid and sticky bits are dropped; at most [`MAX_EXTRACTED`] bytes in [`MAX_ENTRIES`]
/// entries.
pub fn extract_archive(archive: &Path, dest: &Path, source: bool) -> Result<(), String> {
    extract_archive_inner(archive, dest, source).map_err(|e| {
        // Error texts (the tar crate's) name paths on this machine: keep them out of reports.
        [archive.parent(), dest.parent()]
            .into_iter()
            .flatten()
            .fold(e, |e, p| e.replace(&*p.to_string_lossy(), "<work>"))
    })
}

fn extract_archive_inner(archive: &Path, dest: &Path, source: bool) -> Result<(), String> {
    let staging = dest.with_extension("extract");
    let _ = std::fs::remove_dir_all(&staging);
    let res = unpack(archive, &staging).and_then(|()| {
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
        let root = single_dir.clone().unwrap_or_else(|| staging.clone());
        if source {
            super::hostfs::check_links(&root)?;
        }
        let _ = std::fs::remove_dir_all(dest);
        std::fs::rename(&root, dest).map_err(|e| e.to_string())
    });
    let _ = std::fs::remove_dir_all(&staging);
    res
}

/// Unpacks a (gzip-, xz- or bzip2-compressed) tar into `dest`, with the limits and mode rules
/// above.
fn unpack(archive: &Path, dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 3];
    let mut f = File::open(archive).map_err(|e| e.to_string())?;
    let read = f.read_exact(&mut magic).is_ok();
    let f = File::open(archive).map_err(|e| e.to_string())?;
    let reader: Box<dyn Read> = match magic {
        [0x1f, 0x8b, _] if read => Box::new(flate2::read::MultiGzDecoder::new(f)),
        // Debian upstream tarballs (`.orig.tar.xz`, `.orig.tar.bz2`): the host's xz or bzip2
        // decompresses them.
        [0xfd, b'7', b'z'] if read => Box::new(super::debroot::decompressor("xz", f.into(), None)?),
        [b'B', b'Z', b'h'] if read => {
            Box::new(super::debroot::decompressor("bzip2", f.into(), None)?)
        }
        _ => Box::new(f),
    };
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_mtime(true);
    // Without it the tar crate keeps only the 0o777 bits: no setuid, setgid or sticky bit.
    ar.set_preserve_permissions(false);
    ar.set_unpack_xattrs(false);
    let (mut bytes, mut count) = (0u64, 0u64);
    for entry in ar
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("corrupt archive: {e}"))?;
        bytes = bytes.saturating_add(entry.header().size().unwrap_or(0));
        count += 1;
        if bytes > MAX_EXTRACTED || count > MAX_ENTRIES {
            return Err(format!(
                "the archive extracts to more than {MAX_EXTRACTED} bytes or {MAX_ENTRIES} entries"
            ));
        }
        let kind = entry.header().entry_type();
        if !(kind.is_file()
            || kind.is_dir()
            || kind.is_symlink()
            || kind.is_hard_link()
            || kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink())
        {
            // Devices and FIFOs have no place in a source tree or root filesystem here.
            continue;
        }
        let pax_mtime = if kind.is_file() {
            pax_mtime(&mut entry)
        } else {
            None
        };
        let rel = entry.path().map(|p| p.into_owned()).ok();
        let unpacked = entry
            .unpack_in(dest)
            .map_err(|e| format!("cannot extract: {e}"))?;
        // The ustar header holds whole seconds (rounded by some writers, such as Python's
        // tarfile); a PAX `mtime` record holds the exact time, which tools that read the tree
        // (a wheel's zip dates, say) must see as the archive's author did.
        if let (true, Some(t), Some(rel)) = (unpacked, pax_mtime, rel)
            && rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            let path = dest.join(rel);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
                && let Ok(f) = File::options().write(true).open(&path)
            {
                let _ = f.set_modified(t);
            }
        }
    }
    super::hostfs::strip_special_bits(dest).map_err(|e| format!("cannot extract: {e}"))
}

/// The exact modification time of a PAX `mtime` record (`seconds[.fraction]`), if any.
fn pax_mtime<R: Read>(entry: &mut tar::Entry<'_, R>) -> Option<std::time::SystemTime> {
    let exts = entry.pax_extensions().ok()??;
    for ext in exts {
        let ext = ext.ok()?;
        if ext.key().ok()? != "mtime" {
            continue;
        }
        let v = ext.value().ok()?;
        let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
        let secs: u64 = secs.parse().ok()?;
        let digits: String = frac.chars().take(9).collect();
        let nanos: u32 = if digits.is_empty() {
            0
        } else {
            format!("{digits:0<9}").parse().ok()?
        };
        return Some(std::time::UNIX_EPOCH + Duration::new(secs, nanos));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let op = Origin::Operator;
        assert_eq!(
            Location::parse("https://x.org/a", Origin::Logged).unwrap(),
            Location::Http("https://x.org/a".into())
        );
        assert_eq!(
            Location::parse("file:///srv/a.tgz", op).unwrap(),
            Location::File("/srv/a.tgz".into())
        );
        assert_eq!(
            Location::parse("/srv/a.tgz", op).unwrap(),
            Location::File("/srv/a.tgz".into())
        );
        for bad in ["a.tgz", "ftp://x/a", "file://rel/a", ""] {
            assert!(Location::parse(bad, op).is_err(), "{bad}");
        }
        // A logged release names https:// (or loopback http://) inputs, nothing on the host.
        assert!(Location::parse("http://127.0.0.1:8/a", Origin::Logged).is_ok());
        for bad in [
            "/etc/reprove/keys/node.key",
            "file:///etc/passwd",
            "http://example.org/a",
            "/proc/self/cmdline",
        ] {
            let err = Location::parse(bad, Origin::Logged).unwrap_err();
            assert!(err.contains("only https://"), "{bad}: {err}");
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
        let op = Origin::Operator;
        fetch_checked("source", uri, op, &Digests::sha256(good.sha256), &dest, t).unwrap();
        let err =
            fetch_checked("source", uri, op, &Digests::sha256([0; 32]), &dest, t).unwrap_err();
        assert!(err.reason.contains("does not have the sha256"), "{err}");
        // What was found is not said (a node is no digest oracle).
        assert!(!err.reason.contains(&hex::encode(good.sha256)), "{err}");
        assert!(!err.retryable);
        let missing = dir.path().join("nope");
        let err = fetch("source", missing.to_str().unwrap(), op, &dest, t).unwrap_err();
        assert!(!err.retryable, "{err}");
        let err = fetch("source", uri, Origin::Logged, &dest, t).unwrap_err();
        assert!(err.reason.contains("only https://"), "{err}");
    }

    fn tar_with(entries: &[(&str, tar::EntryType, &str, u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, link, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(*mode);
            h.set_size(if kind.is_file() { 1 } else { 0 });
            if !link.is_empty() {
                h.set_link_name(link).unwrap();
            }
            h.set_cksum();
            let data: &[u8] = if kind.is_file() { b"x" } else { b"" };
            b.append_data(&mut h, name, data).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// A tar plain, gzip-, xz- and bzip2-compressed (Debian's `.orig.tar.*`) unpacks to the
    /// same tree; a compressed stream that is cut short is an error, not a partial tree.
    #[test]
    fn every_compression_a_source_uses_unpacks() {
        let dir = tempfile::tempdir().unwrap();
        let plain = tar_with(&[
            ("top/", tar::EntryType::Directory, "", 0o755),
            ("top/a.c", tar::EntryType::Regular, "", 0o644),
        ]);
        let compress = |tool: &str| -> Vec<u8> {
            let mut child = std::process::Command::new(tool)
                .arg("-c")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let bytes = plain.clone();
            let feeder = std::thread::spawn(move || stdin.write_all(&bytes).unwrap());
            let out = child.wait_with_output().unwrap();
            feeder.join().unwrap();
            assert!(out.status.success(), "{tool}");
            out.stdout
        };
        for (name, bytes) in [
            ("plain.tar", plain.clone()),
            ("a.tar.gz", compress("gzip")),
            ("a.tar.xz", compress("xz")),
            ("a.tar.bz2", compress("bzip2")),
        ] {
            let archive = dir.path().join(name);
            std::fs::write(&archive, &bytes).unwrap();
            let dest = dir.path().join(format!("out-{name}"));
            unpack(&archive, &dest).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(std::fs::read(dest.join("top/a.c")).unwrap(), b"x", "{name}");
            if name != "plain.tar" {
                std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
                let cut = dir.path().join(format!("cut-{name}"));
                assert!(unpack(&archive, &cut).is_err(), "{name} cut short");
            }
        }
    }

    #[test]
    fn archives_lose_special_bits_and_may_not_link_outside() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.tar");
        std::fs::write(
            &a,
            tar_with(&[
                ("p/", tar::EntryType::Directory, "", 0o755),
                ("p/suid", tar::EntryType::Regular, "", 0o4755),
                ("p/ok", tar::EntryType::Symlink, "suid", 0o777),
            ]),
        )
        .unwrap();
        let out = dir.path().join("out");
        extract_archive(&a, &out, true).unwrap();
        let mode = std::fs::metadata(out.join("suid"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755);
        for link in ["/etc/reprove/keys", "../..", "sub/../../x"] {
            std::fs::write(
                &a,
                tar_with(&[
                    ("p/", tar::EntryType::Directory, "", 0o755),
                    ("p/k", tar::EntryType::Symlink, link, 0o777),
                ]),
            )
            .unwrap();
            let err = extract_archive(&a, &dir.path().join("bad"), true).unwrap_err();
            assert!(err.contains("outside the source tree"), "{link}: {err}");
            assert!(!dir.path().join("bad").exists());
        }
    }
}
