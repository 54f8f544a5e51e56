//! Build roots assembled from pinned Debian packages (`debian-deb` build dependencies), the way
//! debootstrap makes one, split along the node's two stages:
//!
//! - On the host, no package code runs: each `.deb` (fetched and checked by sha256 first) is
//!   parsed (an `ar` archive), its `data.tar` unpacked into a merged-`/usr` staging root with
//!   the same safety rules as source archives (no path outside the root, no devices, no
//!   setuid bit, owners ignored) and its control members written into the dpkg database
//!   (`/var/lib/dpkg/status` marks each package `install ok unpacked`; `info/` holds its file
//!   list and maintainer scripts). Preinst scripts are not run.
//! - In bubblewrap, with no network, as uid 0 of a one-uid user namespace: `dpkg --configure
//!   -a` runs every postinst under the root's own `fakeroot` (with `FAKEROOTDONTTRYCHOWN`: a
//!   postinst that gives a file to `root:mail` would otherwise fail, since only one uid
//!   exists). Every package must end `install ok installed`, or the root is refused.
//!
//! The root is then cached under the digest of its pins and mounted read-only, each of its
//! top-level directories, as the whole filesystem of every build that names the same pins.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reprove_verifier::predicates::BuildDep;

use super::fetch::{self, Origin, Unavailable};
use super::hostfs::BuildUser;
use super::sandbox::Limits;

/// The largest one `.deb` may be.
const MAX_DEB: u64 = 1 << 30;
/// The most bytes all packages of a root may unpack to.
const MAX_ROOT_BYTES: u64 = 8 << 30;
/// The longest `dpkg --configure -a` may take.
const CONFIGURE_TIME: Duration = Duration::from_secs(1800);

/// How a root is configured: in the sandbox as `user` (the node's build account, when it runs
/// as root), under `limits`.
#[derive(Debug, Clone, Copy)]
pub struct Configure<'a> {
    /// The host account bwrap runs as.
    pub user: Option<BuildUser>,
    /// Per-process limits.
    pub limits: &'a Limits,
}

/// Assembles the root for `deps` into `staging` (absent): fetch and check every `.deb`, unpack,
/// configure.
pub fn assemble(
    deps: &[BuildDep],
    staging: &Path,
    scratch: &Path,
    origin: Origin,
    timeout: Duration,
    how: Configure<'_>,
) -> Result<(), Unavailable> {
    let local = |e: String| Unavailable::permanent(format!("toolchain root: {e}"));
    let mut files = Vec::new();
    for (i, dep) in deps.iter().enumerate() {
        let what = format!("build dependency {} {}", dep.name, dep.version);
        let file = scratch.join(format!("dep-{i}.deb"));
        fetch::fetch_checked(&what, &dep.uri, origin, &dep.digest, &file, timeout)?;
        files.push((what, file));
    }
    let result = unpack_all(&files, staging).and_then(|()| {
        if let Some(user) = how.user {
            super::hostfs::chown_tree(staging, user).map_err(|e| e.to_string())?;
        }
        configure(staging, how)
    });
    for (_, file) in &files {
        let _ = fs::remove_file(file);
    }
    result.map_err(local)
}

/// Unpacks every fetched `.deb` into a new merged-`/usr` root at `staging` and writes the dpkg
/// database.
fn unpack_all(files: &[(String, std::path::PathBuf)], staging: &Path) -> Result<(), String> {
    fs::create_dir_all(staging).map_err(|e| format!("cannot create it: {}", e.kind()))?;
    for d in [
        "usr/bin",
        "usr/sbin",
        "usr/lib",
        "usr/lib64",
        "var/lib/dpkg/info",
    ] {
        fs::create_dir_all(staging.join(d)).map_err(|e| e.to_string())?;
    }
    for d in [
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "tmp",
        "etc",
        "root",
    ] {
        fs::create_dir_all(staging.join(d)).map_err(|e| e.to_string())?;
    }
    // Merged /usr, as debootstrap makes a bookworm root (and `usr-is-merged` expects).
    for d in ["bin", "sbin", "lib", "lib64"] {
        std::os::unix::fs::symlink(format!("usr/{d}"), staging.join(d))
            .map_err(|e| e.to_string())?;
    }
    fs::write(staging.join("var/lib/dpkg/available"), b"").map_err(|e| e.to_string())?;
    let mut status = Vec::new();
    let mut unpacked = 0u64;
    for (what, file) in files {
        let deb = unpack_deb(file, staging, &mut unpacked).map_err(|e| format!("{what}: {e}"))?;
        register(staging, &deb, &mut status).map_err(|e| format!("{what}: {e}"))?;
    }
    fs::write(staging.join("var/lib/dpkg/status"), &status).map_err(|e| e.to_string())
}

/// One unpacked package: its control file, its other control members, its file list.
#[derive(Debug)]
struct Deb {
    control: String,
    members: Vec<(String, Vec<u8>, u32)>,
    list: Vec<String>,
}

/// The members of an `ar` archive (`!<arch>\n`, 60-byte headers, data padded to even).
fn ar_members(bytes: &[u8]) -> Result<BTreeMap<String, &[u8]>, String> {
    let mut rest = bytes
        .strip_prefix(b"!<arch>\n".as_slice())
        .ok_or("not a .deb (no ar header)")?;
    let mut out = BTreeMap::new();
    while rest.len() >= 60 {
        let (head, body) = rest.split_at(60);
        let name = String::from_utf8_lossy(&head[..16])
            .trim()
            .trim_end_matches('/')
            .to_owned();
        let size: usize = String::from_utf8_lossy(&head[48..58])
            .trim()
            .parse()
            .map_err(|_| "a corrupt ar member header")?;
        if size > body.len() {
            return Err("a truncated ar member".to_owned());
        }
        out.insert(name, &body[..size]);
        rest = &body[(size + size % 2).min(body.len())..];
    }
    Ok(out)
}

/// The decompressed stream of a `control.tar.*` / `data.tar.*` member.
fn decompressed(name: &str, bytes: &[u8]) -> Result<Box<dyn Read>, String> {
    if name.ends_with(".tar") {
        return Ok(Box::new(io::Cursor::new(bytes.to_vec())));
    }
    if name.ends_with(".gz") {
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(
            io::Cursor::new(bytes.to_vec()),
        )));
    }
    let tool = match name.rsplit('.').next() {
        Some("xz") => "xz",
        Some("zst") => "zstd",
        _ => return Err(format!("{name}: an unknown compression")),
    };
    decompressor(tool, Stdio::piped(), Some(bytes.to_vec())).map(|r| Box::new(r) as Box<dyn Read>)
}

/// `tool -dc` (the host's `xz` or `zstd`) reading `input` (or, with `Stdio::piped()`, the bytes
/// `feed`, written by a thread of its own): its output as a reader. Decompressors are the one
/// host program the fetch stage runs on hostile bytes, as every package manager does.
pub fn decompressor(
    tool: &str,
    input: Stdio,
    feed: Option<Vec<u8>>,
) -> Result<ChildReader, String> {
    let mut child = Command::new(tool)
        .arg("-dc")
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    if let (Some(bytes), Some(mut stdin)) = (feed, child.stdin.take()) {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }
    let out = child.stdout.take().ok_or("no stdout")?;
    Ok(ChildReader {
        tool: tool.to_owned(),
        child,
        out,
    })
}

/// A decompressor's output; the process is reaped when it is dropped. Its end is an end only
/// when the decompressor exits 0: a stream it could not decompress to the end (corrupt, cut
/// short) is an error, never a shorter output.
#[derive(Debug)]
pub struct ChildReader {
    tool: String,
    child: std::process::Child,
    out: std::process::ChildStdout,
}

impl Read for ChildReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.out.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let status = self.child.wait()?;
            if !status.success() {
                return Err(io::Error::other(format!(
                    "{} could not decompress it to the end ({status}): corrupt or cut short",
                    self.tool
                )));
            }
        }
        Ok(n)
    }
}

impl Drop for ChildReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unpack_deb(file: &Path, root: &Path, unpacked: &mut u64) -> Result<Deb, String> {
    let mut bytes = Vec::new();
    fs::File::open(file)
        .and_then(|f| f.take(MAX_DEB + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_DEB {
        return Err(format!("larger than {MAX_DEB} bytes"));
    }
    let members = ar_members(&bytes)?;
    if members
        .get("debian-binary")
        .is_none_or(|v| !v.starts_with(b"2."))
    {
        return Err("not a format 2.0 .deb".to_owned());
    }
    let pick = |prefix: &str| {
        members
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .map(|(n, b)| (n.clone(), *b))
            .ok_or_else(|| format!("no {prefix}* member"))
    };
    let (cname, cbytes) = pick("control.tar")?;
    let (control, members_out) = read_control(decompressed(&cname, cbytes)?)?;
    let (dname, dbytes) = pick("data.tar")?;
    let list = unpack_data(decompressed(&dname, dbytes)?, root, unpacked)?;
    Ok(Deb {
        control,
        members: members_out,
        list,
    })
}

type ControlMembers = Vec<(String, Vec<u8>, u32)>;

fn read_control(reader: Box<dyn Read>) -> Result<(String, ControlMembers), String> {
    let mut ar = tar::Archive::new(reader);
    let (mut control, mut members) = (None, Vec::new());
    for entry in ar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let name = path.trim_start_matches("./").to_owned();
        if name.contains('/') || name.is_empty() || name.starts_with('.') {
            return Err(format!("control member {path:?} is not a plain name"));
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o755;
        let mut data = Vec::new();
        (&mut entry)
            .take(64 << 20)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        if name == "control" {
            control = Some(String::from_utf8(data).map_err(|_| "control is not UTF-8")?);
        } else {
            members.push((name, data, mode));
        }
    }
    Ok((control.ok_or("no control file")?, members))
}

/// Unpacks `data.tar` into `root`; the dpkg file list (`/.`, `/usr`, `/usr/bin/x`…).
fn unpack_data(
    reader: Box<dyn Read>,
    root: &Path,
    unpacked: &mut u64,
) -> Result<Vec<String>, String> {
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(false);
    ar.set_unpack_xattrs(false);
    ar.set_preserve_mtime(true);
    let mut list = Vec::new();
    for entry in ar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| format!("corrupt data.tar: {e}"))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink() || kind.is_hard_link()) {
            continue;
        }
        *unpacked += entry.header().size().unwrap_or(0);
        if *unpacked > MAX_ROOT_BYTES {
            return Err(format!(
                "the root unpacks to more than {MAX_ROOT_BYTES} bytes"
            ));
        }
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let rel = path
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        let listed = if rel.is_empty() || rel == "." {
            "/.".to_owned()
        } else {
            format!("/{rel}")
        };
        // A directory that is there already (`bin`, a link into merged `/usr`): nothing to
        // write, and nothing is written through a link.
        let there = rel.is_empty() || fs::metadata(root.join(&rel)).is_ok_and(|m| m.is_dir());
        if !(kind.is_dir() && there) {
            let unpacked_ok = entry
                .unpack_in(root)
                .map_err(|e| format!("cannot unpack {path:?}: {e}"))?;
            if !unpacked_ok {
                return Err(format!("{path:?} is not a path inside the root"));
            }
        }
        list.push(listed);
    }
    Ok(list)
}

/// Adds a package to the dpkg database: its status stanza (`install ok unpacked`), its file
/// list and control members under `info/`.
fn register(root: &Path, deb: &Deb, status: &mut Vec<u8>) -> Result<(), String> {
    let field = |name: &str| {
        deb.control
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
            .map(str::to_owned)
    };
    let package = field("Package").ok_or("control has no Package")?;
    if package.is_empty()
        || !package
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(format!("package name {package:?} is not valid"));
    }
    let base = match (field("Multi-Arch").as_deref(), field("Architecture")) {
        (Some("same"), Some(arch)) => format!("{package}:{arch}"),
        _ => package.clone(),
    };
    let info = root.join("var/lib/dpkg/info");
    let mut list = deb.list.join("\n");
    list.push('\n');
    fs::write(info.join(format!("{base}.list")), list).map_err(|e| e.to_string())?;
    for (name, data, mode) in &deb.members {
        let path = info.join(format!("{base}.{name}"));
        fs::write(&path, data).map_err(|e| e.to_string())?;
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode | 0o600))
            .map_err(|e| e.to_string())?;
    }
    for line in deb.control.trim_end().lines() {
        if line.starts_with("Status:") {
            continue;
        }
        status.extend_from_slice(line.as_bytes());
        status.push(b'\n');
        if line.starts_with("Package:") {
            status.extend_from_slice(b"Status: install ok unpacked\n");
        }
    }
    status.push(b'\n');
    Ok(())
}

/// Runs `dpkg --configure -a` in the sandbox and checks every package ended configured.
fn configure(root: &Path, how: Configure<'_>) -> Result<(), String> {
    if !root.join("usr/bin/fakeroot-sysv").exists() {
        return Err("the pinned packages have no fakeroot (usr/bin/fakeroot-sysv), which configuring the root needs".to_owned());
    }
    let argv = [
        "/usr/bin/fakeroot-sysv",
        "/usr/bin/dpkg",
        "--force-confdef",
        "--force-confold",
        "--configure",
        "-a",
    ];
    let env = [
        ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        ("LC_ALL", "C.UTF-8"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("FAKEROOTDONTTRYCHOWN", "1"),
        ("HOME", "/root"),
    ];
    let log = super::sandbox::run_in_root(root, &argv, &env, how.user, how.limits, CONFIGURE_TIME)
        .map_err(|e| format!("cannot run dpkg --configure in the sandbox: {e}"))?;
    let status = fs::read_to_string(root.join("var/lib/dpkg/status")).map_err(|e| e.to_string())?;
    let unconfigured: Vec<String> = status
        .split("\n\n")
        .filter(|st| !st.contains("\nStatus: install ok installed"))
        .filter_map(|st| {
            st.lines()
                .next()?
                .strip_prefix("Package: ")
                .map(str::to_owned)
        })
        .collect();
    if unconfigured.is_empty() {
        return Ok(());
    }
    let tail: String = String::from_utf8_lossy(&log)
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Err(format!(
        "dpkg --configure -a left {} packages unconfigured ({}); its log ends:\n{tail}",
        unconfigured.len(),
        unconfigured.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            out.extend_from_slice(
                format!(
                    "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    0,
                    0,
                    0,
                    100644,
                    data.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_old();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_deb_unpacks_into_the_root_and_the_dpkg_database() {
        let dir = tempfile::tempdir().unwrap();
        let control = tar(&[
            (
                "./control",
                b"Package: hi\nVersion: 1\nArchitecture: amd64\nMulti-Arch: same\n",
            ),
            ("./postinst", b"#!/bin/sh\n"),
        ]);
        let data = tar(&[("./usr/bin/hi", b"x"), ("./etc/hi.conf", b"y")]);
        let deb = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", &control),
            ("data.tar", &data),
        ]);
        let file = dir.path().join("hi.deb");
        fs::write(&file, deb).unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
        let mut n = 0;
        let d = unpack_deb(&file, &root, &mut n).unwrap();
        assert_eq!(fs::read(root.join("usr/bin/hi")).unwrap(), b"x");
        assert_eq!(d.list, ["/usr/bin/hi", "/etc/hi.conf"]);
        let mut status = Vec::new();
        register(&root, &d, &mut status).unwrap();
        let s = String::from_utf8(status).unwrap();
        assert!(
            s.starts_with("Package: hi\nStatus: install ok unpacked\nVersion: 1\n"),
            "{s}"
        );
        assert!(root.join("var/lib/dpkg/info/hi:amd64.postinst").is_file());
        assert!(root.join("var/lib/dpkg/info/hi:amd64.list").is_file());

        let evil = tar(&[("../escape", b"z")]);
        let bad = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", &control),
            ("data.tar", &evil),
        ]);
        fs::write(&file, bad).unwrap();
        assert!(unpack_deb(&file, &root, &mut n).is_err());
        assert!(!dir.path().join("escape").exists());
        fs::write(&file, b"!<arch>\n").unwrap();
        assert!(
            unpack_deb(&file, &root, &mut n)
                .unwrap_err()
                .contains("format 2.0")
        );
    }
}
