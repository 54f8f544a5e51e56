//! The host side of a build, where everything the build (or the release it builds) produced is
//! hostile: a source tree or build tree is attacker-controlled data on the node's own disk.
//!
//! - [`open_output`] opens a declared output relative to the build tree without following a
//!   symlink in any component, so a tree cannot make the node read its own files (its signing
//!   key, `/proc/self/cmdline`) and sign or publish their bytes.
//! - [`check_links`] refuses a source tree holding a symlink that points outside it.
//! - [`strip_special_bits`] removes setuid, setgid and sticky bits from a tree, so nothing a
//!   build made can raise anybody's privileges on the host.
//! - [`BuildUser`]: who builds run as on the host. A node running as root never builds as root:
//!   its builds run as an unprivileged account ([`BuildUser::for_this_process`]).
//! - [`private_dir`] creates work directories that no other local user can enter.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt,
};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// The unprivileged account builds run as when the node runs as root (unless told otherwise).
pub const DEFAULT_BUILD_USER: &str = "nobody";

/// A host account builds run as, when it is not the node's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildUser {
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

impl BuildUser {
    /// Reads `NAME` (looked up in `/etc/passwd`) or `UID:GID`. Refuses uid or gid 0.
    pub fn parse(spec: &str) -> Result<BuildUser, String> {
        let user = match spec.split_once(':') {
            Some((u, g)) => BuildUser {
                uid: u
                    .parse()
                    .map_err(|_| format!("build user {spec:?}: {u:?} is not a uid"))?,
                gid: g
                    .parse()
                    .map_err(|_| format!("build user {spec:?}: {g:?} is not a gid"))?,
            },
            None => lookup_passwd(spec, &fs::read_to_string("/etc/passwd").unwrap_or_default())
                .ok_or_else(|| {
                    format!(
                        "build user {spec:?} is not in /etc/passwd (give an account name, or UID:GID)"
                    )
                })?,
        };
        if user.uid == 0 || user.gid == 0 {
            return Err(format!(
                "build user {spec:?} is root (uid or gid 0): builds never run as root"
            ));
        }
        Ok(user)
    }

    /// Who builds run as for a node running as this process: `None` (the node's own uid) for
    /// an unprivileged node; for a node running as root, `requested` or else
    /// [`DEFAULT_BUILD_USER`] — a build that ran as root could make setuid-root files and own
    /// every root-owned file it can see.
    pub fn for_this_process(requested: Option<&str>) -> Result<Option<BuildUser>, String> {
        match (running_as_root(), requested) {
            (_, Some(spec)) => BuildUser::parse(spec).map(Some),
            (true, None) => BuildUser::parse(DEFAULT_BUILD_USER).map(Some),
            (false, None) => Ok(None),
        }
    }
}

fn lookup_passwd(name: &str, passwd: &str) -> Option<BuildUser> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || f[0] != name {
            return None;
        }
        Some(BuildUser {
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
        })
    })
}

/// Whether this process runs with effective uid 0 (`/proc/self` belongs to the effective uid).
pub fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Refuses a signing key kept inside the work directory, where the jobs' files live.
pub fn key_outside_work(key: &Path, work: &Path) -> Result<(), String> {
    let real = |p: &Path| -> PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        // The longest existing ancestor, resolved, and the rest as written.
        let mut base = abs.as_path();
        let mut rest = Vec::new();
        while !base.exists() {
            match (base.parent(), base.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_owned());
                    base = parent;
                }
                _ => break,
            }
        }
        let mut out = fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
        out.extend(rest.iter().rev());
        out
    };
    if real(key).starts_with(real(work)) {
        return Err(format!(
            "the key {} is inside the work directory {}: keep it where no job's files are",
            key.display(),
            work.display()
        ));
    }
    Ok(())
}

/// Creates `dir` (and missing parents) and sets its mode: `0700` — or `0711` when `traverse`,
/// so that a build user can reach a directory below it without being able to list anything.
pub fn private_dir(dir: &Path, traverse: bool) -> io::Result<()> {
    let mode = if traverse { 0o711 } else { 0o700 };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

/// Opens the output `rel` of the build tree `tree` as the node, refusing every symlink on the
/// way: each directory component must be a real directory, and the file itself a regular file
/// (opened with `O_NOFOLLOW | O_NONBLOCK`, and checked to be the same inode afterwards).
/// `Ok(None)` when it is missing or is anything but a regular file reached that way.
pub fn open_output(tree: &Path, rel: &str) -> io::Result<Option<File>> {
    let mut at = tree.to_path_buf();
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Ok(None);
    }
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let meta = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let last = i + 1 == parts.len();
        if meta.file_type().is_symlink() || (!last && !meta.is_dir()) || (last && !meta.is_file()) {
            return Ok(None);
        }
    }
    let before = fs::symlink_metadata(&at)?;
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&at)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let after = file.metadata()?;
    if !after.is_file() || (after.dev(), after.ino()) != (before.dev(), before.ino()) {
        return Ok(None);
    }
    Ok(Some(file))
}

/// Copies at most `cap` bytes of `from` to a new file `to` (mode 0644); `Err` when there is more.
pub fn copy_capped(mut from: impl Read, to: &Path, cap: u64) -> io::Result<u64> {
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(to)?;
    let n = io::copy(&mut (&mut from).take(cap), &mut out)?;
    let mut probe = [0u8; 1];
    if from.read(&mut probe)? > 0 {
        return Err(io::Error::other(format!(
            "larger than the limit of {cap} bytes"
        )));
    }
    out.flush()?;
    Ok(n)
}

/// Copies a local file the operator named (never a location from a logged release): only a
/// regular file (a FIFO or device is refused without blocking), at most `cap` bytes, within
/// `timeout`.
pub fn copy_local_file(from: &Path, to: &Path, cap: u64, timeout: Duration) -> io::Result<()> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(from)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let deadline = Instant::now() + timeout;
    let _ = fs::remove_file(to);
    let mut out = File::create(to)?;
    let mut reader = file.take(cap);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("not copied within {} s", timeout.as_secs()),
            ));
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        out.write_all(&buf[..n])?;
    }
    if total == cap && reader.into_inner().read(&mut [0u8; 1])? > 0 {
        return Err(io::Error::other(format!(
            "larger than the limit of {cap} bytes"
        )));
    }
    out.sync_all()
}

/// Refuses a tree holding a symlink that points outside it: an absolute target, or a relative
/// one that climbs above the tree. Relative targets may climb (`..`) only before naming
/// anything, so every link resolves where its text says (a link through another link and then
/// `..` could otherwise land outside while looking inside). Returns the offending link's path
/// relative to the tree.
pub fn check_links(root: &Path) -> Result<(), String> {
    fn walk(root: &Path, dir: &Path, depth: usize) -> Result<(), String> {
        let rel = |p: &Path| {
            p.strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        };
        let entries = fs::read_dir(dir).map_err(|e| format!("cannot read the tree: {e}"))?;
        for e in entries {
            let e = e.map_err(|e| format!("cannot read the tree: {e}"))?;
            let path = e.path();
            let meta = fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", rel(&path)))?;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).map_err(|e| format!("{}: {e}", rel(&path)))?;
                if !link_stays_inside(&target, depth) {
                    return Err(format!(
                        "{} is a symlink to {} (outside the source tree)",
                        rel(&path),
                        target.display()
                    ));
                }
            } else if meta.is_dir() {
                walk(root, &path, depth + 1)?;
            }
        }
        Ok(())
    }
    walk(root, root, 0)
}

/// Whether a link target, found in a directory `depth` levels below the tree's root, stays in it.
fn link_stays_inside(target: &Path, depth: usize) -> bool {
    let mut up = 0usize;
    let mut named = false;
    for c in target.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if !named => up += 1,
            Component::Normal(_) => named = true,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    up <= depth
}

/// Removes the setuid, setgid and sticky bits from everything in `root` (symlinks untouched,
/// never followed). Call it only when nothing can write the tree any more.
pub fn strip_special_bits(root: &Path) -> io::Result<()> {
    walk_no_follow(root, &mut |path, meta| {
        let mode = meta.permissions().mode();
        if !meta.file_type().is_symlink() && mode & 0o7000 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o777))?;
        }
        Ok(())
    })
}

/// Hands `root` and everything in it to `user` (symlinks themselves, not their targets).
pub fn chown_tree(root: &Path, user: BuildUser) -> io::Result<()> {
    walk_no_follow(root, &mut |path, _| {
        std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
    })
}

/// Bytes (allocated blocks) and entries under `root`, not following symlinks; stops counting
/// once either passes its limit.
pub fn usage(root: &Path, max_bytes: u64, max_entries: u64) -> (u64, u64) {
    let (mut bytes, mut entries) = (0u64, 0u64);
    let _ = walk_no_follow(root, &mut |_, meta| {
        bytes += meta.blocks() * 512;
        entries += 1;
        if bytes > max_bytes || entries > max_entries {
            return Err(io::Error::other("over"));
        }
        Ok(())
    });
    (bytes, entries)
}

/// Calls `f` on `root` and everything below it, children first, never following a symlink.
fn walk_no_follow(
    root: &Path,
    f: &mut dyn FnMut(&Path, &fs::Metadata) -> io::Result<()>,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(root)?;
    if meta.is_dir() {
        for e in fs::read_dir(root)? {
            walk_no_follow(&e?.path(), f)?;
        }
    }
    f(root, &meta)
}

/// A directory the build user can read for a toolchain at `dir`: `dir` itself when every
/// directory on its way lets others through, or else a copy made of hard links (a real copy
/// across file systems) under `cache`, made once. `None` when there is no build user.
pub fn reachable_toolchain(
    dir: &Path,
    cache: &Path,
    user: Option<BuildUser>,
) -> io::Result<PathBuf> {
    if user.is_none() || others_can_reach(dir) {
        return Ok(dir.to_path_buf());
    }
    let name =
        hex::encode(&crate::hash::hash_bytes(dir.as_os_str().as_encoded_bytes()).sha256[..8]);
    let staged = cache.join(format!("toolchain-{name}"));
    if staged.join(".complete").is_file() {
        return Ok(staged);
    }
    let staging = cache.join(format!("toolchain-{name}.new"));
    let _ = fs::remove_dir_all(&staging);
    link_tree(dir, &staging)?;
    fs::write(
        staging.join(".complete"),
        dir.as_os_str().as_encoded_bytes(),
    )?;
    let _ = fs::remove_dir_all(&staged);
    fs::rename(&staging, &staged)?;
    Ok(staged)
}

/// Whether every directory from `/` to `dir` (symlinks resolved) has the others-search bit.
fn others_can_reach(dir: &Path) -> bool {
    let Ok(real) = fs::canonicalize(dir) else {
        return false;
    };
    real.ancestors()
        .all(|a| fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let meta = fs::symlink_metadata(&src)?;
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if meta.is_dir() {
            link_tree(&src, &dst)?;
        } else if fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst)?;
        }
    }
    let mode = fs::metadata(from)?.permissions().mode() & 0o777;
    fs::set_permissions(to, fs::Permissions::from_mode(mode | 0o555))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn outputs_behind_symlinks_are_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir_all(tree.join("out")).unwrap();
        fs::write(tree.join("out/a"), b"ok").unwrap();
        fs::write(dir.path().join("secret"), b"key").unwrap();
        symlink(dir.path(), tree.join("k")).unwrap();
        symlink(dir.path().join("secret"), tree.join("out/s")).unwrap();
        symlink("/proc/self", tree.join("p")).unwrap();
        assert!(open_output(&tree, "out/a").unwrap().is_some());
        for bad in [
            "k/secret",
            "out/s",
            "p/cmdline",
            "out",
            "../secret",
            "missing",
        ] {
            assert!(open_output(&tree, bad).unwrap().is_none(), "{bad}");
        }
    }

    #[test]
    fn links_that_leave_the_tree_are_found() {
        for (target, depth, inside) in [
            ("a/b", 0, true),
            ("../x", 1, true),
            ("../x", 0, false),
            ("../../x", 1, false),
            ("/etc/passwd", 3, false),
            ("a/../..", 2, false),
            ("./a", 0, true),
        ] {
            assert_eq!(
                link_stays_inside(Path::new(target), depth),
                inside,
                "{target}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("d")).unwrap();
        symlink("../f", dir.path().join("d/ok")).unwrap();
        assert!(check_links(dir.path()).is_ok());
        symlink("../../etc", dir.path().join("d/bad")).unwrap();
        let err = check_links(dir.path()).unwrap_err();
        assert!(err.starts_with("d/bad is a symlink"), "{err}");
    }

    #[test]
    fn a_key_inside_the_work_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("work/keys/k.key");
        fs::create_dir_all(key.parent().unwrap()).unwrap();
        fs::write(&key, b"k").unwrap();
        assert!(key_outside_work(&key, &dir.path().join("work")).is_err());
        assert!(key_outside_work(&key, &dir.path().join("work/./")).is_err());
        assert!(key_outside_work(&key, &dir.path().join("other/new")).is_ok());
    }

    #[test]
    fn special_bits_go() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, b"x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o6755)).unwrap();
        strip_special_bits(dir.path()).unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
            0o755
        );
    }

    #[test]
    fn build_users() {
        let passwd = "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
        assert_eq!(
            lookup_passwd("nobody", passwd),
            Some(BuildUser {
                uid: 65534,
                gid: 65534
            })
        );
        assert_eq!(lookup_passwd("ghost", passwd), None);
        assert_eq!(
            BuildUser::parse("1234:1235").unwrap(),
            BuildUser {
                uid: 1234,
                gid: 1235
            }
        );
        assert!(BuildUser::parse("0:5").unwrap_err().contains("root"));
        assert!(BuildUser::parse("x:5").is_err());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(ok.success());
        let err = copy_local_file(&fifo, &dir.path().join("out"), 10, Duration::from_secs(5))
            .unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let big = dir.path().join("big");
        fs::write(&big, vec![0u8; 100]).unwrap();
        let err =
            copy_local_file(&big, &dir.path().join("out"), 10, Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("limit"), "{err}");
    }
}
