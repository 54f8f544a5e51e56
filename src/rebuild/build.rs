//! One build of a recipe: inputs fetched and checked, a fresh copy of the source tree, the
//! sandbox run, the outputs found and hashed.
//!
//! The source is fetched and extracted once per job into a pristine tree that is never built
//! in; every build (the baseline and each variation) gets its own copy, so builds cannot see
//! each other's leftovers.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use reprove_verifier::predicates::{
    Artifact, DepKind, Environment, Recipe, ReleasePredicate, Source,
};

use super::fetch::{self, Origin, Unavailable};
use super::hostfs::{self, BuildUser};
use super::sandbox::{
    self, BuildSpec, Finished, Limits, RUST_MOUNT, SANDBOX_HOME, SandboxMode, Toolchain,
};
use crate::hash::{FileDigests, hash_file};

/// The fixed build path inside the sandbox.
pub const BUILD_PATH: &str = "/build";

/// The fixed hostname inside the sandbox.
pub const HOSTNAME: &str = "reprove";

/// The fixed umask.
pub const UMASK: u32 = 0o022;

/// Everything a build needs, on local disk, digests checked.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The extracted source (never built in).
    pub source_tree: PathBuf,
    /// The toolchain builds run on.
    pub toolchain: Toolchain,
    /// Published artifacts that were fetched (those with a URL), by name.
    pub published: BTreeMap<String, PathBuf>,
    /// The toolchain root assembled from the recipe's `build_deps` (`super::toolchain`),
    /// mounted read-only at [`super::toolchain::PYTHON_DEPS_MOUNT`].
    pub python_deps: Option<PathBuf>,
}

/// The node's caches shared between jobs: extracted root filesystems by sha256, toolchain
/// roots assembled from pinned packages by the digest of their pins.
#[derive(Debug, Clone, Copy)]
pub struct Caches<'a> {
    /// `rootfs/<sha256>`.
    pub rootfs: &'a Path,
    /// `toolchains/<key>` ([`super::toolchain::key`]).
    pub toolchains: &'a Path,
    /// How a root of `.deb`s is configured (in the sandbox, as the build account).
    pub configure: super::debroot::Configure<'a>,
}

/// Fetches the source, the root filesystem (when the recipe names one) and every published
/// artifact that has a URL into `job`, checking each digest, from where `origin` allows.
/// Then the recipe's extra `inputs`, each placed at its path in the source tree, and its
/// `build_deps`, installed into a toolchain root (`caches` keeps both kinds of root between
/// jobs). This is the fetch stage: nothing fetched here is executed.
pub fn fetch_inputs(
    job: &Path,
    release: &ReleasePredicate,
    subjects: &[Artifact],
    rust: Option<&Path>,
    caches: Caches<'_>,
    timeout: Duration,
    origin: Origin,
) -> Result<Inputs, Unavailable> {
    let rootfs_cache = caches.rootfs;
    let inputs = job.join("inputs");
    let source_tree = job.join("source");
    let local = |e: String| Unavailable {
        reason: e,
        retryable: false,
    };
    match &release.source {
        Source::Archive { uri, digest } => {
            let file = inputs.join("source.archive");
            fetch::fetch_checked("source archive", uri, origin, digest, &file, timeout)?;
            fetch::extract_archive(&file, &source_tree, true)
                .map_err(|e| local(format!("source archive {uri}: {e}")))?;
        }
        Source::Git { uri, commit } => {
            fetch::git_tree(uri, commit, origin, &inputs, &source_tree, timeout)?;
        }
    }
    for (i, input) in release.recipe.inputs.iter().enumerate() {
        let file = inputs.join(format!("input-{i}"));
        fetch::fetch_checked("input", &input.uri, origin, &input.digest, &file, timeout)?;
        place_input(&file, &source_tree, &input.path)
            .map_err(|e| local(format!("input {}: {e}", input.path)))?;
    }
    let assembled = super::toolchain::assemble(
        &release.recipe.build_deps,
        caches.toolchains,
        &inputs,
        origin,
        timeout,
        caches.configure,
    )?;
    let (python_deps, deb_root) = match assembled {
        Some((DepKind::PypiWheel, root)) => (Some(root), None),
        Some((DepKind::DebianDeb, root)) => (None, Some(root)),
        None => (None, None),
    };
    let toolchain = match (&release.recipe.environment, deb_root) {
        // A root of pinned .debs is the build's whole filesystem.
        (Environment::Host {}, Some(root)) => Toolchain::Rootfs(root),
        (Environment::Host {}, None) => Toolchain::Host {
            rust: rust.map(Path::to_path_buf),
        },
        (Environment::Rootfs { .. }, Some(_)) => {
            return Err(local(
                "a recipe with .deb build dependencies builds in a root made of them: its environment must be host".to_owned(),
            ));
        }
        (Environment::Rootfs { uri, digest }, None) => {
            let root = rootfs_cache.join(hex::encode(digest.sha256));
            if !root.is_dir() {
                let Some(uri) = uri else {
                    return Err(local(format!(
                        "root filesystem sha256 {} is not cached on this rebuilder and the recipe gives no URL",
                        hex::encode(digest.sha256),
                    )));
                };
                let file = inputs.join("rootfs.tar");
                fetch::fetch_checked("root filesystem", uri, origin, digest, &file, timeout)?;
                let staging = rootfs_cache.join(format!("{}.new", hex::encode(digest.sha256)));
                fetch::extract_archive(&file, &staging, false)
                    .map_err(|e| local(format!("root filesystem {uri}: {e}")))?;
                fs::rename(&staging, &root).map_err(|e| {
                    local(format!("root filesystem: cannot store it: {}", e.kind()))
                })?;
                let _ = fs::remove_file(&file);
            }
            Toolchain::Rootfs(root)
        }
    };
    let mut published = BTreeMap::new();
    for subject in subjects {
        if let Some(url) = release.artifacts.get(&subject.name) {
            let file = inputs.join("published").join(safe_name(&subject.name));
            fetch::fetch_checked(
                "published artifact",
                url,
                origin,
                &subject.digest,
                &file,
                timeout,
            )?;
            published.insert(subject.name.clone(), file);
        }
    }
    Ok(Inputs {
        source_tree,
        toolchain,
        published,
        python_deps,
    })
}

/// Moves a fetched input to `rel` in the source tree: its parent directories are created as
/// needed, none of them may be a link, and nothing may be there already.
fn place_input(file: &Path, tree: &Path, rel: &str) -> Result<(), String> {
    let dest = tree.join(rel);
    let mut at = tree.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err("a parent directory in the source is not a directory".into()),
            Err(_) => fs::create_dir(&at).map_err(|e| e.kind().to_string())?,
        }
    }
    if fs::symlink_metadata(&dest).is_ok() {
        return Err("the source already holds a file there".into());
    }
    fs::rename(file, &dest).map_err(|e| e.kind().to_string())
}

/// The environment knobs of one build. [`Variant::baseline`] is the fixed world every
/// rebuilder uses; the variation builds change one or more knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The build path inside the sandbox.
    pub build_path: String,
    /// The hostname.
    pub hostname: String,
    /// The umask.
    pub umask: u32,
    /// `TZ`.
    pub tz: String,
    /// `LANG`.
    pub lang: String,
    /// `faketime` offset, if the clock is shifted.
    pub faketime: Option<String>,
    /// Create the build tree in reverse name order on a tmpfs (`/dev/shm`), whose directory
    /// listings come out in reverse creation order, so `readdir` order differs.
    pub reverse_order: bool,
}

impl Variant {
    /// The fixed world.
    pub fn baseline() -> Variant {
        Variant {
            build_path: BUILD_PATH.to_owned(),
            hostname: HOSTNAME.to_owned(),
            umask: UMASK,
            tz: "UTC".to_owned(),
            lang: "C.UTF-8".to_owned(),
            faketime: None,
            reverse_order: false,
        }
    }
}

/// What one build produced.
#[derive(Debug)]
pub struct BuildRun {
    /// How the sandbox run ended, and its log.
    pub finished: Finished,
    /// Per artifact name: the output file and its digests, or `None` if it was not produced
    /// (or is not a regular file).
    pub outputs: BTreeMap<String, Option<(PathBuf, FileDigests)>>,
}

/// Settings shared by every build of a job.
#[derive(Debug, Clone)]
pub struct Runner<'a> {
    /// The sandbox.
    pub mode: SandboxMode,
    /// The limits.
    pub limits: &'a Limits,
    /// The inputs.
    pub inputs: &'a Inputs,
    /// The recipe.
    pub recipe: &'a Recipe,
    /// The host account the build runs as (`None`: the node's own, which is never root).
    pub user: Option<BuildUser>,
    /// The delegated cgroup builds run in children of, when the operator gave one.
    pub cgroup: Option<&'a super::cgroup::Delegated>,
}

impl Runner<'_> {
    /// Runs one build in `dir` (created fresh) with `variant`. `Err` only for local failures.
    ///
    /// Everything the build leaves is hostile: after it, setuid/setgid bits are stripped from
    /// the tree and home, and each output is opened without following a symlink anywhere on
    /// its path and copied out of the tree (into `dir/outputs/`) before it is hashed, so a
    /// later look at it (the diff report) reads the copy, never something the tree points at.
    pub fn build(&self, dir: &Path, variant: &Variant) -> io::Result<BuildRun> {
        remove_dir(dir)?;
        // `dir` stays the node's (the generated /etc, the outputs' copies, the tmpfs pointer);
        // `dir/user` (0700) holds what the build writes, the build user's own when there is
        // one: nobody else reaches anything the build makes while it runs, and nothing the
        // build user can change is ever written to or followed by the node.
        let shared = self.user.is_some();
        hostfs::private_dir(dir, shared)?;
        let own = dir.join("user");
        hostfs::private_dir(&own, false)?;
        let tree = if variant.reverse_order && Path::new("/dev/shm").is_dir() {
            let mut nonce = [0u8; 8];
            getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
            let t = PathBuf::from(format!("/dev/shm/reprove-{}", hex::encode(nonce)));
            // Keep a pointer from the job directory to where the tree is.
            fs::write(dir.join("tree-location"), t.to_string_lossy().as_bytes())?;
            hostfs::private_dir(&t, false)?;
            if let Some(user) = self.user {
                std::os::unix::fs::lchown(&t, Some(user.uid), Some(user.gid))?;
            }
            t.join("tree")
        } else {
            own.join("tree")
        };
        copy_tree(&self.inputs.source_tree, &tree, variant.reverse_order)?;
        let home = own.join("home");
        hostfs::private_dir(&home, false)?;
        if let Some(user) = self.user {
            hostfs::chown_tree(&tree, user)?;
            hostfs::chown_tree(&home, user)?;
            std::os::unix::fs::lchown(&own, Some(user.uid), Some(user.gid))?;
        }
        let (build_path, home_path) = match self.mode {
            SandboxMode::Bwrap => (variant.build_path.clone(), SANDBOX_HOME.to_owned()),
            SandboxMode::InsecureNone => (
                tree.to_string_lossy().into_owned(),
                home.to_string_lossy().into_owned(),
            ),
        };
        let spec = BuildSpec {
            tree: tree.clone(),
            build_path: build_path.clone(),
            home: home.clone(),
            etc: dir.join("etc"),
            command: self.recipe.command.clone(),
            env: self.environment(variant, &home_path),
            umask: variant.umask,
            hostname: variant.hostname.clone(),
            toolchain: self.inputs.toolchain.clone(),
            python_deps: self.inputs.python_deps.clone(),
            uid: match self.recipe.build_user {
                reprove_verifier::predicates::BuildUser::Builder => sandbox::BUILD_UID,
                reprove_verifier::predicates::BuildUser::Root => 0,
            },
            faketime: variant.faketime.clone(),
            user: self.user,
            cgroup: self.cgroup.cloned(),
        };
        let finished = sandbox::run(self.mode, &spec, self.limits)?;
        // The build's processes are gone (the sandbox's pid namespace died with it): nothing
        // changes the tree from here on.
        hostfs::strip_special_bits(&tree)?;
        hostfs::strip_special_bits(&home)?;
        let out_dir = dir.join("outputs");
        hostfs::private_dir(&out_dir, false)?;
        let mut outputs = BTreeMap::new();
        let all = self
            .recipe
            .outputs
            .iter()
            .chain(&self.recipe.unpinned_outputs);
        for (i, (path, name)) in all.enumerate() {
            let found = match hostfs::open_output(&tree, path)? {
                Some(file) => {
                    // By position: two artifact names may map to one safe file name.
                    let copy = out_dir.join(format!("{i}-{}", safe_name(name)));
                    let _ = fs::remove_file(&copy);
                    match hostfs::copy_capped(file, &copy, fetch::MAX_DOWNLOAD) {
                        Ok(_) => Some((copy.clone(), hash_file(&copy, |_| {})?)),
                        Err(e) if e.kind() == io::ErrorKind::Other => None,
                        Err(e) => return Err(e),
                    }
                }
                None => None,
            };
            outputs.insert(name.clone(), found);
        }
        Ok(BuildRun { finished, outputs })
    }

    /// The whole environment of a build: the fixed base, then the recipe's `env` (which wins:
    /// a recipe that pins `TZ` or `LANG` is immune to those variations, as it should be).
    fn environment(&self, variant: &Variant, home: &str) -> BTreeMap<String, String> {
        let mut path = String::new();
        if let Toolchain::Host { rust: Some(rust) } = &self.inputs.toolchain {
            match self.mode {
                SandboxMode::Bwrap => path.push_str(&format!("{RUST_MOUNT}/bin:")),
                SandboxMode::InsecureNone => path.push_str(&format!("{}/bin:", rust.display())),
            }
        }
        path.push_str("/usr/local/bin:/usr/bin:/bin");
        let mut env = BTreeMap::from([
            ("PATH".to_owned(), path),
            ("HOME".to_owned(), home.to_owned()),
            ("USER".to_owned(), "builder".to_owned()),
            ("LOGNAME".to_owned(), "builder".to_owned()),
            ("SHELL".to_owned(), "/bin/sh".to_owned()),
            ("TMPDIR".to_owned(), "/tmp".to_owned()),
            ("TZ".to_owned(), variant.tz.clone()),
            ("LANG".to_owned(), variant.lang.clone()),
        ]);
        if let Some(t) = self.recipe.source_date_epoch {
            env.insert("SOURCE_DATE_EPOCH".to_owned(), t.to_string());
        }
        if let Some(deps) = &self.inputs.python_deps {
            let at = match self.mode {
                SandboxMode::Bwrap => super::toolchain::PYTHON_DEPS_MOUNT.to_owned(),
                SandboxMode::InsecureNone => deps.to_string_lossy().into_owned(),
            };
            env.insert("PYTHONPATH".to_owned(), at);
        }
        for (k, v) in &self.recipe.env {
            env.insert(k.clone(), v.clone());
        }
        env
    }
}

/// A text description of the sandbox and toolchain for the attestation's `sandbox.details`:
/// the bwrap version and isolation, and the identity (sha256 prefix) of the tools the build
/// can use — the common host tools and the rust toolchain's `rustc` — or the rootfs digest.
pub fn describe(mode: SandboxMode, toolchain: &Toolchain, program: &str) -> String {
    let mut parts = Vec::new();
    match mode {
        SandboxMode::Bwrap => parts.push(format!(
            "{}; --unshare-all (no network), uid/gid {}, build path {BUILD_PATH}, hostname {HOSTNAME}, umask {UMASK:04o}, TZ=UTC, LANG=C.UTF-8",
            sandbox::bwrap_version().unwrap_or_else(|| "bubblewrap".to_owned()),
            sandbox::BUILD_UID
        )),
        SandboxMode::InsecureNone => parts.push(
            "NO SANDBOX (--insecure-no-sandbox): the build ran as the rebuilder's user, with network and host access".to_owned(),
        ),
    }
    match toolchain {
        Toolchain::Host { rust } => {
            let mut tools = Vec::new();
            let mut names: Vec<String> = [
                "sh", "bash", "make", "cc", "gcc", "as", "ld", "ar", "tar", "gzip",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            if !program.contains('/') && !names.iter().any(|n| n == program) {
                names.push(program.to_owned());
            }
            for name in names {
                if let Some(d) = tool_digest(&Path::new("/usr/bin").join(&name)) {
                    tools.push(format!("{name}={d}"));
                }
            }
            if let Some(cc1) = gcc_cc1()
                && let Some(d) = tool_digest(&cc1)
            {
                tools.push(format!("cc1={d}"));
            }
            parts.push(format!(
                "toolchain: host /usr read-only; sha256 prefixes: {}",
                tools.join(" ")
            ));
            if let Some(rust) = rust {
                parts.push(format!("rust: {}", rust_identity(rust)));
            }
        }
        Toolchain::Rootfs(root) => parts.push(format!(
            "toolchain: root filesystem sha256 {}",
            root.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        )),
    }
    let mut text = parts.join("; ");
    text.truncate(4000);
    text
}

/// `rustc -vV` of a toolchain directory (release and commit), with its rustc's sha256 prefix.
pub fn rust_identity(sysroot: &Path) -> String {
    let rustc = sysroot.join("bin/rustc");
    let version = Command::new(&rustc)
        .arg("-vV")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let field = |k: &str| {
        version
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or("?")
            .trim()
            .to_owned()
    };
    format!(
        "rustc {} commit {} host {} at {RUST_MOUNT}, rustc={}",
        field("release:"),
        field("commit-hash:"),
        field("host:"),
        tool_digest(&rustc).unwrap_or_else(|| "?".to_owned())
    )
}

/// The host's rust toolchain directory (`rustc --print sysroot`), if rustc is installed.
pub fn detect_rust() -> Option<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && p.join("bin/rustc").is_file()).then_some(p)
}

fn gcc_cc1() -> Option<PathBuf> {
    let out = Command::new("/usr/bin/gcc")
        .arg("-print-prog-name=cc1")
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    p.is_absolute().then_some(p)
}

/// The first 16 hex digits of the sha256 of the file `path` resolves to.
///
/// Every attestation records these, and the tools (cc1 alone is tens of MB) rarely change, so
/// each is hashed once per process and again only when its size or mtime changes (a toolchain
/// upgrade while a node runs).
fn tool_digest(path: &Path) -> Option<String> {
    type Seen = HashMap<PathBuf, (u64, Option<SystemTime>, String)>;
    static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();
    let real = fs::canonicalize(path).ok()?;
    let meta = fs::metadata(&real).ok()?;
    let stamp = (meta.len(), meta.modified().ok());
    let seen = SEEN.get_or_init(Default::default);
    if let Some((len, modified, digest)) = seen.lock().ok()?.get(&real)
        && (*len, *modified) == stamp
    {
        return Some(digest.clone());
    }
    let digest = hash_file(&real, |_| {}).ok()?.sha256_hex()[..16].to_owned();
    seen.lock()
        .ok()?
        .insert(real, (stamp.0, stamp.1, digest.clone()));
    Some(digest)
}

/// A file name for an artifact name (which may hold `/`).
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Removes a directory tree if it exists, following a `tree-location` pointer to a tmpfs tree.
pub fn remove_dir(dir: &Path) -> io::Result<()> {
    if let Ok(loc) = fs::read_to_string(dir.join("tree-location")) {
        let _ = fs::remove_dir_all(loc.trim());
    }
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Copies a tree (files, directories, symlinks) keeping mtimes and the permission bits
/// (never setuid, setgid or sticky bits). Symlinks are copied as links, never followed. With
/// `reverse`, entries of each directory are created in reverse name order.
pub fn copy_tree(from: &Path, to: &Path, reverse: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::create_dir_all(to)?;
    let mut entries: Vec<_> = fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    if reverse {
        entries.reverse();
    }
    for e in entries {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let meta = fs::symlink_metadata(&src)?;
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if meta.is_dir() {
            copy_tree(&src, &dst, reverse)?;
        } else if meta.is_file() {
            fs::copy(&src, &dst)?;
            let f = fs::File::options().write(true).open(&dst)?;
            f.set_permissions(fs::Permissions::from_mode(
                meta.permissions().mode() & 0o777,
            ))?;
            f.set_modified(meta.modified()?)?;
        }
    }
    let meta = fs::symlink_metadata(from)?;
    fs::set_permissions(
        to,
        fs::Permissions::from_mode(meta.permissions().mode() & 0o777),
    )?;
    fs::File::open(to)?.set_modified(meta.modified()?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_placed_in_the_tree_but_never_over_a_file_or_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir_all(tree.join("src")).unwrap();
        fs::write(tree.join("src/a"), "source").unwrap();
        std::os::unix::fs::symlink("/etc", tree.join("link")).unwrap();
        let input = |n: &str| {
            let p = dir.path().join(n);
            fs::write(&p, n).unwrap();
            p
        };
        place_input(&input("i1"), &tree, "vendor/deep/i1").unwrap();
        assert_eq!(fs::read(tree.join("vendor/deep/i1")).unwrap(), b"i1");
        let err = place_input(&input("i2"), &tree, "src/a").unwrap_err();
        assert!(err.contains("already holds"), "{err}");
        let err = place_input(&input("i3"), &tree, "link/passwd-copy").unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
        assert_eq!(fs::read(tree.join("src/a")).unwrap(), b"source");
    }

    #[test]
    fn copies_keep_mtimes_modes_and_links() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::create_dir_all(a.join("sub")).unwrap();
        fs::write(a.join("sub/f"), b"x").unwrap();
        fs::set_permissions(a.join("sub/f"), fs::Permissions::from_mode(0o755)).unwrap();
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
        fs::File::options()
            .write(true)
            .open(a.join("sub/f"))
            .unwrap()
            .set_modified(t)
            .unwrap();
        std::os::unix::fs::symlink("sub/f", a.join("link")).unwrap();
        let b = dir.path().join("b");
        fs::write(a.join("suid"), b"x").unwrap();
        fs::set_permissions(a.join("suid"), fs::Permissions::from_mode(0o6755)).unwrap();
        copy_tree(&a, &b, true).unwrap();
        let m = fs::metadata(b.join("sub/f")).unwrap();
        assert_eq!(m.modified().unwrap(), t);
        assert_eq!(m.permissions().mode() & 0o777, 0o755);
        let m = fs::metadata(b.join("suid")).unwrap();
        assert_eq!(
            m.permissions().mode() & 0o7777,
            0o755,
            "no setuid bit survives a copy"
        );
        assert_eq!(fs::read_link(b.join("link")).unwrap(), Path::new("sub/f"));
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("a/b c.tar.gz"), "a_b_c.tar.gz");
    }
}
