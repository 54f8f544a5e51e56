//! Toolchain roots assembled from pinned packages: a recipe's `build_deps`, fetched and checked
//! in the fetch stage, installed into one directory that is cached by the digest of the pins
//! and shared by every build on the node that names the same pins.
//!
//! `debian-deb` roots are [`super::debroot`]'s. `pypi-wheel`: a pure-Python wheel, unpacked the way pip installs one
//! (`<name>.data/purelib` and `platlib` into the top, the rest of `.data` left out: build
//! backends need no scripts or headers). The directory is mounted read-only at
//! [`PYTHON_DEPS_MOUNT`] and named by `PYTHONPATH`. Wheels are hostile input: every member is
//! a plain relative path (no `..`, no absolute path, no backslash), written as a regular file
//! with mode 0644 or 0755 (never a link, never a special bit), two wheels may not write the same
//! file, and the total size and member count are capped.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reprove_verifier::predicates::{BuildDep, DepKind};
use sha2::{Digest as _, Sha256};

use super::fetch::{self, Origin, Unavailable};

/// Where a recipe's pure-Python build dependencies appear inside the sandbox.
pub const PYTHON_DEPS_MOUNT: &str = "/opt/reprove/python";

/// The largest a toolchain root assembled from packages may grow, in bytes.
const MAX_ROOT_BYTES: u64 = 2 << 30;
/// The most members all of one root's packages may have.
const MAX_MEMBERS: usize = 200_000;

/// The cache key of a set of pins: sha256 over each dependency's kind, name, version and
/// sha256, in the recipe's order (the order is part of the pins: it is the install order).
pub fn key(deps: &[BuildDep]) -> String {
    let mut h = Sha256::new();
    h.update(b"reprove toolchain v1\n");
    for d in deps {
        let kind = match d.kind {
            DepKind::PypiWheel => "pypi-wheel",
            DepKind::DebianDeb => "debian-deb",
        };
        h.update(
            format!(
                "{kind} {} {} {}\n",
                d.name,
                d.version,
                hex::encode(d.digest.sha256)
            )
            .as_bytes(),
        );
    }
    hex::encode(h.finalize())
}

/// The toolchain root for `deps` under `cache` (`cache/<key>`): taken from the cache when
/// present, else every package is fetched to `scratch`, checked against its digest and
/// installed into a staging directory that is renamed into place (so a root is whole or
/// absent, and two jobs assembling the same one do not see each other's halves): wheels as
/// below, `.deb`s by [`super::debroot`] (configured in the sandbox as `how` says). All of a
/// recipe's dependencies are of one kind. `Ok(None)` when there are none.
pub fn assemble(
    deps: &[BuildDep],
    cache: &Path,
    scratch: &Path,
    origin: Origin,
    timeout: Duration,
    how: super::debroot::Configure<'_>,
) -> Result<Option<(DepKind, PathBuf)>, Unavailable> {
    let Some(kind) = deps.first().map(|d| d.kind) else {
        return Ok(None);
    };
    if deps.iter().any(|d| d.kind != kind) {
        return Err(Unavailable::permanent(
            "the recipe mixes kinds of build dependencies; reprove assembles a root of one kind"
                .to_owned(),
        ));
    }
    let root = cache.join(key(deps));
    if root.is_dir() {
        return Ok(Some((kind, root)));
    }
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce)
        .map_err(|e| Unavailable::permanent(format!("no randomness: {e}")))?;
    let staging = cache.join(format!(".new-{}", hex::encode(nonce)));
    let result = match kind {
        DepKind::PypiWheel => install_wheels(deps, &staging, scratch, origin, timeout),
        DepKind::DebianDeb => {
            super::debroot::assemble(deps, &staging, scratch, origin, timeout, how)
        }
    }
    .and_then(|()| match fs::rename(&staging, &root) {
        Ok(()) => Ok(()),
        // Another job put the same root in place first: the same pins, the same bytes.
        Err(_) if root.is_dir() => {
            let _ = fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(e) => Err(Unavailable::permanent(format!(
            "toolchain root: cannot store it: {}",
            e.kind()
        ))),
    });
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(Some((kind, root)))
}

/// Fetches every wheel and installs it into `staging`.
fn install_wheels(
    deps: &[BuildDep],
    staging: &Path,
    scratch: &Path,
    origin: Origin,
    timeout: Duration,
) -> Result<(), Unavailable> {
    let mut files = Vec::new();
    for (i, dep) in deps.iter().enumerate() {
        let file = scratch.join(format!("dep-{i}.whl"));
        let what = format!("build dependency {} {}", dep.name, dep.version);
        fetch::fetch_checked(&what, &dep.uri, origin, &dep.digest, &file, timeout)?;
        files.push((dep, file));
    }
    let result = (|| {
        fs::create_dir_all(staging).map_err(|e| format!("cannot create it: {}", e.kind()))?;
        set_mode(staging, 0o755).map_err(|e| e.to_string())?;
        let mut budget = Budget::default();
        let mut written = BTreeSet::new();
        for (dep, file) in &files {
            install_wheel(file, staging, &mut budget, &mut written)
                .map_err(|e| format!("build dependency {} {}: {e}", dep.name, dep.version))?;
        }
        Ok::<(), String>(())
    })();
    for (_, file) in &files {
        let _ = fs::remove_file(file);
    }
    result.map_err(|e| Unavailable::permanent(format!("toolchain root: {e}")))
}

#[derive(Default)]
struct Budget {
    bytes: u64,
    members: usize,
}

/// Unpacks one pure-Python wheel into `site`, as pip would install its purelib.
fn install_wheel(
    wheel: &Path,
    site: &Path,
    budget: &mut Budget,
    written: &mut BTreeSet<String>,
) -> Result<(), String> {
    let file = fs::File::open(wheel).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a zip archive: {e}"))?;
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| format!("member {i}: {e}"))?;
        let raw = member
            .name()
            .map_err(|e| format!("member {i}: {e}"))?
            .into_owned();
        budget.members += 1;
        if budget.members > MAX_MEMBERS {
            return Err(format!("more than {MAX_MEMBERS} members"));
        }
        let Some(rel) = install_path(&raw)? else {
            continue;
        };
        if member.is_dir() {
            continue;
        }
        if !written.insert(rel.clone()) {
            return Err(format!("{rel:?} is installed twice"));
        }
        let dest = site.join(&rel);
        if let Some(parent) = dest.parent() {
            create_dirs(site, parent).map_err(|e| format!("{rel:?}: {e}"))?;
        }
        let exec = member.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|e| format!("{rel:?}: {}", e.kind()))?;
        let left = MAX_ROOT_BYTES.saturating_sub(budget.bytes);
        let n = io::copy(&mut (&mut member).take(left + 1), &mut out)
            .map_err(|e| format!("{rel:?}: {e}"))?;
        budget.bytes += n;
        if budget.bytes > MAX_ROOT_BYTES {
            return Err(format!("unpacks to more than {MAX_ROOT_BYTES} bytes"));
        }
        set_mode(&dest, if exec { 0o755 } else { 0o644 }).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Where a wheel member goes, relative to the site directory: `None` for what is not
/// installed (`.data/` other than purelib and platlib); an error for an unsafe name.
fn install_path(name: &str) -> Result<Option<String>, String> {
    let trimmed = name.trim_end_matches('/');
    let plain = !trimmed.is_empty()
        && !trimmed.starts_with('/')
        && !trimmed.contains('\\')
        && !trimmed.chars().any(char::is_control)
        && trimmed
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if !plain {
        return Err(format!("member name {name:?} is not a plain relative path"));
    }
    let mut parts = trimmed.splitn(3, '/');
    let top = parts.next().unwrap_or_default();
    if top.ends_with(".data") {
        return Ok(match (parts.next(), parts.next()) {
            (Some("purelib" | "platlib"), Some(rest)) => Some(rest.to_owned()),
            _ => None,
        });
    }
    Ok(Some(trimmed.to_owned()))
}

/// Creates `dir` and its missing parents below `site`, each 0755, refusing to pass through
/// anything that is not a directory we made (there are no links in a root we assemble).
fn create_dirs(site: &Path, dir: &Path) -> io::Result<()> {
    let rel = dir.strip_prefix(site).map_err(io::Error::other)?;
    let mut at = site.to_path_buf();
    for c in rel.components() {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(io::Error::other("a file is in the way of a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&at)?;
                set_mode(&at, 0o755)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn wheel(path: &Path, members: &[(&str, &[u8])]) {
        let mut z = zip::ZipWriter::new(fs::File::create(path).unwrap());
        for (name, bytes) in members {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn members_map_like_pip_and_unsafe_names_are_refused() {
        assert_eq!(install_path("a/b.py").unwrap().as_deref(), Some("a/b.py"));
        assert_eq!(
            install_path("x-1.data/purelib/m.py").unwrap().as_deref(),
            Some("m.py")
        );
        assert_eq!(install_path("x-1.data/scripts/run").unwrap(), None);
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../../b",
            "a\\b",
            "a//b",
            "a/\u{1}",
        ] {
            assert!(install_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_wheel_installs_and_a_second_copy_of_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("w.whl");
        wheel(
            &w,
            &[
                ("pkg/__init__.py", b"x = 1\n"),
                ("pkg-1.dist-info/METADATA", b"Name: pkg\n"),
                ("pkg-1.data/purelib/extra.py", b"y = 2\n"),
            ],
        );
        let site = dir.path().join("site");
        fs::create_dir(&site).unwrap();
        let mut budget = Budget::default();
        let mut written = BTreeSet::new();
        install_wheel(&w, &site, &mut budget, &mut written).unwrap();
        assert_eq!(fs::read(site.join("pkg/__init__.py")).unwrap(), b"x = 1\n");
        assert_eq!(fs::read(site.join("extra.py")).unwrap(), b"y = 2\n");
        let err = install_wheel(&w, &site, &mut budget, &mut written).unwrap_err();
        assert!(err.contains("installed twice"), "{err}");
        let evil = dir.path().join("evil.whl");
        wheel(&evil, &[("../escape.py", b"")]);
        let err = install_wheel(&evil, &site, &mut budget, &mut written).unwrap_err();
        assert!(err.contains("not a plain relative path"), "{err}");
        assert!(!dir.path().join("escape.py").exists());
    }
}
