//! Running one build command in a bubblewrap sandbox, with limits enforced from outside.
//!
//! The world inside is fixed: the build tree at a fixed path (writable), a private home (in the
//! work directory, writable), a private `/tmp`, the toolchain read-only, a generated minimal
//! `/etc`, no network (`--unshare-all`: the build sees only its own loopback), a fixed hostname,
//! uid/gid 1000, a cleared environment with exactly the variables given, and a fixed umask. The
//! host's home directories, `/etc`, `/tmp` and everything else are simply not there.
//!
//! bwrap has no time, memory or output limits, so they are enforced here, without cgroups
//! (which a node cannot count on being delegated to it):
//! - processes: `prlimit --nproc` — at most `max_procs` processes of the build's host user (a
//!   fork bomb stops there; it counts every process of that user, which is why builds should
//!   run as their own account);
//! - memory: `prlimit --as` per process; `/tmp` is a tmpfs of at most `tmp_bytes`;
//! - disk: the build tree and home are measured every [`DISK_POLL`] and the build is killed
//!   when they pass `disk_bytes` or `max_files` entries; no single file may pass `disk_bytes`
//!   (`prlimit --fsize`);
//! - wall time: the process group is killed (bwrap's pid namespace dies with it:
//!   `--die-with-parent`);
//! - the log: the single pipe that both stdout and stderr write to, kept up to `log_bytes`.
//!
//! What this does not bound: the sum of the memory of all the build's processes (each is
//! bounded). Given a delegated cgroup v2 (`--cgroup`, [`super::cgroup`]), each build also runs
//! in a child cgroup whose `memory.max` bounds that sum, tmpfs included, and whose `pids.max`
//! bounds its processes whatever account they run as. docs/operations.md says so.
//!
//! A node running as root never runs a build as root: bwrap is started as the unprivileged
//! build user ([`BuildSpec::user`]), so the build's files belong to that account and no file
//! of the host is the build's own.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt as _;

use super::cgroup::BuildCgroup;
use super::hostfs::{self, BuildUser};

/// How often the disk use of a running build is measured.
pub const DISK_POLL: Duration = Duration::from_secs(2);

/// The uid and gid the build runs as inside the sandbox.
pub const BUILD_UID: u32 = 1000;

/// Where the rust toolchain, when there is one, appears inside the sandbox.
pub const RUST_MOUNT: &str = "/opt/rust";

/// The home directory inside the sandbox.
pub const SANDBOX_HOME: &str = "/home/builder";

/// How a build is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    /// bubblewrap: no network, fixed world, read-only toolchain (the default, and the only
    /// mode a trustworthy rebuilder uses).
    Bwrap,
    /// No isolation at all (`--insecure-no-sandbox`): the build runs as this user, sees the
    /// network and the host. Attestations say `"sandbox": {"kind": "none"}`.
    InsecureNone,
}

/// Limits on one build, enforced from outside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time after which the build is killed.
    pub wall_time: Duration,
    /// Address-space limit of every process of the build (`prlimit --as`), in bytes.
    pub memory_bytes: u64,
    /// The build log is cut after this many bytes (the rest is read and dropped).
    pub log_bytes: usize,
    /// Time limit of diffoscope, when it is installed.
    pub diff_time: Duration,
    /// Largest diff report kept, in bytes.
    pub diff_bytes: usize,
    /// Most processes of the build's host user at once (`RLIMIT_NPROC`).
    pub max_procs: u64,
    /// Size of the build's `/tmp` (a tmpfs: it is memory).
    pub tmp_bytes: u64,
    /// Most disk the build tree and home may use together; also the largest single file.
    pub disk_bytes: u64,
    /// Most files and directories in the build tree and home together.
    pub max_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall_time: Duration::from_secs(3600),
            memory_bytes: 8 << 30,
            log_bytes: 4 << 20,
            diff_time: Duration::from_secs(300),
            diff_bytes: 1 << 20,
            max_procs: 4096,
            tmp_bytes: 2 << 30,
            disk_bytes: 32 << 30,
            max_files: 1_000_000,
        }
    }
}

/// The toolchain a build sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Toolchain {
    /// The host's `/usr` (and the `/bin`, `/lib*` links into it), read-only, plus, when
    /// given, a rust toolchain directory mounted at [`RUST_MOUNT`].
    Host { rust: Option<PathBuf> },
    /// An extracted root filesystem: each of its top-level directories read-only.
    Rootfs(PathBuf),
}

/// One build to run.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// The host directory holding the source tree; the build may write in it.
    pub tree: PathBuf,
    /// Where the tree appears inside the sandbox (`/build` unless varied).
    pub build_path: String,
    /// The host directory that becomes the home directory (writable, initially empty).
    pub home: PathBuf,
    /// A host directory for the generated `/etc` files.
    pub etc: PathBuf,
    /// The command's argument vector.
    pub command: Vec<String>,
    /// The whole environment of the build.
    pub env: BTreeMap<String, String>,
    /// The umask the build runs with.
    pub umask: u32,
    /// The hostname inside the sandbox.
    pub hostname: String,
    /// The toolchain.
    pub toolchain: Toolchain,
    /// A toolchain root of pinned Python packages, mounted read-only at
    /// [`super::toolchain::PYTHON_DEPS_MOUNT`].
    pub python_deps: Option<PathBuf>,
    /// The uid and gid inside the sandbox: [`BUILD_UID`], or 0 (root in the user namespace).
    pub uid: u32,
    /// Run the command under `faketime <offset>` (the `time` variation).
    pub faketime: Option<String>,
    /// The host account bwrap (and so the build) runs as; `None`: this process's own.
    pub user: Option<BuildUser>,
    /// A delegated cgroup v2 to run the build in a child of (total memory, process count).
    pub cgroup: Option<super::cgroup::Delegated>,
}

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit status 0.
    Success,
    /// Another exit status, or a signal (`None`).
    Failed(Option<i32>),
    /// Killed when the wall time ran out.
    TimedOut,
    /// Killed when the tree and home passed the disk limit (bytes or entries).
    DiskLimit,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Success => f.write_str("exit status 0"),
            Exit::Failed(Some(code)) => write!(f, "exit status {code}"),
            Exit::Failed(None) => f.write_str("killed by a signal"),
            Exit::TimedOut => f.write_str("timed out"),
            Exit::DiskLimit => f.write_str("over the disk limit"),
        }
    }
}

/// What a finished build left.
#[derive(Debug, Clone)]
pub struct Finished {
    /// How it ended.
    pub exit: Exit,
    /// stdout and stderr, interleaved as written, cut at the log limit (with a marker).
    pub log: Vec<u8>,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Whether bubblewrap is installed (on PATH) and works here.
pub fn bwrap_available() -> bool {
    bwrap_probe().is_ok()
}

/// Why bubblewrap cannot sandbox a build here, in its own words: `bwrap`'s message (e.g.
/// "No permissions to create new namespace"), or why it could not be started at all.
pub fn bwrap_probe() -> Result<(), String> {
    let out = Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run bwrap: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.trim();
    Err(if said.is_empty() {
        format!("bwrap failed ({})", out.status)
    } else {
        format!("bwrap: {}", said.trim_start_matches("bwrap: "))
    })
}

/// The refusal when the sandbox is asked for and bubblewrap fails: bwrap's own words first,
/// then what to do.
pub fn bwrap_refusal(cause: &str) -> String {
    format!(
        "{cause} — builds cannot be sandboxed here. Install bubblewrap (`make setup`) and allow \
         unprivileged user namespaces, or, knowing that the build will then see the network \
         and this machine, pass --insecure-no-sandbox"
    )
}

/// `bwrap --version`, e.g. `bubblewrap 0.8.0`.
pub fn bwrap_version() -> Option<String> {
    let out = Command::new("bwrap").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Runs the build to its end (or its limit). `Err` only for local failures: the sandbox or the
/// limit tool could not be started, the log pipe failed.
pub fn run(mode: SandboxMode, spec: &BuildSpec, limits: &Limits) -> io::Result<Finished> {
    let argv = limited_argv(mode, spec, limits)?;
    let cgroup = match &spec.cgroup {
        Some(d) => Some(d.build_cgroup(limits.memory_bytes, limits.max_procs)?),
        None => None,
    };
    let mut cmd = launcher(&argv, spec.user, cgroup.as_ref());
    if mode == SandboxMode::InsecureNone {
        cmd.current_dir(&spec.tree).env_clear().envs(&spec.env);
    }
    let build = Running::start(cmd, limits.log_bytes)?;
    let (status, ended) = build.watch(spec, limits)?;
    // Anything the build left running in its process group goes too (in the sandbox, the pid
    // namespace is already gone with bwrap), and so does anything left in its cgroup.
    kill_group(build.pid);
    let oom = cgroup.as_ref().is_some_and(|cg| {
        cg.kill_all(Duration::from_secs(10));
        cg.oom_killed()
    });
    drop(cgroup);
    let elapsed = build.started.elapsed();
    let mut log = build.log()?;
    let exit = exit_of(status, ended, limits, &mut log);
    if oom {
        log.extend_from_slice(
            format!(
                "\n[reprove: a process was killed at the build's memory limit of {} bytes]\n",
                limits.memory_bytes
            )
            .as_bytes(),
        );
    }
    Ok(Finished { exit, log, elapsed })
}

/// `prlimit … -- [bwrap …] sh -c 'umask …' …`: the build, with its per-process limits (and, in
/// the sandbox, its generated `/etc` written).
fn limited_argv(mode: SandboxMode, spec: &BuildSpec, limits: &Limits) -> io::Result<Vec<String>> {
    let mut argv: Vec<String> = vec![
        "prlimit".into(),
        format!("--as={}", limits.memory_bytes),
        format!("--nproc={}", limits.max_procs),
        format!("--fsize={}", limits.disk_bytes),
        "--".into(),
    ];
    if mode == SandboxMode::Bwrap {
        write_etc(spec)?;
        argv.push("bwrap".into());
        argv.extend(bwrap_args(spec, limits)?);
    }
    argv.extend(wrapped_command(spec));
    Ok(argv)
}

/// The process that becomes the build, as `user` when given. With a delegated cgroup, a shell
/// joins the build's cgroup first and then becomes the build (dropping to the build user with
/// setpriv): nothing of the build starts outside it.
fn launcher(argv: &[String], user: Option<BuildUser>, cgroup: Option<&BuildCgroup>) -> Command {
    match cgroup {
        Some(cg) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg("echo $$ > \"$0\" && exec \"$@\"")
                .arg(cg.procs_file());
            if let Some(user) = user {
                c.arg("setpriv")
                    .arg(format!("--reuid={}", user.uid))
                    .arg(format!("--regid={}", user.gid))
                    .args(["--clear-groups", "--"]);
            }
            c.args(argv);
            c
        }
        None => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            if let Some(user) = user {
                // std drops the supplementary groups too when it changes the uid as root.
                c.uid(user.uid).gid(user.gid);
            }
            c
        }
    }
}

/// A build that has started: its process group, when it started, and two threads reporting
/// its exit and its (capped) log, so the limits can be watched without blocking on either.
struct Running {
    pid: u32,
    started: Instant,
    exit: mpsc::Receiver<io::Result<ExitStatus>>,
    log: mpsc::Receiver<io::Result<Vec<u8>>>,
}

impl Running {
    /// Starts `cmd` in a process group of its own, stdout and stderr into one pipe of which
    /// the first `cap` bytes are kept.
    fn start(mut cmd: Command, cap: usize) -> io::Result<Running> {
        let (reader, writer) = io::pipe()?;
        cmd.stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer)
            .process_group(0);
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot start the build (prlimit from util-linux and bwrap are needed): {e}"
                ),
            )
        })?;
        // The Command holds the pipe's write ends; drop it so the reader sees EOF at the end.
        drop(cmd);
        let pid = child.id();
        let (log_tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = log_tx.send(read_capped(reader, cap));
        });
        let (exit_tx, exit) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = exit_tx.send(child.wait());
        });
        Ok(Running {
            pid,
            started,
            exit,
            log,
        })
    }

    /// Waits for the build to exit, measuring its disk use every [`DISK_POLL`] and killing it
    /// at the wall-time or disk limit; the limit it was killed at, if any, comes with the status.
    fn watch(&self, spec: &BuildSpec, limits: &Limits) -> io::Result<(ExitStatus, Option<Exit>)> {
        let deadline = self.started + limits.wall_time;
        loop {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(DISK_POLL);
            match self.exit.recv_timeout(wait) {
                Ok(status) => return Ok((status?, None)),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the build's waiter thread stopped"));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let over = if Instant::now() >= deadline {
                Some(Exit::TimedOut)
            } else if over_disk(spec, limits) {
                Some(Exit::DiskLimit)
            } else {
                None
            };
            if let Some(why) = over {
                kill_group(self.pid);
                let status = self
                    .exit
                    .recv()
                    .map_err(|_| io::Error::other("the build's waiter thread stopped"))??;
                return Ok((status, Some(why)));
            }
        }
    }

    /// The build's log, once the build has exited; a marker instead when something it left
    /// behind still holds the pipe open.
    fn log(&self) -> io::Result<Vec<u8>> {
        match self.log.recv_timeout(Duration::from_secs(10)) {
            Ok(log) => log,
            Err(_) => {
                Ok(b"[reprove: the build's output pipe stayed open after it exited]\n".to_vec())
            }
        }
    }
}

/// How the build ended: the limit it was killed at (noted at the end of its log), else its
/// exit status.
fn exit_of(
    status: ExitStatus,
    killed_at: Option<Exit>,
    limits: &Limits,
    log: &mut Vec<u8>,
) -> Exit {
    match killed_at {
        Some(Exit::TimedOut) => {
            log.extend_from_slice(
                format!(
                    "\n[reprove: killed after the wall-time limit of {} s]\n",
                    limits.wall_time.as_secs()
                )
                .as_bytes(),
            );
            Exit::TimedOut
        }
        Some(other) => {
            log.extend_from_slice(
                format!(
                    "\n[reprove: killed when the build tree and home passed the disk limit of {} bytes or {} files]\n",
                    limits.disk_bytes, limits.max_files
                )
                .as_bytes(),
            );
            other
        }
        None if status.success() => Exit::Success,
        None => Exit::Failed(status.code()),
    }
}

/// Whether the build's tree and home together use more than the disk limits.
fn over_disk(spec: &BuildSpec, limits: &Limits) -> bool {
    let (b1, n1) = hostfs::usage(&spec.tree, limits.disk_bytes, limits.max_files);
    let (b2, n2) = hostfs::usage(
        &spec.home,
        limits.disk_bytes.saturating_sub(b1),
        limits.max_files.saturating_sub(n1),
    );
    b1 + b2 > limits.disk_bytes || n1 + n2 > limits.max_files
}

/// `sh -c 'umask …; exec "$@"'` around the command, so the umask is set without unsafe code.
fn wrapped_command(spec: &BuildSpec) -> Vec<String> {
    let mut v = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        format!("umask {:04o} && exec \"$@\"", spec.umask),
        "reprove-build".to_owned(),
    ];
    if let Some(offset) = &spec.faketime {
        // `-f`: a relative offset such as `+398d` (without it faketime wants an absolute time).
        v.push("faketime".to_owned());
        v.push("-f".to_owned());
        v.push(offset.clone());
    }
    v.extend(spec.command.iter().cloned());
    v
}

/// The bwrap arguments for `spec` (everything before the command).
fn bwrap_args(spec: &BuildSpec, limits: &Limits) -> io::Result<Vec<String>> {
    let mut a: Vec<String> = Vec::new();
    push(
        &mut a,
        &["--unshare-all", "--die-with-parent", "--new-session"],
    );
    let uid = spec.uid.to_string();
    push(
        &mut a,
        &["--uid", &uid, "--gid", &uid, "--hostname", &spec.hostname],
    );
    match &spec.toolchain {
        Toolchain::Host { rust } => {
            a.extend(host_system_args(&spec.etc, &[])?);
            if let Some(rust) = rust {
                push(&mut a, &["--ro-bind", &rust.to_string_lossy(), RUST_MOUNT]);
            }
        }
        Toolchain::Rootfs(root) => {
            let mut names: Vec<_> = std::fs::read_dir(root)?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                if ["proc", "dev", "tmp", "sys", "home", "run"].contains(&name.as_str())
                    || spec.build_path.trim_start_matches('/').split('/').next()
                        == Some(name.as_str())
                {
                    continue;
                }
                let host = root.join(&name);
                let meta = std::fs::symlink_metadata(&host)?;
                let dest = format!("/{name}");
                if meta.file_type().is_symlink() {
                    let target = std::fs::read_link(&host)?;
                    push(&mut a, &["--symlink", &target.to_string_lossy(), &dest]);
                } else if meta.is_dir() {
                    push(&mut a, &["--ro-bind", &host.to_string_lossy(), &dest]);
                }
            }
        }
    }
    if let Some(deps) = &spec.python_deps {
        push(
            &mut a,
            &[
                "--ro-bind",
                &deps.to_string_lossy(),
                super::toolchain::PYTHON_DEPS_MOUNT,
            ],
        );
    }
    let tmp_size = limits.tmp_bytes.to_string();
    push(
        &mut a,
        &[
            "--proc", "/proc", "--dev", "/dev", "--size", &tmp_size, "--tmpfs", "/tmp",
        ],
    );
    push(
        &mut a,
        &["--bind", &spec.home.to_string_lossy(), SANDBOX_HOME],
    );
    push(
        &mut a,
        &["--bind", &spec.tree.to_string_lossy(), &spec.build_path],
    );
    push(&mut a, &["--chdir", &spec.build_path, "--clearenv"]);
    for (k, v) in &spec.env {
        push(&mut a, &["--setenv", k, v]);
    }
    Ok(a)
}

fn push(a: &mut Vec<String>, items: &[&str]) {
    a.extend(items.iter().map(|s| (*s).to_owned()));
}

/// The host's system, read-only: `/usr` (and the `/bin`, `/lib*` links into it or the
/// directories themselves), and an `/etc` holding only the generated files in `etc` (user,
/// group, hosts, hostname, when present) and `/etc/alternatives` — never the host's own
/// `/etc`, which may hold secrets (a node's key directory, say).
fn host_system_args(etc: &Path, host_etc: &[&str]) -> io::Result<Vec<String>> {
    let mut a = Vec::new();
    push(&mut a, &["--ro-bind", "/usr", "/usr"]);
    for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let host = Path::new("/").join(top);
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        let dest = format!("/{top}");
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&host)?;
            push(&mut a, &["--symlink", &target.to_string_lossy(), &dest]);
        } else if meta.is_dir() {
            push(&mut a, &["--ro-bind", &dest, &dest]);
        }
    }
    push(&mut a, &["--tmpfs", "/etc"]);
    for f in ["passwd", "group", "hosts", "hostname"] {
        let host = etc.join(f);
        if host.is_file() {
            push(
                &mut a,
                &["--ro-bind", &host.to_string_lossy(), &format!("/etc/{f}")],
            );
        }
    }
    // Debian's /usr/bin/cc and friends are links through /etc/alternatives.
    for f in std::iter::once("alternatives").chain(host_etc.iter().copied()) {
        let host = Path::new("/etc").join(f);
        if host.exists() {
            let host = host.to_string_lossy();
            push(&mut a, &["--ro-bind", &host, &host]);
        }
    }
    push(&mut a, &["--remount-ro", "/etc"]);
    Ok(a)
}

/// Runs a host tool (diffoscope) on untrusted files in a sandbox of its own: the host's
/// `/usr`, no network, nothing of the host but `ro_dir` (read-only, at `/in`), a private
/// `/tmp` of at most `limits.tmp_bytes` as its home, the per-process memory and process-count
/// limits, as `user` when given, killed after `time`. Returns its stdout (at most `cap`
/// bytes) and whether it ran out of time.
pub fn run_tool(
    argv: &[&str],
    ro_dir: &Path,
    user: Option<BuildUser>,
    limits: &Limits,
    time: Duration,
    cap: usize,
) -> io::Result<(Vec<u8>, bool)> {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={}", limits.memory_bytes))
        .arg(format!("--nproc={}", limits.max_procs))
        .args([
            "--",
            "bwrap",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
        ])
        // Python's ctypes finds libraries (libarchive, for diffoscope) through ldconfig's cache.
        .args(host_system_args(
            Path::new("/nonexistent"),
            &["ld.so.cache"],
        )?)
        .args(["--proc", "/proc", "--dev", "/dev"])
        .args(["--size", &limits.tmp_bytes.to_string(), "--tmpfs", "/tmp"])
        .arg("--ro-bind")
        .arg(ro_dir)
        .args(["/in", "--chdir", "/in", "--clearenv"])
        .args(["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"])
        .args(["--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin"])
        .args(["--setenv", "LANG", "C.UTF-8"])
        .args([
            "timeout",
            "--kill-after=10",
            &time.as_secs().max(1).to_string(),
        ])
        .args(argv);
    if let Some(user) = user {
        cmd.uid(user.uid).gid(user.gid);
    }
    let (reader, writer) = io::pipe()?;
    cmd.stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn()?;
    drop(cmd);
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_capped(reader, cap));
    });
    // `timeout` inside ends it; this is the backstop should the sandbox itself hang.
    let status = match wait_bounded(&mut child, time + Duration::from_secs(30))? {
        Some(status) => status,
        None => {
            kill_group(pid);
            child.wait()?
        }
    };
    kill_group(pid);
    let out = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| Ok(Vec::new()))?;
    Ok((out, status.code() == Some(124)))
}

/// Runs `argv` in bubblewrap with `root` (writable) as the whole filesystem, as uid 0 of a
/// one-uid user namespace, no network, a private `/proc`, `/dev` and `/tmp`, only `env`, the
/// per-process limits, as `user` when given, killed after `time`: how a root of pinned `.deb`s
/// is configured (`super::debroot`). Returns its output (at most `limits.log_bytes`).
pub fn run_in_root(
    root: &Path,
    argv: &[&str],
    env: &[(&str, &str)],
    user: Option<BuildUser>,
    limits: &Limits,
    time: Duration,
) -> io::Result<Vec<u8>> {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={}", limits.memory_bytes))
        .arg(format!("--nproc={}", limits.max_procs))
        .args([
            "--",
            "bwrap",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
        ])
        .args(["--uid", "0", "--gid", "0", "--hostname", "reprove"])
        .arg("--bind")
        .arg(root)
        .args(["/", "--proc", "/proc", "--dev", "/dev"])
        .args(["--size", &limits.tmp_bytes.to_string(), "--tmpfs", "/tmp"])
        .args(["--chdir", "/", "--clearenv"]);
    for (k, v) in env {
        cmd.args(["--setenv", k, v]);
    }
    cmd.args(argv);
    if let Some(user) = user {
        cmd.uid(user.uid).gid(user.gid);
    }
    let (reader, writer) = io::pipe()?;
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    let mut child = cmd.spawn()?;
    drop(cmd);
    let pid = child.id();
    let cap = limits.log_bytes;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_capped(reader, cap));
    });
    if wait_bounded(&mut child, time)?.is_none() {
        kill_group(pid);
        child.wait()?;
    }
    kill_group(pid);
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| Ok(Vec::new()))
}

/// Waits for `child` up to `limit`; `None` if it is still running then.
fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
) -> io::Result<Option<ExitStatus>> {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= until {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The generated `/etc` files: a user and group for uid 1000, loopback hosts, the hostname.
fn write_etc(spec: &BuildSpec) -> io::Result<()> {
    std::fs::create_dir_all(&spec.etc)?;
    let files = [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/bin/sh\nbuilder:x:{BUILD_UID}:{BUILD_UID}:builder:{SANDBOX_HOME}:/bin/sh\n"
            ),
        ),
        ("group", format!("root:x:0:\nbuilder:x:{BUILD_UID}:\n")),
        (
            "hosts",
            format!("127.0.0.1 localhost {}\n::1 localhost\n", spec.hostname),
        ),
        ("hostname", format!("{}\n", spec.hostname)),
    ];
    for (name, text) in files {
        std::fs::write(spec.etc.join(name), text)?;
    }
    Ok(())
}

/// Reads everything, keeping the first `cap` bytes; marks a cut.
fn read_capped(mut reader: impl Read, cap: usize) -> io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let room = cap.saturating_sub(kept.len());
        let take = room.min(n);
        kept.extend_from_slice(&buf[..take]);
        dropped += (n - take) as u64;
    }
    if dropped > 0 {
        kept.extend_from_slice(
            format!("\n[reprove: log truncated at {cap} bytes; {dropped} more bytes dropped]\n")
                .as_bytes(),
        );
    }
    Ok(kept)
}

/// SIGKILL to the process group `pgid` (errors ignored: it may be gone already).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_cut_with_a_marker() {
        let data = vec![b'x'; 1000];
        let got = read_capped(&data[..], 100).unwrap();
        assert!(got.starts_with(&[b'x'; 100]));
        let text = String::from_utf8(got[100..].to_vec()).unwrap();
        assert!(text.contains("truncated at 100 bytes; 900 more"), "{text}");
        assert_eq!(read_capped(&data[..], 5000).unwrap(), data);
    }

    #[test]
    fn the_command_runs_under_the_umask_and_faketime() {
        let spec = BuildSpec {
            tree: "/t".into(),
            build_path: "/build".into(),
            home: "/h".into(),
            etc: "/e".into(),
            command: vec!["make".into(), "all".into()],
            env: BTreeMap::new(),
            umask: 0o22,
            hostname: "h".into(),
            toolchain: Toolchain::Host { rust: None },
            python_deps: None,
            uid: BUILD_UID,
            faketime: Some("+1d".into()),
            user: None,
            cgroup: None,
        };
        let v = wrapped_command(&spec);
        assert_eq!(v[2], "umask 0022 && exec \"$@\"");
        assert_eq!(&v[4..], ["faketime", "-f", "+1d", "make", "all"]);
    }

    #[test]
    fn a_root_recipe_is_uid_0_inside_and_python_deps_are_mounted_read_only() {
        let spec = BuildSpec {
            tree: "/t".into(),
            build_path: "/build".into(),
            home: "/h".into(),
            etc: "/nonexistent-etc".into(),
            command: vec!["make".into()],
            env: BTreeMap::new(),
            umask: 0o22,
            hostname: "h".into(),
            toolchain: Toolchain::Host { rust: None },
            python_deps: Some("/cache/toolchains/abc".into()),
            uid: 0,
            faketime: None,
            user: None,
            cgroup: None,
        };
        let a = bwrap_args(&spec, &Limits::default()).unwrap();
        let at = |flag: &str| a.iter().position(|x| x == flag).unwrap();
        assert_eq!(
            &a[at("--uid")..at("--uid") + 4],
            ["--uid", "0", "--gid", "0"]
        );
        let deps = a
            .windows(3)
            .any(|w| w == ["--ro-bind", "/cache/toolchains/abc", "/opt/reprove/python"]);
        assert!(deps, "{a:?}");
        let builder = BuildSpec {
            uid: BUILD_UID,
            python_deps: None,
            ..spec
        };
        let a = bwrap_args(&builder, &Limits::default()).unwrap();
        assert!(a.windows(2).any(|w| w == ["--uid", "1000"]), "{a:?}");
        assert!(!a.iter().any(|x| x == "/opt/reprove/python"));
    }
}
