//! The sandbox holds: a build that opens a network connection, writes outside its work
//! directory or reads the host's home directory fails, and its log says why. Also: the
//! limits (wall time, log size), `--insecure-no-sandbox`, and bad arguments (exit 2, nothing
//! written).

use crate::common;
use crate::rb;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{reprove, snapshot, text};

/// A one-file project whose build runs `script` with bash; returns its manifest.
fn project(dir: &Path, script: &str) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("build.sh"), script).unwrap();
    rb::pack(&src, "probe-1", &dir.join("probe-src.tar.gz"));
    let manifest = dir.join("probe.toml");
    std::fs::write(
        &manifest,
        "project = \"probe\"\nversion = \"1\"\n[source]\npath = \"probe-src.tar.gz\"\n\
         [recipe]\ncommand = [\"bash\", \"build.sh\"]\nsource_date_epoch = 1\n\
         outputs = { \"out\" = \"out\" }\n",
    )
    .unwrap();
    manifest
}

/// Builds `script` locally; returns exit code, stdout and the build log.
fn build(dir: &Path, script: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let manifest = project(dir, script);
    let work = dir.join("work");
    let mut args = vec![
        "rebuild",
        "--manifest",
        manifest.to_str().unwrap(),
        "--work",
        work.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = reprove(&args);
    let log = std::fs::read_to_string(work.join("local-probe-1/build.log")).unwrap_or_default();
    (o.status.code(), text(&o.stdout) + &text(&o.stderr), log)
}

#[test]
fn a_build_cannot_reach_the_network() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} || {{ echo NETWORK-BLOCKED; exit 7; }}\necho CONNECTED\necho x > out\n"
    );
    let (code, out, log) = build(tmp.path(), &script, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("build-failed"), "{out}");
    assert!(
        log.contains("Connection refused") && log.contains("NETWORK-BLOCKED"),
        "{log}"
    );
    assert!(!log.contains("CONNECTED"), "{log}");
    // And the host's listener never saw a connection.
    assert!(listener.accept().is_err());
}

#[test]
fn a_build_cannot_write_outside_its_work_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("reprove-escape-{}", std::process::id());
    let script = format!(
        "echo x > /tmp/{marker} || true\n\
         echo x > {host} || echo HOST-TMP-BLOCKED\n\
         touch /usr/{marker} || {{ echo USR-BLOCKED; exit 3; }}\necho x > out\n",
        host = tmp.path().join("leak").display()
    );
    let (code, out, log) = build(tmp.path(), &script, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        log.contains("Read-only file system") && log.contains("USR-BLOCKED"),
        "{log}"
    );
    assert!(log.contains("HOST-TMP-BLOCKED"), "{log}");
    // The sandbox's /tmp is its own: nothing reached the host.
    assert!(!Path::new("/tmp").join(&marker).exists());
    assert!(!Path::new("/usr").join(&marker).exists());
    assert!(!tmp.path().join("leak").exists());
}

#[test]
fn a_build_cannot_read_the_host_home_directory() {
    let home = PathBuf::from(std::env::var("HOME").unwrap());
    let secret = tempfile::Builder::new()
        .prefix(".reprove-test-secret-")
        .tempfile_in(&home)
        .unwrap();
    std::fs::write(secret.path(), "TOP-SECRET").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "cat {} || {{ echo HOME-BLOCKED; exit 4; }}\necho x > out\n",
        secret.path().display()
    );
    let (code, out, log) = build(tmp.path(), &script, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        log.contains("No such file or directory") && log.contains("HOME-BLOCKED"),
        "{log}"
    );
    assert!(!log.contains("TOP-SECRET"), "{log}");
}

#[test]
fn the_environment_is_fixed() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "set -e\n{ pwd; id -u; id -g; hostname; umask; echo \"$TZ $LANG $HOME $SOURCE_DATE_EPOCH\"; \
                  env | sort | cut -d= -f1 | tr '\\n' ' '; } > out\n";
    let (code, out, _) = build(
        tmp.path(),
        script,
        &["--out", tmp.path().join("o").to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{out}");
    let got = std::fs::read_to_string(tmp.path().join("o/out")).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "/build",
            "1000",
            "1000",
            "reprove",
            "0022",
            "UTC C.UTF-8 /home/builder 1"
        ]
    );
    // Nothing of the caller's environment leaks in.
    assert!(!got.contains("CARGO") && !got.contains("RUST"), "{got}");
}

#[test]
fn limits_are_enforced_from_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, log) = build(
        &tmp.path().join("t"),
        "sleep 30\necho x > out\n",
        &["--timeout", "1"],
    );
    assert_eq!(code, Some(1));
    assert!(
        log.contains("killed after the wall-time limit of 1 s"),
        "{log}"
    );
    let (code, _, log) = build(
        &tmp.path().join("l"),
        "head -c 3000000 /dev/zero | tr '\\0' x\necho x > out\n",
        &["--max-log", "16"],
    );
    assert_eq!(code, Some(0));
    assert!(log.len() < 17 * 1024, "{}", log.len());
    assert!(
        log.contains("log truncated at 16384 bytes"),
        "{}",
        &log[log.len() - 200..]
    );
    let (code, _, log) = build(
        &tmp.path().join("m"),
        "python3 -c 'x = bytearray(2 << 30)' || { echo MEMORY-LIMITED; exit 5; }\necho x > out\n",
        &["--memory", "512"],
    );
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("MemoryError") && log.contains("MEMORY-LIMITED"),
        "{log}"
    );
}

#[test]
fn without_the_sandbox_the_build_runs_on_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, _) = build(
        tmp.path(),
        "pwd > out\n",
        &[
            "--insecure-no-sandbox",
            "--out",
            tmp.path().join("o").to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("--insecure-no-sandbox"), "{out}");
    let pwd = std::fs::read_to_string(tmp.path().join("o/out")).unwrap();
    assert_ne!(pwd.trim(), "/build");
}

/// When bubblewrap cannot sandbox here, the error starts with bwrap's own words, then says
/// what to do; nothing is built (a `bwrap` on PATH that fails as it does without user
/// namespaces stands in for a host that forbids them).
#[test]
fn a_failing_bubblewrap_is_reported_in_its_own_words_first() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("bwrap");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let manifest = project(tmp.path(), "echo hi > out\n");
    let work = tmp.path().join("work");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reprove"))
        .args(["rebuild", "--manifest", manifest.to_str().unwrap()])
        .args(["--work", work.to_str().unwrap()])
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: bwrap: No permissions to create new namespace — "),
        "{err}"
    );
    assert!(err.contains("--insecure-no-sandbox"), "{err}");
    assert!(!work.exists(), "nothing built");
}

#[test]
fn bad_arguments_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let work = dir.join("work");
    let w = work.to_str().unwrap();
    let key = dir.join("none.key");
    std::fs::write(&key, "not a key").unwrap();
    let k = key.to_str().unwrap();
    let bad_manifest = dir.join("bad.toml");
    std::fs::write(&bad_manifest, "project = \"p\"\n").unwrap();
    let m = bad_manifest.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "rebuild",
                "--release",
                "nover",
                "--ledger",
                "http://127.0.0.1:9",
                "--log-key-file",
                k,
                "--key",
                k,
                "--work",
                w,
            ],
            "NAME@VERSION",
        ),
        (
            vec![
                "rebuild",
                "--release",
                "a@1",
                "--ledger",
                "http://127.0.0.1:9",
                "--key",
                k,
                "--work",
                w,
            ],
            "--log-key",
        ),
        (
            vec![
                "rebuild",
                "--release",
                "a@1",
                "--ledger",
                "http://127.0.0.1:9",
                "--log-key",
                "x",
                "--key",
                k,
                "--work",
                w,
            ],
            "verifier key",
        ),
        (
            vec!["rebuild", "--manifest", m, "--work", w],
            "not a valid publisher manifest",
        ),
        (vec!["rebuild", "--release", "a@1"], "--key"),
        // The ledger may come from the environment or the config file: when nothing gives
        // it, the error names all three places.
        (
            vec!["rebuild", "--release", "a@1", "--key", k, "--work", w],
            "--ledger URL, set REPROVE_LEDGER",
        ),
        (
            vec![
                "release",
                "publish",
                m,
                "--key",
                k,
                "--ledger",
                "http://127.0.0.1:9",
            ],
            "not a private key",
        ),
    ];
    for (args, want) in cases {
        let before = snapshot(dir);
        let o = reprove(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(snapshot(dir), before, "{args:?} changed files");
        assert!(!work.exists(), "{args:?} created the work directory");
    }
}

/// `build_user = "root"`: the build is uid 0 inside the sandbox's user namespace, so `chown`
/// works (as `fakeroot` builds need); `source_date_epoch = "unset"` leaves the variable out.
/// The default stays uid 1000, where the same `chown` fails.
#[test]
fn a_root_recipe_runs_as_uid_0_inside_and_an_unset_epoch_is_absent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("build.sh"),
        "c=$(chown 0:0 build.sh 2>/dev/null && echo yes || echo no)\n\
         echo \"uid=$(id -u) chown=$c sde=${SOURCE_DATE_EPOCH-unset}\" > out\n",
    )
    .unwrap();
    rb::pack(&src, "probe-1", &dir.join("probe-src.tar.gz"));
    for (user, want) in [
        ("root", "uid=0 chown=yes sde=unset"),
        ("builder", "uid=1000 chown=no sde=unset"),
    ] {
        let manifest = dir.join(format!("{user}.toml"));
        std::fs::write(
            &manifest,
            format!(
                "project = \"probe\"\nversion = \"1\"\n[source]\npath = \"probe-src.tar.gz\"\n\
                 [recipe]\ncommand = [\"bash\", \"build.sh\"]\nsource_date_epoch = \"unset\"\n\
                 build_user = \"{user}\"\noutputs = {{ \"out\" = \"out\" }}\n"
            ),
        )
        .unwrap();
        let out = dir.join(format!("out-{user}"));
        let o = reprove(&[
            "rebuild",
            "--manifest",
            manifest.to_str().unwrap(),
            "--work",
            dir.join(format!("work-{user}")).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{user}: {}", text(&o.stderr));
        let got = std::fs::read_to_string(out.join("out")).unwrap();
        assert_eq!(got.trim(), want, "{user}");
    }
}
